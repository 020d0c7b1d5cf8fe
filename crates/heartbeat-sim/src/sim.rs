//! The simulator proper: nodes, links, partitions and scheduled actions in virtual time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Duration;

use heartbeat_proto::{Destination, Generation, Instant, LinkId, MAX_FRAME_LEN, NodeId};

use crate::endpoint::{Endpoint, Factory, NodeSpec};
use crate::impair::{Fate, Impairments, LinkState, LinkStats};
use crate::intercept::{FrameInfo, Injector, Interceptor, PassThrough, Verdict};
use crate::rng::SimRng;
use crate::timeline::{DropReason, FrameId, Recording, Timeline, What};

/// A set of nodes cut off from another set, in both directions, on every link or on one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// One side.
    pub a: Vec<NodeId>,
    /// The other side.
    pub b: Vec<NodeId>,
    /// The link cut; `None` for every link.
    pub link: Option<LinkId>,
}

impl Cut {
    /// Cuts `a` from `b` on every link.
    pub fn between(a: impl IntoIterator<Item = NodeId>, b: impl IntoIterator<Item = NodeId>) -> Self {
        Cut { a: a.into_iter().collect(), b: b.into_iter().collect(), link: None }
    }

    /// The same cut, on one link only.
    #[must_use]
    pub fn on_link(self, link: LinkId) -> Self {
        Cut { link: Some(link), ..self }
    }

    fn separates(&self, from: NodeId, to: NodeId, link: LinkId) -> bool {
        let crosses =
            (self.a.contains(&from) && self.b.contains(&to)) || (self.b.contains(&from) && self.a.contains(&to));
        crosses && self.link.is_none_or(|l| l == link)
    }
}

/// Something that happens to the cluster at a scheduled virtual time.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Starts a node that is not running (first start, or after a crash or leave), as a new
    /// incarnation with the next generation.
    Start(NodeId),
    /// The node stops sending and receiving; its state is dropped (a killed process).
    Crash(NodeId),
    /// The node stops sending and receiving; its state is kept (a frozen process or VM).
    Pause(NodeId),
    /// A paused node carries on with its kept state, as if its clock jumped.
    Resume(NodeId),
    /// Crash (if running or paused) and start again with the next generation.
    Restart(NodeId),
    /// Graceful leave: the node sends its goodbye round, then stops.
    Leave(NodeId),
    /// Adds a partition.
    Partition(Cut),
    /// Removes a partition equal to this one (if any).
    Heal(Cut),
    /// Removes every partition.
    HealAll,
    /// Changes the impairments of `from → to`, on one link or on every link.
    SetLink {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
        /// The link; `None` for every link.
        link: Option<LinkId>,
        /// The new impairments.
        impairments: Impairments,
    },
}

/// The simulated node broke the sans-IO contract; the run cannot go on meaningfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimError {
    /// After `tick(now)` and a full drain, the node asked to be ticked again at or before
    /// `now`: a driver would busy-loop.
    DeadlineNotAdvanced {
        /// The node.
        node: NodeId,
        /// The time of the tick.
        now: Instant,
        /// The deadline it asked for.
        deadline: Instant,
    },
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::DeadlineNotAdvanced { node, now, deadline } => {
                write!(f, "node {node}: after tick({now}) and a full drain, poll_timeout is {deadline}")
            }
        }
    }
}

impl std::error::Error for SimError {}

/// Counters of the whole network, kept whatever the [`Recording`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Frame copies sent (one per destination and link).
    pub sent: u64,
    /// Frames handed to a receiver's `on_message`.
    pub delivered: u64,
    /// Of those, accepted.
    pub accepted: u64,
    /// Of those, rejected.
    pub rejected: u64,
    /// Dropped by the loss model.
    pub lost: u64,
    /// Dropped by a partition.
    pub partitioned: u64,
    /// Dropped because the receiver was not running.
    pub receiver_down: u64,
    /// Dropped by the interceptor.
    pub intercepted: u64,
    /// Addressed to a non-member.
    pub no_route: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Frames injected.
    pub injected: u64,
    /// Events reported by observers.
    pub events: u64,
}

/// Builds a [`Sim`].
#[must_use]
pub struct SimBuilder {
    seed: u64,
    ids: Vec<NodeId>,
    links: u8,
    default_link: Impairments,
    link_overrides: Vec<(NodeId, NodeId, Option<LinkId>, Impairments)>,
    stagger: Duration,
    recording: Recording,
    interceptor: Box<dyn Interceptor>,
}

impl SimBuilder {
    /// A cluster simulated from `seed`: same seed, same configuration ⇒ the same run, bit for
    /// bit.
    pub fn new(seed: u64) -> Self {
        SimBuilder {
            seed,
            ids: Vec::new(),
            links: 1,
            default_link: Impairments::perfect(),
            link_overrides: Vec::new(),
            stagger: Duration::ZERO,
            recording: Recording::Full,
            interceptor: Box::new(PassThrough),
        }
    }

    /// The members (duplicates are ignored).
    pub fn nodes(mut self, ids: impl IntoIterator<Item = NodeId>) -> Self {
        self.ids.extend(ids);
        self
    }

    /// Members `1..=n`.
    pub fn cluster_of(self, n: u64) -> Self {
        self.nodes((1..=n).filter_map(NodeId::new))
    }

    /// How many links connect every pair (default 1). Every frame a node sends to a peer goes
    /// out on each link.
    pub fn links(mut self, links: u8) -> Self {
        self.links = links.max(1);
        self
    }

    /// The impairments of every link not set otherwise (default: perfect).
    pub fn default_link(mut self, impairments: Impairments) -> Self {
        self.default_link = impairments;
        self
    }

    /// The impairments of `from → to` on `link`, or on every link.
    pub fn link(mut self, from: NodeId, to: NodeId, link: Option<LinkId>, impairments: Impairments) -> Self {
        self.link_overrides.push((from, to, link, impairments));
        self
    }

    /// Starts each node at a time drawn uniformly from `[0, stagger]` instead of all at zero.
    pub fn stagger(mut self, stagger: Duration) -> Self {
        self.stagger = stagger;
        self
    }

    /// What the timeline keeps (default [`Recording::Full`]).
    pub fn recording(mut self, recording: Recording) -> Self {
        self.recording = recording;
        self
    }

    /// Puts `interceptor` on the wire (default [`PassThrough`]).
    pub fn interceptor(mut self, interceptor: impl Interceptor + 'static) -> Self {
        self.interceptor = Box::new(interceptor);
        self
    }

    /// Builds the simulation; every node is scheduled to start (at zero, or staggered), each
    /// built by `factory`.
    pub fn build<E: Endpoint>(self, factory: Factory<E>) -> Sim<E> {
        let ids: Vec<NodeId> = self.ids.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        let index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let slots = ids.iter().map(|_| Slot { state: NodeState::Stopped, generation: Generation(0), deadline: None });
        let mut sim = Sim {
            seed: self.seed,
            now: Instant::ZERO,
            slots: slots.collect(),
            ids,
            index,
            links: self.links,
            factory,
            default_link: self.default_link,
            link_states: Vec::new(),
            cuts: Vec::new(),
            in_flight: BinaryHeap::new(),
            actions: BinaryHeap::new(),
            deadlines: BTreeSet::new(),
            interceptor: self.interceptor,
            recording: self.recording,
            timeline: Timeline::default(),
            stats: NetStats::default(),
            sequence: 0,
            outbox: Vec::new(),
        };
        for (from, to, link, impairments) in self.link_overrides {
            sim.set_link(from, to, link, impairments);
        }
        let mut starts = SimRng::new(self.seed, STREAM_STARTS);
        for id in sim.ids.clone() {
            let at = Instant::ZERO + starts.up_to(self.stagger);
            sim.schedule(at, Action::Start(id));
        }
        sim
    }
}

/// Stream numbers: links use `(from << 40) | (to << 8) | link`; these sit above any of them.
const STREAM_STARTS: u64 = 1 << 63;
const STREAM_NODE_SEEDS: u64 = (1 << 63) | (1 << 62);

enum NodeState<E> {
    Stopped,
    Running(E),
    Paused(E),
}

struct Slot<E> {
    state: NodeState<E>,
    generation: Generation,
    /// The node's latest `poll_timeout`, as filed in `deadlines`.
    deadline: Option<Instant>,
}

/// A frame on its way.
struct InFlight {
    frame: FrameId,
    from: Option<usize>,
    to: usize,
    link: LinkId,
    bytes: Vec<u8>,
}

/// Something due at `at`; equal times are ordered by `order`, the order of creation.
struct Timed<T> {
    at: Instant,
    order: u64,
    item: T,
}

impl<T> PartialEq for Timed<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl<T> Eq for Timed<T> {}
impl<T> PartialOrd for Timed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Timed<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// A min-heap of timed items.
type Queue<T> = BinaryHeap<Reverse<Timed<T>>>;

/// A deterministic simulation of a cluster of [`Endpoint`]s over impaired links, in virtual
/// time. See the crate documentation for the model and an example.
pub struct Sim<E: Endpoint> {
    seed: u64,
    now: Instant,
    ids: Vec<NodeId>,
    index: BTreeMap<NodeId, usize>,
    slots: Vec<Slot<E>>,
    links: u8,
    factory: Factory<E>,
    default_link: Impairments,
    /// Per directed link, at `(from × members + to) × links + link`; made on first use.
    link_states: Vec<Option<LinkState>>,
    cuts: Vec<Cut>,
    in_flight: Queue<InFlight>,
    actions: Queue<Action>,
    deadlines: BTreeSet<(Instant, usize)>,
    interceptor: Box<dyn Interceptor>,
    recording: Recording,
    timeline: Timeline,
    stats: NetStats,
    /// Numbers frames and scheduled items in the order they were created (tie-breaker).
    sequence: u64,
    /// Reused scratch space for a node's transmits: (destination, frame bytes, length).
    outbox: Vec<(Destination, [u8; MAX_FRAME_LEN], usize)>,
}

impl<E: Endpoint> Sim<E> {
    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The seed this run was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The members, in id order.
    pub fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// The record of the run so far.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// Network-wide counters.
    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// Counters of `from → to` on `link`, once it carried something or was configured.
    pub fn link_stats(&self, from: NodeId, to: NodeId, link: LinkId) -> Option<LinkStats> {
        let key = self.link_key(*self.index.get(&from)?, *self.index.get(&to)?, link.0)?;
        self.link_states.get(key)?.as_ref().map(|l| l.stats)
    }

    /// The node's endpoint while it runs or is paused.
    pub fn endpoint(&self, id: NodeId) -> Option<&E> {
        match &self.slots.get(*self.index.get(&id)?)?.state {
            NodeState::Running(e) | NodeState::Paused(e) => Some(e),
            NodeState::Stopped => None,
        }
    }

    /// Whether the node is running (neither stopped nor paused).
    pub fn is_running(&self, id: NodeId) -> bool {
        self.slot_of(id).is_some_and(|s| matches!(s.state, NodeState::Running(_)))
    }

    /// The generation of the node's latest incarnation (0 before its first start).
    pub fn generation(&self, id: NodeId) -> Option<Generation> {
        self.slot_of(id).map(|s| s.generation)
    }

    /// Schedules `action` at `at` (or now, if `at` has passed). Actions at the same time take
    /// effect in the order they were scheduled, before frames and ticks at that time.
    pub fn schedule(&mut self, at: Instant, action: Action) {
        let order = self.next_sequence();
        self.actions.push(Reverse(Timed { at: at.max(self.now), order, item: action }));
    }

    /// Delivers `bytes` to `to` on `link` at `at` (or now), with no impairment applied, as if
    /// an outsider sent it.
    pub fn inject(&mut self, at: Instant, to: NodeId, link: LinkId, bytes: Vec<u8>) {
        let Some(&to_index) = self.index.get(&to) else { return };
        let frame = FrameId(self.next_sequence());
        self.stats.injected += 1;
        self.record(What::Injected { frame, to, link, len: bytes.len() });
        let at = at.max(self.now);
        self.put_in_flight(at, InFlight { frame, from: None, to: to_index, link, bytes });
    }

    /// Changes the impairments of `from → to` now, on one link or on every link.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: Option<LinkId>, impairments: Impairments) {
        let (Some(&f), Some(&t)) = (self.index.get(&from), self.index.get(&to)) else { return };
        let links = match link {
            Some(l) => l.0..l.0.saturating_add(1).min(self.links),
            None => 0..self.links,
        };
        for l in links {
            self.link_state(f, t, l).impairments = impairments;
        }
    }

    /// Runs `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) -> Result<(), SimError> {
        self.run_until(self.now + d)
    }

    /// Runs until `end`, always jumping to the earliest pending deadline, frame arrival or
    /// action. At each instant, due actions go first, then due frames (in arrival order, each
    /// followed by a drain of its receiver), then due node ticks (each followed by a drain).
    pub fn run_until(&mut self, end: Instant) -> Result<(), SimError> {
        while let Some(at) = self.next_due().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.step()?;
        }
        self.now = self.now.max(end);
        Ok(())
    }

    fn next_due(&self) -> Option<Instant> {
        let action = self.actions.peek().map(|s| s.0.at);
        let frame = self.in_flight.peek().map(|f| f.0.at);
        let tick = self.deadlines.first().map(|d| d.0);
        [action, frame, tick].into_iter().flatten().min()
    }

    /// Everything due at `self.now`, until nothing is.
    fn step(&mut self) -> Result<(), SimError> {
        let now = self.now;
        loop {
            if self.actions.peek().is_some_and(|s| s.0.at <= now) {
                let Some(Reverse(s)) = self.actions.pop() else { break };
                self.apply(s.item);
            } else if self.in_flight.peek().is_some_and(|f| f.0.at <= now) {
                let Some(Reverse(f)) = self.in_flight.pop() else { break };
                self.deliver(f.item);
            } else if let Some(&(at, i)) = self.deadlines.first()
                && at <= now
            {
                self.tick(i)?;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn apply(&mut self, action: Action) {
        self.record(What::Action(action.clone()));
        match action {
            Action::Start(id) => {
                if let Some(i) = self.index_of(id)
                    && matches!(self.slots[i].state, NodeState::Stopped)
                {
                    self.start(i);
                }
            }
            Action::Crash(id) => {
                if let Some(i) = self.index_of(id) {
                    self.slots[i].state = NodeState::Stopped;
                    self.file_deadline(i, None);
                }
            }
            Action::Pause(id) => {
                if let Some(i) = self.index_of(id)
                    && let NodeState::Running(e) = std::mem::replace(&mut self.slots[i].state, NodeState::Stopped)
                {
                    self.slots[i].state = NodeState::Paused(e);
                    self.file_deadline(i, None);
                }
            }
            Action::Resume(id) => {
                if let Some(i) = self.index_of(id)
                    && let NodeState::Paused(e) = std::mem::replace(&mut self.slots[i].state, NodeState::Stopped)
                {
                    // Tick right away: the node catches up with whatever it slept through.
                    self.slots[i].state = NodeState::Running(e);
                    self.file_deadline(i, Some(self.now));
                }
            }
            Action::Restart(id) => {
                if let Some(i) = self.index_of(id) {
                    self.slots[i].state = NodeState::Stopped;
                    self.start(i);
                }
            }
            Action::Leave(id) => {
                if let Some(i) = self.index_of(id)
                    && let NodeState::Running(e) = &mut self.slots[i].state
                {
                    e.leave(self.now);
                    self.drain(i);
                    self.slots[i].state = NodeState::Stopped;
                    self.file_deadline(i, None);
                }
            }
            Action::Partition(cut) => self.cuts.push(cut),
            Action::Heal(cut) => {
                if let Some(p) = self.cuts.iter().position(|c| *c == cut) {
                    self.cuts.remove(p);
                }
            }
            Action::HealAll => self.cuts.clear(),
            Action::SetLink { from, to, link, impairments } => self.set_link(from, to, link, impairments),
        }
    }

    fn start(&mut self, i: usize) {
        let generation = Generation(self.slots[i].generation.0.saturating_add(1));
        let id = self.ids[i];
        let stream = STREAM_NODE_SEEDS | ((i as u64) << 32) | u64::from(generation.0);
        let seed = SimRng::new(self.seed, stream).below(u64::MAX);
        let peers: Vec<NodeId> = self.ids.iter().copied().filter(|p| *p != id).collect();
        let spec = NodeSpec { id, generation, peers: &peers, links: self.links, seed, start: self.now };
        let endpoint = (self.factory)(&spec);
        self.slots[i].generation = generation;
        self.slots[i].state = NodeState::Running(endpoint);
        self.file_deadline(i, Some(self.now));
    }

    fn tick(&mut self, i: usize) -> Result<(), SimError> {
        let now = self.now;
        if let NodeState::Running(e) = &mut self.slots[i].state {
            e.tick(now);
        }
        self.drain(i);
        match self.slots[i].deadline {
            Some(deadline) if deadline <= now => {
                Err(SimError::DeadlineNotAdvanced { node: self.ids[i], now, deadline })
            }
            _ => Ok(()),
        }
    }

    /// Drains node `i`'s transmits (onto the wire) and events (into the timeline), then files
    /// its next deadline.
    fn drain(&mut self, i: usize) {
        let NodeState::Running(e) = &mut self.slots[i].state else { return };
        let mut outbox = std::mem::take(&mut self.outbox);
        let mut buf = [0u8; MAX_FRAME_LEN];
        while let Some(t) = e.poll_transmit(&mut buf).transpose().expect("a MAX_FRAME_LEN buffer fits every frame") {
            outbox.push((t.destination, buf, t.len));
        }
        let mut events = Vec::new();
        while let Some(event) = e.poll_event() {
            events.push(event);
        }
        let deadline = e.poll_timeout();
        let observer = self.ids[i];
        for event in events {
            self.stats.events += 1;
            self.timeline.push(self.now, What::Event { observer, event });
        }
        for (destination, bytes, len) in outbox.drain(..) {
            self.send(i, destination, &bytes[..len]);
        }
        self.outbox = outbox;
        self.file_deadline(i, deadline);
    }

    fn send(&mut self, from: usize, destination: Destination, bytes: &[u8]) {
        match destination {
            Destination::Peer(to) => match self.index.get(&to) {
                Some(&to) => self.send_to(from, to, bytes),
                None => {
                    self.stats.no_route += 1;
                    let frame = FrameId(self.next_sequence());
                    let (from, link) = (Some(self.ids[from]), LinkId(0));
                    self.record(What::Dropped { frame, from, to, link, reason: DropReason::NoRoute });
                }
            },
            Destination::All => {
                for to in (0..self.ids.len()).filter(|to| *to != from) {
                    self.send_to(from, to, bytes);
                }
            }
        }
    }

    /// One copy per link, through the interceptor, the partitions and the link's impairments.
    fn send_to(&mut self, from: usize, to: usize, bytes: &[u8]) {
        let (from_id, to_id) = (self.ids[from], self.ids[to]);
        for l in 0..self.links {
            let link = LinkId(l);
            let frame = FrameId(self.next_sequence());
            let mut bytes = bytes.to_vec();
            let info = FrameInfo { frame, from: Some(from_id), to: to_id, link, now: self.now };
            let mut injector = Injector::default();
            let verdict = self.interceptor.on_send(&info, &mut bytes, &mut injector);
            self.stats.sent += 1;
            self.record(What::Sent { frame, from: from_id, to: to_id, link, len: bytes.len() });
            self.inject_all(injector);
            let dropped = |reason| What::Dropped { frame, from: Some(from_id), to: to_id, link, reason };
            if verdict == Verdict::Drop {
                self.stats.intercepted += 1;
                self.record(dropped(DropReason::Intercepted));
                continue;
            }
            if self.cut(from_id, to_id, link) {
                self.stats.partitioned += 1;
                self.record(dropped(DropReason::Partitioned));
                continue;
            }
            match self.link_state(from, to, l).carry() {
                Fate::Lost => {
                    self.stats.lost += 1;
                    self.record(dropped(DropReason::Lost));
                }
                Fate::Deliver { first, copy } => {
                    if let Some(delay) = copy {
                        self.stats.duplicated += 1;
                        let copy = InFlight { frame, from: Some(from), to, link, bytes: bytes.clone() };
                        self.put_in_flight(self.now + delay, copy);
                    }
                    self.put_in_flight(self.now + first, InFlight { frame, from: Some(from), to, link, bytes });
                }
            }
        }
    }

    fn deliver(&mut self, mut f: InFlight) {
        let from = f.from.map(|i| self.ids[i]);
        let to = self.ids[f.to];
        let dropped = |reason| What::Dropped { frame: f.frame, from, to, link: f.link, reason };
        if from.is_some_and(|from| self.cut(from, to, f.link)) {
            self.stats.partitioned += 1;
            self.record(dropped(DropReason::Partitioned));
            return;
        }
        if !matches!(self.slots[f.to].state, NodeState::Running(_)) {
            self.stats.receiver_down += 1;
            self.record(dropped(DropReason::ReceiverDown));
            return;
        }
        let info = FrameInfo { frame: f.frame, from, to, link: f.link, now: self.now };
        let mut injector = Injector::default();
        let verdict = self.interceptor.on_deliver(&info, &mut f.bytes, &mut injector);
        self.inject_all(injector);
        if verdict == Verdict::Drop {
            self.stats.intercepted += 1;
            self.record(dropped(DropReason::Intercepted));
            return;
        }
        let NodeState::Running(e) = &mut self.slots[f.to].state else { return };
        let outcome = e.on_message(self.now, f.link, &f.bytes);
        self.stats.delivered += 1;
        if outcome.is_ok() {
            self.stats.accepted += 1;
        } else {
            self.stats.rejected += 1;
        }
        self.record(What::Delivered { frame: f.frame, from, to, link: f.link, outcome });
        self.drain(f.to);
    }

    fn put_in_flight(&mut self, at: Instant, frame: InFlight) {
        let order = self.next_sequence();
        self.in_flight.push(Reverse(Timed { at, order, item: frame }));
    }

    fn inject_all(&mut self, injector: Injector) {
        for (at, to, link, bytes) in injector.queued {
            self.inject(at, to, link, bytes);
        }
    }

    fn cut(&self, from: NodeId, to: NodeId, link: LinkId) -> bool {
        self.cuts.iter().any(|c| c.separates(from, to, link))
    }

    fn link_key(&self, from: usize, to: usize, link: u8) -> Option<usize> {
        (link < self.links).then(|| (from * self.ids.len() + to) * usize::from(self.links) + usize::from(link))
    }

    /// The state of a link that exists (`link < self.links`); callers never ask for another.
    fn link_state(&mut self, from: usize, to: usize, link: u8) -> &mut LinkState {
        let (seed, default) = (self.seed, self.default_link);
        let key = self.link_key(from, to, link).unwrap_or(0);
        if self.link_states.len() <= key {
            self.link_states.resize_with(self.ids.len() * self.ids.len() * usize::from(self.links), || None);
        }
        self.link_states[key].get_or_insert_with(|| {
            let stream = ((from as u64) << 40) | ((to as u64) << 8) | u64::from(link);
            LinkState::new(default, SimRng::new(seed, stream))
        })
    }

    fn file_deadline(&mut self, i: usize, deadline: Option<Instant>) {
        let slot = &mut self.slots[i];
        if slot.deadline == deadline {
            return;
        }
        if let Some(old) = slot.deadline {
            self.deadlines.remove(&(old, i));
        }
        if let Some(new) = deadline {
            self.deadlines.insert((new, i));
        }
        slot.deadline = deadline;
    }

    fn record(&mut self, what: What) {
        let keep = match self.recording {
            Recording::Full => true,
            Recording::EventsAndActions => matches!(what, What::Event { .. } | What::Action(_)),
        };
        if keep {
            self.timeline.push(self.now, what);
        }
    }

    fn index_of(&self, id: NodeId) -> Option<usize> {
        self.index.get(&id).copied()
    }

    fn slot_of(&self, id: NodeId) -> Option<&Slot<E>> {
        self.slots.get(self.index_of(id)?)
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }
}
