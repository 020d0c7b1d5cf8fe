//! The blocking BFD driver: moves datagrams between the sockets and a [`BfdHost`], and time
//! into it. Every protocol decision (state, timers, authentication, TTL checks) is the core's.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use heartbeat_proto::bfd::packet::MAX_PACKET_LEN;
use heartbeat_proto::bfd::{BfdEvent, BfdHost, ConfigError, Hop, SLOW_TX_INTERVAL, SessionConfig, SessionStatus};
use heartbeat_proto::engine::{RecvMeta, SessionHandle};
use heartbeat_proto::{Growable, Instant};
use rustix::event::{PollFd, PollFlags, poll};

use super::links::{self, Links};
use super::socket::{MULTI_HOP_PORT, RxSocket, SINGLE_HOP_PORT, SendOptions, TxSocket};
use crate::clock::Clock;
use crate::io_stats::{Direction, IoStats};
use crate::precise::PreciseTimer;

/// Datagrams read from one socket in a row before the driver ticks and looks at the others.
const RECV_BATCH: usize = 64;

/// Where the driver listens and sends, and its randomness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Port single-hop control packets are received on (RFC 5881: 3784).
    pub single_hop_port: u16,
    /// Port multihop control packets are received on (RFC 5883: 4784).
    pub multi_hop_port: u16,
    /// Port single-hop packets are sent to (3784; another value only for tests on one host).
    pub peer_single_hop_port: u16,
    /// Port multihop packets are sent to (4784; likewise).
    pub peer_multi_hop_port: u16,
    /// Address the IPv4 sockets are bound to (the unspecified address: every local address).
    pub bind_v4: Ipv4Addr,
    /// Address the IPv6 sockets are bound to.
    pub bind_v6: Ipv6Addr,
    /// Seeds the core (discriminators, jitter, sequence numbers) and the source-port walk.
    /// Use a fresh random value per start: a restarted system must not reuse discriminators.
    pub seed: u64,
}

impl Options {
    /// The standard ports on every local address, with `seed`.
    pub fn new(seed: u64) -> Self {
        Options {
            single_hop_port: SINGLE_HOP_PORT,
            multi_hop_port: MULTI_HOP_PORT,
            peer_single_hop_port: SINGLE_HOP_PORT,
            peer_multi_hop_port: MULTI_HOP_PORT,
            bind_v4: Ipv4Addr::UNSPECIFIED,
            bind_v6: Ipv6Addr::UNSPECIFIED,
            seed,
        }
    }

    /// Receive on `single`/`multi` and send to `peer_single`/`peer_multi`: two drivers on one
    /// host, each listening where the other sends.
    pub fn with_ports(self, single: u16, multi: u16, peer_single: u16, peer_multi: u16) -> Self {
        Options {
            single_hop_port: single,
            multi_hop_port: multi,
            peer_single_hop_port: peer_single,
            peer_multi_hop_port: peer_multi,
            ..self
        }
    }
}

/// Why a session could not be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddSessionError {
    /// The interface does not exist.
    #[error("{0}")]
    Interface(io::Error),
    /// More interfaces than links.
    #[error("too many interfaces (at most 255)")]
    TooManyInterfaces,
    /// A socket the session needs could not be bound (the port is held by another daemon?).
    #[error("cannot bind {addr}: {err}")]
    Bind {
        /// What was bound.
        addr: SocketAddr,
        /// Why it failed.
        err: io::Error,
    },
    /// The core refused the configuration (the sockets it needed stay open, unused).
    #[error("{0}")]
    Refused(#[from] ConfigError),
    /// The driver thread has stopped.
    #[error("the driver has stopped")]
    Stopped,
}

/// One session as the driver knows it: what the core needs from the sockets.
#[derive(Debug, Clone)]
struct Route {
    handle: SessionHandle,
    local: Option<IpAddr>,
}

/// Which traffic a receive socket carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SingleHop,
    MultiHop,
}

#[derive(Debug)]
struct Receiver {
    socket: RxSocket,
    kind: Kind,
    v4: bool,
}

/// A snapshot of every session and the socket counters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BfdStatus {
    /// When it was taken, on the driver's clock.
    pub now: Instant,
    /// Every session, in the order added.
    pub sessions: Vec<(SessionHandle, SessionStatus)>,
    /// What the sockets did.
    pub io: IoStats,
    /// Datagrams longer than the receive buffer (the largest BFD packet plus one byte), handed
    /// to the core cut to that length: it judges them by their Length field like any other.
    pub truncated: u64,
}

/// Drives a [`BfdHost`] over BFD's UDP sockets on the calling thread (or its own, see
/// [`spawn`](Self::spawn)).
///
/// Sockets are opened as sessions need them: one receive socket per address family and hop
/// kind (ports 3784 and 4784 by default), one transmit socket per family on a source port from
/// 49152–65535 shared by every session of the family (see
/// [`source_port`](super::source_port)).
///
/// The loop keeps the sans-IO rule: send every transmit and deliver every event after each
/// input; wait on the sockets and a nanosecond timer armed for `poll_timeout`; then always
/// `tick` with the clock's `now`.
pub struct BfdDriver {
    host: BfdHost<Growable>,
    options: Options,
    clock: Clock,
    links: Links,
    routes: Vec<Route>,
    receivers: Vec<Receiver>,
    tx_v4: Option<TxSocket>,
    tx_v6: Option<TxSocket>,
    timer: PreciseTimer,
    armed: Option<Instant>,
    io: IoStats,
    truncated: u64,
    tx: [u8; MAX_PACKET_LEN],
    // One byte more than the largest packet, so that an oversized datagram stays oversized.
    rx: [u8; MAX_PACKET_LEN + 1],
}

impl BfdDriver {
    /// A driver with no session yet; the core starts at `clock.now()`.
    pub fn new(options: Options, clock: Clock) -> io::Result<Self> {
        Ok(BfdDriver {
            host: BfdHost::new(options.seed, clock.now()),
            options,
            clock,
            links: Links::new(),
            routes: Vec::new(),
            receivers: Vec::new(),
            tx_v4: None,
            tx_v6: None,
            timer: PreciseTimer::new()?,
            armed: None,
            io: IoStats::default(),
            truncated: 0,
            tx: [0; MAX_PACKET_LEN],
            rx: [0; MAX_PACKET_LEN + 1],
        })
    }

    /// Adds a session. `interface` ties a single-hop session to one interface (its
    /// `config.link` is set from it; without one the session is on [`links::ANY`]). Opens the
    /// sockets the session's family and hop kind need if they are not open yet.
    pub fn add_session(
        &mut self,
        mut config: SessionConfig,
        interface: Option<&str>,
    ) -> Result<SessionHandle, AddSessionError> {
        config.link = match interface {
            Some(name) => {
                let index = links::ifindex(name).map_err(AddSessionError::Interface)?;
                self.links.register(index).ok_or(AddSessionError::TooManyInterfaces)?
            }
            None => links::ANY,
        };
        let kind = match config.hop {
            Hop::SingleHop => Kind::SingleHop,
            _ => Kind::MultiHop,
        };
        let v4 = config.peer.is_ipv4();
        self.open(kind, v4)?;
        let local = config.local;
        let handle = self.host.add_session(config)?;
        self.routes.push(Route { handle, local });
        Ok(handle)
    }

    /// Opens the receive socket for `kind` and `v4` and the transmit socket for the family.
    fn open(&mut self, kind: Kind, v4: bool) -> Result<(), AddSessionError> {
        if !self.receivers.iter().any(|r| r.kind == kind && r.v4 == v4) {
            let port = match kind {
                Kind::SingleHop => self.options.single_hop_port,
                Kind::MultiHop => self.options.multi_hop_port,
            };
            let addr = SocketAddr::new(self.bind_ip(v4), port);
            let socket = RxSocket::bind(addr).map_err(|err| AddSessionError::Bind { addr, err })?;
            self.receivers.push(Receiver { socket, kind, v4 });
        }
        let seed = self.options.seed ^ u64::from(v4);
        let ip = self.bind_ip(v4);
        let slot = if v4 { &mut self.tx_v4 } else { &mut self.tx_v6 };
        if slot.is_none() {
            let socket =
                TxSocket::bind(ip, seed).map_err(|err| AddSessionError::Bind { addr: SocketAddr::new(ip, 0), err })?;
            *slot = Some(socket);
        }
        Ok(())
    }

    fn bind_ip(&self, v4: bool) -> IpAddr {
        if v4 { IpAddr::V4(self.options.bind_v4) } else { IpAddr::V6(self.options.bind_v6) }
    }

    /// The core, for read access.
    pub fn host(&self) -> &BfdHost<Growable> {
        &self.host
    }

    /// The core, to command it: [`admin_down`](BfdHost::admin_down),
    /// [`set_timing`](BfdHost::set_timing), key rotation. Pass it this driver's
    /// [`clock`](Self::clock)`.now()`; what the command queues goes out on the next turn.
    pub fn host_mut(&mut self) -> &mut BfdHost<Growable> {
        &mut self.host
    }

    /// The clock that dates everything.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The source port of the transmit socket of each family (`None`: not open).
    pub fn source_ports(&self) -> (Option<u16>, Option<u16>) {
        let port = |s: &Option<TxSocket>| s.as_ref().and_then(|s| s.local_addr().ok()).map(|a| a.port());
        (port(&self.tx_v4), port(&self.tx_v6))
    }

    /// The addresses the receive sockets are bound to.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.receivers.iter().filter_map(|r| r.socket.local_addr().ok()).collect()
    }

    /// Every session's status and the counters.
    pub fn status(&self) -> BfdStatus {
        BfdStatus {
            now: self.clock.now(),
            sessions: self.routes.iter().filter_map(|r| Some((r.handle, self.host.session(r.handle)?))).collect(),
            io: self.io,
            truncated: self.truncated,
        }
    }

    /// One turn of the loop: send what is due, deliver events, wait for a datagram or the
    /// core's next deadline (at most `max_wait`), feed what arrived, then always `tick`.
    pub fn turn(&mut self, max_wait: Option<Duration>, on_event: &mut impl FnMut(BfdEvent)) {
        self.turn_with(max_wait, None, on_event);
    }

    /// Turns until `stop` returns true (asked once per turn). Returns without shutting the
    /// sessions down: call [`shutdown`](Self::shutdown) for that.
    pub fn run(&mut self, on_event: &mut impl FnMut(BfdEvent), mut stop: impl FnMut() -> bool) {
        while !stop() {
            self.turn(None, on_event);
        }
    }

    /// Graceful stop: every session goes AdminDown (diag 7, RFC 5880 §6.8.16) and the driver
    /// keeps running for [`linger`](Self::linger) so that the peers see AdminDown and go Down
    /// with diag 3 instead of detecting a failure. Returns when that time has passed.
    pub fn shutdown(&mut self, on_event: &mut impl FnMut(BfdEvent)) {
        self.flush(on_event);
        let now = self.clock.now();
        let linger = self.linger();
        for i in 0..self.routes.len() {
            let handle = self.routes[i].handle;
            // The only refusal of a live session is a full event queue: drain it and retry.
            while let Err(ConfigError::EventQueueFull) = self.host.admin_down(handle, now) {
                self.flush(on_event);
            }
        }
        let end = now + linger;
        self.flush(on_event);
        loop {
            let left = end.saturating_duration_since(self.clock.now());
            if left.is_zero() {
                break;
            }
            self.turn(Some(left), on_event);
        }
    }

    /// How long [`shutdown`](Self::shutdown) keeps sending AdminDown: the longest detection
    /// time any session's peer uses for it, plus one transmit interval, and at least two of the
    /// slow (1 s) intervals a session that is not Up uses, so that at least one AdminDown packet
    /// reaches every peer whatever the state.
    pub fn linger(&self) -> Duration {
        let slow = 2 * SLOW_TX_INTERVAL;
        self.routes
            .iter()
            .filter_map(|r| self.host.session(r.handle))
            .map(|s| {
                let tx = s.tx_interval.unwrap_or(SLOW_TX_INTERVAL);
                s.detection_time.unwrap_or_default().max(tx) + tx
            })
            .fold(slow, Duration::max)
    }

    /// A turn that also waits for `extra` to become readable; returns whether it did.
    pub(crate) fn turn_with(
        &mut self,
        max_wait: Option<Duration>,
        extra: Option<BorrowedFd<'_>>,
        on_event: &mut impl FnMut(BfdEvent),
    ) -> bool {
        self.flush(on_event);
        self.arm(self.host.poll_timeout());
        let (ready, extra_ready) = self.wait(max_wait, extra);
        for i in 0..self.receivers.len() {
            if ready & (1 << i) != 0 {
                self.receive(i, on_event);
            }
        }
        self.host.tick(self.clock.now());
        self.flush(on_event);
        extra_ready
    }

    /// Sets the timer for `deadline` unless it is set for it already.
    fn arm(&mut self, deadline: Option<Instant>) {
        if deadline == self.armed {
            return;
        }
        if let Some(d) = deadline
            && let Err(err) = self.timer.arm(self.clock.until(d))
        {
            self.io.record(Direction::Receive, &err);
            return;
        }
        self.armed = deadline;
    }

    /// Blocks until a socket, `extra` or the timer is readable, or `timeout` passes. Returns a
    /// bit mask of readable receivers and whether `extra` is readable.
    fn wait(&mut self, timeout: Option<Duration>, extra: Option<BorrowedFd<'_>>) -> (u64, bool) {
        let mut fds: Vec<PollFd<'_>> = self.receivers.iter().map(|r| PollFd::new(&r.socket, PollFlags::IN)).collect();
        fds.extend(extra.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)));
        fds.push(PollFd::new(&self.timer, PollFlags::IN));
        let timeout = timeout.map(|t| {
            rustix::event::Timespec::try_from(t).unwrap_or(rustix::event::Timespec { tv_sec: i64::MAX, tv_nsec: 0 })
        });
        if let Err(err) = poll(&mut fds, timeout.as_ref()) {
            self.io.record(Direction::Receive, &err.into());
            return (0, false);
        }
        let n = self.receivers.len();
        let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
        let mask = fds.iter().take(n).enumerate().filter(|(_, fd)| ready(fd)).fold(0u64, |m, (i, _)| m | 1 << i);
        let extra_ready = extra.is_some() && fds.get(n).is_some_and(ready);
        if fds.last().is_some_and(ready) && self.timer.consume() {
            self.armed = None;
        }
        (mask, extra_ready)
    }

    /// Reads what receiver `i` holds (up to a batch) into the core.
    fn receive(&mut self, i: usize, on_event: &mut impl FnMut(BfdEvent)) {
        for _ in 0..RECV_BATCH {
            let receiver = &mut self.receivers[i];
            match receiver.socket.recv(&mut self.rx) {
                Ok(datagram) => {
                    self.io.received += 1;
                    if datagram.truncated {
                        self.truncated += 1;
                    }
                    let link = match receiver.kind {
                        Kind::SingleHop => self.links.arrived_on(datagram.ifindex),
                        Kind::MultiHop => links::ANY,
                    };
                    let meta =
                        RecvMeta { link, source: Some(datagram.source), local: datagram.local, ttl: datagram.ttl };
                    let now = self.clock.now();
                    if let Err(rejected) = self.host.on_message(now, &meta, &self.rx[..datagram.len]) {
                        tracing::trace!(from = %datagram.source, ?rejected, "bfd packet refused");
                    }
                    self.flush(on_event);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) => {
                    self.io.record(Direction::Receive, &err);
                    if !matches!(err.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted) {
                        return;
                    }
                }
            }
        }
    }

    /// Sends every pending packet and delivers every pending event (the drain rule).
    fn flush(&mut self, on_event: &mut impl FnMut(BfdEvent)) {
        while let Some(transmit) = self.host.poll_transmit(&mut self.tx) {
            match transmit {
                Ok((handle, meta)) => self.send(handle, meta),
                Err(too_small) => {
                    // The buffer holds the largest BFD packet; the core broke its own bound.
                    tracing::error!(%too_small, "bfd packet larger than the largest BFD packet");
                    break;
                }
            }
        }
        while let Some(event) = self.host.poll_event() {
            on_event(event);
        }
    }

    fn send(&mut self, handle: SessionHandle, meta: heartbeat_proto::engine::SendMeta) {
        let mut to = meta.destination;
        match to.port() {
            SINGLE_HOP_PORT => to.set_port(self.options.peer_single_hop_port),
            MULTI_HOP_PORT => to.set_port(self.options.peer_multi_hop_port),
            _ => {}
        }
        let socket = if to.is_ipv4() { self.tx_v4.as_ref() } else { self.tx_v6.as_ref() };
        let Some(socket) = socket else {
            self.io.unroutable += 1;
            return;
        };
        let local = self.routes.iter().find(|r| r.handle == handle).and_then(|r| r.local);
        let options = SendOptions { ttl: meta.ttl, source: local, ifindex: self.links.ifindex(meta.link) };
        let bytes = &self.tx[..meta.len];
        let result = socket.send(bytes, to, options).or_else(|err| match err.kind() {
            io::ErrorKind::Interrupted => {
                self.io.record(Direction::Send, &err);
                socket.send(bytes, to, options)
            }
            _ => Err(err),
        });
        match result {
            Ok(_) => self.io.sent += 1,
            Err(err) => self.io.record(Direction::Send, &err),
        }
    }
}
