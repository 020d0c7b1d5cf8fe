//! FRR's BFD daemon (`bfdd`, Debian `frr` 8.4) run inside a [`Namespace`], private to the test.
//!
//! [`Frr::start`] runs `zebra` and `bfdd` as the `frr` user with every file (pid files, vty
//! sockets, the zebra API socket, the bfdd control socket, logs) in a temporary directory, TCP
//! vty ports off, and no daemon file read from `/etc/frr`. zebra is needed: bfdd learns interfaces only
//! from zebra, and a single-hop peer on an interface bfdd does not know never starts. Peers are
//! configured through `vtysh` after bfdd is connected to zebra; state is read from
//! `show bfd peers json`.
//!
//! ```no_run
//! # fn main() -> Result<(), heartbeat_tests::netns::Error> {
//! use std::time::Duration;
//! use heartbeat_tests::frr::{Frr, FrrConfig, FrrPeer, Status};
//! use heartbeat_tests::netns::Pair;
//! let net = Pair::new()?;
//! let peer = FrrPeer::single_hop(Pair::B_V4.into(), Pair::A_DEV);
//! let frr = Frr::start(&net.a, FrrConfig { peers: vec![peer] })?;
//! // ... start something BFD-speaking at Pair::B_V4 in net.b ...
//! frr.wait_peer(Pair::B_V4.into(), Status::Up, Duration::from_secs(10))?;
//! # Ok(()) }
//! ```
//!
//! Observed behaviour worth knowing (FRR 8.4.4): an admin `shutdown` sends one AdminDown packet
//! with diag 0 and then silence, and the JSON says `"status":"shutdown"`, `"diagnostic":"ok"`. A
//! peer that stops sending gives `"status":"down"`, `"diagnostic":"control detection time
//! expired"`. Multihop peers drop packets with TTL below `minimum-ttl` (default 254); BIRD sends
//! multihop packets with TTL 64, so use [`FrrPeer::minimum_ttl`] against BIRD.

use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde::Deserialize;

use crate::netns::{
    Check, Daemon, Error, Namespace, Result, io_error, require_program, run_command, signal, spawn_logged, temp_dir,
    wait_for,
};

/// The bfdd binary of Debian's `frr` package.
pub const BFDD: &str = "/usr/lib/frr/bfdd";
/// The zebra binary of Debian's `frr` package.
pub const ZEBRA: &str = "/usr/lib/frr/zebra";
/// How long [`Frr::start`] waits for each daemon to answer on its vty.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The state of a BFD session as a daemon reports it (RFC 5880 `bfd.SessionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// AdminDown: shut down locally (FRR says `shutdown`, BIRD `AdminDown`).
    AdminDown,
    /// Down.
    Down,
    /// Init.
    Init,
    /// Up.
    Up,
}

impl Status {
    /// Parses FRR's `status` field (`shutdown`, `down`, `init`, `up`) or BIRD's `State` column
    /// (`AdminDown`, `Down`, `Init`, `Up`), case-insensitively.
    pub fn parse(text: &str) -> Option<Status> {
        match text.to_ascii_lowercase().as_str() {
            "shutdown" | "admindown" | "admin-down" => Some(Status::AdminDown),
            "down" => Some(Status::Down),
            "init" => Some(Status::Init),
            "up" => Some(Status::Up),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Status::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown BFD status {text:?}")))
    }
}

/// FRR's spelling of the RFC 5880 diagnostics in `diagnostic` / `remote-diagnostic`.
pub mod diag {
    /// 0, No Diagnostic.
    pub const OK: &str = "ok";
    /// 1, Control Detection Time Expired.
    pub const DETECTION_TIME_EXPIRED: &str = "control detection time expired";
    /// 2, Echo Function Failed.
    pub const ECHO_FAILED: &str = "echo function failed";
    /// 3, Neighbor Signaled Session Down.
    pub const NEIGHBOR_DOWN: &str = "neighbor signaled session down";
    /// 4, Forwarding Plane Reset.
    pub const FORWARDING_RESET: &str = "forwarding plane reset";
    /// 5, Path Down.
    pub const PATH_DOWN: &str = "path down";
    /// 7, Administratively Down.
    pub const ADMIN_DOWN: &str = "administratively down";
}

/// How a peer is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerPath {
    /// RFC 5881 single hop, bound to an interface, optionally to a local address too.
    SingleHop {
        /// The local interface.
        interface: String,
        /// The local address, if pinned.
        local: Option<IpAddr>,
    },
    /// RFC 5883 multihop from a local address.
    Multihop {
        /// The local address.
        local: IpAddr,
    },
}

/// One `peer` under FRR's `bfd` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrrPeer {
    /// The peer's address.
    pub addr: IpAddr,
    /// Single hop or multihop.
    pub path: PeerPath,
    /// `transmit-interval`, ms (FRR's default 300).
    pub transmit_interval_ms: u32,
    /// `receive-interval`, ms (FRR's default 300).
    pub receive_interval_ms: u32,
    /// `detect-multiplier` (FRR's default 3).
    pub detect_multiplier: u8,
    /// `passive-mode`: do not send until the peer is heard.
    pub passive: bool,
    /// `minimum-ttl` (multihop only; FRR's default 254).
    pub minimum_ttl: Option<u8>,
    /// Start administratively down (`shutdown`).
    pub shutdown: bool,
}

impl FrrPeer {
    /// A single-hop peer on `interface`, 300 ms / 300 ms / 3.
    pub fn single_hop(addr: IpAddr, interface: &str) -> FrrPeer {
        FrrPeer::new(addr, PeerPath::SingleHop { interface: interface.to_owned(), local: None })
    }

    /// A multihop peer from `local`, 300 ms / 300 ms / 3.
    pub fn multihop(addr: IpAddr, local: IpAddr) -> FrrPeer {
        FrrPeer::new(addr, PeerPath::Multihop { local })
    }

    fn new(addr: IpAddr, path: PeerPath) -> FrrPeer {
        FrrPeer {
            addr,
            path,
            transmit_interval_ms: 300,
            receive_interval_ms: 300,
            detect_multiplier: 3,
            passive: false,
            minimum_ttl: None,
            shutdown: false,
        }
    }

    /// Sets the transmit and receive intervals in ms.
    pub fn intervals(mut self, transmit_ms: u32, receive_ms: u32) -> FrrPeer {
        self.transmit_interval_ms = transmit_ms;
        self.receive_interval_ms = receive_ms;
        self
    }

    /// Sets the detect multiplier.
    pub fn multiplier(mut self, multiplier: u8) -> FrrPeer {
        self.detect_multiplier = multiplier;
        self
    }

    /// Sets the multihop minimum TTL.
    pub fn minimum_ttl(mut self, ttl: u8) -> FrrPeer {
        self.minimum_ttl = Some(ttl);
        self
    }

    /// Makes the peer passive.
    pub fn passive(mut self) -> FrrPeer {
        self.passive = true;
        self
    }

    /// The `peer ...` line that names this peer in FRR's configuration.
    pub fn key(&self) -> String {
        match &self.path {
            PeerPath::SingleHop { interface, local: None } => format!("peer {} interface {interface}", self.addr),
            PeerPath::SingleHop { interface, local: Some(local) } => {
                format!("peer {} local-address {local} interface {interface}", self.addr)
            }
            PeerPath::Multihop { local } => format!("peer {} multihop local-address {local}", self.addr),
        }
    }

    /// The commands inside the peer node that set this peer's options.
    fn settings(&self) -> Vec<String> {
        let mut lines = vec![
            format!("transmit-interval {}", self.transmit_interval_ms),
            format!("receive-interval {}", self.receive_interval_ms),
            format!("detect-multiplier {}", self.detect_multiplier),
            if self.passive { "passive-mode" } else { "no passive-mode" }.to_owned(),
        ];
        if let Some(ttl) = self.minimum_ttl {
            lines.push(format!("minimum-ttl {ttl}"));
        }
        lines.push(if self.shutdown { "shutdown" } else { "no shutdown" }.to_owned());
        lines
    }
}

/// What [`Frr::start`] configures.
#[derive(Debug, Clone, Default)]
pub struct FrrConfig {
    /// The peers, configured once bfdd runs.
    pub peers: Vec<FrrPeer>,
}

/// One entry of `show bfd peers json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct FrrPeerState {
    /// Multihop session.
    pub multihop: bool,
    /// The peer's address.
    pub peer: IpAddr,
    /// The local address, if configured.
    pub local: Option<IpAddr>,
    /// The interface (single hop).
    pub interface: Option<String>,
    /// Local discriminator.
    pub id: u32,
    /// Remote discriminator (0 while unknown).
    pub remote_id: u32,
    /// Session state.
    pub status: Status,
    /// Local diagnostic, in FRR's words (see [`diag`]).
    pub diagnostic: String,
    /// The peer's last diagnostic, in FRR's words.
    pub remote_diagnostic: String,
    /// Configured receive interval, ms.
    pub receive_interval: u32,
    /// Configured transmit interval, ms.
    pub transmit_interval: u32,
    /// Echo receive interval, ms.
    pub echo_receive_interval: u32,
    /// Local detect multiplier.
    pub detect_multiplier: u8,
    /// The peer's Required Min RX, ms.
    pub remote_receive_interval: u32,
    /// The peer's Desired Min TX, ms.
    pub remote_transmit_interval: u32,
    /// The peer's detect multiplier.
    pub remote_detect_multiplier: u8,
    /// Seconds Up (present while Up).
    pub uptime: Option<u64>,
    /// Seconds Down (present while Down).
    pub downtime: Option<u64>,
}

/// A running zebra + bfdd pair, killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct Frr {
    // Field order matters: the daemons are killed before their directory is removed.
    bfdd: Daemon,
    zebra: Daemon,
    dir: tempfile::TempDir,
    namespace: String,
    startup: Duration,
}

/// Looks up the uid and gid of the `frr` user in /etc/passwd.
fn frr_user() -> Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(io_error("cannot read /etc/passwd"))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"frr"))
        .and_then(|fields| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
        .ok_or_else(|| Error::Environment("no `frr` user; install the Debian package `frr`".into()))
}

/// Checks that FRR's daemons and vtysh are installed.
pub fn require_frr() -> Result<()> {
    for binary in [BFDD, ZEBRA] {
        if !Path::new(binary).exists() {
            return Err(Error::Environment(format!("{binary} is missing; install the Debian package `frr`")));
        }
    }
    require_program("vtysh", &["--help"], "frr")?;
    frr_user().map(drop)
}

/// bfdd's and zebra's logs in `dir`.
fn logs(dir: &Path) -> String {
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_default();
    format!("[bfdd.log]\n{}[zebra.log]\n{}", read("bfdd.log"), read("zebra.log"))
}

/// Runs vtysh against one daemon whose vty socket is in `dir`.
fn vtysh_at(dir: &Path, daemon: &str, commands: &[&str]) -> Result<String> {
    let mut command = Command::new("vtysh");
    command.arg("--vty_socket").arg(dir).args(["-d", daemon]);
    for c in commands {
        command.args(["-c", c]);
    }
    run_command(&mut command)
}

/// Errs with the logs if `child` has exited.
fn check_running(name: &str, child: &mut Daemon, dir: &Path) -> Result<()> {
    match child.0.try_wait() {
        Ok(Some(status)) => {
            Err(Error::Daemon { daemon: format!("FRR {name}"), problem: format!("exited ({status})"), log: logs(dir) })
        }
        _ => Ok(()),
    }
}

/// Waits until `daemon` answers `command` on its vty, failing early if it exits.
fn wait_vty(dir: &Path, daemon: &str, child: &mut Daemon, command: &str) -> Result<()> {
    wait_for(&format!("{daemon} to answer on its vty"), START_TIMEOUT, || {
        check_running(daemon, child, dir)?;
        Ok(match vtysh_at(dir, daemon, &[command]) {
            Ok(_) => Check::Done(()),
            Err(e) => Check::Waiting(e.to_string()),
        })
    })
    .map_err(|e| match e {
        e @ Error::Daemon { .. } => e,
        other => Error::Daemon {
            daemon: format!("FRR {daemon}"),
            problem: format!("did not start: {other}"),
            log: logs(dir),
        },
    })
}

impl Frr {
    /// Starts zebra and bfdd in `ns`, waits until bfdd answers and is connected to zebra, then
    /// configures `config`'s peers. Fails (with the daemons' logs) if either does not come up
    /// within [`START_TIMEOUT`].
    pub fn start(ns: &Namespace, config: FrrConfig) -> Result<Frr> {
        require_frr()?;
        let begin = Instant::now();
        let (uid, gid) = frr_user()?;
        let dir = temp_dir("frr")?;
        let path = dir.path().to_owned();
        for conf in ["zebra.conf", "bfdd.conf"] {
            fs::write(path.join(conf), "").map_err(io_error("cannot write an empty FRR config"))?;
            std::os::unix::fs::chown(path.join(conf), Some(uid), Some(gid)).map_err(io_error("cannot chown"))?;
        }
        // The daemons drop privileges to `frr`; their pid files and sockets go here.
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(io_error("cannot chown the FRR dir"))?;
        let p = |name: &str| path.join(name).into_os_string();

        let mut zebra_cmd = ns.command(ZEBRA);
        zebra_cmd.arg("-f").arg(p("zebra.conf")).arg("-i").arg(p("zebra.pid")).arg("--vty_socket").arg(&path);
        zebra_cmd.arg("-z").arg(p("zserv.api")).args(["-P", "0", "--log", "stdout"]);
        let mut zebra = spawn_logged(zebra_cmd, &path.join("zebra.log"))?;
        // bfdd must find zebra listening: a failed first connect is only retried after 10 s.
        wait_vty(&path, "zebra", &mut zebra, "show version")?;

        let mut bfdd_cmd = ns.command(BFDD);
        bfdd_cmd.arg("-f").arg(p("bfdd.conf")).arg("-i").arg(p("bfdd.pid")).arg("--vty_socket").arg(&path);
        bfdd_cmd.arg("--bfdctl").arg(p("bfdd.sock")).arg("-z").arg(p("zserv.api"));
        bfdd_cmd.args(["-P", "0", "--log", "stdout"]);
        let mut bfdd = spawn_logged(bfdd_cmd, &path.join("bfdd.log"))?;
        wait_vty(&path, "bfdd", &mut bfdd, "show bfd peers")?;
        wait_for("bfdd to connect to zebra", START_TIMEOUT, || {
            check_running("bfdd", &mut bfdd, &path)?;
            let clients = vtysh_at(&path, "zebra", &["show zebra client summary"])?;
            Ok(if clients.lines().any(|l| l.starts_with("bfd")) { Check::Done(()) } else { Check::Waiting(clients) })
        })
        .map_err(|e| Error::Daemon { daemon: "FRR bfdd".into(), problem: e.to_string(), log: logs(&path) })?;

        let mut frr = Frr { bfdd, zebra, dir, namespace: ns.name().to_owned(), startup: Duration::ZERO };
        for peer in &config.peers {
            frr.add_peer(peer)?;
        }
        frr.startup = begin.elapsed();
        Ok(frr)
    }

    /// How long [`Frr::start`] took (both daemons up, peers configured).
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The private directory (sockets, pid files, `zebra.log`, `bfdd.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The namespace bfdd runs in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// bfdd's pid.
    pub fn bfdd_pid(&self) -> u32 {
        self.bfdd.0.id()
    }

    /// bfdd's and zebra's logs so far.
    pub fn log(&self) -> String {
        logs(self.dir.path())
    }

    fn daemon_error(&self, problem: &str, cause: Error) -> Error {
        Error::Daemon { daemon: "FRR bfdd".into(), problem: format!("{problem}: {cause}"), log: self.log() }
    }

    /// Errs (with the logs) if bfdd or zebra has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        check_running("zebra", &mut self.zebra, self.dir.path())?;
        check_running("bfdd", &mut self.bfdd, self.dir.path())
    }

    /// Runs `vtysh -c c1 -c c2 ...` against bfdd. Fails if vtysh does, or if it printed a `%`
    /// error line (vtysh exits 0 after a rejected command inside `configure terminal`).
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        let out = vtysh_at(self.dir.path(), "bfdd", commands).map_err(|e| self.daemon_error("vtysh failed", e))?;
        if let Some(line) = out.lines().find(|l| l.trim_start().starts_with('%')) {
            let problem = format!("rejected {commands:?}: {line}");
            return Err(Error::Daemon { daemon: "FRR bfdd".into(), problem, log: self.log() });
        }
        Ok(out)
    }

    /// Runs `commands` inside `configure terminal` / `bfd`.
    pub fn configure_bfd(&self, commands: &[&str]) -> Result<()> {
        let mut all = vec!["configure terminal", "bfd"];
        all.extend_from_slice(commands);
        self.vtysh(&all).map(drop)
    }

    fn configure_peer(&self, peer: &FrrPeer, commands: &[String]) -> Result<()> {
        let key = peer.key();
        let mut all = vec![key.as_str()];
        all.extend(commands.iter().map(String::as_str));
        self.configure_bfd(&all)
    }

    /// Adds (or updates) `peer` with all its settings.
    ///
    /// bfdd accepts a single-hop peer on an interface it does not know (yet), logs "doesn't
    /// exist" before vtysh returns, and never starts that session. Right after startup zebra may
    /// still be telling bfdd about interfaces, so this retries for up to a second and then fails.
    pub fn add_peer(&self, peer: &FrrPeer) -> Result<()> {
        let bfdd_log = || fs::read_to_string(self.dir.path().join("bfdd.log")).unwrap_or_default();
        wait_for(&format!("bfdd to start {}", peer.key()), Duration::from_secs(1), || {
            let before = bfdd_log().len();
            self.configure_peer(peer, &peer.settings())?;
            let log = bfdd_log();
            match log.get(before..) {
                Some(new) if new.contains("doesn't exist") => {
                    self.remove_peer(peer)?;
                    Ok(Check::Waiting(new.trim().to_owned()))
                }
                _ => Ok(Check::Done(())),
            }
        })
        .map_err(|e| self.daemon_error(&format!("{} did not start", peer.key()), e))
    }

    /// Removes `peer`.
    pub fn remove_peer(&self, peer: &FrrPeer) -> Result<()> {
        self.configure_bfd(&[&format!("no {}", peer.key())])
    }

    /// Administratively shuts `peer` down (AdminDown).
    pub fn shutdown_peer(&self, peer: &FrrPeer) -> Result<()> {
        self.configure_peer(peer, &["shutdown".to_owned()])
    }

    /// Undoes [`Frr::shutdown_peer`].
    pub fn enable_peer(&self, peer: &FrrPeer) -> Result<()> {
        self.configure_peer(peer, &["no shutdown".to_owned()])
    }

    /// Changes `peer`'s timers (FRR starts a Poll sequence when Up).
    pub fn set_timers(&self, peer: &FrrPeer, transmit_ms: u32, receive_ms: u32, multiplier: u8) -> Result<()> {
        self.configure_peer(
            peer,
            &[
                format!("transmit-interval {transmit_ms}"),
                format!("receive-interval {receive_ms}"),
                format!("detect-multiplier {multiplier}"),
            ],
        )
    }

    /// All peers, from `show bfd peers json`.
    pub fn peers(&self) -> Result<Vec<FrrPeerState>> {
        let out = self.vtysh(&["show bfd peers json"])?;
        serde_json::from_str(&out).map_err(|e| Error::Parse { what: format!("show bfd peers json ({e})"), text: out })
    }

    /// The peer with address `addr` (the first, if there are several).
    pub fn peer(&self, addr: IpAddr) -> Result<FrrPeerState> {
        self.peers()?.into_iter().find(|p| p.peer == addr).ok_or_else(|| Error::Daemon {
            daemon: "FRR bfdd".into(),
            problem: format!("no peer {addr} in show bfd peers"),
            log: self.log(),
        })
    }

    /// Waits until the peer at `addr` satisfies `condition`, polling every 20 ms.
    pub fn wait_peer_where(
        &self,
        addr: IpAddr,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&FrrPeerState) -> bool,
    ) -> Result<FrrPeerState> {
        wait_for(&format!("FRR peer {addr} to be {what}"), timeout, || {
            let state = self.peer(addr)?;
            Ok(if condition(&state) { Check::Done(state) } else { Check::Waiting(format!("{state:?}")) })
        })
        .map_err(|e| match e {
            e @ Error::Timeout { .. } => self.daemon_error("condition not reached", e),
            other => other,
        })
    }

    /// Waits until the peer at `addr` reports `status`.
    pub fn wait_peer(&self, addr: IpAddr, status: Status, timeout: Duration) -> Result<FrrPeerState> {
        self.wait_peer_where(addr, &format!("{status:?}"), timeout, |p| p.status == status)
    }

    /// Kills bfdd with SIGKILL (zebra keeps running) and reaps it.
    pub fn kill(&mut self) -> Result<()> {
        self.bfdd.0.kill().map_err(io_error("cannot kill bfdd"))?;
        self.bfdd.0.wait().map_err(io_error("cannot reap bfdd")).map(drop)
    }

    /// Stops bfdd with SIGTERM and waits (at most 5 s) for it to exit.
    pub fn stop(&mut self) -> Result<()> {
        signal(self.bfdd.0.id(), Signal::TERM);
        let bfdd = &mut self.bfdd;
        wait_for("bfdd to exit after SIGTERM", Duration::from_secs(5), || {
            Ok(match bfdd.0.try_wait().map_err(io_error("cannot wait for bfdd"))? {
                Some(_) => Check::Done(()),
                None => Check::Waiting("still running".into()),
            })
        })
    }
}
