//! What `on_message` makes of a frame, and the counters that keep track of it.

use crate::auth::AuthError;
use crate::peers::LinkId;
use crate::wire::{ClusterId, DecodeError, Generation, NodeId};

/// Why `on_message` refused a frame. Refusing changes no state except the matching counter in
/// [`MonitorStats`] (and, for a duplicate, the peer's [`PeerStats::duplicates`](crate::PeerStats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Not a valid v1 frame.
    #[error("malformed frame: {0}")]
    Malformed(#[from] DecodeError),
    /// From another cluster.
    #[error("frame of cluster {0:?}")]
    WrongCluster(ClusterId),
    /// This node's own frame, looped back (as multicast does).
    #[error("own frame looped back")]
    FromSelf,
    /// Addressed to another node.
    #[error("frame addressed to node {0}")]
    NotForUs(NodeId),
    /// The adapter passed a link number outside `0..links`.
    #[error("unknown link {0:?}")]
    UnknownLink(LinkId),
    /// From a sender that is neither configured nor learnable.
    #[error("unknown peer {0}")]
    UnknownPeer(NodeId),
    /// From a learnable sender, but the peer table is at its cap.
    #[error("peer table full, cannot learn {0}")]
    PeerTableFull(NodeId),
    /// Failed authentication: forged, corrupted, or not matching this node's keys.
    #[error("authentication failed: {0}")]
    Auth(AuthError),
    /// From an older generation than the peer's current one: a stale or replayed frame.
    #[error("stale generation {generation:?} from {peer} (current {current:?})")]
    StaleGeneration {
        /// The sender.
        peer: NodeId,
        /// The frame's generation.
        generation: Generation,
        /// The generation in force.
        current: Generation,
    },
    /// A sequence number already accepted.
    #[error("duplicate sequence {sequence} from {peer}")]
    Duplicate {
        /// The sender.
        peer: NodeId,
        /// The repeated sequence number.
        sequence: u64,
    },
    /// A sequence number below the replay window: indistinguishable from a replay.
    #[error("sequence {sequence} from {peer} is below the replay window")]
    Replayed {
        /// The sender.
        peer: NodeId,
        /// The old sequence number.
        sequence: u64,
    },
    /// The event queue has no room for what this frame could cause: drain `poll_event` first.
    #[error("event queue full")]
    EventQueueFull,
}

/// How far a peer's frames have been accepted: its generation and highest sequence number.
/// See [`Monitor::watermark`](super::Monitor::watermark) and
/// [`Monitor::add_peer_after`](super::Monitor::add_peer_after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Watermark {
    /// The peer's generation.
    pub generation: Generation,
    /// The highest sequence number accepted in that generation.
    pub sequence: u64,
}

/// What `on_message` did with an accepted frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accepted {
    /// A fresh heartbeat: the peer's liveness was refreshed.
    Heartbeat,
    /// A fresh goodbye: the peer left.
    Goodbye,
    /// Reordered: counted (it shrinks the loss count), refreshes no liveness and no deadline.
    /// With several links it still shows that the link it came on works, if it is recent.
    Late,
    /// A copy of an accepted frame over another link: refreshes only that link.
    LinkCopy,
}

/// Counters of everything `on_message` saw. Each rejection reason has its own counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MonitorStats {
    /// Fresh heartbeats and goodbyes accepted.
    pub accepted: u64,
    /// Reordered frames counted.
    pub late: u64,
    /// Copies over redundant links.
    pub link_copies: u64,
    /// Peers learned from the wire.
    pub learned: u64,
    /// [`Rejected::Malformed`].
    pub rejected_malformed: u64,
    /// [`Rejected::WrongCluster`].
    pub rejected_cluster: u64,
    /// [`Rejected::FromSelf`].
    pub rejected_self: u64,
    /// [`Rejected::NotForUs`].
    pub rejected_not_for_us: u64,
    /// [`Rejected::UnknownLink`].
    pub rejected_link: u64,
    /// [`Rejected::UnknownPeer`].
    pub rejected_unknown_peer: u64,
    /// [`Rejected::PeerTableFull`].
    pub rejected_table_full: u64,
    /// [`Rejected::Auth`].
    pub rejected_auth: u64,
    /// [`Rejected::StaleGeneration`].
    pub rejected_stale_generation: u64,
    /// [`Rejected::Duplicate`].
    pub rejected_duplicate: u64,
    /// [`Rejected::Replayed`].
    pub rejected_replay: u64,
    /// [`Rejected::EventQueueFull`].
    pub rejected_queue_full: u64,
    /// Local stalls the stall guard caught: `tick`s that came more than the configured
    /// [`local_pause`](crate::ConfigBuilder::local_pause) after a deadline, so that verdicts
    /// were held back (one count per stall, however many peers it held).
    pub local_stalls: u64,
}

impl MonitorStats {
    /// All rejections together.
    pub fn rejected(&self) -> u64 {
        [
            self.rejected_malformed,
            self.rejected_cluster,
            self.rejected_self,
            self.rejected_not_for_us,
            self.rejected_link,
            self.rejected_unknown_peer,
            self.rejected_table_full,
            self.rejected_auth,
            self.rejected_stale_generation,
            self.rejected_duplicate,
            self.rejected_replay,
            self.rejected_queue_full,
        ]
        .into_iter()
        .fold(0, u64::saturating_add)
    }

    pub(super) fn count(&mut self, rejected: &Rejected) {
        let counter = match rejected {
            Rejected::Malformed(_) => &mut self.rejected_malformed,
            Rejected::WrongCluster(_) => &mut self.rejected_cluster,
            Rejected::FromSelf => &mut self.rejected_self,
            Rejected::NotForUs(_) => &mut self.rejected_not_for_us,
            Rejected::UnknownLink(_) => &mut self.rejected_link,
            Rejected::UnknownPeer(_) => &mut self.rejected_unknown_peer,
            Rejected::PeerTableFull(_) => &mut self.rejected_table_full,
            Rejected::Auth(_) => &mut self.rejected_auth,
            Rejected::StaleGeneration { .. } => &mut self.rejected_stale_generation,
            Rejected::Duplicate { .. } => &mut self.rejected_duplicate,
            Rejected::Replayed { .. } => &mut self.rejected_replay,
            Rejected::EventQueueFull => &mut self.rejected_queue_full,
        };
        *counter = counter.saturating_add(1);
    }
}

/// Why a peer could not be added (or moved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The table holds `max_peers` peers or its storage is full.
    #[error("peer table full")]
    TableFull,
    /// The peer is already in the table.
    #[error("peer already present")]
    AlreadyPresent,
    /// A node does not monitor itself.
    #[error("a node cannot be its own peer")]
    IsSelf,
    /// The peer is not in the table.
    #[error("no such peer")]
    NotPresent,
    /// More addresses than links: address `i` is the peer's address on link `i`.
    #[error("{given} addresses for a node with {links} link(s)")]
    TooManyAddresses {
        /// Addresses given.
        given: usize,
        /// Links configured.
        links: u8,
    },
}
