//! Learned peers over real loopback sockets: the node records a peer's source address from its
//! authenticated frames and sends to it, with no address table in the driver; and the handle's
//! commands that the shared driver core added (set a group, leave and keep running).

mod common;

use heartbeat_proto::{Authentication, ClusterId, Config, EventKind, FixedTimeout, Key, KeyId, KeyRing, Learning};
use heartbeat_std::Driver;

use common::*;

fn keyed(me: u64, learning: Learning) -> Config {
    Config::builder(ClusterId(0x1ea2), id(me))
        .authentication(Authentication::Hmac(KeyRing::new(Key::new(KeyId(1), &[0x5a; 32]).unwrap())))
        .learning(learning)
        .tick(std::time::Duration::from_millis(25))
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .seed(me)
        .build()
        .unwrap()
}

#[test]
fn a_learned_peer_becomes_reachable_and_is_sent_to() {
    let mut log = Log::new();
    let (sa, sb) = {
        let mut s = sockets(2);
        let b = s.pop().unwrap();
        (s.pop().unwrap(), b)
    };
    let (addr_a, addr_b) = (sa.local_addr().unwrap(), sb.local_addr().unwrap());
    // Node 1 knows nobody; node 2 knows where node 1 is.
    let a = Driver::new(keyed(1, Learning::Enabled), FixedTimeout::new(), vec![sa], log.clock).unwrap();
    let mut b = Driver::new(keyed(2, Learning::Disabled), FixedTimeout::new(), vec![sb], log.clock).unwrap();
    b.add_peer(id(1), &[addr_a]).unwrap();
    let (to_a, to_b) = (log.sender(), log.sender());
    let a = a.spawn(move |event| to_a(1, event)).unwrap();
    let b = b.spawn(move |event| to_b(2, event)).unwrap();
    // Node 2 hears node 1 only if node 1 sends to the address it learned from node 2's frames,
    // and it tells node 1 so (`hears_us`) only over that path too.
    assert!(
        log.wait_until(PATIENCE, |seen| all_saw(seen, 0, &[2], 1, is_up) && all_saw(seen, 0, &[1], 2, is_up)),
        "{:#?}",
        log.seen
    );
    let status = a.status().unwrap();
    let peer = status.peers.iter().find(|p| p.id == id(2)).unwrap();
    assert!(peer.learned);
    assert!(status.io.sent > 0);
    assert_eq!(status.io.unroutable, 0);
    // Node 1 learned exactly node 2's socket (not, say, a wildcard), on link 0: node 2 says it
    // hears node 1.
    let deadline = std::time::Instant::now() + PATIENCE;
    while !a.status().unwrap().peers[0].hears_us {
        assert!(std::time::Instant::now() < deadline, "node 2 never said it hears node 1");
        std::thread::sleep(INTERVAL);
    }
    assert_eq!(b.local_addrs(), [addr_b]);
    b.shutdown();
    assert!(log.wait_until(PATIENCE, |seen| seen.iter().any(|s| s.observer == 1 && s.event.kind == EventKind::Left)));
    a.shutdown();
}

#[test]
fn a_handle_sets_groups_and_leaves_without_stopping() {
    let mut log = Log::new();
    let (mut nodes, _) = converged_cluster(&mut log, 2);
    let a = nodes[0].take().unwrap();
    assert_eq!(a.set_group(heartbeat_proto::LinkId(1), "239.0.0.1:7000".parse().unwrap()), Ok(false));
    assert_eq!(a.set_group(heartbeat_proto::LinkId(0), "239.0.0.1:7000".parse().unwrap()), Ok(true));
    let mark = log.seen.len();
    a.leave().unwrap();
    let left = |k: &EventKind| *k == EventKind::Left;
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &[2], 1, left)), "{:#?}", log.seen);
    // Still running: it answers, and says it is leaving.
    assert!(a.status().unwrap().leaving);
    a.shutdown();
}
