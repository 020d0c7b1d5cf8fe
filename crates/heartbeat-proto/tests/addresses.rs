//! The core's address book: configured addresses, addresses learned from accepted frames,
//! group addresses, and where `targets` sends each frame.

use core::net::SocketAddr;
use core::time::Duration;

use heartbeat_proto::{
    Authentication, ClusterId, Config, Destination, FixedTimeout, Growable, Instant, Key, KeyId, KeyRing, Learning,
    LinkId, MAX_FRAME_LEN, Node, NodeId, PeerError, RecvMeta, Rejected, SendMeta, Transmit,
};

type TestNode = Node<FixedTimeout, Growable>;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn keys() -> Authentication {
    Authentication::Hmac(KeyRing::new(Key::new(KeyId(1), &[9; 32]).unwrap()))
}

fn node(me: u64, links: u8, learning: Learning) -> TestNode {
    let config = Config::builder(ClusterId(3), id(me))
        .interval(Duration::from_millis(100))
        .timeout(Duration::from_millis(600))
        .links(links)
        .learning(learning)
        .authentication(keys())
        .seed(me)
        .build()
        .unwrap();
    Node::new(config, FixedTimeout::new(), Instant::ZERO)
}

/// Every frame of `from`'s current round, with where its own address book sends it.
fn round(from: &mut TestNode, now: Instant) -> Vec<(Transmit, Vec<u8>, Vec<SendMeta>)> {
    from.tick(now);
    let mut buf = [0; MAX_FRAME_LEN];
    let mut out = Vec::new();
    while let Some(t) = from.poll_transmit(&mut buf) {
        let t = t.unwrap();
        out.push((t, buf[..t.len].to_vec(), from.targets(t).collect()));
    }
    out
}

/// One heartbeat frame from node 2 to node 1 (node 2 knows node 1 with no address).
fn frame_from_2(now: Instant) -> Vec<u8> {
    let mut b = node(2, 1, Learning::Disabled);
    b.add_peer(id(1)).unwrap();
    let frames = round(&mut b, now);
    assert!(frames[0].2.is_empty(), "node 2 has no address for node 1 yet");
    frames[0].1.clone()
}

#[test]
fn a_learned_peer_becomes_reachable_at_the_source_of_its_frame() {
    let mut a = node(1, 1, Learning::Enabled);
    let source = addr("192.0.2.7:4000");
    a.on_message(Instant::from_millis(1), source, &frame_from_2(Instant::from_millis(1))).unwrap();
    assert!(a.peer(id(2)).unwrap().learned);
    assert_eq!(a.addresses(id(2)).collect::<Vec<_>>(), [(LinkId(0), source)]);
    let frames = round(&mut a, Instant::from_millis(2));
    assert_eq!(frames.len(), 1);
    let (t, _, targets) = &frames[0];
    assert_eq!(t.destination, Destination::Peer(id(2)));
    assert_eq!(targets, &[SendMeta { link: LinkId(0), destination: source, ttl: None, len: t.len }]);
}

#[test]
fn a_configured_address_is_not_overwritten_by_a_spoofed_source() {
    let mut a = node(1, 1, Learning::Disabled);
    let configured = addr("192.0.2.2:7000");
    a.add_peer_at(id(2), &[configured]).unwrap();
    // A genuine, authenticated frame, replayed by someone else from their own address.
    let spoofed = addr("203.0.113.66:6666");
    a.on_message(Instant::from_millis(1), RecvMeta::new(LinkId(0), spoofed), &frame_from_2(Instant::from_millis(1)))
        .unwrap();
    assert_eq!(a.addresses(id(2)).collect::<Vec<_>>(), [(LinkId(0), configured)]);
    let frames = round(&mut a, Instant::from_millis(2));
    assert_eq!(frames[0].2[0].destination, configured);
}

#[test]
fn a_configured_peer_without_an_address_learns_one_and_a_learned_one_follows_the_peer() {
    let mut a = node(1, 1, Learning::Disabled);
    a.add_peer(id(2)).unwrap();
    assert_eq!(a.addresses(id(2)).count(), 0);
    let first = addr("192.0.2.2:7000");
    let mut b = node(2, 1, Learning::Disabled);
    b.add_peer(id(1)).unwrap();
    for (_, bytes, _) in round(&mut b, Instant::ZERO) {
        a.on_message(Instant::from_millis(1), first, &bytes).unwrap();
    }
    assert_eq!(a.addresses(id(2)).collect::<Vec<_>>(), [(LinkId(0), first)]);
    // The peer's next (fresh, authenticated) frame comes from elsewhere: it moved.
    let moved = addr("192.0.2.2:7001");
    for (_, bytes, _) in round(&mut b, Instant::from_millis(200)) {
        a.on_message(Instant::from_millis(201), moved, &bytes).unwrap();
    }
    assert_eq!(a.addresses(id(2)).collect::<Vec<_>>(), [(LinkId(0), moved)]);
}

#[test]
fn a_rejected_frame_teaches_no_address() {
    let mut a = node(1, 1, Learning::Disabled);
    a.add_peer(id(2)).unwrap();
    let mut bytes = frame_from_2(Instant::from_millis(1));
    let last = bytes.len() - 1;
    bytes[last] ^= 1; // the tag no longer matches
    let forged = a.on_message(Instant::from_millis(1), addr("203.0.113.66:6666"), &bytes);
    assert!(matches!(forged, Err(Rejected::Auth(_))), "{forged:?}");
    assert_eq!(a.addresses(id(2)).count(), 0);
    // A replay of an accepted frame is refused too, and teaches nothing.
    bytes[last] ^= 1;
    let genuine = addr("192.0.2.2:7000");
    a.on_message(Instant::from_millis(2), genuine, &bytes).unwrap();
    let replay = a.on_message(Instant::from_millis(3), addr("203.0.113.66:6666"), &bytes);
    assert!(matches!(replay, Err(Rejected::Duplicate { .. })), "{replay:?}");
    assert_eq!(a.addresses(id(2)).collect::<Vec<_>>(), [(LinkId(0), genuine)]);
}

#[test]
fn add_peer_at_with_more_addresses_than_links_is_refused_and_changes_nothing() {
    let mut a = node(1, 2, Learning::Disabled);
    let three = [addr("192.0.2.1:1"), addr("192.0.2.1:2"), addr("192.0.2.1:3")];
    assert_eq!(a.add_peer_at(id(2), &three), Err(PeerError::TooManyAddresses { given: 3, links: 2 }));
    assert!(a.peer(id(2)).is_none());
    assert_eq!(a.peers().count(), 0);
    assert_eq!(a.add_peer_at(id(1), &three[..1]), Err(PeerError::IsSelf));
    a.add_peer_at(id(2), &three[..2]).unwrap();
    assert_eq!(a.add_peer_at(id(2), &three[..1]), Err(PeerError::AlreadyPresent));
    assert_eq!(a.addresses(id(2)).collect::<Vec<_>>(), [(LinkId(0), three[0]), (LinkId(1), three[1])]);
}

#[test]
fn each_link_has_its_own_address_and_a_frame_goes_to_every_one() {
    let mut a = node(1, 2, Learning::Disabled);
    let on_link_0 = addr("192.0.2.2:7000");
    a.add_peer_at(id(2), &[on_link_0]).unwrap();
    // Link 1 has no configured address: the peer's frame over it teaches one.
    let on_link_1 = addr("[2001:db8::2]:7000");
    let mut b = node(2, 2, Learning::Disabled);
    b.add_peer(id(1)).unwrap();
    for (_, bytes, _) in round(&mut b, Instant::ZERO) {
        a.on_message(Instant::from_millis(1), RecvMeta::new(LinkId(1), on_link_1), &bytes).unwrap();
        // The copy over link 0 from elsewhere does not replace the configured address.
        a.on_message(Instant::from_millis(1), RecvMeta::new(LinkId(0), addr("203.0.113.1:1")), &bytes).unwrap();
    }
    let frames = round(&mut a, Instant::from_millis(2));
    let (t, _, targets) = &frames[0];
    assert_eq!(
        targets,
        &[
            SendMeta { link: LinkId(0), destination: on_link_0, ttl: None, len: t.len },
            SendMeta { link: LinkId(1), destination: on_link_1, ttl: None, len: t.len },
        ]
    );
}

#[test]
fn addresses_stay_with_their_peers_when_another_is_removed() {
    let mut a = node(1, 1, Learning::Disabled);
    let (two, three) = (addr("192.0.2.2:2"), addr("192.0.2.3:3"));
    a.add_peer_at(id(2), &[two]).unwrap();
    a.add_peer_at(id(3), &[three]).unwrap();
    assert!(a.remove_peer(id(2)));
    assert_eq!(a.addresses(id(2)).count(), 0);
    assert_eq!(a.addresses(id(3)).collect::<Vec<_>>(), [(LinkId(0), three)]);
    a.add_peer(id(2)).unwrap();
    assert_eq!(a.addresses(id(2)).count(), 0, "a re-added peer starts without the old address");
}

#[test]
fn frames_for_every_node_go_to_the_group_of_each_link_that_has_one() {
    let config = Config::builder(ClusterId(3), id(1)).links(2).broadcast(true).authentication(keys()).build().unwrap();
    let mut a: TestNode = Node::new(config, FixedTimeout::new(), Instant::ZERO);
    let group = addr("239.1.2.3:7000");
    assert!(!a.set_group(LinkId(2), group), "no link 2");
    let frames = round(&mut a, Instant::ZERO);
    assert_eq!(frames[0].0.destination, Destination::All);
    assert!(frames[0].2.is_empty(), "no group set: nowhere to go");
    assert!(a.set_group(LinkId(1), group));
    assert_eq!(a.group(LinkId(1)), Some(group));
    let frames = round(&mut a, Instant::from_secs(1));
    let (t, _, targets) = &frames[0];
    assert_eq!(targets, &[SendMeta { link: LinkId(1), destination: group, ttl: None, len: t.len }]);
}

#[test]
fn fixed_storage_keeps_the_groups_of_further_links_with_the_link_records() {
    let config = || Config::builder(ClusterId(3), id(1)).links(2).broadcast(true).authentication(keys()).build();
    let group = addr("239.1.2.3:7000");
    let mut roomy: Node<FixedTimeout, heartbeat_proto::Fixed<2, 4>> =
        Node::new(config().unwrap(), FixedTimeout::new(), Instant::ZERO);
    assert!(roomy.set_group(LinkId(0), group) && roomy.set_group(LinkId(1), group));
    assert_eq!((roomy.group(LinkId(0)), roomy.group(LinkId(1))), (Some(group), Some(group)));
    assert!(roomy.clear_group(LinkId(1)));
    assert_eq!(roomy.group(LinkId(1)), None);
    // No (peer, link) rows: link 1 has no room for a group, and says so.
    let mut cramped: Node<FixedTimeout, heartbeat_proto::Fixed<2>> =
        Node::new(config().unwrap(), FixedTimeout::new(), Instant::ZERO);
    assert!(cramped.set_group(LinkId(0), group));
    assert!(!cramped.set_group(LinkId(1), group));
    assert_eq!(cramped.group(LinkId(1)), None);
}
