//! BFD, Bidirectional Forwarding Detection (RFC 5880, 5881, 5882, 5883), asynchronous mode: the
//! second wire profile on the engine, interoperable with routers' BFD daemons.
//!
//! Data flows one way: bytes → [`packet`] (a view and a validated [`ControlPacket`]) →
//! demultiplexing to a session (Your Discriminator, else source address and link) → the
//! session's TTL policy → [`auth`] (digest and sequence window) → the session's state machine
//! → events, transmits and the session's timers (next transmission, detection, forgetting the
//! authentication sequence).
//!
//! Modules:
//! - [`packet`]: the control packet codec (24-byte mandatory section and authentication section).
//! - [`auth`]: simple password, keyed and meticulous keyed MD5 and SHA1 (§6.7), sequence windows.
//! - [`session`]: one session's state machine (§6.2, §6.5, §6.8).
//! - [`host`]: a table of sessions driven by `tick(now)` and `on_message(...)`.
//!
//! Echo and demand mode are not implemented (see [`session`]).
//!
//! # Example: two hosts come Up in virtual time
//!
//! ```
//! use core::net::{IpAddr, Ipv4Addr, SocketAddr};
//! use heartbeat_proto::bfd::{BfdHost, SessionConfig, State, packet::MAX_PACKET_LEN};
//! use heartbeat_proto::engine::RecvMeta;
//! use heartbeat_proto::{Fixed, Instant, LinkId};
//!
//! let (ip_a, ip_b) = (IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)), IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)));
//! let mut a = BfdHost::<Fixed<4>>::new(1, Instant::ZERO);
//! let mut b = BfdHost::<Fixed<4>>::new(2, Instant::ZERO);
//! let sa = a.add_session(SessionConfig::new(ip_b, LinkId(0)))?;
//! let sb = b.add_session(SessionConfig::new(ip_a, LinkId(0)))?;
//!
//! let mut buf = [0u8; MAX_PACKET_LEN];
//! let mut now = Instant::ZERO;
//! while now < Instant::from_secs(3) {
//!     a.tick(now);
//!     b.tick(now);
//!     // A perfect, instant network, until both are quiet. The adapter reports the received
//!     // TTL: single-hop sessions only take 255.
//!     let mut moved = true;
//!     while moved {
//!         moved = false;
//!         while let Some(Ok((_, send))) = a.poll_transmit(&mut buf) {
//!             let meta = RecvMeta { ttl: Some(255), ..RecvMeta::from(SocketAddr::new(ip_a, 49152)) };
//!             let _ = b.on_message(now, &meta, &buf[..send.len]);
//!             moved = true;
//!         }
//!         while let Some(Ok((_, send))) = b.poll_transmit(&mut buf) {
//!             let meta = RecvMeta { ttl: Some(255), ..RecvMeta::from(SocketAddr::new(ip_b, 49152)) };
//!             let _ = a.on_message(now, &meta, &buf[..send.len]);
//!             moved = true;
//!         }
//!     }
//!     while a.poll_event().is_some() {}
//!     while b.poll_event().is_some() {}
//!     now = a.poll_timeout().into_iter().chain(b.poll_timeout()).min().unwrap();
//! }
//! assert_eq!(a.session(sa).unwrap().state, State::Up);
//! assert_eq!(b.session(sb).unwrap().state, State::Up);
//! # Ok::<(), heartbeat_proto::bfd::ConfigError>(())
//! ```

pub mod auth;
pub mod host;
pub mod packet;
pub mod session;

pub use host::{
    Accepted, BFD_EVENT_QUEUE_LEN, BfdEvent, BfdEventKind, BfdHost, Hop, HostStats, MAX_SESSIONS, MULTI_HOP_PORT,
    SINGLE_HOP_PORT, SessionConfig, TX_TTL,
};
pub use packet::{ControlPacket, Diag, PacketError, State};
pub use session::{
    ConfigError, RejectStats, Rejected, SLOW_TX_INTERVAL, Session, SessionStats, SessionStatus, SessionTimer, Timing,
};
