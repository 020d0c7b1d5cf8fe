//! Replay protection across restarts: every peer's [`Watermark`] out, and back in after a
//! restart (see [`crate::replay_state`] for the bytes in between).

use super::{Monitor, Watermark};
use crate::detector::Detector;
use crate::storage::Storage;
use crate::wire::NodeId;

/// Why a watermark could not be resumed. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The peer is not in the table (add it first, or it was removed from the configuration).
    #[error("node {0} is not a peer")]
    UnknownPeer(NodeId),
    /// The peer was already heard in this run, or resumed before: what the monitor knows is at
    /// least as new as any earlier run's record, and is kept.
    #[error("node {0} already has a watermark in this run")]
    AlreadyKnown(NodeId),
}

impl<D: Detector, S: Storage> Monitor<D, S> {
    /// Every peer's [`watermark`](Self::watermark), in table order; peers never heard (and
    /// not resumed) are left out. Persist it (for example with
    /// [`replay_state::encode`](crate::replay_state::encode)) every few seconds and at
    /// shutdown, and give it back to [`resume_watermark`](Self::resume_watermark) after a
    /// restart.
    pub fn watermarks(&self) -> impl Iterator<Item = (NodeId, Watermark)> + '_ {
        self.peers().filter_map(|p| Some((p.id, self.watermark(p.id)?)))
    }

    /// Takes up replay protection for peer `id`, already in the table (configured with any
    /// addresses), where an earlier run of this node left it: frames of an older generation
    /// than `mark`'s, or of its generation at or below its sequence, are refused (as
    /// [`StaleGeneration`](crate::Rejected::StaleGeneration),
    /// [`Duplicate`](crate::Rejected::Duplicate) or [`Replayed`](crate::Rejected::Replayed)).
    /// The peer stays `Waiting` until it is heard; a newer generation is a restart as usual.
    ///
    /// Call it before the first frame: a peer already heard in this run (or resumed before)
    /// is [`ResumeError::AlreadyKnown`] and keeps its own, newer record.
    pub fn resume_watermark(&mut self, id: NodeId, mark: Watermark) -> Result<(), ResumeError> {
        let slot = self.peers.find(id).ok_or(ResumeError::UnknownPeer(id))?;
        let Some((peer, _)) = self.peers.record_and_links_mut(slot) else {
            return Err(ResumeError::UnknownPeer(id));
        };
        if peer.has_history() {
            return Err(ResumeError::AlreadyKnown(id));
        }
        peer.resume(mark.generation, mark.sequence);
        Ok(())
    }
}
