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
///
/// `changed` is when the monitor's settings or detector last changed while it ran
/// ([`Monitor::reconfigure`](super::Monitor::reconfigure)): for a peer last heard before then,
/// the deadlines the new rule gives count from the change instead of from its last frame (see
/// [`from_change`]).
pub(super) fn liveness_due<D: Detector>(
    detector: &D,
    config: &Config,
    peer: &Peer<D::PeerState>,
    changed: Option<Instant>,
) -> Option<Due> {
    let due = match peer.liveness {
        Liveness::Waiting => Some(Due { suspect: None, down: peer.last_heard + config.initdead }),
        Liveness::Up | Liveness::Suspect => timing(config, peer).map(|t| {
            let d = detector.deadlines(&peer.detector, &t);
            let suspect = (peer.liveness == Liveness::Up).then(|| d.suspect.min(d.down));
            Due { suspect, down: d.down }
        }),
        Liveness::Down | Liveness::Left => None,
    }?;
    Some(from_change(due, peer.last_heard, changed))
}

/// The live-change rule: a peer last heard at `last_heard`, before a change of the rules at
/// `changed`, is judged by the new rule as if its last frame had arrived at the change. Its
/// deadlines move later by the silence it had already served, so a rule that became stricter
/// (a shorter timeout, a tighter bound, a fresh detector) never convicts a peer for silence
/// that was within the old rule, and one that became looser applies at once. The cost: a peer
/// that was already dead when the rule changed is declared down at most that silence later.
/// The next frame from the peer ends the shift, since it arrives after the change.
pub(super) fn from_change(due: Due, last_heard: Instant, changed: Option<Instant>) -> Due {
    match changed {
        Some(at) if at > last_heard => {
            let served = at - last_heard;
            Due { suspect: due.suspect.map(|s| s.saturating_add(served)), down: due.down.saturating_add(served) }
        }
        _ => due,
    }
}

/// A peer's next deadline (`changed` as for [`liveness_due`]): its next liveness transition, or the earliest deadline of a link
/// still up, whichever comes first. `None` when nothing is due ever (down or left).
pub(super) fn next_deadline<D: Detector>(
    detector: &D,
    config: &Config,
    peer: &Peer<D::PeerState>,
    links: &[LinkState],
    changed: Option<Instant>,
) -> Option<Instant> {
    let liveness = liveness_due(detector, config, peer, changed).map(|due| due.suspect.unwrap_or(due.down));
    let timeout = peer.timeout();
    let link = links.iter().filter(|l| l.up).map(|l| l.heard + timeout).min();
    match (liveness, link) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
