//! The jute encoding of ZooKeeper's session subset.
//!
//! jute writes an `int` as 4 bytes big-endian, a `long` as 8 bytes big-endian, a `boolean` as one
//! byte (0 or 1) and a `buffer` as an `int` length (−1 for null) followed by the bytes. Over TCP
//! every record is preceded by its length as a 4-byte big-endian `int` (see [`Framer`]).
//!
//! [`Reader`] decodes without copying out of a `&[u8]`; [`Writer`] encodes into a caller's
//! `&mut [u8]`. Every failure is a typed [`DecodeError`] or [`BufferTooSmall`]; nothing panics.

mod codec;
#[cfg(feature = "alloc")]
mod framer;
mod records;

pub use codec::{DecodeError, Reader, Writer};
#[cfg(feature = "alloc")]
pub use framer::{DEFAULT_MAX_FRAME_LEN, Frame, FrameError, Framer};
pub use records::{
    CLOSE_SESSION_OP, ConnectRequest, ConnectResponse, ErrorCode, NOTIFICATION_XID, PASSWORD_LEN, PING_OP, PING_XID,
    ReplyHeader, RequestHeader, frame_into,
};

pub use crate::BufferTooSmall;
