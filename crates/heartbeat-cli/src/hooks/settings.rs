//! `[[hook]]` tables and `hooks_at_once`, as a settings file writes them, checked once at start:
//! a refusal names the table and the field (`hook[2].events`).
//!
//! ```toml
//! hooks_at_once = 4                  # hooks running at once, all peers together (default 4)
//!
//! [[hook]]
//! events = ["down", "left"]          # which events (see EventName)
//! peers = [2, "hbnode1"]             # which peers, by id or name (default: every peer)
//! command = ["/usr/local/bin/page", "--team", "ops"]  # program and arguments, no shell
//! timeout = "5s"                     # killed (its whole process group) after this (default 10s)
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::event::{EventName, Profile};
use crate::command::CommandSpec;
use crate::settings_file::{self, SettingsError};

/// Hooks running at once unless the settings say otherwise.
pub(crate) const DEFAULT_AT_ONCE: usize = 4;
/// A hook's timeout unless its table says otherwise.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A peer as a `[[hook]]` names it: a number or a name.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum PeerRef {
    /// A node id.
    Id(u64),
    /// A node name, an address, a session id.
    Name(String),
}

/// One `[[hook]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HookTable {
    events: Vec<String>,
    #[serde(default)]
    peers: Vec<PeerRef>,
    command: Vec<String>,
    timeout: Option<String>,
}

/// The hook keys of a settings file, as written: what `run`'s and `bfd`'s files hold among
/// their other keys, and all that a `--hooks FILE` holds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HookTables {
    /// The `[[hook]]` tables, in order.
    #[serde(default, rename = "hook")]
    pub(crate) hooks: Vec<HookTable>,
    /// Hooks running at once.
    pub(crate) hooks_at_once: Option<usize>,
}

/// One hook, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hook {
    /// Its number in the file, from 1 (the logs name it so).
    pub(crate) number: usize,
    /// The events it runs for.
    pub(crate) events: Vec<EventName>,
    /// The peers it runs for, by id or name; empty: every peer.
    pub(crate) peers: Vec<String>,
    /// What it runs.
    pub(crate) command: CommandSpec,
}

impl Hook {
    /// Whether it runs for `event` about a peer known as `peer` or `peer_name`.
    pub(crate) fn wants(&self, event: EventName, peer: &str, peer_name: &str) -> bool {
        self.events.contains(&event)
            && (self.peers.is_empty() || self.peers.iter().any(|p| p == peer || p == peer_name))
    }
}

/// Every hook of a node, checked, and the bound on how many run at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HookSettings {
    /// In file order.
    pub(crate) hooks: Vec<Hook>,
    /// At least 1.
    pub(crate) at_once: usize,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings { hooks: Vec::new(), at_once: DEFAULT_AT_ONCE }
    }
}

impl HookTables {
    /// Checks every table for `profile`.
    pub(crate) fn check(self, profile: Profile) -> Result<HookSettings, SettingsError> {
        let at_once = match self.hooks_at_once {
            Some(0) => return Err(SettingsError::new("hooks_at_once", "must be at least 1")),
            Some(n) => n,
            None => DEFAULT_AT_ONCE,
        };
        let hooks = self
            .hooks
            .into_iter()
            .enumerate()
            .map(|(i, table)| table.check(i + 1, profile))
            .collect::<Result<_, _>>()?;
        Ok(HookSettings { hooks, at_once })
    }
}

impl HookSettings {
    /// Refuses a hook naming a peer outside `known` (the node's peers, as events name them),
    /// for subcommands that know every peer at start: a misspelt peer would silently never
    /// match.
    pub(crate) fn check_peers(&self, known: &[String]) -> Result<(), SettingsError> {
        for hook in &self.hooks {
            if let Some(stranger) = hook.peers.iter().find(|p| !known.contains(p)) {
                return Err(SettingsError::new(
                    format!("hook[{}].peers", hook.number),
                    format!("`{stranger}` is not a peer of this node (its peers: {})", known.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

/// Reads a `--hooks FILE` (only `[[hook]]` tables and `hooks_at_once`) for `profile`; no file,
/// no hooks.
pub(crate) fn load(file: Option<&Path>, profile: Profile) -> Result<HookSettings, SettingsError> {
    match file {
        Some(path) => settings_file::read::<HookTables>(path)?.check(profile),
        None => Ok(HookSettings::default()),
    }
}

impl HookTable {
    fn check(self, number: usize, profile: Profile) -> Result<Hook, SettingsError> {
        let field = |name: &str| format!("hook[{number}].{name}");
        if self.events.is_empty() {
            return Err(SettingsError::new(field("events"), "names no event"));
        }
        let known: Vec<&str> = profile.events().iter().map(|e| e.as_str()).collect();
        let mut events = Vec::new();
        for name in &self.events {
            let event = match name.parse::<EventName>() {
                Ok(event) if profile.events().contains(&event) => event,
                Ok(_) => {
                    return Err(SettingsError::new(
                        field("events"),
                        format!(
                            "`{name}` is not an event of `heartbeat {}` (one of {})",
                            profile.name(),
                            known.join(", ")
                        ),
                    ));
                }
                Err(()) => {
                    return Err(SettingsError::new(
                        field("events"),
                        format!("`{name}` is not an event (one of {})", known.join(", ")),
                    ));
                }
            };
            if !events.contains(&event) {
                events.push(event);
            }
        }
        match self.command.first() {
            None => return Err(SettingsError::new(field("command"), "is empty: name a program and its arguments")),
            Some(program) if program.is_empty() => {
                return Err(SettingsError::new(field("command"), "names an empty program"));
            }
            Some(_) => {}
        }
        let timeout = settings_file::duration(&field("timeout"), self.timeout)?.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(SettingsError::new(field("timeout"), "must be more than zero"));
        }
        let peers = self
            .peers
            .into_iter()
            .map(|p| match p {
                PeerRef::Id(id) => id.to_string(),
                PeerRef::Name(name) => name,
            })
            .collect();
        Ok(Hook { number, events, peers, command: CommandSpec { command: self.command, timeout } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, profile: Profile) -> Result<HookSettings, SettingsError> {
        toml::from_str::<HookTables>(text).expect("parses").check(profile)
    }

    #[test]
    fn a_table_reads_into_a_hook() {
        let s = check(
            "hooks_at_once = 2\n[[hook]]\nevents = [\"down\", \"left\", \"down\"]\npeers = [2, \"db\"]\ncommand = [\"/bin/echo\", \"x\"]\ntimeout = \"250ms\"\n",
            Profile::Run,
        )
        .unwrap();
        assert_eq!(s.at_once, 2);
        let hook = &s.hooks[0];
        assert_eq!((hook.number, hook.events.as_slice()), (1, &[EventName::Down, EventName::Left][..]));
        assert_eq!(hook.peers, ["2", "db"]);
        assert_eq!(hook.command.timeout, Duration::from_millis(250));
        assert!(hook.wants(EventName::Down, "2", "2"));
        assert!(hook.wants(EventName::Left, "9", "db"));
        assert!(!hook.wants(EventName::Down, "3", "3"));
        assert!(!hook.wants(EventName::Up, "2", "2"));
        let every = check("[[hook]]\nevents = [\"up\"]\ncommand = [\"true\"]\n", Profile::Run).unwrap();
        assert!(every.hooks[0].wants(EventName::Up, "77", "77"));
        assert_eq!((every.at_once, every.hooks[0].command.timeout), (DEFAULT_AT_ONCE, DEFAULT_TIMEOUT));
    }

    #[test]
    fn each_refusal_names_the_table_and_field() {
        let cases = [
            ("[[hook]]\nevents = [\"lnk-up\"]\ncommand = [\"true\"]\n", "hook[1].events", "`lnk-up` is not an event"),
            ("[[hook]]\nevents = []\ncommand = [\"true\"]\n", "hook[1].events", "names no event"),
            (
                "[[hook]]\nevents = [\"up\"]\ncommand = [\"true\"]\n[[hook]]\nevents = [\"session-expired\"]\ncommand = [\"true\"]\n",
                "hook[2].events",
                "not an event of `heartbeat run`",
            ),
            ("[[hook]]\nevents = [\"up\"]\ncommand = []\n", "hook[1].command", "is empty"),
            ("[[hook]]\nevents = [\"up\"]\ncommand = [\"\"]\n", "hook[1].command", "empty program"),
            (
                "[[hook]]\nevents = [\"up\"]\ncommand = [\"true\"]\ntimeout = \"0s\"\n",
                "hook[1].timeout",
                "more than zero",
            ),
            ("[[hook]]\nevents = [\"up\"]\ncommand = [\"true\"]\ntimeout = \"soon\"\n", "hook[1].timeout", ""),
            ("hooks_at_once = 0\n", "hooks_at_once", "at least 1"),
        ];
        for (text, field, reason) in cases {
            let err = check(text, Profile::Run).unwrap_err();
            assert_eq!(err.field, field, "{text}");
            assert!(err.reason.contains(reason), "{err}");
        }
        assert!(check("[[hook]]\nevents = [\"init\"]\ncommand = [\"true\"]\n", Profile::Bfd).is_ok());
        let named = check("[[hook]]\nevents = [\"up\"]\npeers = [2, 9]\ncommand = [\"true\"]\n", Profile::Run).unwrap();
        let err = named.check_peers(&["2".into(), "3".into()]).unwrap_err();
        assert_eq!(err.field, "hook[1].peers");
        assert!(err.reason.contains("`9` is not a peer of this node (its peers: 2, 3)"), "{err}");
        assert!(named.check_peers(&["2".into(), "9".into()]).is_ok());
    }

    #[test]
    fn a_hooks_file_refuses_unknown_keys_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hooks.toml");
        std::fs::write(&path, "[[hook]]\nevents = [\"up\"]\ncommand = [\"true\"]\nshell = true\n").unwrap();
        let err = load(Some(&path), Profile::ZkServer).unwrap_err();
        assert!(err.to_string().contains("unknown field `shell`"), "{err}");
        assert_eq!(load(None, Profile::Run).unwrap(), HookSettings::default());
    }
}
