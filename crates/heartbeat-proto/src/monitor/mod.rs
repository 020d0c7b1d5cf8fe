//! The receiving half: a [`Monitor`] of N peers, driven by `on_message` and `tick`.
//!
//! The monitor is the liveness engine; wire v1 is one profile on it. Data flows one way: bytes →
//! [`Frame`] check → [`Message`] parse → the v1 profile's own admission (cluster, addressee) →
//! an [`Observation`] → the engine's admission (not our own, link, known or learnable sender) →
//! authentication (one HMAC at most) → sequence/generation verdict → state change → events and
//! timer. Every step before the state change only reads, so a rejected frame changes nothing but
//! its counter, and a forged frame is refused before any peer state is consulted. Another
//! profile enters at [`Monitor::observe`] with observations it decoded and verified itself.

mod due;
#[cfg(all(test, feature = "explain"))]
mod explain_tests;
mod outcome;
mod reachability;
mod resume;
mod v1;

use core::net::SocketAddr;
use core::time::Duration;

use crate::auth::{AuthError, Authentication};
use crate::config::{Config, FixedFieldError, Learning};
use crate::detector::{Arrival, Detector, PeerTiming};
use crate::engine::{Observation, ObservationKind, RecvMeta};
#[cfg(feature = "explain")]
use crate::event::{DeadlineSource, Evidence, Verdict as VerdictKind};
use crate::event::{Event, EventKind, EventQueue};
use crate::peers::{LinkId, Liveness, Peer, PeerStatus, PeerTable, SeqClass, SeqWindow};
use crate::storage::Storage;
use crate::time::{Clock, Instant};
use crate::wire::{Frame, Message, NodeId};
use due::{Due, grace_after_change, liveness_due, next_deadline, timing};
pub use outcome::{Accepted, MonitorStats, PeerError, Rejected, Watermark};
pub use reachability::Reachability;
pub use resume::ResumeError;

/// The verdict on an admitted frame, decided before anything changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Fresh { gap: u64 },
    Restart,
    Late,
    LinkCopy,
}

/// Monitors N peers: tracks their liveness from heartbeats and deadlines, and reports
/// transitions as [`Event`]s.
///
/// # Driving it
///
/// - Inputs: [`on_message`](Self::on_message) for every datagram, [`tick`](Self::tick) when
///   [`poll_timeout`](Self::poll_timeout) passes (or whenever convenient; extra ticks are
///   harmless).
/// - Outputs: drain [`poll_event`](Self::poll_event) until `None` after every input.
/// - Time: pass the same clock's `now` to every call. Time going backwards counts as no
///   progress; it never panics and never moves a deadline.
///
/// A peer is declared `Down` by the first `tick` at or after its deadline, not a polling period
/// later. A heartbeat costs O(1) timer work and `tick` costs in proportion to the timers that
/// fire; nothing scans the table.
pub struct Monitor<D: Detector, S: Storage> {
    /// The configuration, without its keys (see [`Config::keys`]).
    config: Config,
    /// The keys, taken out of the configuration so that no copy of it carries them.
    auth: Authentication,
    detector: D,
    clock: Clock,
    peers: PeerTable<D::PeerState, S>,
    events: EventQueue,
    stats: MonitorStats,
    /// The `now` of a `tick` that left due deadlines for lack of event-queue room.
    deferred: Option<Instant>,
    /// Until when frames count as heard right after a local pause (the stall guard).
    paused_until: Option<Instant>,
}

impl<D: Detector, S: Storage> Monitor<D, S> {
    /// A monitor with no peers yet, started at `now`. It takes the configuration's keys into
    /// its own state (see [`Config::keys`]).
    ///
    /// # Panics
    ///
    /// If `config` is a running machine's configuration, whose keys are already taken.
    pub fn new(mut config: Config, detector: D, now: Instant) -> Self {
        let auth = config.take_keys();
        let hash_key = config.seed ^ 0x5EED_0F1D_E900_0001;
        let links = config.links;
        // Most deadlines lie within about one timeout of a heartbeat; the rest wrap around.
        let horizon = config.timeout;
        Monitor {
            config,
            auth,
            detector,
            clock: Clock::new(now),
            peers: PeerTable::new(hash_key, links, horizon),
            events: EventQueue::default(),
            stats: MonitorStats::default(),
            deferred: None,
            paused_until: None,
        }
    }

    /// The configuration, without its keys.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How frames are signed and checked: the keys taken from the configuration.
    pub fn authentication(&self) -> &Authentication {
        &self.auth
    }

    /// The detector.
    pub fn detector(&self) -> &D {
        &self.detector
    }

    /// The latest `now` seen.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Counters of accepted and rejected frames.
    pub fn stats(&self) -> &MonitorStats {
        &self.stats
    }

    /// How many peers are in the table.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.peers.len() == 0
    }

    /// Adds a configured peer with no address: it is monitored, and reached only by frames
    /// for every node (a multicast group or broadcast address) until it is heard, when its
    /// source address is learned (see [`add_peer_at`](Self::add_peer_at)). It starts
    /// `Waiting`, with the start-up deadline (`initdead`) counted from the latest `now` seen.
    pub fn add_peer(&mut self, id: NodeId) -> Result<(), PeerError> {
        self.add_peer_at(id, &[])
    }

    /// Adds a configured peer at `addrs`: `addrs[i]` is its address on link `i`, and a link
    /// without one learns it from the peer's first accepted frame on that link. More addresses
    /// than links is [`PeerError::TooManyAddresses`]; a refused peer changes nothing.
    ///
    /// A configured address is never overwritten from the wire: a datagram's source address
    /// is not authenticated (only its bytes are), so anyone who can send to this node could
    /// otherwise redirect a peer's heartbeats with one replayed frame from a spoofed source.
    pub fn add_peer_at(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), PeerError> {
        if addrs.len() > usize::from(self.config.links) {
            return Err(PeerError::TooManyAddresses { given: addrs.len(), links: self.config.links });
        }
        if id == self.config.node {
            return Err(PeerError::IsSelf);
        }
        if self.peers.find(id).is_some() {
            return Err(PeerError::AlreadyPresent);
        }
        let slot = self.insert(id, false).ok_or(PeerError::TableFull)?;
        self.peers.configure_addresses(slot, addrs);
        Ok(())
    }

    /// Moves a peer to `addrs` (as in [`add_peer_at`](Self::add_peer_at); a link without an
    /// address learns it from the wire again), keeping everything else it has: its state,
    /// generation, replay window, detector history and counters. So an operator re-pointing
    /// a peer neither sees it come up again nor lets a recording of its frames be believed.
    /// An unknown peer is [`PeerError::NotPresent`]; a refusal changes nothing.
    pub fn move_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), PeerError> {
        if addrs.len() > usize::from(self.config.links) {
            return Err(PeerError::TooManyAddresses { given: addrs.len(), links: self.config.links });
        }
        let slot = self.peers.find(id).ok_or(PeerError::NotPresent)?;
        self.peers.readdress(slot, addrs);
        Ok(())
    }

    /// A peer's address on `link`: configured, or learned from its latest accepted frame
    /// there. `None` for an unknown peer or a link without an address.
    pub fn address(&self, id: NodeId, link: LinkId) -> Option<SocketAddr> {
        self.peers.address(self.peers.find(id)?, usize::from(link.0))
    }

    /// Every (link, address) a peer is reached at, in link order; empty for an unknown peer.
    pub fn addresses(&self, id: NodeId) -> impl Iterator<Item = (LinkId, SocketAddr)> + '_ {
        let slot = self.peers.find(id);
        (0..self.config.links).filter_map(move |l| Some((LinkId(l), self.slot_address(slot?, usize::from(l))?)))
    }

    /// The slot of peer `id`.
    pub(crate) fn find(&self, id: NodeId) -> Option<usize> {
        self.peers.find(id)
    }

    /// The address of the peer in `slot` on `link`.
    pub(crate) fn slot_address(&self, slot: usize, link: usize) -> Option<SocketAddr> {
        self.peers.address(slot, link)
    }

    /// Adds a configured peer whose [`Watermark`] an earlier run of this node persisted, so
    /// that replay protection survives the restart: frames of an older generation, or of the
    /// same generation at or below the mark's sequence, are refused as replays. Without it a
    /// restarted node accepts the first authenticated frame of any generation. Otherwise as
    /// [`add_peer`](Self::add_peer).
    pub fn add_peer_after(&mut self, id: NodeId, mark: Watermark) -> Result<(), PeerError> {
        self.add_peer(id)?;
        let slot = self.peers.find(id).ok_or(PeerError::TableFull)?;
        if let Some((peer, _)) = self.peers.record_and_links_mut(slot) {
            peer.resume(mark.generation, mark.sequence);
        }
        Ok(())
    }

    /// The newest (generation, sequence) accepted from a peer (or resumed with
    /// [`add_peer_after`](Self::add_peer_after)): persist it, for example every few seconds and
    /// at shutdown, and pass it back after a restart. `None` for a peer never heard.
    pub fn watermark(&self, id: NodeId) -> Option<Watermark> {
        let peer = self.peers.get(self.peers.find(id)?)?;
        let sequence = peer.seq.highest().filter(|_| peer.has_history())?;
        Some(Watermark { generation: peer.generation, sequence })
    }

    /// Removes a peer, silently. Returns whether it was present.
    pub fn remove_peer(&mut self, id: NodeId) -> bool {
        match self.peers.find(id) {
            Some(slot) => {
                self.peers.remove(slot);
                self.settle();
                true
            }
            None => false,
        }
    }

    /// Everything known about one peer.
    pub fn peer(&self, id: NodeId) -> Option<PeerStatus> {
        self.status(self.peers.find(id)?)
    }

    /// Every peer's status, in table order.
    pub fn peers(&self) -> impl Iterator<Item = PeerStatus> + '_ {
        (0..self.peers.len()).filter_map(|slot| self.status(slot))
    }

    /// Decodes, authenticates and handles one datagram that arrived at `now`, `from` a link
    /// and, if the adapter knows it, a source address ([`RecvMeta`]; a bare [`LinkId`] or
    /// `SocketAddr` converts into one). The source of an accepted frame becomes the peer's
    /// address on that link unless one was configured (see [`add_peer_at`](Self::add_peer_at)).
    ///
    /// A rejected frame changes nothing but its counter — not even the monitor's notion of
    /// the current time, nor the peer's address.
    pub fn on_message(&mut self, now: Instant, from: impl Into<RecvMeta>, bytes: &[u8]) -> Result<Accepted, Rejected> {
        let meta = from.into();
        // `parse` checks the structure, so the frame is checked by the time `verify` reads it.
        let frame = Frame::new_unchecked(bytes);
        let result = Message::parse(&frame)
            .map_err(Rejected::Malformed)
            .and_then(|msg| v1::observation(&self.config, &msg))
            .and_then(|obs| self.handle(now, meta, &obs, |auth| auth.verify(&frame)));
        self.tally(&result);
        result
    }

    /// Handles an already decoded message (for callers that decoded it themselves). Same
    /// rules and counters as [`on_message`](Self::on_message), but a decoded message has no
    /// tag left to check: a monitor with keys refuses it as
    /// [`AuthError::Unverifiable`] (or [`AuthError::Missing`]); use `on_message` instead.
    pub fn on_decoded(&mut self, now: Instant, from: impl Into<RecvMeta>, msg: &Message) -> Result<Accepted, Rejected> {
        let meta = from.into();
        let result = v1::observation(&self.config, msg)
            .and_then(|obs| self.handle(now, meta, &obs, |auth| auth.verify_decoded(msg)));
        self.tally(&result);
        result
    }

    /// Handles an observation that another wire profile decoded **and authenticated** itself
    /// (this monitor's own [`Authentication`] is wire v1's and is not consulted). The engine's
    /// rules and counters are those of [`on_message`](Self::on_message) from the sender check on:
    /// not from this node, a known link, a configured or learnable sender, then the
    /// generation/sequence verdict; the source address is learned as `on_message` learns it.
    /// A rejected observation changes nothing but its counter.
    pub fn observe(
        &mut self,
        now: Instant,
        from: impl Into<RecvMeta>,
        obs: &Observation,
    ) -> Result<Accepted, Rejected> {
        let result = self.handle(now, from.into(), obs, |_| Ok(()));
        self.tally(&result);
        result
    }

    /// The key ring, for rotating keys while running (see [`KeyRing`](crate::KeyRing)).
    /// `None` without keys. Changes apply to the next frame.
    #[cfg(feature = "auth")]
    pub fn key_ring_mut(&mut self) -> Option<&mut crate::auth::KeyRing> {
        self.auth.key_ring_mut()
    }

    /// Takes over a new configuration while running, at `now`: the timing (`tick` and the
    /// timeout bounds, `timeout`, `interval`, `initdead`, `local_pause`) and, when `config`
    /// still holds keys (one fresh from its builder does), the keys — the whole ring replaced at
    /// once, so the next frame is signed, and every later one checked, under the new ring.
    /// Every peer keeps its record: liveness, sequence window and generation (so replay
    /// protection is untouched, whichever keys come and go), detector history, counters.
    ///
    /// The rule for deadlines: a peer last heard before the change is judged by the new rule as
    /// if heard at the change, but never later than the old rule would have judged it; so a
    /// stricter rule never convicts it for silence the old rule allowed, a rule as strict or
    /// looser applies at once (the same settings again move nothing), and its next frame ends
    /// the grace. A peer's negotiated
    /// timeout is renegotiated under the new bounds with its next frame. This node's own
    /// `timeout` and `interval` reach its peers with its next heartbeat.
    ///
    /// A change of a field that only a new machine can take (see
    /// [`Config::fixed_field_changed`]) is refused with [`FixedFieldError`], and nothing
    /// changes.
    pub fn reconfigure(&mut self, now: Instant, mut config: Config) -> Result<(), FixedFieldError> {
        if let Some(field) = self.config.fixed_field_changed(&config) {
            return Err(FixedFieldError { field });
        }
        let now = self.clock.advance(now);
        self.hold_down_deadlines();
        if let Some(auth) = config.keys.take() {
            self.auth = auth;
        }
        self.config = config;
        self.rules_changed(now);
        Ok(())
    }

    /// Replaces the detector while running, at `now`: each peer's state goes through the new
    /// detector's [`Detector::on_replaced`] (by default, a fresh start), and every peer keeps the
    /// rest of its record. Deadlines follow the rule of [`reconfigure`](Self::reconfigure).
    pub fn replace_detector(&mut self, now: Instant, detector: D) {
        let now = self.clock.advance(now);
        self.hold_down_deadlines();
        self.detector = detector;
        for slot in 0..self.peers.len() {
            let Some(id) = self.peers.id(slot) else { continue };
            if let Some((peer, _)) = self.peers.record_and_links_mut(slot) {
                self.detector.on_replaced(&mut peer.detector, id);
            }
        }
        self.rules_changed(now);
    }

    /// Keeps every slot's down deadline under the rules in force (grace included), before a change:
    /// held in the peers' grace fields, as µs after their last frame, until
    /// [`rules_changed`](Self::rules_changed) turns them into the new grace.
    fn hold_down_deadlines(&mut self) {
        for slot in 0..self.peers.len() {
            let old = self.peers.get(slot).and_then(|p| {
                let due = liveness_due(&self.detector, &self.config, p)?;
                Some(crate::time::duration_micros_u32(due.down.saturating_duration_since(p.last_heard)))
            });
            if let Some((peer, _)) = self.peers.record_and_links_mut(slot) {
                peer.grace_us = old.map_or(u32::MAX, |us| us.min(u32::MAX - 1));
            }
        }
    }

    /// After the rules changed at `now`: each peer's grace under the new rules (see
    /// [`grace_after_change`]), and every timer set to exactly its next deadline.
    fn rules_changed(&mut self, now: Instant) {
        for slot in 0..self.peers.len() {
            let Some((peer, _)) = self.peers.record_and_links_mut(slot) else { continue };
            let held = core::mem::take(&mut peer.grace_us);
            let old = (held != u32::MAX).then(|| peer.last_heard + Duration::from_micros(u64::from(held)));
            let grace = grace_after_change(&self.detector, &self.config, peer, old, now);
            peer.grace_us = grace;
            self.reschedule(slot);
        }
        self.settle();
    }

    /// Advances time to `now` and fires every deadline at or before it, as far as the event
    /// queue has room; the rest fire, at the same `now`, as [`poll_event`](Self::poll_event)
    /// makes room. So `tick(now)` and a full drain fire every deadline at or before `now`.
    ///
    /// With the local-stall guard on ([`ConfigBuilder::local_pause`]), a deadline that passed
    /// more than the pause before `now` is postponed once, to `now + pause`.
    ///
    /// [`ConfigBuilder::local_pause`]: crate::ConfigBuilder::local_pause
    pub fn tick(&mut self, now: Instant) {
        let now = self.clock.advance(now);
        self.expire_due(now);
    }

    /// The next event, oldest first. Taking one out makes room for deadlines that the latest
    /// `tick` had to leave for lack of room: they fire now, as of that tick.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop()?;
        if let Some(tick) = self.deferred {
            self.expire_due(tick);
        }
        Some(event)
    }

    /// Fires deadlines at or before `now`, earliest first, while the event queue has room;
    /// remembers `now` if some had to wait.
    fn expire_due(&mut self, now: Instant) {
        self.deferred = None;
        loop {
            self.settle();
            let Some((at, slot)) = self.peers.next_timer() else { break };
            if at > now {
                break;
            }
            if self.events.room() < self.events_per_peer_change() {
                self.deferred = Some(now);
                break;
            }
            if self.hold_after_local_pause(slot, at, now) {
                continue;
            }
            // A timer at the end of a stall window is a postponement the guard set.
            let held = self.config.local_pause.is_some() && self.paused_until == Some(at);
            self.expire(slot, now, held);
        }
    }

    /// When to call [`tick`](Self::tick) next: the earliest deadline, or the latest `now` while
    /// events wait to be polled. `None` when nothing is scheduled. After `tick(now)` and a full
    /// drain of `poll_event`, it is strictly later than `now`; a deadline that saturated at
    /// [`Instant::MAX`] can never be, so it counts as none.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.events.is_empty() {
            return Some(self.clock.now());
        }
        self.peers.next_timer().map(|(at, _)| at).filter(|at| *at != Instant::MAX)
    }

    /// The latest fresh timestamp a peer sent, with when it arrived, for echoing back.
    pub(crate) fn echo_source(&self, slot: usize) -> Option<(Instant, Instant)> {
        let peer = self.peers.get(slot)?;
        peer.heard().then_some((peer.peer_timestamp, peer.last_heard))
    }

    /// The timeout this node applies to the peer in `slot`, once it has heard it.
    pub(crate) fn applied_timeout(&self, slot: usize) -> Option<Duration> {
        let peer = self.peers.get(slot)?;
        peer.heard().then(|| peer.timeout())
    }

    /// Whether this node currently hears the peer in `slot`.
    pub(crate) fn hears(&self, slot: usize) -> bool {
        self.peers.get(slot).is_some_and(Peer::alive)
    }

    pub(crate) fn peer_ids(&self) -> &[NodeId] {
        self.peers.ids()
    }

    fn tally(&mut self, result: &Result<Accepted, Rejected>) {
        match result {
            Ok(Accepted::Heartbeat | Accepted::Goodbye) => self.stats.accepted = self.stats.accepted.saturating_add(1),
            Ok(Accepted::Late) => self.stats.late = self.stats.late.saturating_add(1),
            Ok(Accepted::LinkCopy) => self.stats.link_copies = self.stats.link_copies.saturating_add(1),
            Err(rejected) => {
                self.stats.count(rejected);
                // A duplicate is also counted against its peer (`PeerStats::duplicates`).
                if let Rejected::Duplicate { peer, .. } = rejected
                    && let Some(slot) = self.peers.find(*peer)
                    && let Some((record, _)) = self.peers.record_and_links_mut(slot)
                {
                    record.stats.duplicates = record.stats.duplicates.saturating_add(1);
                }
            }
        }
    }

    fn multi_link(&self) -> bool {
        self.config.links > 1
    }

    /// The most events one peer's change can raise: its own, plus one per link.
    fn events_per_peer_change(&self) -> usize {
        let own = 1 + usize::from(self.config.explain);
        if self.multi_link() { own + usize::from(self.config.links) } else { own }
    }

    fn insert(&mut self, id: NodeId, learned: bool) -> Option<usize> {
        if self.peers.len() >= self.config.max_peers {
            return None;
        }
        let now = self.clock.now();
        let mut peer = Peer::new(now, self.config.timeout, learned);
        self.detector.on_peer_added(&mut peer.detector, id);
        let slot = self.peers.insert(id, peer).ok()?;
        self.reschedule(slot);
        self.settle();
        Some(slot)
    }

    /// Admission, authentication, verdict, then the only step that changes state.
    fn handle(
        &mut self,
        now: Instant,
        meta: RecvMeta,
        obs: &Observation,
        authenticate: impl FnOnce(&Authentication) -> Result<(), AuthError>,
    ) -> Result<Accepted, Rejected> {
        // Time only advances once the frame is accepted.
        let now = now.max(self.clock.now());
        let link = meta.link;
        if obs.peer == self.config.node {
            return Err(Rejected::FromSelf);
        }
        if link.0 >= self.config.links {
            return Err(Rejected::UnknownLink(link));
        }
        if self.events.room() < self.events_per_peer_change() {
            return Err(Rejected::EventQueueFull);
        }
        let known = self.admit_sender(obs)?;
        // Nothing about the peer has been read yet; nothing is created before this passes.
        authenticate(&self.auth).map_err(Rejected::Auth)?;
        let slot = match known {
            Some(slot) => slot,
            None => self.learn(obs)?,
        };
        let verdict = self.judge(slot, link, obs)?;
        self.clock.advance(now);
        // A frame that is news for its link (fresh, or the first copy over this link) shows
        // where the peer is now reached on it.
        if let (Verdict::Fresh { .. } | Verdict::Restart | Verdict::LinkCopy, Some(source)) = (verdict, meta.source) {
            self.peers.learn_address(slot, usize::from(link.0), source);
        }
        Ok(self.apply(slot, link, obs, verdict, now))
    }

    /// The sender's slot if it is a peer; `None` if it may be learned (after authentication).
    /// Reads only.
    fn admit_sender(&self, obs: &Observation) -> Result<Option<usize>, Rejected> {
        if let Some(slot) = self.peers.find(obs.peer) {
            return Ok(Some(slot));
        }
        if self.config.learning == Learning::Disabled || obs.kind != ObservationKind::Heartbeat {
            return Err(Rejected::UnknownPeer(obs.peer));
        }
        if self.peers.len() >= self.config.max_peers {
            return Err(Rejected::PeerTableFull(obs.peer));
        }
        Ok(None)
    }

    fn learn(&mut self, obs: &Observation) -> Result<usize, Rejected> {
        let slot = self.insert(obs.peer, true).ok_or(Rejected::PeerTableFull(obs.peer))?;
        self.stats.learned = self.stats.learned.saturating_add(1);
        Ok(slot)
    }

    /// Classifies the frame against the peer's generation and sequence window. Reads only.
    fn judge(&self, slot: usize, link: LinkId, obs: &Observation) -> Result<Verdict, Rejected> {
        let Some(peer) = self.peers.get(slot) else {
            return Err(Rejected::UnknownPeer(obs.peer));
        };
        if !peer.has_history() {
            return Ok(Verdict::Fresh { gap: 0 });
        }
        match obs.generation.cmp(&peer.generation) {
            core::cmp::Ordering::Less => {
                Err(Rejected::StaleGeneration { peer: obs.peer, generation: obs.generation, current: peer.generation })
            }
            core::cmp::Ordering::Greater => Ok(Verdict::Restart),
            core::cmp::Ordering::Equal => match peer.seq.classify(obs.sequence) {
                // Rounds before the first one heard in this run were not lost by this run.
                SeqClass::Fresh { gap } => Ok(Verdict::Fresh { gap: if peer.heard() { gap } else { 0 } }),
                SeqClass::Late => Ok(Verdict::Late),
                SeqClass::Duplicate if self.link_is_fresh(slot, link, obs.sequence) && recent(peer, obs) => {
                    Ok(Verdict::LinkCopy)
                }
                SeqClass::Duplicate => Err(Rejected::Duplicate { peer: obs.peer, sequence: obs.sequence }),
                SeqClass::TooOld => Err(Rejected::Replayed { peer: obs.peer, sequence: obs.sequence }),
            },
        }
    }

    /// Whether `link` has not yet delivered `sequence` or anything later.
    fn link_is_fresh(&self, slot: usize, link: LinkId, sequence: u64) -> bool {
        self.peers.links(slot).get(usize::from(link.0)).is_some_and(|l| sequence >= l.next_seq)
    }

    fn apply(&mut self, slot: usize, link: LinkId, obs: &Observation, verdict: Verdict, now: Instant) -> Accepted {
        let negotiated = self.config.negotiate(obs.requested_timeout);
        let after_local_pause = self.paused_until.is_some_and(|until| now <= until);
        let peer_id = obs.peer;
        let Some((peer, links)) = self.peers.record_and_links_mut(slot) else {
            return Accepted::Late;
        };
        // Fresh frames are evidence for their link; older ones only if recent (see `recent`).
        let link_evidence = matches!(verdict, Verdict::Fresh { .. } | Verdict::Restart) || recent(peer, obs);
        let mut left_event = false;
        let accepted = match verdict {
            Verdict::Late => {
                peer.seq.record(obs.sequence);
                peer.stats.late = peer.stats.late.saturating_add(1);
                peer.stats.lost = peer.stats.lost.saturating_sub(1);
                Accepted::Late
            }
            Verdict::LinkCopy => Accepted::LinkCopy,
            Verdict::Fresh { .. } | Verdict::Restart => {
                let was_heard = peer.heard();
                let previous = peer.generation;
                let restarted = verdict == Verdict::Restart;
                let new_pace = was_heard && peer.interval_us != crate::time::duration_micros_u32(obs.interval);
                if restarted {
                    peer.seq = SeqWindow::default();
                    self.detector.reset(&mut peer.detector);
                    for l in links.iter_mut() {
                        l.next_seq = 0;
                    }
                }
                if let Verdict::Fresh { gap } = verdict {
                    peer.stats.lost = peer.stats.lost.saturating_add(u32::try_from(gap).unwrap_or(u32::MAX));
                }
                peer.seq.record(obs.sequence);
                peer.generation = obs.generation;
                peer.stats.received = peer.stats.received.saturating_add(1);
                peer.last_heard = now;
                peer.grace_us = 0;
                peer.set_heard();
                peer.peer_timestamp = obs.sent_at;
                peer.interval_us = crate::time::duration_micros_u32(obs.interval);
                peer.timeout_us = crate::time::duration_micros_u32(negotiated);
                peer.set_hears_us(obs.hears_you);
                peer.applied_to_us_us = obs.applied_timeout.map_or(0, crate::time::duration_micros_u32);
                if let Some(echo) = obs.echo {
                    // An echo from the future is not ours (or is forged): no sample.
                    if echo.timestamp <= now {
                        peer.stats.record_rtt((now - echo.timestamp).saturating_sub(echo.delay));
                    }
                }
                if new_pace && !restarted {
                    // The peer changed its interval (reloaded its settings): arrivals at the old
                    // pace say nothing of the new one, and a detector that learned them would
                    // expect the next frame at the old pace. Its history starts again here.
                    self.detector.reset(&mut peer.detector);
                }
                let arrival = Arrival {
                    at: now,
                    sequence: obs.sequence,
                    gap: match verdict {
                        Verdict::Fresh { gap } => gap,
                        _ => 0,
                    },
                    interval: obs.interval,
                    after_local_pause,
                };
                self.detector.on_heartbeat(&mut peer.detector, &arrival);
                let kind = match obs.kind {
                    ObservationKind::Goodbye if peer.liveness == Liveness::Left => None,
                    ObservationKind::Goodbye => {
                        peer.set_liveness(Liveness::Left, now);
                        Some(EventKind::Left)
                    }
                    ObservationKind::Heartbeat if restarted && was_heard => {
                        peer.set_liveness(Liveness::Up, now);
                        Some(EventKind::Restarted { previous, generation: obs.generation })
                    }
                    ObservationKind::Heartbeat if peer.liveness == Liveness::Up => None,
                    ObservationKind::Heartbeat => {
                        peer.set_liveness(Liveness::Up, now);
                        Some(EventKind::Up { generation: obs.generation })
                    }
                };
                // A peer's own transition comes before its links' ones, except leaving: its links
                // go down first, then it leaves, as when it goes down.
                match kind {
                    Some(EventKind::Left) => left_event = true,
                    Some(kind) => self.events.push(now, peer_id, kind),
                    None => {}
                }
                if obs.kind == ObservationKind::Heartbeat { Accepted::Heartbeat } else { Accepted::Goodbye }
            }
        };
        let left = peer.liveness == Liveness::Left;
        if let Some(state) = links.get_mut(usize::from(link.0))
            && obs.sequence >= state.next_seq
            && link_evidence
        {
            state.next_seq = obs.sequence.saturating_add(1);
            state.heard = now;
            if !state.up && !left {
                state.up = true;
                self.events.push(now, peer_id, EventKind::LinkUp { link });
            }
        }
        if left {
            // A peer that left has no links to watch; each that was up is reported down, as
            // when a peer goes down.
            for (l, state) in links.iter_mut().enumerate().filter(|(_, state)| state.up) {
                state.up = false;
                self.events.push(now, peer_id, EventKind::LinkDown { link: LinkId(l as u8) });
            }
        }
        if left_event {
            self.events.push(now, peer_id, EventKind::Left);
        }
        self.reschedule_lazily(slot);
        self.settle();
        accepted
    }

    /// The local-stall guard. A timer at `at` that this tick reaches more than `pause` late
    /// means the driver did not run when the monitor asked it to: this node was paused, and
    /// peers' frames may be queued unread. Every deadline this tick finds due is then postponed
    /// once, to `now + pause` — the most overdue reveals the pause, and the others fell inside
    /// it too. A timer that is already such a postponement fires (so a driver that is always
    /// late delays verdicts by one pause, never forever). Frames accepted until then are
    /// flagged to the detector.
    fn hold_after_local_pause(&mut self, slot: usize, at: Instant, now: Instant) -> bool {
        let Some(pause) = self.config.local_pause else { return false };
        let until = now + pause;
        // Timers come earliest first: once one revealed the pause, `paused_until` says so.
        let paused = now - at > pause || self.paused_until == Some(until);
        if !paused || self.next_deadline(slot) != Some(at) {
            return false;
        }
        if self.paused_until != Some(until) {
            self.stats.local_stalls = self.stats.local_stalls.saturating_add(1);
        }
        self.paused_until = Some(until);
        self.peers.set_timer(slot, Some(until));
        true
    }

    /// Fires whatever is due for `slot` at `now`, then re-arms its timer.
    fn expire(&mut self, slot: usize, now: Instant, held: bool) {
        #[cfg(not(feature = "explain"))]
        let _ = held;
        let Some(peer_id) = self.peers.id(slot) else { return };
        let due = self.peers.get(slot).and_then(|p| liveness_due(&self.detector, &self.config, p));
        // Evidence is gathered before anything changes, and queued right before its verdict.
        #[cfg(feature = "explain")]
        let evidence = if self.config.explain {
            let verdict = match due {
                Some(Due { down, .. }) if down <= now => Some((VerdictKind::Down, down)),
                Some(Due { suspect: Some(suspect), .. }) if suspect <= now => Some((VerdictKind::Suspect, suspect)),
                _ => None,
            };
            verdict.and_then(|(v, deadline)| self.evidence(slot, now, v, deadline, held))
        } else {
            None
        };
        let Some((peer, links)) = self.peers.record_and_links_mut(slot) else { return };
        let down = match due {
            Some(Due { down, .. }) if down <= now => {
                Some(EventKind::Down { last_heard: peer.heard().then_some(peer.last_heard), deadline: down })
            }
            Some(Due { suspect: Some(suspect), .. }) if suspect <= now => {
                peer.set_liveness(Liveness::Suspect, now);
                #[cfg(feature = "explain")]
                if let Some(evidence) = evidence {
                    self.events.push(now, peer_id, EventKind::Explained(evidence));
                }
                self.events.push(now, peer_id, EventKind::Suspect { last_heard: peer.last_heard });
                None
            }
            _ => None,
        };
        let timeout = peer.timeout();
        for (l, state) in links.iter_mut().enumerate() {
            if state.up && (down.is_some() || state.heard + timeout <= now) {
                state.up = false;
                self.events.push(now, peer_id, EventKind::LinkDown { link: LinkId(l as u8) });
            }
        }
        if let Some(kind) = down {
            peer.set_liveness(Liveness::Down, now);
            #[cfg(feature = "explain")]
            if let Some(evidence) = evidence {
                self.events.push(now, peer_id, EventKind::Explained(evidence));
            }
            self.events.push(now, peer_id, kind);
        }
        self.reschedule(slot);
    }

    /// What a verdict on `slot` at `now` rests on (see [`Evidence`]). Reads only.
    #[cfg(feature = "explain")]
    fn evidence(
        &self,
        slot: usize,
        now: Instant,
        verdict: VerdictKind,
        deadline: Instant,
        held: bool,
    ) -> Option<Evidence> {
        let peer = self.peers.get(slot)?;
        let us = |d: Duration| crate::time::duration_micros_u32(d);
        let (source, down_after, suspicion) = match self.timing(slot) {
            None => (DeadlineSource::Startup, self.config.initdead, 0.0),
            Some(t) => {
                let down = self.detector.deadlines(&peer.detector, &t).down - t.last_heard;
                let source = if down == t.timeout {
                    DeadlineSource::Negotiated
                } else if down == t.min_timeout {
                    DeadlineSource::Floor
                } else if down == t.max_timeout {
                    DeadlineSource::Ceiling
                } else {
                    DeadlineSource::Estimated
                };
                (source, down, self.detector.suspicion(&peer.detector, &t, now))
            }
        };
        let mut link_silence_us = [u32::MAX; crate::config::MAX_LINKS as usize];
        let links = self.peers.links(slot);
        if links.is_empty() {
            if peer.heard() {
                link_silence_us[0] = us(now - peer.last_heard);
            }
        } else {
            for (out, link) in link_silence_us.iter_mut().zip(links) {
                // A link's record starts with the peer's; until it delivered, `heard` is that.
                if peer.heard() && link.next_seq != 0 {
                    *out = us(now - link.heard);
                }
            }
        }
        Some(Evidence {
            verdict,
            source,
            held_by_stall_guard: held,
            links: self.config.links,
            last_heard: peer.heard().then_some(peer.last_heard),
            deadline,
            down_after_us: us(down_after),
            timeout_us: us(peer.timeout()),
            interval_us: us(peer.interval().unwrap_or(self.config.interval)),
            suspicion_bits: suspicion.to_bits(),
            loss_bits: peer.stats.loss_ratio().to_bits(),
            srtt_us: peer.stats.srtt_us,
            link_silence_us,
        })
    }

    /// The peer's timing, once heard.
    fn timing(&self, slot: usize) -> Option<PeerTiming> {
        timing(&self.config, self.peers.get(slot)?)
    }

    /// `slot`'s next deadline (see [`next_deadline`]).
    fn next_deadline(&self, slot: usize) -> Option<Instant> {
        next_deadline(&self.detector, &self.config, self.peers.get(slot)?, self.peers.links(slot))
    }

    /// Sets `slot`'s timer to exactly its next deadline.
    fn reschedule(&mut self, slot: usize) {
        let next = self.next_deadline(slot);
        self.peers.set_timer(slot, next);
    }

    /// Reschedules `slot` after a heartbeat, lazily: a deadline that moved later leaves the
    /// timer where it was, and [`settle`](Self::settle) corrects it if it reaches the front.
    /// A heartbeat therefore costs no timer work.
    fn reschedule_lazily(&mut self, slot: usize) {
        let next = self.next_deadline(slot);
        self.peers.set_timer_lazily(slot, next);
    }

    /// Makes the earliest timer exact, so that `poll_timeout` returns the true next deadline.
    fn settle(&mut self) {
        let (detector, config) = (&self.detector, &self.config);
        self.peers.settle(|peer, links| next_deadline(detector, config, peer, links));
    }

    fn status(&self, slot: usize) -> Option<PeerStatus> {
        let peer = self.peers.get(slot)?;
        let id = self.peers.id(slot)?;
        let heard = peer.heard();
        let links_up = if self.multi_link() {
            self.peers.links(slot).iter().enumerate().filter(|(_, l)| l.up).fold(0u32, |m, (i, _)| m | 1 << i)
        } else {
            u32::from(peer.alive())
        };
        let suspicion = match (self.timing(slot), peer.liveness) {
            (Some(t), Liveness::Up | Liveness::Suspect) => {
                self.detector.suspicion(&peer.detector, &t, self.clock.now())
            }
            _ => 0.0,
        };
        Some(PeerStatus {
            id,
            liveness: peer.liveness,
            since: peer.since,
            last_heard: heard.then_some(peer.last_heard),
            generation: heard.then_some(peer.generation),
            interval: peer.interval(),
            timeout: peer.timeout(),
            timeout_applied_to_us: (peer.applied_to_us_us != 0)
                .then(|| Duration::from_micros(u64::from(peer.applied_to_us_us))),
            hears_us: peer.hears_us(),
            learned: peer.learned(),
            suspicion,
            links_up,
            stats: peer.stats,
        })
    }
}

/// Whether a frame older than the peer's freshest one is recent enough to show that the link
/// it arrived on works: sent, by the peer's own (authenticated) clock, at most one peer timeout
/// before that freshest frame. A frame recorded and replayed later over another link is older
/// than that and proves nothing about the link, however far its sequence is inside the window.
fn recent<P>(peer: &Peer<P>, obs: &Observation) -> bool {
    obs.sent_at + peer.timeout() >= peer.peer_timestamp
}
