//! Real loopback UDP: detection, restarts, goodbyes and redundant links, end to end.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use heartbeat_proto::{EventKind, LinkId, Liveness};
use heartbeat_tests::relay::Relay;

#[test]
fn abort_is_reported_down_by_every_survivor_within_the_timeout() {
    let mut log = Log::new();
    let (mut nodes, _) = converged_cluster(&mut log, 4);
    let mark = log.seen.len();
    let crash = Instant::now();
    nodes[3].take().unwrap().abort();
    let survivors = [1, 2, 3];
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &survivors, 4, is_down)), "{:#?}", log.seen);
    for observer in survivors {
        assert_crash_detected(&log.seen, mark, observer, 4, crash);
    }
}

#[test]
fn a_restart_with_a_new_generation_is_one_restarted_per_survivor() {
    let mut log = Log::new();
    let (mut nodes, addrs) = converged_cluster(&mut log, 4);
    let mark = log.seen.len();
    nodes[3].take().unwrap().abort();
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &[1, 2, 3], 4, is_down)));
    let restart = log.seen.len();
    let socket = UdpSocket::bind(addrs[3]).unwrap();
    nodes[3] = Some(log.start(4, 2, vec![socket], &mesh(4, &addrs)));
    let restarted = |k: &EventKind| matches!(k, EventKind::Restarted { .. });
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, restart, &[1, 2, 3], 4, restarted)), "{:#?}", log.seen);
    // Let several more heartbeats through: nothing else may be reported about node 4.
    log.observe(4 * INTERVAL);
    for observer in [1, 2, 3] {
        let about = log.about(restart, observer, 4);
        assert_eq!(about.len(), 1, "node {observer} saw {about:#?}");
        assert_eq!(
            about[0].event.kind,
            EventKind::Restarted {
                previous: heartbeat_proto::Generation(1),
                generation: heartbeat_proto::Generation(2)
            }
        );
    }
    assert!(
        all_saw(&log.seen, restart, &[4], 1, is_up)
            || log.wait_until(PATIENCE, |s| all_saw(s, restart, &[4], 1, is_up))
    );
}

#[test]
fn a_goodbye_is_left_and_never_down() {
    let mut log = Log::new();
    let (mut nodes, _) = converged_cluster(&mut log, 3);
    let mark = log.seen.len();
    nodes[2].take().unwrap().shutdown();
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &[1, 2], 3, |k| *k == EventKind::Left)));
    // Well past the timeout: still no Down for the node that left.
    log.observe(TIMEOUT * 2);
    for observer in [1, 2] {
        let kinds: Vec<EventKind> = log.about(mark, observer, 3).iter().map(|s| s.event.kind).collect();
        assert_eq!(kinds, [EventKind::Left], "node {observer}");
        let status = nodes[observer as usize - 1].as_ref().unwrap().status().unwrap();
        assert_eq!(status.peers.iter().find(|p| p.id == id(3)).unwrap().liveness, Liveness::Left);
    }
}

#[test]
fn a_cut_link_goes_down_while_the_peer_stays_up() {
    let mut log = Log::new();
    let (a, b) = (sockets(2), sockets(2));
    let a_addrs: Vec<SocketAddr> = a.iter().map(|s| s.local_addr().unwrap()).collect();
    let b_addrs: Vec<SocketAddr> = b.iter().map(|s| s.local_addr().unwrap()).collect();
    // Link 0 is direct; link 1 crosses the relay.
    let relay = Relay::start(a_addrs[1], b_addrs[1], 7).unwrap();
    let node_a = log.start(1, 1, a, &[(2, vec![b_addrs[0], relay.face_a()])]);
    let node_b = log.start(2, 1, b, &[(1, vec![a_addrs[0], relay.face_b()])]);
    let link_up = |k: &EventKind| *k == EventKind::LinkUp { link: LinkId(1) };
    assert!(log.wait_until(PATIENCE, |seen| {
        all_saw(seen, 0, &[1], 2, link_up) && all_saw(seen, 0, &[2], 1, link_up) && all_saw(seen, 0, &[1], 2, is_up)
    }));
    let mark = log.seen.len();
    relay.cut(true);
    let link_down = |k: &EventKind| *k == EventKind::LinkDown { link: LinkId(1) };
    assert!(
        log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &[1], 2, link_down)
            && all_saw(seen, mark, &[2], 1, link_down)),
        "{:#?}",
        log.seen
    );
    log.observe(TIMEOUT);
    for (observer, peer, handle) in [(1, 2, &node_a), (2, 1, &node_b)] {
        let kinds: Vec<EventKind> = log.about(mark, observer, peer).iter().map(|s| s.event.kind).collect();
        assert_eq!(kinds, [EventKind::LinkDown { link: LinkId(1) }], "node {observer}");
        let status = handle.status().unwrap();
        let peer = status.peers[0];
        assert_eq!((peer.liveness, peer.links_up), (Liveness::Up, 0b01));
    }
    assert!(relay.counts().1 > 0, "the relay dropped nothing");
}

#[test]
fn loss_and_delay_through_the_relay_show_in_the_status_without_a_false_down() {
    let mut log = Log::new();
    let (a, b) = (sockets(1), sockets(1));
    let (a_addr, b_addr) = (a[0].local_addr().unwrap(), b[0].local_addr().unwrap());
    let relay = Relay::start(a_addr, b_addr, 11).unwrap();
    relay.set_loss(0.2);
    relay.set_delay(Duration::from_millis(15));
    let node_a = log.start(1, 1, a, &[(2, vec![relay.face_a()])]);
    let _node_b = log.start(2, 1, b, &[(1, vec![relay.face_b()])]);
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, 0, &[1], 2, is_up)));
    // Wait (bounded) until enough heartbeats crossed to show loss and a round-trip time.
    let end = Instant::now() + PATIENCE;
    let peer = loop {
        let peer = node_a.status().unwrap().peers[0];
        if (peer.stats.received >= 40 && peer.stats.lost > 0 && peer.stats.srtt_us > 0) || Instant::now() > end {
            break peer;
        }
        log.observe(INTERVAL);
    };
    assert!(peer.stats.lost > 0 && peer.stats.received >= 40, "{peer:?}");
    let loss = peer.stats.loss_ratio();
    assert!((0.05..0.45).contains(&loss), "loss {loss} for 20% drops: {peer:?}");
    // Two relay crossings of 15 ms each.
    assert!(peer.stats.rtt_us >= 30_000, "{peer:?}");
    assert!(!log.seen.iter().any(|s| is_down(&s.event.kind)), "{:#?}", log.seen);
}

#[test]
fn an_unreachable_port_is_counted_and_never_fatal() {
    let mut log = Log::new();
    // Linux reports ICMP port unreachable as ECONNREFUSED on a connected UDP socket: connect
    // node 1's socket to a port that was just closed, where node 2 will only start later.
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let a = sockets(1);
    a[0].connect(dead).unwrap();
    let a_addr = a[0].local_addr().unwrap();
    let node_a = log.start(1, 1, a, &[(2, vec![dead])]);
    let end = Instant::now() + PATIENCE;
    while node_a.status().unwrap().io.refused < 3 && Instant::now() < end {
        log.observe(INTERVAL);
    }
    let io = node_a.status().unwrap().io;
    assert!(io.refused >= 3 && io.send_errors + io.recv_errors >= io.refused, "{io:?}");
    // Still running: once node 2 listens there, node 1 hears it.
    let _node_b = log.start(2, 1, vec![UdpSocket::bind(dead).unwrap()], &[(1, vec![a_addr])]);
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, 0, &[1], 2, is_up)), "{:#?}", log.seen);
}

#[test]
fn ipv6_unicast() {
    let mut log = Log::new();
    let bind = || heartbeat_std::socket::unicast("[::1]:0".parse().unwrap()).unwrap();
    let (a, b) = (bind(), bind());
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let _a = log.start(1, 1, vec![a], &[(2, vec![b_addr])]);
    let _b = log.start(2, 1, vec![b], &[(1, vec![a_addr])]);
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, 0, &[1], 2, is_up) && all_saw(seen, 0, &[2], 1, is_up)));
}
