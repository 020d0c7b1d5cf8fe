//! One frame per round to every node: IPv4 multicast and broadcast on loopback, IPv6
//! link-local multicast between two network namespaces (loopback has no multicast).

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use heartbeat_proto::{Authentication, ClusterId, Config, FixedTimeout, Generation, LinkId};
use heartbeat_std::{Driver, Handle, socket};
use heartbeat_tests::netns::{self, Namespace};

/// Starts node `me` in broadcast mode on `socket`, sending to `group`, monitoring `peers`.
fn start(log: &Log, me: u64, socket: UdpSocket, group: SocketAddr, peers: &[u64]) -> Handle {
    let config = Config::builder(ClusterId(0xca57), id(me))
        .authentication(Authentication::None)
        .generation(Generation(1))
        .tick(Duration::from_millis(25))
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .broadcast(true)
        .build()
        .unwrap();
    let mut driver = Driver::new(config, FixedTimeout::new(), vec![socket], log.clock).unwrap();
    assert!(driver.set_group(LinkId(0), group));
    for peer in peers {
        driver.add_peer(id(*peer), &[]).unwrap();
    }
    let tx = log.sender();
    driver.spawn(move |event| tx(me, event)).unwrap()
}

/// A port that nothing on this host is bound to right now.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn three_nodes_converge(bind: impl Fn(u16) -> UdpSocket, group: impl Fn(u16) -> SocketAddr) {
    let mut log = Log::new();
    let port = free_port();
    let others = |me: u64| (1..=3).filter(|p| *p != me).collect::<Vec<u64>>();
    let nodes: Vec<Handle> = (1..=3).map(|me| start(&log, me, bind(port), group(port), &others(me))).collect();
    let converged = log.wait_until(PATIENCE, |seen| (1..=3).all(|p| all_saw(seen, 0, &others(p), p, is_up)));
    assert!(converged, "{:#?}", log.seen);
    // Each node's own looped-back frames are refused as its own, and counted.
    let end = Instant::now() + PATIENCE;
    while nodes[0].status().unwrap().frames.rejected_self == 0 && Instant::now() < end {
        log.observe(INTERVAL);
    }
    assert!(nodes[0].status().unwrap().frames.rejected_self > 0);
}

#[test]
fn ipv4_multicast_group() {
    let group = Ipv4Addr::new(239, 255, 42, 99);
    three_nodes_converge(
        |port| socket::multicast_v4(group, port, Ipv4Addr::LOCALHOST).unwrap(),
        |port| SocketAddr::from((group, port)),
    );
}

#[test]
fn ipv4_broadcast() {
    three_nodes_converge(
        |port| socket::broadcast_v4(port).unwrap(),
        |port| SocketAddr::from((Ipv4Addr::new(127, 255, 255, 255), port)),
    );
}

#[test]
fn a_broadcast_without_a_group_is_counted_as_unroutable() {
    let config =
        Config::builder(ClusterId(0xca57), id(1)).authentication(Authentication::None).broadcast(true).build().unwrap();
    let socket = socket::unicast(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let mut driver = Driver::new(config, FixedTimeout::new(), vec![socket], heartbeat_std::Clock::new()).unwrap();
    driver.turn(Some(Duration::ZERO), &mut |_| {});
    let io = driver.io_stats();
    assert_eq!((io.sent, io.unroutable), (0, 1), "{io:?}");
}

#[test]
fn ipv6_link_local_multicast_group_between_namespaces() -> Result<(), netns::Error> {
    let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x4243);
    let port = 7401;
    let hosts = [Namespace::new("disc-v6a")?, Namespace::new("disc-v6b")?];
    for ns in &hosts {
        // Link-local addresses usable at once (no duplicate address detection).
        // (The thread in `ns` opens the namespace's own `/proc/sys/net`.)
        ns.within(|| std::fs::write("/proc/sys/net/ipv6/conf/default/accept_dad", "0"))?.unwrap();
    }
    netns::veth(&hosts[0], "e0", &hosts[1], "e0")?;
    let mut log = Log::new();
    let mut nodes = Vec::new();
    for (i, ns) in hosts.iter().enumerate() {
        // `ip netns exec` mounts the namespace's own /sys.
        let index: u32 = ns.run("cat", &["/sys/class/net/e0/ifindex"])?.trim().parse().unwrap();
        let bound = ns.within(|| socket::multicast_v6(group, port, index, 1))?.unwrap();
        let me = i as u64 + 1;
        let destination = SocketAddr::V6(SocketAddrV6::new(group, port, 0, index));
        nodes.push(start(&log, me, bound, destination, &[3 - me]));
    }
    let converged =
        log.wait_until(PATIENCE, |seen| all_saw(seen, 0, &[2], 1, is_up) && all_saw(seen, 0, &[1], 2, is_up));
    assert!(converged, "{:#?}", log.seen);
    // Sends go on succeeding (the very first may precede the link-local address: counted).
    let before: Vec<_> = nodes.iter().map(|n| n.status().unwrap().io).collect();
    log.observe(INTERVAL * 4);
    for (node, before) in nodes.iter().zip(before) {
        let io = node.status().unwrap().io;
        assert!(io.sent > before.sent && io.send_errors == before.send_errors, "{before:?} then {io:?}");
    }
    Ok(())
}
