//! A delay-and-jitter relay between two lab hosts on one link, in the switch namespace (the
//! kernel here has no netem). Each datagram waits `delay ± jitter` (uniform, drawn per
//! datagram), so jitter larger than the gap between datagrams reorders them, as on a real path.
//!
//! Host A is configured to reach B at [`JitterRelay::face_a`] and B to reach A at
//! [`JitterRelay::face_b`]; what A sends to `face_a` leaves `face_b` towards B, so B sees
//! A's frames come from the address it sends A's to.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{RELAY_HOST, address};
use crate::netns::{Namespace, Result, io_error};

#[derive(Debug, Default)]
struct Knobs {
    delay_us: AtomicU64,
    jitter_us: AtomicU64,
    forwarded: AtomicU64,
    stop: AtomicBool,
}

/// A running relay; stops when dropped.
#[derive(Debug)]
pub struct JitterRelay {
    face_a: SocketAddr,
    face_b: SocketAddr,
    knobs: Arc<Knobs>,
    threads: Vec<JoinHandle<()>>,
}

impl JitterRelay {
    /// Relays between `a` and `b` (hosts' addresses on one link) from two sockets bound in
    /// `switch` on that link's relay address; `seed` drives the jitter draws.
    pub fn start(switch: &Namespace, a: SocketAddr, b: SocketAddr, seed: u64) -> Result<JitterRelay> {
        let SocketAddr::V4(v4) = a else { panic!("the lab is IPv4") };
        let link = usize::from(v4.ip().octets()[2]);
        let ip = address(usize::from(RELAY_HOST), link);
        let (face_a, face_b) = switch
            .within(|| -> std::io::Result<(UdpSocket, UdpSocket)> {
                Ok((UdpSocket::bind((ip, 0))?, UdpSocket::bind((ip, 0))?))
            })?
            .map_err(io_error("cannot bind the relay's sockets"))?;
        for s in [&face_a, &face_b] {
            s.set_read_timeout(Some(Duration::from_micros(500))).map_err(io_error("relay socket"))?;
        }
        let addrs = (
            face_a.local_addr().map_err(io_error("relay address"))?,
            face_b.local_addr().map_err(io_error("relay address"))?,
        );
        let knobs = Arc::new(Knobs::default());
        let (face_a, face_b) = (Arc::new(face_a), Arc::new(face_b));
        let mut threads = Vec::new();
        for (from, to, target, seed) in [(&face_a, &face_b, b, seed), (&face_b, &face_a, a, seed.rotate_left(17))] {
            let (from, to, knobs) = (Arc::clone(from), Arc::clone(to), Arc::clone(&knobs));
            let mut rng = seed | 1;
            threads.push(std::thread::spawn(move || forward(&from, &to, target, &knobs, &mut rng)));
        }
        Ok(JitterRelay { face_a: addrs.0, face_b: addrs.1, knobs, threads })
    }

    /// Where A sends to reach B.
    pub fn face_a(&self) -> SocketAddr {
        self.face_a
    }

    /// Where B sends to reach A.
    pub fn face_b(&self) -> SocketAddr {
        self.face_b
    }

    /// Delays each datagram by `delay` plus a uniform draw from `[-jitter, +jitter]` (never
    /// below zero), one way.
    pub fn set(&self, delay: Duration, jitter: Duration) {
        self.knobs.delay_us.store(delay.as_micros() as u64, Ordering::Relaxed);
        self.knobs.jitter_us.store(jitter.as_micros() as u64, Ordering::Relaxed);
    }

    /// Datagrams forwarded so far, both ways.
    pub fn forwarded(&self) -> u64 {
        self.knobs.forwarded.load(Ordering::Relaxed)
    }
}

impl Drop for JitterRelay {
    fn drop(&mut self) {
        self.knobs.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn forward(from: &UdpSocket, to: &UdpSocket, target: SocketAddr, knobs: &Knobs, rng: &mut u64) {
    // Earliest due first; the sequence number keeps equal due times in arrival order.
    let mut queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut buf = [0u8; 2048];
    while !knobs.stop.load(Ordering::Relaxed) {
        if let Ok((len, _)) = from.recv_from(&mut buf) {
            let delay = knobs.delay_us.load(Ordering::Relaxed) as i64;
            let jitter = knobs.jitter_us.load(Ordering::Relaxed) as i64;
            let offset = if jitter > 0 { (xorshift(rng) % (2 * jitter as u64 + 1)) as i64 - jitter } else { 0 };
            let wait = Duration::from_micros((delay + offset).max(0) as u64);
            queue.push(Reverse((Instant::now() + wait, seq, buf[..len].to_vec())));
            seq += 1;
        }
        while queue.peek().is_some_and(|Reverse((due, _, _))| *due <= Instant::now()) {
            if let Some(Reverse((_, _, bytes))) = queue.pop() {
                let _ = to.send_to(&bytes, target);
                knobs.forwarded.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
