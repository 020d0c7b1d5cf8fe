//! A nanosecond timer for real time on Linux (a `timerfd` the reactor watches): tokio's own
//! timers tick in milliseconds, which makes a `Down` up to about 2 ms late. Elsewhere the type
//! has no values and the driver relies on tokio's timers alone.

use std::io;
use std::time::Duration;

#[cfg(target_os = "linux")]
pub(crate) use linux::PreciseTimer;

/// No precise timer on this platform.
#[cfg(not(target_os = "linux"))]
pub(crate) enum PreciseTimer {}

/// Fires `timer` once, `after` from now (replacing any earlier setting).
pub(crate) fn arm(timer: Option<&PreciseTimer>, after: Duration) -> io::Result<()> {
    match timer {
        #[cfg(target_os = "linux")]
        Some(timer) => timer.arm(after),
        _ => {
            let _ = after;
            Ok(())
        }
    }
}

/// Resolves when `timer` fires; never without one. Cancellation-safe.
pub(crate) async fn fired(timer: Option<&PreciseTimer>) {
    match timer {
        #[cfg(target_os = "linux")]
        Some(timer) => timer.fired().await,
        _ => std::future::pending().await,
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::time::Duration;

    use tokio::io::unix::AsyncFd;

    /// `heartbeat_std`'s timerfd, watched by the reactor.
    pub(crate) struct PreciseTimer {
        fd: AsyncFd<heartbeat_std::PreciseTimer>,
    }

    impl PreciseTimer {
        pub(crate) fn new() -> io::Result<Self> {
            // `AsyncFd::new` is deprecated because a wrapped value could close or swap its
            // descriptor while registered. Here the `AsyncFd` owns the timer, which owns its
            // descriptor for its whole life; the alternative (`register`) is `unsafe`, which
            // this crate forbids.
            #[allow(deprecated)]
            let fd = AsyncFd::new(heartbeat_std::PreciseTimer::new()?)?;
            Ok(PreciseTimer { fd })
        }

        pub(crate) fn arm(&self, after: Duration) -> io::Result<()> {
            self.fd.get_ref().arm(after)
        }

        pub(crate) async fn fired(&self) {
            loop {
                let Ok(mut guard) = self.fd.readable().await else { return std::future::pending().await };
                if self.fd.get_ref().consume() {
                    return;
                }
                // Re-armed since it became readable: wait for the new expiry.
                guard.clear_ready();
            }
        }
    }
}
