//! Time between embassy-time and the core.
//!
//! The core's [`Instant`] counts nanoseconds since an epoch the caller chooses; this adapter
//! chooses embassy-time's epoch (boot), so the core's timestamps and embassy's instants name the
//! same moments. Embassy counts whole ticks (`TICK_HZ` per second, 1 kHz on a SysTick driver),
//! so conversions round: towards the past for "now", towards the future for a deadline, so
//! that a timer set for a deadline never fires before it.

use embassy_time::TICK_HZ;
use heartbeat_proto::Instant;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The current time, on the core's scale.
pub fn now() -> Instant {
    to_core(embassy_time::Instant::now())
}

/// An embassy instant as a core instant (exact when the tick rate divides 10⁹, as every
/// decimal rate does; otherwise rounded down). Saturates instead of overflowing.
pub fn to_core(at: embassy_time::Instant) -> Instant {
    Instant::from_nanos(ticks_to_nanos(at.as_ticks(), TICK_HZ))
}

/// The first embassy instant at or after the core instant `at`: a deadline rounded up to a
/// whole tick. Waking at the result and reading [`now`] gives a time no earlier than `at`, so
/// the adapter never wakes early, finds nothing due and spins until the tick that is.
pub fn to_embassy(at: Instant) -> embassy_time::Instant {
    embassy_time::Instant::from_ticks(nanos_to_ticks_ceil(at.as_nanos(), TICK_HZ))
}

// The rate is a constant, so each function below compiles to one branch. When a tick is a whole
// number of nanoseconds (every decimal rate), that branch is one 64-bit multiplication or
// division by a constant; 128-bit arithmetic, costly on a 32-bit core, is only the fallback.

fn ticks_to_nanos(ticks: u64, hz: u64) -> u64 {
    if NANOS_PER_SEC.is_multiple_of(hz) {
        ticks.saturating_mul(NANOS_PER_SEC / hz)
    } else {
        narrow(u128::from(ticks) * u128::from(NANOS_PER_SEC) / u128::from(hz))
    }
}

fn nanos_to_ticks_ceil(nanos: u64, hz: u64) -> u64 {
    if NANOS_PER_SEC.is_multiple_of(hz) {
        nanos.div_ceil(NANOS_PER_SEC / hz)
    } else {
        narrow((u128::from(nanos) * u128::from(hz)).div_ceil(u128::from(NANOS_PER_SEC)))
    }
}

/// Saturates a 128-bit count to 64 bits.
fn narrow(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates embassy offers, whole and fractional numbers of nanoseconds per tick.
    const RATES: [u64; 5] = [1_000, 32_768, 1_000_000, 16_000_000, TICK_HZ];

    /// Nanosecond instants around tick boundaries and far out.
    fn samples(hz: u64) -> impl Iterator<Item = u64> {
        let tick = (NANOS_PER_SEC / hz).max(1);
        let around = |t: u64| [t.saturating_sub(1), t, t.saturating_add(1)];
        (0..50u64)
            .flat_map(move |k| around(k * tick))
            .chain(around(123_456_789_012))
            .chain(around(u64::MAX / 4))
            .chain([u64::MAX - 1, u64::MAX])
    }

    #[test]
    fn a_deadline_converted_to_ticks_and_back_is_never_early_nor_a_tick_late() {
        for hz in RATES {
            for nanos in samples(hz) {
                let ticks = nanos_to_ticks_ceil(nanos, hz);
                assert!(ticks_to_nanos(ticks, hz) >= nanos, "{hz} Hz, {nanos} ns");
                if ticks > 0 {
                    assert!(ticks_to_nanos(ticks - 1, hz) < nanos, "{hz} Hz, {nanos} ns");
                }
            }
        }
    }

    #[test]
    fn tick_counts_survive_the_round_trip() {
        for hz in RATES {
            // Up to half the core's range (about 292 years).
            for ticks in [0, 1, 2, 999, 1_000, 1_001, 86_400 * hz, u64::MAX / NANOS_PER_SEC / 2 * hz] {
                assert_eq!(nanos_to_ticks_ceil(ticks_to_nanos(ticks, hz), hz), ticks, "{hz} Hz, {ticks} ticks");
            }
        }
    }

    #[test]
    fn the_public_conversions_use_the_drivers_rate() {
        let at = embassy_time::Instant::from_millis(1_234);
        assert_eq!(to_core(at), Instant::from_millis(1_234));
        assert_eq!(to_embassy(Instant::from_millis(1_234)), at);
        let deadline = Instant::from_nanos(1);
        assert!(to_core(to_embassy(deadline)) >= deadline);
    }

    #[test]
    fn conversions_saturate_instead_of_overflowing() {
        for hz in RATES {
            // Below 1 GHz the largest tick count is beyond the core's nanosecond range.
            assert_eq!(ticks_to_nanos(u64::MAX, hz), u64::MAX);
            assert_eq!(ticks_to_nanos(nanos_to_ticks_ceil(u64::MAX, hz), hz), u64::MAX);
        }
        assert_eq!(to_core(embassy_time::Instant::MAX), Instant::MAX);
    }
}
