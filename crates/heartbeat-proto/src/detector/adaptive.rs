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
/// span at least 2¹⁶ heartbeats, so they barely move in this many). A power of two: the
/// schedule is read off the heartbeat count instead of a counter of its own.
const REFRESH: u32 = 4096;
/// The shared deadline's candidates: the quantiles at `p · 2^(k/HULL_STEPS)` for
/// `|k| ≤ HULL_OCTAVES·HULL_STEPS`, so its two ends are at most this many octaves of
/// probability from the target (before each is moved between its neighbours).
const HULL_OCTAVES: i32 = 3;
const HULL_STEPS: i32 = 2;
/// Bisection steps for a candidate (the final ends are scanned finer anyway).
const HULL_BISECTIONS: u32 = 8;
/// Two more candidates far below the target, at `p·2^-5` and `p·2^-10`: where a steep drop
/// levels off (the next step's plateau) the upper end is cheapest, and that can lie past `p/8`.
const FAR_OCTAVES: [i32; 2] = [5, 10];
const HULL_POINTS: usize = (HULL_OCTAVES * HULL_STEPS * 2) as usize + 1 + FAR_OCTAVES.len();
/// The golden ratio's fractional part in 2⁻³² units: the `n`-th heartbeat takes the lower
/// deadline when `frac(n·0.618…)` is below its share (a Weyl sequence, see [`AdaptiveState`]).
const GOLDEN: u32 = 0x9E37_79B9;
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
/// # A deadline shared between the two ends of a step
///
/// Loss bursts make `S` a staircase: flat from one whole interval to the next, then a drop.
/// When the target falls inside such a drop, no single deadline meets it cheaply — anything
/// between the two ends of the flat stretch makes as many mistakes as its lower end. So the
/// down deadline is *shared*: a share θ of heartbeats gets the lower end `x_a` and the rest the
/// upper end `x_b`, with `θ·S(x_a) + (1 − θ)·S(x_b) = p`. The pair is read off the lower convex
/// hull of the points `(S(x), x)` at the quantiles for `p·2^(k/2)`, `|k| ≤ 6` (and two far
/// below, `p/32` and `p/1024`, where the next plateau may begin), at `S = p`; then each end is
/// moved, by a few rounds of scanning between its neighbouring quantiles, to where the mix is
/// cheapest (the quantiles sample S by probability, so an end found that way may sit a little
/// before a steep drop has levelled off). The expected rate is still the target; the mean
/// deadline is never later than the single deadline (which is kept when the mix is not
/// cheaper). Where `S` has no step near `p` the two ends coincide.
///
/// Which heartbeat gets which end is fixed by the count of heartbeats recorded, `n`: the lower
/// end when `frac(n·φ)` (φ the golden ratio's fractional part) is below θ. This Weyl sequence is
/// deterministic and spreads the lower ends evenly — over any `N` consecutive heartbeats their
/// share is within about `log N / N` of θ, where a hash would scatter it binomially. And it
/// depends on nothing a path can time: the choice for a heartbeat is made by how many came
/// before it, not by when it arrived. A hash of the arrival time would let an attacker who
/// delays frames shift one by a few microseconds (or one tick of a coarse clock) until it draws
/// the upper end, and then hold the next frame back that much longer unnoticed. Here the only
/// lever is to drop frames to move `n`, and a dropped frame moves the deadline earlier by a
/// whole interval, about what the two ends of a step differ by. What remains is foresight, not
/// choice: someone who knows `n` and θ can tell which heartbeats drew the upper end and delay
/// only the next ones, which the upper end tolerates anyway at the target rate (a secret
/// per-peer phase would hide that too; the detector holds no secret).
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
/// [`FixedTimeout`](super::FixedTimeout) does. The margins are recomputed every 4096 heartbeats
/// (more often early on: every 1/16 of the count so far); a recomputation evaluates `S` a few
/// hundred times, so a heartbeat costs about 65 ns on average (about 33 ns with the single
/// deadline and 1024-heartbeat refreshes this detector had before; `cargo bench -p
/// heartbeat-qos --bench detectors`).
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
        let share = model.shared(p);
        let suspect = model.quantile((p * SUSPECT_FACTOR).min(0.5)).min(share.upper);
        state.margins = Margins::pack(share.lower * eta, share.upper * eta, share.theta, suspect * eta);
    }
}

/// The down deadline's two ends, in intervals past the expected arrival, and the share θ of
/// heartbeats that get the lower one.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Share {
    lower: f64,
    upper: f64,
    theta: f64,
}

impl Share {
    fn single(x: f64) -> Share {
        Share { lower: x, upper: x, theta: 0.0 }
    }
}

/// The mix of `lower` and `upper` (each `(S(x), x)`) whose expected rate is `p`, if they
/// straddle it.
fn mix(lower: (f64, f64), upper: (f64, f64), p: f64) -> Option<Share> {
    let ((s_a, x_a), (s_b, x_b)) = (lower, upper);
    if !(s_b <= p && p <= s_a) || x_a > x_b {
        return None;
    }
    let theta = if s_a > s_b { ((p - s_b) / (s_a - s_b)).clamp(0.0, 1.0) } else { 1.0 };
    Some(Share { lower: x_a, upper: x_b, theta })
}

/// Points scanned per round when moving an end of the mix, and rounds (each narrows the span
/// to two points around the best).
const SCAN: usize = 8;
const SCAN_ROUNDS: usize = 4;
/// How many quantile points on each side bound the span an end is moved within.
const SPAN_NEIGHBOURS: usize = 2;

/// The point `(S(x), x)` for `x` in `span` that, mixed with `other` to rate `p`, gives the
/// least mean deadline — `current` unless one does better. `lower` says which end moves.
fn cheapest_end(
    survival: &impl Fn(f64) -> f64,
    span: (f64, f64),
    current: (f64, f64),
    other: (f64, f64),
    p: f64,
    lower: bool,
) -> (f64, f64) {
    let cost = |point: (f64, f64)| {
        let pair = if lower { mix(point, other, p) } else { mix(other, point, p) };
        pair.map(|m| m.theta * m.lower + (1.0 - m.theta) * m.upper)
    };
    let (mut lo, mut hi) = span;
    let mut best: Option<((f64, f64), f64)> = cost(current).map(|c| (current, c));
    for _ in 0..SCAN_ROUNDS {
        let step = (hi - lo) / SCAN as f64;
        if step.is_nan() || step <= 0.0 {
            break;
        }
        for j in 0..=SCAN {
            let x = lo + step * j as f64;
            let point = (survival(x), x);
            if let Some(c) = cost(point)
                && best.is_none_or(|(_, b)| c < b)
            {
                best = Some((point, c));
            }
        }
        let Some(((_, x), _)) = best else { break };
        (lo, hi) = ((x - step).max(span.0), (x + step).min(span.1));
    }
    best.map_or(current, |(point, _)| point)
}

/// The cheapest mix of two of `points` — `(S(x), x)` with `S` falling as `x` grows, in any
/// order — whose expected rate is `p`: the lower convex hull of the points read at `S = p`.
/// With no point at or below `p`, the one with the smallest `S`; with none at or above, the
/// one with the largest `S` below it.
fn hull_at(points: &mut [(f64, f64)], p: f64) -> Share {
    // By S ascending (x descending), then a monotone chain keeps the lower hull in place.
    points.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
    let mut n = 0;
    for i in 0..points.len() {
        let (s, x) = points[i];
        if !(s.is_finite() && x.is_finite()) {
            continue;
        }
        // Within equal S the smallest x comes last (sorted so): it replaces the others.
        if n > 0 && points[n - 1].0 == s {
            n -= 1;
        }
        while n >= 2 {
            let (s1, x1) = points[n - 2];
            let (s2, x2) = points[n - 1];
            // Drop the middle point when it lies on or above the chord from 1 to the new one.
            if (x2 - x1) * (s - s1) >= (x - x1) * (s2 - s1) {
                n -= 1;
            } else {
                break;
            }
        }
        points[n] = (s, x);
        n += 1;
    }
    let hull = &points[..n];
    let Some(&(s_first, x_first)) = hull.first() else { return Share::single(MAX_LATENESS) };
    if p <= s_first {
        return Share::single(x_first);
    }
    for w in hull.windows(2) {
        let ((s_b, x_b), (s_a, x_a)) = (w[0], w[1]);
        if s_b <= p && p <= s_a {
            let theta = ((p - s_b) / (s_a - s_b)).clamp(0.0, 1.0);
            return Share { lower: x_a, upper: x_b, theta };
        }
    }
    // Every point is at most as likely as p: the earliest of them is the answer.
    hull.last().map_or(Share::single(x_first), |&(_, x)| Share::single(x))
}

/// Per-peer state of [`Adaptive`]: 128 bytes.
///
/// The shared deadline's two ends and share fit in the room one margin took: the upper end as
/// an `f32`, the lower end and the suspect margin as 16-bit fractions of it (rounded up, so a
/// deadline is at most 1/65535 of the upper margin later than computed, never earlier), θ in
/// 16 bits (rounded down: the lower end is never used more often than computed). Which end the
/// current heartbeat got is not stored but read off the heartbeat count.
#[derive(Clone)]
pub struct AdaptiveState {
    /// The last fresh arrival, ns.
    last: u64,
    /// η̂, ns per sequence number; 0 before the first heartbeat.
    interval: f32,
    /// The down deadline's ends and the suspect margin past `last + η̂`.
    margins: Margins,
    /// Heartbeats recorded (decayed with the counts).
    total: u32,
    /// Lateness in bucket 0, `(0, 1/64)` intervals (decayed).
    small: u32,
    /// Heartbeats recorded after at least 1, 2 and 4 lost ones (decayed).
    gaps: [u16; 3],
    /// Lateness in buckets `1..BUCKETS` (decayed).
    hist: [u16; BUCKETS - 1],
}

/// The margins past `last + η̂`, packed into 10 bytes aligned to 2 (so that they sit among the
/// 16-bit counts without padding).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Margins {
    /// The upper end of the down deadline, ns: an `f32`'s bits, high half first.
    upper: [u16; 2],
    /// The lower end and the suspect margin, in 1/65535 of `upper`.
    lower: u16,
    suspect: u16,
    /// θ, the share of heartbeats that get the lower end, in 2⁻¹⁶.
    share: u16,
}

impl Margins {
    /// Packs margins in ns; θ is clamped into [0, 1], the lower end and the suspect margin into
    /// `[0, upper]`.
    fn pack(lower: f64, upper: f64, theta: f64, suspect: f64) -> Margins {
        let upper_f32 = upper.max(0.0) as f32;
        let fraction = |x: f64| {
            if upper_f32 > 0.0 { libm::ceil((x / f64::from(upper_f32)).clamp(0.0, 1.0) * 65535.0) as u16 } else { 0 }
        };
        let lower = fraction(lower);
        // Two ends that pack to the same value are one deadline.
        // NaN or below zero: never the lower end.
        let share = if lower == u16::MAX || theta.is_nan() || theta <= 0.0 {
            0
        } else {
            (theta.min(1.0) * 65536.0).min(65535.0) as u16
        };
        let bits = upper_f32.to_bits();
        Margins { upper: [(bits >> 16) as u16, bits as u16], lower, suspect: fraction(suspect), share }
    }

    fn upper(&self) -> f64 {
        f64::from(f32::from_bits(u32::from(self.upper[0]) << 16 | u32::from(self.upper[1])))
    }

    fn lower(&self) -> f64 {
        self.upper() * f64::from(self.lower) / 65535.0
    }

    fn suspect(&self) -> f64 {
        self.upper() * f64::from(self.suspect) / 65535.0
    }

    fn theta(&self) -> f64 {
        f64::from(self.share) / 65536.0
    }

    /// Whether the `n`-th heartbeat gets the lower end: `frac(n·φ) < θ`.
    fn takes_lower(&self, n: u32) -> bool {
        (n.wrapping_mul(GOLDEN) >> 16) < u32::from(self.share)
    }

    /// The down margin for the `n`-th heartbeat.
    fn down(&self, n: u32) -> f64 {
        if self.takes_lower(n) { self.lower() } else { self.upper() }
    }
}

impl Default for AdaptiveState {
    fn default() -> Self {
        AdaptiveState {
            last: 0,
            interval: 0.0,
            margins: Margins::default(),
            total: 0,
            small: 0,
            gaps: [0; 3],
            hist: [0; BUCKETS - 1],
        }
    }
}

impl fmt::Debug for AdaptiveState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveState")
            .field("interval_ns", &self.interval)
            .field("lower_ns", &self.margins.lower())
            .field("upper_ns", &self.margins.upper())
            .field("lower_share", &self.margins.theta())
            .field("suspect_ns", &self.margins.suspect())
            .field("total", &self.total)
            .field("gaps", &self.gaps)
            .finish_non_exhaustive()
    }
}

/// The down deadline as [`Adaptive`] currently shares it, past the expected arrival
/// (`last heard + η̂`): [`AdaptiveState::shared_deadline`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharedDeadline {
    /// η̂, the expected time from one fresh heartbeat to the next.
    pub interval: Duration,
    /// The lower end's margin past the expected arrival.
    pub lower: Duration,
    /// The upper end's margin past the expected arrival.
    pub upper: Duration,
    /// The share of heartbeats whose deadline is the lower end, in [0, 1].
    pub lower_share: f64,
    /// Whether the latest heartbeat got the lower end.
    pub latest_lower: bool,
}

impl AdaptiveState {
    /// The down deadline's two ends and their shares (before the node's bounds clamp them);
    /// `None` while warming up.
    pub fn shared_deadline(&self) -> Option<SharedDeadline> {
        let m = self.margins;
        self.warm().then(|| SharedDeadline {
            interval: Duration::from_nanos(self.interval as u64),
            lower: Duration::from_nanos(m.lower() as u64),
            upper: Duration::from_nanos(m.upper() as u64),
            lower_share: m.theta(),
            latest_lower: m.takes_lower(self.total),
        })
    }

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
        self.quantile_from(p, p * NEGLIGIBLE, 0.0, 12).0
    }

    /// The smallest lateness `x ≥ from` with `S(x) ≤ p` (to within 2^-bisections of the bracket it
    /// finds), and `S(x)` there, with bursts below `negligible` lumped as late.
    fn quantile_from(&self, p: f64, negligible: f64, from: f64, bisections: u32) -> (f64, f64) {
        let survival = |x: f64| self.survival_within(x, negligible);
        let at_most = survival(MAX_LATENESS);
        if p.is_nan() || p <= 0.0 || at_most > p {
            return (MAX_LATENESS, at_most);
        }
        let from = from.clamp(0.0, MAX_LATENESS);
        if from > 0.0 {
            let s = survival(from);
            if s <= p {
                return (from, s);
            }
        }
        // Bracket by doubling a step from `from` (from 1/64 of an interval), then bisect.
        let mut step = from.max(1.0 / 64.0);
        let mut lo = from;
        let mut hi = from + step;
        if from == 0.0 {
            step = 1.0 / 64.0;
            hi = step;
        }
        let mut s_hi = survival(hi);
        while s_hi > p && hi < MAX_LATENESS {
            lo = hi;
            step *= 2.0;
            hi = from + step;
            s_hi = survival(hi);
        }
        if hi >= MAX_LATENESS {
            hi = MAX_LATENESS;
            s_hi = at_most;
        }
        for _ in 0..bisections {
            let mid = (lo + hi) / 2.0;
            let s = survival(mid);
            if s <= p {
                (hi, s_hi) = (mid, s);
            } else {
                lo = mid;
            }
        }
        (hi, s_hi)
    }

    /// The shared down deadline for rate `p`: the lower convex hull of `(S(x), x)` over the
    /// quantiles at `p·2^(k/2)`, `|k| ≤ 6` (and two far below), at `S = p`, each end then
    /// moved to the cheapest point between its neighbouring quantiles.
    fn shared(&self, p: f64) -> Share {
        if p.is_nan() || p <= 0.0 {
            return Share::single(MAX_LATENESS);
        }
        // One lumping threshold for every point, so their S values compare.
        let far = FAR_OCTAVES[FAR_OCTAVES.len() - 1];
        let negligible = p * libm::exp2(-f64::from(far)) * NEGLIGIBLE;
        let survival = |x: f64| self.survival_within(x, negligible);
        let mut points = [(0.0, 0.0); HULL_POINTS];
        // From the likeliest (earliest) quantile up: each search starts where the last ended.
        let octaves = (-HULL_OCTAVES * HULL_STEPS..=HULL_OCTAVES * HULL_STEPS)
            .rev()
            .map(|k| f64::from(k) / f64::from(HULL_STEPS));
        let mut from = 0.0;
        for (point, octave) in points.iter_mut().zip(octaves.chain(FAR_OCTAVES.map(|o| -f64::from(o)))) {
            let (x, s) = self.quantile_from(p * libm::exp2(octave), negligible, from, HULL_BISECTIONS);
            *point = (s, x);
            from = x;
        }
        let by_x = points;
        let hull = hull_at(&mut points, p);
        // The quantiles sample S by probability, so an end may sit just before a steep drop
        // where S is still well above where it levels off (the start of a plateau): scan the
        // span between its neighbours for the point that makes the mix cheapest.
        let span = |x: f64| {
            let before = by_x.iter().rev().map(|&(_, q)| q).filter(|&q| q < x).nth(SPAN_NEIGHBOURS - 1);
            let after = by_x.iter().map(|&(_, q)| q).filter(|&q| q > x).nth(SPAN_NEIGHBOURS - 1);
            let first = by_x.first().map_or(x, |&(_, q)| q.min(x));
            let last = by_x.last().map_or(x, |&(_, q)| q.max(x));
            (before.unwrap_or(first), after.unwrap_or(last))
        };
        let mut lower = (survival(hull.lower), hull.lower);
        let mut upper = (survival(hull.upper), hull.upper);
        if hull.theta > 0.0 && lower.1 < upper.1 {
            lower = cheapest_end(&survival, span(lower.1), lower, upper, p, true);
            upper = cheapest_end(&survival, span(upper.1), upper, lower, p, false);
        }
        let share = mix(lower, upper, p).unwrap_or(hull);
        // The hull's mean is below the single deadline by construction, up to the searches'
        // precision; where it is not, the single deadline (as searched alone) is kept.
        let single = self.quantile(p);
        if share.theta * share.lower + (1.0 - share.theta) * share.upper < single {
            share
        } else {
            Share::single(single)
        }
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
        // Every 1/16 of the count so far (rounded down to a power of two), at most every
        // REFRESH heartbeats: when the count is a multiple of that.
        let sixteenth = (state.total / 16).max(1);
        let every = (1u32 << (31 - sixteenth.leading_zeros())).min(REFRESH);
        if state.warm() && state.total.is_multiple_of(every) {
            self.recompute(state);
        }
    }

    fn deadlines(&self, state: &AdaptiveState, timing: &PeerTiming) -> Deadlines {
        if !state.warm() {
            let down = timing.last_heard + timing.timeout;
            return Deadlines::bounded(timing, timing.last_heard + timing.timeout / 2, down);
        }
        let expected = f64::from(state.interval);
        let down = after(timing.last_heard, expected + state.margins.down(state.total));
        let suspect = after(timing.last_heard, expected + state.margins.suspect());
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
        // The monitor's per-peer budget for the default detector; the shared deadline had to fit
        // in the room one margin took.
        assert_eq!(core::mem::size_of::<AdaptiveState>(), 128);
        assert_eq!(core::mem::size_of::<Margins>(), 10);
    }

    /// A state whose loss model is a staircase, as on `lan`: every heartbeat on time (lateness
    /// under 1/64 η), `P(G ≥ 1)` = 1e-4, `P(G ≥ 2)` = 3e-5, `P(G ≥ 4)` = 4e-6.
    fn staircase() -> AdaptiveState {
        let mut s = AdaptiveState { interval: 1e9, ..AdaptiveState::default() };
        let n = 1_000_000u32;
        for k in 0..n {
            let gap = match k {
                0..4 => 4,
                4..30 => 2,
                30..100 => 1,
                _ => 0,
            };
            s.record(0.001, gap, u32::MAX);
        }
        s
    }

    #[test]
    fn a_target_inside_a_step_shares_the_deadline_between_its_ends() {
        let s = staircase();
        let model = Model::new(&s);
        let p = 2.78e-5;
        let single = model.quantile(p);
        let share = model.shared(p);
        // The single deadline is past the second whole interval; the shared one mixes the end of
        // the first step (just past one interval) with it.
        assert!(single > 2.0 && single < 2.1, "{single}");
        assert!(share.lower > 1.0 && share.lower < 1.1, "{share:?}");
        assert!(share.upper > 2.0 && share.upper <= single + 1.0 / 64.0, "{share:?}");
        assert!(share.theta > 0.5 && share.theta < 1.0, "{share:?}");
        // The expected rate is the target, and the mean deadline is earlier than the single one.
        let rate = |x: f64| model.survival(x);
        let expected = share.theta * rate(share.lower) + (1.0 - share.theta) * rate(share.upper);
        assert!((expected - p).abs() <= 0.02 * p, "{expected} vs {p}");
        let mean = share.theta * share.lower + (1.0 - share.theta) * share.upper;
        assert!(mean < single - 0.5, "{mean} vs {single}");
    }

    #[test]
    fn a_smooth_tail_keeps_one_deadline() {
        // Exponential lateness, no loss: S has no step, so the hull hugs the quantile.
        let mut rng = 9;
        let mut s = AdaptiveState { interval: 1e9, ..AdaptiveState::default() };
        for _ in 0..200_000 {
            s.record(-libm::log(1.0 - noise(&mut rng)) * 0.02, 0, u32::MAX);
        }
        let model = Model::new(&s);
        let p = 1e-4;
        let share = model.shared(p);
        let mean = share.theta * share.lower + (1.0 - share.theta) * share.upper;
        let single = model.quantile(p);
        assert!(mean <= single + 1e-9 && mean > 0.95 * single, "{share:?} vs {single}");
    }

    #[test]
    fn the_golden_sequence_gives_the_lower_end_its_share_evenly() {
        for share in [0, 1, 6553, 32768, 57000, 65535] {
            let m = Margins { share, ..Margins::default() };
            let theta = m.theta();
            // Over every window of 1024 consecutive heartbeats (any start), the count of lower
            // ends is within 3 of θ·1024 — a hash would stray by about √(1024·θ(1−θ)) ≈ 16.
            for start in [0u32, 1, 977, 123_456, u32::MAX - 2000] {
                let lower = (0..1024u32).filter(|&k| m.takes_lower(start.wrapping_add(k))).count();
                assert!((lower as f64 - theta * 1024.0).abs() <= 3.0, "θ {theta}, start {start}: {lower}");
            }
        }
    }

    #[test]
    fn margins_pack_conservatively() {
        let m = Margins::pack(1.02e9, 3.02e9, 0.88, 0.5e9);
        assert_eq!(m.upper(), f64::from(3.02e9f32));
        assert!(m.lower() >= 1.02e9 && m.lower() - 1.02e9 <= 3.02e9 / 65535.0 + 1.0, "{}", m.lower());
        assert!(m.theta() <= 0.88 && 0.88 - m.theta() <= 1.0 / 65536.0);
        assert!(m.suspect() >= 0.5e9);
        // Out-of-range inputs are clamped, NaN takes the upper end.
        let m = Margins::pack(5e9, 3e9, 7.0, -1.0);
        assert_eq!((m.lower(), m.suspect(), m.share), (m.upper(), 0.0, 0));
        let m = Margins::pack(1e9, 3e9, f64::NAN, 1e9);
        assert!(m.theta() == 0.0 && m.down(12345) == m.upper());
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
        let shared = s.shared_deadline().unwrap();
        let margin =
            shared.lower.as_secs_f64() * shared.lower_share + shared.upper.as_secs_f64() * (1.0 - shared.lower_share);
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

    /// The points `(S(x), x)` at the quantiles `p·2^(k/8)` of a single-step survival: `a` (above
    /// p) from `x0` to `x1`, `b` (below p) from `x1` on, and ~1 before `x0`. A quantile below `b`
    /// is never met: the search ends at its cap with `S = b`, as [`Model::quantile_from`] does.
    fn single_step(a: f64, b: f64, x0: f64, x1: f64, p: f64) -> std::vec::Vec<(f64, f64)> {
        (-24..=24)
            .map(|k| {
                let q = p * libm::exp2(f64::from(k) / 8.0);
                if q >= a {
                    (a, x0)
                } else if q >= b {
                    (b, x1)
                } else {
                    (b, MAX_LATENESS)
                }
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn on_a_single_step_the_shared_deadline_meets_the_target_exactly(
            above in 1.001f64..7.9,
            below in 0.13f64..0.999,
            x0 in 0.0f64..40.0,
            width in 0.01f64..100.0,
        ) {
            let p = 1e-5;
            let (a, b) = (above * p, below * p);
            let mut points = single_step(a, b, x0, x0 + width, p);
            let share = hull_at(&mut points, p);
            proptest::prop_assert_eq!((share.lower, share.upper), (x0, x0 + width));
            proptest::prop_assert!((0.0..=1.0).contains(&share.theta));
            let rate = share.theta * a + (1.0 - share.theta) * b;
            proptest::prop_assert!((rate - p).abs() <= 1e-12 * p, "{} vs {}", rate, p);
        }

        #[test]
        fn the_deadline_is_one_of_the_two_ends_and_within_the_bounds(
            beats in proptest::collection::vec((0u64..3_000_000, 0u64..4), 200..1500),
            target in 0.001f64..1000.0,
            min_ms in 1u64..3000,
            span_ms in 0u64..60_000,
        ) {
            let d = Adaptive::with_target(target);
            let mut s = AdaptiveState::default();
            let (mut at, mut seq) = (0u64, 0u64);
            for (late, gap) in beats {
                seq += gap + 1;
                at += (gap + 1) * 1_000_000 + late / 10;
                d.on_heartbeat(&mut s, &beat(at, seq, gap));
                let last = Instant::from_micros(at);
                let t = PeerTiming {
                    last_heard: last,
                    interval: Duration::from_secs(1),
                    timeout: Duration::from_secs(3),
                    min_timeout: Duration::from_millis(min_ms),
                    max_timeout: Duration::from_millis(min_ms + span_ms),
                };
                let down = d.deadlines(&s, &t).down;
                proptest::prop_assert!(down >= last + t.min_timeout && down <= last + t.max_timeout);
                let Some(shared) = s.shared_deadline() else { continue };
                proptest::prop_assert!((0.0..=1.0).contains(&shared.lower_share));
                proptest::prop_assert!(shared.lower <= shared.upper);
                let end = if shared.latest_lower { shared.lower } else { shared.upper };
                let unclamped = last + Duration::from_nanos(f64::from(s.interval) as u64) + end;
                // Equal to the chosen end up to the nanosecond the float sum rounds to.
                let expected = t.bounded(unclamped);
                let diff = if down > expected { down - expected } else { expected - down };
                proptest::prop_assert!(diff <= Duration::from_nanos(2), "{:?} vs {:?}", down, expected);
            }
        }

        #[test]
        fn the_hull_never_promises_more_than_the_target(
            counts in proptest::collection::vec((-0.5f64..30.0, 0u64..6), 300..3000),
            p_exp in -7.0f64..-1.0,
        ) {
            let mut s = AdaptiveState { interval: 1e9, ..AdaptiveState::default() };
            for (late, gap) in counts {
                s.record(late, gap, u32::MAX);
            }
            let model = Model::new(&s);
            let p = libm::pow(10.0, p_exp);
            let share = model.shared(p);
            proptest::prop_assert!((0.0..=1.0).contains(&share.theta));
            proptest::prop_assert!(share.lower <= share.upper && share.upper <= MAX_LATENESS);
            let negligible = p * libm::exp2(-f64::from(FAR_OCTAVES[FAR_OCTAVES.len() - 1])) * NEGLIGIBLE;
            let rate = |x: f64| model.survival_within(x, negligible);
            if rate(MAX_LATENESS) <= p {
                let expected = share.theta * rate(share.lower) + (1.0 - share.theta) * rate(share.upper);
                proptest::prop_assert!(expected <= p * (1.0 + 1e-9), "{} > {}", expected, p);
                // And never later on average than the single deadline.
                let mean = share.theta * share.lower + (1.0 - share.theta) * share.upper;
                proptest::prop_assert!(mean <= model.quantile(p) + 1e-9);
            }
        }
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
