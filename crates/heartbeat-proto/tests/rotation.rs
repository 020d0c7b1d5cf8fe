//! Key rotation on a running cluster, in virtual time: three nodes move from key 1 to key 2
//! one node at a time, with frames in flight across every change, and nobody ever sees a
//! false `Down` (or even a refused frame). A second scenario does the steps in the wrong order
//! and shows that the same harness does catch the resulting `Down`s.

mod common;

use core::time::Duration;

use common::Network;
use heartbeat_proto::{Authentication, EventKind, Instant, Key, KeyId, KeyRing};

const OLD: KeyId = KeyId(1);
const NEW: KeyId = KeyId(2);

fn key(id: KeyId) -> Key {
    Key::new(id, &[id.0.wrapping_mul(0x3b); 32]).unwrap()
}

fn cluster() -> Network {
    Network::new(3, Duration::from_millis(3), |_| Authentication::Hmac(KeyRing::new(key(OLD))))
}

/// Applies `change` to each node's ring in turn, 130 ms apart (not a multiple of the
/// interval, so changes land between and during rounds), starting at `start`.
fn staggered(net: &mut Network, start: Instant, change: impl Fn(&mut KeyRing)) -> Instant {
    let mut at = start;
    for i in 0..net.nodes.len() {
        net.run_until(at);
        change(net.nodes[i].key_ring_mut().expect("keyed node"));
        at = at + Duration::from_millis(130);
    }
    at
}

#[test]
fn key_rotation_causes_no_false_down() {
    let mut net = cluster();
    net.run_until(Instant::from_secs(2));
    // 1. Every node learns the new key (still sending under the old one).
    let t = staggered(&mut net, Instant::from_secs(2), |ring| ring.insert(key(NEW)).unwrap());
    net.run_until(t + Duration::from_secs(1));
    // 2. Every node sends under the new key.
    let t = staggered(&mut net, t + Duration::from_secs(1), |ring| ring.set_current(NEW).unwrap());
    net.run_until(t + Duration::from_secs(1));
    // 3. Every node forgets the old key.
    let t = staggered(&mut net, t + Duration::from_secs(1), |ring| ring.remove(OLD).unwrap());
    net.run_until(t + Duration::from_secs(3));

    assert_eq!(net.downs(), vec![]);
    let suspects = net.events.iter().filter(|(_, e)| matches!(e.kind, EventKind::Suspect { .. })).count();
    assert_eq!(suspects, 0);
    for node in &net.nodes {
        assert_eq!(node.stats().rejected(), 0, "{:?}", node.stats());
        let ring = node.authentication().key_ring().unwrap();
        assert_eq!((ring.current(), ring.ids().collect::<Vec<_>>()), (NEW, vec![NEW]));
    }
    // Heartbeats kept flowing after the old key was gone.
    let late_heard = net.nodes[0].peer(common::id(2)).unwrap().last_heard.unwrap();
    assert!(late_heard > t, "still hearing peers after the rotation ({late_heard})");
}

#[test]
fn switching_keys_before_every_node_has_them_is_caught() {
    let mut net = cluster();
    net.run_until(Instant::from_secs(2));
    // Node 1 adds the new key and sends under it at once; nodes 2 and 3 never learn it.
    let ring = net.nodes[0].key_ring_mut().unwrap();
    ring.insert(key(NEW)).unwrap();
    ring.set_current(NEW).unwrap();
    net.run_until(Instant::from_secs(4));

    let downs: Vec<_> = net.downs().into_iter().map(|(observer, e)| (observer, e.peer)).collect();
    assert_eq!(downs, vec![(1, common::id(1)), (2, common::id(1))]);
    assert!(net.nodes[1].stats().rejected_auth > 0);
}
