//! The one place where wall-clock time becomes the core's [`Instant`].

use std::time::Duration;

use heartbeat_proto::Instant;

/// Maps [`std::time::Instant`] to the core's [`Instant`] through a fixed epoch.
///
/// Every reading is `now - epoch` in nanoseconds, so the mapping is monotonic and the same for
/// every driver sharing the clock: nodes built with one `Clock` report comparable times. The
/// current time comes from a source, `std::time::Instant::now` unless another is given
/// ([`with_source`](Self::with_source)): an async runtime's clock, which tests may pause.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: std::time::Instant,
    source: fn() -> std::time::Instant,
}

impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        self.epoch == other.epoch && std::ptr::fn_addr_eq(self.source, other.source)
    }
}

impl Eq for Clock {}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Clock::with_epoch(std::time::Instant::now())
    }

    /// A clock with the given epoch (share one epoch to compare several drivers' events).
    pub fn with_epoch(epoch: std::time::Instant) -> Self {
        Clock::with_source(epoch, std::time::Instant::now)
    }

    /// A clock with the given epoch that reads the current time from `source`.
    pub fn with_source(epoch: std::time::Instant, source: fn() -> std::time::Instant) -> Self {
        Clock { epoch, source }
    }

    /// The epoch.
    pub fn epoch(&self) -> std::time::Instant {
        self.epoch
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.at((self.source)())
    }

    /// A wall-clock instant as the core's time (the epoch if it is earlier).
    pub fn at(&self, t: std::time::Instant) -> Instant {
        let nanos = t.saturating_duration_since(self.epoch).as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The core's time as a wall-clock instant.
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        self.epoch + t.since_epoch()
    }

    /// How long from now until `t` (zero if it has passed).
    pub fn until(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.now())
    }
}
