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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::time::Duration;

    use heartbeat_proto::{Authentication, ClusterId, EventKind, Fixed, MAX_FRAME_LEN, Node, NodeId};

    use super::*;
    use crate::command::Reply;

    /// What one scripted receive returns.
    type Received = io::Result<(Vec<u8>, SocketAddr)>;

    /// A socket with scripted receives and sends.
    #[derive(Default)]
    struct Script {
        inbox: RefCell<VecDeque<Received>>,
        send_results: RefCell<VecDeque<io::Error>>,
        sent: RefCell<Vec<SocketAddr>>,
    }

    impl DatagramSocket for Script {
        fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
            let (bytes, from) = self.inbox.borrow_mut().pop_front().unwrap_or(Err(io::ErrorKind::WouldBlock.into()))?;
            buf[..bytes.len()].copy_from_slice(&bytes);
            Ok((bytes.len(), from))
        }

        fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
            if let Some(err) = self.send_results.borrow_mut().pop_front() {
                return Err(err);
            }
            self.sent.borrow_mut().push(target);
            Ok(buf.len())
        }

        fn local_addr(&self) -> io::Result<SocketAddr> {
            Ok("127.0.0.1:1".parse().unwrap())
        }
    }

    fn id(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    fn config(me: u64) -> Config {
        Config::builder(ClusterId(9), id(me))
            .authentication(Authentication::None)
            .interval(Duration::from_millis(100))
            .timeout(Duration::from_millis(500))
            .seed(me)
            .build()
            .unwrap()
    }

    fn core() -> DriverCore<Script> {
        DriverCore::new(config(1), FixedTimeout::new(), vec![Script::default()], Clock::new()).unwrap()
    }

    /// `n` consecutive heartbeats from node 2 to node 1.
    fn heartbeats(n: usize) -> Vec<Vec<u8>> {
        let mut peer: Node<FixedTimeout, Fixed<1>> =
            Node::new(config(2), FixedTimeout::new(), heartbeat_proto::Instant::ZERO);
        peer.add_peer(id(1)).unwrap();
        let mut buf = [0; MAX_FRAME_LEN];
        (0..n as u64)
            .map(|i| {
                peer.tick(heartbeat_proto::Instant::from_secs(i));
                let t = peer.poll_transmit(&mut buf).unwrap().unwrap();
                buf[..t.len].to_vec()
            })
            .collect()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn too_many_sockets_or_too_few_are_refused() {
        let two = vec![Script::default(), Script::default()];
        let refused = DriverCore::<_, FixedTimeout>::new(config(1), FixedTimeout::new(), two, Clock::new());
        assert_eq!(refused.err(), Some(LinkCountError { sockets: 2, links: 1 }));
    }

    #[test]
    fn a_received_source_becomes_the_address_frames_are_sent_to() {
        let mut core = core();
        core.add_peer(id(2), &[]).unwrap();
        let from = addr("192.0.2.2:7000");
        core.sockets[0].inbox.borrow_mut().push_back(Ok((heartbeats(1).remove(0), from)));
        let mut events = Vec::new();
        core.receive(0, &mut |e| events.push(e.kind));
        assert!(matches!(events[..], [EventKind::Up { .. }]), "{events:?}");
        core.tick();
        core.flush(&mut |_| {});
        assert_eq!(*core.sockets[0].sent.borrow(), [from]);
        assert_eq!((core.io.received, core.io.sent, core.io.unroutable), (1, 1, 0));
    }

    #[test]
    fn a_configured_address_keeps_its_frames_whatever_the_source_says() {
        let mut core = core();
        let configured = addr("192.0.2.2:7000");
        core.add_peer(id(2), &[configured]).unwrap();
        core.sockets[0].inbox.borrow_mut().push_back(Ok((heartbeats(1).remove(0), addr("203.0.113.9:9"))));
        core.receive(0, &mut |_| {});
        core.tick();
        core.flush(&mut |_| {});
        assert_eq!(*core.sockets[0].sent.borrow(), [configured]);
    }

    #[test]
    fn a_frame_with_no_address_is_unroutable_and_an_interrupted_send_is_retried_once() {
        let mut core = core();
        core.add_peer(id(2), &[]).unwrap();
        core.tick();
        core.flush(&mut |_| {});
        assert_eq!((core.io.sent, core.io.unroutable), (0, 1));
        assert!(core.remove_peer(id(2)));
        core.add_peer(id(3), &[addr("192.0.2.3:3")]).unwrap();
        let errors = [io::ErrorKind::Interrupted, io::ErrorKind::Interrupted, io::ErrorKind::Interrupted];
        core.sockets[0].send_results.borrow_mut().extend(errors.map(io::Error::from));
        // Two rounds: the first retries once and fails again, the second retries and succeeds.
        for round in 1..=2 {
            core.node.tick(core.node.poll_timeout().unwrap());
            core.flush(&mut |_| {});
            assert_eq!(core.io.sent, round - 1, "round {round}");
        }
        assert_eq!((core.io.interrupted, core.io.send_errors), (3, 3));
    }

    #[test]
    fn receiving_skips_interruptions_and_refusals_and_stops_at_other_errors() {
        let mut core = core();
        core.add_peer(id(2), &[]).unwrap();
        let from = addr("192.0.2.2:7000");
        let mut frames = heartbeats(3).into_iter();
        let inbox = [
            Err(io::ErrorKind::Interrupted.into()),
            Ok((frames.next().unwrap(), from)),
            Err(io::ErrorKind::ConnectionRefused.into()),
            Ok((frames.next().unwrap(), from)),
            Err(io::ErrorKind::PermissionDenied.into()),
            Ok((frames.next().unwrap(), from)),
        ];
        core.sockets[0].inbox.borrow_mut().extend(inbox);
        core.receive(0, &mut |_| {});
        assert_eq!((core.io.received, core.io.recv_errors, core.io.interrupted, core.io.refused), (2, 3, 1, 1));
        assert_eq!(core.node.stats().accepted, 2);
        // The next batch takes up where the error stopped it.
        core.receive(0, &mut |_| {});
        assert_eq!(core.io.received, 3);
    }

    static CLOCK_READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    fn counted_now() -> std::time::Instant {
        CLOCK_READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::time::Instant::now()
    }

    #[test]
    fn the_clock_is_read_once_per_clock_every_datagrams() {
        let clock = Clock::with_source(std::time::Instant::now(), counted_now);
        let mut core = DriverCore::new(config(1), FixedTimeout::new(), vec![Script::default()], clock).unwrap();
        let garbage = (vec![0u8; 4], addr("192.0.2.2:7000"));
        core.sockets[0].inbox.borrow_mut().extend((0..3 * CLOCK_EVERY).map(|_| Ok(garbage.clone())));
        let before = CLOCK_READS.load(std::sync::atomic::Ordering::Relaxed);
        core.receive(0, &mut |_| {});
        let reads = CLOCK_READS.load(std::sync::atomic::Ordering::Relaxed) - before;
        assert_eq!(core.io.received, 3 * CLOCK_EVERY as u64);
        // One reading to start, then one per further CLOCK_EVERY datagrams.
        assert_eq!(reads, 1 + 3);
    }

    #[test]
    fn a_batch_ends_after_recv_batch_datagrams() {
        let mut core = core();
        let garbage = (vec![0u8; 4], addr("192.0.2.2:7000"));
        core.sockets[0].inbox.borrow_mut().extend((0..RECV_BATCH + 5).map(|_| Ok(garbage.clone())));
        core.receive(0, &mut |_| {});
        assert_eq!(core.io.received, RECV_BATCH as u64);
        assert_eq!(core.node.stats().rejected_malformed, RECV_BATCH as u64);
        core.receive(0, &mut |_| {});
        assert_eq!(core.io.received, RECV_BATCH as u64 + 5);
    }

    #[test]
    fn commands_answer_through_their_reply_and_stop_ends_the_driver() {
        let mut core = core();
        let (tx, rx) = std::sync::mpsc::channel();
        let three = vec![addr("192.0.2.1:1"), addr("192.0.2.1:2")];
        let reply = Reply::new(move |r| tx.send(r).unwrap());
        assert!(core.command(Command::AddPeer { id: id(2), addrs: three, reply }, &mut |_| {}));
        assert_eq!(rx.recv().unwrap(), Err(AddPeerError::TooManyAddresses { given: 2, links: 1 }));
        assert_eq!(core.node.peers().count(), 0, "a refused peer changes nothing");
        let (tx, rx) = std::sync::mpsc::channel();
        let reply = Reply::new(move |r| tx.send(r).unwrap());
        assert!(core.command(Command::SetGroup { link: LinkId(1), addr: addr("239.0.0.1:1"), reply }, &mut |_| {}));
        assert!(!rx.recv().unwrap(), "no link 1");
        let (tx, rx) = std::sync::mpsc::channel();
        assert!(core.command(Command::Status(Reply::new(move |s| tx.send(s).unwrap())), &mut |_| {}));
        assert!(!rx.recv().unwrap().leaving);
        assert!(core.command(Command::Leave, &mut |_| {}));
        assert!(core.node.is_leaving());
        assert!(!core.command(Command::Stop { goodbye: false }, &mut |_| {}));
    }
}
