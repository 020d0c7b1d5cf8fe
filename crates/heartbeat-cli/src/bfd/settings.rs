//! `heartbeat bfd`'s settings: a TOML file and flags, merged (flags win) and validated before
//! any socket is bound. Every refusal names the field and the reason.
//!
//! ```toml
//! interval = "300ms"          # desired min TX interval (default 300ms)
//! rx_interval = "300ms"       # required min RX interval (default: the interval)
//! multiplier = 3              # detect multiplier (default 3)
//! passive = false             # wait for the peer to speak first
//! local = "198.18.0.1"        # source address of every session (default: the route's)
//! interface = "veth0"         # interface of single-hop sessions that name none
//! multihop = false            # RFC 5883 sessions on port 4784
//! min_ttl = 254               # multihop: lowest TTL accepted (default 254, as FRR)
//! control = "/run/heartbeat-bfd.sock"
//! auth = "keyed-sha1"         # simple, keyed-md5, meticulous-keyed-md5, keyed-sha1,
//! key_id = 1                  #   meticulous-keyed-sha1; key_id defaults to 1
//! key_file = "/etc/heartbeat/bfd.key" # the secret itself, owner-readable only
//!
//! [[peer]]
//! addr = "198.18.0.2"
//! interface = "veth0"         # optional, per peer; also `local`, `multihop`, `min_ttl`
//!
//! [[hook]]                    # commands run on session events: see `hooks::settings`
//! events = ["down"]
//! command = ["/usr/local/bin/reroute"]
//! ```

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::hooks::{HookSettings, HookTables, Profile};
use crate::secret_file;
use crate::settings_file::{self, SettingsError};

/// Default desired min TX and required min RX: the interop defaults of FRR and BIRD.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_millis(300);
/// Default detect multiplier.
pub(crate) const DEFAULT_MULTIPLIER: u8 = 3;
/// Default lowest TTL accepted on a multihop session (FRR's default).
pub(crate) const DEFAULT_MIN_TTL: u8 = 254;

/// An authentication type as written on the command line and in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthKind {
    Simple,
    KeyedMd5,
    MeticulousKeyedMd5,
    KeyedSha1,
    MeticulousKeyedSha1,
}

impl AuthKind {
    const NAMES: [(&'static str, AuthKind); 5] = [
        ("simple", AuthKind::Simple),
        ("keyed-md5", AuthKind::KeyedMd5),
        ("meticulous-keyed-md5", AuthKind::MeticulousKeyedMd5),
        ("keyed-sha1", AuthKind::KeyedSha1),
        ("meticulous-keyed-sha1", AuthKind::MeticulousKeyedSha1),
    ];

    /// The longest secret the type carries (RFC 5880 §4.2-§4.4).
    pub(crate) fn max_secret(self) -> usize {
        match self {
            AuthKind::KeyedSha1 | AuthKind::MeticulousKeyedSha1 => 20,
            AuthKind::Simple | AuthKind::KeyedMd5 | AuthKind::MeticulousKeyedMd5 => 16,
        }
    }
}

impl FromStr for AuthKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let names: Vec<&str> = AuthKind::NAMES.iter().map(|(n, _)| *n).collect();
        AuthKind::NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| format!("'{s}' is not an authentication type (one of {})", names.join(", ")))
    }
}

impl fmt::Display for AuthKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = AuthKind::NAMES.iter().find(|(_, k)| k == self).map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

/// A peer as given on the command line: `ADDR` or `ADDR%IFACE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerArg {
    pub(crate) addr: IpAddr,
    pub(crate) interface: Option<String>,
}

impl FromStr for PeerArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, interface) = match s.rsplit_once('%') {
            Some((addr, iface)) if !iface.is_empty() => (addr, Some(iface.to_string())),
            Some(_) => return Err(format!("'{s}' names no interface after '%'")),
            None => (s, None),
        };
        let addr = addr.parse().map_err(|_| format!("'{addr}' is not an IP address such as 198.18.0.2"))?;
        Ok(PeerArg { addr, interface })
    }
}

/// What the flags say; `None` or empty where they say nothing.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) peers: Vec<PeerArg>,
    pub(crate) interface: Option<String>,
    pub(crate) local: Option<IpAddr>,
    pub(crate) multihop: bool,
    pub(crate) min_ttl: Option<u8>,
    pub(crate) interval: Option<Duration>,
    pub(crate) rx_interval: Option<Duration>,
    pub(crate) multiplier: Option<u8>,
    pub(crate) passive: bool,
    pub(crate) auth: Option<AuthKind>,
    pub(crate) key_id: Option<u8>,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) control: Option<PathBuf>,
    pub(crate) listen_port: Option<u16>,
    pub(crate) peer_port: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    interval: Option<String>,
    rx_interval: Option<String>,
    multiplier: Option<u8>,
    passive: Option<bool>,
    local: Option<IpAddr>,
    interface: Option<String>,
    multihop: Option<bool>,
    min_ttl: Option<u8>,
    control: Option<PathBuf>,
    auth: Option<String>,
    key_id: Option<u8>,
    key_file: Option<PathBuf>,
    listen_port: Option<u16>,
    peer_port: Option<u16>,
    #[serde(default, rename = "peer")]
    peers: Vec<FilePeer>,
    #[serde(default, rename = "hook")]
    hooks: Vec<crate::hooks::settings::HookTable>,
    hooks_at_once: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePeer {
    addr: IpAddr,
    interface: Option<String>,
    local: Option<IpAddr>,
    multihop: Option<bool>,
    min_ttl: Option<u8>,
}

/// A peer's resolved settings, one per session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerSettings {
    pub(crate) addr: IpAddr,
    pub(crate) interface: Option<String>,
    pub(crate) local: Option<IpAddr>,
    /// `Some(min_ttl)` for a multihop session.
    pub(crate) multihop: Option<u8>,
}

/// Authentication: the type, the key id and the secret (wiped when dropped).
#[derive(Clone)]
pub(crate) struct AuthSettings {
    pub(crate) kind: AuthKind,
    pub(crate) key_id: u8,
    pub(crate) secret: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings").field("kind", &self.kind).field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// Everything `heartbeat bfd` needs, checked.
#[derive(Debug, Clone)]
pub(crate) struct BfdSettings {
    pub(crate) peers: Vec<PeerSettings>,
    pub(crate) interval: Duration,
    pub(crate) rx_interval: Duration,
    pub(crate) multiplier: u8,
    pub(crate) passive: bool,
    pub(crate) auth: Option<AuthSettings>,
    pub(crate) control: Option<PathBuf>,
    pub(crate) listen_port: Option<u16>,
    pub(crate) peer_port: Option<u16>,
    pub(crate) hooks: HookSettings,
}

/// Reads `file` (if any), applies `flags` on top, and validates the result.
pub(crate) fn load(file: Option<&Path>, flags: Overrides) -> Result<BfdSettings, SettingsError> {
    let file: File = file.map(settings_file::read).transpose()?.unwrap_or_default();
    let interval = flags.interval.or(settings_file::duration("interval", file.interval)?).unwrap_or(DEFAULT_INTERVAL);
    let rx_interval =
        flags.rx_interval.or(settings_file::duration("rx_interval", file.rx_interval)?).unwrap_or(interval);
    check_interval("interval", interval)?;
    check_interval("rx_interval", rx_interval)?;
    let multiplier = flags.multiplier.or(file.multiplier).unwrap_or(DEFAULT_MULTIPLIER);
    if multiplier == 0 {
        return Err(SettingsError::new("multiplier", "must be at least 1"));
    }
    let multihop = flags.multihop || file.multihop.unwrap_or(false);
    let min_ttl = flags.min_ttl.or(file.min_ttl);
    let interface = flags.interface.or(file.interface);
    let local = flags.local.or(file.local);
    let peers: Vec<PeerSettings> = if flags.peers.is_empty() {
        file.peers
            .into_iter()
            .map(|p| PeerSettings {
                addr: p.addr,
                interface: p.interface.or_else(|| interface.clone()),
                local: p.local.or(local),
                multihop: p.multihop.unwrap_or(multihop).then(|| p.min_ttl.or(min_ttl).unwrap_or(DEFAULT_MIN_TTL)),
            })
            .collect()
    } else {
        flags
            .peers
            .into_iter()
            .map(|p| PeerSettings {
                addr: p.addr,
                interface: p.interface.or_else(|| interface.clone()),
                local,
                multihop: multihop.then(|| min_ttl.unwrap_or(DEFAULT_MIN_TTL)),
            })
            .collect()
    };
    check_peers(&peers)?;
    if !multihop && min_ttl.is_some() && peers.iter().all(|p| p.multihop.is_none()) {
        return Err(SettingsError::new("min_ttl", "applies to multihop sessions only (single hop requires TTL 255)"));
    }
    if min_ttl == Some(0) {
        return Err(SettingsError::new("min_ttl", "must be at least 1"));
    }
    let auth_kind = match flags.auth {
        Some(kind) => Some(kind),
        None => file.auth.map(|a| a.parse().map_err(|reason| SettingsError::new("auth", reason))).transpose()?,
    };
    let key_id = flags.key_id.or(file.key_id);
    let key_file = flags.key_file.or(file.key_file);
    let auth = match (auth_kind, key_file) {
        (Some(kind), Some(path)) => {
            let secret = read_secret(&path, kind)?;
            Some(AuthSettings { kind, key_id: key_id.unwrap_or(1), secret })
        }
        (Some(_), None) => {
            return Err(SettingsError::new("key_file", "is required with `auth`: the file holding the secret"));
        }
        (None, Some(_)) => {
            return Err(SettingsError::new("auth", "is required with `key_file`: which authentication type"));
        }
        (None, None) if key_id.is_some() => return Err(SettingsError::new("key_id", "needs `auth` and `key_file`")),
        (None, None) => None,
    };
    let passive = flags.passive || file.passive.unwrap_or(false);
    let hooks = HookTables { hooks: file.hooks, hooks_at_once: file.hooks_at_once }.check(Profile::Bfd)?;
    hooks.check_peers(&peers.iter().map(|p| p.addr.to_string()).collect::<Vec<_>>())?;
    Ok(BfdSettings {
        peers,
        interval,
        rx_interval,
        multiplier,
        passive,
        auth,
        control: flags.control.or(file.control),
        listen_port: flags.listen_port.or(file.listen_port),
        peer_port: flags.peer_port.or(file.peer_port),
        hooks,
    })
}

/// The control socket path named by a settings file, for `heartbeat bfd-status --config`.
pub(crate) fn control_path(file: &Path) -> Result<Option<PathBuf>, SettingsError> {
    Ok(settings_file::read::<File>(file)?.control)
}

/// BFD carries intervals in microseconds in 32 bits; zero is reserved.
fn check_interval(field: &str, value: Duration) -> Result<(), SettingsError> {
    if value < Duration::from_micros(1) {
        return Err(SettingsError::new(field, "must be at least 1µs"));
    }
    if value.as_micros() > u128::from(u32::MAX) {
        return Err(SettingsError::new(field, "must be at most 4294s (32 bits of microseconds)"));
    }
    Ok(())
}

fn check_peers(peers: &[PeerSettings]) -> Result<(), SettingsError> {
    if peers.is_empty() {
        return Err(SettingsError::new("peer", "is required: at least one peer address (--peer ADDR)"));
    }
    for (i, peer) in peers.iter().enumerate() {
        let bad = |reason: String| Err(SettingsError::new("peer", reason));
        if peer.addr.is_unspecified() || peer.addr.is_multicast() {
            return bad(format!("{} is not a unicast address", peer.addr));
        }
        if let Some(local) = peer.local
            && local.is_ipv4() != peer.addr.is_ipv4()
        {
            return bad(format!("{}: the local address {local} is of the other address family", peer.addr));
        }
        if peer.multihop.is_some() && peer.interface.is_some() {
            return bad(format!(
                "{}: a multihop session is routed, not tied to an interface (drop %IFACE or --multihop)",
                peer.addr
            ));
        }
        if peers[..i].contains(peer) {
            return bad(format!("{} is listed twice", peer.addr));
        }
    }
    Ok(())
}

/// Reads the secret: the file's whole content, less one trailing newline, from a file only
/// its owner can read (like `heartbeat run`'s key file).
fn read_secret(path: &Path, kind: AuthKind) -> Result<Zeroizing<Vec<u8>>, SettingsError> {
    let shown = secret_file::field(path);
    let mut secret = secret_file::read(path)?;
    if secret.last() == Some(&b'\n') {
        secret.pop();
        if secret.last() == Some(&b'\r') {
            secret.pop();
        }
    }
    if secret.is_empty() || secret.len() > kind.max_secret() {
        // Never echo the secret, not even its length beyond what the type allows.
        return Err(SettingsError::new(
            &shown,
            format!("must hold a secret of 1 to {} bytes for {kind}", kind.max_secret()),
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn flags() -> Overrides {
        Overrides { peers: vec!["198.18.0.2".parse().unwrap()], ..Overrides::default() }
    }

    fn secret_file(text: &[u8], mode: u32) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn defaults_are_the_interop_defaults() {
        let s = load(None, flags()).unwrap();
        assert_eq!((s.interval, s.rx_interval, s.multiplier), (DEFAULT_INTERVAL, DEFAULT_INTERVAL, 3));
        assert_eq!(s.peers[0].multihop, None);
        assert!(s.auth.is_none() && !s.passive);
        let s = load(None, Overrides { multihop: true, ..flags() }).unwrap();
        assert_eq!(s.peers[0].multihop, Some(DEFAULT_MIN_TTL));
    }

    #[test]
    fn peers_parse_with_or_without_an_interface() {
        let p: PeerArg = "fe80::2%veth0".parse().unwrap();
        assert_eq!((p.addr, p.interface.as_deref()), ("fe80::2".parse().unwrap(), Some("veth0")));
        assert_eq!("198.18.0.2".parse::<PeerArg>().unwrap().interface, None);
        assert!("198.18.0.2%".parse::<PeerArg>().is_err());
        assert!("host%eth0".parse::<PeerArg>().is_err());
        let s = load(None, Overrides { interface: Some("lo".into()), ..flags() }).unwrap();
        assert_eq!(s.peers[0].interface.as_deref(), Some("lo"));
    }

    #[test]
    fn each_refusal_names_its_field() {
        let cases: Vec<(Overrides, &str)> = vec![
            (Overrides { peers: vec![], ..flags() }, "peer"),
            (Overrides { peers: vec!["0.0.0.0".parse().unwrap()], ..flags() }, "peer"),
            (Overrides { peers: vec!["198.18.0.2".parse().unwrap(); 2], ..flags() }, "peer"),
            (Overrides { local: Some("::1".parse().unwrap()), ..flags() }, "peer"),
            (Overrides { multihop: true, peers: vec!["198.18.0.2%eth0".parse().unwrap()], ..flags() }, "peer"),
            (Overrides { multiplier: Some(0), ..flags() }, "multiplier"),
            (Overrides { interval: Some(Duration::ZERO), ..flags() }, "interval"),
            (Overrides { rx_interval: Some(Duration::from_secs(5000)), ..flags() }, "rx_interval"),
            (Overrides { min_ttl: Some(250), ..flags() }, "min_ttl"),
            (Overrides { auth: Some(AuthKind::KeyedSha1), ..flags() }, "key_file"),
            (Overrides { key_file: Some("/nonexistent".into()), ..flags() }, "auth"),
            (Overrides { key_id: Some(3), ..flags() }, "key_id"),
        ];
        for (overrides, field) in cases {
            let got = load(None, overrides.clone()).unwrap_err();
            assert_eq!(got.field, field, "{overrides:?}: {got}");
        }
    }

    #[test]
    fn the_secret_comes_from_an_owner_only_file_and_is_never_echoed() {
        let f = secret_file(b"s3cret-pass\n", 0o600);
        let with = |kind, path: &Path| Overrides {
            auth: Some(kind),
            key_id: Some(5),
            key_file: Some(path.to_path_buf()),
            ..flags()
        };
        let s = load(None, with(AuthKind::KeyedSha1, f.path())).unwrap();
        let auth = s.auth.unwrap();
        assert_eq!((auth.kind, auth.key_id, &auth.secret[..]), (AuthKind::KeyedSha1, 5, &b"s3cret-pass"[..]));
        assert!(!format!("{auth:?}").contains("s3cret"));
        let open = secret_file(b"s3cret-pass\n", 0o640);
        let err = load(None, with(AuthKind::KeyedSha1, open.path())).unwrap_err().to_string();
        assert!(err.contains("chmod 600") && !err.contains("s3cret"), "{err}");
        let long = secret_file(b"0123456789abcdefXYZ", 0o600);
        assert!(load(None, with(AuthKind::KeyedSha1, long.path())).is_ok());
        let err = load(None, with(AuthKind::KeyedMd5, long.path())).unwrap_err().to_string();
        assert!(err.contains("1 to 16 bytes") && !err.contains("0123"), "{err}");
        let empty = secret_file(b"\n", 0o600);
        assert!(load(None, with(AuthKind::Simple, empty.path())).is_err());
    }

    #[test]
    fn a_file_gives_peers_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bfd.toml");
        std::fs::write(
            &path,
            "interval = \"100ms\"\nmultiplier = 5\ncontrol = \"/tmp/x.sock\"\n\
             [[peer]]\naddr = \"198.18.0.2\"\ninterface = \"veth0\"\n\
             [[peer]]\naddr = \"2001:db8::2\"\nmultihop = true\nmin_ttl = 250\n",
        )
        .unwrap();
        let s = load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(
            (s.interval, s.rx_interval, s.multiplier),
            (Duration::from_millis(100), Duration::from_millis(100), 5)
        );
        assert_eq!(s.peers.len(), 2);
        assert_eq!(s.peers[0].interface.as_deref(), Some("veth0"));
        assert_eq!(s.peers[1].multihop, Some(250));
        assert_eq!(control_path(&path).unwrap(), Some(PathBuf::from("/tmp/x.sock")));
        let s = load(Some(&path), Overrides { multiplier: Some(2), ..flags() }).unwrap();
        assert_eq!((s.multiplier, s.peers.len()), (2, 1));
        std::fs::write(&path, "intervall = \"1s\"\n").unwrap();
        let err = load(Some(&path), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("line 1: invalid `intervall`"), "{err}");
    }
}
