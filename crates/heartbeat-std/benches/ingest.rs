//! How many heartbeats per second one node ingests over real UDP loopback, with 1k and 10k
//! peers, next to a plain `recv_from` loop on the same kind of socket in the same run.
//!
//! A blaster thread plays the peers: it pre-fills the receiver's (enlarged) socket buffer with
//! real heartbeat frames while the receiver is idle, then the receiver drains it and only the
//! drain is timed — the receiver alone, not the sender, sets the rate.
//!
//! Run: `cargo bench -p heartbeat-std --bench ingest`

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use heartbeat_proto::{Authentication, ClusterId, Config, FixedTimeout, NodeId};
use heartbeat_std::{Clock, Driver};
use heartbeat_tests::bench::{big_receive_buffer, heartbeat_frames, summarize};

const CLUSTER: ClusterId = ClusterId(0xbe7c);
const BUFFER: usize = 256 << 20;
const TRIALS: usize = 7;

fn loopback() -> io::Result<UdpSocket> {
    UdpSocket::bind("127.0.0.1:0")
}

/// Sends `count` frames to `target`, round after round (sequence numbers from `*round` on).
fn fill(blaster: &UdpSocket, target: SocketAddr, peers: u64, count: usize, round: &mut u64) -> io::Result<()> {
    let mut sent = 0;
    while sent < count {
        *round += 1;
        for frame in heartbeat_frames(CLUSTER, peers, *round).iter().take(count - sent) {
            blaster.send_to(frame, target)?;
            sent += 1;
        }
    }
    Ok(())
}

/// Drains `socket` with a plain non-blocking `recv_from` loop: (datagrams, time).
fn drain_raw(socket: &UdpSocket) -> (usize, Duration) {
    let mut buf = [0u8; 2048];
    let (mut n, start) = (0, Instant::now());
    while socket.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    (n, start.elapsed())
}

/// Drains the driver's socket through the driver: (datagrams, time).
fn drain_ours(driver: &mut Driver) -> (usize, Duration) {
    let mut events = 0u64;
    let (before, start) = (driver.io_stats().received, Instant::now());
    loop {
        let seen = driver.io_stats().received;
        driver.turn(Some(Duration::ZERO), &mut |_| events += 1);
        if driver.io_stats().received == seen {
            break;
        }
    }
    ((driver.io_stats().received - before) as usize, start.elapsed())
}

fn bench(peers: u64) -> io::Result<()> {
    let blaster = loopback()?;
    let raw = loopback()?;
    raw.set_nonblocking(true)?;
    let granted = big_receive_buffer(&raw, BUFFER)?;
    // Calibrate: how many heartbeats the buffer holds; fill to 80% of that so none is dropped.
    let mut round = 0;
    fill(&blaster, raw.local_addr()?, peers, 400_000, &mut round)?;
    let capacity = drain_raw(&raw).0;
    let count = capacity * 8 / 10;

    let sink = loopback()?; // the node's own heartbeats go here, unread
    let socket = loopback()?;
    big_receive_buffer(&socket, BUFFER)?;
    let config = Config::builder(CLUSTER, NodeId::new(1).expect("non-zero"))
        .authentication(Authentication::None)
        .tick(Duration::from_secs(10))
        .interval(Duration::from_secs(30))
        .timeout(Duration::from_secs(100))
        .max_peers(peers as usize)
        .build()
        .map_err(io::Error::other)?;
    let target = socket.local_addr()?;
    let mut driver = Driver::new(config, FixedTimeout::new(), vec![socket], Clock::new()).map_err(io::Error::other)?;
    for p in 2..=peers + 1 {
        driver.add_peer(NodeId::new(p).expect("non-zero"), &[sink.local_addr()?]).map_err(io::Error::other)?;
    }
    driver.turn(Some(Duration::ZERO), &mut |_| {}); // the first heartbeat round goes out now

    let (mut raw_rates, mut our_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let accepted_before = driver.node().stats().accepted;
    for trial in 0..=TRIALS {
        fill(&blaster, raw.local_addr()?, peers, count, &mut round)?;
        let (n_raw, t_raw) = drain_raw(&raw);
        fill(&blaster, target, peers, count, &mut round)?;
        let (n_ours, t_ours) = drain_ours(&mut driver);
        if n_raw != count || n_ours != count {
            println!("  trial {trial}: the buffer dropped datagrams (raw {n_raw}, ours {n_ours} of {count})");
        }
        if trial == 0 {
            continue; // warm-up: every peer comes up once
        }
        let (r, o) = (n_raw as f64 / t_raw.as_secs_f64(), n_ours as f64 / t_ours.as_secs_f64());
        raw_rates.push(r);
        our_rates.push(o);
        ratios.push(o / r);
    }
    let accepted = driver.node().stats().accepted - accepted_before;
    let (raw_s, ours_s, ratio) = (summarize(&mut raw_rates), summarize(&mut our_rates), summarize(&mut ratios));
    let (Some(raw_s), Some(ours_s), Some(ratio)) = (raw_s, ours_s, ratio) else { return Ok(()) };
    println!(
        "ingest, {peers} peers: {count} heartbeats per trial ({} KiB socket buffer), {TRIALS} trials, medians",
        granted / 1024
    );
    println!("  plain recv_from loop:  {:>6.3} M datagrams/s", raw_s.median / 1e6);
    println!("  heartbeat-std driver:  {:>6.3} M heartbeats/s (core accepted {accepted} frames)", ours_s.median / 1e6);
    // The rate counts datagrams read; it only measures heartbeats if the core accepted them all.
    let expected = (count * (TRIALS + 1)) as u64;
    let verdict = match (accepted == expected, ours_s.median / raw_s.median >= 0.8) {
        (false, _) => format!("not evaluated: the core accepted {accepted} of {expected} frames"),
        (true, true) => "met".into(),
        (true, false) => "NOT met".into(),
    };
    println!(
        "  ours/raw = {:.2} (per-trial ratios: median {:.2}, worst {:.2}); goal >= 0.8: {verdict}",
        ours_s.median / raw_s.median,
        ratio.median,
        ratios[0]
    );
    Ok(())
}

fn main() -> io::Result<()> {
    for peers in [1_000, 10_000] {
        bench(peers)?;
    }
    Ok(())
}
