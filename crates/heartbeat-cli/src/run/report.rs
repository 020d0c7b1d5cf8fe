//! `heartbeat run`'s status report: what its control socket answers, and the table
//! `heartbeat status` prints of it.

use std::fmt::Write as _;
use std::time::Duration;

use heartbeat_proto::{Liveness, PeerStatus};
use heartbeat_tokio::Status;
use serde::{Deserialize, Serialize};

use super::discovery::DiscoveryReport;
use super::evidence::{Explanations, VerdictReport};
use super::reachability::{reachability_name, state_of};
use super::reload::ReloadOutcome;
use crate::detectors::Selected;
use crate::duration::show;
use heartbeat_proto::Reachability;

/// A node's status as it travels over the control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusReport {
    pub(crate) node: u64,
    pub(crate) cluster: u32,
    pub(crate) generation: u32,
    pub(crate) interval_ms: f64,
    pub(crate) timeout_ms: f64,
    pub(crate) links: u8,
    pub(crate) leaving: bool,
    pub(crate) peers: Vec<PeerReport>,
    pub(crate) datagrams_sent: u64,
    pub(crate) datagrams_received: u64,
    pub(crate) frames_rejected: u64,
    pub(crate) socket_errors: u64,
    /// Stalls of this node the local-stall guard caught (verdicts held back).
    #[serde(default)]
    pub(crate) local_stalls: u64,
    /// How the SIGHUP reloads went.
    #[serde(default)]
    pub(crate) reload: ReloadOutcome,
    /// The group and what was learned there, for a node with `[discovery]`.
    #[serde(default)]
    pub(crate) discovery: Option<DiscoveryReport>,
    /// Frames rejected, by reason (the names of `heartbeat_frames_rejected_total`).
    #[serde(default)]
    pub(crate) frames_rejected_by_reason: std::collections::BTreeMap<String, u64>,
    /// The replay file, if the node keeps one.
    #[serde(default)]
    pub(crate) replay_file: Option<crate::replay_file::ReplayFileReport>,
}

/// One peer's line of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PeerReport {
    pub(crate) id: u64,
    pub(crate) state: String,
    /// Seconds since it entered that state.
    pub(crate) since_s: f64,
    /// Milliseconds since it was last heard; `None` if never.
    pub(crate) last_heard_ms: Option<f64>,
    pub(crate) loss_percent: f64,
    pub(crate) rtt_ms: Option<f64>,
    /// The timeout in force for it, after negotiation.
    pub(crate) timeout_ms: f64,
    pub(crate) generation: Option<u32>,
    pub(crate) hears_us: bool,
    /// `up` or `down` per link.
    pub(crate) links: Vec<String>,
    /// The detector that judges it (`fixed`, `adaptive`, `phi`, `chen`, `two-window`).
    #[serde(default)]
    pub(crate) detector: Option<String>,
    /// The detector's suspicion level, on the detector's own scale (see the metrics' help).
    #[serde(default)]
    pub(crate) suspicion: Option<f64>,
    /// Whether the path works both ways: `both`, `settling` (heard, not hearing us yet),
    /// `asymmetric` (heard, not hearing us past the grace), `unknown` (not heard), `unmeasured`
    /// (group frames say nothing of whom their sender hears).
    #[serde(default)]
    pub(crate) reachability: Option<String>,
    /// The evidence of its latest `suspect` or `down`, if it had one since start-up.
    #[serde(default)]
    pub(crate) last_verdict: Option<VerdictReport>,
    /// Learned from the group rather than configured.
    #[serde(default)]
    pub(crate) learned: bool,
}

/// The name of a liveness state, as logs and reports spell it.
pub(crate) fn state_name(liveness: Liveness) -> &'static str {
    match liveness {
        Liveness::Waiting => "waiting",
        Liveness::Up => "up",
        Liveness::Suspect => "suspect",
        Liveness::Down => "down",
        Liveness::Left => "left",
        // A state added to the library later than this binary knows of.
        _ => "unknown",
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl StatusReport {
    pub(crate) fn new(status: &Status) -> Self {
        let config = &status.config;
        let peer = |p: &PeerStatus| PeerReport {
            id: p.id.get(),
            state: state_of(p, status).to_string(),
            since_s: (status.now - p.since).as_secs_f64(),
            last_heard_ms: p.last_heard.map(|t| millis(status.now - t)),
            loss_percent: f64::from(p.stats.loss_ratio()) * 100.0,
            rtt_ms: p.stats.srtt().map(millis),
            timeout_ms: millis(p.timeout),
            generation: p.generation.map(|g| g.0),
            hears_us: p.hears_us,
            links: (0..config.links())
                .map(|l| if p.links_up & (1 << l) != 0 { "up" } else { "down" }.to_string())
                .collect(),
            detector: None,
            suspicion: Some(f64::from(p.suspicion)).filter(|s| s.is_finite()),
            last_verdict: None,
            reachability: Some(if config.broadcasts() {
                "unmeasured".to_string()
            } else {
                reachability_name(Reachability::of(p, status.now)).to_string()
            }),
            learned: p.learned,
        };
        StatusReport {
            node: config.node().get(),
            cluster: config.cluster().0,
            generation: config.generation().0,
            interval_ms: millis(config.interval()),
            timeout_ms: millis(config.timeout()),
            links: config.links(),
            leaving: status.leaving,
            peers: status.peers.iter().map(peer).collect(),
            datagrams_sent: status.io.sent,
            datagrams_received: status.io.received,
            frames_rejected: status.frames.rejected(),
            socket_errors: status.io.send_errors + status.io.recv_errors,
            local_stalls: status.frames.local_stalls,
            reload: ReloadOutcome::default(),
            discovery: None,
            frames_rejected_by_reason: crate::metrics::rejections(&status.frames)
                .into_iter()
                .map(|(reason, n)| (reason.to_string(), n))
                .collect(),
            replay_file: None,
        }
    }

    /// Adds the group and what was learned there.
    pub(crate) fn with_discovery(self, discovery: DiscoveryReport) -> Self {
        StatusReport { discovery: Some(discovery), ..self }
    }

    /// Adds how the replay file is doing.
    pub(crate) fn with_replay_file(self, replay_file: Option<crate::replay_file::ReplayFileReport>) -> Self {
        StatusReport { replay_file, ..self }
    }

    /// Adds how the reloads went.
    pub(crate) fn with_reload(self, reload: ReloadOutcome) -> Self {
        StatusReport { reload, ..self }
    }

    /// Adds each peer's latest verdict with its evidence.
    pub(crate) fn with_verdicts(mut self, explanations: &Explanations) -> Self {
        for p in &mut self.peers {
            p.last_verdict = explanations.latest(p.id);
        }
        self
    }

    /// Names each peer's detector.
    pub(crate) fn with_detectors(mut self, detectors: &Selected) -> Self {
        for p in &mut self.peers {
            if let Some(id) = heartbeat_proto::NodeId::new(p.id) {
                p.detector = Some(detectors.choice_of(id).kind().to_string());
            }
        }
        self
    }
}

fn ms(value: f64) -> String {
    show(Duration::from_secs_f64(value.max(0.0) / 1e3))
}

/// The report as a table a person can read.
pub(crate) fn table(r: &StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node {} (cluster {}, generation {}){}: {} peer(s), interval {}, timeout {}",
        r.node,
        r.cluster,
        r.generation,
        if r.leaving { ", leaving" } else { "" },
        r.peers.len(),
        ms(r.interval_ms),
        ms(r.timeout_ms)
    );
    let _ = writeln!(
        out,
        "{:<6} {:<8} {:>13} {:>13} {:>6} {:>9} {:>8}  {:<12} {:<10} {:>9}",
        "PEER", "STATE", "SINCE", "LAST HEARD", "LOSS", "RTT", "TIMEOUT", "LINKS", "DETECTOR", "SUSPICION"
    );
    for p in &r.peers {
        let _ = writeln!(out, "{}", row(p));
    }
    for p in &r.peers {
        if let Some(v) = &p.last_verdict {
            let _ = writeln!(
                out,
                "  peer {} last {} at {:.3}s: silent {}, deadline {} ({}), suspicion {:.3}, loss {:.1}%, rtt {}, links {}{}",
                p.id,
                v.verdict,
                v.at,
                v.silent_ms.map_or("since start-up".into(), ms),
                v.deadline_after_ms.map_or("-".into(), ms),
                v.deadline_source,
                v.suspicion,
                v.loss_percent,
                v.rtt_ms.map_or("-".into(), ms),
                v.links_text(),
                if v.held_by_stall_guard { ", held back by the stall guard" } else { "" }
            );
        }
    }
    if let Some(d) = &r.discovery {
        let _ = writeln!(
            out,
            "discovery: {}, learning {}; {} learned now ({} since start), at most {} peers; refused: {} table full, {} unknown, {} bad HMAC",
            d.group,
            if d.learning { "on" } else { "off" },
            d.learned_now,
            d.learned_total,
            d.max_peers,
            d.refused_table_full,
            d.refused_unknown_peer,
            d.refused_auth
        );
    }
    let _ = writeln!(
        out,
        "datagrams sent {}, received {}; frames rejected {}; socket errors {}; local stalls {}",
        r.datagrams_sent, r.datagrams_received, r.frames_rejected, r.socket_errors, r.local_stalls
    );
    if let Some(f) = &r.replay_file {
        let _ = writeln!(
            out,
            "replay file {}: {} at start{} ({} peer(s) resumed); {} write(s), {} failed{}",
            f.path.display(),
            f.loaded,
            f.reason.as_ref().map_or(String::new(), |why| format!(": {why}")),
            f.resumed,
            f.writes,
            f.write_errors,
            f.last_write_error.as_ref().map_or(String::new(), |e| format!(" (last: {e})")),
        );
    }
    out
}

fn row(p: &PeerReport) -> String {
    let links: Vec<String> = p.links.iter().enumerate().map(|(i, s)| format!("{i}:{s}")).collect();
    let id = if p.learned { format!("{}*", p.id) } else { p.id.to_string() };
    format!(
        "{:<6} {:<8} {:>13} {:>13} {:>5.1}% {:>9} {:>8}  {:<12} {:<10} {:>9}",
        id,
        p.state,
        format!("{} ago", show(Duration::from_secs_f64(p.since_s.max(0.0)))),
        p.last_heard_ms.map_or("never".into(), |t| format!("{} ago", ms(t))),
        p.loss_percent,
        p.rtt_ms.map_or("-".into(), ms),
        ms(p.timeout_ms),
        links.join(" "),
        p.detector.as_deref().unwrap_or("-"),
        p.suspicion.map_or("-".into(), |s| format!("{s:.3}"))
    )
}
