//! 1,000 BFD sessions at 10 ms × 3 between two of our drivers: the CPU each driver thread
//! takes, the packets it moves, and the false Downs (there must be none).
//!
//! Run (root):
//!
//! ```text
//! cargo bench -p heartbeat-tests --bench bfd_scale
//! HEARTBEAT_BFD_SECONDS=600 cargo bench -p heartbeat-tests --bench bfd_scale
//! HEARTBEAT_BFD_SESSIONS=250 HEARTBEAT_BFD_SECONDS=30 cargo bench -p heartbeat-tests --bench bfd_scale
//! ```
//!
//! `HEARTBEAT_BFD_SESSIONS` (default 1000) sessions, `HEARTBEAT_BFD_SECONDS` (default 60) of
//! measurement once every session is Up at the fast rate, `HEARTBEAT_BFD_INTERVAL_MS` (default
//! 10) transmit and receive interval on both sides, detect multiplier 3.
//! `HEARTBEAT_BFD_GRANULARITY_US` (default: the host's, 1 ms; 0: none) is the hosts' transmit
//! grid, `HEARTBEAT_BFD_LOCAL_PAUSE_MS` (default 10; 0: off) their local-stall guard (see
//! `BfdHost::set_local_pause`), `HEARTBEAT_BFD_RCVBUF` (default: `Options`' 32 MiB; 0: the
//! kernel's default) the receive sockets' buffer in bytes, `HEARTBEAT_BFD_RT_PRIORITY`
//! (default 0: off) a `SCHED_FIFO` priority for both driver threads (through `chrt`), to tell
//! the drivers' own delays from the machine's other load. Wake-ups are the driver thread's voluntary context switches
//! (each blocking wait that did not find input ready is one).
//!
//! Two `BfdDriver`s, each on its own thread (so on one core at a time) in its own namespace,
//! joined by a veth. BFD single-hop sessions are told apart by their address pair, so each veth
//! end gets one address per session (198.18.16.0 + i on `a`, 198.18.64.0 + i on `b`, in
//! 198.18.0.0/16) and permanent neighbour entries for the other end's (no ARP traffic, no
//! neighbour-table garbage collection); session i runs between a's and b's i-th address.
//!
//! CPU is each driver thread's run time from `/proc/self/task/TID/schedstat` (user/system split
//! from `.../stat`) over the measured window, as a share of one core. On a veth the sender's
//! `sendmsg` also runs the receiving side's network stack (softirq), so each thread's system time
//! includes the kernel's receive path of the packets it sends: the figure is an upper bound for
//! a driver on a real NIC. Exits non-zero if a session does not come Up, on any false Down, or if
//! the setup fails; the namespaces and drivers are removed on the way out.

use std::error::Error;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use heartbeat_proto::bfd::{BfdEvent, BfdEventKind, SessionConfig, State};
use heartbeat_std::Clock;
use heartbeat_std::bfd::{BfdDriver, BfdHandle, BfdStatus, Options, links};
use heartbeat_tests::netns::{Namespace, Pair, temp_dir};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const MULTIPLIER: u8 = 3;
/// Bound for every session to come Up at the fast rate.
const UP_WITHIN: Duration = Duration::from_secs(60);
/// First address of `a`'s and `b`'s blocks.
const A_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 16, 0);
const B_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 64, 0);
/// The most sessions the address blocks hold.
const MAX_SESSIONS: u32 = 48 * 256;

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn nth(base: Ipv4Addr, i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + i)
}

/// What a driver's event callback counts, on the driver's thread.
#[derive(Default)]
struct Counters {
    /// The driver thread's id, set by its first event.
    tid: AtomicU32,
    /// Sessions Up now.
    up: AtomicU64,
    /// Transitions to Down with diag 1 (detection time expired).
    failures: AtomicU64,
    /// Every other transition out of Up.
    other_downs: AtomicU64,
    /// When each failure happened, on the driver's clock (to tell one stall from many losses).
    failure_times: Mutex<Vec<heartbeat_proto::Instant>>,
}

impl Counters {
    fn on_event(&self, event: &BfdEvent) {
        if self.tid.load(Ordering::Relaxed) == 0 {
            self.tid.store(rustix::thread::gettid().as_raw_nonzero().get() as u32, Ordering::Relaxed);
        }
        if let BfdEventKind::StateChanged { from, to, .. } = event.kind {
            if to == State::Up {
                self.up.fetch_add(1, Ordering::Relaxed);
            }
            if from == State::Up {
                self.up.fetch_sub(1, Ordering::Relaxed);
                if event.kind.is_failure() {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut times) = self.failure_times.lock() {
                        times.push(event.at);
                    }
                } else {
                    self.other_downs.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// One side: addresses on its veth end, a driver with one session per address.
struct Side {
    name: &'static str,
    handle: Option<BfdHandle>,
    counters: Arc<Counters>,
}

impl Side {
    #[allow(clippy::too_many_arguments)]
    fn start(
        name: &'static str,
        ns: &Namespace,
        dev: &'static str,
        local: Ipv4Addr,
        peer: Ipv4Addr,
        sessions: u32,
        interval: Duration,
        seed: u64,
    ) -> Result<Side> {
        let counters = Arc::new(Counters::default());
        let on_event = Arc::clone(&counters);
        let handle = ns.within(move || -> std::result::Result<BfdHandle, String> {
            let mut options = Options::new(seed);
            if let Ok(bytes) = std::env::var("HEARTBEAT_BFD_RCVBUF") {
                options.recv_buffer = bytes.parse().map_err(|_| "HEARTBEAT_BFD_RCVBUF: not a number".to_string())?;
            }
            let mut driver = BfdDriver::new(options, Clock::new()).map_err(|e| e.to_string())?;
            if let Ok(us) = std::env::var("HEARTBEAT_BFD_GRANULARITY_US") {
                let us: u64 = us.parse().map_err(|_| "HEARTBEAT_BFD_GRANULARITY_US: not a number".to_string())?;
                driver.host_mut().set_transmit_granularity(Duration::from_micros(us));
            }
            let pause = env_u32("HEARTBEAT_BFD_LOCAL_PAUSE_MS", 10);
            driver.host_mut().set_local_pause((pause > 0).then(|| Duration::from_millis(u64::from(pause))));
            for i in 0..sessions {
                let mut config =
                    SessionConfig::new(IpAddr::V4(nth(peer, i)), links::ANY).timing(interval, interval, MULTIPLIER);
                config.local = Some(IpAddr::V4(nth(local, i)));
                driver.add_session(config, Some(dev)).map_err(|e| format!("session {i}: {e}"))?;
            }
            driver.spawn(move |event| on_event.on_event(&event)).map_err(|e| e.to_string())
        })??;
        Ok(Side { name, handle: Some(handle), counters })
    }

    fn status(&self) -> Result<BfdStatus> {
        let handle = self.handle.as_ref().ok_or("driver stopped")?;
        handle.status().map_err(|_| format!("{}: the driver thread has stopped", self.name).into())
    }

    fn tid(&self) -> Result<u32> {
        match self.counters.tid.load(Ordering::Relaxed) {
            0 => Err(format!("{}: the driver reported no event yet", self.name).into()),
            tid => Ok(tid),
        }
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

/// `count` addresses from `base` on `dev`, and permanent neighbours for the peer's block.
fn addresses(ns: &Namespace, dev: &str, base: Ipv4Addr, peer: Ipv4Addr, peer_mac: &str, count: u32) -> Result<()> {
    let dir = temp_dir("bfd-scale")?;
    let file = dir.path().join("batch");
    let mut batch = String::new();
    for i in 0..count {
        writeln!(batch, "address add {}/16 dev {dev}", nth(base, i))?;
        writeln!(batch, "neighbor replace {} lladdr {peer_mac} dev {dev} nud permanent", nth(peer, i))?;
    }
    std::fs::write(&file, batch)?;
    ns.ip(&["-batch", &file.to_string_lossy()])?;
    Ok(())
}

fn mac(ns: &Namespace, dev: &str) -> Result<String> {
    let out = ns.ip(&["link", "show", dev])?;
    out.split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| format!("no MAC address for {dev} in {out:?}").into())
}

/// A thread's CPU time so far: (run time from schedstat, user, system).
fn cpu(tid: u32) -> Result<(Duration, Duration, Duration)> {
    let base = format!("/proc/self/task/{tid}");
    let schedstat = std::fs::read_to_string(format!("{base}/schedstat"))?;
    let run_ns: u64 = schedstat.split_whitespace().next().and_then(|s| s.parse().ok()).ok_or("bad schedstat")?;
    let stat = std::fs::read_to_string(format!("{base}/stat"))?;
    // Fields after the parenthesised name; utime and stime are the 14th and 15th fields.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<Duration> {
        let ticks: u64 = fields.get(i).and_then(|s| s.parse().ok()).ok_or("bad stat field")?;
        Ok(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
    };
    Ok((Duration::from_nanos(run_ns), tick(11)?, tick(12)?))
}

/// A thread's (voluntary, involuntary) context switches so far.
fn switches(tid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status.lines().find(|l| l.starts_with(name)).ok_or("missing context-switch field")?;
        Ok(line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).ok_or("bad context-switch field")?)
    };
    Ok((field("voluntary_ctxt_switches:")?, field("nonvoluntary_ctxt_switches:")?))
}

/// The namespace's UDP counters: (InDatagrams, InErrors, RcvbufErrors, SndbufErrors).
fn udp_counters(ns: &Namespace) -> Result<[u64; 4]> {
    let snmp = ns.run("cat", &["/proc/net/snmp"])?;
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (lines.next().ok_or("no Udp header")?, lines.next().ok_or("no Udp values")?);
    let find = |want: &str| -> Result<u64> {
        let i = names.split_whitespace().position(|n| n == want).ok_or("missing UDP counter")?;
        Ok(values.split_whitespace().nth(i).and_then(|v| v.parse().ok()).ok_or("bad UDP counter")?)
    };
    Ok([find("InDatagrams")?, find("InErrors")?, find("RcvbufErrors")?, find("SndbufErrors")?])
}

struct Snapshot {
    at: Instant,
    cpu: (Duration, Duration, Duration),
    status: BfdStatus,
    failures: u64,
    other_downs: u64,
    udp: [u64; 4],
    /// Voluntary and involuntary context switches of the driver thread.
    switches: (u64, u64),
}

fn snapshot(side: &Side, ns: &Namespace) -> Result<Snapshot> {
    Ok(Snapshot {
        at: Instant::now(),
        cpu: cpu(side.tid()?)?,
        status: side.status()?,
        failures: side.counters.failures.load(Ordering::Relaxed),
        other_downs: side.counters.other_downs.load(Ordering::Relaxed),
        udp: udp_counters(ns)?,
        switches: switches(side.tid()?)?,
    })
}

/// Prints one side's figures over [before, after]; returns (share of a core, false Downs).
fn report(side: &Side, before: &Snapshot, after: &Snapshot) -> (f64, u64) {
    let secs = (after.at - before.at).as_secs_f64();
    let share = |a: Duration, b: Duration| (a.as_secs_f64() - b.as_secs_f64()) / secs * 100.0;
    let cpu = share(after.cpu.0, before.cpu.0);
    let (io, io0) = (after.status.io, before.status.io);
    let sent = io.sent - io0.sent;
    let received = io.received - io0.received;
    let failures = after.failures - before.failures;
    let not_up = after.status.sessions.iter().filter(|(_, s)| s.state != State::Up).count();
    let udp = |i: usize| after.udp[i] - before.udp[i];
    println!(
        "driver {}: CPU {cpu:.1} % of a core (user {:.1} %, system {:.1} %); sent {sent} ({:.0}/s), received {received} ({:.0}/s)",
        side.name,
        share(after.cpu.1, before.cpu.1),
        share(after.cpu.2, before.cpu.2),
        sent as f64 / secs,
        received as f64 / secs,
    );
    println!(
        "driver {}:   false Downs (diag 1) {failures}, other downs {}, sessions not Up at the end {not_up}; send errors {}, receive errors {}; kernel UDP: InErrors {}, RcvbufErrors {}, SndbufErrors {}",
        side.name,
        after.other_downs - before.other_downs,
        io.send_errors - io0.send_errors,
        io.recv_errors - io0.recv_errors,
        udp(1),
        udp(2),
        udp(3),
    );
    println!(
        "driver {}:   wake-ups (voluntary context switches) {:.0}/s, involuntary {:.0}/s",
        side.name,
        (after.switches.0 - before.switches.0) as f64 / secs,
        (after.switches.1 - before.switches.1) as f64 / secs,
    );
    if failures > 0 {
        println!("driver {}:   false Downs by burst: {}", side.name, bursts(side, before.status.now));
    }
    (cpu, failures + (after.other_downs - before.other_downs))
}

/// The failures since `from` grouped into bursts (failures less than 10 ms apart): how many
/// bursts, the largest, and the first few as (seconds into the run, failures).
fn bursts(side: &Side, from: heartbeat_proto::Instant) -> String {
    let Ok(times) = side.counters.failure_times.lock() else { return "(unavailable)".into() };
    let mut groups: Vec<(heartbeat_proto::Instant, heartbeat_proto::Instant, usize)> = Vec::new();
    for &t in times.iter().filter(|t| **t >= from) {
        match groups.last_mut() {
            Some((_, last, n)) if t.saturating_duration_since(*last) < Duration::from_millis(10) => {
                *last = t;
                *n += 1;
            }
            _ => groups.push((t, t, 1)),
        }
    }
    let largest = groups.iter().map(|g| g.2).max().unwrap_or(0);
    let first: Vec<String> = groups
        .iter()
        .take(8)
        .map(|(t, _, n)| format!("{:.3} s: {n}", t.saturating_duration_since(from).as_secs_f64()))
        .collect();
    format!("{} bursts, largest {largest}; first: {}", groups.len(), first.join(", "))
}

fn wait_all_fast(sides: &[&Side], sessions: u32, interval: Duration) -> Result<Duration> {
    let begin = Instant::now();
    let detection = interval * u32::from(MULTIPLIER);
    loop {
        let mut lagging = Vec::new();
        for side in sides {
            let status = side.status()?;
            let slow = status
                .sessions
                .iter()
                .filter(|(_, s)| {
                    !(s.state == State::Up && s.tx_interval == Some(interval) && s.detection_time == Some(detection))
                })
                .count();
            if slow > 0 || status.sessions.len() != sessions as usize {
                lagging.push(format!("{}: {slow} of {} not Up at the fast rate", side.name, status.sessions.len()));
            }
        }
        if lagging.is_empty() {
            return Ok(begin.elapsed());
        }
        if begin.elapsed() > UP_WITHIN {
            return Err(format!("sessions did not come Up within {UP_WITHIN:?}: {}", lagging.join("; ")).into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn main() -> Result<()> {
    let sessions = env_u32("HEARTBEAT_BFD_SESSIONS", 1000).clamp(1, MAX_SESSIONS);
    let seconds = env_u32("HEARTBEAT_BFD_SECONDS", 60).max(1);
    let interval_ms = env_u32("HEARTBEAT_BFD_INTERVAL_MS", 10).max(1);
    let interval = Duration::from_millis(u64::from(interval_ms));
    println!(
        "bfd_scale: {sessions} sessions, {interval_ms} ms x {MULTIPLIER}, {seconds} s measured, two drivers over a veth, {} CPUs",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let net = Pair::new()?;
    let (mac_a, mac_b) = (mac(&net.a, Pair::A_DEV)?, mac(&net.b, Pair::B_DEV)?);
    addresses(&net.a, Pair::A_DEV, A_BASE, B_BASE, &mac_b, sessions)?;
    addresses(&net.b, Pair::B_DEV, B_BASE, A_BASE, &mac_a, sessions)?;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
    let a = Side::start("a", &net.a, Pair::A_DEV, A_BASE, B_BASE, sessions, interval, seed)?;
    let b = Side::start("b", &net.b, Pair::B_DEV, B_BASE, A_BASE, sessions, interval, seed.rotate_left(17))?;
    let took = wait_all_fast(&[&a, &b], sessions, interval)?;
    println!("all {sessions} sessions Up at the fast rate on both sides after {took:.2?}");
    let priority = env_u32("HEARTBEAT_BFD_RT_PRIORITY", 0);
    if priority > 0 {
        // A real-time policy for both driver threads: the other load on the machine can no
        // longer keep a driver off the CPU for a detection time.
        for side in [&a, &b] {
            let status = std::process::Command::new("chrt")
                .args(["-f", "-p", &priority.to_string(), &side.tid()?.to_string()])
                .status()?;
            if !status.success() {
                return Err(format!("chrt for driver {} failed: {status}", side.name).into());
            }
        }
        println!("driver threads on SCHED_FIFO priority {priority}");
    }
    // Let the bring-up's events and Poll sequences settle before measuring.
    std::thread::sleep(Duration::from_secs(1));

    let (a0, b0) = (snapshot(&a, &net.a)?, snapshot(&b, &net.b)?);
    let end = Instant::now() + Duration::from_secs(u64::from(seconds));
    let mut next_progress = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        std::thread::sleep(end.saturating_duration_since(Instant::now()).min(Duration::from_secs(1)));
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(60);
            let (fa, fb) = (a.counters.failures.load(Ordering::Relaxed), b.counters.failures.load(Ordering::Relaxed));
            println!(
                "  ... {:.0} s: false Downs so far a {} b {}",
                (Instant::now() - a0.at).as_secs_f64(),
                fa - a0.failures,
                fb - b0.failures
            );
        }
    }
    let (a1, b1) = (snapshot(&a, &net.a)?, snapshot(&b, &net.b)?);
    println!("--- {sessions} sessions, {:.1} s measured ---", (a1.at - a0.at).as_secs_f64());
    let (cpu_a, downs_a) = report(&a, &a0, &a1);
    let (cpu_b, downs_b) = report(&b, &b0, &b1);
    let goal = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "goal: <= 25 % of a core per driver {} (a {cpu_a:.1} %, b {cpu_b:.1} %); no false Down {} ({} on a, {} on b)",
        goal(cpu_a <= 25.0 && cpu_b <= 25.0),
        goal(downs_a + downs_b == 0),
        downs_a,
        downs_b
    );
    if downs_a + downs_b > 0 {
        return Err(format!("{} sessions went Down during the run", downs_a + downs_b).into());
    }
    Ok(())
}
