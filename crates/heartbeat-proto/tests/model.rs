//! Model-based test of the receiver: random sequences of ticks, heartbeats, goodbyes,
//! replays, garbage and peer-table changes are applied both to a [`Monitor`] and to a small
//! reference model written from the rules alone (plain maps and sets, every deadline
//! recomputed from scratch, no timers, no windows). After every step the two must agree on the
//! verdict, the events, every peer's status, the counters and the next deadline.
//!
//! The rules the model encodes (and so the spec this test pins):
//! - admission order: malformed → other cluster → from self → not for us → unknown link →
//!   event queue full → unknown peer / table full → stale generation / duplicate / replayed;
//! - a peer never heard takes any frame as fresh; otherwise a lower generation is stale, a
//!   higher one a restart (history forgotten), and within a generation a sequence number above
//!   all accepted ones is fresh (its gap counted as lost), one 64 or more below the highest is
//!   a replay (accepted or not: nothing that old is remembered), one already accepted is a
//!   duplicate, any other is late (counted, refreshes nothing, un-loses one);
//! - deadlines: `Waiting` → added + initdead; `Up` → last heard + timeout/2 (suspect);
//!   `Suspect` → last heard + timeout (down); `Down`/`Left` → none. A tick fires every deadline
//!   at or before it, Down before Suspect when both passed;
//! - time never goes backwards: an earlier `now` counts as the latest seen, and only an
//!   accepted frame moves the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use heartbeat_proto::auth::{AuthError, Authentication, Key, KeyId, KeyRing};
use heartbeat_proto::wire::{Echo, Frame, Kind};
use heartbeat_proto::{
    Accepted, ClusterId, Config, Event, EventKind, FixedTimeout, Generation, Growable, Instant, Learning, LinkId,
    Liveness, MAX_FRAME_LEN, Message, Monitor, MonitorStats, NodeId, PeerError, PeerStats, PeerStatus, Rejected,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

const ME: u64 = 1;
const CLUSTER: ClusterId = ClusterId(7);
const TICK: Duration = Duration::from_millis(100);
const MIN_TIMEOUT: Duration = Duration::from_millis(200);
const MAX_TIMEOUT: Duration = Duration::from_secs(2);
const OWN_TIMEOUT: Duration = Duration::from_millis(600);
const INITDEAD: Duration = Duration::from_secs(2);
const WINDOW: u64 = 64;
const QUEUE: usize = heartbeat_proto::EVENT_QUEUE_LEN;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// The monitor's configuration, as the model knows it.
#[derive(Debug, Clone, Copy)]
struct Setup {
    /// Peers 2..=configured+1 are configured at start.
    configured: u64,
    /// Unknown senders are learned, up to `max_peers`.
    learning: bool,
    max_peers: usize,
}

impl Setup {
    fn config(&self) -> Config {
        Config::builder(CLUSTER, id(ME))
            .tick(TICK)
            .timeout(OWN_TIMEOUT)
            .initdead(INITDEAD)
            .learning(if self.learning { Learning::Enabled } else { Learning::Disabled })
            .max_peers(self.max_peers)
            .authentication(self.auth())
            .build()
            .unwrap()
    }

    /// Learning needs keys; without learning the model runs unauthenticated, as most tests do.
    fn auth(&self) -> Authentication {
        if self.learning {
            let key = Key::new(KeyId(1), b"model-test-key-0123456789abcdef!").unwrap();
            Authentication::Hmac(KeyRing::new(key))
        } else {
            Authentication::None
        }
    }

    /// Every sender id the operations use: this node, the configured peers, some strangers.
    fn senders(&self) -> std::ops::RangeInclusive<u64> {
        1..=self.configured + 4
    }
}

/// One peer, as the model sees it.
#[derive(Debug, Clone)]
struct ModelPeer {
    learned: bool,
    liveness: Liveness,
    since: Instant,
    /// When it was added (the start of its initdead).
    added: Instant,
    /// `None` until its first accepted frame.
    heard: Option<Heard>,
    stats: PeerStats,
}

/// What the model remembers from a peer's latest fresh frame and its generation.
#[derive(Debug, Clone)]
struct Heard {
    at: Instant,
    generation: u32,
    /// Every sequence number accepted in this generation.
    seen: BTreeSet<u64>,
    interval: Duration,
    timeout: Duration,
    applied_to_us: Option<Duration>,
    hears_us: bool,
}

impl ModelPeer {
    fn new(now: Instant, learned: bool) -> Self {
        ModelPeer {
            learned,
            liveness: Liveness::Waiting,
            since: now,
            added: now,
            heard: None,
            stats: PeerStats::default(),
        }
    }

    fn timeout(&self) -> Duration {
        self.heard.as_ref().map_or(OWN_TIMEOUT, |h| h.timeout)
    }

    /// The next deadline: what it is for, and when.
    fn deadline(&self) -> Option<Instant> {
        match (self.liveness, &self.heard) {
            (Liveness::Waiting, _) => Some(self.added + INITDEAD),
            (Liveness::Up, Some(h)) => Some(h.at + h.timeout / 2),
            (Liveness::Suspect, Some(h)) => Some(h.at + h.timeout),
            _ => None,
        }
    }

    fn status(&self, peer: u64, now: Instant) -> PeerStatus {
        let alive = matches!(self.liveness, Liveness::Up | Liveness::Suspect);
        let suspicion = match &self.heard {
            Some(h) if alive => (now - h.at).as_secs_f32() / h.timeout.as_secs_f32(),
            _ => 0.0,
        };
        PeerStatus {
            id: id(peer),
            liveness: self.liveness,
            since: self.since,
            last_heard: self.heard.as_ref().map(|h| h.at),
            generation: self.heard.as_ref().map(|h| Generation(h.generation)),
            interval: self.heard.as_ref().map(|h| h.interval),
            timeout: self.timeout(),
            timeout_applied_to_us: self.heard.as_ref().and_then(|h| h.applied_to_us),
            hears_us: self.heard.as_ref().is_some_and(|h| h.hears_us),
            learned: self.learned,
            suspicion,
            links_up: u32::from(alive),
            stats: self.stats,
        }
    }
}

/// The reference model of a single-link monitor, plus what the last operation should have
/// produced.
#[derive(Debug, Clone)]
struct Model {
    setup: Setup,
    clock: Instant,
    peers: BTreeMap<u64, ModelPeer>,
    stats: MonitorStats,
    /// Every well-formed frame delivered so far, for replays.
    history: Vec<Message>,
    /// The verdict the last frame should get.
    verdict: Option<Result<Accepted, Rejected>>,
    /// The answer the last `add_peer` should get.
    added: Option<Result<(), PeerError>>,
    /// The events the last operation should raise, each with the deadline that raised it
    /// (ticks) or `None` (frames).
    events: Vec<(Option<Instant>, Event)>,
}

/// One step.
#[derive(Debug, Clone)]
enum Op {
    Tick(Instant),
    Deliver { at: Instant, link: u8, msg: Message },
    Replay { at: Instant, index: usize },
    Raw { at: Instant, bytes: Vec<u8> },
    Add(u64),
    Remove(u64),
}

fn clamp(requested: Duration) -> Duration {
    requested.clamp(MIN_TIMEOUT, MAX_TIMEOUT)
}

impl Model {
    fn new(setup: Setup) -> Self {
        let mut m = Model {
            setup,
            clock: Instant::ZERO,
            peers: BTreeMap::new(),
            stats: MonitorStats::default(),
            history: Vec::new(),
            verdict: None,
            added: None,
            events: Vec::new(),
        };
        for p in 2..=setup.configured + 1 {
            m.peers.insert(p, ModelPeer::new(Instant::ZERO, false));
        }
        m
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.peers.values().filter_map(ModelPeer::deadline).min()
    }

    fn tick(&mut self, at: Instant) {
        self.clock = self.clock.max(at);
        let now = self.clock;
        let mut due: Vec<(Instant, u64)> =
            self.peers.iter().filter_map(|(p, peer)| peer.deadline().filter(|d| *d <= now).map(|d| (d, *p))).collect();
        due.sort();
        for (deadline, p) in due {
            let peer = self.peers.get_mut(&p).unwrap();
            let kind = match (&peer.heard, peer.liveness) {
                (_, Liveness::Waiting) => EventKind::Down { last_heard: None, deadline },
                (Some(h), _) if h.at + h.timeout <= now => {
                    EventKind::Down { last_heard: Some(h.at), deadline: h.at + h.timeout }
                }
                (Some(h), _) => EventKind::Suspect { last_heard: h.at },
                (None, _) => unreachable!("only Waiting peers are unheard"),
            };
            peer.liveness = if matches!(kind, EventKind::Down { .. }) { Liveness::Down } else { Liveness::Suspect };
            peer.since = now;
            self.events.push((Some(deadline), Event { at: now, peer: id(p), kind }));
        }
    }

    fn deliver(&mut self, at: Instant, link: u8, bytes: &[u8]) {
        let verdict = match Frame::new_checked(bytes).and_then(|f| Ok((Message::parse(&f)?, f))) {
            Err(e) => Err(Rejected::Malformed(e)),
            // The tag check itself is tested elsewhere; here it is an oracle for when it runs.
            Ok((msg, frame)) => self.admit(at, link, &msg, self.setup.auth().verify(&frame)),
        };
        match verdict {
            Ok(Accepted::Heartbeat | Accepted::Goodbye) => self.stats.accepted += 1,
            Ok(Accepted::Late) => self.stats.late += 1,
            Ok(Accepted::LinkCopy) => self.stats.link_copies += 1,
            Err(Rejected::Malformed(_)) => self.stats.rejected_malformed += 1,
            Err(Rejected::WrongCluster(_)) => self.stats.rejected_cluster += 1,
            Err(Rejected::FromSelf) => self.stats.rejected_self += 1,
            Err(Rejected::NotForUs(_)) => self.stats.rejected_not_for_us += 1,
            Err(Rejected::UnknownLink(_)) => self.stats.rejected_link += 1,
            Err(Rejected::UnknownPeer(_)) => self.stats.rejected_unknown_peer += 1,
            Err(Rejected::PeerTableFull(_)) => self.stats.rejected_table_full += 1,
            Err(Rejected::StaleGeneration { .. }) => self.stats.rejected_stale_generation += 1,
            Err(Rejected::Duplicate { peer, .. }) => {
                self.stats.rejected_duplicate += 1;
                let stats = &mut self.peers.get_mut(&peer.get()).unwrap().stats;
                stats.duplicates = stats.duplicates.saturating_add(1);
            }
            Err(Rejected::Replayed { .. }) => self.stats.rejected_replay += 1,
            Err(Rejected::EventQueueFull) => self.stats.rejected_queue_full += 1,
            Err(Rejected::Auth(_)) => self.stats.rejected_auth += 1,
            other => panic!("the model knows no counter for {other:?}"),
        }
        self.verdict = Some(verdict);
    }

    /// Admission and verdict; changes state only when accepting.
    fn admit(
        &mut self,
        at: Instant,
        link: u8,
        msg: &Message,
        auth: Result<(), AuthError>,
    ) -> Result<Accepted, Rejected> {
        if msg.cluster != CLUSTER {
            return Err(Rejected::WrongCluster(msg.cluster));
        }
        if msg.sender == id(ME) {
            return Err(Rejected::FromSelf);
        }
        if let Some(r) = msg.receiver.filter(|r| *r != id(ME)) {
            return Err(Rejected::NotForUs(r));
        }
        if link != 0 {
            return Err(Rejected::UnknownLink(LinkId(link)));
        }
        // The operations drain every event after each step, so the queue always has room.
        let sender = msg.sender.get();
        if !self.peers.contains_key(&sender) {
            if !self.setup.learning || msg.kind != Kind::Heartbeat {
                return Err(Rejected::UnknownPeer(msg.sender));
            }
            if self.peers.len() >= self.setup.max_peers {
                return Err(Rejected::PeerTableFull(msg.sender));
            }
        }
        // Authentication comes after the cheap checks and before anything is created or read.
        auth.map_err(Rejected::Auth)?;
        if !self.peers.contains_key(&sender) {
            self.peers.insert(sender, ModelPeer::new(self.clock, true));
            self.stats.learned += 1;
        }
        let now = self.clock.max(at);
        let peer = self.peers.get_mut(&sender).unwrap();
        let mut restarted = None;
        let mut gap = 0;
        if let Some(h) = &mut peer.heard {
            if msg.generation.0 < h.generation {
                return Err(Rejected::StaleGeneration {
                    peer: msg.sender,
                    generation: msg.generation,
                    current: Generation(h.generation),
                });
            }
            if msg.generation.0 > h.generation {
                restarted = Some(Generation(h.generation));
                h.seen.clear();
            } else {
                let highest = *h.seen.last().unwrap();
                if msg.sequence < highest && highest - msg.sequence >= WINDOW {
                    return Err(Rejected::Replayed { peer: msg.sender, sequence: msg.sequence });
                }
                if h.seen.contains(&msg.sequence) {
                    return Err(Rejected::Duplicate { peer: msg.sender, sequence: msg.sequence });
                }
                if msg.sequence < highest {
                    h.seen.insert(msg.sequence);
                    peer.stats.late = peer.stats.late.saturating_add(1);
                    peer.stats.lost = peer.stats.lost.saturating_sub(1);
                    self.clock = now;
                    return Ok(Accepted::Late);
                }
                gap = msg.sequence - highest - 1;
            }
        }
        // Fresh (or a restart): refresh everything.
        self.clock = now;
        peer.stats.lost = peer.stats.lost.saturating_add(u32::try_from(gap).unwrap_or(u32::MAX));
        peer.stats.received = peer.stats.received.saturating_add(1);
        let mut seen = peer.heard.take().map(|h| h.seen).unwrap_or_default();
        seen.insert(msg.sequence);
        peer.heard = Some(Heard {
            at: now,
            generation: msg.generation.0,
            seen,
            interval: msg.interval,
            timeout: clamp(msg.requested_timeout),
            applied_to_us: msg.applied_timeout,
            hears_us: msg.hears_you,
        });
        if let Some(echo) = msg.echo.filter(|e| e.timestamp <= now) {
            let sample = (now - echo.timestamp).saturating_sub(echo.delay);
            let us = u32::try_from(sample.as_micros()).unwrap_or(u32::MAX).max(1);
            let s = &mut peer.stats;
            s.srtt_us = if s.srtt_us == 0 { us } else { ((u64::from(s.srtt_us) * 7 + u64::from(us)) / 8) as u32 };
            s.rtt_us = us;
        }
        let kind = match (msg.kind, restarted) {
            (Kind::Goodbye, _) if peer.liveness == Liveness::Left => None,
            (Kind::Goodbye, _) => Some((Liveness::Left, EventKind::Left)),
            (Kind::Heartbeat, Some(previous)) => {
                Some((Liveness::Up, EventKind::Restarted { previous, generation: msg.generation }))
            }
            (Kind::Heartbeat, None) if peer.liveness == Liveness::Up => None,
            (Kind::Heartbeat, None) => Some((Liveness::Up, EventKind::Up { generation: msg.generation })),
        };
        if let Some((liveness, kind)) = kind {
            peer.liveness = liveness;
            peer.since = now;
            self.events.push((None, Event { at: now, peer: msg.sender, kind }));
        }
        Ok(if msg.kind == Kind::Heartbeat { Accepted::Heartbeat } else { Accepted::Goodbye })
    }

    fn add(&mut self, p: u64) {
        let result = if p == ME {
            Err(PeerError::IsSelf)
        } else if self.peers.contains_key(&p) {
            Err(PeerError::AlreadyPresent)
        } else if self.peers.len() >= self.setup.max_peers {
            Err(PeerError::TableFull)
        } else {
            self.peers.insert(p, ModelPeer::new(self.clock, false));
            Ok(())
        };
        self.added = Some(result);
    }
}

/// Encodes (and signs, with keys) `msg` as a peer of this setup sends it.
fn encode(setup: &Setup, msg: &Message) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = setup.auth().encode(msg, &mut buf).expect("generated messages are valid");
    buf[..len].to_vec()
}

fn arb_message(setup: Setup) -> impl Strategy<Value = Message> {
    let timing = prop_oneof![
        Just((Duration::from_millis(200), Duration::from_millis(600))),
        Just((Duration::from_millis(30), Duration::from_millis(100))),
        Just((Duration::from_millis(300), Duration::from_secs(1))),
        Just((Duration::from_secs(1), Duration::from_secs(5))),
    ];
    let receiver = prop_oneof![6 => Just(Some(ME)), 2 => Just(None), 1 => (2u64..6).prop_map(Some)];
    let sequence = prop_oneof![12 => 1u64..100, 1 => Just(1_000u64), 1 => Just(u64::MAX)];
    let kind = prop_oneof![9 => Just(Kind::Heartbeat), 1 => Just(Kind::Goodbye)];
    let cluster = prop_oneof![20 => Just(CLUSTER), 1 => Just(ClusterId(8))];
    let extras = (any::<bool>(), proptest::option::of((0u64..40_000, 0u32..5_000)), any::<bool>());
    (kind, cluster, setup.senders(), receiver, 1u32..4, sequence, timing, extras).prop_map(
        |(kind, cluster, sender, receiver, generation, sequence, (interval, requested), (hears, echo, applied))| {
            let receiver = receiver.filter(|r| *r != sender).map(id);
            let addressed = receiver.is_some();
            Message {
                kind,
                cluster,
                sender: id(sender),
                receiver,
                generation: Generation(generation),
                sequence,
                timestamp: Instant::from_millis(sequence % 1000),
                echo: echo.filter(|_| addressed).map(|(ms, us)| Echo {
                    timestamp: Instant::from_millis(ms),
                    delay: Duration::from_micros(u64::from(us)),
                }),
                interval,
                requested_timeout: requested,
                applied_timeout: (applied && addressed).then_some(Duration::from_millis(700)),
                hears_you: hears && addressed,
                auth: None,
            }
        },
    )
}

/// Times around the model's clock, now and then going backwards, with sub-millisecond offsets.
fn arb_time(clock: Instant) -> impl Strategy<Value = Instant> {
    let delta = prop_oneof![6 => 0i64..400, 3 => 400i64..3_000, 1 => -1_500i64..0];
    (delta, prop_oneof![4 => Just(0u64), 1 => 1u64..1_000]).prop_map(move |(ms, us)| {
        let base = if ms >= 0 {
            clock + Duration::from_millis(ms as u64)
        } else {
            clock - Duration::from_millis(ms.unsigned_abs())
        };
        base + Duration::from_micros(us)
    })
}

fn arb_raw(setup: Setup) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..110),
        (arb_message(setup), 0usize..72, any::<u8>()).prop_map(move |(msg, pos, byte)| {
            let mut bytes = encode(&setup, &msg);
            bytes[pos] = byte;
            bytes
        }),
        (arb_message(setup), 0usize..72).prop_map(move |(msg, cut)| encode(&setup, &msg)[..cut].to_vec()),
    ]
}

struct MonitorModel;

impl ReferenceStateMachine for MonitorModel {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        let setup = (prop_oneof![3 => Just(3u64), 1 => Just(20u64)], any::<bool>())
            .prop_map(|(configured, learning)| Setup { configured, learning, max_peers: configured as usize + 2 });
        setup.prop_map(Model::new).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let setup = state.setup;
        let clock = state.clock;
        let replay = if state.history.is_empty() {
            Just(Op::Tick(clock)).boxed()
        } else {
            (arb_time(clock), 0..state.history.len()).prop_map(|(at, index)| Op::Replay { at, index }).boxed()
        };
        prop_oneof![
            4 => arb_time(clock).prop_map(Op::Tick),
            8 => (arb_time(clock), prop_oneof![20 => Just(0u8), 1 => Just(1u8)], arb_message(setup))
                .prop_map(|(at, link, msg)| Op::Deliver { at, link, msg }),
            2 => replay,
            1 => (arb_time(clock), arb_raw(setup)).prop_map(|(at, bytes)| Op::Raw { at, bytes }),
            1 => setup.senders().prop_map(Op::Add),
            1 => setup.senders().prop_map(Op::Remove),
        ]
        .boxed()
    }

    fn preconditions(state: &Model, op: &Op) -> bool {
        match op {
            Op::Replay { index, .. } => *index < state.history.len(),
            _ => true,
        }
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        state.verdict = None;
        state.added = None;
        state.events.clear();
        match op {
            Op::Tick(at) => state.tick(*at),
            Op::Deliver { at, link, msg } => {
                state.deliver(*at, *link, &encode(&state.setup, msg));
                state.history.push(*msg);
            }
            Op::Replay { at, index } => {
                let msg = state.history[*index];
                state.deliver(*at, 0, &encode(&state.setup, &msg));
            }
            Op::Raw { at, bytes } => state.deliver(*at, 0, bytes),
            Op::Add(p) => state.add(*p),
            Op::Remove(p) => {
                state.peers.remove(p);
            }
        }
        state
    }
}

type Sut = Monitor<FixedTimeout, Growable>;

fn statuses(m: &Sut) -> BTreeMap<u64, PeerStatus> {
    m.peers().map(|s| (s.id.get(), s)).collect()
}

/// Everything but suspicion, which is a float: compared separately with a tolerance.
fn assert_same_status(actual: &PeerStatus, expected: &PeerStatus) {
    let exact = |s: &PeerStatus| PeerStatus { suspicion: 0.0, ..*s };
    assert_eq!(exact(actual), exact(expected));
    assert!((actual.suspicion - expected.suspicion).abs() < 1e-3, "{actual:?} vs {expected:?}");
}

impl StateMachineTest for MonitorModel {
    type SystemUnderTest = Sut;
    type Reference = MonitorModel;

    fn init_test(model: &Model) -> Sut {
        let mut m = Monitor::new(model.setup.config(), FixedTimeout::new(), Instant::ZERO);
        for p in 2..=model.setup.configured + 1 {
            m.add_peer(id(p)).unwrap();
        }
        m
    }

    fn apply(mut m: Sut, model: &Model, op: Op) -> Sut {
        let before = statuses(&m);
        let verdict = match &op {
            Op::Tick(at) => {
                m.tick(*at);
                None
            }
            Op::Deliver { at, link, msg } => Some(m.on_message(*at, LinkId(*link), &encode(&model.setup, msg))),
            Op::Replay { at, index } => {
                Some(m.on_message(*at, LinkId(0), &encode(&model.setup, &model.history[*index])))
            }
            Op::Raw { at, bytes } => Some(m.on_message(*at, LinkId(0), bytes)),
            Op::Add(p) => {
                assert_eq!(Some(m.add_peer(id(*p))), model.added);
                None
            }
            Op::Remove(p) => {
                assert_eq!(m.remove_peer(id(*p)), before.contains_key(p));
                None
            }
        };
        assert!(m.poll_timeout().is_none_or(|t| t <= m.now()) || model.events.is_empty(), "queued output is signalled");
        let events: Vec<Event> = std::iter::from_fn(|| m.poll_event()).collect();
        assert!(events.len() <= model.events.len().max(QUEUE * 4));

        // Verdict, and a rejection changes no status (bar the peer's duplicate count).
        assert_eq!(verdict, model.verdict, "{op:?}");
        if let Some(Err(rejected)) = verdict {
            let mut after = statuses(&m);
            if let Rejected::Duplicate { peer, .. } = rejected {
                let p = peer.get();
                assert_eq!(after[&p].stats.duplicates, before[&p].stats.duplicates.saturating_add(1), "counted");
                after.get_mut(&p).unwrap().stats.duplicates = before[&p].stats.duplicates;
            }
            assert_eq!(after, before, "a rejected frame changed the table");
            assert!(events.is_empty());
        }

        // The same events: in deadline order for a tick (ties in any order).
        let mut expected = model.events.clone();
        expected.sort_by_key(|(deadline, e)| (*deadline, e.peer));
        let deadline_of = |e: &Event| expected.iter().find(|(_, x)| x == e).map(|(d, _)| *d);
        let mut actual = events.clone();
        actual.sort_by_key(|e| (deadline_of(e), e.peer));
        assert_eq!(actual, expected.iter().map(|(_, e)| *e).collect::<Vec<_>>(), "{op:?}");
        let order: Vec<_> = events.iter().map(deadline_of).collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "events out of deadline order: {events:?}");

        // After a tick and a full drain, the next deadline is strictly later.
        if let Op::Tick(_) = op {
            let now = m.now();
            assert!(m.poll_timeout().is_none_or(|t| t > now), "busy loop: {:?} after tick({now})", m.poll_timeout());
        }
        m
    }

    fn check_invariants(m: &Sut, model: &Model) {
        assert_eq!(m.now(), model.clock);
        assert_eq!(m.stats(), &model.stats);
        let actual = statuses(m);
        assert_eq!(actual.keys().collect::<Vec<_>>(), model.peers.keys().collect::<Vec<_>>());
        for (p, peer) in &model.peers {
            assert_same_status(&actual[p], &peer.status(*p, model.clock));
        }
        assert_eq!(m.poll_timeout(), model.next_deadline(), "the exact next deadline");
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/model.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_monitor_behaves_like_its_model(sequential 1..80 => MonitorModel);
}
