//! BFD, Bidirectional Forwarding Detection (RFC 5880, 5881, 5882, 5883), asynchronous mode: the
//! second wire profile on the engine, interoperable with routers' BFD daemons.
//!
//! Data flows one way: bytes → [`packet`] (a view and a validated [`ControlPacket`]) →
//! demultiplexing to a session (Your Discriminator, else source address and link) →
//! [`auth`] (digest and sequence window) → the session's state machine → events, transmits and
//! the session's two timers (next transmission, detection).
//!
//! Modules:
//! - [`packet`]: the control packet codec (24-byte mandatory section and authentication section).
//! - [`auth`]: simple password, keyed and meticulous keyed MD5 and SHA1 (§6.7), sequence windows.
//! - [`session`]: one session's state machine (§6.2, §6.5, §6.8).
//! - [`host`]: a table of sessions driven by `tick(now)` and `on_message(...)`.

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
