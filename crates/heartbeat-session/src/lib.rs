//! A sans-IO session layer speaking ZooKeeper's session subset of the client protocol.
//!
//! Built on the engine of [`heartbeat_proto`] ([`SessionTable`](heartbeat_proto::engine::SessionTable)
//! handles, [`TimerTable`](heartbeat_proto::engine::TimerTable) deadlines, [`Instant`] time). Like
//! the core it never reads a clock, never touches a socket and never draws OS randomness: the
//! adapter feeds bytes and `now` in, and pulls bytes, events and the next deadline out.
//!
//! - [`jute`]: the wire codec (jute ints, longs, booleans, buffers; the connect, ping,
//!   closeSession and reply records) and, with `alloc`, a [`Framer`](jute::Framer) that cuts a
//!   TCP byte stream into length-prefixed frames or a four-letter word.
//! - [`server`] (feature `alloc`): the session table (create, touch in O(1), close, resume,
//!   expiry exact to the tick, owned resources, a server-pause guard) and the per-connection
//!   protocol machine.
//! - [`client`] (feature `alloc`): connect to one of N servers, ping at a third of the timeout,
//!   connection loss at two thirds, resume elsewhere with the same id and password, expiry.
//!
//! # The drain rule and the time rule
//!
//! As in the core: after every input (`on_bytes`, `tick`, ...) drain `poll_transmit` and
//! `poll_event`; call `tick` at `poll_timeout`. After `tick(now)` and a full drain,
//! `poll_timeout` is strictly later than `now`. Time going backwards counts as no progress.
//!
//! # Example: a client and a server over an in-memory "TCP"
//!
//! ```
//! # #[cfg(feature = "alloc")] {
//! use core::time::Duration;
//! use heartbeat_session::Instant;
//! use heartbeat_session::client::{Client, ClientConfig, ClientEvent};
//! use heartbeat_session::server::{Server, ServerConfig, ServerEvent};
//!
//! let mut server = Server::<&str>::new(ServerConfig::new(1, Duration::from_millis(500))).unwrap();
//! let mut client = Client::new(ClientConfig::new(1, Duration::from_millis(200)));
//! let now = Instant::ZERO;
//! client.connect(now);
//! assert_eq!(client.poll_connect(), Some(0)); // open TCP to server 0
//! let conn = server.accept().unwrap();
//!
//! let mut buf = [0u8; 256];
//! let n = client.poll_transmit(&mut buf).unwrap(); // the ConnectRequest
//! server.on_bytes(conn, now, &buf[..n]).unwrap();
//! let n = server.poll_transmit(conn, &mut buf).unwrap(); // the ConnectResponse
//! client.on_bytes(now, &buf[..n]).unwrap();
//!
//! // 200 ms asked, 1000 ms granted (2 × tickTime).
//! let Some(ServerEvent::Created { handle, timeout, .. }) = server.poll_event() else { panic!() };
//! assert_eq!(timeout, Duration::from_millis(1000));
//! assert_eq!(client.timeout(), Some(timeout));
//! assert!(matches!(client.poll_event(), Some(ClientEvent::Connected { server: 0, .. })));
//!
//! // The session owns a lock; nobody pings; it expires exactly one timeout later.
//! server.attach(handle, "/lock").unwrap();
//! assert_eq!(server.poll_timeout(), Some(Instant::from_millis(1000)));
//! server.tick(Instant::from_millis(1000));
//! assert!(matches!(server.poll_event(), Some(ServerEvent::Released { resource: "/lock", .. })));
//! assert!(matches!(server.poll_event(), Some(ServerEvent::Expired { .. })));
//! # }
//! ```

#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod jute;

#[cfg(feature = "alloc")]
pub mod client;
#[cfg(feature = "alloc")]
pub mod server;

pub use heartbeat_proto::Instant;
pub use heartbeat_proto::engine::BufferTooSmall;
