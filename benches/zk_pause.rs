//! A server pause of 2 × the session timeout with 10,000 live sessions: how many sessions our
//! `heartbeat zk-server` and the real ZooKeeper 3.8 expire because of their own pause.
//!
//! Run (with `zookeeper` installed; build the binary first):
//!
//! ```text
//! cargo build --release -p heartbeat-cli --bin heartbeat
//! nice -n 10 cargo bench -p heartbeat-tests --bench zk_pause
//! HEARTBEAT_ZK_QUICK=1 nice -n 10 cargo bench -p heartbeat-tests --bench zk_pause
//! ```
//!
//! `HEARTBEAT_ZK_SESSIONS` sessions (default 10,000; 1,000 with `HEARTBEAT_ZK_QUICK`);
//! `HEARTBEAT_BIN` the binary (default `target/release/heartbeat`).
//!
//! The clients are the bench's own: one TCP connection per session, one thread for all of them
//! (epoll), speaking jute with `heartbeat-session`'s codec: a ConnectRequest for 4000 ms, then
//! a ping every third of the timeout, kept up on the same connection whatever happens (no
//! connection-loss rule: the pings sent during the pause wait in the server's socket buffers,
//! so the clients are provably alive all along). tickTime 500 ms everywhere.
//!
//! Each server in turn, as a separate process: sessions opened and checked alive for one
//! timeout, then the server is stopped (SIGSTOP) for 2 × the timeout and continued (SIGCONT);
//! the clients keep pinging for 2 × the timeout after that. Counted: the sessions the server
//! says it expired (ours: its `expired` log lines; ZooKeeper: its `Expiring session` lines),
//! and, from the clients, the connections the server closed and the sessions still answering
//! pings after the pause. Ours runs twice: with the pause guard (`--pause-bound 1s`) and
//! without it (ZooKeeper's behaviour), so the guard's part is visible.
//!
//! Exits non-zero if a server does not start or a session cannot be opened.

use std::collections::VecDeque;
use std::error::Error;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use heartbeat_session::jute::{
    ConnectRequest, ConnectResponse, Frame, Framer, PING_OP, PING_XID, ReplyHeader, RequestHeader, frame_into,
};
use heartbeat_tests::zookeeper::{ZooKeeper, four_letter_word, free_port};
use rustix::buffer::spare_capacity;
use rustix::event::{Timespec, epoll};
use rustix::process::{Pid, Resource, Signal, getrlimit, kill_process, setrlimit};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const TICK_MS: u32 = 500;
const TIMEOUT: Duration = Duration::from_millis(4000);
const PAUSE: Duration = Duration::from_millis(8000);
/// Handshakes in flight at once while opening the sessions (below our listener's backlog of 128,
/// so that no connect waits for a SYN retransmission).
const OPENING: usize = 100;

fn sessions() -> usize {
    let quick = std::env::var_os("HEARTBEAT_ZK_QUICK").is_some();
    std::env::var("HEARTBEAT_ZK_SESSIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(if quick {
        1000
    } else {
        10_000
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// ConnectRequest sent.
    Handshake,
    Live,
    /// Told expired (a ConnectResponse with timeout 0).
    Refused,
    /// The server closed the connection (or it failed).
    Closed(Instant),
}

struct Conn {
    stream: TcpStream,
    framer: Framer,
    state: State,
    last_reply: Option<Instant>,
}

/// The sessions, all on one epoll set.
struct Fleet {
    epoll: OwnedFd,
    conns: Vec<Conn>,
    /// Ping due times, in order (every session pings at the same period).
    pings: VecDeque<(Instant, usize)>,
    replies: u64,
    unsent: u64,
}

fn connect_request() -> Vec<u8> {
    let mut buf = [0u8; 64];
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: TIMEOUT.as_millis() as i32,
        session_id: 0,
        password: &[0; 16],
        read_only: Some(false),
    };
    let n = frame_into(&mut buf, |w| request.encode(w)).expect("a connect request fits in 64 bytes");
    buf[..n].to_vec()
}

fn ping() -> Vec<u8> {
    let mut buf = [0u8; 16];
    let n = frame_into(&mut buf, |w| RequestHeader { xid: PING_XID, op: PING_OP }.encode(w)).expect("fits");
    buf[..n].to_vec()
}

impl Fleet {
    /// Opens `n` sessions with `server`, at most [`OPENING`] handshakes at a time.
    fn open(server: SocketAddr, n: usize) -> Result<Fleet> {
        let mut fleet = Fleet {
            epoll: epoll::create(epoll::CreateFlags::CLOEXEC)?,
            conns: Vec::with_capacity(n),
            pings: VecDeque::new(),
            replies: 0,
            unsent: 0,
        };
        let request = connect_request();
        let end = Instant::now() + Duration::from_secs(60 + n as u64 / 50);
        while fleet.conns.len() < n {
            let batch = OPENING.min(n - fleet.conns.len());
            for _ in 0..batch {
                let mut stream = TcpStream::connect_timeout(&server, Duration::from_secs(10))
                    .map_err(|e| format!("connect #{}: {e}", fleet.conns.len()))?;
                stream.set_nodelay(true)?;
                stream.write_all(&request)?;
                stream.set_nonblocking(true)?;
                let token = epoll::EventData::new_u64(fleet.conns.len() as u64);
                epoll::add(&fleet.epoll, &stream, token, epoll::EventFlags::IN | epoll::EventFlags::RDHUP)?;
                fleet.conns.push(Conn {
                    stream,
                    framer: Framer::new(1 << 16, false),
                    state: State::Handshake,
                    last_reply: None,
                });
            }
            while fleet.count(|s| s == State::Handshake) > 0 {
                if Instant::now() > end {
                    return Err(format!("{} handshakes unanswered", fleet.count(|s| s == State::Handshake)).into());
                }
                fleet.pump(Instant::now() + Duration::from_millis(50));
            }
        }
        let bad = fleet.count(|s| s != State::Live);
        if bad > 0 {
            return Err(format!("{bad} of {n} sessions were not opened").into());
        }
        Ok(fleet)
    }

    fn count(&self, f: impl Fn(State) -> bool) -> usize {
        self.conns.iter().filter(|c| f(c.state)).count()
    }

    /// Sessions that were answered after `t` and are still connected.
    fn answering_since(&self, t: Instant) -> usize {
        self.conns.iter().filter(|c| c.state == State::Live && c.last_reply.is_some_and(|r| r > t)).count()
    }

    /// Sends due pings and reads answers until `until`.
    fn pump(&mut self, until: Instant) {
        let ping = ping();
        let mut events = Vec::with_capacity(1024);
        loop {
            let now = Instant::now();
            while let Some(&(due, i)) = self.pings.front() {
                if due > now {
                    break;
                }
                self.pings.pop_front();
                let c = &mut self.conns[i];
                if c.state != State::Live {
                    continue;
                }
                // 12 bytes into a socket that is drained or stopped: a short write only
                // when the server has not read for a long time.
                if !matches!(c.stream.write(&ping), Ok(12)) {
                    self.unsent += 1;
                }
                self.pings.push_back((due + TIMEOUT / 3, i));
            }
            let next = self.pings.front().map_or(until, |(due, _)| (*due).min(until));
            if now >= until {
                return;
            }
            let wait = next.saturating_duration_since(now);
            let timeout = Timespec::try_from(wait).unwrap_or(Timespec { tv_sec: 1, tv_nsec: 0 });
            events.clear();
            if epoll::wait(&self.epoll, spare_capacity(&mut events), Some(&timeout)).is_err() {
                continue;
            }
            for event in &events {
                let i = event.data.u64() as usize;
                self.read(i);
            }
        }
    }

    fn read(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        loop {
            let c = &mut self.conns[i];
            if matches!(c.state, State::Closed(_) | State::Refused) {
                return;
            }
            let n = match c.stream.read(&mut buf) {
                Ok(0) => return self.close(i),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i),
            };
            let mut input = &buf[..n];
            while !input.is_empty() {
                let c = &mut self.conns[i];
                let record = match c.framer.feed(&mut input) {
                    Ok(Some(Frame::Record(r))) => r.to_vec(),
                    Ok(_) => continue,
                    Err(_) => return self.close(i),
                };
                let now = Instant::now();
                match c.state {
                    State::Handshake => match ConnectResponse::decode(&record) {
                        Ok(r) if r.timeout_ms > 0 => {
                            c.state = State::Live;
                            self.pings.push_back((now + TIMEOUT / 3, i));
                        }
                        Ok(_) => c.state = State::Refused,
                        Err(_) => return self.close(i),
                    },
                    State::Live if ReplyHeader::decode(&record).is_ok_and(|(h, _)| h.xid == PING_XID) => {
                        c.last_reply = Some(now);
                        self.replies += 1;
                    }
                    _ => {}
                }
            }
        }
    }

    fn close(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let _ = epoll::delete(&self.epoll, &c.stream);
        c.state = State::Closed(Instant::now());
    }
}

/// A server under test: its process and how to count its expiries.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    pid: u32,
    expired: Box<dyn Fn() -> usize>,
}

fn signal(pid: u32, sig: Signal) -> Result<()> {
    let pid = Pid::from_raw(pid as i32).ok_or("bad pid")?;
    kill_process(pid, sig)?;
    Ok(())
}

/// What one server did.
struct Outcome {
    name: &'static str,
    sessions: usize,
    answered_in_pause: u64,
    expired_by_server: usize,
    closed_by_server: usize,
    answering_after: usize,
    refused: usize,
}

fn run(target: &Target, n: usize) -> Result<Outcome> {
    let opened = Instant::now();
    let mut fleet = Fleet::open(target.addr, n)?;
    println!("{}: {n} sessions opened in {:.1?}", target.name, opened.elapsed());
    let settle = Instant::now();
    fleet.pump(settle + TIMEOUT);
    let alive = fleet.answering_since(settle);
    if alive != n || (target.expired)() != 0 {
        return Err(format!("{}: only {alive} of {n} sessions answering before the pause", target.name).into());
    }
    signal(target.pid, Signal::STOP)?;
    let stopped = Instant::now();
    // Answers read in the first 100 ms may have been in flight before the stop.
    fleet.pump(stopped + Duration::from_millis(100));
    let replies = fleet.replies;
    fleet.pump(stopped + PAUSE);
    let answered_in_pause = fleet.replies - replies;
    signal(target.pid, Signal::CONT)?;
    let resumed = Instant::now();
    println!("{}: stopped for {:.1?}", target.name, resumed - stopped);
    fleet.pump(resumed + TIMEOUT * 2);
    // Expiries still being logged: wait until the count is steady for 2 s (at most 60 s).
    let mut expired = (target.expired)();
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        fleet.pump(Instant::now() + Duration::from_secs(2));
        let now = (target.expired)();
        if now == expired || Instant::now() > end {
            break;
        }
        expired = now;
    }
    Ok(Outcome {
        name: target.name,
        sessions: n,
        answered_in_pause,
        expired_by_server: (target.expired)(),
        closed_by_server: fleet.count(|s| matches!(s, State::Closed(_))),
        answering_after: fleet.answering_since(resumed + TIMEOUT),
        refused: fleet.count(|s| s == State::Refused),
    })
}

fn count_lines(path: &PathBuf, needle: &str) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().filter(|l| l.contains(needle)).count())
}

/// Our server as a process; killed when dropped.
struct Ours {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Ours {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_ours(pause_bound: Option<&str>) -> Result<(Ours, SocketAddr)> {
    let bin = std::env::var_os("HEARTBEAT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/heartbeat")));
    if !bin.exists() {
        return Err(
            format!("{} is missing: cargo build --release -p heartbeat-cli --bin heartbeat", bin.display()).into()
        );
    }
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("zk-server.log");
    let out = std::fs::File::create(&log)?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut command = Command::new(&bin);
    command
        .args(["zk-server", "--listen", &addr.to_string(), "--tick", &format!("{TICK_MS}ms"), "--json"])
        .args(["--max-connections", "30000"]);
    if let Some(bound) = pause_bound {
        command.args(["--pause-bound", bound]);
    }
    let child = command.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).spawn()?;
    let mut ours = Ours { child, log, _dir: dir };
    let end = Instant::now() + Duration::from_secs(10);
    while four_letter_word(addr, "ruok").map_or(true, |a| a != "imok") {
        if let Ok(Some(status)) = ours.child.try_wait() {
            return Err(format!("zk-server exited ({status}): {}", std::fs::read_to_string(&ours.log)?).into());
        }
        if Instant::now() > end {
            return Err("zk-server did not answer ruok within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((ours, addr))
}

fn main() -> Result<()> {
    let n = sessions();
    // One descriptor per session here, and as many in the server.
    let limit = getrlimit(Resource::Nofile);
    let want = (2 * n as u64 + 256).min(limit.maximum.unwrap_or(u64::MAX));
    setrlimit(Resource::Nofile, rustix::process::Rlimit { current: Some(want), maximum: limit.maximum })?;
    if want < n as u64 + 64 {
        return Err(format!("RLIMIT_NOFILE's hard limit {want} is too low for {n} sessions").into());
    }
    println!("zk_pause: {n} sessions per server, timeout {TIMEOUT:?}, tick {TICK_MS} ms, server stopped for {PAUSE:?}");
    let mut outcomes = Vec::new();
    for (name, bound) in [("ours, --pause-bound 1s", Some("1s")), ("ours, --pause-bound off", Some("off"))] {
        let (ours, addr) = start_ours(bound)?;
        let log = ours.log.clone();
        let target = Target {
            name,
            addr,
            pid: ours.child.id(),
            expired: Box::new(move || count_lines(&log, "\"kind\":\"expired\"")),
        };
        outcomes.push(run(&target, n)?);
    }
    let zk = ZooKeeper::start(TICK_MS, &["maxClientCnxns=0", "forceSync=no", "clientPortListenBacklog=1024"])
        .map_err(|e| format!("ZooKeeper: {e}"))?;
    let dir = zk.log_path();
    let target = Target {
        name: "ZooKeeper 3.8",
        addr: zk.addr(),
        pid: zk.pid(),
        expired: Box::new(move || count_lines(&dir, "Expiring session 0x")),
    };
    outcomes.push(run(&target, n)?);
    drop(zk);

    println!(
        "{:<24} {:>8} {:>16} {:>18} {:>17} {:>19} {:>12}",
        "server",
        "sessions",
        "answered in pause",
        "expired by server",
        "closed by server",
        "answering after",
        "told expired"
    );
    for o in &outcomes {
        println!(
            "{:<24} {:>8} {:>16} {:>18} {:>17} {:>19} {:>12}",
            o.name,
            o.sessions,
            o.answered_in_pause,
            o.expired_by_server,
            o.closed_by_server,
            o.answering_after,
            o.refused
        );
    }
    Ok(())
}
