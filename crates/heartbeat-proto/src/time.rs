//! Time as the state machines see it: an [`Instant`] the caller supplies, never a clock read.
//!
//! An `Instant` is a count of nanoseconds since an epoch the caller chooses (process start,
//! boot, the Unix epoch — anything monotonic). Spans are [`core::time::Duration`]. All
//! arithmetic saturates: no input can make time arithmetic panic or wrap.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time, in nanoseconds since a caller-chosen epoch.
///
/// `u64` nanoseconds cover about 584 years, so saturation at [`Instant::MAX`] is only reached by
/// hostile inputs, never by a running clock.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    nanos: u64,
}

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant { nanos: 0 };
    /// The latest representable instant.
    pub const MAX: Instant = Instant { nanos: u64::MAX };

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant { nanos }
    }

    /// An instant `micros` microseconds after the epoch (saturating).
    pub const fn from_micros(micros: u64) -> Self {
        Instant::from_nanos(micros.saturating_mul(1_000))
    }

    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Instant::from_nanos(millis.saturating_mul(1_000_000))
    }

    /// An instant `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Instant::from_nanos(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.nanos)
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant::from_nanos(self.nanos.saturating_add(duration_nanos(d)))
    }

    /// `self - d`, saturating at [`Instant::ZERO`].
    pub const fn saturating_sub(self, d: Duration) -> Instant {
        Instant::from_nanos(self.nanos.saturating_sub(duration_nanos(d)))
    }
}

/// Saturating.
impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

/// Saturating.
impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        self.saturating_sub(rhs)
    }
}

/// Saturating: an earlier minus a later instant is zero.
impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Seconds since the epoch with microsecond precision, e.g. `12.000250s`.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.nanos / 1_000_000_000;
        let micros = (self.nanos % 1_000_000_000) / 1_000;
        write!(f, "{secs}.{micros:06}s")
    }
}

/// A `Duration` as whole nanoseconds, saturating at `u64::MAX`.
pub(crate) const fn duration_nanos(d: Duration) -> u64 {
    match d.as_secs().checked_mul(1_000_000_000) {
        Some(n) => n.saturating_add(d.subsec_nanos() as u64),
        None => u64::MAX,
    }
}

/// A `Duration` as whole microseconds if that fits 32 bits: the wire unit for intervals and
/// timeouts. (Computed in 64-bit arithmetic: `Duration::as_micros` divides in 128 bits.)
pub(crate) const fn checked_micros_u32(d: Duration) -> Option<u32> {
    if d.as_secs() > u32::MAX as u64 / 1_000_000 {
        return None;
    }
    let us = d.as_secs() * 1_000_000 + d.subsec_micros() as u64;
    if us > u32::MAX as u64 { None } else { Some(us as u32) }
}

/// [`checked_micros_u32`], saturating at `u32::MAX` (about 71 minutes).
pub(crate) const fn duration_micros_u32(d: Duration) -> u32 {
    match checked_micros_u32(d) {
        Some(us) => us,
        None => u32::MAX,
    }
}

/// The monotonic view of caller-supplied time: `now` going backwards counts as no progress.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Clock {
    latest: Instant,
}

impl Clock {
    pub(crate) const fn new(start: Instant) -> Self {
        Clock { latest: start }
    }

    /// Accepts a caller's `now` and returns the effective time, never earlier than before.
    pub(crate) fn advance(&mut self, now: Instant) -> Instant {
        if now > self.latest {
            self.latest = now;
        }
        self.latest
    }

    /// The latest time seen.
    pub(crate) const fn now(&self) -> Instant {
        self.latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::ZERO - Instant::MAX, Duration::ZERO);
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
        assert_eq!(duration_micros_u32(Duration::from_secs(1 << 40)), u32::MAX);
        assert_eq!(duration_micros_u32(Duration::from_secs(4295)), u32::MAX);
        assert_eq!(checked_micros_u32(Duration::from_micros(u32::MAX as u64)), Some(u32::MAX));
        assert_eq!(checked_micros_u32(Duration::from_micros(u32::MAX as u64 + 1)), None);
        assert_eq!(checked_micros_u32(Duration::from_nanos(1_999)), Some(1));
        assert_eq!(duration_nanos(Duration::MAX), u64::MAX);
        assert_eq!(duration_nanos(Duration::new(3, 7)), 3_000_000_007);
    }

    #[test]
    fn constructors_agree() {
        assert_eq!(Instant::from_secs(2), Instant::from_millis(2_000));
        assert_eq!(Instant::from_millis(3), Instant::from_micros(3_000));
        assert_eq!(Instant::from_secs(1) - Instant::from_millis(250), Duration::from_millis(750));
    }

    #[test]
    fn clock_ignores_time_going_backwards() {
        let mut clock = Clock::new(Instant::from_secs(5));
        assert_eq!(clock.advance(Instant::from_secs(3)), Instant::from_secs(5));
        assert_eq!(clock.advance(Instant::from_secs(7)), Instant::from_secs(7));
        assert_eq!(clock.now(), Instant::from_secs(7));
    }

    #[test]
    fn display_is_seconds_with_micros() {
        extern crate alloc;
        use alloc::format;
        assert_eq!(format!("{}", Instant::from_micros(12_000_250)), "12.000250s");
    }
}
