//! BFD control packets: encode + decode against plain copies of the same 24 bytes, and what
//! each authentication type adds (emit + sign, then parse + verify) in the same run.
//! Run: `cargo bench -p heartbeat-proto --bench bfd`.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use heartbeat_proto::bfd::auth::{AuthType, BfdKey, BfdKeys};
use heartbeat_proto::bfd::packet::{HEADER_LEN, MAX_PACKET_LEN};
use heartbeat_proto::bfd::{ControlPacket, Diag, State};

fn packet() -> ControlPacket {
    ControlPacket {
        diag: Diag::NONE,
        state: State::Up,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 0x1234_5678,
        your_discriminator: 0x8765_4321,
        desired_min_tx: 300_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
        auth: None,
    }
}

const CODEC: &str = "bfd_codec";
const AUTH: &str = "bfd_auth";

/// Every auth type with its bench name and a secret of the longest length it takes.
const TYPES: [(AuthType, &str, &[u8]); 5] = [
    (AuthType::SimplePassword, "simple_password", b"0123456789abcdef"),
    (AuthType::KeyedMd5, "keyed_md5", b"0123456789abcdef"),
    (AuthType::MeticulousKeyedMd5, "meticulous_keyed_md5", b"0123456789abcdef"),
    (AuthType::KeyedSha1, "keyed_sha1", b"0123456789abcdefghij"),
    (AuthType::MeticulousKeyedSha1, "meticulous_keyed_sha1", b"0123456789abcdefghij"),
];

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group(CODEC);
    let p = packet();
    let mut buf = [0u8; MAX_PACKET_LEN];
    group.bench_function("encode_decode", |b| {
        b.iter(|| {
            let len = black_box(&p).emit(black_box(&mut buf)).unwrap();
            ControlPacket::parse(black_box(&buf[..len])).unwrap()
        })
    });
    let mut src = [0u8; HEADER_LEN];
    p.emit(&mut src).unwrap();
    let mut dst = [0u8; HEADER_LEN];
    group.bench_function("memcpy_once", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&dst);
        })
    });
    group.bench_function("memcpy_out_and_back", |b| {
        b.iter(|| {
            // Encode and decode each touch the bytes once: copy out, then back in.
            dst.copy_from_slice(black_box(&src));
            src.copy_from_slice(black_box(&dst));
            black_box(&src);
        })
    });
    group.finish();
}

fn auth(c: &mut Criterion) {
    let mut group = c.benchmark_group(AUTH);
    let mut buf = [0u8; MAX_PACKET_LEN];
    let plain = packet();
    group.bench_function("none", |b| {
        b.iter(|| {
            let len = black_box(&plain).emit(&mut buf).unwrap();
            ControlPacket::parse(black_box(&buf[..len])).unwrap()
        })
    });
    for (auth_type, name, secret) in TYPES {
        let keys = BfdKeys::new(BfdKey::new(auth_type, 1, secret).unwrap());
        let mut sequence = 0u32;
        group.bench_function(name, |b| {
            b.iter(|| {
                sequence = sequence.wrapping_add(1);
                let mut p = plain;
                p.auth = Some(keys.section(sequence));
                let len = black_box(&p).emit(&mut buf).unwrap();
                keys.sign(&mut buf[..len]).unwrap();
                let received = ControlPacket::parse(black_box(&buf[..len])).unwrap();
                keys.verify(&buf[..len], &received.auth.unwrap()).unwrap();
                received
            })
        });
    }
    group.finish();
}

fn main() {
    let mut c = support::criterion().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    codec(&mut c);
    auth(&mut c);
    c.final_summary();
    let mut ratios = vec![
        (
            "encode + decode / memcpy out and back (times slower)",
            (CODEC, "encode_decode"),
            (CODEC, "memcpy_out_and_back"),
        ),
        ("encode + decode / one memcpy of 24 bytes (times slower)", (CODEC, "encode_decode"), (CODEC, "memcpy_once")),
    ];
    let labels: Vec<String> =
        TYPES.iter().map(|(_, name, _)| format!("{name}: sign + verify round / unauthenticated")).collect();
    for ((_, name, _), label) in TYPES.iter().zip(&labels) {
        ratios.push((label.as_str(), (AUTH, name), (AUTH, "none")));
    }
    support::print_ratios("BFD control packets, same run", &ratios);
}
