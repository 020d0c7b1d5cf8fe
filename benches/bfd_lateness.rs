//! BFD detection lateness, ours against FRR's bfdd, in one run on one veth.
//!
//! Run (root, with `frr` and `tcpdump` installed):
//!
//! ```text
//! cargo bench -p heartbeat-tests --bench bfd_lateness
//! HEARTBEAT_BFD_TRIALS=40 HEARTBEAT_BFD_INTERVAL_MS=10 cargo bench -p heartbeat-tests --bench bfd_lateness
//! ```
//!
//! `HEARTBEAT_BFD_TRIALS` (default 20) trials per side; `HEARTBEAT_BFD_INTERVAL_MS` (default
//! 10) is both sides' transmit and receive interval, with a detect multiplier of 3.
//!
//! Our `BfdDriver` runs in namespace `a`, FRR's zebra + bfdd in namespace `b`, single hop over
//! IPv4. Each trial captures the veth with tcpdump and reads the pcap timestamps:
//!
//! - **ours**: bfdd is SIGKILLed at a random phase. Lateness = our Down − (arrival of FRR's last
//!   packet + our detection time), with "our Down" read twice: the `at` of the driver's Down
//!   event (its clock mapped onto the capture's wall clock) and, on the wire, our first packet
//!   with state Down and diag 1. The event's lateness is also split into the receive path (FRR's
//!   last packet on the wire to its receipt on the driver's clock, `last_received`) and the
//!   timer wake-up (receipt + detection time to the event). A fresh FRR is started per trial.
//! - **FRR's**: our driver is aborted (no AdminDown, sockets closed) at a random phase.
//!   Lateness = FRR's first Down/diag 1 packet − (our last packet + FRR's detection time, from
//!   `show bfd peers json`: remote detect multiplier × max(its receive interval, our transmit
//!   interval)). A fresh driver is started for each trial.
//!
//! Ours is captured on our veth end, FRR's on FRR's, so each side is timed where it receives.
//! A trial takes about 2–4 s (FRR start, Up at the 1 s slow rate, 1.2 s for tcpdump to flush):
//! 20 trials per side run in about 80 s.
//! Exits non-zero with a message if a daemon does not start, a session does not come Up or a
//! trial does not detect; every namespace, daemon and capture is removed on the way out.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use heartbeat_proto::bfd::{BfdEvent, BfdEventKind, Diag, SessionConfig, State};
use heartbeat_std::Clock;
use heartbeat_std::bfd::{BfdDriver, BfdHandle, Options, links};
use heartbeat_tests::bench::summarize;
use heartbeat_tests::frr::{Frr, FrrConfig, FrrPeer, Status, diag};
use heartbeat_tests::netns::{Capture, Namespace, Pair, temp_dir};
use heartbeat_tests::pcap::{self, Datagram};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Bound for a session to come Up and reach the fast rate (both sides start at 1 s).
const UP_WITHIN: Duration = Duration::from_secs(15);
/// Bound for a detection after the kill.
const DOWN_WITHIN: Duration = Duration::from_secs(3);
const MULTIPLIER: u8 = 3;
/// See [`flush_and_stop`].
const TCPDUMP_FLUSH: Duration = Duration::from_millis(1200);

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The capture's clock (`CLOCK_REALTIME`) at the driver clock's epoch: the smallest-spread of a
/// few wall/driver/wall readings.
fn wall_at_epoch(clock: Clock) -> Duration {
    let wall = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (0..20)
        .map(|_| {
            let before = wall();
            let now = clock.now().since_epoch();
            let after = wall();
            (after - before, before + (after - before) / 2 - now)
        })
        .min_by_key(|(spread, _)| *spread)
        .map(|(_, offset)| offset)
        .unwrap_or_default()
}

/// A small xorshift for the random phases (no statistical demands).
struct Phase(u64);

impl Phase {
    fn new() -> Phase {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Phase(u64::from(t.subsec_nanos()) | 1)
    }

    /// Uniform in [0, span).
    fn within(&mut self, span: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_nanos(self.0 % span.as_nanos().max(1) as u64)
    }
}

/// Our driver with one session, on a thread inside a namespace.
struct Ours {
    handle: Option<BfdHandle>,
    events: mpsc::Receiver<BfdEvent>,
    wall_at_epoch: Duration,
}

impl Ours {
    fn start(ns: &Namespace, peer: IpAddr, interval: Duration) -> Result<Ours> {
        let (tx, events) = mpsc::channel();
        let seed = Phase::new().0 ^ u64::from(std::process::id()) << 32;
        let config = SessionConfig::new(peer, links::ANY).timing(interval, interval, MULTIPLIER);
        let handle = ns.within(move || -> std::result::Result<BfdHandle, String> {
            let mut driver = BfdDriver::new(Options::new(seed), Clock::new()).map_err(|e| e.to_string())?;
            driver.add_session(config, Some(Pair::A_DEV)).map_err(|e| e.to_string())?;
            driver
                .spawn(move |event| {
                    let _ = tx.send(event);
                })
                .map_err(|e| e.to_string())
        })??;
        let wall_at_epoch = wall_at_epoch(handle.clock());
        Ok(Ours { handle: Some(handle), events, wall_at_epoch })
    }

    fn handle(&self) -> Result<&BfdHandle> {
        self.handle.as_ref().ok_or_else(|| "our driver has stopped".into())
    }

    /// Waits until the session is Up at the fast rate; returns its detection time.
    fn wait_fast(&self, interval: Duration) -> Result<Duration> {
        let end = std::time::Instant::now() + UP_WITHIN;
        loop {
            while self.events.try_recv().is_ok() {}
            let (_, s) = *self.handle()?.status()?.sessions.first().ok_or("no session")?;
            if s.state == State::Up
                && s.tx_interval == Some(interval)
                && let Some(detection) = s.detection_time.filter(|d| *d == interval * u32::from(MULTIPLIER))
            {
                return Ok(detection);
            }
            if std::time::Instant::now() > end {
                return Err(format!("our session never came Up at the fast rate within {UP_WITHIN:?}: {s:?}").into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the Down event; returns when it happened on the capture's wall clock.
    fn wait_down(&self) -> Result<Duration> {
        let end = std::time::Instant::now() + DOWN_WITHIN;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            let event = self.events.recv_timeout(left).map_err(|_| format!("no Down within {DOWN_WITHIN:?}"))?;
            if let BfdEventKind::StateChanged { to: State::Down, diag, .. } = event.kind {
                if diag != Diag::CONTROL_DETECTION_TIME_EXPIRED {
                    return Err(format!("Down with {diag:?}, not a detection: {event:?}").into());
                }
                return Ok(self.wall_at_epoch + event.at.since_epoch());
            }
        }
    }

    /// Maps the driver's clock onto the wall clock afresh (NTP may slew the wall clock).
    fn resync(&mut self) {
        if let Some(handle) = &self.handle {
            self.wall_at_epoch = wall_at_epoch(handle.clock());
        }
    }

    /// Stops at once, as a crash would: no AdminDown.
    fn abort(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.abort();
    }
}

/// The last packet from `from`, and the first one from `to_down` with state Down and diag 1.
fn last_and_down(frames: &[Datagram], from: Ipv4Addr, to_down: Ipv4Addr) -> Result<(Duration, Duration)> {
    let last = frames.iter().rev().find(|d| d.source.ip() == from && d.bfd().is_some()).map(|d| d.at);
    let down = frames
        .iter()
        .find(|d| {
            d.source.ip() == to_down
                && d.bfd().is_some_and(|p| p.state == State::Down && p.diag == Diag::CONTROL_DETECTION_TIME_EXPIRED)
        })
        .map(|d| d.at);
    match (last, down) {
        (Some(last), Some(down)) => Ok((last, down)),
        _ => Err(format!(
            "capture ({} frames): last packet from {from} {last:?}, Down/diag 1 from {to_down} {down:?}",
            frames.len()
        )
        .into()),
    }
}

/// Signed microseconds `a - b`.
fn us(a: Duration, b: Duration) -> f64 {
    (a.as_nanos() as f64 - b.as_nanos() as f64) / 1e3
}

fn settle(phase: &mut Phase, interval: Duration) {
    // A few packets into the capture, then a random point of the transmit cycle.
    std::thread::sleep(10 * interval + phase.within(2 * interval));
}

/// tcpdump hands packets over when a ring block retires, after at most its 1 s timeout, and
/// drops a block still pending when it is interrupted: wait that long, then stop it.
fn flush_and_stop(capture: &mut Capture) {
    std::thread::sleep(TCPDUMP_FLUSH);
    capture.stop();
}

fn frr_peer(interval_ms: u32) -> FrrPeer {
    FrrPeer::single_hop(Pair::A_V4.into(), Pair::B_DEV).intervals(interval_ms, interval_ms).multiplier(MULTIPLIER)
}

/// Lateness samples of the trials where we detect, in µs.
struct OursDetect {
    /// The Down event's `at`.
    by_event: Vec<f64>,
    /// Our first Down/diag 1 packet on the wire.
    by_wire: Vec<f64>,
    /// Of `by_event`: from FRR's last packet on the wire to its receipt on the driver's clock.
    receive_path: Vec<f64>,
    /// Of `by_event`: from that receipt plus the detection time to the event.
    timer_wake: Vec<f64>,
}

/// Trials where FRR is killed and we detect.
fn ours_detect(net: &Pair, dir: &Path, trials: u32, interval_ms: u32) -> Result<OursDetect> {
    let interval = Duration::from_millis(u64::from(interval_ms));
    let mut phase = Phase::new();
    let mut ours = Ours::start(&net.a, Pair::B_V4.into(), interval)?;
    let (mut by_event, mut by_wire, mut split) = (Vec::new(), Vec::new(), (Vec::new(), Vec::new()));
    for trial in 1..=trials {
        let mut frr = Frr::start(&net.b, FrrConfig { peers: vec![frr_peer(interval_ms)] })?;
        let detection = ours.wait_fast(interval)?;
        frr.wait_peer(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
        let file = dir.join(format!("ours-{trial}.pcap"));
        let mut capture = net.a.capture(Pair::A_DEV, &file, "udp port 3784")?;
        settle(&mut phase, interval);
        ours.resync();
        frr.kill()?;
        let down_event = ours.wait_down().map_err(|e| format!("ours, trial {trial}: {e}"))?;
        flush_and_stop(&mut capture);
        let frames = pcap::read_udp(&file)?;
        let (last_frr, down_wire) =
            last_and_down(&frames, Pair::B_V4, Pair::A_V4).map_err(|e| format!("ours, trial {trial}: {e}"))?;
        let deadline = last_frr + detection;
        let (e, w) = (us(down_event, deadline), us(down_wire, deadline));
        // The split of the event's lateness: FRR's last packet from the wire to the driver's
        // clock (where the detection timer starts), and the timer's own wake-up.
        let (_, s) = *ours.handle()?.status()?.sessions.first().ok_or("no session")?;
        let received = ours.wall_at_epoch + s.last_received.ok_or("no packet received")?.since_epoch();
        let (rx, timer) = (us(received, last_frr), us(down_event, received + detection));
        println!(
            "ours  trial {trial:>3}: detection {detection:?}, Down event {e:>7.1} µs (receive path {rx:>6.1} + timer wake-up {timer:>6.1}), on the wire {w:>7.1} µs late"
        );
        split.0.push(rx);
        split.1.push(timer);
        by_event.push(e);
        by_wire.push(w);
        // FRR (both daemons) goes with `frr`; the next trial starts a fresh one.
    }
    Ok(OursDetect { by_event, by_wire, receive_path: split.0, timer_wake: split.1 })
}

/// Trials where our driver is aborted and FRR detects: wire lateness in µs.
fn frr_detects(net: &Pair, dir: &Path, trials: u32, interval_ms: u32) -> Result<Vec<f64>> {
    let interval = Duration::from_millis(u64::from(interval_ms));
    let mut phase = Phase::new();
    let frr = Frr::start(&net.b, FrrConfig { peers: vec![frr_peer(interval_ms)] })?;
    let mut late = Vec::new();
    for trial in 1..=trials {
        let mut ours = Ours::start(&net.a, Pair::B_V4.into(), interval)?;
        ours.wait_fast(interval)?;
        let state = frr.wait_peer_where(Pair::A_V4.into(), "Up at the fast rate", UP_WITHIN, |p| {
            p.status == Status::Up && p.remote_transmit_interval == interval_ms && p.transmit_interval == interval_ms
        })?;
        let detection_ms = u64::from(state.remote_detect_multiplier)
            * u64::from(state.receive_interval.max(state.remote_transmit_interval));
        let detection = Duration::from_millis(detection_ms);
        let file = dir.join(format!("frr-{trial}.pcap"));
        let mut capture = net.b.capture(Pair::B_DEV, &file, "udp port 3784")?;
        settle(&mut phase, interval);
        ours.abort();
        let down = frr
            .wait_peer(Pair::A_V4.into(), Status::Down, DOWN_WITHIN)
            .map_err(|e| format!("FRR, trial {trial}: no Down: {e}"))?;
        if down.diagnostic != diag::DETECTION_TIME_EXPIRED {
            return Err(format!("FRR, trial {trial}: Down with {:?}, not a detection", down.diagnostic).into());
        }
        flush_and_stop(&mut capture);
        let frames = pcap::read_udp(&file)?;
        let (last_ours, down_wire) =
            last_and_down(&frames, Pair::A_V4, Pair::B_V4).map_err(|e| format!("FRR, trial {trial}: {e}"))?;
        let w = us(down_wire, last_ours + detection);
        println!("FRR   trial {trial:>3}: detection {detection:?}, Down on the wire {w:>8.1} µs late");
        late.push(w);
        // Let FRR's session fall back to Down at the slow rate before our next driver starts.
        std::thread::sleep(interval);
    }
    Ok(late)
}

fn line(name: &str, samples: &mut [f64]) -> Result<(f64, f64, f64)> {
    let s = summarize(samples).ok_or("no samples")?;
    println!(
        "{name:<34} n={:<3} p50 {:>8.1} µs  p90 {:>8.1} µs  max {:>8.1} µs  min {:>8.1} µs",
        samples.len(),
        s.median,
        s.p90,
        s.max,
        s.min
    );
    Ok((s.median, s.p90, s.max))
}

/// The first line of `bfdd --version`.
fn frr_version() -> String {
    std::process::Command::new(heartbeat_tests::frr::BFDD)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_owned))
        .unwrap_or_else(|| "(version unknown)".into())
}

fn main() -> Result<()> {
    let trials = env_u32("HEARTBEAT_BFD_TRIALS", 20).max(1);
    let interval_ms = env_u32("HEARTBEAT_BFD_INTERVAL_MS", 10).max(1);
    println!(
        "bfd_lateness: {trials} trials per side, {interval_ms} ms x {MULTIPLIER}, single hop IPv4 over a veth, FRR bfdd {}",
        frr_version()
    );
    let net = Pair::new()?;
    let dir = temp_dir("bfd-lateness")?;
    let mut ours = ours_detect(&net, dir.path(), trials, interval_ms)?;
    let mut frr = frr_detects(&net, dir.path(), trials, interval_ms)?;

    println!("--- lateness past (last packet received + detection time) ---");
    let ours_event = line("ours, Down event (driver clock)", &mut ours.by_event)?;
    line("  of which receive path", &mut ours.receive_path)?;
    line("  of which timer wake-up", &mut ours.timer_wake)?;
    let ours_wire = line("ours, Down/diag 1 on the wire", &mut ours.by_wire)?;
    let theirs = line("FRR bfdd, Down/diag 1 on the wire", &mut frr)?;
    let ratio = |a: f64, b: f64| if b != 0.0 { format!("{:.3}", a / b) } else { "n/a".into() };
    println!(
        "ratio ours/FRR (wire): p50 {}  p90 {}  max {}",
        ratio(ours_wire.0, theirs.0),
        ratio(ours_wire.1, theirs.1),
        ratio(ours_wire.2, theirs.2)
    );
    let goal = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "goal (ours, wire): p50 <= 200 µs {}, max <= 1000 µs {}, p50 below FRR's {}",
        goal(ours_wire.0 <= 200.0),
        goal(ours_wire.2 <= 1000.0),
        goal(ours_wire.0 < theirs.0)
    );
    println!(
        "goal (ours, event): p50 <= 200 µs {}, max <= 1000 µs {}",
        goal(ours_event.0 <= 200.0),
        goal(ours_event.2 <= 1000.0)
    );
    let early = ours.by_wire.iter().chain(&ours.by_event).chain(&frr).filter(|us| **us < 0.0).count();
    if early > 0 {
        println!("note: {early} sample(s) negative (Down before the deadline computed from the capture)");
    }
    Ok(())
}
