//! Real loopback UDP through the tokio driver: detection, restarts, goodbyes, redundant links.

mod common;

use std::net::SocketAddr;

use common::*;
use heartbeat_proto::{EventKind, Generation, LinkId, Liveness};
use heartbeat_tests::relay::Relay;
use std::time::Instant;
use tokio::net::UdpSocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_is_reported_down_by_every_survivor_within_the_timeout() {
    let mut log = Log::new();
    let (nodes, _) = converged_cluster(&mut log, 4).await;
    let mark = log.seen.len();
    let crash = Instant::now();
    nodes[3].abort().await;
    let survivors = [1, 2, 3];
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &survivors, 4, is_down)).await, "{:#?}", log.seen);
    for observer in survivors {
        assert_crash_detected(&log.seen, mark, observer, 4, crash);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_new_generation_is_one_restarted_per_survivor() {
    let mut log = Log::new();
    let (mut nodes, addrs) = converged_cluster(&mut log, 4).await;
    let mark = log.seen.len();
    nodes[3].abort().await;
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &[1, 2, 3], 4, is_down)).await);
    let restart = log.seen.len();
    // `abort` resolved once the old sockets were closed, so the port is free again.
    let socket = UdpSocket::bind(addrs[3]).await.unwrap();
    nodes[3] = log.start(4, 2, vec![socket], &mesh(4, &addrs));
    let restarted = |k: &EventKind| matches!(k, EventKind::Restarted { .. });
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, restart, &[1, 2, 3], 4, restarted)).await, "{:#?}", log.seen);
    log.observe(4 * INTERVAL).await;
    for observer in [1, 2, 3] {
        let about = log.about(restart, observer, 4);
        assert_eq!(about.len(), 1, "node {observer} saw {about:#?}");
        assert_eq!(about[0].event.kind, EventKind::Restarted { previous: Generation(1), generation: Generation(2) });
    }
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, restart, &[4], 1, is_up)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goodbye_is_left_and_never_down() {
    let mut log = Log::new();
    let (nodes, _) = converged_cluster(&mut log, 3).await;
    let mark = log.seen.len();
    nodes[2].shutdown().await;
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &[1, 2], 3, |k| *k == EventKind::Left)).await);
    log.observe(TIMEOUT * 2).await;
    for observer in [1, 2] {
        let kinds: Vec<EventKind> = log.about(mark, observer, 3).iter().map(|s| s.event.kind).collect();
        assert_eq!(kinds, [EventKind::Left], "node {observer}");
        let status = nodes[observer as usize - 1].status().await.unwrap();
        assert_eq!(status.peers.iter().find(|p| p.id == id(3)).unwrap().liveness, Liveness::Left);
        // Every heartbeat left, the very first round included.
        assert!(status.io.sent > 0 && status.io.send_errors == 0, "{:?}", status.io);
    }
    // The stopped node answers no more.
    assert!(nodes[2].status().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_goes_down_while_the_peer_stays_up() {
    let mut log = Log::new();
    let (a, b) = (sockets(2).await, sockets(2).await);
    let a_addrs: Vec<SocketAddr> = a.iter().map(|s| s.local_addr().unwrap()).collect();
    let b_addrs: Vec<SocketAddr> = b.iter().map(|s| s.local_addr().unwrap()).collect();
    let relay = Relay::start(a_addrs[1], b_addrs[1], 5).unwrap();
    let node_a = log.start(1, 1, a, &[(2, vec![b_addrs[0], relay.face_a()])]);
    let node_b = log.start(2, 1, b, &[(1, vec![a_addrs[0], relay.face_b()])]);
    let link_up = |k: &EventKind| *k == EventKind::LinkUp { link: LinkId(1) };
    let ready = log
        .wait_until(PATIENCE, |seen| {
            all_saw(seen, 0, &[1], 2, link_up) && all_saw(seen, 0, &[2], 1, link_up) && all_saw(seen, 0, &[1], 2, is_up)
        })
        .await;
    assert!(ready, "{:#?}", log.seen);
    let mark = log.seen.len();
    relay.cut(true);
    let link_down = |k: &EventKind| *k == EventKind::LinkDown { link: LinkId(1) };
    let cut = log.wait_until(PATIENCE, |seen| {
        all_saw(seen, mark, &[1], 2, link_down) && all_saw(seen, mark, &[2], 1, link_down)
    });
    assert!(cut.await, "{:#?}", log.seen);
    log.observe(TIMEOUT).await;
    for (observer, peer, handle) in [(1, 2, &node_a), (2, 1, &node_b)] {
        let kinds: Vec<EventKind> = log.about(mark, observer, peer).iter().map(|s| s.event.kind).collect();
        assert_eq!(kinds, [EventKind::LinkDown { link: LinkId(1) }], "node {observer}");
        let peer = handle.status().await.unwrap().peers[0];
        assert_eq!((peer.liveness, peer.links_up), (Liveness::Up, 0b01));
    }
    // Healing the link brings it back.
    let heal = log.seen.len();
    relay.cut(false);
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, heal, &[1], 2, link_up)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_add_and_remove_peers_at_run_time() {
    let mut log = Log::new();
    let socks = sockets(2).await;
    let (a_addr, b_addr) = (socks[0].local_addr().unwrap(), socks[1].local_addr().unwrap());
    let mut socks = socks.into_iter();
    let a = log.start(1, 1, vec![socks.next().unwrap()], &[]);
    let _b = log.start(2, 1, vec![socks.next().unwrap()], &[(1, vec![a_addr])]);
    assert!(a.status().await.unwrap().peers.is_empty());
    a.add_peer(id(2), &[b_addr]).await.unwrap();
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, 0, &[1], 2, is_up)).await);
    assert!(a.add_peer(id(2), &[b_addr]).await.is_err(), "a second add of the same peer");
    assert!(a.remove_peer(id(2)).await.unwrap());
    assert!(a.status().await.unwrap().peers.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn the_first_heartbeat_round_is_not_lost() {
    // A socket handed over straight from std has not been polled by the reactor yet.
    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    std_socket.set_nonblocking(true).unwrap();
    let socket = UdpSocket::from_std(std_socket).unwrap();
    let listener = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut driver = heartbeat_tokio::Driver::new(
        config(0x70c1, 1, 1, 1),
        heartbeat_proto::FixedTimeout::new(),
        vec![socket],
        Log::new().clock,
    )
    .unwrap();
    driver.add_peer(id(2), &[listener.local_addr().unwrap()]).unwrap();
    let node = driver.spawn();
    let mut buf = [0u8; 256];
    let (len, _) = tokio::time::timeout(PATIENCE, listener.recv_from(&mut buf)).await.unwrap().unwrap();
    let first = heartbeat_proto::Message::decode(&buf[..len]).unwrap();
    assert_eq!(first.sequence, 1, "the first round was dropped");
    assert_eq!(node.status().await.unwrap().io.send_errors, 0);
}
