//! φ accrual as Akka and Apache Pekko compute it: a normal distribution fitted to a window of
//! inter-arrival times, its tail evaluated with a logistic approximation.

use core::f64::consts::LN_10;
use core::time::Duration;

use super::window::Ring;
use super::{Arrival, Deadlines, Detector, PeerTiming, after};
use crate::time::Instant;

/// The logistic approximation's coefficients: `P(later) ≈ 1 / (1 + e^{y·(A + B·y²)})`.
const A: f64 = 1.5976;
const B: f64 = 0.070566;

/// Akka's and Pekko's `phi(timeDiff, mean, stdDeviation)`: −log10 of the probability that an
/// interval drawn from a normal distribution with that mean and standard deviation is longer
/// than `time_diff`, with the tail approximated by a logistic function. Any one time unit
/// (Akka uses milliseconds); `mean` is the one Akka passes, i.e. it already includes the
/// acceptable heartbeat pause.
pub fn akka_phi(time_diff: f64, mean: f64, std_deviation: f64) -> f64 {
    let y = (time_diff - mean) / std_deviation;
    let e = libm::exp(-y * (A + B * y * y));
    if time_diff > mean { -libm::log10(e / (1.0 + e)) } else { -libm::log10(1.0 - 1.0 / (1.0 + e)) }
}

/// The `y = (time_diff − mean) / σ` at which [`akka_phi`] reaches `phi`, so that the
/// deadline is `mean + y·σ`: the root of `y·(A + B·y²) = ln(10^φ − 1)`. For example 5.226 at
/// φ = 8, where an exact normal tail would give 5.612.
///
/// φ is never negative, so a threshold of 0 or less is reached at once (−∞).
pub fn akka_phi_quantile(phi: f64) -> f64 {
    if phi.is_nan() || phi <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi == f64::INFINITY {
        return f64::INFINITY;
    }
    // ln(10^φ − 1), without overflow for large φ nor cancellation for small φ.
    let c = phi * LN_10 + libm::log1p(-libm::exp10(-phi));
    // The depressed cubic y³ + p·y + q = 0 has one real root (p > 0). Cardano's form u + v with
    // u·v = −p/3, taking the cube root whose argument does not cancel.
    let (p, q) = (A / B, -c / B);
    let d = libm::sqrt(q * q / 4.0 + p * p * p / 27.0);
    if q <= 0.0 {
        let u = libm::cbrt(-q / 2.0 + d);
        u - p / (3.0 * u)
    } else {
        let v = libm::cbrt(-q / 2.0 - d);
        v - p / (3.0 * v)
    }
}

/// φ accrual, Akka/Pekko-compatible: the peer is down once φ reaches `threshold`, where φ is
/// [`akka_phi`] of the silence, given the mean and standard deviation of the last `N`
/// inter-arrival times (`N` is Akka's `max-sample-size`).
///
/// Same rules as Akka's `PhiAccrualFailureDetector`:
/// - the first heartbeat seeds the history with `estimate ∓ estimate/4`
///   (`first-heartbeat-estimate`, so σ starts at a quarter of it);
/// - the standard deviation is at least `min-std-deviation`;
/// - `acceptable-heartbeat-pause` is added to the mean;
/// - an interval ending in a heartbeat that arrived when φ had already reached the threshold
///   is not recorded (a long pause would skew the statistics).
///
/// Defaults are Akka's cluster defaults: threshold 8, `max-sample-size` 1000,
/// `min-std-deviation` 100 ms, `acceptable-heartbeat-pause` 3 s, `first-heartbeat-estimate`
/// (the heartbeat interval) 1 s. `Suspect` comes at φ = threshold / 2 unless set.
///
/// Deadlines: `last + mean + pause + y·σ` with `y` from [`akka_phi_quantile`]. Suspicion is φ
/// itself (exactly 0 at the arrival instant). Per-peer state: `N` intervals of 4 bytes (µs),
/// about 4 KB for `N = 1000`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AkkaPhi<const N: usize = 1000> {
    threshold: f64,
    suspect_threshold: Option<f64>,
    min_std_ms: f64,
    pause_ms: f64,
    first_estimate_us: u32,
    y_down: f64,
    y_suspect: f64,
}

impl<const N: usize> Default for AkkaPhi<N> {
    fn default() -> Self {
        AkkaPhi {
            threshold: 8.0,
            suspect_threshold: None,
            min_std_ms: 100.0,
            pause_ms: 3000.0,
            first_estimate_us: 1_000_000,
            y_down: 0.0,
            y_suspect: 0.0,
        }
        .solved()
    }
}

impl<const N: usize> AkkaPhi<N> {
    /// Akka's cluster defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Akka's `threshold` (default 8).
    pub fn with_threshold(self, threshold: f64) -> Self {
        AkkaPhi { threshold, ..self }.solved()
    }

    /// The φ at which the peer becomes `Suspect` (default: half the threshold).
    pub fn with_suspect_threshold(self, phi: f64) -> Self {
        AkkaPhi { suspect_threshold: Some(phi), ..self }.solved()
    }

    /// Akka's `min-std-deviation` (default 100 ms).
    pub fn with_min_std_deviation(self, min: Duration) -> Self {
        AkkaPhi { min_std_ms: min.as_secs_f64() * 1e3, ..self }
    }

    /// Akka's `acceptable-heartbeat-pause` (default 3 s).
    pub fn with_acceptable_heartbeat_pause(self, pause: Duration) -> Self {
        AkkaPhi { pause_ms: pause.as_secs_f64() * 1e3, ..self }
    }

    /// Akka's `first-heartbeat-estimate`, its `heartbeat-interval` (default 1 s).
    pub fn with_first_heartbeat_estimate(self, estimate: Duration) -> Self {
        AkkaPhi { first_estimate_us: u32::try_from(estimate.as_micros()).unwrap_or(u32::MAX), ..self }
    }

    /// The threshold.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// φ after `elapsed` of silence, as Akka's `phi(timestamp)` (0 before any heartbeat).
    pub fn phi(&self, state: &AkkaPhiState<N>, elapsed: Duration) -> f64 {
        if state.last.is_none() {
            return 0.0;
        }
        let (mean, std) = self.fit(state);
        akka_phi(elapsed.as_secs_f64() * 1e3, mean + self.pause_ms, std)
    }

    fn solved(self) -> Self {
        let suspect = self.suspect_threshold.unwrap_or(self.threshold / 2.0);
        AkkaPhi { y_down: akka_phi_quantile(self.threshold), y_suspect: akka_phi_quantile(suspect), ..self }
    }

    /// Mean and (floored) standard deviation of the history, in milliseconds.
    fn fit(&self, state: &AkkaPhiState<N>) -> (f64, f64) {
        let n = state.intervals.len();
        let (mean, std) = if n == 0 {
            // Only with a window of 0 samples: keep the bootstrap's view.
            let m = f64::from(self.first_estimate_us) / 1e3;
            (m, m / 4.0)
        } else {
            let n = n as f64;
            let mean_us = state.sum as f64 / n;
            let variance = (state.sum_sq as f64 / n - mean_us * mean_us).max(0.0);
            (mean_us / 1e3, libm::sqrt(variance) / 1e3)
        };
        // Also floored at a nanosecond so that φ never divides by zero.
        (mean, std.max(self.min_std_ms).max(1e-6))
    }

    /// Silence after which φ reaches the threshold whose quantile is `y`, in nanoseconds.
    fn offset_nanos(&self, state: &AkkaPhiState<N>, y: f64) -> f64 {
        let (mean, std) = self.fit(state);
        (mean + self.pause_ms + y * std) * 1e6
    }
}

/// Per-peer state of [`AkkaPhi`]: the last `N` intervals (µs) with running sums.
#[derive(Debug, Clone, Default)]
pub struct AkkaPhiState<const N: usize> {
    intervals: Ring<u32, N>,
    sum: u64,
    sum_sq: u128,
    last: Option<Instant>,
}

impl<const N: usize> AkkaPhiState<N> {
    fn record(&mut self, micros: u32) {
        match self.intervals.push(micros) {
            Some(_) if N == 0 => return,
            Some(old) => {
                self.sum -= u64::from(old);
                self.sum_sq -= u128::from(old) * u128::from(old);
            }
            None => {}
        }
        self.sum += u64::from(micros);
        self.sum_sq += u128::from(micros) * u128::from(micros);
    }
}

impl<const N: usize> Detector for AkkaPhi<N> {
    type PeerState = AkkaPhiState<N>;

    fn on_heartbeat(&self, state: &mut AkkaPhiState<N>, arrival: &Arrival) {
        match state.last {
            None => {
                let m = self.first_estimate_us;
                state.record(m - m / 4);
                state.record(m + m / 4);
            }
            Some(last) => {
                let interval = arrival.at - last;
                let available = (interval.as_nanos() as f64) < self.offset_nanos(state, self.y_down);
                if available {
                    state.record(u32::try_from(interval.as_micros()).unwrap_or(u32::MAX));
                }
            }
        }
        state.last = Some(arrival.at);
    }

    fn deadlines(&self, state: &AkkaPhiState<N>, timing: &PeerTiming) -> Deadlines {
        let down = after(timing.last_heard, self.offset_nanos(state, self.y_down));
        let suspect = after(timing.last_heard, self.offset_nanos(state, self.y_suspect));
        Deadlines::bounded(timing, suspect, down)
    }

    fn suspicion(&self, state: &AkkaPhiState<N>, timing: &PeerTiming, now: Instant) -> f32 {
        let elapsed = now - timing.last_heard;
        if elapsed.is_zero() { 0.0 } else { self.phi(state, elapsed) as f32 }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{arrival, check_contract, timing};
    use super::*;

    #[test]
    fn phi_matches_hand_computed_values() {
        // mean 1000 ms, σ 100 ms: y = 2 → g = 2·(1.5976 + 0.070566·4) = 3.75972,
        // φ = −log10(e^{−g} / (1 + e^{−g})) = 1.64283.
        for (elapsed, expected) in
            [(1000.0, core::f64::consts::LOG10_2), (1200.0, 1.64283), (1400.0, 4.73669), (1600.0, 10.78260)]
        {
            let phi = akka_phi(elapsed, 1000.0, 100.0);
            assert!((phi - expected).abs() < 1e-4, "φ({elapsed}) = {phi}, expected {expected}");
        }
        assert!(akka_phi(0.0, 1000.0, 100.0) < 1e-30);
        assert!(akka_phi(500.0, 1000.0, 100.0) < 1e-6);
    }

    #[test]
    fn quantiles_match_the_reference_table() {
        // Φ → y* where Akka's φ crosses Φ (shared/reference/failure-detectors.md §2.2).
        for (phi, y) in [(1.0, 1.282), (3.0, 3.059), (8.0, 5.226), (10.0, 5.799), (12.0, 6.292)] {
            let q = akka_phi_quantile(phi);
            assert!((q - y).abs() < 1e-3, "Φ {phi}: {q} vs {y}");
            assert!((akka_phi(1000.0 + q * 100.0, 1000.0, 100.0) - phi).abs() < 1e-9);
        }
        assert_eq!(akka_phi_quantile(0.0), f64::NEG_INFINITY);
        assert!(akka_phi_quantile(1e-12) < -5.0);
        // Past φ ≈ 308 Akka's own φ overflows to infinity (e^{−g} underflows); the quantile
        // stays finite.
        let big = akka_phi_quantile(300.0);
        assert!((akka_phi(big, 0.0, 1.0) - 300.0).abs() < 1e-6);
        assert!(akka_phi_quantile(5000.0).is_finite());
    }

    #[test]
    fn bootstrap_gives_akkas_five_point_three_seconds() {
        // One heartbeat: history 750 and 1250 ms, σ = 250 ms, so down at
        // 1000 + 3000 + 5.226·250 ≈ 5306 ms after it (Akka's comment: "around 5.5 seconds").
        let phi = AkkaPhi::<1000>::new();
        let mut state = AkkaPhiState::default();
        phi.on_heartbeat(&mut state, &arrival(10_000, 1, 0));
        let t = timing(Instant::from_millis(10_000), Duration::from_secs(1));
        let down = phi.deadlines(&state, &t).down - t.last_heard;
        assert!(down.as_millis().abs_diff(5306) <= 1, "{down:?}");
        assert_eq!(phi.phi(&AkkaPhiState::default(), Duration::from_secs(60)), 0.0);
        // At the deadline, φ is the threshold.
        assert!((phi.phi(&state, down) - 8.0).abs() < 1e-6);
    }

    #[test]
    fn steady_heartbeats_floor_sigma_and_late_ones_are_not_recorded() {
        let phi = AkkaPhi::<1000>::new();
        let mut state = AkkaPhiState::default();
        for k in 0..200 {
            phi.on_heartbeat(&mut state, &arrival(1000 * k, k + 1, 0));
        }
        // Mean ≈ 1 s, σ at its 100 ms floor: 1000 + 3000 + 522.6 ms.
        let t = timing(Instant::from_millis(199_000), Duration::from_secs(1));
        let down = phi.deadlines(&state, &t).down - t.last_heard;
        assert!(down.as_millis().abs_diff(4523) <= 2, "{down:?}");
        // A heartbeat after the deadline brings no sample; one before it does.
        let before = (state.sum, state.intervals.len());
        phi.on_heartbeat(&mut state, &arrival(199_000 + 10_000, 201, 0));
        assert_eq!((state.sum, state.intervals.len()), before);
        phi.on_heartbeat(&mut state, &arrival(209_000 + 4_000, 202, 0));
        assert_eq!(state.intervals.len(), before.1 + 1);
    }

    #[test]
    fn keeps_the_detector_contract() {
        let arrivals = [(0, 1), (1_000_000, 2), (1_000_000, 3), (500_000, 4), (9_000_000, 9), (9_000_000, 7)];
        check_contract(&AkkaPhi::<4>::new(), &arrivals);
        check_contract(&AkkaPhi::<2>::new().with_min_std_deviation(Duration::ZERO), &arrivals);
        check_contract(
            &AkkaPhi::<0>::new().with_threshold(0.0).with_acceptable_heartbeat_pause(Duration::ZERO),
            &arrivals,
        );
    }
}
