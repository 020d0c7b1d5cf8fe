//! The one place where wall-clock time becomes the core's [`Instant`].

use std::time::Duration;

use heartbeat_proto::Instant;

/// Maps [`std::time::Instant`] to the core's [`Instant`] through a fixed epoch.
///
/// Every reading is `now - epoch` in nanoseconds, so the mapping is monotonic and the same for
/// every driver sharing the clock: nodes built with one `Clock` report comparable times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    epoch: std::time::Instant,
}

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
        Clock { epoch }
    }

    /// The epoch.
    pub fn epoch(&self) -> std::time::Instant {
        self.epoch
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.at(std::time::Instant::now())
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
