//! Tokio TCP drivers for the ZooKeeper-style session layer of [`heartbeat_session`]: a
//! [`SessionServer`] that holds sessions for many client connections, and a [`SessionClient`]
//! that keeps one session alive against a list of servers. They are the async twins of
//! `heartbeat_std`'s blocking drivers and share their option and event types
//! ([`ServerOptions`], [`ClientOptions`], [`SessionEvent`], [`TcpStats`]).
//!
//! They move bytes and time, nothing else: framing (with its length cap, refused before any
//! allocation), negotiation, expiry, resume and every answer are the sans-IO machines'. The
//! server's machine lives on one task that sleeps until the machine's `poll_timeout`, compares
//! the clock with it itself, and then calls `tick`; each connection has a small task that
//! reads into a fixed buffer and writes what the machine queued. What the driver bounds
//! itself, as the blocking one does: connections at once ([`ServerOptions::max_connections`]),
//! bytes queued towards a client that does not read ([`ServerOptions::max_buffered`]), and the
//! time a connection may stay without a session ([`ServerOptions::handshake_timeout`]). A bad
//! frame, a silent or trickling connection, or a refused session closes that connection only.
//!
//! Events go out on an unbounded channel: none is ever dropped.
//!
//! # Example: a session on loopback
//!
//! ```
//! use std::time::Duration;
//! use heartbeat_session::client::ClientEvent;
//! use heartbeat_session::server::ServerConfig;
//! use heartbeat_tokio::session::{ClientOptions, ServerOptions, SessionClient, SessionEvent, SessionServer};
//! use heartbeat_tokio::tokio_clock;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ServerConfig::new(1, Duration::from_millis(100)); // timeouts 200 ms ..= 2 s
//! let server = SessionServer::bind("127.0.0.1:0".parse()?, config, ServerOptions::default(), tokio_clock()).await?;
//! let addr = server.local_addr();
//! let (server, mut server_events) = server.spawn();
//!
//! let client = SessionClient::new(vec![addr], ClientOptions::new(Duration::from_millis(300)), server.clock())?;
//! let (client, mut client_events) = client.spawn();
//! let connected = client_events.recv().await;
//! assert!(matches!(connected, Some(ClientEvent::Connected { timeout, .. }) if timeout == Duration::from_millis(300)));
//! assert!(matches!(server_events.recv().await, Some(SessionEvent::Created { .. })));
//!
//! client.close();
//! assert!(matches!(client_events.recv().await, Some(ClientEvent::Closed)));
//! assert!(matches!(server_events.recv().await, Some(SessionEvent::Closed { .. })));
//! server.stop().await;
//! # Ok(())
//! # }
//! ```

mod client;
mod deadline;
mod server;

pub use client::{SessionClient, SessionClientHandle};
pub use heartbeat_std::session::{ClientOptions, ServerOptions, SessionEvent, TcpStats};
pub use server::{ServerStatus, SessionServer, SessionServerHandle};
