//! The classic detector: suspect after a fraction of the timeout, down after the timeout.

use super::{Arrival, Deadlines, Detector, PeerTiming};
use crate::time::Instant;

/// Declares a peer down once it has been silent for its negotiated timeout, and suspect once it
/// has been silent for `suspect_permille / 1000` of it (Linux-HA's warntime; default 500, half
/// the timeout, as Linux-HA's default warntime is half its deadtime).
///
/// Per-peer state: none. Suspicion is `silence / timeout`, so it reaches 1.0 at the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedTimeout {
    suspect_permille: u16,
}

impl Default for FixedTimeout {
    fn default() -> Self {
        FixedTimeout { suspect_permille: 500 }
    }
}

impl FixedTimeout {
    /// Suspect after half the timeout, down after the timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Suspect after `permille / 1000` of the timeout; values above 1000 are taken as 1000
    /// (no separate suspect phase).
    pub fn with_suspect_permille(permille: u16) -> Self {
        FixedTimeout { suspect_permille: permille.min(1000) }
    }
}

impl Detector for FixedTimeout {
    type PeerState = ();

    fn on_heartbeat(&self, _state: &mut (), _arrival: &Arrival) {}

    fn deadlines(&self, _state: &(), timing: &PeerTiming) -> Deadlines {
        // permille ≤ 1000, so neither product can overflow 64 bits.
        let nanos = crate::time::duration_nanos(timing.timeout);
        let permille = u64::from(self.suspect_permille);
        let warn = core::time::Duration::from_nanos(nanos / 1000 * permille + nanos % 1000 * permille / 1000);
        Deadlines { suspect: timing.last_heard + warn, down: timing.last_heard + timing.timeout }
    }

    fn suspicion(&self, _state: &(), timing: &PeerTiming, now: Instant) -> f32 {
        super::fraction_of_span(timing, timing.last_heard + timing.timeout, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn deadlines_follow_the_negotiated_timeout() {
        let timing = PeerTiming {
            last_heard: Instant::from_secs(10),
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(600),
            min_timeout: Duration::from_millis(200),
            max_timeout: Duration::from_secs(2),
        };
        let d = FixedTimeout::new().deadlines(&(), &timing);
        assert_eq!(d.suspect, Instant::from_millis(10_300));
        assert_eq!(d.down, Instant::from_millis(10_600));
        let d = FixedTimeout::with_suspect_permille(2000).deadlines(&(), &timing);
        assert_eq!(d.suspect, d.down);
        let s = FixedTimeout::new().suspicion(&(), &timing, Instant::from_millis(10_300));
        assert!((s - 0.5).abs() < 1e-6);
    }

    #[test]
    fn keeps_the_detector_contract() {
        let arrivals = [(0, 1), (1_000_000, 2), (1_000_000, 3), (500_000, 4), (9_000_000, 9)];
        super::super::testing::check_contract(&FixedTimeout::new(), &arrivals);
    }
}
