//! `authkeys` and the HBauth methods: HMAC-SHA1, HMAC-MD5 and the keyless CRC.
//!
//! An authenticator on the wire is always `"<keyid> <digest>"`: the key index in decimal, one
//! space, the digest in lower-case hex (40 characters for sha1, 32 for md5, and `%lx` of the
//! CRC-32/POSIX for crc, without zero padding). Secrets live only inside the keyed HMAC states
//! (the inner- and outer-pad hash cores), which `sha1` and `md-5` zeroize when dropped (their
//! `zeroize` feature); `read_authkeys` also wipes the file's bytes after parsing.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac as _};
use md5::Md5;
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The most key indices `authkeys` may define (`MAXAUTH`): indices `0..16`.
pub const MAX_KEYS: usize = 16;

/// CRC-32/POSIX (`cksum`): poly 0x04C11DB7, MSB first, init 0, final complement, no length.
static CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_CKSUM);

/// An `authkeys` method with its key.
#[derive(Clone)]
enum Method {
    Crc,
    Md5(Hmac<Md5>),
    Sha1(Hmac<Sha1>),
}

/// The method names, for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MethodKind {
    /// `crc`: keyless integrity only.
    Crc,
    /// `md5 KEY`: HMAC-MD5.
    Md5,
    /// `sha1 KEY`: HMAC-SHA1.
    Sha1,
}

/// A digest computation in progress.
pub(super) enum Mac {
    Crc(crc::Digest<'static, u32>),
    Md5(Hmac<Md5>),
    Sha1(Hmac<Sha1>),
}

impl Mac {
    /// Adds `data`.
    pub(super) fn update(&mut self, data: &[u8]) {
        match self {
            Mac::Crc(d) => d.update(data),
            Mac::Md5(m) => m.update(data),
            Mac::Sha1(m) => m.update(data),
        }
    }

    /// The digest as lower-case hex.
    pub(super) fn finish(self) -> HexDigest {
        let mut out = HexDigest { buf: [0; 40], len: 0 };
        match self {
            Mac::Crc(d) => {
                let mut digits = [0u8; 20];
                let hex = super::message::format_number(u64::from(d.finalize()), 16, &mut digits);
                out.buf[..hex.len()].copy_from_slice(hex);
                out.len = hex.len();
            }
            Mac::Md5(m) => out.push_hex(m.finalize().as_bytes()),
            Mac::Sha1(m) => out.push_hex(m.finalize().as_bytes()),
        }
        out
    }
}

/// A digest in lower-case hex (at most 40 characters).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexDigest {
    buf: [u8; 40],
    len: usize,
}

impl HexDigest {
    fn push_hex(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(20).enumerate() {
            self.buf[2 * i] = b"0123456789abcdef"[usize::from(b >> 4)];
            self.buf[2 * i + 1] = b"0123456789abcdef"[usize::from(b & 15)];
        }
        self.len = 2 * bytes.len().min(20);
    }

    /// The hex digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only ASCII hex digits are ever written.
        f.write_str(core::str::from_utf8(self.as_bytes()).unwrap_or("?"))
    }
}

/// Why an authenticator was refused. A refused message changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The message carries no authenticator for its framing (no `auth` field in classic).
    #[error("no authenticator")]
    Missing,
    /// The authenticator is not `<keyid> <hex digest>`.
    #[error("malformed authenticator")]
    Malformed,
    /// It names a key index this node's `authkeys` does not define.
    #[error("unknown key index {0}")]
    UnknownKey(u8),
    /// The digest does not match: forged, corrupted, or another key.
    #[error("digest mismatch for key index {0}")]
    Mismatch(u8),
    /// The message has a field type whose classic text cannot be formed to check it.
    #[error("field type without classic text")]
    Unrepresentable,
}

/// Why an `authkeys` text was refused (1-based line numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthKeysError {
    /// No `auth N` line selects a key for sending.
    #[error("no `auth` line")]
    NoAuthLine,
    /// The `auth` line names an index that no key line defines.
    #[error("`auth {0}` selects an undefined key")]
    SelectedUndefined(u8),
    /// A second `auth` line.
    #[error("line {line}: second `auth` line")]
    DuplicateAuthLine {
        /// The line.
        line: usize,
    },
    /// A key index outside `0..16` or not a number.
    #[error("line {line}: bad key index")]
    BadIndex {
        /// The line.
        line: usize,
    },
    /// The same index defined twice.
    #[error("line {line}: key index defined twice")]
    DuplicateIndex {
        /// The line.
        line: usize,
    },
    /// A method other than `crc`, `md5`, `sha1`.
    #[error("line {line}: unknown method")]
    UnknownMethod {
        /// The line.
        line: usize,
    },
    /// `md5` or `sha1` without a key.
    #[error("line {line}: method needs a key")]
    MissingKey {
        /// The line.
        line: usize,
    },
    /// The file is readable or writable by group or others (Heartbeat refuses it too).
    #[error("authkeys mode {mode:o} is accessible by group or others (must be 0600)")]
    Permissions {
        /// The file's mode bits.
        mode: u32,
    },
}

/// The keys of an `authkeys` file: every defined index for verifying, the `auth N` one for
/// signing. `Debug` never shows a secret.
#[derive(Clone)]
pub struct AuthKeys {
    keys: [Option<Method>; MAX_KEYS],
    selected: u8,
}

impl fmt::Debug for AuthKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for (i, key) in self.keys.iter().enumerate() {
            if let Some(key) = key {
                list.entry(&i, &method_kind(key));
            }
        }
        list.finish()?;
        write!(f, " selected {}", self.selected)
    }
}

fn method_kind(m: &Method) -> MethodKind {
    match m {
        Method::Crc => MethodKind::Crc,
        Method::Md5(_) => MethodKind::Md5,
        Method::Sha1(_) => MethodKind::Sha1,
    }
}

/// The mode bits Heartbeat refuses on `authkeys`: read or write for group or others.
pub const FORBIDDEN_MODE_BITS: u32 = 0o066;

/// Refuses an `authkeys` mode that gives group or others read or write access, as Heartbeat
/// does ("Bad permissions on keyfile").
pub const fn check_mode(mode: u32) -> Result<(), AuthKeysError> {
    if mode & FORBIDDEN_MODE_BITS != 0 {
        return Err(AuthKeysError::Permissions { mode: mode & 0o7777 });
    }
    Ok(())
}

/// Parses the text of an unmodified `authkeys` file: `#` comments and blank lines, one
/// `auth N` line selecting the key for sending, and key lines `N crc`, `N md5 KEY`,
/// `N sha1 KEY` (`N` in `0..16`; the key is the rest of the line, trimmed).
///
/// This does not see the file: check its mode with [`check_mode`] (or read it with
/// `read_authkeys`, under `std` on Unix, which does both). Heartbeat refuses to start with a
/// group- or world-accessible `authkeys`.
pub fn parse_authkeys(text: &str) -> Result<AuthKeys, AuthKeysError> {
    let mut keys: [Option<Method>; MAX_KEYS] = Default::default();
    let mut selected = None;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (first, rest) = split_word(trimmed);
        if first == "auth" {
            if selected.is_some() {
                return Err(AuthKeysError::DuplicateAuthLine { line });
            }
            selected = Some(index(rest, line)?);
            continue;
        }
        let i = index(first, line)?;
        let (method, key) = split_word(rest);
        let method = match method {
            "crc" => Method::Crc,
            "md5" | "sha1" if key.is_empty() => return Err(AuthKeysError::MissingKey { line }),
            // HMAC takes keys of any length (longer than a block are hashed first).
            "md5" => Method::Md5(
                Hmac::<Md5>::new_from_slice(key.as_bytes()).map_err(|_| AuthKeysError::MissingKey { line })?,
            ),
            "sha1" => Method::Sha1(
                Hmac::<Sha1>::new_from_slice(key.as_bytes()).map_err(|_| AuthKeysError::MissingKey { line })?,
            ),
            _ => return Err(AuthKeysError::UnknownMethod { line }),
        };
        let slot = &mut keys[usize::from(i)];
        if slot.is_some() {
            return Err(AuthKeysError::DuplicateIndex { line });
        }
        *slot = Some(method);
    }
    let selected = selected.ok_or(AuthKeysError::NoAuthLine)?;
    if keys[usize::from(selected)].is_none() {
        return Err(AuthKeysError::SelectedUndefined(selected));
    }
    Ok(AuthKeys { keys, selected })
}

fn split_word(s: &str) -> (&str, &str) {
    match s.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((word, rest)) => (word, rest.trim()),
        None => (s, ""),
    }
}

fn index(s: &str, line: usize) -> Result<u8, AuthKeysError> {
    super::message::parse_number(s.trim(), 10)
        .and_then(|i| u8::try_from(i).ok())
        .filter(|i| usize::from(*i) < MAX_KEYS)
        .ok_or(AuthKeysError::BadIndex { line })
}

impl AuthKeys {
    /// The index `auth N` selected for sending.
    pub const fn selected(&self) -> u8 {
        self.selected
    }

    /// The method of key `index`, if defined.
    pub fn method(&self, index: u8) -> Option<MethodKind> {
        self.keys.get(usize::from(index))?.as_ref().map(method_kind)
    }

    fn start(&self, index: u8) -> Option<Mac> {
        Some(match self.keys.get(usize::from(index))?.as_ref()? {
            Method::Crc => Mac::Crc(CRC.digest()),
            Method::Md5(m) => Mac::Md5(m.clone()),
            Method::Sha1(m) => Mac::Sha1(m.clone()),
        })
    }

    /// Starts a digest with the selected key (always defined: `parse_authkeys` checks it).
    pub(super) fn start_selected(&self) -> Mac {
        self.start(self.selected).unwrap_or_else(|| Mac::Crc(CRC.digest()))
    }

    /// Computes the digest of `data` with key `index` (for diagnostics and tests).
    pub fn digest(&self, index: u8, data: &[u8]) -> Option<HexDigest> {
        let mut mac = self.start(index)?;
        mac.update(data);
        Some(mac.finish())
    }

    /// Checks an authenticator `"<keyid> <digest>"` against the data `feed` streams into the
    /// digest, with whatever defined key index it names. Compares in constant time.
    pub(super) fn verify(&self, authenticator: &str, feed: impl FnOnce(&mut Mac)) -> Result<u8, AuthError> {
        let (id, digest) = authenticator.split_once(' ').ok_or(AuthError::Malformed)?;
        let id = super::message::parse_number(id, 10).and_then(|i| u8::try_from(i).ok()).ok_or(AuthError::Malformed)?;
        if digest.is_empty() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed);
        }
        let mut mac = self.start(id).ok_or(AuthError::UnknownKey(id))?;
        feed(&mut mac);
        let expected = mac.finish();
        if bool::from(expected.as_bytes().ct_eq(digest.as_bytes())) { Ok(id) } else { Err(AuthError::Mismatch(id)) }
    }
}

/// Reads an `authkeys` file, refusing it (as Heartbeat does) when group or others may read or
/// write it.
#[cfg(all(feature = "std", unix))]
pub fn read_authkeys(path: &std::path::Path) -> Result<AuthKeys, ReadAuthKeysError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(ReadAuthKeysError::Io)?;
    check_mode(meta.permissions().mode()).map_err(ReadAuthKeysError::Invalid)?;
    let mut bytes = std::fs::read(path).map_err(ReadAuthKeysError::Io)?;
    let parsed = match core::str::from_utf8(&bytes) {
        Ok(text) => parse_authkeys(text).map_err(ReadAuthKeysError::Invalid),
        Err(_) => Err(ReadAuthKeysError::NotUtf8),
    };
    // The keyed HMAC states hold what they need; the file's secrets go.
    zeroize::Zeroize::zeroize(bytes.as_mut_slice());
    parsed
}

/// Why `read_authkeys` failed.
#[cfg(all(feature = "std", unix))]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadAuthKeysError {
    /// The file could not be read.
    #[error("reading authkeys: {0}")]
    Io(std::io::Error),
    /// It is not UTF-8 text.
    #[error("authkeys is not UTF-8 text")]
    NotUtf8,
    /// Its mode or content was refused.
    #[error("authkeys refused: {0}")]
    Invalid(AuthKeysError),
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "# lab keys\nauth 1\n1 sha1 lha-test-secret\n2 crc\n3 md5 lha-md5-key\n";

    #[test]
    fn the_lab_authkeys_parses_with_all_three_methods() {
        let keys = parse_authkeys(LAB).unwrap();
        assert_eq!(keys.selected(), 1);
        assert_eq!(keys.method(1), Some(MethodKind::Sha1));
        assert_eq!(keys.method(2), Some(MethodKind::Crc));
        assert_eq!(keys.method(3), Some(MethodKind::Md5));
        assert_eq!(keys.method(4), None);
        assert!(!std::format!("{keys:?}").contains("secret"));
    }

    #[test]
    fn keyed_states_are_zeroized_on_drop() {
        // `Hmac<D>` keeps the key only as two keyed hash cores (inner and outer pad), and those
        // cores wipe themselves when dropped (`hmac` 0.13 does not mark the wrapper itself).
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<sha1::block_api::Sha1Core>();
        zeroized_on_drop::<md5::block_api::Md5Core>();
    }

    #[test]
    fn crc_is_crc32_posix_unpadded() {
        let keys = parse_authkeys(LAB).unwrap();
        assert_eq!(keys.digest(2, b"123456789").unwrap().as_bytes(), b"765e7680");
        // Of nothing: the complement of the zero init.
        assert_eq!(keys.digest(2, b"").unwrap().as_bytes(), b"ffffffff");
    }

    #[test]
    fn hmac_digests_match_rfc_2202_vectors() {
        let keys = parse_authkeys("auth 0\n0 md5 Jefe\n1 sha1 Jefe\n").unwrap();
        let data = b"what do ya want for nothing?";
        assert_eq!(keys.digest(0, data).unwrap().as_bytes(), b"750c783e6ab0b503eaa86e310a5db738");
        assert_eq!(keys.digest(1, data).unwrap().as_bytes(), b"effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn every_bad_authkeys_is_refused_with_its_reason() {
        use AuthKeysError::*;
        let cases: &[(&str, AuthKeysError)] = &[
            ("1 crc\n", NoAuthLine),
            ("auth 2\n1 crc\n", SelectedUndefined(2)),
            ("auth 1\nauth 1\n1 crc\n", DuplicateAuthLine { line: 2 }),
            ("auth 16\n", BadIndex { line: 1 }),
            ("auth x\n", BadIndex { line: 1 }),
            ("auth 1\n1 crc\n1 md5 k\n", DuplicateIndex { line: 3 }),
            ("auth 1\n1 sha256 k\n", UnknownMethod { line: 2 }),
            ("auth 1\n1 sha1\n", MissingKey { line: 2 }),
            ("auth 1\n1 md5   \n", MissingKey { line: 2 }),
        ];
        for (text, want) in cases {
            assert_eq!(parse_authkeys(text).unwrap_err(), *want, "{text:?}");
        }
    }

    #[test]
    fn group_or_world_access_is_refused() {
        assert_eq!(check_mode(0o100600), Ok(()));
        assert_eq!(check_mode(0o400), Ok(()));
        assert_eq!(check_mode(0o640), Err(AuthKeysError::Permissions { mode: 0o640 }));
        assert_eq!(check_mode(0o604), Err(AuthKeysError::Permissions { mode: 0o604 }));
        assert_eq!(check_mode(0o620), Err(AuthKeysError::Permissions { mode: 0o620 }));
    }

    #[cfg(all(feature = "std", unix))]
    #[test]
    fn read_authkeys_checks_the_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(std::format!("lha-authkeys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("authkeys");
        std::fs::write(&path, LAB).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = read_authkeys(&path);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let accepted = read_authkeys(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(refused, Err(ReadAuthKeysError::Invalid(AuthKeysError::Permissions { mode: 0o644 }))));
        assert_eq!(accepted.unwrap().selected(), 1);
    }

    #[test]
    fn verify_takes_any_defined_index_and_refuses_the_rest() {
        let keys = parse_authkeys(LAB).unwrap();
        let data = b"t=status\n";
        let crc = keys.digest(2, data).unwrap();
        let auth = std::format!("2 {}", core::str::from_utf8(crc.as_bytes()).unwrap());
        assert_eq!(keys.verify(&auth, |m| m.update(data)), Ok(2));
        assert_eq!(keys.verify(&auth, |m| m.update(b"t=statuz\n")), Err(AuthError::Mismatch(2)));
        assert_eq!(keys.verify("9 abc", |m| m.update(data)), Err(AuthError::UnknownKey(9)));
        assert_eq!(keys.verify("2", |_| ()), Err(AuthError::Malformed));
        assert_eq!(keys.verify("x abc", |_| ()), Err(AuthError::Malformed));
        assert_eq!(keys.verify("2 ", |_| ()), Err(AuthError::Malformed));
        assert_eq!(keys.verify("2 xyz", |_| ()), Err(AuthError::Malformed));
        // Upper-case hex is not what Heartbeat computes: a mismatch.
        let sha = keys.digest(1, data).unwrap();
        let upper = std::format!("1 {}", core::str::from_utf8(sha.as_bytes()).unwrap().to_uppercase());
        assert_eq!(keys.verify(&upper, |m| m.update(data)), Err(AuthError::Mismatch(1)));
    }
}
