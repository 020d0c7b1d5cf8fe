//! Heartbeats and failure detection as sans-IO state machines.
//!
//! This crate owns the heartbeat [wire format](wire) and the state machines that speak it:
//! a [`Sender`] that beacons heartbeats, a [`Monitor`] that watches N peers and reports when
//! they come [`Up`](EventKind::Up), turn [`Suspect`](EventKind::Suspect), go
//! [`Down`](EventKind::Down), [`Restart`](EventKind::Restarted) or [`Leave`](EventKind::Left),
//! and a [`Node`] that does both for symmetric clusters. It never reads a clock, never touches
//! a socket and needs no allocator: adapters (std, tokio, embassy) move bytes and time in and
//! out, nothing else.
//!
//! The core is one engine with several wire profiles. The [`engine`] module holds what they
//! share: datagram metadata in and out, the [`Observation`] a liveness profile's decoder hands the
//! [`Monitor`], and session and timer tables with stable handles. Wire v1 is the profile of
//! [`Node`], [`Sender`] and [`Monitor::on_message`]; [`bfd`] is BFD (RFC 5880/5881/5883), which
//! interoperates with routers' BFD daemons.
//!
//! The semantics follow two reference systems. From **Linux-HA Heartbeat**: a keepalive
//! interval, a warntime (`Suspect`), a deadtime (`Down`), a longer `initdead` at start-up, a
//! generation number that reveals restarts, goodbyes for graceful leaves, redundant links. From
//! **ZooKeeper**: timing in units of a basic `tick`, and timeouts negotiated by clamping the
//! sender's request into the receiver's `[2, 20]`-tick bounds.
//!
//! # Driving the state machine
//!
//! Inputs are [`Node::on_message`] (a datagram, with the [`LinkId`] it arrived on and, when the
//! adapter has it, its source address: a [`RecvMeta`]) and [`Node::tick`] (time passes).
//! Outputs are pulled: [`Node::poll_transmit`] writes the next frame into your buffer,
//! [`Node::poll_event`] returns the next liveness change, and [`Node::poll_timeout`] says when
//! to call `tick` next. The node keeps the address book: [`Node::targets`] says where each
//! frame goes (configured addresses, addresses learned from accepted frames, group addresses).
//! A driver loop is:
//!
//! 1. send every [`Transmit`] from `poll_transmit` until `None` (into a buffer of
//!    [`MAX_FRAME_LEN`] bytes, it never reports [`BufferTooSmall`]) to each of its
//!    [`Node::targets`];
//! 2. handle every [`Event`] from `poll_event` until `None`;
//! 3. wait for a datagram or for `poll_timeout`, whichever comes first;
//! 4. feed the datagram (if any) to `on_message`, then **always** call `tick` with the clock's
//!    current time, and go back to 1.
//!
//! **The drain rule**: drain both outputs after every input. `poll_timeout` returns the current
//! time while output is waiting, so a driver that forgets cannot sleep through it, and the
//! bounded event queue makes the machine refuse (and count) a message rather than lose an
//! event. After `tick(now)` and a full drain, `poll_timeout` is strictly later than `now`: the
//! machine never asks for a busy loop.
//!
//! **The time rule**: pass `now` from one monotonic clock, as an [`Instant`] (nanoseconds since
//! an epoch of your choosing). Time going backwards is treated as no progress: it cannot panic,
//! move a deadline or corrupt state. A peer is declared `Down` by the first `tick` at or after
//! its deadline — never a polling period later.
//!
//! **Bad input**: every malformed or unwelcome frame is refused with a typed [`Rejected`]
//! reason, leaves the state exactly as it was, and increments its own counter in
//! [`MonitorStats`].
//!
//! **Authentication** is part of the configuration and has no default: give a [`KeyRing`]
//! ([`Authentication::Hmac`]) and every frame is signed in `poll_transmit` and checked in
//! `on_message`, or choose [`Authentication::None`] explicitly for trusted networks. See the
//! [`auth`] module and `SECURITY.md`.
//!
//! # Example: two nodes in virtual time
//!
//! Node 1 and node 2 exchange heartbeats over a perfect, instant network; then node 2 crashes
//! and node 1 declares it down exactly at its last heartbeat plus the timeout.
//!
//! ```
//! use core::time::Duration;
//! use heartbeat_proto::{
//!     Authentication, ClusterId, Config, EventKind, FixedTimeout, Fixed, Instant, LinkId,
//!     MAX_FRAME_LEN, Node, NodeId,
//! };
//!
//! let id = |n| NodeId::new(n).unwrap();
//! let config = |me| {
//!     Config::builder(ClusterId(7), id(me))
//!         .tick(Duration::from_millis(100))
//!         .timeout(Duration::from_millis(600))
//!         .interval(Duration::from_millis(200))
//!         .seed(me)
//!         .authentication(Authentication::None)
//!         .build()
//! };
//! let start = Instant::ZERO;
//! let mut a: Node<FixedTimeout, Fixed<4>> = Node::new(config(1)?, FixedTimeout::new(), start);
//! let mut b: Node<FixedTimeout, Fixed<4>> = Node::new(config(2)?, FixedTimeout::new(), start);
//! a.add_peer(id(2))?;
//! b.add_peer(id(1))?;
//!
//! let mut buf = [0u8; MAX_FRAME_LEN];
//! let mut now = start;
//! let mut b_alive = true;
//! let mut down_at = None;
//! while now < Instant::from_secs(5) {
//!     a.tick(now);
//!     if b_alive {
//!         b.tick(now);
//!         // Deliver b's frames to a and a's to b, instantly.
//!         while let Some(t) = b.poll_transmit(&mut buf).transpose()? {
//!             a.on_message(now, LinkId(0), &buf[..t.len])?;
//!         }
//!     }
//!     while let Some(t) = a.poll_transmit(&mut buf).transpose()? {
//!         if b_alive {
//!             b.on_message(now, LinkId(0), &buf[..t.len])?;
//!         }
//!     }
//!     while let Some(event) = a.poll_event() {
//!         if let EventKind::Down { last_heard, deadline } = event.kind {
//!             // Declared at the deadline itself: the last heartbeat plus the timeout.
//!             assert_eq!(Some(deadline), last_heard.map(|t| t + Duration::from_millis(600)));
//!             assert_eq!(event.at, deadline);
//!             down_at = Some(event.at);
//!         }
//!     }
//!     while b.poll_event().is_some() {}
//!     if now >= Instant::from_secs(2) {
//!         b_alive = false; // b crashes: it neither sends nor receives any more
//!     }
//!     // Jump straight to the next deadline of whichever node is still running.
//!     let next = [a.poll_timeout(), b_alive.then(|| b.poll_timeout()).flatten()];
//!     now = next.into_iter().flatten().min().unwrap();
//! }
//! assert!(down_at.is_some());
//! assert_eq!(a.peer(id(2)).unwrap().liveness, heartbeat_proto::Liveness::Down);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `std` (default): `std::error::Error` for the error types; implies `alloc`.
//! - `alloc`: [`Growable`] peer tables backed by `Vec`.
//! - `bytes`: `Message::put`/`Message::get` for `BufMut`/`Buf`.
//! - `auth` (default): HMAC-SHA256 frame authentication ([`Authentication::Hmac`],
//!   [`KeyRing`]) with RustCrypto's `hmac` and `sha2`; no_std and no allocator, like the rest.
//! - `replay-state` (default): [`replay_state`], the versioned, checksummed encoding of replay
//!   watermarks that lets a restarted node keep refusing recorded frames (the `crc` crate).
//! - `bfd-auth` (default): BFD authentication keys ([`bfd::auth::BfdKey`]): simple password and
//!   (meticulous) keyed MD5 / SHA1 with RustCrypto's `md-5` and `sha1`. Without it no BFD key
//!   can be made, so a BFD session cannot be configured for authentication at all.
//! - `linuxha` (default): the [`linuxha`] profile's codec and `ha.cf` reader (Linux-HA
//!   Heartbeat 3.0.6); `linuxha-auth` (default) adds `authkeys`, signing and the profile.
//!
//! Without default features the crate is `no_std` with no allocator: use [`Fixed`] storage.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod auth;
mod beacon;
pub mod bfd;
mod config;
pub mod detector;
pub mod engine;
mod event;
#[cfg(feature = "linuxha")]
pub mod linuxha;
mod monitor;
mod node;
mod peers;
#[cfg(feature = "replay-state")]
pub mod replay_state;
mod sender;
mod storage;
mod time;
mod timer;
pub mod wire;

pub use auth::{AuthError, Authentication, KeyId};
#[cfg(feature = "auth")]
pub use auth::{Key, KeyRing};
pub use beacon::{Destination, Transmit};
pub use config::{Config, ConfigBuilder, ConfigError, FixedFieldError, Learning, MAX_LINKS, MAX_WIRE_DURATION};
pub use detector::{Adaptive, AkkaPhi, CassandraPhi, Chen, Detector, FixedTimeout, TwoWindow};
pub use engine::{BufferTooSmall, Observation, ObservationKind, RecvMeta, SendMeta};
#[cfg(feature = "explain")]
pub use event::{DeadlineSource, Evidence, Verdict};
pub use event::{EVENT_QUEUE_LEN, Event, EventKind};
pub use monitor::{Accepted, Monitor, MonitorStats, PeerError, Reachability, Rejected, ResumeError, Watermark};
pub use node::Node;
pub use peers::{LinkId, Liveness, PeerFootprint, PeerStats, PeerStatus, SEQUENCE_WINDOW};
pub use sender::Sender;
#[cfg(feature = "alloc")]
pub use storage::Growable;
pub use storage::{Buffer, Fixed, Storage};
pub use time::Instant;
pub use wire::{ClusterId, Generation, MAX_FRAME_LEN, Message, NodeId};
