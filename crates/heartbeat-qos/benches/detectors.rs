//! What each detector costs per heartbeat, and per peer, in one process so that the numbers
//! compare: `cargo bench -p heartbeat-qos --bench detectors`.
//!
//! - `detector/heartbeat/*`: `on_heartbeat` then `deadlines` — what the monitor calls for
//!   every fresh heartbeat — over arrivals of a WAN trace with delay spikes, after warm-up.
//! - `detector/suspicion/*`: one `suspicion` query (the continuous level a status read shows).
//! - `receiver/heartbeat/*`: the whole receiver per heartbeat, as the lab replays it: encode,
//!   `on_message`, `tick`, drain, bookkeeping — the replay cost per heartbeat — with the fixed
//!   timeout as the baseline.
//!
//! Bytes per peer (deterministic) are printed first.

use core::time::Duration;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use heartbeat_proto::detector::{Arrival, PeerTiming};
use heartbeat_proto::{Adaptive, AkkaPhi, CassandraPhi, Chen, Detector, FixedTimeout, Instant, TwoWindow};
use heartbeat_qos::contender::{Contender, Lab, WINDOW};
use heartbeat_qos::cost::arrivals;
use heartbeat_qos::generate::generate;
use heartbeat_qos::scenario::suite;

const CHUNK: usize = 10_000;

fn timing(at: Instant) -> PeerTiming {
    PeerTiming {
        last_heard: at,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(3),
        min_timeout: Duration::from_millis(200),
        max_timeout: Duration::from_secs(60),
    }
}

fn bench_detector<D: Detector>(c: &mut Criterion, name: &str, detector: D, warm: &[Arrival], measured: &[Arrival]) {
    let mut state = D::PeerState::default();
    for a in warm {
        detector.on_heartbeat(&mut state, a);
    }
    let mut group = c.benchmark_group("detector/heartbeat");
    group.throughput(Throughput::Elements(measured.len() as u64));
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            || state.clone(),
            |s| {
                for a in measured {
                    detector.on_heartbeat(s, black_box(a));
                    black_box(detector.deadlines(s, &timing(a.at)));
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
    let last = warm.last().map_or(Instant::ZERO, |a| a.at);
    let mut group = c.benchmark_group("detector/suspicion");
    group.bench_function(name, |b| {
        b.iter(|| detector.suspicion(&state, &timing(last), black_box(last + Duration::from_millis(1500))));
    });
    group.finish();
}

fn detectors(c: &mut Criterion) {
    for contender in Contender::ALL {
        println!("bytes per peer, {}: {}", contender.name(), contender.bytes_per_peer());
    }
    let scenario = suite().into_iter().find(|s| s.name == "wan-spikes").expect("scenario");
    let trace = generate(&scenario, 30.0, 1).expect("trace");
    let all = arrivals(&trace);
    let (warm, rest) = all.split_at(all.len() - CHUNK);
    let alpha = Duration::from_millis(500);
    bench_detector(c, "fixed", FixedTimeout::new(), warm, rest);
    bench_detector(c, "chen-1000", Chen::<WINDOW>::new(alpha), warm, rest);
    bench_detector(c, "chen-known-1000", Chen::<WINDOW>::new(alpha).with_advertised_interval(), warm, rest);
    bench_detector(c, "2w-fd-1000", TwoWindow::<WINDOW>::new(alpha), warm, rest);
    bench_detector(c, "phi-akka-1000", AkkaPhi::<WINDOW>::new(), warm, rest);
    bench_detector(c, "phi-cassandra-1000", CassandraPhi::<WINDOW>::new(), warm, rest);
    bench_detector(c, "adaptive", Adaptive::with_target(1.0), warm, rest);
}

fn receiver(c: &mut Criterion) {
    let scenario = suite().into_iter().find(|s| s.name == "wan-spikes").expect("scenario");
    let trace = generate(&scenario, 2.0, 1).expect("trace");
    let order = trace.arrival_order();
    let lab = Lab::new(trace.interval, 0);
    let mut group = c.benchmark_group("receiver/heartbeat");
    group.throughput(Throughput::Elements(order.len() as u64));
    group.sample_size(20);
    for (name, contender, knob) in [
        ("fixed", Contender::Fixed, 3.0),
        ("chen-1000", Contender::Chen, 0.5),
        ("chen-known-1000", Contender::ChenKnown, 0.5),
        ("phi-akka-1000", Contender::AkkaPhi, 8.0),
        ("adaptive", Contender::Adaptive, 1.0),
    ] {
        group.bench_function(name, |b| b.iter(|| contender.run(knob, &trace, &order, &lab).expect("replay")));
    }
    group.finish();
}

criterion_group!(benches, detectors, receiver);
criterion_main!(benches);
