//! Bytes → Linux-HA `Message::decode`, `verify` and the status reader: never a panic. Whatever
//! decodes and can be re-encoded (text without newlines, names a classic line can carry)
//! re-encodes, in both framings, to a message with the same fields that authenticates. Both the
//! raw bytes and that signed re-encoding (which passes authentication, so the fuzzer reaches
//! acks, retransmission requests, naks, `reqnodes`) go into a `LinuxHaNode`, whose deadline
//! must move past `now` once its output is drained.

#![no_main]

use heartbeat_proto::engine::RecvMeta;
use heartbeat_proto::linuxha::profile::Status;
use heartbeat_proto::linuxha::{
    Field, HaCf, LinuxHaNode, Message, Value, encode_classic, encode_netstring, parse_authkeys,
};
use heartbeat_proto::{FixedTimeout, Generation, Growable, Instant, LinkId};
use libfuzzer_sys::fuzz_target;

const KEYS: &str = "auth 1\n1 sha1 lha-test-secret\n2 crc\n3 md5 lha-md5-key\n";
const CF: &str = "keepalive 250ms\ndeadtime 1500ms\ninitdead 3\nucast eth0 198.18.0.1\nnode hbnode1 hbnode2\n";

/// Feeds `datagrams` to a fresh node, 10 ms apart, draining everything after each.
fn drive(datagrams: &[&[u8]]) {
    let cf = HaCf::parse(CF).expect("the lab ha.cf parses");
    let keys = parse_authkeys(KEYS).expect("the lab authkeys parses");
    let mut node: LinuxHaNode<FixedTimeout, Growable> =
        LinuxHaNode::new(&cf, "hbnode2", keys, Generation(5), FixedTimeout::new(), Instant::ZERO, 0x6b07_0000)
            .expect("the lab node starts");
    let mut buf = vec![0u8; 65_536];
    for (i, bytes) in datagrams.iter().enumerate() {
        let now = Instant::from_millis(10 * i as u64);
        let _ = node.on_message(now, RecvMeta::from(LinkId(0)), bytes);
        node.tick(now);
        while let Some(t) = node.poll_transmit(&mut buf) {
            let t = t.expect("a 64 KiB buffer fits every datagram");
            assert!(Message::decode(&buf[..t.len]).is_ok(), "what we send decodes");
        }
        while node.poll_event().is_some() {}
        if let Some(next) = node.poll_timeout() {
            assert!(next > now, "the deadline moves on once the output is drained");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = parse_authkeys(KEYS).expect("the lab authkeys parses");
    let Ok(msg) = Message::decode(data) else {
        drive(&[data]);
        return;
    };
    let _ = msg.verify(&keys);
    let _ = Status::from_message(&msg);
    let fields: Vec<Field<'_>> = msg.payload_fields().copied().collect();
    let mut buf = vec![0u8; 2 * data.len() + 256];
    let Ok(len) = encode_netstring(&fields, &keys, &mut buf) else {
        drive(&[data]);
        return;
    };
    drive(&[data, &buf[..len], &buf[..len]]);
    let again = Message::decode(&buf[..len]).expect("our own encoding decodes");
    assert_eq!(again.verify(&keys), Ok(1));
    assert_eq!(again.payload_fields().count(), fields.len());
    for (a, b) in again.payload_fields().zip(&fields) {
        assert_eq!((a.name, a.value.field_type()), (b.name, b.value.field_type()));
        // A classic field's base64 arrives as raw bytes: those are checked by the re-encoding below.
        if !matches!(b.value, Value::Base64(_)) {
            assert_eq!(a, b);
        }
    }
    let refields: Vec<Field<'_>> = again.payload_fields().copied().collect();
    let mut same = vec![0u8; len];
    assert_eq!(encode_netstring(&refields, &keys, &mut same), Ok(len));
    assert_eq!(same, &buf[..len]);
    let mut classic = vec![0u8; 4 * data.len() + 256];
    let clen = encode_classic(&fields, &keys, &mut classic).expect("what netstring took, classic takes");
    let back = Message::decode(&classic[..clen]).expect("our own classic encoding decodes");
    assert_eq!(back.verify(&keys), Ok(1));
    let back_fields: Vec<Field<'_>> = back.payload_fields().copied().collect();
    let mut re = vec![0u8; len];
    assert_eq!(encode_netstring(&back_fields, &keys, &mut re), Ok(len));
    assert_eq!(&re[..], &buf[..len]);
});
