//! Frame authentication: who may speak for a node.
//!
//! A cluster either runs with shared keys ([`Authentication::Hmac`], feature `auth`) or,
//! as an explicit choice, without ([`Authentication::None`]). With keys, every frame a node
//! sends carries an HMAC-SHA256 tag (truncated to the ring's tag length, at least 128 bits)
//! over the whole header and the trailer's preamble, under the key the trailer names; every
//! frame it receives must carry a valid tag under one of the keys in its [`KeyRing`]. Without
//! keys, a frame that carries a trailer is refused as well: a cluster does not mix the two.
//!
//! The check runs in [`Monitor::on_message`](crate::Monitor::on_message) after the cheap
//! admission checks (structure, cluster, addressee, known or learnable sender) and before any
//! peer state is read for the verdict or changed, and it costs one HMAC at most: rejecting a
//! forged frame is O(1). See `SECURITY.md` at the repository root for the threat model.

#[cfg(feature = "auth")]
mod ring;

#[cfg(feature = "auth")]
pub use ring::{Key, KeyRing, KeyRingError, MAX_KEYS, MIN_KEY_LEN, MIN_TAG_LEN};

use crate::wire::{AuthHeader, EncodeError, Frame, Message};

/// The authentication scheme byte of HMAC-SHA256 trailers.
pub const SCHEME_HMAC_SHA256: u8 = 1;

/// Names one key of a cluster's [`KeyRing`]; travels in every authenticated frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u8);

/// How a node authenticates the frames it sends and receives. There is no default: a
/// configuration must choose, so that running without authentication is never an accident.
#[derive(Debug, Clone, PartialEq, Eq)]
// The ring is inline (no allocator to box it into) and a node holds one configuration.
#[allow(clippy::large_enum_variant)]
pub enum Authentication {
    /// Frames are neither signed nor checked, and authenticated frames are refused. Only for
    /// networks where every sender is trusted.
    None,
    /// Frames are signed with the ring's current key and accepted under any of its keys.
    #[cfg(feature = "auth")]
    Hmac(KeyRing),
}

/// Why a frame failed authentication. Every variant is counted in
/// [`MonitorStats::rejected_auth`](crate::MonitorStats::rejected_auth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// This node has keys but the frame carries no tag.
    #[error("unauthenticated frame")]
    Missing,
    /// This node has no keys but the frame carries a tag.
    #[error("authenticated frame, but this node has no keys")]
    Unexpected,
    /// The message was handed over already decoded, without its tag, so it cannot be checked
    /// (see [`Monitor::on_decoded`](crate::Monitor::on_decoded)).
    #[error("a decoded message cannot be verified")]
    Unverifiable,
    /// The trailer names a scheme this node does not use.
    #[error("unknown authentication scheme {0}")]
    UnknownScheme(u8),
    /// The trailer names a key that is not in this node's ring.
    #[error("unknown key {0:?}")]
    UnknownKey(KeyId),
    /// The tag is shorter than the ring's tag length.
    #[error("tag of {len} bytes, at least {min} required")]
    TagTooShort {
        /// The tag's length.
        len: usize,
        /// The least length accepted.
        min: usize,
    },
    /// The tag does not match the frame under the named key: forged or corrupted.
    #[error("bad tag under key {0:?}")]
    BadTag(KeyId),
}

impl Authentication {
    /// Whether this is [`Authentication::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, Authentication::None)
    }

    /// The key ring, if any.
    #[cfg(feature = "auth")]
    pub fn key_ring(&self) -> Option<&KeyRing> {
        match self {
            Authentication::Hmac(ring) => Some(ring),
            Authentication::None => None,
        }
    }

    #[cfg(feature = "auth")]
    pub(crate) fn key_ring_mut(&mut self) -> Option<&mut KeyRing> {
        match self {
            Authentication::Hmac(ring) => Some(ring),
            Authentication::None => None,
        }
    }

    /// The trailer frames sent under this configuration carry.
    pub fn header(&self) -> Option<AuthHeader> {
        match self {
            Authentication::None => None,
            #[cfg(feature = "auth")]
            Authentication::Hmac(ring) => Some(ring.header()),
        }
    }

    /// Encodes `msg` as a node with this configuration sends it: with the trailer and the tag
    /// of the current key, or plain. `msg.auth` is ignored. Returns the frame's length; fails
    /// without writing, like [`Message::encode`].
    pub fn encode(&self, msg: &Message, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = Message { auth: self.header(), ..*msg }.encode(buf)?;
        self.sign(&mut buf[..len]);
        Ok(len)
    }

    /// [`encode`](Self::encode) for the state machines' own messages, valid by construction
    /// (see `Message::encode_valid`): only the buffer's size can fail, and then nothing is
    /// written.
    pub(crate) fn encode_valid(&self, msg: &Message, buf: &mut [u8]) -> Result<usize, crate::engine::BufferTooSmall> {
        let msg = Message { auth: self.header(), ..*msg };
        let need = msg.wire_len();
        let have = buf.len();
        let frame = buf.get_mut(..need).ok_or(crate::engine::BufferTooSmall { need, have })?;
        msg.encode_valid(frame);
        self.sign(frame);
        Ok(need)
    }

    /// Fills in the tag of an encoded frame, if this configuration has keys.
    #[cfg_attr(not(feature = "auth"), allow(unused_variables))]
    fn sign(&self, frame: &mut [u8]) {
        #[cfg(feature = "auth")]
        if let Authentication::Hmac(ring) = self {
            ring.sign(&mut Frame::new_unchecked(frame));
        }
    }

    /// Checks a structurally valid frame's trailer and tag against this configuration: one
    /// HMAC at most, whatever the frame holds.
    pub fn verify<T: AsRef<[u8]>>(&self, frame: &Frame<T>) -> Result<(), AuthError> {
        match (self, frame.auth_trailer()) {
            (Authentication::None, None) => Ok(()),
            (Authentication::None, Some(_)) => Err(AuthError::Unexpected),
            #[cfg(feature = "auth")]
            (Authentication::Hmac(_), None) => Err(AuthError::Missing),
            #[cfg(feature = "auth")]
            (Authentication::Hmac(ring), Some(_)) => ring.verify(frame),
        }
    }

    /// The check for a message that arrives decoded, without its frame: only a configuration
    /// without keys can accept it.
    pub(crate) fn verify_decoded(&self, msg: &Message) -> Result<(), AuthError> {
        match (self, msg.auth) {
            (Authentication::None, None) => Ok(()),
            (Authentication::None, Some(_)) => Err(AuthError::Unexpected),
            #[cfg(feature = "auth")]
            (Authentication::Hmac(_), None) => Err(AuthError::Missing),
            #[cfg(feature = "auth")]
            (Authentication::Hmac(_), Some(_)) => Err(AuthError::Unverifiable),
        }
    }
}
