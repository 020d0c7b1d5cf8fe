//! SIGHUP: the node re-reads its settings file and applies what can change while it runs —
//! peers added, removed or moved to other addresses, the timing (`interval`, `timeout`, `tick`,
//! `local_pause`), the keys of the key file, and the detectors — without a restart and without
//! losing what it knows of its peers (liveness, sequence numbers and replay windows, detector
//! histories of an unchanged kind). A file that is invalid, or that changes what only a restart
//! can (the sockets, the cluster, authentication on or off), is refused with the reason, and
//! the running settings stay.
//!
//! The rule for deadlines when the timing or a detector changes is the library's
//! (`Monitor::reconfigure`): a peer last heard before the change is judged by the new rule as
//! if heard at the change, so a shorter timeout or a stricter detector never convicts a peer
//! for silence the old rule allowed, and a longer one applies at once.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use heartbeat_proto::{Config, KeyRing, NodeId};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::detectors::Selected;
use crate::duration;
use crate::metrics::Metrics;
use crate::metrics::server::Node;
use crate::settings::{self, NodeSettings, Overrides};

/// What a reload may change, and what it compares to refuse the rest.
pub(crate) struct Reloader {
    path: Option<PathBuf>,
    flags: Overrides,
    running: NodeSettings,
    outcome: Arc<Mutex<ReloadOutcome>>,
    /// The detectors in force, shared with the status answers.
    detectors: Arc<RwLock<Selected>>,
    /// The metrics, if on: a new detector records heartbeat intervals there, and a removed
    /// peer's series go.
    metrics: Option<Arc<Metrics>>,
    /// The interval and timeout in force, for what samples at the interval or tells hooks the
    /// timeout.
    timing: watch::Sender<Timing>,
}

/// This node's own interval and timeout, as last applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    /// Time between heartbeats.
    pub(crate) interval: Duration,
    /// Silence after which a peer is declared down (before negotiation with the peer).
    pub(crate) timeout: Duration,
}

impl Timing {
    fn of(config: &Config) -> Timing {
        Timing { interval: config.interval(), timeout: config.timeout() }
    }
}

/// How the reloads went, for the status (`heartbeat reload` waits for `count` to move).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReloadOutcome {
    /// Reloads attempted since start.
    pub(crate) count: u64,
    /// Whether the latest one was applied.
    pub(crate) applied: bool,
    /// What the latest one did, or why it was refused.
    pub(crate) message: String,
}

/// The peers a reload adds, removes and moves.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PeerChanges {
    pub(crate) added: Vec<(NodeId, Vec<SocketAddr>)>,
    pub(crate) removed: Vec<NodeId>,
    pub(crate) moved: Vec<(NodeId, Vec<SocketAddr>)>,
}

/// Everything a reload changes, decided before any of it is applied.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The settings once applied.
    pub(crate) settings: NodeSettings,
    pub(crate) peers: PeerChanges,
    /// The timing differs: the new configuration goes to the node.
    pub(crate) timing: bool,
    /// The key ring differs: the new one replaces it, with the timing, in one step.
    pub(crate) keys: bool,
    /// The detectors differ.
    pub(crate) detector: bool,
}

impl Plan {
    /// One line saying what the reload did.
    fn describe(&self) -> String {
        let p = &self.peers;
        let mut text = format!(
            "settings reloaded: {} peer(s) added, {} removed, {} moved",
            p.added.len(),
            p.removed.len(),
            p.moved.len()
        );
        let c = &self.settings.config;
        if self.timing {
            let pause = c.local_pause().map_or_else(|| "off".to_string(), duration::show);
            text.push_str(&format!(
                "; timing: interval {}, timeout {}, local_pause {pause}",
                duration::show(c.interval()),
                duration::show(c.timeout())
            ));
        }
        if self.keys
            && let Some(ring) = ring_of(c)
        {
            let ids: Vec<String> = ring.ids().map(|k| k.0.to_string()).collect();
            text.push_str(&format!("; keys {} (signing with {})", ids.join(", "), ring.current().0));
        }
        if self.detector {
            text.push_str(&format!("; detector {}", self.settings.detector.describe()));
        }
        text
    }
}

fn ring_of(config: &Config) -> Option<&KeyRing> {
    config.keys().and_then(|auth| auth.key_ring())
}

impl Reloader {
    /// Reloads `path` (if any) with `flags` over it, against the `running` settings.
    pub(crate) fn new(path: Option<PathBuf>, flags: Overrides, running: NodeSettings) -> Reloader {
        let flags = Overrides { keep_generation: Some(running.config.generation().0), ..flags };
        let detectors = Arc::new(RwLock::new(running.detector.clone()));
        let (timing, _) = watch::channel(Timing::of(&running.config));
        Reloader { path, flags, running, outcome: Arc::default(), detectors, metrics: None, timing }
    }

    /// Gives every detector a reload installs the metrics' interval histograms, and drops the
    /// series of the peers a reload removes.
    pub(crate) fn with_metrics(self, metrics: Option<Arc<Metrics>>) -> Reloader {
        Reloader { metrics, ..self }
    }

    /// The interval and timeout in force, updated by every reload that changes them.
    pub(crate) fn timing(&self) -> watch::Receiver<Timing> {
        self.timing.subscribe()
    }

    /// The outcome the status reports, shared with the control socket's answers.
    pub(crate) fn outcome(&self) -> Arc<Mutex<ReloadOutcome>> {
        Arc::clone(&self.outcome)
    }

    /// The detectors in force, for the status answers.
    pub(crate) fn detectors(&self) -> Arc<RwLock<Selected>> {
        Arc::clone(&self.detectors)
    }

    fn record(&self, applied: bool, message: String) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        *outcome = ReloadOutcome { count: outcome.count + 1, applied, message };
    }

    /// The changes the settings file asks for now, or why they cannot be applied live.
    pub(crate) fn changes(&self) -> Result<Plan, String> {
        let Some(path) = &self.path else { return Err("no --config file to re-read".into()) };
        let new = settings::load(Some(path), self.flags.clone()).map_err(|e| e.to_string())?;
        let (old_c, new_c) = (&self.running.config, &new.config);
        if old_c.authenticated() != new_c.authenticated() {
            return Err("`key_file` / `insecure` changed: turning authentication on or off needs a restart \
                        of every node at once (a node with keys refuses unsigned frames, and the reverse); \
                        nothing applied"
                .into());
        }
        let fixed = [
            ("listen", self.running.listen != new.listen),
            ("cluster", old_c.cluster() != new_c.cluster()),
            ("control", self.running.control != new.control),
            ("metrics", self.running.metrics != new.metrics),
            ("discovery", self.running.discovery != new.discovery),
            ("replay_file", self.running.replay_file != new.replay_file),
        ];
        if let Some((field, _)) = fixed.iter().find(|(_, changed)| *changed) {
            return Err(format!("`{field}` changed, which needs a restart; nothing applied"));
        }
        if let Some(field) = old_c.fixed_field_changed(new_c) {
            return Err(format!("`{field}` changed, which needs a restart; nothing applied"));
        }
        let old: BTreeMap<_, _> = self.running.peers.iter().cloned().collect();
        let now: BTreeMap<_, _> = new.peers.iter().cloned().collect();
        let mut peers = PeerChanges::default();
        for (id, addrs) in &now {
            match old.get(id) {
                None => peers.added.push((*id, addrs.clone())),
                Some(before) if before != addrs => peers.moved.push((*id, addrs.clone())),
                Some(_) => {}
            }
        }
        peers.removed = old.keys().filter(|id| !now.contains_key(id)).copied().collect();
        let timing = old_c.timing_changed(new_c);
        let keys = ring_of(old_c) != ring_of(new_c);
        let detector = !self.running.detector.same_choices(&new.detector);
        Ok(Plan { settings: new, peers, timing, keys, detector })
    }

    /// Applies `plan` to the running node: keys and timing in one step, then the detectors,
    /// then the peers.
    async fn apply(&mut self, node: &Node, mut plan: Plan) -> Result<String, String> {
        if plan.timing || plan.keys {
            match node.reconfigure(plan.settings.config.clone()).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => return Err(format!("{err}, which needs a restart; nothing applied")),
                Err(_) => return Err("the node stopped".into()),
            }
        }
        if plan.detector {
            let detector = match &self.metrics {
                Some(metrics) => plan.settings.detector.clone().with_intervals(metrics.interval_family()),
                None => plan.settings.detector.clone(),
            };
            plan.settings.detector = detector.clone();
            if node.replace_detector(detector.clone()).await.is_err() {
                return Err("the node stopped".into());
            }
            *self.detectors.write().unwrap_or_else(|e| e.into_inner()) = detector;
        } else {
            plan.settings.detector = self.running.detector.clone();
        }
        if plan.timing {
            self.timing.send_replace(Timing::of(&plan.settings.config));
        }
        let changes = &plan.peers;
        for id in &changes.removed {
            let _ = node.remove_peer(*id).await;
            if let Some(metrics) = &self.metrics {
                metrics.forget_peer(id.get());
            }
        }
        // A moved peer keeps its record: no new Up, and its replay window stays. A peer that
        // cannot be moved or added (a table full of learned peers, an id already learned)
        // keeps what the node has, so that the next reload tries it again.
        let mut failed = Vec::new();
        for (id, addrs) in &changes.moved {
            if let Err(err) = node.move_peer(*id, addrs).await {
                failed.push(format!("peer {id} not moved: {err}"));
                let before = self.running.peers.iter().find(|(p, _)| p == id).map(|(_, a)| a.clone());
                if let (Some(before), Some(entry)) = (before, plan.settings.peers.iter_mut().find(|(p, _)| p == id)) {
                    entry.1 = before;
                }
            }
        }
        for (id, addrs) in &changes.added {
            if let Err(err) = node.add_peer(*id, addrs).await {
                failed.push(format!("peer {id} not added: {err}"));
                plan.settings.peers.retain(|(p, _)| p != id);
            }
        }
        let message = plan.describe();
        self.running = plan.settings;
        if failed.is_empty() {
            Ok(message)
        } else {
            Err(format!("partly applied ({message}), but {}; reload again to retry", failed.join("; ")))
        }
    }

    /// Applies the file on every SIGHUP, until the node stops.
    pub(crate) async fn serve(mut self, node: Node) {
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            warn!("cannot handle SIGHUP: no reload");
            return std::future::pending().await;
        };
        while hangups.recv().await.is_some() {
            let started = Instant::now();
            let plan = match self.changes() {
                Ok(plan) => plan,
                Err(reason) => {
                    warn!(kind = "reload_refused", reason, "reload refused: {reason}");
                    self.record(false, reason);
                    continue;
                }
            };
            let (added, removed, moved) = (plan.peers.added.len(), plan.peers.removed.len(), plan.peers.moved.len());
            let (timing, keys, detector) = (plan.timing, plan.keys, plan.detector);
            match self.apply(&node, plan).await {
                Ok(message) => {
                    let took_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let c = &self.running.config;
                    let (key_ids, signing_key) = match ring_of(c) {
                        Some(ring) => {
                            (ring.ids().map(|k| k.0.to_string()).collect::<Vec<_>>().join(","), Some(ring.current().0))
                        }
                        None => (String::new(), None),
                    };
                    info!(
                        kind = "reloaded",
                        added,
                        removed,
                        moved,
                        timing,
                        keys,
                        detector,
                        key_ids,
                        signing_key,
                        interval_ms = c.interval().as_secs_f64() * 1e3,
                        timeout_ms = c.timeout().as_secs_f64() * 1e3,
                        detectors = self.running.detector.describe(),
                        took_us,
                        "{message}"
                    );
                    self.record(true, message);
                }
                Err(reason) => {
                    warn!(kind = "reload_refused", reason, "reload refused: {reason}");
                    self.record(false, reason);
                }
            }
        }
    }
}
