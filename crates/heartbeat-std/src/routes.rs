//! Where frames go: each peer's address on each link, and the group address of each link.

use std::collections::HashMap;
use std::net::SocketAddr;

use heartbeat_proto::{Destination, Detector, LinkId, Node, NodeId, PeerError, Storage};

/// Why a peer could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddPeerError {
    /// The core refused it (table full, already present, or this node itself).
    #[error(transparent)]
    Table(#[from] PeerError),
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

/// The address book of a driver: address `i` of a peer is where it listens on link `i`.
///
/// A peer may have fewer addresses than there are links (it is then not sent to on the
/// others) or none at all (a node that only multicasts or broadcasts).
#[derive(Debug, Clone, Default)]
pub struct Routes {
    links: usize,
    peers: HashMap<NodeId, Vec<SocketAddr>>,
    groups: Vec<Option<SocketAddr>>,
}

impl Routes {
    /// An empty book for `links` links.
    pub fn new(links: usize) -> Self {
        Routes { links, peers: HashMap::new(), groups: vec![None; links] }
    }

    /// Adds `id` to `node` and records its addresses, or changes neither.
    pub fn add_peer<D: Detector, S: Storage>(
        &mut self,
        node: &mut Node<D, S>,
        id: NodeId,
        addrs: &[SocketAddr],
    ) -> Result<(), AddPeerError> {
        if addrs.len() > self.links {
            return Err(AddPeerError::TooManyAddresses { given: addrs.len(), links: self.links });
        }
        node.add_peer(id)?;
        self.peers.insert(id, addrs.to_vec());
        Ok(())
    }

    /// Removes `id` from `node` and forgets its addresses; returns whether it was a peer.
    pub fn remove_peer<D: Detector, S: Storage>(&mut self, node: &mut Node<D, S>, id: NodeId) -> bool {
        self.peers.remove(&id);
        node.remove_peer(id)
    }

    /// Sets the multicast group or broadcast address that [`Destination::All`] frames go to on
    /// `link`. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        match self.groups.get_mut(usize::from(link.0)) {
            Some(slot) => {
                *slot = Some(addr);
                true
            }
            None => false,
        }
    }

    /// Every (link index, address) a frame for `destination` goes to.
    pub fn targets(&self, destination: Destination) -> impl Iterator<Item = (usize, SocketAddr)> + '_ {
        let (peer, group) = match destination {
            Destination::Peer(id) => (self.peers.get(&id).map(Vec::as_slice).unwrap_or(&[]), &[][..]),
            Destination::All => (&[][..], self.groups.as_slice()),
        };
        let peer = peer.iter().copied().enumerate();
        let group = group.iter().enumerate().filter_map(|(i, a)| a.map(|a| (i, a)));
        peer.chain(group)
    }
}
