//! The record of a run: what every observer reported and what the network did, each with its
//! virtual time, in the order it happened.

use std::collections::BTreeMap;

use heartbeat_proto::{Accepted, Event, EventKind, Instant, LinkId, NodeId, Rejected};

use crate::Action;

/// Identifies one frame a node sent (or one injected frame) across its copies and fates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameId(pub u64);

/// Why the network did not deliver a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The link's loss model dropped it.
    Lost,
    /// A partition separated sender and receiver, at sending or at arrival.
    Partitioned,
    /// The receiver was not running (crashed, paused, left or not started) when it arrived.
    ReceiverDown,
    /// The interceptor dropped it.
    Intercepted,
    /// Addressed to a node that is not a member of the simulated cluster.
    NoRoute,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// An observer reported a liveness event.
    Event {
        /// The node that reported it.
        observer: NodeId,
        /// The event, as the node reported it.
        event: Event,
    },
    /// A node sent a frame to `to` over `link` (one record per destination and link).
    Sent {
        /// The frame.
        frame: FrameId,
        /// The sender.
        from: NodeId,
        /// The destination.
        to: NodeId,
        /// The link.
        link: LinkId,
        /// Its length in bytes, after the interceptor.
        len: usize,
    },
    /// A frame was scheduled for delivery by [`Sim::inject`](crate::Sim::inject).
    Injected {
        /// The frame.
        frame: FrameId,
        /// The destination.
        to: NodeId,
        /// The link.
        link: LinkId,
        /// Its length in bytes.
        len: usize,
    },
    /// A frame reached its destination, which handled it with `outcome`. A duplicated frame
    /// is delivered twice under the same id.
    Delivered {
        /// The frame.
        frame: FrameId,
        /// The sender; `None` for injected frames.
        from: Option<NodeId>,
        /// The receiver.
        to: NodeId,
        /// The link.
        link: LinkId,
        /// What the receiver's `on_message` returned.
        outcome: Result<Accepted, Rejected>,
    },
    /// A frame (or one copy of it) was not delivered.
    Dropped {
        /// The frame.
        frame: FrameId,
        /// The sender; `None` for injected frames.
        from: Option<NodeId>,
        /// The intended receiver.
        to: NodeId,
        /// The link.
        link: LinkId,
        /// Why.
        reason: DropReason,
    },
    /// A scheduled action took effect.
    Action(Action),
}

/// One timeline entry: what happened, and when in virtual time.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Virtual time.
    pub at: Instant,
    /// What happened.
    pub what: What,
}

/// How much of a run the timeline keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recording {
    /// Everything: events, actions and every frame's fate.
    #[default]
    Full,
    /// Events and actions only; frames are only counted (see [`NetStats`](crate::NetStats)).
    /// For long runs where per-frame records would cost too much memory.
    EventsAndActions,
}

/// The entries of a run, oldest first, with queries for the common questions (indexed, so
/// that per-pair questions cost no scan of the whole run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    entries: Vec<Entry>,
    /// Positions of the events each (observer, peer) pair reported.
    by_pair: BTreeMap<(NodeId, NodeId), Vec<usize>>,
    /// The latest fresh arrival per (sender, receiver).
    fresh: BTreeMap<(NodeId, NodeId), Instant>,
}

impl Timeline {
    pub(crate) fn push(&mut self, at: Instant, what: What) {
        match &what {
            What::Event { observer, event } => {
                self.by_pair.entry((*observer, event.peer)).or_default().push(self.entries.len());
            }
            What::Delivered { from: Some(from), to, outcome: Ok(Accepted::Heartbeat | Accepted::Goodbye), .. } => {
                self.fresh.insert((*from, *to), at);
            }
            _ => {}
        }
        self.entries.push(Entry { at, what });
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every reported event as `(observer, event)`, oldest first.
    pub fn events(&self) -> impl Iterator<Item = (NodeId, &Event)> + '_ {
        self.entries.iter().filter_map(|e| match &e.what {
            What::Event { observer, event } => Some((*observer, event)),
            _ => None,
        })
    }

    /// The events `observer` reported about `peer`, oldest first.
    pub fn events_about(&self, observer: NodeId, peer: NodeId) -> impl Iterator<Item = &Event> + '_ {
        let positions = self.by_pair.get(&(observer, peer)).map_or(&[][..], Vec::as_slice);
        positions.iter().filter_map(|&i| match &self.entries[i].what {
            What::Event { event, .. } => Some(event),
            _ => None,
        })
    }

    /// How many events matching `pred` any observer reported.
    pub fn count_events(&self, mut pred: impl FnMut(NodeId, &Event) -> bool) -> usize {
        self.events().filter(|(o, e)| pred(*o, e)).count()
    }

    /// How many `Down` events any observer reported.
    pub fn downs(&self) -> usize {
        self.count_events(|_, e| matches!(e.kind, EventKind::Down { .. }))
    }

    /// When `to` last accepted a fresh heartbeat or goodbye from `from` (needs
    /// [`Recording::Full`]). This is the "last heard" a correct monitor counts its deadline
    /// from.
    pub fn last_fresh_arrival(&self, from: NodeId, to: NodeId) -> Option<Instant> {
        self.fresh.get(&(from, to)).copied()
    }
}
