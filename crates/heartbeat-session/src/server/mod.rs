//! The server: a session table and a protocol machine per client connection.
//!
//! **Session ids** follow ZooKeeper's shape: the server id (`myid`) in the top byte. Below it
//! sit a 24-bit tag (from [`ServerConfig::first_session_counter`] plus the slot's generation, so
//! a restarted server started from the wall clock, as ZooKeeper's is, does not reissue ids) and
//! the session's slot number plus one: the id names its slot, and finding a session by id is
//! O(1) without an index. **Passwords** are not stored: as ZooKeeper does, each is derived from
//! the id and a server secret ([`ServerConfig::seed`], chosen when the server is made), here
//! with a real keyed PRF, the first 16 bytes of HMAC-SHA256(secret, id ‖ generation), and
//! compared in constant time. The core never draws OS randomness.
//!
//! Per connection: the first frame must be a `ConnectRequest` (or a four-letter word: `ruok`,
//! `mntr`). A new session gets a `ConnectResponse` with the negotiated timeout, its id and
//! password. A reconnect with a live id and the right password resumes the session (the old
//! connection is ended); an unknown or expired id, or a wrong password, gets the
//! expired-session reply (timeout 0, id 0) and the connection ends. After that: pings are
//! answered (xid −2), closeSession is answered and the session closed at once, any other
//! operation is answered with UNIMPLEMENTED (−6). Every well-formed frame touches the session.
//! A dropped TCP connection leaves the session to its timeout, as in ZooKeeper.
//!
//! **Costs.** A touch is O(1) (it writes the session's last-heard time, nothing else). An
//! expiry, or a lazy timer filed again, is O(log n) in the core's `TimerTable` heap; nothing
//! scans the table; a lookup by id (on a reconnect) is O(1). Memory per session: a 24-byte
//! record (last heard, timeout, connection) in a 32-byte `SessionTable` slot, a 16-byte
//! one-kind `TimerTable` row and a 4-byte heap entry: 52 bytes plus the tables' growth slack.
//! Resources sit in a map by slot, paid for only by sessions that own some.
//!
//! The driver calls [`Server::accept`] per TCP connection, [`Server::on_bytes`] with what
//! arrived, [`Server::poll_transmit`] to get what to send, closes the socket once
//! [`Server::wants_close`] says so, and reports closed sockets with [`Server::on_disconnect`].

mod config;
mod events;
mod sessions;

use alloc::collections::VecDeque;
use core::fmt::Write as _;
use core::time::Duration;

use heartbeat_proto::engine::{SessionHandle, SessionTable};
use heartbeat_proto::{Growable, Instant};

pub use config::{ConfigError, ServerConfig};
pub use events::{ConnectionId, ServerError, ServerEvent, ServerStats, SessionId};

use crate::BufferTooSmall;
use crate::jute::{
    CLOSE_SESSION_OP, ConnectRequest, ConnectResponse, ErrorCode, Frame, Framer, PASSWORD_LEN, PING_OP, ReplyHeader,
    RequestHeader, Writer, frame_into,
};
use sessions::{ConnectionRef, Ending, Sessions};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the ConnectRequest.
    Connecting,
    /// Bound to a session.
    Bound(SessionHandle),
    /// Nothing more is read; the socket closes once the output is sent.
    Ended,
}

struct Connection {
    framer: Framer,
    phase: Phase,
    /// The session it was bound to (kept after the connection ended).
    bound: Option<SessionHandle>,
    /// Bytes waiting to be sent, and the length of each unit in them (frames, or a
    /// four-letter word's text).
    out: VecDeque<u8>,
    units: VecDeque<usize>,
}

impl Connection {
    fn queue(&mut self, bytes: &[u8]) {
        self.out.extend(bytes);
        self.units.push_back(bytes.len());
    }

    fn queue_frame(&mut self, record: impl FnOnce(&mut Writer<'_>) -> Result<(), BufferTooSmall>) {
        let mut buf = [0u8; 64];
        // The records this server sends are at most 41 bytes.
        if let Ok(n) = frame_into(&mut buf, record) {
            self.queue(&buf[..n]);
        }
    }
}

/// Information about one live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its id.
    pub id: SessionId,
    /// Its negotiated timeout.
    pub timeout: Duration,
    /// When it was last heard.
    pub last_heard: Instant,
    /// The connection it is bound to, if any.
    pub connection: Option<ConnectionId>,
}

/// A ZooKeeper-style session server; `R` is the type of the resources sessions own.
pub struct Server<R> {
    config: ServerConfig,
    sessions: Sessions<R>,
    connections: SessionTable<Connection, Growable>,
    events: VecDeque<ServerEvent<R>>,
    stats: ServerStats,
    zxid: i64,
    now: Instant,
}

impl<R> Server<R> {
    /// A server with `config`.
    pub fn new(config: ServerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let sessions = Sessions::new(config.server_id, config.first_session_counter, &config.seed, config.pause_bound);
        Ok(Server {
            config,
            sessions,
            connections: SessionTable::new(),
            events: VecDeque::new(),
            stats: ServerStats::default(),
            zxid: 0,
            now: Instant::ZERO,
        })
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// How many sessions are live.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Time never goes backwards: an older `now` counts as no progress.
    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        let now = self.now;
        let connections = &mut self.connections;
        self.sessions.expire_due(now, &mut self.events, |c| end_connection(connections, c), &mut self.stats);
        now
    }

    /// Time passes: expires every session whose deadline is at or before `now`.
    pub fn tick(&mut self, now: Instant) {
        self.advance(now);
    }

    /// When to call [`tick`](Self::tick) next: the earliest session deadline, or the latest
    /// `now` while events wait to be polled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.events.is_empty() {
            return Some(self.now);
        }
        self.sessions.next_timeout().filter(|at| *at != Instant::MAX)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent<R>> {
        self.events.pop_front()
    }

    /// A new TCP connection.
    pub fn accept(&mut self) -> Result<ConnectionId, ServerError> {
        let framer = Framer::new(self.config.max_frame_len, true);
        let connection =
            Connection { framer, phase: Phase::Connecting, bound: None, out: VecDeque::new(), units: VecDeque::new() };
        self.connections.insert(connection).map(ConnectionId).map_err(|_| ServerError::TableFull)
    }

    /// The TCP connection closed. Its session, if any, stays until it closes or expires.
    pub fn on_disconnect(&mut self, connection: ConnectionId, now: Instant) {
        self.advance(now);
        if let Some(c) = self.connections.remove(connection.0)
            && let Some(h) = c.bound
            && let Some(s) = self.sessions.get_mut(h)
            && s.connection.is_some_and(|c| c.is(connection.0))
        {
            s.connection = None;
        }
    }

    /// Whether the connection has ended and all its output was taken: close the socket (then
    /// call [`on_disconnect`](Self::on_disconnect)). True for a stale id.
    pub fn wants_close(&self, connection: ConnectionId) -> bool {
        self.connections.get(connection.0).is_none_or(|c| c.phase == Phase::Ended && c.out.is_empty())
    }

    /// Writes as many whole queued units (frames, or a four-letter word's answer) for
    /// `connection` as fit into `buf`; `Ok(0)` when nothing is queued, `BufferTooSmall` when
    /// not even the first fits (it stays queued).
    pub fn poll_transmit(&mut self, connection: ConnectionId, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let Some(c) = self.connections.get_mut(connection.0) else { return Ok(0) };
        let mut written = 0;
        while let Some(&n) = c.units.front() {
            if written + n > buf.len() {
                if written == 0 {
                    return Err(BufferTooSmall { need: n, have: buf.len() });
                }
                break;
            }
            for (dst, src) in buf[written..written + n].iter_mut().zip(c.out.drain(..n)) {
                *dst = src;
            }
            c.units.pop_front();
            written += n;
        }
        Ok(written)
    }

    /// Bytes arrived on `connection` at `now`. Handles every whole frame in them; stops at the
    /// first refused one and says why (the bytes after it are dropped with the connection).
    pub fn on_bytes(&mut self, connection: ConnectionId, now: Instant, mut bytes: &[u8]) -> Result<(), ServerError> {
        let now = self.advance(now);
        let Some(c) = self.connections.get_mut(connection.0) else { return Err(ServerError::UnknownConnection) };
        if c.phase == Phase::Ended {
            self.stats.ignored_bytes += bytes.len() as u64;
            return Ok(());
        }
        while !bytes.is_empty() {
            let Some(c) = self.connections.get_mut(connection.0) else { break };
            if c.phase == Phase::Ended {
                self.stats.ignored_bytes += bytes.len() as u64;
                break;
            }
            let mut framer = core::mem::replace(&mut c.framer, Framer::new(0, false));
            let result = match framer.feed(&mut bytes) {
                Ok(None) => Ok(()),
                Ok(Some(frame)) => self.on_frame(connection, now, frame),
                Err(e) => {
                    self.stats.bad_frames += 1;
                    Err(ServerError::Frame(e))
                }
            };
            let Some(c) = self.connections.get_mut(connection.0) else { break };
            c.framer = framer;
            if let Err(e) = result {
                c.phase = Phase::Ended;
                return Err(e);
            }
        }
        Ok(())
    }

    fn on_frame(&mut self, connection: ConnectionId, now: Instant, frame: Frame<'_>) -> Result<(), ServerError> {
        let phase = self.connections.get(connection.0).map(|c| c.phase).ok_or(ServerError::UnknownConnection)?;
        match (phase, frame) {
            (Phase::Connecting, Frame::FourLetterWord(word)) => self.on_four_letter_word(connection, word),
            (Phase::Connecting, Frame::Record(record)) => {
                let request = ConnectRequest::decode(record).inspect_err(|_| self.stats.bad_records += 1)?;
                self.stats.frames += 1;
                self.on_connect(connection, now, &request)
            }
            (Phase::Bound(handle), Frame::Record(record)) => {
                let (header, _body) = RequestHeader::decode(record).inspect_err(|_| self.stats.bad_records += 1)?;
                self.stats.frames += 1;
                self.on_request(connection, handle, now, header);
                Ok(())
            }
            // The framer yields a four-letter word only first; an ended connection reads nothing.
            (_, _) => Ok(()),
        }
    }

    fn on_four_letter_word(&mut self, connection: ConnectionId, word: [u8; 4]) -> Result<(), ServerError> {
        let mut text = alloc::string::String::new();
        match &word {
            b"ruok" => text.push_str("imok"),
            b"mntr" => {
                let _ = write!(
                    text,
                    "zk_version\theartbeat-session {}\nzk_server_state\tstandalone\nzk_num_alive_connections\t{}\n\
                     zk_global_sessions\t{}\nzk_local_sessions\t{}\nzk_ephemerals_count\t{}\n",
                    env!("CARGO_PKG_VERSION"),
                    self.connections.len(),
                    self.sessions.len(),
                    self.sessions.len(),
                    self.sessions.resources,
                );
            }
            _ => {
                self.stats.unknown_four_letter_words += 1;
                return Err(ServerError::UnknownFourLetterWord(word));
            }
        }
        self.stats.four_letter_words += 1;
        if let Some(c) = self.connections.get_mut(connection.0) {
            c.queue(text.as_bytes());
            c.phase = Phase::Ended;
        }
        Ok(())
    }

    fn on_connect(
        &mut self,
        connection: ConnectionId,
        now: Instant,
        request: &ConnectRequest<'_>,
    ) -> Result<(), ServerError> {
        let timeout = self.config.negotiate(request.timeout_ms);
        let timeout_ms = timeout.as_millis() as i32;
        if request.session_id == 0 {
            let Some((handle, id, password)) = self.sessions.create(now, timeout, connection) else {
                return Err(ServerError::TableFull);
            };
            self.zxid += 1;
            self.stats.created += 1;
            self.bind(connection, handle, timeout_ms, id, &password);
            self.events.push_back(ServerEvent::Created { session: id, handle, connection, timeout });
            return Ok(());
        }
        let id = SessionId(request.session_id);
        let refused = match self.sessions.find(id) {
            None => {
                self.stats.unknown_sessions += 1;
                ServerError::UnknownSession(id)
            }
            Some(handle) => {
                let s = self.sessions.get(handle).ok_or(ServerError::UnknownSession(id))?;
                if self.sessions.password_matches(handle, request.password) {
                    let password = self.sessions.password_of(handle);
                    let old = s.connection;
                    if let Some(old) = old.filter(|o| !o.is(connection.0)) {
                        end_connection(&mut self.connections, Some(old));
                    }
                    if let Some(s) = self.sessions.get_mut(handle) {
                        s.connection = ConnectionRef::of(connection);
                    }
                    self.sessions.touch(handle, now);
                    self.sessions.set_timeout(handle, timeout);
                    self.stats.resumed += 1;
                    self.bind(connection, handle, timeout_ms, id, &password);
                    self.events.push_back(ServerEvent::Resumed { session: id, connection, timeout });
                    return Ok(());
                }
                self.stats.wrong_passwords += 1;
                ServerError::WrongPassword(id)
            }
        };
        // ZooKeeper's answer to an unknown, expired or wrongly authenticated session.
        if let Some(c) = self.connections.get_mut(connection.0) {
            let reply = ConnectResponse {
                protocol_version: 0,
                timeout_ms: 0,
                session_id: 0,
                password: &[0; PASSWORD_LEN],
                read_only: Some(false),
            };
            c.queue_frame(|w| reply.encode(w));
            c.phase = Phase::Ended;
        }
        Err(refused)
    }

    fn bind(
        &mut self,
        connection: ConnectionId,
        handle: SessionHandle,
        timeout_ms: i32,
        id: SessionId,
        password: &[u8],
    ) {
        if let Some(c) = self.connections.get_mut(connection.0) {
            let reply =
                ConnectResponse { protocol_version: 0, timeout_ms, session_id: id.0, password, read_only: Some(false) };
            c.queue_frame(|w| reply.encode(w));
            c.phase = Phase::Bound(handle);
            c.bound = Some(handle);
        }
    }

    fn on_request(&mut self, connection: ConnectionId, handle: SessionHandle, now: Instant, header: RequestHeader) {
        if !self.sessions.touch(handle, now) {
            // The session ended under this connection (closed by its owner).
            end_connection(&mut self.connections, ConnectionRef::of(connection));
            return;
        }
        let err = match header.op {
            PING_OP => {
                self.stats.pings += 1;
                ErrorCode::Ok
            }
            CLOSE_SESSION_OP => {
                self.zxid += 1;
                let reply = ReplyHeader { xid: header.xid, zxid: self.zxid, err: ErrorCode::Ok };
                if let Some(c) = self.connections.get_mut(connection.0) {
                    c.queue_frame(|w| reply.encode(w));
                }
                self.close_session(handle, now);
                return;
            }
            _ => {
                self.stats.unimplemented += 1;
                ErrorCode::Unimplemented
            }
        };
        let reply = ReplyHeader { xid: header.xid, zxid: self.zxid, err };
        if let Some(c) = self.connections.get_mut(connection.0) {
            c.queue_frame(|w| reply.encode(w));
        }
    }

    /// Closes a session at once: its resources are released (events), then `Closed`; its
    /// connection ends. `false` if the handle is stale.
    pub fn close_session(&mut self, handle: SessionHandle, now: Instant) -> bool {
        let now = self.advance(now);
        match self.sessions.end(handle, now, Ending::Closed, &mut self.events) {
            Some(connection) => {
                self.stats.closed += 1;
                end_connection(&mut self.connections, connection);
                true
            }
            None => false,
        }
    }

    /// Records traffic from a session, in O(1) (every accepted frame does this itself).
    pub fn touch(&mut self, handle: SessionHandle, now: Instant) -> bool {
        self.sessions.touch(handle, now.max(self.now))
    }

    /// The session `id` names, if live.
    pub fn find_session(&self, id: SessionId) -> Option<SessionHandle> {
        self.sessions.find(id)
    }

    /// What is known about a live session.
    pub fn session(&self, handle: SessionHandle) -> Option<SessionInfo> {
        self.sessions.get(handle).map(|s| SessionInfo {
            id: self.sessions.id_of(handle),
            timeout: s.timeout(),
            last_heard: s.last_heard,
            connection: s.connection.and_then(|c| live_connection(&self.connections, c)),
        })
    }

    /// Gives `resource` to a live session: it is released (a [`ServerEvent::Released`]) when
    /// the session closes or expires. Gives it back if the handle is stale. O(log m) in the
    /// number m of sessions that own resources (they sit in a side map, by slot).
    pub fn attach(&mut self, handle: SessionHandle, resource: R) -> Result<(), R> {
        self.sessions.attach(handle, resource)
    }

    /// The resources a live session owns, in the order attached.
    pub fn resources(&self, handle: SessionHandle) -> Option<&[R]> {
        self.sessions.resources_of(handle)
    }

    /// Takes back the first resource of the session that `matches`, without an event.
    pub fn detach(&mut self, handle: SessionHandle, matches: impl Fn(&R) -> bool) -> Option<R> {
        self.sessions.detach(handle, matches)
    }
}

/// The live connection `c` names, if it is still open.
fn live_connection(connections: &SessionTable<Connection, Growable>, c: ConnectionRef) -> Option<ConnectionId> {
    let (handle, _) = connections.get_by_index(c.slot())?;
    c.is(handle).then_some(ConnectionId(handle))
}

/// Ends a connection: nothing more is read from it; it closes once its output is sent.
fn end_connection(connections: &mut SessionTable<Connection, Growable>, connection: Option<ConnectionRef>) {
    if let Some(id) = connection.and_then(|c| live_connection(connections, c))
        && let Some(c) = connections.get_mut(id.0)
    {
        c.phase = Phase::Ended;
    }
}
