//! 1,000,000 sessions in one table: bytes per session, touch cost and expiry cost per expired
//! session, ours (`Server`: handles, lazy exact deadlines in a heap) side by side with a naive
//! table (a `HashMap` by session id, scanned every tick) in the same run.
//!
//! Run: `nice -n 10 cargo bench -p heartbeat-session --bench table`
//! (`HEARTBEAT_SESSIONS=100000` for a smaller table).
//!
//! - **Bytes per session** are *measured*: a counting global allocator (`cap`) gives the bytes
//!   allocated before and after the table is filled; the difference over the session count.
//!   Ours is filled the way a server fills it (accept, ConnectRequest, ConnectResponse out,
//!   disconnect), so the figure includes the tables' growth slack and everything the server
//!   keeps per session, and no connection (they are closed again; their one slot is reused).
//! - **Touch**: one session, picked in a fixed random order over the whole table, is heard from
//!   (`Server::touch` with its handle; the naive table looks it up by id). The floor of both,
//!   one write to a random 32-byte record of an n-record array (a cache miss), runs beside them.
//! - **Expiry**: the clock steps on by `HEARTBEAT_STEP_MS` (default 1 ms, our expiry precision)
//!   and each table expires what is due; the expired sessions are then replaced by new ones
//!   (not timed) so the table stays full. Timeouts are 10 s and the deadlines spread evenly, so
//!   a 1 ms step expires N / 10,000 sessions. Reported per expired session.

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use cap::Cap;
use criterion::{BenchmarkId, Criterion};
use heartbeat_proto::engine::SessionHandle;
use heartbeat_session::Instant;
use heartbeat_session::jute::{ConnectRequest, frame_into};
use heartbeat_session::server::{Server, ServerConfig, ServerEvent};

#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

const GROUP: &str = "session_table";
const TIMEOUT: Duration = Duration::from_secs(10);

fn sessions() -> usize {
    std::env::var("HEARTBEAT_SESSIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000)
}

fn step() -> Duration {
    let ms = std::env::var("HEARTBEAT_STEP_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    Duration::from_millis(ms)
}

/// The session the naive table keeps: what a first implementation would store.
#[allow(dead_code)]
struct NaiveSession {
    password: [u8; 16],
    timeout: Duration,
    last_heard: Instant,
    connection: Option<u64>,
    resources: Vec<()>,
}

/// A `HashMap` by id; `tick` scans every session.
struct Naive {
    sessions: HashMap<i64, NaiveSession>,
    next_id: i64,
}

impl Naive {
    fn create(&mut self, now: Instant) -> i64 {
        self.next_id += 1;
        let s = NaiveSession {
            password: [self.next_id as u8; 16],
            timeout: TIMEOUT,
            last_heard: now,
            connection: None,
            resources: Vec::new(),
        };
        self.sessions.insert(self.next_id, s);
        self.next_id
    }

    fn touch(&mut self, id: i64, now: Instant) -> bool {
        self.sessions.get_mut(&id).map(|s| s.last_heard = s.last_heard.max(now)).is_some()
    }

    fn tick(&mut self, now: Instant, expired: &mut Vec<i64>) {
        self.sessions.retain(|id, s| {
            let live = s.last_heard.saturating_add(s.timeout) > now;
            if !live {
                expired.push(*id);
            }
            live
        });
    }
}

/// Ours, filled through the server's own front door.
struct Ours {
    server: Server<()>,
    connect: Vec<u8>,
    out: Vec<u8>,
}

impl Ours {
    fn new() -> Self {
        let mut config = ServerConfig::new(1, Duration::from_millis(500));
        config.seed = [0x5e; 32];
        let mut buf = [0u8; 64];
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 10_000,
            session_id: 0,
            password: &[0; 16],
            read_only: Some(false),
        };
        let n = frame_into(&mut buf, |w| request.encode(w)).unwrap();
        Ours { server: Server::new(config).unwrap(), connect: buf[..n].to_vec(), out: vec![0; 256] }
    }

    /// A new session at `now`, its connection gone again: its handle.
    fn create(&mut self, now: Instant) -> SessionHandle {
        let c = self.server.accept().unwrap();
        self.server.on_bytes(c, now, &self.connect).unwrap();
        self.server.poll_transmit(c, &mut self.out).unwrap();
        self.server.on_disconnect(c, now);
        let mut handle = None;
        while let Some(event) = self.server.poll_event() {
            if let ServerEvent::Created { handle: h, .. } = event {
                handle = Some(h);
            }
        }
        handle.unwrap()
    }

    /// Expires what is due at `now`: how many.
    fn tick(&mut self, now: Instant) -> usize {
        self.server.tick(now);
        let mut expired = 0;
        while let Some(event) = self.server.poll_event() {
            expired += usize::from(matches!(event, ServerEvent::Expired { .. }));
        }
        expired
    }
}

/// Creation times that spread `n` deadlines evenly over one timeout.
fn created_at(i: usize, n: usize) -> Instant {
    Instant::ZERO.saturating_add(TIMEOUT.mul_f64(i as f64 / n as f64))
}

/// A fixed pseudo-random order of `0..n` (an LCG-driven Fisher-Yates, no RNG crate needed).
fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..n).rev() {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        order.swap(i, (x >> 33) as usize % (i + 1));
    }
    order
}

fn main() {
    let n = sessions();
    let step = step();
    let mut c =
        criterion().sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));

    // Fill both tables, measuring what they allocate.
    let before = ALLOCATOR.allocated();
    let mut ours = Ours::new();
    let mut handles = VecDeque::with_capacity(n);
    let handles_bytes = ALLOCATOR.allocated() - before;
    for i in 0..n {
        handles.push_back(ours.create(created_at(i, n)));
    }
    let ours_bytes = ALLOCATOR.allocated() - before - handles_bytes;
    let before = ALLOCATOR.allocated();
    let mut naive = Naive { sessions: HashMap::new(), next_id: 0 };
    let mut ids = VecDeque::with_capacity(n);
    let ids_bytes = ALLOCATOR.allocated() - before;
    for i in 0..n {
        ids.push_back(naive.create(created_at(i, n)));
    }
    let naive_bytes = ALLOCATOR.allocated() - before - ids_bytes;
    assert_eq!(ours.server.session_count(), n);

    let mut group = c.benchmark_group(GROUP);
    // Expiry: each sample steps the clock until `iters` sessions expired, timing the ticks only.
    let start = created_at(n, n);
    let mut now = start;
    let mut expired_ours = 0;
    group.bench_function(BenchmarkId::new("expiry_per_session", "ours"), |b| {
        b.iter_custom(|iters| {
            let (mut timed, mut expired) = (Duration::ZERO, 0u64);
            while expired < iters {
                now = now.saturating_add(step);
                let t = std::time::Instant::now();
                let k = ours.tick(now);
                timed += t.elapsed();
                expired += k as u64;
                // Untouched sessions of one timeout expire in creation order.
                for _ in 0..k {
                    handles.pop_front();
                    handles.push_back(ours.create(now));
                }
            }
            expired_ours += expired;
            timed.mul_f64(iters as f64 / expired as f64)
        })
    });
    let now_ours = now;
    let mut now = start;
    let mut expired_naive = 0;
    let mut expired = Vec::new();
    group.bench_function(BenchmarkId::new("expiry_per_session", "naive"), |b| {
        b.iter_custom(|iters| {
            let (mut timed, mut count) = (Duration::ZERO, 0u64);
            while count < iters {
                now = now.saturating_add(step);
                expired.clear();
                let t = std::time::Instant::now();
                naive.tick(now, &mut expired);
                timed += t.elapsed();
                count += expired.len() as u64;
                for _ in 0..expired.len() {
                    ids.pop_front();
                    ids.push_back(naive.create(now));
                }
            }
            expired_naive += count;
            timed.mul_f64(iters as f64 / count as f64)
        })
    });
    let now_naive = now;
    // Touch, after the expiry runs so that their deadlines stay spread: the handles (ids) in a
    // fixed random order, read in sequence, so the only cold access is the session itself.
    let order = shuffled(n);
    let live: Vec<SessionHandle> = order.iter().map(|&i| handles[i]).collect();
    let live_ids: Vec<i64> = order.iter().map(|&i| ids[i]).collect();
    let now = now_ours.max(now_naive);
    assert!(live.iter().all(|h| ours.server.session(*h).is_some()), "every handle names a live session");
    assert!(live_ids.iter().all(|id| naive.sessions.contains_key(id)));
    let mut k = 0;
    group.bench_function(BenchmarkId::new("touch", "ours"), |b| {
        b.iter(|| {
            k = if k + 1 == n { 0 } else { k + 1 };
            black_box(ours.server.touch(live[k], now))
        })
    });
    group.bench_function(BenchmarkId::new("touch", "naive"), |b| {
        b.iter(|| {
            k = if k + 1 == n { 0 } else { k + 1 };
            black_box(naive.touch(live_ids[k], now))
        })
    });
    // The floor under both: one write to a random 32-byte record of an n-record array (the
    // size of our table slot), in the same order, i.e. one cache miss.
    let mut records = vec![[0u64; 4]; n];
    group.bench_function(BenchmarkId::new("touch", "one_random_write"), |b| {
        b.iter(|| {
            k = if k + 1 == n { 0 } else { k + 1 };
            let r = &mut records[order[k]];
            r[0] = r[0].max(now.as_nanos());
            black_box(r[0])
        })
    });
    group.finish();
    c.final_summary();

    println!("\n{n} sessions, timeout {TIMEOUT:?}, expiry step {step:?}");
    println!(
        "  bytes per session (counted allocator)   ours {:>7.1}   naive {:>7.1}   naive / ours {:.2}x",
        ours_bytes as f64 / n as f64,
        naive_bytes as f64 / n as f64,
        naive_bytes as f64 / ours_bytes as f64
    );
    for (label, a, b) in [
        ("touch: naive / ours", "touch/naive", "touch/ours"),
        ("touch: ours / one random 32-byte write", "touch/ours", "touch/one_random_write"),
        ("expiry per expired session: naive / ours", "expiry_per_session/naive", "expiry_per_session/ours"),
    ] {
        match (mean_ns(a), mean_ns(b)) {
            (Some(x), Some(y)) => println!("  {label:<42} {:>9.2}x   ({x:.1} ns / {y:.1} ns)", x / y),
            _ => println!("  {label:<42} (not measured in this run)"),
        }
    }
    println!("  sessions expired while measuring: ours {expired_ours}, naive {expired_naive}");
    assert_eq!(ours.server.session_count(), n, "the table stayed full");
    assert_eq!(naive.sessions.len(), n);
}

/// When this process set criterion up: estimates older than that are from another run.
static STARTED: OnceLock<SystemTime> = OnceLock::new();

fn output_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion")
}

fn criterion() -> Criterion {
    STARTED.get_or_init(SystemTime::now);
    Criterion::default().output_directory(&output_dir()).configure_from_args()
}

/// The mean of `GROUP/bench` in nanoseconds, if this run measured it.
fn mean_ns(bench: &str) -> Option<f64> {
    let path = output_dir().join(GROUP).join(bench).join("new").join("estimates.json");
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if written < *STARTED.get()? {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}
