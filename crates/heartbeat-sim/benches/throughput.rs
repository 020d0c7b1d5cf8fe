//! Simulator throughput: virtual time per wall-clock second for a 50-node cluster (every node
//! monitors 49 others), against a baseline in the same process — the same 50 nodes driven by a
//! bare loop over a perfect, instant network with no simulator at all.
//!
//! Run: `cargo bench -p heartbeat-sim --bench throughput` (release). Prints one line per
//! configuration and the ratios to the baseline.

use std::hint::black_box;
use std::time::{Duration, Instant as Wall};

use heartbeat_proto::{
    Authentication, ClusterId, Config, Destination, FixedTimeout, Growable, Instant, LinkId, MAX_FRAME_LEN, Node,
    NodeId,
};
use heartbeat_sim::{Impairments, Loss, Recording, SimBuilder, node_factory};

const NODES: u64 = 50;
const VIRTUAL: Duration = Duration::from_secs(600);
const TICK: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_millis(1500);
const INTERVAL: Duration = Duration::from_millis(500);

type BenchNode = Node<FixedTimeout, Growable>;

fn config(me: u64) -> Config {
    Config::builder(ClusterId(1), NodeId::new(me).unwrap())
        .authentication(Authentication::None)
        .tick(TICK)
        .timeout(TIMEOUT)
        .interval(INTERVAL)
        .seed(me)
        .build()
        .unwrap()
}

/// The baseline: every node ticked at its deadline, every frame handed over at once.
fn bare_loop() -> u64 {
    let mut nodes: Vec<BenchNode> = (1..=NODES)
        .map(|me| {
            let mut n = Node::new(config(me), FixedTimeout::new(), Instant::ZERO);
            for p in (1..=NODES).filter(|p| *p != me) {
                n.add_peer(NodeId::new(p).unwrap()).unwrap();
            }
            n
        })
        .collect();
    let end = Instant::ZERO + VIRTUAL;
    let mut buf = [0u8; MAX_FRAME_LEN];
    let mut outbox: Vec<(usize, [u8; MAX_FRAME_LEN], usize)> = Vec::new();
    let mut delivered = 0u64;
    let mut now = Instant::ZERO;
    while now <= end {
        for node in nodes.iter_mut() {
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.tick(now);
                while let Some(t) =
                    node.poll_transmit(&mut buf).transpose().expect("a MAX_FRAME_LEN buffer fits every frame")
                {
                    if let Destination::Peer(to) = t.destination {
                        outbox.push((to.get() as usize - 1, buf, t.len));
                    }
                }
                while node.poll_event().is_some() {}
            }
        }
        for (to, bytes, len) in outbox.drain(..) {
            let _ = black_box(nodes[to].on_message(now, LinkId(0), &bytes[..len]));
            while nodes[to].poll_event().is_some() {}
            delivered += 1;
        }
        now = nodes.iter().filter_map(|n| n.poll_timeout()).min().unwrap();
    }
    delivered
}

fn simulated(link: Impairments) -> u64 {
    let factory = node_factory::<_, Growable>(ClusterId(1), FixedTimeout::new(), |_, b| {
        b.authentication(Authentication::None).tick(TICK).timeout(TIMEOUT).interval(INTERVAL)
    })
    .unwrap();
    let mut sim =
        SimBuilder::new(1).cluster_of(NODES).default_link(link).recording(Recording::EventsAndActions).build(factory);
    sim.run_until(Instant::ZERO + VIRTUAL).unwrap();
    sim.stats().delivered
}

/// Runs `f` and returns (frames delivered, wall seconds).
fn measure(f: impl Fn() -> u64) -> (u64, f64) {
    f(); // warm-up
    let start = Wall::now();
    let frames = f();
    (frames, start.elapsed().as_secs_f64())
}

fn main() {
    let virtual_hours = VIRTUAL.as_secs_f64() / 3600.0;
    let report = |name: &str, (frames, secs): (u64, f64)| {
        println!(
            "{name:<34} {:>8.3} virtual h per wall s   {:>10.0} frames/s   ({frames} frames in {secs:.3} s)",
            virtual_hours / secs,
            frames as f64 / secs
        );
        secs
    };
    println!("{NODES} nodes, interval {INTERVAL:?}, timeout {TIMEOUT:?}, {VIRTUAL:?} of virtual time");
    let base = report("baseline: bare loop, instant", measure(bare_loop));
    let perfect = report("sim: perfect links", measure(|| simulated(Impairments::perfect())));
    let lan = Impairments::perfect()
        .delay(Duration::from_millis(1))
        .jitter(Duration::from_millis(2))
        .loss(Loss::Random(0.01))
        .duplicate(0.01);
    let impaired = report("sim: 1 ms + 2 ms jitter, 1 % loss", measure(|| simulated(lan)));
    println!("ratio sim (perfect) / baseline wall time:  {:.2}", perfect / base);
    println!("ratio sim (impaired) / baseline wall time: {:.2}", impaired / base);
}
