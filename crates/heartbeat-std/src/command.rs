//! What a [`Handle`](crate::Handle) asks of a running driver, in a form every driver shares:
//! the [`DriverCore`](crate::DriverCore) carries a [`Command`] out and answers through its
//! [`Reply`], whatever channel the adapter uses.

use std::fmt;
use std::net::SocketAddr;

use heartbeat_proto::{LinkId, NodeId, PeerError};

use crate::io_stats::Status;

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

/// Where the answer to a [`Command`] goes: a one-shot callback around the adapter's own
/// channel (an `mpsc::Sender`, a tokio `oneshot::Sender`, ...). An asker that went away is not
/// an error; the callback just drops the answer.
pub struct Reply<T>(Box<dyn FnOnce(T) + Send>);

impl<T> Reply<T> {
    /// A reply that hands the answer to `send`.
    pub fn new(send: impl FnOnce(T) + Send + 'static) -> Self {
        Reply(Box::new(send))
    }

    /// Answers.
    pub fn send(self, answer: T) {
        (self.0)(answer);
    }
}

impl<T> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reply")
    }
}

/// One request to a running driver.
#[derive(Debug)]
#[non_exhaustive]
pub enum Command {
    /// Monitor and send to `id`, at `addrs[i]` on link `i`.
    AddPeer {
        /// The peer.
        id: NodeId,
        /// Its address on each link, in link order (fewer than the links, or none, is fine).
        addrs: Vec<SocketAddr>,
        /// The outcome.
        reply: Reply<Result<(), AddPeerError>>,
    },
    /// Stop monitoring `id`, silently; the reply says whether it was a peer.
    RemovePeer {
        /// The peer.
        id: NodeId,
        /// Whether it was a peer.
        reply: Reply<bool>,
    },
    /// Send frames for every node on `link` to `addr`; the reply says whether the link exists.
    SetGroup {
        /// The link.
        link: LinkId,
        /// Its multicast group or broadcast address.
        addr: SocketAddr,
        /// Whether there is such a link.
        reply: Reply<bool>,
    },
    /// A status snapshot.
    Status(Reply<Status>),
    /// Say goodbye to every peer and keep running (monitoring, sending nothing more).
    Leave,
    /// Stop the driver, after a goodbye if `goodbye`.
    Stop {
        /// Whether to say goodbye first.
        goodbye: bool,
    },
}
