//! Golden bytes derived by hand from the RFC 5880 §4.1 layout, one test per rejection, and
//! round trips.

use super::*;
use proptest::prelude::*;
use std::string::ToString;

/// A packet with a distinct value in every field, so that a misplaced field shows.
fn golden_plain() -> ControlPacket {
    ControlPacket {
        diag: Diag::NEIGHBOR_SIGNALED_DOWN,
        state: State::Up,
        poll: true,
        final_: false,
        control_plane_independent: true,
        demand: false,
        detect_mult: 3,
        my_discriminator: 0x1122_3344,
        your_discriminator: 0x5566_7788,
        desired_min_tx: 300_000,
        required_min_rx: 1_000_000,
        required_min_echo_rx: 50_000,
        auth: None,
    }
}

#[rustfmt::skip]
static GOLDEN_PLAIN: [u8; 24] = [
    0x23,                   // Vers 1 (001), Diag 3 (00011)
    0xE8,                   // Sta Up (11), P (1), F (0), C (1), A (0), D (0), M (0)
    0x03,                   // Detect Mult 3
    0x18,                   // Length 24
    0x11, 0x22, 0x33, 0x44, // My Discriminator
    0x55, 0x66, 0x77, 0x88, // Your Discriminator
    0x00, 0x04, 0x93, 0xE0, // Desired Min TX 300 000 µs
    0x00, 0x0F, 0x42, 0x40, // Required Min RX 1 000 000 µs
    0x00, 0x00, 0xC3, 0x50, // Required Min Echo RX 50 000 µs
];

fn golden_md5() -> ControlPacket {
    ControlPacket {
        diag: Diag::NONE,
        state: State::Down,
        poll: false,
        final_: true,
        control_plane_independent: false,
        demand: false,
        detect_mult: 5,
        my_discriminator: 1,
        your_discriminator: 0,
        desired_min_tx: 1_000_000,
        required_min_rx: 1_000_000,
        required_min_echo_rx: 0,
        auth: Some(AuthSection { auth_type: AuthType::KeyedMd5, len: 24, key_id: 7, sequence: 0xDEAD_BEEF }),
    }
}

#[rustfmt::skip]
static GOLDEN_MD5: [u8; 48] = [
    0x20, 0x54, 0x05, 0x30, // v1 diag 0; Down (01) F A (0101_0100); mult 5; Length 48
    0, 0, 0, 1,             // My Discriminator 1
    0, 0, 0, 0,             // Your Discriminator 0
    0x00, 0x0F, 0x42, 0x40, // Desired Min TX 1 s
    0x00, 0x0F, 0x42, 0x40, // Required Min RX 1 s
    0, 0, 0, 0,             // no echo
    0x02, 0x18, 0x07, 0x00, // Keyed MD5, Auth Len 24, key 7, reserved
    0xDE, 0xAD, 0xBE, 0xEF, // sequence
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // digest, left zero for the signer
];

fn golden_password() -> ControlPacket {
    ControlPacket {
        diag: Diag::ADMINISTRATIVELY_DOWN,
        state: State::AdminDown,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: true,
        detect_mult: 255,
        my_discriminator: u32::MAX,
        your_discriminator: 2,
        desired_min_tx: 0,
        required_min_rx: 0,
        required_min_echo_rx: u32::MAX,
        auth: AuthSection::simple_password(9, 6),
    }
}

#[rustfmt::skip]
static GOLDEN_PASSWORD: [u8; 33] = [
    0x27, 0x06, 0xFF, 0x21, // v1 diag 7; AdminDown (00) A D (0000_0110); mult 255; Length 33
    0xFF, 0xFF, 0xFF, 0xFF, // My Discriminator
    0, 0, 0, 2,             // Your Discriminator
    0, 0, 0, 0,             // Desired Min TX 0
    0, 0, 0, 0,             // Required Min RX 0
    0xFF, 0xFF, 0xFF, 0xFF, // Required Min Echo RX
    0x01, 0x09, 0x09,       // Simple Password, Auth Len 3 + 6, key 9
    0, 0, 0, 0, 0, 0,       // password, left zero for the signer
];

fn golden_sha1() -> ControlPacket {
    ControlPacket {
        diag: Diag::CONTROL_DETECTION_TIME_EXPIRED,
        state: State::Init,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 1,
        my_discriminator: 0x0102_0304,
        your_discriminator: 0x0506_0708,
        desired_min_tx: 10_000,
        required_min_rx: 20_000,
        required_min_echo_rx: 30_000,
        auth: AuthSection::keyed(AuthType::MeticulousKeyedSha1, 0xAB, 1),
    }
}

#[rustfmt::skip]
static GOLDEN_SHA1: [u8; 52] = [
    0x21, 0x84, 0x01, 0x34, // v1 diag 1; Init (10) A (1000_0100); mult 1; Length 52
    0x01, 0x02, 0x03, 0x04, // My Discriminator
    0x05, 0x06, 0x07, 0x08, // Your Discriminator
    0x00, 0x00, 0x27, 0x10, // Desired Min TX 10 000 µs
    0x00, 0x00, 0x4E, 0x20, // Required Min RX 20 000 µs
    0x00, 0x00, 0x75, 0x30, // Required Min Echo RX 30 000 µs
    0x05, 0x1C, 0xAB, 0x00, // Meticulous Keyed SHA1, Auth Len 28, key 0xAB, reserved
    0x00, 0x00, 0x00, 0x01, // sequence 1
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // hash, left zero
];

fn goldens() -> [(ControlPacket, &'static [u8]); 4] {
    [
        (golden_plain(), &GOLDEN_PLAIN[..]),
        (golden_md5(), &GOLDEN_MD5[..]),
        (golden_password(), &GOLDEN_PASSWORD[..]),
        (golden_sha1(), &GOLDEN_SHA1[..]),
    ]
}

#[test]
fn emits_the_golden_bytes_into_a_dirty_buffer() {
    for (packet, bytes) in goldens() {
        let mut buf = [0xa5u8; 64];
        let len = packet.emit(&mut buf).unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(packet.len(), bytes.len());
        assert_eq!(&buf[..len], bytes, "{packet:?}");
        assert!(buf[len..].iter().all(|&b| b == 0xa5), "wrote past the packet");
    }
}

#[test]
fn parses_the_golden_bytes() {
    for (packet, bytes) in goldens() {
        assert_eq!(ControlPacket::parse(bytes), Ok(packet));
    }
}

#[test]
fn getters_read_each_field_in_place() {
    let p = Packet::new_checked(&GOLDEN_PLAIN[..]).unwrap();
    assert_eq!(p.version(), 1);
    assert_eq!(p.diag(), Diag(3));
    assert_eq!(p.state(), State::Up);
    assert_eq!(p.flags(), flags::POLL | flags::CONTROL_PLANE_INDEPENDENT);
    assert!(p.poll() && p.control_plane_independent());
    assert!(!p.final_() && !p.auth_present() && !p.demand() && !p.multipoint());
    assert_eq!(p.detect_mult(), 3);
    assert_eq!(p.length(), 24);
    assert_eq!(p.my_discriminator(), 0x1122_3344);
    assert_eq!(p.your_discriminator(), 0x5566_7788);
    assert_eq!(p.desired_min_tx(), 300_000);
    assert_eq!(p.required_min_rx(), 1_000_000);
    assert_eq!(p.required_min_echo_rx(), 50_000);
    assert_eq!(p.auth_section(), None);
    assert_eq!(p.auth_data(), &[] as &[u8]);

    let p = Packet::new_checked(&GOLDEN_SHA1[..]).unwrap();
    assert_eq!((p.auth_type_raw(), p.auth_len(), p.auth_key_id(), p.auth_reserved()), (5, 28, 0xAB, 0));
    assert_eq!(p.auth_sequence(), 1);
    assert_eq!(p.auth_data(), &GOLDEN_SHA1[32..52]);
    let p = Packet::new_checked(&GOLDEN_PASSWORD[..]).unwrap();
    assert_eq!(p.auth_data(), &GOLDEN_PASSWORD[27..33]);
    assert_eq!(p.auth_section(), AuthSection::simple_password(9, 6));
}

#[test]
fn setters_write_each_field_in_place() {
    let mut buf = [0xa5u8; 52];
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.set_version_diag(1, Diag(1));
    p.set_state_flags(State::Init, flags::AUTH);
    p.set_detect_mult(1);
    p.set_length(52);
    p.set_my_discriminator(0x0102_0304);
    p.set_your_discriminator(0x0506_0708);
    p.set_desired_min_tx(10_000);
    p.set_required_min_rx(20_000);
    p.set_required_min_echo_rx(30_000);
    p.set_auth_section(&golden_sha1().auth.unwrap());
    assert_eq!(buf, GOLDEN_SHA1);
    let mut p = Packet::new_unchecked(&mut buf[..]);
    p.auth_data_mut().fill(0x77);
    assert!(buf[32..].iter().all(|&b| b == 0x77));
    assert!(buf[..32] == GOLDEN_SHA1[..32], "the digest setter stays in the digest");
}

#[test]
fn diag_is_five_bits_and_has_names() {
    let mut bytes = GOLDEN_PLAIN;
    bytes[0] = 0x3F; // version 1, diag 31
    assert_eq!(ControlPacket::parse(&bytes).unwrap().diag, Diag(31));
    let mut p = golden_plain();
    p.diag = Diag(0xFF);
    let mut buf = [0u8; 24];
    p.emit(&mut buf).unwrap();
    assert_eq!(buf[0], 0x3F, "the version survives an oversized diag");
    assert_eq!(Diag::PATH_DOWN.to_string(), "Path Down");
    assert_eq!(Diag(9).to_string(), "Mis-Connectivity Defect");
    assert_eq!(Diag(10).to_string(), "reserved diag 10");
    assert_eq!(Diag::NONE.name(), Some("No Diagnostic"));
}

#[test]
fn state_from_bits_covers_every_value() {
    let all = [State::AdminDown, State::Down, State::Init, State::Up];
    for (bits, state) in all.into_iter().enumerate() {
        assert_eq!(State::from_bits(bits as u8), state);
        assert_eq!(State::from_bits(bits as u8 | 0xFC), state, "high bits are ignored");
        assert_eq!(state.to_bits(), bits as u8);
    }
    assert_eq!(State::Init.to_string(), "Init");
}

/// Parses a golden packet with `corrupt` applied (to the whole payload buffer).
fn parse_corrupted(golden: &[u8], corrupt: impl FnOnce(&mut [u8])) -> Result<ControlPacket, PacketError> {
    let mut bytes = [0u8; 64];
    let bytes = &mut bytes[..golden.len()];
    bytes.copy_from_slice(golden);
    corrupt(bytes);
    ControlPacket::parse(bytes)
}

#[test]
fn each_rejection_has_its_own_error() {
    use PacketError as E;
    let plain = &GOLDEN_PLAIN[..];
    assert_eq!(ControlPacket::parse(&[]), Err(E::Truncated { len: 0 }));
    assert_eq!(ControlPacket::parse(&[0x20, 0xC0, 3]), Err(E::Truncated { len: 3 }));
    assert_eq!(parse_corrupted(plain, |b| b[0] = 0x03), Err(E::BadVersion(0)));
    assert_eq!(parse_corrupted(plain, |b| b[0] = 0x43), Err(E::BadVersion(2)));
    assert_eq!(parse_corrupted(plain, |b| b[0] = 0xE3), Err(E::BadVersion(7)));
    assert_eq!(parse_corrupted(plain, |b| b[3] = 23), Err(E::LengthTooShort { length: 23, minimum: 24 }));
    assert_eq!(parse_corrupted(plain, |b| b[3] = 0), Err(E::LengthTooShort { length: 0, minimum: 24 }));
    assert_eq!(parse_corrupted(plain, |b| b[1] |= flags::AUTH), Err(E::LengthTooShort { length: 24, minimum: 26 }));
    assert_eq!(parse_corrupted(&GOLDEN_MD5, |b| b[3] = 25), Err(E::LengthTooShort { length: 25, minimum: 26 }));
    assert_eq!(parse_corrupted(plain, |b| b[3] = 25), Err(E::LengthExceedsPayload { length: 25, payload: 24 }));
    assert_eq!(ControlPacket::parse(&GOLDEN_MD5[..47]), Err(E::LengthExceedsPayload { length: 48, payload: 47 }));
    assert_eq!(parse_corrupted(plain, |b| b[2] = 0), Err(E::ZeroDetectMult));
    assert_eq!(parse_corrupted(plain, |b| b[1] |= flags::MULTIPOINT), Err(E::Multipoint));
    assert_eq!(parse_corrupted(plain, |b| b[4..8].fill(0)), Err(E::ZeroMyDiscriminator));
    assert_eq!(parse_corrupted(plain, |b| b[1] |= flags::FINAL), Err(E::PollAndFinal));
    assert_eq!(parse_corrupted(&GOLDEN_MD5, |b| b[1] |= flags::POLL), Err(E::PollAndFinal));
    for reserved in [0u8, 6, 7, 0x80, 0xFF] {
        assert_eq!(parse_corrupted(&GOLDEN_MD5, |b| b[24] = reserved), Err(E::UnknownAuthType(reserved)));
    }
    assert_eq!(
        parse_corrupted(&GOLDEN_MD5, |b| b[25] = 28),
        Err(E::BadAuthLen { auth_type: AuthType::KeyedMd5, auth_len: 28 })
    );
    assert_eq!(
        parse_corrupted(&GOLDEN_SHA1, |b| b[25] = 24),
        Err(E::BadAuthLen { auth_type: AuthType::MeticulousKeyedSha1, auth_len: 24 })
    );
    assert_eq!(
        parse_corrupted(&GOLDEN_PASSWORD, |b| b[25] = 3),
        Err(E::BadAuthLen { auth_type: AuthType::SimplePassword, auth_len: 3 })
    );
    assert_eq!(
        parse_corrupted(&GOLDEN_PASSWORD, |b| b[25] = 20),
        Err(E::BadAuthLen { auth_type: AuthType::SimplePassword, auth_len: 20 })
    );
    assert_eq!(parse_corrupted(&GOLDEN_PASSWORD, |b| b[25] = 10), Err(E::AuthPastLength { auth_len: 10, length: 33 }));
    assert_eq!(parse_corrupted(&GOLDEN_MD5, |b| b[3] = 47), Err(E::AuthPastLength { auth_len: 24, length: 47 }),);
    assert_eq!(parse_corrupted(&GOLDEN_PASSWORD, |b| b[25] = 8), Err(E::LengthBeyondSections { length: 33, end: 32 }));
    assert_eq!(
        parse_corrupted(&GOLDEN_SHA1, |b| b[1] &= !flags::AUTH),
        Err(E::LengthBeyondSections { length: 52, end: 24 })
    );
    assert_eq!(parse_corrupted(&GOLDEN_MD5, |b| b[27] = 1), Err(E::AuthReservedNonZero(1)));
    assert_eq!(parse_corrupted(&GOLDEN_SHA1, |b| b[27] = 0x80), Err(E::AuthReservedNonZero(0x80)));
}

#[test]
fn the_first_fault_in_rfc_order_is_reported() {
    // Version, Length, Detect Mult, M and My Discriminator all wrong: the version is reported.
    let bad = [0x00u8, 0x01, 0, 2, 0, 0, 0, 0];
    assert_eq!(ControlPacket::parse(&bad), Err(PacketError::BadVersion(0)));
    let bad = [0x20u8, 0x01, 0, 2, 0, 0, 0, 0];
    assert_eq!(ControlPacket::parse(&bad), Err(PacketError::LengthTooShort { length: 2, minimum: 24 }));
    let mut bad = [0u8; 24];
    bad[..4].copy_from_slice(&[0x20, 0x01, 0, 24]);
    assert_eq!(ControlPacket::parse(&bad), Err(PacketError::ZeroDetectMult));
    bad[2] = 1;
    assert_eq!(ControlPacket::parse(&bad), Err(PacketError::Multipoint));
    bad[1] = 0x30;
    assert_eq!(ControlPacket::parse(&bad), Err(PacketError::ZeroMyDiscriminator));
}

#[test]
fn bytes_after_length_are_ignored() {
    for (packet, bytes) in goldens() {
        let mut payload = [0xa5u8; 80];
        payload[..bytes.len()].copy_from_slice(bytes);
        assert_eq!(ControlPacket::parse(&payload), Ok(packet));
        assert_eq!(Packet::new_checked(&payload[..]).unwrap().as_bytes(), bytes);
    }
}

#[test]
fn the_simple_password_accepts_every_length_from_1_to_16() {
    for pw_len in 1..=MAX_PASSWORD_LEN {
        let mut packet = golden_plain();
        packet.auth = AuthSection::simple_password(1, pw_len);
        let mut buf = [0u8; MAX_PACKET_LEN];
        let len = packet.emit(&mut buf).unwrap();
        assert_eq!(len, HEADER_LEN + 3 + pw_len);
        assert_eq!(usize::from(buf[3]), len);
        assert_eq!(ControlPacket::parse(&buf[..len]), Ok(packet));
    }
    assert_eq!(AuthSection::simple_password(1, 0), None);
    assert_eq!(AuthSection::simple_password(1, 17), None);
    assert_eq!(AuthSection::keyed(AuthType::SimplePassword, 1, 0), None);
    assert_eq!(AuthSection::keyed(AuthType::KeyedMd5, 1, 0).map(|s| s.len), Some(24));
    assert_eq!(AuthSection::keyed(AuthType::KeyedSha1, 1, 0).map(|s| s.len), Some(28));
}

#[test]
fn truncation_at_every_byte_is_a_typed_error() {
    for (_, bytes) in goldens() {
        for cut in 0..bytes.len() {
            let err = ControlPacket::parse(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, PacketError::Truncated { .. } | PacketError::LengthExceedsPayload { .. }),
                "cut at {cut}: {err:?}"
            );
        }
    }
}

#[test]
fn emitting_into_a_short_buffer_writes_nothing() {
    for (packet, bytes) in goldens() {
        for have in 0..bytes.len() {
            let mut buf = [0xa5u8; 64];
            let err = packet.emit(&mut buf[..have]).unwrap_err();
            assert_eq!(err, BufferTooSmall { need: bytes.len(), have });
            assert!(buf.iter().all(|&b| b == 0xa5), "wrote into a short buffer");
        }
    }
}

#[test]
fn emitting_an_impossible_auth_len_does_not_panic() {
    // Auth Len shorter than the keyed header, and the largest Auth Len a byte holds.
    for len in [0u8, 1, 2, 5, 23, 29, 231, 255] {
        let mut packet = golden_md5();
        packet.auth = Some(AuthSection { auth_type: AuthType::KeyedMd5, len, key_id: 1, sequence: 2 });
        let mut buf = [0xa5u8; 300];
        let written = packet.emit(&mut buf).unwrap();
        assert_eq!(written, HEADER_LEN + usize::from(len));
        if len >= 2 {
            assert_eq!(buf[25], len);
        }
        assert!(ControlPacket::parse(&buf[..written]).is_err(), "Auth Len {len} is not valid for MD5");
    }
}

#[test]
fn unchecked_views_over_garbage_never_panic_in_auth_accessors() {
    for len in 0..40 {
        let junk = [0xFFu8; 40];
        let p = Packet::new_unchecked(&junk[..len]);
        let _ = p.auth_data();
        let _ = p.auth_section();
        let _ = p.as_bytes();
        assert!(p.check().is_err());
    }
}

fn arb_auth() -> impl Strategy<Value = Option<AuthSection>> {
    let keyed = (2u8..=5, any::<u8>(), any::<u32>())
        .prop_map(|(t, key, seq)| AuthSection::keyed(AuthType::from_wire(t).unwrap(), key, seq).unwrap());
    let password =
        (any::<u8>(), 1..=MAX_PASSWORD_LEN).prop_map(|(key, len)| AuthSection::simple_password(key, len).unwrap());
    proptest::option::of(prop_oneof![keyed, password])
}

/// Every packet `parse` can return.
pub(crate) fn arb_packet() -> impl Strategy<Value = ControlPacket> {
    let head = (0u8..=31, 0u8..=3, any::<(bool, bool, bool)>(), 1u8..=255, 1u32..=u32::MAX, any::<u32>());
    let intervals = any::<(u32, u32, u32)>();
    (head, intervals, arb_auth()).prop_map(
        |((diag, state, (p_or_f, which, demand), mult, my, your), (tx, rx, echo), auth)| ControlPacket {
            diag: Diag(diag),
            state: State::from_bits(state),
            poll: p_or_f && which,
            final_: p_or_f && !which,
            control_plane_independent: demand ^ which,
            demand,
            detect_mult: mult,
            my_discriminator: my,
            your_discriminator: your,
            desired_min_tx: tx,
            required_min_rx: rx,
            required_min_echo_rx: echo,
            auth,
        },
    )
}

proptest! {
    #[test]
    fn every_packet_round_trips(packet in arb_packet()) {
        let mut buf = [0xa5u8; MAX_PACKET_LEN + 8];
        let len = packet.emit(&mut buf).unwrap();
        prop_assert_eq!(len, packet.len());
        prop_assert!(len <= MAX_PACKET_LEN);
        prop_assert_eq!(ControlPacket::parse(&buf[..len]), Ok(packet));
        // And with trailing bytes in the payload.
        prop_assert_eq!(ControlPacket::parse(&buf), Ok(packet));
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(packet) = ControlPacket::parse(&bytes) {
            let mut buf = [0u8; MAX_PACKET_LEN];
            let len = packet.emit(&mut buf).unwrap();
            prop_assert_eq!(ControlPacket::parse(&buf[..len]), Ok(packet));
        }
    }

    #[test]
    fn parsing_mutated_packets_never_panics(
        which in 0usize..4,
        pos in 0usize..52,
        value in any::<u8>(),
        cut in 0usize..=52,
    ) {
        let (_, golden) = goldens()[which];
        let mut bytes = [0u8; 52];
        bytes[..golden.len()].copy_from_slice(golden);
        bytes[pos % golden.len()] = value;
        let bytes = &bytes[..cut.min(golden.len())];
        if let Ok(packet) = ControlPacket::parse(bytes) {
            let mut buf = [0u8; MAX_PACKET_LEN];
            let len = packet.emit(&mut buf).unwrap();
            prop_assert_eq!(ControlPacket::parse(&buf[..len]), Ok(packet));
        }
    }
}

mod captures;
