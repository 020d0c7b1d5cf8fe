//! The driver core: everything a driver does besides waiting, written once for every wire
//! profile ([`Machine`]) and for this crate's blocking drivers and `heartbeat-tokio`'s task.
//!
//! A driver is this core plus a way to wait. The core owns the machine, a [`Sockets`] set, the
//! clock and the counters, and does the rest of the loop: it reads datagrams with their
//! metadata into the machine (one clock reading per [`CLOCK_EVERY`] datagrams), sends every
//! datagram to each target the machine names, and hands over every event. Its sockets must not
//! block; the adapter waits until one is readable or [`deadline`](DriverCore::deadline) comes,
//! then calls [`receive`](DriverCore::receive) and [`tick`](DriverCore::tick), and
//! [`flush`](DriverCore::flush) before waiting again. Commands are the profile's own methods,
//! run by the adapter on the core (or the driver around it) between turns.
//!
//! A new profile needs a [`Machine`] and a [`Sockets`] set (its socket options and how a
//! datagram's metadata is read and written), nothing more.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use heartbeat_proto::engine::Machine;
use heartbeat_proto::{Config, Detector, Growable, Instant, LinkId, Node, NodeId, RecvMeta, SendMeta, Transmit};

use crate::clock::Clock;
use crate::command::AddPeerError;
use crate::io_stats::{Direction, IoStats, Status};

/// Datagrams read from one socket in a row before the driver ticks and looks at the others.
pub const RECV_BATCH: usize = 256;

/// Batches [`DriverCore::drain`] reads from one socket at most before it lets time pass: a
/// bound on how long a flooded socket can hold the loop.
pub const DRAIN_BATCHES: usize = 64;

/// Datagrams dated with one clock reading.
pub const CLOCK_EVERY: usize = 16;

/// A datagram socket the core can use without blocking: both calls fail with `WouldBlock`
/// rather than wait.
///
/// Implemented for a `std::net::UdpSocket` in non-blocking mode; an async adapter implements
/// it for its runtime's socket. [`LinkSockets`] makes a [`Sockets`] set of them.
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

/// A profile's sockets as the core uses them: numbered receive sockets that say how each
/// datagram arrived, and a send that picks the socket a datagram leaves from. `X` is the
/// machine's [`Machine::Transmit`], for a set that needs more than the [`SendMeta`].
///
/// Both calls must not block: they fail with `WouldBlock` instead.
pub trait Sockets<X> {
    /// How many receive sockets there are (numbered from 0).
    fn len(&self) -> usize;

    /// Whether there is no receive socket.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes one datagram from receive socket `i` into `buf`, with how it arrived (the set
    /// decides its link), else fails with `WouldBlock`.
    fn try_recv(&mut self, i: usize, buf: &mut [u8]) -> io::Result<(usize, RecvMeta)>;

    /// Sends `buf` as `meta` says. `None`: no socket goes there (the datagram is unroutable).
    fn try_send(&mut self, buf: &[u8], transmit: &X, meta: &SendMeta) -> Option<io::Result<()>>;
}

/// Wire v1's socket set: socket `i` is link `i`. A datagram read from it is `LinkId(i)` with
/// its source address; one for link `i` leaves from socket `i`.
#[derive(Debug)]
pub struct LinkSockets<T>(pub Vec<T>);

impl<T> LinkSockets<T> {
    /// The sockets, in link order.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<T: DatagramSocket, X> Sockets<X> for LinkSockets<T> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn try_recv(&mut self, i: usize, buf: &mut [u8]) -> io::Result<(usize, RecvMeta)> {
        let socket = self.0.get(i).ok_or(io::ErrorKind::NotFound)?;
        let (len, from) = socket.try_recv_from(buf)?;
        Ok((len, RecvMeta::new(LinkId(u8::try_from(i).unwrap_or(u8::MAX)), from)))
    }

    fn try_send(&mut self, buf: &[u8], _: &X, meta: &SendMeta) -> Option<io::Result<()>> {
        let socket = self.0.get(usize::from(meta.link.0))?;
        Some(socket.try_send_to(buf, meta.destination).map(drop))
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

/// Wire v1's node as the driver runs it.
pub type V1Node<D> = Node<D, Growable>;

/// A machine, its sockets, its clock and its counters: every step of a driver's loop except
/// the wait.
pub struct DriverCore<M, K> {
    // On the heap: a machine holds its fixed-capacity tables by value (a Linux-HA node with its
    // retransmission history is 100 KB), which should not ride on a thread's stack through
    // every move of the driver.
    machine: Box<M>,
    sockets: K,
    clock: Clock,
    io: IoStats,
    tx: Vec<u8>,
    // One spare byte so that an oversized datagram stays oversized and the machine refuses it.
    rx: Vec<u8>,
}

impl<M: Machine, K: Sockets<M::Transmit>> DriverCore<M, K> {
    /// A core that runs `machine` over `sockets`, dating everything with `clock`.
    pub fn with_machine(machine: M, sockets: K, clock: Clock) -> Self {
        DriverCore {
            machine: Box::new(machine),
            sockets,
            clock,
            io: IoStats::default(),
            tx: vec![0; M::MAX_DATAGRAM],
            rx: vec![0; M::MAX_DATAGRAM + 1],
        }
    }

    /// The machine, for read access.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The machine, to command it (with this core's [`clock`](Self::clock)`.now()`); what a
    /// command queues goes out at the next [`flush`](Self::flush).
    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    /// The socket set.
    pub fn sockets(&self) -> &K {
        &self.sockets
    }

    /// The socket set, to open or configure sockets.
    pub fn sockets_mut(&mut self) -> &mut K {
        &mut self.sockets
    }

    /// The machine and the socket set at once, for a command that needs both (opening the
    /// sockets a new session needs, say).
    pub fn parts_mut(&mut self) -> (&mut M, &mut K) {
        (&mut *self.machine, &mut self.sockets)
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

    /// When the machine wants [`tick`](Self::tick) next (now while output waits).
    pub fn deadline(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    /// Lets time pass: the machine handles every deadline up to the clock's now.
    pub fn tick(&mut self) {
        self.machine.tick(self.clock.now());
    }

    /// Reads what receive socket `i` holds (up to [`RECV_BATCH`] datagrams) into the machine,
    /// each with its metadata, handing over events as they come. The clock is read once per
    /// [`CLOCK_EVERY`] datagrams rather than for each: a datagram is dated at most that many
    /// reads (a few microseconds) before it was read, and a busy socket is drained faster.
    /// An interruption or an ICMP refusal is counted and reading goes on; an empty socket
    /// ends the batch.
    pub fn receive(&mut self, i: usize, on_event: &mut impl FnMut(M::Event)) {
        self.receive_batch(i, on_event);
    }

    /// Reads what receive socket `i` already holds, batch after batch (at most
    /// [`DRAIN_BATCHES`]), so that the [`tick`](Self::tick) that follows does not judge peers
    /// whose datagrams arrived in time but were still unread (after a stall of this process,
    /// say). Returns the batches read.
    pub fn drain(&mut self, i: usize, on_event: &mut impl FnMut(M::Event)) -> usize {
        let mut batches = 1;
        while self.receive_batch(i, on_event) && batches < DRAIN_BATCHES {
            batches += 1;
        }
        batches
    }

    /// [`receive`](Self::receive); returns whether the batch was full (more may wait).
    fn receive_batch(&mut self, i: usize, on_event: &mut impl FnMut(M::Event)) -> bool {
        if i >= self.sockets.len() {
            return false;
        }
        let mut now = self.clock.now();
        for n in 0..RECV_BATCH {
            if n % CLOCK_EVERY == CLOCK_EVERY - 1 {
                now = self.clock.now();
            }
            match self.sockets.try_recv(i, &mut self.rx) {
                Ok((len, meta)) => {
                    self.io.received += 1;
                    let bytes = &self.rx[..len.min(self.rx.len())];
                    if let Err(rejected) = self.machine.on_message(now, meta, bytes) {
                        tracing::trace!(from = ?meta.source, ?rejected, "datagram refused");
                    }
                    while let Some(event) = self.machine.poll_event() {
                        on_event(event);
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return false,
                Err(err) => {
                    self.io.record(Direction::Receive, &err);
                    // A refusal or an interruption is consumed by reporting it; keep reading.
                    if !matches!(err.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Sends every pending datagram to each target the machine names for it, and hands over
    /// every pending event (the drain rule). A send never waits for socket room: a datagram the
    /// socket cannot take now is lost and counted, like any datagram; a send interrupted by a
    /// signal is retried once. A datagram with no target, or none a socket goes to, is counted
    /// as unroutable.
    pub fn flush(&mut self, on_event: &mut impl FnMut(M::Event)) {
        while let Some(transmit) = self.machine.poll_transmit(&mut self.tx) {
            let transmit = match transmit {
                Ok(transmit) => transmit,
                Err(too_small) => {
                    // The buffer holds MAX_DATAGRAM bytes; the machine broke its own bound.
                    tracing::error!(%too_small, "datagram larger than the machine's MAX_DATAGRAM");
                    break;
                }
            };
            let mut routed = false;
            for meta in self.machine.targets(&transmit) {
                let frame = &self.tx[..meta.len.min(self.tx.len())];
                let result = match self.sockets.try_send(frame, &transmit, &meta) {
                    None => continue,
                    Some(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {
                        self.io.record(Direction::Send, &err);
                        self.sockets.try_send(frame, &transmit, &meta).unwrap_or(Err(err))
                    }
                    Some(result) => result,
                };
                routed = true;
                match result {
                    Ok(()) => self.io.sent += 1,
                    Err(err) => self.io.record(Direction::Send, &err),
                }
            }
            if !routed {
                self.io.unroutable += 1;
                tracing::debug!("no address to send to");
            }
        }
        while let Some(event) = self.machine.poll_event() {
            on_event(event);
        }
    }
}

/// Wire v1: a [`Node`] over one socket per link.
impl<T: DatagramSocket, D: Detector> DriverCore<V1Node<D>, LinkSockets<T>> {
    /// A core for a node with `config` over one socket per link; the node starts at
    /// `clock.now()`.
    pub fn new(config: Config, detector: D, sockets: Vec<T>, clock: Clock) -> Result<Self, LinkCountError> {
        if sockets.len() != usize::from(config.links()) {
            return Err(LinkCountError { sockets: sockets.len(), links: config.links() });
        }
        Ok(DriverCore::with_machine(Node::new(config, detector, clock.now()), LinkSockets(sockets), clock))
    }

    /// The node, for read access.
    pub fn node(&self) -> &V1Node<D> {
        &self.machine
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.sockets.0.iter().map(T::local_addr).collect()
    }
}

/// Wire v1's commands, on any socket set.
impl<D: Detector, K: Sockets<Transmit>> DriverCore<V1Node<D>, K> {
    /// Monitors and sends to `id`, at `addrs[i]` on link `i` (no address: group frames only,
    /// until its address is learned from its frames). A refused peer changes nothing.
    pub fn add_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        Ok(self.machine.add_peer_at(id, addrs)?)
    }

    /// Moves a peer to other addresses, keeping its record (see [`Node::move_peer`]).
    pub fn move_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        Ok(self.machine.move_peer(id, addrs)?)
    }

    /// Every peer's replay watermark, to persist (see [`Node::watermarks`]).
    pub fn watermarks(&self) -> Vec<(NodeId, heartbeat_proto::Watermark)> {
        self.machine.watermarks().collect()
    }

    /// Resumes a peer's replay protection from an earlier run (see [`Node::resume_watermark`]).
    pub fn resume_watermark(
        &mut self,
        id: NodeId,
        mark: heartbeat_proto::Watermark,
    ) -> Result<(), heartbeat_proto::ResumeError> {
        self.machine.resume_watermark(id, mark)
    }

    /// Stops monitoring `id`, silently. Returns whether it was a peer.
    pub fn remove_peer(&mut self, id: NodeId) -> bool {
        self.machine.remove_peer(id)
    }

    /// Where frames for every node go on `link` (a multicast group or broadcast address); used
    /// when the configuration says `broadcast`. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.machine.set_group(link, addr)
    }

    /// Takes over new timing and (when `config` holds them) keys now, every peer's state
    /// kept; a change only a new node can take is refused and changes nothing. See
    /// [`Node::reconfigure`](heartbeat_proto::Node::reconfigure).
    pub fn reconfigure(&mut self, config: Config) -> Result<(), heartbeat_proto::FixedFieldError> {
        self.machine.reconfigure(self.clock.now(), config)
    }

    /// Replaces the detector now, every peer's record kept. See
    /// [`Node::replace_detector`](heartbeat_proto::Node::replace_detector).
    pub fn replace_detector(&mut self, detector: D) {
        self.machine.replace_detector(self.clock.now(), detector);
    }

    /// Every peer's status and the counters.
    pub fn status(&self) -> Status {
        Status {
            config: self.machine.config().clone(),
            now: self.clock.now(),
            leaving: self.machine.is_leaving(),
            peers: self.machine.peers().collect(),
            frames: *self.machine.stats(),
            io: self.io,
        }
    }

    /// Starts the goodbye round without sending it: the next [`flush`](Self::flush) does.
    pub fn start_leaving(&mut self) {
        self.machine.leave(self.clock.now());
    }

    /// Sends a goodbye to every peer; peers report `Left` instead of `Down`.
    pub fn leave(&mut self, on_event: &mut impl FnMut(heartbeat_proto::Event)) {
        self.start_leaving();
        self.flush(on_event);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::time::Duration;

    use heartbeat_proto::{Authentication, ClusterId, EventKind, Fixed, FixedTimeout, MAX_FRAME_LEN, Node, NodeId};

    use super::*;

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

    fn core() -> DriverCore<V1Node<FixedTimeout>, LinkSockets<Script>> {
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
        let refused = DriverCore::<V1Node<FixedTimeout>, _>::new(config(1), FixedTimeout::new(), two, Clock::new());
        assert_eq!(refused.err(), Some(LinkCountError { sockets: 2, links: 1 }));
    }

    #[test]
    fn a_received_source_becomes_the_address_frames_are_sent_to() {
        let mut core = core();
        core.add_peer(id(2), &[]).unwrap();
        let from = addr("192.0.2.2:7000");
        core.sockets.0[0].inbox.borrow_mut().push_back(Ok((heartbeats(1).remove(0), from)));
        let mut events = Vec::new();
        core.receive(0, &mut |e| events.push(e.kind));
        assert!(matches!(events[..], [EventKind::Up { .. }]), "{events:?}");
        core.tick();
        core.flush(&mut |_| {});
        assert_eq!(*core.sockets.0[0].sent.borrow(), [from]);
        assert_eq!((core.io.received, core.io.sent, core.io.unroutable), (1, 1, 0));
    }

    #[test]
    fn a_configured_address_keeps_its_frames_whatever_the_source_says() {
        let mut core = core();
        let configured = addr("192.0.2.2:7000");
        core.add_peer(id(2), &[configured]).unwrap();
        core.sockets.0[0].inbox.borrow_mut().push_back(Ok((heartbeats(1).remove(0), addr("203.0.113.9:9"))));
        core.receive(0, &mut |_| {});
        core.tick();
        core.flush(&mut |_| {});
        assert_eq!(*core.sockets.0[0].sent.borrow(), [configured]);
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
        core.sockets.0[0].send_results.borrow_mut().extend(errors.map(io::Error::from));
        // Two rounds: the first retries once and fails again, the second retries and succeeds.
        for round in 1..=2 {
            core.machine.tick(core.machine.poll_timeout().unwrap());
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
        core.sockets.0[0].inbox.borrow_mut().extend(inbox);
        core.receive(0, &mut |_| {});
        assert_eq!((core.io.received, core.io.recv_errors, core.io.interrupted, core.io.refused), (2, 3, 1, 1));
        assert_eq!(core.machine.stats().accepted, 2);
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
        core.sockets.0[0].inbox.borrow_mut().extend((0..3 * CLOCK_EVERY).map(|_| Ok(garbage.clone())));
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
        core.sockets.0[0].inbox.borrow_mut().extend((0..RECV_BATCH + 5).map(|_| Ok(garbage.clone())));
        core.receive(0, &mut |_| {});
        assert_eq!(core.io.received, RECV_BATCH as u64);
        assert_eq!(core.machine.stats().rejected_malformed, RECV_BATCH as u64);
        core.receive(0, &mut |_| {});
        assert_eq!(core.io.received, RECV_BATCH as u64 + 5);
    }

    #[test]
    fn drain_reads_batch_after_batch_up_to_its_bound() {
        let mut core = core();
        let garbage = (vec![0u8; 4], addr("192.0.2.2:7000"));
        core.sockets.0[0].inbox.borrow_mut().extend((0..3 * RECV_BATCH + 5).map(|_| Ok(garbage.clone())));
        assert_eq!(core.drain(0, &mut |_| {}), 4);
        assert_eq!(core.io.received, 3 * RECV_BATCH as u64 + 5);
        // A socket that never empties is left after DRAIN_BATCHES.
        core.sockets.0[0].inbox.borrow_mut().extend((0..(DRAIN_BATCHES + 1) * RECV_BATCH).map(|_| Ok(garbage.clone())));
        assert_eq!(core.drain(0, &mut |_| {}), DRAIN_BATCHES);
        assert_eq!(core.sockets.0[0].inbox.borrow().len(), RECV_BATCH);
    }

    #[test]
    fn v1_commands_run_on_the_core_and_a_refused_peer_changes_nothing() {
        let mut core = core();
        let two = [addr("192.0.2.1:1"), addr("192.0.2.1:2")];
        assert_eq!(core.add_peer(id(2), &two), Err(AddPeerError::TooManyAddresses { given: 2, links: 1 }));
        assert_eq!(core.machine.peers().count(), 0, "a refused peer changes nothing");
        assert!(!core.set_group(LinkId(1), addr("239.0.0.1:1")), "no link 1");
        assert!(!core.status().leaving);
        core.start_leaving();
        assert!(core.status().leaving);
    }

    /// A socket set whose one socket says the datagram came over TTL 7 on link 3: the core hands
    /// the set's metadata to the machine as it is.
    struct Meta(Option<Vec<u8>>);

    impl Sockets<Transmit> for Meta {
        fn len(&self) -> usize {
            1
        }

        fn try_recv(&mut self, _: usize, buf: &mut [u8]) -> io::Result<(usize, RecvMeta)> {
            let bytes = self.0.take().ok_or(io::ErrorKind::WouldBlock)?;
            buf[..bytes.len()].copy_from_slice(&bytes);
            let meta = RecvMeta { link: LinkId(3), source: None, local: None, ttl: Some(7) };
            Ok((bytes.len(), meta))
        }

        fn try_send(&mut self, _: &[u8], _: &Transmit, _: &SendMeta) -> Option<io::Result<()>> {
            None
        }
    }

    #[test]
    fn the_socket_set_decides_the_link_and_a_set_with_no_socket_for_a_target_is_unroutable() {
        let node = Node::new(config(1), FixedTimeout::new(), Clock::new().now());
        let mut core = DriverCore::with_machine(node, Meta(Some(heartbeats(1).remove(0))), Clock::new());
        core.add_peer(id(2), &[addr("192.0.2.2:1")]).unwrap();
        core.receive(0, &mut |_| {});
        // Link 3 does not exist on a one-link node: the machine refuses the frame.
        assert_eq!((core.io.received, core.machine.stats().accepted), (1, 0));
        core.tick();
        core.flush(&mut |_| {});
        assert_eq!((core.io.sent, core.io.unroutable), (0, 1));
    }

    #[test]
    fn an_oversized_datagram_keeps_its_spare_byte_and_is_refused() {
        let mut core = core();
        core.add_peer(id(2), &[]).unwrap();
        let mut long = heartbeats(1).remove(0);
        long.resize(MAX_FRAME_LEN + 1, 0);
        core.sockets.0[0].inbox.borrow_mut().push_back(Ok((long, addr("192.0.2.2:7000"))));
        core.receive(0, &mut |_| {});
        assert_eq!((core.io.received, core.machine.stats().accepted), (1, 0));
    }
}
