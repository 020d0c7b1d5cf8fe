//! The peer table: one record per monitored peer, found by node id in O(1), each with one
//! timer, plus per-link records when peers are reached over several links.
//!
//! The table is pure bookkeeping; what happens to a record on a message or a deadline is the
//! [`Monitor`](crate::Monitor)'s business.

mod index;
mod sequence;

use core::net::SocketAddr;
use core::time::Duration;

use crate::storage::{Buffer, Storage, swap_remove};
use crate::time::Instant;
use crate::timer::TimerWheel;
use crate::wire::{Generation, NodeId};
use index::PeerIndex;
pub use sequence::WINDOW as SEQUENCE_WINDOW;
pub(crate) use sequence::{SeqClass, SeqWindow};

/// Which of a node's links (network paths or media) a frame arrived on, as numbered by the
/// adapter: `0..links` where `links` is the configured count. Single-link setups use link 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LinkId(pub u8);

/// A monitored peer's liveness, as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Liveness {
    /// Configured but never heard; the start-up deadline (`initdead`) is running.
    Waiting,
    /// Heard within its suspect deadline.
    Up,
    /// Late: its suspect deadline (Linux-HA's warntime) passed, its down deadline has not.
    Suspect,
    /// Silent past its timeout (or never heard within `initdead`).
    Down,
    /// Said goodbye.
    Left,
}

/// Counters and measurements for one peer. Counts saturate instead of wrapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Fresh frames accepted (each refreshed liveness).
    pub received: u32,
    /// Sequence numbers skipped, minus those that later arrived late.
    pub lost: u32,
    /// Frames seen twice (rejected).
    pub duplicates: u32,
    /// Frames that arrived after a later one (reordered; counted, but they refresh nothing).
    pub late: u32,
    /// Smoothed round-trip time in µs (TCP-style EWMA, gain 1/8); 0 until measured.
    pub srtt_us: u32,
    /// The latest round-trip sample in µs; 0 until measured.
    pub rtt_us: u32,
}

impl PeerStats {
    /// The fraction of the sender's heartbeats that never arrived, in `[0, 1]`.
    pub fn loss_ratio(&self) -> f32 {
        let total = self.received as f32 + self.lost as f32;
        if total == 0.0 { 0.0 } else { self.lost as f32 / total }
    }

    /// The smoothed round-trip time, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        (self.srtt_us != 0).then(|| Duration::from_micros(u64::from(self.srtt_us)))
    }

    pub(crate) fn record_rtt(&mut self, sample: Duration) {
        let us = crate::time::duration_micros_u32(sample).max(1);
        self.rtt_us = us;
        self.srtt_us = if self.srtt_us == 0 {
            us
        } else {
            let s = u64::from(self.srtt_us);
            ((s * 7 + u64::from(us)) / 8) as u32
        };
    }
}

/// Everything known about one peer, as returned by [`Monitor::peer`](crate::Monitor::peer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerStatus {
    /// The peer.
    pub id: NodeId,
    /// Its liveness.
    pub liveness: Liveness,
    /// When it entered that liveness.
    pub since: Instant,
    /// When its latest fresh frame arrived; `None` if never heard.
    pub last_heard: Option<Instant>,
    /// Its generation; `None` if never heard.
    pub generation: Option<Generation>,
    /// Its heartbeat interval, as it advertised it.
    pub interval: Option<Duration>,
    /// The timeout in force for it: what it asked for, clamped into this node's bounds.
    pub timeout: Duration,
    /// The timeout it holds this node to, as it told us; `None` until it did.
    pub timeout_applied_to_us: Option<Duration>,
    /// It said it hears this node: the path works both ways.
    pub hears_us: bool,
    /// It was learned from the wire rather than configured.
    pub learned: bool,
    /// Continuous suspicion from the detector (0 = just heard; the fixed-timeout detector
    /// reaches 1 at the timeout; accrual detectors report φ).
    pub suspicion: f32,
    /// Bit `i` set: link `i` delivers. With a single link this mirrors `Up`/`Suspect`.
    pub links_up: u32,
    /// Counters and round-trip times.
    pub stats: PeerStats,
}

const HEARD: u8 = 1;
const HEARS_US: u8 = 2;
const LEARNED: u8 = 4;
const RESUMED: u8 = 8;

/// One peer's record.
#[derive(Debug, Clone)]
pub(crate) struct Peer<P> {
    pub(crate) liveness: Liveness,
    flags: u8,
    /// Bit `i` set: the address on link `i` was configured, and the wire never changes it.
    configured: u8,
    pub(crate) generation: Generation,
    pub(crate) seq: SeqWindow,
    /// The arrival of the latest fresh frame; before the first one, when the record was made.
    pub(crate) last_heard: Instant,
    pub(crate) since: Instant,
    /// The peer's own timestamp in its latest fresh frame, to echo back.
    pub(crate) peer_timestamp: Instant,
    pub(crate) interval_us: u32,
    pub(crate) timeout_us: u32,
    pub(crate) applied_to_us_us: u32,
    /// How much later than the rule in force its deadlines fall, in µs: set when the rules
    /// changed while the peer was silent, cleared by its next fresh frame (see
    /// `monitor::due::grace_after_change`).
    pub(crate) grace_us: u32,
    pub(crate) stats: PeerStats,
    pub(crate) detector: P,
}

impl<P: Default> Peer<P> {
    pub(crate) fn new(now: Instant, timeout: Duration, learned: bool) -> Self {
        Peer {
            liveness: Liveness::Waiting,
            flags: if learned { LEARNED } else { 0 },
            configured: 0,
            generation: Generation::default(),
            seq: SeqWindow::default(),
            last_heard: now,
            since: now,
            peer_timestamp: Instant::ZERO,
            interval_us: 0,
            timeout_us: crate::time::duration_micros_u32(timeout),
            applied_to_us_us: 0,
            grace_us: 0,
            stats: PeerStats::default(),
            detector: P::default(),
        }
    }
}

impl<P> Peer<P> {
    pub(crate) fn heard(&self) -> bool {
        self.flags & HEARD != 0
    }

    pub(crate) fn hears_us(&self) -> bool {
        self.flags & HEARS_US != 0
    }

    pub(crate) fn learned(&self) -> bool {
        self.flags & LEARNED != 0
    }

    /// Whether `generation` and `seq` hold a watermark from an earlier run (or, once heard,
    /// from this one): frames at or below it are replays.
    pub(crate) fn has_history(&self) -> bool {
        self.flags & (HEARD | RESUMED) != 0
    }

    /// Takes up replay protection where an earlier run left it.
    pub(crate) fn resume(&mut self, generation: Generation, sequence: u64) {
        self.generation = generation;
        self.seq = SeqWindow::seen_through(sequence);
        self.flags |= RESUMED;
    }

    /// Whether the address on `link` was configured (and so is never learned over).
    pub(crate) fn configured_on(&self, link: usize) -> bool {
        self.configured & (1 << link) != 0
    }

    pub(crate) fn set_heard(&mut self) {
        self.flags |= HEARD;
    }

    pub(crate) fn set_hears_us(&mut self, yes: bool) {
        if yes {
            self.flags |= HEARS_US;
        } else {
            self.flags &= !HEARS_US;
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_micros(u64::from(self.timeout_us))
    }

    pub(crate) fn interval(&self) -> Option<Duration> {
        (self.interval_us != 0).then(|| Duration::from_micros(u64::from(self.interval_us)))
    }

    pub(crate) fn set_liveness(&mut self, liveness: Liveness, now: Instant) {
        self.liveness = liveness;
        self.since = now;
    }

    /// Alive as far as senders are concerned: `Up` or `Suspect`.
    pub(crate) fn alive(&self) -> bool {
        matches!(self.liveness, Liveness::Up | Liveness::Suspect)
    }
}

/// One (peer, link) pair's record, kept only when the node uses several links.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LinkState {
    /// The peer's address on this link, configured or learned.
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) heard: Instant,
    /// One past the highest sequence number this link delivered in the current generation:
    /// each link moves forward on its own.
    pub(crate) next_seq: u64,
    pub(crate) up: bool,
}

/// Records, id index, timers and link records of all peers, kept slot-aligned: slot `i` of
/// each array belongs to the same peer.
pub(crate) struct PeerTable<P, S: Storage> {
    index: PeerIndex<S>,
    records: S::Vec<Peer<P>>,
    timers: TimerWheel<S>,
    /// `links_per_peer` records per slot when `links_per_peer > 1`, else empty.
    links: S::LinkVec<LinkState>,
    /// Each slot's address when `links_per_peer == 1` (else each link record holds its own).
    addrs: S::Vec<Option<SocketAddr>>,
    links_per_peer: usize,
}

/// The table cannot take another peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableFull;

impl<P: Default, S: Storage> PeerTable<P, S> {
    /// An empty table. `horizon` bounds how far after filing any deadline lies (it sizes
    /// the timer wheel).
    pub(crate) fn new(hash_key: u64, links_per_peer: u8, horizon: Duration) -> Self {
        PeerTable {
            index: PeerIndex::new(hash_key),
            records: Default::default(),
            timers: TimerWheel::new(crate::time::duration_nanos(horizon)),
            links: Default::default(),
            addrs: Default::default(),
            links_per_peer: usize::from(links_per_peer.max(1)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn find(&self, id: NodeId) -> Option<usize> {
        self.index.find(id)
    }

    pub(crate) fn id(&self, slot: usize) -> Option<NodeId> {
        self.index.id(slot)
    }

    pub(crate) fn ids(&self) -> &[NodeId] {
        self.index.ids()
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Peer<P>> {
        self.records.get(slot)
    }

    /// Adds `id` (the caller checked it is absent) and returns its slot.
    pub(crate) fn insert(&mut self, id: NodeId, peer: Peer<P>) -> Result<usize, TableFull> {
        let multi = self.links_per_peer > 1;
        let link_room = self.links.max_len().saturating_sub(self.links.len());
        if multi && link_room < self.links_per_peer {
            return Err(TableFull);
        }
        let slot = self.index.push(id).map_err(|_| TableFull)?;
        if self.records.try_push(peer).is_err() {
            self.index.swap_remove(slot);
            return Err(TableFull);
        }
        if !multi && self.addrs.try_push(None).is_err() {
            self.index.swap_remove(slot);
            self.records.pop_last();
            return Err(TableFull);
        }
        if self.timers.push_slot().is_err() {
            self.index.swap_remove(slot);
            self.records.pop_last();
            if !multi {
                self.addrs.pop_last();
            }
            return Err(TableFull);
        }
        if multi {
            for _ in 0..self.links_per_peer {
                // Room was checked above.
                let _ = self.links.try_push(LinkState::default());
            }
        }
        Ok(slot)
    }

    /// Removes `slot`; the last slot takes its number.
    pub(crate) fn remove(&mut self, slot: usize) {
        if slot >= self.len() {
            return;
        }
        self.index.swap_remove(slot);
        swap_remove(&mut self.records, slot);
        swap_remove(&mut self.addrs, slot);
        self.timers.swap_remove_slot(slot);
        if self.links_per_peer > 1 {
            let n = self.links_per_peer;
            let last = self.links.len() / n - 1;
            if slot != last {
                for l in 0..n {
                    self.links.swap(slot * n + l, last * n + l);
                }
            }
            for _ in 0..n {
                self.links.pop_last();
            }
        }
    }

    /// Where `slot`'s link records sit in `links` (which is empty in single-link setups, so
    /// every range then yields no records).
    fn link_range(&self, slot: usize) -> core::ops::Range<usize> {
        let n = self.links_per_peer;
        slot * n..slot * n + n
    }

    /// The link records of `slot`; empty in single-link setups.
    pub(crate) fn links(&self, slot: usize) -> &[LinkState] {
        self.links.get(self.link_range(slot)).unwrap_or(&[])
    }

    /// `slot`'s address on `link`, configured or learned.
    pub(crate) fn address(&self, slot: usize, link: usize) -> Option<SocketAddr> {
        if self.links_per_peer > 1 {
            self.links(slot).get(link)?.addr
        } else if link == 0 {
            *self.addrs.get(slot)?
        } else {
            None
        }
    }

    fn address_mut(&mut self, slot: usize, link: usize) -> Option<&mut Option<SocketAddr>> {
        if self.links_per_peer > 1 {
            let range = self.link_range(slot);
            Some(&mut self.links.get_mut(range)?.get_mut(link)?.addr)
        } else if link == 0 {
            self.addrs.get_mut(slot)
        } else {
            None
        }
    }

    /// Configures `slot`'s addresses: `addrs[i]` on link `i`. The caller checked there are
    /// at most `links_per_peer` of them.
    pub(crate) fn configure_addresses(&mut self, slot: usize, addrs: &[SocketAddr]) {
        for (link, addr) in addrs.iter().enumerate() {
            if let Some(entry) = self.address_mut(slot, link) {
                *entry = Some(*addr);
                if let Some(peer) = self.records.get_mut(slot) {
                    peer.configured |= 1 << link;
                }
            }
        }
    }

    /// Makes `addrs` `slot`'s configured addresses: link `i` gets `addrs[i]`; a link past the
    /// end of `addrs` is no longer configured and learns its address from the wire again.
    pub(crate) fn readdress(&mut self, slot: usize, addrs: &[SocketAddr]) {
        let mut link = 0;
        while let Some(entry) = self.address_mut(slot, link) {
            let addr = addrs.get(link).copied();
            *entry = addr;
            if let Some(peer) = self.records.get_mut(slot) {
                match addr {
                    Some(_) => peer.configured |= 1 << link,
                    None => peer.configured &= !(1 << link),
                }
            }
            link += 1;
        }
    }

    /// Records `source` as `slot`'s address on `link`, unless the address there was configured.
    pub(crate) fn learn_address(&mut self, slot: usize, link: usize, source: SocketAddr) {
        if self.records.get(slot).is_some_and(|peer| !peer.configured_on(link))
            && let Some(entry) = self.address_mut(slot, link)
        {
            *entry = Some(source);
        }
    }

    /// The record and link records of `slot` together.
    pub(crate) fn record_and_links_mut(&mut self, slot: usize) -> Option<(&mut Peer<P>, &mut [LinkState])> {
        let range = self.link_range(slot);
        let peer = self.records.get_mut(slot)?;
        Some((peer, self.links.get_mut(range).unwrap_or(&mut [])))
    }

    /// The earliest deadline and its slot; exact after [`settle`](Self::settle).
    pub(crate) fn next_timer(&self) -> Option<(Instant, usize)> {
        self.timers.peek()
    }

    /// Sets `slot`'s timer to exactly `at`, or clears it.
    pub(crate) fn set_timer(&mut self, slot: usize, at: Option<Instant>) {
        self.timers.schedule(slot, at);
    }

    /// Sets `slot`'s timer to `at` unless it is already due earlier (see
    /// [`TimerWheel::schedule_lazily`]).
    pub(crate) fn set_timer_lazily(&mut self, slot: usize, at: Option<Instant>) {
        self.timers.schedule_lazily(slot, at);
    }

    /// Makes [`next_timer`](Self::next_timer) exact, asking `deadline` for a slot's true next
    /// deadline given its record and link records.
    pub(crate) fn settle(&mut self, mut deadline: impl FnMut(&Peer<P>, &[LinkState]) -> Option<Instant>) {
        let n = self.links_per_peer;
        let (records, links) = (&self.records, &self.links);
        self.timers.settle(|slot| deadline(records.get(slot)?, links.get(slot * n..slot * n + n).unwrap_or(&[])));
    }
}

/// The memory one peer costs in a single-link table, by part, for a detector whose per-peer
/// state is `P`: exactly what a [`Fixed`](crate::Fixed) table reserves per peer (pinned by a
/// test against `size_of` of whole monitors), and what a [`Growable`](crate::Growable) one
/// allocates per peer at a power-of-two size (more right after it grows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerFootprint {
    /// The peer record: liveness, sequence window, timing, statistics and detector state.
    pub record: usize,
    /// The id index: the id, the chain link and one bucket.
    pub index: usize,
    /// The timers: the filed deadline, two list links, one wheel bucket, and a slot in the
    /// heap of due-soon timers with its position.
    pub timer: usize,
    /// The address book: where the peer is sent to (one optional socket address).
    pub address: usize,
}

impl PeerFootprint {
    /// The footprint with detector state `P`.
    pub fn of<P>() -> Self {
        use core::mem::size_of;
        PeerFootprint {
            record: size_of::<Peer<P>>(),
            index: size_of::<NodeId>() + 2 * size_of::<u32>(),
            timer: size_of::<Instant>() + 4 * size_of::<u32>() + crate::timer::HEAP_ENTRY_SIZE,
            address: size_of::<Option<SocketAddr>>(),
        }
    }

    /// All parts together.
    pub fn total(&self) -> usize {
        self.record + self.index + self.timer + self.address
    }
}
