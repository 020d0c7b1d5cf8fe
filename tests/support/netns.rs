//! Throw-away Linux network namespaces for tests that run real daemons (FRR, BIRD) or real
//! sockets on links of their own.
//!
//! Everything this module creates carries the name prefix [`PREFIX`] followed by the creating
//! process's pid, so a later run can remove what a crashed run left behind ([`cleanup_stale`])
//! without touching anything else. A [`Namespace`] is deleted on drop (also while a test
//! panics), after every process still inside it was killed; the veth ends inside it go with it.
//!
//! ```no_run
//! # fn main() -> Result<(), heartbeat_tests::netns::Error> {
//! use heartbeat_tests::netns::Pair;
//! let net = Pair::new()?; // namespaces a and b, veth a.dev <-> b.dev, IPv4 and IPv6 addresses
//! let out = net.a.run("ip", &["-brief", "address"])?;
//! assert!(out.contains(&Pair::A_V4.to_string()));
//! # Ok(()) }
//! ```
//!
//! Needs root and iproute2 (`ip`); [`require_environment`] says clearly what is missing.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, geteuid, kill_process};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// The prefix of every namespace name this harness creates: `hbt-<pid>-<n>-<label>`.
pub const PREFIX: &str = "hbt-";

/// Where iproute2 keeps the named namespaces.
const NETNS_DIR: &str = "/var/run/netns";

/// How often the wait helpers look again.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// What went wrong while setting up or driving the harness.
///
/// `Debug` prints the same text as `Display`, so that `unwrap()` and `?` in a test show the
/// daemon's log readably.
#[non_exhaustive]
pub enum Error {
    /// The machine cannot run these tests (not root, a tool or daemon is missing).
    Environment(String),
    /// A helper command ran but failed.
    Command {
        /// The command line.
        command: String,
        /// Its exit code, `None` if killed by a signal.
        status: Option<i32>,
        /// What it printed (stdout and stderr).
        output: String,
    },
    /// An I/O error, with what was being done.
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// A daemon did not come up, died or refused a command.
    Daemon {
        /// Which daemon.
        daemon: String,
        /// What happened.
        problem: String,
        /// Its log so far.
        log: String,
    },
    /// A condition did not hold within its time bound.
    Timeout {
        /// The condition.
        what: String,
        /// How long it was waited for.
        waited: Duration,
        /// What was seen last.
        last: String,
    },
    /// Output of a daemon's CLI that could not be understood.
    Parse {
        /// What was being parsed.
        what: String,
        /// The text.
        text: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Environment(why) => write!(f, "this test needs root, iproute2, FRR and BIRD: {why}"),
            Error::Command { command, status, output } => {
                write!(f, "`{command}` failed (exit {status:?}):\n{output}")
            }
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Daemon { daemon, problem, log } => {
                write!(f, "{daemon}: {problem}\n----- {daemon} log -----\n{log}\n----- end of log -----")
            }
            Error::Timeout { what, waited, last } => {
                write!(f, "timed out after {waited:?} waiting for {what}; last seen: {last}")
            }
            Error::Parse { what, text } => write!(f, "cannot parse {what}:\n{text}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

/// The harness's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an I/O error with what was being done.
pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// One observation of a condition being waited for.
#[derive(Debug)]
pub enum Check<T> {
    /// The condition holds; the wait ends with this value.
    Done(T),
    /// Not yet; says what was seen (shown if the wait times out).
    Waiting(String),
}

/// Calls `probe` every [`POLL_EVERY`] until it reports [`Check::Done`], fails, or `timeout`
/// has passed (then [`Error::Timeout`] with the last observation).
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<Check<T>>) -> Result<T> {
    let start = Instant::now();
    loop {
        let last = match probe()? {
            Check::Done(value) => return Ok(value),
            Check::Waiting(last) => last,
        };
        if start.elapsed() >= timeout {
            return Err(Error::Timeout { what: what.to_owned(), waited: start.elapsed(), last });
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// Fails with a clear [`Error::Environment`] unless the process is root and `ip` runs.
pub fn require_environment() -> Result<()> {
    if !geteuid().is_root() {
        return Err(Error::Environment("not running as root (network namespaces need CAP_SYS_ADMIN)".into()));
    }
    require_program("ip", &["-V"], "iproute2")
}

/// Fails with [`Error::Environment`] unless `program args` can be run (its exit code is not
/// looked at). `package` names what to install.
pub fn require_program(program: &str, args: &[&str], package: &str) -> Result<()> {
    match Command::new(program).args(args).output() {
        Ok(_) => Ok(()),
        Err(e) => {
            Err(Error::Environment(format!("cannot run `{program}` ({e}); install the Debian package `{package}`")))
        }
    }
}

/// Runs a command to completion; its stdout on success, [`Error::Command`] otherwise.
pub fn run_command(command: &mut Command) -> Result<String> {
    let line = format!("{command:?}").replace('"', "");
    let output: Output = command.output().map_err(io_error(format!("cannot run `{line}`")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(Error::Command { command: line, status: output.status.code(), output: format!("{stdout}{stderr}") })
    }
}

fn ip(args: &[&str]) -> Result<String> {
    run_command(Command::new("ip").args(args))
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub(crate) fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, signal);
    }
}

/// A named network namespace, deleted (with everything running in it) on drop.
#[derive(Debug)]
pub struct Namespace {
    name: String,
}

impl Namespace {
    /// Creates `hbt-<pid>-<n>-<label>` with its loopback up. The first call in a process also
    /// runs [`cleanup_stale`].
    pub fn new(label: &str) -> Result<Namespace> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        static CLEANUP: Once = Once::new();
        require_environment()?;
        CLEANUP.call_once(|| match cleanup_stale() {
            Ok(removed) if !removed.is_empty() => eprintln!("netns: removed leftovers of earlier runs: {removed:?}"),
            Ok(_) => {}
            Err(e) => eprintln!("netns: cleanup of earlier runs failed: {e}"),
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}-{label}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Namespace { name };
        ns.set_up("lo")?;
        Ok(ns)
    }

    /// The namespace's name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside the namespace (`ip netns exec NAME program`).
    /// `ip` execs the program, so the child's pid is the program's pid.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Runs `program args` inside the namespace to completion and returns its stdout.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        run_command(self.command(program).args(args))
    }

    /// Runs `ip -n NAME args`.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Sets a link up.
    pub fn set_up(&self, dev: &str) -> Result<()> {
        self.ip(&["link", "set", dev, "up"]).map(drop)
    }

    /// Sets a link down (both ends of a veth then lose carrier).
    pub fn set_down(&self, dev: &str) -> Result<()> {
        self.ip(&["link", "set", dev, "down"]).map(drop)
    }

    /// Adds `addr/prefix_len` to `dev`. IPv6 addresses skip duplicate address detection
    /// (`nodad`), so they are usable at once.
    pub fn add_address(&self, dev: &str, addr: IpAddr, prefix_len: u8) -> Result<()> {
        let cidr = format!("{addr}/{prefix_len}");
        let mut args = vec!["address", "add", cidr.as_str(), "dev", dev];
        if addr.is_ipv6() {
            args.push("nodad");
        }
        self.ip(&args).map(drop)
    }

    /// Drops every incoming UDP datagram to `port` (an iptables rule inside the namespace),
    /// e.g. 3784 to cut single-hop BFD towards this side while the daemons keep running.
    /// Needs the Debian package `iptables`.
    pub fn block_udp_port(&self, port: u16) -> Result<()> {
        require_program("iptables", &["--version"], "iptables")?;
        self.run("iptables", &["-A", "INPUT", "-p", "udp", "--dport", &port.to_string(), "-j", "DROP"]).map(drop)
    }

    /// Removes what [`Namespace::block_udp_port`] added.
    pub fn unblock_udp_port(&self, port: u16) -> Result<()> {
        self.run("iptables", &["-D", "INPUT", "-p", "udp", "--dport", &port.to_string(), "-j", "DROP"]).map(drop)
    }

    /// Starts `tcpdump -U -i dev -w file filter` inside the namespace and waits until it
    /// listens. The capture stops (and is flushed) when the returned [`Capture`] is dropped or
    /// [`Capture::stop`]ped. Needs the Debian package `tcpdump`.
    pub fn capture(&self, dev: &str, file: &Path, filter: &str) -> Result<Capture> {
        require_program("tcpdump", &["--version"], "tcpdump")?;
        let log = file.with_extension("tcpdump.log");
        let mut command = self.command("tcpdump");
        command.args(["-U", "-n", "-i", dev, "-w"]).arg(file).arg(filter);
        let mut capture = Capture { daemon: Some(spawn_logged(command, &log)?), log };
        wait_for("tcpdump to listen", Duration::from_secs(5), || {
            let text = std::fs::read_to_string(&capture.log).unwrap_or_default();
            if let Some(daemon) = capture.daemon.as_mut()
                && let Ok(Some(status)) = daemon.0.try_wait()
            {
                return Err(Error::Daemon {
                    daemon: "tcpdump".into(),
                    problem: format!("exited ({status})"),
                    log: text,
                });
            }
            Ok(if text.contains("listening on") { Check::Done(()) } else { Check::Waiting(text) })
        })?;
        Ok(capture)
    }

    /// The pids of the processes running inside the namespace.
    pub fn pids(&self) -> Result<Vec<u32>> {
        let out = ip(&["netns", "pids", &self.name])?;
        Ok(out.split_whitespace().filter_map(|p| p.parse().ok()).collect())
    }

    /// Runs `f` on a thread that was moved into the namespace, and returns its result. Sockets
    /// created by `f` stay in the namespace when they are used from other threads afterwards,
    /// so this is how in-process code gets sockets on the namespace's links.
    pub fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let path = Path::new(NETNS_DIR).join(&self.name);
        let file = File::open(&path).map_err(io_error(format!("cannot open {}", path.display())))?;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
                        .map_err(|e| io_error(format!("cannot enter namespace {}", self.name))(e.into()))?;
                    Ok(f())
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        remove_namespace(&self.name);
    }
}

/// Kills what runs inside `name` and deletes it; errors are reported, not raised (used on drop).
fn remove_namespace(name: &str) {
    // Killed processes leave the namespace only once reaped or gone; a few rounds suffice.
    for _ in 0..50 {
        let pids: Vec<u32> = match ip(&["netns", "pids", name]) {
            Ok(out) => out.split_whitespace().filter_map(|p| p.parse().ok()).collect(),
            Err(_) => break,
        };
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            signal(pid, Signal::KILL);
        }
        std::thread::sleep(POLL_EVERY);
    }
    if let Err(e) = ip(&["netns", "delete", name]) {
        eprintln!("netns: cannot delete {name}: {e}");
    }
}

/// The names of the namespaces that exist now and carry [`PREFIX`].
pub fn list() -> Result<Vec<String>> {
    let out = ip(&["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with(PREFIX))
        .map(str::to_owned)
        .collect())
}

/// Whether a namespace called `name` exists.
pub fn exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

/// Whether `name` is `hbt-<pid>-...` with a `pid` that is neither this process nor alive.
fn is_stale(name: &str) -> bool {
    let pid = name.strip_prefix(PREFIX).and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok());
    pid.is_some_and(|pid| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes what earlier runs of this harness left behind: namespaces (with the processes in
/// them) and temporary directories named `hbt-<pid>-...` whose creating process is gone.
/// Namespaces of live processes (tests running in parallel elsewhere) and names without a pid
/// are left alone. Returns the names removed.
pub fn cleanup_stale() -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for name in list()? {
        if is_stale(&name) {
            remove_namespace(&name);
            removed.push(name);
        }
    }
    let temp = std::env::temp_dir();
    for entry in std::fs::read_dir(&temp).map_err(io_error(format!("cannot list {}", temp.display())))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_stale(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(entry.path());
            removed.push(entry.path().display().to_string());
        }
    }
    Ok(removed)
}

/// A temporary directory `hbt-<pid>-<what>-XXXXXX`, removed on drop (or by a later
/// [`cleanup_stale`] should this process crash).
pub fn temp_dir(what: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-{what}-", std::process::id()))
        .tempdir()
        .map_err(io_error("cannot create a temp dir"))
}

/// Creates a veth pair with one end, `a_dev`, in `a` and the other, `b_dev`, in `b`, both up.
/// The names never exist outside the namespaces, so they only need to be unique inside them.
/// Both ends go away when either namespace is deleted.
pub fn veth(a: &Namespace, a_dev: &str, b: &Namespace, b_dev: &str) -> Result<()> {
    ip(&["link", "add", a_dev, "netns", a.name(), "type", "veth", "peer", "name", b_dev, "netns", b.name()])?;
    a.set_up(a_dev)?;
    b.set_up(b_dev)
}

/// Two namespaces joined by one veth, with an IPv4 and an IPv6 address on each end:
/// `a` has [`Pair::A_V4`] and [`Pair::A_V6`] on [`Pair::A_DEV`], `b` the `B_` ones.
#[derive(Debug)]
pub struct Pair {
    /// The first namespace.
    pub a: Namespace,
    /// The second namespace.
    pub b: Namespace,
}

impl Pair {
    /// The veth end in `a`.
    pub const A_DEV: &'static str = "veth-a";
    /// The veth end in `b`.
    pub const B_DEV: &'static str = "veth-b";
    /// `a`'s IPv4 address (in 198.18.0.0/30).
    pub const A_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    /// `b`'s IPv4 address (in 198.18.0.0/30).
    pub const B_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    /// `a`'s IPv6 address (in 2001:db8::/64).
    pub const A_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    /// `b`'s IPv6 address (in 2001:db8::/64).
    pub const B_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    /// The IPv4 prefix length of the link.
    pub const V4_PREFIX: u8 = 30;
    /// The IPv6 prefix length of the link.
    pub const V6_PREFIX: u8 = 64;

    /// Creates both namespaces, the veth and the addresses, everything up.
    pub fn new() -> Result<Pair> {
        let pair = Pair { a: Namespace::new("a")?, b: Namespace::new("b")? };
        veth(&pair.a, Self::A_DEV, &pair.b, Self::B_DEV)?;
        pair.a.add_address(Self::A_DEV, Self::A_V4.into(), Self::V4_PREFIX)?;
        pair.b.add_address(Self::B_DEV, Self::B_V4.into(), Self::V4_PREFIX)?;
        pair.a.add_address(Self::A_DEV, Self::A_V6.into(), Self::V6_PREFIX)?;
        pair.b.add_address(Self::B_DEV, Self::B_V6.into(), Self::V6_PREFIX)?;
        Ok(pair)
    }

    /// `a`'s address of the family `v6` selects.
    pub fn a_addr(&self, v6: bool) -> IpAddr {
        if v6 { Self::A_V6.into() } else { Self::A_V4.into() }
    }

    /// `b`'s address of the family `v6` selects.
    pub fn b_addr(&self, v6: bool) -> IpAddr {
        if v6 { Self::B_V6.into() } else { Self::B_V4.into() }
    }

    /// The names of both namespaces (to check afterwards that they are gone).
    pub fn names(&self) -> [String; 2] {
        [self.a.name().to_owned(), self.b.name().to_owned()]
    }
}

/// A child process killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct Daemon(pub(crate) Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `command` with stdout and stderr written to a new file `log`.
pub(crate) fn spawn_logged(mut command: Command, log: &Path) -> Result<Daemon> {
    let file = File::create(log).map_err(io_error(format!("cannot create {}", log.display())))?;
    let err = file.try_clone().map_err(io_error("cannot clone a log file handle"))?;
    command.stdin(Stdio::null()).stdout(file).stderr(err);
    command.spawn().map(Daemon).map_err(io_error(format!("cannot start {command:?}")))
}

/// A running tcpdump started by [`Namespace::capture`].
#[derive(Debug)]
pub struct Capture {
    daemon: Option<Daemon>,
    log: std::path::PathBuf,
}

impl Capture {
    /// Stops tcpdump with SIGINT (so it flushes the file) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            signal(daemon.0.id(), Signal::INT);
            let _ = daemon.0.wait();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}
