//! The jute codec and framer: golden bytes built by hand from `zookeeper.jute`, round trips,
//! and arbitrary input never panicking.

use heartbeat_session::jute::{
    CLOSE_SESSION_OP, ConnectRequest, ConnectResponse, DecodeError, ErrorCode, Frame, FrameError, Framer, PING_OP,
    PING_XID, Reader, ReplyHeader, RequestHeader, frame_into,
};
use proptest::prelude::*;

/// A new session's ConnectRequest asking for 30 000 ms, with the readOnly byte:
/// length 45, protocolVersion 0, lastZxidSeen 0, timeOut 30000, sessionId 0, passwd = 16 zeros.
const CONNECT_NEW: [u8; 49] = [
    0, 0, 0, 45, // frame length
    0, 0, 0, 0, // protocolVersion
    0, 0, 0, 0, 0, 0, 0, 0, // lastZxidSeen
    0, 0, 0x75, 0x30, // timeOut = 30000
    0, 0, 0, 0, 0, 0, 0, 0, // sessionId
    0, 0, 0, 16, // passwd length
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // passwd
    0, // readOnly
];

/// A ping: RequestHeader { xid -2, type 11 }.
const PING: [u8; 12] = [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11];

/// A ping reply: ReplyHeader { xid -2, zxid 0x0102030405060708, err 0 }.
const PING_REPLY: [u8; 20] = [0, 0, 0, 16, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0];

fn encode(
    f: impl FnOnce(&mut heartbeat_session::jute::Writer<'_>) -> Result<(), heartbeat_session::BufferTooSmall>,
) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let n = frame_into(&mut buf, f).unwrap();
    buf[..n].to_vec()
}

#[test]
fn connect_request_golden_bytes_with_and_without_read_only() {
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 30_000,
        session_id: 0,
        password: &[0; 16],
        read_only: Some(false),
    };
    assert_eq!(encode(|w| request.encode(w)), CONNECT_NEW);
    assert_eq!(ConnectRequest::decode(&CONNECT_NEW[4..]), Ok(request));
    // An older client without the trailing flag.
    let short = &CONNECT_NEW[4..48];
    assert_eq!(ConnectRequest::decode(short), Ok(ConnectRequest { read_only: None, ..request }));
    // A flag byte that is not a boolean, and a byte too many.
    let mut bad = CONNECT_NEW[4..].to_vec();
    *bad.last_mut().unwrap() = 2;
    assert_eq!(ConnectRequest::decode(&bad), Err(DecodeError::BadBoolean(2)));
    let mut long = CONNECT_NEW[4..].to_vec();
    long.push(0);
    assert_eq!(ConnectRequest::decode(&long), Err(DecodeError::TrailingBytes(1)));
}

#[test]
fn connect_response_golden_bytes() {
    let password: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
    let response = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 4000,
        session_id: 0x0100_0000_0000_002a,
        password: &password,
        read_only: Some(false),
    };
    let mut want = vec![0, 0, 0, 37, 0, 0, 0, 0, 0, 0, 0x0f, 0xa0, 1, 0, 0, 0, 0, 0, 0, 0x2a, 0, 0, 0, 16];
    want.extend(1..=16u8);
    want.push(0);
    assert_eq!(encode(|w| response.encode(w)), want);
    assert_eq!(ConnectResponse::decode(&want[4..]), Ok(response));
}

#[test]
fn ping_and_reply_golden_bytes() {
    let ping = RequestHeader { xid: PING_XID, op: PING_OP };
    assert_eq!(encode(|w| ping.encode(w)), PING);
    assert_eq!(RequestHeader::decode(&PING[4..]), Ok((ping, &[][..])));
    let reply = ReplyHeader { xid: PING_XID, zxid: 0x0102_0304_0506_0708, err: ErrorCode::Ok };
    assert_eq!(encode(|w| reply.encode(w)), PING_REPLY);
    assert_eq!(ReplyHeader::decode(&PING_REPLY[4..]), Ok((reply, &[][..])));
    let close = RequestHeader { xid: 7, op: CLOSE_SESSION_OP };
    assert_eq!(encode(|w| close.encode(w)), [0, 0, 0, 8, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xf5]);
    let unimpl = ReplyHeader { xid: 7, zxid: 0, err: ErrorCode::Unimplemented };
    assert_eq!(encode(|w| unimpl.encode(w))[16..], [0xff, 0xff, 0xff, 0xfa]);
}

#[test]
fn decode_errors_are_typed() {
    assert_eq!(RequestHeader::decode(&[0, 0, 0]), Err(DecodeError::Truncated { at: 0, need: 1 }));
    assert_eq!(ReplyHeader::decode(&[0; 12]), Err(DecodeError::Truncated { at: 12, need: 4 }));
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(r.buffer(), Err(DecodeError::NegativeLength(-2)));
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(r.buffer(), Ok(None));
    // A null password, and one of 17 bytes.
    let mut null = CONNECT_NEW[4..28].to_vec();
    null.extend([0xff; 4]);
    assert_eq!(ConnectRequest::decode(&null), Err(DecodeError::BadPassword(None)));
    let mut long = CONNECT_NEW[4..28].to_vec();
    long.extend([0, 0, 0, 17]);
    long.extend([0; 17]);
    assert_eq!(ConnectRequest::decode(&long), Err(DecodeError::BadPassword(Some(17))));
    // A buffer whose length runs past the end.
    let mut past = CONNECT_NEW[4..28].to_vec();
    past.extend([0, 0, 0, 16, 1, 2]);
    assert_eq!(ConnectRequest::decode(&past), Err(DecodeError::Truncated { at: 28, need: 14 }));
}

#[test]
fn the_framer_refuses_a_length_over_the_cap_and_negative_lengths() {
    let mut f = Framer::new(100, false);
    let mut input: &[u8] = &[0, 0, 0, 101, 9, 9];
    assert_eq!(f.feed(&mut input), Err(FrameError::TooLong { len: 101, cap: 100 }));
    assert!(f.ended());
    let mut more: &[u8] = &[1];
    assert_eq!(f.feed(&mut more), Err(FrameError::AfterEnd));
    let mut f = Framer::new(100, false);
    let mut input: &[u8] = &[0x80, 0, 0, 0];
    assert_eq!(f.feed(&mut input), Err(FrameError::NegativeLength(i32::MIN)));
    // Exactly the cap is fine, and an empty frame too.
    let mut f = Framer::new(3, false);
    let mut input: &[u8] = &[0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0];
    assert_eq!(f.feed(&mut input), Ok(Some(Frame::Record(&[1, 2, 3]))));
    assert_eq!(f.feed(&mut input), Ok(Some(Frame::Record(&[]))));
    assert!(input.is_empty());
}

#[test]
fn the_framer_recognizes_a_four_letter_word_only_first_and_only_when_allowed() {
    let mut f = Framer::new(100, true);
    let mut input: &[u8] = b"ruok";
    assert_eq!(f.feed(&mut input), Ok(Some(Frame::FourLetterWord(*b"ruok"))));
    let mut f = Framer::new(u32::MAX as usize, false);
    let mut input: &[u8] = b"ruok";
    assert_eq!(f.feed(&mut input), Ok(None), "without four-letter words it is a length prefix");
    let mut f = Framer::new(1 << 31, true);
    let mut input: &[u8] = &PING;
    assert!(matches!(f.feed(&mut input), Ok(Some(Frame::Record(_)))));
    let mut input: &[u8] = b"ruok";
    assert_eq!(f.feed(&mut input), Ok(None), "not the first four bytes: a length prefix");
}

fn frames(cap: usize, stream: &[u8], chunks: &[usize]) -> (Vec<Vec<u8>>, Option<FrameError>) {
    let mut f = Framer::new(cap, false);
    let mut out = Vec::new();
    let mut rest = stream;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        let (mut chunk, tail) = rest.split_at(n);
        rest = tail;
        while !chunk.is_empty() {
            match f.feed(&mut chunk) {
                Ok(Some(Frame::Record(r))) => out.push(r.to_vec()),
                Ok(Some(Frame::FourLetterWord(_))) => unreachable!("disabled"),
                Ok(None) => assert!(chunk.is_empty()),
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

proptest! {
    #[test]
    fn connect_request_round_trips(v in any::<i32>(), z in any::<i64>(), t in any::<i32>(), id in any::<i64>(),
                                   pw in proptest::collection::vec(any::<u8>(), 0..=16), ro in any::<Option<bool>>()) {
        let request = ConnectRequest { protocol_version: v, last_zxid_seen: z, timeout_ms: t, session_id: id, password: &pw, read_only: ro };
        let bytes = encode(|w| request.encode(w));
        prop_assert_eq!(ConnectRequest::decode(&bytes[4..]), Ok(request));
    }

    #[test]
    fn connect_response_and_headers_round_trip(v in any::<i32>(), t in any::<i32>(), id in any::<i64>(),
                                               pw in proptest::collection::vec(any::<u8>(), 0..=16), ro in any::<Option<bool>>(),
                                               xid in any::<i32>(), op in any::<i32>(), err in any::<i32>()) {
        let response = ConnectResponse { protocol_version: v, timeout_ms: t, session_id: id, password: &pw, read_only: ro };
        let bytes = encode(|w| response.encode(w));
        prop_assert_eq!(ConnectResponse::decode(&bytes[4..]), Ok(response));
        let header = RequestHeader { xid, op };
        let bytes = encode(|w| header.encode(w));
        prop_assert_eq!(RequestHeader::decode(&bytes[4..]), Ok((header, &[][..])));
        let reply = ReplyHeader { xid, zxid: id, err: ErrorCode::from_code(err) };
        let bytes = encode(|w| reply.encode(w));
        prop_assert_eq!(ReplyHeader::decode(&bytes[4..]), Ok((reply, &[][..])));
        prop_assert_eq!(ErrorCode::from_code(err).code(), err);
    }

    /// Any split of a stream of frames into chunks (down to single bytes) yields the same frames.
    #[test]
    fn the_framer_is_indifferent_to_chunking(bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8),
                                              chunks in proptest::collection::vec(1usize..9, 1..6)) {
        let mut stream = Vec::new();
        for b in &bodies {
            stream.extend((b.len() as u32).to_be_bytes());
            stream.extend(b);
        }
        let (got, err) = frames(64, &stream, &chunks);
        prop_assert_eq!(err, None);
        prop_assert_eq!(&got, &bodies);
        let (one_by_one, _) = frames(64, &stream, &[1]);
        prop_assert_eq!(one_by_one, bodies);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), chunks in proptest::collection::vec(1usize..9, 1..4)) {
        let _ = ConnectRequest::decode(&bytes);
        let _ = ConnectResponse::decode(&bytes);
        let _ = RequestHeader::decode(&bytes);
        let _ = ReplyHeader::decode(&bytes);
        let _ = frames(32, &bytes, &chunks);
    }
}
