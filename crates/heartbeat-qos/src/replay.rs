//! Replays a trace through the real receiver: a [`heartbeat_proto::Monitor`] fed with encoded
//! frames through `on_message` and driven by `tick` at the times it asks for, exactly as an
//! adapter drives it — except that time comes from the trace.

use core::cell::Cell;
use core::time::Duration;

use anyhow::{Context, Result};
use heartbeat_proto::detector::{Arrival, Deadlines, PeerTiming};
use heartbeat_proto::wire::Kind;
use heartbeat_proto::{
    Accepted, Authentication, ClusterId, Config, Detector, EventKind, Generation, Growable, Instant, LinkId,
    MAX_FRAME_LEN, Message, Monitor, NodeId,
};

use crate::trace::Trace;

const CLUSTER: ClusterId = ClusterId(0x00C0_FFEE);

/// How the receiver is configured for a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup {
    /// This node's timeout bounds `[min, max]`.
    pub min_timeout: Duration,
    /// See `min_timeout`.
    pub max_timeout: Duration,
    /// The timeout the sender asks for (what [`FixedTimeout`](heartbeat_proto::FixedTimeout)
    /// applies, and adaptive detectors until they have learned).
    pub requested: Duration,
    /// The monitor's local-stall guard.
    pub local_pause: Option<Duration>,
    /// Whether the receiver freezes during the trace's receiver stalls (when it does, it is
    /// ticked at the end of each stall first and reads the frames queued meanwhile after).
    pub receiver_stalls: bool,
    /// Nothing before `start + warmup` counts.
    pub warmup: Duration,
}

/// A detector wrapper that remembers the deadlines the monitor last obtained, so that the lab
/// can read the freshness point after each heartbeat. It changes nothing else.
#[derive(Debug)]
pub struct Observed<D> {
    inner: D,
    last: Cell<Option<Deadlines>>,
}

impl<D> Observed<D> {
    /// Wraps `inner`.
    pub fn new(inner: D) -> Self {
        Observed { inner, last: Cell::new(None) }
    }

    /// The deadlines of the most recent `deadlines` call.
    pub fn last(&self) -> Option<Deadlines> {
        self.last.get()
    }
}

impl<D: Detector> Detector for Observed<D> {
    type PeerState = D::PeerState;

    fn on_heartbeat(&self, state: &mut D::PeerState, arrival: &Arrival) {
        self.inner.on_heartbeat(state, arrival);
    }

    fn deadlines(&self, state: &D::PeerState, timing: &PeerTiming) -> Deadlines {
        let d = self.inner.deadlines(state, timing);
        self.last.set(Some(d));
        d
    }

    fn suspicion(&self, state: &D::PeerState, timing: &PeerTiming, now: Instant) -> f32 {
        self.inner.suspicion(state, timing, now)
    }

    fn reset(&self, state: &mut D::PeerState) {
        self.inner.reset(state);
    }
}

/// What one replay measured, after the warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Fresh heartbeats the monitor accepted (all of them, warm-up included).
    pub heartbeats: u64,
    /// The measured span: from the end of the warm-up to the last arrival.
    pub span: Duration,
    /// `Down` verdicts on the live peer (mistakes) that began after the warm-up.
    pub mistakes: u64,
    /// Their total duration, until the peer was `Up` again.
    pub mistaken: Duration,
    /// With [`inject_crash`]: when the monitor declared the silent peer down.
    pub final_down: Option<u64>,
    /// `Suspect` verdicts after the warm-up.
    pub suspects: u64,
    /// `Suspect` verdicts on the live peer issued by the tick at the end of a receiver stall
    /// although a fresh heartbeat from it was waiting to be read: convictions on this node's own
    /// pause.
    pub stall_suspects: u64,
    /// `Down` verdicts issued that way.
    pub stall_mistakes: u64,
    /// Fresh heartbeats accepted after the warm-up: the deadlines the detector set.
    pub deadlines: u64,
    /// Of those, down deadlines the node's `max_timeout` decided: the detector's own estimate
    /// was as late or later, and the bound clamped it.
    pub at_max: u64,
    /// Of those, down deadlines the node's `min_timeout` decided.
    pub at_min: u64,
    /// Detection time for a crash right after each send past the warm-up, in µs: when the
    /// monitor would declare the peer down (its deadline after the last heartbeat sent up to
    /// the crash) minus the crash.
    pub detection_us: Vec<u32>,
}

/// The replay's bookkeeping of verdicts and freshness points.
struct Tally<'t> {
    trace: &'t Trace,
    warm_end: u64,
    down_since: Option<u64>,
    mistakes: u64,
    mistaken: u128,
    suspects: u64,
    /// Verdicts of the tick ending a receiver stall, held until the queue is read.
    stall_end: Option<Vec<EventKind>>,
    stall_suspects: u64,
    stall_mistakes: u64,
    /// The latest fresh heartbeat (index) and its down deadline.
    fresh: Option<(usize, u64)>,
    detection_us: Vec<u32>,
    /// The bounds of the down deadline after a heartbeat, ns.
    bounds: (u64, u64),
    deadlines: u64,
    at_max: u64,
    at_min: u64,
}

impl Tally<'_> {
    fn verdict(&mut self, at: u64, kind: EventKind) {
        if let Some(held) = self.stall_end.as_mut().filter(|_| at >= self.warm_end) {
            held.push(kind);
        }
        match kind {
            EventKind::Suspect { .. } if at >= self.warm_end => self.suspects += 1,
            EventKind::Down { .. } => self.down_since = Some(at),
            EventKind::Up { .. } | EventKind::Restarted { .. } => {
                if let Some(since) = self.down_since.take() {
                    self.count_mistake(since, at);
                }
            }
            _ => {}
        }
    }

    fn count_mistake(&mut self, since: u64, until: u64) {
        if since >= self.warm_end {
            self.mistakes += 1;
            self.mistaken += u128::from(until.saturating_sub(since));
        }
    }

    /// A fresh heartbeat `k` heard at `at` whose down deadline is `down`: crashes right after
    /// sends `previous fresh ..= k − 1` would have been detected at the previous one's deadline.
    fn fresh(&mut self, k: usize, at: u64, down: u64) {
        if at >= self.warm_end {
            let after = down.saturating_sub(at);
            self.deadlines += 1;
            // `max_timeout` wins when the two bounds cross, as in `PeerTiming::bounded`.
            if after >= self.bounds.1 {
                self.at_max += 1;
            } else if after <= self.bounds.0 {
                self.at_min += 1;
            }
        }
        self.settle(k);
        self.fresh = Some((k, down));
    }

    /// Detection times of crashes right after the sends from the latest fresh heartbeat up to
    /// (not including) `until`.
    fn settle(&mut self, until: usize) {
        let Some((from, down)) = self.fresh else { return };
        for r in &self.trace.records[from..until] {
            if r.sent >= self.warm_end {
                let us = down.saturating_sub(r.sent) / 1000;
                self.detection_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
        }
    }
}

/// Replays `trace` through a monitor using `detector`.
pub fn replay<D: Detector>(trace: &Trace, detector: D, setup: &Setup) -> Result<Outcome> {
    replay_with_order(trace, &trace.arrival_order(), detector, setup)
}

/// [`replay`] with the arrival order precomputed ([`Trace::arrival_order`]), for callers that
/// replay one trace many times.
pub fn replay_with_order<D: Detector>(trace: &Trace, order: &[u32], detector: D, setup: &Setup) -> Result<Outcome> {
    drive(trace, order, detector, setup, false)
}

/// Crash injection: the sender crashes right after send `k` (0-based). Replays the trace up to
/// there, then keeps ticking the monitor whenever it asks until it declares the peer down, and
/// returns the detection time (the `Down` verdict minus the crash), if it came within the
/// monitor's bounds. [`Outcome::detection_us`] takes a shortcut to the same number for every
/// crash point in one replay; this is the slow way that checks it.
pub fn inject_crash<D: Detector>(trace: &Trace, detector: D, setup: &Setup, k: usize) -> Result<Option<Duration>> {
    let crash = trace.records.get(k).context("crash point past the trace")?.sent;
    let truncated = Trace {
        records: trace.records[..=k].to_vec(),
        receiver_stalls: trace.receiver_stalls.iter().copied().filter(|s| s.0 <= crash).collect(),
        ..trace.clone()
    };
    let outcome = drive(&truncated, &truncated.arrival_order(), detector, setup, true)?;
    Ok(outcome.final_down.map(|down| Duration::from_nanos(down.saturating_sub(crash))))
}

fn drive<D: Detector>(trace: &Trace, order: &[u32], detector: D, setup: &Setup, run_out: bool) -> Result<Outcome> {
    let me = NodeId::new(1).context("node id")?;
    let peer = NodeId::new(2).context("node id")?;
    let config = Config::builder(CLUSTER, me)
        .authentication(Authentication::None)
        .tick(setup.min_timeout)
        .min_timeout(setup.min_timeout)
        .max_timeout(setup.max_timeout)
        .timeout(setup.max_timeout)
        .interval(setup.max_timeout / 2)
        .initdead(setup.max_timeout)
        .local_pause(setup.local_pause)
        .build()?;
    let start = trace.start();
    let mut monitor: Monitor<Observed<D>, Growable> =
        Monitor::new(config, Observed::new(detector), Instant::from_nanos(start));
    monitor.add_peer(peer)?;
    let mut message = Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: peer,
        receiver: Some(me),
        generation: Generation(1),
        sequence: 0,
        timestamp: Instant::ZERO,
        echo: None,
        interval: trace.interval,
        requested_timeout: setup.requested,
        applied_timeout: None,
        hears_you: false,
        auth: None,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let warm_end = start.saturating_add(nanos(setup.warmup));
    let mut tally = Tally {
        trace,
        warm_end,
        down_since: None,
        mistakes: 0,
        mistaken: 0,
        suspects: 0,
        stall_end: None,
        stall_suspects: 0,
        stall_mistakes: 0,
        fresh: None,
        detection_us: Vec::with_capacity(trace.records.len()),
        bounds: (nanos(setup.min_timeout), nanos(setup.max_timeout)),
        deadlines: 0,
        at_max: 0,
        at_min: 0,
    };
    let mut heartbeats = 0;
    let stalls: &[(u64, u64)] = if setup.receiver_stalls { &trace.receiver_stalls } else { &[] };
    let (mut next, mut stall) = (0, 0);

    // Feeds arrival `k` at `now`, then ticks, as the driver rule says; says whether it was a
    // fresh heartbeat.
    let mut deliver = |monitor: &mut Monitor<Observed<D>, Growable>, tally: &mut Tally<'_>, now: u64, k: usize| {
        let record = trace.records[k];
        message.sequence = k as u64 + 1;
        message.timestamp = Instant::from_nanos(record.stamp);
        let len = message.encode(&mut buf).context("encoding a heartbeat")?;
        let now = Instant::from_nanos(now);
        let fresh = matches!(monitor.on_message(now, LinkId(0), &buf[..len]), Ok(Accepted::Heartbeat));
        if fresh {
            let down = monitor.detector().last().context("no deadline after a heartbeat")?.down;
            tally.fresh(k, now.as_nanos(), down.as_nanos());
        }
        tick(monitor, tally, now);
        anyhow::Ok(fresh)
    };

    loop {
        let arrival = order.get(next).map(|&k| trace.records[k as usize].received);
        let Some(arrival) = arrival else { break };
        let t = monitor.poll_timeout().map_or(arrival, |timer| timer.as_nanos().min(arrival));
        while stall < stalls.len() && stalls[stall].1 <= t {
            stall += 1;
        }
        if let Some(&(from, until)) = stalls.get(stall).filter(|s| s.0 <= t) {
            // Frozen from `from` to `until`: then the timer fires first, and the frames that
            // queued up meanwhile are read after it.
            debug_assert!(from <= t);
            tally.stall_end = Some(Vec::new());
            tick(&mut monitor, &mut tally, Instant::from_nanos(until));
            let verdicts = tally.stall_end.take().unwrap_or_default();
            let mut queued_fresh = false;
            while let Some(&k) = order.get(next).filter(|&&k| trace.records[k as usize].received < until) {
                let fresh = deliver(&mut monitor, &mut tally, until, k as usize)?;
                heartbeats += u64::from(fresh);
                queued_fresh |= fresh;
                next += 1;
            }
            if queued_fresh {
                // A fresh heartbeat was waiting: those verdicts convicted on the stall alone.
                for kind in verdicts {
                    match kind {
                        EventKind::Suspect { .. } => tally.stall_suspects += 1,
                        EventKind::Down { .. } => tally.stall_mistakes += 1,
                        _ => {}
                    }
                }
            }
            stall += 1;
        } else if arrival <= t {
            heartbeats += u64::from(deliver(&mut monitor, &mut tally, arrival, order[next] as usize)?);
            next += 1;
        } else {
            tick(&mut monitor, &mut tally, Instant::from_nanos(t));
        }
    }
    let mut final_down = None;
    if run_out {
        // The sender is gone: tick whenever the monitor asks, until it gives up on the peer.
        while let (None, Some(at)) = (final_down, monitor.poll_timeout()) {
            monitor.tick(at);
            while let Some(event) = monitor.poll_event() {
                if let EventKind::Down { .. } = event.kind {
                    final_down = Some(event.at.as_nanos());
                }
            }
        }
    }
    let end = trace.end();
    tally.settle(trace.records.len());
    if let Some(since) = tally.down_since.take() {
        tally.count_mistake(since, end);
    }
    Ok(Outcome {
        heartbeats,
        span: Duration::from_nanos(end.saturating_sub(warm_end)),
        mistakes: tally.mistakes,
        mistaken: Duration::from_nanos(u64::try_from(tally.mistaken).unwrap_or(u64::MAX)),
        final_down,
        suspects: tally.suspects,
        stall_suspects: tally.stall_suspects,
        stall_mistakes: tally.stall_mistakes,
        deadlines: tally.deadlines,
        at_max: tally.at_max,
        at_min: tally.at_min,
        detection_us: tally.detection_us,
    })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn tick<D: Detector>(monitor: &mut Monitor<D, Growable>, tally: &mut Tally<'_>, now: Instant) {
    monitor.tick(now);
    while let Some(event) = monitor.poll_event() {
        tally.verdict(event.at.as_nanos(), event.kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Quality;
    use crate::trace::{LOST, Record};
    use heartbeat_proto::FixedTimeout;

    const SECOND: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    /// Heartbeat `k` (of `n`) sent at 1000 + k s and received 1 ms later, η 1 s.
    fn periodic(n: u64) -> Trace {
        Trace {
            name: "hand-built".into(),
            provenance: "hand-built".into(),
            interval: Duration::from_secs(1),
            records: (0..n)
                .map(|k| {
                    let sent = (1000 + k) * SECOND;
                    Record { sent, stamp: sent, received: sent + MS }
                })
                .collect(),
            receiver_stalls: Vec::new(),
        }
    }

    /// A fixed timeout of `timeout` (suspect at half of it), no guard, 10 s of warm-up.
    fn setup(timeout: Duration) -> Setup {
        Setup {
            min_timeout: Duration::from_millis(200),
            max_timeout: Duration::from_secs(60),
            requested: timeout,
            local_pause: None,
            receiver_stalls: true,
            warmup: Duration::from_secs(10),
        }
    }

    #[test]
    fn one_known_mistake_gives_its_rate_duration_and_accuracy() {
        // A 2.5 s timeout. Heartbeats 100..=102 lost: the one received at 1099.001 s leaves the
        // peer suspect at 1100.251 and down at 1101.501; heartbeat 103 brings it up at
        // 1103.001: one mistake of 1.5 s.
        let mut trace = periodic(200);
        for r in &mut trace.records[100..=102] {
            r.received = LOST;
        }
        let outcome = replay(&trace, FixedTimeout::new(), &setup(Duration::from_millis(2500))).unwrap();
        assert_eq!((outcome.mistakes, outcome.suspects), (1, 1));
        assert_eq!(outcome.mistaken, Duration::from_millis(1500));
        assert_eq!(outcome.heartbeats, 197);
        // Measured from the end of the warm-up (1010 s) to the last arrival (1199.001 s).
        let span = 189.001;
        assert_eq!(outcome.span, Duration::from_secs_f64(span));
        let q = Quality::of(outcome);
        assert!((q.mistake_duration - 1.5).abs() < 1e-9, "T_M {}", q.mistake_duration);
        assert!((q.query_accuracy - (1.0 - 1.5 / span)).abs() < 1e-12, "P_A {}", q.query_accuracy);
        assert!((q.mistake_rate - 3600.0 / span).abs() < 1e-9, "λ_M {}", q.mistake_rate);
        // Crashes right after sends 10..=199: detected 2.501 s later, except right after 100
        // and 101 (at the 1101.501 s deadline: 1.501 and 0.501 s later) and 102 (already
        // down: 0).
        let mean = (187.0 * 2.501 + 1.501 + 0.501) / 190.0;
        assert!((q.detection_mean - mean).abs() < 1e-9, "T_D {} vs {mean}", q.detection_mean);
        assert!((q.detection_p99 - 2.501).abs() < 1e-9);
    }

    #[test]
    fn deadlines_on_the_bounds_are_counted() {
        // 190 heartbeats past the 10 s warm-up; bounds [0.2 s, 60 s].
        let trace = periodic(200);
        let within = replay(&trace, FixedTimeout::new(), &setup(Duration::from_secs(3))).unwrap();
        assert_eq!((within.deadlines, within.at_max, within.at_min), (190, 0, 0));
        // The monitor clamps the sender's request into the bounds.
        let high = replay(&trace, FixedTimeout::new(), &setup(Duration::from_secs(61))).unwrap();
        assert_eq!((high.deadlines, high.at_max, high.at_min), (190, 190, 0));
        let floor = Setup { min_timeout: Duration::from_secs(5), ..setup(Duration::from_secs(3)) };
        let low = replay(&trace, FixedTimeout::new(), &floor).unwrap();
        assert_eq!((low.deadlines, low.at_max, low.at_min), (190, 0, 190));
        // Chen with a margin past the ceiling: its estimate is clamped.
        let chen =
            replay(&trace, heartbeat_proto::Chen::<16>::new(Duration::from_secs(100)), &setup(Duration::from_secs(3)));
        assert_eq!(chen.unwrap().at_max, 190);
    }

    #[test]
    fn a_mistake_still_open_at_the_end_lasts_until_the_last_arrival() {
        // Silent after heartbeat 140 (received at 1140.001 s: down at 1142.501) but for a late
        // copy of heartbeat 130 at 1199.001, which does not bring the peer up.
        let mut trace = periodic(200);
        for r in &mut trace.records[141..] {
            r.received = LOST;
        }
        trace.records[130].received = 1199 * SECOND + MS;
        let q = Quality::of(replay(&trace, FixedTimeout::new(), &setup(Duration::from_millis(2500))).unwrap());
        assert_eq!(q.mistakes, 1);
        assert!((q.mistake_duration - 56.5).abs() < 1e-9, "T_M {}", q.mistake_duration);
    }

    /// Two receiver stalls: 1050.5 → 1052.0 s covers the suspect deadline (1051.501) of the
    /// heartbeat received at 1050.001 s, with heartbeat 51 queued; 1100.5 → 1104.5 covers the
    /// down deadline (1103.001) of the one received at 1100.001, with four queued.
    fn stalled() -> Trace {
        Trace {
            receiver_stalls: vec![
                (1050 * SECOND + 500 * MS, 1052 * SECOND),
                (1100 * SECOND + 500 * MS, 1104 * SECOND + 500 * MS),
            ],
            ..periodic(200)
        }
    }

    #[test]
    fn verdicts_at_the_end_of_a_receiver_stall_are_counted_by_kind() {
        let trace = stalled();
        let unguarded = replay(&trace, FixedTimeout::new(), &setup(Duration::from_secs(3))).unwrap();
        assert_eq!((unguarded.stall_suspects, unguarded.stall_mistakes), (1, 1));
        assert_eq!((unguarded.suspects, unguarded.mistakes), (1, 1));
        // The `Down` at 1104.5 s ends when the queued heartbeats are read at the same instant.
        assert_eq!(unguarded.mistaken, Duration::ZERO);

        let guard = Setup { local_pause: Some(Duration::from_millis(1)), ..setup(Duration::from_secs(3)) };
        let guarded = replay(&trace, FixedTimeout::new(), &guard).unwrap();
        assert_eq!(
            (guarded.stall_suspects, guarded.stall_mistakes, guarded.suspects, guarded.mistakes),
            (0, 0, 0, 0),
            "the guard holds both verdicts until the queued heartbeats are read"
        );

        let running = Setup { receiver_stalls: false, ..setup(Duration::from_secs(3)) };
        let no_stalls = replay(&trace, FixedTimeout::new(), &running).unwrap();
        assert_eq!(
            (no_stalls.stall_suspects, no_stalls.stall_mistakes, no_stalls.suspects, no_stalls.mistakes),
            (0, 0, 0, 0)
        );
        assert_eq!(no_stalls.detection_us, replay(&periodic(200), FixedTimeout::new(), &running).unwrap().detection_us);
    }

    #[test]
    fn verdicts_at_a_stall_end_without_a_waiting_heartbeat_are_not_the_stalls_fault() {
        // The same stalls, but the heartbeats that would have queued are lost: the verdicts
        // at the stall ends are real (the peer was silent), not convictions on the pause.
        let mut trace = stalled();
        for k in [51, 101, 102, 103, 104] {
            trace.records[k].received = LOST;
        }
        let outcome = replay(&trace, FixedTimeout::new(), &setup(Duration::from_secs(3))).unwrap();
        assert_eq!((outcome.stall_suspects, outcome.stall_mistakes), (0, 0));
        assert_eq!((outcome.suspects, outcome.mistakes), (1, 1));
    }
}
