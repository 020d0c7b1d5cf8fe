//! The fault lab: a small cluster of real `heartbeat run` processes, each in a network
//! namespace of its own, on two redundant links, with the faults real networks and machines
//! have — crashes, pauses, restarts, loss (both ways or one way), a cut link, partitions,
//! delay and jitter, CPU starvation and floods of forged frames.
//!
//! ```text
//!            hbt-…-lab-sw (bridges br0, br1; relay addresses .100)
//!        br0 198.18.0.0/24                br1 198.18.1.0/24
//!     ┌────┬────┬────┬────┐            ┌────┬────┬────┬────┐
//!     h1   h2   h3   h4   h5           h1   h2   h3   h4   h5
//!   (e0: 198.18.0.N)                 (e1: 198.18.1.N)       each: heartbeat run --json
//! ```
//!
//! Host `N` has `198.18.0.N` on its link 0 (`e0`) and `198.18.1.N` on its link 1 (`e1`) and
//! listens on port [`PORT`] on both. Every namespace, temporary directory and cgroup carries
//! the harness's `hbt-<pid>-` prefix, so a later run removes what a crashed one left behind
//! (by those names only), and everything is torn down on drop, also when a test panics:
//! processes first (SIGKILL works on stopped ones too), then relays, cgroups and namespaces.

pub mod cpu;
pub mod flood;
pub mod host;
pub mod jitter;
pub mod log;
pub mod measure;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use self::host::Host;
use self::jitter::JitterRelay;
use crate::netns::{self, Check, Error, Namespace, Result, wait_for};

/// The UDP port every host listens on, on both links.
pub const PORT: u16 = 7000;

/// How many links each host has.
pub const LINKS: usize = 2;

/// The address of the switch namespace on each link, where relays listen.
pub const RELAY_HOST: u8 = 100;

/// Host `n`'s IPv4 address on `link` (`198.18.<link>.<n>`).
pub fn address(n: usize, link: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, link as u8, n as u8)
}

/// What the lab runs: how many hosts, their timing, and which pairs talk through a relay.
#[derive(Debug, Clone)]
pub struct LabSpec {
    /// Number of hosts, 2 to 9.
    pub hosts: usize,
    /// `--interval` of every host.
    pub interval: Duration,
    /// `--timeout` of every host.
    pub timeout: Duration,
    /// `--tick` of every host.
    pub tick: Duration,
    /// Pairs of hosts (1-based) whose datagrams, on both links, cross a [`JitterRelay`] in
    /// the switch namespace instead of going straight over the bridge.
    pub relayed: Vec<(usize, usize)>,
}

impl LabSpec {
    /// Five hosts with sub-second detection: interval 50 ms, timeout 400 ms, tick 50 ms.
    pub fn fast() -> LabSpec {
        LabSpec {
            hosts: 5,
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(400),
            tick: Duration::from_millis(50),
            relayed: Vec::new(),
        }
    }
}

/// A running lab; everything it made goes away on drop.
pub struct Lab {
    // Field order is drop order: processes, then relays, then the namespaces and files.
    hosts: Vec<Host>,
    relays: Vec<JitterRelay>,
    switch: Namespace,
    spec: LabSpec,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab").field("spec", &self.spec).field("dir", &self.dir.path()).finish_non_exhaustive()
    }
}

impl Lab {
    /// Builds the topology, starts `binary` (the `heartbeat` executable) on every host with a
    /// shared key file, and waits until every host answers on its control socket. Leftovers of
    /// earlier crashed runs (namespaces, temp dirs, cgroups named by this harness) go first.
    pub fn start(binary: &Path, spec: LabSpec) -> Result<Lab> {
        assert!((2..=9).contains(&spec.hosts), "2 to 9 hosts");
        netns::require_environment()?;
        netns::require_program("iptables", &["--version"], "iptables")?;
        cpu::cleanup_stale();
        let dir = netns::temp_dir("lab")?;
        let key_file = write_key_file(dir.path())?;
        let switch = Namespace::new("lab-sw")?;
        for link in 0..LINKS {
            let br = format!("br{link}");
            switch.ip(&["link", "add", &br, "type", "bridge"])?;
            switch.set_up(&br)?;
            switch.add_address(&br, address(usize::from(RELAY_HOST), link).into(), 24)?;
        }
        let mut namespaces = Vec::new();
        for n in 1..=spec.hosts {
            let ns = Namespace::new(&format!("lab-h{n}"))?;
            for link in 0..LINKS {
                let (inner, outer) = (format!("e{link}"), format!("h{n}l{link}"));
                netns::veth(&ns, &inner, &switch, &outer)?;
                switch.ip(&["link", "set", &outer, "master", &format!("br{link}")])?;
                ns.add_address(&inner, address(n, link).into(), 24)?;
            }
            namespaces.push(ns);
        }
        // Relays first: their faces are the relayed peers' addresses.
        let mut relays = Vec::new();
        let mut via: Vec<((usize, usize, usize), SocketAddr)> = Vec::new();
        for &(a, b) in &spec.relayed {
            for link in 0..LINKS {
                let relay = JitterRelay::start(
                    &switch,
                    sock(address(a, link)),
                    sock(address(b, link)),
                    (a * 10 + b + link) as u64,
                )?;
                via.push(((a, b, link), relay.face_a()));
                via.push(((b, a, link), relay.face_b()));
                relays.push(relay);
            }
        }
        let mut hosts = Vec::new();
        for (i, ns) in namespaces.into_iter().enumerate() {
            let n = i + 1;
            let mut args: Vec<String> = vec!["run".into(), "--json".into(), "--id".into(), n.to_string()];
            for link in 0..LINKS {
                args.extend(["--listen".into(), sock(address(n, link)).to_string()]);
            }
            for peer in (1..=spec.hosts).filter(|p| *p != n) {
                let addrs: Vec<String> = (0..LINKS)
                    .map(|link| {
                        via.iter()
                            .find(|(k, _)| *k == (n, peer, link))
                            .map_or(sock(address(peer, link)), |(_, face)| *face)
                            .to_string()
                    })
                    .collect();
                args.extend(["--peer".into(), format!("{peer}@{}", addrs.join(","))]);
            }
            let ms = |d: Duration| format!("{}ms", d.as_millis());
            args.extend(["--interval".into(), ms(spec.interval), "--timeout".into(), ms(spec.timeout)]);
            args.extend(["--tick".into(), ms(spec.tick)]);
            args.extend(["--key-file".into(), key_file.display().to_string()]);
            hosts.push(Host::new(n as u64, ns, binary, dir.path(), args));
        }
        let mut lab = Lab { hosts, relays, switch, spec, dir };
        for host in &mut lab.hosts {
            host.start()?;
        }
        Ok(lab)
    }

    /// Host `n` (1-based).
    pub fn host(&self, n: usize) -> &Host {
        &self.hosts[n - 1]
    }

    /// Host `n` (1-based), to signal or restart it.
    pub fn host_mut(&mut self, n: usize) -> &mut Host {
        &mut self.hosts[n - 1]
    }

    /// Every host, host 1 first.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Every host, to sample or signal.
    pub fn hosts_mut(&mut self) -> &mut [Host] {
        &mut self.hosts
    }

    /// The numbers of the hosts, `1..=hosts`.
    pub fn numbers(&self) -> std::ops::RangeInclusive<usize> {
        1..=self.spec.hosts
    }

    /// What the lab was started with.
    pub fn spec(&self) -> &LabSpec {
        &self.spec
    }

    /// The switch namespace (bridges `br0`, `br1`, addresses `198.18.<link>.100`).
    pub fn switch(&self) -> &Namespace {
        &self.switch
    }

    /// The relays of [`LabSpec::relayed`], two per pair (link 0, then link 1).
    pub fn relays(&self) -> &[JitterRelay] {
        &self.relays
    }

    /// Where the lab keeps its logs, sockets and key file.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// Waits until every running host reports every other running host `up` on every link.
    pub fn wait_converged(&self, within: Duration) -> Result<()> {
        let running: Vec<u64> = self.hosts.iter().filter(|h| h.is_running()).map(Host::id).collect();
        wait_for("every host to see every other up on every link", within, || {
            for host in self.hosts.iter().filter(|h| h.is_running()) {
                let status = host.status()?;
                for peer in status.peers.iter().filter(|p| running.contains(&p.id)) {
                    if peer.state != "up" || peer.links.iter().any(|l| l != "up") {
                        return Ok(Check::Waiting(format!(
                            "host {} sees {}: {} {:?}",
                            host.id(),
                            peer.id,
                            peer.state,
                            peer.links
                        )));
                    }
                }
            }
            Ok(Check::Done(()))
        })
    }
}

fn sock(ip: Ipv4Addr) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), PORT)
}

/// A key file shared by every host: one fresh 32-byte secret, owner-only.
fn write_key_file(dir: &Path) -> Result<PathBuf> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(netns::io_error("cannot read /dev/urandom"))?;
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join("keys");
    std::fs::write(&path, format!("1 {hex}\n")).map_err(netns::io_error("cannot write the key file"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(netns::io_error("cannot chmod the key file"))?;
    Ok(path)
}

/// An [`Error::Daemon`] about host `n`.
pub(crate) fn host_error(n: u64, problem: impl Into<String>, log: String) -> Error {
    Error::Daemon { daemon: format!("heartbeat on host {n}"), problem: problem.into(), log }
}
