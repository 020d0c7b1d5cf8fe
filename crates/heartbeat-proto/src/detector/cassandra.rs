//! φ accrual as Apache Cassandra computes it: inter-arrival times assumed exponential, so φ is
//! the silence over the mean interval, scaled to the decimal logarithm.

use core::f64::consts::LN_10;
use core::time::Duration;

use super::window::Ring;
use super::{Arrival, Deadlines, Detector, PeerTiming, after};
use crate::time::Instant;

/// φ accrual, Cassandra-compatible (`FailureDetector` / `ArrivalWindow`): with `mean` the mean
/// of the last `N` recorded intervals (`SAMPLE_SIZE`, 1000), the peer is convicted once
/// `(silence / mean) / ln 10 > phi_convict_threshold` — `−log10` of the exponential survival
/// function. At the default threshold of 8 that is after 18.42 × the mean interval.
///
/// Same rules as Cassandra: the first heartbeat records the initial interval (2 × the gossip
/// interval, "better to err high"); later intervals above `max_interval` (by default the
/// initial value) are ignored. Cassandra evaluates φ once per gossip round; here the deadline is
/// exact. `Suspect` comes at half the threshold unless set.
///
/// Suspicion is Cassandra's φ (the value compared with the threshold). Per-peer state: `N`
/// intervals of 4 bytes (µs), about 4 KB for `N = 1000`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CassandraPhi<const N: usize = 1000> {
    threshold: f64,
    suspect_threshold: Option<f64>,
    initial_us: u32,
    max_interval: Duration,
}

impl<const N: usize> Default for CassandraPhi<N> {
    fn default() -> Self {
        CassandraPhi {
            threshold: 8.0,
            suspect_threshold: None,
            initial_us: 2_000_000,
            max_interval: Duration::from_secs(2),
        }
    }
}

impl<const N: usize> CassandraPhi<N> {
    /// Cassandra's defaults for a 1 s gossip interval.
    pub fn new() -> Self {
        Self::default()
    }

    /// `phi_convict_threshold` (default 8).
    pub fn with_threshold(self, threshold: f64) -> Self {
        CassandraPhi { threshold, ..self }
    }

    /// The φ at which the peer becomes `Suspect` (default: half the threshold).
    pub fn with_suspect_threshold(self, phi: f64) -> Self {
        CassandraPhi { suspect_threshold: Some(phi), ..self }
    }

    /// Scales the initial and maximum interval to a gossip (heartbeat) interval: both become
    /// twice it, as in Cassandra.
    pub fn with_gossip_interval(self, interval: Duration) -> Self {
        let initial = interval.saturating_mul(2);
        CassandraPhi {
            initial_us: u32::try_from(initial.as_micros()).unwrap_or(u32::MAX),
            max_interval: initial,
            ..self
        }
    }

    /// The threshold.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Cassandra's φ after `elapsed` of silence: `(elapsed / mean) / ln 10`.
    pub fn phi(&self, state: &CassandraState<N>, elapsed: Duration) -> f64 {
        elapsed.as_secs_f64() * 1e6 / self.mean_us(state) / LN_10
    }

    fn mean_us(&self, state: &CassandraState<N>) -> f64 {
        let n = state.intervals.len();
        if n == 0 { f64::from(self.initial_us).max(1.0) } else { (state.sum as f64 / n as f64).max(1e-3) }
    }

    fn offset_nanos(&self, state: &CassandraState<N>, phi: f64) -> f64 {
        phi * LN_10 * self.mean_us(state) * 1e3
    }
}

/// Per-peer state of [`CassandraPhi`]: the last `N` intervals (µs) and their sum.
#[derive(Debug, Clone, Default)]
pub struct CassandraState<const N: usize> {
    intervals: Ring<u32, N>,
    sum: u64,
    last: Option<Instant>,
}

impl<const N: usize> CassandraState<N> {
    fn record(&mut self, micros: u32) {
        match self.intervals.push(micros) {
            Some(_) if N == 0 => return,
            Some(old) => self.sum -= u64::from(old),
            None => {}
        }
        self.sum += u64::from(micros);
    }
}

impl<const N: usize> Detector for CassandraPhi<N> {
    type PeerState = CassandraState<N>;

    fn on_heartbeat(&self, state: &mut CassandraState<N>, arrival: &Arrival) {
        match state.last {
            None => state.record(self.initial_us),
            Some(last) => {
                let interval = arrival.at - last;
                if interval <= self.max_interval {
                    state.record(u32::try_from(interval.as_micros()).unwrap_or(u32::MAX));
                }
            }
        }
        state.last = Some(arrival.at);
    }

    fn deadlines(&self, state: &CassandraState<N>, timing: &PeerTiming) -> Deadlines {
        let suspect = self.suspect_threshold.unwrap_or(self.threshold / 2.0);
        let down = after(timing.last_heard, self.offset_nanos(state, self.threshold));
        Deadlines::bounded(timing, after(timing.last_heard, self.offset_nanos(state, suspect)), down)
    }

    fn suspicion(&self, state: &CassandraState<N>, timing: &PeerTiming, now: Instant) -> f32 {
        self.phi(state, now - timing.last_heard) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{arrival, check_contract, timing};
    use super::*;

    #[test]
    fn convicts_at_18_42_times_the_mean_for_threshold_8() {
        let c = CassandraPhi::<1000>::new();
        let mut state = CassandraState::default();
        // 1001 heartbeats 1 s apart: the initial 2 s sample is pushed out by 1000 intervals of 1 s.
        for k in 0..=1000 {
            c.on_heartbeat(&mut state, &arrival(1000 * k, k + 1, 0));
        }
        let t = timing(Instant::from_secs(1000), Duration::from_secs(1));
        let down = c.deadlines(&state, &t).down - t.last_heard;
        assert_eq!(down.as_micros(), 18_420_680, "8 · ln 10 · 1 s");
        assert!((c.phi(&state, down) - 8.0).abs() < 1e-6);
        assert!((c.suspicion(&state, &t, t.last_heard + Duration::from_secs(23)) - 23.0 / LN_10 as f32).abs() < 1e-4);
    }

    #[test]
    fn the_first_interval_is_the_initial_value_and_long_ones_are_ignored() {
        let c = CassandraPhi::<1000>::new().with_gossip_interval(Duration::from_millis(500));
        let mut state = CassandraState::default();
        c.on_heartbeat(&mut state, &arrival(0, 1, 0));
        assert_eq!((state.sum, state.intervals.len()), (1_000_000, 1));
        c.on_heartbeat(&mut state, &arrival(1_001, 2, 0));
        assert_eq!(state.intervals.len(), 1, "1.001 s exceeds the 1 s maximum");
        c.on_heartbeat(&mut state, &arrival(1_501, 3, 0));
        assert_eq!((state.sum, state.intervals.len()), (1_500_000, 2));
    }

    #[test]
    fn keeps_the_detector_contract() {
        let arrivals = [(0, 1), (1_000_000, 2), (1_000_000, 3), (500_000, 4), (9_000_000, 9), (9_000_000, 7)];
        check_contract(&CassandraPhi::<4>::new(), &arrivals);
        check_contract(&CassandraPhi::<0>::new().with_threshold(-1.0), &arrivals);
    }
}
