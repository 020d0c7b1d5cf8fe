//! Moving a peer to other addresses keeps its record: no second `Up`, the same generation,
//! and its replay window, so a recording of its frames stays refused after the move.

use core::time::Duration;
use std::net::SocketAddr;

use heartbeat_proto::wire::Kind;
use heartbeat_proto::{
    Authentication, ClusterId, Config, EventKind, FixedTimeout, Generation, Growable, Instant, Key, KeyId, KeyRing,
    LinkId, MAX_FRAME_LEN, Message, Monitor, NodeId, PeerError, Rejected,
};

const CLUSTER: ClusterId = ClusterId(3);

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn auth() -> Authentication {
    Authentication::Hmac(KeyRing::new(Key::new(KeyId(1), &[0x42; 32]).unwrap()))
}

fn frame(sequence: u64, sent: Instant) -> Vec<u8> {
    let msg = Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(2),
        receiver: Some(id(1)),
        generation: Generation(4),
        sequence,
        timestamp: sent,
        echo: None,
        interval: Duration::from_millis(100),
        requested_timeout: Duration::from_millis(500),
        applied_timeout: None,
        hears_you: true,
        auth: None,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = auth().encode(&msg, &mut buf).unwrap();
    buf[..len].to_vec()
}

#[test]
fn a_moved_peer_keeps_its_state_and_its_replay_window() {
    let config = Config::builder(CLUSTER, id(1)).authentication(auth()).build().unwrap();
    let mut m: Monitor<FixedTimeout, Growable> = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    m.add_peer_at(id(2), &[addr(7002)]).unwrap();
    let mut recording = Vec::new();
    for seq in 1..=10 {
        let at = Instant::from_millis(100 * seq);
        let f = frame(seq, at);
        m.on_message(at, LinkId(0), &f).unwrap();
        recording.push(f);
    }
    let mut ups = 0;
    while let Some(e) = m.poll_event() {
        ups += usize::from(matches!(e.kind, EventKind::Up { .. }));
    }
    assert_eq!(ups, 1);
    let before = m.peer(id(2)).unwrap();

    m.move_peer(id(2), &[addr(9002)]).unwrap();
    assert_eq!(m.address(id(2), LinkId(0)), Some(addr(9002)));
    assert_eq!(m.peer(id(2)).unwrap(), before, "the record is the same after the move");
    assert!(m.poll_event().is_none(), "a move raises no event");

    let at = Instant::from_millis(1_050);
    for f in &recording {
        assert!(matches!(m.on_message(at, LinkId(0), f), Err(Rejected::Replayed { .. } | Rejected::Duplicate { .. })));
    }
    m.on_message(at, LinkId(0), &frame(11, at)).unwrap();
    assert!(m.poll_event().is_none(), "the next frame is just the next frame: no second Up");
}

#[test]
fn a_move_that_cannot_be_made_changes_nothing() {
    let config = Config::builder(CLUSTER, id(1)).authentication(auth()).build().unwrap();
    let mut m: Monitor<FixedTimeout, Growable> = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    m.add_peer_at(id(2), &[addr(7002)]).unwrap();
    assert_eq!(m.move_peer(id(5), &[addr(9005)]), Err(PeerError::NotPresent));
    assert_eq!(m.move_peer(id(2), &[addr(9002), addr(9003)]), Err(PeerError::TooManyAddresses { given: 2, links: 1 }));
    assert_eq!(m.address(id(2), LinkId(0)), Some(addr(7002)));
    // No address at all: the link learns it from the wire again.
    m.move_peer(id(2), &[]).unwrap();
    assert_eq!(m.address(id(2), LinkId(0)), None);
    m.on_message(Instant::from_millis(100), LinkId(0), &frame(1, Instant::from_millis(100))).unwrap();
}
