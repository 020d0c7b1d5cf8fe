//! HMAC-SHA256 keys and the ring that holds a cluster's active keys.
//!
//! A [`Key`] keeps no copy of the secret: it keeps HMAC's two precomputed hash states (the
//! secret xor-ed with the inner and outer pads, absorbed), which is all signing and checking
//! need and saves two of the five SHA-256 blocks per frame. Those states are key material:
//! they are erased when the key is dropped (`sha2` and `block-buffer` zeroise their state on
//! drop with their `zeroize` features, which this crate turns on; a compile-time assertion
//! below breaks the build if that ever stops being true).

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{AuthError, KeyId, SCHEME_HMAC_SHA256};
use crate::wire::{AuthHeader, Frame, MAX_TAG_LEN};

type HmacSha256 = Hmac<Sha256>;

/// The most keys a ring holds at once: enough for the old, the current and the next key of a
/// rotation, plus one spare.
pub const MAX_KEYS: usize = 4;

/// The shortest secret a [`Key`] accepts, in bytes (128 bits).
pub const MIN_KEY_LEN: usize = 16;

/// The shortest tag a ring sends or accepts, in bytes (128 bits).
pub const MIN_TAG_LEN: usize = 16;

/// Fails to compile if the SHA-256 state stops zeroising itself on drop (that is, if the
/// `zeroize` feature of `sha2` were lost): a [`Key`]'s secret-derived state lives in it.
const _: fn() = || {
    fn zeroised_on_drop<T: ZeroizeOnDrop>() {}
    zeroised_on_drop::<sha2::block_api::Sha256VarCore>();
};

/// The input of a key's check value: a fixed label, so that the value identifies the key
/// without being the tag of any frame (frames start with the magic `"HB"`).
const CHECK_LABEL: &[u8] = b"heartbeat key check value";

/// Why a key or a ring change was refused. The ring is left as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    /// The secret is shorter than [`MIN_KEY_LEN`].
    #[error("key of {0} bytes, at least 16 required")]
    KeyTooShort(usize),
    /// The ring already holds a key with this id.
    #[error("duplicate key id {0:?}")]
    DuplicateKeyId(KeyId),
    /// The ring holds [`MAX_KEYS`] keys.
    #[error("key ring full")]
    Full,
    /// No key with this id is in the ring.
    #[error("no key {0:?} in the ring")]
    UnknownKeyId(KeyId),
    /// The current key cannot be removed; make another key current first.
    #[error("key {0:?} is the current key")]
    RemovesCurrent(KeyId),
    /// A tag length outside `MIN_TAG_LEN..=MAX_TAG_LEN`.
    #[error("tag length {0} outside 16..=32")]
    TagLength(usize),
}

/// One shared secret and the id frames name it by.
///
/// `Debug` shows the id only; equality compares ids and key check values (an HMAC of a
/// fixed label) in constant time, never the secret itself.
#[derive(Clone)]
pub struct Key {
    id: KeyId,
    mac: HmacSha256,
    check: [u8; 16],
}

impl Key {
    /// A key from a secret of at least [`MIN_KEY_LEN`] bytes (32 random bytes is the
    /// recommended size). The caller remains responsible for erasing its own copy of
    /// `secret`.
    pub fn new(id: KeyId, secret: &[u8]) -> Result<Key, KeyRingError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyRingError::KeyTooShort(secret.len()));
        }
        // HMAC takes keys of any length; the length was checked above.
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| KeyRingError::KeyTooShort(secret.len()))?;
        let mut check = [0u8; 16];
        let mut label = mac.clone();
        label.update(CHECK_LABEL);
        check.copy_from_slice(&label.finalize().as_bytes()[..16]);
        Ok(Key { id, mac, check })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The full 32-byte HMAC-SHA256 of `data` under this key.
    fn tag(&self, data: &[u8]) -> hmac::digest::CtOutput<HmacSha256> {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.finalize()
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        // `mac` erases itself (see the module documentation).
        self.check.zeroize();
    }
}

impl ZeroizeOnDrop for Key {}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.id == other.id && bool::from(self.check.ct_eq(&other.check))
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A cluster's active keys: frames are sent under the current one and accepted under any.
///
/// Rotation without a false `Down`: add the new key to every node's ring, then make it
/// current on every node, then remove the old key from every node — each step finished on
/// all nodes before the next begins. Every frame in flight is then always accepted.
///
/// The ring never lacks its current key: [`remove`](Self::remove) refuses to remove it and
/// [`set_current`](Self::set_current) only names keys in the ring.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: heapless::Vec<Key, MAX_KEYS>,
    current: KeyId,
    tag_len: u8,
}

impl KeyRing {
    /// A ring holding `key`, which becomes current; tags of [`MIN_TAG_LEN`] bytes.
    pub fn new(key: Key) -> KeyRing {
        let current = key.id;
        let mut keys = heapless::Vec::new();
        // An empty vector of capacity MAX_KEYS > 0 takes one key.
        let _ = keys.push(key);
        KeyRing { keys, current, tag_len: MIN_TAG_LEN as u8 }
    }

    /// Sets the tag length: what this node sends, and the least it accepts (`16..=32` bytes).
    pub fn with_tag_len(mut self, len: usize) -> Result<KeyRing, KeyRingError> {
        if !(MIN_TAG_LEN..=MAX_TAG_LEN).contains(&len) {
            return Err(KeyRingError::TagLength(len));
        }
        // At most MAX_TAG_LEN, which fits a byte.
        self.tag_len = len as u8;
        Ok(self)
    }

    /// Adds a key; frames under it are accepted from now on.
    pub fn insert(&mut self, key: Key) -> Result<(), KeyRingError> {
        if self.find(key.id).is_some() {
            return Err(KeyRingError::DuplicateKeyId(key.id));
        }
        self.keys.push(key).map_err(|_| KeyRingError::Full)
    }

    /// Removes a key that is not the current one; frames under it are refused from now on.
    pub fn remove(&mut self, id: KeyId) -> Result<(), KeyRingError> {
        if id == self.current {
            return Err(KeyRingError::RemovesCurrent(id));
        }
        let i = self.keys.iter().position(|k| k.id == id).ok_or(KeyRingError::UnknownKeyId(id))?;
        // The removed key is dropped here, which erases it.
        self.keys.swap_remove(i);
        Ok(())
    }

    /// Makes a key of the ring the one frames are sent under.
    pub fn set_current(&mut self, id: KeyId) -> Result<(), KeyRingError> {
        self.find(id).ok_or(KeyRingError::UnknownKeyId(id))?;
        self.current = id;
        Ok(())
    }

    /// The id of the key frames are sent under.
    pub fn current(&self) -> KeyId {
        self.current
    }

    /// The ids of every key accepted.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.iter().map(|k| k.id)
    }

    /// Whether a key with this id is in the ring.
    pub fn contains(&self, id: KeyId) -> bool {
        self.find(id).is_some()
    }

    /// The tag length in bytes.
    pub fn tag_len(&self) -> usize {
        usize::from(self.tag_len)
    }

    fn find(&self, id: KeyId) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub(super) fn header(&self) -> AuthHeader {
        AuthHeader { scheme: SCHEME_HMAC_SHA256, key_id: self.current.0, tag_len: self.tag_len }
    }

    /// Fills in the tag of an encoded frame whose trailer preamble is written.
    pub(super) fn sign(&self, frame: &mut Frame<&mut [u8]>) {
        let Some(key) = self.find(self.current) else { return };
        let full = key.tag(frame.authenticated_bytes());
        let tag = frame.tag_mut();
        let n = tag.len().min(full.as_bytes().len());
        tag[..n].copy_from_slice(&full.as_bytes()[..n]);
    }

    /// Checks a structurally valid frame's trailer and tag: cheap checks first, then one HMAC
    /// and a constant-time comparison.
    pub(super) fn verify<T: AsRef<[u8]>>(&self, frame: &Frame<T>) -> Result<(), AuthError> {
        let Some(trailer) = frame.auth_trailer() else { return Err(AuthError::Missing) };
        if trailer.scheme != SCHEME_HMAC_SHA256 {
            return Err(AuthError::UnknownScheme(trailer.scheme));
        }
        let min = self.tag_len();
        if trailer.tag.len() < min {
            return Err(AuthError::TagTooShort { len: trailer.tag.len(), min });
        }
        let id = KeyId(trailer.key_id);
        let key = self.find(id).ok_or(AuthError::UnknownKey(id))?;
        let expected = key.tag(frame.authenticated_bytes());
        // `Frame::check` bounds the tag to MAX_TAG_LEN, the HMAC-SHA256 output length.
        let Some(expected) = expected.as_bytes().get(..trailer.tag.len()) else {
            return Err(AuthError::BadTag(id));
        };
        if bool::from(expected.ct_eq(trailer.tag)) { Ok(()) } else { Err(AuthError::BadTag(id)) }
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.keys.iter().map(|k| k.id.0).collect::<heapless::Vec<u8, MAX_KEYS>>())
            .field("current", &self.current)
            .field("tag_len", &self.tag_len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ClusterId, Generation, Kind, MAX_FRAME_LEN, Message, NodeId};
    use crate::{Authentication, Instant};
    use core::time::Duration;

    fn key(id: u8, fill: u8) -> Key {
        Key::new(KeyId(id), &[fill; 32]).unwrap()
    }

    fn message() -> Message {
        Message {
            kind: Kind::Heartbeat,
            cluster: ClusterId(1),
            sender: NodeId::new(2).unwrap(),
            receiver: None,
            generation: Generation(3),
            sequence: 4,
            timestamp: Instant::from_nanos(5),
            echo: None,
            interval: Duration::from_millis(100),
            requested_timeout: Duration::from_millis(300),
            applied_timeout: None,
            hears_you: false,
            auth: None,
        }
    }

    /// RFC 4231 test case 2 ("what do ya want for nothing?" under the key "Jefe"), reached
    /// through the same precomputed state a `Key` keeps. The key is short, so it goes through
    /// `HmacSha256` directly: `Key::new` refuses secrets under 16 bytes.
    #[test]
    fn the_hmac_is_rfc_4231_hmac_sha256() {
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let expected = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00,
            0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
        ];
        assert_eq!(mac.finalize().as_bytes().as_slice(), &expected);
        // RFC 4231 test case 1: 20 bytes of 0x0b over "Hi There", through `Key`.
        let k = Key::new(KeyId(0), &[0x0b; 20]).unwrap();
        let expected = [
            0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53, 0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b, 0x88, 0x1d,
            0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7, 0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7,
        ];
        assert_eq!(k.tag(b"Hi There").as_bytes().as_slice(), &expected);
    }

    #[test]
    fn a_signed_frame_verifies_and_names_the_current_key() {
        let mut ring = KeyRing::new(key(1, 0xaa));
        ring.insert(key(2, 0xbb)).unwrap();
        ring.set_current(KeyId(2)).unwrap();
        let auth = Authentication::Hmac(ring.clone());
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = auth.encode(&message(), &mut buf).unwrap();
        assert_eq!(len, 72 + 4 + 16);
        let frame = Frame::new_checked(&buf[..len]).unwrap();
        assert_eq!(frame.auth_trailer().unwrap().key_id, 2);
        assert_eq!(auth.verify(&frame), Ok(()));
        // The tag is the HMAC of bytes 0..76, truncated.
        assert_eq!(&buf[76..len], &key(2, 0xbb).tag(&buf[..76]).as_bytes()[..16]);
    }

    #[test]
    fn ring_changes_keep_the_current_key() {
        let mut ring = KeyRing::new(key(1, 1));
        assert_eq!(ring.remove(KeyId(1)), Err(KeyRingError::RemovesCurrent(KeyId(1))));
        assert_eq!(ring.insert(key(1, 2)), Err(KeyRingError::DuplicateKeyId(KeyId(1))));
        assert_eq!(ring.set_current(KeyId(9)), Err(KeyRingError::UnknownKeyId(KeyId(9))));
        for id in 2..=4 {
            ring.insert(key(id, id)).unwrap();
        }
        assert_eq!(ring.insert(key(5, 5)), Err(KeyRingError::Full));
        ring.set_current(KeyId(3)).unwrap();
        ring.remove(KeyId(1)).unwrap();
        assert_eq!(ring.ids().map(|k| k.0).collect::<heapless::Vec<u8, 4>>(), [4, 2, 3]);
        assert_eq!(ring.current(), KeyId(3));
        assert_eq!(Key::new(KeyId(0), &[0; 15]).unwrap_err(), KeyRingError::KeyTooShort(15));
        assert_eq!(KeyRing::new(key(1, 1)).with_tag_len(15).unwrap_err(), KeyRingError::TagLength(15));
        assert_eq!(KeyRing::new(key(1, 1)).with_tag_len(33).unwrap_err(), KeyRingError::TagLength(33));
    }

    #[test]
    fn keys_compare_by_id_and_secret_and_never_print_it() {
        assert_eq!(key(1, 7), key(1, 7));
        assert_ne!(key(1, 7), key(1, 8));
        assert_ne!(key(1, 7), key(2, 7));
        let printed = std::format!("{:?}", KeyRing::new(key(1, 0x41)));
        assert_eq!(printed, "KeyRing { keys: [1], current: KeyId(1), tag_len: 16 }");
    }
}
