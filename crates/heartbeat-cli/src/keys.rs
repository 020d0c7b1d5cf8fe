//! Key files: the cluster's HMAC keys, one per line as `ID HEX-SECRET`.
//!
//! ```text
//! # heartbeat keys: the first key is the one this node sends with; all are accepted.
//! 2 4f1c…(64 hex digits)
//! 1 9a07…
//! ```
//!
//! Rotation without a false `Down`: add the new key on every node (second line), then make it
//! first on every node, then remove the old one. Generate a secret with
//! `openssl rand -hex 32` or `head -c 32 /dev/urandom | xxd -p -c 64`.

use std::path::Path;

use heartbeat_proto::{Key, KeyId, KeyRing};
use zeroize::Zeroizing;

use crate::settings::SettingsError;

/// Reads a key file into a ring whose current key is the file's first.
pub(crate) fn read(path: &Path) -> Result<KeyRing, SettingsError> {
    let shown = format!("key_file {}", path.display());
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|err| SettingsError::new(&shown, format!("cannot read: {err}")))?,
    );
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
    let id: u8 = id.parse().map_err(|_| format!("key id '{id}' is not a number from 0 to 255"))?;
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
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
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
