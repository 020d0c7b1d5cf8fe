//! Where each peer's frames go: a fixed-capacity table from node id to UDP endpoint.
//!
//! The core names destinations by node id; the socket needs an address. This table is the
//! whole of that mapping. A linear scan is the right tool at embedded sizes (a handful to a few
//! dozen peers) and costs no memory beyond the entries.

use embassy_net::IpEndpoint;
use heartbeat_proto::NodeId;

/// Up to `N` (peer, endpoint) pairs, inline.
#[derive(Debug, Default)]
pub(crate) struct Routes<const N: usize> {
    entries: heapless::Vec<(NodeId, IpEndpoint), N>,
}

impl<const N: usize> Routes<N> {
    pub(crate) const fn new() -> Self {
        Routes { entries: heapless::Vec::new() }
    }

    /// The endpoint of `peer`, if it has one.
    pub(crate) fn get(&self, peer: NodeId) -> Option<IpEndpoint> {
        self.entries.iter().find(|(id, _)| *id == peer).map(|&(_, endpoint)| endpoint)
    }

    /// Records `peer`'s endpoint, replacing an earlier one. Gives the pair back if the table is
    /// full.
    pub(crate) fn insert(&mut self, peer: NodeId, endpoint: IpEndpoint) -> Result<(), (NodeId, IpEndpoint)> {
        match self.entries.iter_mut().find(|(id, _)| *id == peer) {
            Some(entry) => {
                entry.1 = endpoint;
                Ok(())
            }
            None => self.entries.push((peer, endpoint)),
        }
    }

    /// Forgets `peer`; returns whether it was there.
    pub(crate) fn remove(&mut self, peer: NodeId) -> bool {
        match self.entries.iter().position(|(id, _)| *id == peer) {
            Some(index) => {
                self.entries.swap_remove(index);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embassy_net::{IpAddress, Ipv4Address};

    fn id(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    fn endpoint(last: u8) -> IpEndpoint {
        IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, last)), 7000)
    }

    #[test]
    fn a_full_table_gives_the_entry_back_and_keeps_the_others() {
        let mut routes = Routes::<2>::new();
        assert_eq!(routes.insert(id(1), endpoint(1)), Ok(()));
        assert_eq!(routes.insert(id(2), endpoint(2)), Ok(()));
        assert_eq!(routes.insert(id(3), endpoint(3)), Err((id(3), endpoint(3))));
        assert_eq!(routes.get(id(1)), Some(endpoint(1)));
        assert_eq!(routes.get(id(2)), Some(endpoint(2)));
        assert_eq!(routes.get(id(3)), None);
        // Replacing an existing entry needs no room.
        assert_eq!(routes.insert(id(2), endpoint(9)), Ok(()));
        assert_eq!(routes.get(id(2)), Some(endpoint(9)));
    }

    #[test]
    fn removing_frees_room() {
        let mut routes = Routes::<1>::new();
        assert_eq!(routes.insert(id(1), endpoint(1)), Ok(()));
        assert!(!routes.remove(id(2)));
        assert!(routes.remove(id(1)));
        assert_eq!(routes.get(id(1)), None);
        assert_eq!(routes.insert(id(2), endpoint(2)), Ok(()));
    }
}
