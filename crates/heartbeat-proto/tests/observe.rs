//! The liveness engine fed by another profile: observations only, no v1 bytes.

use core::time::Duration;

use heartbeat_proto::{
    Authentication, ClusterId, Config, EventKind, FixedTimeout, Generation, Growable, Instant, LinkId, Liveness,
    Monitor, NodeId, Observation, Rejected,
};

const INTERVAL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_millis(300);

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn monitor() -> Monitor<FixedTimeout, Growable> {
    let config = Config::builder(ClusterId(1), id(1))
        .tick(Duration::from_millis(50))
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .authentication(Authentication::None)
        .build()
        .unwrap();
    let mut m = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    m.add_peer(id(2)).unwrap();
    m
}

fn beat(generation: u32, sequence: u64, at: Instant) -> Observation {
    Observation::heartbeat(id(2), Generation(generation), sequence, at, INTERVAL, TIMEOUT)
}

#[test]
fn observations_alone_bring_a_peer_up_and_down_at_its_deadline() {
    let mut m = monitor();
    let at = Instant::from_millis(10);
    m.observe(at, LinkId(0), &beat(1, 1, at)).unwrap();
    let up = m.poll_event().unwrap();
    assert_eq!(up.kind, EventKind::Up { generation: Generation(1) });
    m.tick(at + TIMEOUT);
    let down = core::iter::from_fn(|| m.poll_event()).find(|e| matches!(e.kind, EventKind::Down { .. })).unwrap();
    assert_eq!(down.at, at + TIMEOUT);
    assert_eq!(down.kind, EventKind::Down { last_heard: Some(at), deadline: at + TIMEOUT });
}

#[test]
fn a_goodbye_observation_is_a_leave_and_a_higher_generation_a_restart() {
    let mut m = monitor();
    let t = Instant::from_millis(10);
    m.observe(t, LinkId(0), &beat(1, 1, t)).unwrap();
    m.observe(t + INTERVAL, LinkId(0), &beat(2, 1, t + INTERVAL)).unwrap();
    let kinds: Vec<_> = core::iter::from_fn(|| m.poll_event()).map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Up { generation: Generation(1) },
            EventKind::Restarted { previous: Generation(1), generation: Generation(2) }
        ]
    );
    let bye = beat(2, 2, t + INTERVAL * 2).goodbye();
    m.observe(t + INTERVAL * 2, LinkId(0), &bye).unwrap();
    assert_eq!(m.poll_event().unwrap().kind, EventKind::Left);
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Left);
}

#[test]
fn a_rejected_observation_changes_nothing_but_its_counter() {
    let mut m = monitor();
    let t = Instant::from_millis(10);
    m.observe(t, LinkId(0), &beat(5, 7, t)).unwrap();
    while m.poll_event().is_some() {}
    let before = (m.peer(id(2)).unwrap(), m.poll_timeout(), m.now());
    let stats = *m.stats();
    let later = t + INTERVAL;
    assert!(matches!(m.observe(later, LinkId(0), &beat(4, 9, later)), Err(Rejected::StaleGeneration { .. })));
    assert!(matches!(m.observe(later, LinkId(0), &beat(5, 7, later)), Err(Rejected::Duplicate { .. })));
    let mine = Observation::heartbeat(id(1), Generation(1), 1, later, INTERVAL, TIMEOUT);
    assert_eq!(m.observe(later, LinkId(0), &mine), Err(Rejected::FromSelf));
    assert_eq!(m.observe(later, LinkId(3), &beat(5, 8, later)), Err(Rejected::UnknownLink(LinkId(3))));
    let mut after_peer = m.peer(id(2)).unwrap();
    // The duplicate is also counted against its peer, as documented; nothing else moved.
    assert_eq!(after_peer.stats.duplicates, before.0.stats.duplicates + 1);
    after_peer.stats.duplicates = before.0.stats.duplicates;
    assert_eq!((after_peer, m.poll_timeout(), m.now()), before);
    let s = m.stats();
    assert_eq!(s.rejected_stale_generation, stats.rejected_stale_generation + 1);
    assert_eq!(s.rejected_duplicate, stats.rejected_duplicate + 1);
    assert_eq!(s.rejected_self, stats.rejected_self + 1);
    assert_eq!(s.rejected_link, stats.rejected_link + 1);
    assert_eq!(s.accepted, stats.accepted);
}
