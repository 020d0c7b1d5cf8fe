//! A three-server ZooKeeper 3.8 ensemble (Debian's `zookeeper` package) of three local
//! processes on loopback, for the session failover tests.
//!
//! Each member has its own directory (its `zoo.cfg`, a data dir holding its `myid`, its console
//! log) and its own client, quorum and election ports; the three `server.N` lines are the same
//! in every `zoo.cfg`. [`Ensemble::start`] returns only once all three serve with one leader
//! (asked with the `srvr` four-letter word) and fails loudly otherwise, with the members' logs.
//! Members can be killed (SIGKILL), terminated (SIGTERM) and restarted; everything still
//! running is killed and reaped when the ensemble is dropped, on a panic too.

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::netns::signal;
use crate::zookeeper::{CLASS_PATH, Error, JAR, four_letter_word, free_port};

/// How many members an [`Ensemble`] has.
pub const MEMBERS: usize = 3;

/// A member's role as `srvr` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The leader (it tracks the sessions).
    Leader,
    /// A follower.
    Follower,
}

/// One member: its ports, files and process (if running).
struct Member {
    id: usize,
    client: SocketAddr,
    cfg: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Three ZooKeeper processes forming one quorum; all killed when dropped.
pub struct Ensemble {
    members: Vec<Member>,
    _dir: tempfile::TempDir,
}

fn err(what: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error(format!("{what}: {e}"))
}

impl Ensemble {
    /// Starts three members with `tickTime = tick_ms` (and `extra` lines of zoo.cfg) and waits
    /// (at most 90 s) until all three serve, one of them as the leader.
    pub fn start(tick_ms: u32, extra: &[&str]) -> Result<Ensemble, Error> {
        if !std::path::Path::new(JAR).exists() {
            return Err(Error(format!("{JAR} is missing: apt-get install -y zookeeper")));
        }
        let dir = tempfile::tempdir().map_err(err("temp dir"))?;
        // Nine distinct ports: client, quorum and election for each member.
        let mut ports = Vec::new();
        while ports.len() < 3 * MEMBERS {
            let port = free_port().map_err(err("free port"))?;
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let servers: String = (0..MEMBERS)
            .map(|i| format!("server.{}=127.0.0.1:{}:{}\n", i + 1, ports[3 * i + 1], ports[3 * i + 2]))
            .collect();
        let mut members = Vec::new();
        for i in 0..MEMBERS {
            let id = i + 1;
            let home = dir.path().join(format!("zk{id}"));
            let data = home.join("data");
            fs::create_dir_all(&data).map_err(err("data dir"))?;
            fs::write(data.join("myid"), format!("{id}\n")).map_err(err("myid"))?;
            let mut cfg = format!(
                "tickTime={tick_ms}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
                 clientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n\
                 4lw.commands.whitelist=*\n{servers}",
                data.display(),
                ports[3 * i]
            );
            for line in extra {
                cfg.push_str(line);
                cfg.push('\n');
            }
            let cfg_path = home.join("zoo.cfg");
            fs::write(&cfg_path, cfg).map_err(err("zoo.cfg"))?;
            members.push(Member {
                id,
                client: SocketAddr::from(([127, 0, 0, 1], ports[3 * i])),
                cfg: cfg_path,
                log: home.join("zookeeper.out"),
                child: None,
            });
        }
        let mut ensemble = Ensemble { members, _dir: dir };
        for i in 0..MEMBERS {
            ensemble.spawn(i)?;
        }
        ensemble.wait_quorum(&[0, 1, 2], Duration::from_secs(90))?;
        Ok(ensemble)
    }

    fn spawn(&mut self, i: usize) -> Result<(), Error> {
        let m = &mut self.members[i];
        let log = fs::OpenOptions::new().create(true).append(true).open(&m.log).map_err(err("log"))?;
        let log2 = log.try_clone().map_err(err("log"))?;
        let child = Command::new("java")
            .arg("-cp")
            .arg(CLASS_PATH)
            .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
            .arg("-Duser.timezone=UTC")
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&m.cfg)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| Error(format!("cannot run java: {e}")))?;
        m.child = Some(child);
        Ok(())
    }

    /// The client address of member `i` (0-based), running or not.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.members[i].client
    }

    /// The client addresses of all members, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.members.iter().map(|m| m.client).collect()
    }

    /// Which member has client address `addr`.
    pub fn member_of(&self, addr: SocketAddr) -> Option<usize> {
        self.members.iter().position(|m| m.client == addr)
    }

    /// Whether member `i`'s process runs.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.members[i].child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Member `i`'s role, `None` when it does not serve (not running, or no quorum).
    pub fn mode(&self, i: usize) -> Option<Mode> {
        let answer = four_letter_word(self.members[i].client, "srvr").ok()?;
        let mode = answer.lines().find_map(|l| l.strip_prefix("Mode: "))?;
        match mode.trim() {
            "leader" => Some(Mode::Leader),
            "follower" => Some(Mode::Follower),
            _ => None,
        }
    }

    /// The running member that leads, if any.
    pub fn leader(&self) -> Option<usize> {
        (0..MEMBERS).find(|&i| self.mode(i) == Some(Mode::Leader))
    }

    /// The `cons` answer of member `i`.
    pub fn cons(&self, i: usize) -> Result<String, Error> {
        four_letter_word(self.members[i].client, "cons").map_err(|e| Error(format!("cons on member {i}: {e}")))
    }

    /// Member `i`'s console log so far.
    pub fn log(&self, i: usize) -> String {
        fs::read_to_string(&self.members[i].log).unwrap_or_default()
    }

    /// Every member's log, headed by its number (for failure messages).
    pub fn logs(&self) -> String {
        (0..MEMBERS).map(|i| format!("---- member {i} (myid {}) ----\n{}", self.members[i].id, self.log(i))).collect()
    }

    /// Waits until every member of `serving` serves and exactly one of them leads; fails with
    /// the logs (and what each answered) after `limit`, or at once if one of them exited.
    pub fn wait_quorum(&mut self, serving: &[usize], limit: Duration) -> Result<(), Error> {
        let started = Instant::now();
        loop {
            for &i in serving {
                let exited = self.members[i].child.as_mut().map(|c| c.try_wait());
                match exited {
                    None => return Err(Error(format!("member {i} is not running"))),
                    Some(Ok(Some(status))) => {
                        return Err(Error(format!("member {i} exited ({status}):\n{}", self.logs())));
                    }
                    _ => {}
                }
            }
            let modes: Vec<Option<Mode>> = serving.iter().map(|&i| self.mode(i)).collect();
            let leaders = modes.iter().filter(|m| **m == Some(Mode::Leader)).count();
            if modes.iter().all(Option::is_some) && leaders == 1 {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(Error(format!(
                    "no quorum of members {serving:?} within {limit:?} (modes {modes:?}):\n{}",
                    self.logs()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills member `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops member `i` with SIGTERM and reaps it (SIGKILL if it has not exited within 10 s).
    pub fn terminate(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            signal(child.id(), Signal::TERM);
            let end = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `i` again (after [`kill`](Self::kill) or [`terminate`](Self::terminate))
    /// with its config and data; wait for it with [`wait_quorum`](Self::wait_quorum).
    pub fn restart(&mut self, i: usize) -> Result<(), Error> {
        if self.is_running(i) {
            return Err(Error(format!("member {i} is still running")));
        }
        self.spawn(i)
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for i in 0..MEMBERS {
            self.kill(i);
        }
    }
}
