//! Debian's Linux-HA `heartbeat` 3.0.6 daemon run inside a [`Namespace`], private to the test.
//!
//! [`Heartbeat::start`] runs `/usr/libexec/heartbeat/heartbeat -f` as the lab recipe does
//! (`linux-ha-wire.md` §4): inside the namespace, in a private UTS namespace with its own host
//! name (Heartbeat takes its node name from `uname -n`), and a private mount namespace in which
//! a temporary directory is bind-mounted over `/etc/ha.d` (`ha.cf`, `authkeys` mode 0600, an
//! empty `haresources`), a copy of `/var/lib/heartbeat` over `/var/lib/heartbeat`, and a tmpfs
//! over `/run` with the directories Heartbeat needs. The host's own files stay untouched. Its
//! view is read with `cl_status` run in the same namespaces (`nsenter`), which answers only once
//! the daemon's communication is up (after `initdead` at the latest).
//!
//! ```no_run
//! # fn main() -> Result<(), heartbeat_tests::netns::Error> {
//! use heartbeat_tests::linuxha::{HaConfig, Heartbeat};
//! use heartbeat_tests::netns::Pair;
//! let net = Pair::new()?;
//! let config = HaConfig::new("hbnode1", "hbnode2", Pair::A_DEV, Pair::B_V4.into());
//! let hb = Heartbeat::start(&net.a, &config)?;
//! // ... start a node called hbnode2 at Pair::B_V4 in net.b ...
//! assert_eq!(hb.nodestatus("hbnode2")?, "active");
//! # Ok(()) }
//! ```

use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rustix::process::Signal;

use crate::netns::{
    Daemon, Error, Namespace, Result, io_error, require_program, run_command, signal, spawn_logged, temp_dir,
};

/// The daemon binary.
pub const DAEMON: &str = "/usr/libexec/heartbeat/heartbeat";

/// What the daemon's `ha.cf` and `authkeys` say.
#[derive(Debug, Clone)]
pub struct HaConfig {
    /// Its node name (its host name inside its UTS namespace).
    pub node: String,
    /// The other node's name.
    pub peer: String,
    /// The interface of its `ucast` line.
    pub interface: String,
    /// The other node's address (its `ucast` line).
    pub peer_addr: IpAddr,
    /// `keepalive`, `warntime`, `deadtime`, `initdead` as written in `ha.cf`.
    pub keepalive: String,
    /// See [`HaConfig::keepalive`].
    pub warntime: String,
    /// See [`HaConfig::keepalive`].
    pub deadtime: String,
    /// See [`HaConfig::keepalive`].
    pub initdead: String,
    /// The whole `authkeys` file.
    pub authkeys: String,
    /// `auto_failback` (`off` unless set).
    pub auto_failback: String,
    /// The `haresources` file (R1 resource management); `None`: an empty one.
    pub haresources: Option<String>,
    /// Resource scripts `(name, text)` for the private `/etc/ha.d/resource.d` (mode 0755),
    /// next to copies of the installed ones.
    pub resource_scripts: Vec<(String, String)>,
}

impl HaConfig {
    /// Keepalive 250 ms, warntime 1 s, deadtime 1.5 s, initdead 3 s, HMAC-SHA1 key
    /// `lha-test-secret`.
    pub fn new(node: &str, peer: &str, interface: &str, peer_addr: IpAddr) -> HaConfig {
        HaConfig {
            node: node.into(),
            peer: peer.into(),
            interface: interface.into(),
            peer_addr,
            keepalive: "250ms".into(),
            warntime: "1".into(),
            deadtime: "1500ms".into(),
            initdead: "3".into(),
            authkeys: "auth 1\n1 sha1 lha-test-secret\n".into(),
            auto_failback: "off".into(),
            haresources: None,
            resource_scripts: Vec::new(),
        }
    }

    /// The `ha.cf` text, with logs going to `logdir`.
    pub fn ha_cf(&self, logdir: &Path) -> String {
        format!(
            "use_logd no\nlogfile {log}\ndebugfile {debug}\nudpport 694\nkeepalive {}\nwarntime {}\n\
deadtime {}\ninitdead {}\nucast {} {}\nnode {} {}\ncrm no\nauto_failback {}\nrealtime off\n\
coredumps false\ndebug 0\n",
            self.keepalive,
            self.warntime,
            self.deadtime,
            self.initdead,
            self.interface,
            self.peer_addr,
            self.node,
            self.peer,
            self.auto_failback,
            log = logdir.join("ha-log").display(),
            debug = logdir.join("ha-debug").display(),
        )
    }
}

/// A running `heartbeat` daemon, killed (with everything it started) on drop.
#[derive(Debug)]
pub struct Heartbeat {
    daemon: Option<Daemon>,
    pid: u32,
    dir: tempfile::TempDir,
}

impl Heartbeat {
    /// Starts the daemon inside `ns` and waits until its master process runs its media
    /// (`ucast: started on port 694` in its log); fails with its log otherwise.
    pub fn start(ns: &Namespace, config: &HaConfig) -> Result<Heartbeat> {
        require_program(DAEMON, &["-V"], "heartbeat")?;
        require_program("cl_status", &["-h"], "heartbeat")?;
        require_program("nsenter", &["--version"], "util-linux")?;
        let dir = temp_dir("heartbeat")?;
        let etc = dir.path().join("etc-ha.d");
        let varlib = dir.path().join("varlib");
        for d in [&etc, &varlib] {
            fs::create_dir(d).map_err(io_error(format!("cannot create {}", d.display())))?;
        }
        run_command(Command::new("cp").arg("-a").arg("/var/lib/heartbeat/.").arg(&varlib))?;
        write(&etc.join("ha.cf"), &config.ha_cf(dir.path()), 0o644)?;
        write(&etc.join("authkeys"), &config.authkeys, 0o600)?;
        match &config.haresources {
            None => write(&etc.join("haresources"), "# no resources\n", 0o644)?,
            Some(haresources) => {
                // R1 resource management needs harc, rc.d, shellfuncs and resource.d.
                for part in ["harc", "rc.d", "shellfuncs", "resource.d"] {
                    run_command(Command::new("cp").arg("-a").arg(Path::new("/etc/ha.d").join(part)).arg(&etc))?;
                }
                write(&etc.join("haresources"), haresources, 0o644)?;
                for (name, text) in &config.resource_scripts {
                    write(&etc.join("resource.d").join(name), text, 0o755)?;
                }
            }
        }
        let script = format!(
            "set -e\nhostname {node}\nmount --bind {etc} /etc/ha.d\nmount --bind {varlib} /var/lib/heartbeat\n\
mount -t tmpfs -o mode=0755 hbt-lha /run\nmkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/dopd /run/crm\n\
chown -R hacluster:haclient /run/heartbeat /run/crm\nexec {DAEMON} -f\n",
            node = config.node,
            etc = etc.display(),
            varlib = varlib.display(),
        );
        let mut command = ns.command("unshare");
        command.args(["--uts", "--mount", "--propagation", "private", "/bin/bash", "-c", &script]);
        // `ip netns exec` and `unshare` (without --fork) exec; bash execs the daemon: the
        // child's pid is the master control process's.
        let daemon = spawn_logged(command, &dir.path().join("stdout.log"))?;
        let pid = daemon.0.id();
        let mut hb = Heartbeat { daemon: Some(daemon), pid, dir };
        crate::netns::wait_for("heartbeat to start its media", Duration::from_secs(10), || {
            if let Some(daemon) = hb.daemon.as_mut()
                && let Ok(Some(status)) = daemon.0.try_wait()
            {
                return Err(hb.failure(format!("exited ({status})")));
            }
            let log = hb.log();
            Ok(if log.contains("started on port 694") {
                crate::netns::Check::Done(())
            } else {
                crate::netns::Check::Waiting(log)
            })
        })?;
        Ok(hb)
    }

    /// The master control process's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The daemon's log (`logfile`) and its stdout/stderr so far.
    pub fn log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("ha-log"), read("stdout.log"))
    }

    /// The directory of its files and logs.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// An [`Error::Daemon`] carrying the log.
    pub fn failure(&self, problem: impl Into<String>) -> Error {
        Error::Daemon { daemon: "heartbeat".into(), problem: problem.into(), log: self.log() }
    }

    /// `cl_status ARGS` in the daemon's namespaces: its stdout, trimmed. `cl_status` exits 1 for
    /// a dead node while printing `dead`, so only a run that printed nothing is an error.
    pub fn cl_status(&self, args: &[&str]) -> Result<String> {
        let pid = self.pid.to_string();
        let out = Command::new("nsenter")
            .args(["-t", &pid, "-m", "-u", "-n", "cl_status"])
            .args(args)
            .output()
            .map_err(io_error("cannot run nsenter cl_status"))?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if text.is_empty() {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(Error::Command {
                command: format!("cl_status {}", args.join(" ")),
                status: out.status.code(),
                output: err,
            });
        }
        Ok(text)
    }

    /// `cl_status nodestatus NODE`: `active`, `up`, `init` or `dead`.
    pub fn nodestatus(&self, node: &str) -> Result<String> {
        self.cl_status(&["nodestatus", node])
    }

    /// Kills the master control process with SIGKILL, as a crash would (its children follow).
    pub fn kill(&mut self) {
        signal(self.pid, Signal::KILL);
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.0.wait();
        }
    }

    /// Whether the master control process has exited.
    pub fn exited(&mut self) -> bool {
        match self.daemon.as_mut() {
            Some(daemon) => !matches!(daemon.0.try_wait(), Ok(None)),
            None => true,
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        // Its children (FIFO reader, media readers and writers) are in the test's namespace,
        // which kills whatever is left when it is deleted.
        self.kill();
    }
}

fn write(path: &Path, text: &str, mode: u32) -> Result<()> {
    fs::write(path, text).map_err(io_error(format!("cannot write {}", path.display())))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io_error(format!("cannot chmod {}", path.display())))
}
