//! BFD authentication (RFC 5880 §4.2–4.4, §6.7): keys, signing, checking, and the receive
//! side's sequence window.
//!
//! A session holds one [`BfdKeys`]: up to [`MAX_KEYS`] keys of one [`AuthType`], one of them
//! selected for sending.
//!
//! - To send: put [`BfdKeys::section`] in the [`ControlPacket`](super::ControlPacket)'s `auth`,
//!   [`emit`](super::ControlPacket::emit) it, then [`BfdKeys::sign`] the emitted bytes.
//! - To receive: [`parse`](super::ControlPacket::parse) the payload, then [`authenticate`] it
//!   (or [`BfdKeys::verify`] the bytes against the parsed section), then, for a keyed type,
//!   [`SequenceWindow::check`] its sequence number, and only once the whole packet is
//!   accepted, [`SequenceWindow::accept`] it. A packet that fails any step changes nothing.
//!
//! # The digests
//!
//! Keyed MD5 and keyed SHA1 are **not** HMAC (§6.7.3, §6.7.4): the key, zero-padded to 16
//! (MD5) or 20 (SHA1) bytes, is put in the digest field, the whole packet (Length bytes) is
//! hashed with plain MD5 or SHA1, and the hash replaces the key. The receiver puts its key in
//! the received packet's digest field, hashes, and compares. This is what FRR and BIRD do
//! (checked byte for byte against BIRD's packets). Comparisons of passwords and digests run
//! in constant time (`subtle`).
//!
//! # Without the `bfd-auth` feature
//!
//! MD5, SHA1, the constant-time comparison and the key wiping all come from the optional
//! dependencies of `bfd-auth`. Without it no key can be made at all: [`BfdKey::new`] returns
//! [`KeyError::FeatureDisabled`] for every type and [`BfdKey`] has no value, so a session that
//! was configured for authentication cannot be built, rather than run unauthenticated.

#[cfg(feature = "bfd-auth")]
mod digest;
mod window;

use core::fmt;

use super::packet::{
    AuthSection, MAX_PACKET_LEN, MAX_PASSWORD_LEN, Packet, PacketError, SIMPLE_PASSWORD_OVERHEAD, field,
};

pub use window::SequenceWindow;

/// The most keys a [`BfdKeys`] holds: the old, the current and the next key of a rotation,
/// and one spare.
pub const MAX_KEYS: usize = 4;
/// The longest keyed MD5 key (§4.3: the key is padded to the 16-byte digest field).
pub const MAX_MD5_KEY_LEN: usize = 16;
/// The longest keyed SHA1 key (§4.4: the key is padded to the 20-byte hash field).
pub const MAX_SHA1_KEY_LEN: usize = 20;
/// The longest secret of any type.
const MAX_SECRET_LEN: usize = MAX_SHA1_KEY_LEN;

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

    /// Whether packets carry a sequence number and a digest (every type but the simple
    /// password).
    pub const fn is_keyed(self) -> bool {
        !matches!(self, AuthType::SimplePassword)
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

    /// The longest secret of this type: 16 bytes for a password or an MD5 key, 20 for a SHA1
    /// key.
    pub const fn max_secret_len(self) -> usize {
        match self {
            AuthType::SimplePassword => MAX_PASSWORD_LEN,
            AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => MAX_MD5_KEY_LEN,
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => MAX_SHA1_KEY_LEN,
        }
    }
}

/// Why a key or a change to a key set was refused. Nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The secret is empty.
    #[error("empty secret")]
    EmptySecret,
    /// The secret is longer than its type allows (16 bytes for a password or an MD5 key, 20
    /// for a SHA1 key).
    #[error("secret of {len} bytes, at most {max} for {auth_type:?}")]
    SecretTooLong {
        /// The key's type.
        auth_type: AuthType,
        /// The secret's length.
        len: usize,
        /// The longest allowed.
        max: usize,
    },
    /// This build has no BFD authentication: the named Cargo feature is off.
    #[error("BFD authentication needs the `{feature}` feature of heartbeat-proto")]
    FeatureDisabled {
        /// The feature to turn on.
        feature: &'static str,
    },
    /// The key's type differs from the set's: a session has one auth type.
    #[error("key of type {got:?} in a set of {expected:?}")]
    TypeMismatch {
        /// The set's type.
        expected: AuthType,
        /// The key's type.
        got: AuthType,
    },
    /// The set already holds a key with this id.
    #[error("duplicate key id {0}")]
    DuplicateKeyId(u8),
    /// The set holds [`MAX_KEYS`] keys.
    #[error("key set full ({MAX_KEYS} keys)")]
    Full,
    /// No key with this id is in the set.
    #[error("no key {0} in the set")]
    UnknownKeyId(u8),
    /// The selected key cannot be removed; select another first.
    #[error("key {0} is the one packets are signed with")]
    RemovesSelected(u8),
}

/// Why a packet failed authentication (or could not be signed). The receive side must discard
/// the packet and change no state; the window is not moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The A bit is clear but the session requires authentication (§6.8.6).
    #[error("authentication required but absent")]
    Missing,
    /// The A bit is set but the session has no authentication (§6.8.6 discards it; the session
    /// decides).
    #[error("authentication present but not configured")]
    Unexpected,
    /// Auth Type is not the session's.
    #[error("auth type {got:?}, expected {expected:?}")]
    WrongType {
        /// The session's type.
        expected: AuthType,
        /// The packet's type.
        got: AuthType,
    },
    /// Auth Key ID names no configured key.
    #[error("unknown key id {0}")]
    UnknownKey(u8),
    /// Auth Len does not fit the key (a password of another length) or the packet's Length.
    #[error("Auth Len {got}, expected {expected}")]
    BadLength {
        /// What the key needs.
        expected: u8,
        /// What the packet has.
        got: u8,
    },
    /// The bytes do not hold a structurally valid packet
    /// ([`ControlPacket::parse`](super::ControlPacket::parse) refuses them).
    #[error("malformed packet: {0}")]
    Malformed(PacketError),
    /// The section given to `verify` is not the one in the packet's bytes.
    #[error("the section does not match the packet's")]
    SectionMismatch,
    /// The simple password differs.
    #[error("wrong password")]
    BadPassword,
    /// The MD5 digest or SHA1 hash differs.
    #[error("wrong digest")]
    BadDigest,
    /// The sequence number is outside the replay window (§6.7.3, §6.7.4).
    #[error("sequence {sequence} outside the window after {last}")]
    OutOfWindow {
        /// The packet's sequence number.
        sequence: u32,
        /// The last accepted sequence number (bfd.RcvAuthSeq).
        last: u32,
    },
}

/// One key: its auth type, its Auth Key ID and its secret (a password or a keyed MD5 / SHA1
/// key). The secret is wiped when the key is dropped and `Debug` never shows it.
#[derive(Clone)]
pub struct BfdKey {
    auth_type: AuthType,
    id: u8,
    /// Bytes of `secret` in use; the rest are zero, which is the padding keyed types need.
    len: u8,
    secret: [u8; MAX_SECRET_LEN],
    /// Without `bfd-auth` a key cannot exist: this field has no value.
    #[cfg(not(feature = "bfd-auth"))]
    never: core::convert::Infallible,
}

impl BfdKey {
    /// A key of `auth_type` named `key_id` on the wire. The secret is 1..=16 bytes for a
    /// password or an MD5 key and 1..=20 for a SHA1 key; a shorter keyed secret is padded with
    /// zeroes, as §6.7.3 and §6.7.4 require. The caller remains responsible for wiping its own
    /// copy of `secret`.
    ///
    /// Without the `bfd-auth` feature this always fails with [`KeyError::FeatureDisabled`].
    pub fn new(auth_type: AuthType, key_id: u8, secret: &[u8]) -> Result<BfdKey, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        let max = auth_type.max_secret_len();
        if secret.len() > max {
            return Err(KeyError::SecretTooLong { auth_type, len: secret.len(), max });
        }
        #[cfg(feature = "bfd-auth")]
        {
            let mut padded = [0u8; MAX_SECRET_LEN];
            padded[..secret.len()].copy_from_slice(secret);
            // At most 20, which fits a byte.
            Ok(BfdKey { auth_type, id: key_id, len: secret.len() as u8, secret: padded })
        }
        #[cfg(not(feature = "bfd-auth"))]
        {
            let _ = key_id;
            Err(KeyError::FeatureDisabled { feature: "bfd-auth" })
        }
    }

    /// The Auth Key ID.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// The auth type.
    pub fn auth_type(&self) -> AuthType {
        self.auth_type
    }

    /// The Auth Len of this key's sections: `3 + password length`, or the keyed type's fixed
    /// length.
    pub fn section_len(&self) -> u8 {
        // A password is at most 16 bytes: 3 + 16 fits a byte.
        self.auth_type.section_len().unwrap_or(SIMPLE_PASSWORD_OVERHEAD as u8 + self.len)
    }

    /// The password (simple password only).
    fn password(&self) -> &[u8] {
        &self.secret[..usize::from(self.len)]
    }

    /// Whether `candidate` is this key's password, in time that depends only on the lengths.
    fn password_matches(&self, candidate: &[u8]) -> bool {
        #[cfg(feature = "bfd-auth")]
        {
            use subtle::ConstantTimeEq;
            bool::from(self.password().ct_eq(candidate))
        }
        #[cfg(not(feature = "bfd-auth"))]
        {
            let _ = candidate;
            match self.never {}
        }
    }

    /// Puts the padded key in the digest field of `packet` (exactly Length bytes, keyed
    /// section), hashes it, and writes the digest over the key.
    fn fill_digest(&self, packet: &mut [u8]) {
        #[cfg(feature = "bfd-auth")]
        digest::fill(self.auth_type, &self.secret, packet);
        #[cfg(not(feature = "bfd-auth"))]
        {
            let _ = packet;
            match self.never {}
        }
    }
}

#[cfg(feature = "bfd-auth")]
impl Drop for BfdKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.secret.zeroize();
    }
}

#[cfg(feature = "bfd-auth")]
impl zeroize::ZeroizeOnDrop for BfdKey {}

impl fmt::Debug for BfdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BfdKey").field("auth_type", &self.auth_type).field("id", &self.id).finish_non_exhaustive()
    }
}

/// A session's keys: up to [`MAX_KEYS`] keys of one [`AuthType`], one of them selected to sign
/// what the session sends; packets under any of them are accepted.
///
/// Rotation without a session flap: add the new key on both ends, then select it on both, then
/// remove the old one. The set never lacks its selected key.
#[derive(Clone)]
pub struct BfdKeys {
    keys: heapless::Vec<BfdKey, MAX_KEYS>,
    selected: u8,
}

impl BfdKeys {
    /// A set holding `first`, which signs.
    pub fn new(first: BfdKey) -> BfdKeys {
        let selected = first.id;
        let mut keys = heapless::Vec::new();
        // An empty vector with room for MAX_KEYS > 0 keys takes one.
        let _ = keys.push(first);
        BfdKeys { keys, selected }
    }

    /// Adds a key of the set's type with an id not in use; packets under it are accepted from
    /// now on.
    pub fn add(&mut self, key: BfdKey) -> Result<(), KeyError> {
        let expected = self.auth_type();
        if key.auth_type != expected {
            return Err(KeyError::TypeMismatch { expected, got: key.auth_type });
        }
        if self.find(key.id).is_some() {
            return Err(KeyError::DuplicateKeyId(key.id));
        }
        self.keys.push(key).map_err(|_| KeyError::Full)
    }

    /// Makes a key of the set the one packets are signed with.
    pub fn select(&mut self, key_id: u8) -> Result<(), KeyError> {
        self.find(key_id).ok_or(KeyError::UnknownKeyId(key_id))?;
        self.selected = key_id;
        Ok(())
    }

    /// Removes a key that is not the selected one (it is wiped); packets under it are refused
    /// from now on.
    pub fn remove(&mut self, key_id: u8) -> Result<(), KeyError> {
        if key_id == self.selected {
            return Err(KeyError::RemovesSelected(key_id));
        }
        self.find(key_id).ok_or(KeyError::UnknownKeyId(key_id))?;
        // The removed key is dropped here, which wipes it.
        self.keys.retain(|k| k.id != key_id);
        Ok(())
    }

    /// The set's auth type.
    pub fn auth_type(&self) -> AuthType {
        self.selected_key().auth_type
    }

    /// The id of the key that signs.
    pub fn selected(&self) -> u8 {
        self.selected
    }

    /// The ids of every key accepted.
    pub fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.keys.iter().map(|k| k.id)
    }

    /// The section to put in a packet to send under the selected key. `sequence` is
    /// bfd.XmitAuthSeq (ignored by the simple password, which carries none); with a meticulous
    /// type it must grow on every packet.
    pub fn section(&self, sequence: u32) -> AuthSection {
        let key = self.selected_key();
        let sequence = if key.auth_type.is_keyed() { sequence } else { 0 };
        AuthSection { auth_type: key.auth_type, len: key.section_len(), key_id: key.id, sequence }
    }

    /// Fills in the password or digest of `packet`: the bytes
    /// [`ControlPacket::emit`](super::ControlPacket::emit) wrote for a packet whose `auth` came
    /// from [`section`](Self::section) (or names another key of the set). Fails, leaving the
    /// bytes as they were, if they are not such a packet: [`AuthFailure::Malformed`] if they do
    /// not parse, [`AuthFailure::Missing`] without an authentication section, and the errors of
    /// [`verify`](Self::verify) for a section that does not fit the set.
    pub fn sign(&self, packet: &mut [u8]) -> Result<(), AuthFailure> {
        let view = Packet::new_checked(&*packet).map_err(AuthFailure::Malformed)?;
        let section = view.auth_section().ok_or(AuthFailure::Missing)?;
        let length = usize::from(view.length());
        let key = self.key_for(&section)?;
        let packet = &mut packet[..length];
        match key.auth_type {
            AuthType::SimplePassword => {
                Packet::new_unchecked(packet).auth_data_mut().copy_from_slice(key.password());
            }
            _ => key.fill_digest(packet),
        }
        Ok(())
    }

    /// Checks a received packet's authentication: `packet` is the payload
    /// [`ControlPacket::parse`](super::ControlPacket::parse) accepted and `section` its `auth`.
    /// Checks, in the order of §6.7: the type is the set's, the key id names a key, the Auth Len
    /// fits that key, and the password or digest matches (in constant time). The sequence
    /// window is separate: see [`SequenceWindow`]. Reads only; bytes after Length are ignored.
    pub fn verify(&self, packet: &[u8], section: &AuthSection) -> Result<(), AuthFailure> {
        let key = self.key_for(section)?;
        let view = Packet::new_checked(packet).map_err(AuthFailure::Malformed)?;
        if view.auth_section() != Some(*section) {
            return Err(AuthFailure::SectionMismatch);
        }
        let packet = view.as_bytes();
        match key.auth_type {
            AuthType::SimplePassword => {
                if !key.password_matches(view.auth_data()) {
                    return Err(AuthFailure::BadPassword);
                }
            }
            _ => {
                let mut scratch = Scratch([0u8; MAX_PACKET_LEN]);
                let scratch = &mut scratch.0[..packet.len()];
                scratch.copy_from_slice(packet);
                key.fill_digest(scratch);
                let ours = &scratch[field::AUTH_DIGEST..];
                if !digests_match(ours, &packet[field::AUTH_DIGEST..]) {
                    return Err(AuthFailure::BadDigest);
                }
            }
        }
        Ok(())
    }

    /// The key a section names, after checking its type and length against it.
    fn key_for(&self, section: &AuthSection) -> Result<&BfdKey, AuthFailure> {
        let expected = self.auth_type();
        if section.auth_type != expected {
            return Err(AuthFailure::WrongType { expected, got: section.auth_type });
        }
        let key = self.find(section.key_id).ok_or(AuthFailure::UnknownKey(section.key_id))?;
        if section.len != key.section_len() {
            return Err(AuthFailure::BadLength { expected: key.section_len(), got: section.len });
        }
        Ok(key)
    }

    fn find(&self, key_id: u8) -> Option<&BfdKey> {
        self.keys.iter().find(|k| k.id == key_id)
    }

    fn selected_key(&self) -> &BfdKey {
        // The set always holds its selected key (see `new`, `select`, `remove`); the first key
        // stands in should that ever break, and the set is never empty.
        self.find(self.selected).unwrap_or(&self.keys[0])
    }
}

impl fmt::Debug for BfdKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BfdKeys")
            .field("auth_type", &self.auth_type())
            .field("selected", &self.selected)
            .field("keys", &self.keys)
            .finish()
    }
}

/// The authentication steps of §6.8.6 for a parsed packet: `keys` is the session's
/// (`None` for bfd.AuthType = 0), `bytes` the payload `packet` was parsed from.
///
/// - A clear and no keys: accepted.
/// - A set and no keys: [`AuthFailure::Unexpected`]; A clear with keys: [`AuthFailure::Missing`].
/// - Both: [`BfdKeys::verify`].
///
/// The sequence window is not checked here: for a keyed type, also
/// [`SequenceWindow::check`] the packet's sequence number before accepting it.
pub fn authenticate(keys: Option<&BfdKeys>, bytes: &[u8], packet: &super::ControlPacket) -> Result<(), AuthFailure> {
    match (keys, &packet.auth) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(AuthFailure::Unexpected),
        (Some(_), None) => Err(AuthFailure::Missing),
        (Some(keys), Some(section)) => keys.verify(bytes, section),
    }
}

/// A copy of a packet with the key in it, wiped when dropped.
struct Scratch([u8; MAX_PACKET_LEN]);

impl Drop for Scratch {
    fn drop(&mut self) {
        #[cfg(feature = "bfd-auth")]
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Whether two digests are equal, in constant time.
fn digests_match(a: &[u8], b: &[u8]) -> bool {
    #[cfg(feature = "bfd-auth")]
    {
        use subtle::ConstantTimeEq;
        bool::from(a.ct_eq(b))
    }
    #[cfg(not(feature = "bfd-auth"))]
    {
        // Reached only through a key, and without the feature there is none.
        let _ = (a, b);
        false
    }
}

#[cfg(all(test, feature = "bfd-auth"))]
mod tests;

#[cfg(all(test, not(feature = "bfd-auth")))]
mod tests_without_the_feature {
    use super::*;

    #[test]
    fn no_key_of_any_type_can_be_made() {
        for v in 1..=5 {
            let auth_type = AuthType::from_wire(v).unwrap();
            let refused = BfdKey::new(auth_type, 1, b"secret").map(|k| k.id());
            assert_eq!(refused, Err(KeyError::FeatureDisabled { feature: "bfd-auth" }));
        }
        // Malformed secrets are still reported as such.
        assert_eq!(BfdKey::new(AuthType::KeyedSha1, 1, b"").map(|k| k.id()), Err(KeyError::EmptySecret));
    }
}
