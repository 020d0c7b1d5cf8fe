//! Files holding secrets (`--key-file` of `run` and of `bfd`): read only when nobody but their
//! owner may read them, like Linux-HA's `authkeys`, and wiped from memory when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::settings_file::SettingsError;

/// How refusals name the file: `key_file PATH`.
pub(crate) fn field(path: &Path) -> String {
    format!("key_file {}", path.display())
}

/// The file's whole content, if its mode lets only its owner read it; a refusal names the file
/// and never echoes what it holds.
pub(crate) fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, SettingsError> {
    let shown = field(path);
    let cannot_read = |err: std::io::Error| SettingsError::new(&shown, format!("cannot read: {err}"));
    let mode = std::fs::metadata(path).map_err(cannot_read)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(SettingsError::new(
            &shown,
            format!("is readable by others (mode {:o}): chmod 600 it", mode & 0o777),
        ));
    }
    Ok(Zeroizing::new(std::fs::read(path).map_err(cannot_read)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_owner_only_file_is_read() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "s3cret").unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(&read(f.path()).unwrap()[..], b"s3cret");
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(0o604)).unwrap();
        let err = read(f.path()).unwrap_err().to_string();
        assert!(err.contains("mode 604") && err.contains("chmod 600") && !err.contains("s3cret"), "{err}");
        assert!(read(Path::new("/nonexistent")).unwrap_err().reason.starts_with("cannot read"));
    }
}
