//! A cluster of real tokio drivers on loopback, with every event collected in one place.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use heartbeat_proto::FixedTimeout;
pub use heartbeat_tests::cluster::*;
use heartbeat_tokio::{Clock, Driver, Handle, tokio_clock};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Every event of every node, in arrival order.
pub struct Log {
    pub clock: Clock,
    tx: mpsc::UnboundedSender<Seen>,
    rx: mpsc::UnboundedReceiver<Seen>,
    pub seen: Vec<Seen>,
}

impl Log {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Log { clock: tokio_clock(), tx, rx, seen: Vec::new() }
    }

    /// Starts node `me` on `sockets` (one per link) with `peers` (id, addresses).
    pub fn start(&self, me: u64, generation: u32, sockets: Vec<UdpSocket>, peers: &[(u64, Vec<SocketAddr>)]) -> Handle {
        let config = config(0x70c1, me, generation, sockets.len() as u8);
        let mut driver = Driver::new(config, FixedTimeout::new(), sockets, self.clock).unwrap();
        for (peer, addrs) in peers {
            driver.add_peer(id(*peer), addrs).unwrap();
        }
        // Odd nodes also wake through the nanosecond timer; even ones on tokio's timers alone.
        if me % 2 == 1 {
            driver.precise_timer().unwrap();
        }
        let mut events = driver.subscribe();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                let _ = tx.send(Seen { observer: me, event, wall: std::time::Instant::now() });
            }
        });
        driver.spawn()
    }

    /// Collects events until `done` holds for the log or `limit` passes; returns whether it held.
    pub async fn wait_until(&mut self, limit: Duration, mut done: impl FnMut(&[Seen]) -> bool) -> bool {
        let end = Instant::now() + limit;
        while !done(&self.seen) {
            match tokio::time::timeout_at(end, self.rx.recv()).await {
                Ok(Some(seen)) => self.seen.push(seen),
                _ => return done(&self.seen),
            }
        }
        true
    }

    /// Collects everything that arrives during `window`.
    pub async fn observe(&mut self, window: Duration) {
        self.wait_until(window, |_| false).await;
    }

    /// Events that `observer` saw about `peer`, after index `from` of the log.
    pub fn about(&self, from: usize, observer: u64, peer: u64) -> Vec<Seen> {
        about(&self.seen, from, observer, peer)
    }
}

/// Binds `n` loopback sockets.
pub async fn sockets(n: usize) -> Vec<UdpSocket> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    }
    out
}

/// Starts nodes `1..=n`, generation 1, and waits until every node sees every other up.
pub async fn converged_cluster(log: &mut Log, n: usize) -> (Vec<Handle>, Vec<SocketAddr>) {
    let socks = sockets(n).await;
    let addrs: Vec<SocketAddr> = socks.iter().map(|s| s.local_addr().unwrap()).collect();
    let handles = socks
        .into_iter()
        .enumerate()
        .map(|(i, s)| log.start(i as u64 + 1, 1, vec![s], &mesh(i as u64 + 1, &addrs)))
        .collect();
    assert!(log.wait_until(PATIENCE, |seen| converged(seen, n as u64)).await, "no convergence: {:#?}", log.seen);
    (handles, addrs)
}
