//! [`LinuxHaNode`]: a whole Linux-HA cluster member, sans-IO — our [`Monitor`] fed by the
//! [`LinuxHa`] profile, plus our own status heartbeat to every configured destination.
//!
//! What it sends, and when:
//!
//! - `t=status st=active` every `keepalive`, **exactly** (no jitter, as Heartbeat's own
//!   `send_local_status`), the first at start. One datagram per round, the same bytes (one
//!   sequence number) to every destination, as Heartbeat sends one message on every medium.
//! - `dt` = our `deadtime` (what a peer holds us to), `hg` = the caller's generation, `ts` =
//!   wall-clock seconds from the caller's wall clock at start plus the time elapsed since.
//! - No `protocol=1`: a real 3.0.6 peer then turns its flow control off, so it neither waits
//!   for acks nor sends `t=reqnodes` (this node does not answer those).
//! - On [`leave`](LinuxHaNode::leave): one last `t=status st=dead`, then `t=shutdone st=dead`,
//!   then nothing more. Heartbeat stores a node's `st` verbatim from its status messages only
//!   (a `t=shutdone` triggers its resource takeover but leaves the status as it was), so the
//!   status heartbeat is what makes `cl_status nodestatus` say `dead` at once instead of after
//!   the deadtime; the notice is what logs "Received shutdown notice".
//!
//! Destinations come from `ha.cf`: `ucast IFACE ADDR` → `ADDR:udpport`, `mcast IFACE GROUP
//! PORT ...` → `GROUP:PORT`, `bcast IFACE` → `255.255.255.255:udpport`. A `ucast` line naming
//! one of our own addresses (a shared `ha.cf` lists every node) makes our own heartbeat loop
//! back; the engine refuses it as our own and counts it.
//!
//! What it receives: every datagram goes through [`LinuxHa::receive`] (decoded, authenticated
//! with any key of `authkeys`, translated) and then [`Monitor::observe`]; the peer's advertised
//! `dt` is clamped into the bounds of [`HaCf::monitor_config`]. Acks, retransmission requests
//! and resource chatter are authentic but not liveness: refused as
//! [`Rejection::NotLiveness`] and counted, changing nothing.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;

use heapless::{String, Vec};

use super::EncodeError;
use super::auth::AuthKeys;
use super::config::{HaCf, MAX_MEDIA, MAX_NODES, Medium};
use super::message::{Field, Message};
use super::profile::{LinuxHa, NodeNames, ProfileStats, Rejection};
use super::resources::{ANNOUNCEMENT_FIELD, MAX_ANNOUNCEMENT};
use crate::config::ConfigError;
use crate::detector::Detector;
use crate::engine::{BufferTooSmall, Machine, RecvMeta, SendMeta};
use crate::event::Event;
use crate::monitor::{Accepted, Monitor, Rejected as EngineRejected};
use crate::peers::{LinkId, PeerStatus};
use crate::storage::Storage;
use crate::time::Instant;
use crate::wire::{ClusterId, Generation, NodeId};

/// The largest datagram a Linux-HA node sends or accepts.
pub const MAX_DATAGRAM: usize = super::MAX_MESSAGE_LEN;

/// The `ld` sent until [`LinuxHaNode::set_load`] gives a real one.
pub const UNKNOWN_LOAD: &str = "0.00 0.00 0.00 0/0 0";

/// The status string we advertise (`st`): fully functional.
const OUR_STATUS: &str = "active";
/// Our status in the last heartbeat before the shutdown notice.
const DEAD: &str = "dead";

/// The most other nodes whose announcements ([`LinuxHaNode::poll_announcement`]) are kept.
pub const MAX_ANNOUNCING_PEERS: usize = 8;

/// An announcement text, as carried in [`ANNOUNCEMENT_FIELD`].
pub type AnnouncementText = String<MAX_ANNOUNCEMENT>;

/// Why a [`LinuxHaNode`] could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Our name is not among the `node` lines, or the names do not fit the table.
    #[error("this node's name is not a configured node")]
    NotAMember,
    /// The timing does not make a valid monitor configuration.
    #[error("timing: {0}")]
    Timing(#[from] ConfigError),
    /// A configured node could not be monitored (the storage is full).
    #[error("cannot monitor every configured node")]
    TooManyPeers,
}

/// Why a datagram was refused: by the profile (not a well-formed, authentic liveness message
/// from a configured node) or by the engine (from ourselves, stale generation, replay, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// The profile refused it (counted in [`LinuxHaNode::profile_stats`]).
    #[error("{0}")]
    Profile(#[from] Rejection),
    /// The engine refused it (counted in the monitor's stats).
    #[error("{0}")]
    Engine(#[from] EngineRejected),
}

/// One datagram written by [`poll_transmit`](LinuxHaNode::poll_transmit): the same bytes go to
/// every destination ([`targets`](LinuxHaNode::targets)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// How many bytes of the buffer it occupies.
    pub len: usize,
    /// Whether it says we leave (our last `st=dead` status, or the `t=shutdone` notice).
    pub goodbye: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// Heartbeats every keepalive; `due` when the next one waits to be polled.
    Running { due: bool },
    /// Our last status (`st=dead`) waits to be polled, then the shutdown notice.
    LeavingStatus,
    /// The shutdown notice waits to be polled.
    Leaving,
    /// The shutdown notice went out.
    Done,
}

/// A Linux-HA Heartbeat 3.0.6 cluster member: monitors every other configured node and sends
/// our own heartbeat (see the [module docs](self)). Implements [`Machine`], so any driver of the
/// engine runs it.
///
/// ```
/// use heartbeat_proto::engine::Machine;
/// use heartbeat_proto::linuxha::{HaCf, LinuxHaNode, parse_authkeys};
/// use heartbeat_proto::{FixedTimeout, Generation, Growable, Instant};
///
/// let cf = HaCf::parse("keepalive 500ms\ndeadtime 2\nucast eth0 198.18.0.2\nnode a b\n")?;
/// let keys = parse_authkeys("auth 1\n1 sha1 secret\n")?;
/// let mut a: LinuxHaNode<FixedTimeout, Growable> =
///     LinuxHaNode::new(&cf, "a", keys, Generation(1), FixedTimeout::new(), Instant::ZERO, 0x6b07_6859)?;
/// a.tick(Instant::ZERO);
/// let mut buf = vec![0; 1024];
/// let transmit = a.poll_transmit(&mut buf).unwrap()?;
/// assert!(buf[..transmit.len].starts_with(b"###\n11:(0)t=status,12:(0)st=active,9:(0)dt=7d0,"));
/// let to: Vec<_> = a.targets(&transmit).map(|t| t.destination).collect();
/// assert_eq!(to, ["198.18.0.2:694".parse()?]);
/// assert_eq!(a.poll_timeout(), Some(Instant::from_millis(500)), "the next one, exactly");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LinuxHaNode<D: Detector, S: Storage> {
    monitor: Monitor<D, S>,
    profile: LinuxHa<MAX_NODES>,
    destinations: Vec<SocketAddr, MAX_MEDIA>,
    keepalive: Duration,
    next_send: Instant,
    sending: Sending,
    start: Instant,
    wall_at_start: u64,
    latest: Instant,
    load: String<64>,
    encode_failures: u64,
    /// Ours, sent in every status (empty: no such field).
    announcement: AnnouncementText,
    /// The latest heard from each node, and whether it waits to be polled.
    heard: Vec<(NodeId, AnnouncementText, bool), MAX_ANNOUNCING_PEERS>,
    announcements_dropped: u64,
}

impl<D: Detector, S: Storage> LinuxHaNode<D, S> {
    /// Node `me` of the cluster `cf` describes, signing with `keys`' selected key and
    /// verifying with any of them, in incarnation `generation` (strictly larger after every
    /// restart, see [`next_generation`](super::profile::next_generation)), started at `now`
    /// when the wall clock read `wall_secs` (Unix seconds, for `ts`).
    pub fn new(
        cf: &HaCf<'_>,
        me: &str,
        keys: AuthKeys,
        generation: Generation,
        detector: D,
        now: Instant,
        wall_secs: u64,
    ) -> Result<Self, NodeError> {
        let profile = LinuxHa::<MAX_NODES>::from_ha_cf(cf, me, keys, generation).map_err(|_| NodeError::NotAMember)?;
        let config = cf.monitor_config(ClusterId(0), profile.id()).generation(generation).build()?;
        let mut monitor = Monitor::new(config, detector, now);
        let names = profile.names();
        for name in &cf.nodes {
            let id = names.id(name).ok_or(NodeError::NotAMember)?;
            if id != profile.id() {
                monitor.add_peer(id).map_err(|_| NodeError::TooManyPeers)?;
            }
        }
        let mut destinations = Vec::new();
        for medium in &cf.media {
            let to = match *medium {
                Medium::Ucast { peer, .. } => SocketAddr::new(peer, cf.udpport),
                Medium::Mcast { group, port, .. } => SocketAddr::new(group, port),
                Medium::Bcast { .. } => SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), cf.udpport),
            };
            if !destinations.contains(&to) {
                // MAX_MEDIA destinations at most, one per medium: always room.
                let _ = destinations.push(to);
            }
        }
        let mut load = String::new();
        let _ = load.push_str(UNKNOWN_LOAD);
        Ok(LinuxHaNode {
            monitor,
            profile,
            destinations,
            keepalive: cf.keepalive,
            next_send: now,
            sending: Sending::Running { due: false },
            start: now,
            wall_at_start: wall_secs,
            latest: now,
            load,
            encode_failures: 0,
            announcement: String::new(),
            heard: Vec::new(),
            announcements_dropped: 0,
        })
    }

    /// Our node id (our position among the `node` names, from 1).
    pub fn id(&self) -> NodeId {
        self.profile.id()
    }

    /// The node names ↔ ids, for logs.
    pub fn names(&self) -> &NodeNames<MAX_NODES> {
        self.profile.names()
    }

    /// The name of `id`, if configured.
    pub fn name(&self, id: NodeId) -> Option<&str> {
        self.profile.names().name(id)
    }

    /// Where our heartbeats go.
    pub fn destinations(&self) -> &[SocketAddr] {
        &self.destinations
    }

    /// The liveness engine, for read access (its configuration, stats, peers).
    pub fn monitor(&self) -> &Monitor<D, S> {
        &self.monitor
    }

    /// Every other node's status.
    pub fn peers(&self) -> impl Iterator<Item = PeerStatus> + '_ {
        self.monitor.peers()
    }

    /// The profile's counters: observations, and refusals by reason (`unauthentic` counts a
    /// wrong key).
    pub fn profile_stats(&self) -> &ProfileStats {
        self.profile.stats()
    }

    /// Heartbeats that could not be encoded for another reason than the buffer's size.
    pub fn encode_failures(&self) -> u64 {
        self.encode_failures
    }

    /// The last sequence number sent (0 before the first).
    pub fn last_sequence(&self) -> u64 {
        self.profile.last_sequence()
    }

    /// Sets the `ld` field (e.g. `/proc/loadavg` without its newline). Refused (returns
    /// `false`, nothing changed) if longer than 64 bytes or containing a control character.
    pub fn set_load(&mut self, load: &str) -> bool {
        if load.len() > 64 || load.chars().any(char::is_control) {
            return false;
        }
        self.load.clear();
        self.load.push_str(load).is_ok()
    }

    /// Sets the announcement (what this node holds, see
    /// [`resources`](super::resources)) carried as the [`ANNOUNCEMENT_FIELD`] of every following
    /// status heartbeat, authenticated with it, and sends one status now (the keepalive schedule
    /// is unchanged). Refused (returns `false`, nothing changed) if longer than
    /// [`MAX_ANNOUNCEMENT`] or containing a control character.
    pub fn announce(&mut self, text: &str) -> bool {
        if text.len() > MAX_ANNOUNCEMENT || text.chars().any(char::is_control) {
            return false;
        }
        self.announcement.clear();
        let _ = self.announcement.push_str(text);
        if let Sending::Running { due } = &mut self.sending {
            *due = true;
        }
        true
    }

    /// The next announcement heard: from an authenticated, fresh (accepted) heartbeat of that
    /// node, the latest one per node (an older one not yet polled is replaced).
    pub fn poll_announcement(&mut self) -> Option<(NodeId, AnnouncementText)> {
        let entry = self.heard.iter_mut().find(|(_, _, fresh)| *fresh)?;
        entry.2 = false;
        Some((entry.0, entry.1.clone()))
    }

    /// Announcements not kept: from more than [`MAX_ANNOUNCING_PEERS`] nodes, or too long.
    pub fn announcements_dropped(&self) -> u64 {
        self.announcements_dropped
    }

    /// Keeps the announcement of a heartbeat the monitor accepted (already authenticated).
    fn keep_announcement(&mut self, peer: NodeId, bytes: &[u8]) {
        let Ok(msg) = Message::decode(bytes) else { return };
        let Ok(Some(text)) = msg.text(ANNOUNCEMENT_FIELD) else { return };
        let mut kept = String::new();
        if kept.push_str(text).is_err() {
            self.announcements_dropped = self.announcements_dropped.saturating_add(1);
            return;
        }
        match self.heard.iter_mut().find(|(id, _, _)| *id == peer) {
            Some(entry) => *entry = (peer, kept, true),
            None => {
                if self.heard.push((peer, kept, true)).is_err() {
                    self.announcements_dropped = self.announcements_dropped.saturating_add(1);
                }
            }
        }
    }

    /// Whether the shutdown notice has gone out (nothing more is sent).
    pub fn has_left(&self) -> bool {
        self.sending == Sending::Done
    }

    /// Stops heartbeating: the next two [`poll_transmit`](Self::poll_transmit)s are our
    /// `t=status st=dead` and `t=shutdone st=dead` (both [`Transmit::goodbye`]), and nothing
    /// follows them. Peers report us gone at once.
    pub fn leave(&mut self, now: Instant) {
        self.latest = self.latest.max(now);
        if self.sending != Sending::Done {
            self.sending = Sending::LeavingStatus;
        }
    }

    /// Handles one datagram that arrived at `now`.
    pub fn on_message(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<Accepted, Rejected> {
        self.latest = self.latest.max(now);
        let obs = self.profile.receive(bytes)?;
        let accepted = self.monitor.observe(now, meta, &obs)?;
        if matches!(accepted, Accepted::Heartbeat | Accepted::Goodbye) {
            self.keep_announcement(obs.peer, bytes);
        }
        Ok(accepted)
    }

    /// Lets time pass to `now`: peers' deadlines, and our next heartbeat when due.
    pub fn tick(&mut self, now: Instant) {
        self.latest = self.latest.max(now);
        let now = self.latest;
        self.monitor.tick(now);
        if let Sending::Running { due } = &mut self.sending
            && now >= self.next_send
        {
            *due = true;
            self.next_send = self.next_send + self.keepalive;
            if self.next_send <= now {
                // Woken late (a stalled host): one heartbeat now, the schedule from now on.
                self.next_send = now + self.keepalive;
            }
        }
    }

    /// Writes the next datagram into `buf` (the same bytes for every destination).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>> {
        loop {
            let (st, goodbye, after) = match self.sending {
                Sending::Running { due: true } => (OUR_STATUS, false, Sending::Running { due: false }),
                Sending::LeavingStatus => (DEAD, true, Sending::Leaving),
                Sending::Leaving => (DEAD, true, Sending::Done),
                _ => return None,
            };
            let wall = self.wall_at_start + self.latest.saturating_duration_since(self.start).as_secs();
            let written = if self.sending == Sending::Leaving {
                self.profile.encode_shutdone(wall, &self.load, buf)
            } else if self.announcement.is_empty() {
                self.profile.encode_status(st, wall, &self.load, buf)
            } else {
                let extra = Field::text(ANNOUNCEMENT_FIELD, &self.announcement);
                self.profile.encode_status_with(st, wall, &self.load, extra, buf)
            };
            match written {
                Err(EncodeError::BufferTooSmall(too_small)) => return Some(Err(too_small)),
                result => {
                    self.sending = after;
                    match result {
                        Ok(len) => return Some(Ok(Transmit { len, goodbye })),
                        // Not reachable with names and load validated; counted, not sent.
                        Err(_) => self.encode_failures = self.encode_failures.saturating_add(1),
                    }
                }
            }
        }
    }

    /// Where the datagram `transmit` describes goes: every destination, on link 0.
    pub fn targets(&self, transmit: &Transmit) -> impl Iterator<Item = SendMeta> + '_ {
        let len = transmit.len;
        self.destinations.iter().map(move |&destination| SendMeta { link: LinkId(0), destination, ttl: None, len })
    }

    /// The next event (a peer up, down, left, restarted), oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.monitor.poll_event()
    }

    /// When to call [`tick`](Self::tick) next: a peer's deadline or our next heartbeat (the
    /// latest `now` while output waits).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.sending {
            Sending::Running { due: true } | Sending::LeavingStatus | Sending::Leaving => return Some(self.latest),
            _ => {}
        }
        let send = matches!(self.sending, Sending::Running { .. }).then_some(self.next_send);
        match (self.monitor.poll_timeout(), send) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl<D: Detector, S: Storage> Machine for LinuxHaNode<D, S> {
    type Transmit = Transmit;
    type Event = Event;
    type Rejected = Rejected;
    type Accepted = Accepted;

    const MAX_DATAGRAM: usize = MAX_DATAGRAM;

    fn on_message(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<Accepted, Rejected> {
        LinuxHaNode::on_message(self, now, meta, bytes)
    }

    fn tick(&mut self, now: Instant) {
        LinuxHaNode::tick(self, now);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>> {
        LinuxHaNode::poll_transmit(self, buf)
    }

    fn targets(&self, transmit: &Transmit) -> impl Iterator<Item = SendMeta> + '_ {
        LinuxHaNode::targets(self, transmit)
    }

    fn poll_event(&mut self) -> Option<Event> {
        LinuxHaNode::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        LinuxHaNode::poll_timeout(self)
    }
}

#[cfg(test)]
mod tests {
    use std::vec;

    use super::*;
    use crate::event::EventKind;
    use crate::linuxha::parse_authkeys;
    use crate::{FixedTimeout, Growable};

    const CF: &str = "keepalive 500ms\ndeadtime 2\ninitdead 4\nucast eth0 198.18.0.1\nucast eth0 198.18.0.2\n\
node hbnode1 hbnode2\n";
    const KEYS: &str = "auth 1\n1 sha1 lha-test-secret\n";

    type TestNode = LinuxHaNode<FixedTimeout, Growable>;

    fn node(me: &str, generation: u32, keys: &str) -> TestNode {
        let cf = HaCf::parse(CF).unwrap();
        let keys = parse_authkeys(keys).unwrap();
        LinuxHaNode::new(&cf, me, keys, Generation(generation), FixedTimeout::new(), Instant::ZERO, 0x6b07_0000)
            .unwrap()
    }

    /// Ticks `node` at `now` and returns every datagram it sends, once per datagram.
    fn sent(node: &mut TestNode, now: Instant) -> vec::Vec<(vec::Vec<u8>, Transmit)> {
        node.tick(now);
        let mut buf = vec![0; MAX_DATAGRAM];
        let mut out = vec::Vec::new();
        while let Some(t) = node.poll_transmit(&mut buf) {
            let t = t.unwrap();
            out.push((buf[..t.len].to_vec(), t));
        }
        out
    }

    fn events(node: &mut TestNode) -> vec::Vec<EventKind> {
        core::iter::from_fn(|| node.poll_event()).map(|e| e.kind).collect()
    }

    fn from(addr: &str) -> RecvMeta {
        RecvMeta::from(addr.parse::<SocketAddr>().unwrap())
    }

    #[test]
    fn one_heartbeat_per_keepalive_goes_to_every_ucast_address() {
        let mut a = node("hbnode1", 1, KEYS);
        let first = sent(&mut a, Instant::ZERO);
        assert_eq!(first.len(), 1);
        let to: vec::Vec<_> = a.targets(&first[0].1).map(|t| t.destination).collect();
        assert_eq!(to, ["198.18.0.1:694".parse().unwrap(), "198.18.0.2:694".parse().unwrap()]);
        assert_eq!(a.poll_timeout(), Some(Instant::from_millis(500)));
        assert!(sent(&mut a, Instant::from_millis(499)).is_empty());
        assert_eq!(sent(&mut a, Instant::from_millis(500)).len(), 1);
        assert_eq!(a.last_sequence(), 2);
        // Woken late: one heartbeat, not a burst.
        assert_eq!(sent(&mut a, Instant::from_millis(2_700)).len(), 1);
        assert_eq!(a.poll_timeout(), Some(Instant::from_millis(3_200)));
    }

    #[test]
    fn a_peer_comes_up_from_our_heartbeat_and_goes_down_at_its_dt() {
        let mut a = node("hbnode1", 1, KEYS);
        let mut b = node("hbnode2", 5, KEYS);
        let (hb, _) = sent(&mut b, Instant::ZERO).remove(0);
        let at = Instant::from_millis(10);
        b.on_message(at, from("198.18.0.1:694"), &hb).expect_err("our own heartbeat looped back");
        a.on_message(at, from("198.18.0.2:694"), &hb).unwrap();
        assert_eq!(events(&mut a), [EventKind::Up { generation: Generation(5) }]);
        assert_eq!(a.name(a.peers().next().unwrap().id), Some("hbnode2"));
        // dt = 2 s: down exactly then, not a check period later.
        let deadline = at + Duration::from_secs(2);
        a.tick(deadline - Duration::from_nanos(1));
        let before = events(&mut a);
        assert!(before.iter().all(|k| matches!(k, EventKind::Suspect { .. })), "{before:?}");
        assert!(a.poll_timeout().unwrap() <= deadline);
        a.tick(deadline);
        assert!(matches!(events(&mut a)[..], [EventKind::Down { .. }]));
    }

    #[test]
    fn leaving_sends_a_dead_status_and_a_shutdown_notice_and_then_nothing() {
        let mut a = node("hbnode1", 1, KEYS);
        let mut b = node("hbnode2", 5, KEYS);
        let (hb, _) = sent(&mut b, Instant::ZERO).remove(0);
        a.on_message(Instant::ZERO, from("198.18.0.2:694"), &hb).unwrap();
        let _ = events(&mut a);
        b.leave(Instant::from_millis(100));
        assert_eq!(b.poll_timeout(), Some(Instant::from_millis(100)));
        let out = sent(&mut b, Instant::from_millis(100));
        assert_eq!(out.len(), 2);
        assert!(out[0].1.goodbye && out[0].0.starts_with(b"###\n11:(0)t=status,10:(0)st=dead,"));
        assert!(out[1].1.goodbye && out[1].0.starts_with(b"###\n13:(0)t=shutdone,10:(0)st=dead,"));
        assert!(b.has_left());
        assert!(sent(&mut b, Instant::from_secs(10)).is_empty());
        for (bytes, _) in &out {
            let _ = a.on_message(Instant::from_millis(101), from("198.18.0.2:694"), bytes);
        }
        assert_eq!(events(&mut a), [EventKind::Left], "one leave for both");
        // The notice alone (the status lost) is a leave too.
        let mut c = node("hbnode1", 1, KEYS);
        c.on_message(Instant::ZERO, from("198.18.0.2:694"), &hb).unwrap();
        let _ = events(&mut c);
        c.on_message(Instant::from_millis(101), from("198.18.0.2:694"), &out[1].0).unwrap();
        assert_eq!(events(&mut c), [EventKind::Left]);
    }

    #[test]
    fn a_wrong_key_is_refused_counted_and_changes_nothing() {
        let mut a = node("hbnode1", 1, KEYS);
        let mut b = node("hbnode2", 5, "auth 1\n1 sha1 another-secret\n");
        let (hb, _) = sent(&mut b, Instant::ZERO).remove(0);
        let err = a.on_message(Instant::ZERO, from("198.18.0.2:694"), &hb).unwrap_err();
        assert!(matches!(err, Rejected::Profile(Rejection::Auth(_))));
        assert_eq!(a.profile_stats().unauthentic, 1);
        assert!(events(&mut a).is_empty());
        assert!(a.peers().all(|p| p.last_heard.is_none()));
    }

    #[test]
    fn a_restart_with_a_higher_generation_is_reported() {
        let mut a = node("hbnode1", 1, KEYS);
        let (old, _) = sent(&mut node("hbnode2", 5, KEYS), Instant::ZERO).remove(0);
        let (new, _) = sent(&mut node("hbnode2", 6, KEYS), Instant::ZERO).remove(0);
        a.on_message(Instant::ZERO, from("198.18.0.2:694"), &old).unwrap();
        a.on_message(Instant::from_millis(300), from("198.18.0.2:694"), &new).unwrap();
        let kinds = events(&mut a);
        assert!(
            kinds.contains(&EventKind::Restarted { previous: Generation(5), generation: Generation(6) }),
            "{kinds:?}"
        );
        let err = a.on_message(Instant::from_millis(400), from("198.18.0.2:694"), &old).unwrap_err();
        assert!(matches!(err, Rejected::Engine(_)), "the old incarnation is a replay");
    }

    #[test]
    fn a_short_buffer_keeps_the_heartbeat_and_a_bad_load_is_refused() {
        let mut a = node("hbnode1", 1, KEYS);
        assert!(!a.set_load("1\n2"));
        assert!(a.set_load("0.66 0.54 0.24 1/108 15849"));
        a.tick(Instant::ZERO);
        let mut tiny = [0u8; 16];
        assert!(matches!(a.poll_transmit(&mut tiny), Some(Err(BufferTooSmall { .. }))));
        let mut buf = vec![0; MAX_DATAGRAM];
        let t = a.poll_transmit(&mut buf).unwrap().unwrap();
        assert!(core::str::from_utf8(&buf[..t.len]).unwrap().contains("ld=0.66 0.54 0.24 1/108 15849,"));
        assert_eq!(a.last_sequence(), 1);
    }

    #[test]
    fn an_announcement_travels_authenticated_in_the_status_and_a_replay_brings_nothing() {
        let mut a = node("hbnode1", 1, KEYS);
        let mut b = node("hbnode2", 5, KEYS);
        let _ = sent(&mut b, Instant::ZERO);
        assert!(!b.announce("1 ip\n"), "control characters refused");
        assert!(b.announce("500000001 ip=h"));
        let out = sent(&mut b, Instant::from_millis(1));
        assert_eq!(out.len(), 1, "sent at once, not at the next keepalive");
        assert!(
            out[0].0.starts_with(b"###\n11:(0)t=status,12:(0)st=active,9:(0)dt=7d0,30:(0)hb_resources=500000001 ip=h,")
        );
        assert_eq!(b.poll_timeout(), Some(Instant::from_millis(500)), "the keepalive schedule is kept");
        a.on_message(Instant::from_millis(2), from("198.18.0.2:694"), &out[0].0).unwrap();
        let (peer, text) = a.poll_announcement().unwrap();
        assert_eq!((a.name(peer), text.as_str()), (Some("hbnode2"), "500000001 ip=h"));
        assert!(a.poll_announcement().is_none());
        assert!(a.on_message(Instant::from_millis(3), from("198.18.0.2:694"), &out[0].0).is_err());
        assert!(a.poll_announcement().is_none(), "a replay is not an announcement");
        let mut forged = out[0].0.clone();
        let at = forged.windows(4).position(|w| w == b"ip=h").unwrap();
        forged[at + 3] = b'r';
        assert!(a.on_message(Instant::from_millis(4), from("198.18.0.2:694"), &forged).is_err());
        assert!(a.poll_announcement().is_none(), "a forged one is refused with the status");
    }

    #[test]
    fn a_name_outside_the_node_lines_is_refused() {
        let cf = HaCf::parse(CF).unwrap();
        let keys = parse_authkeys(KEYS).unwrap();
        let made: Result<TestNode, _> =
            LinuxHaNode::new(&cf, "stranger", keys, Generation(1), FixedTimeout::new(), Instant::ZERO, 1);
        assert_eq!(made.err(), Some(NodeError::NotAMember));
    }
}
