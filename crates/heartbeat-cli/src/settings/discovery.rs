//! `[discovery]`: a node on one link that sends every heartbeat to an IPv4 or IPv6 multicast
//! group or an IPv4 broadcast address, and learns the peers it hears there.
//!
//! ```toml
//! [discovery]
//! multicast = "239.255.42.1:7400"  # or "[ff02::4242]:7400", or broadcast = "198.18.1.255:7400"
//! interface = "198.18.1.1"         # IPv4: the interface's address; IPv6: its name or index
//! ttl = 1                          # multicast TTL / hop limit (default 1: this link only)
//! learn = true                     # peers heard in the group join (default; needs key_file)
//! max_peers = 64                   # configured and learned together (default 64)
//! forget_after = "off"             # or how long a learned peer may stay down before it is dropped
//! ```
//!
//! A learned peer that goes silent is declared down like any other and, by default, kept: its
//! replay window stays, so recorded frames of it are refused while the node runs (not across
//! a restart: the replay file keeps configured peers' marks only). Forgetting it
//! (`forget_after`) frees its slot for a new member but drops that window: someone who
//! recorded its frames on the link could have it learned again, up for as long as the
//! recording lasts. Choose forgetting where ids churn (machines replaced under new ids) and
//! the cap would otherwise fill up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use serde::Deserialize;

use crate::settings_file::SettingsError;

/// The most peers a discovering node holds when the settings name no cap.
pub(crate) const DEFAULT_MAX_PEERS: usize = 64;

/// The `[discovery]` table, or its flags: `None` where they say nothing.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscoveryTable {
    pub(crate) multicast: Option<SocketAddr>,
    pub(crate) broadcast: Option<SocketAddr>,
    pub(crate) interface: Option<String>,
    pub(crate) ttl: Option<u32>,
    pub(crate) learn: Option<bool>,
    pub(crate) max_peers: Option<usize>,
    pub(crate) forget_after: Option<String>,
}

/// Where a discovering node's frames go and how its socket is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Group {
    /// An IPv4 multicast group, joined on the interface with that address.
    V4 { group: SocketAddrV4, interface: Ipv4Addr, ttl: u32 },
    /// An IPv6 multicast group, joined on the interface with that index (the group's scope id).
    V6 { group: SocketAddrV6, interface: u32, hops: u32 },
    /// An IPv4 broadcast address.
    Broadcast { addr: SocketAddr },
}

impl Group {
    /// Where every frame goes.
    pub(crate) fn destination(&self) -> SocketAddr {
        match self {
            Group::V4 { group, .. } => SocketAddr::V4(*group),
            Group::V6 { group, .. } => SocketAddr::V6(*group),
            Group::Broadcast { addr } => *addr,
        }
    }

    /// The address the socket is bound to: any address, on the group's port.
    pub(crate) fn bound(&self) -> SocketAddr {
        let dest = self.destination();
        let any: IpAddr =
            if dest.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { std::net::Ipv6Addr::UNSPECIFIED.into() };
        SocketAddr::new(any, dest.port())
    }

    /// The socket, with the group joined (or broadcast allowed).
    pub(crate) fn socket(&self) -> std::io::Result<std::net::UdpSocket> {
        use heartbeat_std::socket;
        match self {
            Group::V4 { group, interface, ttl } => {
                let s = socket::multicast_v4(*group.ip(), group.port(), *interface)?;
                s.set_multicast_ttl_v4(*ttl)?;
                Ok(s)
            }
            Group::V6 { group, interface, hops } => socket::multicast_v6(*group.ip(), group.port(), *interface, *hops),
            Group::Broadcast { addr } => socket::broadcast_v4(addr.port()),
        }
    }

    /// How the group is shown in logs and the status.
    pub(crate) fn describe(&self) -> String {
        match self {
            Group::V4 { group, interface, ttl } => format!("multicast {group} on {interface} (ttl {ttl})"),
            Group::V6 { group, interface, hops } => format!("multicast {group} on interface {interface} (hops {hops})"),
            Group::Broadcast { addr } => format!("broadcast {addr}"),
        }
    }
}

/// Discovery, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discovery {
    pub(crate) group: Group,
    /// Whether peers heard in the group join (only with keys).
    pub(crate) learn: bool,
    /// Configured and learned peers together.
    pub(crate) max_peers: usize,
    /// How long a learned peer may stay down (or gone) before it is dropped; `None`: kept.
    pub(crate) forget_after: Option<Duration>,
}

impl DiscoveryTable {
    /// The flags' values over the file's.
    pub(crate) fn or_from(self, flags: &DiscoveryTable) -> DiscoveryTable {
        DiscoveryTable {
            multicast: flags.multicast.or(self.multicast),
            broadcast: flags.broadcast.or(self.broadcast),
            interface: flags.interface.clone().or(self.interface),
            ttl: flags.ttl.or(self.ttl),
            learn: flags.learn.or(self.learn),
            max_peers: flags.max_peers.or(self.max_peers),
            forget_after: flags.forget_after.clone().or(self.forget_after),
        }
    }

    /// Whether anything of discovery is set.
    pub(crate) fn is_empty(&self) -> bool {
        *self == DiscoveryTable::default()
    }

    /// Checks the table; `authenticated` says whether the node has keys. `None` if no group is
    /// named (then no other discovery key may be).
    pub(crate) fn check(self, authenticated: bool) -> Result<Option<Discovery>, SettingsError> {
        let bad = |field: &str, reason: String| Err(SettingsError::new(format!("discovery.{field}"), reason));
        let group = match (self.multicast, self.broadcast) {
            (Some(_), Some(_)) => return bad("broadcast", "contradicts `multicast`: choose one".into()),
            (None, None) if self.is_empty() => return Ok(None),
            (None, None) => return bad("multicast", "or `broadcast` is required with the other discovery keys".into()),
            (Some(group), None) => multicast(group, self.interface.as_deref(), self.ttl.unwrap_or(1))?,
            (None, Some(addr)) => {
                if !addr.is_ipv4() {
                    return bad("broadcast", format!("{addr} is not IPv4 (IPv6 has no broadcast: use `multicast`)"));
                }
                if addr.port() == 0 {
                    return bad("broadcast", format!("{addr} needs a port"));
                }
                if self.interface.is_some() || self.ttl.is_some() {
                    return bad("interface", "and `ttl` are for `multicast` only".into());
                }
                Group::Broadcast { addr }
            }
        };
        let learn = self.learn.unwrap_or(true);
        if learn && !authenticated {
            return bad(
                "learn",
                "needs key_file: only a frame with a valid HMAC may create a peer, or a forged one could \
                 fill the table; without keys set `learn = false` (--no-learn) and list the peers"
                    .into(),
            );
        }
        let max_peers = self.max_peers.unwrap_or(DEFAULT_MAX_PEERS);
        if max_peers == 0 {
            return bad("max_peers", "must be at least 1".into());
        }
        let forget_after = match self.forget_after.as_deref().map(str::trim) {
            None | Some("off") => None,
            Some(text) => {
                Some(crate::duration::parse(text).map_err(|r| SettingsError::new("discovery.forget_after", r))?)
            }
        };
        Ok(Some(Discovery { group, learn, max_peers, forget_after }))
    }
}

fn multicast(group: SocketAddr, interface: Option<&str>, ttl: u32) -> Result<Group, SettingsError> {
    let bad = |field: &str, reason: String| Err(SettingsError::new(format!("discovery.{field}"), reason));
    if !group.ip().is_multicast() {
        return bad("multicast", format!("{} is not a multicast address (224.0.0.0/4 or ff00::/8)", group.ip()));
    }
    if group.port() == 0 {
        return bad("multicast", format!("{group} needs a port"));
    }
    if !(1..=255).contains(&ttl) {
        return bad("ttl", format!("{ttl} is outside 1 to 255"));
    }
    match group {
        SocketAddr::V4(group) => {
            let interface = match interface {
                None => Ipv4Addr::UNSPECIFIED,
                Some(text) => match text.trim().parse() {
                    Ok(addr) => addr,
                    Err(_) => return bad("interface", format!("'{text}' is not an IPv4 address of this host")),
                },
            };
            Ok(Group::V4 { group, interface, ttl })
        }
        SocketAddr::V6(v6) => {
            let Some(text) = interface else {
                return bad("interface", "is required for an IPv6 group: the interface's name or index".into());
            };
            let index = interface_index(text.trim()).map_err(|r| SettingsError::new("discovery.interface", r))?;
            let group = SocketAddrV6::new(*v6.ip(), v6.port(), 0, index);
            Ok(Group::V6 { group, interface: index, hops: ttl })
        }
    }
}

/// An interface's index from its number or its name (as `/sys/class/net` lists it).
fn interface_index(text: &str) -> Result<u32, String> {
    if let Ok(index) = text.parse::<u32>() {
        return if index == 0 { Err("index 0 is no interface".into()) } else { Ok(index) };
    }
    if text.is_empty() || text.contains('/') || text.starts_with('.') {
        return Err(format!("'{text}' is not an interface name"));
    }
    let path = format!("/sys/class/net/{text}/ifindex");
    let found = std::fs::read_to_string(&path).map_err(|_| format!("no interface '{text}' on this host"))?;
    found.trim().parse().map_err(|_| format!("cannot read the index of '{text}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(multicast: &str) -> DiscoveryTable {
        DiscoveryTable { multicast: Some(multicast.parse().unwrap()), ..DiscoveryTable::default() }
    }

    #[test]
    fn a_group_with_its_defaults() {
        let d = table("239.255.42.1:7400").check(true).unwrap().unwrap();
        assert_eq!(
            d.group,
            Group::V4 { group: "239.255.42.1:7400".parse().unwrap(), interface: Ipv4Addr::UNSPECIFIED, ttl: 1 }
        );
        assert_eq!((d.learn, d.max_peers, d.forget_after), (true, DEFAULT_MAX_PEERS, None));
        assert_eq!(d.group.bound(), "0.0.0.0:7400".parse().unwrap());
        assert_eq!(DiscoveryTable::default().check(false), Ok(None));
    }

    #[test]
    fn each_refusal_names_its_field() {
        let cases: Vec<(DiscoveryTable, bool, &str)> = vec![
            (table("198.18.0.1:7400"), true, "discovery.multicast"),
            (table("239.1.1.1:0"), true, "discovery.multicast"),
            (DiscoveryTable { ttl: Some(0), ..table("239.1.1.1:1") }, true, "discovery.ttl"),
            (DiscoveryTable { interface: Some("eth0".into()), ..table("239.1.1.1:1") }, true, "discovery.interface"),
            (table("[ff02::42]:7400"), true, "discovery.interface"),
            (
                DiscoveryTable { interface: Some("no-such-if".into()), ..table("[ff02::42]:7400") },
                true,
                "discovery.interface",
            ),
            (table("239.1.1.1:1"), false, "discovery.learn"),
            (DiscoveryTable { max_peers: Some(0), ..table("239.1.1.1:1") }, true, "discovery.max_peers"),
            (
                DiscoveryTable { forget_after: Some("soon".into()), ..table("239.1.1.1:1") },
                true,
                "discovery.forget_after",
            ),
            (
                DiscoveryTable { broadcast: Some("198.18.0.255:1".parse().unwrap()), ..table("239.1.1.1:1") },
                true,
                "discovery.broadcast",
            ),
            (DiscoveryTable { max_peers: Some(3), ..DiscoveryTable::default() }, true, "discovery.multicast"),
            (
                DiscoveryTable { broadcast: Some("[2001:db8::ff]:1".parse().unwrap()), ..DiscoveryTable::default() },
                true,
                "discovery.broadcast",
            ),
        ];
        for (t, keys, field) in cases {
            assert_eq!(t.clone().check(keys).unwrap_err().field, field, "{t:?}");
        }
    }

    #[test]
    fn without_keys_the_group_works_with_a_peer_list_only_and_an_ipv6_group_takes_an_index() {
        let d = DiscoveryTable { learn: Some(false), forget_after: Some("90s".into()), ..table("239.1.1.1:1") };
        let d = d.check(false).unwrap().unwrap();
        assert_eq!((d.learn, d.forget_after), (false, Some(Duration::from_secs(90))));
        let v6 = DiscoveryTable { interface: Some("1".into()), ttl: Some(3), ..table("[ff02::42]:7400") };
        let Group::V6 { group, interface, hops } = v6.check(true).unwrap().unwrap().group else { panic!() };
        assert_eq!((group.to_string(), interface, hops), ("[ff02::42%1]:7400".to_string(), 1, 3));
    }
}
