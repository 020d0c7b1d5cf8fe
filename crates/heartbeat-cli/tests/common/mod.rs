//! Helpers every test of the `heartbeat` binary shares: running it, reading its JSON log as it
//! comes, refusals, ports and secret files. Each test binary uses a part of them.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// How long a test waits for a log line or an exit before it fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(15);

/// The binary under test.
pub(crate) fn heartbeat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_heartbeat"))
}

/// Runs it to completion with `args`.
pub(crate) fn run(args: &[&str]) -> Output {
    heartbeat().args(args).output().unwrap()
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port free for UDP and TCP on this host a moment ago, and never handed out before in
/// this test process. Asking the kernel (bind to port 0) could give two tests running at once
/// the same port once the first had let it go, so ports come from a counter instead: below
/// the kernel's ephemeral range (32768 up), from a start that differs from process to process.
pub(crate) fn free_port() -> u16 {
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if UdpSocket::bind(("0.0.0.0", port)).is_ok() && TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN)
}

/// Asserts a refusal: exit 2, exactly one line on stderr containing `needle`, nothing on stdout
/// (nothing started, so nothing was logged).
pub(crate) fn assert_refused(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert_eq!(text(&out.stdout), "", "something started");
}

/// Writes `content` and a newline to `dir/name` with `mode`; returns the path.
pub(crate) fn secret_file(dir: &Path, name: &str, content: &str, mode: u32) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{content}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A long-running child logging JSON (`--json`), its stdout lines collected as they come.
/// Killed when dropped, so a failing test leaves no process behind.
pub(crate) struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<serde_json::Value>,
}

impl Daemon {
    /// Spawns `command` (which should log JSON) with its stdout piped to the collector.
    pub(crate) fn spawn(mut command: Command) -> Daemon {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Daemon { child, lines, log: Vec::new() }
    }

    fn take(&mut self, line: &str) -> serde_json::Value {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        self.log.push(value.clone());
        value
    }

    /// Collects lines until one satisfies `want` within `patience`; returns it, or `None`.
    pub(crate) fn wait_for_within(
        &mut self,
        patience: Duration,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let end = Instant::now() + patience;
        loop {
            let left = end.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            let value = self.take(&line);
            if want(&value) {
                return Some(value);
            }
        }
    }

    /// Waits [`PATIENCE`] for a line satisfying `want`, failing the test with the log if none.
    pub(crate) fn wait_for(&mut self, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        self.expect_within(PATIENCE, want)
    }

    /// Waits `patience` for a line satisfying `want`, failing the test with the log if none.
    pub(crate) fn expect_within(
        &mut self,
        patience: Duration,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        self.wait_for_within(patience, want).unwrap_or_else(|| panic!("not seen in {:#?}", self.log))
    }

    /// Sends `signal` to the child.
    pub(crate) fn signal(&self, signal: Signal) {
        kill_process(Pid::from_child(&self.child), signal).unwrap();
    }

    /// Waits at most `patience` for the exit; fails the test with the log if there is none.
    pub(crate) fn wait_exit(&mut self, patience: Duration) -> ExitStatus {
        let end = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < end, "no exit: {:#?}", self.log);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) for the exit; returns the status and every line logged.
    pub(crate) fn exit(mut self) -> (ExitStatus, Vec<serde_json::Value>) {
        let status = self.wait_exit(PATIENCE);
        // The collector ends at end of file: until then, lines may still be on their way.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.take(&line);
        }
        (status, std::mem::take(&mut self.log))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a log line is of `kind`.
pub(crate) fn kind(v: &serde_json::Value, kind: &str) -> bool {
    v["kind"] == kind
}

/// `promtool check metrics` (Debian package `prometheus`) on `text`: whether it passed, and
/// what it said.
pub(crate) fn promtool(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package `prometheus`) must be installed");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
