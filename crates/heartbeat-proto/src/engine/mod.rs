//! The wire-neutral engine: what every wire profile shares.
//!
//! - Datagram metadata in and out ([`RecvMeta`], [`SendMeta`]): the core, not the adapter, knows
//!   where a datagram came from and where one goes.
//! - [`Observation`]: what a profile's decoder hands the liveness engine about one peer.
//! - [`BufferTooSmall`]: every `poll_transmit` writes into a caller-owned `&mut [u8]` and says how
//!   many bytes it needs when that is too short, writing nothing.

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
