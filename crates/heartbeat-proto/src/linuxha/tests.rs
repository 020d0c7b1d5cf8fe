//! Golden bytes, round trips, rejections and the profile on two monitors.

use core::time::Duration;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::{ClusterId, EventKind, Fixed, FixedTimeout, Generation, Instant, LinkId, Monitor, NodeId};

/// The lab's `authkeys` (reference §4): sha1 selected, crc and md5 defined.
const LAB_KEYS: &str = "auth 1\n1 sha1 lha-test-secret\n2 crc\n3 md5 lha-md5-key\n";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn keys(selected: u8) -> AuthKeys {
    parse_authkeys(&LAB_KEYS.replace("auth 1", &std::format!("auth {selected}"))).unwrap()
}

/// The real daemon's first packet (reference §2.4, 309 bytes): `st=init seq=1`, sha1 key 1.
/// Both digests in it were recomputed with Python's `hmac` over the same bytes.
const CAPTURED: &str = "2323230a31313a283029743d7374617475732c31303a28302973743d696e69742c393a28302964743d6661302c31333a28302970726f746f636f6c3d312c31343a2830297372633d68626e6f6465312c32373a283129737263757569643deb16277ab0d7475eaf0bbcfc5e58663f2c383a2830297365713d312c31343a28302968673d36623037363835612c31343a28302974733d36623037363835392c33323a2830296c643d302e363620302e353420302e323420312f3130382031353834392c383a28302974746c3d332c35303a283029617574683d3120326566303332373866643366383862613439303638323231303339623936353237666664306266662c2525250a34323a3120656432356639646261396136396634316132346230363930313863626434653433353764663766352c";

/// Vectors computed independently with Python (`hmac`, `hashlib`, a bitwise CRC-32/POSIX):
/// the same status from hbnode2 in netstring framing with crc (key 2) and md5 (key 3).
const NETSTRING_CRC: &str = "2323230a31313a283029743d7374617475732c31323a28302973743d6163746976652c393a28302964743d3764302c31343a2830297372633d68626e6f6465322c32373a283129737263757569643deb16277ab0d7475eaf0bbcfc5e58663f2c393a2830297365713d32612c373a28302968673d332c31343a28302974733d36623037363837302c33303a2830296c643d302e303120302e303220302e303320312f393920343234322c383a28302974746c3d332c31373a283029617574683d3220383465653033302c2525250a31303a322064386634326138352c";
const NETSTRING_MD5: &str = "2323230a31313a283029743d7374617475732c31323a28302973743d6163746976652c393a28302964743d3764302c31343a2830297372633d68626e6f6465322c32373a283129737263757569643deb16277ab0d7475eaf0bbcfc5e58663f2c393a2830297365713d32612c373a28302968673d332c31343a28302974733d36623037363837302c33303a2830296c643d302e303120302e303220302e303320312f393920343234322c383a28302974746c3d332c34323a283029617574683d332036383933613033393732366464326562393235643031336332396430323036312c2525250a33343a332061376430353736666434373665303632306631396562346331633034326566362c";
const CLASSIC_BODY: &str = ">>>\nt=status\nst=active\ndt=7d0\nsrc=hbnode2\n(1)srcuuid=6xYnerDXR16vC7z8XlhmPw==\nseq=2a\nhg=3\nts=6b076870\nld=0.01 0.02 0.03 1/99 4242\nttl=3\n";
const CLASSIC_MD5_AUTH: &str = "auth=3 6893a039726dd2eb925d013c29d02061\n<<<\n";
const CLASSIC_CRC_AUTH: &str = "auth=2 84ee030\n<<<\n";
const UUID: [u8; 16] = [0xeb, 0x16, 0x27, 0x7a, 0xb0, 0xd7, 0x47, 0x5e, 0xaf, 0x0b, 0xbc, 0xfc, 0x5e, 0x58, 0x66, 0x3f];

fn names() -> profile::NodeNames<4> {
    profile::NodeNames::numbered(["hbnode1", "hbnode2"]).unwrap()
}

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

#[test]
fn the_captured_packet_decodes_and_verifies() {
    let bytes = hex(CAPTURED);
    assert_eq!(bytes.len(), 309);
    let msg = Message::decode(&bytes).unwrap();
    assert_eq!(msg.framing(), Framing::Netstring);
    let names: Vec<_> = msg.fields().iter().map(|f| f.name).collect();
    assert_eq!(names, ["t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl", "auth"]);
    assert_eq!(msg.get("srcuuid"), Some(Value::Binary(&UUID)));
    assert_eq!(msg.trailer(), Some("1 ed25f9dba9a69f41a24b069018cbd4e4357df7f5"));
    assert_eq!(msg.verify(&keys(1)), Ok(1));
    let status = profile::Status::from_message(&msg).unwrap();
    assert_eq!(
        (status.src, status.st, status.seq, status.hg, status.ts),
        ("hbnode1", Some("init"), 1, 0x6b07685a, 0x6b076859)
    );
    assert_eq!((status.dt, status.ttl, status.protocol), (Some(Duration::from_millis(4000)), Some(3), Some(1)));
    assert_eq!(status.srcuuid, Some(UUID));
    assert_eq!(status.ld, Some("0.66 0.54 0.24 1/108 15849"));
}

#[test]
fn our_encoder_reproduces_the_captured_packet_byte_for_byte() {
    let mut hb1 = LinuxHa::new(
        names(),
        "hbnode1",
        keys(1),
        Duration::from_millis(500),
        Duration::from_millis(4000),
        Generation(0x6b07685a),
    )
    .unwrap()
    .with_uuid(UUID)
    .with_flow_control(true);
    let mut buf = [0u8; 512];
    let n = hb1.encode_status("init", 0x6b076859, "0.66 0.54 0.24 1/108 15849", &mut buf).unwrap();
    assert_eq!(&buf[..n], &hex(CAPTURED)[..]);
    assert_eq!(hb1.last_sequence(), 1);
}

#[test]
fn python_vectors_for_crc_and_md5_match_in_both_framings() {
    let fields = [
        Field::text("t", "status"),
        Field::text("st", "active"),
        Field::text("dt", "7d0"),
        Field::text("src", "hbnode2"),
        Field::binary("srcuuid", &UUID),
        Field::text("seq", "2a"),
        Field::text("hg", "3"),
        Field::text("ts", "6b076870"),
        Field::text("ld", "0.01 0.02 0.03 1/99 4242"),
        Field::text("ttl", "3"),
    ];
    let mut buf = [0u8; 512];
    for (selected, netstring, classic_auth) in
        [(2, NETSTRING_CRC, CLASSIC_CRC_AUTH), (3, NETSTRING_MD5, CLASSIC_MD5_AUTH)]
    {
        let n = encode_netstring(&fields, &keys(selected), &mut buf).unwrap();
        assert_eq!(&buf[..n], &hex(netstring)[..], "netstring, key {selected}");
        let classic = std::format!("{CLASSIC_BODY}{classic_auth}");
        let n = encode_classic(&fields, &keys(selected), &mut buf).unwrap();
        assert_eq!(&buf[..n], classic.as_bytes(), "classic, key {selected}");
        // Any defined index verifies, whichever is selected for sending.
        for bytes in [hex(netstring), classic.into_bytes()] {
            let msg = Message::decode(&bytes).unwrap();
            assert_eq!(msg.verify(&keys(1)), Ok(selected));
            assert_eq!(msg.binary::<16>("srcuuid"), Ok(Some(UUID)));
            assert_eq!(msg.hex("seq"), Ok(Some(0x2a)));
        }
    }
}

#[test]
fn every_tampered_byte_of_the_capture_is_refused() {
    let bytes = hex(CAPTURED);
    let keys = keys(1);
    for i in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        let verdict =
            Message::decode(&tampered).map_err(Rejection::from).and_then(|m| m.verify(&keys).map_err(Rejection::from));
        assert!(verdict.is_err(), "byte {i} flipped and accepted");
    }
}

#[test]
fn an_inner_auth_is_not_what_a_netstring_is_checked_by() {
    // Classic: the `auth` field is checked; a wrong one is refused.
    let forged = std::format!("{CLASSIC_BODY}auth=3 00000000000000000000000000000000\n<<<\n");
    assert_eq!(Message::decode(forged.as_bytes()).unwrap().verify(&keys(1)), Err(AuthError::Mismatch(3)));
    let missing = std::format!("{CLASSIC_BODY}<<<\n");
    assert_eq!(Message::decode(missing.as_bytes()).unwrap().verify(&keys(1)), Err(AuthError::Missing));
    let unknown = std::format!("{CLASSIC_BODY}auth=7 84ee030\n<<<\n");
    assert_eq!(Message::decode(unknown.as_bytes()).unwrap().verify(&keys(1)), Err(AuthError::UnknownKey(7)));
}

#[test]
fn every_malformation_is_a_typed_error() {
    use DecodeError::*;
    let ok = hex(CAPTURED);
    let cases: Vec<(Vec<u8>, DecodeError)> = std::vec![
        (b"".to_vec(), UnknownFraming),
        (b"##\n".to_vec(), UnknownFraming),
        (b"GET / HTTP/1.0\r\n".to_vec(), UnknownFraming),
        (std::vec![b'#'; MAX_MESSAGE_LEN + 1], TooLong(MAX_MESSAGE_LEN + 1)),
        (b"###\nx:(0)t=a,%%%\n3:1 0,".to_vec(), BadLength { at: 4 }),
        (b"###\n:(0)t=a,%%%\n3:1 0,".to_vec(), BadLength { at: 4 }),
        (b"###\n123456:(0)t=a,%%%\n3:1 0,".to_vec(), BadLength { at: 4 }),
        (b"###\n99:(0)t=a,%%%\n3:1 0,".to_vec(), LengthOverrun { at: 4 }),
        (b"###\n6:(0)t=a;%%%\n3:1 0,".to_vec(), MissingComma { at: 12 }),
        (b"###\n6:(0)t=a,".to_vec(), MissingEnd),
        (b"###\n6:(0)t=a,%%%\n".to_vec(), MissingTrailer),
        (b"###\n6:(0)t=a,%%%\n3:1 0,x".to_vec(), TrailingBytes { at: 23 }),
        (b"###\n6:(9)t=a,%%%\n3:1 0,".to_vec(), BadTypeTag { at: 4 }),
        (b"###\n6:<0>t=a,%%%\n3:1 0,".to_vec(), BadTypeTag { at: 4 }),
        (b"###\n6:(0)tta,%%%\n3:1 0,".to_vec(), MissingEquals { at: 4 }),
        (b"###\n6:(0)=ab,%%%\n3:1 0,".to_vec(), EmptyName { at: 4 }),
        (b"###\n6:(0)t=\xff,%%%\n3:1 0,".to_vec(), NotUtf8 { at: 4 }),
        (b"###\n6:(0)t=a,6:(0)t=b,%%%\n3:1 0,".to_vec(), DuplicateField { at: 13 }),
        (b">>>\nt=a\n".to_vec(), MissingEnd),
        (b">>>\nt=a\n<<<\nmore".to_vec(), TrailingBytes { at: 12 }),
        (b">>>\nta\n<<<\n".to_vec(), MissingEquals { at: 4 }),
        (b">>>\n(1)u=!!!!\n<<<\n".to_vec(), BadBase64 { at: 4 }),
        (b">>>\n(x)u=a\n<<<\n".to_vec(), BadTypeTag { at: 4 }),
        (b">>>\n(01)u=a\n<<<\n".to_vec(), BadTypeTag { at: 4 }),
        (b">>>\n(1u=a\n<<<\n".to_vec(), BadTypeTag { at: 4 }),
        (b"###\n7:(00)t=a,%%%\n3:1 0,".to_vec(), BadTypeTag { at: 4 }),
        (b"###\n2:(0,%%%\n3:1 0,".to_vec(), BadTypeTag { at: 4 }),
        (b">>>\nt=\xfe\n<<<\n".to_vec(), NotUtf8 { at: 4 }),
        (b">>>\nt=a\nt=b\n<<<\n".to_vec(), DuplicateField { at: 8 }),
        (
            (b">>>\n"
                .iter()
                .copied()
                .chain((0..=MAX_FIELDS).flat_map(|i| std::format!("f{i}=v\n").into_bytes()))
                .chain(*b"<<<\n"))
            .collect(),
            TooManyFields
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(Message::decode(&bytes), Err(want), "{:?}", std::string::String::from_utf8_lossy(&bytes));
    }
    assert!(Message::decode(&ok).is_ok());
    // A classic message may end with the C string's NUL.
    assert!(Message::decode(b">>>\nt=a\n<<<\n\0").is_ok());
}

#[test]
fn status_requirements_are_typed_rejections() {
    let keys = keys(2);
    let profile = LinuxHa::new(
        names(),
        "hbnode1",
        keys.clone(),
        Duration::from_millis(500),
        Duration::from_secs(2),
        Generation(1),
    )
    .unwrap();
    let base = [("t", "status"), ("st", "up"), ("src", "hbnode2"), ("seq", "1"), ("ts", "5"), ("hg", "2")];
    let with = |change: &[(&'static str, Option<&'static str>)]| {
        let mut fields: Vec<Field<'_>> = Vec::new();
        for (name, value) in base {
            match change.iter().find(|(n, _)| *n == name) {
                Some((_, Some(v))) => fields.push(Field::text(name, v)),
                Some((_, None)) => {}
                None => fields.push(Field::text(name, value)),
            }
        }
        for (name, value) in change {
            if let Some(v) = value
                && !base.iter().any(|(n, _)| n == name)
            {
                fields.push(Field::text(name, v));
            }
        }
        let mut buf = [0u8; 512];
        let n = encode_netstring(&fields, &keys, &mut buf).unwrap();
        profile.observation(&buf[..n])
    };
    assert!(with(&[]).is_ok());
    assert_eq!(with(&[("t", Some("NS_ackmsg"))]), Err(Rejection::NotLiveness));
    assert_eq!(with(&[("t", None)]), Err(FieldError::Missing("t").into()));
    assert_eq!(with(&[("st", None)]), Err(FieldError::Missing("st").into()));
    assert_eq!(with(&[("src", None)]), Err(FieldError::Missing("src").into()));
    assert_eq!(with(&[("src", Some("intruder"))]), Err(Rejection::UnknownNode));
    assert_eq!(with(&[("seq", None)]), Err(FieldError::Missing("seq").into()));
    assert_eq!(with(&[("seq", Some("0"))]), Err(Rejection::Zero("seq")));
    assert_eq!(with(&[("seq", Some("0x1"))]), Err(FieldError::BadNumber("seq").into()));
    assert_eq!(with(&[("ts", Some("0"))]), Err(Rejection::Zero("ts")));
    assert_eq!(with(&[("ts", None)]), Err(FieldError::Missing("ts").into()));
    assert_eq!(with(&[("hg", Some("100000000"))]), Err(Rejection::GenerationOutOfRange(0x1_0000_0000)));
    assert_eq!(with(&[("dt", Some("two"))]), Err(FieldError::BadNumber("dt").into()));
    assert_eq!(with(&[("ttl", Some("ff"))]), Err(FieldError::BadNumber("ttl").into()));
    assert_eq!(with(&[("srcuuid", Some("short"))]), Err(FieldError::BadBinary("srcuuid").into()));
    // Absent `hg` is generation 0; absent `dt` is our own deadtime.
    let obs = with(&[("hg", None)]).unwrap();
    assert_eq!((obs.generation, obs.requested_timeout), (Generation(0), Duration::from_secs(2)));
    let obs = with(&[("dt", Some("1388"))]).unwrap();
    assert_eq!(obs.requested_timeout, Duration::from_millis(5000));
    assert_eq!(obs.sent_at, Instant::from_secs(5));
    assert_eq!(with(&[("st", Some("dead"))]).unwrap().kind, crate::ObservationKind::Goodbye);
}

#[test]
fn receive_counts_each_refusal_and_keys_outside_authkeys_fail() {
    let mut hb1 =
        LinuxHa::new(names(), "hbnode1", keys(1), Duration::from_millis(500), Duration::from_secs(2), Generation(1))
            .unwrap();
    let other = parse_authkeys("auth 1\n1 sha1 another-secret\n").unwrap();
    let mut hb2 =
        LinuxHa::new(names(), "hbnode2", other, Duration::from_millis(500), Duration::from_secs(2), Generation(1))
            .unwrap();
    let mut buf = [0u8; 512];
    let n = hb2.encode_status("active", 100, "0.00", &mut buf).unwrap();
    assert_eq!(hb1.receive(&buf[..n]), Err(Rejection::Auth(AuthError::Mismatch(1))));
    assert_eq!(hb1.receive(b"junk"), Err(Rejection::Malformed(DecodeError::UnknownFraming)));
    assert_eq!((hb1.stats().unauthentic, hb1.stats().malformed, hb1.stats().observed), (1, 1, 0));
}

#[test]
fn encoding_into_a_short_buffer_says_exactly_how_much_it_needs() {
    let mut hb1 =
        LinuxHa::new(names(), "hbnode1", keys(1), Duration::from_millis(500), Duration::from_secs(2), Generation(9))
            .unwrap();
    let mut big = [0u8; 512];
    let mut small = [0u8; 100];
    let err = hb1.encode_status("up", 1, "0.00", &mut small).unwrap_err();
    assert_eq!(hb1.last_sequence(), 0, "a failed encode takes no sequence number");
    let n = hb1.encode_status("up", 1, "0.00", &mut big).unwrap();
    assert_eq!(err, EncodeError::BufferTooSmall(crate::BufferTooSmall { need: n, have: 100 }));
    let mut exact = std::vec![0u8; n];
    let mut again =
        LinuxHa::new(names(), "hbnode1", keys(1), Duration::from_millis(500), Duration::from_secs(2), Generation(9))
            .unwrap();
    assert_eq!(again.encode_status("up", 1, "0.00", &mut exact), Ok(n));
    assert_eq!(exact[..], big[..n]);
    assert_eq!(encode_netstring(&[Field::text("a=b", "c")], &keys(1), &mut big), Err(EncodeError::BadName));
    assert_eq!(encode_netstring(&[Field::text("auth", "c")], &keys(1), &mut big), Err(EncodeError::DuplicateField));
    assert_eq!(encode_netstring(&[Field::text("a", "c\n")], &keys(1), &mut big), Err(EncodeError::BadValue));
}

const LAB_HA_CF: &str = "keepalive 500ms\nwarntime 1\ndeadtime 2\ninitdead 4\nudpport 694\nnode hbnode1 hbnode2\n";

fn monitor(me: u64) -> Monitor<FixedTimeout, Fixed<4>> {
    let cf = HaCf::parse(LAB_HA_CF).unwrap();
    let config = cf.monitor_config(ClusterId(0), id(me)).build().unwrap();
    assert_eq!(config.timeout_bounds(), (Duration::from_secs(1), Duration::from_secs(4)));
    let mut m = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    m.add_peer(id(if me == 1 { 2 } else { 1 })).unwrap();
    m
}

fn events(m: &mut Monitor<FixedTimeout, Fixed<4>>) -> Vec<EventKind> {
    core::iter::from_fn(|| m.poll_event()).map(|e| e.kind).collect()
}

#[test]
fn two_profiles_on_two_monitors_up_down_left_restarted() {
    let cf = HaCf::parse(LAB_HA_CF).unwrap();
    let new = |me, g| LinuxHa::<4>::from_ha_cf(&cf, me, keys(1), Generation(g)).unwrap();
    let (mut hb1, mut hb2) = (new("hbnode1", 7), new("hbnode2", 3));
    let (mut m1, mut m2) = (monitor(1), monitor(2));
    let mut buf = [0u8; 512];
    let mut now = Instant::from_secs(1);
    // Both beat for 3 s: each comes up at the other.
    for _ in 0..6 {
        let n = hb1.encode_status("active", now.as_nanos() / 1_000_000_000, "0.00", &mut buf).unwrap();
        m2.observe(now, LinkId(0), &hb2.receive(&buf[..n]).unwrap()).unwrap();
        let n = hb2.encode_status("active", now.as_nanos() / 1_000_000_000, "0.00", &mut buf).unwrap();
        m1.observe(now, LinkId(0), &hb1.receive(&buf[..n]).unwrap()).unwrap();
        m1.tick(now);
        m2.tick(now);
        now = now + cf.keepalive;
    }
    assert_eq!(events(&mut m1), [EventKind::Up { generation: Generation(3) }]);
    assert_eq!(events(&mut m2), [EventKind::Up { generation: Generation(7) }]);
    // A replay of an accepted packet is a duplicate, refused by the engine.
    let n = hb2.encode_status("active", 9, "0.00", &mut buf).unwrap();
    let copy = buf[..n].to_vec();
    let last = now;
    m1.observe(now, LinkId(0), &hb1.receive(&copy).unwrap()).unwrap();
    assert!(matches!(m1.observe(now, LinkId(0), &hb1.receive(&copy).unwrap()), Err(crate::Rejected::Duplicate { .. })));
    // hbnode2 falls silent: down exactly at the last heartbeat plus its dt (2 s).
    m1.tick(last + cf.deadtime - Duration::from_millis(1));
    assert!(!events(&mut m1).iter().any(|e| matches!(e, EventKind::Down { .. })));
    m1.tick(last + cf.deadtime);
    let down = EventKind::Down { last_heard: Some(last), deadline: last + cf.deadtime };
    assert!(events(&mut m1).contains(&down));
    // It restarts with a higher generation (as `hg` kept across restarts): a restart.
    now = last + Duration::from_secs(3);
    let mut hb2 = new("hbnode2", profile::next_generation(Some(Generation(3))).0);
    let n = hb2.encode_status("up", 20, "0.00", &mut buf).unwrap();
    m1.observe(now, LinkId(0), &hb1.receive(&buf[..n]).unwrap()).unwrap();
    let kinds = events(&mut m1);
    assert!(kinds.contains(&EventKind::Restarted { previous: Generation(3), generation: Generation(4) }), "{kinds:?}");
    // A stale (lower) generation is a replay.
    let n = new("hbnode2", 3).encode_status("up", 21, "0.00", &mut buf).unwrap();
    assert!(matches!(
        m1.observe(now, LinkId(0), &hb1.receive(&buf[..n]).unwrap()),
        Err(crate::Rejected::StaleGeneration { .. })
    ));
    // hbnode1 shuts down: hbnode2's monitor reports a leave at once.
    let n = hb1.encode_shutdone(30, "0.00", &mut buf).unwrap();
    let bye = hb2.receive(&buf[..n]).unwrap();
    assert_eq!(bye.kind, crate::ObservationKind::Goodbye);
    let mut m2 = m2;
    events(&mut m2);
    m2.observe(now, LinkId(0), &bye).unwrap();
    assert!(events(&mut m2).contains(&EventKind::Left));
}

#[test]
fn a_peer_asking_for_a_long_deadtime_is_clamped_to_our_bounds() {
    let names = names();
    let mut hb2 = LinuxHa::new(
        names.clone(),
        "hbnode2",
        keys(1),
        Duration::from_millis(500),
        Duration::from_secs(30),
        Generation(1),
    )
    .unwrap();
    let hb1 =
        LinuxHa::new(names, "hbnode1", keys(1), Duration::from_millis(500), Duration::from_secs(2), Generation(1))
            .unwrap();
    let mut m1 = monitor(1);
    let mut buf = [0u8; 512];
    let t = Instant::from_secs(1);
    let n = hb2.encode_status("active", 1, "0.00", &mut buf).unwrap();
    let obs = hb1.observation(&buf[..n]).unwrap();
    assert_eq!(obs.requested_timeout, Duration::from_secs(30));
    m1.observe(t, LinkId(0), &obs).unwrap();
    // Clamped to our upper bound, max(initdead, deadtime) = 4 s, not the 30 s it asked for.
    let is_down = |e: &EventKind| matches!(e, EventKind::Down { .. });
    m1.tick(t + Duration::from_secs(4) - Duration::from_millis(1));
    assert!(!events(&mut m1).iter().any(is_down));
    m1.tick(t + Duration::from_secs(4));
    let down = EventKind::Down { last_heard: Some(t), deadline: t + Duration::from_secs(4) };
    assert!(events(&mut m1).contains(&down));
}

fn field_strategy() -> impl Strategy<Value = (std::string::String, bool, Vec<u8>)> {
    ("[a-z][a-z0-9_]{0,8}", any::<bool>(), proptest::collection::vec(any::<u8>(), 0..24))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let keys = keys(1);
        if let Ok(msg) = Message::decode(&bytes) {
            let _ = msg.verify(&keys);
            let _ = profile::Status::from_message(&msg);
        }
    }

    #[test]
    fn mutated_captures_never_panic(i in 0usize..309, b in any::<u8>(), cut in 0usize..310) {
        let mut bytes = hex(CAPTURED);
        bytes[i] = b;
        bytes.truncate(cut);
        if let Ok(msg) = Message::decode(&bytes) {
            let _ = msg.verify(&keys(1));
        }
    }

    #[test]
    fn field_lists_round_trip_in_both_framings(
        raw in proptest::collection::vec(field_strategy(), 0..10),
        selected in 1u8..=3,
    ) {
        let mut seen = std::collections::HashSet::new();
        let raw: Vec<_> = raw.into_iter().filter(|(n, _, _)| n != "auth" && seen.insert(n.clone())).collect();
        let texts: Vec<std::string::String> = raw.iter().map(|(_, _, v)| v.iter().map(|b| char::from(b'a' + b % 26)).collect()).collect();
        let fields: Vec<Field<'_>> = raw.iter().zip(&texts).map(|((n, binary, v), t)| {
            if *binary { Field::binary(n, v) } else { Field::text(n, t) }
        }).collect();
        let keys = keys(selected);
        let mut buf = std::vec![0u8; 4096];
        let n = encode_netstring(&fields, &keys, &mut buf).unwrap();
        let msg = Message::decode(&buf[..n]).unwrap();
        prop_assert_eq!(msg.verify(&keys), Ok(selected));
        let decoded: Vec<Field<'_>> = msg.payload_fields().copied().collect();
        prop_assert_eq!(&decoded, &fields);
        // Classic: same fields once base64 is decoded, and re-encoding it as netstring gives
        // the very same bytes.
        let mut cbuf = std::vec![0u8; 8192];
        let c = encode_classic(&fields, &keys, &mut cbuf).unwrap();
        let classic = Message::decode(&cbuf[..c]).unwrap();
        prop_assert_eq!(classic.verify(&keys), Ok(selected));
        let refields: Vec<Field<'_>> = classic.payload_fields().copied().collect();
        let mut again = std::vec![0u8; 4096];
        let m = encode_netstring(&refields, &keys, &mut again).unwrap();
        prop_assert_eq!(&again[..m], &buf[..n]);
    }
}

proptest! {
    #[test]
    fn arbitrary_config_texts_never_panic(text in "(\\PC{0,12}[ \t\n]){0,12}", words in proptest::collection::vec(
        proptest::sample::select(std::vec!["auth", "1", "16", "sha1", "md5", "crc", "keepalive", "deadtime", "initdead",
            "warntime", "500ms", "2", "1.5us", "node", "ucast", "mcast", "bcast", "eth0", "225.0.0.1", "10.0.0.1",
            "694", "auto_failback", "on", "#", "\n", " "]), 0..40)) {
        let joined: std::string::String = words.join(" ");
        for t in [text.as_str(), joined.as_str()] {
            let _ = HaCf::parse(t);
            let _ = parse_authkeys(t);
            let _ = config::parse_time(t);
        }
    }
}

#[test]
fn a_classic_heartbeat_is_an_observation_too() {
    let hb1 =
        LinuxHa::new(names(), "hbnode1", keys(1), Duration::from_millis(500), Duration::from_secs(2), Generation(1))
            .unwrap();
    for auth in [CLASSIC_MD5_AUTH, CLASSIC_CRC_AUTH] {
        let bytes = std::format!("{CLASSIC_BODY}{auth}");
        let obs = hb1.observation(bytes.as_bytes()).unwrap();
        assert_eq!((obs.peer, obs.generation, obs.sequence), (id(2), Generation(3), 0x2a));
        assert_eq!((obs.requested_timeout, obs.interval), (Duration::from_millis(2000), Duration::from_millis(500)));
        assert_eq!(obs.sent_at, Instant::from_secs(0x6b076870));
        // The same lines with one value changed no longer match their `auth` field.
        let forged = bytes.replace("seq=2a", "seq=2b");
        assert!(matches!(hb1.observation(forged.as_bytes()), Err(Rejection::Auth(AuthError::Mismatch(_)))));
    }
}
