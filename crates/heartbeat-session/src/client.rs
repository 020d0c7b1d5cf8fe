//! The client: one session over one of N servers at a time.
//!
//! - **Connect** to server `i` (the driver opens the TCP connection [`Client::poll_connect`]
//!   names, dropping any previous one) with a connect timeout of `timeout / N`, where the
//!   timeout is the requested one until a server granted one.
//! - **Ping** when nothing was sent for a third of the negotiated timeout.
//! - **Connection loss** when nothing was heard for two thirds of it (or the connect timed out,
//!   or the socket closed): [`ClientEvent::Disconnected`], then the next server, with the same
//!   session id and password.
//! - **Expiry** when a server answers the reconnect with timeout 0, or a reply says
//!   SESSIONEXPIRED, or no server could be reached within the session timeout of the last
//!   message heard ([`ExpiryRule::SessionTimeout`]; ZooKeeper's Java client waits until
//!   4/3 of it: [`ExpiryRule::FourThirds`]).
//! - **Close**: [`Client::close`] sends closeSession and reports [`ClientEvent::Closed`] on the
//!   reply (or when the connection drops, or after two thirds of the timeout).

use alloc::collections::VecDeque;
use core::time::Duration;

use heartbeat_proto::Instant;

use crate::BufferTooSmall;
use crate::jute::{
    CLOSE_SESSION_OP, ConnectRequest, ConnectResponse, DEFAULT_MAX_FRAME_LEN, DecodeError, ErrorCode, Frame,
    FrameError, Framer, PASSWORD_LEN, PING_OP, PING_XID, ReplyHeader, RequestHeader, Writer, frame_into,
};

/// When a client that cannot reach any server gives its session up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExpiryRule {
    /// The session timeout after the last message heard: when the server expires it too.
    #[default]
    SessionTimeout,
    /// 4/3 of the session timeout, as ZooKeeper's Java client does.
    FourThirds,
}

/// How a [`Client`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// How many servers the ensemble has (at least 1); the driver maps an index to an address.
    pub servers: usize,
    /// The server tried first (ZooKeeper shuffles its list; the adapter may pick at random).
    pub first_server: usize,
    /// The session timeout asked for.
    pub requested_timeout: Duration,
    /// When to give up reconnecting.
    pub expiry: ExpiryRule,
    /// The largest frame accepted from a server.
    pub max_frame_len: usize,
}

impl ClientConfig {
    /// `servers` servers, asking for `requested_timeout`; the other settings by default.
    pub fn new(servers: usize, requested_timeout: Duration) -> Self {
        ClientConfig {
            servers,
            first_server: 0,
            requested_timeout,
            expiry: ExpiryRule::default(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }
}

/// Why a connection was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// No ConnectResponse within the connect timeout.
    ConnectTimeout,
    /// Nothing heard for two thirds of the session timeout.
    ReadTimeout,
    /// The socket closed (the driver called [`Client::on_disconnect`]).
    Closed,
    /// The server's bytes could not be framed or decoded.
    BadInput,
}

/// Why the session is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpiryReason {
    /// A server said so (a connect response with timeout 0, or SESSIONEXPIRED).
    ToldByServer,
    /// No server was reached in time.
    Timeout,
}

/// What happened to the client's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A new session on `server`.
    Connected {
        /// The server index.
        server: usize,
        /// The session id.
        session: i64,
        /// The timeout the server granted.
        timeout: Duration,
    },
    /// The connection to `server` was lost; the session may still be resumed.
    Disconnected {
        /// The server index.
        server: usize,
        /// Why.
        reason: DisconnectReason,
    },
    /// The session was resumed on `server`.
    Resumed {
        /// The server index.
        server: usize,
        /// The timeout the server granted.
        timeout: Duration,
    },
    /// The session expired; the client has stopped.
    Expired {
        /// Why.
        reason: ExpiryReason,
    },
    /// The session was closed; the client has stopped.
    Closed,
}

/// A refused input from the server. The connection is dropped (and the next server tried).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The byte stream could not be framed.
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// A frame did not decode.
    #[error("decoding: {0}")]
    Decode(#[from] DecodeError),
}

/// Where the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientState {
    /// [`Client::connect`] not called yet.
    Idle,
    /// Waiting for a ConnectResponse.
    Connecting,
    /// Bound to its session on a server.
    Connected,
    /// closeSession sent.
    Closing,
    /// The session expired.
    Expired,
    /// The session was closed.
    Closed,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    id: i64,
    password: [u8; PASSWORD_LEN],
    timeout: Duration,
}

/// The client state machine.
pub struct Client {
    config: ClientConfig,
    state: ClientState,
    session: Option<Session>,
    server: usize,
    framer: Framer,
    out: VecDeque<u8>,
    units: VecDeque<usize>,
    pending_connect: Option<usize>,
    events: VecDeque<ClientEvent>,
    now: Instant,
    attempt_started: Instant,
    last_heard: Instant,
    last_sent: Instant,
    /// The last time any server spoke for the session.
    session_heard: Instant,
    last_zxid: i64,
    next_xid: i32,
    close_xid: i32,
    rejected: u64,
}

impl Client {
    /// A client that has not connected yet. `servers` below 1 counts as 1.
    pub fn new(mut config: ClientConfig) -> Self {
        config.servers = config.servers.max(1);
        let server = config.first_server % config.servers;
        let framer = Framer::new(config.max_frame_len, false);
        Client {
            config,
            state: ClientState::Idle,
            session: None,
            server,
            framer,
            out: VecDeque::new(),
            units: VecDeque::new(),
            pending_connect: None,
            events: VecDeque::new(),
            now: Instant::ZERO,
            attempt_started: Instant::ZERO,
            last_heard: Instant::ZERO,
            last_sent: Instant::ZERO,
            session_heard: Instant::ZERO,
            last_zxid: 0,
            next_xid: 1,
            close_xid: 0,
            rejected: 0,
        }
    }

    /// Where the client is.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The session id, once a server granted one.
    pub fn session_id(&self) -> Option<i64> {
        self.session.map(|s| s.id)
    }

    /// The negotiated timeout, once a server granted one.
    pub fn timeout(&self) -> Option<Duration> {
        self.session.map(|s| s.timeout)
    }

    /// The server currently used.
    pub fn server(&self) -> usize {
        self.server
    }

    /// How many inputs were refused.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    fn timeout_or_requested(&self) -> Duration {
        self.session.map_or(self.config.requested_timeout, |s| s.timeout)
    }

    fn clock(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    /// Starts: asks for a connection to the first server.
    pub fn connect(&mut self, now: Instant) {
        let now = self.clock(now);
        if self.state == ClientState::Idle {
            self.session_heard = now;
            self.start_attempt(now, self.server);
        }
    }

    /// The server to open a TCP connection to (dropping the previous one), once per attempt.
    /// Then send what [`poll_transmit`](Self::poll_transmit) gives.
    pub fn poll_connect(&mut self) -> Option<usize> {
        self.pending_connect.take()
    }

    fn start_attempt(&mut self, now: Instant, server: usize) {
        self.server = server;
        self.state = ClientState::Connecting;
        self.attempt_started = now;
        self.framer = Framer::new(self.config.max_frame_len, false);
        self.out.clear();
        self.units.clear();
        self.pending_connect = Some(server);
        let (id, password) = self.session.map_or((0, [0; PASSWORD_LEN]), |s| (s.id, s.password));
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            timeout_ms: i32::try_from(self.config.requested_timeout.as_millis()).unwrap_or(i32::MAX),
            session_id: id,
            password: &password,
            read_only: Some(false),
        };
        self.queue(|w| request.encode(w));
        self.last_sent = now;
    }

    fn queue(&mut self, record: impl FnOnce(&mut Writer<'_>) -> Result<(), BufferTooSmall>) {
        let mut buf = [0u8; 64];
        if let Ok(n) = frame_into(&mut buf, record) {
            self.out.extend(&buf[..n]);
            self.units.push_back(n);
        }
    }

    /// Drops the connection and tries the next server.
    fn lose_connection(&mut self, now: Instant, reason: DisconnectReason) {
        let server = self.server;
        self.events.push_back(ClientEvent::Disconnected { server, reason });
        self.start_attempt(now, (server + 1) % self.config.servers);
    }

    fn stop(&mut self, state: ClientState, event: ClientEvent) {
        self.state = state;
        self.pending_connect = None;
        self.out.clear();
        self.units.clear();
        self.events.push_back(event);
    }

    fn expiry_deadline(&self) -> Option<Instant> {
        let t = self.session?.timeout;
        let span = match self.config.expiry {
            ExpiryRule::SessionTimeout => t,
            ExpiryRule::FourThirds => t * 4 / 3,
        };
        Some(self.session_heard.saturating_add(span))
    }

    /// The deadline of whatever the current state waits for.
    fn deadline(&self) -> Option<Instant> {
        let t = self.timeout_or_requested();
        match self.state {
            ClientState::Connecting => {
                let attempt = self.attempt_started.saturating_add(t / self.config.servers as u32);
                Some(self.expiry_deadline().map_or(attempt, |e| e.min(attempt)))
            }
            ClientState::Connected => {
                let ping = self.last_sent.saturating_add(t / 3);
                let read = self.last_heard.saturating_add(t * 2 / 3);
                Some(ping.min(read))
            }
            ClientState::Closing => Some(self.last_sent.saturating_add(t * 2 / 3)),
            _ => None,
        }
    }

    /// Time passes.
    pub fn tick(&mut self, now: Instant) {
        let now = self.clock(now);
        let t = self.timeout_or_requested();
        match self.state {
            ClientState::Connecting => {
                if self.expiry_deadline().is_some_and(|e| e <= now) {
                    self.stop(ClientState::Expired, ClientEvent::Expired { reason: ExpiryReason::Timeout });
                } else if self.attempt_started.saturating_add(t / self.config.servers as u32) <= now {
                    self.lose_connection(now, DisconnectReason::ConnectTimeout);
                }
            }
            ClientState::Connected => {
                if self.last_heard.saturating_add(t * 2 / 3) <= now {
                    self.lose_connection(now, DisconnectReason::ReadTimeout);
                } else if self.last_sent.saturating_add(t / 3) <= now {
                    let ping = RequestHeader { xid: PING_XID, op: PING_OP };
                    self.queue(|w| ping.encode(w));
                    self.last_sent = now;
                }
            }
            ClientState::Closing if self.last_sent.saturating_add(t * 2 / 3) <= now => {
                self.stop(ClientState::Closed, ClientEvent::Closed);
            }
            _ => {}
        }
    }

    /// When to call [`tick`](Self::tick) next (the current time while events wait).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.events.is_empty() {
            return Some(self.now);
        }
        self.deadline().filter(|at| *at != Instant::MAX)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Writes as many whole queued frames as fit into `buf`; `Ok(0)` when none is queued.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut written = 0;
        while let Some(&n) = self.units.front() {
            if written + n > buf.len() {
                if written == 0 {
                    return Err(BufferTooSmall { need: n, have: buf.len() });
                }
                break;
            }
            for (dst, src) in buf[written..written + n].iter_mut().zip(self.out.drain(..n)) {
                *dst = src;
            }
            self.units.pop_front();
            written += n;
        }
        Ok(written)
    }

    /// Closes the session: sends closeSession if connected, else stops at once.
    pub fn close(&mut self, now: Instant) {
        let now = self.clock(now);
        match self.state {
            ClientState::Connected => {
                self.close_xid = self.next_xid;
                self.next_xid = self.next_xid.wrapping_add(1).max(1);
                let request = RequestHeader { xid: self.close_xid, op: CLOSE_SESSION_OP };
                self.queue(|w| request.encode(w));
                self.last_sent = now;
                self.state = ClientState::Closing;
            }
            ClientState::Idle | ClientState::Connecting => self.stop(ClientState::Closed, ClientEvent::Closed),
            _ => {}
        }
    }

    /// The TCP connection closed (or could not be opened).
    pub fn on_disconnect(&mut self, now: Instant) {
        let now = self.clock(now);
        match self.state {
            ClientState::Connecting | ClientState::Connected => self.lose_connection(now, DisconnectReason::Closed),
            ClientState::Closing => self.stop(ClientState::Closed, ClientEvent::Closed),
            _ => {}
        }
    }

    /// Bytes arrived from the current server.
    pub fn on_bytes(&mut self, now: Instant, mut bytes: &[u8]) -> Result<(), ClientError> {
        let now = self.clock(now);
        while !bytes.is_empty() {
            if !matches!(self.state, ClientState::Connecting | ClientState::Connected | ClientState::Closing) {
                return Ok(());
            }
            let mut framer = core::mem::replace(&mut self.framer, Framer::new(0, false));
            let result = match framer.feed(&mut bytes) {
                Ok(None) => Ok(()),
                Ok(Some(Frame::Record(record))) => self.on_record(now, record),
                Ok(Some(Frame::FourLetterWord(_))) => Ok(()),
                Err(e) => Err(ClientError::Frame(e)),
            };
            self.framer = framer;
            if let Err(e) = result {
                self.rejected += 1;
                if self.state == ClientState::Closing {
                    self.stop(ClientState::Closed, ClientEvent::Closed);
                } else {
                    self.lose_connection(now, DisconnectReason::BadInput);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn on_record(&mut self, now: Instant, record: &[u8]) -> Result<(), ClientError> {
        match self.state {
            ClientState::Connecting => {
                let response = ConnectResponse::decode(record)?;
                if response.timeout_ms <= 0 {
                    self.stop(ClientState::Expired, ClientEvent::Expired { reason: ExpiryReason::ToldByServer });
                    return Ok(());
                }
                let mut password = [0u8; PASSWORD_LEN];
                password[..response.password.len()].copy_from_slice(response.password);
                let timeout = Duration::from_millis(response.timeout_ms as u64);
                let server = self.server;
                let resumed = self.session.is_some_and(|s| s.id == response.session_id);
                self.session = Some(Session { id: response.session_id, password, timeout });
                self.state = ClientState::Connected;
                self.last_heard = now;
                self.session_heard = now;
                self.events.push_back(if resumed {
                    ClientEvent::Resumed { server, timeout }
                } else {
                    ClientEvent::Connected { server, session: response.session_id, timeout }
                });
            }
            ClientState::Connected | ClientState::Closing => {
                let (reply, _body) = ReplyHeader::decode(record)?;
                self.last_heard = now;
                self.session_heard = now;
                self.last_zxid = self.last_zxid.max(reply.zxid);
                if reply.err == ErrorCode::SessionExpired {
                    self.stop(ClientState::Expired, ClientEvent::Expired { reason: ExpiryReason::ToldByServer });
                } else if self.state == ClientState::Closing && reply.xid == self.close_xid {
                    self.stop(ClientState::Closed, ClientEvent::Closed);
                }
            }
            _ => {}
        }
        Ok(())
    }
}
