//! A [`Node`]: the sender and the monitor in one, for symmetric clusters in which every node
//! monitors every other. Its heartbeats carry what the monitor learned: echoes for round-trip
//! times, whether it hears the peer, and the timeout it applies to the peer.

use core::net::SocketAddr;

use crate::beacon::{Beacon, Destination, Transmit};
use crate::config::{Config, MAX_WIRE_DURATION};
use crate::detector::Detector;
use crate::engine::{BufferTooSmall, RecvMeta, SendMeta};
use crate::event::Event;
use crate::monitor::{Accepted, Monitor, MonitorStats, PeerError, Rejected, Watermark};
use crate::peers::{LinkId, PeerStatus};
use crate::sender::outgoing;
use crate::storage::{Buffer, Storage};
use crate::time::Instant;
use crate::wire::{Echo, NodeId};

/// Sends heartbeats to every peer and monitors every peer.
///
/// # Driving it
///
/// 1. Feed every datagram to [`on_message`](Self::on_message) with the link it arrived on
///    and, when the adapter has it, its source address.
/// 2. Call [`tick`](Self::tick) when [`poll_timeout`](Self::poll_timeout) is reached.
/// 3. After each input, drain [`poll_transmit`](Self::poll_transmit) and
///    [`poll_event`](Self::poll_event) until both return `None`; send each frame to every
///    [`targets`](Self::targets) of its [`Transmit`].
///
/// See the crate documentation for a complete loop.
///
/// # The address book
///
/// The node knows where its peers are: each peer has at most one address per link, given to
/// [`add_peer_at`](Self::add_peer_at) or learned from the source of its accepted frames (never
/// over a configured one), and each link may have a group address ([`set_group`](Self::set_group))
/// for frames to every node. An adapter asks [`targets`](Self::targets) where a frame goes and
/// keeps no address table of its own.
pub struct Node<D: Detector, S: Storage> {
    monitor: Monitor<D, S>,
    beacon: Beacon,
    /// The multicast group or broadcast address of link 0, for [`Destination::All`].
    group: Option<SocketAddr>,
    /// Those of links `1..links`, kept with the per-link records: a single-link [`Fixed`] node
    /// pays for one group address, not [`MAX_LINKS`](crate::MAX_LINKS).
    ///
    /// [`Fixed`]: crate::Fixed
    more_groups: S::LinkVec<Option<SocketAddr>>,
}

impl<D: Detector, S: Storage> Node<D, S> {
    /// A node with no peers yet; its first heartbeat round is due at `now`.
    pub fn new(config: Config, detector: D, now: Instant) -> Self {
        let beacon = Beacon::new(&config, now);
        let mut more_groups = S::LinkVec::default();
        for _ in 1..config.links {
            // Storage with fewer (peer, link) rows than links has no room: those links' groups
            // cannot be set (`set_group` says so).
            let _ = more_groups.try_push(None);
        }
        Node { monitor: Monitor::new(config, detector, now), beacon, group: None, more_groups }
    }

    /// The configuration, without its keys (see [`Config::keys`]).
    pub fn config(&self) -> &Config {
        self.monitor.config()
    }

    /// How frames are signed and checked.
    pub fn authentication(&self) -> &crate::auth::Authentication {
        self.monitor.authentication()
    }

    /// The monitoring half, for read access.
    pub fn monitor(&self) -> &Monitor<D, S> {
        &self.monitor
    }

    /// Counters of accepted and rejected frames.
    pub fn stats(&self) -> &MonitorStats {
        self.monitor.stats()
    }

    /// The sequence number of the latest round (0 before the first).
    pub fn sequence(&self) -> u64 {
        self.beacon.sequence()
    }

    /// The key ring, for rotating keys while running; `None` without keys. The next frame is
    /// sent, and every following frame checked, with the ring as changed.
    #[cfg(feature = "auth")]
    pub fn key_ring_mut(&mut self) -> Option<&mut crate::auth::KeyRing> {
        self.monitor.key_ring_mut()
    }

    /// Takes over a new configuration while running, at `now`: timing and (when `config` holds
    /// them) keys, every peer's state kept. See [`Monitor::reconfigure`] for the rule, and
    /// [`Config::fixed_field_changed`] for what is refused. A new `interval` paces the
    /// heartbeats from the next round, which comes within one new interval; the new `timeout`
    /// travels in that round's frames.
    pub fn reconfigure(&mut self, now: Instant, config: Config) -> Result<(), crate::config::FixedFieldError> {
        let interval = config.interval();
        self.monitor.reconfigure(now, config)?;
        self.beacon.retime(interval, self.monitor.now());
        Ok(())
    }

    /// Replaces the detector while running, at `now`. See [`Monitor::replace_detector`].
    pub fn replace_detector(&mut self, now: Instant, detector: D) {
        self.monitor.replace_detector(now, detector);
    }

    /// Adds a configured peer without an address: monitored, reached by group frames, and
    /// by unicast once its address is learned from its frames. See [`Monitor::add_peer`].
    pub fn add_peer(&mut self, id: NodeId) -> Result<(), PeerError> {
        self.monitor.add_peer(id)
    }

    /// Adds a configured peer at `addrs` (address `i` on link `i`; more addresses than links
    /// is refused and changes nothing). See [`Monitor::add_peer_at`].
    pub fn add_peer_at(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), PeerError> {
        self.monitor.add_peer_at(id, addrs)
    }

    /// Moves a peer to other addresses, keeping its record. See [`Monitor::move_peer`].
    pub fn move_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), PeerError> {
        self.monitor.move_peer(id, addrs)
    }

    /// Sets the multicast group or broadcast address that frames for every node
    /// ([`Destination::All`], sent when the configuration says `broadcast`) go to on `link`.
    /// Returns `false`, changing nothing, if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.put_group(link, Some(addr))
    }

    /// Forgets the group address of `link`: frames for every node then have nowhere to go on
    /// it. Returns whether there is such a link.
    pub fn clear_group(&mut self, link: LinkId) -> bool {
        self.put_group(link, None)
    }

    fn put_group(&mut self, link: LinkId, addr: Option<SocketAddr>) -> bool {
        let slot = match link.0 {
            0 => Some(&mut self.group),
            l => self.more_groups.get_mut(usize::from(l) - 1),
        };
        match slot {
            Some(group) => {
                *group = addr;
                true
            }
            None => false,
        }
    }

    /// The group address of `link`, if set.
    pub fn group(&self, link: LinkId) -> Option<SocketAddr> {
        match link.0 {
            0 => self.group,
            l => self.more_groups.get(usize::from(l) - 1).copied().flatten(),
        }
    }

    /// Every (link, address) a peer is reached at, configured or learned, in link order.
    pub fn addresses(&self, id: NodeId) -> impl Iterator<Item = (LinkId, SocketAddr)> + '_ {
        self.monitor.addresses(id)
    }

    /// Where the frame `transmit` describes goes: one [`SendMeta`] per link that has an address
    /// for its destination (the peer's address on that link, or the link's group address), in
    /// link order. The frame is the same for each: written and signed once. No item means the
    /// frame has nowhere to go (a peer with no address yet, or no group set).
    pub fn targets(&self, transmit: Transmit) -> impl Iterator<Item = SendMeta> + '_ {
        let slot = match transmit.destination {
            Destination::Peer(id) => self.monitor.find(id),
            Destination::All => None,
        };
        (0..self.monitor.config().links).filter_map(move |l| {
            let destination = match transmit.destination {
                Destination::Peer(_) => self.monitor.slot_address(slot?, usize::from(l)),
                Destination::All => self.group(LinkId(l)),
            }?;
            Some(SendMeta { link: LinkId(l), destination, ttl: None, len: transmit.len })
        })
    }

    /// Adds a peer with replay protection resumed from an earlier run. See
    /// [`Monitor::add_peer_after`].
    pub fn add_peer_after(&mut self, id: NodeId, mark: Watermark) -> Result<(), PeerError> {
        self.monitor.add_peer_after(id, mark)
    }

    /// The newest (generation, sequence) accepted from a peer, to persist. See
    /// [`Monitor::watermark`].
    pub fn watermark(&self, id: NodeId) -> Option<Watermark> {
        self.monitor.watermark(id)
    }

    /// Every peer's watermark, to persist. See [`Monitor::watermarks`].
    pub fn watermarks(&self) -> impl Iterator<Item = (NodeId, Watermark)> + '_ {
        self.monitor.watermarks()
    }

    /// Resumes replay protection for a peer already added. See [`Monitor::resume_watermark`].
    pub fn resume_watermark(&mut self, id: NodeId, mark: Watermark) -> Result<(), crate::ResumeError> {
        self.monitor.resume_watermark(id, mark)
    }

    /// Removes a peer silently; returns whether it was present. Call it between rounds (after
    /// draining `poll_transmit`), as the drain rule has it: removed in the middle of a round,
    /// another peer may miss that round's heartbeat.
    pub fn remove_peer(&mut self, id: NodeId) -> bool {
        self.monitor.remove_peer(id)
    }

    /// One peer's status.
    pub fn peer(&self, id: NodeId) -> Option<PeerStatus> {
        self.monitor.peer(id)
    }

    /// Every peer's status.
    pub fn peers(&self) -> impl Iterator<Item = PeerStatus> + '_ {
        self.monitor.peers()
    }

    /// Handles one datagram that arrived at `now` `from` a link (and source address, if
    /// known). See [`Monitor::on_message`].
    pub fn on_message(&mut self, now: Instant, from: impl Into<RecvMeta>, bytes: &[u8]) -> Result<Accepted, Rejected> {
        self.monitor.on_message(now, from, bytes)
    }

    /// Advances time to `now`: fires due deadlines and starts a heartbeat round if one is due.
    pub fn tick(&mut self, now: Instant) {
        self.monitor.tick(now);
        self.beacon.tick(self.monitor.now());
    }

    /// Starts the goodbye round: drain `poll_transmit` to send a goodbye to every peer. No
    /// heartbeat follows; the node keeps monitoring until dropped.
    pub fn leave(&mut self, now: Instant) {
        self.monitor.tick(now);
        self.beacon.leave();
    }

    /// Whether [`leave`](Self::leave) was called.
    pub fn is_leaving(&self) -> bool {
        self.beacon.leaving()
    }

    /// Writes the next frame of the current round into `buf`; `None` once the round is sent.
    /// A buffer shorter than the frame (at most [`MAX_FRAME_LEN`](crate::MAX_FRAME_LEN) bytes) gets
    /// `Some(Err(BufferTooSmall))`, nothing written, and the frame stays next.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>> {
        let config = self.monitor.config();
        let broadcast = config.broadcast;
        let count = if broadcast { 1 } else { self.monitor.len() };
        let (kind, slot) = self.beacon.next_target(count)?;
        let now = self.monitor.now();
        let mut msg = outgoing(config, kind, self.beacon.sequence(), now);
        let destination = if broadcast {
            Destination::All
        } else {
            let peer = self.monitor.peer_ids()[slot];
            msg.receiver = Some(peer);
            msg.hears_you = self.monitor.hears(slot);
            msg.applied_timeout = self.monitor.applied_timeout(slot);
            msg.echo = self
                .monitor
                .echo_source(slot)
                .filter(|_| msg.hears_you)
                .map(|(timestamp, at)| Echo { timestamp, delay: (now - at).min(MAX_WIRE_DURATION) });
            Destination::Peer(peer)
        };
        // Signed here, with the current key, when the configuration has keys. Every field comes
        // from the validated configuration or the monitor's clamped values.
        let sent = self.monitor.authentication().encode_valid(&msg, buf).map(|len| Transmit { destination, len });
        if sent.is_ok() {
            self.beacon.sent();
        }
        Some(sent)
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.monitor.poll_event()
    }

    /// When to call `tick` next: the earliest of the monitor's deadlines and the next round,
    /// or the latest `now` while output waits to be drained. After `tick(now)` and a full
    /// drain, it is strictly later than `now`.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sending = self.beacon.poll_timeout(self.monitor.now());
        match (self.monitor.poll_timeout(), sending) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
