//! Behaviour of the monitor through its public API: one scenario per rule.

use core::time::Duration;

use heartbeat_proto::wire::Kind;
use heartbeat_proto::{
    Accepted, Authentication, ClusterId, Config, ConfigBuilder, Event, EventKind, Fixed, FixedTimeout, Generation,
    Growable, Instant, Key, KeyId, KeyRing, Learning, LinkId, Liveness, MAX_FRAME_LEN, Message, Monitor, NodeId,
    PeerError, PeerStatus, Rejected,
};

const ME: u64 = 1;
const CLUSTER: ClusterId = ClusterId(7);

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// tick 100 ms → timeouts clamped into [200 ms, 2 s]; initdead 2 s.
fn config() -> ConfigBuilder {
    Config::builder(CLUSTER, id(ME))
        .tick(Duration::from_millis(100))
        .initdead(Duration::from_secs(2))
        .authentication(Authentication::None)
}

type TestMonitor = Monitor<FixedTimeout, Growable>;

fn monitor_with(builder: ConfigBuilder, peers: &[u64]) -> TestMonitor {
    let mut m = Monitor::new(builder.build().unwrap(), FixedTimeout::new(), Instant::ZERO);
    for p in peers {
        m.add_peer(id(*p)).unwrap();
    }
    m
}

fn monitor(peers: &[u64]) -> TestMonitor {
    monitor_with(config(), peers)
}

/// A heartbeat from `from`, addressed to this node, asking for a 600 ms timeout.
fn heartbeat(from: u64, generation: u32, sequence: u64) -> Message {
    Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(from),
        receiver: Some(id(ME)),
        generation: Generation(generation),
        sequence,
        timestamp: Instant::ZERO,
        echo: None,
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: None,
        hears_you: false,
        auth: None,
    }
}

fn goodbye(from: u64, generation: u32, sequence: u64) -> Message {
    Message { kind: Kind::Goodbye, ..heartbeat(from, generation, sequence) }
}

fn deliver(m: &mut TestMonitor, now: Instant, msg: &Message) -> Result<Accepted, Rejected> {
    deliver_on(m, now, 0, msg)
}

fn deliver_on(m: &mut TestMonitor, now: Instant, link: u8, msg: &Message) -> Result<Accepted, Rejected> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    // Sent as a peer sharing the monitor's keys (if any) would send it.
    let len = m.authentication().encode(msg, &mut buf).unwrap();
    m.on_message(now, LinkId(link), &buf[..len])
}

fn drain(m: &mut TestMonitor) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

fn snapshot(m: &TestMonitor) -> Vec<PeerStatus> {
    m.peers().collect()
}

#[test]
fn first_heartbeat_brings_a_configured_peer_up() {
    let mut m = monitor(&[2]);
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Waiting);
    assert_eq!(deliver(&mut m, ms(1000), &heartbeat(2, 5, 1)), Ok(Accepted::Heartbeat));
    let events = drain(&mut m);
    assert_eq!(events, vec![Event { at: ms(1000), peer: id(2), kind: EventKind::Up { generation: Generation(5) } }]);
    let status = m.peer(id(2)).unwrap();
    assert_eq!(status.liveness, Liveness::Up);
    assert_eq!(status.last_heard, Some(ms(1000)));
    assert_eq!(status.generation, Some(Generation(5)));
    assert_eq!(status.timeout, Duration::from_millis(600));
    assert_eq!(status.interval, Some(Duration::from_millis(200)));
    assert_eq!(status.stats.received, 1);
}

#[test]
fn suspect_at_warntime_and_down_exactly_at_the_timeout() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 1)).unwrap();
    drain(&mut m);
    assert_eq!(m.poll_timeout(), Some(ms(1300)));
    m.tick(ms(1299));
    assert!(drain(&mut m).is_empty());
    m.tick(ms(1300));
    assert_eq!(kinds(&drain(&mut m)), vec![EventKind::Suspect { last_heard: ms(1000) }]);
    assert_eq!(m.poll_timeout(), Some(ms(1600)));
    m.tick(Instant::from_micros(1_599_999));
    assert!(drain(&mut m).is_empty());
    m.tick(ms(1600));
    let events = drain(&mut m);
    assert_eq!(
        events,
        vec![Event {
            at: ms(1600),
            peer: id(2),
            kind: EventKind::Down { last_heard: Some(ms(1000)), deadline: ms(1600) }
        }]
    );
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Down);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_late_tick_goes_straight_to_down_and_reports_the_deadline() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 1)).unwrap();
    drain(&mut m);
    m.tick(ms(9000));
    assert_eq!(kinds(&drain(&mut m)), vec![EventKind::Down { last_heard: Some(ms(1000)), deadline: ms(1600) }]);
}

#[test]
fn heartbeats_keep_a_peer_up_and_recover_a_suspect_one() {
    let mut m = monitor(&[2]);
    for (i, t) in (0..50).map(|i| (i, 1000 + 200 * i)) {
        deliver(&mut m, ms(t), &heartbeat(2, 1, i + 1)).unwrap();
        m.tick(ms(t + 199));
    }
    assert_eq!(kinds(&drain(&mut m)), vec![EventKind::Up { generation: Generation(1) }]);
    m.tick(ms(11_200));
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Suspect);
    deliver(&mut m, ms(11_300), &heartbeat(2, 1, 52)).unwrap();
    let events = kinds(&drain(&mut m));
    assert_eq!(
        events,
        vec![EventKind::Suspect { last_heard: ms(10_800) }, EventKind::Up { generation: Generation(1) }]
    );
    assert_eq!(m.peer(id(2)).unwrap().stats.lost, 1);
}

#[test]
fn a_higher_generation_is_one_restart_and_a_lower_one_is_stale() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 40)).unwrap();
    m.tick(ms(5000));
    drain(&mut m);
    assert_eq!(deliver(&mut m, ms(5000), &heartbeat(2, 2, 1)), Ok(Accepted::Heartbeat));
    assert_eq!(
        kinds(&drain(&mut m)),
        vec![EventKind::Restarted { previous: Generation(1), generation: Generation(2) }]
    );
    deliver(&mut m, ms(5200), &heartbeat(2, 2, 2)).unwrap();
    assert!(drain(&mut m).is_empty(), "the restart is reported once");

    let before = snapshot(&m);
    let stale = deliver(&mut m, ms(5200), &heartbeat(2, 1, 41));
    assert_eq!(
        stale,
        Err(Rejected::StaleGeneration { peer: id(2), generation: Generation(1), current: Generation(2) })
    );
    assert_eq!(snapshot(&m), before);
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.stats().rejected_stale_generation, 1);
}

#[test]
fn goodbye_means_left_and_never_down() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 1)).unwrap();
    assert_eq!(deliver(&mut m, ms(1100), &goodbye(2, 1, 2)), Ok(Accepted::Goodbye));
    assert_eq!(kinds(&drain(&mut m)), vec![EventKind::Up { generation: Generation(1) }, EventKind::Left]);
    assert_eq!(m.poll_timeout(), None);
    m.tick(ms(60_000));
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Left);
}

#[test]
fn a_replayed_goodbye_is_rejected_after_the_peer_returns() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 1)).unwrap();
    deliver(&mut m, ms(1100), &goodbye(2, 1, 2)).unwrap();
    deliver(&mut m, ms(3000), &heartbeat(2, 2, 1)).unwrap();
    drain(&mut m);
    let before = snapshot(&m);
    assert!(matches!(deliver(&mut m, ms(3100), &goodbye(2, 1, 2)), Err(Rejected::StaleGeneration { .. })));
    deliver(&mut m, ms(3200), &heartbeat(2, 2, 2)).unwrap();
    assert_eq!(deliver(&mut m, ms(3300), &goodbye(2, 2, 2)), Err(Rejected::Duplicate { peer: id(2), sequence: 2 }));
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Up);
    assert_eq!(before[0].liveness, Liveness::Up);
    assert!(drain(&mut m).is_empty());
}

#[test]
fn duplicates_late_frames_and_old_frames_are_told_apart() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 10)).unwrap();
    deliver(&mut m, ms(1200), &heartbeat(2, 1, 13)).unwrap();
    assert_eq!(m.peer(id(2)).unwrap().stats.lost, 2);
    assert_eq!(deliver(&mut m, ms(1250), &heartbeat(2, 1, 12)), Ok(Accepted::Late));
    let status = m.peer(id(2)).unwrap();
    assert_eq!((status.stats.lost, status.stats.late), (1, 1));
    assert_eq!(status.last_heard, Some(ms(1200)), "a late frame refreshes nothing");
    assert_eq!(deliver(&mut m, ms(1260), &heartbeat(2, 1, 12)), Err(Rejected::Duplicate { peer: id(2), sequence: 12 }));
    assert_eq!(deliver(&mut m, ms(1270), &heartbeat(2, 1, 13)), Err(Rejected::Duplicate { peer: id(2), sequence: 13 }));
    deliver(&mut m, ms(1400), &heartbeat(2, 1, 200)).unwrap();
    let before = snapshot(&m);
    assert_eq!(deliver(&mut m, ms(1500), &heartbeat(2, 1, 11)), Err(Rejected::Replayed { peer: id(2), sequence: 11 }));
    assert_eq!(snapshot(&m), before);
    let stats = m.stats();
    assert_eq!((stats.accepted, stats.late, stats.rejected_duplicate, stats.rejected_replay), (3, 1, 2, 1));
}

#[test]
fn unwelcome_frames_are_counted_and_change_nothing() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 1)).unwrap();
    drain(&mut m);
    let before = snapshot(&m);
    let deadline = m.poll_timeout();
    let cases = [
        (Message { cluster: ClusterId(8), ..heartbeat(2, 1, 2) }, Rejected::WrongCluster(ClusterId(8))),
        (Message { receiver: Some(id(9)), ..heartbeat(2, 1, 2) }, Rejected::NotForUs(id(9))),
        (Message { sender: id(ME), receiver: None, ..heartbeat(2, 1, 2) }, Rejected::FromSelf),
        (heartbeat(3, 1, 1), Rejected::UnknownPeer(id(3))),
    ];
    for (msg, expected) in cases {
        assert_eq!(deliver(&mut m, ms(1100), &msg), Err(expected));
    }
    assert_eq!(deliver_on(&mut m, ms(1100), 1, &heartbeat(2, 1, 2)), Err(Rejected::UnknownLink(LinkId(1))));
    assert!(matches!(m.on_message(ms(1100), LinkId(0), &[0x48, 0x42, 1]), Err(Rejected::Malformed(_))));
    assert_eq!(snapshot(&m), before);
    assert_eq!(m.poll_timeout(), deadline);
    assert!(drain(&mut m).is_empty());
    let s = m.stats();
    assert_eq!(
        (
            s.rejected_cluster,
            s.rejected_not_for_us,
            s.rejected_self,
            s.rejected_unknown_peer,
            s.rejected_link,
            s.rejected_malformed
        ),
        (1, 1, 1, 1, 1, 1)
    );
    assert_eq!(s.rejected(), 6);
}

#[test]
fn learning_is_off_by_default_and_capped_when_on() {
    let keys = KeyRing::new(Key::new(KeyId(1), &[7; 32]).unwrap());
    let keyed = config().authentication(Authentication::Hmac(keys));
    assert!(config().learning(Learning::Enabled).build().is_err(), "learning needs keys");
    let mut m = monitor_with(keyed.learning(Learning::Enabled).max_peers(3), &[2]);
    deliver(&mut m, ms(10), &heartbeat(3, 1, 1)).unwrap();
    deliver(&mut m, ms(10), &heartbeat(4, 1, 1)).unwrap();
    assert_eq!(deliver(&mut m, ms(10), &heartbeat(5, 1, 1)), Err(Rejected::PeerTableFull(id(5))));
    assert_eq!(m.len(), 3);
    assert!(m.peer(id(3)).unwrap().learned);
    assert!(!m.peer(id(2)).unwrap().learned);
    assert_eq!(m.stats().learned, 2);
    // A goodbye never teaches a new peer.
    m.remove_peer(id(4));
    assert_eq!(deliver(&mut m, ms(20), &goodbye(6, 1, 1)), Err(Rejected::UnknownPeer(id(6))));
}

#[test]
fn a_peer_never_heard_is_down_after_initdead() {
    let mut m = monitor(&[2, 3]);
    deliver(&mut m, ms(500), &heartbeat(3, 1, 1)).unwrap();
    drain(&mut m);
    assert_eq!(m.poll_timeout(), Some(ms(800)));
    m.tick(ms(800));
    m.tick(ms(1999));
    let _suspect_of_3 = drain(&mut m);
    m.tick(ms(2000));
    let events = drain(&mut m);
    assert!(events.contains(&Event {
        at: ms(2000),
        peer: id(2),
        kind: EventKind::Down { last_heard: None, deadline: ms(2000) }
    }));
}

#[test]
fn requested_timeouts_are_clamped_into_this_nodes_bounds() {
    let mut m = monitor(&[2, 3]);
    let tiny = Message {
        interval: Duration::from_millis(1),
        requested_timeout: Duration::from_millis(5),
        ..heartbeat(2, 1, 1)
    };
    let huge = Message { requested_timeout: Duration::from_secs(3600), ..heartbeat(3, 1, 1) };
    deliver(&mut m, ms(0), &tiny).unwrap();
    deliver(&mut m, ms(0), &huge).unwrap();
    assert_eq!(m.peer(id(2)).unwrap().timeout, Duration::from_millis(200));
    assert_eq!(m.peer(id(3)).unwrap().timeout, Duration::from_secs(2));
    drain(&mut m);
    m.tick(ms(2000));
    let downs: Vec<_> = drain(&mut m).into_iter().filter(|e| matches!(e.kind, EventKind::Down { .. })).collect();
    assert_eq!(downs.len(), 2, "the huge request is held to the 2 s maximum");
}

#[test]
fn time_going_backwards_is_no_progress() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 1)).unwrap();
    drain(&mut m);
    m.tick(ms(1500));
    drain(&mut m);
    m.tick(ms(10));
    assert!(drain(&mut m).is_empty());
    // A message stamped in the past counts as arriving at the latest time seen.
    deliver(&mut m, ms(20), &heartbeat(2, 1, 2)).unwrap();
    drain(&mut m);
    assert_eq!(m.peer(id(2)).unwrap().last_heard, Some(ms(1500)));
    assert_eq!(m.poll_timeout(), Some(ms(1800)));
}

#[test]
fn a_full_event_queue_defers_expiries_and_refuses_messages_but_loses_nothing() {
    let peers: Vec<u64> = (2..42).collect();
    let mut m = monitor(&peers);
    for p in &peers {
        deliver(&mut m, ms(0), &heartbeat(*p, 1, 1)).unwrap();
        drain(&mut m);
    }
    m.tick(ms(5000));
    assert_eq!(m.poll_timeout(), Some(ms(5000)), "output is waiting");
    assert_eq!(deliver(&mut m, ms(5000), &heartbeat(2, 1, 2)), Err(Rejected::EventQueueFull));
    let mut downs = 0;
    for _ in 0..10 {
        downs += drain(&mut m).iter().filter(|e| matches!(e.kind, EventKind::Down { .. })).count();
        m.tick(ms(5000));
    }
    assert_eq!(downs, peers.len());
    assert_eq!(m.stats().rejected_queue_full, 1);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn fixed_storage_refuses_the_extra_peer() {
    let config = config().build().unwrap();
    let mut m: Monitor<FixedTimeout, Fixed<2>> = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    m.add_peer(id(2)).unwrap();
    m.add_peer(id(3)).unwrap();
    assert_eq!(m.add_peer(id(4)), Err(PeerError::TableFull));
    assert_eq!(m.add_peer(id(3)), Err(PeerError::AlreadyPresent));
    assert_eq!(m.add_peer(id(ME)), Err(PeerError::IsSelf));
}

#[test]
fn a_peer_stays_up_while_any_link_delivers() {
    let mut m = monitor_with(config().links(2), &[2]);
    for seq in 1..=3 {
        let t = 1000 + 200 * (seq - 1);
        assert_eq!(deliver_on(&mut m, ms(t), 0, &heartbeat(2, 1, seq)), Ok(Accepted::Heartbeat));
        assert_eq!(deliver_on(&mut m, ms(t + 1), 1, &heartbeat(2, 1, seq)), Ok(Accepted::LinkCopy));
    }
    let events = kinds(&drain(&mut m));
    assert_eq!(
        events,
        vec![
            EventKind::Up { generation: Generation(1) },
            EventKind::LinkUp { link: LinkId(0) },
            EventKind::LinkUp { link: LinkId(1) },
        ]
    );
    assert_eq!(m.peer(id(2)).unwrap().links_up, 0b11);
    assert_eq!(m.stats().link_copies, 3);
    // A copy that link 1 already delivered is a plain duplicate.
    assert!(matches!(deliver_on(&mut m, ms(1402), 1, &heartbeat(2, 1, 3)), Err(Rejected::Duplicate { .. })));

    // Link 1 is cut: only link 0 delivers from now on.
    for seq in 4..=10 {
        deliver_on(&mut m, ms(1000 + 200 * (seq - 1)), 0, &heartbeat(2, 1, seq)).unwrap();
        m.tick(ms(1000 + 200 * (seq - 1) + 100));
    }
    let events = drain(&mut m);
    assert_eq!(
        events,
        vec![Event { at: ms(2100), peer: id(2), kind: EventKind::LinkDown { link: LinkId(1) } }],
        "link 1 times out at its last frame (1401 ms) + 600 ms, seen by the next tick"
    );
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Up);
    assert_eq!(m.peer(id(2)).unwrap().links_up, 0b01);

    // Link 1 heals.
    deliver_on(&mut m, ms(2801), 1, &heartbeat(2, 1, 10)).unwrap();
    assert_eq!(kinds(&drain(&mut m)), vec![EventKind::LinkUp { link: LinkId(1) }]);

    // Everything goes silent: both links and then the peer go down, once each.
    m.tick(ms(10_000));
    let events = kinds(&drain(&mut m));
    assert_eq!(events.len(), 3);
    assert!(events.contains(&EventKind::LinkDown { link: LinkId(0) }));
    assert!(events.contains(&EventKind::LinkDown { link: LinkId(1) }));
    assert_eq!(events[2], EventKind::Down { last_heard: Some(ms(2800)), deadline: ms(3400) });
}

#[test]
fn after_a_tick_and_a_drain_the_next_timeout_is_strictly_later() {
    let mut m = monitor(&[2, 3, 4]);
    let mut now = ms(0);
    for step in 0..200u64 {
        if step % 3 != 0 {
            let _ = deliver(&mut m, now, &heartbeat(2 + step % 3, 1, step + 1));
        }
        m.tick(now);
        drain(&mut m);
        if let Some(next) = m.poll_timeout() {
            assert!(next > now, "step {step}: {next} <= {now}");
        }
        now = now + Duration::from_millis(37);
    }
}

#[test]
fn the_most_links_still_fit_the_event_queue() {
    let links = heartbeat_proto::MAX_LINKS;
    let mut m = monitor_with(config().links(links), &[2, 3, 4]);
    for p in 2..=4 {
        for link in 0..links {
            let _ = deliver_on(&mut m, ms(100), link, &heartbeat(p, 1, 1));
            drain(&mut m);
        }
    }
    m.tick(ms(60_000));
    let mut events = Vec::new();
    for _ in 0..10 {
        events.extend(drain(&mut m));
        m.tick(ms(60_000));
    }
    let downs = events.iter().filter(|e| matches!(e.kind, EventKind::Down { .. })).count();
    let link_downs = events.iter().filter(|e| matches!(e.kind, EventKind::LinkDown { .. })).count();
    assert_eq!((downs, link_downs), (3, 3 * usize::from(links)));
    assert_eq!(m.poll_timeout(), None);
}

/// Regression (found by the model test): a tick that passed more deadlines than the event
/// queue holds left the rest due after a full drain, so `poll_timeout` was not later than `now`.
#[test]
fn one_tick_and_one_drain_fire_more_deadlines_than_the_queue_holds() {
    let peers: Vec<u64> = (2..=21).collect();
    let mut m = monitor(&peers);
    m.tick(ms(2000));
    let downs = drain(&mut m);
    assert_eq!(downs.len(), peers.len());
    assert!(downs.iter().all(|e| e.at == ms(2000) && matches!(e.kind, EventKind::Down { last_heard: None, .. })));
    assert_eq!(m.poll_timeout(), None);
    assert!(m.peers().all(|p| p.liveness == Liveness::Down));
}

/// Regression (found by the model test): `PeerStats::duplicates` was never counted.
#[test]
fn duplicates_are_counted_against_their_peer() {
    let mut m = monitor(&[2]);
    deliver(&mut m, ms(1000), &heartbeat(2, 1, 5)).unwrap();
    for _ in 0..3 {
        assert!(matches!(deliver(&mut m, ms(1100), &heartbeat(2, 1, 5)), Err(Rejected::Duplicate { .. })));
    }
    let status = m.peer(id(2)).unwrap();
    assert_eq!(status.stats.duplicates, 3);
    assert_eq!(status.last_heard, Some(ms(1000)), "nothing else changed");
    assert_eq!(m.stats().rejected_duplicate, 3);
}

/// Regression (review): a goodbye dropped a multi-link peer's links without `LinkDown`.
#[test]
fn a_goodbye_takes_every_link_down_then_the_peer_leaves() {
    let mut m = monitor_with(config().links(2), &[2]);
    deliver_on(&mut m, ms(100), 0, &heartbeat(2, 1, 1)).unwrap();
    deliver_on(&mut m, ms(101), 1, &heartbeat(2, 1, 1)).unwrap();
    drain(&mut m);
    deliver_on(&mut m, ms(200), 0, &goodbye(2, 1, 2)).unwrap();
    let events = kinds(&drain(&mut m));
    assert_eq!(
        events,
        vec![EventKind::LinkDown { link: LinkId(0) }, EventKind::LinkDown { link: LinkId(1) }, EventKind::Left]
    );
    assert_eq!(m.peer(id(2)).unwrap().links_up, 0);
}
