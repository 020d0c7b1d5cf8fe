//! When a peer's liveness changes next: the one place that turns a record and the detector's
//! answer into deadlines, for scheduling and for firing alike.

use crate::config::Config;
use crate::detector::{Detector, PeerTiming};
use crate::peers::{LinkState, Liveness, Peer};
use core::time::Duration;

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

/// The liveness transitions a peer is waiting for; `None` once it is down or left. They are
/// the rule's, moved later by the peer's grace after a change of the rules (see
/// [`grace_after_change`]).
pub(super) fn liveness_due<D: Detector>(detector: &D, config: &Config, peer: &Peer<D::PeerState>) -> Option<Due> {
    let due = rule_due(detector, config, peer)?;
    let grace = Duration::from_micros(u64::from(peer.grace_us));
    Some(Due { suspect: due.suspect.map(|s| s.saturating_add(grace)), down: due.down.saturating_add(grace) })
}

/// What the rule in force alone says: [`liveness_due`] without the grace.
fn rule_due<D: Detector>(detector: &D, config: &Config, peer: &Peer<D::PeerState>) -> Option<Due> {
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

/// The live-change rule, at a change of the rules at `now` for a peer whose deadline under the
/// old rule was `old` (grace included): the grace, in µs, that its deadlines get under the new
/// rule until its next frame. A rule that is as strict or looser applies at once (no grace), so
/// pushing the same settings again moves nothing. A stricter one judges the peer as if heard at
/// the change, but never later than the old rule would have: the down deadline becomes
/// `min(old, new + silence served)`, so a stricter rule never convicts a peer for silence the
/// old rule allowed, and a dead peer is still declared down by the old deadline at the latest.
pub(super) fn grace_after_change<D: Detector>(
    detector: &D,
    config: &Config,
    peer: &Peer<D::PeerState>,
    old: Option<Instant>,
    now: Instant,
) -> u32 {
    let (Some(old), Some(new)) = (old, rule_due(detector, config, peer)) else { return 0 };
    if new.down >= old {
        return 0;
    }
    let protected = old.min(new.down.saturating_add(now.saturating_duration_since(peer.last_heard)));
    crate::time::duration_micros_u32(protected.saturating_duration_since(new.down))
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
