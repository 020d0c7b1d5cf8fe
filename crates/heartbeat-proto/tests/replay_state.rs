//! Replay watermarks through the bytes of `replay_state`: a monitor's watermarks encoded,
//! decoded and resumed by a restarted monitor whose peers have addresses, which then refuses a
//! recording of the peer's frames. Without the snapshot the same recording is believed, so
//! each half can fail.

use core::time::Duration;

use heartbeat_proto::replay_state::{self, Entry, Owner, Snapshot};
use heartbeat_proto::wire::Kind;
use heartbeat_proto::{
    Accepted, Authentication, ClusterId, Config, FixedTimeout, Generation, Growable, Instant, Key, KeyId, KeyRing,
    LinkId, Liveness, MAX_FRAME_LEN, Message, Monitor, NodeId, Rejected, ResumeError, Watermark,
};

const ME: u64 = 1;
const CLUSTER: ClusterId = ClusterId(7);

type TestMonitor = Monitor<FixedTimeout, Growable>;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn auth() -> Authentication {
    Authentication::Hmac(KeyRing::new(Key::new(KeyId(1), &[0x5a; 32]).unwrap()))
}

fn monitor(now: Instant) -> TestMonitor {
    let config =
        Config::builder(CLUSTER, id(ME)).tick(Duration::from_millis(100)).authentication(auth()).build().unwrap();
    let mut m = Monitor::new(config, FixedTimeout::new(), now);
    for peer in [2, 3, 4] {
        m.add_peer_at(id(peer), &[format!("127.0.0.1:{}", 7000 + peer).parse().unwrap()]).unwrap();
    }
    m
}

fn frame(peer: u64, generation: u32, sequence: u64, sent: Instant) -> Vec<u8> {
    let msg = Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(peer),
        receiver: Some(id(ME)),
        generation: Generation(generation),
        sequence,
        timestamp: sent,
        echo: None,
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: None,
        hears_you: true,
        auth: None,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = auth().encode(&msg, &mut buf).unwrap();
    buf[..len].to_vec()
}

/// Peers 2 and 3 heard for 100 rounds (peer 4 never): the recording of peer 2's frames and
/// the snapshot bytes the node would write.
fn before_restart() -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut m = monitor(Instant::ZERO);
    let mut recording = Vec::new();
    for seq in 1..=100u64 {
        let sent = ms(1000 + 200 * seq);
        let f = frame(2, 5, seq, sent);
        m.on_message(sent, LinkId(0), &f).unwrap();
        m.on_message(sent, LinkId(0), &frame(3, 9, seq + 1000, sent)).unwrap();
        recording.push(f);
        while m.poll_event().is_some() {}
    }
    let mut entries: Vec<Entry> = m.watermarks().map(|(peer, mark)| Entry { peer, mark }).collect();
    entries.sort_by_key(|e| e.peer);
    assert_eq!(entries.len(), 2, "peer 4 was never heard: {entries:?}");
    let mut bytes = vec![0; replay_state::encoded_len(entries.len())];
    replay_state::encode(Owner { cluster: CLUSTER, node: id(ME) }, &entries, &mut bytes).unwrap();
    (recording, bytes)
}

fn resumed(bytes: &[u8], now: Instant) -> TestMonitor {
    let snap = Snapshot::decode(bytes).unwrap();
    snap.check_owner(CLUSTER, id(ME)).unwrap();
    let mut m = monitor(now);
    for e in snap.entries() {
        m.resume_watermark(e.peer, e.mark).unwrap();
    }
    m
}

#[test]
fn a_restarted_monitor_with_the_snapshot_refuses_the_recording() {
    let (recording, bytes) = before_restart();
    let now = ms(90_000);
    let mut m = resumed(&bytes, now);
    assert_eq!(m.watermark(id(2)), Some(Watermark { generation: Generation(5), sequence: 100 }));
    assert_eq!(m.watermark(id(3)), Some(Watermark { generation: Generation(9), sequence: 1100 }));
    for (i, f) in recording.iter().enumerate() {
        let seq = i as u64 + 1;
        let want = if 100 - seq >= 64 {
            Rejected::Replayed { peer: id(2), sequence: seq }
        } else {
            Rejected::Duplicate { peer: id(2), sequence: seq }
        };
        assert_eq!(m.on_message(now, LinkId(0), f), Err(want));
    }
    assert_eq!(m.stats().rejected_replay, 36);
    assert_eq!(m.stats().rejected_duplicate, 64);
    assert_eq!(m.stats().accepted, 0);
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Waiting);
    assert!(m.poll_event().is_none());
    // The peer itself, alive, is heard at once; an older generation is stale.
    assert_eq!(m.on_message(now, LinkId(0), &frame(2, 5, 101, now)), Ok(Accepted::Heartbeat));
    assert_eq!(
        m.on_message(now, LinkId(0), &frame(3, 8, 5000, now)),
        Err(Rejected::StaleGeneration { peer: id(3), generation: Generation(8), current: Generation(9) })
    );
    // A peer restarted meanwhile (newer generation) is a restart, as without a snapshot.
    assert_eq!(m.on_message(now, LinkId(0), &frame(3, 10, 1, now)), Ok(Accepted::Heartbeat));
}

#[test]
fn without_the_snapshot_the_recording_is_believed() {
    let (recording, _) = before_restart();
    let now = ms(90_000);
    let mut m = monitor(now);
    assert_eq!(m.on_message(now, LinkId(0), &recording[0]), Ok(Accepted::Heartbeat));
    assert_eq!(m.peer(id(2)).unwrap().liveness, Liveness::Up);
}

#[test]
fn resuming_is_refused_for_strangers_and_for_peers_already_heard() {
    let now = ms(90_000);
    let mut m = monitor(now);
    let mark = Watermark { generation: Generation(5), sequence: 100 };
    assert_eq!(m.resume_watermark(id(9), mark), Err(ResumeError::UnknownPeer(id(9))));
    m.on_message(now, LinkId(0), &frame(2, 5, 200, now)).unwrap();
    assert_eq!(m.resume_watermark(id(2), mark), Err(ResumeError::AlreadyKnown(id(2))));
    assert_eq!(m.watermark(id(2)), Some(Watermark { generation: Generation(5), sequence: 200 }));
    m.resume_watermark(id(3), mark).unwrap();
    assert_eq!(m.resume_watermark(id(3), Watermark { sequence: 7, ..mark }), Err(ResumeError::AlreadyKnown(id(3))));
    assert_eq!(m.watermark(id(3)), Some(mark));
}
