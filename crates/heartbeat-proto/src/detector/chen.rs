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

/// Running sums over some of the newest stamps.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sums {
    count: u32,
    at: i128,
    sequence: i128,
}

impl Sums {
    pub(crate) fn add(&mut self, s: Stamp) {
        self.count += 1;
        self.at += i128::from(s.at);
        self.sequence += i128::from(s.sequence);
    }

    pub(crate) fn remove(&mut self, s: Stamp) {
        self.count = self.count.saturating_sub(1);
        self.at -= i128::from(s.at);
        self.sequence -= i128::from(s.sequence);
    }

    /// Chen's `EA_{l+1} = (1/n)·Σ(A_i − η·s_i) + (l+1)·η`, in nanoseconds after the newest
    /// arrival `last`, computed on small exact differences so that large clock values lose no
    /// precision.
    fn expected_after(&self, last: Stamp, eta: f64) -> f64 {
        let n = i128::from(self.count.max(1));
        // n·A_l − ΣA_i ≥ 0 and n·(l+1) − Σs_i ≥ n while arrivals and sequences increase.
        let lag = n * i128::from(last.at) - self.at;
        let lead = n * (i128::from(last.sequence) + 1) - self.sequence;
        (eta * lead as f64 - lag as f64) / n as f64
    }
}

/// The last `N` fresh arrivals of a peer, with the running sums Chen's estimator needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArrivalWindow<const N: usize> {
    ring: Ring<Stamp, N>,
    sums: Sums,
}

impl<const N: usize> ArrivalWindow<N> {
    /// Records an arrival; returns the stamp it pushed out of the window, if any.
    pub(crate) fn push(&mut self, arrival: &Arrival) -> Option<Stamp> {
        let stamp = Stamp { at: arrival.at.as_nanos(), sequence: arrival.sequence };
        let old = self.ring.push(stamp);
        if let Some(old) = old {
            self.sums.remove(old);
        }
        if N > 0 {
            self.sums.add(stamp);
        }
        old
    }

    /// The sending interval η in nanoseconds: the time per sequence number across the window
    /// (oldest to newest), or `fallback` while the window spans fewer than two sequence numbers.
    ///
    /// Chen's paper takes η as known. Estimating it instead gives the same expected arrivals
    /// for a strictly periodic sender and stays right when the actual mean interval differs
    /// from the advertised one (a sender with jitter, or a drifting clock).
    pub(crate) fn interval(&self, fallback: Duration) -> f64 {
        match (self.ring.first(), self.ring.last()) {
            (Some(first), Some(last)) if last.sequence > first.sequence && last.at >= first.at => {
                (last.at - first.at) as f64 / (last.sequence - first.sequence) as f64
            }
            _ => fallback.as_nanos() as f64,
        }
    }

    pub(crate) fn last(&self) -> Option<Stamp> {
        self.ring.last()
    }

    /// The `i`-th oldest stamp.
    pub(crate) fn get(&self, i: usize) -> Option<Stamp> {
        self.ring.get(i)
    }

    /// How many arrivals the window holds.
    pub(crate) fn len(&self) -> usize {
        self.ring.len()
    }

    /// `EA_{l+1}` from the newest stamps summed in `sums` (all of the window's, or fewer), for
    /// a given η in nanoseconds.
    pub(crate) fn expected(&self, sums: &Sums, eta: f64) -> Option<Instant> {
        let last = self.last()?;
        Some(after(Instant::from_nanos(last.at), sums.expected_after(last, eta)))
    }

    /// The running sums over the whole window.
    pub(crate) fn sums(&self) -> &Sums {
        &self.sums
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
        window.expected(window.sums(), eta)
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
        state.window.push(arrival);
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

        // Estimating η from the window: (4.15 − 1.1) s over 3 sequence numbers = 1.01666… s,
        // so EA_5 = mean(A) + η̂·(5 − mean(s)) = 2.6875 + 2.5·1.016667 = 5.229167 s.
        let chen = Chen::<8>::new(Duration::ZERO);
        let ea = chen.expected_arrival(&fed(&chen), &t).unwrap().as_nanos();
        assert!(ea.abs_diff(5_229_166_667) <= 1, "{ea}");

        // A window of 2 keeps only the last two arrivals: EA_5 = (0.2 + 0.15)/2 + 5 = 5.175 s.
        let chen = Chen::<2>::new(Duration::ZERO).with_advertised_interval();
        assert_eq!(chen.expected_arrival(&fed(&chen), &t), Some(Instant::from_millis(5175)));
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
