//! Interfaces as the core's [`LinkId`]s.
//!
//! A single-hop session is tied to an interface (RFC 5881 §3). The core knows links, not
//! interfaces, so the driver numbers the interfaces its sessions name: link 0 is "any
//! interface" (sessions that name none, and every multihop session), links 1, 2, … are the named
//! interfaces in the order first used. A datagram is handed to the core with the link of the
//! interface it arrived on if a session names that interface, else link 0; a datagram the core
//! sends on link `n` goes out of that interface.

use std::io;

use heartbeat_proto::LinkId;

/// The link of sessions that name no interface.
pub const ANY: LinkId = LinkId(0);

/// The interface index of `name` (e.g. `eth0`).
pub fn ifindex(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name)
        .map_err(|err| io::Error::new(io::Error::from(err).kind(), format!("no interface {name:?}: {err}")))
}

/// The interfaces numbered so far.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// `ifindexes[i]` is link `i + 1`.
    ifindexes: Vec<u32>,
}

impl Links {
    /// No interface yet: everything is link 0.
    pub fn new() -> Self {
        Links::default()
    }

    /// The link of interface `ifindex`, numbering it if it is new. `None` once 255 interfaces
    /// are numbered.
    pub fn register(&mut self, ifindex: u32) -> Option<LinkId> {
        if let Some(link) = self.of(ifindex) {
            return Some(link);
        }
        let link = u8::try_from(self.ifindexes.len() + 1).ok()?;
        self.ifindexes.push(ifindex);
        Some(LinkId(link))
    }

    /// The link of interface `ifindex` if it is numbered.
    pub fn of(&self, ifindex: u32) -> Option<LinkId> {
        let i = self.ifindexes.iter().position(|&known| known == ifindex)?;
        u8::try_from(i + 1).ok().map(LinkId)
    }

    /// The link a datagram that arrived on `ifindex` belongs to: its interface's, or [`ANY`].
    pub fn arrived_on(&self, ifindex: Option<u32>) -> LinkId {
        ifindex.and_then(|i| self.of(i)).unwrap_or(ANY)
    }

    /// The interface of `link`; `None` for [`ANY`] or an unknown link.
    pub fn ifindex(&self, link: LinkId) -> Option<u32> {
        usize::from(link.0).checked_sub(1).and_then(|i| self.ifindexes.get(i)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_are_numbered_from_one_and_unknown_ones_are_any() {
        let mut links = Links::new();
        assert_eq!(links.register(7), Some(LinkId(1)));
        assert_eq!(links.register(3), Some(LinkId(2)));
        assert_eq!(links.register(7), Some(LinkId(1)));
        assert_eq!(links.arrived_on(Some(3)), LinkId(2));
        assert_eq!(links.arrived_on(Some(9)), ANY);
        assert_eq!(links.arrived_on(None), ANY);
        assert_eq!((links.ifindex(LinkId(1)), links.ifindex(ANY), links.ifindex(LinkId(5))), (Some(7), None, None));
        for i in 100..353 {
            links.register(i);
        }
        assert_eq!(links.register(1000), None);
    }

    #[test]
    fn loopback_has_an_index_and_nonsense_does_not() {
        assert!(ifindex("lo").is_ok_and(|i| i > 0));
        assert!(ifindex("no-such-if0").is_err());
    }
}
