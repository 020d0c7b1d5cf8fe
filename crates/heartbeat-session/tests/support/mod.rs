//! Servers and one client in virtual time over an in-memory "TCP": byte pipes delivered in
//! chunks of a chosen size (1 byte: every byte alone).

#![allow(dead_code, unreachable_pub)]

use core::time::Duration;

use heartbeat_session::Instant;
use heartbeat_session::client::{Client, ClientConfig, ClientEvent};
use heartbeat_session::server::{ConnectionId, Server, ServerConfig, ServerEvent};

pub type Res = &'static str;

pub fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

pub fn server_config(id: u8, tick_ms: u64) -> ServerConfig {
    let mut c = ServerConfig::new(id, Duration::from_millis(tick_ms));
    c.seed = [id; 32];
    c
}

pub struct Net {
    pub servers: Vec<Server<Res>>,
    pub client: Client,
    /// The server and connection the client's TCP connection goes to.
    pub conn: Option<(usize, ConnectionId)>,
    pub now: Instant,
    pub chunk: usize,
    /// A frozen server (SIGSTOP): it neither reads nor ticks; its socket buffers.
    pub frozen: Vec<bool>,
    /// A frozen client: it neither reads, writes nor ticks.
    pub client_frozen: bool,
    pub server_events: Vec<(Instant, usize, ServerEvent<Res>)>,
    pub client_events: Vec<(Instant, ClientEvent)>,
    /// When client bytes reached a server, and how many.
    pub delivered: Vec<(Instant, usize)>,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
}

impl Net {
    pub fn new(servers: Vec<ServerConfig>, client: ClientConfig, chunk: usize) -> Self {
        let n = servers.len();
        Net {
            servers: servers.into_iter().map(|c| Server::new(c).unwrap()).collect(),
            client: Client::new(client),
            conn: None,
            now: Instant::ZERO,
            chunk,
            frozen: vec![false; n],
            client_frozen: false,
            server_events: Vec::new(),
            client_events: Vec::new(),
            delivered: Vec::new(),
            c2s: Vec::new(),
            s2c: Vec::new(),
        }
    }

    /// Closes the TCP connection from the server's side (as after a server restart of the
    /// socket layer): both ends see it.
    pub fn drop_connection(&mut self) {
        if let Some((s, c)) = self.conn.take() {
            self.servers[s].on_disconnect(c, self.now);
            self.client.on_disconnect(self.now);
            self.c2s.clear();
            self.s2c.clear();
        }
    }

    /// Moves bytes and events until nothing moves.
    pub fn settle(&mut self) {
        let now = self.now;
        let mut buf = [0u8; 4096];
        for _ in 0..1000 {
            let mut moved = false;
            if !self.client_frozen {
                if let Some(target) = self.client.poll_connect() {
                    if let Some((s, c)) = self.conn.take() {
                        self.servers[s].on_disconnect(c, now);
                    }
                    self.c2s.clear();
                    self.s2c.clear();
                    let c = self.servers[target].accept().unwrap();
                    self.conn = Some((target, c));
                    moved = true;
                }
                loop {
                    let n = self.client.poll_transmit(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    self.c2s.extend_from_slice(&buf[..n]);
                    moved = true;
                }
            }
            if let Some((s, c)) = self.conn
                && !self.frozen[s]
            {
                if !self.c2s.is_empty() {
                    self.delivered.push((now, self.c2s.len()));
                    let bytes = std::mem::take(&mut self.c2s);
                    for chunk in bytes.chunks(self.chunk) {
                        let _ = self.servers[s].on_bytes(c, now, chunk);
                    }
                    moved = true;
                }
                loop {
                    let n = self.servers[s].poll_transmit(c, &mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    self.s2c.extend_from_slice(&buf[..n]);
                    moved = true;
                }
                if self.servers[s].wants_close(c) {
                    // Deliver what was sent before the FIN.
                    self.deliver_to_client(now);
                    self.conn = None;
                    self.servers[s].on_disconnect(c, now);
                    if !self.client_frozen {
                        self.client.on_disconnect(now);
                    }
                    moved = true;
                }
            }
            if !self.client_frozen && !self.s2c.is_empty() {
                self.deliver_to_client(now);
                moved = true;
            }
            for (i, s) in self.servers.iter_mut().enumerate() {
                while let Some(e) = s.poll_event() {
                    self.server_events.push((now, i, e));
                    moved = true;
                }
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push((now, e));
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the network did not settle at {now:?}");
    }

    fn deliver_to_client(&mut self, now: Instant) {
        let bytes = std::mem::take(&mut self.s2c);
        if self.client_frozen {
            return;
        }
        for chunk in bytes.chunks(self.chunk) {
            let _ = self.client.on_bytes(now, chunk);
        }
    }

    fn tick_all(&mut self) {
        let now = self.now;
        for (i, s) in self.servers.iter_mut().enumerate() {
            if !self.frozen[i] {
                s.tick(now);
            }
        }
        if !self.client_frozen {
            self.client.tick(now);
        }
        self.settle();
        // After tick(now) and a full drain, nothing asks to be called again at or before now.
        for (i, s) in self.servers.iter().enumerate() {
            if !self.frozen[i] {
                assert!(s.poll_timeout().is_none_or(|t| t > now), "server {i} busy-loops at {now:?}");
            }
        }
        if !self.client_frozen {
            assert!(self.client.poll_timeout().is_none_or(|t| t > now), "client busy-loops at {now:?}");
        }
    }

    /// Runs the machines at every deadline up to and including `until`, then ticks at `until`.
    pub fn run_until(&mut self, until: Instant) {
        self.settle();
        for _ in 0..100_000 {
            let mut next: Option<Instant> = None;
            for (i, s) in self.servers.iter().enumerate() {
                if !self.frozen[i]
                    && let Some(t) = s.poll_timeout()
                {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            if !self.client_frozen
                && let Some(t) = self.client.poll_timeout()
            {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.tick_all();
                }
                _ => break,
            }
        }
        self.now = until;
        self.tick_all();
    }

    pub fn client_events_of(&self, pred: impl Fn(&ClientEvent) -> bool) -> Vec<(Instant, ClientEvent)> {
        self.client_events.iter().filter(|(_, e)| pred(e)).cloned().collect()
    }
}
