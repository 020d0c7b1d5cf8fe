//! What the Linux-HA text profile costs per message, against wire v1 in the same run.
//!
//! - `decode_verify`: one status heartbeat turned into an authenticated observation —
//!   Linux-HA's netstring text (decode, verify the trailer with sha1 / md5 HMAC or crc, read the
//!   typed fields) against wire v1's binary frame (check, parse, HMAC-SHA256).
//! - `decode`: the Linux-HA framing alone, without authentication.
//!
//! Run: `cargo bench -p heartbeat-proto --bench linuxha`.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use heartbeat_proto::linuxha::{HaCf, LinuxHa, Message as LhaMessage, parse_authkeys};
use heartbeat_proto::wire::{Echo, Frame, Kind};
use heartbeat_proto::{
    Authentication, ClusterId, Generation, Instant, Key, KeyId, KeyRing, MAX_FRAME_LEN, Message, NodeId,
};

const CF: &str = "keepalive 200ms\ndeadtime 1\nnode hbnode1 hbnode2\n";

/// `(name, authkeys)` of the three Linux-HA methods.
const METHODS: [(&str, &str); 3] = [
    ("linuxha_sha1", "auth 1\n1 sha1 lha-test-secret\n"),
    ("linuxha_md5", "auth 3\n3 md5 lha-md5-key\n"),
    ("linuxha_crc", "auth 2\n2 crc\n"),
];

/// hbnode2's status heartbeat as hbnode1 receives it, and hbnode1's profile.
fn linuxha(authkeys: &str) -> (LinuxHa<4>, Vec<u8>) {
    let cf = HaCf::parse(CF).unwrap();
    let keys = parse_authkeys(authkeys).unwrap();
    let mut sender = LinuxHa::<4>::from_ha_cf(&cf, "hbnode2", keys.clone(), Generation(0x6b07_685a))
        .unwrap()
        .with_flow_control(true)
        .with_uuid([0xeb; 16]);
    let receiver = LinuxHa::<4>::from_ha_cf(&cf, "hbnode1", keys, Generation(7)).unwrap();
    let mut buf = [0u8; 1024];
    let len = sender.encode_status("active", 0x6b07_6859, "0.66 0.54 0.24 1/108 15849", &mut buf).unwrap();
    (receiver, buf[..len].to_vec())
}

fn v1() -> (Authentication, Vec<u8>) {
    let auth = Authentication::Hmac(KeyRing::new(Key::new(KeyId(1), &[0x42; 32]).unwrap()));
    let id = |n| NodeId::new(n).unwrap();
    let msg = Message {
        kind: Kind::Heartbeat,
        cluster: ClusterId(7),
        sender: id(2),
        receiver: Some(id(1)),
        generation: Generation(1),
        sequence: 1,
        timestamp: Instant::from_millis(1),
        echo: Some(Echo { timestamp: Instant::from_millis(1), delay: Duration::from_micros(50) }),
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_millis(1000),
        applied_timeout: Some(Duration::from_millis(1000)),
        hears_you: true,
        auth: None,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = auth.encode(&msg, &mut buf).unwrap();
    (auth, buf[..len].to_vec())
}

fn decode_verify(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_verify");
    let (auth, frame) = v1();
    g.bench_function("wire_v1_hmac_sha256", |b| {
        b.iter(|| {
            let frame = Frame::new_checked(black_box(&frame[..])).unwrap();
            let msg = Message::parse(&frame).unwrap();
            auth.verify(&frame).unwrap();
            msg
        })
    });
    for (name, keys) in METHODS {
        let (profile, bytes) = linuxha(keys);
        g.bench_function(name, |b| b.iter(|| profile.observation(black_box(&bytes)).unwrap()));
    }
    g.finish();
    let mut g = c.benchmark_group("decode");
    let (_, bytes) = linuxha(METHODS[0].1);
    g.bench_function("linuxha_netstring", |b| b.iter(|| LhaMessage::decode(black_box(&bytes)).unwrap()));
    g.finish();
}

fn main() {
    let (_, bytes) = linuxha(METHODS[0].1);
    println!("a Linux-HA status heartbeat: {} bytes; wire v1 with HMAC-SHA256: {} bytes", bytes.len(), v1().1.len());
    let mut c = support::criterion().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    decode_verify(&mut c);
    c.final_summary();
    let v1 = ("decode_verify", "wire_v1_hmac_sha256");
    support::print_ratios(
        "the Linux-HA text profile against wire v1, same run (decode + verify of one heartbeat)",
        &[
            ("linuxha sha1 / wire v1 hmac-sha256", ("decode_verify", "linuxha_sha1"), v1),
            ("linuxha md5 / wire v1 hmac-sha256", ("decode_verify", "linuxha_md5"), v1),
            ("linuxha crc / wire v1 hmac-sha256", ("decode_verify", "linuxha_crc"), v1),
            ("linuxha netstring decode alone / wire v1 decode + verify", ("decode", "linuxha_netstring"), v1),
        ],
    );
}
