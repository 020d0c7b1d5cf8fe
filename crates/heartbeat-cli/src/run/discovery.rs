//! A discovering node's bookkeeping: the peers the library learned from the group are logged
//! (`kind = "learned"`) and counted, refusals of the peer cap are reported, and a learned peer
//! that stays down or gone for `forget_after` is dropped (`kind = "forgotten"`), its metrics
//! series with it.
//!
//! The library does the learning itself (`Learning::Enabled`): a frame from an unknown sender
//! creates a peer only once its HMAC checks and while the table (`max_peers`, configured and
//! learned together) has room; anything else is refused and counted (`unknown_peer`, `auth`,
//! `peer_table_full`) without touching the table. Every frame goes to the group, so a learned
//! peer needs no address of its own. This watcher takes a status snapshot every heartbeat
//! interval, so a `learned` line follows the peer's `up` by at most one interval.

use std::collections::HashSet;
use std::time::Duration;

use heartbeat_proto::Liveness;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::metrics::server::Node;
use crate::settings::discovery::Discovery;

/// How often a flood of refused frames is reported, at most.
const REFUSAL_REPORT_EVERY: Duration = Duration::from_secs(10);

/// What the status says about discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DiscoveryReport {
    /// Where every frame goes (`multicast 239.255.42.1:7400 on 198.18.1.1 (ttl 1)`).
    pub(crate) group: String,
    /// Whether peers heard in the group join.
    pub(crate) learning: bool,
    /// The most peers held, configured and learned together.
    pub(crate) max_peers: usize,
    /// Learned peers held now.
    pub(crate) learned_now: usize,
    /// Peers learned since start (a forgotten one learned again counts again).
    pub(crate) learned_total: u64,
    /// Frames of unknown senders refused because the table was full.
    pub(crate) refused_table_full: u64,
    /// Frames of unknown senders refused because learning is off.
    pub(crate) refused_unknown_peer: u64,
    /// Frames refused for a missing or bad HMAC (from anyone).
    pub(crate) refused_auth: u64,
}

impl DiscoveryReport {
    /// The report of `status` for a node set up with `discovery`.
    pub(crate) fn new(discovery: &Discovery, status: &heartbeat_tokio::Status) -> Self {
        let f = &status.frames;
        DiscoveryReport {
            group: discovery.group.describe(),
            learning: discovery.learn,
            max_peers: discovery.max_peers,
            learned_now: status.peers.iter().filter(|p| p.learned).count(),
            learned_total: f.learned,
            refused_table_full: f.rejected_table_full,
            refused_unknown_peer: f.rejected_unknown_peer,
            refused_auth: f.rejected_auth,
        }
    }
}

/// Logs learned peers, reports refusals and forgets long-dead learned peers, until the node
/// stops.
pub(crate) async fn watch(node: Node, discovery: Discovery, every: Duration, metrics: Option<&Metrics>) {
    let mut known: HashSet<u64> = HashSet::new();
    let mut refused_reported = 0;
    let mut last_report: Option<tokio::time::Instant> = None;
    // Forgotten at the previous tick: their series are dropped once more, in case a scrape
    // applied a snapshot taken just before they went.
    let mut forgotten: Vec<u64> = Vec::new();
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(20)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Ok(status) = node.status().await else { return };
        let at = status.now.since_epoch().as_secs_f64();
        for peer in forgotten.drain(..) {
            if let Some(m) = metrics {
                m.forget_peer(peer);
            }
        }
        let mut present = HashSet::new();
        for p in status.peers.iter().filter(|p| p.learned) {
            let peer = p.id.get();
            present.insert(peer);
            if known.insert(peer) {
                let generation = p.generation.map(|g| g.0);
                info!(kind = "learned", peer, at, generation, "peer {peer} learned from the group");
                if let Some(m) = metrics {
                    m.record_kind(peer, "learned");
                }
            }
            let gone = matches!(p.liveness, Liveness::Down | Liveness::Left);
            if let Some(after) = discovery.forget_after.filter(|after| gone && status.now - p.since >= *after)
                && node.remove_peer(p.id).await.unwrap_or(false)
            {
                present.remove(&peer);
                let after_s = after.as_secs_f64();
                info!(kind = "forgotten", peer, at, after_s, "learned peer {peer} forgotten: gone for {after_s} s");
                if let Some(m) = metrics {
                    m.forget_peer(peer);
                }
                forgotten.push(peer);
            }
        }
        known.retain(|peer| present.contains(peer));
        let refused = status.frames.rejected_table_full;
        let due = last_report.is_none_or(|t| t.elapsed() >= REFUSAL_REPORT_EVERY);
        if refused > refused_reported && due {
            let (max_peers, new) = (discovery.max_peers, refused - refused_reported);
            warn!(
                kind = "learn_refused",
                at,
                refused = new,
                total = refused,
                max_peers,
                "{new} frame(s) of unknown senders refused: the peer table is full ({max_peers} peers)"
            );
            refused_reported = refused;
            last_report = Some(tokio::time::Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::run::reload::Reloader;
    use crate::settings::{self, Overrides};

    #[test]
    fn a_reload_that_changes_discovery_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::write(&keys, format!("1 {}\n", "cd".repeat(32))).unwrap();
        std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let path = dir.path().join("node.toml");
        let file = |cap: usize| {
            let text = format!(
                "id = 1\nkey_file = \"{}\"\n[discovery]\nmulticast = \"239.255.42.1:7400\"\nmax_peers = {cap}\n",
                keys.display()
            );
            std::fs::write(&path, text).unwrap();
        };
        file(8);
        let running = settings::load(Some(&path), Overrides::default()).unwrap();
        let reloader = Reloader::new(Some(path.clone()), Overrides::default(), running);
        assert!(reloader.changes().is_ok(), "the same file reloads");
        file(9);
        let refused = reloader.changes().unwrap_err();
        assert!(refused.contains("`discovery` changed"), "{refused}");
    }
}
