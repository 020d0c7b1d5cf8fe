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
