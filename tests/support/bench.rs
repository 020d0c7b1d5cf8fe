//! Helpers for the adapters' benchmark binaries: peers played by pre-encoded frames, a peer
//! that can be killed at a chosen instant, and summaries of samples.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use heartbeat_proto::wire::Kind;

use heartbeat_proto::{
    Authentication, ClusterId, Config, Event, EventKind, Fixed, FixedTimeout, Generation, Instant, MAX_FRAME_LEN,
    Message, Node, NodeId,
};

/// One heartbeat from each of `peers` peers (ids `2..=peers + 1`) to node 1, all with sequence
/// number `round`, as the bytes a real peer would send.
pub fn heartbeat_frames(cluster: ClusterId, peers: u64, round: u64) -> Vec<Vec<u8>> {
    (2..=peers + 1)
        .map(|sender| {
            let msg = Message {
                kind: Kind::Heartbeat,
                cluster,
                sender: NodeId::new(sender).expect("non-zero"),
                receiver: NodeId::new(1),
                generation: Generation(1),
                sequence: round,
                timestamp: Instant::from_millis(round),
                echo: None,
                interval: Duration::from_secs(30),
                requested_timeout: Duration::from_secs(100),
                applied_timeout: None,
                hears_you: false,
                auth: None,
            };
            let mut buf = [0u8; MAX_FRAME_LEN];
            let len = msg.encode(&mut buf).expect("a valid message fits");
            buf[..len].to_vec()
        })
        .collect()
}

/// Gives `socket` a receive buffer of `bytes`, past `rmem_max` if the process may (root);
/// returns what the kernel granted.
pub fn big_receive_buffer(socket: &UdpSocket, bytes: usize) -> io::Result<usize> {
    if rustix::net::sockopt::set_socket_recv_buffer_size_force(socket, bytes).is_err() {
        rustix::net::sockopt::set_socket_recv_buffer_size(socket, bytes)?;
    }
    Ok(rustix::net::sockopt::socket_recv_buffer_size(socket)?)
}

/// Median, 90th percentile and maximum of some samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The median.
    pub median: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The largest.
    pub max: f64,
    /// The smallest.
    pub min: f64,
}

/// Summarizes `samples` (sorted in place); `None` if empty.
pub fn summarize(samples: &mut [f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Some(Summary { median: at(0.5), p90: at(0.9), max: at(1.0), min: at(0.0) })
}

/// One crash of the played peer, as the observer reported it.
#[derive(Debug, Clone, Copy)]
pub struct Crash {
    /// From the peer's last heartbeat leaving its socket, plus the timeout, to the `Down`
    /// event reaching the benchmark, in µs; negative if the `Down` came early.
    pub late_us: f64,
    /// `at - deadline` of the `Down` event: the part of the lateness the driver's wake-up adds.
    pub driver_late: Duration,
}

/// The peer node 2 of cluster `cluster`, played over a real socket towards an observer (node 1)
/// and killed at chosen instants.
pub struct CrashingPeer {
    socket: UdpSocket,
    observer: SocketAddr,
    cluster: ClusterId,
    interval: Duration,
    timeout: Duration,
    epoch: std::time::Instant,
    rng: u64,
}

impl CrashingPeer {
    /// A peer that sends every `interval`, asks to be held to `timeout`, and kills itself at a
    /// random phase drawn from `seed`.
    pub fn new(
        observer: SocketAddr,
        cluster: ClusterId,
        interval: Duration,
        timeout: Duration,
        seed: u64,
    ) -> io::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(observer.ip(), 0))?;
        socket.set_nonblocking(true)?;
        let epoch = std::time::Instant::now();
        Ok(CrashingPeer { socket, observer, cluster, interval, timeout, epoch, rng: seed | 1 })
    }

    /// Where the peer sends from (the observer's address for node 2).
    pub fn addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    fn random_unit(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Starts generation `generation`, runs until the observer reports it up, keeps running
    /// for two to three intervals (a random phase), stops dead, and measures the `Down`.
    /// `events(wait)` returns the observer's next event and when it arrived, waiting at most
    /// `wait`. Returns `None` if an expected event does not come within `patience`.
    pub fn crash_once(
        &mut self,
        generation: u32,
        patience: Duration,
        events: &mut dyn FnMut(Duration) -> Option<(Event, std::time::Instant)>,
    ) -> Option<Crash> {
        let me = NodeId::new(2)?;
        let config = Config::builder(self.cluster, me)
            .authentication(Authentication::None)
            .generation(Generation(generation))
            .tick(self.interval)
            .interval(self.interval)
            .timeout(self.timeout)
            .seed(u64::from(generation))
            .build()
            .ok()?;
        let now = |epoch: std::time::Instant| Instant::from_nanos(epoch.elapsed().as_nanos() as u64);
        let mut node: Node<FixedTimeout, Fixed<2>> = Node::new(config, FixedTimeout::new(), now(self.epoch));
        node.add_peer(NodeId::new(1)?).ok()?;
        let give_up = std::time::Instant::now() + patience;
        let (mut buf, mut rx) = ([0u8; MAX_FRAME_LEN], [0u8; MAX_FRAME_LEN + 1]);
        let mut last_send = None;
        let mut kill_at = None;
        loop {
            let wall = std::time::Instant::now();
            if kill_at.is_some_and(|k| wall >= k) || wall > give_up {
                break;
            }
            while let Ok((len, _)) = self.socket.recv_from(&mut rx) {
                let _ = node.on_message(now(self.epoch), heartbeat_proto::LinkId(0), &rx[..len]);
            }
            node.tick(now(self.epoch));
            while let Some(t) =
                node.poll_transmit(&mut buf).transpose().expect("a MAX_FRAME_LEN buffer fits every frame")
            {
                if self.socket.send_to(&buf[..t.len], self.observer).is_ok() {
                    last_send = Some(std::time::Instant::now());
                }
            }
            while node.poll_event().is_some() {}
            if kill_at.is_none() {
                while let Some((event, at)) = events(Duration::ZERO) {
                    let back = matches!(event.kind, EventKind::Up { generation: g } | EventKind::Restarted { generation: g, .. } if g.0 == generation);
                    if event.peer == me && back {
                        kill_at = Some(at + self.interval * 2 + self.interval.mul_f64(self.random_unit()));
                    }
                }
            }
            // Sleep to the next heartbeat or the kill, whichever is first (at most 1 ms, to
            // notice the observer's report promptly).
            let next = node.poll_timeout().map(|t| t.saturating_duration_since(now(self.epoch)));
            let until_kill = kill_at.map(|k| k.saturating_duration_since(std::time::Instant::now()));
            let nap = [next, until_kill, Some(Duration::from_millis(1))].into_iter().flatten().min();
            std::thread::sleep(nap.unwrap_or_default());
        }
        // Dead: nothing more is sent. Wait for the observer's verdict.
        let last_send = last_send?;
        kill_at?;
        loop {
            let left = give_up.checked_duration_since(std::time::Instant::now()).unwrap_or(patience / 2);
            let (event, at) = events(left)?;
            if let (true, EventKind::Down { deadline, .. }) = (event.peer == me, event.kind) {
                // Signed: a Down before the timeout ran out is a failure, not "0 µs late".
                let due = last_send + self.timeout;
                let late_us = if at >= due {
                    at.duration_since(due).as_secs_f64() * 1e6
                } else {
                    -(due.duration_since(at).as_secs_f64() * 1e6)
                };
                return Some(Crash { late_us, driver_late: event.at - deadline });
            }
        }
    }
}

/// The lateness benches' setup, the same for every driver: node 2 beacons every
/// [`LATENESS_INTERVAL`] and asks node 1, the observer, to hold it to [`LATENESS_TIMEOUT`].
pub const LATENESS_CLUSTER: ClusterId = ClusterId(0x1a7e);
/// See [`LATENESS_CLUSTER`].
pub const LATENESS_INTERVAL: Duration = Duration::from_millis(20);
/// See [`LATENESS_CLUSTER`].
pub const LATENESS_TIMEOUT: Duration = Duration::from_millis(100);

/// The observer's configuration in the lateness benches.
pub fn lateness_observer() -> io::Result<Config> {
    Config::builder(LATENESS_CLUSTER, NodeId::new(1).expect("non-zero"))
        .authentication(Authentication::None)
        .tick(LATENESS_INTERVAL)
        .interval(LATENESS_INTERVAL)
        .timeout(LATENESS_TIMEOUT)
        .build()
        .map_err(io::Error::other)
}

/// The peer the observer watches, crashing on demand, towards the observer at `observer`.
pub fn lateness_peer(observer: SocketAddr, seed: u64) -> io::Result<CrashingPeer> {
    CrashingPeer::new(observer, LATENESS_CLUSTER, LATENESS_INTERVAL, LATENESS_TIMEOUT, seed)
}

/// How many crashes a lateness bench runs: `HEARTBEAT_BENCH_TRIALS`, or 40.
pub fn lateness_trials() -> u32 {
    std::env::var("HEARTBEAT_BENCH_TRIALS").ok().and_then(|s| s.parse().ok()).unwrap_or(40)
}

/// Runs `trials` crashes and prints the lateness summary; returns the summary of `late` in µs.
pub fn lateness_report(
    name: &str,
    peer: &mut CrashingPeer,
    trials: u32,
    events: &mut dyn FnMut(Duration) -> Option<(Event, std::time::Instant)>,
) -> Option<Summary> {
    let mut late = Vec::new();
    let mut driver_late = Vec::new();
    let mut incomplete = 0;
    for generation in 1..=trials {
        match peer.crash_once(generation, Duration::from_secs(10), events) {
            Some(crash) => {
                late.push(crash.late_us);
                driver_late.push(crash.driver_late.as_secs_f64() * 1e6);
            }
            None => {
                incomplete += 1;
                println!("{name}: trial {generation} did not complete");
            }
        }
    }
    let early = late.iter().filter(|us| **us < 0.0).count();
    let (n, summary) = (late.len(), summarize(&mut late)?);
    let driver = summarize(&mut driver_late)?;
    println!(
        "{name}: {n} crashes, Down past (last heartbeat sent + timeout): median {:.1} µs, p90 {:.1} µs, max {:.1} µs, min {:.1} µs",
        summary.median, summary.p90, summary.max, summary.min
    );
    println!(
        "{name}:   of which the driver's wake-up (event.at - deadline): median {:.1} µs, p90 {:.1} µs, max {:.1} µs",
        driver.median, driver.p90, driver.max
    );
    // Every trial must complete and none may come early for a goal to be met.
    let sound = early == 0 && incomplete == 0;
    let verdict = |ok: bool| if ok && sound { "met" } else { "NOT met" };
    println!(
        "{name}:   goal median <= 200 µs: {}, max <= 1000 µs: {} ({early} early, {incomplete} incomplete)",
        verdict(summary.median <= 200.0),
        verdict(summary.max <= 1000.0)
    );
    Some(summary)
}
