//! Time between embassy-time and the core.
//!
//! The core's [`Instant`] counts nanoseconds since an epoch the caller chooses; this adapter
//! chooses embassy-time's epoch (boot), so the core's timestamps and embassy's instants name the
//! same moments. Embassy counts whole ticks (`TICK_HZ` per second, 1 kHz on a SysTick driver),
//! so conversions round: towards the past for "now", towards the future for a deadline, so
//! that a timer set for a deadline never fires before it.

use embassy_time::TICK_HZ;
use heartbeat_proto::Instant;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The current time, on the core's scale.
pub fn now() -> Instant {
    to_core(embassy_time::Instant::now())
}

/// An embassy instant as a core instant (exact when the tick rate divides 10⁹, which every
/// usual rate does; otherwise rounded down). Saturates instead of overflowing.
pub fn to_core(at: embassy_time::Instant) -> Instant {
    let nanos = u128::from(at.as_ticks()) * NANOS_PER_SEC / u128::from(TICK_HZ);
    Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The first embassy instant at or after the core instant `at`: a deadline rounded up to a
/// whole tick. Waking at the result and reading [`now`] gives a time no earlier than `at`, so
/// the adapter never wakes early, finds nothing due and spins until the tick that is.
pub fn to_embassy(at: Instant) -> embassy_time::Instant {
    let ticks = (u128::from(at.as_nanos()) * u128::from(TICK_HZ)).div_ceil(NANOS_PER_SEC);
    embassy_time::Instant::from_ticks(u64::try_from(ticks).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nanosecond instants around tick boundaries and far out, for whatever rate the test
    /// build's time driver runs at.
    fn samples() -> impl Iterator<Item = u64> {
        let tick = u64::try_from(NANOS_PER_SEC / u128::from(TICK_HZ)).unwrap_or(1).max(1);
        let around = |t: u64| [t.saturating_sub(1), t, t.saturating_add(1)];
        (0..50u64)
            .flat_map(move |k| around(k * tick))
            .chain(around(123_456_789_012))
            .chain(around(u64::MAX / 4))
            .chain([u64::MAX - 1, u64::MAX])
    }

    #[test]
    fn a_deadline_converted_to_embassy_and_back_is_never_early() {
        for nanos in samples() {
            let deadline = Instant::from_nanos(nanos);
            let wake = to_embassy(deadline);
            assert!(to_core(wake) >= deadline, "{nanos}");
            // And it is the first such tick: one tick earlier would be early.
            if wake.as_ticks() > 0 {
                let before = embassy_time::Instant::from_ticks(wake.as_ticks() - 1);
                assert!(to_core(before) < deadline, "{nanos}");
            }
        }
    }

    #[test]
    fn embassy_instants_survive_the_round_trip() {
        for ticks in [0, 1, 2, 999, 1_000, 1_001, 86_400_000, u64::MAX / TICK_HZ / 2] {
            let at = embassy_time::Instant::from_ticks(ticks);
            assert_eq!(to_embassy(to_core(at)), at);
        }
    }

    #[test]
    fn conversions_saturate_instead_of_overflowing() {
        // Every tick rate embassy offers is below 1 GHz, so the largest tick count is beyond
        // the core's nanosecond range.
        assert_eq!(to_core(embassy_time::Instant::MAX), Instant::MAX);
        assert_eq!(to_core(to_embassy(Instant::MAX)), Instant::MAX);
    }
}
