//! What the monitor tells its user: liveness transitions, one event each, in order.

#[cfg(feature = "explain")]
mod evidence;

use heapless::Deque;

#[cfg(feature = "explain")]
pub use evidence::{DeadlineSource, Evidence, Verdict};

use crate::peers::LinkId;
use crate::time::Instant;
use crate::wire::{Generation, NodeId};

/// A change in a peer's liveness (or one of its links), decided at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// When the change was decided: the `now` of the `tick` or `on_message` that caused it.
    pub at: Instant,
    /// The peer concerned.
    pub peer: NodeId,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// First heard, or heard again after being `Suspect`, `Down` or `Left` (same generation).
    Up {
        /// The generation heard.
        generation: Generation,
    },
    /// Late: silent past its suspect deadline (Linux-HA's "late heartbeat" warning).
    Suspect {
        /// When it was last heard.
        last_heard: Instant,
    },
    /// Silent past its timeout, or never heard within `initdead`.
    Down {
        /// When it was last heard; `None` if never.
        last_heard: Option<Instant>,
        /// The deadline that passed. `at - deadline` is how late the detection came.
        deadline: Instant,
    },
    /// Heard with a higher generation: the peer restarted. It is up; its sequence history was
    /// reset. Replaces `Up` for this transition.
    Restarted {
        /// The generation heard before.
        previous: Generation,
        /// The new generation.
        generation: Generation,
    },
    /// Said goodbye: it left on purpose. No `Down` follows.
    Left,
    /// One link of a multi-link peer delivers again (or for the first time).
    LinkUp {
        /// The link.
        link: LinkId,
    },
    /// One link of a multi-link peer has been silent for the peer's timeout, or the peer went
    /// down or left.
    LinkDown {
        /// The link.
        link: LinkId,
    },
    /// What the `Suspect` or `Down` queued right after it (same peer, same instant) rested on.
    /// Only with [`ConfigBuilder::explain_verdicts`](crate::ConfigBuilder::explain_verdicts)
    /// (feature `explain`).
    #[cfg(feature = "explain")]
    Explained(Evidence),
}

/// How many events can wait to be polled. The monitor never takes in more than fits: a `tick`
/// that would overflow it leaves the rest of the expired timers to fire as `poll_event` makes room, and a
/// message that could overflow it is refused ([`Rejected::EventQueueFull`]).
///
/// [`Rejected::EventQueueFull`]: crate::Rejected::EventQueueFull
pub const EVENT_QUEUE_LEN: usize = 16;

// One peer's change raises at most one event per link plus its own and its evidence: it must
// always fit.
const _: () = assert!(EVENT_QUEUE_LEN > crate::config::MAX_LINKS as usize + 1);

/// The bounded queue behind `poll_event`.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    queue: Deque<Event, EVENT_QUEUE_LEN>,
}

impl EventQueue {
    pub(crate) fn room(&self) -> usize {
        EVENT_QUEUE_LEN - self.queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues `event`. Callers check [`room`](Self::room) first; a full queue drops nothing
    /// that was already queued.
    pub(crate) fn push(&mut self, at: Instant, peer: NodeId, kind: EventKind) {
        let pushed = self.queue.push_back(Event { at, peer, kind });
        debug_assert!(pushed.is_ok(), "event queue overflow: room was not checked");
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        self.queue.pop_front()
    }
}
