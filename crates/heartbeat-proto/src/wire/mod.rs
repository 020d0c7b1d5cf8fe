//! Wire format v1: a fixed 72-byte big-endian header and an optional authentication trailer.
//!
//! Two levels, as in smoltcp: [`Frame`] is a zero-copy view over bytes with one getter and
//! setter per field and purely structural checks; [`Message`] is the validated representation,
//! with [`Message::parse`]/[`Message::decode`] and [`Message::emit`]/[`Message::encode`].
//! Decoding never panics: every malformed input is a [`DecodeError`]. Encoding never allocates
//! and fails without writing a byte if the buffer is short or a field is out of range.
//!
//! # Layout
//!
//! All integers are big-endian. Offsets are in bytes.
//!
//! | offset | size | field | rules |
//! |---:|---:|---|---|
//! | 0 | 2 | magic | `0x4842` (`"HB"`) |
//! | 2 | 1 | version | `1` |
//! | 3 | 1 | kind | `1` heartbeat, `2` goodbye; anything else is rejected |
//! | 4 | 1 | flags | bit 0 `ECHO`, bit 1 `HEARS_YOU`, bit 2 `AUTH`; bits 3–7 must be 0 |
//! | 5 | 1 | reserved | must be 0 |
//! | 6 | 2 | length | whole frame in bytes: 72 without `AUTH`, 76 + tag length with it |
//! | 8 | 4 | cluster id | frames of other clusters are ignored |
//! | 12 | 4 | generation | sender's incarnation; a restart sends a higher one |
//! | 16 | 8 | sender id | non-zero |
//! | 24 | 8 | receiver id | the node addressed; 0 = every node (multicast/broadcast); never the sender |
//! | 32 | 8 | sequence | +1 per heartbeat round within a generation |
//! | 40 | 8 | timestamp | sender's clock at sending, ns (opaque to the receiver, echoed back) |
//! | 48 | 8 | echo timestamp | the receiver's latest timestamp, ns; 0 unless `ECHO` |
//! | 56 | 4 | echo delay | µs the sender held that timestamp; 0 unless `ECHO` |
//! | 60 | 4 | interval | sender's heartbeat interval, µs; non-zero |
//! | 64 | 4 | requested timeout | the timeout the sender asks to be held to, µs; ≥ interval |
//! | 68 | 4 | applied timeout | the timeout the sender holds the receiver to, µs; 0 = not yet |
//! | 72 | 1 | auth scheme | only with `AUTH`: non-zero (1 = HMAC-SHA256) |
//! | 73 | 1 | key id | only with `AUTH`: which key of the ring |
//! | 74 | 1 | tag length | only with `AUTH`: 1..=32 |
//! | 75 | 1 | reserved | only with `AUTH`: must be 0 |
//! | 76 | n | tag | only with `AUTH`: covers bytes `0..76` |
//!
//! Flags:
//! - `ECHO` — the echo fields are valid: the receiver computes the round-trip time as
//!   `now − echo timestamp − echo delay`, so echoes ride on heartbeats instead of needing acks.
//! - `HEARS_YOU` — the sender currently hears the receiver: the path works both ways, in the
//!   spirit of BFD's Init/Up handshake.
//! - `AUTH` — an authentication trailer follows the header.
//!
//! A frame addressed to every node (receiver 0) carries no per-receiver information: `ECHO`,
//! `HEARS_YOU` and the applied timeout must all be clear.

mod error;
mod frame;
mod message;

use core::fmt;

pub use error::{DecodeError, EncodeError, Field};
pub use frame::{AuthTrailer, Frame};
pub use message::{AuthHeader, Echo, Kind, Message};

/// The magic number, `"HB"`.
pub const MAGIC: u16 = 0x4842;
/// The format version this module speaks.
pub const VERSION: u8 = 1;
/// Length of the fixed header, and of an unauthenticated frame.
pub const HEADER_LEN: usize = 72;
/// Length of the trailer's fixed part (scheme, key id, tag length, reserved).
pub const AUTH_PREAMBLE_LEN: usize = 4;
/// The longest tag a trailer may carry.
pub const MAX_TAG_LEN: usize = 32;
/// The longest valid frame: size receive and transmit buffers with it.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + AUTH_PREAMBLE_LEN + MAX_TAG_LEN;

/// Flag bits of byte 4.
pub mod flags {
    /// The echo fields are valid.
    pub const ECHO: u8 = 0x01;
    /// The sender hears the receiver.
    pub const HEARS_YOU: u8 = 0x02;
    /// An authentication trailer follows the header.
    pub const AUTH: u8 = 0x04;
    /// Every bit v1 defines; the others are reserved and must be zero.
    pub const KNOWN: u8 = ECHO | HEARS_YOU | AUTH;
}

/// A node's identity within a cluster. Never zero: zero on the wire means "every node".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(core::num::NonZeroU64);

impl NodeId {
    /// A node id, or `None` for zero.
    pub const fn new(id: u64) -> Option<NodeId> {
        match core::num::NonZeroU64::new(id) {
            Some(id) => Some(NodeId(id)),
            None => None,
        }
    }

    /// The id as an integer.
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A cluster: nodes of different clusters sharing a network ignore each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ClusterId(pub u32);

/// A node's incarnation. Each start of a node must use a higher generation than the last, as
/// Linux-HA's `hg`: a higher generation tells peers the node restarted, a lower one is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Generation(pub u32);

#[cfg(test)]
mod tests;
