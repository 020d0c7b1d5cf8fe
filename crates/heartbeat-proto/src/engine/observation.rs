//! The one type between every liveness profile's decoder and the liveness engine.

use core::time::Duration;

use crate::time::Instant;
use crate::wire::{Echo, Generation, NodeId};

/// What a datagram says about its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObservationKind {
    /// "I am alive."
    Heartbeat,
    /// "I am leaving on purpose": the receiver reports a leave, not a failure.
    Goodbye,
}

/// What a wire profile learned about one peer from one datagram it decoded and authenticated:
/// everything the liveness engine ([`Monitor`](crate::Monitor)) needs, in no wire's terms.
///
/// A profile maps its own identities (node ids, node names, discriminators) to [`NodeId`]s and
/// its own fields to these; the engine judges the observation against the peer's generation
/// and sequence window, refreshes its liveness and feeds its detector. Build one with
/// [`Observation::heartbeat`] or [`Observation::goodbye`] and the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Observation {
    /// Who sent it.
    pub peer: NodeId,
    /// Heartbeat or goodbye.
    pub kind: ObservationKind,
    /// The sender's incarnation: higher after every restart.
    pub generation: Generation,
    /// Increases by one per heartbeat round within a generation.
    pub sequence: u64,
    /// The sender's clock when it sent the datagram (only compared with the same sender's).
    pub sent_at: Instant,
    /// How often the sender sends.
    pub interval: Duration,
    /// The timeout the sender asks to be held to (clamped by the receiver's bounds).
    pub requested_timeout: Duration,
    /// The timeout the sender applies to this node, if it says.
    pub applied_timeout: Option<Duration>,
    /// Whether the sender hears this node.
    pub hears_you: bool,
    /// This node's own timestamp echoed back for a round-trip time, if the datagram was
    /// addressed to this node and carried one.
    pub echo: Option<Echo>,
}

impl Observation {
    /// A heartbeat from `peer`, asking for `requested_timeout`; no echo, not hearing us, no
    /// applied timeout.
    pub const fn heartbeat(
        peer: NodeId,
        generation: Generation,
        sequence: u64,
        sent_at: Instant,
        interval: Duration,
        requested_timeout: Duration,
    ) -> Self {
        Observation {
            peer,
            kind: ObservationKind::Heartbeat,
            generation,
            sequence,
            sent_at,
            interval,
            requested_timeout,
            applied_timeout: None,
            hears_you: false,
            echo: None,
        }
    }

    /// The same observation as a goodbye.
    pub const fn goodbye(self) -> Self {
        Observation { kind: ObservationKind::Goodbye, ..self }
    }

    /// The same observation saying whether the sender hears this node, and with which timeout.
    pub const fn with_hearing(self, hears_you: bool, applied_timeout: Option<Duration>) -> Self {
        Observation { hears_you, applied_timeout, ..self }
    }

    /// The same observation with an echoed timestamp.
    pub const fn with_echo(self, echo: Echo) -> Self {
        Observation { echo: Some(echo), ..self }
    }
}
