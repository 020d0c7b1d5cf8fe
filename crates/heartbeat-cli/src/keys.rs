//! Key files: the cluster's HMAC keys, one per line as `ID HEX-SECRET`.
//!
//! ```text
//! # heartbeat keys: the first key is the one this node sends with; all are accepted.
//! 2 4f1c…(64 hex digits)
//! 1 9a07…
//! ```
//!
//! Rotation without a restart or a false `Down`: add the new key on every node (second line),
//! then make it first on every node, then remove the old one, with `heartbeat reload` (or
//! SIGHUP) after each edit on each node. A reload re-reads the file and replaces the running
//! ring in one step; each peer's replay state is kept. Generate a secret with
//! `openssl rand -hex 32` or `head -c 32 /dev/urandom | xxd -p -c 64`.

use std::path::Path;

use heartbeat_proto::{Key, KeyId, KeyRing};
use zeroize::Zeroizing;

use crate::secret_file;
use crate::settings_file::SettingsError;

/// Reads a key file into a ring whose current key is the file's first.
///
/// Like Linux-HA's `authkeys`, a file that anyone but its owner may read is refused.
pub(crate) fn read(path: &Path) -> Result<KeyRing, SettingsError> {
    let shown = secret_file::field(path);
    let bytes = secret_file::read(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| SettingsError::new(&shown, "cannot read: stream did not contain valid UTF-8"))?;
    let mut ring: Option<KeyRing> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |reason: String| SettingsError::new(format!("{shown} line {}", n + 1), reason);
        let key = parse_line(line).map_err(at)?;
        match &mut ring {
            None => ring = Some(KeyRing::new(key)),
            Some(ring) => ring.insert(key).map_err(|err| at(err.to_string()))?,
        }
    }
    ring.ok_or_else(|| SettingsError::new(shown, "holds no key (expected lines `ID HEX-SECRET`)"))
}

fn parse_line(line: &str) -> Result<Key, String> {
    let (id, secret) = line.split_once(char::is_whitespace).ok_or("expected `ID HEX-SECRET`")?;
    // Never echo the line: with its columns swapped, the "id" would be the secret.
    let id: u8 = id.parse().map_err(|_| "the key id is not a number from 0 to 255".to_string())?;
    let secret = Zeroizing::new(hex::decode(secret.trim()).map_err(|_| "the secret is not hexadecimal".to_string())?);
    Key::new(KeyId(id), &secret).map_err(|err| err.to_string())
}

/// A fresh random key (32 bytes from the operating system), for the demo.
pub(crate) fn random(id: u8) -> Result<Key, String> {
    let mut secret = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut secret[..]).map_err(|err| format!("no randomness: {err}"))?;
    Key::new(KeyId(id), &secret[..]).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        f
    }

    #[test]
    fn a_file_others_can_read_is_refused_and_secrets_are_never_echoed() {
        let secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let f = file(&format!("1 {secret}\n"));
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read(f.path()).unwrap_err().to_string().contains("chmod 600"));
        let swapped = file(&format!("{secret} 1\n"));
        let err = read(swapped.path()).unwrap_err().to_string();
        assert!(err.contains("line 1") && !err.contains("0011223344"), "{err}");
    }

    #[test]
    fn the_first_key_is_current_and_all_are_accepted() {
        let secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let f = file(&format!("# keys\n\n2 {secret}\n1 {secret}\n"));
        let ring = read(f.path()).unwrap();
        assert_eq!(ring.current(), KeyId(2));
        assert!(ring.contains(KeyId(1)));
    }

    #[test]
    fn each_bad_line_is_named() {
        for (text, fragment) in [
            ("", "holds no key"),
            ("1\n", "line 1"),
            ("x 00112233445566778899aabbccddeeff\n", "line 1"),
            ("# c\n1 zz\n", "line 2"),
            ("1 0011\n", "line 1"),
        ] {
            let err = read(file(text).path()).unwrap_err();
            assert!(err.to_string().contains(fragment), "{text:?}: {err}");
        }
    }

    #[test]
    fn random_keys_differ() {
        // Keys compare by a check value derived from the secret.
        assert_ne!(random(1).unwrap(), random(1).unwrap());
    }
}
