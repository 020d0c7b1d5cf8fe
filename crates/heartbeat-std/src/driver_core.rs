//! The driver core: everything a driver does besides waiting, written once for this crate's
//! blocking [`Driver`](crate::Driver) and `heartbeat-tokio`'s task.
//!
//! A driver is this core plus a way to wait. The core owns the node, one socket per link, the
//! clock and the counters, and does the rest of the loop: it reads datagrams with their source
//! into the node (one clock reading per [`CLOCK_EVERY`] datagrams), sends every frame to where
//! the node's address book says it goes, hands over every event, takes status snapshots and
//! carries out [`Command`]s. Its sockets must not block ([`DatagramSocket`]); the adapter waits
//! until one is readable or [`deadline`](DriverCore::deadline) comes, then calls
//! [`receive`](DriverCore::receive) and [`tick`](DriverCore::tick), and
//! [`flush`](DriverCore::flush) before waiting again.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use heartbeat_proto::{
    Config, Detector, Event, FixedTimeout, Growable, Instant, LinkId, MAX_FRAME_LEN, Node, NodeId, RecvMeta,
};

use crate::clock::Clock;
use crate::command::{AddPeerError, Command};
use crate::io_stats::{Direction, IoStats, Status};

/// Datagrams read from one socket in a row before the driver ticks and looks at the others.
pub const RECV_BATCH: usize = 256;

/// Datagrams dated with one clock reading.
pub const CLOCK_EVERY: usize = 16;

/// A datagram socket the core can use without blocking: both calls fail with `WouldBlock`
/// rather than wait.
///
/// Implemented for a `std::net::UdpSocket` in non-blocking mode; an async adapter implements
/// it for its runtime's socket.
pub trait DatagramSocket {
    /// Takes one datagram and its source if there is one, else fails with `WouldBlock`.
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    /// Sends one datagram if the socket can take it now, else fails with `WouldBlock`.
    fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize>;
    /// The address the socket is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl DatagramSocket for UdpSocket {
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }

    fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.send_to(buf, target)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        UdpSocket::local_addr(self)
    }
}

/// One socket per configured link is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{sockets} socket(s) for {links} configured link(s)")]
pub struct LinkCountError {
    /// Sockets given.
    pub sockets: usize,
    /// `Config::links`.
    pub links: u8,
}

/// A node, its sockets (socket `i` is link `i`), its clock and its counters: every step of a
/// driver's loop except the wait.
pub struct DriverCore<T, D: Detector = FixedTimeout> {
    node: Node<D, Growable>,
    sockets: Vec<T>,
    clock: Clock,
    io: IoStats,
    tx: [u8; MAX_FRAME_LEN],
    // One spare byte so that an oversized datagram stays oversized and the core refuses it.
    rx: [u8; MAX_FRAME_LEN + 1],
}

impl<T: DatagramSocket, D: Detector> DriverCore<T, D> {
    /// A core for a node with `config` over one socket per link; the node starts at
    /// `clock.now()`.
    pub fn new(config: Config, detector: D, sockets: Vec<T>, clock: Clock) -> Result<Self, LinkCountError> {
        if sockets.len() != usize::from(config.links()) {
            return Err(LinkCountError { sockets: sockets.len(), links: config.links() });
        }
        Ok(DriverCore {
            node: Node::new(config, detector, clock.now()),
            sockets,
            clock,
            io: IoStats::default(),
            tx: [0; MAX_FRAME_LEN],
            rx: [0; MAX_FRAME_LEN + 1],
        })
    }

    /// The node, for read access.
    pub fn node(&self) -> &Node<D, Growable> {
        &self.node
    }

    /// The sockets, in link order.
    pub fn sockets(&self) -> &[T] {
        &self.sockets
    }

    /// The clock that stamps events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Socket counters.
    pub fn io_stats(&self) -> IoStats {
        self.io
    }

    /// Counts and logs an error of the adapter's own wait (or timer).
    pub fn record(&mut self, direction: Direction, err: &io::Error) {
        self.io.record(direction, err);
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.sockets.iter().map(T::local_addr).collect()
    }

    /// Monitors and sends to `id`, at `addrs[i]` on link `i` (no address: group frames only,
    /// until its address is learned from its frames). A refused peer changes nothing.
    pub fn add_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        Ok(self.node.add_peer_at(id, addrs)?)
    }

    /// Stops monitoring `id`, silently. Returns whether it was a peer.
    pub fn remove_peer(&mut self, id: NodeId) -> bool {
        self.node.remove_peer(id)
    }

    /// Where frames for every node go on `link` (a multicast group or broadcast address); used
    /// when the configuration says `broadcast`. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.node.set_group(link, addr)
    }

    /// Every peer's status and the counters.
    pub fn status(&self) -> Status {
        Status {
            config: self.node.config().clone(),
            now: self.clock.now(),
            leaving: self.node.is_leaving(),
            peers: self.node.peers().collect(),
            frames: *self.node.stats(),
            io: self.io,
        }
    }

    /// When the node wants [`tick`](Self::tick) next (now while output waits).
    pub fn deadline(&self) -> Option<Instant> {
        self.node.poll_timeout()
    }

    /// Lets time pass: the node handles every deadline up to the clock's now.
    pub fn tick(&mut self) {
        self.node.tick(self.clock.now());
    }

    /// Sends a goodbye to every peer; peers report `Left` instead of `Down`.
    pub fn leave(&mut self, on_event: &mut impl FnMut(Event)) {
        self.node.leave(self.clock.now());
        self.flush(on_event);
    }

    /// Carries out `command`; returns whether the driver keeps running.
    pub fn command(&mut self, command: Command, on_event: &mut impl FnMut(Event)) -> bool {
        match command {
            Command::AddPeer { id, addrs, reply } => reply.send(self.add_peer(id, &addrs)),
            Command::RemovePeer { id, reply } => reply.send(self.remove_peer(id)),
            Command::SetGroup { link, addr, reply } => reply.send(self.set_group(link, addr)),
            Command::Status(reply) => reply.send(self.status()),
            Command::Leave => self.leave(on_event),
            Command::Stop { goodbye } => {
                if goodbye {
                    self.leave(on_event);
                }
                return false;
            }
        }
        true
    }

    /// Reads what `link` holds (up to [`RECV_BATCH`] datagrams) into the node, each with its
    /// link and source address, handing over events as they come. The clock is read once per
    /// [`CLOCK_EVERY`] datagrams rather than for each: a datagram is dated at most that many
    /// reads (a few microseconds) before it was read, and a busy socket is drained faster.
    /// An interruption or an ICMP refusal is counted and reading goes on; an empty socket
    /// ends the batch.
    pub fn receive(&mut self, link: usize, on_event: &mut impl FnMut(Event)) {
        let Some(socket) = self.sockets.get(link) else { return };
        let id = LinkId(u8::try_from(link).unwrap_or(u8::MAX));
        let mut now = self.clock.now();
        for n in 0..RECV_BATCH {
            if n % CLOCK_EVERY == CLOCK_EVERY - 1 {
                now = self.clock.now();
            }
            match socket.try_recv_from(&mut self.rx) {
                Ok((len, from)) => {
                    self.io.received += 1;
                    if let Err(rejected) = self.node.on_message(now, RecvMeta::new(id, from), &self.rx[..len]) {
                        tracing::trace!(%from, %rejected, "frame refused");
                    }
                    while let Some(event) = self.node.poll_event() {
                        on_event(event);
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) => {
                    self.io.record(Direction::Receive, &err);
                    // A refusal or an interruption is consumed by reporting it; keep reading.
                    if !matches!(err.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted) {
                        return;
                    }
                }
            }
        }
    }

    /// Sends every pending frame to each address the node's book has for it, and hands over
    /// every pending event (the drain rule). A send never waits for socket room: a frame the
    /// socket cannot take now is lost and counted, like any datagram; a send interrupted by a
    /// signal is retried once. A frame with no address to go to is counted as unroutable.
    pub fn flush(&mut self, on_event: &mut impl FnMut(Event)) {
        // The buffer holds MAX_FRAME_LEN bytes, the longest frame: it is never too small.
        while let Some(Ok(transmit)) = self.node.poll_transmit(&mut self.tx) {
            let frame = &self.tx[..transmit.len];
            let mut routed = false;
            for target in self.node.targets(transmit) {
                routed = true;
                let Some(socket) = self.sockets.get(usize::from(target.link.0)) else { continue };
                let addr = target.destination;
                let result = socket.try_send_to(frame, addr).or_else(|err| match err.kind() {
                    io::ErrorKind::Interrupted => {
                        self.io.record(Direction::Send, &err);
                        socket.try_send_to(frame, addr)
                    }
                    _ => Err(err),
                });
                match result {
                    Ok(_) => self.io.sent += 1,
                    Err(err) => self.io.record(Direction::Send, &err),
                }
            }
            if !routed {
                self.io.unroutable += 1;
                tracing::debug!(destination = ?transmit.destination, "no address to send to");
            }
        }
        while let Some(event) = self.node.poll_event() {
            on_event(event);
        }
    }
}
