//! Blocking TCP drivers for the ZooKeeper-style session layer of [`heartbeat_session`]: a
//! [`SessionServer`] that holds sessions for many client connections, and a [`SessionClient`]
//! that keeps one session alive against a list of servers.
//!
//! Like the UDP drivers they move bytes and time and nothing else: every decision (timeout
//! negotiation, expiry, resume, what to answer) is the sans-IO machine's. The server waits with
//! `poll(2)` on its listener, every connection and a [`PreciseTimer`](crate::PreciseTimer)
//! armed for the machine's next deadline, so a session expires within microseconds of
//! `last touch + timeout` (ZooKeeper rounds up to its next tick).
//!
//! What the driver bounds itself: the number of connections ([`ServerOptions::max_connections`];
//! more are accepted and closed at once), the bytes queued towards one client
//! ([`ServerOptions::max_buffered`]; a client that does not read is dropped), and how long a
//! connection may stay without a session ([`ServerOptions::handshake_timeout`]; a connection
//! that sends nothing, or trickles its ConnectRequest, is closed). A bound connection that
//! trickles gets nothing from it: only whole frames touch a session, which then expires.
//!
//! Costs: each turn polls every connection and looks at each one's output, O(connections).
//!
//! # Example: a session on loopback
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use heartbeat_session::client::ClientEvent;
//! use heartbeat_session::server::ServerConfig;
//! use heartbeat_std::Clock;
//! use heartbeat_std::session::{ClientOptions, ServerOptions, SessionClient, SessionEvent, SessionServer};
//!
//! let config = ServerConfig::new(1, Duration::from_millis(100)); // timeouts 200 ms ..= 2 s
//! let server = SessionServer::bind("127.0.0.1:0".parse()?, config, ServerOptions::default(), Clock::new())?;
//! let (tx, events) = mpsc::channel();
//! let server = server.spawn(move |e| { let _ = tx.send(e); })?;
//!
//! let options = ClientOptions::new(Duration::from_millis(300));
//! let mut client = SessionClient::new(vec![server.local_addr()], options, server.clock())?;
//! let mut seen = Vec::new();
//! client.connect(&mut |e| seen.push(e));
//! while seen.is_empty() {
//!     client.turn(Some(Duration::from_millis(50)), &mut |e| seen.push(e));
//! }
//! assert!(matches!(seen[0], ClientEvent::Connected { timeout, .. } if timeout == Duration::from_millis(300)));
//! assert!(matches!(events.recv_timeout(Duration::from_secs(5))?, SessionEvent::Created { .. }));
//!
//! client.close(&mut |_| {});
//! assert!(client.run_for(Duration::from_secs(1), &mut |_| {}));
//! assert!(matches!(events.recv_timeout(Duration::from_secs(5))?, SessionEvent::Closed { .. }));
//! server.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod server;
mod thread;

pub use client::{ClientOptions, SessionClient};
pub use server::{ServerOptions, SessionEvent, SessionRow, SessionServer, SessionStatus, TcpStats};
pub use thread::ServerHandle;

use std::io::{self, Write};
use std::net::TcpStream;

/// Writes as much of `pending` as the socket takes now; an error means the connection is gone.
fn write_pending(stream: &mut TcpStream, pending: &mut Vec<u8>) -> io::Result<()> {
    while !pending.is_empty() {
        match stream.write(pending) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
