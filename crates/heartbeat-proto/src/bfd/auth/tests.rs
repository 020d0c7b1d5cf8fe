//! Test vectors whose digests were computed independently with Python's `hashlib` over packets
//! built by hand from the RFC layout, sign → verify, tampering, keys and the sequence window.

use super::*;
use crate::bfd::packet::{ControlPacket, Diag, MAX_PACKET_LEN, State};
use std::format;
use std::vec::Vec;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// One keyed vector: the packet's fields, the key, and the bytes on the wire (the first 32 by
/// hand from the layout, the digest from `hashlib.md5` / `hashlib.sha1` of the packet with the
/// zero-padded key in the digest field).
struct Vector {
    packet: ControlPacket,
    key: &'static [u8],
    wire: &'static str,
}

fn packet(state: State, diag: u8, mult: u8, discrs: (u32, u32), timers: (u32, u32, u32)) -> ControlPacket {
    ControlPacket {
        diag: Diag(diag),
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: mult,
        my_discriminator: discrs.0,
        your_discriminator: discrs.1,
        desired_min_tx: timers.0,
        required_min_rx: timers.1,
        required_min_echo_rx: timers.2,
        auth: None,
    }
}

fn vectors() -> [Vector; 4] {
    let with = |mut p: ControlPacket, auth_type, key_id, sequence| {
        p.auth = AuthSection::keyed(auth_type, key_id, sequence);
        p
    };
    [
        // python3: hashlib.md5(bytes.fromhex("20c40330…00000005") + b"frr-md5-key".ljust(16, b"\0"))
        Vector {
            packet: with(packet(State::Up, 0, 3, (1, 2), (300_000, 300_000, 0)), AuthType::KeyedMd5, 1, 5),
            key: b"frr-md5-key",
            wire: "20c403300000000100000002000493e0000493e0000000000218010000000005\
                   2442ae1aacdfd97d84d2c952c7a8ce39",
        },
        Vector {
            packet: with(
                packet(State::Init, 0, 3, (0x10, 0x20), (1_000_000, 1_000_000, 50_000)),
                AuthType::MeticulousKeyedMd5,
                0x42,
                0x8000_0000,
            ),
            key: b"0123456789abcdef",
            wire: "208403300000001000000020000f4240000f42400000c3500318420080000000\
                   5a5d8afd6239a15926e6d9ee34149dab",
        },
        Vector {
            packet: with(
                packet(State::Down, 3, 5, (0xCAFE_BABE, 0), (1_000_000, 1_000_000, 0)),
                AuthType::KeyedSha1,
                2,
                1000,
            ),
            key: b"bird",
            wire: "23440534cafebabe00000000000f4240000f424000000000041c0200000003e8\
                   b8816d79b24a073ef395ec3620405284ce4712d2",
        },
        Vector {
            packet: with(
                packet(State::Up, 0, 3, (7, 9), (300_000, 300_000, 0)),
                AuthType::MeticulousKeyedSha1,
                255,
                u32::MAX,
            ),
            key: b"0123456789abcdefghij",
            wire: "20c403340000000700000009000493e0000493e000000000051cff00ffffffff\
                   731da017693c767767ea6f63c6186371013a07bc",
        },
    ]
}

fn keys_for(v: &Vector) -> BfdKeys {
    let section = v.packet.auth.unwrap();
    BfdKeys::new(BfdKey::new(section.auth_type, section.key_id, v.key).unwrap())
}

/// Emits and signs `packet` under `keys`.
fn sealed(keys: &BfdKeys, packet: &ControlPacket) -> Vec<u8> {
    let mut buf = [0u8; MAX_PACKET_LEN];
    let len = packet.emit(&mut buf).unwrap();
    keys.sign(&mut buf[..len]).unwrap();
    buf[..len].to_vec()
}

/// Parses and verifies received bytes.
fn receive(keys: &BfdKeys, bytes: &[u8]) -> Result<ControlPacket, AuthFailure> {
    let packet = ControlPacket::parse(bytes).map_err(AuthFailure::Malformed)?;
    keys.verify(bytes, &packet.auth.ok_or(AuthFailure::Missing)?)?;
    Ok(packet)
}

#[test]
fn signing_produces_the_hashlib_vectors() {
    for v in vectors() {
        let keys = keys_for(&v);
        assert_eq!(keys.section(v.packet.auth.unwrap().sequence), v.packet.auth.unwrap());
        assert_eq!(sealed(&keys, &v.packet), hex(v.wire), "{:?}", v.packet.auth);
    }
}

#[test]
fn the_vectors_verify() {
    for v in vectors() {
        let keys = keys_for(&v);
        assert_eq!(receive(&keys, &hex(v.wire)), Ok(v.packet));
    }
}

#[test]
fn tampering_with_any_byte_fails() {
    for v in vectors() {
        let keys = keys_for(&v);
        let good = hex(v.wire);
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                assert!(receive(&keys, &bad).is_err(), "byte {i} ^ {flip:#x} accepted for {:?}", v.packet.auth);
            }
        }
        let mut bad = good.clone();
        bad[40] ^= 1;
        assert_eq!(receive(&keys, &bad), Err(AuthFailure::BadDigest));
        // A changed field that still parses fails on the digest too.
        let mut bad = good.clone();
        bad[12] ^= 1;
        assert_eq!(receive(&keys, &bad), Err(AuthFailure::BadDigest));
    }
}

#[test]
fn the_wrong_secret_fails() {
    for v in vectors() {
        let section = v.packet.auth.unwrap();
        let mut other = v.key.to_vec();
        other[0] ^= 1;
        let keys = BfdKeys::new(BfdKey::new(section.auth_type, section.key_id, &other).unwrap());
        assert_eq!(receive(&keys, &hex(v.wire)), Err(AuthFailure::BadDigest));
        // Padding matters: the key plus one zero byte is the same padded key, but a key one
        // byte shorter is not.
        if v.key.len() > 1 {
            let shorter = BfdKey::new(section.auth_type, section.key_id, &v.key[..v.key.len() - 1]).unwrap();
            assert_eq!(receive(&BfdKeys::new(shorter), &hex(v.wire)), Err(AuthFailure::BadDigest));
        }
    }
}

#[test]
fn wrong_key_id_and_wrong_type_fail_before_the_digest() {
    let v = &vectors()[0];
    let wire = hex(v.wire);
    let other_id = BfdKeys::new(BfdKey::new(AuthType::KeyedMd5, 2, v.key).unwrap());
    assert_eq!(receive(&other_id, &wire), Err(AuthFailure::UnknownKey(1)));
    let meticulous = BfdKeys::new(BfdKey::new(AuthType::MeticulousKeyedMd5, 1, v.key).unwrap());
    assert_eq!(
        receive(&meticulous, &wire),
        Err(AuthFailure::WrongType { expected: AuthType::MeticulousKeyedMd5, got: AuthType::KeyedMd5 })
    );
    let sha1 = BfdKeys::new(BfdKey::new(AuthType::KeyedSha1, 1, v.key).unwrap());
    assert_eq!(
        receive(&sha1, &wire),
        Err(AuthFailure::WrongType { expected: AuthType::KeyedSha1, got: AuthType::KeyedMd5 })
    );
}

#[test]
fn verify_refuses_a_section_that_is_not_the_packets() {
    let v = &vectors()[0];
    let keys = keys_for(v);
    let wire = hex(v.wire);
    let mut section = v.packet.auth.unwrap();
    section.sequence += 1;
    assert_eq!(keys.verify(&wire, &section), Err(AuthFailure::SectionMismatch));
    assert_eq!(
        keys.verify(&wire[..47], &v.packet.auth.unwrap()),
        Err(AuthFailure::Malformed(PacketError::LengthExceedsPayload { length: 48, payload: 47 }))
    );
    // Bytes after Length are not the packet's and are not hashed.
    let mut padded = wire.clone();
    padded.extend_from_slice(&[0xa5; 8]);
    assert_eq!(receive(&keys, &padded), Ok(v.packet));
}

fn password_packet(key_id: u8, len: usize) -> ControlPacket {
    let mut p = packet(State::Down, 0, 3, (0x0102_0304, 0), (1_000_000, 1_000_000, 0));
    p.auth = AuthSection::simple_password(key_id, len);
    p
}

#[test]
fn simple_password_signs_verifies_and_compares() {
    let keys = BfdKeys::new(BfdKey::new(AuthType::SimplePassword, 4, b"secret").unwrap());
    assert_eq!(keys.section(77), AuthSection::simple_password(4, 6).unwrap(), "no sequence on the wire");
    let wire = sealed(&keys, &password_packet(4, 6));
    #[rustfmt::skip]
    let expected = [
        0x20, 0x44, 0x03, 0x21, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0,
        0x00, 0x0F, 0x42, 0x40, 0x00, 0x0F, 0x42, 0x40, 0, 0, 0, 0,
        0x01, 0x09, 0x04, b's', b'e', b'c', b'r', b'e', b't',
    ];
    assert_eq!(wire, expected);
    assert_eq!(receive(&keys, &wire), Ok(password_packet(4, 6)));

    let other = BfdKeys::new(BfdKey::new(AuthType::SimplePassword, 4, b"secreT").unwrap());
    assert_eq!(receive(&other, &wire), Err(AuthFailure::BadPassword));
    let longer = BfdKeys::new(BfdKey::new(AuthType::SimplePassword, 4, b"secrets").unwrap());
    assert_eq!(receive(&longer, &wire), Err(AuthFailure::BadLength { expected: 10, got: 9 }));
    for i in 0..wire.len() {
        let mut bad = wire.clone();
        bad[i] ^= 0x20;
        // A password byte changed, or the header: never accepted as this packet.
        assert_ne!(receive(&keys, &bad), Ok(password_packet(4, 6)), "byte {i}");
        if i >= 27 {
            assert_eq!(receive(&keys, &bad), Err(AuthFailure::BadPassword));
        }
    }
}

#[test]
fn sixteen_byte_passwords_fill_the_section() {
    let keys = BfdKeys::new(BfdKey::new(AuthType::SimplePassword, 0, b"0123456789abcdef").unwrap());
    let wire = sealed(&keys, &password_packet(0, 16));
    assert_eq!(wire.len(), 24 + 19);
    assert_eq!(&wire[27..], b"0123456789abcdef");
    assert!(receive(&keys, &wire).is_ok());
}

#[test]
fn signing_refuses_what_it_cannot_sign() {
    let keys = keys_for(&vectors()[0]);
    let plain = packet(State::Up, 0, 3, (1, 2), (1, 1, 0));
    let mut buf = [0u8; MAX_PACKET_LEN];
    let len = plain.emit(&mut buf).unwrap();
    assert_eq!(keys.sign(&mut buf[..len]), Err(AuthFailure::Missing));
    assert_eq!(keys.sign(&mut buf[..3]), Err(AuthFailure::Malformed(PacketError::Truncated { len: 3 })));
    let mut sha = plain;
    sha.auth = AuthSection::keyed(AuthType::KeyedSha1, 1, 0);
    let len = sha.emit(&mut buf).unwrap();
    let before = buf;
    assert_eq!(
        keys.sign(&mut buf[..len]),
        Err(AuthFailure::WrongType { expected: AuthType::KeyedMd5, got: AuthType::KeyedSha1 })
    );
    assert_eq!(buf, before, "a refused signature leaves the bytes as they were");
}

#[test]
fn every_key_of_the_set_verifies_and_the_selected_one_signs() {
    let mut keys = BfdKeys::new(BfdKey::new(AuthType::KeyedSha1, 1, b"old").unwrap());
    keys.add(BfdKey::new(AuthType::KeyedSha1, 2, b"new").unwrap()).unwrap();
    let old_only = BfdKeys::new(BfdKey::new(AuthType::KeyedSha1, 1, b"old").unwrap());
    let new_only = BfdKeys::new(BfdKey::new(AuthType::KeyedSha1, 2, b"new").unwrap());
    let mut p = packet(State::Up, 0, 3, (1, 2), (1, 1, 0));

    p.auth = Some(keys.section(10));
    let wire = sealed(&keys, &p);
    assert_eq!(wire[26], 1, "the first key signs");
    assert!(receive(&old_only, &wire).is_ok());
    assert!(
        receive(
            &keys,
            &sealed(&new_only, &{
                let mut q = p;
                q.auth = Some(new_only.section(10));
                q
            })
        )
        .is_ok()
    );

    keys.select(2).unwrap();
    assert_eq!(keys.selected(), 2);
    p.auth = Some(keys.section(11));
    let wire = sealed(&keys, &p);
    assert_eq!(wire[26], 2);
    assert!(receive(&new_only, &wire).is_ok());
    assert_eq!(receive(&old_only, &wire), Err(AuthFailure::UnknownKey(2)));

    keys.remove(1).unwrap();
    assert_eq!(keys.ids().collect::<Vec<_>>(), [2]);
    p.auth = Some(old_only.section(12));
    assert_eq!(receive(&keys, &sealed(&old_only, &p)), Err(AuthFailure::UnknownKey(1)));
}

#[test]
fn key_errors() {
    use KeyError as E;
    assert_eq!(BfdKey::new(AuthType::KeyedSha1, 1, b"").unwrap_err(), E::EmptySecret);
    for (auth_type, max) in [
        (AuthType::SimplePassword, 16),
        (AuthType::KeyedMd5, 16),
        (AuthType::MeticulousKeyedMd5, 16),
        (AuthType::KeyedSha1, 20),
        (AuthType::MeticulousKeyedSha1, 20),
    ] {
        assert!(BfdKey::new(auth_type, 1, &[7; 20][..max]).is_ok());
        assert_eq!(
            BfdKey::new(auth_type, 1, &[7; 21][..max + 1]).unwrap_err(),
            E::SecretTooLong { auth_type, len: max + 1, max }
        );
    }
    let mut keys = BfdKeys::new(BfdKey::new(AuthType::KeyedMd5, 1, b"a").unwrap());
    assert_eq!(
        keys.add(BfdKey::new(AuthType::MeticulousKeyedMd5, 2, b"a").unwrap()),
        Err(E::TypeMismatch { expected: AuthType::KeyedMd5, got: AuthType::MeticulousKeyedMd5 })
    );
    assert_eq!(keys.add(BfdKey::new(AuthType::KeyedMd5, 1, b"b").unwrap()), Err(E::DuplicateKeyId(1)));
    for id in 2..=4 {
        keys.add(BfdKey::new(AuthType::KeyedMd5, id, b"b").unwrap()).unwrap();
    }
    assert_eq!(keys.add(BfdKey::new(AuthType::KeyedMd5, 5, b"b").unwrap()), Err(E::Full));
    assert_eq!(keys.select(9), Err(E::UnknownKeyId(9)));
    assert_eq!(keys.remove(9), Err(E::UnknownKeyId(9)));
    assert_eq!(keys.remove(1), Err(E::RemovesSelected(1)));
    assert_eq!(keys.selected(), 1);
    assert_eq!(keys.ids().count(), 4, "refused changes change nothing");
}

#[test]
fn debug_never_shows_the_secret() {
    let keys = BfdKeys::new(BfdKey::new(AuthType::SimplePassword, 3, b"hunter2").unwrap());
    let shown = format!("{keys:?}");
    assert!(shown.contains("SimplePassword") && shown.contains('3'), "{shown}");
    assert!(!shown.contains("hunter2") && !shown.contains("104, 117"), "{shown}");
}

#[test]
fn auth_types_round_trip_their_wire_values() {
    for v in 0..=255u8 {
        match AuthType::from_wire(v) {
            Some(t) => {
                assert!((1..=5).contains(&v));
                assert_eq!(t.to_wire(), v);
                assert_eq!(t.is_meticulous(), v == 3 || v == 5);
            }
            None => assert!(v == 0 || v >= 6),
        }
    }
}

#[test]
fn authenticate_sorts_presence_before_verifying() {
    let v = &vectors()[2];
    let keys = keys_for(v);
    let signed = hex(v.wire);
    let signed_packet = ControlPacket::parse(&signed).unwrap();
    let mut plain = v.packet;
    plain.auth = None;
    let mut buf = [0u8; MAX_PACKET_LEN];
    let len = plain.emit(&mut buf).unwrap();
    assert_eq!(authenticate(None, &buf[..len], &plain), Ok(()));
    assert_eq!(authenticate(Some(&keys), &buf[..len], &plain), Err(AuthFailure::Missing));
    assert_eq!(authenticate(None, &signed, &signed_packet), Err(AuthFailure::Unexpected));
    assert_eq!(authenticate(Some(&keys), &signed, &signed_packet), Ok(()));
    let mut forged = signed.clone();
    forged[35] ^= 4;
    assert_eq!(authenticate(Some(&keys), &forged, &signed_packet), Err(AuthFailure::BadDigest));
}

mod properties {
    use super::*;
    use crate::bfd::packet::tests::arb_packet;
    use proptest::prelude::*;

    fn arb_key() -> impl Strategy<Value = BfdKey> {
        (1u8..=5, any::<u8>(), proptest::collection::vec(any::<u8>(), 1..=20)).prop_map(|(t, id, mut secret)| {
            let auth_type = AuthType::from_wire(t).unwrap();
            secret.truncate(auth_type.max_secret_len());
            BfdKey::new(auth_type, id, &secret).unwrap()
        })
    }

    proptest! {
        #[test]
        fn signed_packets_verify_and_tampered_ones_do_not(
            packet in arb_packet(),
            key in arb_key(),
            sequence in any::<u32>(),
            flip in (0usize..MAX_PACKET_LEN, 0u8..8),
        ) {
            let keys = BfdKeys::new(key);
            let mut p = packet;
            p.auth = Some(keys.section(sequence));
            let wire = sealed(&keys, &p);
            prop_assert_eq!(receive(&keys, &wire), Ok(p));
            let keyed = keys.auth_type().is_keyed();
            // A keyed digest covers every byte; a password only itself.
            let first = if keyed { 0 } else { 27 };
            let at = first + flip.0 % (wire.len() - first);
            let mut bad = wire.clone();
            bad[at] ^= 1 << flip.1;
            prop_assert!(receive(&keys, &bad).is_err(), "byte {} bit {} accepted", at, flip.1);
        }
    }
}
