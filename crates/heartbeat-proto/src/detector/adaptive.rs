//! The project's own detector: its one knob is the false-suspicion rate you accept, and it
//! learns from the peer's own arrivals where the deadline must be to stay within it.

use core::fmt;
use core::time::Duration;

use super::{Arrival, Deadlines, Detector, PeerTiming, after, fraction_of_span};
use crate::time::Instant;

/// Quarter-octave buckets of lateness / η̂: bucket 0 is `(0, 2⁻⁶)`, bucket `b ≥ 1` starts at
/// `2^((b−1)/4 − 6) · (1 + ((b−1) mod 4)/4)`, and the last one is open-ended (from 40 η̂).
const BUCKETS: usize = 47;
const LOWEST_OCTAVE: i32 = -6;
/// Counts needed before an empirical survival value is trusted.
const MIN_COUNT: f64 = 16.0;
/// Heartbeats recorded before the model replaces the negotiated timeout.
const WARMUP: u32 = 128;
/// Counts are halved once they span this many events at the target rate (and at least
/// `MIN_MEMORY`, at most `MAX_MEMORY` heartbeats), or when one would overflow.
const MEMORY_EVENTS: f64 = 64.0;
const MIN_MEMORY: f64 = 65_536.0;
const MAX_MEMORY: f64 = 16_777_216.0;
/// Heartbeats between two recomputations of the margins, once past the start (the counts
/// span at least 2¹⁶ heartbeats, so they barely move in this many).
const REFRESH: u16 = 1024;
/// The suspect deadline is where a live peer is this many times likelier to be late.
const SUSPECT_FACTOR: f64 = 10.0;
/// Largest lateness searched, in intervals (the bounds cap deadlines anyway).
const MAX_LATENESS: f64 = 256.0;
/// Beyond the data, a survival value is at most (count + 3) / total: with no event past a point
/// in `total` heartbeats, 3 / total bounds its probability at 95 % (the rule of three).
const UNSEEN: f64 = 3.0;
/// Loss-burst probabilities below this fraction of the probability being solved for are not
/// expanded term by term (they are still added, as certainly late).
const NEGLIGIBLE: f64 = 1e-4;

/// The default adaptive detector: give it the false suspicions per hour and per peer you
/// accept, and it places each deadline where, judging by that peer's recent arrivals, a live
/// peer would be that late that rarely.
///
/// # Model
///
/// After a fresh heartbeat at `A_l`, the next one is expected at `EA = A_l + η̂`, where η̂ is the
/// peer's measured interval per sequence number (the short window of 2W-FD, which follows a
/// sudden delay increase at once instead of flapping as a long-window mean does). The next
/// *fresh* heartbeat arrives at `EA + G·η̂ + δ`: `G` heartbeats lost in between, and `δ` its own
/// lateness. The detector keeps, in 128 bytes:
///
/// - a histogram of `δ / η̂` in quarter-octave buckets from 1/64 to 40 intervals (46 × u16,
///   and a u32 for lateness under 1/64);
/// - how often `G ≥ 1`, `G ≥ 2` and `G ≥ 4` (bursts of loss; longer bursts continue the
///   counted ones geometrically). A heartbeat that skips sequence numbers counts as `G` losses
///   only if it is late by `G` intervals, give or take an eighth: one that overtakes delayed
///   heartbeats (reordering after a delay spike, or within a burst sent after a stall) is a
///   lateness sample, not a loss;
/// - η̂ (a running mean of the spacing per sequence number, each sample capped at 4 η̂).
///
/// Counts decay: all are halved once they hold 64 / p heartbeats — enough to have seen about 64
/// events as rare as the target (see below), from 2¹⁶ to 2²⁴ heartbeats — or when one would
/// overflow, so old conditions fade; the expected arrival itself follows within about 128
/// heartbeats. From them it builds the survival function
/// `S(x) = P(next fresh arrival later than EA + x)`, assuming `G` and `δ` independent:
/// `S(x) = Σ_g P(G = g) · S_δ(x − g·η̂)`.
///
/// # The knob
///
/// A target of `λ` false suspicions per hour means, with one fresh heartbeat every `ĝ`
/// seconds, a per-heartbeat probability `p = λ·ĝ / 3600` of being declared down although
/// alive. The down deadline is `EA + x` with `S(x) = p`; the suspect deadline uses `10·p`.
///
/// Such tails (p ≈ 10⁻⁴…10⁻⁶) lie beyond what a histogram of recent heartbeats can show, so
/// `S_δ` is read from the histogram only where at least 16 counts support it; past that point
/// it continues as a power law fitted to the histogram's own tail (the slope between that
/// point and the one with four times the count, at least 1, or the drop to the next bucket edge
/// if that is steeper) — but never above what the counts
/// themselves allow, `(count + 3) / total` (3 unseen events being the 95 % bound when none were
/// seen). Heavy tails (stalls, delay spikes) are then extrapolated as heavy, and a tail that
/// ends (jitter bounded by the sender) is not extended.
///
/// Until 128 heartbeats are recorded the detector applies the negotiated timeout, as
/// [`FixedTimeout`](super::FixedTimeout) does. The margin is recomputed every 1024 heartbeats
/// (more often early on), so a heartbeat costs tens of nanoseconds on average.
///
/// # Bounds, warm-up and suspicion
///
/// Deadlines stay within the node's `[min_timeout, max_timeout]`; before enough heartbeats
/// arrived the negotiated timeout applies. Suspicion is φ-like: −log10 of the estimated
/// probability that a live peer stays silent this long (about −log10(p) at the down deadline);
/// during warm-up it is silence / timeout, as for [`FixedTimeout`](super::FixedTimeout).
///
/// Per-peer state: 128 bytes ([`AdaptiveState`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adaptive {
    target_per_hour: f64,
}

impl Default for Adaptive {
    /// One false suspicion per peer every ten hours.
    fn default() -> Self {
        Adaptive { target_per_hour: 0.1 }
    }
}

impl Adaptive {
    /// A detector aiming at `per_hour` false suspicions per hour and per peer. Zero, negative
    /// or NaN targets ask for the latest deadline the bounds allow.
    pub fn with_target(per_hour: f64) -> Self {
        Adaptive { target_per_hour: per_hour }
    }

    /// The target, in false suspicions per hour and per peer.
    pub fn target_per_hour(&self) -> f64 {
        self.target_per_hour
    }

    /// The estimated probability that a live peer, silent for `elapsed` since its last
    /// heartbeat, stays silent longer; `None` while the detector is still warming up.
    pub fn survival(&self, state: &AdaptiveState, elapsed: Duration) -> Option<f64> {
        state.warm().then(|| {
            let x = elapsed.as_nanos() as f64 / f64::from(state.interval) - 1.0;
            Model::new(state).survival(x)
        })
    }

    /// The per-heartbeat probability of a false suspicion that meets the target.
    fn per_heartbeat(&self, state: &AdaptiveState, spacing: f64) -> f64 {
        self.target_per_hour * f64::from(state.interval) * 1e-9 * spacing / 3600.0
    }

    /// How many heartbeats the counts may span before they are halved.
    fn memory(&self, state: &AdaptiveState) -> u32 {
        let spacing = 1.0 + f64::from(state.gaps[0]) / f64::from(state.total.max(1));
        let p = self.per_heartbeat(state, spacing);
        let memory = if p > 0.0 { MEMORY_EVENTS / p } else { MAX_MEMORY };
        memory.clamp(MIN_MEMORY, MAX_MEMORY) as u32
    }

    fn recompute(&self, state: &mut AdaptiveState) {
        let model = Model::new(state);
        let p = self.per_heartbeat(state, model.heartbeat_spacing());
        let eta = f64::from(state.interval);
        state.margin_down = (model.quantile(p) * eta) as f32;
        state.margin_suspect = (model.quantile((p * SUSPECT_FACTOR).min(0.5)) * eta) as f32;
        state.refresh = 0;
    }
}

/// Per-peer state of [`Adaptive`]: 128 bytes.
#[derive(Clone)]
pub struct AdaptiveState {
    /// The last fresh arrival, ns.
    last: u64,
    /// η̂, ns per sequence number; 0 before the first heartbeat.
    interval: f32,
    /// Down and suspect margins past `last + η̂`, ns.
    margin_down: f32,
    margin_suspect: f32,
    /// Heartbeats recorded (decayed with the counts).
    total: u32,
    /// Lateness in bucket 0, `(0, 1/64)` intervals (decayed).
    small: u32,
    /// Heartbeats recorded after at least 1, 2 and 4 lost ones (decayed).
    gaps: [u16; 3],
    /// Lateness in buckets `1..BUCKETS` (decayed).
    hist: [u16; BUCKETS - 1],
    /// Heartbeats since the margins were computed.
    refresh: u16,
}

impl Default for AdaptiveState {
    fn default() -> Self {
        AdaptiveState {
            last: 0,
            interval: 0.0,
            margin_down: 0.0,
            margin_suspect: 0.0,
            total: 0,
            small: 0,
            gaps: [0; 3],
            hist: [0; BUCKETS - 1],
            refresh: 0,
        }
    }
}

impl fmt::Debug for AdaptiveState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveState")
            .field("interval_ns", &self.interval)
            .field("margin_down_ns", &self.margin_down)
            .field("margin_suspect_ns", &self.margin_suspect)
            .field("total", &self.total)
            .field("gaps", &self.gaps)
            .finish_non_exhaustive()
    }
}

impl AdaptiveState {
    fn warm(&self) -> bool {
        self.total >= WARMUP && self.interval > 0.0
    }

    /// The count of lateness samples at or above the lower edge of bucket `b`'s own bucket.
    fn count(&self, b: usize) -> u32 {
        if b == 0 { self.small } else { self.hist.get(b - 1).map_or(0, |&c| u32::from(c)) }
    }

    /// Counts one heartbeat of lateness `r` intervals after `gap` lost ones, keeping at most
    /// `memory` heartbeats' worth of counts.
    fn record(&mut self, r: f64, gap: u64, memory: u32) {
        let b = (r > 0.0).then(|| bucket(r));
        let overflows = self.total >= memory
            || [1, 2, 4].into_iter().zip(self.gaps).any(|(least, c)| gap >= least && c == u16::MAX)
            || b.is_some_and(|b| b > 0 && self.hist[b - 1] == u16::MAX);
        if overflows {
            self.halve();
        }
        self.total = self.total.saturating_add(1);
        for (i, least) in [1, 2, 4].into_iter().enumerate() {
            if gap >= least {
                self.gaps[i] += 1;
            }
        }
        match b {
            Some(0) => self.small = self.small.saturating_add(1),
            Some(b) => self.hist[b - 1] += 1,
            None => {}
        }
    }

    fn halve(&mut self) {
        self.total /= 2;
        self.small /= 2;
        for c in self.gaps.iter_mut().chain(self.hist.iter_mut()) {
            *c /= 2;
        }
    }
}

/// The bucket of a positive lateness `r` (in intervals), read off its float bits: exponent
/// for the octave, the top two mantissa bits for the quarter.
fn bucket(r: f64) -> usize {
    let bits = (r as f32).to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    if exponent < LOWEST_OCTAVE {
        return 0;
    }
    let quarter = ((bits >> 21) & 3) as i32;
    (1 + (exponent - LOWEST_OCTAVE) * 4 + quarter).min(BUCKETS as i32 - 1) as usize
}

/// The lower edge of bucket `b` in intervals (0 for bucket 0).
fn lower(b: usize) -> f64 {
    if b == 0 {
        return 0.0;
    }
    let k = b as i32 - 1;
    libm::ldexp(1.0 + f64::from(k % 4) / 4.0, k / 4 + LOWEST_OCTAVE)
}

/// The survival function built from a state's counts.
struct Model {
    total: f64,
    /// `tail[b]`: recorded lateness at or above `lower(b)` (`tail[BUCKETS]` = 0).
    tail: [f64; BUCKETS + 1],
    /// Where the fitted power law takes over, its count there and its exponent.
    anchor: usize,
    anchor_count: f64,
    slope: f64,
    /// `P(G ≥ 1)`, `P(G ≥ 2)`, `P(G ≥ 4)`, and the ratio continuing them geometrically.
    gaps: [f64; 3],
    gap_ratio: f64,
}

impl Model {
    fn new(state: &AdaptiveState) -> Model {
        let total = f64::from(state.total.max(1));
        let mut tail = [0.0; BUCKETS + 1];
        for b in (0..BUCKETS).rev() {
            tail[b] = tail[b + 1] + f64::from(state.count(b));
        }
        // The power law starts at the last bucket edge with enough counts; with none beyond
        // the first edge, it starts there as if MIN_COUNT had been seen (erring late).
        let anchor = (1..BUCKETS).rev().find(|&b| tail[b] >= MIN_COUNT).unwrap_or(1);
        let anchor_count = tail[anchor].max(MIN_COUNT.min(tail[0]).max(1.0));
        // Its exponent: from the nearest earlier edge with four times the count (or bucket 0's
        // midpoint), at least 1.
        let (x0, c0) = match (1..anchor).rev().find(|&b| tail[b] >= 4.0 * anchor_count) {
            Some(b) => (lower(b), tail[b]),
            None if anchor > 1 => (lower(1), tail[1]),
            None => (lower(1) / 2.0, tail[0]),
        };
        let below = libm::log(c0 / anchor_count) / libm::log(lower(anchor) / x0);
        // A tail that falls off a cliff right after the anchor is not extended as if it went on.
        let above = match anchor + 1 < BUCKETS {
            true => {
                libm::log(anchor_count / (tail[anchor + 1] + UNSEEN)) / libm::log(lower(anchor + 1) / lower(anchor))
            }
            false => 0.0,
        };
        let slope = below.max(above).max(1.0);
        let slope = if slope.is_finite() { slope } else { 1.0 };

        let at_least = |c: u16| (f64::from(c) / total).min(1.0);
        let p1 = at_least(state.gaps[0]);
        let p2 = at_least(state.gaps[1]).min(p1);
        let p4 = at_least(state.gaps[2]).min(p2);
        let gap_ratio = if p2 > 0.0 { libm::sqrt(p4 / p2).min(1.0) } else { 0.0 };
        Model { total, tail, anchor, anchor_count, slope, gaps: [p1, p2, p4], gap_ratio }
    }

    /// `P(G ≥ k)`: counted for 1, 2 and 4, geometric in between and beyond.
    fn gap_at_least(&self, k: usize) -> f64 {
        let [p1, p2, p4] = self.gaps;
        match k {
            0 => 1.0,
            1 => p1,
            2 => p2,
            3 => libm::sqrt(p2 * p4),
            _ => p4 * libm::pow(self.gap_ratio, (k - 4) as f64),
        }
    }

    /// The expected time between fresh heartbeats, in intervals.
    fn heartbeat_spacing(&self) -> f64 {
        1.0 + self.gaps[0]
    }

    /// `S_δ(x)`: the probability that a heartbeat is more than `x` intervals late.
    fn late(&self, x: f64) -> f64 {
        if x.is_nan() || x <= 0.0 {
            return 1.0;
        }
        let b = bucket(x);
        let counted = if b + 1 < BUCKETS {
            let (lo, hi) = (lower(b), lower(b + 1));
            let within = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
            self.tail[b] + (self.tail[b + 1] - self.tail[b]) * within
        } else {
            self.tail[b]
        };
        let start = lower(self.anchor);
        if x < start {
            // Never below where the power law starts (it may start above the counts when they
            // are too few to trust).
            counted.max(self.anchor_count) / self.total
        } else {
            // The power law, unless the counts (plus what could hide unseen) say less.
            (self.anchor_count * libm::pow(x / start, -self.slope)).min(counted + UNSEEN) / self.total
        }
    }

    /// `S(x)`: the probability that the next fresh heartbeat comes more than `x` intervals
    /// after the expected arrival.
    fn survival(&self, x: f64) -> f64 {
        self.survival_within(x, 0.0)
    }

    /// [`survival`](Self::survival), lumping loss bursts less likely than `negligible` as
    /// certainly late (an upper bound, exact for `negligible = 0`).
    fn survival_within(&self, x: f64, negligible: f64) -> f64 {
        // Σ over g ≤ x of P(G = g)·S_δ(x − g), plus P(G > x) (then late whatever δ).
        let whole = if x > 0.0 { x.min(MAX_LATENESS) as usize } else { 0 };
        let mut s = 0.0;
        let mut at_least = 1.0;
        for g in 0..=whole {
            let next = self.gap_at_least(g + 1);
            let exactly = at_least - next;
            if exactly > 0.0 {
                s += exactly * self.late(x - g as f64);
            }
            at_least = next;
            if at_least <= negligible {
                break;
            }
        }
        (s + at_least).min(1.0)
    }

    /// The smallest lateness (in intervals) with `S(x) ≤ p`, to within 1/4096 of it.
    fn quantile(&self, p: f64) -> f64 {
        let survival = |x: f64| self.survival_within(x, p * NEGLIGIBLE);
        if p.is_nan() || p <= 0.0 || survival(MAX_LATENESS) > p {
            return MAX_LATENESS;
        }
        // Bracket by doubling from 1/64 of an interval, then bisect.
        let mut hi = 1.0 / 64.0;
        while survival(hi) > p && hi < MAX_LATENESS {
            hi *= 2.0;
        }
        let mut lo = if hi > 1.0 / 64.0 { hi / 2.0 } else { 0.0 };
        for _ in 0..12 {
            let mid = (lo + hi) / 2.0;
            if survival(mid) <= p {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi.min(MAX_LATENESS)
    }
}

impl Detector for Adaptive {
    type PeerState = AdaptiveState;

    fn on_heartbeat(&self, state: &mut AdaptiveState, arrival: &Arrival) {
        let at = arrival.at.as_nanos();
        if state.interval <= 0.0 {
            let advertised = arrival.interval.as_nanos() as f32;
            state.interval = if advertised > 0.0 { advertised } else { 1e6 };
            state.last = at;
            return;
        }
        let eta = f64::from(state.interval);
        let steps = arrival.gap.saturating_add(1) as f64;
        let elapsed = at.saturating_sub(state.last) as f64;
        state.last = at;
        if arrival.after_local_pause {
            return;
        }
        // Lateness against the deadline's expectation, split into whole intervals owed to
        // lost heartbeats and the rest. Only as many intervals as are late count as loss: a
        // heartbeat that overtakes delayed ones (reordering after a delay spike) skips
        // sequence numbers but is not late.
        let late = elapsed / eta - 1.0;
        let whole = libm::round(late);
        let lost =
            if whole >= 1.0 && whole <= arrival.gap as f64 && (late - whole).abs() <= 0.125 { whole } else { 0.0 };
        state.record(late - lost, lost as u64, self.memory(state));
        // A running mean at first, then an exponential one with gain 1/128.
        let gain = 1.0 / f64::from(state.total.saturating_add(1).min(128));
        let spacing = (elapsed / steps).min(4.0 * eta);
        state.interval = (eta + (spacing - eta) * gain).max(1.0) as f32;
        state.refresh = state.refresh.saturating_add(1);
        let every = (state.total / 16).clamp(1, u32::from(REFRESH));
        if state.warm() && u32::from(state.refresh) >= every {
            self.recompute(state);
        }
    }

    fn deadlines(&self, state: &AdaptiveState, timing: &PeerTiming) -> Deadlines {
        if !state.warm() {
            let down = timing.last_heard + timing.timeout;
            return Deadlines::bounded(timing, timing.last_heard + timing.timeout / 2, down);
        }
        let expected = f64::from(state.interval);
        let down = after(timing.last_heard, expected + f64::from(state.margin_down));
        let suspect = after(timing.last_heard, expected + f64::from(state.margin_suspect));
        Deadlines::bounded(timing, suspect, down)
    }

    fn suspicion(&self, state: &AdaptiveState, timing: &PeerTiming, now: Instant) -> f32 {
        if !state.warm() {
            return fraction_of_span(timing, timing.last_heard + timing.timeout, now);
        }
        let x = (now - timing.last_heard).as_nanos() as f64 / f64::from(state.interval) - 1.0;
        if x <= 0.0 {
            return 0.0;
        }
        (-libm::log10(Model::new(state).survival(x))) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_contract, timing};
    use super::*;

    fn beat(at_us: u64, sequence: u64, gap: u64) -> Arrival {
        Arrival {
            at: Instant::from_micros(at_us),
            sequence,
            gap,
            interval: Duration::from_secs(1),
            after_local_pause: false,
        }
    }

    /// A tiny deterministic generator for test jitter (SplitMix64).
    fn noise(state: &mut u64) -> f64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn state_fits_in_128_bytes() {
        assert!(core::mem::size_of::<AdaptiveState>() <= 128, "{}", core::mem::size_of::<AdaptiveState>());
    }

    #[test]
    fn buckets_and_edges_agree() {
        assert_eq!(bucket(1e-9), 0);
        assert_eq!(bucket(1.0 / 64.0), 1);
        assert_eq!(bucket(1.0), 25);
        assert_eq!(bucket(1.3), 26);
        assert_eq!(bucket(1e12), BUCKETS - 1);
        assert_eq!(bucket(40.0), BUCKETS - 1);
        assert_eq!(bucket(39.0), BUCKETS - 2);
        for b in 1..BUCKETS {
            assert_eq!(bucket(lower(b)), b, "edge of {b}");
            assert_eq!(bucket(lower(b) * 0.999), b - 1);
        }
        assert_eq!(lower(25), 1.0);
        assert_eq!(lower(BUCKETS - 1), 40.0);
    }

    #[test]
    fn warms_up_on_the_negotiated_timeout_then_learns_a_quiet_path() {
        let d = Adaptive::with_target(1.0);
        let mut s = AdaptiveState::default();
        let mut rng = 7;
        let t = |at| timing(Instant::from_micros(at), Duration::from_secs(1));
        d.on_heartbeat(&mut s, &beat(0, 1, 0));
        assert_eq!(d.deadlines(&s, &t(0)).down, Instant::from_secs(3), "negotiated timeout while warming up");
        let mut at = 0;
        for seq in 2..20_000 {
            // Every second, give or take 2 ms.
            at = seq * 1_000_000 + (noise(&mut rng) * 4000.0) as u64;
            d.on_heartbeat(&mut s, &beat(at, seq, 0));
        }
        let down = d.deadlines(&s, &t(at)).down - Instant::from_micros(at);
        // The jitter never exceeds 4 ms, so the deadline sits just past one interval.
        assert!(down > Duration::from_millis(1000) && down < Duration::from_millis(1040), "{down:?}");
    }

    #[test]
    fn a_lower_target_waits_longer_and_losses_push_past_one_interval() {
        let mut rng = 11;
        let mut s = AdaptiveState::default();
        let d = Adaptive::with_target(1.0);
        let (mut seq, mut at) = (0, 0);
        // Exponential jitter (mean 20 ms) and one loss in 1000.
        for _ in 0..50_000 {
            let lost = noise(&mut rng) < 0.001;
            seq += if lost { 2 } else { 1 };
            at = seq * 1_000_000 + (-libm::log(1.0 - noise(&mut rng)) * 20_000.0) as u64;
            d.on_heartbeat(&mut s, &beat(at, seq, u64::from(lost)));
        }
        let t = timing(Instant::from_micros(at), Duration::from_secs(1));
        let last = Instant::from_micros(at);
        let often = Adaptive::with_target(100.0);
        let rare = Adaptive::with_target(0.1);
        let (mut s_often, mut s_rare) = (s.clone(), s.clone());
        often.recompute(&mut s_often);
        rare.recompute(&mut s_rare);
        let d_often = often.deadlines(&s_often, &t).down - last;
        let d_rare = rare.deadlines(&s_rare, &t).down - last;
        // 100/h is p ≈ 0.028: jitter only (exp(−x/20 ms) = 0.028 at 72 ms).
        assert!(d_often > Duration::from_millis(1040) && d_often < Duration::from_millis(1110), "{d_often:?}");
        // 0.1/h is p ≈ 2.8e-5 < the loss rate: past the second interval.
        assert!(d_rare > Duration::from_millis(2000) && d_rare < Duration::from_millis(2400), "{d_rare:?}");
        // Suspicion: about −log10(p) at the down deadline.
        let phi = rare.suspicion(&s_rare, &t, last + d_rare);
        assert!((phi - 4.55).abs() < 0.3, "{phi}");
    }

    #[test]
    fn heavy_tails_are_extrapolated_as_heavy() {
        // Lateness with a Pareto tail: P(δ > x) = 0.01·(x / 0.1 s)^-1.5 beyond 100 ms.
        let mut rng = 3;
        let d = Adaptive::with_target(1.0);
        let mut s = AdaptiveState::default();
        for seq in 1..60_000u64 {
            let u = noise(&mut rng);
            let late = if u < 0.01 { 0.1 * libm::pow(u / 0.01, -1.0 / 1.5) } else { 0.0 };
            let at = seq * 1_000_000 + (late.min(20.0) * 1e6) as u64;
            d.on_heartbeat(&mut s, &beat(at, seq, 0));
        }
        // Target p = 1/3600 ≈ 2.8e-4: 0.01·(x/0.1)^-1.5 = 2.8e-4 at x ≈ 1.09 s. The lateness
        // sample also moves η̂ and δ is measured from the previous (possibly late) arrival, so
        // allow a wide band — but it must not be the light-tailed answer (tens of ms) nor the cap.
        let margin = f64::from(s.margin_down) / 1e9;
        assert!(margin > 0.7 && margin < 1.8, "{margin}");
        let p = Adaptive::with_target(1.0).survival(&s, Duration::from_secs_f64(1.0 + margin)).unwrap();
        assert!(p > 1e-4 && p < 1e-3, "{p}");
    }

    #[test]
    fn a_heartbeat_after_a_local_pause_teaches_nothing() {
        let d = Adaptive::with_target(1.0);
        let mut s = AdaptiveState::default();
        for seq in 1..1000 {
            d.on_heartbeat(&mut s, &beat(seq * 1_000_000, seq, 0));
        }
        let before = (s.hist, s.small, s.total);
        let mut paused = beat(1000 * 1_000_000 + 5_000_000, 1000, 0);
        paused.after_local_pause = true;
        d.on_heartbeat(&mut s, &paused);
        assert_eq!((s.hist, s.small, s.total), before);
        assert_eq!(s.last, paused.at.as_nanos());
        d.on_heartbeat(&mut s, &beat(1006 * 1_000_000 + 500_000, 1001, 0));
        assert_ne!((s.hist, s.small, s.total), before, "a late heartbeat without a pause is a sample");
    }

    #[test]
    fn counts_halve_instead_of_overflowing_or_outliving_their_memory() {
        let mut s = AdaptiveState::default();
        for _ in 0..200_000 {
            s.record(0.5, 1, u32::MAX);
        }
        assert!(s.count(bucket(0.5)) > u32::from(u16::MAX / 2));
        assert!(s.total >= s.count(bucket(0.5)) && s.total < 140_000);
        assert_eq!(u32::from(s.gaps[0]), s.count(bucket(0.5)));
        // Without overflow, the memory decides: never more than it allows.
        let mut s = AdaptiveState::default();
        for k in 0..300_000 {
            s.record(if k % 2 == 0 { 0.001 } else { -0.001 }, 0, 100_000);
            assert!(s.total <= 100_000);
        }
        assert!(s.total >= 50_000 && s.small >= 24_000, "{} {}", s.total, s.small);
    }

    #[test]
    fn only_heartbeats_late_by_whole_intervals_count_as_loss() {
        let d = Adaptive::with_target(1.0);
        let mut s = AdaptiveState::default();
        for seq in 1..=200 {
            d.on_heartbeat(&mut s, &beat(seq * 1_000_000, seq, 0));
        }
        // Two lost: the next arrives two intervals late.
        d.on_heartbeat(&mut s, &beat(203 * 1_000_000 + 3_000, 203, 2));
        assert_eq!(s.gaps, [1, 1, 0]);
        // Three skipped but only 0.4 late (it overtook delayed ones, or ended a stall's burst
        // out of order): a lateness sample, no loss.
        d.on_heartbeat(&mut s, &beat(204 * 1_000_000 + 400_000, 207, 3));
        assert_eq!(s.gaps, [1, 1, 0]);
        assert_eq!(s.count(bucket(0.4)), 1);
    }

    #[test]
    fn keeps_the_detector_contract() {
        let mut arrivals = std::vec![(0, 1), (1_000_000, 2), (1_000_000, 3), (500_000, 4), (9_000_000, 9)];
        let mut rng = 5;
        for k in 0..400u64 {
            arrivals.push((10_000_000 + k * 1_000_000 + (noise(&mut rng) * 900_000.0) as u64, 10 + k));
        }
        arrivals.push((5_000_000, 3));
        check_contract(&Adaptive::with_target(1.0), &arrivals);
        check_contract(&Adaptive::with_target(0.0), &arrivals);
        check_contract(&Adaptive::with_target(f64::NAN), &arrivals);
        check_contract(&Adaptive::with_target(1e9), &arrivals);
    }
}
