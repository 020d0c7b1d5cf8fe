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
