//! Why a peer was declared suspect or down: the library's [`Evidence`] as the log, the status
//! and the metrics show it.
//!
//! The node runs with `explain_verdicts` on, so each `Suspect` and `Down` arrives right after
//! an `Explained` event for the same peer. [`Explanations`] keeps the latest of each peer: the
//! log attaches it to the verdict's line, the status shows it as the peer's `last_verdict`.

use std::collections::HashMap;
use std::sync::Mutex;

use heartbeat_proto::{DeadlineSource, Event, EventKind, Evidence, Instant, Verdict};
use serde::{Deserialize, Serialize};

/// The name of a deadline's source, as the log, the status and the metrics spell it.
pub(crate) fn source_name(source: DeadlineSource) -> &'static str {
    match source {
        DeadlineSource::Startup => "startup",
        DeadlineSource::Negotiated => "negotiated",
        DeadlineSource::Estimated => "estimated",
        DeadlineSource::Floor => "floor",
        DeadlineSource::Ceiling => "ceiling",
        _ => "unknown",
    }
}

/// The name of a verdict.
pub(crate) fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Suspect => "suspect",
        Verdict::Down => "down",
        _ => "unknown",
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// One verdict's evidence, as the status reports it (milliseconds, as the rest of the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct VerdictReport {
    /// `suspect` or `down`.
    pub(crate) verdict: String,
    /// When it was decided, seconds on the node's clock (as `at` in the log).
    pub(crate) at: f64,
    /// Silence so far at the verdict; `None` if never heard.
    pub(crate) silent_ms: Option<f64>,
    /// The down deadline's distance from the last heartbeat: the timeout in force or the
    /// detector's estimate.
    pub(crate) deadline_after_ms: Option<f64>,
    /// `startup` (never heard: initdead), `negotiated` (the peer's timeout, clamped into ours),
    /// `estimated` (the detector's estimate), `floor` / `ceiling` (the estimate, clamped).
    pub(crate) deadline_source: String,
    /// The estimate's inputs: the negotiated timeout and the peer's advertised interval.
    pub(crate) negotiated_timeout_ms: f64,
    pub(crate) interval_ms: f64,
    /// The detector's suspicion level at the verdict.
    pub(crate) suspicion: f64,
    /// Loss and round-trip time before the silence.
    pub(crate) loss_percent: f64,
    pub(crate) rtt_ms: Option<f64>,
    /// Per link, its silence at the verdict (`None`: never delivered).
    pub(crate) link_silent_ms: Vec<Option<f64>>,
    /// Whether the local-stall guard had held the verdict back (this node had stalled).
    pub(crate) held_by_stall_guard: bool,
}

impl VerdictReport {
    /// The report of `evidence` for a verdict at `at`.
    pub(crate) fn new(at: Instant, evidence: &Evidence) -> VerdictReport {
        let suspicion = f64::from(evidence.suspicion());
        VerdictReport {
            verdict: verdict_name(evidence.verdict()).to_string(),
            at: at.since_epoch().as_secs_f64(),
            silent_ms: evidence.last_heard().map(|t| ms(at - t)),
            deadline_after_ms: evidence.down_after().map(ms),
            deadline_source: source_name(evidence.source()).to_string(),
            negotiated_timeout_ms: ms(evidence.negotiated_timeout()),
            interval_ms: ms(evidence.interval()),
            suspicion: if suspicion.is_finite() { suspicion } else { f64::MAX },
            loss_percent: f64::from(evidence.loss_ratio()) * 100.0,
            rtt_ms: evidence.srtt().map(ms),
            link_silent_ms: (0..evidence.links()).map(|l| evidence.link_silence(l).map(ms)).collect(),
            held_by_stall_guard: evidence.held_by_stall_guard(),
        }
    }

    /// The links' silences in one field for the log: `0:12.5ms 1:never`.
    pub(crate) fn links_text(&self) -> String {
        let each = self.link_silent_ms.iter().enumerate().map(|(l, s)| match s {
            Some(ms) => format!("{l}:{ms}ms"),
            None => format!("{l}:never"),
        });
        each.collect::<Vec<_>>().join(" ")
    }
}

/// Each peer's latest evidence.
#[derive(Debug, Default)]
pub(crate) struct Explanations {
    latest: Mutex<HashMap<u64, (Instant, Evidence)>>,
}

impl Explanations {
    /// Takes in `event`: keeps the evidence of an `Explained`, returns whether it was one (the
    /// log shows it with its verdict, not on its own line).
    pub(crate) fn absorb(&self, event: &Event) -> bool {
        let EventKind::Explained(evidence) = event.kind else { return false };
        self.lock().insert(event.peer.get(), (event.at, evidence));
        true
    }

    /// The evidence for a `Suspect` or `Down` event (queued right before it).
    pub(crate) fn for_verdict(&self, event: &Event) -> Option<VerdictReport> {
        let wanted = match event.kind {
            EventKind::Suspect { .. } => Verdict::Suspect,
            EventKind::Down { .. } => Verdict::Down,
            _ => return None,
        };
        let (at, evidence) = *self.lock().get(&event.peer.get())?;
        (at == event.at && evidence.verdict() == wanted).then(|| VerdictReport::new(at, &evidence))
    }

    /// The latest verdict's evidence for `peer`, for the status.
    pub(crate) fn latest(&self, peer: u64) -> Option<VerdictReport> {
        self.lock().get(&peer).map(|(at, evidence)| VerdictReport::new(*at, evidence))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Instant, Evidence)>> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }
}
