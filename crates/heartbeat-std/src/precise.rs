//! A one-shot nanosecond timer (Linux `timerfd`) to wait on next to sockets.
//!
//! `poll`'s own timeout is padded by the kernel's timer slack, 0.1% of the timeout (100 µs on
//! a 100 ms wait); a `timerfd` expiry is not, so a deadline wakes the driver within
//! microseconds.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create, timerfd_settime,
};

/// A one-shot timer whose expiry makes its descriptor readable.
#[derive(Debug)]
pub struct PreciseTimer {
    fd: OwnedFd,
}

impl PreciseTimer {
    /// A disarmed, non-blocking timer on the monotonic clock.
    pub fn new() -> io::Result<Self> {
        let fd = timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC)?;
        Ok(PreciseTimer { fd })
    }

    /// Expires once, `after` from now, replacing any earlier setting.
    pub fn arm(&self, after: Duration) -> io::Result<()> {
        // A zero value would disarm the timer instead.
        let after =
            Timespec::try_from(after.max(Duration::from_nanos(1))).unwrap_or(Timespec { tv_sec: i64::MAX, tv_nsec: 0 });
        let once = Itimerspec { it_interval: Timespec { tv_sec: 0, tv_nsec: 0 }, it_value: after };
        timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &once)?;
        Ok(())
    }

    /// Consumes an expiry; returns whether there was one (`false`: not expired yet).
    pub fn consume(&self) -> bool {
        rustix::io::read(&self.fd, &mut [0u8; 8]).is_ok()
    }
}

impl AsFd for PreciseTimer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PreciseTimer {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
