//! The server driver: a non-blocking listener and many connections around one
//! [`Server`](heartbeat_session::server::Server).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use heartbeat_proto::Instant;
use heartbeat_proto::engine::SessionHandle;
use heartbeat_session::server::{ConnectionId, Server, ServerConfig, ServerEvent, ServerStats, SessionId};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use tracing::debug;

use super::write_pending;
use crate::clock::Clock;
use crate::precise::PreciseTimer;

/// The driver's own bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Connections held at once; one more is accepted and closed at once.
    pub max_connections: usize,
    /// Bytes queued towards one client that does not read; past it the connection is dropped.
    pub max_buffered: usize,
    /// How long a connection may stay without a session (its ConnectRequest not complete).
    pub handshake_timeout: Duration,
}

impl Default for ServerOptions {
    /// 1024 connections, 64 KiB queued each, 10 s to send a ConnectRequest.
    fn default() -> Self {
        ServerOptions { max_connections: 1024, max_buffered: 64 * 1024, handshake_timeout: Duration::from_secs(10) }
    }
}

/// What happened to a session, with the driver's time (on its [`Clock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A new session, granted `timeout`.
    Created {
        /// Its id.
        session: SessionId,
        /// The negotiated timeout.
        timeout: Duration,
        /// The client's address.
        peer: Option<SocketAddr>,
        /// When.
        at: Instant,
    },
    /// A client reconnected to its session.
    Resumed {
        /// Its id.
        session: SessionId,
        /// The timeout negotiated anew.
        timeout: Duration,
        /// The client's address.
        peer: Option<SocketAddr>,
        /// When.
        at: Instant,
    },
    /// The client closed its session (closeSession).
    Closed {
        /// Its id.
        session: SessionId,
        /// When.
        at: Instant,
    },
    /// Nothing was heard from the session for its whole timeout.
    Expired {
        /// Its id.
        session: SessionId,
        /// Its timeout.
        timeout: Duration,
        /// When it was last heard (`at - silent_for`).
        last_heard: Instant,
        /// When the driver expired it (the time `tick` was given).
        at: Instant,
    },
}

impl SessionEvent {
    /// How long after its deadline (`last_heard + timeout`) an expiry was decided; `None` for
    /// the other events.
    pub fn lateness(&self) -> Option<Duration> {
        match self {
            SessionEvent::Expired { timeout, last_heard, at, .. } => {
                Some(at.saturating_duration_since(last_heard.saturating_add(*timeout)))
            }
            _ => None,
        }
    }
}

/// Counters of the TCP side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpStats {
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections refused because `max_connections` were open.
    pub refused: u64,
    /// Connections closed for sending no ConnectRequest within the handshake timeout.
    pub handshake_timeouts: u64,
    /// Connections dropped because their client did not read (`max_buffered`).
    pub overflows: u64,
    /// Connections the machine ended on bad input.
    pub bad_input: u64,
    /// Socket errors other than "would block".
    pub io_errors: u64,
}

/// One live session, as of a [`status`](SessionServer::status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRow {
    /// Its id.
    pub session: SessionId,
    /// Its negotiated timeout.
    pub timeout: Duration,
    /// How long since it was last heard.
    pub silent_for: Duration,
    /// Whether a connection is bound to it.
    pub connected: bool,
}

/// The server's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStatus {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The live sessions, by id.
    pub sessions: Vec<SessionRow>,
    /// Open connections.
    pub connections: usize,
    /// The machine's counters.
    pub machine: ServerStats,
    /// The driver's counters.
    pub tcp: TcpStats,
}

/// Reads of one connection per turn.
const READ_BUDGET: usize = 16;

struct Conn {
    stream: TcpStream,
    peer: Option<SocketAddr>,
    out: Vec<u8>,
    opened: Instant,
    bound: bool,
}

/// A blocking TCP session server: own its loop with [`turn`](Self::turn), or run it on a
/// thread with [`spawn`](Self::spawn).
pub struct SessionServer {
    machine: Server<()>,
    listener: TcpListener,
    local: SocketAddr,
    conns: BTreeMap<ConnectionId, Conn>,
    /// Every live session's handle and timeout (the expiry event carries neither).
    sessions: BTreeMap<SessionId, (SessionHandle, Duration)>,
    options: ServerOptions,
    clock: Clock,
    timer: PreciseTimer,
    armed: Option<Instant>,
    last_now: Instant,
    stats: TcpStats,
}

impl SessionServer {
    /// Listens on `listen` for clients of a machine with `config`.
    pub fn bind(
        listen: SocketAddr,
        config: ServerConfig,
        options: ServerOptions,
        clock: Clock,
    ) -> Result<Self, io::Error> {
        let machine = Server::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        Ok(SessionServer {
            machine,
            listener,
            local,
            conns: BTreeMap::new(),
            sessions: BTreeMap::new(),
            options,
            clock,
            timer: PreciseTimer::new()?,
            armed: None,
            last_now: Instant::ZERO,
            stats: TcpStats::default(),
        })
    }

    /// Where it listens (the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The clock that dates its events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The machine (its config, counters, sessions).
    pub fn machine(&self) -> &Server<()> {
        &self.machine
    }

    /// The live sessions and the counters, as of now.
    pub fn status(&self) -> SessionStatus {
        let now = self.clock.now();
        let sessions = self
            .sessions
            .iter()
            .filter_map(|(id, (handle, timeout))| {
                let info = self.machine.session(*handle)?;
                Some(SessionRow {
                    session: *id,
                    timeout: *timeout,
                    silent_for: now.saturating_duration_since(info.last_heard),
                    connected: info.connection.is_some(),
                })
            })
            .collect();
        SessionStatus {
            listen: self.local,
            sessions,
            connections: self.conns.len(),
            machine: *self.machine.stats(),
            tcp: self.stats,
        }
    }

    /// One turn: wait (at most `max_wait`) for a connection, bytes, room to write or the next
    /// deadline; feed what came; `tick`; send what is queued; close what should close.
    pub fn turn(&mut self, max_wait: Option<Duration>, on_event: &mut impl FnMut(SessionEvent)) {
        self.turn_with(max_wait, None, on_event);
    }

    /// Turns until `stop` returns true (asked once per turn).
    pub fn run(&mut self, on_event: &mut impl FnMut(SessionEvent), mut stop: impl FnMut() -> bool) {
        while !stop() {
            self.turn(None, on_event);
        }
    }

    /// A turn that also wakes when `extra` becomes readable; returns whether it did.
    pub fn turn_with(
        &mut self,
        max_wait: Option<Duration>,
        extra: Option<BorrowedFd<'_>>,
        on_event: &mut impl FnMut(SessionEvent),
    ) -> bool {
        self.flush(on_event);
        let deadline = self.deadline();
        if deadline != self.armed {
            if let Some(d) = deadline
                && let Err(err) = self.timer.arm(self.clock.until(d))
            {
                self.stats.io_errors += 1;
                debug!(%err, "cannot arm the timer");
            }
            self.armed = deadline;
        }
        let (listener_ready, ready, extra_ready) = self.wait(max_wait, extra);
        if listener_ready {
            self.accept_all();
        }
        for id in ready {
            self.read(id);
            self.drain_events(on_event);
        }
        let now = self.now();
        self.machine.tick(now);
        self.flush(on_event);
        extra_ready
    }

    /// Sends what is queued and closes every connection, leaving the sessions to their timeout
    /// (as a ZooKeeper server that shuts down does).
    pub fn shutdown(&mut self, on_event: &mut impl FnMut(SessionEvent)) {
        self.flush(on_event);
        let ids: Vec<ConnectionId> = self.conns.keys().copied().collect();
        for id in ids {
            self.drop_conn(id);
        }
        self.drain_events(on_event);
    }

    fn deadline(&self) -> Option<Instant> {
        let handshake = self
            .conns
            .values()
            .filter(|c| !c.bound)
            .map(|c| c.opened.saturating_add(self.options.handshake_timeout))
            .min();
        match (self.machine.poll_timeout(), handshake) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Returns whether the listener is readable, the readable connections and whether `extra`
    /// is readable.
    fn wait(&mut self, max_wait: Option<Duration>, extra: Option<BorrowedFd<'_>>) -> (bool, Vec<ConnectionId>, bool) {
        let ids: Vec<ConnectionId> = self.conns.keys().copied().collect();
        let mut fds = Vec::with_capacity(ids.len() + 3);
        fds.push(PollFd::new(&self.listener, PollFlags::IN));
        fds.push(PollFd::new(&self.timer, PollFlags::IN));
        fds.extend(extra.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)));
        let first_conn = fds.len();
        for c in self.conns.values() {
            let flags = if c.out.is_empty() { PollFlags::IN } else { PollFlags::IN | PollFlags::OUT };
            fds.push(PollFd::from_borrowed_fd(c.stream.as_fd(), flags));
        }
        let timeout = max_wait.map(|t| Timespec::try_from(t).unwrap_or(Timespec { tv_sec: i64::MAX, tv_nsec: 0 }));
        let polled = poll(&mut fds, timeout.as_ref());
        let is_ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
        let listener_ready = is_ready(&fds[0]);
        let timer_ready = is_ready(&fds[1]);
        let extra_ready = extra.is_some() && is_ready(&fds[2]);
        let ready = ids.iter().zip(&fds[first_conn..]).filter(|(_, fd)| is_ready(fd)).map(|(id, _)| *id).collect();
        drop(fds);
        if let Err(err) = polled {
            if err != rustix::io::Errno::INTR {
                self.stats.io_errors += 1;
            }
            return (false, Vec::new(), false);
        }
        if timer_ready && self.timer.consume() {
            self.armed = None;
        }
        (listener_ready, ready, extra_ready)
    }

    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.adopt(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    // EMFILE and the like: try again at the next turn.
                    self.stats.io_errors += 1;
                    debug!(%err, "accept failed");
                    return;
                }
            }
        }
    }

    fn adopt(&mut self, stream: TcpStream, peer: SocketAddr) {
        if self.conns.len() >= self.options.max_connections {
            self.stats.refused += 1;
            return; // dropping it closes it
        }
        if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
            self.stats.io_errors += 1;
            return;
        }
        match self.machine.accept() {
            Ok(id) => {
                self.stats.accepted += 1;
                let opened = self.clock.now();
                self.conns.insert(id, Conn { stream, peer: Some(peer), out: Vec::new(), opened, bound: false });
            }
            Err(_) => self.stats.refused += 1,
        }
    }

    /// Reads what the socket holds into the machine, at most [`READ_BUDGET`] reads a turn so
    /// that one fast sender cannot starve the others (the rest waits for the next turn).
    fn read(&mut self, id: ConnectionId) {
        let mut buf = [0u8; 4096];
        for _ in 0..READ_BUDGET {
            let Some(c) = self.conns.get_mut(&id) else { return };
            match c.stream.read(&mut buf) {
                Ok(0) => return self.drop_conn(id),
                Ok(n) => {
                    let now = self.now();
                    if self.machine.on_bytes(id, now, &buf[..n]).is_err() {
                        // The machine ended the connection (its answer, if any, still goes out).
                        self.stats.bad_input += 1;
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.stats.io_errors += 1;
                    return self.drop_conn(id);
                }
            }
        }
    }

    fn drop_conn(&mut self, id: ConnectionId) {
        if let Some(c) = self.conns.remove(&id) {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        let now = self.now();
        self.machine.on_disconnect(id, now);
    }

    /// Moves the machine's output to the sockets, closes what is done or overdue, and delivers
    /// the events.
    fn flush(&mut self, on_event: &mut impl FnMut(SessionEvent)) {
        self.drain_events(on_event);
        let now = self.clock.now();
        let ids: Vec<ConnectionId> = self.conns.keys().copied().collect();
        let mut buf = [0u8; 4096];
        for id in ids {
            let Some(c) = self.conns.get_mut(&id) else { continue };
            while let Ok(n @ 1..) = self.machine.poll_transmit(id, &mut buf) {
                c.out.extend_from_slice(&buf[..n]);
            }
            let mut gone = write_pending(&mut c.stream, &mut c.out).is_err();
            if c.out.len() > self.options.max_buffered {
                self.stats.overflows += 1;
                gone = true;
            }
            if !c.bound && c.opened.saturating_add(self.options.handshake_timeout) <= now {
                self.stats.handshake_timeouts += 1;
                gone = true;
            }
            if gone || (c.out.is_empty() && self.machine.wants_close(id)) {
                self.drop_conn(id);
            }
        }
        self.drain_events(on_event);
    }

    fn drain_events(&mut self, on_event: &mut impl FnMut(SessionEvent)) {
        while let Some(event) = self.machine.poll_event() {
            let at = self.clock.now();
            let event = match event {
                ServerEvent::Created { session, handle, connection, timeout } => {
                    self.sessions.insert(session, (handle, timeout));
                    SessionEvent::Created { session, timeout, peer: self.bind_conn(connection), at }
                }
                ServerEvent::Resumed { session, connection, timeout } => {
                    if let Some(entry) = self.sessions.get_mut(&session) {
                        entry.1 = timeout;
                    }
                    SessionEvent::Resumed { session, timeout, peer: self.bind_conn(connection), at }
                }
                ServerEvent::Closed { session } => {
                    self.sessions.remove(&session);
                    SessionEvent::Closed { session, at }
                }
                ServerEvent::Expired { session, silent_for } => {
                    let timeout = self.sessions.remove(&session).map_or(silent_for, |(_, t)| t);
                    // The machine decided at the latest `now` it was given.
                    let decided = self.last_now;
                    SessionEvent::Expired {
                        session,
                        timeout,
                        last_heard: decided.saturating_sub(silent_for),
                        at: decided,
                    }
                }
                _ => continue,
            };
            on_event(event);
        }
    }

    /// The clock's now, remembered as the latest time given to the machine (its expiry
    /// decisions are dated with it).
    fn now(&mut self) -> Instant {
        self.last_now = self.last_now.max(self.clock.now());
        self.last_now
    }

    fn bind_conn(&mut self, connection: ConnectionId) -> Option<SocketAddr> {
        let c = self.conns.get_mut(&connection)?;
        c.bound = true;
        c.peer
    }
}

impl AsFd for SessionServer {
    /// The listener's descriptor.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }
}
