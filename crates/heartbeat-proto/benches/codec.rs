//! Encode + decode of a heartbeat, against postcard (serde) on an equivalent struct and against
//! plain copies of the frame's bytes: one copy, and a copy out and back (encode and decode each
//! touch the bytes once). Run: `cargo bench -p heartbeat-proto --bench codec`.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use heartbeat_proto::wire::{Echo, Kind};
use heartbeat_proto::{ClusterId, Generation, Instant, MAX_FRAME_LEN, Message, NodeId};
use serde::{Deserialize, Serialize};

fn message() -> Message {
    Message {
        kind: Kind::Heartbeat,
        cluster: ClusterId(7),
        sender: NodeId::new(0x1234_5678).unwrap(),
        receiver: NodeId::new(0x8765_4321),
        generation: Generation(3),
        sequence: 1_000_000,
        timestamp: Instant::from_nanos(1_700_000_000_000_000_000),
        echo: Some(Echo {
            timestamp: Instant::from_nanos(1_699_999_999_000_000_000),
            delay: Duration::from_micros(250),
        }),
        interval: Duration::from_millis(100),
        requested_timeout: Duration::from_millis(300),
        applied_timeout: Some(Duration::from_millis(300)),
        hears_you: true,
        auth: None,
    }
}

/// The same information as a serde struct, the way one would write it without a hand-made codec.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct SerdeHeartbeat {
    kind: u8,
    hears_you: bool,
    cluster: u32,
    generation: u32,
    sender: u64,
    receiver: u64,
    sequence: u64,
    timestamp_ns: u64,
    echo: Option<(u64, u32)>,
    interval_us: u32,
    requested_timeout_us: u32,
    applied_timeout_us: Option<u32>,
}

fn serde_heartbeat() -> SerdeHeartbeat {
    let m = message();
    SerdeHeartbeat {
        kind: 1,
        hears_you: m.hears_you,
        cluster: m.cluster.0,
        generation: m.generation.0,
        sender: m.sender.get(),
        receiver: m.receiver.map_or(0, NodeId::get),
        sequence: m.sequence,
        timestamp_ns: m.timestamp.as_nanos(),
        echo: m.echo.map(|e| (e.timestamp.as_nanos(), e.delay.as_micros() as u32)),
        interval_us: m.interval.as_micros() as u32,
        requested_timeout_us: m.requested_timeout.as_micros() as u32,
        applied_timeout_us: m.applied_timeout.map(|d| d.as_micros() as u32),
    }
}

const GROUP: &str = "codec";

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group(GROUP);
    let msg = message();
    let mut buf = [0u8; MAX_FRAME_LEN];
    group.bench_function("heartbeat-proto", |b| {
        b.iter(|| {
            let len = black_box(&msg).encode(black_box(&mut buf)).unwrap();
            Message::decode(black_box(&buf[..len])).unwrap()
        })
    });

    let value = serde_heartbeat();
    let mut pbuf = [0u8; 128];
    group.bench_function("postcard", |b| {
        b.iter(|| {
            let used = postcard::to_slice(black_box(&value), black_box(&mut pbuf)).unwrap();
            postcard::from_bytes::<SerdeHeartbeat>(black_box(used)).unwrap()
        })
    });

    // The way serde users usually encode: into a fresh Vec.
    group.bench_function("postcard-allocvec", |b| {
        b.iter(|| {
            let bytes = postcard::to_allocvec(black_box(&value)).unwrap();
            postcard::from_bytes::<SerdeHeartbeat>(black_box(&bytes)).unwrap()
        })
    });

    let mut src = [0u8; MAX_FRAME_LEN];
    let len = msg.encode(&mut src).unwrap();
    let mut dst = [0u8; MAX_FRAME_LEN];
    group.bench_function("memcpy-once", |b| {
        b.iter(|| {
            dst[..len].copy_from_slice(black_box(&src[..len]));
            black_box(&dst);
        })
    });
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            // Copy out and back in, as encode then decode each touch the bytes once.
            dst[..len].copy_from_slice(black_box(&src[..len]));
            src[..len].copy_from_slice(black_box(&dst[..len]));
            black_box(&src);
        })
    });
    group.finish();
}

fn main() {
    let mut c = support::criterion();
    bench(&mut c);
    c.final_summary();
    support::print_ratios(
        "encode + decode of one heartbeat (goal: >= 10x faster than postcard, within 3x of memcpy)",
        &[
            ("postcard to_slice / heartbeat-proto (times faster)", (GROUP, "postcard"), (GROUP, "heartbeat-proto")),
            (
                "postcard to_allocvec / heartbeat-proto (times faster)",
                (GROUP, "postcard-allocvec"),
                (GROUP, "heartbeat-proto"),
            ),
            ("heartbeat-proto / memcpy out and back (times slower)", (GROUP, "heartbeat-proto"), (GROUP, "memcpy")),
            (
                "heartbeat-proto / one memcpy of the frame (times slower)",
                (GROUP, "heartbeat-proto"),
                (GROUP, "memcpy-once"),
            ),
        ],
    );
}
