//! SIGHUP: the node re-reads its settings file and applies what can change while it runs —
//! peers added, removed or moved to other addresses. A file that is invalid, or that changes
//! anything else (timing, keys, the detector, the sockets), is refused with the reason, and the
//! running settings stay.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use heartbeat_proto::NodeId;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

use crate::metrics::server::Node;
use crate::settings::{self, NodeSettings, Overrides};

/// What a reload may change, and what it compares to refuse the rest.
pub(crate) struct Reloader {
    path: Option<PathBuf>,
    flags: Overrides,
    running: NodeSettings,
    outcome: Arc<Mutex<ReloadOutcome>>,
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

impl Reloader {
    /// Reloads `path` (if any) with `flags` over it, against the `running` settings.
    pub(crate) fn new(path: Option<PathBuf>, flags: Overrides, running: NodeSettings) -> Reloader {
        let flags = Overrides { keep_generation: Some(running.config.generation().0), ..flags };
        Reloader { path, flags, running, outcome: Arc::default() }
    }

    /// The outcome the status reports, shared with the control socket's answers.
    pub(crate) fn outcome(&self) -> Arc<Mutex<ReloadOutcome>> {
        Arc::clone(&self.outcome)
    }

    fn record(&self, applied: bool, message: String) {
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        *outcome = ReloadOutcome { count: outcome.count + 1, applied, message };
    }

    /// The changes the settings file asks for now, or why they cannot be applied live.
    pub(crate) fn changes(&self) -> Result<(NodeSettings, PeerChanges), String> {
        let Some(path) = &self.path else { return Err("no --config file to re-read".into()) };
        let new = settings::load(Some(path), self.flags.clone()).map_err(|e| e.to_string())?;
        let (old_c, new_c) = (&self.running.config, &new.config);
        let fixed = [
            ("listen", self.running.listen != new.listen),
            ("cluster", old_c.cluster() != new_c.cluster()),
            ("interval", old_c.interval() != new_c.interval()),
            ("timeout", old_c.timeout() != new_c.timeout()),
            ("tick", old_c.timeout_bounds() != new_c.timeout_bounds()),
            ("local_pause", old_c.local_pause() != new_c.local_pause()),
            ("key_file", old_c.keys() != new_c.keys() || old_c.authenticated() != new_c.authenticated()),
            ("detector", self.running.detector.describe() != new.detector.describe()),
            ("control", self.running.control != new.control),
            ("metrics", self.running.metrics != new.metrics),
            ("discovery", self.running.discovery != new.discovery),
        ];
        if let Some((field, _)) = fixed.iter().find(|(_, changed)| *changed) {
            return Err(format!("`{field}` changed, which needs a restart; nothing applied"));
        }
        let old: BTreeMap<_, _> = self.running.peers.iter().cloned().collect();
        let now: BTreeMap<_, _> = new.peers.iter().cloned().collect();
        let mut changes = PeerChanges::default();
        for (id, addrs) in &now {
            match old.get(id) {
                None => changes.added.push((*id, addrs.clone())),
                Some(before) if before != addrs => changes.moved.push((*id, addrs.clone())),
                Some(_) => {}
            }
        }
        changes.removed = old.keys().filter(|id| !now.contains_key(id)).copied().collect();
        Ok((new, changes))
    }

    /// Applies the file on every SIGHUP, until the node stops.
    pub(crate) async fn serve(mut self, node: Node) {
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            warn!("cannot handle SIGHUP: no reload");
            return std::future::pending().await;
        };
        while hangups.recv().await.is_some() {
            match self.changes() {
                Err(reason) => {
                    warn!(kind = "reload_refused", reason, "reload refused: {reason}");
                    self.record(false, reason);
                }
                Ok((new, changes)) => {
                    let (added, removed, moved) = (changes.added.len(), changes.removed.len(), changes.moved.len());
                    for id in &changes.removed {
                        let _ = node.remove_peer(*id).await;
                    }
                    for (id, addrs) in changes.moved.iter().chain(&changes.added) {
                        if changes.moved.iter().any(|(m, _)| m == id) {
                            let _ = node.remove_peer(*id).await;
                        }
                        if let Err(err) = node.add_peer(*id, addrs).await {
                            warn!(peer = id.get(), %err, "reload: cannot add peer {id}");
                        }
                    }
                    self.running = new;
                    let message = format!("settings reloaded: {added} peer(s) added, {removed} removed, {moved} moved");
                    info!(kind = "reloaded", added, removed, moved, "{message}");
                    self.record(true, message);
                }
            }
        }
    }
}
