//! Detection lateness over real sockets: a peer is killed abruptly, at random phases, and the
//! `Down` event of a `heartbeat-std` node is timed against the peer's last heartbeat plus the
//! timeout. Goal: median <= 0.2 ms, max <= 1 ms past the timeout.
//!
//! Run: `cargo bench -p heartbeat-std --bench lateness` (crashes: `HEARTBEAT_BENCH_TRIALS`,
//! default 40)

use std::io;
use std::sync::mpsc;
use std::time::Instant;

use heartbeat_proto::{FixedTimeout, NodeId};
use heartbeat_std::{Clock, Driver, socket};
use heartbeat_tests::bench::{lateness_observer, lateness_peer, lateness_report, lateness_trials};

fn main() -> io::Result<()> {
    let socket = socket::unicast("127.0.0.1:0".parse().map_err(io::Error::other)?)?;
    let mut peer = lateness_peer(socket.local_addr()?, 0x5eed)?;
    let mut driver =
        Driver::new(lateness_observer()?, FixedTimeout::new(), vec![socket], Clock::new()).map_err(io::Error::other)?;
    driver.add_peer(NodeId::new(2).expect("non-zero"), &[peer.addr()?]).map_err(io::Error::other)?;
    let (tx, rx) = mpsc::channel();
    let node = driver.spawn(move |event| {
        let _ = tx.send((event, Instant::now()));
    })?;
    lateness_report("lateness, heartbeat-std", &mut peer, lateness_trials(), &mut |wait| rx.recv_timeout(wait).ok());
    node.shutdown();
    Ok(())
}
