//! BFD authentication (RFC 5880 §4.2–4.4, §6.7).

/// An authentication type (§4.2 Auth Type). 0 and 6..=255 are reserved and never valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthType {
    /// 1: Simple Password (§6.7.2): the password travels in clear.
    SimplePassword = 1,
    /// 2: Keyed MD5 (§6.7.3).
    KeyedMd5 = 2,
    /// 3: Meticulous Keyed MD5 (§6.7.3): the sequence number grows on every packet.
    MeticulousKeyedMd5 = 3,
    /// 4: Keyed SHA1 (§6.7.4).
    KeyedSha1 = 4,
    /// 5: Meticulous Keyed SHA1 (§6.7.4): the sequence number grows on every packet.
    MeticulousKeyedSha1 = 5,
}

impl AuthType {
    /// The type of an Auth Type byte, or `None` for a reserved value.
    pub const fn from_wire(v: u8) -> Option<AuthType> {
        Some(match v {
            1 => AuthType::SimplePassword,
            2 => AuthType::KeyedMd5,
            3 => AuthType::MeticulousKeyedMd5,
            4 => AuthType::KeyedSha1,
            5 => AuthType::MeticulousKeyedSha1,
            _ => return None,
        })
    }

    /// The Auth Type byte.
    pub const fn to_wire(self) -> u8 {
        self as u8
    }

    /// Whether the sequence number must grow on every packet (types 3 and 5).
    pub const fn is_meticulous(self) -> bool {
        matches!(self, AuthType::MeticulousKeyedMd5 | AuthType::MeticulousKeyedSha1)
    }

    /// The fixed Auth Len of a keyed type (24 for MD5, 28 for SHA1); `None` for the simple
    /// password, whose section is `3 + password length` bytes.
    pub const fn section_len(self) -> Option<u8> {
        match self {
            AuthType::SimplePassword => None,
            AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => Some(24),
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => Some(28),
        }
    }

    /// Whether `auth_len` is a valid Auth Len for this type: 4..=19 for a simple password
    /// (a password of 1..=16 bytes), the fixed length otherwise.
    pub const fn accepts_section_len(self, auth_len: u8) -> bool {
        match self.section_len() {
            Some(len) => auth_len == len,
            None => auth_len >= 4 && auth_len <= 19,
        }
    }
}
