//! A node's settings: a TOML file and flags, merged (flags win) and validated before anything
//! starts. Every refusal names the field and the reason.
//!
//! ```toml
//! id = 1
//! cluster = 7                     # nodes of other clusters are ignored (default 0)
//! listen = ["127.0.0.1:7001"]     # one address per link
//! interval = "100ms"
//! timeout = "500ms"
//! tick = "50ms"
//! control = "/tmp/heartbeat-1.sock"
//! metrics = "127.0.0.1:9464"      # serve Prometheus metrics at http://ADDR/metrics
//! key_file = "/etc/heartbeat/keys" # HMAC keys (see `keys`), or `insecure = true` for none
//! generation_file = "/var/lib/heartbeat/generation" # a counter that makes every start newer
//! replay_file = "/var/lib/heartbeat/replay" # replay watermarks kept across restarts
//!
//! local_pause = "20ms"            # the local-stall guard's bound, or "off" (default 20ms)
//!
//! [detector]                      # the cluster's detector (default: kind = "fixed")
//! kind = "phi"                    # fixed, adaptive, phi, chen or two-window
//! threshold = 8.0                 # phi: Akka's threshold
//! min_std_deviation = "100ms"     # phi: Akka's min-std-deviation
//! acceptable_heartbeat_pause = "3s" # phi: Akka's acceptable-heartbeat-pause
//! first_heartbeat_estimate = "1s" # phi: Akka's first-heartbeat-estimate
//! # target_mistakes_per_hour = 0.1  (adaptive), alpha = "200ms" (chen, two-window),
//! # short_window = 1 (two-window), suspect_fraction = 0.5 (fixed)
//!
//! [discovery]                     # instead of `listen`: a multicast group (see `discovery`)
//! multicast = "239.255.42.1:7400"
//! interface = "198.18.1.1"
//!
//! [[peer]]
//! id = 2
//! addr = ["127.0.0.1:7002"]       # the peer's address on each link
//! detector = { kind = "adaptive", target_mistakes_per_hour = 0.01 } # this peer's own (optional)
//!
//! [[hook]]                        # commands run on events: see `hooks::settings`
//! events = ["down"]
//! command = ["/usr/local/bin/page-oncall"]
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use heartbeat_proto::{Authentication, ClusterId, Config, Generation, NodeId};
use serde::Deserialize;

use self::discovery::{Discovery, DiscoveryTable};
use crate::detectors::{DetectorTable, Selected};
use crate::hooks::{HookSettings, HookTables, Profile};
use crate::keys;
use crate::settings_file::{self, SettingsError};

pub(crate) mod discovery;

/// A peer as given on the command line: `ID@ADDR`, or `ID@ADDR,ADDR` for several links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerSpec {
    pub(crate) id: u64,
    pub(crate) addrs: Vec<SocketAddr>,
}

impl FromStr for PeerSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (id, addrs) = s.split_once('@').ok_or_else(|| format!("'{s}' is not ID@ADDR"))?;
        let id = id.parse().map_err(|_| format!("'{id}' is not a node id"))?;
        let addrs = addrs
            .split(',')
            .map(|a| a.trim().parse().map_err(|_| format!("'{a}' is not an address such as 127.0.0.1:7002")))
            .collect::<Result<_, _>>()?;
        Ok(PeerSpec { id, addrs })
    }
}

/// What the flags say; `None` or empty where they say nothing.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) id: Option<u64>,
    pub(crate) cluster: Option<u32>,
    pub(crate) generation: Option<u32>,
    pub(crate) listen: Vec<SocketAddr>,
    pub(crate) peers: Vec<PeerSpec>,
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) tick: Option<Duration>,
    pub(crate) control: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) insecure: bool,
    pub(crate) generation_file: Option<PathBuf>,
    /// `--detector` and its knobs.
    pub(crate) detector: DetectorTable,
    /// `--local-pause`: a duration, or `off`.
    pub(crate) local_pause: Option<String>,
    /// `--metrics`: where to serve Prometheus metrics.
    pub(crate) metrics: Option<SocketAddr>,
    /// `--multicast`, `--broadcast` and their knobs.
    pub(crate) discovery: DiscoveryTable,
    /// Set by a reload: the running node's generation, kept as is (no generation file is
    /// read or written).
    pub(crate) keep_generation: Option<u32>,
    /// `--replay-file`: where the replay watermarks are kept across restarts.
    pub(crate) replay_file: Option<PathBuf>,
}

/// The local-stall guard's bound when the settings name none: far above the microseconds a
/// driver on a precise timer takes from a deadline to its socket, far below the pauses (GC,
/// a frozen VM) that it exists to catch; a peer that is really gone is declared down at most
/// this much later, and only when the node itself came late.
pub(crate) const DEFAULT_LOCAL_PAUSE: Duration = Duration::from_millis(20);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    id: Option<u64>,
    cluster: Option<u32>,
    generation: Option<u32>,
    #[serde(default)]
    listen: Vec<SocketAddr>,
    interval: Option<String>,
    timeout: Option<String>,
    tick: Option<String>,
    control: Option<PathBuf>,
    key_file: Option<PathBuf>,
    insecure: Option<bool>,
    generation_file: Option<PathBuf>,
    local_pause: Option<String>,
    metrics: Option<SocketAddr>,
    replay_file: Option<PathBuf>,
    detector: Option<DetectorTable>,
    discovery: Option<DiscoveryTable>,
    #[serde(default, rename = "peer")]
    peers: Vec<FilePeer>,
    #[serde(default, rename = "hook")]
    hooks: Vec<crate::hooks::settings::HookTable>,
    hooks_at_once: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePeer {
    id: u64,
    // Optional with `[discovery]`: the group reaches every peer.
    #[serde(default)]
    addr: Vec<SocketAddr>,
    detector: Option<DetectorTable>,
}

/// Everything a node needs, checked.
#[derive(Debug, Clone)]
pub(crate) struct NodeSettings {
    pub(crate) config: Config,
    pub(crate) listen: Vec<SocketAddr>,
    pub(crate) peers: Vec<(NodeId, Vec<SocketAddr>)>,
    pub(crate) control: Option<PathBuf>,
    pub(crate) hooks: HookSettings,
    /// The detector each peer is judged by.
    pub(crate) detector: Selected,
    /// Where to serve Prometheus metrics, if anywhere.
    pub(crate) metrics: Option<SocketAddr>,
    /// The group every frame goes to, and what is learned there; `None`: unicast to `peers`.
    pub(crate) discovery: Option<Discovery>,
    /// Where the replay watermarks are kept across restarts, if anywhere.
    pub(crate) replay_file: Option<PathBuf>,
}

/// Reads `file` (if any), applies `flags` on top, and validates the result.
pub(crate) fn load(path: Option<&Path>, flags: Overrides) -> Result<NodeSettings, SettingsError> {
    let given = flag_fields(&flags);
    load_checked(path, flags).map_err(|err| match path {
        // A value from the file that was refused after parsing: say where it is.
        Some(path) if err.location.is_none() && !given.contains(&err.field.as_str()) => {
            let key = err.field.rsplit('.').next().unwrap_or(&err.field);
            match settings_file::place(path, key) {
                Some(place) => err.at(place),
                None => err,
            }
        }
        _ => err,
    })
}

/// The fields the flags set (a refusal of one of them is about a flag, not the file).
fn flag_fields(flags: &Overrides) -> Vec<&'static str> {
    let d = &flags.detector;
    [
        ("id", flags.id.is_some()),
        ("cluster", flags.cluster.is_some()),
        ("generation", flags.generation.is_some()),
        ("listen", !flags.listen.is_empty()),
        ("peer", !flags.peers.is_empty()),
        ("interval", flags.interval.is_some()),
        ("timeout", flags.timeout.is_some()),
        ("tick", flags.tick.is_some()),
        ("key_file", flags.key_file.is_some()),
        ("insecure", flags.insecure),
        ("generation_file", flags.generation_file.is_some()),
        ("local_pause", flags.local_pause.is_some()),
        ("replay_file", flags.replay_file.is_some()),
        ("detector.kind", d.kind.is_some()),
        ("detector.suspect_fraction", d.suspect_fraction.is_some()),
        ("detector.target_mistakes_per_hour", d.target_mistakes_per_hour.is_some()),
        ("detector.threshold", d.threshold.is_some()),
        ("detector.min_std_deviation", d.min_std_deviation.is_some()),
        ("detector.acceptable_heartbeat_pause", d.acceptable_heartbeat_pause.is_some()),
        ("detector.first_heartbeat_estimate", d.first_heartbeat_estimate.is_some()),
        ("detector.alpha", d.alpha.is_some()),
        ("detector.short_window", d.short_window.is_some()),
        ("discovery.multicast", flags.discovery.multicast.is_some()),
        ("discovery.broadcast", flags.discovery.broadcast.is_some()),
        ("discovery.interface", flags.discovery.interface.is_some()),
        ("discovery.ttl", flags.discovery.ttl.is_some()),
        ("discovery.learn", flags.discovery.learn.is_some()),
        ("discovery.max_peers", flags.discovery.max_peers.is_some()),
        ("discovery.forget_after", flags.discovery.forget_after.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect()
}

fn load_checked(file: Option<&Path>, flags: Overrides) -> Result<NodeSettings, SettingsError> {
    let file: File = file.map(settings_file::read).transpose()?.unwrap_or_default();
    let id = flags.id.or(file.id).ok_or_else(|| SettingsError::new("id", "is required (--id, or `id` in the file)"))?;
    let id = NodeId::new(id).ok_or_else(|| SettingsError::new("id", "must not be 0"))?;
    let insecure = flags.insecure || file.insecure.unwrap_or(false);
    let key_file = flags.key_file.clone().or(file.key_file.clone());
    let discovery =
        file.discovery.clone().unwrap_or_default().or_from(&flags.discovery).check(key_file.is_some() && !insecure)?;
    let mut listen = if flags.listen.is_empty() { file.listen } else { flags.listen };
    if let Some(discovery) = &discovery {
        if !listen.is_empty() {
            return Err(SettingsError::new(
                "listen",
                "contradicts discovery: a discovering node listens on its group's port (one link)",
            ));
        }
        listen.push(discovery.group.bound());
    }
    if listen.is_empty() {
        return Err(SettingsError::new("listen", "is required: at least one address to listen on"));
    }
    if listen.len() > usize::from(heartbeat_proto::MAX_LINKS) {
        return Err(SettingsError::new(
            "listen",
            format!("at most {} addresses (one per link)", heartbeat_proto::MAX_LINKS),
        ));
    }
    let cluster_detector = file.detector.unwrap_or_default().or_from(&flags.detector).build("detector")?;
    let mut overrides = Vec::new();
    for peer in &file.peers {
        if let (Some(table), Some(id)) = (&peer.detector, NodeId::new(peer.id)) {
            overrides.push((id, table.build(&format!("peer {id} detector"))?));
        }
    }
    let detector = Selected::new(cluster_detector, overrides);
    let local_pause = match flags.local_pause.or(file.local_pause) {
        None => Some(DEFAULT_LOCAL_PAUSE),
        Some(text) if text.trim() == "off" => None,
        Some(text) => Some(crate::duration::parse(&text).map_err(|reason| SettingsError::new("local_pause", reason))?),
    };
    let peers = if flags.peers.is_empty() {
        file.peers.into_iter().map(|p| PeerSpec { id: p.id, addrs: p.addr }).collect()
    } else {
        flags.peers
    };
    if let Some(peer) = peers.iter().find(|p| p.addrs.is_empty() && discovery.is_none()) {
        let reason =
            format!("node {} has no `addr` (only a node with [discovery] reaches peers through its group)", peer.id);
        return Err(SettingsError::new("peer", reason));
    }
    let peers = check_peers(id, &listen, peers)?;
    if let Some(d) = discovery.as_ref().filter(|d| peers.len() > d.max_peers) {
        return Err(SettingsError::new(
            "discovery.max_peers",
            format!("{} is fewer than the {} configured peers (it counts them too)", d.max_peers, peers.len()),
        ));
    }
    let hooks = HookTables { hooks: file.hooks, hooks_at_once: file.hooks_at_once }.check(Profile::Run)?;
    hooks.check_peers(&peers.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>())?;
    let explicit_generation = flags.keep_generation.or(flags.generation).or(file.generation);
    let generation_file =
        if flags.keep_generation.is_some() { None } else { flags.generation_file.or(file.generation_file) };
    if explicit_generation.is_some() && generation_file.is_some() {
        return Err(SettingsError::new("generation_file", "contradicts an explicit generation: choose one"));
    }
    let clock = generation_from_clock();
    let generation = explicit_generation.unwrap_or(clock);
    let auth = authentication(key_file.as_deref(), insecure)?;
    let mut builder = Config::builder(ClusterId(flags.cluster.or(file.cluster).unwrap_or(0)), id)
        .authentication(auth)
        .generation(Generation(generation))
        .links(u8::try_from(listen.len()).unwrap_or(u8::MAX))
        .local_pause(local_pause)
        .explain_verdicts(true)
        .seed(seed(id, generation));
    if let Some(d) = &discovery {
        let learning = if d.learn { heartbeat_proto::Learning::Enabled } else { heartbeat_proto::Learning::Disabled };
        builder = builder.broadcast(true).learning(learning).max_peers(d.max_peers);
    }
    if let Some(tick) = flags.tick.or(settings_file::duration("tick", file.tick)?) {
        builder = builder.tick(tick);
    }
    if let Some(timeout) = flags.timeout.or(settings_file::duration("timeout", file.timeout)?) {
        builder = builder.timeout(timeout);
    }
    if let Some(interval) = flags.interval.or(settings_file::duration("interval", file.interval)?) {
        builder = builder.interval(interval);
    }
    let mut config = builder.clone().build().map_err(|e| refusal(&builder, &e))?;
    if let Some(path) = generation_file {
        // Only a valid configuration spends a generation.
        let generation = next_generation(&path, clock)?;
        let builder = builder.generation(Generation(generation));
        config = builder.clone().build().map_err(|e| refusal(&builder, &e))?;
    }
    Ok(NodeSettings {
        config,
        listen,
        peers,
        control: flags.control.or(file.control),
        detector,
        metrics: flags.metrics.or(file.metrics),
        replay_file: flags.replay_file.or(file.replay_file),
        hooks,
        discovery,
    })
}

/// The library's refusal, with the numbers: the value given and the range that would work.
fn refusal(builder: &heartbeat_proto::ConfigBuilder, err: &heartbeat_proto::ConfigError) -> SettingsError {
    use crate::duration::show;
    let Some((lo, hi)) = builder.allowed(err.field) else { return SettingsError::new(err.field, err.reason) };
    let hi = if hi == heartbeat_proto::MAX_WIRE_DURATION { "71 minutes".to_string() } else { show(hi) };
    let given = builder.value(err.field).map(|v| format!("{} given; ", show(v))).unwrap_or_default();
    let hint = match err.field {
        "timeout" => {
            format!(", 2 to 20 ticks of {}: `tick` moves them", show(builder.value("tick").unwrap_or_default()))
        }
        _ => String::new(),
    };
    SettingsError::new(err.field, format!("{} ({given}allowed: {} to {hi}{hint})", err.reason, show(lo)))
}

/// Authentication is a choice the operator makes explicitly: keys, or none.
fn authentication(key_file: Option<&Path>, insecure: bool) -> Result<Authentication, SettingsError> {
    match (key_file, insecure) {
        (Some(_), true) => Err(SettingsError::new("insecure", "contradicts key_file: choose one")),
        (Some(path), false) => Ok(Authentication::Hmac(keys::read(path)?)),
        (None, true) => Ok(Authentication::None),
        (None, false) => Err(SettingsError::new(
            "key_file",
            "is required: give --key-file FILE (HMAC keys), or --insecure to run without authentication",
        )),
    }
}

/// The control socket path named by a settings file, for `heartbeat status --config`.
pub(crate) fn control_path(file: &Path) -> Result<Option<PathBuf>, SettingsError> {
    Ok(settings_file::read::<File>(file)?.control)
}

fn check_peers(
    me: NodeId,
    listen: &[SocketAddr],
    peers: Vec<PeerSpec>,
) -> Result<Vec<(NodeId, Vec<SocketAddr>)>, SettingsError> {
    let mut out: Vec<(NodeId, Vec<SocketAddr>)> = Vec::new();
    for peer in peers {
        let bad = |reason: String| Err(SettingsError::new("peer", reason));
        let Some(id) = NodeId::new(peer.id) else { return bad("a peer's id must not be 0".into()) };
        if id == me {
            return bad(format!("node {id} is this node itself"));
        }
        if out.iter().any(|(other, _)| *other == id) {
            return bad(format!("node {id} is listed twice"));
        }
        if peer.addrs.len() > listen.len() {
            return bad(format!(
                "node {id} has {} addresses but this node listens on {} (one address per link)",
                peer.addrs.len(),
                listen.len()
            ));
        }
        for (link, (theirs, ours)) in peer.addrs.iter().zip(listen).enumerate() {
            if theirs.is_ipv4() != ours.is_ipv4() {
                return bad(format!("node {id}'s address {theirs} on link {link} is not of the family of {ours}"));
            }
        }
        out.push((id, peer.addrs));
    }
    Ok(out)
}

/// This start's generation from a persisted counter: `max(last + 1, clock)`, written and synced
/// before the node sends anything. Survives a lost file (the clock carries on) and a clock set
/// back (the counter does), not both: see SECURITY.md.
fn next_generation(path: &Path, clock: u32) -> Result<u32, SettingsError> {
    let field = || format!("generation_file {}", path.display());
    let last = match std::fs::read_to_string(path) {
        Ok(text) => {
            Some(text.trim().parse::<u32>().map_err(|_| SettingsError::new(field(), "does not hold a number"))?)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(SettingsError::new(field(), format!("cannot read: {err}"))),
    };
    let next = match last {
        Some(last) => last.checked_add(1).ok_or_else(|| SettingsError::new(field(), "is exhausted"))?.max(clock),
        None => clock,
    };
    crate::state_file::write_atomically(path, format!("{next}\n").as_bytes())
        .map_err(|err| SettingsError::new(field(), format!("cannot write: {err}")))?;
    Ok(next)
}

/// Each start needs a higher generation than the last: seconds since the Unix epoch do that for
/// restarts at least a second apart (use a generation file, or set `generation`, otherwise).
fn generation_from_clock() -> u32 {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX)
}

fn seed(id: NodeId, generation: u32) -> u64 {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    id.get().rotate_left(32) ^ u64::from(generation) ^ u64::from(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> Overrides {
        Overrides {
            id: Some(1),
            listen: vec!["127.0.0.1:7001".parse().unwrap()],
            peers: vec!["2@127.0.0.1:7002".parse().unwrap()],
            insecure: true,
            ..Overrides::default()
        }
    }

    #[test]
    fn flags_alone_make_a_node() {
        let s = load(None, flags()).unwrap();
        assert_eq!(s.config.node(), NodeId::new(1).unwrap());
        assert_eq!(s.peers.len(), 1);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let cases: Vec<(Overrides, &str)> = vec![
            (Overrides { id: None, ..flags() }, "id"),
            (Overrides { id: Some(0), ..flags() }, "id"),
            (Overrides { listen: vec![], ..flags() }, "listen"),
            (Overrides { peers: vec!["1@127.0.0.1:9".parse().unwrap()], ..flags() }, "peer"),
            (Overrides { peers: vec!["2@127.0.0.1:9,127.0.0.1:10".parse().unwrap()], ..flags() }, "peer"),
            (Overrides { peers: vec!["2@[::1]:9".parse().unwrap()], ..flags() }, "peer"),
            (
                Overrides { interval: Some(Duration::from_secs(1)), timeout: Some(Duration::from_secs(1)), ..flags() },
                "interval",
            ),
            (Overrides { timeout: Some(Duration::from_secs(60)), ..flags() }, "timeout"),
            (Overrides { insecure: false, ..flags() }, "key_file"),
            (Overrides { key_file: Some("/nonexistent".into()), ..flags() }, "insecure"),
        ];
        for (overrides, field) in cases {
            assert_eq!(load(None, overrides).unwrap_err().field, field);
        }
    }

    #[test]
    fn a_generation_file_makes_every_start_newer_even_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("generation");
        let with_file = || Overrides { generation_file: Some(path.clone()), ..flags() };
        let first = load(None, with_file()).unwrap().config.generation();
        let second = load(None, with_file()).unwrap().config.generation();
        assert!(second > first, "{first:?} then {second:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), second.0.to_string());
        // A counter ahead of the clock keeps counting.
        std::fs::write(&path, "4000000000").unwrap();
        assert_eq!(load(None, with_file()).unwrap().config.generation().0, 4_000_000_001);
        std::fs::write(&path, "junk").unwrap();
        assert!(load(None, with_file()).unwrap_err().field.starts_with("generation_file"));
        let both = Overrides { generation: Some(3), ..with_file() };
        assert_eq!(load(None, both).unwrap_err().field, "generation_file");
        // A configuration refused for another reason spends no generation.
        std::fs::write(&path, "7").unwrap();
        assert!(load(None, Overrides { listen: vec![], ..with_file() }).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), "7");
    }

    #[test]
    fn the_replay_file_comes_from_the_file_and_the_flag_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            "id = 1\nlisten = [\"127.0.0.1:7001\"]\ninsecure = true\nreplay_file = \"/var/lib/hb/replay\"\n",
        )
        .unwrap();
        let from_file = load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(from_file.replay_file, Some(PathBuf::from("/var/lib/hb/replay")));
        let flag = Overrides { replay_file: Some("/tmp/other".into()), ..Overrides::default() };
        assert_eq!(load(Some(&path), flag).unwrap().replay_file, Some(PathBuf::from("/tmp/other")));
        assert_eq!(load(None, flags()).unwrap().replay_file, None);
    }

    #[test]
    fn a_value_refused_after_parsing_is_placed_on_its_line_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let text = "id = 1\nlisten = [\"127.0.0.1:7001\"]\ninsecure = true\n\ninterval = \"1s\"\ntimeout = \"1s\"\n\
                    [detector]\nkind = \"phi\"\n";
        std::fs::write(&path, text).unwrap();
        let err = load(Some(&path), Overrides::default()).unwrap_err();
        assert_eq!((err.location, err.field.as_str()), (Some(format!("{} line 5", path.display())), "interval"));
        std::fs::write(
            &path,
            "id = 1\nlisten = [\"127.0.0.1:7001\"]\ninsecure = true\n[detector]\nkind = \"phi\"\nthreshold = 0.1\n",
        )
        .unwrap();
        let err = load(Some(&path), Overrides::default()).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("{} line 6: invalid `detector.threshold`: ", path.display())),
            "{err}"
        );
        // The same value from a flag is the flag's fault, not the file's.
        let flag = Overrides {
            detector: DetectorTable { threshold: Some(0.1), ..DetectorTable::default() },
            ..Overrides::default()
        };
        assert_eq!(load(Some(&path), flag).unwrap_err().field, "detector.threshold");
    }

    #[test]
    fn a_discovery_table_replaces_listen_and_configures_the_group_and_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::write(&keys, format!("1 {}\n", "ab".repeat(32))).unwrap();
        std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let path = dir.path().join("node.toml");
        let text = format!(
            "id = 1\nkey_file = \"{}\"\n[discovery]\nmulticast = \"239.255.42.1:7400\"\nmax_peers = 2\n\
             [[peer]]\nid = 2\n",
            keys.display()
        );
        std::fs::write(&path, &text).unwrap();
        let s = load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(s.listen, vec!["0.0.0.0:7400".parse::<SocketAddr>().unwrap()]);
        assert!(s.config.broadcasts());
        assert_eq!((s.config.learning(), s.config.max_peers()), (heartbeat_proto::Learning::Enabled, 2));
        assert_eq!(s.peers, vec![(NodeId::new(2).unwrap(), vec![])]);
        // The flags win over the file, and listen and discovery exclude each other.
        let flags = Overrides {
            discovery: DiscoveryTable { max_peers: Some(0), ..DiscoveryTable::default() },
            ..Overrides::default()
        };
        assert_eq!(load(Some(&path), flags).unwrap_err().field, "discovery.max_peers");
        let flags = Overrides { listen: vec!["127.0.0.1:7001".parse().unwrap()], ..Overrides::default() };
        assert_eq!(load(Some(&path), flags).unwrap_err().field, "listen");
        std::fs::write(&path, text.replace("max_peers = 2", "max_peers = 1\nttl = 0")).unwrap();
        let err = load(Some(&path), Overrides::default()).unwrap_err();
        assert_eq!(err.field, "discovery.ttl");
        assert_eq!(err.location, Some(format!("{} line 6", path.display())), "placed on its line");
        std::fs::write(&path, text.replace("max_peers = 2", "max_peers = 1\n[[peer]]\nid = 3")).unwrap();
        assert_eq!(load(Some(&path), Overrides::default()).unwrap_err().field, "discovery.max_peers");
        // Without keys, learning is refused unless turned off.
        let insecure = |learn| Overrides {
            id: Some(1),
            insecure: true,
            discovery: DiscoveryTable { multicast: Some("239.1.1.1:9".parse().unwrap()), learn, ..Default::default() },
            ..Overrides::default()
        };
        assert_eq!(load(None, insecure(None)).unwrap_err().field, "discovery.learn");
        assert_eq!(load(None, insecure(Some(false))).unwrap().config.learning(), heartbeat_proto::Learning::Disabled);
        // A peer without an address needs the group.
        let unicast =
            format!("id = 1\nkey_file = \"{}\"\nlisten = [\"127.0.0.1:7001\"]\n[[peer]]\nid = 2\n", keys.display());
        std::fs::write(&path, unicast).unwrap();
        let err = load(Some(&path), Overrides::default()).unwrap_err();
        assert_eq!(err.field, "peer", "{err}");
    }

    #[test]
    fn peer_specs_parse_one_or_several_links() {
        let p: PeerSpec = "7@10.0.0.2:5000,10.1.0.2:5000".parse().unwrap();
        assert_eq!((p.id, p.addrs.len()), (7, 2));
        assert!("7".parse::<PeerSpec>().is_err());
        assert!("x@1.2.3.4:5".parse::<PeerSpec>().is_err());
        assert!("7@nowhere".parse::<PeerSpec>().is_err());
    }
}
