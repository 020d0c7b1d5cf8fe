//! The attacks of issue 5, one test each: what an attacker on the network sends, the typed
//! reason it is refused with, the counter that records it, and proof that nothing else moved
//! (every peer's status, the next deadline, the monitor's time, the event queue and every
//! other counter).
//!
//! The receiver is node 1; node 2 is its peer and shares key 1 with it. The attacker has
//! recorded everything node 2 ever sent, can send anything from anywhere, but does not have
//! the key.

use core::time::Duration;

use heartbeat_proto::wire::{DecodeError, Echo, Field, Kind};
use heartbeat_proto::{
    Accepted, AuthError, Authentication, ClusterId, Config, ConfigBuilder, EventKind, FixedTimeout, Generation,
    Growable, Instant, Key, KeyId, KeyRing, Learning, LinkId, Liveness, MAX_FRAME_LEN, Message, Monitor, MonitorStats,
    NodeId, PeerStatus, Rejected,
};
use hmac::{Hmac, KeyInit, Mac};

const ME: u64 = 1;
const PEER: u64 = 2;
const CLUSTER: ClusterId = ClusterId(7);
const SECRET: [u8; 32] = [0x5a; 32];

type TestMonitor = Monitor<FixedTimeout, Growable>;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn ring(key_id: u8, secret: &[u8]) -> KeyRing {
    KeyRing::new(Key::new(KeyId(key_id), secret).unwrap())
}

/// The cluster's real authentication: key 1.
fn cluster_auth() -> Authentication {
    Authentication::Hmac(ring(1, &SECRET))
}

/// tick 100 ms (timeouts clamped into [200 ms, 2 s]), initdead 2 s, keys as given.
fn config(auth: Authentication) -> ConfigBuilder {
    Config::builder(CLUSTER, id(ME))
        .tick(Duration::from_millis(100))
        .initdead(Duration::from_secs(2))
        .authentication(auth)
}

fn monitor(auth: Authentication) -> TestMonitor {
    let mut m = Monitor::new(config(auth).build().unwrap(), FixedTimeout::new(), Instant::ZERO);
    m.add_peer(id(PEER)).unwrap();
    m
}

/// What node 2 sends in round `sequence` of `generation`, sent at `sent` on its clock:
/// addressed to node 1, with an echo, `hears_you` and an applied timeout, so that every
/// field of the header is in use.
fn heartbeat(generation: u32, sequence: u64, sent: Instant) -> Message {
    Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(PEER),
        receiver: Some(id(ME)),
        generation: Generation(generation),
        sequence,
        timestamp: sent,
        echo: Some(Echo { timestamp: sent.saturating_sub(Duration::from_millis(3)), delay: Duration::from_millis(1) }),
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: Some(Duration::from_millis(600)),
        hears_you: true,
        auth: None,
    }
}

fn goodbye(generation: u32, sequence: u64, sent: Instant) -> Message {
    Message { kind: Kind::Goodbye, ..heartbeat(generation, sequence, sent) }
}

/// `msg` as encoded (and, with keys, signed) under `auth`.
fn seal(auth: &Authentication, msg: &Message) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = auth.encode(msg, &mut buf).unwrap();
    buf[..len].to_vec()
}

/// A monitor that has heard node 2 (generation 3) send rounds 1..=`rounds` every 200 ms from
/// t = 1 s, each arriving 2 ms after it was sent, and every frame node 2 sent (the
/// attacker's recording). Its time is the last arrival; the event queue is drained.
fn established(rounds: u64) -> (TestMonitor, Vec<Vec<u8>>) {
    let mut m = monitor(cluster_auth());
    let peer = cluster_auth();
    let mut recording = Vec::new();
    for seq in 1..=rounds {
        let sent = ms(1000 + 200 * (seq - 1));
        let frame = seal(&peer, &heartbeat(3, seq, sent));
        m.on_message(sent + Duration::from_millis(2), LinkId(0), &frame).unwrap();
        recording.push(frame);
    }
    while m.poll_event().is_some() {}
    assert_eq!(m.peer(id(PEER)).unwrap().liveness, Liveness::Up);
    (m, recording)
}

/// Everything a refused frame must leave as it was.
#[derive(Debug, PartialEq)]
struct Observed {
    peers: Vec<PeerStatus>,
    next_deadline: Option<Instant>,
    now: Instant,
    stats: MonitorStats,
}

fn observe(m: &TestMonitor) -> Observed {
    Observed { peers: m.peers().collect(), next_deadline: m.poll_timeout(), now: m.now(), stats: *m.stats() }
}

/// The counter each reason must increment — written out here, independently of the monitor.
fn counter(reason: &Rejected) -> fn(&mut MonitorStats) -> &mut u64 {
    match reason {
        Rejected::Malformed(_) => |s| &mut s.rejected_malformed,
        Rejected::WrongCluster(_) => |s| &mut s.rejected_cluster,
        Rejected::FromSelf => |s| &mut s.rejected_self,
        Rejected::NotForUs(_) => |s| &mut s.rejected_not_for_us,
        Rejected::UnknownLink(_) => |s| &mut s.rejected_link,
        Rejected::UnknownPeer(_) => |s| &mut s.rejected_unknown_peer,
        Rejected::PeerTableFull(_) => |s| &mut s.rejected_table_full,
        Rejected::Auth(_) => |s| &mut s.rejected_auth,
        Rejected::StaleGeneration { .. } => |s| &mut s.rejected_stale_generation,
        Rejected::Duplicate { .. } => |s| &mut s.rejected_duplicate,
        Rejected::Replayed { .. } => |s| &mut s.rejected_replay,
        Rejected::EventQueueFull => |s| &mut s.rejected_queue_full,
        other => panic!("no counter known to this test for {other:?}"),
    }
}

/// Delivers `bytes` on `link` at `now`; asserts it is refused, that the reason's counter (and
/// only it) went up by one, and that nothing else changed and no event was raised. Returns
/// the reason.
fn refused_on(m: &mut TestMonitor, now: Instant, link: u8, bytes: &[u8]) -> Rejected {
    assert!(m.poll_event().is_none(), "drain before attacking");
    let before = observe(m);
    let reason = m.on_message(now, LinkId(link), bytes).expect_err("the attack was accepted");
    let mut expected = Observed { ..before };
    *counter(&reason)(&mut expected.stats) += 1;
    // A duplicate is also counted against its peer, as `Rejected::Duplicate` documents.
    if let Rejected::Duplicate { peer, .. } = reason {
        for status in expected.peers.iter_mut().filter(|s| s.id == peer) {
            status.stats.duplicates += 1;
        }
    }
    assert_eq!(observe(m), expected, "{reason:?} changed more than its counter");
    assert!(m.poll_event().is_none(), "{reason:?} raised an event");
    reason
}

fn refused(m: &mut TestMonitor, now: Instant, bytes: &[u8]) -> Rejected {
    refused_on(m, now, 0, bytes)
}

fn events(m: &mut TestMonitor) -> Vec<EventKind> {
    std::iter::from_fn(|| m.poll_event()).map(|e| e.kind).collect()
}

// --- Forgery --------------------------------------------------------------------------------

#[test]
fn forged_heartbeat_under_a_wrong_key_is_refused() {
    let (mut m, _) = established(10);
    let attacker = Authentication::Hmac(ring(1, &[0xa5; 32]));
    let forged = seal(&attacker, &heartbeat(3, 11, ms(3000)));
    assert_eq!(refused(&mut m, ms(3000), &forged), Rejected::Auth(AuthError::BadTag(KeyId(1))));
}

#[test]
fn forged_heartbeat_under_an_unknown_key_id_is_refused() {
    let (mut m, _) = established(10);
    let attacker = Authentication::Hmac(ring(9, &SECRET));
    let forged = seal(&attacker, &heartbeat(3, 11, ms(3000)));
    assert_eq!(refused(&mut m, ms(3000), &forged), Rejected::Auth(AuthError::UnknownKey(KeyId(9))));
}

#[test]
fn heartbeat_without_a_tag_is_refused_by_a_node_with_keys() {
    let (mut m, _) = established(10);
    let plain = seal(&Authentication::None, &heartbeat(3, 11, ms(3000)));
    assert_eq!(refused(&mut m, ms(3000), &plain), Rejected::Auth(AuthError::Missing));
    // Handing the monitor a decoded message skips no check: it has no tag left to verify.
    let before = observe(&m);
    let decoded = Message { auth: cluster_auth().header(), ..heartbeat(3, 11, ms(3000)) };
    assert_eq!(m.on_decoded(ms(3000), LinkId(0), &decoded), Err(Rejected::Auth(AuthError::Unverifiable)));
    assert_eq!(m.stats().rejected_auth, before.stats.rejected_auth + 1);
    assert_eq!(m.peers().collect::<Vec<_>>(), before.peers);
}

#[test]
fn tagged_heartbeat_is_refused_by_a_node_without_keys() {
    let mut m = monitor(Authentication::None);
    let tagged = seal(&cluster_auth(), &heartbeat(3, 1, ms(1000)));
    assert_eq!(refused(&mut m, ms(1000), &tagged), Rejected::Auth(AuthError::Unexpected));
    assert_eq!(m.peer(id(PEER)).unwrap().liveness, Liveness::Waiting);
}

/// A correctly computed tag, but cut to 64 bits: the receiver insists on the ring's 128.
#[test]
fn tag_truncated_below_128_bits_is_refused() {
    let (mut m, _) = established(10);
    let msg = Message {
        auth: Some(heartbeat_proto::wire::AuthHeader { scheme: 1, key_id: 1, tag_len: 8 }),
        ..heartbeat(3, 11, ms(3000))
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = msg.encode(&mut buf).unwrap();
    // HMAC-SHA256 computed here by the `hmac` crate directly, not through the library.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&SECRET).unwrap();
    mac.update(&buf[..76]);
    buf[76..len].copy_from_slice(&mac.finalize().as_bytes()[..8]);
    assert_eq!(refused(&mut m, ms(3000), &buf[..len]), Rejected::Auth(AuthError::TagTooShort { len: 8, min: 16 }));
}

#[test]
fn frame_naming_an_unknown_scheme_is_refused() {
    let (mut m, _) = established(10);
    let mut frame = seal(&cluster_auth(), &heartbeat(3, 11, ms(3000)));
    frame[72] = 2;
    assert_eq!(refused(&mut m, ms(3000), &frame), Rejected::Auth(AuthError::UnknownScheme(2)));
}

/// Every single-bit change anywhere in a genuine frame is refused, with the reason of the
/// field it hit: the cheap checks catch what they can see, the tag catches everything else.
#[test]
fn a_flipped_bit_in_every_byte_position_is_refused() {
    let (mut m, _) = established(10);
    let genuine = seal(&cluster_auth(), &heartbeat(3, 11, ms(3000)));
    assert_eq!(genuine.len(), 92);
    let mut bad_tags = 0;
    for pos in 0..genuine.len() {
        for bit in 0..8 {
            let mut frame = genuine.clone();
            frame[pos] ^= 1 << bit;
            let reason = refused(&mut m, ms(3000), &frame);
            let malformed = matches!(reason, Rejected::Malformed(_));
            let bad_tag = reason == Rejected::Auth(AuthError::BadTag(KeyId(1)));
            bad_tags += usize::from(bad_tag);
            let expected = match pos {
                // Magic, version, kind, reserved byte, length: structure.
                0..=3 | 5..=7 => malformed,
                // Flags: a reserved bit or a missing trailer is structure, a cleared ECHO
                // leaves echo fields behind; HEARS_YOU alone is only caught by the tag.
                4 => malformed || bad_tag,
                8..=11 => reason == Rejected::WrongCluster(ClusterId(CLUSTER.0 ^ (1 << (bit + 8 * (11 - pos))))),
                // Generation, sequence, timestamp, echo: only the tag.
                12..=15 | 32..=59 => bad_tag,
                // Sender: someone else (unknown), nobody (zero is malformed), or us.
                16..=23 => matches!(reason, Rejected::UnknownPeer(_) | Rejected::FromSelf) || malformed,
                // Receiver: someone else, or nobody (a frame to all may not carry an echo).
                24..=31 => matches!(reason, Rejected::NotForUs(_)) || malformed,
                // Interval and timeouts: out of range is malformed, in range the tag.
                60..=71 => bad_tag || malformed,
                72 => matches!(reason, Rejected::Auth(AuthError::UnknownScheme(_))) || malformed,
                73 => matches!(reason, Rejected::Auth(AuthError::UnknownKey(_))),
                74 | 75 => reason == Rejected::Malformed(DecodeError::BadAuthTrailer),
                _ => bad_tag,
            };
            assert!(expected, "byte {pos} bit {bit}: {reason:?}");
        }
    }
    assert!(bad_tags >= 8 * (4 + 28 + 16), "the tag itself caught {bad_tags} flips");
    assert_eq!(m.stats().rejected(), 92 * 8);
    assert_eq!(m.stats().accepted, 10);
}

// --- Malformed input ------------------------------------------------------------------------

#[test]
fn truncation_at_every_byte_position_is_refused() {
    let (mut m, _) = established(10);
    let genuine = seal(&cluster_auth(), &heartbeat(3, 11, ms(3000)));
    for len in 0..genuine.len() {
        match refused(&mut m, ms(3000), &genuine[..len]) {
            Rejected::Malformed(DecodeError::Truncated { len: l, .. }) => assert_eq!(l, len),
            other => panic!("cut at {len}: {other:?}"),
        }
    }
    assert_eq!(m.stats().rejected_malformed, genuine.len() as u64);
}

#[test]
fn oversized_frames_are_refused() {
    let (mut m, _) = established(10);
    let genuine = seal(&cluster_auth(), &heartbeat(3, 11, ms(3000)));
    for extra in [1usize, 36, 1000, 65_536, 1 << 20] {
        let mut long = genuine.clone();
        long.resize(genuine.len() + extra, 0);
        let expected = DecodeError::TrailingBytes { declared: 92, actual: genuine.len() + extra };
        assert_eq!(refused(&mut m, ms(3000), &long), Rejected::Malformed(expected));
    }
    // A length field promising more than the datagram holds.
    let mut liar = genuine.clone();
    liar[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(
        refused(&mut m, ms(3000), &liar),
        Rejected::Malformed(DecodeError::Truncated { len: 92, needed: 65_535 })
    );
    // A trailer longer than any tag.
    let mut long_tag = genuine.clone();
    long_tag.resize(76 + 64, 0);
    long_tag[6..8].copy_from_slice(&140u16.to_be_bytes());
    long_tag[74] = 64;
    assert_eq!(refused(&mut m, ms(3000), &long_tag), Rejected::Malformed(DecodeError::BadAuthTrailer));
}

#[test]
fn signed_frame_of_another_cluster_is_refused() {
    let (mut m, _) = established(10);
    let other = Message { cluster: ClusterId(8), ..heartbeat(3, 11, ms(3000)) };
    let frame = seal(&cluster_auth(), &other);
    assert_eq!(refused(&mut m, ms(3000), &frame), Rejected::WrongCluster(ClusterId(8)));
}

#[test]
fn another_wire_version_is_refused() {
    let (mut m, _) = established(10);
    for version in [0u8, 2, 255] {
        let mut frame = seal(&cluster_auth(), &heartbeat(3, 11, ms(3000)));
        frame[2] = version;
        assert_eq!(refused(&mut m, ms(3000), &frame), Rejected::Malformed(DecodeError::UnsupportedVersion(version)));
    }
}

#[test]
fn invalid_field_values_are_refused_before_the_mac() {
    let (mut m, _) = established(10);
    let mut frame = seal(&cluster_auth(), &heartbeat(3, 11, ms(3000)));
    frame[60..64].fill(0);
    assert_eq!(refused(&mut m, ms(3000), &frame), Rejected::Malformed(DecodeError::FieldOutOfRange(Field::Interval)));
}

// --- Replay ---------------------------------------------------------------------------------

#[test]
fn replay_of_the_latest_frame_is_a_duplicate() {
    let (mut m, recording) = established(10);
    let latest = recording.last().unwrap();
    assert_eq!(refused(&mut m, ms(2900), latest), Rejected::Duplicate { peer: id(PEER), sequence: 10 });
}

#[test]
fn replay_of_older_frames_is_refused_inside_and_below_the_window() {
    let (mut m, recording) = established(80);
    // Inside the 64-frame window, already seen: a duplicate.
    assert_eq!(refused(&mut m, ms(17_000), &recording[70 - 1]), Rejected::Duplicate { peer: id(PEER), sequence: 70 });
    // Below the window: indistinguishable from a replay, and refused as one.
    assert_eq!(refused(&mut m, ms(17_000), &recording[3 - 1]), Rejected::Replayed { peer: id(PEER), sequence: 3 });
    // Every recorded frame, replayed in order much later, after the peer fell silent.
    m.tick(ms(20_000));
    assert_eq!(events(&mut m), vec![EventKind::Down { last_heard: Some(ms(16_802)), deadline: ms(17_402) }]);
    for frame in &recording {
        refused(&mut m, ms(20_000), frame);
    }
    assert_eq!(m.peer(id(PEER)).unwrap().liveness, Liveness::Down, "the recording cannot revive the peer");
    assert_eq!(m.stats().rejected_duplicate + m.stats().rejected_replay, 2 + 80);
}

#[test]
fn replay_from_an_older_generation_is_refused() {
    let (mut m, _) = established(10);
    // The attacker withheld round 11 of generation 3; the peer then restarted as generation 4.
    let withheld = seal(&cluster_auth(), &heartbeat(3, 11, ms(3000)));
    m.on_message(ms(5000), LinkId(0), &seal(&cluster_auth(), &heartbeat(4, 1, ms(5000)))).unwrap();
    assert_eq!(events(&mut m), vec![EventKind::Restarted { previous: Generation(3), generation: Generation(4) }]);
    assert_eq!(
        refused(&mut m, ms(5100), &withheld),
        Rejected::StaleGeneration { peer: id(PEER), generation: Generation(3), current: Generation(4) }
    );
}

#[test]
fn recorded_goodbye_replayed_after_the_peer_returns_is_refused() {
    let (mut m, _) = established(10);
    let bye = seal(&cluster_auth(), &goodbye(3, 11, ms(3000)));
    assert_eq!(m.on_message(ms(3002), LinkId(0), &bye), Ok(Accepted::Goodbye));
    assert_eq!(events(&mut m), vec![EventKind::Left]);
    // Replayed at once: the same sequence.
    assert_eq!(refused(&mut m, ms(3010), &bye), Rejected::Duplicate { peer: id(PEER), sequence: 11 });
    // The peer comes back as generation 4; the recorded goodbye must not send it away again.
    m.on_message(ms(6000), LinkId(0), &seal(&cluster_auth(), &heartbeat(4, 1, ms(6000)))).unwrap();
    assert_eq!(events(&mut m), vec![EventKind::Restarted { previous: Generation(3), generation: Generation(4) }]);
    assert_eq!(
        refused(&mut m, ms(6100), &bye),
        Rejected::StaleGeneration { peer: id(PEER), generation: Generation(3), current: Generation(4) }
    );
    assert_eq!(m.peer(id(PEER)).unwrap().liveness, Liveness::Up);
}

/// An on-path attacker holds back round 9 and releases it after round 10: it counts for the
/// loss statistics (it did arrive) but refreshes nothing and moves no deadline.
#[test]
fn withheld_frame_released_later_refreshes_nothing() {
    let mut m = monitor(cluster_auth());
    let peer = cluster_auth();
    let mut withheld = Vec::new();
    for seq in 1..=10 {
        let sent = ms(1000 + 200 * (seq - 1));
        let frame = seal(&peer, &heartbeat(3, seq, sent));
        if seq == 9 {
            withheld = frame;
        } else {
            m.on_message(sent + Duration::from_millis(2), LinkId(0), &frame).unwrap();
        }
    }
    while m.poll_event().is_some() {}
    let before = m.peer(id(PEER)).unwrap();
    let deadline = m.poll_timeout();
    assert_eq!(m.on_message(ms(2900), LinkId(0), &withheld), Ok(Accepted::Late));
    let after = m.peer(id(PEER)).unwrap();
    assert_eq!((after.last_heard, after.since, after.liveness), (before.last_heard, before.since, before.liveness));
    assert_eq!((before.stats.lost, after.stats.lost, after.stats.late), (1, 0, 1));
    assert_eq!(m.poll_timeout(), deadline);
    assert!(events(&mut m).is_empty());
    assert_eq!(refused(&mut m, ms(2950), &withheld), Rejected::Duplicate { peer: id(PEER), sequence: 9 });
}

/// Two links. Link 1 fails; the attacker replays node 2's recorded frames over link 1 later
/// to make it look alive. Frames sent more than a peer timeout before the freshest one prove
/// nothing about a link and are refused; a genuine copy within the timeout still counts.
#[test]
fn recorded_frame_replayed_over_another_link_later_refreshes_nothing() {
    let mut m = Monitor::new(config(cluster_auth()).links(2).build().unwrap(), FixedTimeout::new(), Instant::ZERO);
    m.add_peer(id(PEER)).unwrap();
    let peer = cluster_auth();
    let mut recording = Vec::new();
    for seq in 1..=10u64 {
        let sent = ms(1000 + 200 * (seq - 1));
        let frame = seal(&peer, &heartbeat(3, seq, sent));
        m.on_message(sent + Duration::from_millis(2), LinkId(0), &frame).unwrap();
        if seq <= 2 {
            m.on_message(sent + Duration::from_millis(3), LinkId(1), &frame).unwrap();
        }
        m.tick(sent + Duration::from_millis(100));
        recording.push(frame);
    }
    let kinds = events(&mut m);
    assert!(kinds.contains(&EventKind::LinkDown { link: LinkId(1) }), "{kinds:?}");
    assert_eq!(m.peer(id(PEER)).unwrap().links_up, 0b01);
    // Round 5 was sent at 1800 ms; the freshest (round 10) at 2800 ms: older than 600 ms.
    assert_eq!(refused_on(&mut m, ms(2900), 1, &recording[5 - 1]), Rejected::Duplicate { peer: id(PEER), sequence: 5 });
    assert_eq!(m.peer(id(PEER)).unwrap().links_up, 0b01);
    // Round 9 (sent at 2600 ms) is within the timeout: a genuine late copy, and the link is up.
    assert_eq!(m.on_message(ms(2900), LinkId(1), &recording[9 - 1]), Ok(Accepted::LinkCopy));
    assert_eq!(events(&mut m), vec![EventKind::LinkUp { link: LinkId(1) }]);
}

/// The receiver restarts and loses its peer table. With the watermark it persisted, a
/// recording of the peer's frames (the peer being dead) cannot bring it up; without one, the
/// first authenticated frame of any generation is taken at face value — the gap `SECURITY.md`
/// describes and the watermark closes.
#[test]
fn recording_replayed_after_the_receiver_restarts_is_refused_with_a_watermark() {
    let (m, recording) = established(10);
    let mark = m.watermark(id(PEER)).unwrap();
    assert_eq!(mark, heartbeat_proto::Watermark { generation: Generation(3), sequence: 10 });
    drop(m);

    let mut restarted = Monitor::new(config(cluster_auth()).build().unwrap(), FixedTimeout::new(), ms(60_000));
    restarted.add_peer_after(id(PEER), mark).unwrap();
    assert_eq!(restarted.watermark(id(PEER)), Some(mark));
    for (i, frame) in recording.iter().enumerate() {
        let seq = i as u64 + 1;
        // All ten sit inside the window below the mark.
        assert_eq!(refused(&mut restarted, ms(60_000), frame), Rejected::Duplicate { peer: id(PEER), sequence: seq });
    }
    assert_eq!(
        refused(&mut restarted, ms(60_000), &seal(&cluster_auth(), &heartbeat(2, 50, ms(100)))),
        Rejected::StaleGeneration { peer: id(PEER), generation: Generation(2), current: Generation(3) }
    );
    assert_eq!(restarted.peer(id(PEER)).unwrap().liveness, Liveness::Waiting);
    // The peer itself, still alive, is heard again at once.
    let next = seal(&cluster_auth(), &heartbeat(3, 11, ms(60_000)));
    assert_eq!(restarted.on_message(ms(60_002), LinkId(0), &next), Ok(Accepted::Heartbeat));
    assert_eq!(events(&mut restarted), vec![EventKind::Up { generation: Generation(3) }]);
    assert_eq!(restarted.peer(id(PEER)).unwrap().stats.lost, 0);

    // Without the watermark, the recording is believed.
    let mut forgetful: TestMonitor =
        Monitor::new(config(cluster_auth()).build().unwrap(), FixedTimeout::new(), ms(60_000));
    forgetful.add_peer(id(PEER)).unwrap();
    assert_eq!(forgetful.on_message(ms(60_000), LinkId(0), &recording[0]), Ok(Accepted::Heartbeat));
}

// --- Time -----------------------------------------------------------------------------------

#[test]
fn timestamps_far_in_the_past_or_future_cannot_be_forged() {
    let (mut m, recording) = established(10);
    let genuine = seal(&cluster_auth(), &heartbeat(3, 11, ms(3000)));
    for forged_time in [0u64, 1, u64::MAX / 2, u64::MAX] {
        for field in [40..48, 48..56] {
            let mut frame = genuine.clone();
            frame[field].copy_from_slice(&forged_time.to_be_bytes());
            assert_eq!(refused(&mut m, ms(3000), &frame), Rejected::Auth(AuthError::BadTag(KeyId(1))));
        }
    }
    // A recorded frame re-stamped to "now" is still the old round: refused all the same.
    let mut restamped = recording[0].clone();
    restamped[40..48].copy_from_slice(&ms(3000).as_nanos().to_be_bytes());
    assert_eq!(refused(&mut m, ms(3000), &restamped), Rejected::Auth(AuthError::BadTag(KeyId(1))));
}

/// The sender's clock is opaque: even a genuine peer with a wild clock moves no deadline by
/// it (liveness runs on the receiver's clock), and an echo from the future yields no
/// round-trip sample.
#[test]
fn genuine_wild_timestamps_move_no_deadline() {
    let (mut m, _) = established(10);
    let rtt_before = m.peer(id(PEER)).unwrap().stats.rtt_us;
    for (seq, sent) in [(11, Instant::MAX), (12, Instant::ZERO)] {
        let msg =
            Message { echo: Some(Echo { timestamp: Instant::MAX, delay: Duration::ZERO }), ..heartbeat(3, seq, sent) };
        let arrival = ms(3000 + 200 * (seq - 11));
        assert_eq!(m.on_message(arrival, LinkId(0), &seal(&cluster_auth(), &msg)), Ok(Accepted::Heartbeat));
        let status = m.peer(id(PEER)).unwrap();
        assert_eq!(status.last_heard, Some(arrival));
        assert_eq!(m.poll_timeout(), Some(arrival + Duration::from_millis(300)), "suspect at half the timeout");
        assert_eq!(status.stats.rtt_us, rtt_before, "no sample from an echo in the future");
    }
}

// --- Forged liveness changes ----------------------------------------------------------------

#[test]
fn forged_goodbye_is_refused() {
    let (mut m, recording) = established(10);
    // Signed under a key the attacker made up.
    let attacker = Authentication::Hmac(ring(1, &[0x33; 32]));
    let forged = seal(&attacker, &goodbye(3, 11, ms(3000)));
    assert_eq!(refused(&mut m, ms(3000), &forged), Rejected::Auth(AuthError::BadTag(KeyId(1))));
    // Unsigned.
    let plain = seal(&Authentication::None, &goodbye(3, 11, ms(3000)));
    assert_eq!(refused(&mut m, ms(3000), &plain), Rejected::Auth(AuthError::Missing));
    // A recorded heartbeat turned into a goodbye: the kind byte is covered by the tag.
    let mut turned = recording[9].clone();
    turned[3] = 2;
    assert_eq!(refused(&mut m, ms(3000), &turned), Rejected::Auth(AuthError::BadTag(KeyId(1))));
    assert_eq!(m.peer(id(PEER)).unwrap().liveness, Liveness::Up);
}

#[test]
fn forged_restart_is_refused() {
    let (mut m, recording) = established(10);
    let mut newer = recording[9].clone();
    newer[12..16].copy_from_slice(&4u32.to_be_bytes());
    newer[32..40].copy_from_slice(&1u64.to_be_bytes());
    assert_eq!(refused(&mut m, ms(3000), &newer), Rejected::Auth(AuthError::BadTag(KeyId(1))));
    assert_eq!(m.peer(id(PEER)).unwrap().generation, Some(Generation(3)));
}

/// The advertised timeout decides how long a peer is trusted: it is covered by the tag.
#[test]
fn forged_timeout_advertisement_is_refused() {
    let (mut m, recording) = established(10);
    let mut longer = recording[9].clone();
    longer[32..40].copy_from_slice(&11u64.to_be_bytes());
    longer[64..68].copy_from_slice(&2_000_000u32.to_be_bytes());
    assert_eq!(refused(&mut m, ms(3000), &longer), Rejected::Auth(AuthError::BadTag(KeyId(1))));
    assert_eq!(m.peer(id(PEER)).unwrap().timeout, Duration::from_millis(600));
}

// --- Resources ------------------------------------------------------------------------------

#[test]
fn learning_requires_keys_and_an_unauthenticated_config_must_say_so() {
    let no_choice = Config::builder(CLUSTER, id(ME)).build().unwrap_err();
    assert_eq!(no_choice.field, "authentication");
    let learning_without_keys = config(Authentication::None).learning(Learning::Enabled).build().unwrap_err();
    assert_eq!(learning_without_keys.field, "learning");
    assert!(config(cluster_auth()).learning(Learning::Enabled).build().is_ok());
}

/// Without the key, a stranger cannot claim a slot even where learning is on.
#[test]
fn unknown_sender_without_the_key_is_not_learned() {
    let builder = config(cluster_auth()).learning(Learning::Enabled).max_peers(4);
    let mut m: TestMonitor = Monitor::new(builder.build().unwrap(), FixedTimeout::new(), Instant::ZERO);
    let stranger = Message { sender: id(50), ..heartbeat(1, 1, ms(10)) };
    let forged = seal(&Authentication::Hmac(ring(1, &[1; 32])), &stranger);
    assert_eq!(refused(&mut m, ms(10), &forged), Rejected::Auth(AuthError::BadTag(KeyId(1))));
    assert_eq!((m.len(), m.stats().learned), (0, 0));
}

/// A key holder can fill the table up to its cap and no further; the configured peer keeps
/// its slot.
#[test]
fn key_holder_cannot_learn_past_the_cap() {
    let builder = config(cluster_auth()).learning(Learning::Enabled).max_peers(4);
    let mut m: TestMonitor = Monitor::new(builder.build().unwrap(), FixedTimeout::new(), Instant::ZERO);
    m.add_peer(id(PEER)).unwrap();
    for n in 100..103 {
        let frame = seal(&cluster_auth(), &Message { sender: id(n), ..heartbeat(1, 1, ms(10)) });
        assert_eq!(m.on_message(ms(10), LinkId(0), &frame), Ok(Accepted::Heartbeat));
    }
    while m.poll_event().is_some() {}
    for n in 103..200 {
        let frame = seal(&cluster_auth(), &Message { sender: id(n), ..heartbeat(1, 1, ms(10)) });
        assert_eq!(refused(&mut m, ms(10), &frame), Rejected::PeerTableFull(id(n)));
    }
    assert_eq!((m.len(), m.stats().learned, m.stats().rejected_table_full), (4, 3, 97));
    assert!(m.peer(id(PEER)).is_some());
}

#[test]
fn frames_from_unknown_senders_are_refused_without_learning() {
    let (mut m, _) = established(10);
    for n in [3u64, 99, u64::MAX] {
        let frame = seal(&cluster_auth(), &Message { sender: id(n), ..heartbeat(3, 1, ms(3000)) });
        assert_eq!(refused(&mut m, ms(3000), &frame), Rejected::UnknownPeer(id(n)));
    }
}
