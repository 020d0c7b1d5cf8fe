//! BIRD 2 (Debian `bird2` 2.0) run inside a [`Namespace`] as a BFD peer, private to the test.
//!
//! [`Bird::start`] writes a configuration ([`BirdConfig::render`]) into a temporary directory
//! and runs `bird -f -c CONF -s SOCK -P PID` there (as root; BIRD logs to stderr, which goes to
//! `bird.log`). A `protocol device` is always included: BIRD's BFD needs it to learn
//! interfaces. `neighbor` lines make BIRD request the sessions itself, so no routing protocol is
//! needed. State is read from `birdc -s SOCK show bfd sessions`, which has no diagnostics;
//! reconfiguration rewrites the file and runs `birdc configure`.
//!
//! ```no_run
//! # fn main() -> Result<(), heartbeat_tests::netns::Error> {
//! use std::time::Duration;
//! use heartbeat_tests::bird::{Bird, BirdConfig, BirdInterface, BirdNeighbor};
//! use heartbeat_tests::frr::Status;
//! use heartbeat_tests::netns::Pair;
//! let net = Pair::new()?;
//! let config = BirdConfig::new(Pair::B_V4)
//!     .interface(BirdInterface::new(Pair::B_DEV))
//!     .neighbor(BirdNeighbor::single_hop(Pair::A_V4.into(), Pair::B_DEV));
//! let bird = Bird::start(&net.b, config)?;
//! bird.wait_session(Pair::A_V4.into(), Status::Up, Duration::from_secs(10))?;
//! # Ok(()) }
//! ```
//!
//! Observed (BIRD 2.0.12): single-hop packets have TTL 255, multihop ones the OS default (64);
//! source ports are kernel-chosen ephemeral ports (not RFC 5881's 49152-65535). `birdc disable`
//! of the protocol sends no AdminDown: BIRD just falls silent.

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Signal;

pub use crate::frr::Status;
use crate::netns::{
    Check, Daemon, Error, Namespace, Result, io_error, require_program, run_command, signal, spawn_logged, temp_dir,
    wait_for,
};

/// How long [`Bird::start`] waits for BIRD to answer on its control socket.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of the `protocol bfd` in every rendered configuration.
pub const PROTOCOL: &str = "hbt";

/// The RFC 5880 authentication types, as BIRD names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthKind {
    /// Simple Password (Auth Type 1).
    Simple,
    /// Keyed MD5 (2).
    KeyedMd5,
    /// Meticulous Keyed MD5 (3).
    MeticulousKeyedMd5,
    /// Keyed SHA1 (4).
    KeyedSha1,
    /// Meticulous Keyed SHA1 (5).
    MeticulousKeyedSha1,
}

impl AuthKind {
    /// Every type BIRD supports.
    pub const ALL: [AuthKind; 5] = [
        AuthKind::Simple,
        AuthKind::KeyedMd5,
        AuthKind::MeticulousKeyedMd5,
        AuthKind::KeyedSha1,
        AuthKind::MeticulousKeyedSha1,
    ];

    /// BIRD's keywords after `authentication`.
    pub fn keyword(self) -> &'static str {
        match self {
            AuthKind::Simple => "simple",
            AuthKind::KeyedMd5 => "keyed md5",
            AuthKind::MeticulousKeyedMd5 => "meticulous keyed md5",
            AuthKind::KeyedSha1 => "keyed sha1",
            AuthKind::MeticulousKeyedSha1 => "meticulous keyed sha1",
        }
    }

    /// The Auth Type on the wire.
    pub fn wire_type(self) -> u8 {
        match self {
            AuthKind::Simple => 1,
            AuthKind::KeyedMd5 => 2,
            AuthKind::MeticulousKeyedMd5 => 3,
            AuthKind::KeyedSha1 => 4,
            AuthKind::MeticulousKeyedSha1 => 5,
        }
    }
}

/// Authentication for the sessions of an interface (or of multihop sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirdAuth {
    /// The type.
    pub kind: AuthKind,
    /// The Key ID sent and accepted.
    pub key_id: u8,
    /// The password or key (for simple: 1-16 bytes; MD5 at most 16, SHA1 at most 20).
    pub secret: String,
}

/// Per-session options of an `interface` or the `multihop` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirdSessionOptions {
    /// `min rx interval`, ms.
    pub min_rx_ms: u32,
    /// `min tx interval`, ms.
    pub min_tx_ms: u32,
    /// `idle tx interval` (the rate while not Up), ms; BIRD's default is 1000.
    pub idle_tx_ms: u32,
    /// `multiplier`.
    pub multiplier: u8,
    /// `passive`.
    pub passive: bool,
    /// `authentication` and `password`, or none.
    pub auth: Option<BirdAuth>,
}

impl Default for BirdSessionOptions {
    /// 300 ms / 300 ms, idle 1 s, multiplier 3, active, no authentication.
    fn default() -> Self {
        BirdSessionOptions {
            min_rx_ms: 300,
            min_tx_ms: 300,
            idle_tx_ms: 1000,
            multiplier: 3,
            passive: false,
            auth: None,
        }
    }
}

impl BirdSessionOptions {
    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "    min rx interval {} ms;", self.min_rx_ms);
        let _ = writeln!(out, "    min tx interval {} ms;", self.min_tx_ms);
        let _ = writeln!(out, "    idle tx interval {} ms;", self.idle_tx_ms);
        let _ = writeln!(out, "    multiplier {};", self.multiplier);
        let _ = writeln!(out, "    passive {};", if self.passive { "yes" } else { "no" });
        match &self.auth {
            None => out.push_str("    authentication none;\n"),
            Some(auth) => {
                let _ = writeln!(out, "    authentication {};", auth.kind.keyword());
                let _ = writeln!(out, "    password \"{}\" {{ id {}; }};", auth.secret, auth.key_id);
            }
        }
    }
}

/// An `interface "PATTERN" { ... }` block: options for single-hop sessions on matching
/// interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirdInterface {
    /// BIRD interface pattern (a name, or e.g. `"veth*"`).
    pub pattern: String,
    /// The options.
    pub options: BirdSessionOptions,
}

impl BirdInterface {
    /// Default options on `pattern`.
    pub fn new(pattern: &str) -> BirdInterface {
        BirdInterface { pattern: pattern.to_owned(), options: BirdSessionOptions::default() }
    }

    /// Replaces the options.
    pub fn options(mut self, options: BirdSessionOptions) -> BirdInterface {
        self.options = options;
        self
    }
}

/// A `neighbor` line: a session BIRD requests on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirdNeighbor {
    /// The peer's address.
    pub addr: IpAddr,
    /// `dev "IFACE"` (single hop).
    pub dev: Option<String>,
    /// `local ADDR` (required for multihop).
    pub local: Option<IpAddr>,
    /// `multihop yes`.
    pub multihop: bool,
}

impl BirdNeighbor {
    /// A single-hop neighbor on `dev`.
    pub fn single_hop(addr: IpAddr, dev: &str) -> BirdNeighbor {
        BirdNeighbor { addr, dev: Some(dev.to_owned()), local: None, multihop: false }
    }

    /// A multihop neighbor from `local`.
    pub fn multihop(addr: IpAddr, local: IpAddr) -> BirdNeighbor {
        BirdNeighbor { addr, dev: None, local: Some(local), multihop: true }
    }
}

/// A whole BIRD configuration: router id, `protocol device`, and one `protocol bfd` named
/// [`PROTOCOL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirdConfig {
    /// `router id`.
    pub router_id: Ipv4Addr,
    /// `interface` blocks.
    pub interfaces: Vec<BirdInterface>,
    /// The `multihop` block, if any.
    pub multihop: Option<BirdSessionOptions>,
    /// `neighbor` lines.
    pub neighbors: Vec<BirdNeighbor>,
}

impl BirdConfig {
    /// An empty configuration with `router_id`.
    pub fn new(router_id: Ipv4Addr) -> BirdConfig {
        BirdConfig { router_id, interfaces: Vec::new(), multihop: None, neighbors: Vec::new() }
    }

    /// Adds an `interface` block.
    pub fn interface(mut self, interface: BirdInterface) -> BirdConfig {
        self.interfaces.push(interface);
        self
    }

    /// Sets the `multihop` block.
    pub fn multihop(mut self, options: BirdSessionOptions) -> BirdConfig {
        self.multihop = Some(options);
        self
    }

    /// Adds a `neighbor`.
    pub fn neighbor(mut self, neighbor: BirdNeighbor) -> BirdConfig {
        self.neighbors.push(neighbor);
        self
    }

    /// The configuration file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "router id {};", self.router_id);
        out.push_str("log stderr all;\nprotocol device { scan time 1; }\n");
        let _ = writeln!(out, "protocol bfd {PROTOCOL} {{");
        for interface in &self.interfaces {
            let _ = writeln!(out, "  interface \"{}\" {{", interface.pattern);
            interface.options.render(&mut out);
            out.push_str("  };\n");
        }
        if let Some(multihop) = &self.multihop {
            out.push_str("  multihop {\n");
            multihop.render(&mut out);
            out.push_str("  };\n");
        }
        for n in &self.neighbors {
            let _ = write!(out, "  neighbor {}", n.addr);
            if let Some(dev) = &n.dev {
                let _ = write!(out, " dev \"{dev}\"");
            }
            if let Some(local) = n.local {
                let _ = write!(out, " local {local}");
            }
            if n.multihop {
                out.push_str(" multihop yes");
            }
            out.push_str(";\n");
        }
        out.push_str("}\n");
        out
    }
}

/// One line of `show bfd sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BirdSession {
    /// The peer's address.
    pub addr: IpAddr,
    /// The interface (`None` for multihop, shown as `---`).
    pub interface: Option<String>,
    /// Session state.
    pub status: Status,
    /// When the state last changed, as BIRD prints it.
    pub since: String,
    /// The current transmit interval.
    pub interval: Duration,
    /// The current detection time (zero while Down).
    pub timeout: Duration,
}

/// Parses the output of `birdc show bfd sessions`.
pub fn parse_sessions(text: &str) -> Result<Vec<BirdSession>> {
    let bad = |why: &str| Error::Parse { what: format!("birdc show bfd sessions ({why})"), text: text.to_owned() };
    let secs = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(Duration::from_secs_f64);
    let mut sessions = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(addr) = fields.first().and_then(|f| f.parse::<IpAddr>().ok()) else { continue };
        if fields.len() < 6 {
            return Err(bad("short session line"));
        }
        let n = fields.len();
        sessions.push(BirdSession {
            addr,
            interface: Some(fields[1]).filter(|i| *i != "---").map(str::to_owned),
            status: Status::parse(fields[2]).ok_or_else(|| bad("unknown state"))?,
            since: fields[3..n - 2].join(" "),
            interval: secs(fields[n - 2]).ok_or_else(|| bad("bad interval"))?,
            timeout: secs(fields[n - 1]).ok_or_else(|| bad("bad timeout"))?,
        });
    }
    Ok(sessions)
}

/// Checks that `bird` and `birdc` are installed.
pub fn require_bird() -> Result<()> {
    require_program("bird", &["--version"], "bird2")?;
    require_program("birdc", &["--version"], "bird2")
}

/// A running BIRD, killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct Bird {
    // The daemon is killed before its directory is removed.
    daemon: Daemon,
    dir: tempfile::TempDir,
    namespace: String,
    config: BirdConfig,
    startup: Duration,
}

impl Bird {
    /// Writes `config` and starts BIRD in `ns`. Fails, with BIRD's log, if it exits (bad
    /// configuration) or does not answer within [`START_TIMEOUT`].
    pub fn start(ns: &Namespace, config: BirdConfig) -> Result<Bird> {
        require_bird()?;
        let begin = Instant::now();
        let dir = temp_dir("bird")?;
        let path = dir.path().to_owned();
        fs::write(path.join("bird.conf"), config.render()).map_err(io_error("cannot write bird.conf"))?;
        let mut command = ns.command("bird");
        command.arg("-f").arg("-c").arg(path.join("bird.conf"));
        command.arg("-s").arg(path.join("bird.ctl")).arg("-P").arg(path.join("bird.pid"));
        let daemon = spawn_logged(command, &path.join("bird.log"))?;
        let mut bird = Bird { daemon, dir, namespace: ns.name().to_owned(), config, startup: Duration::ZERO };
        wait_for("BIRD to answer on its control socket", START_TIMEOUT, || {
            bird.check_alive()?;
            Ok(match bird.birdc(&["show", "status"]) {
                Ok(out) if out.contains("Daemon is up and running") => Check::Done(()),
                Ok(out) => Check::Waiting(out),
                Err(e) => Check::Waiting(e.to_string()),
            })
        })
        .map_err(|e| bird.daemon_error("did not start", e))?;
        bird.startup = begin.elapsed();
        Ok(bird)
    }

    /// How long [`Bird::start`] took.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The private directory (`bird.conf`, `bird.ctl`, `bird.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The namespace BIRD runs in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// BIRD's pid.
    pub fn pid(&self) -> u32 {
        self.daemon.0.id()
    }

    /// The configuration in force.
    pub fn config(&self) -> &BirdConfig {
        &self.config
    }

    /// BIRD's log so far.
    pub fn log(&self) -> String {
        let path = self.dir.path();
        let conf = fs::read_to_string(path.join("bird.conf")).unwrap_or_default();
        format!("[bird.conf]\n{conf}[bird.log]\n{}", fs::read_to_string(path.join("bird.log")).unwrap_or_default())
    }

    fn daemon_error(&self, problem: &str, cause: Error) -> Error {
        match cause {
            e @ Error::Daemon { .. } => e,
            other => Error::Daemon { daemon: "BIRD".into(), problem: format!("{problem}: {other}"), log: self.log() },
        }
    }

    /// Errs (with the log) if BIRD has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.daemon.0.try_wait() {
            Ok(Some(status)) => {
                Err(Error::Daemon { daemon: "BIRD".into(), problem: format!("exited ({status})"), log: self.log() })
            }
            _ => Ok(()),
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("bird.ctl")
    }

    /// Runs `birdc -s SOCK args...` and returns its output.
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        run_command(std::process::Command::new("birdc").arg("-s").arg(self.socket()).args(args))
    }

    /// All BFD sessions.
    pub fn sessions(&self) -> Result<Vec<BirdSession>> {
        let out = self.birdc(&["show", "bfd", "sessions"])?;
        parse_sessions(&out)
    }

    /// The session with `addr`, if BIRD has one.
    pub fn session(&self, addr: IpAddr) -> Result<Option<BirdSession>> {
        Ok(self.sessions()?.into_iter().find(|s| s.addr == addr))
    }

    /// Waits until the session with `addr` satisfies `condition`, polling every 20 ms.
    pub fn wait_session_where(
        &self,
        addr: IpAddr,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&BirdSession) -> bool,
    ) -> Result<BirdSession> {
        wait_for(&format!("BIRD session {addr} to be {what}"), timeout, || {
            Ok(match self.session(addr)? {
                Some(s) if condition(&s) => Check::Done(s),
                other => Check::Waiting(format!("{other:?}")),
            })
        })
        .map_err(|e| self.daemon_error("condition not reached", e))
    }

    /// Waits until the session with `addr` reports `status`.
    pub fn wait_session(&self, addr: IpAddr, status: Status, timeout: Duration) -> Result<BirdSession> {
        self.wait_session_where(addr, &format!("{status:?}"), timeout, |s| s.status == status)
    }

    /// Replaces the configuration: rewrites the file and runs `birdc configure`. Fails if BIRD
    /// rejects it (the old configuration then stays in force).
    pub fn reconfigure(&mut self, config: BirdConfig) -> Result<()> {
        fs::write(self.dir.path().join("bird.conf"), config.render()).map_err(io_error("cannot write bird.conf"))?;
        let out = self.birdc(&["configure"])?;
        if out.contains("Reconfigured") || out.contains("Reconfiguration in progress") {
            self.config = config;
            Ok(())
        } else {
            let problem = format!("rejected the new configuration:\n{out}");
            Err(Error::Daemon { daemon: "BIRD".into(), problem, log: self.log() })
        }
    }

    /// `birdc disable` the BFD protocol (its sessions vanish without an AdminDown).
    pub fn disable(&self) -> Result<()> {
        self.birdc(&["disable", PROTOCOL]).map(drop)
    }

    /// `birdc enable` the BFD protocol.
    pub fn enable(&self) -> Result<()> {
        self.birdc(&["enable", PROTOCOL]).map(drop)
    }

    /// Kills BIRD with SIGKILL and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.daemon.0.kill().map_err(io_error("cannot kill BIRD"))?;
        self.daemon.0.wait().map_err(io_error("cannot reap BIRD")).map(drop)
    }

    /// Stops BIRD with SIGTERM and waits (at most 5 s) for it to exit.
    pub fn stop(&mut self) -> Result<()> {
        signal(self.daemon.0.id(), Signal::TERM);
        let child = &mut self.daemon.0;
        wait_for("BIRD to exit after SIGTERM", Duration::from_secs(5), || {
            Ok(match child.try_wait().map_err(io_error("cannot wait for BIRD"))? {
                Some(_) => Check::Done(()),
                None => Check::Waiting("still running".into()),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_hop_and_multihop_lines() {
        let text = "BIRD 2.0.12 ready.\nhbt:\nIP address                Interface  State      Since         Interval  Timeout\n\
                    198.18.0.1                eth-b      Up         15:05:35.187    0.300    0.900\n\
                    2001:db8::1               ---        Down       15:05:36.000    1.000    0.000\n";
        let sessions = parse_sessions(text).unwrap();
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].addr, "198.18.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(sessions[0].interface.as_deref(), Some("eth-b"));
        assert_eq!(sessions[0].status, Status::Up);
        assert_eq!(sessions[0].interval, Duration::from_millis(300));
        assert_eq!(sessions[0].timeout, Duration::from_millis(900));
        assert_eq!(sessions[1].interface, None);
        assert_eq!(sessions[1].status, Status::Down);
    }

    #[test]
    fn rejects_an_unknown_state() {
        assert!(parse_sessions("198.18.0.1 eth-b Sleepy 15:05:35.187 0.300 0.900\n").is_err());
    }

    #[test]
    fn renders_auth_and_neighbors() {
        let auth = BirdAuth { kind: AuthKind::MeticulousKeyedSha1, key_id: 5, secret: "s3cret".into() };
        let text = BirdConfig::new(Ipv4Addr::new(198, 18, 0, 2))
            .interface(
                BirdInterface::new("veth-b").options(BirdSessionOptions { auth: Some(auth), ..Default::default() }),
            )
            .neighbor(BirdNeighbor::single_hop("198.18.0.1".parse().unwrap(), "veth-b"))
            .neighbor(BirdNeighbor::multihop("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap()))
            .render();
        assert!(text.contains("authentication meticulous keyed sha1;"), "{text}");
        assert!(text.contains("password \"s3cret\" { id 5; };"), "{text}");
        assert!(text.contains("neighbor 198.18.0.1 dev \"veth-b\";"), "{text}");
        assert!(text.contains("neighbor 198.18.0.1 local 198.18.0.2 multihop yes;"), "{text}");
    }
}
