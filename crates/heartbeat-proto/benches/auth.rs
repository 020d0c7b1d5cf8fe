//! What authentication costs, measured against the unauthenticated path in the same run.
//!
//! - `verify`: checking an authenticated frame (structure, fields, HMAC-SHA256 tag) against
//!   decoding an unauthenticated one.
//! - `sign`: encoding and signing against plain encoding.
//! - `on_message`: the whole receive path — accepting a fresh genuine frame, refusing a forged
//!   one (bad tag from a known peer: one HMAC), refusing a spoofed sender (before the HMAC),
//!   and refusing a spoofed sender where learning is on (after one HMAC).
//!
//! Run: `cargo bench -p heartbeat-proto --bench auth`.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant as WallClock};

use criterion::Criterion;
use heartbeat_proto::wire::{Echo, Frame, Kind};
use heartbeat_proto::{
    Authentication, ClusterId, Config, FixedTimeout, Generation, Growable, Instant, Key, KeyId, KeyRing, Learning,
    LinkId, MAX_FRAME_LEN, Message, Monitor, NodeId,
};

const CLUSTER: ClusterId = ClusterId(7);

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn keys(secret: u8) -> Authentication {
    Authentication::Hmac(KeyRing::new(Key::new(KeyId(1), &[secret; 32]).unwrap()))
}

fn heartbeat(sender: u64, sequence: u64) -> Message {
    Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(sender),
        receiver: Some(id(1)),
        generation: Generation(1),
        sequence,
        timestamp: Instant::from_millis(sequence),
        echo: Some(Echo { timestamp: Instant::from_millis(sequence), delay: Duration::from_micros(50) }),
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: Some(Duration::from_millis(600)),
        hears_you: true,
        auth: None,
    }
}

fn seal(auth: &Authentication, msg: &Message) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = auth.encode(msg, &mut buf).unwrap();
    buf[..len].to_vec()
}

fn monitor(auth: Authentication, learning: Learning) -> Monitor<FixedTimeout, Growable> {
    let config = Config::builder(CLUSTER, id(1))
        .tick(Duration::from_millis(100))
        .authentication(auth)
        .learning(learning)
        .build()
        .unwrap();
    let mut m = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    m.add_peer(id(2)).unwrap();
    m
}

fn verify(c: &mut Criterion) {
    let auth = keys(0x42);
    let plain = seal(&Authentication::None, &heartbeat(2, 1));
    let signed = seal(&auth, &heartbeat(2, 1));
    let mut g = c.benchmark_group("verify");
    g.bench_function("decode_unauthenticated", |b| b.iter(|| Message::decode(black_box(&plain)).unwrap()));
    g.bench_function("decode_and_verify_hmac", |b| {
        b.iter(|| {
            let frame = Frame::new_checked(black_box(&signed[..])).unwrap();
            let msg = Message::parse(&frame).unwrap();
            auth.verify(&frame).unwrap();
            msg
        })
    });
    g.finish();
}

fn sign(c: &mut Criterion) {
    let auth = keys(0x42);
    let msg = heartbeat(2, 1);
    let mut buf = [0u8; MAX_FRAME_LEN];
    let mut g = c.benchmark_group("sign");
    g.bench_function("encode_unauthenticated", |b| b.iter(|| black_box(&msg).encode(&mut buf).unwrap()));
    g.bench_function("encode_and_sign_hmac", |b| b.iter(|| auth.encode(black_box(&msg), &mut buf).unwrap()));
    g.finish();
}

/// Times `on_message` over `iters` frames made beforehand (fresh sequence numbers, so every
/// genuine frame is accepted), on a new monitor.
fn deliver_all(iters: u64, auth: &Authentication, monitor: impl Fn() -> Monitor<FixedTimeout, Growable>) -> Duration {
    let frames: Vec<Vec<u8>> = (1..=iters).map(|seq| seal(auth, &heartbeat(2, seq))).collect();
    let mut m = monitor();
    let start = WallClock::now();
    for (i, frame) in frames.iter().enumerate() {
        let _ = black_box(m.on_message(Instant::from_millis(i as u64), LinkId(0), frame));
        while m.poll_event().is_some() {}
    }
    start.elapsed()
}

fn on_message(c: &mut Criterion) {
    let auth = keys(0x42);
    let mut g = c.benchmark_group("on_message");
    g.bench_function("accept_unauthenticated", |b| {
        b.iter_custom(|iters| {
            deliver_all(iters, &Authentication::None, || monitor(Authentication::None, Learning::Disabled))
        })
    });
    g.bench_function("accept_genuine_hmac", |b| {
        b.iter_custom(|iters| deliver_all(iters, &auth, || monitor(keys(0x42), Learning::Disabled)))
    });
    // A known peer's frame under the wrong key: refused after one HMAC.
    let forged = seal(&keys(0x66), &heartbeat(2, 1));
    let mut m = monitor(keys(0x42), Learning::Disabled);
    g.bench_function("reject_forged_tag", |b| b.iter(|| m.on_message(Instant::ZERO, LinkId(0), black_box(&forged))));
    // A spoofed sender id: refused before the HMAC.
    let spoofed = seal(&keys(0x66), &heartbeat(99, 1));
    let mut m = monitor(keys(0x42), Learning::Disabled);
    g.bench_function("reject_spoofed_sender", |b| {
        b.iter(|| m.on_message(Instant::ZERO, LinkId(0), black_box(&spoofed)))
    });
    // The same where learning is on: the sender could be new, so the tag is checked.
    let mut m = monitor(keys(0x42), Learning::Enabled);
    g.bench_function("reject_spoofed_sender_learning", |b| {
        b.iter(|| m.on_message(Instant::ZERO, LinkId(0), black_box(&spoofed)))
    });
    g.finish();
}

fn main() {
    let mut c = support::criterion().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    verify(&mut c);
    sign(&mut c);
    on_message(&mut c);
    c.final_summary();
    support::print_ratios(
        "what authentication costs, same run",
        &[
            (
                "decode + verify / plain decode",
                ("verify", "decode_and_verify_hmac"),
                ("verify", "decode_unauthenticated"),
            ),
            ("encode + sign / plain encode", ("sign", "encode_and_sign_hmac"), ("sign", "encode_unauthenticated")),
            (
                "on_message: accept signed / accept unsigned",
                ("on_message", "accept_genuine_hmac"),
                ("on_message", "accept_unauthenticated"),
            ),
            (
                "on_message: reject forged / accept genuine",
                ("on_message", "reject_forged_tag"),
                ("on_message", "accept_genuine_hmac"),
            ),
            (
                "on_message: reject spoofed id / accept genuine",
                ("on_message", "reject_spoofed_sender"),
                ("on_message", "accept_genuine_hmac"),
            ),
            (
                "on_message: reject spoofed id, learning on / accept genuine",
                ("on_message", "reject_spoofed_sender_learning"),
                ("on_message", "accept_genuine_hmac"),
            ),
        ],
    );
}
