//! Detection lateness over real sockets: a peer is killed abruptly, at random phases, and the
//! `Down` event of a `heartbeat-std` node is timed against the peer's last heartbeat plus the
//! timeout. Goal: median <= 0.2 ms, max <= 1 ms past the timeout.
//!
//! Run: `cargo bench -p heartbeat-std --bench lateness` (crashes: `HEARTBEAT_BENCH_TRIALS`,
//! default 40)

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use heartbeat_proto::{Authentication, ClusterId, Config, FixedTimeout, NodeId};
use heartbeat_std::{Clock, Driver, socket};
use heartbeat_tests::bench::{CrashingPeer, lateness_report};

const CLUSTER: ClusterId = ClusterId(0x1a7e);
const INTERVAL: Duration = Duration::from_millis(20);
const TIMEOUT: Duration = Duration::from_millis(100);

fn main() -> io::Result<()> {
    let trials = std::env::var("HEARTBEAT_BENCH_TRIALS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let socket = socket::unicast("127.0.0.1:0".parse().map_err(io::Error::other)?)?;
    let mut peer = CrashingPeer::new(socket.local_addr()?, CLUSTER, INTERVAL, TIMEOUT, 0x5eed)?;
    let config = Config::builder(CLUSTER, NodeId::new(1).expect("non-zero"))
        .authentication(Authentication::None)
        .tick(INTERVAL)
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .build()
        .map_err(io::Error::other)?;
    let mut driver = Driver::new(config, FixedTimeout::new(), vec![socket], Clock::new()).map_err(io::Error::other)?;
    driver.add_peer(NodeId::new(2).expect("non-zero"), &[peer.addr()?]).map_err(io::Error::other)?;
    let (tx, rx) = mpsc::channel();
    let node = driver.spawn(move |event| {
        let _ = tx.send((event, Instant::now()));
    })?;
    lateness_report("lateness, heartbeat-std", &mut peer, trials, &mut |wait| rx.recv_timeout(wait).ok());
    node.shutdown();
    Ok(())
}
