//! One-way paths: a peer this node hears but that does not hear it is `asymmetric` — its own
//! state, with an event when it begins (`kind = "asymmetric"`) and when it ends (`symmetric`).
//!
//! The library classifies a peer from a status snapshot ([`Reachability::of`]); this watcher
//! takes a snapshot every heartbeat interval (the one in force, after a reload too) and logs
//! the changes.

use std::collections::HashMap;
use std::time::Duration;

use heartbeat_proto::{Liveness, PeerStatus, Reachability};
use heartbeat_tokio::Status;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::metrics::server::Node;
use crate::run::reload::Timing;

/// The name of a reachability, as the status spells it.
pub(crate) fn reachability_name(r: Reachability) -> &'static str {
    match r {
        Reachability::Both => "both",
        Reachability::Settling => "settling",
        Reachability::Asymmetric => "asymmetric",
        _ => "unknown",
    }
}

/// The state a peer is reported in: its liveness, but `asymmetric` for a peer that is up and
/// does not hear this node (never with group frames, which do not say whom their sender hears).
pub(crate) fn state_of(p: &PeerStatus, status: &Status) -> &'static str {
    if p.liveness == Liveness::Up
        && !status.config.broadcasts()
        && Reachability::of(p, status.now) == Reachability::Asymmetric
    {
        "asymmetric"
    } else {
        super::report::state_name(p.liveness)
    }
}

/// Logs each peer's one-way path as it begins and ends, until the node stops.
pub(crate) async fn watch(node: Node, timing: watch::Receiver<Timing>, metrics: Option<&Metrics>) {
    let mut one_way: HashMap<u64, bool> = HashMap::new();
    loop {
        let every = timing.borrow().interval;
        tokio::time::sleep(every.max(Duration::from_millis(20))).await;
        let Ok(status) = node.status().await else { return };
        for p in &status.peers {
            let peer = p.id.get();
            let now_one_way = state_of(p, &status) == "asymmetric";
            let was = one_way.insert(peer, now_one_way).unwrap_or(false);
            let at = status.now.since_epoch().as_secs_f64();
            if now_one_way && !was {
                let grace_ms = Reachability::grace(p).as_secs_f64() * 1e3;
                warn!(
                    kind = "asymmetric",
                    peer,
                    at,
                    grace_ms,
                    "peer {peer} is reachable one way only: heard, but it has not heard this node for over {grace_ms} ms"
                );
                if let Some(m) = metrics {
                    m.record_kind(peer, "asymmetric");
                }
            } else if was && !now_one_way {
                info!(
                    kind = "symmetric",
                    peer, at, "peer {peer}: the path works both ways again (or it is no longer heard)"
                );
                if let Some(m) = metrics {
                    m.record_kind(peer, "symmetric");
                }
            }
        }
    }
}
