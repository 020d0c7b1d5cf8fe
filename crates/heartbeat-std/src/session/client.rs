//! The client driver: one [`Client`](heartbeat_session::client::Client) over one TCP
//! connection at a time to one of a list of servers.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use heartbeat_proto::Instant;
use heartbeat_session::client::{Client, ClientConfig, ClientEvent, ClientState};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use super::write_pending;
use crate::clock::Clock;
use crate::precise::PreciseTimer;

/// How a [`SessionClient`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The session timeout asked for.
    pub requested_timeout: Duration,
    /// The longest a TCP connect may block (it is also bounded by the machine's connect
    /// timeout, `timeout / servers`).
    pub connect_timeout: Duration,
}

impl ClientOptions {
    /// Asks for `requested_timeout`; connects block at most 1 s.
    pub fn new(requested_timeout: Duration) -> Self {
        ClientOptions { requested_timeout, connect_timeout: Duration::from_secs(1) }
    }
}

/// A blocking client holding one session: connects to the servers in turn, pings, and on
/// connection loss resumes on the next server with the same session id and password.
///
/// A connection that cannot be opened is not retried at once: the machine's connect timeout
/// (`timeout / servers`) moves it to the next server, which paces the attempts.
pub struct SessionClient {
    machine: Client,
    servers: Vec<SocketAddr>,
    stream: Option<TcpStream>,
    out: Vec<u8>,
    options: ClientOptions,
    clock: Clock,
    timer: PreciseTimer,
    armed: Option<Instant>,
    /// TCP connections opened, and connects that failed.
    opened: u64,
    failed: u64,
}

impl SessionClient {
    /// A client of `servers` (at least one) that has not connected yet.
    pub fn new(servers: Vec<SocketAddr>, options: ClientOptions, clock: Clock) -> io::Result<Self> {
        if servers.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no server to connect to"));
        }
        let machine = Client::new(ClientConfig::new(servers.len(), options.requested_timeout));
        Ok(SessionClient {
            machine,
            servers,
            stream: None,
            out: Vec::new(),
            options,
            clock,
            timer: PreciseTimer::new()?,
            armed: None,
            opened: 0,
            failed: 0,
        })
    }

    /// The machine (state, session id, negotiated timeout).
    pub fn machine(&self) -> &Client {
        &self.machine
    }

    /// Where the session is.
    pub fn state(&self) -> ClientState {
        self.machine.state()
    }

    /// The address of the server in use.
    pub fn server(&self) -> SocketAddr {
        self.servers[self.machine.server()]
    }

    /// The local address of the current connection, if one is open.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.stream.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// TCP connections opened, and connects that failed.
    pub fn connects(&self) -> (u64, u64) {
        (self.opened, self.failed)
    }

    /// The clock that dates everything.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Whether the session has ended (closed or expired).
    pub fn is_done(&self) -> bool {
        matches!(self.machine.state(), ClientState::Closed | ClientState::Expired)
    }

    /// Starts connecting (to the first server).
    pub fn connect(&mut self, on_event: &mut impl FnMut(ClientEvent)) {
        self.machine.connect(self.clock.now());
        self.flush(on_event);
    }

    /// Sends closeSession (or stops at once when not connected); the turns that follow report
    /// [`ClientEvent::Closed`].
    pub fn close(&mut self, on_event: &mut impl FnMut(ClientEvent)) {
        self.machine.close(self.clock.now());
        self.flush(on_event);
    }

    /// Drops the TCP connection as a network failure would: the machine sees connection loss
    /// and resumes the session on the next server.
    pub fn drop_connection(&mut self, on_event: &mut impl FnMut(ClientEvent)) {
        if self.stream.is_some() {
            self.lost();
            self.flush(on_event);
        }
    }

    /// Turns until the session has ended or `limit` has passed; returns whether it ended.
    pub fn run_for(&mut self, limit: Duration, on_event: &mut impl FnMut(ClientEvent)) -> bool {
        let end = self.clock.now().saturating_add(limit);
        while !self.is_done() {
            let left = end.saturating_duration_since(self.clock.now());
            if left.is_zero() {
                return false;
            }
            self.turn(Some(left), on_event);
        }
        true
    }

    /// One turn: wait (at most `max_wait`) for bytes, room to write or the next deadline; feed
    /// what came; `tick`; send what is queued.
    pub fn turn(&mut self, max_wait: Option<Duration>, on_event: &mut impl FnMut(ClientEvent)) {
        self.flush(on_event);
        let deadline = self.machine.poll_timeout();
        if deadline != self.armed {
            if let Some(d) = deadline {
                let _ = self.timer.arm(self.clock.until(d));
            }
            self.armed = deadline;
        }
        let readable = self.wait(max_wait);
        if readable {
            self.read();
        }
        self.machine.tick(self.clock.now());
        self.flush(on_event);
    }

    /// Returns whether the connection is readable (or hung up).
    fn wait(&mut self, max_wait: Option<Duration>) -> bool {
        let mut fds = vec![PollFd::new(&self.timer, PollFlags::IN)];
        if let Some(s) = &self.stream {
            let flags = if self.out.is_empty() { PollFlags::IN } else { PollFlags::IN | PollFlags::OUT };
            fds.push(PollFd::from_borrowed_fd(s.as_fd(), flags));
        }
        // Without a deadline or a connection (all done), `max_wait` bounds the wait.
        let timeout = max_wait.map(|t| Timespec::try_from(t).unwrap_or(Timespec { tv_sec: i64::MAX, tv_nsec: 0 }));
        let polled = poll(&mut fds, timeout.as_ref());
        let timer_ready = !fds[0].revents().is_empty();
        let readable = fds.get(1).is_some_and(|fd| {
            fd.revents().intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR | PollFlags::RDHUP)
        });
        drop(fds);
        if polled.is_err() {
            return false;
        }
        if timer_ready && self.timer.consume() {
            self.armed = None;
        }
        readable
    }

    fn read(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            let Some(stream) = self.stream.as_mut() else { return };
            match stream.read(&mut buf) {
                Ok(0) => return self.lost(),
                Ok(n) => {
                    if self.machine.on_bytes(self.clock.now(), &buf[..n]).is_err() {
                        // The machine moved to the next server (flush opens it).
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.lost(),
            }
        }
    }

    fn lost(&mut self) {
        self.stream = None;
        self.out.clear();
        self.machine.on_disconnect(self.clock.now());
    }

    /// Opens the connection the machine asks for, sends what it queued, delivers its events.
    fn flush(&mut self, on_event: &mut impl FnMut(ClientEvent)) {
        // A connection that fails at once moves to the next server; once round the list at most.
        for _ in 0..=self.servers.len() {
            if let Some(server) = self.machine.poll_connect() {
                self.open(server);
            }
            let mut buf = [0u8; 512];
            while let Ok(n @ 1..) = self.machine.poll_transmit(&mut buf) {
                if self.stream.is_some() {
                    self.out.extend_from_slice(&buf[..n]);
                }
            }
            if let Some(stream) = self.stream.as_mut()
                && write_pending(stream, &mut self.out).is_err()
            {
                self.lost();
                continue;
            }
            break;
        }
        if self.is_done() {
            self.stream = None;
            self.out.clear();
        }
        while let Some(event) = self.machine.poll_event() {
            on_event(event);
        }
    }

    fn open(&mut self, server: usize) {
        self.stream = None;
        self.out.clear();
        let limit = self.machine.timeout().unwrap_or(self.options.requested_timeout) / self.servers.len() as u32;
        let limit = limit.min(self.options.connect_timeout).max(Duration::from_millis(1));
        match TcpStream::connect_timeout(&self.servers[server], limit) {
            Ok(stream) if stream.set_nonblocking(true).is_ok() && stream.set_nodelay(true).is_ok() => {
                self.opened += 1;
                self.stream = Some(stream);
            }
            // Left to the machine's connect timeout, which moves on to the next server.
            _ => self.failed += 1,
        }
    }
}
