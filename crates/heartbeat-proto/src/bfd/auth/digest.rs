//! Keyed MD5 and keyed SHA1 (§6.7.3, §6.7.4): plain hashes over the packet with the padded key
//! in the digest field. Not HMAC.

use md5::{Digest, Md5};
use sha1::Sha1;
use zeroize::ZeroizeOnDrop;

use super::{AuthType, MAX_SECRET_LEN};
use crate::bfd::packet::field;

/// Fails to compile if the hash states stop wiping themselves on drop (if the `zeroize`
/// features of `md-5` or `sha1` were lost): they absorb the key.
const _: fn() = || {
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}
    wiped_on_drop::<md5::block_api::Md5Core>();
    wiped_on_drop::<sha1::block_api::Sha1Core>();
};

/// Writes `key` (zero-padded) into the digest field of `packet`, which is exactly one packet of
/// Length bytes with a keyed section of `auth_type`, hashes the whole packet and writes the
/// hash over the key. A simple-password type writes nothing.
pub(super) fn fill(auth_type: AuthType, key: &[u8; MAX_SECRET_LEN], packet: &mut [u8]) {
    let Some(field_len) = digest_len(auth_type) else { return };
    let Some(slot) = packet.get_mut(field::AUTH_DIGEST..field::AUTH_DIGEST + field_len) else { return };
    slot.copy_from_slice(&key[..field_len]);
    let range = field::AUTH_DIGEST..field::AUTH_DIGEST + field_len;
    if field_len == MD5_LEN {
        let hash = Md5::digest(&*packet);
        packet[range].copy_from_slice(&hash);
    } else {
        let hash = Sha1::digest(&*packet);
        packet[range].copy_from_slice(&hash);
    }
}

/// Bytes of an MD5 digest.
const MD5_LEN: usize = 16;
/// Bytes of a SHA1 hash.
const SHA1_LEN: usize = 20;

/// The digest field's length: 16 for MD5, 20 for SHA1.
fn digest_len(auth_type: AuthType) -> Option<usize> {
    match auth_type {
        AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => Some(MD5_LEN),
        AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => Some(SHA1_LEN),
        AuthType::SimplePassword => None,
    }
}
