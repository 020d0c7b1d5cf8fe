//! What a handle asks of a running driver, in a form every profile and adapter shares: a
//! [`Job`] (a closure the driver runs on what it drives, between turns, with the profile's own
//! methods) or a stop.

use heartbeat_proto::PeerError;
/// Why a peer could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddPeerError {
    /// The core refused it (table full, already present, or this node itself).
    #[error(transparent)]
    Table(PeerError),
    /// More addresses than the driver has links: address `i` is the peer's address on link `i`.
    #[error("{given} addresses for a node with {links} link(s)")]
    TooManyAddresses {
        /// Addresses given.
        given: usize,
        /// Links configured.
        links: usize,
    },
    /// The driver has stopped.
    #[error("the driver has stopped")]
    Stopped,
}

impl From<PeerError> for AddPeerError {
    fn from(err: PeerError) -> Self {
        match err {
            PeerError::TooManyAddresses { given, links } => {
                AddPeerError::TooManyAddresses { given, links: usize::from(links) }
            }
            other => AddPeerError::Table(other),
        }
    }
}

/// Work for a running driver: runs on its thread (or task) with what it drives, between two
/// turns. What the work queues goes out at the turn that follows.
pub type Job<T> = Box<dyn FnOnce(&mut T) + Send>;

/// One request to a running driver that drives a `T`.
#[non_exhaustive]
pub enum Command<T> {
    /// Run this.
    Run(Job<T>),
    /// Stop, gracefully if `graceful` (wire v1: a goodbye; BFD: AdminDown, then linger).
    Stop {
        /// Whether to take leave of the peers first.
        graceful: bool,
    },
}

impl<T> std::fmt::Debug for Command<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Run(_) => f.write_str("Run"),
            Command::Stop { graceful } => f.debug_struct("Stop").field("graceful", graceful).finish(),
        }
    }
}
