//! What the hooks did, as Prometheus metrics: runs by event kind and outcome, how long they
//! took, and how many wait to start. Registered into the node's registry by
//! [`Metrics`](crate::metrics::Metrics); the runner thread updates them (every handle is an
//! `Arc`, so updating never waits on a scrape).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::command::{Ended, Outcome};

/// How a hook run ended, as the `outcome` label spells it.
pub(crate) fn outcome_name(ended: &Ended, succeeded: bool) -> &'static str {
    match ended {
        _ if succeeded => "ok",
        Ended::Exited(_) => "failed",
        Ended::TimedOut => "timed_out",
        Ended::NotStarted(_) => "not_started",
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

fn duration_buckets() -> Histogram {
    // 1 ms to about 65 s, doubling: hooks run from a quick `logger` call to their timeout.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The hook metrics of one node; clones share the same series.
#[derive(Clone)]
pub(crate) struct HookMetrics {
    runs: Family<RunLabels, Counter>,
    duration: Family<KindLabel, Histogram>,
    queued: Gauge,
}

impl HookMetrics {
    /// Empty series.
    pub(crate) fn new() -> Self {
        HookMetrics {
            runs: Family::default(),
            duration: Family::new_with_constructor(duration_buckets),
            queued: Gauge::default(),
        }
    }

    /// Declares them in `registry` (prefixed `heartbeat_` by the node's registry).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "hook_runs",
            "Hook runs, by event kind and outcome (ok, failed: non-zero exit or killed by a signal, timed_out: killed at its timeout, not_started: the command could not be started)",
            self.runs.clone(),
        );
        registry.register_with_unit(
            "hook_duration",
            "How long hook commands ran, by event kind (from start to exit or to the kill at the timeout)",
            Unit::Seconds,
            self.duration.clone(),
        );
        registry.register("hooks_queued", "Hook runs waiting for their turn to start", self.queued.clone());
    }

    /// Counts one run of a hook for an event of `kind`.
    pub(crate) fn record(&self, kind: &'static str, outcome: &Outcome) {
        let name = outcome_name(&outcome.ended, outcome.succeeded());
        self.runs.get_or_create(&RunLabels { kind, outcome: name }).inc();
        if !matches!(outcome.ended, Ended::NotStarted(_)) {
            self.duration.get_or_create(&KindLabel { kind }).observe(outcome.took.as_secs_f64());
        }
    }

    /// `n` more runs wait to start.
    pub(crate) fn queued(&self, n: usize) {
        self.queued.inc_by(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// One waiting run started.
    pub(crate) fn started(&self) {
        self.queued.dec();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn outcome(ended: Ended, took_ms: u64) -> Outcome {
        Outcome { ended, took: Duration::from_millis(took_ms), stdout: String::new(), stderr: String::new() }
    }

    fn exit(code: i32) -> Ended {
        use std::os::unix::process::ExitStatusExt;
        Ended::Exited(std::process::ExitStatus::from_raw(code << 8))
    }

    #[test]
    fn each_outcome_has_its_series_and_started_runs_their_duration() {
        let m = HookMetrics::new();
        let mut registry = Registry::with_prefix("heartbeat");
        m.register(&mut registry);
        m.queued(3);
        m.started();
        m.record("down", &outcome(exit(0), 5));
        m.record("down", &outcome(exit(3), 7));
        m.record("up", &outcome(Ended::TimedOut, 2000));
        m.record("up", &outcome(Ended::NotStarted(std::io::ErrorKind::NotFound.into()), 0));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "heartbeat_hook_runs_total{kind=\"down\",outcome=\"ok\"} 1",
            "heartbeat_hook_runs_total{kind=\"down\",outcome=\"failed\"} 1",
            "heartbeat_hook_runs_total{kind=\"up\",outcome=\"timed_out\"} 1",
            "heartbeat_hook_runs_total{kind=\"up\",outcome=\"not_started\"} 1",
            "heartbeat_hook_duration_seconds_count{kind=\"down\"} 2",
            "heartbeat_hook_duration_seconds_count{kind=\"up\"} 1",
            "heartbeat_hooks_queued 2",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }
}
