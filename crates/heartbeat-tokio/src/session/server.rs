//! The server driver: one task owns the [`Server`] machine and the listener; each connection
//! has a task of its own that moves its bytes.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use heartbeat_proto::Instant;
use heartbeat_session::server::{ConnectionId, Server, ServerConfig, ServerEvent, ServerStats, SessionId};
use heartbeat_std::Clock;
use heartbeat_std::session::{ServerOptions, SessionEvent, TcpStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::deadline::Deadline;
use crate::Stopped;

/// Bytes read from a socket at once.
const READ_CHUNK: usize = 4096;
/// Reads waiting for the machine task, across all connections, before readers wait.
const INBOX: usize = 1024;

/// What a connection task tells the machine task.
enum FromConnection {
    Bytes(ConnectionId, Vec<u8>),
    /// The socket is gone; `handshake` if it was cut off for sending no ConnectRequest in time.
    Closed {
        id: ConnectionId,
        handshake: bool,
        error: bool,
    },
}

/// What the machine task tells a connection task.
enum ToConnection {
    Bytes(Vec<u8>),
    /// A session is bound: the handshake timeout no longer applies.
    Bound,
    /// Send what came before, then close.
    Close,
}

enum Command {
    Status(oneshot::Sender<ServerStatus>),
    Stop,
}

/// The server's state, as of a [`status`](SessionServerHandle::status).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStatus {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Live sessions.
    pub sessions: usize,
    /// Open connections.
    pub connections: usize,
    /// The machine's counters.
    pub machine: ServerStats,
    /// The driver's counters.
    pub tcp: TcpStats,
}

/// A ZooKeeper-style session server on tokio, over TCP: sessions exactly as
/// [`heartbeat_session::server`] decides, waited on with tokio (and, on Linux, optionally a
/// nanosecond `timerfd`), events out on an unbounded channel.
pub struct SessionServer {
    machine: Server<()>,
    listener: TcpListener,
    local: SocketAddr,
    options: ServerOptions,
    clock: Clock,
    deadline: Deadline,
}

impl SessionServer {
    /// Listens on `listen` for clients of a machine with `config`. Its clock reads tokio's
    /// time from `clock`'s epoch (see [`tokio_clock`](crate::tokio_clock)).
    pub async fn bind(
        listen: SocketAddr,
        config: ServerConfig,
        options: ServerOptions,
        clock: Clock,
    ) -> io::Result<Self> {
        let machine = Server::new(config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(listen).await?;
        let local = listener.local_addr()?;
        let clock = crate::driver::on_tokio_time(clock);
        Ok(SessionServer { machine, listener, local, options, clock, deadline: Deadline::new(clock) })
    }

    /// Also wakes for deadlines through a nanosecond `timerfd` (Linux; real time only), so a
    /// session expires within microseconds of its deadline instead of up to ~2 ms after it.
    #[cfg(target_os = "linux")]
    pub fn precise_timer(&mut self) -> io::Result<()> {
        self.deadline.precise()
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The clock that dates its events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Starts the server task on the current runtime: its handle, and every event it will
    /// report (the channel never drops one; it holds what the receiver has not read yet).
    pub fn spawn(self) -> (SessionServerHandle, mpsc::UnboundedReceiver<SessionEvent>) {
        let (events, event_rx) = mpsc::unbounded_channel();
        let (commands, command_rx) = mpsc::channel(16);
        let (inbox_tx, inbox) = mpsc::channel(INBOX);
        let local = self.local;
        let clock = self.clock;
        let task = Task {
            machine: self.machine,
            listener: self.listener,
            local,
            options: self.options,
            clock,
            deadline: self.deadline,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            events,
            inbox_tx,
            last_now: Instant::ZERO,
            stats: TcpStats::default(),
            dirty: Vec::new(),
        };
        let join = tokio::spawn(task.run(command_rx, inbox));
        (SessionServerHandle { commands, local, clock, task: join.abort_handle() }, event_rx)
    }
}

/// Controls a spawned [`SessionServer`]; dropping every clone stops it.
#[derive(Debug, Clone)]
pub struct SessionServerHandle {
    commands: mpsc::Sender<Command>,
    local: SocketAddr,
    clock: Clock,
    task: AbortHandle,
}

impl SessionServerHandle {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The clock that dates its events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Its counters and sizes, as of now.
    pub async fn status(&self) -> Result<ServerStatus, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Status(tx)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Stops it: every connection closes, the sessions are left to their timeout (as a
    /// ZooKeeper server that shuts down does).
    pub async fn stop(self) {
        let _ = self.commands.send(Command::Stop).await;
        self.commands.closed().await;
    }

    /// Stops it at once, as a crash would.
    pub fn abort(&self) {
        self.task.abort();
    }
}

struct Conn {
    to: mpsc::UnboundedSender<ToConnection>,
    /// Bytes handed to the connection task that it has not written yet.
    queued: Arc<AtomicUsize>,
    task: AbortHandle,
    peer: SocketAddr,
    closing: bool,
}

struct Task {
    machine: Server<()>,
    listener: TcpListener,
    local: SocketAddr,
    options: ServerOptions,
    clock: Clock,
    deadline: Deadline,
    conns: HashMap<ConnectionId, Conn>,
    /// Every live session's connection and timeout (the expiry event carries neither).
    sessions: HashMap<SessionId, (ConnectionId, Duration)>,
    events: mpsc::UnboundedSender<SessionEvent>,
    inbox_tx: mpsc::Sender<FromConnection>,
    last_now: Instant,
    stats: TcpStats,
    /// Connections that may have output or may be done, looked at by the next flush.
    dirty: Vec<ConnectionId>,
}

impl Task {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>, mut inbox: mpsc::Receiver<FromConnection>) {
        loop {
            self.flush();
            let deadline = self.machine.poll_timeout();
            if self.deadline.due(deadline) {
                let now = self.now();
                self.machine.tick(now);
                tokio::task::consume_budget().await;
                continue;
            }
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Command::Status(reply)) => {
                        let _ = reply.send(self.status());
                    }
                    Some(Command::Stop) | None => return self.shutdown(),
                },
                Some(message) = inbox.recv() => self.on_message(message),
                accepted = self.listener.accept() => self.adopt(accepted),
                () = self.deadline.wait(deadline) => {}
            }
            let now = self.now();
            self.machine.tick(now);
        }
    }

    fn status(&self) -> ServerStatus {
        ServerStatus {
            listen: self.local,
            sessions: self.machine.session_count(),
            connections: self.conns.len(),
            machine: *self.machine.stats(),
            tcp: self.stats,
        }
    }

    fn shutdown(mut self) {
        self.flush();
        let ids: Vec<ConnectionId> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        self.drain_events();
    }

    fn adopt(&mut self, accepted: io::Result<(TcpStream, SocketAddr)>) {
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(err) => {
                // EMFILE and the like: the next accept tries again.
                self.stats.io_errors += 1;
                tracing::debug!(%err, "accept failed");
                return;
            }
        };
        if self.conns.len() >= self.options.max_connections || stream.set_nodelay(true).is_err() {
            self.stats.refused += 1;
            return; // dropping it closes it
        }
        let Ok(id) = self.machine.accept() else {
            self.stats.refused += 1;
            return;
        };
        self.stats.accepted += 1;
        let (to, from_machine) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let link = Link { id, inbox: self.inbox_tx.clone(), queued: Arc::clone(&queued) };
        let task = tokio::spawn(link.run(stream, from_machine, self.options.handshake_timeout)).abort_handle();
        self.conns.insert(id, Conn { to, queued, task, peer, closing: false });
    }

    fn on_message(&mut self, message: FromConnection) {
        match message {
            FromConnection::Bytes(id, bytes) => {
                if !self.conns.contains_key(&id) {
                    return;
                }
                let now = self.now();
                if self.machine.on_bytes(id, now, &bytes).is_err() {
                    // The machine ended the connection; its answer, if any, still goes out.
                    self.stats.bad_input += 1;
                }
                self.dirty.push(id);
            }
            FromConnection::Closed { id, handshake, error } => {
                self.stats.handshake_timeouts += u64::from(handshake);
                self.stats.io_errors += u64::from(error);
                if self.conns.remove(&id).is_some() {
                    let now = self.now();
                    self.machine.on_disconnect(id, now);
                }
            }
        }
    }

    /// Closes a connection at once and tells the machine.
    fn close(&mut self, id: ConnectionId) {
        if let Some(c) = self.conns.remove(&id) {
            c.task.abort();
            let now = self.now();
            self.machine.on_disconnect(id, now);
        }
    }

    /// Delivers the events, then moves the machine's output of every connection that may have
    /// some to its task and closes what is done.
    fn flush(&mut self) {
        self.drain_events();
        let mut buf = [0u8; READ_CHUNK];
        while let Some(id) = self.dirty.pop() {
            let Some(c) = self.conns.get_mut(&id) else { continue };
            let mut gone = false;
            while let Ok(n @ 1..) = self.machine.poll_transmit(id, &mut buf) {
                c.queued.fetch_add(n, Ordering::Relaxed);
                gone |= c.to.send(ToConnection::Bytes(buf[..n].to_vec())).is_err();
            }
            if c.queued.load(Ordering::Relaxed) > self.options.max_buffered {
                self.stats.overflows += 1;
                gone = true;
            }
            if gone {
                self.close(id);
            } else if !c.closing && self.machine.wants_close(id) {
                // Its task sends what is queued, then closes and reports back.
                c.closing = true;
                let _ = c.to.send(ToConnection::Close);
            }
        }
        self.drain_events();
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.machine.poll_event() {
            let at = self.last_now;
            let event = match event {
                ServerEvent::Created { session, connection, timeout, .. } => {
                    self.sessions.insert(session, (connection, timeout));
                    SessionEvent::Created { session, timeout, peer: self.bound(connection), at }
                }
                ServerEvent::Resumed { session, connection, timeout } => {
                    if let Some((old, _)) = self.sessions.insert(session, (connection, timeout)) {
                        self.dirty.push(old);
                    }
                    SessionEvent::Resumed { session, timeout, peer: self.bound(connection), at }
                }
                ServerEvent::Closed { session } => {
                    if let Some((c, _)) = self.sessions.remove(&session) {
                        self.dirty.push(c);
                    }
                    SessionEvent::Closed { session, at }
                }
                ServerEvent::Expired { session, silent_for } => {
                    let (connection, timeout) =
                        self.sessions.remove(&session).map_or((None, silent_for), |(c, t)| (Some(c), t));
                    self.dirty.extend(connection);
                    SessionEvent::Expired { session, timeout, last_heard: at.saturating_sub(silent_for), at }
                }
                _ => continue,
            };
            // A receiver that is gone wants nothing more.
            let _ = self.events.send(event);
        }
    }

    fn bound(&mut self, connection: ConnectionId) -> Option<SocketAddr> {
        self.dirty.push(connection);
        let c = self.conns.get(&connection)?;
        let _ = c.to.send(ToConnection::Bound);
        Some(c.peer)
    }

    /// The clock's now, remembered as the latest time given to the machine (its decisions
    /// are dated with it).
    fn now(&mut self) -> Instant {
        self.last_now = self.last_now.max(self.clock.now());
        self.last_now
    }
}

/// A connection task's side: bytes in to the machine task, bytes out to the socket.
struct Link {
    id: ConnectionId,
    inbox: mpsc::Sender<FromConnection>,
    queued: Arc<AtomicUsize>,
}

impl Link {
    async fn run(
        self,
        stream: TcpStream,
        mut from_machine: mpsc::UnboundedReceiver<ToConnection>,
        handshake: Duration,
    ) {
        let (mut rd, mut wr) = stream.into_split();
        let mut buf = vec![0u8; READ_CHUNK];
        let handshake_over = tokio::time::sleep(handshake);
        tokio::pin!(handshake_over);
        let (mut bound, mut cut_off, mut error) = (false, false, false);
        loop {
            tokio::select! {
                biased;
                out = from_machine.recv() => match out {
                    Some(ToConnection::Bytes(bytes)) => {
                        let written = wr.write_all(&bytes).await;
                        self.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                        if written.is_err() {
                            error = true;
                            break;
                        }
                    }
                    Some(ToConnection::Bound) => bound = true,
                    Some(ToConnection::Close) | None => break,
                },
                read = rd.read(&mut buf) => match read {
                    Ok(0) => break,
                    Ok(n) => {
                        if self.inbox.send(FromConnection::Bytes(self.id, buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        error = true;
                        break;
                    }
                },
                () = &mut handshake_over, if !bound => {
                    cut_off = true;
                    break;
                }
            }
        }
        let _ = wr.shutdown().await;
        let _ = self.inbox.send(FromConnection::Closed { id: self.id, handshake: cut_off, error }).await;
    }
}
