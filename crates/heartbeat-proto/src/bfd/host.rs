//! Many BFD sessions in one sans-IO machine: [`BfdHost`].

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;

use heapless::Deque;

use super::auth::BfdKeys;
use super::packet::{ControlPacket, Diag, State};
use super::session::{
    ConfigError, RejectStats, Rejected, Rng, SLOW_TX_INTERVAL, Session, SessionStatus, SessionTimer, Timing,
};
use crate::engine::{
    AddressIndex, BufferTooSmall, RecvMeta, SendMeta, SessionHandle, SessionTable, TimerKind, TimerTable,
};
use crate::peers::LinkId;
use crate::storage::{Buffer, Storage};
use crate::time::{Clock, Instant};

/// UDP destination port of single-hop control packets (RFC 5881 §4).
pub const SINGLE_HOP_PORT: u16 = 3784;
/// UDP destination port of multihop control packets (RFC 5883 §5).
pub const MULTI_HOP_PORT: u16 = 4784;
/// The TTL / hop limit every control packet is sent with (RFC 5881 §5, RFC 5883 §5).
pub const TX_TTL: u8 = 255;
/// How many events can wait to be polled. A packet that could overflow the queue is refused
/// ([`Rejected::EventQueueFull`]); a `tick` leaves the timers it has no room for to fire as
/// [`BfdHost::poll_event`] makes room.
pub const BFD_EVENT_QUEUE_LEN: usize = 32;
/// The most events one input can raise for one session: a peer's AdminDown, a state change
/// and a timing change.
const EVENTS_PER_STEP: usize = 3;
/// Local discriminators carry the slot number in their low 16 bits (see [`BfdHost`]).
const SLOT_BITS: u32 = 16;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// The transmit grid a new host starts with (see [`BfdHost::set_transmit_granularity`]): 1 ms,
/// a tenth of a 10 ms interval, so that a thousand sessions need about a thousand wake-ups a
/// second rather than one per packet.
pub const DEFAULT_TRANSMIT_GRANULARITY: Duration = Duration::from_millis(1);
/// The most sessions a host can hold, whatever its storage.
pub const MAX_SESSIONS: usize = SLOT_MASK as usize;

/// How far the peer is (RFC 5881 single hop, RFC 5883 multihop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hop {
    /// Directly connected: port 3784, received TTL must be 255 (GTSM), tied to the link.
    SingleHop,
    /// Routed: port 4784, received TTL at least `min_ttl` (FRR's default is 254); tied to the
    /// (peer, local) address pair, not to a link.
    MultiHop {
        /// The lowest TTL / hop limit accepted (0: no check).
        min_ttl: u8,
    },
}

/// One session's configuration; validated by [`BfdHost::add_session`].
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The peer's address: packets go there and must come from there.
    pub peer: IpAddr,
    /// The local address, if the session is tied to one: then packets that the adapter says
    /// were sent to another local address are not this session's.
    pub local: Option<IpAddr>,
    /// The link (socket) packets go out on; single-hop packets must arrive on it.
    pub link: LinkId,
    /// Single hop or multihop.
    pub hop: Hop,
    /// bfd.DetectMult, at least 1. The peer declares this side down after this many missed
    /// packets.
    pub detect_mult: u8,
    /// bfd.DesiredMinTxInterval once Up (while not Up the wire says at least 1 s). Nonzero,
    /// at most `u32::MAX` µs.
    pub desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval. Nonzero (this implementation always wants packets), at most
    /// `u32::MAX` µs.
    pub required_min_rx: Duration,
    /// Passive role: send nothing until the peer has been heard (§6.1).
    pub passive: bool,
    /// Authentication (bfd.AuthType is the keys' type), or `None` for none. The host moves the
    /// keys into the session: [`BfdHost::config`] shows `None` here, and
    /// [`BfdHost::keys_mut`] reaches them for rotation.
    pub keys: Option<BfdKeys>,
}

impl SessionConfig {
    /// An active single-hop session to `peer` over `link` with the defaults that work against
    /// FRR and BIRD: Detect Mult 3, 300 ms / 300 ms.
    pub fn new(peer: IpAddr, link: LinkId) -> Self {
        SessionConfig {
            peer,
            local: None,
            link,
            hop: Hop::SingleHop,
            detect_mult: 3,
            desired_min_tx: Duration::from_millis(300),
            required_min_rx: Duration::from_millis(300),
            passive: false,
            keys: None,
        }
    }

    /// The same session, multihop.
    pub fn multi_hop(mut self, min_ttl: u8) -> Self {
        self.hop = Hop::MultiHop { min_ttl };
        self
    }

    /// The same session with other timing.
    pub fn timing(mut self, desired_min_tx: Duration, required_min_rx: Duration, detect_mult: u8) -> Self {
        self.desired_min_tx = desired_min_tx;
        self.required_min_rx = required_min_rx;
        self.detect_mult = detect_mult;
        self
    }

    /// Whether a packet from `meta` belongs to this session's addresses and link.
    fn matches(&self, meta: &RecvMeta) -> bool {
        let local_ok = match (self.local, meta.local) {
            (Some(want), Some(got)) => want == got,
            _ => true,
        };
        let link_ok = self.hop != Hop::SingleHop || self.link == meta.link;
        meta.source.is_some_and(|s| s.ip() == self.peer) && local_ok && link_ok
    }

    /// Whether two sessions could not be told apart by packets without a discriminator.
    fn clashes(&self, other: &SessionConfig) -> bool {
        let same_kind = matches!(
            (self.hop, other.hop),
            (Hop::SingleHop, Hop::SingleHop) | (Hop::MultiHop { .. }, Hop::MultiHop { .. })
        );
        let link = self.hop != Hop::SingleHop || self.link == other.link;
        self.peer == other.peer && self.local == other.local && same_kind && link
    }

    fn ttl_ok(&self, ttl: Option<u8>) -> bool {
        match self.hop {
            Hop::SingleHop => ttl == Some(255),
            Hop::MultiHop { min_ttl } => ttl.unwrap_or(0) >= min_ttl,
        }
    }

    fn destination(&self) -> SocketAddr {
        let port = match self.hop {
            Hop::SingleHop => SINGLE_HOP_PORT,
            Hop::MultiHop { .. } => MULTI_HOP_PORT,
        };
        SocketAddr::new(self.peer, port)
    }
}

/// What happened to a session, decided at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdEvent {
    /// The `now` of the input that caused it.
    pub at: Instant,
    /// The session.
    pub session: SessionHandle,
    /// What happened.
    pub kind: BfdEventKind,
}

/// The kinds of [`BfdEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BfdEventKind {
    /// bfd.SessionState changed. `diag` is the new bfd.LocalDiag: 1 (detection time expired)
    /// is a failure; 3 (neighbor signaled down) after a [`PeerAdminDown`](Self::PeerAdminDown)
    /// is not (RFC 5882 §4.2: the peer was taken down on purpose); 7 is a local admin down.
    StateChanged {
        /// The state before.
        from: State,
        /// The state now.
        to: State,
        /// Why.
        diag: Diag,
    },
    /// The peer reports AdminDown: it was disabled on purpose. Comes before the
    /// `StateChanged` it causes; clients should not treat that transition as a path failure.
    PeerAdminDown,
    /// The negotiated transmit interval or the detection time changed.
    TimingChanged {
        /// The interval between periodic packets, before jitter (`None`: the peer wants none).
        tx_interval: Option<Duration>,
        /// The detection time (`None` until the peer was heard).
        detection_time: Option<Duration>,
    },
}

impl BfdEventKind {
    /// Whether this is a failure: the session left Up (or Init) because the detection time
    /// passed. An administrative down on either side is not one.
    pub fn is_failure(&self) -> bool {
        matches!(self, BfdEventKind::StateChanged { to: State::Down, diag, .. } if *diag == Diag::CONTROL_DETECTION_TIME_EXPIRED)
    }
}

/// What `on_message` did with an accepted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// The session it was for.
    pub session: SessionHandle,
}

/// The host's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStats {
    /// Packets accepted.
    pub accepted: u64,
    /// Packets written by `poll_transmit`.
    pub transmitted: u64,
    /// Packets refused, by reason (the ones that reached a session are also counted there).
    pub rejected: RejectStats,
}

struct Entry {
    config: SessionConfig,
    session: Session,
    /// Neighbours in the queue of sessions with packets to send.
    out_prev: Option<SessionHandle>,
    out_next: Option<SessionHandle>,
    queued: bool,
}

/// What the event logic compares before and after an input.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    state: State,
    remote_state: State,
    tx_interval: Option<Duration>,
    detection_time: Option<Duration>,
}

impl Snapshot {
    fn of(session: &Session) -> Self {
        Snapshot {
            state: session.state(),
            remote_state: session.remote_state(),
            tx_interval: session.tx_interval(),
            detection_time: session.detection_time(),
        }
    }
}

/// Many BFD sessions (RFC 5880 asynchronous mode over RFC 5881/5883 UDP), one sans-IO machine.
///
/// # Driving it
///
/// As every machine of this crate (see the [crate documentation](crate)): feed datagrams to
/// [`on_message`](Self::on_message) with their [`RecvMeta`] (the TTL matters: single-hop
/// packets need 255), call [`tick`](Self::tick) when [`poll_timeout`](Self::poll_timeout)
/// passes, and after every input drain [`poll_transmit`](Self::poll_transmit) and
/// [`poll_event`](Self::poll_event) until `None`. `poll_timeout` returns the latest `now`
/// while output waits, and after `tick(now)` and a full drain it is strictly later than `now`.
/// Time going backwards counts as no progress. A session is declared down by the first `tick`
/// at or after its last accepted packet plus the detection time.
///
/// # Receiving
///
/// `on_message` parses the packet, finds its session — by Your Discriminator, or when that is
/// 0 (only allowed in Down and AdminDown) by source address, local address and link — checks
/// the session's TTL policy, then the session judges it. Every refusal is counted by reason in
/// [`stats`](Self::stats) (and in the session's stats once a session was found) and changes
/// nothing else. Packets are only accepted from the configured peer address.
///
/// # Cost
///
/// Every operation is O(log n) in the number of sessions (timer filing) or better: a packet is
/// found its session by Your Discriminator in O(1), or when that is 0 through a keyed hash
/// index of peer addresses (O(1) expected, whatever addresses the wire brings).
///
/// Local discriminators are random in their high 16 bits (from the host's seed; never the
/// previous value for the same slot) and carry the session's slot number plus one in their low
/// 16: unique among live sessions and nonzero by construction, never reused by the next session
/// in a slot, and found in O(1). A host holds at most [`MAX_SESSIONS`].
pub struct BfdHost<S: Storage> {
    sessions: SessionTable<Entry, S>,
    timers: TimerTable<SessionTimer, S, { SessionTimer::COUNT }>,
    /// Sessions by peer address, for packets without Your Discriminator.
    peers: AddressIndex<S>,
    /// Per slot: the random half of the discriminator its latest session had, so that a new
    /// session in a reused slot never takes over its predecessor's discriminator.
    previous_high: S::Vec<u16>,
    events: Deque<BfdEvent, BFD_EVENT_QUEUE_LEN>,
    out_head: Option<SessionHandle>,
    out_tail: Option<SessionHandle>,
    clock: Clock,
    rng: Rng,
    stats: HostStats,
    /// The `now` of a `tick` that left due timers for lack of event-queue room.
    deferred: Option<Instant>,
    /// Every session's transmit grid.
    tx_granularity: Duration,
    /// The local-stall guard's bound (`None`: off).
    local_pause: Option<Duration>,
    /// Until when the detection deadlines a stall revealed are held.
    paused_until: Option<Instant>,
}

impl<S: Storage> BfdHost<S> {
    /// A host without sessions, started at `now`. `seed` drives discriminators, jitter and
    /// authentication sequence starts: give each system its own (the core reads no randomness
    /// of its own).
    pub fn new(seed: u64, now: Instant) -> Self {
        BfdHost {
            sessions: SessionTable::new(),
            timers: TimerTable::new(),
            peers: AddressIndex::new(seed ^ 0x0ADD_12E5_5EED_0002),
            previous_high: Default::default(),
            events: Deque::new(),
            out_head: None,
            out_tail: None,
            clock: Clock::new(now),
            rng: Rng::new(seed ^ 0xBFD0_5E55_10A5_0001),
            stats: HostStats::default(),
            deferred: None,
            tx_granularity: DEFAULT_TRANSMIT_GRANULARITY,
            local_pause: None,
            paused_until: None,
        }
    }

    /// Puts every session's periodic packets on a grid of `granularity` (zero: none; the
    /// default is [`DEFAULT_TRANSMIT_GRANULARITY`]): each jittered transmit deadline moves to a
    /// multiple of it — down if the interval stays at least 75 % of the negotiated one, else up
    /// if it stays at most 100 % (90 % with Detect Mult 1), else not at all — so RFC 5880
    /// §6.8.7's jitter band holds for every interval, and sessions whose deadlines fall in one
    /// grid step share one wake-up of the driver. A session whose band is narrower than the
    /// grid (an interval under 4 ms with the default) keeps exact deadlines, so its jitter
    /// stays random. Detection deadlines stay exact; Final replies
    /// and packets for a state change still go at once.
    pub fn set_transmit_granularity(&mut self, granularity: Duration) {
        self.tx_granularity = granularity;
        for (handle, entry) in self.sessions.iter_mut() {
            entry.session.set_transmit_granularity(granularity);
            let _ = self.timers.set_opt(handle, SessionTimer::Transmit, entry.session.deadline(SessionTimer::Transmit));
        }
    }

    /// The transmit grid (see [`set_transmit_granularity`](Self::set_transmit_granularity)).
    pub fn transmit_granularity(&self) -> Duration {
        self.tx_granularity
    }

    /// The local-stall guard, off by default (RFC 5880 has no such rule). With `Some(pause)`, a
    /// `tick` that finds its earliest due timer more than `pause` overdue takes it that this
    /// process did not run when it should have — its peers' packets may be waiting unread — and
    /// postpones every detection deadline it finds due, once, to `now + pause`: a session whose
    /// packets are read before then stays Up. A held deadline that comes again fires, so a
    /// driver that is always late delays a verdict by one `pause`, never longer; a real failure
    /// during a stall is reported up to `pause` later.
    pub fn set_local_pause(&mut self, pause: Option<Duration>) {
        self.local_pause = pause;
        self.paused_until = None;
    }

    /// The local-stall guard's bound (see [`set_local_pause`](Self::set_local_pause)).
    pub fn local_pause(&self) -> Option<Duration> {
        self.local_pause
    }

    /// The latest `now` seen.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The host's counters.
    pub fn stats(&self) -> &HostStats {
        &self.stats
    }

    /// How many sessions there are.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Every session's handle, in slot order.
    pub fn handles(&self) -> impl Iterator<Item = SessionHandle> + '_ {
        self.sessions.iter().map(|(h, _)| h)
    }

    /// How long a host that put its sessions AdminDown should keep running (sending) before it
    /// stops, so that every peer hears AdminDown and goes Down with diag 3 instead of detecting
    /// a failure (RFC 5880 §6.8.16: keep sending for at least a Detection Time): the longest
    /// detection time a peer applies to a session, plus one of its transmit intervals, and at
    /// least two slow (1 s) intervals, which a session not Up sends at.
    pub fn admin_down_linger(&self) -> Duration {
        self.handles()
            .filter_map(|h| self.session(h))
            .map(|s| {
                let tx = s.tx_interval.unwrap_or(SLOW_TX_INTERVAL);
                s.detection_time.unwrap_or_default().max(tx) + tx
            })
            .fold(2 * SLOW_TX_INTERVAL, Duration::max)
    }

    /// Adds a session, Down, at the latest `now` seen. An active one sends its first packet
    /// at once.
    pub fn add_session(&mut self, mut config: SessionConfig) -> Result<SessionHandle, ConfigError> {
        let timing = Timing::new(config.desired_min_tx, config.required_min_rx, config.detect_mult)?;
        let clash = self
            .peers
            .find(config.peer)
            .filter_map(|slot| self.sessions.get_by_index(slot))
            .any(|(_, e)| e.config.clashes(&config));
        if clash {
            return Err(ConfigError::Duplicate);
        }
        let handle = self.sessions.next_handle().ok_or(ConfigError::TableFull)?;
        if handle.index() >= MAX_SESSIONS {
            return Err(ConfigError::TableFull);
        }
        while self.previous_high.len() <= handle.index() {
            self.previous_high.try_push(0).map_err(|_| ConfigError::TableFull)?;
        }
        let previous = u32::from(self.previous_high[handle.index()]);
        // Random, nonzero, and not the previous occupant's: skip collisions.
        let high = loop {
            let r = self.rng.next_u32() >> SLOT_BITS;
            if r != 0 && r != previous {
                break r;
            }
        };
        self.previous_high[handle.index()] = high as u16;
        let discriminator = (high << SLOT_BITS) | (handle.index() as u32 + 1);
        let now = self.clock.now();
        let keys = config.keys.take();
        let mut session = Session::new(discriminator, timing, config.passive, keys, self.rng.next_u64(), now);
        session.set_transmit_granularity(self.tx_granularity);
        let peer = config.peer;
        let entry = Entry { config, session, out_prev: None, out_next: None, queued: false };
        let handle = self.sessions.insert(entry).map_err(|_| ConfigError::TableFull)?;
        if self.peers.insert(handle.index(), peer).is_err() {
            self.sessions.remove(handle);
            return Err(ConfigError::TableFull);
        }
        self.after_change(handle, now);
        Ok(handle)
    }

    /// Removes a session, silently (send it [`admin_down`](Self::admin_down) first to tell the
    /// peer). Returns whether it existed; its handle goes stale.
    pub fn remove_session(&mut self, handle: SessionHandle) -> bool {
        if !self.sessions.contains(handle) {
            return false;
        }
        self.unqueue(handle);
        self.timers.remove_session(handle);
        self.peers.remove(handle.index());
        self.sessions.remove(handle);
        true
    }

    /// A snapshot of a session (no secrets in it).
    pub fn session(&self, handle: SessionHandle) -> Option<SessionStatus> {
        Some(self.sessions.get(handle)?.session.status())
    }

    /// A session's configuration (its `keys` are `None`: they live in the session).
    pub fn config(&self, handle: SessionHandle) -> Option<&SessionConfig> {
        Some(&self.sessions.get(handle)?.config)
    }

    /// A session's keys, for rotation without a flap: add the new key on both ends, select it
    /// on both, remove the old one. `None` without authentication (or session).
    pub fn keys_mut(&mut self, handle: SessionHandle) -> Option<&mut BfdKeys> {
        self.sessions.get_mut(handle)?.session.keys_mut()
    }

    /// Holds a session down administratively (AdminDown, diag 7); it keeps sending so the peer
    /// sees it. Fails if the session does not exist or the event queue has no room.
    pub fn admin_down(&mut self, handle: SessionHandle, now: Instant) -> Result<(), ConfigError> {
        self.command(handle, now, |s, now| s.admin_down(now))
    }

    /// Releases an administrative hold: the session goes Down and starts over.
    pub fn enable(&mut self, handle: SessionHandle, now: Instant) -> Result<(), ConfigError> {
        self.command(handle, now, |s, now| s.enable(now))
    }

    /// Changes a session's timing; the change is announced with a Poll sequence (§6.8.3).
    pub fn set_timing(
        &mut self,
        handle: SessionHandle,
        now: Instant,
        desired_min_tx: Duration,
        required_min_rx: Duration,
        detect_mult: u8,
    ) -> Result<(), ConfigError> {
        let timing = Timing::new(desired_min_tx, required_min_rx, detect_mult)?;
        self.command(handle, now, |s, now| s.set_timing(now, timing))?;
        if let Some(entry) = self.sessions.get_mut(handle) {
            entry.config.desired_min_tx = timing.desired_min_tx();
            entry.config.required_min_rx = timing.required_min_rx();
            entry.config.detect_mult = detect_mult;
        }
        Ok(())
    }

    fn command(
        &mut self,
        handle: SessionHandle,
        now: Instant,
        f: impl FnOnce(&mut Session, Instant),
    ) -> Result<(), ConfigError> {
        if !self.sessions.contains(handle) {
            return Err(ConfigError::NoSuchSession);
        }
        if self.events.capacity() - self.events.len() < EVENTS_PER_STEP {
            return Err(ConfigError::EventQueueFull);
        }
        let now = self.clock.advance(now);
        let entry = self.sessions.get_mut(handle).ok_or(ConfigError::NoSuchSession)?;
        let before = Snapshot::of(&entry.session);
        f(&mut entry.session, now);
        self.report(handle, before, now);
        self.after_change(handle, now);
        Ok(())
    }

    /// Parses and handles one datagram that arrived at `now` as `meta` says.
    ///
    /// A refused packet changes nothing but counters — not even the host's notion of the
    /// current time.
    pub fn on_message(&mut self, now: Instant, meta: &RecvMeta, bytes: &[u8]) -> Result<Accepted, Rejected> {
        let result = self.receive(now, meta, bytes);
        match result {
            Ok(accepted) => {
                self.stats.accepted = self.stats.accepted.saturating_add(1);
                Ok(accepted)
            }
            Err((rejected, handle)) => {
                self.stats.rejected.count(&rejected);
                if let Some(entry) = handle.and_then(|h| self.sessions.get_mut(h)) {
                    entry.session.stats_mut().rejected.count(&rejected);
                }
                Err(rejected)
            }
        }
    }

    fn receive(
        &mut self,
        now: Instant,
        meta: &RecvMeta,
        bytes: &[u8],
    ) -> Result<Accepted, (Rejected, Option<SessionHandle>)> {
        let now = now.max(self.clock.now());
        if self.events.capacity() - self.events.len() < EVENTS_PER_STEP {
            return Err((Rejected::EventQueueFull, None));
        }
        let packet = ControlPacket::parse(bytes).map_err(|e| (Rejected::Malformed(e), None))?;
        let handle = self.demux(meta, &packet)?;
        let entry = self.sessions.get(handle).ok_or((Rejected::UnknownDiscriminator(0), None))?;
        if !entry.config.ttl_ok(meta.ttl) {
            return Err((Rejected::Ttl(meta.ttl), Some(handle)));
        }
        entry.session.judge(&packet, bytes).map_err(|r| (r, Some(handle)))?;
        // Accepted: from here on the packet changes state.
        let now = self.clock.advance(now);
        let entry = self.sessions.get_mut(handle).ok_or((Rejected::UnknownDiscriminator(0), None))?;
        let before = Snapshot::of(&entry.session);
        entry.session.apply(now, &packet);
        self.report(handle, before, now);
        self.after_change(handle, now);
        Ok(Accepted { session: handle })
    }

    /// Finds the packet's session (§6.8.6 steps 7–9). Reads only.
    fn demux(
        &self,
        meta: &RecvMeta,
        packet: &ControlPacket,
    ) -> Result<SessionHandle, (Rejected, Option<SessionHandle>)> {
        let your = packet.your_discriminator;
        if your != 0 {
            let slot = (your & SLOT_MASK) as usize;
            let found = slot
                .checked_sub(1)
                .and_then(|i| self.sessions.get_by_index(i))
                .filter(|(_, e)| e.session.local_discriminator() == your);
            let Some((handle, entry)) = found else {
                return Err((Rejected::UnknownDiscriminator(your), None));
            };
            if !entry.config.matches(meta) {
                return Err((Rejected::WrongSource, Some(handle)));
            }
            return Ok(handle);
        }
        if !matches!(packet.state, State::Down | State::AdminDown) {
            return Err((Rejected::ZeroDiscriminatorNotDown(packet.state), None));
        }
        // Without a source address no session can be chosen by address (§6.8.6 step 9).
        let source = meta.source.ok_or((Rejected::NoSessionForSource, None))?;
        self.peers
            .find(source.ip())
            .filter_map(|slot| self.sessions.get_by_index(slot))
            .find(|(_, e)| e.config.matches(meta))
            .map(|(h, _)| h)
            .ok_or((Rejected::NoSessionForSource, None))
    }

    /// Advances time to `now` and fires every timer due at or before it, as far as the event
    /// queue has room; the rest fire, at the same `now`, as [`poll_event`](Self::poll_event)
    /// makes room.
    pub fn tick(&mut self, now: Instant) {
        let now = self.clock.advance(now);
        if let Some(pause) = self.local_pause
            && self.timers.next_timeout().is_some_and(|at| now.saturating_duration_since(at) > pause)
        {
            self.paused_until = Some(now + pause);
        }
        self.expire_due(now);
    }

    fn expire_due(&mut self, now: Instant) {
        self.deferred = None;
        loop {
            if self.events.capacity() - self.events.len() < EVENTS_PER_STEP {
                if self.timers.next_timeout().is_some_and(|at| at <= now) {
                    self.deferred = Some(now);
                }
                return;
            }
            let Some((handle, kind, _)) = self.timers.pop_expired(now) else { return };
            let Some(entry) = self.sessions.get_mut(handle) else { continue };
            if kind == SessionTimer::Detect
                && self.paused_until.is_some_and(|until| until > now)
                && !entry.session.detection_held()
                && let Some(until) = self.paused_until
            {
                // The local-stall guard: postponed once, the session's packets may be unread.
                entry.session.hold_detection(until);
                self.after_change(handle, now);
                continue;
            }
            let before = Snapshot::of(&entry.session);
            entry.session.on_timer(now, kind);
            self.report(handle, before, now);
            self.after_change(handle, now);
            // Firing moves a timer past `now` or stops it; one that stayed would fire forever.
            if self.timers.get(handle, kind).is_some_and(|at| at <= now) {
                debug_assert!(false, "{kind:?} timer of {handle:?} did not move");
                self.timers.stop(handle, kind);
            }
        }
    }

    /// The next event, oldest first. Taking one out makes room for timers the latest `tick`
    /// had to leave: they fire now, as of that tick.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<BfdEvent> {
        let event = self.events.pop_front()?;
        if let Some(tick) = self.deferred {
            self.expire_due(tick);
        }
        Some(event)
    }

    /// Writes the next packet into `buf` (signed, when the session has keys) and says which
    /// session it is for and where it goes: the peer's port 3784 (single hop) or 4784
    /// (multihop), TTL 255. `None` when nothing waits. A buffer shorter than the packet
    /// ([`MAX_PACKET_LEN`](super::packet::MAX_PACKET_LEN) always suffices) leaves it queued.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<(SessionHandle, SendMeta), BufferTooSmall>> {
        loop {
            let handle = self.out_head?;
            let Some(entry) = self.sessions.get_mut(handle) else {
                self.out_head = None;
                self.out_tail = None;
                return None;
            };
            match entry.session.write_transmit(buf) {
                None => self.unqueue(handle),
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(len)) => {
                    let meta = SendMeta {
                        link: entry.config.link,
                        destination: entry.config.destination(),
                        ttl: Some(TX_TTL),
                        len,
                    };
                    if !entry.session.has_transmit() {
                        self.unqueue(handle);
                    }
                    self.stats.transmitted = self.stats.transmitted.saturating_add(1);
                    return Some(Ok((handle, meta)));
                }
            }
        }
    }

    /// When to call [`tick`](Self::tick) next: the earliest timer, or the latest `now` while
    /// packets or events wait. `None` when no timer runs.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.events.is_empty() || self.out_head.is_some() {
            return Some(self.clock.now());
        }
        self.timers.next_timeout()
    }

    /// Queues events for what changed in `handle`'s session since `before`.
    fn report(&mut self, handle: SessionHandle, before: Snapshot, at: Instant) {
        let Some(entry) = self.sessions.get(handle) else { return };
        let after = Snapshot::of(&entry.session);
        let diag = entry.session.local_diag();
        let mut push = |kind| {
            let pushed = self.events.push_back(BfdEvent { at, session: handle, kind });
            debug_assert!(pushed.is_ok(), "event queue overflow: room was not checked");
        };
        if after.remote_state == State::AdminDown && before.remote_state != State::AdminDown {
            push(BfdEventKind::PeerAdminDown);
        }
        if after.state != before.state {
            push(BfdEventKind::StateChanged { from: before.state, to: after.state, diag });
        }
        if (after.tx_interval, after.detection_time) != (before.tx_interval, before.detection_time) {
            push(BfdEventKind::TimingChanged { tx_interval: after.tx_interval, detection_time: after.detection_time });
        }
    }

    /// After anything changed `handle`'s session at `now`: sends a packet that is due at once
    /// (a state change), re-files its timers and queues it if it has packets to send.
    fn after_change(&mut self, handle: SessionHandle, now: Instant) {
        let Some(entry) = self.sessions.get_mut(handle) else { return };
        if entry.session.deadline(SessionTimer::Transmit).is_some_and(|at| at <= now) {
            entry.session.on_timer(now, SessionTimer::Transmit);
        }
        for index in 0..SessionTimer::COUNT {
            let Some(kind) = SessionTimer::from_index(index) else { continue };
            let at = entry.session.deadline(kind);
            let _ = self.timers.set_opt(handle, kind, at);
        }
        if entry.session.has_transmit() {
            self.enqueue(handle);
        }
    }

    fn enqueue(&mut self, handle: SessionHandle) {
        let tail = self.out_tail;
        let Some(entry) = self.sessions.get_mut(handle) else { return };
        if entry.queued {
            return;
        }
        entry.queued = true;
        entry.out_prev = tail;
        entry.out_next = None;
        match tail.and_then(|t| self.sessions.get_mut(t)) {
            Some(t) => t.out_next = Some(handle),
            None => self.out_head = Some(handle),
        }
        self.out_tail = Some(handle);
    }

    fn unqueue(&mut self, handle: SessionHandle) {
        let Some(entry) = self.sessions.get_mut(handle) else { return };
        if !entry.queued {
            return;
        }
        entry.queued = false;
        let (prev, next) = (entry.out_prev.take(), entry.out_next.take());
        match prev.and_then(|p| self.sessions.get_mut(p)) {
            Some(p) => p.out_next = next,
            None => self.out_head = next,
        }
        match next.and_then(|n| self.sessions.get_mut(n)) {
            Some(n) => n.out_prev = prev,
            None => self.out_tail = prev,
        }
    }
}
