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
    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create, timerfd_settime,
    };
    use tokio::io::unix::AsyncFd;

    pub(crate) struct PreciseTimer {
        fd: AsyncFd<OwnedFd>,
    }

    impl PreciseTimer {
        pub(crate) fn new() -> io::Result<Self> {
            let fd = timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC)?;
            // `AsyncFd::new` is deprecated because a wrapped value could close or swap its
            // descriptor while registered. Here the `AsyncFd` owns the `OwnedFd` outright, so
            // the descriptor lives exactly as long as the registration; the safe alternative
            // (`register`) is `unsafe`, which this crate forbids.
            #[allow(deprecated)]
            let fd = AsyncFd::new(fd)?;
            Ok(PreciseTimer { fd })
        }

        pub(crate) fn arm(&self, after: Duration) -> io::Result<()> {
            // A zero value would disarm the timer instead.
            let after = Timespec::try_from(after.max(Duration::from_nanos(1)))
                .unwrap_or(Timespec { tv_sec: i64::MAX, tv_nsec: 0 });
            let once = Itimerspec { it_interval: Timespec { tv_sec: 0, tv_nsec: 0 }, it_value: after };
            timerfd_settime(self.fd.get_ref(), TimerfdTimerFlags::empty(), &once)?;
            Ok(())
        }

        pub(crate) async fn fired(&self) {
            loop {
                let Ok(mut guard) = self.fd.readable().await else { return std::future::pending().await };
                match rustix::io::read(self.fd.get_ref(), &mut [0u8; 8]) {
                    Ok(_) => return,
                    // Re-armed since it became readable: wait for the new expiry.
                    Err(rustix::io::Errno::AGAIN) => guard.clear_ready(),
                    Err(_) => return std::future::pending().await,
                }
            }
        }
    }
}
