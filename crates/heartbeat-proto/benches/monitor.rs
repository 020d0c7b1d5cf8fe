//! The monitor's CPU per heartbeat at 1k and 100k peers (each sending once per virtual
//! second), against a naive monitor that keeps peers in a `HashMap` and scans all of them on
//! every tick. Both get the same calls: every heartbeat is decoded and handed to `on_message`,
//! and `tick` runs every millisecond of virtual time (the polling rate a scanning monitor needs
//! for millisecond precision; ours would need no ticks but its deadlines).
//!
//! The `verdicts` group measures the other hot path: 1k peers going silent at once, each
//! raising `Suspect` then `Down`, with and without their evidence
//! (`ConfigBuilder::explain_verdicts`), same monitor, same run.
//!
//! Run: `cargo bench -p heartbeat-proto --bench monitor` (only the verdicts:
//! `cargo bench -p heartbeat-proto --bench monitor -- verdicts`).

mod support;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant as WallInstant};

use criterion::{Criterion, Throughput};
use heartbeat_proto::wire::{Frame, Kind};
use heartbeat_proto::{
    Authentication, ClusterId, Config, EventKind, FixedTimeout, Generation, Growable, Instant, LinkId, MAX_FRAME_LEN,
    Message, Monitor, NodeId, PeerFootprint,
};

const ME: u64 = u64::MAX;
const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(1);

fn config() -> Config {
    builder().build().unwrap()
}

fn builder() -> heartbeat_proto::ConfigBuilder {
    Config::builder(ClusterId(1), NodeId::new(ME).unwrap())
        .authentication(Authentication::None)
        .tick(Duration::from_secs(1))
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .max_peers(1 << 20)
}

/// One pre-encoded heartbeat per peer; each virtual second patches in the next sequence number.
struct Traffic {
    frames: Vec<[u8; MAX_FRAME_LEN]>,
    len: usize,
    second: u64,
}

impl Traffic {
    fn new(peers: u64) -> Self {
        let mut len = 0;
        let frames = (1..=peers)
            .map(|p| {
                let msg = Message {
                    kind: Kind::Heartbeat,
                    cluster: ClusterId(1),
                    sender: NodeId::new(p).unwrap(),
                    receiver: NodeId::new(ME),
                    generation: Generation(1),
                    sequence: 0,
                    timestamp: Instant::ZERO,
                    echo: None,
                    interval: INTERVAL,
                    requested_timeout: TIMEOUT,
                    applied_timeout: None,
                    hears_you: false,
                    auth: None,
                };
                let mut buf = [0u8; MAX_FRAME_LEN];
                len = msg.encode(&mut buf).unwrap();
                buf
            })
            .collect();
        Traffic { frames, len, second: 0 }
    }

    /// Plays one virtual second: peer i's heartbeat arrives at `i / n` of the second, and the
    /// clock ticks every `POLL`. Returns the wall time spent in the monitor.
    fn play_second(&mut self, mut on_message: impl FnMut(Instant, &[u8]), mut tick: impl FnMut(Instant)) -> Duration {
        self.second += 1;
        let n = self.frames.len() as u64;
        let start = Instant::from_secs(self.second);
        let step = INTERVAL.as_nanos() as u64 / n;
        let polls_per_second = (INTERVAL.as_nanos() / POLL.as_nanos()) as u64;
        let mut next_poll = 0u64;
        let wall = WallInstant::now();
        for (i, frame) in self.frames.iter_mut().enumerate() {
            let at = start + Duration::from_nanos(i as u64 * step);
            while next_poll < polls_per_second && start + POLL * next_poll as u32 <= at {
                tick(start + POLL * next_poll as u32);
                next_poll += 1;
            }
            Frame::new_unchecked(&mut frame[..]).set_sequence(self.second);
            on_message(at, &frame[..self.len]);
        }
        while next_poll < polls_per_second {
            tick(start + POLL * next_poll as u32);
            next_poll += 1;
        }
        wall.elapsed()
    }
}

/// The monitor one writes first: a map of last-heard times, scanned on every tick.
struct NaiveMonitor {
    peers: HashMap<NodeId, NaivePeer>,
    down: u64,
}

struct NaivePeer {
    generation: Generation,
    sequence: u64,
    last_heard: Instant,
    up: bool,
}

impl NaiveMonitor {
    fn on_message(&mut self, now: Instant, bytes: &[u8]) {
        let Ok(msg) = Message::decode(bytes) else { return };
        let peer = self.peers.entry(msg.sender).or_insert(NaivePeer {
            generation: msg.generation,
            sequence: 0,
            last_heard: now,
            up: false,
        });
        if msg.generation >= peer.generation && msg.sequence > peer.sequence {
            peer.generation = msg.generation;
            peer.sequence = msg.sequence;
            peer.last_heard = now;
            peer.up = true;
        }
    }

    fn tick(&mut self, now: Instant) {
        for peer in self.peers.values_mut() {
            if peer.up && peer.last_heard + TIMEOUT <= now {
                peer.up = false;
                self.down += 1;
            }
        }
    }
}

fn ours(peers: u64) -> (Monitor<FixedTimeout, Growable>, Traffic) {
    let mut monitor = Monitor::new(config(), FixedTimeout::new(), Instant::ZERO);
    for p in 1..=peers {
        monitor.add_peer(NodeId::new(p).unwrap()).unwrap();
    }
    let mut traffic = Traffic::new(peers);
    // Warm up: every peer up, timers in steady state.
    for _ in 0..4 {
        play_ours(&mut monitor, &mut traffic);
    }
    (monitor, traffic)
}

/// Drives our monitor as a real driver does: every input is followed by a drain of events.
fn play_ours(monitor: &mut Monitor<FixedTimeout, Growable>, traffic: &mut Traffic) -> Duration {
    fn drain(m: &mut Monitor<FixedTimeout, Growable>) {
        while let Some(e) = m.poll_event() {
            black_box(e);
        }
    }
    let cell = std::cell::RefCell::new(monitor);
    traffic.play_second(
        |now, bytes| {
            let mut m = cell.borrow_mut();
            let _ = black_box(m.on_message(now, LinkId(0), bytes));
            drain(&mut m);
        },
        |now| {
            let mut m = cell.borrow_mut();
            m.tick(now);
            drain(&mut m);
        },
    )
}

fn bench(c: &mut Criterion) {
    for peers in [1_000u64, 100_000] {
        let name = format!("{}k_peers", peers / 1000);
        let mut group = c.benchmark_group(format!("monitor_{name}"));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(peers));

        let (mut monitor, mut traffic) = ours(peers);
        group.bench_function("heartbeat-proto", |b| {
            b.iter_custom(|seconds| (0..seconds).map(|_| play_ours(&mut monitor, &mut traffic)).sum())
        });
        assert_eq!(monitor.stats().rejected(), 0, "our monitor refused heartbeats");
        assert!(monitor.peers().all(|p| p.liveness == heartbeat_proto::Liveness::Up));

        let mut naive = NaiveMonitor { peers: HashMap::new(), down: 0 };
        let mut traffic = Traffic::new(peers);
        let naive_cell = std::cell::RefCell::new(&mut naive);
        group.bench_function("naive-hashmap-scan", |b| {
            b.iter_custom(|seconds| {
                (0..seconds)
                    .map(|_| {
                        traffic.play_second(
                            |now, bytes| naive_cell.borrow_mut().on_message(now, bytes),
                            |now| naive_cell.borrow_mut().tick(now),
                        )
                    })
                    .sum()
            })
        });
        assert_eq!(naive.down, 0, "the naive monitor saw a false Down");
        group.finish();
    }
}

/// How many peers go silent at once in the verdicts group.
const SILENT: u64 = 1_000;

/// A monitor whose `SILENT` peers were each heard once at 1 s, so that a tick at the suspect
/// deadline and one at the down deadline raise one verdict per peer each.
fn heard_once(explain: bool) -> Monitor<FixedTimeout, Growable> {
    let config = builder().explain_verdicts(explain).build().unwrap();
    let mut monitor = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    let mut traffic = Traffic::new(SILENT);
    for p in 1..=SILENT {
        monitor.add_peer(NodeId::new(p).unwrap()).unwrap();
    }
    traffic.play_second(
        |now, bytes| {
            let _ = monitor.on_message(now, LinkId(0), bytes);
            while monitor.poll_event().is_some() {}
        },
        |_| {},
    );
    monitor
}

/// The suspect and down verdicts of every silent peer, drained as a driver drains them.
fn verdicts(monitor: &mut Monitor<FixedTimeout, Growable>) -> u64 {
    let mut seen = 0;
    for at in [Instant::from_millis(3_600), Instant::from_millis(5_100)] {
        monitor.tick(at);
        while let Some(e) = monitor.poll_event() {
            seen += u64::from(matches!(e.kind, EventKind::Suspect { .. } | EventKind::Down { .. }));
            black_box(e);
        }
    }
    seen
}

fn bench_verdicts(c: &mut Criterion) {
    let mut group = c.benchmark_group("verdicts_1k_peers");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(2 * SILENT));
    for (name, explain) in [("plain", false), ("explained", true)] {
        assert_eq!(verdicts(&mut heard_once(explain)), 2 * SILENT, "every peer: suspect, then down");
        group.bench_function(name, |b| {
            b.iter_batched_ref(|| heard_once(explain), verdicts, criterion::BatchSize::LargeInput)
        });
    }
    group.finish();
}

fn main() {
    let mut c = support::criterion();
    bench(&mut c);
    bench_verdicts(&mut c);
    c.final_summary();
    let per = |group: &str, bench: &str, peers: f64| support::mean_ns(group, bench).map(|ns| ns / peers);
    support::print_ratios(
        "monitor CPU per virtual second, same calls (goal: naive >= 30x ours at 100k peers)",
        &[
            (
                "naive / heartbeat-proto at 1k peers",
                ("monitor_1k_peers", "naive-hashmap-scan"),
                ("monitor_1k_peers", "heartbeat-proto"),
            ),
            (
                "naive / heartbeat-proto at 100k peers",
                ("monitor_100k_peers", "naive-hashmap-scan"),
                ("monitor_100k_peers", "heartbeat-proto"),
            ),
        ],
    );
    support::print_ratios(
        "explained verdicts: evidence gathered and queued with every Suspect and Down",
        &[(
            "explained / plain, per verdict at 1k peers",
            ("verdicts_1k_peers", "explained"),
            ("verdicts_1k_peers", "plain"),
        )],
    );
    if let Some(ns) = per("verdicts_1k_peers", "plain", 2e3) {
        println!("  per verdict without evidence: {ns:.1} ns");
    }
    if let Some(ns) = per("verdicts_1k_peers", "explained", 2e3) {
        println!("  per verdict with evidence:    {ns:.1} ns");
    }
    if let (Some(small), Some(large)) =
        (per("monitor_1k_peers", "heartbeat-proto", 1e3), per("monitor_100k_peers", "heartbeat-proto", 1e5))
    {
        println!(
            "  per heartbeat: {small:.1} ns at 1k peers, {large:.1} ns at 100k peers: {:.2}x (goal <= 2.5x)",
            large / small
        );
    }
    let f = PeerFootprint::of::<()>();
    println!(
        "\nstate per peer, fixed-timeout detector: {} bytes = record {} + id index {} + timers {} + address {} (goal <= 96)",
        f.total(),
        f.record,
        f.index,
        f.timer,
        f.address
    );
}
