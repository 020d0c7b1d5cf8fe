//! Linux-HA Heartbeat 3.0.6 as a wire profile on the [engine](crate::engine).
//!
//! Heartbeat's messages as its own nodes exchange them (facts from the 3.0.6 / cluster-glue
//! sources and captures of the real daemon):
//!
//! - [`message`]: an ordered list of `(name, type, value)` [`Field`]s, decoded without
//!   allocation as views into the datagram; numbers in the encodings Heartbeat uses (`seq`,
//!   `hg`, `ts`, `dt`, `ackseq` lower-case hex; `ttl`, `protocol` decimal).
//! - Framings: [`Message::decode`] reads the **netstring** framing (`###\n` ... `%%%\n` and an
//!   authentication netstring; what 3.0.6 sends) and the **classic** one (`>>>\n` lines
//!   `<<<\n`, authenticated by its `auth` field; also accepted by 3.0.6). Every malformation is
//!   a typed [`DecodeError`]; decoding never panics.
//! - [`auth`] (feature `linuxha-auth`): an unmodified `authkeys` ([`parse_authkeys`]; sha1 and
//!   md5 HMAC, crc), [`Message::verify`] with any defined key index, and
//!   [`encode_netstring`] / [`encode_classic`] signing with the selected one.
//! - [`config`]: an existing `ha.cf` ([`HaCf::parse`]) with Heartbeat's defaults.
//! - [`profile`] (feature `linuxha-auth`): an authenticated `t=status` (or `t=shutdone`) as an
//!   [`Observation`](crate::Observation) for [`Monitor::observe`](crate::Monitor::observe), node
//!   names mapped to [`NodeId`](crate::NodeId)s by a [`NodeNames`] table, and our own status
//!   heartbeat built in the field order Heartbeat uses.
//!
//! # Example: a real daemon's heartbeat as an observation
//!
//! ```
//! # #[cfg(feature = "linuxha-auth")] {
//! use core::time::Duration;
//! use heartbeat_proto::linuxha::{HaCf, LinuxHa, parse_authkeys};
//! use heartbeat_proto::{Generation, NodeId};
//!
//! let cf = HaCf::parse("keepalive 500ms\ndeadtime 2\nnode hbnode1 hbnode2\n")?;
//! let keys = parse_authkeys("auth 1\n1 sha1 lha-test-secret\n")?;
//! let mut hb2 = LinuxHa::<4>::from_ha_cf(&cf, "hbnode2", keys.clone(), Generation(3))?;
//! let hb1 = LinuxHa::<4>::from_ha_cf(&cf, "hbnode1", keys, Generation(7))?;
//!
//! let mut buf = [0u8; 512];
//! let len = hb2.encode_status("active", 0x6b076859, "0.66 0.54 0.24 1/108 15849", &mut buf)?;
//! assert!(buf.starts_with(b"###\n11:(0)t=status,12:(0)st=active,9:(0)dt=7d0,"));
//!
//! let obs = hb1.observation(&buf[..len])?; // decoded, authenticated, translated
//! assert_eq!(obs.peer, NodeId::new(2).unwrap());
//! assert_eq!((obs.generation, obs.sequence), (Generation(3), 1));
//! assert_eq!(obs.requested_timeout, Duration::from_secs(2));
//! // Hand it to `Monitor::observe`; a forged copy never gets that far.
//! buf[20] ^= 1;
//! assert!(hb1.observation(&buf[..len]).is_err());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`node`] (feature `linuxha-auth`): [`LinuxHaNode`], a whole cluster member (monitor,
//!   profile and our own heartbeat) as an [`engine::Machine`](crate::engine::Machine).
//!
//! - [`rexmit`] (feature `linuxha-auth`): the history of our sequenced messages and the
//!   per-node sequence tracker behind retransmission (`NS_rexmit`, `NS_nak_rexmit`).
//!
//! Not here (yet): per-medium link status.

pub mod message;

mod classic;
pub mod config;
mod netstring;
pub mod resources;

#[cfg(feature = "linuxha-auth")]
pub mod auth;
#[cfg(feature = "linuxha-auth")]
mod encode;
#[cfg(feature = "linuxha-auth")]
pub mod node;
#[cfg(feature = "linuxha-auth")]
pub mod profile;
#[cfg(feature = "linuxha-auth")]
pub mod rexmit;

#[cfg(all(test, feature = "linuxha-auth"))]
mod tests;
#[cfg(all(test, feature = "linuxha-auth"))]
mod wire_tests;

pub use config::{AutoFailback, ConfigError, HaCf, Medium};
pub use message::{Field, FieldError, FieldType, Framing, MAX_FIELDS, Message, Value};

#[cfg(feature = "linuxha-auth")]
pub use auth::{AuthError, AuthKeys, AuthKeysError, MethodKind, check_mode, parse_authkeys};
#[cfg(all(feature = "linuxha-auth", feature = "std", unix))]
pub use auth::{ReadAuthKeysError, read_authkeys};
#[cfg(feature = "linuxha-auth")]
pub use encode::{encode_classic, encode_netstring};
#[cfg(feature = "linuxha-auth")]
pub use node::{Handled, LinuxHaNode, SeqRefusal, WireStats};
#[cfg(feature = "linuxha-auth")]
pub use profile::{
    Control, Incoming, LinuxHa, NodeNames, ProfileStats, Rejection, Status, StatusKind, next_generation,
};

/// The largest datagram accepted or produced (a UDP payload).
pub const MAX_MESSAGE_LEN: usize = 65_507;

/// The name of the inner authentication field.
pub const AUTH_FIELD: &str = "auth";

/// Why a datagram is not a well-formed Heartbeat message (offsets are into the datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Starts with neither `###\n` nor `>>>\n`.
    #[error("neither netstring nor classic framing")]
    UnknownFraming,
    /// Longer than [`MAX_MESSAGE_LEN`].
    #[error("message of {0} bytes is too long")]
    TooLong(usize),
    /// A netstring length that is not 1 to 5 decimal digits followed by `:`.
    #[error("bad netstring length at {at}")]
    BadLength {
        /// Where the netstring starts.
        at: usize,
    },
    /// A netstring longer than the rest of the datagram.
    #[error("netstring at {at} runs past the end")]
    LengthOverrun {
        /// Where the netstring starts.
        at: usize,
    },
    /// A netstring not closed by `,`.
    #[error("missing `,` at {at}")]
    MissingComma {
        /// Where the comma should be.
        at: usize,
    },
    /// No `%%%\n` (netstring) or `<<<\n` (classic) before the end.
    #[error("missing end of fields")]
    MissingEnd,
    /// Netstring framing without the authentication netstring after `%%%\n`.
    #[error("missing authentication netstring")]
    MissingTrailer,
    /// Bytes after the end of the message.
    #[error("trailing bytes at {at}")]
    TrailingBytes {
        /// Where they start.
        at: usize,
    },
    /// A field type prefix that is not `(<0..5>)`.
    #[error("bad field type tag at {at}")]
    BadTypeTag {
        /// The field.
        at: usize,
    },
    /// A field without `=`.
    #[error("field without `=` at {at}")]
    MissingEquals {
        /// The field.
        at: usize,
    },
    /// A field with an empty name.
    #[error("field with an empty name at {at}")]
    EmptyName {
        /// The field.
        at: usize,
    },
    /// A name, string value or authenticator that is not UTF-8.
    #[error("text that is not UTF-8 at {at}")]
    NotUtf8 {
        /// The field.
        at: usize,
    },
    /// A classic binary field whose value is not standard padded base64.
    #[error("bad base64 at {at}")]
    BadBase64 {
        /// The field.
        at: usize,
    },
    /// A second field of the same name.
    #[error("duplicate field at {at}")]
    DuplicateField {
        /// The second one.
        at: usize,
    },
    /// More than [`MAX_FIELDS`] fields.
    #[error("more than {MAX_FIELDS} fields")]
    TooManyFields,
}

/// Why a field list could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The buffer is too short (`need` is exact).
    #[error(transparent)]
    BufferTooSmall(#[from] crate::engine::BufferTooSmall),
    /// A name that is empty, starts with `(` or contains `=` or a newline.
    #[error("bad field name")]
    BadName,
    /// A text value with a newline, or binary base64 that does not decode.
    #[error("bad field value")]
    BadValue,
    /// Two fields of one name, or an `auth` field (the encoder adds it).
    #[error("duplicate or reserved field")]
    DuplicateField,
    /// More fields than a decoder accepts.
    #[error("too many fields")]
    TooManyFields,
    /// A field type without classic text, so no inner `auth` can be computed.
    #[error("field type {0:?} cannot be authenticated")]
    Unrepresentable(FieldType),
}
