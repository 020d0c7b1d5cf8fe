//! BFD control packets (RFC 5880 §4.1): a zero-copy view over bytes and a validated
//! representation with `parse` and `emit`.
//!
//! Two levels, as in the v1 [`wire`](crate::wire) codec: [`Packet`] is a view with one getter
//! (and setter) per field; [`ControlPacket`] is the validated representation.
//! [`ControlPacket::parse`] runs every check of §6.8.6 that needs no session state, each failure
//! its own [`PacketError`], and never panics. [`ControlPacket::emit`] writes into a caller-owned
//! buffer and writes nothing when it is too short.
//!
//! # Layout
//!
//! Big-endian; offsets in bytes.
//!
//! | offset | size | field | rules enforced by `parse` |
//! |---:|---:|---|---|
//! | 0 | 1 | Vers (3 bits) · Diag (5 bits) | version 1; any diag (`0x1F` mask) |
//! | 1 | 1 | Sta (2 bits) · P F C A D M | M clear; not both P and F |
//! | 2 | 1 | Detect Mult | non-zero |
//! | 3 | 1 | Length | ≥ 24 (≥ 26 with A); ≤ bytes given; = 24 + Auth Len with A, 24 without |
//! | 4 | 4 | My Discriminator | non-zero |
//! | 8 | 4 | Your Discriminator | any (0 = unknown) |
//! | 12 | 4 | Desired Min TX Interval, µs | any |
//! | 16 | 4 | Required Min RX Interval, µs | any |
//! | 20 | 4 | Required Min Echo RX Interval, µs | any |
//! | 24 | 1 | Auth Type (only with A) | 1..=5 |
//! | 25 | 1 | Auth Len | simple password 4..=19, (meticulous) keyed MD5 24, (meticulous) keyed SHA1 28 |
//! | 26 | 1 | Auth Key ID | any |
//! | 27 | n | Password (type 1) | the password, `Auth Len − 3` bytes |
//! | 27 | 1 | Reserved (types 2–5) | 0 |
//! | 28 | 4 | Sequence Number (types 2–5) | any |
//! | 32 | 16/20 | Digest (types 2–5) | checked by [`auth`](super::auth), not here |
//!
//! # Beyond the RFC's list
//!
//! - **P and F both set** is rejected ([`PacketError::PollAndFinal`]). §6.5 says a sender MUST
//!   NOT set both and gives the receiver no rule; BIRD and holo discard such packets, and so do
//!   we: the packet asks to start a poll and to end one at once, and no meaning of it is safe.
//! - **Length longer than the sections it declares** is rejected
//!   ([`PacketError::LengthBeyondSections`]): without A the Length must be exactly 24, with A
//!   exactly 24 + Auth Len. §4.1 defines Length as the packet's length, and a packet is the
//!   mandatory section and the authentication section, nothing between or after; bytes inside
//!   Length that belong to no section would be covered by a digest yet mean nothing.
//! - **Bytes after Length** inside the UDP payload are ignored: only `Length` bytes are the
//!   packet (§6.8.6 only rejects a Length *longer* than the payload), which leaves room for
//!   padding such as RFC 9764's.
//!
//! Checks that need a session (Your Discriminator lookup, Your Discriminator 0 with state Up or
//! Init, the session's auth type, the password or digest, the sequence window) belong to the
//! session and [`auth`](super::auth).

use core::fmt;

use super::auth::AuthType;
use crate::engine::BufferTooSmall;

/// Bytes of the mandatory section.
pub const HEADER_LEN: usize = 24;
/// The longest packet this implementation emits or accepts: the mandatory section and the
/// longest authentication section (keyed SHA1: 28 bytes).
pub const MAX_PACKET_LEN: usize = HEADER_LEN + 28;
/// The only version defined.
pub const VERSION: u8 = 1;
/// The shortest authentication section: Auth Type and Auth Len.
pub const MIN_AUTH_LEN: usize = 2;

/// Byte offsets and ranges of every field.
pub(crate) mod field {
    use core::ops::Range;

    pub(crate) const VERS_DIAG: usize = 0;
    pub(crate) const STA_FLAGS: usize = 1;
    pub(crate) const DETECT_MULT: usize = 2;
    pub(crate) const LENGTH: usize = 3;
    pub(crate) const MY_DISCRIMINATOR: Range<usize> = 4..8;
    pub(crate) const YOUR_DISCRIMINATOR: Range<usize> = 8..12;
    pub(crate) const DESIRED_MIN_TX: Range<usize> = 12..16;
    pub(crate) const REQUIRED_MIN_RX: Range<usize> = 16..20;
    pub(crate) const REQUIRED_MIN_ECHO_RX: Range<usize> = 20..24;

    // Authentication section, present when the A bit is set.
    pub(crate) const AUTH_TYPE: usize = 24;
    pub(crate) const AUTH_LEN: usize = 25;
    pub(crate) const AUTH_KEY_ID: usize = 26;
    /// Simple password: the password starts here.
    pub(crate) const AUTH_PASSWORD: usize = 27;
    /// Keyed MD5 / SHA1: a reserved byte, the sequence number, then the digest.
    pub(crate) const AUTH_RESERVED: usize = 27;
    pub(crate) const AUTH_SEQUENCE: Range<usize> = 28..32;
    pub(crate) const AUTH_DIGEST: usize = 32;
}

/// The flag bits of byte 1 (below the two state bits).
pub mod flags {
    /// P: Poll.
    pub const POLL: u8 = 0x20;
    /// F: Final.
    pub const FINAL: u8 = 0x10;
    /// C: Control Plane Independent.
    pub const CONTROL_PLANE_INDEPENDENT: u8 = 0x08;
    /// A: Authentication Present.
    pub const AUTH: u8 = 0x04;
    /// D: Demand.
    pub const DEMAND: u8 = 0x02;
    /// M: Multipoint; reserved, must be clear.
    pub const MULTIPOINT: u8 = 0x01;
    /// Every flag bit.
    pub const ALL: u8 = 0x3F;
}

/// A session state (§4.1 `Sta`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Held down administratively.
    AdminDown = 0,
    /// Down.
    Down = 1,
    /// Init: the peer's Down was heard.
    Init = 2,
    /// Up.
    Up = 3,
}

impl State {
    /// The state in the two low bits of `bits` (higher bits are ignored): every value is a state.
    pub const fn from_bits(bits: u8) -> State {
        match bits & 0x03 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    /// The state's two-bit code.
    pub const fn to_bits(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::AdminDown => "AdminDown",
            State::Down => "Down",
            State::Init => "Init",
            State::Up => "Up",
        })
    }
}

/// A diagnostic code (§4.1 `Diag`, 5 bits). Codes without a name are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Diag(pub u8);

impl Diag {
    /// 0: No Diagnostic.
    pub const NONE: Diag = Diag(0);
    /// 1: Control Detection Time Expired.
    pub const CONTROL_DETECTION_TIME_EXPIRED: Diag = Diag(1);
    /// 2: Echo Function Failed.
    pub const ECHO_FUNCTION_FAILED: Diag = Diag(2);
    /// 3: Neighbor Signaled Session Down.
    pub const NEIGHBOR_SIGNALED_DOWN: Diag = Diag(3);
    /// 4: Forwarding Plane Reset.
    pub const FORWARDING_PLANE_RESET: Diag = Diag(4);
    /// 5: Path Down.
    pub const PATH_DOWN: Diag = Diag(5);
    /// 6: Concatenated Path Down.
    pub const CONCATENATED_PATH_DOWN: Diag = Diag(6);
    /// 7: Administratively Down.
    pub const ADMINISTRATIVELY_DOWN: Diag = Diag(7);
    /// 8: Reverse Concatenated Path Down.
    pub const REVERSE_CONCATENATED_PATH_DOWN: Diag = Diag(8);
    /// 9: Mis-Connectivity Defect (RFC 6428, registered by IANA after RFC 5880).
    pub const MIS_CONNECTIVITY_DEFECT: Diag = Diag(9);
    /// The field's mask: a diag is 5 bits.
    pub const MASK: u8 = 0x1F;

    /// The registered name of the code, or `None` for a reserved one (10..=31).
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "No Diagnostic",
            1 => "Control Detection Time Expired",
            2 => "Echo Function Failed",
            3 => "Neighbor Signaled Session Down",
            4 => "Forwarding Plane Reset",
            5 => "Path Down",
            6 => "Concatenated Path Down",
            7 => "Administratively Down",
            8 => "Reverse Concatenated Path Down",
            9 => "Mis-Connectivity Defect",
            _ => return None,
        })
    }
}

impl fmt::Display for Diag {
    /// The registered name, or `reserved diag N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "reserved diag {}", self.0),
        }
    }
}

/// The authentication section's header as carried in a packet (§4.2); the password or digest
/// itself stays in the bytes and is checked by [`crate::bfd::auth`].
///
/// `len` is the Auth Len field: the whole section's length, Auth Type and Auth Len bytes
/// included. It is fixed for the keyed types (24 for MD5, 28 for SHA1, see
/// [`AuthType::section_len`]) and `3 + password length` for a simple password.
/// [`BfdKeys::section`](super::auth::BfdKeys::section) builds the right one for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthSection {
    /// Auth Type.
    pub auth_type: AuthType,
    /// Auth Len: the section's length in bytes.
    pub len: u8,
    /// Auth Key ID.
    pub key_id: u8,
    /// The sequence number (0 for simple password, which has none on the wire).
    pub sequence: u32,
}

impl AuthSection {
    /// The section of a keyed (MD5 or SHA1, plain or meticulous) type, whose length is fixed;
    /// `None` for the simple password, whose length depends on the password.
    pub const fn keyed(auth_type: AuthType, key_id: u8, sequence: u32) -> Option<AuthSection> {
        match auth_type.section_len() {
            Some(len) => Some(AuthSection { auth_type, len, key_id, sequence }),
            None => None,
        }
    }

    /// The section of a simple password of `password_len` bytes (1..=16), or `None` outside
    /// that range.
    pub const fn simple_password(key_id: u8, password_len: usize) -> Option<AuthSection> {
        if password_len == 0 || password_len > MAX_PASSWORD_LEN {
            return None;
        }
        // At most 3 + 16, which fits a byte.
        let len = (SIMPLE_PASSWORD_OVERHEAD + password_len) as u8;
        Some(AuthSection { auth_type: AuthType::SimplePassword, len, key_id, sequence: 0 })
    }
}

/// The longest simple password (§4.2.2).
pub const MAX_PASSWORD_LEN: usize = 16;
/// Bytes of a simple-password section before the password: Auth Type, Auth Len, Auth Key ID.
pub const SIMPLE_PASSWORD_OVERHEAD: usize = 3;

/// A validated control packet. Intervals are in microseconds, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlPacket {
    /// Diagnostic (5 bits; [`emit`](Self::emit) drops higher bits).
    pub diag: Diag,
    /// The sender's session state.
    pub state: State,
    /// P: Poll.
    pub poll: bool,
    /// F: Final.
    pub final_: bool,
    /// C: Control Plane Independent.
    pub control_plane_independent: bool,
    /// D: Demand.
    pub demand: bool,
    /// Detect Mult (nonzero).
    pub detect_mult: u8,
    /// My Discriminator (nonzero).
    pub my_discriminator: u32,
    /// Your Discriminator (0 if unknown).
    pub your_discriminator: u32,
    /// Desired Min TX Interval, µs.
    pub desired_min_tx: u32,
    /// Required Min RX Interval, µs.
    pub required_min_rx: u32,
    /// Required Min Echo RX Interval, µs.
    pub required_min_echo_rx: u32,
    /// The authentication section's header, when the A bit is set.
    pub auth: Option<AuthSection>,
}

/// Why bytes are not a BFD control packet that passes the structural checks of §6.8.6.
///
/// The variants follow the RFC's order, which is also the order `parse` checks in, so a packet
/// with several faults reports the first. A rejected packet changes no state anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// The payload is too short to hold even the Length field (4 bytes). A payload of 1 to 3
    /// bytes has its version checked first.
    #[error("truncated: {len} bytes, no Length field")]
    Truncated {
        /// Bytes given.
        len: usize,
    },
    /// Vers is not 1.
    #[error("version {0}, only 1 is defined")]
    BadVersion(u8),
    /// Length is below 24, or below 26 with the A bit set.
    #[error("Length {length} below the minimum {minimum}")]
    LengthTooShort {
        /// The Length field.
        length: u8,
        /// 24 without the A bit, 26 with it.
        minimum: u8,
    },
    /// Length is longer than the UDP payload.
    #[error("Length {length} but only {payload} bytes of payload")]
    LengthExceedsPayload {
        /// The Length field.
        length: u8,
        /// Bytes given.
        payload: usize,
    },
    /// Detect Mult is 0.
    #[error("Detect Mult 0")]
    ZeroDetectMult,
    /// The M (Multipoint) bit is set.
    #[error("M (Multipoint) bit set")]
    Multipoint,
    /// My Discriminator is 0.
    #[error("My Discriminator 0")]
    ZeroMyDiscriminator,
    /// P and F are both set, which a sender MUST NOT do (§6.5); see the module documentation.
    #[error("P and F both set")]
    PollAndFinal,
    /// Auth Type 0 or 6..=255: reserved.
    #[error("reserved Auth Type {0}")]
    UnknownAuthType(u8),
    /// Auth Len does not fit the Auth Type: 4..=19 for a simple password, 24 for (meticulous)
    /// keyed MD5, 28 for (meticulous) keyed SHA1.
    #[error("Auth Len {auth_len} is wrong for {auth_type:?}")]
    BadAuthLen {
        /// The Auth Type.
        auth_type: AuthType,
        /// The Auth Len field.
        auth_len: u8,
    },
    /// The authentication section runs past Length: 24 + Auth Len > Length.
    #[error("Auth Len {auth_len} runs past Length {length}")]
    AuthPastLength {
        /// The Auth Len field.
        auth_len: u8,
        /// The Length field.
        length: u8,
    },
    /// Length is longer than the sections it declares (24 without A, 24 + Auth Len with it).
    #[error("Length {length} but the sections end at {end}")]
    LengthBeyondSections {
        /// The Length field.
        length: u8,
        /// Where the mandatory and authentication sections end.
        end: u8,
    },
    /// The reserved byte of a keyed MD5 or SHA1 section is not 0.
    #[error("reserved byte {0:#04x} of the authentication section is not 0")]
    AuthReservedNonZero(u8),
}

/// A read (and, for mutable buffers, write) view of one control packet.
///
/// [`Packet::new_checked`] guarantees that every getter stays in bounds (and that the packet
/// passes [`check`](Self::check)); [`new_unchecked`](Self::new_unchecked) does not, and its
/// getters may panic on a short buffer, so use it only on buffers you sized yourself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

macro_rules! get_u32 {
    ($(#[$doc:meta])* $name:ident, $range:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> u32 {
            let mut raw = [0u8; 4];
            raw.copy_from_slice(&self.buffer.as_ref()[$range]);
            u32::from_be_bytes(raw)
        }
    };
}

macro_rules! set_u32 {
    ($(#[$doc:meta])* $name:ident, $range:expr) => {
        $(#[$doc])*
        pub fn $name(&mut self, value: u32) {
            self.buffer.as_mut()[$range].copy_from_slice(&value.to_be_bytes());
        }
    };
}

macro_rules! flag {
    ($(#[$doc:meta])* $name:ident, $bit:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> bool {
            self.flags() & $bit != 0
        }
    };
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer (a UDP payload) after [`check`](Self::check)ing it.
    pub fn new_checked(buffer: T) -> Result<Self, PacketError> {
        let packet = Packet::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    /// Runs every structural check of §6.8.6 (see [`PacketError`] for the list, in order).
    /// The buffer is the whole UDP payload; bytes after Length are ignored.
    pub fn check(&self) -> Result<(), PacketError> {
        let data = self.buffer.as_ref();
        let Some(&first) = data.first() else {
            return Err(PacketError::Truncated { len: 0 });
        };
        let version = first >> 5;
        if version != VERSION {
            return Err(PacketError::BadVersion(version));
        }
        if data.len() <= field::LENGTH {
            return Err(PacketError::Truncated { len: data.len() });
        }
        let length = data[field::LENGTH];
        let auth = data[field::STA_FLAGS] & flags::AUTH != 0;
        let minimum = if auth { HEADER_LEN + MIN_AUTH_LEN } else { HEADER_LEN };
        if usize::from(length) < minimum {
            // `minimum` is 24 or 26.
            return Err(PacketError::LengthTooShort { length, minimum: minimum as u8 });
        }
        if usize::from(length) > data.len() {
            return Err(PacketError::LengthExceedsPayload { length, payload: data.len() });
        }
        // From here on the buffer holds at least `length` ≥ 24 bytes.
        if self.detect_mult() == 0 {
            return Err(PacketError::ZeroDetectMult);
        }
        if self.multipoint() {
            return Err(PacketError::Multipoint);
        }
        if self.my_discriminator() == 0 {
            return Err(PacketError::ZeroMyDiscriminator);
        }
        if self.poll() && self.final_() {
            return Err(PacketError::PollAndFinal);
        }
        if !auth {
            if usize::from(length) != HEADER_LEN {
                return Err(PacketError::LengthBeyondSections { length, end: HEADER_LEN as u8 });
            }
            return Ok(());
        }
        // With A, `length` ≥ 26: the type and length bytes are there.
        let raw_type = data[field::AUTH_TYPE];
        let auth_type = AuthType::from_wire(raw_type).ok_or(PacketError::UnknownAuthType(raw_type))?;
        let auth_len = data[field::AUTH_LEN];
        if !auth_type.accepts_section_len(auth_len) {
            return Err(PacketError::BadAuthLen { auth_type, auth_len });
        }
        let end = HEADER_LEN + usize::from(auth_len);
        if end > usize::from(length) {
            return Err(PacketError::AuthPastLength { auth_len, length });
        }
        if end < usize::from(length) {
            // `end` < `length` ≤ 255.
            return Err(PacketError::LengthBeyondSections { length, end: end as u8 });
        }
        if auth_type.section_len().is_some() && data[field::AUTH_RESERVED] != 0 {
            return Err(PacketError::AuthReservedNonZero(data[field::AUTH_RESERVED]));
        }
        Ok(())
    }

    /// Gives back the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The packet's bytes: the first Length bytes of the buffer (or all of it, if shorter).
    pub fn as_bytes(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let len = data.get(field::LENGTH).map_or(data.len(), |&l| usize::from(l).min(data.len()));
        &data[..len]
    }

    /// Byte 0, bits 7–5: Vers.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERS_DIAG] >> 5
    }

    /// Byte 0, bits 4–0: Diag.
    pub fn diag(&self) -> Diag {
        Diag(self.buffer.as_ref()[field::VERS_DIAG] & Diag::MASK)
    }

    /// Byte 1, bits 7–6: Sta.
    pub fn state(&self) -> State {
        State::from_bits(self.buffer.as_ref()[field::STA_FLAGS] >> 6)
    }

    /// Byte 1, bits 5–0: the flags, raw (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::STA_FLAGS] & flags::ALL
    }

    flag!(
        /// P: Poll.
        poll, flags::POLL);
    flag!(
        /// F: Final.
        final_, flags::FINAL);
    flag!(
        /// C: Control Plane Independent.
        control_plane_independent, flags::CONTROL_PLANE_INDEPENDENT);
    flag!(
        /// A: Authentication Present.
        auth_present, flags::AUTH);
    flag!(
        /// D: Demand.
        demand, flags::DEMAND);
    flag!(
        /// M: Multipoint.
        multipoint, flags::MULTIPOINT);

    /// Byte 2: Detect Mult.
    pub fn detect_mult(&self) -> u8 {
        self.buffer.as_ref()[field::DETECT_MULT]
    }

    /// Byte 3: Length, the whole packet's length in bytes.
    pub fn length(&self) -> u8 {
        self.buffer.as_ref()[field::LENGTH]
    }

    get_u32!(
        /// Bytes 4–7: My Discriminator.
        my_discriminator, field::MY_DISCRIMINATOR);
    get_u32!(
        /// Bytes 8–11: Your Discriminator.
        your_discriminator, field::YOUR_DISCRIMINATOR);
    get_u32!(
        /// Bytes 12–15: Desired Min TX Interval, µs.
        desired_min_tx, field::DESIRED_MIN_TX);
    get_u32!(
        /// Bytes 16–19: Required Min RX Interval, µs.
        required_min_rx, field::REQUIRED_MIN_RX);
    get_u32!(
        /// Bytes 20–23: Required Min Echo RX Interval, µs.
        required_min_echo_rx, field::REQUIRED_MIN_ECHO_RX);

    /// Byte 24: Auth Type, raw (only meaningful with A set).
    pub fn auth_type_raw(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_TYPE]
    }

    /// Byte 25: Auth Len (only meaningful with A set).
    pub fn auth_len(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_LEN]
    }

    /// Byte 26: Auth Key ID (only meaningful with A set).
    pub fn auth_key_id(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_KEY_ID]
    }

    /// Byte 27 of a keyed MD5 / SHA1 section: the reserved byte.
    pub fn auth_reserved(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_RESERVED]
    }

    get_u32!(
        /// Bytes 28–31 of a keyed MD5 / SHA1 section: the sequence number.
        auth_sequence, field::AUTH_SEQUENCE);

    /// The authentication data that proves the packet: the password of a simple-password
    /// section, the digest of a keyed one; empty without A or on a malformed section.
    ///
    /// Never panics: the range is clipped to Length and to the buffer.
    pub fn auth_data(&self) -> &[u8] {
        let range = self.auth_data_range();
        &self.buffer.as_ref()[range]
    }

    /// Where [`auth_data`](Self::auth_data) lies, clipped to Length and the buffer.
    fn auth_data_range(&self) -> core::ops::Range<usize> {
        let data = self.buffer.as_ref();
        let length = data.get(field::LENGTH).map_or(0, |&l| usize::from(l)).min(data.len());
        let authenticated = data.get(field::STA_FLAGS).is_some_and(|b| b & flags::AUTH != 0);
        let start = match data.get(field::AUTH_TYPE).copied().and_then(AuthType::from_wire) {
            Some(AuthType::SimplePassword) => field::AUTH_PASSWORD,
            Some(_) => field::AUTH_DIGEST,
            None => length,
        };
        let end = data.get(field::AUTH_LEN).map_or(0, |&l| HEADER_LEN + usize::from(l)).min(length);
        if !authenticated || start >= end {
            return 0..0;
        }
        start..end
    }

    /// The authentication section, if A is set. Only meaningful on a checked packet; `None`
    /// on an unknown Auth Type or a buffer too short for the section's header.
    pub fn auth_section(&self) -> Option<AuthSection> {
        let data = self.buffer.as_ref();
        if data.get(field::STA_FLAGS)? & flags::AUTH == 0 {
            return None;
        }
        let auth_type = AuthType::from_wire(*data.get(field::AUTH_TYPE)?)?;
        let sequence = match auth_type {
            AuthType::SimplePassword => 0,
            _ => {
                let mut raw = [0u8; 4];
                raw.copy_from_slice(data.get(field::AUTH_SEQUENCE)?);
                u32::from_be_bytes(raw)
            }
        };
        Some(AuthSection {
            auth_type,
            len: *data.get(field::AUTH_LEN)?,
            key_id: *data.get(field::AUTH_KEY_ID)?,
            sequence,
        })
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets Vers and Diag (byte 0); Diag is masked to 5 bits.
    pub fn set_version_diag(&mut self, version: u8, diag: Diag) {
        self.buffer.as_mut()[field::VERS_DIAG] = (version << 5) | (diag.0 & Diag::MASK);
    }

    /// Sets Sta and the flags (byte 1); flags outside [`flags::ALL`] are dropped.
    pub fn set_state_flags(&mut self, state: State, flag_bits: u8) {
        self.buffer.as_mut()[field::STA_FLAGS] = (state.to_bits() << 6) | (flag_bits & flags::ALL);
    }

    /// Sets byte 2, Detect Mult.
    pub fn set_detect_mult(&mut self, value: u8) {
        self.buffer.as_mut()[field::DETECT_MULT] = value;
    }

    /// Sets byte 3, Length.
    pub fn set_length(&mut self, value: u8) {
        self.buffer.as_mut()[field::LENGTH] = value;
    }

    set_u32!(
        /// Sets bytes 4–7.
        set_my_discriminator, field::MY_DISCRIMINATOR);
    set_u32!(
        /// Sets bytes 8–11.
        set_your_discriminator, field::YOUR_DISCRIMINATOR);
    set_u32!(
        /// Sets bytes 12–15.
        set_desired_min_tx, field::DESIRED_MIN_TX);
    set_u32!(
        /// Sets bytes 16–19.
        set_required_min_rx, field::REQUIRED_MIN_RX);
    set_u32!(
        /// Sets bytes 20–23.
        set_required_min_echo_rx, field::REQUIRED_MIN_ECHO_RX);

    /// Writes an authentication section's header: type, length and key id, and for the keyed
    /// types the reserved byte (0) and the sequence number. The password or digest bytes are
    /// zeroed, for a signer to fill through [`auth_data_mut`](Self::auth_data_mut).
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than `24 + section.len` bytes, like every setter of a view made
    /// with [`new_unchecked`](Self::new_unchecked) over a short buffer.
    pub fn set_auth_section(&mut self, section: &AuthSection) {
        let end = HEADER_LEN + usize::from(section.len);
        let [s0, s1, s2, s3] = section.sequence.to_be_bytes();
        let keyed = [section.auth_type.to_wire(), section.len, section.key_id, 0, s0, s1, s2, s3];
        let header = match section.auth_type {
            AuthType::SimplePassword => &keyed[..SIMPLE_PASSWORD_OVERHEAD],
            _ => &keyed[..],
        };
        // A section shorter than its own header (which `parse` refuses) is cut at its Auth Len.
        let section_bytes = &mut self.buffer.as_mut()[HEADER_LEN..end];
        let header_len = header.len().min(section_bytes.len());
        let (head, rest) = section_bytes.split_at_mut(header_len);
        head.copy_from_slice(&header[..header_len]);
        rest.fill(0);
    }

    /// The password or digest bytes, to be filled in by a signer; empty without A. See
    /// [`auth_data`](Self::auth_data).
    pub fn auth_data_mut(&mut self) -> &mut [u8] {
        let range = self.auth_data_range();
        &mut self.buffer.as_mut()[range]
    }
}

impl ControlPacket {
    /// The packet's length on the wire: 24, plus the authentication section's Auth Len.
    #[allow(clippy::len_without_is_empty)] // a packet is never empty
    pub fn len(&self) -> usize {
        HEADER_LEN + self.auth.map_or(0, |a| usize::from(a.len))
    }

    /// Checks a UDP payload ([`Packet::check`]) and reads the packet out of it. Bytes after
    /// Length are ignored. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<ControlPacket, PacketError> {
        let packet = Packet::new_checked(bytes)?;
        // `check` guarantees the mandatory section; reading it through a fixed-size array lets
        // the compiler drop every bounds check below.
        let Some(head) = bytes.first_chunk::<HEADER_LEN>() else {
            return Err(PacketError::Truncated { len: bytes.len() });
        };
        let head = Packet::new_unchecked(head);
        Ok(ControlPacket {
            diag: head.diag(),
            state: head.state(),
            poll: head.poll(),
            final_: head.final_(),
            control_plane_independent: head.control_plane_independent(),
            demand: head.demand(),
            detect_mult: head.detect_mult(),
            my_discriminator: head.my_discriminator(),
            your_discriminator: head.your_discriminator(),
            desired_min_tx: head.desired_min_tx(),
            required_min_rx: head.required_min_rx(),
            required_min_echo_rx: head.required_min_echo_rx(),
            auth: packet.auth_section(),
        })
    }

    /// The flag bits this packet carries.
    pub fn flag_bits(&self) -> u8 {
        let mut bits = 0;
        for (on, bit) in [
            (self.poll, flags::POLL),
            (self.final_, flags::FINAL),
            (self.control_plane_independent, flags::CONTROL_PLANE_INDEPENDENT),
            (self.auth.is_some(), flags::AUTH),
            (self.demand, flags::DEMAND),
        ] {
            if on {
                bits |= bit;
            }
        }
        bits
    }

    /// Writes the packet into `buf` and returns its length ([`len`](Self::len)).
    ///
    /// With an [`auth`](Self::auth) section, its header is written and the password or digest
    /// bytes are left zero for [`BfdKeys::sign`](super::auth::BfdKeys::sign) to fill. Version
    /// is always 1, M always clear, Diag masked to 5 bits. Fields are written as given, not
    /// validated: a packet that [`parse`](Self::parse) would refuse (Detect Mult 0, P and F,
    /// an Auth Len that does not fit its type) is written as it is, so that tests can build
    /// bad packets; `parse(emit(p)) == p` for every packet that `parse` can return.
    ///
    /// Fails without writing a byte if `buf` is shorter than the packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let len = self.len();
        let Some(out) = buf.get_mut(..len) else {
            return Err(BufferTooSmall { need: len, have: buf.len() });
        };
        // `len` ≥ 24; a fixed-size array for the mandatory section drops its bounds checks.
        if let Some(head) = out.first_chunk_mut::<HEADER_LEN>() {
            let mut head = Packet::new_unchecked(head);
            head.set_version_diag(VERSION, self.diag);
            head.set_state_flags(self.state, self.flag_bits());
            head.set_detect_mult(self.detect_mult);
            // Auth Len is a byte, so 24 + Auth Len can exceed one; `len as u8` is then what
            // such a sender would write, and `parse` refuses every Auth Len above 28 anyway.
            head.set_length(len as u8);
            head.set_my_discriminator(self.my_discriminator);
            head.set_your_discriminator(self.your_discriminator);
            head.set_desired_min_tx(self.desired_min_tx);
            head.set_required_min_rx(self.required_min_rx);
            head.set_required_min_echo_rx(self.required_min_echo_rx);
        }
        if let Some(section) = &self.auth {
            Packet::new_unchecked(out).set_auth_section(section);
        }
        Ok(len)
    }
}

#[cfg(test)]
pub(crate) mod tests;
