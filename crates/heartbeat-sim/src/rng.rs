//! The simulator's randomness: ChaCha8 streams derived from one seed.
//!
//! Why ChaCha8 from `rand_chacha`: its output is documented as portable and reproducible
//! (tested against reference vectors), and one seed gives 2⁶⁴ independent *streams*. Every
//! directed link draws from its own stream, numbered from the pair of nodes and the link, so a
//! link's fate does not depend on how much traffic other links carried, and changing one
//! link's impairments leaves every other link's draws as they were.
//!
//! The mapping from raw words to probabilities and ranges is kept here (three lines) rather
//! than taken from `rand`'s distributions, whose values may change between releases: the
//! timeline of a seed depends only on the ChaCha stream.

use core::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// One deterministic random stream.
#[derive(Debug, Clone)]
pub(crate) struct SimRng(ChaCha8Rng);

impl SimRng {
    /// Stream `stream` of the generator seeded with `seed`.
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        SimRng(rng)
    }

    /// A uniform value in `[0, 1)` with 53 bits of precision.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (0 or less: never; 1 or more: always). Always draws once,
    /// so that the number of draws does not depend on `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform value in `[0, n)`; 0 when `n` is 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform duration in `[0, max]`, at nanosecond resolution.
    pub(crate) fn up_to(&mut self, max: Duration) -> Duration {
        let max = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.below(max.saturating_add(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_stream_repeat_and_streams_differ() {
        let draw = |seed, stream| {
            let mut r = SimRng::new(seed, stream);
            (0..8).map(|_| r.below(1_000_000)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, 3), draw(7, 3));
        assert_ne!(draw(7, 3), draw(7, 4));
        assert_ne!(draw(7, 3), draw(8, 3));
    }

    #[test]
    fn ranges_and_probabilities_stay_in_bounds() {
        let mut r = SimRng::new(1, 0);
        let mut hits = 0;
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.below(10) < 10);
            assert!(r.up_to(Duration::from_nanos(5)) <= Duration::from_nanos(5));
            hits += u32::from(r.chance(0.25));
        }
        assert!((2_200..2_800).contains(&hits), "{hits}");
        assert!(!r.chance(0.0));
        assert!(r.chance(1.0));
        assert_eq!(r.below(0), 0);
    }
}
