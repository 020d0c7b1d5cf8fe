//! One lab host: a namespace and the real `heartbeat run` in it, with its JSON log, control
//! socket and generation file, and the packet filter of its namespace.

use std::fs::OpenOptions;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use rustix::process::Signal;
use serde::Deserialize;

use super::host_error;
use super::log::{self, LogEvent};
use super::measure::{self, ProcSample};
use crate::netns::{self, Check, Namespace, Result, io_error, run_command, wait_for};

/// The iptables chain (inside the host's namespace) that every filter of the lab goes into.
const CHAIN: &str = "HBT-LAB";

/// What `heartbeat status --json` says about a node (the fields the lab reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    /// The node's id.
    pub node: u64,
    /// Its generation.
    pub generation: u32,
    /// Its own timeout, in milliseconds.
    pub timeout_ms: f64,
    /// Its peers.
    pub peers: Vec<PeerStatus>,
    /// Datagrams it read.
    pub datagrams_received: u64,
    /// Frames it refused (bad MAC, replays, malformed, ...).
    pub frames_rejected: u64,
}

/// One peer as a node reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct PeerStatus {
    /// The peer's id.
    pub id: u64,
    /// `waiting`, `up`, `suspect`, `down` or `left`.
    pub state: String,
    /// Milliseconds since last heard.
    pub last_heard_ms: Option<f64>,
    /// Loss measured on its heartbeats, in percent.
    pub loss_percent: f64,
    /// Smoothed round-trip time, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The timeout in force for it, after negotiation, in milliseconds.
    pub timeout_ms: f64,
    /// Its generation.
    pub generation: Option<u32>,
    /// Whether it echoes our timestamps: it hears us.
    pub hears_us: bool,
    /// `up` or `down` per link.
    pub links: Vec<String>,
}

impl Status {
    /// The entry for `peer`.
    pub fn peer(&self, peer: u64) -> Option<&PeerStatus> {
        self.peers.iter().find(|p| p.id == peer)
    }
}

/// A lab host. Its process is killed on drop (before the namespace goes).
#[derive(Debug)]
pub struct Host {
    child: Option<Child>,
    id: u64,
    ns: Namespace,
    binary: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    control: PathBuf,
    generation_file: PathBuf,
    filters: bool,
}

impl Host {
    pub(crate) fn new(id: u64, ns: Namespace, binary: &Path, dir: &Path, args: Vec<String>) -> Host {
        Host {
            child: None,
            id,
            ns,
            binary: binary.to_owned(),
            args,
            log: dir.join(format!("h{id}.log")),
            control: dir.join(format!("h{id}.sock")),
            generation_file: dir.join(format!("h{id}.generation")),
            filters: false,
        }
    }

    /// The node id (= the host number).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The host's namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// The JSON log (every start of the process appends to it).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The pid of the running `heartbeat`, if any.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process was started and not yet killed or stopped by the lab.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts `heartbeat run` (the generation file gives every start a higher generation) and
    /// waits until its control socket answers.
    pub fn start(&mut self) -> Result<()> {
        assert!(self.child.is_none(), "host {} already runs", self.id);
        let _ = std::fs::remove_file(&self.control);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io_error(format!("cannot open {}", self.log.display())))?;
        let err = file.try_clone().map_err(io_error("cannot clone a log handle"))?;
        let mut command = self.ns.command(&self.binary);
        command
            .args(&self.args)
            .arg("--control")
            .arg(&self.control)
            .arg("--generation-file")
            .arg(&self.generation_file);
        command.stdin(Stdio::null()).stdout(file).stderr(err);
        let child = command.spawn().map_err(io_error(format!("cannot start {}", self.binary.display())))?;
        self.child = Some(child);
        wait_for(&format!("host {} to answer on its control socket", self.id), Duration::from_secs(10), || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(host_error(self.id, format!("exited at start-up ({status})"), self.log_text()));
            }
            Ok(match self.status() {
                Ok(_) => Check::Done(()),
                Err(e) => Check::Waiting(e.to_string()),
            })
        })
    }

    /// SIGKILL, reaped; returns the wall-clock time of the signal (seconds since the epoch).
    pub fn kill(&mut self) -> f64 {
        let at = wall_now();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        at
    }

    /// SIGTERM (the node says goodbye), then waits for it to exit; returns the wall-clock time
    /// of the signal.
    pub fn terminate(&mut self) -> Result<f64> {
        let at = wall_now();
        if let Some(mut child) = self.child.take() {
            netns::signal(child.id(), Signal::TERM);
            let start = Instant::now();
            loop {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                if start.elapsed() > Duration::from_secs(5) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(host_error(self.id, "did not exit within 5 s of SIGTERM", self.log_text()));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(at)
    }

    /// SIGSTOP: the whole process (sender and receiver) freezes.
    pub fn stop(&self) -> f64 {
        let at = wall_now();
        if let Some(pid) = self.pid() {
            netns::signal(pid, Signal::STOP);
        }
        at
    }

    /// SIGCONT.
    pub fn cont(&self) -> f64 {
        let at = wall_now();
        if let Some(pid) = self.pid() {
            netns::signal(pid, Signal::CONT);
        }
        at
    }

    /// `heartbeat status --json` against the host's control socket.
    pub fn status(&self) -> Result<Status> {
        let out =
            run_command(Command::new(&self.binary).arg("status").arg("--control").arg(&self.control).arg("--json"))?;
        serde_json::from_str(&out)
            .map_err(|e| netns::Error::Parse { what: format!("host {} status ({e})", self.id), text: out })
    }

    /// Every event in the log so far (all starts), oldest first.
    pub fn events(&self) -> Result<Vec<LogEvent>> {
        log::read(&self.log)
    }

    /// The log as text, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// CPU time and RSS of the process, from `/proc`.
    pub fn sample(&self) -> Option<ProcSample> {
        self.pid().and_then(measure::sample)
    }

    /// Brings link `link` (`e0`/`e1`) of this host down or up.
    pub fn set_link(&self, link: usize, up: bool) -> Result<()> {
        let dev = format!("e{link}");
        if up { self.ns.set_up(&dev) } else { self.ns.set_down(&dev) }
    }

    fn iptables(&self, args: &[&str]) -> Result<String> {
        self.ns.run("iptables", args)
    }

    fn chain(&mut self) -> Result<()> {
        if !self.filters {
            self.iptables(&["-N", CHAIN])?;
            self.iptables(&["-I", "INPUT", "-j", CHAIN])?;
            self.filters = true;
        }
        Ok(())
    }

    /// Drops every incoming datagram from `sources`: this host stops hearing them (they still
    /// hear it).
    pub fn drop_from(&mut self, sources: &[IpAddr]) -> Result<()> {
        self.chain()?;
        for source in sources {
            self.iptables(&["-A", CHAIN, "-s", &source.to_string(), "-j", "DROP"])?;
        }
        Ok(())
    }

    /// Drops each incoming UDP datagram with probability `p` (`iptables -m statistic`).
    pub fn drop_random(&mut self, p: f64) -> Result<()> {
        self.chain()?;
        let p = format!("{p:.4}");
        self.iptables(&[
            "-A",
            CHAIN,
            "-p",
            "udp",
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            &p,
            "-j",
            "DROP",
        ])
        .map(drop)
    }

    /// Datagrams the lab's filters dropped so far (and zeroes the counters).
    pub fn dropped(&mut self) -> Result<u64> {
        if !self.filters {
            return Ok(0);
        }
        let out = self.iptables(&["-L", CHAIN, "-v", "-n", "-x", "-Z"])?;
        Ok(out.lines().skip(2).filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok()).sum())
    }

    /// Removes every filter the lab added.
    pub fn clear_filters(&mut self) -> Result<()> {
        if self.filters {
            self.iptables(&["-F", CHAIN])?;
        }
        Ok(())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The wall clock, in seconds since the Unix epoch (the log's timestamps are on it too).
pub fn wall_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
