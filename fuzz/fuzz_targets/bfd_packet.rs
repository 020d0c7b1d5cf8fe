//! Bytes → BFD `ControlPacket::parse`, then authentication against fixed keys of every type.
//!
//! Checked on every input:
//! - nothing panics (parse, emit, sign, verify);
//! - whatever `parse` accepts re-emits to the very same bytes up to Length, except the password
//!   or digest, which `emit` leaves zero for a signer, and parses again to the same packet;
//! - a packet signed under a key of the fixed sets verifies under that set;
//! - received bytes verify only if they are exactly what signing the packet gives: a password
//!   or digest the fuzzer made up never passes unless it is the genuine one.

#![no_main]

use heartbeat_proto::bfd::ControlPacket;
use heartbeat_proto::bfd::auth::{AuthType, BfdKey, BfdKeys};
use heartbeat_proto::bfd::packet::{MAX_PACKET_LEN, Packet};
use libfuzzer_sys::fuzz_target;

/// The secret of every fixed key (a password fits 16 bytes, MD5 16, SHA1 20).
const SECRET: &[u8] = b"fuzz-bfd-key";

/// One set per type, each with keys 1 (signing) and 2.
fn key_sets() -> [BfdKeys; 5] {
    [
        AuthType::SimplePassword,
        AuthType::KeyedMd5,
        AuthType::MeticulousKeyedMd5,
        AuthType::KeyedSha1,
        AuthType::MeticulousKeyedSha1,
    ]
    .map(|t| {
        let mut keys = BfdKeys::new(BfdKey::new(t, 1, SECRET).unwrap());
        keys.add(BfdKey::new(t, 2, b"second").unwrap()).unwrap();
        keys
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = ControlPacket::parse(data) else { return };
    let mut buf = [0u8; MAX_PACKET_LEN];
    let len = packet.emit(&mut buf).expect("a parsed packet fits the largest packet");
    assert_eq!(len, packet.len());
    let received = Packet::new_checked(data).expect("parse checked it");
    assert_eq!(received.as_bytes().len(), len, "{packet:?}");
    // Copy the received password or digest over the zeroes emit leaves, then compare.
    let mut copy = buf;
    Packet::new_unchecked(&mut copy[..len]).auth_data_mut().copy_from_slice(received.auth_data());
    assert_eq!(&copy[..len], received.as_bytes(), "{packet:?}");
    assert_eq!(ControlPacket::parse(&buf[..len]), Ok(packet));

    let Some(section) = packet.auth else { return };
    for keys in key_sets() {
        let verdict = keys.verify(data, &section);
        let mut signed = buf;
        match keys.sign(&mut signed[..len]) {
            Ok(()) => {
                assert_eq!(keys.verify(&signed[..len], &section), Ok(()), "{packet:?}");
                if verdict.is_ok() {
                    assert_eq!(&signed[..len], received.as_bytes(), "accepted bytes that are not the genuine ones");
                }
            }
            Err(_) => assert!(verdict.is_err(), "verified what the same keys cannot sign: {packet:?}"),
        }
    }
});
