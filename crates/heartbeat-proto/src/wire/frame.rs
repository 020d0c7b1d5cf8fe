//! The zero-copy level: a [`Frame`] view over a byte buffer, with one getter (and setter) per
//! field. Checks here are structural only — length, magic, version, kind, reserved bits and the
//! trailer's layout; field values are judged by [`Message::parse`](super::Message::parse).

use super::{AUTH_PREAMBLE_LEN, DecodeError, HEADER_LEN, Kind, MAGIC, MAX_TAG_LEN, VERSION, flags};

/// Byte ranges of every field in the fixed header and the authentication trailer.
pub(crate) mod field {
    use core::ops::Range;

    pub(crate) const MAGIC: Range<usize> = 0..2;
    pub(crate) const VERSION: usize = 2;
    pub(crate) const KIND: usize = 3;
    pub(crate) const FLAGS: usize = 4;
    pub(crate) const RESERVED: usize = 5;
    pub(crate) const LENGTH: Range<usize> = 6..8;
    pub(crate) const CLUSTER: Range<usize> = 8..12;
    pub(crate) const GENERATION: Range<usize> = 12..16;
    pub(crate) const SENDER: Range<usize> = 16..24;
    pub(crate) const RECEIVER: Range<usize> = 24..32;
    pub(crate) const SEQUENCE: Range<usize> = 32..40;
    pub(crate) const TIMESTAMP: Range<usize> = 40..48;
    pub(crate) const ECHO_TIMESTAMP: Range<usize> = 48..56;
    pub(crate) const ECHO_DELAY: Range<usize> = 56..60;
    pub(crate) const INTERVAL: Range<usize> = 60..64;
    pub(crate) const REQUESTED_TIMEOUT: Range<usize> = 64..68;
    pub(crate) const APPLIED_TIMEOUT: Range<usize> = 68..72;

    // Authentication trailer, present when the AUTH flag is set.
    pub(crate) const AUTH_SCHEME: usize = 72;
    pub(crate) const AUTH_KEY_ID: usize = 73;
    pub(crate) const AUTH_TAG_LEN: usize = 74;
    pub(crate) const AUTH_RESERVED: usize = 75;
    pub(crate) const AUTH_TAG: usize = 76;
}

/// A read (and, for mutable buffers, write) view of one frame.
///
/// `Frame::new_checked` guarantees that every getter stays in bounds; `new_unchecked` does not,
/// and its getters may panic on a short buffer, so use it only on buffers you sized yourself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

macro_rules! get_be {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $range:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> $ty {
            let bytes = &self.buffer.as_ref()[$range];
            let mut raw = [0u8; core::mem::size_of::<$ty>()];
            raw.copy_from_slice(bytes);
            <$ty>::from_be_bytes(raw)
        }
    };
}

macro_rules! set_be {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $range:expr) => {
        $(#[$doc])*
        pub fn $name(&mut self, value: $ty) {
            self.buffer.as_mut()[$range].copy_from_slice(&value.to_be_bytes());
        }
    };
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps a buffer after [`check`](Self::check)ing its structure.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let frame = Frame::new_unchecked(buffer);
        frame.check()?;
        Ok(frame)
    }

    /// Checks that the buffer holds exactly one structurally valid frame: the whole header,
    /// the right magic, version and kind, no reserved bit set, a length field equal to the
    /// buffer's length, and (with the AUTH flag) a well-formed trailer.
    pub fn check(&self) -> Result<(), DecodeError> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(DecodeError::Truncated { len: data.len(), needed: HEADER_LEN });
        }
        if self.magic() != MAGIC {
            return Err(DecodeError::BadMagic(self.magic()));
        }
        if self.version() != VERSION {
            return Err(DecodeError::UnsupportedVersion(self.version()));
        }
        if Kind::from_wire(self.kind_raw()).is_none() {
            return Err(DecodeError::UnknownKind(self.kind_raw()));
        }
        if self.flags() & !flags::KNOWN != 0 || data[field::RESERVED] != 0 {
            return Err(DecodeError::ReservedBitsSet);
        }
        let declared = usize::from(self.length());
        if declared > data.len() {
            return Err(DecodeError::Truncated { len: data.len(), needed: declared });
        }
        if declared < data.len() {
            return Err(DecodeError::TrailingBytes { declared, actual: data.len() });
        }
        if self.flags() & flags::AUTH == 0 {
            if declared != HEADER_LEN {
                return Err(DecodeError::BadLength { declared });
            }
            return Ok(());
        }
        if declared < HEADER_LEN + AUTH_PREAMBLE_LEN {
            return Err(DecodeError::BadLength { declared });
        }
        let tag_len = usize::from(data[field::AUTH_TAG_LEN]);
        let trailer_ok = data[field::AUTH_SCHEME] != 0
            && data[field::AUTH_RESERVED] == 0
            && (1..=MAX_TAG_LEN).contains(&tag_len)
            && declared == field::AUTH_TAG + tag_len;
        if !trailer_ok {
            return Err(DecodeError::BadAuthTrailer);
        }
        Ok(())
    }

    /// Gives back the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole frame as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    get_be!(
        /// Bytes 0–1: the magic number, [`MAGIC`].
        magic, u16, field::MAGIC);

    /// Byte 2: the format version.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }

    /// Byte 3: the message kind, raw.
    pub fn kind_raw(&self) -> u8 {
        self.buffer.as_ref()[field::KIND]
    }

    /// Byte 4: the flag bits, raw (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    get_be!(
        /// Bytes 6–7: the total frame length in bytes, trailer included.
        length, u16, field::LENGTH);
    get_be!(
        /// Bytes 8–11: the cluster id.
        cluster, u32, field::CLUSTER);
    get_be!(
        /// Bytes 12–15: the sender's generation (incarnation).
        generation, u32, field::GENERATION);
    get_be!(
        /// Bytes 16–23: the sender's node id.
        sender, u64, field::SENDER);
    get_be!(
        /// Bytes 24–31: the node id this frame is addressed to; 0 for every node.
        receiver, u64, field::RECEIVER);
    get_be!(
        /// Bytes 32–39: the sender's sequence number.
        sequence, u64, field::SEQUENCE);
    get_be!(
        /// Bytes 40–47: the sender's clock at sending, in nanoseconds.
        timestamp, u64, field::TIMESTAMP);
    get_be!(
        /// Bytes 48–55: the receiver's timestamp being echoed back, in nanoseconds.
        echo_timestamp, u64, field::ECHO_TIMESTAMP);
    get_be!(
        /// Bytes 56–59: how long the sender held the echoed timestamp, in microseconds.
        echo_delay_us, u32, field::ECHO_DELAY);
    get_be!(
        /// Bytes 60–63: the sender's heartbeat interval, in microseconds.
        interval_us, u32, field::INTERVAL);
    get_be!(
        /// Bytes 64–67: the timeout the sender asks to be held to, in microseconds.
        requested_timeout_us, u32, field::REQUESTED_TIMEOUT);
    get_be!(
        /// Bytes 68–71: the timeout the sender applies to the receiver, in microseconds; 0 if
        /// none yet.
        applied_timeout_us, u32, field::APPLIED_TIMEOUT);

    /// The authentication trailer, if the AUTH flag is set. Only meaningful on a checked frame.
    ///
    /// Never panics: on a buffer too short for the trailer it names, the answer is `None`.
    pub fn auth_trailer(&self) -> Option<AuthTrailer<'_>> {
        let data = self.buffer.as_ref();
        if data.get(field::FLAGS)? & flags::AUTH == 0 {
            return None;
        }
        let tag_len = usize::from(*data.get(field::AUTH_TAG_LEN)?);
        Some(AuthTrailer {
            scheme: data[field::AUTH_SCHEME],
            key_id: data[field::AUTH_KEY_ID],
            tag: data.get(field::AUTH_TAG..field::AUTH_TAG + tag_len)?,
        })
    }

    /// The bytes an authentication tag covers: the header and the trailer's preamble, that is
    /// everything before the tag. Only meaningful on a checked frame with the AUTH flag set.
    pub fn authenticated_bytes(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        &data[..field::AUTH_TAG.min(data.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    set_be!(
        /// Sets bytes 0–1.
        set_magic, u16, field::MAGIC);

    /// Sets byte 2.
    pub fn set_version(&mut self, value: u8) {
        self.buffer.as_mut()[field::VERSION] = value;
    }

    /// Sets byte 3.
    pub fn set_kind_raw(&mut self, value: u8) {
        self.buffer.as_mut()[field::KIND] = value;
    }

    /// Sets byte 4 and clears the reserved byte 5.
    pub fn set_flags(&mut self, value: u8) {
        let data = self.buffer.as_mut();
        data[field::FLAGS] = value;
        data[field::RESERVED] = 0;
    }

    set_be!(
        /// Sets bytes 6–7.
        set_length, u16, field::LENGTH);
    set_be!(
        /// Sets bytes 8–11.
        set_cluster, u32, field::CLUSTER);
    set_be!(
        /// Sets bytes 12–15.
        set_generation, u32, field::GENERATION);
    set_be!(
        /// Sets bytes 16–23.
        set_sender, u64, field::SENDER);
    set_be!(
        /// Sets bytes 24–31.
        set_receiver, u64, field::RECEIVER);
    set_be!(
        /// Sets bytes 32–39.
        set_sequence, u64, field::SEQUENCE);
    set_be!(
        /// Sets bytes 40–47.
        set_timestamp, u64, field::TIMESTAMP);
    set_be!(
        /// Sets bytes 48–55.
        set_echo_timestamp, u64, field::ECHO_TIMESTAMP);
    set_be!(
        /// Sets bytes 56–59.
        set_echo_delay_us, u32, field::ECHO_DELAY);
    set_be!(
        /// Sets bytes 60–63.
        set_interval_us, u32, field::INTERVAL);
    set_be!(
        /// Sets bytes 64–67.
        set_requested_timeout_us, u32, field::REQUESTED_TIMEOUT);
    set_be!(
        /// Sets bytes 68–71.
        set_applied_timeout_us, u32, field::APPLIED_TIMEOUT);

    /// Writes the trailer's preamble (scheme, key id, tag length, reserved byte); the tag bytes
    /// that follow are left to the caller through [`tag_mut`](Self::tag_mut).
    pub fn set_auth_preamble(&mut self, scheme: u8, key_id: u8, tag_len: u8) {
        let data = self.buffer.as_mut();
        data[field::AUTH_SCHEME] = scheme;
        data[field::AUTH_KEY_ID] = key_id;
        data[field::AUTH_TAG_LEN] = tag_len;
        data[field::AUTH_RESERVED] = 0;
    }

    /// The tag bytes of the trailer, to be filled in by an authenticator. Empty without the
    /// AUTH flag.
    pub fn tag_mut(&mut self) -> &mut [u8] {
        let declared = usize::from(self.length());
        let data = self.buffer.as_mut();
        let end = declared.min(data.len());
        let start = field::AUTH_TAG.min(end);
        &mut data[start..end]
    }
}

/// A view of the authentication trailer: which scheme and key produced the tag, and the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTrailer<'a> {
    /// The authentication scheme (1 is HMAC-SHA256; 0 is never valid).
    pub scheme: u8,
    /// Which key of the cluster's key ring produced the tag.
    pub key_id: u8,
    /// The tag itself.
    pub tag: &'a [u8],
}
