//! 2W-FD (Tomsic, Sens, Garcia, Arantes, Sopena, IPDPS 2015): two of Chen's estimators, one
//! over a long window for stability and one over a short window for reactivity, and the
//! later of their expected arrivals plus a margin α.

use core::time::Duration;

use super::chen::{ArrivalWindow, freshness_deadlines};
use super::{Arrival, Deadlines, Detector, PeerTiming, fraction_of_span};
use crate::time::Instant;

/// 2W-FD: `down = max(EA^{long}_{l+1}, EA^{short}_{l+1}) + α`, with the long window holding the
/// last `N` arrivals (the paper uses about 1000) and the short one the last `short` of them
/// (default 1: the last arrival plus η). `Suspect` comes at half the margin.
///
/// After a sudden delay increase the short window follows at once, so the detector does not
/// flap the way Chen's long window does; on a steady path the long window smooths jitter.
/// η is estimated from the long window, as in [`Chen`](super::Chen).
///
/// Per-peer state: the long window (16 bytes per arrival) plus the short window's sums.
/// Suspicion is silence as a fraction of the span to the down deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoWindow<const N: usize = 1000> {
    alpha: Duration,
    short: u32,
}

impl<const N: usize> TwoWindow<N> {
    /// A detector with margin `alpha` and a short window of one arrival.
    pub fn new(alpha: Duration) -> Self {
        TwoWindow { alpha, short: 1 }
    }

    /// Sets the short window (at least 1, at most `N`).
    pub fn with_short_window(self, short: u32) -> Self {
        let cap = u32::try_from(N).unwrap_or(u32::MAX).max(1);
        TwoWindow { short: short.clamp(1, cap), ..self }
    }

    /// The margin α.
    pub fn alpha(&self) -> Duration {
        self.alpha
    }

    /// The later of the two expected arrivals, once at least one heartbeat arrived.
    pub fn expected_arrival(&self, state: &TwoWindowState<N>, timing: &PeerTiming) -> Option<Instant> {
        let eta = state.window.interval(timing.interval);
        let long = state.window.expected(false, eta)?;
        let short = state.window.expected(true, eta)?;
        Some(long.max(short))
    }
}

/// Per-peer state of [`TwoWindow`]: the long window, with sums over its short one.
#[derive(Debug, Clone, Default)]
pub struct TwoWindowState<const N: usize> {
    window: ArrivalWindow<N>,
}

impl<const N: usize> Detector for TwoWindow<N> {
    type PeerState = TwoWindowState<N>;

    fn on_heartbeat(&self, state: &mut TwoWindowState<N>, arrival: &Arrival) {
        state.window.push(arrival, self.short as usize);
    }

    fn deadlines(&self, state: &TwoWindowState<N>, timing: &PeerTiming) -> Deadlines {
        freshness_deadlines(timing, self.expected_arrival(state, timing), self.alpha)
    }

    fn suspicion(&self, state: &TwoWindowState<N>, timing: &PeerTiming, now: Instant) -> f32 {
        fraction_of_span(timing, self.deadlines(state, timing).down, now)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{arrival, check_contract, timing};
    use super::super::{Chen, ChenState};
    use super::*;

    #[test]
    fn follows_a_delay_step_at_once_where_chen_lags() {
        // Ten punctual heartbeats, then the path's delay jumps by 400 ms.
        let two = TwoWindow::<16>::new(Duration::ZERO);
        let chen = Chen::<16>::new(Duration::ZERO);
        let (mut s2, mut sc) = (TwoWindowState::default(), ChenState::default());
        for seq in 1..=10 {
            two.on_heartbeat(&mut s2, &arrival(seq * 1000, seq, 0));
            chen.on_heartbeat(&mut sc, &arrival(seq * 1000, seq, 0));
        }
        two.on_heartbeat(&mut s2, &arrival(11_400, 11, 0));
        chen.on_heartbeat(&mut sc, &arrival(11_400, 11, 0));
        let t = timing(Instant::from_millis(11_400), Duration::from_secs(1));
        // η̂ = least-squares slope = 112 / 110 s. Short window: 11.4 s + η̂.
        let two_ea = two.expected_arrival(&s2, &t).unwrap().as_nanos();
        assert!(two_ea.abs_diff(12_418_181_818) <= 1, "{two_ea}");
        // Chen's long window expects it earlier: mean(A) + η̂·(12 − mean(s)) = 6.0364 + 6.1091 s.
        let chen_ea = chen.expected_arrival(&sc, &t).unwrap().as_nanos();
        assert!(chen_ea.abs_diff(12_145_454_545) <= 1, "{chen_ea}");
    }

    #[test]
    fn the_short_window_averages_its_last_arrivals() {
        // Delays 0, 0, 0, 300, 100 ms: a short window of 2 averages the last two (200 ms).
        let two = TwoWindow::<16>::new(Duration::from_millis(50)).with_short_window(2);
        let mut s = TwoWindowState::default();
        for (seq, delay) in [(1, 0), (2, 0), (3, 0), (4, 300), (5, 100)] {
            two.on_heartbeat(&mut s, &arrival(seq * 1000 + delay, seq, 0));
        }
        let t = timing(Instant::from_millis(5100), Duration::from_secs(1));
        let eta = s.window.interval(t.interval);
        assert!((eta - 1.05e9).abs() < 1.0, "{eta}");
        // Short: mean(A) = 4.7 s, mean(s) = 4.5: 4.7 + 1.05·1.5 = 6.275 s; the long one is
        // 3.08 + 1.05·3 = 6.23 s, so the short one wins; plus α = 50 ms.
        let down = two.deadlines(&s, &t).down.as_nanos();
        assert!(down.abs_diff(6_325_000_000) <= 1, "{down}");
    }

    #[test]
    fn keeps_the_detector_contract() {
        let arrivals = [(0, 1), (1_000_000, 2), (1_000_000, 3), (500_000, 4), (9_000_000, 9), (9_000_000, 7)];
        check_contract(&TwoWindow::<4>::new(Duration::from_millis(100)).with_short_window(2), &arrivals);
        check_contract(&TwoWindow::<1>::new(Duration::ZERO).with_short_window(5), &arrivals);
        check_contract(&TwoWindow::<0>::new(Duration::ZERO), &arrivals);
    }
}
