//! A cluster of real drivers on loopback, with every event collected in one place.

#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use heartbeat_proto::{Event, FixedTimeout};
use heartbeat_std::{Clock, Driver, Handle, socket};
pub use heartbeat_tests::cluster::*;

/// Every event of every node, in arrival order.
pub struct Log {
    pub clock: Clock,
    tx: mpsc::Sender<Seen>,
    rx: mpsc::Receiver<Seen>,
    pub seen: Vec<Seen>,
}

impl Log {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Log { clock: Clock::new(), tx, rx, seen: Vec::new() }
    }

    /// Starts node `me` on `sockets` (one per link) with `peers` (id, addresses).
    pub fn start(&self, me: u64, generation: u32, sockets: Vec<UdpSocket>, peers: &[(u64, Vec<SocketAddr>)]) -> Handle {
        let config = config(0x5eed, me, generation, sockets.len() as u8);
        let mut driver = Driver::new(config, FixedTimeout::new(), sockets, self.clock).unwrap();
        for (peer, addrs) in peers {
            driver.add_peer(id(*peer), addrs).unwrap();
        }
        let tx = self.sender();
        driver.spawn(move |event| tx(me, event)).unwrap()
    }

    /// A function that records an event seen by a node.
    pub fn sender(&self) -> impl Fn(u64, Event) + Send + 'static {
        let tx = self.tx.clone();
        move |observer, event| {
            let _ = tx.send(Seen { observer, event, wall: Instant::now() });
        }
    }

    /// Collects events until `done` holds for the log or `limit` passes; returns whether it held.
    pub fn wait_until(&mut self, limit: Duration, mut done: impl FnMut(&[Seen]) -> bool) -> bool {
        let end = Instant::now() + limit;
        while !done(&self.seen) {
            let Some(left) = end.checked_duration_since(Instant::now()) else { return false };
            match self.rx.recv_timeout(left) {
                Ok(seen) => self.seen.push(seen),
                Err(_) => return done(&self.seen),
            }
        }
        true
    }

    /// Collects everything that arrives during `window`.
    pub fn observe(&mut self, window: Duration) {
        self.wait_until(window, |_| false);
    }

    /// Events that `observer` saw about `peer`, after index `from` of the log.
    pub fn about(&self, from: usize, observer: u64, peer: u64) -> Vec<Seen> {
        about(&self.seen, from, observer, peer)
    }
}

/// Binds `n` loopback sockets.
pub fn sockets(n: usize) -> Vec<UdpSocket> {
    (0..n).map(|_| socket::unicast("127.0.0.1:0".parse().unwrap()).unwrap()).collect()
}

/// Starts nodes `1..=n`, generation 1, and waits until every node sees every other up.
pub fn converged_cluster(log: &mut Log, n: usize) -> (Vec<Option<Handle>>, Vec<SocketAddr>) {
    let socks = sockets(n);
    let addrs: Vec<SocketAddr> = socks.iter().map(|s| s.local_addr().unwrap()).collect();
    let handles = socks
        .into_iter()
        .enumerate()
        .map(|(i, s)| Some(log.start(i as u64 + 1, 1, vec![s], &mesh(i as u64 + 1, &addrs))))
        .collect();
    assert!(log.wait_until(PATIENCE, |seen| converged(seen, n as u64)), "no convergence: {:#?}", log.seen);
    (handles, addrs)
}
