//! Golden bytes, every rejection path, and round trips.

use super::*;
use core::time::Duration;
use proptest::prelude::*;

use crate::time::Instant;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// A heartbeat with a distinct value in every byte of every field, so that a misplaced field
/// shows in the golden bytes.
fn golden_message() -> Message {
    Message {
        kind: Kind::Heartbeat,
        cluster: ClusterId(0x0A0B_0C0D),
        sender: id(0x1112_1314_1516_1718),
        receiver: Some(id(0x2122_2324_2526_2728)),
        generation: Generation(0x3132_3334),
        sequence: 0x4142_4344_4546_4748,
        timestamp: Instant::from_nanos(0x5152_5354_5556_5758),
        echo: Some(Echo {
            timestamp: Instant::from_nanos(0x6162_6364_6566_6768),
            delay: Duration::from_micros(0x7172_7374),
        }),
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: Some(Duration::from_secs(1)),
        hears_you: true,
        auth: None,
    }
}

#[rustfmt::skip]
static GOLDEN_BYTES: [u8; 72] = [
    0x48, 0x42, 0x01, 0x01, 0x03, 0x00, 0x00, 0x48, // magic "HB", v1, heartbeat, ECHO|HEARS_YOU, reserved, length 72
    0x0A, 0x0B, 0x0C, 0x0D, 0x31, 0x32, 0x33, 0x34, // cluster, generation
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // sender
    0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, // receiver
    0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, // sequence
    0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, // timestamp
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, // echo timestamp
    0x71, 0x72, 0x73, 0x74, 0x00, 0x03, 0x0D, 0x40, // echo delay, interval 200 000 µs
    0x00, 0x09, 0x27, 0xC0, 0x00, 0x0F, 0x42, 0x40, // requested 600 000 µs, applied 1 000 000 µs
];

fn golden_goodbye() -> Message {
    Message {
        kind: Kind::Goodbye,
        cluster: ClusterId(1),
        sender: id(2),
        receiver: None,
        generation: Generation(3),
        sequence: 4,
        timestamp: Instant::from_nanos(5),
        echo: None,
        interval: Duration::from_micros(6),
        requested_timeout: Duration::from_micros(7),
        applied_timeout: None,
        hears_you: false,
        auth: Some(AuthHeader { scheme: 1, key_id: 9, tag_len: 16 }),
    }
}

#[rustfmt::skip]
static GOLDEN_GOODBYE: [u8; 92] = [
    0x48, 0x42, 0x01, 0x02, 0x04, 0x00, 0x00, 0x5C, // goodbye, AUTH, length 92
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, // cluster 1, generation 3
    0, 0, 0, 0, 0, 0, 0, 2,                         // sender 2
    0, 0, 0, 0, 0, 0, 0, 0,                         // receiver: every node
    0, 0, 0, 0, 0, 0, 0, 4,                         // sequence 4
    0, 0, 0, 0, 0, 0, 0, 5,                         // timestamp 5 ns
    0, 0, 0, 0, 0, 0, 0, 0,                         // no echo
    0, 0, 0, 0, 0, 0, 0, 6,                         // no echo delay, interval 6 µs
    0, 0, 0, 7, 0, 0, 0, 0,                         // requested 7 µs, no applied timeout
    0x01, 0x09, 0x10, 0x00,                         // HMAC-SHA256, key 9, 16-byte tag, reserved
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // tag, left zero by the encoder
];

#[test]
fn encodes_the_golden_bytes() {
    let mut buf = [0xa5u8; 100];
    let len = golden_message().encode(&mut buf).unwrap();
    assert_eq!(&buf[..len], &GOLDEN_BYTES[..]);
    assert!(buf[len..].iter().all(|b| *b == 0xa5), "wrote past the frame");
    let len = golden_goodbye().encode(&mut buf).unwrap();
    assert_eq!(&buf[..len], &GOLDEN_GOODBYE[..]);
}

#[test]
fn decodes_the_golden_bytes() {
    assert_eq!(Message::decode(&GOLDEN_BYTES), Ok(golden_message()));
    assert_eq!(Message::decode(&GOLDEN_GOODBYE), Ok(golden_goodbye()));
    let frame = Frame::new_checked(&GOLDEN_GOODBYE[..]).unwrap();
    let trailer = frame.auth_trailer().unwrap();
    assert_eq!((trailer.scheme, trailer.key_id, trailer.tag.len()), (1, 9, 16));
    assert_eq!(frame.authenticated_bytes(), &GOLDEN_GOODBYE[..76]);
}

#[test]
fn getters_read_each_field_in_place() {
    let f = Frame::new_checked(&GOLDEN_BYTES[..]).unwrap();
    assert_eq!(f.magic(), MAGIC);
    assert_eq!(f.version(), 1);
    assert_eq!(f.kind_raw(), 1);
    assert_eq!(f.flags(), flags::ECHO | flags::HEARS_YOU);
    assert_eq!(f.length(), 72);
    assert_eq!(f.cluster(), 0x0A0B_0C0D);
    assert_eq!(f.generation(), 0x3132_3334);
    assert_eq!(f.sender(), 0x1112_1314_1516_1718);
    assert_eq!(f.receiver(), 0x2122_2324_2526_2728);
    assert_eq!(f.sequence(), 0x4142_4344_4546_4748);
    assert_eq!(f.timestamp(), 0x5152_5354_5556_5758);
    assert_eq!(f.echo_timestamp(), 0x6162_6364_6566_6768);
    assert_eq!(f.echo_delay_us(), 0x7172_7374);
    assert_eq!(f.interval_us(), 200_000);
    assert_eq!(f.requested_timeout_us(), 600_000);
    assert_eq!(f.applied_timeout_us(), 1_000_000);
    assert_eq!(f.auth_trailer(), None);
}

#[test]
fn truncation_at_every_byte_is_a_typed_error() {
    for frame in [&GOLDEN_BYTES[..], &GOLDEN_GOODBYE[..]] {
        for len in 0..frame.len() {
            let err = Message::decode(&frame[..len]).unwrap_err();
            assert!(matches!(err, DecodeError::Truncated { len: l, .. } if l == len), "{len}: {err:?}");
        }
    }
}

/// Applies `corrupt` to a copy of the golden frame and decodes it.
fn decode_corrupted(corrupt: impl FnOnce(&mut [u8])) -> Result<Message, DecodeError> {
    let mut bytes = GOLDEN_BYTES;
    corrupt(&mut bytes);
    Message::decode(&bytes)
}

/// A named corruption of the golden frame and the error it must produce.
type Case = (&'static str, fn(&mut [u8]), DecodeError);

#[test]
fn each_malformation_has_its_own_error() {
    use DecodeError::*;
    let cases: [Case; 14] = [
        ("bad magic", |b| b[0] = 0x00, BadMagic(0x0042)),
        ("unknown version", |b| b[2] = 2, UnsupportedVersion(2)),
        ("unknown kind", |b| b[3] = 9, UnknownKind(9)),
        ("kind zero", |b| b[3] = 0, UnknownKind(0)),
        ("reserved flag", |b| b[4] |= 0x80, ReservedBitsSet),
        ("reserved byte", |b| b[5] = 1, ReservedBitsSet),
        ("length too short", |b| b[7] = 71, TrailingBytes { declared: 71, actual: 72 }),
        ("length too long", |b| b[7] = 73, Truncated { len: 72, needed: 73 }),
        ("zero sender", |b| b[16..24].fill(0), FieldOutOfRange(Field::Sender)),
        ("receiver is sender", |b| b.copy_within(16..24, 24), FieldOutOfRange(Field::Receiver)),
        ("zero interval", |b| b[60..64].fill(0), FieldOutOfRange(Field::Interval)),
        (
            "timeout below interval",
            |b| b[64..68].copy_from_slice(&1u32.to_be_bytes()),
            FieldOutOfRange(Field::RequestedTimeout),
        ),
        ("echo without flag", |b| b[4] = flags::HEARS_YOU, FieldOutOfRange(Field::Echo)),
        ("auth flag, no trailer", |b| b[4] |= flags::AUTH, BadLength { declared: 72 }),
    ];
    for (name, corrupt, expected) in cases {
        assert_eq!(decode_corrupted(corrupt), Err(expected), "{name}");
    }
}

#[test]
fn frames_to_every_node_carry_no_per_receiver_fields() {
    let to_all = |corrupt: fn(&mut [u8])| {
        decode_corrupted(|b| {
            b[24..32].fill(0);
            b[4] = 0;
            b[48..60].fill(0);
            b[68..72].fill(0);
            corrupt(b);
        })
    };
    assert!(to_all(|_| {}).is_ok());
    assert_eq!(to_all(|b| b[4] = flags::HEARS_YOU), Err(DecodeError::FieldOutOfRange(Field::HearsYou)));
    assert_eq!(
        to_all(|b| {
            b[4] = flags::ECHO;
            b[55] = 1;
        }),
        Err(DecodeError::FieldOutOfRange(Field::Echo))
    );
    assert_eq!(to_all(|b| b[71] = 1), Err(DecodeError::FieldOutOfRange(Field::AppliedTimeout)));
}

#[test]
fn trailing_garbage_and_bad_trailers_are_rejected() {
    let mut long = [0u8; 73];
    long[..72].copy_from_slice(&GOLDEN_BYTES);
    assert_eq!(Message::decode(&long), Err(DecodeError::TrailingBytes { declared: 72, actual: 73 }));

    let bad_trailer = |corrupt: fn(&mut [u8])| {
        let mut b = GOLDEN_GOODBYE;
        corrupt(&mut b);
        Message::decode(&b)
    };
    assert_eq!(bad_trailer(|b| b[72] = 0), Err(DecodeError::BadAuthTrailer));
    assert_eq!(bad_trailer(|b| b[75] = 1), Err(DecodeError::BadAuthTrailer));
    assert_eq!(bad_trailer(|b| b[74] = 15), Err(DecodeError::BadAuthTrailer));
    assert_eq!(bad_trailer(|b| b[74] = 0), Err(DecodeError::BadAuthTrailer));
    let mut short = GOLDEN_GOODBYE;
    short[7] = 75;
    assert_eq!(Message::decode(&short[..75]), Err(DecodeError::BadLength { declared: 75 }));
}

#[test]
fn encoding_fails_without_writing() {
    let mut buf = [0xa5u8; 71];
    assert_eq!(golden_message().encode(&mut buf), Err(EncodeError::BufferTooSmall { required: 72, available: 71 }));
    assert!(buf.iter().all(|b| *b == 0xa5));

    let mut big = [0xa5u8; MAX_FRAME_LEN];
    let too_long = Message {
        interval: Duration::from_secs(3 * 3600),
        requested_timeout: Duration::from_secs(4 * 3600),
        ..golden_message()
    };
    assert_eq!(too_long.encode(&mut big), Err(EncodeError::FieldOutOfRange(Field::Interval)));
    let echo_to_all = Message { receiver: None, hears_you: false, applied_timeout: None, ..golden_message() };
    assert_eq!(echo_to_all.encode(&mut big), Err(EncodeError::FieldOutOfRange(Field::Echo)));
    let bad_tag = Message { auth: Some(AuthHeader { scheme: 1, key_id: 0, tag_len: 33 }), ..golden_message() };
    assert_eq!(bad_tag.encode(&mut big), Err(EncodeError::FieldOutOfRange(Field::AuthTag)));
    assert!(big.iter().all(|b| *b == 0xa5));
}

#[test]
fn unchecked_frames_over_garbage_fail_the_check() {
    let frame = Frame::new_unchecked([0xa5u8; HEADER_LEN]);
    assert_eq!(frame.check(), Err(DecodeError::BadMagic(0xa5a5)));
}

pub(crate) fn arb_message() -> impl Strategy<Value = Message> {
    let ids = (1u64..=u64::MAX, proptest::option::of(1u64..=u64::MAX));
    let timing = (1u32..=u32::MAX, any::<u32>(), proptest::option::of(1u32..=u32::MAX));
    let echo = proptest::option::of((any::<u64>(), any::<u32>()));
    let auth = proptest::option::of((1u8..=255, any::<u8>(), 1u8..=MAX_TAG_LEN as u8));
    (any::<bool>(), any::<u32>(), ids, any::<u32>(), any::<u64>(), any::<u64>(), timing, echo, any::<bool>(), auth)
        .prop_map(
            |(
                goodbye,
                cluster,
                (sender, receiver),
                generation,
                sequence,
                timestamp,
                (interval, extra, applied),
                echo,
                hears,
                auth,
            )| {
                let receiver = receiver.filter(|r| *r != sender).and_then(NodeId::new);
                let addressed = receiver.is_some();
                Message {
                    kind: if goodbye { Kind::Goodbye } else { Kind::Heartbeat },
                    cluster: ClusterId(cluster),
                    sender: id(sender),
                    receiver,
                    generation: Generation(generation),
                    sequence,
                    timestamp: Instant::from_nanos(timestamp),
                    echo: echo.filter(|_| addressed).map(|(t, d)| Echo {
                        timestamp: Instant::from_nanos(t),
                        delay: Duration::from_micros(u64::from(d)),
                    }),
                    interval: Duration::from_micros(u64::from(interval)),
                    requested_timeout: Duration::from_micros(u64::from(interval.saturating_add(extra))),
                    applied_timeout: applied.filter(|_| addressed).map(|us| Duration::from_micros(u64::from(us))),
                    hears_you: hears && addressed,
                    auth: auth.map(|(scheme, key_id, tag_len)| AuthHeader { scheme, key_id, tag_len }),
                }
            },
        )
}

proptest! {
    #[test]
    fn every_message_round_trips(msg in arb_message()) {
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = msg.encode(&mut buf).unwrap();
        prop_assert_eq!(len, msg.wire_len());
        prop_assert_eq!(Message::decode(&buf[..len]), Ok(msg));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        if let Ok(msg) = Message::decode(&bytes) {
            // Whatever decodes re-encodes to the same bytes (the tag is opaque payload).
            let mut buf = [0u8; MAX_FRAME_LEN];
            let len = msg.encode(&mut buf).unwrap();
            let tag_start = HEADER_LEN + AUTH_PREAMBLE_LEN;
            if len > tag_start {
                buf[tag_start..len].copy_from_slice(&bytes[tag_start..len]);
            }
            prop_assert_eq!(&buf[..len], &bytes[..]);
        }
    }

    /// Mutating a valid frame (the inputs a fuzzer finds first) never panics either.
    #[test]
    fn decoding_mutated_frames_never_panics(pos in 0usize..72, value in any::<u8>(), cut in 0usize..=72) {
        let mut bytes = GOLDEN_BYTES;
        bytes[pos] = value;
        let _ = Message::decode(&bytes[..cut]);
        let _ = Message::decode(&bytes);
    }
}

#[test]
fn the_builder_makes_the_golden_message_and_its_golden_bytes() {
    let golden = golden_message();
    let built = Message::heartbeat(
        golden.cluster,
        golden.sender,
        golden.generation,
        golden.sequence,
        golden.timestamp,
        golden.interval,
        golden.requested_timeout,
    )
    .to(id(0x2122_2324_2526_2728))
    .hearing(Some(Duration::from_secs(1)))
    .with_echo(golden.echo.unwrap());
    assert_eq!(built, golden);
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = built.encode(&mut buf).unwrap();
    assert_eq!(&buf[..len], &GOLDEN_BYTES[..]);
    assert_eq!(built.goodbye().kind, Kind::Goodbye);
}
