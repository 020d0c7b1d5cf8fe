//! Learned peers over real loopback sockets: the node records a peer's source address from its
//! authenticated frames and sends to it, with no address table in the driver; and the handle's
//! commands that the shared driver core added (set a group, leave and keep running).

mod common;

use heartbeat_proto::{Authentication, ClusterId, Config, FixedTimeout, Key, KeyId, KeyRing, Learning};
use heartbeat_tokio::Driver;

use common::*;

fn keyed(me: u64, learning: Learning) -> Config {
    Config::builder(ClusterId(0x1ea3), id(me))
        .authentication(Authentication::Hmac(KeyRing::new(Key::new(KeyId(1), &[0xa5; 32]).unwrap())))
        .learning(learning)
        .tick(std::time::Duration::from_millis(25))
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .seed(me)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_learned_peer_becomes_reachable_and_is_sent_to() {
    let log = Log::new();
    let mut s = sockets(2).await;
    let (sb, sa) = (s.pop().unwrap(), s.pop().unwrap());
    let addr_a = sa.local_addr().unwrap();
    // Node 1 knows nobody; node 2 knows where node 1 is.
    let a = Driver::new(keyed(1, Learning::Enabled), FixedTimeout::new(), vec![sa], log.clock).unwrap();
    let mut b = Driver::new(keyed(2, Learning::Disabled), FixedTimeout::new(), vec![sb], log.clock).unwrap();
    b.add_peer(id(1), &[addr_a]).unwrap();
    let (a, b) = (a.spawn(), b.spawn());
    // Node 2 hears node 1 only if node 1 sends to the address it learned from node 2's frames,
    // and says so (`hears_us`) to node 1.
    let heard = tokio::time::timeout(PATIENCE, async {
        loop {
            let (sa, sb) = (a.status().await.unwrap(), b.status().await.unwrap());
            let learned = sa.peers.first().is_some_and(|p| p.learned && p.hears_us);
            if learned && sb.peers[0].liveness == heartbeat_proto::Liveness::Up {
                return sa;
            }
            tokio::time::sleep(INTERVAL).await;
        }
    })
    .await
    .expect("node 1 never reached the peer it learned");
    assert_eq!(heard.peers[0].id, id(2));
    assert!(heard.io.sent > 0);
    assert_eq!(heard.io.unroutable, 0);
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test]
async fn a_handle_sets_groups_and_leaves_without_stopping() {
    let mut log = Log::new();
    let mut s = sockets(2).await;
    let (sb, sa) = (s.pop().unwrap(), s.pop().unwrap());
    let addrs = [sa.local_addr().unwrap(), sb.local_addr().unwrap()];
    let a = log.start(1, 1, vec![sa], &mesh(1, &addrs));
    let b = log.start(2, 1, vec![sb], &mesh(2, &addrs));
    assert!(log.wait_until(PATIENCE, |seen| converged(seen, 2)).await, "{:#?}", log.seen);
    let group = "239.0.0.1:7000".parse().unwrap();
    assert_eq!(a.set_group(heartbeat_proto::LinkId(1), group).await, Ok(false));
    assert_eq!(a.set_group(heartbeat_proto::LinkId(0), group).await, Ok(true));
    let mark = log.seen.len();
    a.leave().await.unwrap();
    let left = |k: &heartbeat_proto::EventKind| *k == heartbeat_proto::EventKind::Left;
    assert!(log.wait_until(PATIENCE, |seen| all_saw(seen, mark, &[2], 1, left)).await, "{:#?}", log.seen);
    // Still running: it answers, and says it is leaving.
    assert!(a.status().await.unwrap().leaving);
    a.shutdown().await;
    b.shutdown().await;
}
