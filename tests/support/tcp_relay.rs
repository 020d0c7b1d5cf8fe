//! A TCP relay on loopback between clients and one server: it dates the client's bytes as it
//! forwards them (what the server last heard, and when, seen from outside the server), counts
//! connections, and can black-hole both directions.
//!
//! ```text
//!   client ──▶ relay.addr() ──▶ target (a ZooKeeper member, our server)
//! ```
//!
//! Each accepted connection gets its own connection to the target and two copying threads; an
//! end of stream on one side is passed on as a half close of the other, so a killed client
//! looks the same to the server as without the relay. Stops (closing everything) when dropped.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// What the relay's threads share.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    black_hole: AtomicBool,
    accepted: AtomicU64,
    upstream_bytes: AtomicU64,
    /// When client bytes were last written towards the target.
    last_upstream: Mutex<Option<(Instant, SystemTime)>>,
}

/// A running relay towards one target.
pub struct TcpRelay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl TcpRelay {
    /// Listens on a free loopback port and relays every connection to `target`.
    pub fn start(target: SocketAddr) -> io::Result<TcpRelay> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let state = Arc::clone(&shared);
        let acceptor = std::thread::spawn(move || accept_loop(listener, target, state));
        Ok(TcpRelay { addr, shared, acceptor: Some(acceptor) })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Client bytes forwarded to the target so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.upstream_bytes.load(Ordering::SeqCst)
    }

    /// When client bytes were last forwarded (dated just before the write towards the target),
    /// on the monotonic and the wall clock.
    pub fn last_upstream(&self) -> Option<(Instant, SystemTime)> {
        *self.shared.last_upstream.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Discards everything read from either side (`true`), or forwards again (`false`).
    pub fn black_hole(&self, yes: bool) {
        self.shared.black_hole.store(yes, Ordering::SeqCst);
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    let mut copiers = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(1)) else {
                    // The target is down: the client sees its connection closed.
                    continue;
                };
                for (from, to, upstream) in [(&client, &server, true), (&server, &client, false)] {
                    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else { continue };
                    let shared = Arc::clone(&shared);
                    copiers.push(std::thread::spawn(move || copy(from, to, upstream, &shared)));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
        copiers.retain(|c: &JoinHandle<()>| !c.is_finished());
    }
    for copier in copiers {
        let _ = copier.join();
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream, upstream: bool, shared: &Shared) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let _ = to.set_nodelay(true);
    let mut buf = [0u8; 16 * 1024];
    while !shared.stop.load(Ordering::SeqCst) {
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if shared.black_hole.load(Ordering::SeqCst) {
                    continue;
                }
                if upstream {
                    // Dated before the write: the target cannot have read the bytes earlier.
                    let now = (Instant::now(), SystemTime::now());
                    *shared.last_upstream.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
                }
                if to.write_all(&buf[..n]).is_err() {
                    let _ = from.shutdown(Shutdown::Both);
                    return;
                }
                if upstream {
                    shared.upstream_bytes.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
