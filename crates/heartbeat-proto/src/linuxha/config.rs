//! Reading an existing `ha.cf`: the directives a heartbeat profile needs, Heartbeat's defaults.
//!
//! Times are a number of seconds, or with a `ms` / `us` suffix (`keepalive 500ms`); a fraction
//! is allowed (`deadtime 1.5`). Unknown directives are skipped (Heartbeat has dozens that do
//! not concern liveness: `logfile`, `crm`, `respawn`, ...). Defaults, from Heartbeat:
//!
//! | directive | default |
//! |---|---|
//! | `keepalive` | 1 s |
//! | `deadtime` | 30 s |
//! | `warntime` | deadtime / 2 |
//! | `initdead` | deadtime if > 10 s; 12 s if deadtime < 6 s; else 2 × deadtime |
//! | `udpport` | 694 |
//! | `auto_failback` | `legacy` |

use core::net::IpAddr;
use core::time::Duration;

use heapless::Vec;

use crate::auth::Authentication;
use crate::config::{Config, ConfigBuilder};
use crate::wire::{ClusterId, NodeId};

/// How often Heartbeat checks for dead nodes (`check_for_timeouts`): the monitor's tick.
pub const CHECK_PERIOD: Duration = Duration::from_millis(250);

/// The most `node` names one `ha.cf` may list.
pub const MAX_NODES: usize = 32;
/// The most media (`ucast`, `mcast`, `bcast` interfaces) one `ha.cf` may list.
pub const MAX_MEDIA: usize = 16;

/// One heartbeat medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Medium<'a> {
    /// `ucast IFACE PEER-ADDRESS`.
    Ucast {
        /// The interface.
        interface: &'a str,
        /// The peer's address.
        peer: IpAddr,
    },
    /// `mcast IFACE GROUP PORT TTL LOOP`.
    Mcast {
        /// The interface.
        interface: &'a str,
        /// The group.
        group: IpAddr,
        /// The UDP port.
        port: u16,
        /// The multicast TTL (1..=255).
        ttl: u8,
        /// Whether multicast loopback is on.
        loopback: bool,
    },
    /// `bcast IFACE...`: one per interface.
    Bcast {
        /// The interface.
        interface: &'a str,
    },
}

/// `auto_failback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AutoFailback {
    /// `on`: resources go back to their preferred node.
    On,
    /// `off`: they stay.
    Off,
    /// `legacy` (the default): `on` unless some node lacks `auto_failback`.
    Legacy,
}

/// Why an `ha.cf` was refused (1-based line numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A time that is not `<number>[ms|us|s]`.
    #[error("line {line}: bad time")]
    BadTime {
        /// The line.
        line: usize,
    },
    /// A directive with missing or malformed arguments.
    #[error("line {line}: bad arguments")]
    BadArguments {
        /// The line.
        line: usize,
    },
    /// More nodes or media than this reader holds.
    #[error("line {line}: too many nodes or media")]
    TooMany {
        /// The line.
        line: usize,
    },
    /// `deadtime` not longer than twice `keepalive`.
    #[error("deadtime must be more than twice keepalive")]
    DeadtimeTooShort,
    /// `initdead` shorter than `deadtime`.
    #[error("initdead must be at least deadtime")]
    InitdeadTooShort,
    /// `warntime` not shorter than `deadtime`.
    #[error("warntime must be shorter than deadtime")]
    WarntimeTooLong,
}

/// What an `ha.cf` says about heartbeats, borrowed from its text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HaCf<'a> {
    /// Interval between our own status heartbeats.
    pub keepalive: Duration,
    /// Silence after which a node is dead.
    pub deadtime: Duration,
    /// Lateness after which a heartbeat is "late".
    pub warntime: Duration,
    /// The longer deadline before communication is up.
    pub initdead: Duration,
    /// The UDP port (`ucast` and `bcast`; `mcast` names its own).
    pub udpport: u16,
    /// The media, in file order.
    pub media: Vec<Medium<'a>, MAX_MEDIA>,
    /// The cluster's node names, in file order (compare them case-insensitively: Heartbeat
    /// lower-cases them).
    pub nodes: Vec<&'a str, MAX_NODES>,
    /// `auto_failback`.
    pub auto_failback: AutoFailback,
}

/// Parses a time: seconds, or `ms` / `us` suffixed; a decimal fraction allowed.
pub fn parse_time(s: &str) -> Option<Duration> {
    let (number, nanos_per_unit) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000_000u64)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1_000)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000_000_000)
    } else {
        (s, 1_000_000_000)
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) || frac.len() > 9 {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut nanos = whole.checked_mul(nanos_per_unit)?;
    let mut scale = nanos_per_unit;
    for d in frac.bytes() {
        scale /= 10;
        nanos = nanos.checked_add(u64::from(d - b'0') * scale)?;
    }
    Some(Duration::from_nanos(nanos))
}

impl<'a> HaCf<'a> {
    /// Parses the text of an `ha.cf`: `#` starts a comment, a directive and its arguments are
    /// separated by whitespace, `node` may repeat.
    pub fn parse(text: &'a str) -> Result<HaCf<'a>, ConfigError> {
        let mut keepalive = Duration::from_secs(1);
        let mut deadtime = Duration::from_secs(30);
        let mut warntime = None;
        let mut initdead = None;
        let mut udpport = 694;
        let mut media = Vec::new();
        let mut nodes = Vec::new();
        let mut auto_failback = AutoFailback::Legacy;
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let content = raw.split('#').next().unwrap_or("");
            let mut words = content.split_ascii_whitespace();
            let Some(directive) = words.next() else { continue };
            let bad = ConfigError::BadArguments { line };
            let too_many = ConfigError::TooMany { line };
            let time = |w: Option<&str>| w.and_then(parse_time).ok_or(ConfigError::BadTime { line });
            match directive {
                "keepalive" => keepalive = time(words.next())?,
                "deadtime" => deadtime = time(words.next())?,
                "warntime" => warntime = Some(time(words.next())?),
                "initdead" => initdead = Some(time(words.next())?),
                "udpport" => udpport = words.next().and_then(|p| p.parse().ok()).filter(|p| *p != 0).ok_or(bad)?,
                "node" => {
                    let mut any = false;
                    for name in words.by_ref() {
                        nodes.push(name).map_err(|_| too_many)?;
                        any = true;
                    }
                    if !any {
                        return Err(bad);
                    }
                }
                "ucast" => {
                    let interface = words.next().ok_or(bad)?;
                    let peer = words.next().and_then(|a| a.parse().ok()).ok_or(bad)?;
                    media.push(Medium::Ucast { interface, peer }).map_err(|_| too_many)?;
                }
                "mcast" => {
                    let interface = words.next().ok_or(bad)?;
                    let group: IpAddr = words.next().and_then(|a| a.parse().ok()).ok_or(bad)?;
                    let port = words.next().and_then(|p| p.parse().ok()).filter(|p| *p != 0).ok_or(bad)?;
                    let ttl = words.next().and_then(|t| t.parse().ok()).filter(|t| *t != 0).ok_or(bad)?;
                    let loopback = match words.next() {
                        Some("0") => false,
                        Some("1") => true,
                        _ => return Err(bad),
                    };
                    if !group.is_multicast() {
                        return Err(bad);
                    }
                    media.push(Medium::Mcast { interface, group, port, ttl, loopback }).map_err(|_| too_many)?;
                }
                "bcast" => {
                    let mut any = false;
                    for interface in words.by_ref() {
                        media.push(Medium::Bcast { interface }).map_err(|_| too_many)?;
                        any = true;
                    }
                    if !any {
                        return Err(bad);
                    }
                }
                "auto_failback" => {
                    auto_failback = match words.next() {
                        Some("on" | "yes" | "true" | "1") => AutoFailback::On,
                        Some("off" | "no" | "false" | "0") => AutoFailback::Off,
                        Some("legacy") => AutoFailback::Legacy,
                        _ => return Err(bad),
                    }
                }
                _ => continue,
            }
            // One-argument directives take exactly one.
            if matches!(
                directive,
                "keepalive" | "deadtime" | "warntime" | "initdead" | "udpport" | "ucast" | "mcast" | "auto_failback"
            ) && words.next().is_some()
            {
                return Err(bad);
            }
        }
        if deadtime <= keepalive * 2 {
            return Err(ConfigError::DeadtimeTooShort);
        }
        let warntime = warntime.unwrap_or(deadtime / 2);
        if warntime >= deadtime {
            return Err(ConfigError::WarntimeTooLong);
        }
        let initdead = initdead.unwrap_or(if deadtime > Duration::from_secs(10) {
            deadtime
        } else if deadtime < Duration::from_secs(6) {
            Duration::from_secs(12)
        } else {
            deadtime * 2
        });
        if initdead < deadtime {
            return Err(ConfigError::InitdeadTooShort);
        }
        Ok(HaCf { keepalive, deadtime, warntime, initdead, udpport, media, nodes, auto_failback })
    }

    /// A [`Monitor`](crate::Monitor) configuration for node `node` with these timings: tick
    /// [`CHECK_PERIOD`], interval `keepalive`, timeout `deadtime`, `initdead`, and bounds
    /// `[2 × keepalive, max(initdead, deadtime)]` into which a peer's advertised `dt` is clamped
    /// (Heartbeat itself applies any `dt` a peer sends). Authentication is
    /// [`Authentication::None`] because the Linux-HA profile authenticates before it hands the
    /// monitor an observation ([`Monitor::observe`](crate::Monitor::observe)). Adjust with the
    /// builder's methods before `build`.
    pub fn monitor_config(&self, cluster: ClusterId, node: NodeId) -> ConfigBuilder {
        Config::builder(cluster, node)
            .tick(CHECK_PERIOD)
            .interval(self.keepalive)
            .timeout(self.deadtime)
            .initdead(self.initdead)
            .min_timeout(self.keepalive.saturating_mul(2))
            .max_timeout(self.initdead.max(self.deadtime))
            .authentication(Authentication::None)
    }

    /// Whether `name` is a configured node (ASCII case-insensitively).
    pub fn has_node(&self, name: &str) -> bool {
        self.nodes.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "# ha.cf\nuse_logd no\nlogfile   $LAB/ha-log\nudpport   694\nkeepalive 500ms\n\
warntime  1\ndeadtime  2\ninitdead  4\nucast     lhaA0 10.77.0.2\nnode      hbnode1 hbnode2\n\
crm       no\nauto_failback off\nrealtime  off\n";

    #[test]
    fn the_lab_ha_cf_reads_as_written() {
        let cf = HaCf::parse(LAB).unwrap();
        assert_eq!(cf.keepalive, Duration::from_millis(500));
        assert_eq!(cf.deadtime, Duration::from_secs(2));
        assert_eq!(cf.warntime, Duration::from_secs(1));
        assert_eq!(cf.initdead, Duration::from_secs(4));
        assert_eq!(cf.udpport, 694);
        assert_eq!(&cf.nodes[..], ["hbnode1", "hbnode2"]);
        assert_eq!(&cf.media[..], [Medium::Ucast { interface: "lhaA0", peer: "10.77.0.2".parse().unwrap() }]);
        assert_eq!(cf.auto_failback, AutoFailback::Off);
        assert!(cf.has_node("HBNODE2"));
    }

    #[test]
    fn defaults_and_derived_defaults_follow_heartbeat() {
        let cf = HaCf::parse("").unwrap();
        assert_eq!(
            (cf.keepalive, cf.deadtime, cf.warntime, cf.initdead),
            (Duration::from_secs(1), Duration::from_secs(30), Duration::from_secs(15), Duration::from_secs(30))
        );
        assert_eq!(cf.auto_failback, AutoFailback::Legacy);
        let initdead = |dead: &str| HaCf::parse(dead).unwrap().initdead;
        assert_eq!(initdead("keepalive 1\ndeadtime 5"), Duration::from_secs(12));
        assert_eq!(initdead("keepalive 1\ndeadtime 8"), Duration::from_secs(16));
        assert_eq!(initdead("keepalive 1\ndeadtime 10"), Duration::from_secs(20));
        assert_eq!(initdead("keepalive 1\ndeadtime 11"), Duration::from_secs(11));
        assert_eq!(HaCf::parse("keepalive 1\ndeadtime 8").unwrap().warntime, Duration::from_secs(4));
    }

    #[test]
    fn times_take_seconds_ms_and_us() {
        assert_eq!(parse_time("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_time("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_time("250us"), Some(Duration::from_micros(250)));
        assert_eq!(parse_time("1.5"), Some(Duration::from_millis(1500)));
        for bad in ["", "ms", "x", "1x", "-1", "1.2.3", "1 s", "99999999999999999999"] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn media_of_every_kind() {
        let cf = HaCf::parse("mcast eth0 225.0.0.1 694 1 0\nbcast eth1 eth2\nnode a\nnode b c").unwrap();
        assert_eq!(cf.media.len(), 3);
        assert_eq!(
            cf.media[0],
            Medium::Mcast {
                interface: "eth0",
                group: "225.0.0.1".parse().unwrap(),
                port: 694,
                ttl: 1,
                loopback: false
            }
        );
        assert_eq!(cf.media[2], Medium::Bcast { interface: "eth2" });
        assert_eq!(&cf.nodes[..], ["a", "b", "c"]);
    }

    #[test]
    fn every_bad_ha_cf_is_refused_with_its_reason() {
        use ConfigError::*;
        let cases: &[(&str, ConfigError)] = &[
            ("keepalive soon", BadTime { line: 1 }),
            ("keepalive", BadTime { line: 1 }),
            ("\ndeadtime 2 3", BadArguments { line: 2 }),
            ("udpport 0", BadArguments { line: 1 }),
            ("udpport 70000", BadArguments { line: 1 }),
            ("ucast eth0", BadArguments { line: 1 }),
            ("ucast eth0 not-an-ip", BadArguments { line: 1 }),
            ("mcast eth0 10.0.0.1 694 1 0", BadArguments { line: 1 }),
            ("mcast eth0 225.0.0.1 694 1 2", BadArguments { line: 1 }),
            ("bcast", BadArguments { line: 1 }),
            ("node", BadArguments { line: 1 }),
            ("auto_failback maybe", BadArguments { line: 1 }),
            ("keepalive 1\ndeadtime 2", DeadtimeTooShort),
            ("deadtime 10\nwarntime 10", WarntimeTooLong),
            ("deadtime 10\ninitdead 5", InitdeadTooShort),
        ];
        for (text, want) in cases {
            assert_eq!(HaCf::parse(text).unwrap_err(), *want, "{text:?}");
        }
        let many: std::string::String = (0..=MAX_NODES).map(|i| std::format!("node n{i}\n")).collect();
        assert_eq!(HaCf::parse(&many).unwrap_err(), TooMany { line: MAX_NODES + 1 });
    }
}
