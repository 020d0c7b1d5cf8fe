//! The blocking BFD driver: the profile-neutral [`BlockingDriver`] over BFD's socket set
//! ([`BfdSockets`]), with BFD's own commands and graceful shutdown. Every protocol decision
//! (state, timers, authentication, TTL checks) is the core's.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use heartbeat_proto::bfd::{BfdEvent, BfdHost, ConfigError, Hop, SessionConfig, SessionStatus};
use heartbeat_proto::engine::{RecvMeta, SendMeta, SessionHandle};
use heartbeat_proto::{Growable, Instant, Storage};

use super::links::{self, Links};
use super::socket::{DEFAULT_RECV_BUFFER, MULTI_HOP_PORT, RxSocket, SINGLE_HOP_PORT, SendOptions, TxSocket};
use crate::blocking::{BlockingDriver, PollSockets};
use crate::clock::Clock;
use crate::driver_core::{DriverCore, Sockets};
use crate::io_stats::IoStats;

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
    /// Receive buffer of each receive socket, in bytes (0: the kernel's default); see
    /// [`DEFAULT_RECV_BUFFER`](super::socket::DEFAULT_RECV_BUFFER). Size it for a few hundred
    /// milliseconds of the packet rate in use, so that a pause of the driver loses nothing.
    pub recv_buffer: usize,
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
            recv_buffer: DEFAULT_RECV_BUFFER,
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

/// BFD's socket set: receive sockets opened as sessions need them (one per address family and
/// hop kind), one transmit socket per family, and the interfaces numbered as links.
///
/// A datagram is handed to the core with its source, TTL and local address, on the link of
/// the interface it arrived on (single hop) or [`links::ANY`] (multihop). A packet leaves from
/// the transmit socket of its destination's family with the TTL the core asks for, from the
/// session's local address and out of its link's interface.
#[derive(Debug)]
pub struct BfdSockets {
    options: Options,
    links: Links,
    /// Each session's configured local address, the source its packets are sent from, by
    /// slot (`SessionHandle::index`): found in O(1) for every packet sent.
    locals: Vec<Option<(SessionHandle, Option<IpAddr>)>>,
    receivers: Vec<Receiver>,
    tx_v4: Option<TxSocket>,
    tx_v6: Option<TxSocket>,
    truncated: u64,
}

impl BfdSockets {
    /// No socket yet; [`add_session`](BfdDriver::add_session) opens them.
    pub fn new(options: Options) -> Self {
        BfdSockets {
            options,
            links: Links::new(),
            locals: Vec::new(),
            receivers: Vec::new(),
            tx_v4: None,
            tx_v6: None,
            truncated: 0,
        }
    }

    /// Adds a session to `host` and opens the sockets it needs (see
    /// [`BfdDriver::add_session`]): what every adapter's BFD driver does to add one.
    pub fn add_session(
        &mut self,
        host: &mut BfdHost<Growable>,
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
        self.open(kind, config.peer.is_ipv4())?;
        let local = config.local;
        let handle = host.add_session(config)?;
        let slot = handle.index();
        if self.locals.len() <= slot {
            self.locals.resize(slot + 1, None);
        }
        self.locals[slot] = Some((handle, local));
        Ok(handle)
    }

    /// Datagrams longer than the receive buffer, handed to the core cut to that length.
    pub fn truncated(&self) -> u64 {
        self.truncated
    }

    /// Opens the receive socket for `kind` and `v4` and the transmit socket for the family.
    fn open(&mut self, kind: Kind, v4: bool) -> Result<(), AddSessionError> {
        if !self.receivers.iter().any(|r| r.kind == kind && r.v4 == v4) {
            let port = match kind {
                Kind::SingleHop => self.options.single_hop_port,
                Kind::MultiHop => self.options.multi_hop_port,
            };
            let addr = SocketAddr::new(self.bind_ip(v4), port);
            let socket = RxSocket::bind_with_buffer(addr, self.options.recv_buffer)
                .map_err(|err| AddSessionError::Bind { addr, err })?;
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

    /// The source port of the transmit socket of each family (`None`: not open).
    pub fn source_ports(&self) -> (Option<u16>, Option<u16>) {
        let port = |s: &Option<TxSocket>| s.as_ref().and_then(|s| s.local_addr().ok()).map(|a| a.port());
        (port(&self.tx_v4), port(&self.tx_v6))
    }

    /// The addresses the receive sockets are bound to.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.receivers.iter().filter_map(|r| r.socket.local_addr().ok()).collect()
    }
}

impl Sockets<(SessionHandle, SendMeta)> for BfdSockets {
    fn len(&self) -> usize {
        self.receivers.len()
    }

    fn try_recv(&mut self, i: usize, buf: &mut [u8]) -> io::Result<(usize, RecvMeta)> {
        let receiver = self.receivers.get_mut(i).ok_or(io::ErrorKind::NotFound)?;
        let datagram = receiver.socket.recv(buf)?;
        if datagram.truncated {
            self.truncated += 1;
        }
        let link = match receiver.kind {
            Kind::SingleHop => self.links.arrived_on(datagram.ifindex),
            Kind::MultiHop => links::ANY,
        };
        let meta = RecvMeta { link, source: Some(datagram.source), local: datagram.local, ttl: datagram.ttl };
        Ok((datagram.len, meta))
    }

    fn try_send(
        &mut self,
        buf: &[u8],
        transmit: &(SessionHandle, SendMeta),
        meta: &SendMeta,
    ) -> Option<io::Result<()>> {
        let mut to = meta.destination;
        match to.port() {
            SINGLE_HOP_PORT => to.set_port(self.options.peer_single_hop_port),
            MULTI_HOP_PORT => to.set_port(self.options.peer_multi_hop_port),
            _ => {}
        }
        let socket = if to.is_ipv4() { self.tx_v4.as_ref() } else { self.tx_v6.as_ref() }?;
        let local = match self.locals.get(transmit.0.index()) {
            Some(Some((handle, local))) if *handle == transmit.0 => *local,
            _ => None,
        };
        let options = SendOptions { ttl: meta.ttl, source: local, ifindex: self.links.ifindex(meta.link) };
        Some(socket.send(buf, to, options).map(drop))
    }
}

impl PollSockets for BfdSockets {
    fn fd(&self, i: usize) -> BorrowedFd<'_> {
        self.receivers[i].socket.as_fd()
    }
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

impl BfdStatus {
    /// A snapshot of `core`'s `sessions` (those still present, in that order), its counters and
    /// `truncated`, for a BFD driver of any adapter.
    pub fn of<K>(
        core: &DriverCore<BfdHost<Growable>, K>,
        sessions: impl Iterator<Item = SessionHandle>,
        truncated: u64,
    ) -> BfdStatus
    where
        K: Sockets<(SessionHandle, SendMeta)>,
    {
        let host = core.machine();
        BfdStatus {
            now: core.clock().now(),
            sessions: sessions.filter_map(|h| Some((h, host.session(h)?))).collect(),
            io: core.io_stats(),
            truncated,
        }
    }
}

/// How long a graceful stop keeps sending AdminDown: the core's
/// [`BfdHost::admin_down_linger`].
pub fn linger<S: Storage>(host: &BfdHost<S>) -> Duration {
    host.admin_down_linger()
}

/// Every session AdminDown (diag 7) at the clock's now; what it queues goes out at the next
/// flush. The only refusal of a live session is a full event queue: it is drained into
/// `on_event` and the session tried again.
pub fn admin_down_all<K: Sockets<(SessionHandle, SendMeta)>>(
    core: &mut DriverCore<BfdHost<Growable>, K>,
    on_event: &mut impl FnMut(BfdEvent),
) {
    core.flush(on_event);
    let now = core.clock().now();
    let handles: Vec<SessionHandle> = core.machine().handles().collect();
    for handle in handles {
        while let Err(ConfigError::EventQueueFull) = core.machine_mut().admin_down(handle, now) {
            core.flush(on_event);
        }
    }
}

/// Drives a [`BfdHost`] over BFD's UDP sockets on the calling thread (or its own, see
/// [`spawn`](Self::spawn)).
///
/// Sockets are opened as sessions need them: one receive socket per address family and hop
/// kind (ports 3784 and 4784 by default), one transmit socket per family on a source port from
/// 49152–65535 shared by every session of the family (see
/// [`source_port`](super::source_port)).
///
/// The loop is the profile-neutral [`BlockingDriver`] over [`BfdSockets`]: send every
/// transmit and deliver every event after each input; wait on the sockets and a nanosecond
/// timer armed for `poll_timeout`; then always `tick` with the clock's `now`.
pub struct BfdDriver {
    inner: BlockingDriver<BfdHost<Growable>, BfdSockets>,
    /// Every session added, in order (for status and shutdown).
    sessions: Vec<SessionHandle>,
}

impl BfdDriver {
    /// A driver with no session yet; the core starts at `clock.now()`.
    pub fn new(options: Options, clock: Clock) -> io::Result<Self> {
        let host = BfdHost::new(options.seed, clock.now());
        let core = DriverCore::with_machine(host, BfdSockets::new(options), clock);
        Ok(BfdDriver { inner: BlockingDriver::new(core), sessions: Vec::new() })
    }

    fn core(&self) -> &DriverCore<BfdHost<Growable>, BfdSockets> {
        self.inner.core()
    }

    /// Adds a session. `interface` ties a single-hop session to one interface (its
    /// `config.link` is set from it; without one the session is on [`links::ANY`]). Opens the
    /// sockets the session's family and hop kind need if they are not open yet.
    pub fn add_session(
        &mut self,
        config: SessionConfig,
        interface: Option<&str>,
    ) -> Result<SessionHandle, AddSessionError> {
        let (host, sockets) = self.inner.core_mut().parts_mut();
        let handle = sockets.add_session(host, config, interface)?;
        self.sessions.push(handle);
        Ok(handle)
    }

    /// The core, for read access.
    pub fn host(&self) -> &BfdHost<Growable> {
        self.core().machine()
    }

    /// The core, to command it: [`admin_down`](BfdHost::admin_down),
    /// [`set_timing`](BfdHost::set_timing), key rotation. Pass it this driver's
    /// [`clock`](Self::clock)`.now()`; what the command queues goes out on the next turn.
    pub fn host_mut(&mut self) -> &mut BfdHost<Growable> {
        self.inner.core_mut().machine_mut()
    }

    /// The clock that dates everything.
    pub fn clock(&self) -> Clock {
        self.core().clock()
    }

    /// The source port of the transmit socket of each family (`None`: not open).
    pub fn source_ports(&self) -> (Option<u16>, Option<u16>) {
        self.core().sockets().source_ports()
    }

    /// The addresses the receive sockets are bound to.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.core().sockets().listen_addrs()
    }

    /// Every session's status and the counters.
    pub fn status(&self) -> BfdStatus {
        let core = self.core();
        BfdStatus::of(core, self.sessions.iter().copied(), core.sockets().truncated())
    }

    /// One turn of the loop: send what is due, deliver events, wait for a datagram or the
    /// core's next deadline (at most `max_wait`), feed what arrived, then always `tick`.
    pub fn turn(&mut self, max_wait: Option<Duration>, on_event: &mut impl FnMut(BfdEvent)) {
        self.inner.turn(max_wait, on_event);
    }

    /// Turns until `stop` returns true (asked once per turn). Returns without shutting the
    /// sessions down: call [`shutdown`](Self::shutdown) for that.
    pub fn run(&mut self, on_event: &mut impl FnMut(BfdEvent), stop: impl FnMut() -> bool) {
        self.inner.run(on_event, stop);
    }

    /// Graceful stop: every session goes AdminDown (diag 7, RFC 5880 §6.8.16) and the driver
    /// keeps running for [`linger`](Self::linger) so that the peers see AdminDown and go Down
    /// with diag 3 instead of detecting a failure. Returns when that time has passed.
    pub fn shutdown(&mut self, on_event: &mut impl FnMut(BfdEvent)) {
        let linger = self.linger();
        admin_down_all(self.inner.core_mut(), on_event);
        self.inner.linger(linger, on_event);
    }

    /// How long [`shutdown`](Self::shutdown) keeps sending AdminDown: see [`linger`].
    pub fn linger(&self) -> Duration {
        linger(self.host())
    }

    /// A turn that also waits for `extra` to become readable; returns whether it did.
    pub(crate) fn turn_with(
        &mut self,
        max_wait: Option<Duration>,
        extra: Option<BorrowedFd<'_>>,
        on_event: &mut impl FnMut(BfdEvent),
    ) -> bool {
        self.inner.turn_with(max_wait, extra, on_event)
    }
}
