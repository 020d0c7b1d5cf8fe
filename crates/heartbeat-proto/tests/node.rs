//! Two nodes talking: what the sending half adds (echoes, negotiation feedback, goodbyes).

use core::time::Duration;

use heartbeat_proto::{
    Authentication, ClusterId, Config, Destination, EventKind, FixedTimeout, Growable, Instant, LinkId, Liveness,
    MAX_FRAME_LEN, Message, Node, NodeId, Sender,
};

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

type TestNode = Node<FixedTimeout, Growable>;

fn node(me: u64, peer: u64, timeout_ms: u64) -> TestNode {
    let config = Config::builder(ClusterId(1), id(me))
        .tick(Duration::from_millis(100))
        .timeout(Duration::from_millis(timeout_ms))
        .interval(Duration::from_millis(100))
        .seed(me)
        .authentication(Authentication::None)
        .build()
        .unwrap();
    let mut n = Node::new(config, FixedTimeout::new(), Instant::ZERO);
    n.add_peer(id(peer)).unwrap();
    n
}

/// Runs both nodes for `until`, delivering every frame after `delay`.
fn run(a: &mut TestNode, b: &mut TestNode, until: Instant, delay: Duration) {
    let mut buf = [0u8; MAX_FRAME_LEN];
    // Frames in flight: (arrival, to_b, bytes).
    let mut in_flight: Vec<(Instant, bool, Vec<u8>)> = Vec::new();
    let mut now = Instant::ZERO;
    while now <= until {
        in_flight.sort_by_key(|f| f.0);
        while in_flight.first().is_some_and(|f| f.0 <= now) {
            let (_, to_b, bytes) = in_flight.remove(0);
            let target = if to_b { &mut *b } else { &mut *a };
            target.on_message(now, LinkId(0), &bytes).unwrap();
        }
        for (node, to_b) in [(&mut *a, true), (&mut *b, false)] {
            node.tick(now);
            while let Some(t) = node.poll_transmit(&mut buf).transpose().unwrap() {
                in_flight.push((now + delay, to_b, buf[..t.len].to_vec()));
            }
            while node.poll_event().is_some() {}
        }
        let next = [a.poll_timeout(), b.poll_timeout(), in_flight.iter().map(|f| f.0).min()];
        now = next.into_iter().flatten().min().unwrap();
    }
}

#[test]
fn echoes_measure_the_round_trip_and_negotiation_is_visible_on_both_ends() {
    let mut a = node(1, 2, 600);
    let mut b = node(2, 1, 900);
    run(&mut a, &mut b, Instant::from_secs(3), Duration::from_millis(7));
    let seen_by_a = a.peer(id(2)).unwrap();
    assert_eq!(seen_by_a.liveness, Liveness::Up);
    assert_eq!(seen_by_a.stats.srtt(), Some(Duration::from_millis(14)), "two 7 ms hops, hold time removed");
    assert!(seen_by_a.hears_us);
    // a holds b to what b asked (900 ms); b tells a it holds a to 600 ms.
    assert_eq!(seen_by_a.timeout, Duration::from_millis(900));
    assert_eq!(seen_by_a.timeout_applied_to_us, Some(Duration::from_millis(600)));
    assert_eq!(b.peer(id(1)).unwrap().timeout_applied_to_us, Some(Duration::from_millis(900)));
    assert_eq!(seen_by_a.stats.lost, 0);
}

#[test]
fn leave_sends_one_goodbye_and_then_nothing() {
    let mut a = node(1, 2, 600);
    let mut b = node(2, 1, 600);
    run(&mut a, &mut b, Instant::from_secs(1), Duration::ZERO);
    let now = Instant::from_secs(1);
    a.leave(now);
    assert!(a.is_leaving());
    let mut buf = [0u8; MAX_FRAME_LEN];
    let t = a.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(t.destination, Destination::Peer(id(2)));
    b.on_message(now, LinkId(0), &buf[..t.len]).unwrap();
    assert!(a.poll_transmit(&mut buf).is_none());
    a.tick(Instant::from_secs(10));
    assert!(a.poll_transmit(&mut buf).is_none(), "no heartbeat after the goodbye");
    let left: Vec<_> = std::iter::from_fn(|| b.poll_event()).map(|e| e.kind).collect();
    assert_eq!(left, vec![EventKind::Left]);
    b.tick(Instant::from_secs(60));
    assert!(b.poll_event().is_none(), "no Down after Left");
}

#[test]
fn a_sender_beacons_every_interval_with_jitter_and_increasing_sequence() {
    let config = Config::builder(ClusterId(1), id(1))
        .interval(Duration::from_millis(100))
        .timeout(Duration::from_millis(1000))
        .seed(3)
        .authentication(Authentication::None)
        .build()
        .unwrap();
    let mut s: Sender<Growable> = Sender::new(config, Instant::ZERO);
    assert!(s.add_target(id(2)));
    assert!(s.add_target(id(3)));
    let mut buf = [0u8; MAX_FRAME_LEN];
    let mut now = Instant::ZERO;
    let mut rounds = Vec::new();
    while now < Instant::from_secs(10) {
        s.tick(now);
        let mut round = Vec::new();
        while let Some(t) = s.poll_transmit(&mut buf).transpose().unwrap() {
            round.push(Message::decode(&buf[..t.len]).unwrap());
        }
        if !round.is_empty() {
            rounds.push((now, round));
        }
        now = s.poll_timeout().unwrap();
    }
    for (i, (_, round)) in rounds.iter().enumerate() {
        assert_eq!(round.len(), 2);
        assert!(round.iter().all(|m| m.sequence == i as u64 + 1));
        assert_eq!(round[0].receiver, Some(id(2)));
        assert_eq!(round[1].receiver, Some(id(3)));
    }
    for pair in rounds.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= Duration::from_millis(75) && gap <= Duration::from_millis(100), "{gap:?}");
    }
    assert!(rounds.len() >= 100 && rounds.len() <= 134, "{} rounds in 10 s", rounds.len());
}

#[test]
fn broadcast_nodes_send_one_unaddressed_frame_per_round() {
    let config =
        Config::builder(ClusterId(1), id(1)).broadcast(true).authentication(Authentication::None).build().unwrap();
    let mut n: TestNode = Node::new(config, FixedTimeout::new(), Instant::ZERO);
    n.add_peer(id(2)).unwrap();
    n.add_peer(id(3)).unwrap();
    n.tick(Instant::ZERO);
    let mut buf = [0u8; MAX_FRAME_LEN];
    let t = n.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(t.destination, Destination::All);
    let msg = Message::decode(&buf[..t.len]).unwrap();
    assert_eq!((msg.receiver, msg.echo, msg.hears_you), (None, None, false));
    assert!(n.poll_transmit(&mut buf).is_none());
}

#[test]
fn a_too_small_buffer_is_refused_with_the_size_needed_and_the_frame_stays_next() {
    let config = Config::builder(ClusterId(1), id(1)).authentication(Authentication::None).build().unwrap();
    let mut n: TestNode = Node::new(config, FixedTimeout::new(), Instant::ZERO);
    n.add_peer(id(2)).unwrap();
    n.tick(Instant::ZERO);
    let mut small = [0xA5u8; 8];
    let err = n.poll_transmit(&mut small).unwrap().unwrap_err();
    assert_eq!(err.have, 8);
    assert!(err.need > 8 && err.need <= MAX_FRAME_LEN, "{err:?}");
    assert_eq!(small, [0xA5; 8], "nothing written");
    // Exactly the size needed is enough, and it is the same frame: the round did not move on.
    let mut exact = vec![0u8; err.need];
    let t = n.poll_transmit(&mut exact).unwrap().unwrap();
    assert_eq!((t.len, t.destination), (err.need, Destination::Peer(id(2))));
    let msg = Message::decode(&exact).unwrap();
    assert_eq!((msg.receiver, msg.sequence), (Some(id(2)), n.sequence()));
    assert!(n.poll_transmit(&mut exact).is_none());
}

#[test]
fn at_the_end_of_time_nothing_is_scheduled_rather_than_now() {
    let config = Config::builder(ClusterId(1), id(1)).authentication(Authentication::None).build().unwrap();
    let mut n: TestNode = Node::new(config.clone(), FixedTimeout::new(), Instant::ZERO);
    n.add_peer(id(2)).unwrap();
    let mut s = heartbeat_proto::Sender::<Growable>::new(config, Instant::ZERO);
    assert!(s.add_target(id(2)));
    let mut buf = [0u8; MAX_FRAME_LEN];
    for _ in 0..3 {
        n.tick(Instant::MAX);
        while n.poll_transmit(&mut buf).is_some() {}
        while n.poll_event().is_some() {}
        s.tick(Instant::MAX);
        while s.poll_transmit(&mut buf).is_some() {}
        // Strictly later than now, as documented: nothing can be, so nothing is scheduled.
        assert_eq!(n.poll_timeout(), None);
        assert_eq!(n.monitor().poll_timeout(), None);
        assert_eq!(s.poll_timeout(), None);
    }
}

#[test]
fn a_running_node_s_configuration_carries_no_keys() {
    let key = heartbeat_proto::Key::new(heartbeat_proto::KeyId(1), &[7u8; 32]).unwrap();
    let auth = Authentication::Hmac(heartbeat_proto::KeyRing::new(key));
    let config = Config::builder(ClusterId(1), id(1)).authentication(auth.clone()).build().unwrap();
    assert_eq!(config.keys(), Some(&auth));
    let n: TestNode = Node::new(config, FixedTimeout::new(), Instant::ZERO);
    // The snapshot-worthy configuration has no secret; the node still signs with its keys.
    let snapshot = n.config().clone();
    assert_eq!(snapshot.keys(), None);
    assert!(snapshot.authenticated());
    assert_eq!(n.authentication(), &auth);
    // Starting another machine from it fails closed instead of running unauthenticated.
    let again =
        std::panic::catch_unwind(|| Node::<FixedTimeout, Growable>::new(snapshot, FixedTimeout::new(), Instant::ZERO));
    assert!(again.is_err());
}
