//! The client driver: one [`Client`] machine over one TCP connection at a time, on a task.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use heartbeat_session::client::{Client, ClientConfig, ClientEvent, ClientState};
use heartbeat_std::Clock;
use heartbeat_std::session::ClientOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::deadline::Deadline;

enum Command {
    Close,
    DropConnection,
}

/// A client holding one session on tokio: connects to the servers in turn, pings, and on
/// connection loss resumes on the next server with the same session id and password. Every
/// decision is the [`Client`] machine's; this moves bytes and time.
pub struct SessionClient {
    machine: Client,
    servers: Vec<SocketAddr>,
    options: ClientOptions,
    clock: Clock,
    deadline: Deadline,
}

impl SessionClient {
    /// A client of `servers` (at least one) that has not connected yet. Its clock reads
    /// tokio's time from `clock`'s epoch.
    pub fn new(servers: Vec<SocketAddr>, options: ClientOptions, clock: Clock) -> io::Result<Self> {
        if servers.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no server to connect to"));
        }
        let machine = Client::new(ClientConfig::new(servers.len(), options.requested_timeout));
        let clock = crate::driver::on_tokio_time(clock);
        Ok(SessionClient { machine, servers, options, clock, deadline: Deadline::new(clock) })
    }

    /// Also wakes for deadlines through a nanosecond `timerfd` (Linux; real time only).
    #[cfg(target_os = "linux")]
    pub fn precise_timer(&mut self) -> io::Result<()> {
        self.deadline.precise()
    }

    /// Connects and keeps the session on a task of the current runtime: its handle and every
    /// event (the channel never drops one). The task ends when the session has ended.
    pub fn spawn(self) -> (SessionClientHandle, mpsc::UnboundedReceiver<ClientEvent>) {
        let (events, event_rx) = mpsc::unbounded_channel();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(self.run(command_rx, events));
        (SessionClientHandle { commands, task }, event_rx)
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>, events: mpsc::UnboundedSender<ClientEvent>) {
        let mut stream: Option<TcpStream> = None;
        let mut buf = vec![0u8; 4096];
        let mut commands_open = true;
        self.machine.connect(self.clock.now());
        loop {
            self.flush(&mut stream, &events).await;
            if matches!(self.machine.state(), ClientState::Closed | ClientState::Expired) {
                return;
            }
            let deadline = self.machine.poll_timeout();
            if self.deadline.due(deadline) {
                self.machine.tick(self.clock.now());
                tokio::task::consume_budget().await;
                continue;
            }
            tokio::select! {
                biased;
                command = commands.recv(), if commands_open => match command {
                    Some(Command::Close) => self.machine.close(self.clock.now()),
                    Some(Command::DropConnection) => {
                        if stream.take().is_some() {
                            self.machine.on_disconnect(self.clock.now());
                        }
                    }
                    // Nobody can close it any more: it keeps its session until it ends.
                    None => commands_open = false,
                },
                read = read_some(stream.as_mut(), &mut buf) => match read {
                    Ok(n @ 1..) => {
                        // A refusal moves the machine to the next server (flush opens it).
                        let _ = self.machine.on_bytes(self.clock.now(), &buf[..n]);
                    }
                    _ => {
                        stream = None;
                        self.machine.on_disconnect(self.clock.now());
                    }
                },
                () = self.deadline.wait(deadline) => {}
            }
            self.machine.tick(self.clock.now());
        }
    }

    /// Opens the connection the machine asks for, sends what it queued, delivers its events.
    async fn flush(&mut self, stream: &mut Option<TcpStream>, events: &mpsc::UnboundedSender<ClientEvent>) {
        // A connection refused at once, or one that fails on its first write, moves to the next
        // server now; once round the list at most. After that, the last server refused waits
        // out its attempt (the machine's connect timeout), which paces the next round.
        let mut refused = 0;
        for _ in 0..=self.servers.len() {
            if let Some(server) = self.machine.poll_connect() {
                match self.open(server).await {
                    Opened::Stream(s) => *stream = Some(s),
                    Opened::TimedOut => *stream = None,
                    Opened::Failed => {
                        *stream = None;
                        refused += 1;
                        if refused < self.servers.len() {
                            self.machine.on_disconnect(self.clock.now());
                            continue;
                        }
                    }
                }
            }
            let mut out = Vec::new();
            let mut buf = [0u8; 512];
            while let Ok(n @ 1..) = self.machine.poll_transmit(&mut buf) {
                out.extend_from_slice(&buf[..n]);
            }
            if let Some(s) = stream.as_mut()
                && !out.is_empty()
                && s.write_all(&out).await.is_err()
            {
                *stream = None;
                self.machine.on_disconnect(self.clock.now());
                continue;
            }
            break;
        }
        if matches!(self.machine.state(), ClientState::Closed | ClientState::Expired) {
            *stream = None;
        }
        while let Some(event) = self.machine.poll_event() {
            let _ = events.send(event);
        }
    }

    /// A connection to server `i`, within this attempt's share of the timeout.
    async fn open(&self, i: usize) -> Opened {
        let limit = self.machine.timeout().unwrap_or(self.options.requested_timeout) / self.servers.len() as u32;
        let limit = limit.min(self.options.connect_timeout).max(Duration::from_millis(1));
        match tokio::time::timeout(limit, TcpStream::connect(self.servers[i])).await {
            Err(_) => Opened::TimedOut,
            Ok(Err(_)) => Opened::Failed,
            Ok(Ok(stream)) => match stream.set_nodelay(true) {
                Ok(()) => Opened::Stream(stream),
                Err(_) => Opened::Failed,
            },
        }
    }
}

/// How an attempt to open a connection went.
enum Opened {
    Stream(TcpStream),
    /// Nothing answered within the attempt's share: the machine's connect timeout moves on.
    TimedOut,
    /// Refused or failed at once (nothing listens, no route): the next server, now.
    Failed,
}

/// Reads what `stream` has; never resolves without a stream.
async fn read_some(stream: Option<&mut TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
    match stream {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Controls a spawned [`SessionClient`].
#[derive(Debug)]
pub struct SessionClientHandle {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl SessionClientHandle {
    /// Sends closeSession (or stops at once when not connected); a
    /// [`ClientEvent::Closed`] follows.
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }

    /// Drops the TCP connection as a network failure would: the machine resumes the session
    /// on the next server.
    pub fn drop_connection(&self) {
        let _ = self.commands.send(Command::DropConnection);
    }

    /// Kills the client as a crash would: its connection drops without a word, and the
    /// server keeps the session until it expires.
    pub fn kill(&self) {
        self.task.abort();
    }

    /// Waits until the task has ended (the session closed or expired, or it was killed).
    pub async fn finished(self) {
        let _ = self.task.await;
    }
}
