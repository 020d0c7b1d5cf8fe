//! CPU time a node spends per 1k monitored peers at a 1 s interval, over real UDP loopback,
//! next to a plain loop that moves the same datagrams without the state machine.
//!
//! A player thread sends each of the 1000 peers' heartbeats once per second, spread evenly,
//! and reads the node's heartbeats; the node's thread CPU time is measured over a window.
//!
//! Run: `cargo bench -p heartbeat-std --bench cpu` (window: `HEARTBEAT_BENCH_SECS`, default 5)

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use heartbeat_proto::{Authentication, ClusterId, Config, FixedTimeout, NodeId};
use heartbeat_std::{Clock, Driver};
use heartbeat_tests::bench::heartbeat_frames;
use rustix::time::{ClockId, clock_gettime};

const CLUSTER: ClusterId = ClusterId(0xbe7c);
const PEERS: u64 = 1_000;

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Plays the peers: each sends to `target` once per second; also drains what comes back.
fn play(target: SocketAddr, player: UdpSocket, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 2048];
    let (start, mut round, mut next) = (Instant::now(), 0u64, 0usize);
    let mut frames = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        // Peer i sends at i ms past each second.
        let due = (start.elapsed().as_secs_f64() * PEERS as f64) as usize;
        while next < due {
            if next % PEERS as usize == 0 {
                round += 1;
                frames = heartbeat_frames(CLUSTER, PEERS, round);
            }
            let _ = player.send_to(&frames[next % PEERS as usize], target);
            next += 1;
        }
        while player.recv_from(&mut buf).is_ok() {}
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn measure(window: Duration, mut node_loop: impl FnMut(Instant)) -> Duration {
    let before = thread_cpu();
    node_loop(Instant::now() + window);
    thread_cpu() - before
}

fn main() -> io::Result<()> {
    let window =
        Duration::from_secs(std::env::var("HEARTBEAT_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5));
    let config = Config::builder(CLUSTER, NodeId::new(1).expect("non-zero"))
        .authentication(Authentication::None)
        .tick(Duration::from_millis(250))
        .interval(Duration::from_secs(1))
        .timeout(Duration::from_secs(3))
        .max_peers(PEERS as usize)
        .build()
        .map_err(io::Error::other)?;

    // The node: every peer's heartbeat in, one heartbeat per peer per second out.
    let (socket, player) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    player.set_nonblocking(true)?;
    let (target, back) = (socket.local_addr()?, player.local_addr()?);
    let mut driver = Driver::new(config, FixedTimeout::new(), vec![socket], Clock::new()).map_err(io::Error::other)?;
    for p in 2..=PEERS + 1 {
        driver.add_peer(NodeId::new(p).expect("non-zero"), &[back]).map_err(io::Error::other)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let playing = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || play(target, player, stop))
    };
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        driver.turn(None, &mut |_| {});
    }
    let received = driver.io_stats().received;
    let ours = measure(window, |end| {
        while Instant::now() < end {
            driver.turn(Some(end.saturating_duration_since(Instant::now())), &mut |_| {});
        }
    });
    let received = driver.io_stats().received - received;
    let up = driver.status().peers.iter().filter(|p| p.liveness == heartbeat_proto::Liveness::Up).count();
    stop.store(true, Ordering::Relaxed);
    let _ = playing.join();

    // The baseline: the same traffic through a loop with no state machine (receive every
    // datagram, send one datagram per peer per second).
    let (socket, player) = (UdpSocket::bind("127.0.0.1:0")?, UdpSocket::bind("127.0.0.1:0")?);
    player.set_nonblocking(true)?;
    let (target, back) = (socket.local_addr()?, player.local_addr()?);
    let stop = Arc::new(AtomicBool::new(false));
    let playing = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || play(target, player, stop))
    };
    let frame = heartbeat_frames(CLUSTER, 1, 1).remove(0);
    let mut buf = [0u8; 2048];
    let raw = measure(window, |end| {
        let mut next_round = Instant::now();
        while Instant::now() < end {
            if Instant::now() >= next_round {
                for _ in 0..PEERS {
                    let _ = socket.send_to(&frame, back);
                }
                next_round += Duration::from_secs(1);
            }
            let wait = next_round.min(end).saturating_duration_since(Instant::now()).max(Duration::from_micros(1));
            let _ = socket.set_read_timeout(Some(wait));
            let _ = socket.recv_from(&mut buf);
        }
    });
    stop.store(true, Ordering::Relaxed);
    let _ = playing.join();

    let per_sec = |cpu: Duration| cpu.as_secs_f64() / window.as_secs_f64();
    println!("cpu, {PEERS} peers at a 1 s interval, {}-second window", window.as_secs());
    println!(
        "  heartbeat-std node: {:.2} ms CPU per second = {:.3}% of a core per 1k peers ({received} heartbeats in, {up} peers up)",
        per_sec(ours) * 1e3,
        per_sec(ours) * 100.0
    );
    println!("  plain socket loop:  {:.2} ms CPU per second (same datagrams, no state machine)", per_sec(raw) * 1e3);
    println!("  ours/raw CPU = {:.2}", ours.as_secs_f64() / raw.as_secs_f64());
    Ok(())
}
