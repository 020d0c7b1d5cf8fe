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
//! - `protocol=1`: we speak Heartbeat's flow-control protocol, so a real 3.0.6 peer keeps its
//!   own on: it sends us `t=reqnodes` once its links are up, and we answer `t=repnodes` with
//!   the `node` list (its communication comes up then, not only when it gives up on us).
//! - `t=NS_ackmsg` to a peer that speaks the protocol, for each of its sequence numbers that
//!   is ≡ a per-peer random digit (mod 10) while nothing of it is missing, as Heartbeat acks.
//! - Retransmission (see [`rexmit`](super::rexmit)): our last [`HISTORY`](super::rexmit::HISTORY) sequenced messages
//!   are kept; a peer's `t=NS_rexmit` (`firstseq`..`lastseq`, at most 50) is answered by
//!   sending each again, the same bytes, at most once per 240 ms, or `t=NS_nak_rexmit` with
//!   `info=seqno too low` / `seqno not found` when it is not kept. A gap in a peer's sequence
//!   numbers (all its sequenced messages share one counter) is asked for with `t=NS_rexmit`
//!   per missing number, first after a random 50–250 ms, then every 250 ms while the peer is
//!   up, until it arrives, is nak'ed, or was asked for ten times.
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
//! What it receives: every datagram goes through [`LinuxHa::classify`] (decoded, authenticated
//! with any key of `authkeys`, sorted). Status messages go to [`Monitor::observe`], which
//! judges generation and sequence (a lower `hg` or a replayed number is refused and counted,
//! a higher `hg` is a restart) and applies the peer's advertised `dt` clamped into the bounds
//! of [`HaCf::monitor_config`]. Other sequenced messages (resource chatter, `reqnodes`) are
//! judged by the node's own sequence tracker the same way; `NS_*` messages carry no sequence
//! number and are acted on (retransmit, nak, ack). None of them is liveness.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;

use heapless::{Deque, String, Vec};

use super::EncodeError;
use super::auth::AuthKeys;
use super::config::{HaCf, MAX_MEDIA, MAX_NODES, Medium};
use super::message::{Field, Message, format_number};
use super::profile::{Beat, Control, Incoming, LinuxHa, NodeNames, ProfileStats, Rejection, Sequencing};
use super::resources::{ANNOUNCEMENT_FIELD, MAX_ANNOUNCEMENT};
use super::rexmit::{
    Gone, MAX_RESEND_PER_REQUEST, MAX_REXMIT_DELAY, MIN_REXMIT_DELAY, Sent, SentHistory, SeqTrack, SeqVerdict,
};
use crate::config::ConfigError;
use crate::detector::Detector;
use crate::engine::{BufferTooSmall, Machine, RecvMeta, SendMeta};
use crate::event::Event;
use crate::monitor::{Accepted, Monitor, Rejected as EngineRejected};
use crate::peers::{LinkId, Liveness, PeerStatus};
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
/// Control messages (resends, naks, requests, acks, `repnodes`) waiting to be polled; more are
/// dropped and counted in [`WireStats::control_dropped`].
pub const MAX_PENDING: usize = 128;

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
    /// Refused by its sequence number or generation in the node's tracker: a non-status
    /// message, or a status older than the last had and never missing (counted in
    /// [`WireStats`]).
    #[error("{0}")]
    Sequence(SeqRefusal),
}

/// Why a sequenced message was refused by the node's own tracker (the engine judges status
/// messages too: stale generations and duplicates of those are its refusals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeqRefusal {
    /// A lower generation than the sender's current one: a replay (Heartbeat: "attempted
    /// replay attack").
    #[error("stale generation")]
    StaleGeneration,
    /// The sequence number was had already.
    #[error("duplicate sequence number")]
    Duplicate,
    /// Older than the last one had, and not missing.
    #[error("old sequence number")]
    Old,
}

/// What [`LinuxHaNode::on_message`] did with an accepted datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled {
    /// A status or shutdown notice, as the engine took it.
    Liveness(Accepted),
    /// A control or other sequenced message, taken into account (answered if it asks).
    Control(Control),
    /// A status we had asked to be resent: it filled its gap in the sender's sequence (no more
    /// requests for it), but the engine found it too old to change any verdict, for the reason
    /// given (and counted it so).
    Recovered(EngineRejected),
}

/// Counters of the reliable-delivery protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WireStats {
    /// `NS_rexmit` requests we sent.
    pub rexmit_requests_sent: u64,
    /// `NS_rexmit` requests addressed to us.
    pub rexmit_requests_received: u64,
    /// Our messages sent again in answer.
    pub resent: u64,
    /// `NS_nak_rexmit` we sent (asked for something we no longer have).
    pub naks_sent: u64,
    /// `NS_nak_rexmit` we received.
    pub naks_received: u64,
    /// `NS_ackmsg` we sent.
    pub acks_sent: u64,
    /// `NS_ackmsg` we received.
    pub acks_received: u64,
    /// `repnodes` we sent in answer to `reqnodes`.
    pub repnodes_sent: u64,
    /// Peers' sequence numbers found missing (gaps).
    pub missing: u64,
    /// Missing numbers given up after the last request.
    pub abandoned: u64,
    /// [`SeqRefusal::StaleGeneration`].
    pub refused_stale_generation: u64,
    /// [`SeqRefusal::Duplicate`].
    pub refused_duplicate: u64,
    /// [`SeqRefusal::Old`].
    pub refused_old: u64,
    /// Control messages dropped because [`MAX_PENDING`] were waiting.
    pub control_dropped: u64,
}

/// A control message waiting to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Our message of this sequence number, again.
    Resend(u64),
    /// `NS_nak_rexmit` for `seq` to `to`.
    Nak { to: NodeId, seq: u64, gone: Gone },
    /// `NS_rexmit` of `seq` to `to`.
    Request { to: NodeId, seq: u64 },
    /// `NS_ackmsg` of `seq` to `to`.
    Ack { to: NodeId, seq: u64 },
    /// `repnodes` to `to`.
    RepNodes { to: NodeId },
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
    history: SentHistory,
    tracks: Vec<(NodeId, SeqTrack), MAX_NODES>,
    pending: Deque<Pending, MAX_PENDING>,
    rng: u64,
    wire: WireStats,
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
        let profile = LinuxHa::<MAX_NODES>::from_ha_cf(cf, me, keys, generation)
            .map_err(|_| NodeError::NotAMember)?
            .with_flow_control(true);
        // Request jitter and ack digits: not secret, only different per node and start.
        let mut rng = (u64::from(generation.0) << 32 | profile.id().get()) ^ 0x9E37_79B9_7F4A_7C15;
        let mut tracks = Vec::new();
        let config = cf.monitor_config(ClusterId(0), profile.id()).generation(generation).build()?;
        let mut monitor = Monitor::new(config, detector, now);
        let names = profile.names();
        for name in &cf.nodes {
            let id = names.id(name).ok_or(NodeError::NotAMember)?;
            if id != profile.id() {
                monitor.add_peer(id).map_err(|_| NodeError::TooManyPeers)?;
                let digit = (xorshift(&mut rng) % 10) as u8;
                tracks.push((id, SeqTrack::new(digit))).map_err(|_| NodeError::TooManyPeers)?;
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
            history: SentHistory::default(),
            tracks,
            pending: Deque::new(),
            rng,
            wire: WireStats::default(),
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

    /// The reliable-delivery counters: retransmission requests, resends, naks, acks, gaps.
    pub fn wire_stats(&self) -> &WireStats {
        &self.wire
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

    /// Handles one datagram that arrived at `now`. A refused one changes nothing but its
    /// counter.
    pub fn on_message(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<Handled, Rejected> {
        let handled = self.handle(now, meta, bytes);
        // Only what was taken moves our clock: a refused datagram leaves even that as it was.
        if handled.is_ok() {
            self.latest = self.latest.max(now);
        }
        handled
    }

    fn handle(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<Handled, Rejected> {
        match self.profile.classify(bytes)? {
            Incoming::Liveness { obs, flow_control } => {
                let track = self.tracks.iter().position(|(id, _)| *id == obs.peer);
                // Older than the last had and never missing: a replay (Heartbeat drops it),
                // even where the engine's window would take it as reordered.
                if track.is_some_and(|i| self.tracks[i].1.judge(obs.generation, obs.sequence) == SeqVerdict::Old) {
                    self.wire.refused_old = self.wire.refused_old.saturating_add(1);
                    return Err(Rejected::Sequence(SeqRefusal::Old));
                }
                let result = self.monitor.observe(now, meta, &obs);
                // A status resent far beyond the engine's window is still the one we asked for.
                let recovered = track
                    .is_some_and(|i| self.tracks[i].1.judge(obs.generation, obs.sequence) == SeqVerdict::Recovered);
                if let Some(i) = track
                    && (result.is_ok() || recovered)
                {
                    self.tracks[i].1.flow_control = flow_control;
                    self.take_sequenced(i, obs.generation, obs.sequence, now);
                }
                match result {
                    Ok(accepted) => {
                        if matches!(accepted, Accepted::Heartbeat | Accepted::Goodbye) {
                            self.keep_announcement(obs.peer, bytes);
                        }
                        Ok(Handled::Liveness(accepted))
                    }
                    // Used: it filled its gap and ends its requests, though too old for the engine.
                    Err(refused) if recovered => Ok(Handled::Recovered(refused)),
                    Err(refused) => Err(refused.into()),
                }
            }
            Incoming::Other { peer, generation, seq, control } => {
                let Some(i) = self.tracks.iter().position(|(id, _)| *id == peer) else {
                    return Err(Rejected::Profile(Rejection::UnknownNode));
                };
                if let Some(seq) = seq {
                    let refusal = match self.tracks[i].1.judge(generation, seq) {
                        SeqVerdict::StaleGeneration => Some((SeqRefusal::StaleGeneration, 0)),
                        SeqVerdict::Duplicate => Some((SeqRefusal::Duplicate, 1)),
                        SeqVerdict::Old => Some((SeqRefusal::Old, 2)),
                        _ => None,
                    };
                    if let Some((refusal, which)) = refusal {
                        let w = &mut self.wire;
                        let counter = [&mut w.refused_stale_generation, &mut w.refused_duplicate, &mut w.refused_old];
                        if let Some(c) = counter.into_iter().nth(which) {
                            *c = c.saturating_add(1);
                        }
                        return Err(Rejected::Sequence(refusal));
                    }
                    self.take_sequenced(i, generation, seq, now);
                }
                self.on_control(peer, i, control, now);
                Ok(Handled::Control(control))
            }
        }
    }

    /// Records an accepted sequenced message of the peer in track `i`: gaps become requests,
    /// and an ack goes when due.
    fn take_sequenced(&mut self, i: usize, generation: Generation, seq: u64, now: Instant) {
        let rng = &mut self.rng;
        let (peer, track) = &mut self.tracks[i];
        let span = (MAX_REXMIT_DELAY - MIN_REXMIT_DELAY).as_millis() as u64 + 1;
        let missing =
            track.record(generation, seq, now, || MIN_REXMIT_DELAY + Duration::from_millis(xorshift(rng) % span));
        self.wire.missing = self.wire.missing.saturating_add(missing);
        let ack = track.flow_control && track.complete() && seq % 10 == u64::from(track.ack_trigger);
        let peer = *peer;
        if ack {
            self.queue(Pending::Ack { to: peer, seq });
        }
    }

    fn on_control(&mut self, peer: NodeId, i: usize, control: Control, now: Instant) {
        match control {
            Control::Rexmit { first, last } => {
                self.wire.rexmit_requests_received = self.wire.rexmit_requests_received.saturating_add(1);
                let last = last.min(first.saturating_add(MAX_RESEND_PER_REQUEST - 1));
                for seq in first..=last {
                    match self.history.resend(seq, now) {
                        Ok(Some(_)) => self.queue(Pending::Resend(seq)),
                        Ok(None) => {}
                        Err(gone) => self.queue(Pending::Nak { to: peer, seq, gone }),
                    }
                }
            }
            Control::Nak { seq } => {
                self.wire.naks_received = self.wire.naks_received.saturating_add(1);
                self.tracks[i].1.give_up(seq);
            }
            Control::Ack { .. } => self.wire.acks_received = self.wire.acks_received.saturating_add(1),
            Control::ReqNodes => self.queue(Pending::RepNodes { to: peer }),
            _ => {}
        }
    }

    fn queue(&mut self, pending: Pending) {
        if self.pending.push_back(pending).is_err() {
            self.wire.control_dropped = self.wire.control_dropped.saturating_add(1);
        }
    }

    /// Lets time pass to `now`: peers' deadlines, and our next heartbeat when due.
    pub fn tick(&mut self, now: Instant) {
        self.latest = self.latest.max(now);
        let now = self.latest;
        self.monitor.tick(now);
        for i in 0..self.tracks.len() {
            let peer = self.tracks[i].0;
            let live = self.monitor.peer(peer).is_some_and(|p| matches!(p.liveness, Liveness::Up | Liveness::Suspect));
            let track = &mut self.tracks[i].1;
            if !live {
                if track.was_live {
                    // Heartbeat forgets a dead node's sequence state (`reset_seqtrack`).
                    track.reset();
                    track.was_live = false;
                }
                // A gap in the chatter of a node that is not up is not asked for: requests go
                // to live nodes only, and a request kept waiting would be a deadline never met.
                track.stop_asking();
                continue;
            }
            track.was_live = true;
            let (pending, wire) = (&mut self.pending, &mut self.wire);
            let abandoned = self.tracks[i].1.fire(now, |seq| {
                if pending.push_back(Pending::Request { to: peer, seq }).is_err() {
                    wire.control_dropped = wire.control_dropped.saturating_add(1);
                }
            });
            wire.abandoned = wire.abandoned.saturating_add(abandoned);
        }
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

    /// Writes the next datagram into `buf` (the same bytes for every destination): our
    /// heartbeat or goodbye first, then control messages (resends, naks, requests, acks,
    /// `repnodes`) in the order they arose. Nothing after the shutdown notice.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>> {
        loop {
            let (st, goodbye, after) = match self.sending {
                Sending::Running { due: true } => (OUR_STATUS, false, Sending::Running { due: false }),
                Sending::LeavingStatus => (DEAD, true, Sending::Leaving),
                Sending::Leaving => (DEAD, true, Sending::Done),
                Sending::Done => return None,
                Sending::Running { due: false } => return self.poll_control(buf),
            };
            let wall = self.wall_now();
            let shutdone = self.sending == Sending::Leaving;
            let written = if shutdone {
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
                        Ok(len) => {
                            let what = if shutdone { Sent::Shutdone } else { Sent::Status { st } };
                            self.history.push(self.profile.last_sequence(), what, wall, &self.load);
                            return Some(Ok(Transmit { len, goodbye }));
                        }
                        // Not reachable with names and load validated; counted, not sent.
                        Err(_) => self.encode_failures = self.encode_failures.saturating_add(1),
                    }
                }
            }
        }
    }

    fn wall_now(&self) -> u64 {
        self.wall_at_start + self.latest.saturating_duration_since(self.start).as_secs()
    }

    /// The next control message, if any.
    fn poll_control(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>> {
        while let Some(&pending) = self.pending.front() {
            match self.encode_control(pending, buf) {
                Err(EncodeError::BufferTooSmall(too_small)) => return Some(Err(too_small)),
                Err(_) => {
                    self.pending.pop_front();
                    self.encode_failures = self.encode_failures.saturating_add(1);
                }
                Ok(None) => {
                    self.pending.pop_front();
                }
                Ok(Some(len)) => {
                    self.pending.pop_front();
                    let w = &mut self.wire;
                    let counter = match pending {
                        Pending::Resend(_) => &mut w.resent,
                        Pending::Nak { .. } => &mut w.naks_sent,
                        Pending::Request { .. } => &mut w.rexmit_requests_sent,
                        Pending::Ack { .. } => &mut w.acks_sent,
                        Pending::RepNodes { .. } => &mut w.repnodes_sent,
                    };
                    *counter = counter.saturating_add(1);
                    return Some(Ok(Transmit { len, goodbye: false }));
                }
            }
        }
        None
    }

    /// Encodes one control message; `Ok(None)` if there is nothing to send any more (a resend
    /// whose message left the history, a peer without a name).
    fn encode_control(&mut self, pending: Pending, buf: &mut [u8]) -> Result<Option<usize>, EncodeError> {
        let wall = self.wall_now();
        let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
        let name = |id: NodeId| {
            self.profile.names().name(id).map(|n| {
                let mut s: String<{ super::profile::MAX_NAME_LEN }> = String::new();
                let _ = s.push_str(n);
                s
            })
        };
        let len = match pending {
            Pending::Resend(seq) => {
                let Some(entry) = self.history.get(seq) else { return Ok(None) };
                let again = Sequencing::Again(seq);
                // A resend carries no announcement: holdings are state, always current in the
                // next status, and an old one resent would only be refused as stale.
                match entry.what {
                    Sent::Status { st } => self.profile.encode_liveness(
                        Beat::Status { st, extra: None },
                        again,
                        entry.wall_secs,
                        &entry.load,
                        buf,
                    )?,
                    Sent::Shutdone => {
                        self.profile.encode_liveness(Beat::Shutdone, again, entry.wall_secs, &entry.load, buf)?
                    }
                    Sent::RepNodes { to } => {
                        let Some(to) = NodeId::new(to).and_then(name) else { return Ok(None) };
                        let list = self.node_list();
                        let head = [
                            Field::text("t", "repnodes"),
                            Field::text("dest", &to),
                            Field::text("nodelist", &list),
                            Field::text("delnodelist", " "),
                        ];
                        self.profile.encode_message(&head, again, entry.wall_secs, &entry.load, buf)?
                    }
                }
            }
            Pending::Nak { to, seq, gone } => {
                let Some(to) = name(to) else { return Ok(None) };
                let head = [
                    Field::text("t", "NS_nak_rexmit"),
                    Field::text("firstseq", digits(seq, 16, &mut a)),
                    Field::text("dest", &to),
                    Field::text("info", gone.info()),
                ];
                self.profile.encode_message(&head, Sequencing::None, wall, "", buf)?
            }
            Pending::Request { to, seq } => {
                let Some(to) = name(to) else { return Ok(None) };
                let head = [
                    Field::text("t", "NS_rexmit"),
                    Field::text("dest", &to),
                    Field::text("firstseq", digits(seq, 10, &mut a)),
                    Field::text("lastseq", digits(seq, 10, &mut b)),
                ];
                self.profile.encode_message(&head, Sequencing::None, wall, "", buf)?
            }
            Pending::Ack { to, seq } => {
                let Some(to) = name(to) else { return Ok(None) };
                let head = [
                    Field::text("t", "NS_ackmsg"),
                    Field::text("dest", &to),
                    Field::text("ackseq", digits(seq, 16, &mut a)),
                ];
                self.profile.encode_message(&head, Sequencing::None, wall, "", buf)?
            }
            Pending::RepNodes { to } => {
                let Some(name) = name(to) else { return Ok(None) };
                let list = self.node_list();
                let head = [
                    Field::text("t", "repnodes"),
                    Field::text("dest", &name),
                    Field::text("nodelist", &list),
                    Field::text("delnodelist", " "),
                ];
                let len = self.profile.encode_message(&head, Sequencing::Next, wall, &self.load, buf)?;
                let load = self.load.clone();
                self.history.push(self.profile.last_sequence(), Sent::RepNodes { to: to.get() }, wall, &load);
                len
            }
        };
        Ok(Some(len))
    }

    /// `repnodes`' `nodelist`: every configured name followed by a space.
    fn node_list(&self) -> String<{ MAX_NODES * (super::profile::MAX_NAME_LEN + 1) }> {
        let mut list = String::new();
        let names = self.profile.names();
        for id in (1..=names.len() as u64).filter_map(NodeId::new) {
            if let Some(n) = names.name(id) {
                let _ = list.push_str(n);
                let _ = list.push(' ');
            }
        }
        list
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
        let running = matches!(self.sending, Sending::Running { .. });
        if running && !self.pending.is_empty() {
            return Some(self.latest);
        }
        let send = running.then_some(self.next_send);
        let requests = self.tracks.iter().filter_map(|(_, t)| t.next_due()).min();
        [self.monitor.poll_timeout(), send, requests].into_iter().flatten().min()
    }
}

/// `v` in `radix` (10 or 16), as text.
fn digits(v: u64, radix: u64, out: &mut [u8; 20]) -> &str {
    core::str::from_utf8(format_number(v, radix, out)).unwrap_or("0")
}

/// A small xorshift generator: request jitter and ack digits, nothing secret.
fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

impl<D: Detector, S: Storage> Machine for LinuxHaNode<D, S> {
    type Transmit = Transmit;
    type Event = Event;
    type Rejected = Rejected;
    type Accepted = Handled;

    const MAX_DATAGRAM: usize = MAX_DATAGRAM;

    fn on_message(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<Handled, Rejected> {
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
            out[0].0.starts_with(
                b"###\n11:(0)t=status,12:(0)st=active,9:(0)dt=7d0,13:(0)protocol=1,30:(0)hb_resources=500000001 ip=h,"
            ),
            "{:?}",
            core::str::from_utf8(&out[0].0)
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
