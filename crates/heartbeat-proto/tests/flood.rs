//! The spoofed-id flood: 1,000,000 frames from 1,000,000 distinct made-up node ids, sent to a
//! node that *does* learn peers (the worst case: every frame could claim a slot), while three
//! real nodes keep heartbeating in virtual time.
//!
//! Memory is measured by a counting global allocator (`cap`). Before the flood its limit is
//! set to what is allocated plus the cost of the peer cap, so an allocation beyond the cap
//! would fail and abort this test; after the flood, exactly as much is allocated as before.
//!
//! The count is process-wide, so this test is its own `main` (`harness = false`): no test
//! runner thread allocates beside it.

mod common;

use core::time::Duration;

use cap::Cap;
use common::{Network, id};
use heartbeat_proto::wire::{Echo, Kind};
use heartbeat_proto::{
    AuthError, Authentication, FixedTimeout, Generation, Instant, Key, KeyId, KeyRing, Liveness, MAX_FRAME_LEN,
    Message, PeerFootprint, Rejected,
};

#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

const FLOOD: u64 = 1_000_000;
const MAX_PEERS: usize = 8;

fn keys(secret: u8, key_id: u8) -> Authentication {
    Authentication::Hmac(KeyRing::new(Key::new(KeyId(key_id), &[secret; 32]).unwrap()))
}

/// Four kinds of forgery, in turn: no tag, a tag under a made-up key with the cluster's key
/// id, a tag under an unknown key id, and a goodbye (which never teaches a peer).
fn forgery_templates() -> [(Vec<u8>, Rejected); 4] {
    let msg = |kind| Message {
        kind,
        cluster: common::CLUSTER,
        sender: id(1_000_000),
        receiver: Some(id(1)),
        generation: Generation(1),
        sequence: 1,
        timestamp: Instant::from_secs(1),
        echo: Some(Echo { timestamp: Instant::from_secs(1), delay: Duration::ZERO }),
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_secs(60),
        applied_timeout: None,
        hears_you: true,
        auth: None,
    };
    let seal = |auth: Authentication, msg: Message| {
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = auth.encode(&msg, &mut buf).unwrap();
        buf[..len].to_vec()
    };
    let sender = id(1_000_000);
    [
        (seal(Authentication::None, msg(Kind::Heartbeat)), Rejected::Auth(AuthError::Missing)),
        (seal(keys(0xee, 1), msg(Kind::Heartbeat)), Rejected::Auth(AuthError::BadTag(KeyId(1)))),
        (seal(keys(0xee, 9), msg(Kind::Heartbeat)), Rejected::Auth(AuthError::UnknownKey(KeyId(9)))),
        (seal(keys(0xee, 1), msg(Kind::Goodbye)), Rejected::UnknownPeer(sender)),
    ]
}

fn main() {
    spoofed_id_flood_allocates_nothing_and_causes_no_false_down();
    println!("test spoofed_id_flood_allocates_nothing_and_causes_no_false_down ... ok");
}

fn spoofed_id_flood_allocates_nothing_and_causes_no_false_down() {
    let mut net = Network::with_learning(3, Duration::from_millis(1), MAX_PEERS, |_| keys(0x42, 1));
    net.run_until(Instant::from_secs(1));
    assert_eq!(net.downs(), vec![]);
    let templates = forgery_templates();

    let baseline = ALLOCATOR.allocated();
    // The most the node under attack could legitimately allocate: a full table.
    let cap_bytes = MAX_PEERS * PeerFootprint::of::<<FixedTimeout as heartbeat_proto::Detector>::PeerState>().total();
    ALLOCATOR.set_limit(baseline + cap_bytes).unwrap();

    let mut frame = [0u8; MAX_FRAME_LEN];
    let mut sent = 0u64;
    let mut tally = [0u64; 4];
    let start = Instant::from_secs(1);
    // 100 forged frames every millisecond of virtual time for 10 s.
    while sent < FLOOD {
        net.run_until(start + Duration::from_millis(sent / 100));
        let kind = (sent % 4) as usize;
        let (template, _) = &templates[kind];
        frame[..template.len()].copy_from_slice(template);
        // A fresh, distinct sender id for every frame.
        frame[16..24].copy_from_slice(&(1_000_000 + sent).to_be_bytes());
        let reason = net.inject(0, &frame[..template.len()]).expect_err("a forgery was accepted");
        let expected = match templates[kind].1 {
            Rejected::UnknownPeer(_) => Rejected::UnknownPeer(id(1_000_000 + sent)),
            other => other,
        };
        assert_eq!(reason, expected);
        tally[kind] += 1;
        sent += 1;
    }
    let after_flood = ALLOCATOR.allocated();
    net.run_until(Instant::from_secs(12));
    let after_run = ALLOCATOR.allocated();
    ALLOCATOR.set_limit(usize::MAX).unwrap();
    assert_eq!((after_flood, after_run), (baseline, baseline), "the flood left memory behind");
    let victim = &net.nodes[0];
    let stats = victim.stats();
    assert_eq!(stats.rejected_auth, tally[0] + tally[1] + tally[2]);
    assert_eq!(stats.rejected_unknown_peer, tally[3]);
    assert_eq!(stats.rejected(), FLOOD);
    assert_eq!((victim.monitor().len(), stats.learned), (2, 0));
    // The real peers: heard throughout, never a false Down anywhere in the cluster.
    assert_eq!(net.downs(), vec![]);
    for (i, node) in net.nodes.iter().enumerate() {
        for peer in node.peers() {
            assert_eq!(peer.liveness, Liveness::Up, "node {} sees {}", i + 1, peer.id);
            assert!(peer.stats.received >= 50, "node {} heard {} only {} times", i + 1, peer.id, peer.stats.received);
        }
    }
}
