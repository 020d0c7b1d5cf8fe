//! The local-stall guard (`ConfigBuilder::local_pause`): a monitor that was itself not running
//! does not convict peers on that gap alone.

use core::time::Duration;

use heartbeat_proto::detector::{Arrival, Deadlines, PeerTiming};
use heartbeat_proto::wire::Kind;
use heartbeat_proto::{
    Authentication, ClusterId, Config, Detector, Event, EventKind, FixedTimeout, Generation, Growable, Instant, LinkId,
    Liveness, MAX_FRAME_LEN, Message, Monitor, NodeId,
};

const CLUSTER: ClusterId = ClusterId(7);
const PAUSE: Duration = Duration::from_millis(10);

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// The fixed timeout, counting in its state the heartbeats flagged as heard after a local
/// pause, and reporting that count as its suspicion.
#[derive(Debug, Clone, Copy, Default)]
struct Probe;

impl Detector for Probe {
    type PeerState = u32;

    fn on_heartbeat(&self, flagged: &mut u32, arrival: &Arrival) {
        *flagged += u32::from(arrival.after_local_pause);
    }

    fn deadlines(&self, _: &u32, timing: &PeerTiming) -> Deadlines {
        FixedTimeout::new().deadlines(&(), timing)
    }

    fn suspicion(&self, flagged: &u32, _: &PeerTiming, _: Instant) -> f32 {
        *flagged as f32
    }
}

/// A monitor of peer 2 whose 600 ms timeout is applied as is (suspect at 300 ms).
fn monitor<D: Detector>(detector: D, pause: Option<Duration>) -> Monitor<D, Growable> {
    let config = Config::builder(CLUSTER, id(1))
        .authentication(Authentication::None)
        .tick(Duration::from_millis(100))
        .local_pause(pause)
        .build()
        .unwrap();
    let mut m = Monitor::new(config, detector, Instant::ZERO);
    m.add_peer(id(2)).unwrap();
    m
}

/// Peer 2's heartbeat `sequence` arrives at `now`, and the monitor ticks.
fn deliver<D: Detector>(m: &mut Monitor<D, Growable>, now: Instant, sequence: u64) {
    arrive(m, 2, now, sequence);
    m.tick(now);
}

/// Peer `from`'s heartbeat `sequence` arrives at `now` (no tick).
fn arrive<D: Detector>(m: &mut Monitor<D, Growable>, from: u64, now: Instant, sequence: u64) {
    let msg = Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(from),
        receiver: Some(id(1)),
        generation: Generation(1),
        sequence,
        timestamp: now,
        echo: None,
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: None,
        hears_you: false,
        auth: None,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = msg.encode(&mut buf).unwrap();
    m.on_message(now, LinkId(0), &buf[..len]).unwrap();
}

fn drain<D: Detector>(m: &mut Monitor<D, Growable>) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn without_the_guard_a_late_tick_convicts_before_the_queued_heartbeat_is_read() {
    let mut m = monitor(Probe, None);
    deliver(&mut m, ms(1000), 1);
    drain(&mut m);
    // This node stalls from 1.1 s to 5 s; the peer's heartbeat of 1.2 s waits in the socket.
    m.tick(ms(5000));
    assert!(matches!(kinds(&drain(&mut m))[..], [EventKind::Down { .. }]));
    assert_eq!(m.stats().local_stalls, 0, "without the guard no stall is noticed");
    deliver(&mut m, ms(5000), 2);
    assert!(matches!(kinds(&drain(&mut m))[..], [EventKind::Up { .. }]), "a false suspicion");
}

#[test]
fn with_the_guard_the_queued_heartbeat_is_heard_first_and_flagged() {
    let mut m = monitor(Probe, Some(PAUSE));
    deliver(&mut m, ms(1000), 1);
    drain(&mut m);
    m.tick(ms(5000));
    assert!(drain(&mut m).is_empty(), "no verdict on the stall alone");
    assert_eq!(m.poll_timeout(), Some(ms(5010)), "asks to come back once the queue is read");
    deliver(&mut m, ms(5000), 2);
    deliver(&mut m, ms(5001), 3);
    assert!(drain(&mut m).is_empty());
    let status = m.peer(id(2)).unwrap();
    assert_eq!(status.liveness, Liveness::Up);
    assert_eq!(status.suspicion, 2.0, "both heartbeats read in the window were flagged");
    // The window closes: later heartbeats are ordinary samples again.
    deliver(&mut m, ms(5200), 4);
    assert_eq!(m.peer(id(2)).unwrap().suspicion, 2.0);
    assert_eq!(m.poll_timeout(), Some(ms(5500)));
}

#[test]
fn a_peer_that_is_really_gone_is_declared_down_one_pause_later() {
    let mut m = monitor(FixedTimeout::new(), Some(PAUSE));
    deliver(&mut m, ms(1000), 1);
    drain(&mut m);
    m.tick(ms(5000));
    assert!(drain(&mut m).is_empty());
    m.tick(ms(5009));
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.stats().local_stalls, 1);
    m.tick(ms(5010));
    assert_eq!(
        drain(&mut m),
        vec![Event {
            at: ms(5010),
            peer: id(2),
            kind: EventKind::Down { last_heard: Some(ms(1000)), deadline: ms(1600) }
        }]
    );
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_punctual_driver_pays_nothing() {
    let mut m = monitor(FixedTimeout::new(), Some(PAUSE));
    deliver(&mut m, ms(1000), 1);
    drain(&mut m);
    // Exactly at the deadlines, and a little late — within the pause — still exact verdicts.
    m.tick(ms(1300));
    assert_eq!(kinds(&drain(&mut m)), vec![EventKind::Suspect { last_heard: ms(1000) }]);
    m.tick(ms(1609));
    assert_eq!(drain(&mut m)[0].kind, EventKind::Down { last_heard: Some(ms(1000)), deadline: ms(1600) });
}

#[test]
fn a_driver_that_is_always_late_delays_verdicts_by_one_round_not_forever() {
    let mut m = monitor(FixedTimeout::new(), Some(PAUSE));
    deliver(&mut m, ms(1000), 1);
    drain(&mut m);
    // A driver that ignores poll_timeout and ticks every 500 ms.
    let mut events = Vec::new();
    for k in 3..=8 {
        m.tick(ms(500 * k));
        events.extend(drain(&mut m));
    }
    // 1.5 s: the suspect deadline (1.3 s) is 200 ms late, so it is held to 1.51 s. 2 s: the
    // postponement fires, and the down deadline has passed too. Without the guard the 1.5 s
    // tick would have raised Suspect and the 2 s one Down: the verdict comes no later.
    let at: Vec<_> = events.iter().map(|e| (e.at, e.kind)).collect();
    assert_eq!(at, vec![(ms(2000), EventKind::Down { last_heard: Some(ms(1000)), deadline: ms(1600) })]);
}

#[test]
fn after_a_hold_the_next_deadline_is_strictly_later() {
    let mut m = monitor(FixedTimeout::new(), Some(PAUSE));
    deliver(&mut m, ms(1000), 1);
    drain(&mut m);
    for now in [ms(3000), ms(3000), ms(3005)] {
        m.tick(now);
        drain(&mut m);
        assert!(m.poll_timeout().unwrap() > now);
    }
}

/// Regression (review): the guard held only the deadline that revealed the pause; another
/// deadline that fell inside the same stall, but less than the pause before the tick, was
/// convicted in that very tick although its peer's frames could be waiting unread too.
#[test]
fn every_deadline_inside_the_stall_is_held_not_only_the_one_that_revealed_it() {
    let mut m = monitor(FixedTimeout::new(), Some(PAUSE));
    m.add_peer(id(3)).unwrap();
    // Peer 2 is due at 1.0 s + 300 ms; peer 3 (heard later) at 1.3 s + 300 ms = 1.6 s.
    deliver(&mut m, ms(1000), 1);
    arrive(&mut m, 3, ms(1300), 1);
    drain(&mut m);
    // This node stalls from 1.3 s to 1.605 s: peer 2's deadline is 305 ms overdue (the stall
    // shows), peer 3's only 5 ms — inside the stall all the same.
    m.tick(Instant::from_micros(1_605_000));
    assert!(drain(&mut m).is_empty(), "no verdict on the stall alone");
    assert_eq!(m.peer(id(3)).unwrap().liveness, Liveness::Up);
    assert_eq!(m.stats().local_stalls, 1, "one stall, however many peers it held");
}
