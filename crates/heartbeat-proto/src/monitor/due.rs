//! When a peer's liveness changes next: the one place that turns a record and the detector's
//! answer into deadlines, for scheduling and for firing alike.

use crate::config::Config;
use crate::detector::{Detector, PeerTiming};
use crate::peers::{LinkState, Liveness, Peer};
use crate::time::Instant;

/// A peer's timing, once heard.
pub(super) fn timing<P>(config: &Config, peer: &Peer<P>) -> Option<PeerTiming> {
    peer.heard().then(|| PeerTiming {
        last_heard: peer.last_heard,
        interval: peer.interval().unwrap_or(config.interval),
        timeout: peer.timeout(),
        min_timeout: config.min_timeout,
        max_timeout: config.max_timeout,
    })
}

/// When a peer's liveness changes next, absent fresh frames.
#[derive(Debug, Clone, Copy)]
pub(super) struct Due {
    /// `Up` → `Suspect`, for a peer that is up.
    pub(super) suspect: Option<Instant>,
    /// → `Down`: the start-up deadline for a peer never heard, the detector's down deadline
    /// otherwise.
    pub(super) down: Instant,
}

/// The liveness transitions a peer is waiting for; `None` once it is down or left.
pub(super) fn liveness_due<D: Detector>(detector: &D, config: &Config, peer: &Peer<D::PeerState>) -> Option<Due> {
    match peer.liveness {
        Liveness::Waiting => Some(Due { suspect: None, down: peer.last_heard + config.initdead }),
        Liveness::Up | Liveness::Suspect => timing(config, peer).map(|t| {
            let d = detector.deadlines(&peer.detector, &t);
            let suspect = (peer.liveness == Liveness::Up).then(|| d.suspect.min(d.down));
            Due { suspect, down: d.down }
        }),
        Liveness::Down | Liveness::Left => None,
    }
}

/// A peer's next deadline: its next liveness transition, or the earliest deadline of a link
/// still up, whichever comes first. `None` when nothing is due ever (down or left).
pub(super) fn next_deadline<D: Detector>(
    detector: &D,
    config: &Config,
    peer: &Peer<D::PeerState>,
    links: &[LinkState],
) -> Option<Instant> {
    let liveness = liveness_due(detector, config, peer).map(|due| due.suspect.unwrap_or(due.down));
    let timeout = peer.timeout();
    let link = links.iter().filter(|l| l.up).map(|l| l.heard + timeout).min();
    match (liveness, link) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
