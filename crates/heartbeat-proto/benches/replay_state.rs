//! What keeping replay watermarks costs, against accepting one heartbeat in the same run.
//!
//! - `snapshot/export_encode_{10,1000}`: what a node does once a second with `replay_file`
//!   set — collect every peer's watermark from the monitor, sort, encode (the file write
//!   itself is the adapter's, and dominated by `fsync`).
//! - `snapshot/decode_{10,1000}`: what a restart does once — check the bytes and read the
//!   entries back.
//! - `baseline/accept_heartbeat`: `on_message` accepting one fresh unauthenticated frame.
//!
//! Run: `cargo bench -p heartbeat-proto --bench replay_state`.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant as WallClock};

use criterion::Criterion;
use heartbeat_proto::replay_state::{self, Entry, Owner, Snapshot};
use heartbeat_proto::wire::Kind;
use heartbeat_proto::{
    Authentication, ClusterId, Config, FixedTimeout, Generation, Growable, Instant, LinkId, MAX_FRAME_LEN, Message,
    Monitor, NodeId,
};

const CLUSTER: ClusterId = ClusterId(7);

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn frame(sender: u64, sequence: u64) -> Vec<u8> {
    let msg = Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(sender),
        receiver: Some(id(1)),
        generation: Generation(1),
        sequence,
        timestamp: Instant::from_millis(sequence),
        echo: None,
        interval: Duration::from_millis(200),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: None,
        hears_you: true,
        auth: None,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = Authentication::None.encode(&msg, &mut buf).unwrap();
    buf[..len].to_vec()
}

/// A monitor that has heard each of `peers` peers once.
fn monitor(peers: u64) -> Monitor<FixedTimeout, Growable> {
    let config = Config::builder(CLUSTER, id(1))
        .tick(Duration::from_millis(100))
        .max_peers(peers as usize + 1)
        .authentication(Authentication::None)
        .build()
        .unwrap();
    let mut m = Monitor::new(config, FixedTimeout::new(), Instant::ZERO);
    for p in 2..peers + 2 {
        m.add_peer(id(p)).unwrap();
        m.on_message(Instant::from_millis(1), LinkId(0), &frame(p, 7)).unwrap();
        while m.poll_event().is_some() {}
    }
    m
}

fn export_encode(m: &Monitor<FixedTimeout, Growable>, buf: &mut Vec<u8>) -> usize {
    let mut entries: Vec<Entry> = m.watermarks().map(|(peer, mark)| Entry { peer, mark }).collect();
    entries.sort_unstable_by_key(|e| e.peer);
    buf.resize(replay_state::encoded_len(entries.len()), 0);
    replay_state::encode(Owner { cluster: CLUSTER, node: id(1) }, &entries, buf).unwrap()
}

fn snapshot(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot");
    for peers in [10u64, 1000] {
        let m = monitor(peers);
        let mut buf = Vec::new();
        let len = export_encode(&m, &mut buf);
        assert_eq!(len, replay_state::encoded_len(peers as usize));
        g.bench_function(format!("export_encode_{peers}"), |b| b.iter(|| export_encode(black_box(&m), &mut buf)));
        let bytes = buf.clone();
        g.bench_function(format!("decode_{peers}"), |b| {
            b.iter(|| Snapshot::decode(black_box(&bytes)).unwrap().entries().map(|e| e.mark.sequence).sum::<u64>())
        });
    }
    g.finish();
}

fn baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    g.bench_function("accept_heartbeat", |b| {
        b.iter_custom(|iters| {
            let frames: Vec<Vec<u8>> = (1..=iters).map(|seq| frame(2, seq)).collect();
            let mut m = monitor(1);
            let start = WallClock::now();
            for (i, f) in frames.iter().enumerate() {
                let _ = black_box(m.on_message(Instant::from_millis(10 + i as u64), LinkId(0), f));
                while m.poll_event().is_some() {}
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn main() {
    let mut c = support::criterion().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    baseline(&mut c);
    snapshot(&mut c);
    c.final_summary();
    let accept = ("baseline", "accept_heartbeat");
    support::print_ratios(
        "replay watermarks against one accepted heartbeat, same run",
        &[
            ("export + encode 10 peers / accept one heartbeat", ("snapshot", "export_encode_10"), accept),
            ("export + encode 1000 peers / accept one heartbeat", ("snapshot", "export_encode_1000"), accept),
            ("decode 10 peers / accept one heartbeat", ("snapshot", "decode_10"), accept),
            ("decode 1000 peers / accept one heartbeat", ("snapshot", "decode_1000"), accept),
        ],
    );
}
