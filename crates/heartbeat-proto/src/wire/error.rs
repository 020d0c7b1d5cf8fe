//! Typed codec errors. Every one of them leaves the caller's buffers and state as they were.

/// Why a byte buffer is not a valid v1 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The buffer ends before the header (or the declared length) does.
    #[error("truncated frame: {len} bytes, {needed} needed")]
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes the header or the length field requires.
        needed: usize,
    },
    /// The first two bytes are not the magic number.
    #[error("bad magic {0:#06x}")]
    BadMagic(u16),
    /// A version this implementation does not speak.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// A message kind this version does not define.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// A reserved flag bit or the reserved byte is not zero.
    #[error("reserved bits set")]
    ReservedBitsSet,
    /// The length field is impossible for the flags: without AUTH it must be exactly the
    /// header's length, with AUTH at least the header's and the trailer preamble's. (A length
    /// field shorter than the buffer is reported as [`TrailingBytes`](Self::TrailingBytes).)
    #[error("impossible length field {declared}")]
    BadLength {
        /// The length field's value.
        declared: usize,
    },
    /// The buffer holds bytes after the frame's declared end.
    #[error("{actual} bytes present but the frame declares {declared}")]
    TrailingBytes {
        /// The length field's value.
        declared: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The AUTH flag is set but the trailer is malformed (scheme 0, reserved byte set, tag
    /// length 0 or above [`MAX_TAG_LEN`](super::MAX_TAG_LEN), or inconsistent with the length).
    #[error("malformed authentication trailer")]
    BadAuthTrailer,
    /// A field holds a value the format forbids.
    #[error("field {0:?} out of range")]
    FieldOutOfRange(Field),
}

/// Why a message could not be encoded. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is shorter than the frame.
    #[error("buffer too small: {required} bytes required, {available} available")]
    BufferTooSmall {
        /// Bytes the frame needs.
        required: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A field cannot be represented on the wire (see [`Field`]).
    #[error("field {0:?} out of range")]
    FieldOutOfRange(Field),
}

/// A header field whose value can be out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The sender id is 0, which names nobody.
    Sender,
    /// The receiver equals the sender.
    Receiver,
    /// The interval is 0 or does not fit 32 bits of microseconds.
    Interval,
    /// The requested timeout is below the interval or does not fit 32 bits of microseconds.
    RequestedTimeout,
    /// The applied timeout does not fit, or is set on a frame addressed to every node.
    AppliedTimeout,
    /// Echo fields are set without the ECHO flag, do not fit, or sit on a frame addressed to
    /// every node.
    Echo,
    /// The HEARS_YOU flag is set on a frame addressed to every node.
    HearsYou,
    /// The authentication trailer's tag length is 0 or above the maximum.
    AuthTag,
}
