//! What a hook is told about an event, written once: the record, its JSON line (stdin) and its
//! environment variables are the same fields.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

/// The subcommand whose events these are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Profile {
    /// `heartbeat run`.
    Run,
    /// `heartbeat linux-ha`.
    LinuxHa,
    /// `heartbeat bfd`.
    Bfd,
    /// `heartbeat zk-server`.
    ZkServer,
    /// `heartbeat zk-client`.
    ZkClient,
}

impl Profile {
    /// Its name, as `HEARTBEAT_PROFILE` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Profile::Run => "run",
            Profile::LinuxHa => "linux-ha",
            Profile::Bfd => "bfd",
            Profile::ZkServer => "zk-server",
            Profile::ZkClient => "zk-client",
        }
    }

    /// The events this profile can report (a hook for any other is refused at start).
    pub(crate) fn events(self) -> &'static [EventName] {
        use EventName::*;
        match self {
            Profile::Run => &[
                Up,
                Suspect,
                Down,
                Restarted,
                Left,
                LinkUp,
                LinkDown,
                ResourceStarted,
                ResourceStopped,
                ResourceFailed,
            ],
            Profile::LinuxHa => &[Up, Down, Restarted, Left, ResourceStarted, ResourceStopped, ResourceFailed],
            Profile::Bfd => &[Up, Down, Init, AdminDown, PeerAdminDown, TimingChanged],
            Profile::ZkServer => &[SessionCreated, SessionResumed, SessionClosed, SessionExpired],
            Profile::ZkClient => &[Connected, Disconnected, SessionResumed, SessionClosed, SessionExpired],
        }
    }
}

macro_rules! event_names {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// An event a hook can be attached to, by the name the settings and `HEARTBEAT_EVENT`
        /// use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum EventName {
            $($(#[$doc])* $variant,)*
        }

        impl EventName {
            /// Every name, in the order the docs list them.
            pub(crate) const ALL: &'static [EventName] = &[$(EventName::$variant,)*];

            /// The name as written in the settings.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $(EventName::$variant => $name,)*
                }
            }
        }
    };
}

event_names! {
    /// A peer is heard (again): `run`, `linux-ha`; a BFD session reached Up.
    Up = "up",
    /// A peer is late, not yet down (`run`).
    Suspect = "suspect",
    /// A peer is declared dead: `run`, `linux-ha`; a BFD session went Down.
    Down = "down",
    /// A peer came back with a higher generation (`run`, `linux-ha`).
    Restarted = "restarted",
    /// A peer said goodbye (`run`, `linux-ha`).
    Left = "left",
    /// One link to a peer came up (`run`).
    LinkUp = "link-up",
    /// One link to a peer went down while others may still carry it (`run`).
    LinkDown = "link-down",
    /// A BFD session went to Init.
    Init = "init",
    /// A BFD session was put AdminDown here.
    AdminDown = "admin-down",
    /// The BFD peer reports AdminDown (disabled on purpose, not a failure).
    PeerAdminDown = "peer-admin-down",
    /// A BFD session's negotiated interval or detection time changed.
    TimingChanged = "timing-changed",
    /// `zk-server`: a client opened a session.
    SessionCreated = "session-created",
    /// A session was resumed on a new connection (`zk-server`, `zk-client`).
    SessionResumed = "session-resumed",
    /// A session was closed by its client (`zk-server`, `zk-client`).
    SessionClosed = "session-closed",
    /// A session expired (`zk-server`, `zk-client`).
    SessionExpired = "session-expired",
    /// `zk-client`: a new session on a server.
    Connected = "connected",
    /// `zk-client`: the connection to a server was lost (the session may resume).
    Disconnected = "disconnected",
    /// An HA resource's start succeeded on this node (reserved for the HA resources).
    ResourceStarted = "resource-started",
    /// An HA resource's stop succeeded on this node (reserved for the HA resources).
    ResourceStopped = "resource-stopped",
    /// An HA resource's start, stop or status failed (reserved for the HA resources).
    ResourceFailed = "resource-failed",
}

impl FromStr for EventName {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        EventName::ALL.iter().copied().find(|e| e.as_str() == s).ok_or(())
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One event as every hook receives it. Absent fields are left out of the JSON line and are
/// empty strings in the environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HookEvent {
    /// Which event (`HEARTBEAT_EVENT`).
    pub(crate) event: EventName,
    /// Which subcommand (`HEARTBEAT_PROFILE`).
    pub(crate) profile: Profile,
    /// The peer's stable identity: node id (`run`), node name (`linux-ha`), peer address
    /// (`bfd`), session id (`zk-server`), server address (`zk-client`) (`HEARTBEAT_PEER`).
    /// Hooks of one peer run in order, one at a time.
    pub(crate) peer: String,
    /// The peer's name where the profile has one, else the same as `peer`.
    pub(crate) peer_name: String,
    /// The HA resource concerned (resource events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource: Option<String>,
    /// Seconds on the node's own clock (since it started) when the event happened.
    pub(crate) at: f64,
    /// The peer's generation, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) generation: Option<u64>,
    /// For `restarted`: the generation before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) previous_generation: Option<u64>,
    /// Milliseconds the peer had been silent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) silence_ms: Option<f64>,
    /// The timeout in force for the peer, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<f64>,
    /// For a detection: how long after its deadline it was declared, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) late_ms: Option<f64>,
    /// For `link-up` / `link-down`: the link's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) link: Option<u8>,
    /// Why, in a word or a few: `timeout`, `never-heard`, `goodbye`, a BFD diagnostic, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// The order in which this node handed events to its hooks, from 1 (set on dispatch).
    pub(crate) seq: u64,
}

/// The record's fields as environment variables, in this order: `HEARTBEAT_` and the
/// upper-cased JSON key.
pub(crate) const ENV_KEYS: &[&str] = &[
    "event",
    "profile",
    "peer",
    "peer_name",
    "resource",
    "at",
    "generation",
    "previous_generation",
    "silence_ms",
    "timeout_ms",
    "late_ms",
    "link",
    "reason",
    "seq",
];

/// Milliseconds with microsecond precision, as the logs print them.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl HookEvent {
    /// An event about `peer` with nothing else known yet.
    pub(crate) fn new(event: EventName, profile: Profile, peer: impl Into<String>, at: f64) -> Self {
        let peer = peer.into();
        HookEvent {
            event,
            profile,
            peer_name: peer.clone(),
            peer,
            resource: None,
            at,
            generation: None,
            previous_generation: None,
            silence_ms: None,
            timeout_ms: None,
            late_ms: None,
            link: None,
            reason: None,
            seq: 0,
        }
    }

    /// The JSON object.
    fn object(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            // A struct of strings and numbers is always an object.
            _ => serde_json::Map::new(),
        }
    }

    /// The line written to the hook's stdin: the JSON object and a newline.
    pub(crate) fn json_line(&self) -> Vec<u8> {
        let mut line = serde_json::Value::Object(self.object()).to_string().into_bytes();
        line.push(b'\n');
        line
    }

    /// Every `HEARTBEAT_*` variable, empty where the event has no such field (so that a value
    /// in the daemon's own environment never leaks into a hook).
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        let object = self.object();
        ENV_KEYS
            .iter()
            .map(|key| {
                let value = match object.get(*key) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                (format!("HEARTBEAT_{}", key.to_ascii_uppercase()), value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_and_every_profile_event_is_a_name() {
        for name in EventName::ALL {
            assert_eq!(name.as_str().parse::<EventName>(), Ok(*name));
        }
        assert!("link_up".parse::<EventName>().is_err());
        for profile in [Profile::Run, Profile::LinuxHa, Profile::Bfd, Profile::ZkServer, Profile::ZkClient] {
            assert!(!profile.events().is_empty(), "{profile:?}");
        }
    }

    #[test]
    fn the_json_line_and_the_environment_carry_the_same_fields() {
        let mut event = HookEvent::new(EventName::Down, Profile::Run, "2", 12.5);
        event.silence_ms = Some(301.25);
        event.timeout_ms = Some(300.0);
        event.reason = Some("timeout".into());
        event.seq = 7;
        let line = event.json_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let json: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(json["event"], "down");
        assert_eq!(json["profile"], "run");
        assert_eq!(json["peer"], "2");
        assert_eq!(json["silence_ms"], 301.25);
        assert!(json.get("generation").is_none(), "{json}");
        let env = event.env();
        assert_eq!(env.len(), ENV_KEYS.len());
        let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HEARTBEAT_EVENT"), Some("down"));
        assert_eq!(get("HEARTBEAT_PEER_NAME"), Some("2"));
        assert_eq!(get("HEARTBEAT_SILENCE_MS"), Some("301.25"));
        assert_eq!(get("HEARTBEAT_TIMEOUT_MS"), Some("300.0"));
        assert_eq!(get("HEARTBEAT_GENERATION"), Some(""));
        assert_eq!(get("HEARTBEAT_SEQ"), Some("7"));
        // Every JSON key has its variable.
        for key in json.as_object().unwrap().keys() {
            assert!(ENV_KEYS.contains(&key.as_str()), "{key}");
        }
    }
}
