//! Chen, Toueg and Aguilera's estimator (NFD-E): the next heartbeat is expected where the last
//! `n` arrivals, aligned on their sequence numbers, say it should come; the peer is suspected
//! a safety margin α after that.

use core::time::Duration;

use super::window::Ring;
use super::{Arrival, Deadlines, Detector, PeerTiming, after, fraction_of_span};
use crate::time::Instant;

/// One arrival: when, and which sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    at: u64,
    sequence: u64,
}

/// Running sums over some of the newest stamps, taken relative to the window's first stamp so
/// that products stay small. The arithmetic wraps: absurd inputs give absurd estimates, never
/// a panic.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sums {
    count: u32,
    at: i128,
    sequence: i128,
    sequence_sq: i128,
    at_sequence: i128,
}

impl Sums {
    fn add(&mut self, (a, s): (i128, i128), sign: i128) {
        self.count = if sign > 0 { self.count.saturating_add(1) } else { self.count.saturating_sub(1) };
        self.at = self.at.wrapping_add(sign.wrapping_mul(a));
        self.sequence = self.sequence.wrapping_add(sign.wrapping_mul(s));
        self.sequence_sq = self.sequence_sq.wrapping_add(sign.wrapping_mul(s.wrapping_mul(s)));
        self.at_sequence = self.at_sequence.wrapping_add(sign.wrapping_mul(a.wrapping_mul(s)));
    }

    /// Chen's `EA_{l+1} = (1/n)·Σ(A_i − η·s_i) + (l+1)·η`, in nanoseconds after the newest
    /// arrival `last` (relative), computed on exact differences.
    fn expected_after(&self, (a, s): (i128, i128), eta: f64) -> f64 {
        let n = i128::from(self.count.max(1));
        // n·A_l − ΣA_i ≥ 0 and n·(l+1) − Σs_i ≥ n while arrivals and sequences increase.
        let lag = n.wrapping_mul(a).wrapping_sub(self.at);
        let lead = n.wrapping_mul(s.wrapping_add(1)).wrapping_sub(self.sequence);
        (eta * lead as f64 - lag as f64) / n as f64
    }

    /// The least-squares slope of arrival time on sequence number, ns per sequence number.
    fn slope(&self) -> Option<f64> {
        let n = i128::from(self.count);
        let den = n.wrapping_mul(self.sequence_sq).wrapping_sub(self.sequence.wrapping_mul(self.sequence));
        let num = n.wrapping_mul(self.at_sequence).wrapping_sub(self.at.wrapping_mul(self.sequence));
        (n >= 2 && den > 0).then(|| num as f64 / den as f64)
    }
}

/// The last `N` fresh arrivals of a peer, with the running sums Chen's estimator needs, over
/// the whole window and over its newest `short` arrivals.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArrivalWindow<const N: usize> {
    ring: Ring<Stamp, N>,
    /// The first stamp ever pushed: sums are relative to it.
    base: Stamp,
    sums: Sums,
    short: Sums,
}

impl<const N: usize> ArrivalWindow<N> {
    fn relative(&self, s: Stamp) -> (i128, i128) {
        (
            i128::from(s.at).wrapping_sub(i128::from(self.base.at)),
            i128::from(s.sequence).wrapping_sub(i128::from(self.base.sequence)),
        )
    }

    /// Records an arrival, keeping sums over the whole window and over its newest `short`
    /// arrivals (0 for none).
    pub(crate) fn push(&mut self, arrival: &Arrival, short: usize) {
        if N == 0 {
            return;
        }
        let stamp = Stamp { at: arrival.at.as_nanos(), sequence: arrival.sequence };
        if self.ring.len() == 0 && self.sums.count == 0 {
            self.base = stamp;
        }
        let evicted = self.ring.push(stamp);
        if let Some(old) = evicted {
            self.sums.add(self.relative(old), -1);
        }
        self.sums.add(self.relative(stamp), 1);
        if short == 0 {
            return;
        }
        self.short.add(self.relative(stamp), 1);
        let len = self.ring.len();
        if len > short {
            // The arrival `short` places before the newest just left the short window.
            if let Some(left) = self.ring.get(len - 1 - short) {
                self.short.add(self.relative(left), -1);
            }
        } else if let Some(old) = evicted {
            // The short window spans the whole ring: what left the ring left it too.
            self.short.add(self.relative(old), -1);
        }
    }

    /// The sending interval η in nanoseconds: the least-squares slope of arrival time on
    /// sequence number across the window, or `fallback` while it spans fewer than two sequence
    /// numbers.
    ///
    /// Chen's paper takes η as known. Estimating it gives the same expected arrivals for a
    /// strictly periodic sender, stays right when the actual mean interval differs from the
    /// advertised one (a sender with jitter, a drifting clock), and — being a fit over the whole
    /// window — moves by only a fraction of a percent of one late arrival's delay.
    pub(crate) fn interval(&self, fallback: Duration) -> f64 {
        self.sums.slope().filter(|eta| *eta >= 0.0).unwrap_or(fallback.as_nanos() as f64)
    }

    /// `EA_{l+1}` over the whole window (or over its short window), for η in nanoseconds.
    pub(crate) fn expected(&self, short: bool, eta: f64) -> Option<Instant> {
        let last = self.ring.last()?;
        let sums = if short { &self.short } else { &self.sums };
        Some(after(Instant::from_nanos(last.at), sums.expected_after(self.relative(last), eta)))
    }
}

/// A Chen-style detector's deadlines: down at the freshness point `EA + α`, suspect halfway
/// through the margin (the next expected arrival defaults to one interval after the last).
pub(crate) fn freshness_deadlines(timing: &PeerTiming, ea: Option<Instant>, alpha: Duration) -> Deadlines {
    let ea = ea.unwrap_or(timing.last_heard + timing.interval);
    Deadlines::bounded(timing, ea + alpha / 2, ea + alpha)
}

/// How a Chen-style detector gets η.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntervalSource {
    /// Estimated from the window (the default).
    Window,
    /// The interval the sender advertises, as in Chen's paper.
    Advertised,
}

/// Chen's NFD-E detector: `down = EA_{l+1} + α`, where `EA_{l+1}` is the expected arrival of the
/// next heartbeat estimated from the last `N` fresh arrivals (the literature uses `N = 1000`).
/// `Suspect` comes halfway through the margin, at `EA_{l+1} + α/2`.
///
/// Per-peer state: `N` arrivals of 16 bytes plus running sums (about 16 KB for `N = 1000`).
/// Suspicion is silence as a fraction of the span to the down deadline (1.0 at the deadline).
///
/// η is estimated from the window by default (see [`Chen::with_advertised_interval`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chen<const N: usize = 1000> {
    alpha: Duration,
    source: IntervalSource,
}

impl<const N: usize> Chen<N> {
    /// A detector with safety margin `alpha`.
    pub fn new(alpha: Duration) -> Self {
        Chen { alpha, source: IntervalSource::Window }
    }

    /// Takes η from the sender's advertised interval instead of estimating it: Chen's formula
    /// exactly, right for a strictly periodic sender.
    pub fn with_advertised_interval(self) -> Self {
        Chen { source: IntervalSource::Advertised, ..self }
    }

    /// The safety margin α.
    pub fn alpha(&self) -> Duration {
        self.alpha
    }

    /// The expected arrival of the next heartbeat, `EA_{l+1}`, once at least one arrived.
    pub fn expected_arrival(&self, state: &ChenState<N>, timing: &PeerTiming) -> Option<Instant> {
        let window = &state.window;
        let eta = match self.source {
            IntervalSource::Window => window.interval(timing.interval),
            IntervalSource::Advertised => timing.interval.as_nanos() as f64,
        };
        window.expected(false, eta)
    }
}

/// Per-peer state of [`Chen`]: the last `N` arrivals.
#[derive(Debug, Clone, Default)]
pub struct ChenState<const N: usize> {
    window: ArrivalWindow<N>,
}

impl<const N: usize> Detector for Chen<N> {
    type PeerState = ChenState<N>;

    fn on_heartbeat(&self, state: &mut ChenState<N>, arrival: &Arrival) {
        state.window.push(arrival, 0);
    }

    fn deadlines(&self, state: &ChenState<N>, timing: &PeerTiming) -> Deadlines {
        freshness_deadlines(timing, self.expected_arrival(state, timing), self.alpha)
    }

    fn suspicion(&self, state: &ChenState<N>, timing: &PeerTiming, now: Instant) -> f32 {
        fraction_of_span(timing, self.deadlines(state, timing).down, now)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{arrival, check_contract, timing};
    use super::*;

    /// Arrivals of sequences 1..=4 with η = 1 s and delays 100, 300, 200, 150 ms.
    fn fed<const N: usize>(detector: &Chen<N>) -> ChenState<N> {
        let mut state = ChenState::default();
        for (seq, delay) in [(1, 100), (2, 300), (3, 200), (4, 150)] {
            detector.on_heartbeat(&mut state, &arrival(seq * 1000 + delay, seq, 0));
        }
        state
    }

    #[test]
    fn expected_arrival_matches_a_hand_computed_sequence() {
        // Chen's formula with η = 1 s: EA_5 = (1/4)·Σ(A_i − i·η) + 5·η = (0.1+0.3+0.2+0.15)/4 + 5
        // = 5.1875 s.
        let chen = Chen::<8>::new(Duration::from_millis(500)).with_advertised_interval();
        let state = fed(&chen);
        let t = timing(Instant::from_millis(4150), Duration::from_secs(1));
        assert_eq!(chen.expected_arrival(&state, &t), Some(Instant::from_micros(5_187_500)));
        let d = chen.deadlines(&state, &t);
        assert_eq!(d.down, Instant::from_micros(5_687_500));
        assert_eq!(d.suspect, Instant::from_micros(5_437_500));

        // Estimating η from the window: the least-squares slope of (1, 1.1), (2, 2.3), (3, 3.2),
        // (4, 4.15) is Σ(s−2.5)(A−2.6875)/Σ(s−2.5)² = 5.025/5 = 1.005 s, so
        // EA_5 = mean(A) + η̂·(5 − mean(s)) = 2.6875 + 2.5·1.005 = 5.2 s.
        let chen = Chen::<8>::new(Duration::ZERO);
        let ea = chen.expected_arrival(&fed(&chen), &t).unwrap().as_nanos();
        assert!(ea.abs_diff(5_200_000_000) <= 1, "{ea}");

        // A window of 2 keeps only the last two arrivals: EA_5 = (0.2 + 0.15)/2 + 5 = 5.175 s.
        let chen = Chen::<2>::new(Duration::ZERO).with_advertised_interval();
        assert_eq!(chen.expected_arrival(&fed(&chen), &t), Some(Instant::from_millis(5175)));
    }

    #[test]
    fn one_late_arrival_barely_moves_the_estimated_interval() {
        // 100 punctual heartbeats, then one 3 s late: the fitted η moves by
        // 3 s·50/Σ(s−51)² = 1.75 ms (an endpoint slope would move by 30 ms).
        let chen = Chen::<100>::new(Duration::ZERO);
        let mut state = ChenState::default();
        for seq in 1..=100 {
            chen.on_heartbeat(&mut state, &arrival(seq * 1000, seq, 0));
        }
        chen.on_heartbeat(&mut state, &arrival(101_000 + 3000, 101, 0));
        let eta = state.window.interval(Duration::from_secs(9));
        assert!((eta - 1.00175e9).abs() < 0.1e6, "{eta}");
        // EA_102 moves by 3 s/101 + 51·1.75 ms ≈ 0.12 s, not by the 3 s.
        let t = timing(Instant::from_millis(104_000), Duration::from_secs(1));
        let ea = chen.expected_arrival(&state, &t).unwrap();
        assert!(ea > Instant::from_millis(102_100) && ea < Instant::from_millis(102_150), "{ea:?}");
    }

    #[test]
    fn a_loss_moves_the_expectation_by_whole_intervals() {
        let chen = Chen::<8>::new(Duration::ZERO).with_advertised_interval();
        let mut state = ChenState::default();
        chen.on_heartbeat(&mut state, &arrival(1100, 1, 0));
        chen.on_heartbeat(&mut state, &arrival(3100, 3, 1));
        let t = timing(Instant::from_millis(3100), Duration::from_secs(1));
        assert_eq!(chen.expected_arrival(&state, &t), Some(Instant::from_millis(4100)));
    }

    #[test]
    fn deadlines_respect_the_bounds() {
        let chen = Chen::<8>::new(Duration::from_secs(60));
        let state = fed(&chen);
        let mut t = timing(Instant::from_millis(4150), Duration::from_secs(1));
        t.max_timeout = Duration::from_secs(10);
        assert_eq!(chen.deadlines(&state, &t).down, Instant::from_millis(14_150));
        let s = chen.suspicion(&state, &t, Instant::from_millis(9_150));
        assert!((s - 0.5).abs() < 1e-6, "{s}");
    }

    #[test]
    fn keeps_the_detector_contract() {
        let arrivals = [(0, 1), (1_000_000, 2), (1_000_000, 3), (500_000, 4), (9_000_000, 9), (9_000_000, 7)];
        check_contract(&Chen::<4>::new(Duration::from_millis(100)), &arrivals);
        check_contract(&Chen::<1>::new(Duration::ZERO).with_advertised_interval(), &arrivals);
        check_contract(&Chen::<0>::new(Duration::ZERO), &arrivals);
    }
}
