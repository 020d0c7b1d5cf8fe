//! Detection lateness over real sockets with the tokio driver: a peer is killed abruptly, at
//! random phases, and the `Down` event is timed against the peer's last heartbeat plus the
//! timeout, once with tokio's timers alone (they tick in milliseconds) and once with the
//! driver's nanosecond `timerfd` (`Driver::precise_timer`).
//!
//! Run: `cargo bench -p heartbeat-tokio --bench lateness` (crashes: `HEARTBEAT_BENCH_TRIALS`,
//! default 40)

use std::io;
use std::sync::mpsc;
use std::time::Instant;

use heartbeat_proto::{FixedTimeout, NodeId};
use heartbeat_tests::bench::{lateness_observer, lateness_peer, lateness_report, lateness_trials};
use heartbeat_tokio::{Driver, tokio_clock};
use tokio::sync::oneshot;

/// Runs `trials` crashes against a tokio observer, with or without the precise timer.
fn measure(trials: u32, precise: bool, seed: u64) -> io::Result<()> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    socket.set_nonblocking(true)?;
    let mut peer = lateness_peer(socket.local_addr()?, seed)?;
    let peer_addr = peer.addr()?;
    let (tx, rx) = mpsc::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let observer = std::thread::spawn(move || -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let config = lateness_observer()?;
            let socket = tokio::net::UdpSocket::from_std(socket)?;
            let mut driver =
                Driver::new(config, FixedTimeout::new(), vec![socket], tokio_clock()).map_err(io::Error::other)?;
            driver.add_peer(NodeId::new(2).expect("non-zero"), &[peer_addr]).map_err(io::Error::other)?;
            if precise {
                driver.precise_timer()?;
            }
            let mut events = driver.subscribe();
            let node = driver.spawn();
            let forward = async {
                while let Ok(event) = events.recv().await {
                    let _ = tx.send((event, Instant::now()));
                }
            };
            tokio::select! {
                () = forward => {}
                _ = stopped => {}
            }
            node.shutdown().await;
            Ok(())
        })
    });
    let name = if precise { "lateness, heartbeat-tokio + precise_timer" } else { "lateness, heartbeat-tokio" };
    lateness_report(name, &mut peer, trials, &mut |wait| rx.recv_timeout(wait).ok());
    let _ = stop.send(());
    observer.join().map_err(|_| io::Error::other("the observer thread panicked"))?
}

fn main() -> io::Result<()> {
    let trials = lateness_trials();
    measure(trials, false, 0x5eed)?;
    measure(trials, true, 0x5eed)
}
