//! `heartbeat run --metrics ADDR`: what the node knows, as Prometheus metrics.
//!
//! Three sources feed one registry: the event stream (events by kind and peer, flaps), the
//! detector (every fresh heartbeat's interval, see [`Selected`](crate::detectors::Selected)),
//! and a status snapshot taken when a scrape comes (per-peer state, suspicion, silence, loss,
//! RTT, timeout; frames rejected by reason; socket errors; local stalls). The HTTP side is in
//! [`server`]: its own thread, so that no scrape ever waits on, or delays, a heartbeat.

pub(crate) mod server;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use heartbeat_proto::{Event, EventKind, Liveness, MonitorStats};
use heartbeat_tokio::Status;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::run::evidence::VerdictReport;
use crate::run::reachability::state_of;

/// A peer, as a label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PeerLabel {
    pub(crate) peer: u64,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerStateLabels {
    peer: u64,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    peer: u64,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    peer: u64,
    verdict: &'static str,
    source: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;
use crate::detectors::IntervalFamily;

/// The states a peer can be in, each a series of `heartbeat_peer_state` (1 for the current).
const STATES: [&str; 6] = ["waiting", "up", "asymmetric", "suspect", "down", "left"];

/// Every `kind` label of `heartbeat_events_total`: the core's events ([`event_kind`]) and the
/// binary's own (`asymmetric`, `symmetric`, `learned`).
const EVENT_KINDS: [&str; 12] = [
    "up",
    "suspect",
    "down",
    "restarted",
    "left",
    "link_up",
    "link_down",
    "explained",
    "other",
    "asymmetric",
    "symmetric",
    "learned",
];

/// Every `source` label of `heartbeat_verdicts_total`: where a deadline came from.
const DEADLINE_SOURCES: [&str; 6] = ["startup", "negotiated", "estimated", "floor", "ceiling", "unknown"];

fn interval_buckets() -> Histogram {
    // 1 ms to about 33 s, doubling.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 16))
}

/// Every metric of one node.
pub(crate) struct Metrics {
    registry: Registry,
    peer_state: Family<PeerStateLabels, Gauge>,
    suspicion: Family<PeerLabel, FloatGauge>,
    silence: Family<PeerLabel, FloatGauge>,
    loss: Family<PeerLabel, FloatGauge>,
    rtt: Family<PeerLabel, FloatGauge>,
    timeout: Family<PeerLabel, FloatGauge>,
    hears_us: Family<PeerLabel, Gauge>,
    intervals: IntervalFamily,
    events: Family<EventLabels, Counter>,
    flaps: Family<PeerLabel, Counter>,
    rejected: Family<ReasonLabel, Counter>,
    accepted: Counter,
    socket_errors: Family<DirectionLabel, Counter>,
    datagrams: Family<DirectionLabel, Counter>,
    local_stalls: Counter,
    verdicts: Family<VerdictLabels, Counter>,
    held: Family<PeerLabel, Counter>,
    verdict_deadline: Family<PeerLabel, FloatGauge>,
    verdict_silence: Family<PeerLabel, FloatGauge>,
    hooks: crate::hooks::HookMetrics,
    /// Each peer's latest state as the events told it, to count flaps.
    last_state: Mutex<HashMap<u64, &'static str>>,
}

impl Metrics {
    /// An empty registry with every metric declared.
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("heartbeat");
        let m = Metrics {
            registry: Registry::default(),
            peer_state: Family::default(),
            suspicion: Family::default(),
            silence: Family::default(),
            loss: Family::default(),
            rtt: Family::default(),
            timeout: Family::default(),
            hears_us: Family::default(),
            intervals: Family::new_with_constructor(interval_buckets),
            events: Family::default(),
            flaps: Family::default(),
            rejected: Family::default(),
            accepted: Counter::default(),
            socket_errors: Family::default(),
            datagrams: Family::default(),
            local_stalls: Counter::default(),
            verdicts: Family::default(),
            held: Family::default(),
            verdict_deadline: Family::default(),
            verdict_silence: Family::default(),
            hooks: crate::hooks::HookMetrics::new(),
            last_state: Mutex::new(HashMap::new()),
        };
        registry.register(
            "peer_state",
            "The peer's liveness: 1 for the state it is in, 0 for the others",
            m.peer_state.clone(),
        );
        registry.register(
            "peer_suspicion",
            "The detector's suspicion level (fixed, chen, two-window: silence / deadline, 1 at the deadline; phi: phi; adaptive: -log10 P(a live peer is this late))",
            m.suspicion.clone(),
        );
        registry.register_with_unit(
            "peer_silence",
            "Time since the peer was last heard (absent if never heard)",
            Unit::Seconds,
            m.silence.clone(),
        );
        registry.register(
            "peer_loss_ratio",
            "The fraction of the peer's heartbeats that never arrived",
            m.loss.clone(),
        );
        registry.register_with_unit(
            "peer_rtt",
            "Smoothed round-trip time to the peer (absent until measured)",
            Unit::Seconds,
            m.rtt.clone(),
        );
        registry.register_with_unit(
            "peer_timeout",
            "The timeout in force for the peer, after negotiation",
            Unit::Seconds,
            m.timeout.clone(),
        );
        registry.register("peer_hears_this_node", "1 if the peer says it hears this node", m.hears_us.clone());
        registry.register_with_unit(
            "peer_heartbeat_interval",
            "Time between consecutive fresh heartbeats from the peer",
            Unit::Seconds,
            m.intervals.clone(),
        );
        registry.register("events", "Liveness events, by peer and kind", m.events.clone());
        registry.register(
            "peer_flaps",
            "Verdicts taken back: the peer came back up after being suspect or down",
            m.flaps.clone(),
        );
        registry.register("frames_accepted", "Fresh heartbeats and goodbyes accepted", m.accepted.clone());
        registry.register("frames_rejected", "Frames rejected, by reason", m.rejected.clone());
        registry.register("socket_errors", "Failed socket calls, by direction", m.socket_errors.clone());
        registry.register("datagrams", "Datagrams moved, by direction", m.datagrams.clone());
        registry.register(
            "local_stalls",
            "Times this node found itself stalled past the local-stall guard's bound, and held verdicts back",
            m.local_stalls.clone(),
        );
        registry.register(
            "verdicts",
            "Suspect and down verdicts, by peer, verdict and where the deadline came from (startup, negotiated, estimated, floor, ceiling)",
            m.verdicts.clone(),
        );
        registry.register(
            "verdicts_held_by_stall_guard",
            "Verdicts the local-stall guard had held back once, because this node itself had stalled",
            m.held.clone(),
        );
        registry.register_with_unit(
            "peer_last_verdict_deadline",
            "The deadline of the peer's latest verdict, from its last heartbeat (timeout or estimate)",
            Unit::Seconds,
            m.verdict_deadline.clone(),
        );
        registry.register_with_unit(
            "peer_last_verdict_silence",
            "How long the peer had been silent at its latest verdict",
            Unit::Seconds,
            m.verdict_silence.clone(),
        );
        m.hooks.register(&mut registry);
        Metrics { registry, ..m }
    }

    /// The hook series, for the hook runner to update.
    pub(crate) fn hooks(&self) -> crate::hooks::HookMetrics {
        self.hooks.clone()
    }

    /// Counts a verdict with its evidence.
    pub(crate) fn record_verdict(&self, peer: u64, v: &VerdictReport) {
        let source = DEADLINE_SOURCES.into_iter().find(|s| *s == v.deadline_source).unwrap_or("unknown");
        let verdict = if v.verdict == "down" { "down" } else { "suspect" };
        self.verdicts.get_or_create(&VerdictLabels { peer, verdict, source }).inc();
        if v.held_by_stall_guard {
            self.held.get_or_create(&PeerLabel { peer }).inc();
        }
        if let Some(d) = v.deadline_after_ms {
            self.verdict_deadline.get_or_create(&PeerLabel { peer }).set(d / 1e3);
        }
        if let Some(s) = v.silent_ms {
            self.verdict_silence.get_or_create(&PeerLabel { peer }).set(s / 1e3);
        }
    }

    /// The histogram a peer's heartbeat intervals go into (shared with the registry).
    pub(crate) fn interval_family(&self) -> IntervalFamily {
        self.intervals.clone()
    }

    /// Counts one event, and a flap when it takes a verdict back.
    pub(crate) fn record_event(&self, event: &Event) {
        let peer = event.peer.get();
        self.record_kind(peer, event_kind(&event.kind));
        let state = match event.kind {
            EventKind::Up { .. } | EventKind::Restarted { .. } => "up",
            EventKind::Suspect { .. } => "suspect",
            EventKind::Down { .. } => "down",
            EventKind::Left => "left",
            _ => return,
        };
        let mut last = self.last_state.lock().unwrap_or_else(|e| e.into_inner());
        let before = last.insert(peer, state);
        if state == "up" && matches!(before, Some("suspect" | "down")) {
            self.flaps.get_or_create(&PeerLabel { peer }).inc();
        }
    }

    /// Drops every series of `peer`, a learned peer that was forgotten: ids that come and go
    /// (with `forget_after`) must not grow the exposition without bound.
    pub(crate) fn forget_peer(&self, peer: u64) {
        let label = PeerLabel { peer };
        for state in STATES {
            self.peer_state.remove(&PeerStateLabels { peer, state });
        }
        for family in [&self.suspicion, &self.silence, &self.loss, &self.rtt, &self.timeout] {
            family.remove(&label);
        }
        for family in [&self.verdict_deadline, &self.verdict_silence] {
            family.remove(&label);
        }
        self.hears_us.remove(&label);
        self.intervals.remove(&label);
        self.flaps.remove(&label);
        self.held.remove(&label);
        for kind in EVENT_KINDS {
            self.events.remove(&EventLabels { peer, kind });
        }
        for verdict in ["down", "suspect"] {
            for source in DEADLINE_SOURCES {
                self.verdicts.remove(&VerdictLabels { peer, verdict, source });
            }
        }
        self.last_state.lock().unwrap_or_else(|e| e.into_inner()).remove(&peer);
    }

    /// Counts an event the binary itself raises (`asymmetric`, `symmetric`).
    pub(crate) fn record_kind(&self, peer: u64, kind: &'static str) {
        debug_assert!(EVENT_KINDS.contains(&kind), "`{kind}` is missing from EVENT_KINDS (forget_peer would leak it)");
        self.events.get_or_create(&EventLabels { peer, kind }).inc();
    }

    /// Sets every snapshot-based metric from `status`.
    pub(crate) fn refresh(&self, status: &Status) {
        for p in &status.peers {
            let peer = p.id.get();
            let current = state_of(p, status);
            for state in STATES {
                self.peer_state.get_or_create(&PeerStateLabels { peer, state }).set(i64::from(state == current));
            }
            let label = PeerLabel { peer };
            let suspicion = match p.liveness {
                Liveness::Up | Liveness::Suspect => f64::from(p.suspicion),
                _ => 0.0,
            };
            self.suspicion.get_or_create(&label).set(if suspicion.is_finite() { suspicion } else { f64::MAX });
            match p.last_heard {
                Some(t) => {
                    self.silence.get_or_create(&label).set((status.now - t).as_secs_f64());
                }
                None => {
                    self.silence.remove(&label);
                }
            }
            self.loss.get_or_create(&label).set(f64::from(p.stats.loss_ratio()));
            match p.stats.srtt() {
                Some(rtt) => {
                    self.rtt.get_or_create(&label).set(rtt.as_secs_f64());
                }
                None => {
                    self.rtt.remove(&label);
                }
            }
            self.timeout.get_or_create(&label).set(p.timeout.as_secs_f64());
            if status.config.broadcasts() {
                // Group frames do not say whom their sender hears.
                self.hears_us.remove(&label);
            } else {
                self.hears_us.get_or_create(&label).set(i64::from(p.hears_us));
            }
        }
        for (reason, count) in rejections(&status.frames) {
            store(&self.rejected.get_or_create(&ReasonLabel { reason }), count);
        }
        store(&self.accepted, status.frames.accepted);
        store(&self.local_stalls, status.frames.local_stalls);
        let io = &status.io;
        store(&self.socket_errors.get_or_create(&DirectionLabel { direction: "send" }), io.send_errors);
        store(&self.socket_errors.get_or_create(&DirectionLabel { direction: "receive" }), io.recv_errors);
        store(&self.datagrams.get_or_create(&DirectionLabel { direction: "sent" }), io.sent);
        store(&self.datagrams.get_or_create(&DirectionLabel { direction: "received" }), io.received);
    }

    /// Every metric in the OpenMetrics text format (what Prometheus asks for first).
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Every metric in the Prometheus text format 0.0.4 (for clients that do not ask for
    /// OpenMetrics, `promtool` among them).
    pub(crate) fn encode_prometheus(&self) -> String {
        openmetrics_to_prometheus(&self.encode())
    }
}

/// OpenMetrics text as the Prometheus text format: a counter's family is named as its samples
/// (`x_total`, not `x`), and the `# UNIT` and `# EOF` lines, which that format lacks, go.
fn openmetrics_to_prometheus(text: &str) -> String {
    let counters: std::collections::HashSet<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// A counter set to a total kept elsewhere (the driver's own counters only grow).
fn store(counter: &Counter, total: u64) {
    counter.inner().store(total, Ordering::Relaxed);
}

/// The name of an event's kind, as the log spells it.
pub(crate) fn event_kind(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Up { .. } => "up",
        EventKind::Suspect { .. } => "suspect",
        EventKind::Down { .. } => "down",
        EventKind::Restarted { .. } => "restarted",
        EventKind::Left => "left",
        EventKind::LinkUp { .. } => "link_up",
        EventKind::LinkDown { .. } => "link_down",
        EventKind::Explained(_) => "explained",
        _ => "other",
    }
}

/// Every rejection counter with its reason's label.
pub(crate) fn rejections(s: &MonitorStats) -> [(&'static str, u64); 12] {
    [
        ("malformed", s.rejected_malformed),
        ("wrong_cluster", s.rejected_cluster),
        ("from_self", s.rejected_self),
        ("not_for_us", s.rejected_not_for_us),
        ("unknown_link", s.rejected_link),
        ("unknown_peer", s.rejected_unknown_peer),
        ("peer_table_full", s.rejected_table_full),
        ("auth", s.rejected_auth),
        ("stale_generation", s.rejected_stale_generation),
        ("duplicate", s.rejected_duplicate),
        ("replayed", s.rejected_replay),
        ("event_queue_full", s.rejected_queue_full),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use heartbeat_proto::{Generation, Instant, NodeId};

    fn event(kind: EventKind) -> Event {
        Event { at: Instant::from_secs(1), peer: NodeId::new(2).unwrap(), kind }
    }

    #[test]
    fn a_verdict_taken_back_counts_as_a_flap() {
        let m = Metrics::new();
        m.record_event(&event(EventKind::Up { generation: Generation(1) }));
        m.record_event(&event(EventKind::Suspect { last_heard: Instant::from_secs(0) }));
        m.record_event(&event(EventKind::Up { generation: Generation(1) }));
        m.record_event(&event(EventKind::Left));
        m.record_event(&event(EventKind::Up { generation: Generation(1) }));
        m.interval_family().get_or_create(&PeerLabel { peer: 2 }).observe(0.1);
        let text = m.encode();
        assert!(text.contains("heartbeat_peer_flaps_total{peer=\"2\"} 1\n"), "{text}");
        assert!(text.contains("heartbeat_events_total{peer=\"2\",kind=\"up\"} 3\n"), "{text}");
        assert!(text.contains("# TYPE heartbeat_peer_heartbeat_interval_seconds histogram"), "{text}");
        let text = m.encode_prometheus();
        assert!(text.contains("# TYPE heartbeat_peer_flaps_total counter\n"), "{text}");
        assert!(text.contains("# HELP heartbeat_peer_flaps_total Verdicts"), "{text}");
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
    }
}
