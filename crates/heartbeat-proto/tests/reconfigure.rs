//! Changing a running machine's settings, keys and detector (`Node::reconfigure`,
//! `Monitor::reconfigure`, `replace_detector`): every peer's record survives, a stricter rule
//! counts from the change, and a change only a new machine can take is refused with its field
//! and changes nothing.

mod common;

use core::time::Duration;

use common::{CLUSTER, Network, id};
use heartbeat_proto::detector::{Arrival, Deadlines, PeerTiming};
use heartbeat_proto::wire::Kind;
use heartbeat_proto::{
    AuthError, Authentication, Config, Detector, EventKind, Generation, Growable, Instant, Key, KeyId, KeyRing, LinkId,
    MAX_FRAME_LEN, Message, Monitor, Rejected,
};
use proptest::prelude::*;

const OLD: KeyId = KeyId(1);
const NEW: KeyId = KeyId(2);

fn key(id: KeyId) -> Key {
    Key::new(id, &[id.0.wrapping_mul(0x3b); 32]).unwrap()
}

/// A ring of `ids`, the first current.
fn ring(ids: &[KeyId]) -> KeyRing {
    let mut ring = KeyRing::new(key(ids[0]));
    for id in &ids[1..] {
        ring.insert(key(*id)).unwrap();
    }
    ring
}

/// What `common::Network::new` gives node `me`, with `auth`, and the timing given.
fn config(me: u64, auth: Authentication, timeout_ms: u64, interval_ms: u64) -> Config {
    Config::builder(CLUSTER, id(me))
        .tick(Duration::from_millis(100))
        .timeout(Duration::from_millis(timeout_ms))
        .interval(Duration::from_millis(interval_ms))
        .seed(me)
        .authentication(auth)
        .build()
        .unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// The staggered rotation of `keys.rs`, with the whole ring replaced at each step (as a key
/// file re-read is): add key 2 everywhere, make it current everywhere, drop key 1 everywhere,
/// each node 130 ms after the previous one. Nothing is refused, nobody is suspected, nobody
/// restarts in anybody's eyes (the sequence windows survived), and the rings end as key 2 only.
#[test]
fn rotating_by_replacing_the_ring_keeps_every_peer_and_refuses_nothing() {
    let mut net = Network::new(3, Duration::from_millis(3), |_| Authentication::Hmac(ring(&[OLD])));
    net.run_until(Instant::from_secs(2));
    let mut at = Instant::from_secs(2);
    for step in [&[OLD, NEW][..], &[NEW, OLD][..], &[NEW][..]] {
        for i in 0..3 {
            net.run_until(at);
            let now = net.now;
            net.nodes[i].reconfigure(now, config(i as u64 + 1, Authentication::Hmac(ring(step)), 600, 200)).unwrap();
            at = at + Duration::from_millis(130);
        }
        at = at + Duration::from_secs(1);
    }
    net.run_until(at + Duration::from_secs(2));
    let changes: Vec<_> = net
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(e.kind, EventKind::Suspect { .. } | EventKind::Down { .. } | EventKind::Restarted { .. })
        })
        .collect();
    assert_eq!(changes, Vec::<&(usize, heartbeat_proto::Event)>::new());
    for node in &net.nodes {
        assert_eq!(node.stats().rejected(), 0, "{:?}", node.stats());
        let ring = node.authentication().key_ring().unwrap();
        assert_eq!((ring.current(), ring.ids().collect::<Vec<_>>()), (NEW, vec![NEW]));
        assert!(node.peers().all(|p| p.last_heard.unwrap() > at), "{:?}", node.peers().collect::<Vec<_>>());
    }
}

/// A heartbeat from peer 2 with `sequence`, sent at `at`.
fn message(sequence: u64, at: Instant) -> Message {
    Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(2),
        receiver: Some(id(1)),
        generation: Generation(1),
        sequence,
        timestamp: at,
        echo: None,
        interval: Duration::from_millis(100),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: None,
        hears_you: false,
        auth: None,
    }
}

/// That heartbeat signed under `key` alone.
fn frame(sequence: u64, key: KeyId, at: Instant) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = Authentication::Hmac(ring(&[key])).encode(&message(sequence, at), &mut buf).unwrap();
    buf[..len].to_vec()
}

/// That heartbeat unsigned.
fn plain(sequence: u64, at: Instant) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = message(sequence, at).encode(&mut buf).unwrap();
    buf[..len].to_vec()
}

#[test]
fn a_new_ring_keeps_replay_protection_and_a_retired_key_is_refused() {
    let mut m: Monitor<heartbeat_proto::FixedTimeout, Growable> =
        Monitor::new(config(1, Authentication::Hmac(ring(&[OLD])), 600, 200), Default::default(), ms(0));
    m.add_peer(id(2)).unwrap();
    let five = frame(5, OLD, ms(100));
    m.on_message(ms(100), LinkId(0), &five).unwrap();
    // Unknown to this node yet: refused, and counted by reason.
    assert_eq!(
        m.on_message(ms(150), LinkId(0), &frame(6, NEW, ms(150))),
        Err(Rejected::Auth(AuthError::UnknownKey(NEW)))
    );
    m.reconfigure(ms(200), config(1, Authentication::Hmac(ring(&[OLD, NEW])), 600, 200)).unwrap();
    assert!(
        matches!(m.on_message(ms(210), LinkId(0), &five), Err(Rejected::Duplicate { .. })),
        "a replay after the change"
    );
    m.on_message(ms(300), LinkId(0), &frame(6, NEW, ms(300))).unwrap();
    m.reconfigure(ms(400), config(1, Authentication::Hmac(ring(&[NEW])), 600, 200)).unwrap();
    assert_eq!(
        m.on_message(ms(410), LinkId(0), &frame(7, OLD, ms(410))),
        Err(Rejected::Auth(AuthError::UnknownKey(OLD)))
    );
    m.on_message(ms(500), LinkId(0), &frame(7, NEW, ms(500))).unwrap();
    assert_eq!(m.stats().rejected_auth, 2);
    assert_eq!(m.peer(id(2)).unwrap().stats.received, 3);
    assert_eq!(m.authentication().key_ring().unwrap().ids().collect::<Vec<_>>(), vec![NEW]);
}

#[test]
fn a_change_only_a_new_machine_can_take_is_refused_and_changes_nothing() {
    let keyed = || Authentication::Hmac(ring(&[OLD]));
    let mut m: Monitor<heartbeat_proto::FixedTimeout, Growable> =
        Monitor::new(config(1, keyed(), 600, 200), Default::default(), ms(0));
    m.add_peer(id(2)).unwrap();
    m.on_message(ms(100), LinkId(0), &frame(1, OLD, ms(100))).unwrap();
    let (before, deadline) = (m.config().clone(), m.poll_timeout());
    let other_cluster = Config::builder(heartbeat_proto::ClusterId(8), id(1))
        .tick(Duration::from_millis(100))
        .timeout(Duration::from_millis(300))
        .seed(1)
        .authentication(Authentication::Hmac(ring(&[NEW])))
        .build()
        .unwrap();
    assert_eq!(m.reconfigure(ms(200), other_cluster).unwrap_err().field, "cluster");
    assert_eq!(m.reconfigure(ms(200), config(1, Authentication::None, 300, 100)).unwrap_err().field, "authentication");
    assert_eq!((m.config(), m.poll_timeout()), (&before, deadline));
    assert_eq!(m.authentication().key_ring().unwrap().current(), OLD, "the keys of a refused change were taken");
    // A running machine's own configuration (keys taken) changes the timing and keeps the keys.
    let running = m.config().clone();
    assert_eq!(running.keys(), None);
    m.reconfigure(ms(200), running).unwrap();
    assert_eq!(m.authentication().key_ring().unwrap().current(), OLD);
}

#[test]
fn a_shorter_interval_paces_the_next_round_and_the_new_timeout_goes_with_it() {
    let mut net = Network::new(2, Duration::from_millis(3), |_| Authentication::None);
    net.run_until(Instant::from_secs(1));
    let (now, before) = (net.now, net.nodes[0].sequence());
    net.nodes[0].reconfigure(now, config(1, Authentication::None, 300, 50)).unwrap();
    assert!(net.nodes[0].poll_timeout().unwrap() <= now + Duration::from_millis(50));
    net.run_until(now + Duration::from_millis(200));
    let seen = net.nodes[1].peer(id(1)).unwrap();
    assert_eq!((seen.interval, seen.timeout), (Some(Duration::from_millis(50)), Duration::from_millis(300)));
    // Rounds at most 50 ms apart for 200 ms, where the old pace (150 to 200 ms) gives one or two.
    let rounds = net.nodes[0].sequence() - before;
    assert!(rounds >= 4, "{rounds} rounds");
    assert_eq!(net.downs(), vec![]);
}

/// Down `tenths` × the negotiated timeout after the last heartbeat, never suspect first: a
/// detector whose rule a test can make stricter or looser.
#[derive(Debug, Clone, Copy)]
struct Scaled(u32);

impl Detector for Scaled {
    type PeerState = ();

    fn on_heartbeat(&self, (): &mut (), _: &Arrival) {}

    fn deadlines(&self, (): &(), timing: &PeerTiming) -> Deadlines {
        let down = timing.last_heard + timing.timeout * self.0 / 10;
        Deadlines { suspect: down, down }
    }

    fn suspicion(&self, (): &(), timing: &PeerTiming, now: Instant) -> f32 {
        (now - timing.last_heard).as_secs_f32()
    }
}

fn scaled(tenths: u32) -> Monitor<Scaled, Growable> {
    let mut m = Monitor::new(config(1, Authentication::None, 600, 200), Scaled(tenths), ms(0));
    m.add_peer(id(2)).unwrap();
    m
}

/// Ticks at `now`; the `Down` deadlines it fired.
fn downs_at<D: Detector>(m: &mut Monitor<D, Growable>, now: Instant) -> Vec<Instant> {
    m.tick(now);
    std::iter::from_fn(|| m.poll_event())
        .filter_map(|e| match e.kind {
            EventKind::Down { deadline, .. } => Some(deadline),
            _ => None,
        })
        .collect()
}

#[test]
fn a_stricter_rule_counts_from_the_change_and_a_looser_one_applies_at_once() {
    // Heard at 1 s, 600 ms timeout: down at 1.6 s under the old rule.
    let mut m = scaled(10);
    m.on_message(ms(1000), LinkId(0), &plain(1, ms(1000))).unwrap();
    // A fifth of the timeout from 1.2 s: the new rule alone says 1.12 s, already past;
    // counted from the change it says 1.32 s, before the old 1.6 s.
    m.replace_detector(ms(1200), Scaled(2));
    assert_eq!(downs_at(&mut m, ms(1200)), vec![]);
    assert_eq!(downs_at(&mut m, ms(1319)), vec![]);
    assert_eq!(downs_at(&mut m, ms(1320)), vec![ms(1320)]);

    // Half the timeout from 1.5 s: counted from the change it would be 1.8 s, but never later
    // than the old rule's 1.6 s.
    let mut m = scaled(10);
    m.on_message(ms(1000), LinkId(0), &plain(1, ms(1000))).unwrap();
    m.replace_detector(ms(1500), Scaled(5));
    assert_eq!(downs_at(&mut m, ms(1599)), vec![]);
    assert_eq!(downs_at(&mut m, ms(1600)), vec![ms(1600)]);

    // A frame after the change ends the grace: the new rule from that frame.
    let mut m = scaled(10);
    m.on_message(ms(1000), LinkId(0), &plain(1, ms(1000))).unwrap();
    m.replace_detector(ms(1500), Scaled(5));
    m.on_message(ms(1550), LinkId(0), &plain(2, ms(1550))).unwrap();
    assert_eq!(downs_at(&mut m, ms(1849)), vec![]);
    assert_eq!(downs_at(&mut m, ms(1850)), vec![ms(1850)]);

    // Looser: twice the timeout applies at once, from the last frame.
    let mut m = scaled(10);
    m.on_message(ms(1000), LinkId(0), &plain(1, ms(1000))).unwrap();
    m.replace_detector(ms(1100), Scaled(20));
    assert_eq!(downs_at(&mut m, ms(2199)), vec![]);
    assert_eq!(downs_at(&mut m, ms(2200)), vec![ms(2200)]);
}

/// Pushing the same settings again and again moves no deadline: a dead peer is declared down
/// when it would have been without them.
#[test]
fn the_same_settings_pushed_again_and_again_move_no_deadline() {
    let mut m = scaled(10);
    m.on_message(ms(1000), LinkId(0), &plain(1, ms(1000))).unwrap();
    let mut downs = Vec::new();
    for at in (1100..=3000).step_by(100) {
        m.reconfigure(ms(at), config(1, Authentication::None, 600, 200)).unwrap();
        m.replace_detector(ms(at), Scaled(10));
        downs.extend(downs_at(&mut m, ms(at)));
    }
    assert_eq!(downs, vec![ms(1600)]);
}

#[derive(Debug, Clone)]
enum Step {
    Heartbeat,
    Replace(u32),
    Retime,
}

fn steps() -> impl Strategy<Value = Vec<(u64, Step)>> {
    let step = prop_oneof![
        4 => Just(Step::Heartbeat),
        2 => (1u32..30).prop_map(Step::Replace),
        1 => Just(Step::Retime),
    ];
    proptest::collection::vec((1u64..1500, step), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the changes and silences, a `Down` comes exactly when the live-change rule
    /// says: one span of the rule in force after the last frame; after a stricter change, one
    /// span of the new rule counted from the change but never later than the deadline before
    /// it — never sooner (no verdict for silence an older rule allowed), never later (no
    /// verdict lost, however many changes come).
    #[test]
    fn a_down_comes_when_the_live_change_rule_says(steps in steps()) {
        let mut m = scaled(10);
        let (mut now, mut sequence, mut tenths) = (1u64, 1u64, 10u32);
        m.on_message(ms(now), LinkId(0), &plain(sequence, ms(now))).unwrap();
        let span = |tenths: u32| 600 * u64::from(tenths) / 10;
        let (mut heard, mut expected, mut up) = (now, now + span(tenths), true);
        for (dt, step) in steps {
            // Tick just before the expected deadline, then at the step's time.
            if up && expected > now && expected < now + dt {
                prop_assert_eq!(downs_at(&mut m, ms(expected - 1)), vec![]);
            }
            now += dt;
            let downs = downs_at(&mut m, ms(now));
            if up && expected <= now {
                prop_assert_eq!(downs, vec![ms(expected)]);
                up = false;
            } else {
                prop_assert_eq!(downs, vec![]);
            }
            match step {
                Step::Heartbeat => {
                    sequence += 1;
                    m.on_message(ms(now), LinkId(0), &plain(sequence, ms(now))).unwrap();
                    heard = now;
                    expected = now + span(tenths);
                    up = true;
                }
                Step::Replace(t) => {
                    m.replace_detector(ms(now), Scaled(t));
                    tenths = t;
                    let new = heard + span(t);
                    if up {
                        expected = if new >= expected { new } else { expected.min(new + (now - heard)) };
                    }
                }
                Step::Retime => {
                    // The peer's negotiated timeout changes only with its next frame: the same
                    // rule until then, so nothing moves.
                    m.reconfigure(ms(now), config(1, Authentication::None, 400, 100)).unwrap();
                }
            }
        }
    }
}

/// A peer judged by Chen's estimate slows from 50 ms to 200 ms heartbeats (it reloaded its
/// interval): its history restarts with the frame that says so, and it is never suspected.
#[test]
fn a_peer_that_changes_its_pace_starts_a_new_history() {
    let mut m: Monitor<heartbeat_proto::Chen<16>, Growable> = Monitor::new(
        config(1, Authentication::None, 600, 200),
        heartbeat_proto::Chen::new(Duration::from_millis(100)),
        ms(0),
    );
    m.add_peer(id(2)).unwrap();
    let mut buf = [0u8; MAX_FRAME_LEN];
    let (mut at, mut sequence) = (1000u64, 1u64);
    let mut verdicts = Vec::new();
    for n in 0..40 {
        let pace = if n < 20 { 50 } else { 200 };
        let msg = Message { interval: Duration::from_millis(pace), ..message(sequence, ms(at)) };
        let len = msg.encode(&mut buf).unwrap();
        m.on_message(ms(at), LinkId(0), &buf[..len]).unwrap();
        // Tick every 10 ms until the next frame, as a driver would at each deadline.
        let next = at + pace;
        while at + 10 < next {
            at += 10;
            m.tick(ms(at));
            verdicts.extend(std::iter::from_fn(|| m.poll_event()).filter(|e| !matches!(e.kind, EventKind::Up { .. })));
        }
        at = next;
        sequence += 1;
    }
    assert_eq!(verdicts, vec![]);
}
