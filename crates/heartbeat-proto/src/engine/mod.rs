//! The wire-neutral engine: what every wire profile shares.
//!
//! - Datagram metadata in and out ([`RecvMeta`], [`SendMeta`]): the core, not the adapter, knows
//!   where a datagram came from and where one goes.
//! - [`Observation`]: what a profile's decoder hands the liveness engine about one peer.
//! - [`BufferTooSmall`]: every `poll_transmit` writes into a caller-owned `&mut [u8]` and says how
//!   many bytes it needs when that is too short, writing nothing.
//! - [`SessionTable`]: a slab of per-session records with stable, generation-checked
//!   [`SessionHandle`]s; O(1) insert, lookup and removal.
//! - [`TimerTable`]: a few timers per session (one per [`TimerKind`]), exact deadlines, the
//!   earliest first, O(log n) per change.
//!
//! All of it is `no_std`, needs no allocator with `Fixed` storage, and is public so that a
//! protocol of your own can be built on the same pieces the BFD profile uses:
//!
//! ```
//! use heartbeat_proto::engine::{SessionTable, TimerKind, TimerTable};
//! use heartbeat_proto::{Fixed, Instant};
//!
//! #[derive(Debug, Clone, Copy, PartialEq, Eq)]
//! enum Timer { Retry, Expire }
//!
//! impl TimerKind for Timer {
//!     const COUNT: usize = 2;
//!     fn index(self) -> usize { self as usize }
//!     fn from_index(i: usize) -> Option<Self> { [Timer::Retry, Timer::Expire].get(i).copied() }
//! }
//!
//! let mut sessions = SessionTable::<&str, Fixed<8>>::new();
//! let mut timers = TimerTable::<Timer, Fixed<8>, { Timer::COUNT }>::new();
//! let alice = sessions.insert("alice")?;
//! let bob = sessions.insert("bob")?;
//! timers.set(alice, Timer::Expire, Instant::from_millis(30))?;
//! timers.set(bob, Timer::Retry, Instant::from_millis(10))?;
//!
//! // Removing a session never renumbers another; its handle goes stale.
//! sessions.remove(bob);
//! timers.remove_session(bob);
//! assert_eq!(sessions.get(bob), None);
//!
//! // Fire what is due, earliest first, with exact deadlines.
//! assert_eq!(timers.next_timeout(), Some(Instant::from_millis(30)));
//! let (who, kind, at) = timers.pop_expired(Instant::from_millis(50)).unwrap();
//! assert_eq!((sessions.get(who), kind, at), (Some(&"alice"), Timer::Expire, Instant::from_millis(30)));
//! assert_eq!(timers.pop_expired(Instant::from_millis(50)), None);
//! # Ok::<(), heartbeat_proto::engine::TableFull>(())
//! ```

mod address_index;
mod machine;
mod sessions;
mod timers;

pub(crate) use address_index::AddressIndex;

pub use machine::Machine;
pub use sessions::{SessionHandle, SessionTable, TableFull};
pub use timers::{MAX_TIMER_KINDS, TimerKind, TimerTable};

mod observation;

use core::net::{IpAddr, SocketAddr};

pub use observation::{Observation, ObservationKind};

use crate::peers::LinkId;

/// How a datagram arrived: handed to a profile's `on_message` with the bytes.
///
/// Anything that says where a datagram came from converts into it: a [`LinkId`] alone (no
/// source address, as in-memory tests and simulators have) or a [`SocketAddr`] alone (link 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// The link (socket) it arrived on.
    pub link: LinkId,
    /// Its source address and port, when the adapter has one. The core records it as the
    /// peer's address on `link` once the frame is accepted, unless one was configured.
    pub source: Option<SocketAddr>,
    /// The local address it was sent to, when the adapter can tell (`IP_PKTINFO`).
    pub local: Option<IpAddr>,
    /// Its IPv4 TTL or IPv6 hop limit, when the adapter can tell (`IP_RECVTTL`).
    pub ttl: Option<u8>,
}

impl RecvMeta {
    /// A datagram from `source` on `link`; nothing else known.
    pub const fn new(link: LinkId, source: SocketAddr) -> Self {
        RecvMeta { link, source: Some(source), local: None, ttl: None }
    }
}

impl From<LinkId> for RecvMeta {
    /// A datagram on `link` from an unknown source.
    fn from(link: LinkId) -> Self {
        RecvMeta { link, source: None, local: None, ttl: None }
    }
}

impl From<SocketAddr> for RecvMeta {
    /// A datagram from `source` on link 0.
    fn from(source: SocketAddr) -> Self {
        RecvMeta::new(LinkId(0), source)
    }
}

/// Where a datagram written by `poll_transmit` goes, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct SendMeta {
    /// The link (socket) to send it on.
    pub link: LinkId,
    /// Its destination address and port.
    pub destination: SocketAddr,
    /// The TTL / hop limit it must carry, if the profile requires one (BFD single hop: 255).
    pub ttl: Option<u8>,
    /// How many bytes of the buffer it occupies.
    pub len: usize,
}

/// The caller's buffer is too short for the next datagram; nothing was written and the datagram
/// is still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("buffer too small: {need} bytes needed, {have} given")]
pub struct BufferTooSmall {
    /// Bytes the datagram needs.
    pub need: usize,
    /// Bytes the buffer has.
    pub have: usize,
}
