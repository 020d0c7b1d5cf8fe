//! A real ZooKeeper 3.8 server (Debian's `zookeeper` package) on a loopback port in a temporary
//! directory, for the session interop tests; and the four-letter words to ask it (or our
//! server) about its sessions.
//!
//! Started with the java command line of `shared/reference/zookeeper.md`: the Debian jar has no
//! slf4j binding on its class path, hence the two extra jars. Stopped (killed and reaped) when
//! dropped.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The class path of the Debian package.
pub const CLASS_PATH: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:\
    /usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar";

/// The server's jar, present once `zookeeper` is installed.
pub const JAR: &str = "/usr/share/java/zookeeper.jar";

/// Why the server could not be used.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A running ZooKeeper server; killed when dropped.
pub struct ZooKeeper {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

/// A free loopback port (bound and released: a race with other processes is possible).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Sends a four-letter word to `addr` and returns the text answered (bounded to 2 s).
pub fn four_letter_word(addr: SocketAddr, word: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(word.as_bytes())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    Ok(answer)
}

impl ZooKeeper {
    /// Starts a standalone server with `tickTime = tick_ms` (and `extra` lines of zoo.cfg) on
    /// a free loopback port; waits (at most 60 s) until it answers `ruok` with `imok` and
    /// serves requests (`ruok` is answered before the server runs; `mntr` then says it is not
    /// serving).
    pub fn start(tick_ms: u32, extra: &[&str]) -> Result<ZooKeeper, Error> {
        if !Path::new(JAR).exists() {
            return Err(Error(format!("{JAR} is missing: apt-get install -y zookeeper")));
        }
        let dir = tempfile::tempdir().map_err(|e| Error(format!("temp dir: {e}")))?;
        let port = free_port().map_err(|e| Error(format!("free port: {e}")))?;
        let data = dir.path().join("data");
        fs::create_dir(&data).map_err(|e| Error(format!("data dir: {e}")))?;
        let mut cfg = format!(
            "tickTime={tick_ms}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\n",
            data.display()
        );
        for line in extra {
            cfg.push_str(line);
            cfg.push('\n');
        }
        let cfg_path = dir.path().join("zoo.cfg");
        fs::write(&cfg_path, cfg).map_err(|e| Error(format!("zoo.cfg: {e}")))?;
        let log = fs::File::create(dir.path().join("zookeeper.out")).map_err(|e| Error(format!("log: {e}")))?;
        let log2 = log.try_clone().map_err(|e| Error(format!("log: {e}")))?;
        let child = Command::new("java")
            .arg("-cp")
            .arg(CLASS_PATH)
            .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
            // The log's `%d{ISO8601}` dates in UTC, read by `log_time`.
            .arg("-Duser.timezone=UTC")
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| Error(format!("cannot run java: {e}")))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut zk = ZooKeeper { child, dir, addr };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = zk.child.try_wait() {
                return Err(Error(format!("ZooKeeper exited ({status}):\n{}", zk.log())));
            }
            if four_letter_word(addr, "ruok").is_ok_and(|a| a == "imok")
                && four_letter_word(addr, "mntr").is_ok_and(|a| a.contains("zk_server_state"))
            {
                return Ok(zk);
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(Error(format!("ZooKeeper never answered ruok in 60 s:\n{}", zk.log())));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its client address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id (to stop and continue it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its console log is written.
    pub fn log_path(&self) -> std::path::PathBuf {
        self.dir.path().join("zookeeper.out")
    }

    /// Its console log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("zookeeper.out")).unwrap_or_default()
    }

    /// The `cons` answer: one line per connection, with `sid=0x…` for bound ones.
    pub fn cons(&self) -> Result<String, Error> {
        four_letter_word(self.addr, "cons").map_err(|e| Error(format!("cons: {e}")))
    }
}

/// The wall-clock time (since the Unix epoch) at the start of a log line, which log4j's
/// `%d{ISO8601}` writes as `2026-12-03 11:06:20,123` (UTC: the JVMs started here run with
/// `-Duser.timezone=UTC`); `None` for a line that does not start with one. Millisecond
/// resolution, truncated.
pub fn log_time(line: &str) -> Option<Duration> {
    let b = line.as_bytes();
    if b.len() < 23 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' || b[19] != b','
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| line.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    // Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = ((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms;
    u64::try_from(ms).ok().map(Duration::from_millis)
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_are_read_as_utc_milliseconds() {
        assert_eq!(log_time("1970-01-01 00:00:01,005 - INFO  [x] - y"), Some(Duration::from_millis(1005)));
        // `date -u -d '2026-12-03 11:12:14' +%s` = 1796296334.
        assert_eq!(log_time("2026-12-03 11:12:14,250 - INFO"), Some(Duration::from_millis(1_796_296_334_250)));
        assert_eq!(log_time("2024-02-29 23:59:59,999"), Some(Duration::from_millis(1_709_251_199_999)));
        assert_eq!(log_time("not a date at all, not at all"), None);
        assert_eq!(log_time("2026-12-03"), None);
    }
}
