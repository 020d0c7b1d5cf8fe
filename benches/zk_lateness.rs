//! Session expiry lateness, our session server and the real ZooKeeper 3.8 side by side in one
//! run: the same kazoo clients (Debian `python3-kazoo`), SIGKILLed at random phases of their
//! ping cycle, tickTime 500 ms on both servers, a 2000 ms session timeout.
//!
//! Run (with `zookeeper` and `python3-kazoo` installed):
//!
//! ```text
//! nice -n 10 cargo bench -p heartbeat-tests --bench zk_lateness
//! HEARTBEAT_ZK_QUICK=1 nice -n 10 cargo bench -p heartbeat-tests --bench zk_lateness
//! ```
//!
//! `HEARTBEAT_ZK_TRIALS` sessions killed per server (default 40; 12 with `HEARTBEAT_ZK_QUICK`,
//! a run of about a minute). Each round starts four kazoo clients against each server, each
//! behind its own [`TcpRelay`], and kills every one of them (SIGKILL: no closeSession, the
//! kernel closes the socket at once) 0.5–1.5 s after it connected.
//!
//! Lateness = the expiry − (the session's last touch + the negotiated timeout):
//!
//! - **ours**: the server's own `Expired` event: `at − (last_heard + timeout)`, both read on
//!   its monotonic clock, precise to about a microsecond. Also measured from outside: the
//!   event's `at` − (the relay's last forward of the client's bytes + timeout), which adds the
//!   relay-to-server read path (tens of µs).
//! - **ZooKeeper's**: the `Expiring session 0x…` line of its log (log4j `%d{ISO8601}`,
//!   milliseconds, truncated, UTC wall clock; written by the session tracker as it expires)
//!   − (the relay's last forward of the client's bytes, on the wall clock + timeout). Precise
//!   to about 1 ms (the log's resolution; the relay dates a byte some µs before ZooKeeper reads
//!   it, which makes the lateness look larger by that much, never smaller).
//!
//! Exits non-zero with a message if a server does not start, a client does not connect, or a
//! session does not expire within 5 s of its deadline.

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use heartbeat_session::server::{ServerConfig, SessionId};
use heartbeat_std::Clock;
use heartbeat_std::session::{ServerOptions, SessionEvent, SessionServer};
use heartbeat_tests::tcp_relay::TcpRelay;
use heartbeat_tests::zookeeper::{ZooKeeper, log_time};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const TICK: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_millis(2000);
/// Clients per server per round.
const PER_ROUND: usize = 4;
const PYTHON: &str = "/usr/bin/python3";

fn trials() -> usize {
    let quick = std::env::var_os("HEARTBEAT_ZK_QUICK").is_some();
    std::env::var("HEARTBEAT_ZK_TRIALS").ok().and_then(|s| s.parse().ok()).unwrap_or(if quick { 12 } else { 40 })
}

/// A small xorshift for the kill phases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[lo, hi)`.
    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_micros() as u64;
        lo + Duration::from_micros(self.next() % span.max(1))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Ours,
    ZooKeeper,
}

/// One kazoo client behind its own relay; killed when dropped.
struct Client {
    side: Side,
    child: Child,
    relay: TcpRelay,
    session: Option<i64>,
    kill_at: Option<Instant>,
    killed: bool,
}

impl Client {
    fn start(side: Side, server: SocketAddr, lines: mpsc::Sender<(usize, String)>, index: usize) -> Result<Client> {
        let relay = TcpRelay::start(server)?;
        let script = format!("{}/tests/support/kazoo_session.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(PYTHON)
            .arg(script)
            .arg(relay.addr().to_string())
            .args(["hold", &TIMEOUT.as_millis().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run {PYTHON} (apt-get install -y python3-kazoo): {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                if lines.send((index, line)).is_err() {
                    break;
                }
            }
        });
        Ok(Client { side, child, relay, session: None, kill_at: None, killed: false })
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.killed = true;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if !self.killed {
            self.kill();
        }
    }
}

fn parse_sid(hex: &str) -> Result<i64> {
    Ok(u64::from_str_radix(hex.trim_start_matches("0x"), 16)? as i64)
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Signed milliseconds `a − b`.
fn ms_between(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() * 1e3 - b.as_secs_f64() * 1e3
}

/// The lateness samples of one round, in ms.
#[derive(Default)]
struct Samples {
    ours: Vec<f64>,
    ours_outside: Vec<f64>,
    zookeeper: Vec<f64>,
}

fn round(
    rng: &mut Rng,
    ours: SocketAddr,
    clock: Clock,
    events: &mpsc::Receiver<SessionEvent>,
    zk: &ZooKeeper,
    samples: &mut Samples,
) -> Result<()> {
    let (tx, lines) = mpsc::channel();
    let mut clients = Vec::new();
    for i in 0..2 * PER_ROUND {
        let (side, addr) = if i % 2 == 0 { (Side::Ours, ours) } else { (Side::ZooKeeper, zk.addr()) };
        clients.push(Client::start(side, addr, tx.clone(), i)?);
    }
    // Connected: each is killed at its own phase after it connected.
    let mut waiting = clients.len();
    let end = Instant::now() + Duration::from_secs(30);
    while waiting > 0 {
        let left = end.saturating_duration_since(Instant::now());
        let (i, line) = lines.recv_timeout(left).map_err(|_| "a kazoo client did not connect within 30 s")?;
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["connected", sid, granted] = words[..] {
            if granted != TIMEOUT.as_millis().to_string() {
                return Err(format!("{:?} granted {granted} ms", clients[i].side).into());
            }
            clients[i].session = Some(parse_sid(sid)?);
            clients[i].kill_at =
                Some(Instant::now() + rng.between(Duration::from_millis(500), Duration::from_millis(1500)));
            waiting -= 1;
        }
    }
    let mut order: Vec<usize> = (0..clients.len()).collect();
    order.sort_by_key(|&i| clients[i].kill_at);
    for i in order {
        if let Some(at) = clients[i].kill_at {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
        }
        clients[i].kill();
    }

    // Ours: one Expired event per session.
    let deadline = Instant::now() + TIMEOUT + Duration::from_secs(5);
    let mut ours_left: Vec<usize> = (0..clients.len()).filter(|&i| clients[i].side == Side::Ours).collect();
    while !ours_left.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = events.recv_timeout(left).map_err(|_| "our server did not expire a killed session in time")?;
        let SessionEvent::Expired { session, timeout, at, .. } = event else { continue };
        let Some(pos) = ours_left.iter().position(|&i| clients[i].session.map(SessionId) == Some(session)) else {
            continue;
        };
        let c = &clients[ours_left.swap_remove(pos)];
        assert_eq!(timeout, TIMEOUT);
        let late = event.lateness().ok_or("not an expiry")?;
        samples.ours.push(late.as_secs_f64() * 1e3);
        let (touched, _) = c.relay.last_upstream().ok_or("no byte crossed the relay")?;
        let due = touched + TIMEOUT;
        let at = clock.to_std(at);
        let outside = if at >= due { (at - due).as_secs_f64() } else { -(due - at).as_secs_f64() };
        samples.ours_outside.push(outside * 1e3);
    }

    // ZooKeeper's: its log line for each session.
    let mut zk_left: Vec<usize> = (0..clients.len()).filter(|&i| clients[i].side == Side::ZooKeeper).collect();
    while !zk_left.is_empty() {
        let log = zk.log();
        zk_left.retain(|&i| {
            let c = &clients[i];
            let needle = format!("Expiring session 0x{:x},", c.session.unwrap_or_default() as u64);
            let Some(line) = log.lines().find(|l| l.contains(&needle)) else { return true };
            let (Some(expired), Some((_, touched))) = (log_time(line), c.relay.last_upstream()) else {
                return true;
            };
            samples.zookeeper.push(ms_between(expired, since_epoch(touched) + TIMEOUT));
            false
        });
        if Instant::now() > deadline {
            return Err(format!("ZooKeeper did not log the expiry of {} session(s) in time", zk_left.len()).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// p50, p99, max of `v` (sorted in place); nearest rank.
fn percentiles(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[(((v.len() as f64) * q).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.99), v[v.len() - 1])
}

fn report(name: &str, v: &mut [f64]) -> (f64, f64, f64) {
    let early = v.iter().filter(|x| **x < 0.0).count();
    let (p50, p99, max) = percentiles(v);
    let min = v[0];
    println!(
        "{name:<46} n={:<3} p50 {p50:>8.3} ms  p99 {p99:>8.3} ms  max {max:>8.3} ms  min {min:>8.3} ms  ({early} early)",
        v.len()
    );
    (p50, p99, max)
}

fn main() -> Result<()> {
    let trials = trials();
    let zk = ZooKeeper::start(TICK.as_millis() as u32, &["maxClientCnxns=0"]).map_err(|e| format!("ZooKeeper: {e}"))?;
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    let server = SessionServer::bind(listen, ServerConfig::new(1, TICK), ServerOptions::default(), Clock::new())?;
    let clock = server.clock();
    let (tx, events) = mpsc::channel();
    let ours = server.spawn(move |e| {
        let _ = tx.send(e);
    })?;
    println!(
        "zk_lateness: tick {TICK:?}, timeout {TIMEOUT:?}, {trials} kazoo sessions SIGKILLed per server, \
         {PER_ROUND} per server at a time"
    );
    let mut rng = Rng(0x5EED_2026_u64 ^ u64::from(std::process::id()));
    let mut samples = Samples::default();
    let started = Instant::now();
    while samples.ours.len() < trials {
        round(&mut rng, ours.local_addr(), clock, &events, &zk, &mut samples)?;
    }
    let status = ours.status().map_err(|_| "our server stopped")?;
    ours.stop();
    println!("zk_lateness: {} rounds in {:.0?}", samples.ours.len() / PER_ROUND, started.elapsed());
    let (p50, _, max) = report("ours (server's Expired event)", &mut samples.ours);
    report("ours (event at - relay's last forward)", &mut samples.ours_outside);
    let (zp50, _, zmax) = report("ZooKeeper 3.8 (log line - relay's last forward)", &mut samples.zookeeper);
    let goal = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "ours: goal p50 <= 1 ms {}, max <= 5 ms {}; ZooKeeper's p50/max are {:.0}x / {:.0}x ours",
        goal(p50 <= 1.0),
        goal(max <= 5.0),
        zp50 / p50.max(1e-3),
        zmax / max.max(1e-3)
    );
    if !status.sessions.is_empty() {
        return Err(format!("our server still holds {} session(s)", status.sessions.len()).into());
    }
    Ok(())
}
