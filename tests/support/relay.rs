//! A userspace impairment relay for tests over real UDP sockets (the kernel here has no netem):
//! it sits on a path between two endpoints and drops, delays or cuts what crosses it.
//!
//! ```text
//!   A ──▶ relay.face_a() ─┐           ┌─▶ B
//!   A ◀───────────────────┘ (relay)  └── relay.face_b() ◀── B
//! ```
//!
//! A sends to [`Relay::face_a`] and the relay forwards it to B from `face_b`; B sends to
//! [`Relay::face_b`] and the relay forwards it to A from `face_a`. Each side sees the relay's
//! face as the other's address.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The impairments in force; changed at any time from the test.
#[derive(Debug, Default)]
struct Impairment {
    /// Drop probability in parts per million.
    loss_ppm: AtomicU32,
    /// One-way delay in microseconds.
    delay_us: AtomicU64,
    /// Drop everything.
    cut: AtomicBool,
    stop: AtomicBool,
}

/// What crossed the relay, per direction.
#[derive(Debug, Default)]
struct Counters {
    forwarded: AtomicU64,
    dropped: AtomicU64,
}

/// A running relay; stops when dropped.
pub struct Relay {
    face_a: SocketAddr,
    face_b: SocketAddr,
    impairment: Arc<Impairment>,
    counters: Arc<Counters>,
    threads: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Relays between `a` and `b`, both on loopback; `seed` drives the loss pattern.
    pub fn start(a: SocketAddr, b: SocketAddr, seed: u64) -> io::Result<Relay> {
        let bind = |peer: SocketAddr| UdpSocket::bind(SocketAddr::new(peer.ip(), 0));
        let (face_a, face_b) = (bind(a)?, bind(b)?);
        // Short read timeouts bound how long a stop or a due delayed datagram waits.
        face_a.set_read_timeout(Some(Duration::from_millis(2)))?;
        face_b.set_read_timeout(Some(Duration::from_millis(2)))?;
        let impairment = Arc::new(Impairment::default());
        let counters = Arc::new(Counters::default());
        let addrs = (face_a.local_addr()?, face_b.local_addr()?);
        let (face_a, face_b) = (Arc::new(face_a), Arc::new(face_b));
        let mut threads = Vec::new();
        for (from, to, target, seed) in [(&face_a, &face_b, b, seed), (&face_b, &face_a, a, seed ^ 0x9E37_79B9)] {
            let forward = Forward {
                from: Arc::clone(from),
                to: Arc::clone(to),
                target,
                impairment: Arc::clone(&impairment),
                counters: Arc::clone(&counters),
                rng: seed | 1,
            };
            threads.push(std::thread::spawn(move || forward.run()));
        }
        Ok(Relay { face_a: addrs.0, face_b: addrs.1, impairment, counters, threads })
    }

    /// Where A sends to reach B through the relay.
    pub fn face_a(&self) -> SocketAddr {
        self.face_a
    }

    /// Where B sends to reach A through the relay.
    pub fn face_b(&self) -> SocketAddr {
        self.face_b
    }

    /// Drops each datagram with probability `p` (in `[0, 1]`).
    pub fn set_loss(&self, p: f64) {
        self.impairment.loss_ppm.store((p.clamp(0.0, 1.0) * 1e6) as u32, Ordering::Relaxed);
    }

    /// Delays each datagram by `d`, one way.
    pub fn set_delay(&self, d: Duration) {
        self.impairment.delay_us.store(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Drops everything (`true`) or nothing beyond the loss rate (`false`).
    pub fn cut(&self, yes: bool) {
        self.impairment.cut.store(yes, Ordering::Relaxed);
    }

    /// Datagrams forwarded and dropped so far, both directions together.
    pub fn counts(&self) -> (u64, u64) {
        (self.counters.forwarded.load(Ordering::Relaxed), self.counters.dropped.load(Ordering::Relaxed))
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.impairment.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// One direction of the relay.
struct Forward {
    from: Arc<UdpSocket>,
    to: Arc<UdpSocket>,
    target: SocketAddr,
    impairment: Arc<Impairment>,
    counters: Arc<Counters>,
    rng: u64,
}

impl Forward {
    fn run(mut self) {
        let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        let mut buf = [0u8; 2048];
        while !self.impairment.stop.load(Ordering::Relaxed) {
            if let Ok((len, _)) = self.from.recv_from(&mut buf) {
                if self.drops() {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                } else {
                    let delay = Duration::from_micros(self.impairment.delay_us.load(Ordering::Relaxed));
                    queue.push_back((Instant::now() + delay, buf[..len].to_vec()));
                }
            }
            while queue.front().is_some_and(|(due, _)| *due <= Instant::now()) {
                if let Some((_, bytes)) = queue.pop_front() {
                    let _ = self.to.send_to(&bytes, self.target);
                    self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn drops(&mut self) -> bool {
        if self.impairment.cut.load(Ordering::Relaxed) {
            return true;
        }
        // xorshift64: a reproducible loss pattern per seed.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1_000_000) < u64::from(self.impairment.loss_ppm.load(Ordering::Relaxed))
    }
}
