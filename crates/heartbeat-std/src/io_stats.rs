//! Counting socket errors instead of dying of them.

use std::io;

use heartbeat_proto::{Config, Instant, MonitorStats, PeerStatus};

/// Datagrams moved and socket errors survived. Every error is counted and logged; none stops
/// the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams received (handed to the core, whatever it made of them).
    pub received: u64,
    /// Failed sends, all causes.
    pub send_errors: u64,
    /// Failed receives and waits, all causes (an empty socket is not an error).
    pub recv_errors: u64,
    /// `ECONNREFUSED`: an ICMP port unreachable came back for an earlier datagram.
    pub refused: u64,
    /// `EINTR`: a signal interrupted the call.
    pub interrupted: u64,
    /// Sends refused because the socket buffer was full (the heartbeat is dropped).
    pub would_block: u64,
    /// Frames with nowhere to go: a peer without an address, or a broadcast without a group.
    pub unroutable: u64,
}

/// Which way the failed call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A send.
    Send,
    /// A receive or a wait.
    Receive,
}

impl IoStats {
    /// Counts and logs `err`. The driver always carries on.
    pub fn record(&mut self, direction: Direction, err: &io::Error) {
        let total = match direction {
            Direction::Send => &mut self.send_errors,
            Direction::Receive => &mut self.recv_errors,
        };
        *total += 1;
        match err.kind() {
            io::ErrorKind::ConnectionRefused => {
                self.refused += 1;
                tracing::debug!(?direction, %err, "peer port unreachable");
            }
            io::ErrorKind::Interrupted => {
                self.interrupted += 1;
                tracing::debug!(?direction, %err, "interrupted");
            }
            io::ErrorKind::WouldBlock => {
                self.would_block += 1;
                tracing::debug!(?direction, %err, "socket buffer full");
            }
            _ => tracing::warn!(?direction, %err, "socket error"),
        }
    }
}

/// A snapshot of a running node: its configuration, every peer's status and the counters.
#[derive(Debug, Clone)]
pub struct Status {
    /// The node's configuration.
    pub config: Config,
    /// When the snapshot was taken, on the driver's clock.
    pub now: Instant,
    /// Whether the node has said goodbye.
    pub leaving: bool,
    /// Every peer, in table order.
    pub peers: Vec<PeerStatus>,
    /// What the core made of the frames it was given.
    pub frames: MonitorStats,
    /// What the sockets did.
    pub io: IoStats,
}
