//! What every subcommand's settings share: the refusal that names a field, and a TOML file read
//! so that a mistake in it names its line and key.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::duration;

/// A setting that cannot work: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingsError {
    /// Where in which file, when it came from one: `node.toml line 3`.
    pub(crate) location: Option<String>,
    pub(crate) field: String,
    pub(crate) reason: String,
}

impl SettingsError {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SettingsError { location: None, field: field.into(), reason: reason.into() }
    }

    /// The same refusal, placed in a file.
    pub(crate) fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "invalid `{}`: {}", self.field, self.reason)
        }
    }
}

/// Reads and parses the TOML file at `path`. A refusal names the file, and where toml can say,
/// the line and its key (`node.toml line 3: invalid `interval``), then toml's own one-line
/// reason.
pub(crate) fn read<T: DeserializeOwned>(path: &Path) -> Result<T, SettingsError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|err| SettingsError::new("", format!("cannot read: {err}")).at(&shown))?;
    toml::from_str(&text).map_err(|err| {
        let reason = err.message().trim().to_string();
        match err.span().map(|s| line_of(&text, s.start)) {
            Some(n) => {
                // An unknown key is named by the error itself; otherwise the line's key is.
                let key = unknown_field(err.message())
                    .or_else(|| text.lines().nth(n - 1).and_then(|l| l.split('=').next()).map(str::trim))
                    .unwrap_or("");
                SettingsError::new(key, reason).at(format!("{shown} line {n}"))
            }
            None => SettingsError::new("", reason).at(shown),
        }
    })
}

/// Reads the file's text again, to place a refusal found after parsing (a value out of range)
/// on its line: `FILE line N` if `key` is set on a line of its own in `path`.
pub(crate) fn place(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().position(|l| {
        let l = l.trim_start();
        l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')) || l.contains(&format!("{key} ="))
    })?;
    Some(format!("{} line {}", path.display(), line + 1))
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].matches('\n').count() + 1
}

/// The key of serde's "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

/// A duration as a file writes it (`"100ms"`), if it writes one; a refusal names `field`.
pub(crate) fn duration(field: &str, text: Option<String>) -> Result<Option<Duration>, SettingsError> {
    text.map(|t| duration::parse(&t).map_err(|reason| SettingsError::new(field, reason))).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        id: u64,
    }

    #[test]
    fn a_bad_file_names_its_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, "id = 3\n").unwrap();
        assert_eq!(read::<Sample>(&path).unwrap().id, 3);
        std::fs::write(&path, "# comment\nid = \"one\"\n").unwrap();
        let err = read::<Sample>(&path).unwrap_err();
        assert_eq!((err.location, err.field.as_str()), (Some(format!("{} line 2", path.display())), "id"));
        // Regression: an unknown key on line 3 was reported on line 2, under the key there.
        std::fs::write(&path, "id = 1\n# two\ncolour = \"red\"\n").unwrap();
        let err = read::<Sample>(&path).unwrap_err();
        assert_eq!(err.to_string(), format!("{} line 3: invalid `colour`: {}", path.display(), err.reason));
        std::fs::write(&path, "id = 1\n\n\n\n  colour = 1\n").unwrap();
        assert!(read::<Sample>(&path).unwrap_err().to_string().contains("line 5: invalid `colour`"));
        assert_eq!(place(&path, "colour").as_deref(), Some(&*format!("{} line 5", path.display())));
        assert_eq!(place(&path, "absent"), None);
        let err = read::<Sample>(&dir.path().join("missing.toml")).unwrap_err();
        assert!(err.reason.starts_with("cannot read"), "{err}");
        assert_eq!(duration("tick", Some("2s".into())), Ok(Some(Duration::from_secs(2))));
        assert_eq!(duration("tick", Some("2 parsecs".into())).unwrap_err().field, "tick");
    }
}
