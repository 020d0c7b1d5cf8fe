//! `heartbeat bfd` end to end on loopback: two real processes, each receiving on its own port
//! and sending to the other's, come up, show their sessions with `bfd-status`, and go down the
//! way they should: AdminDown on SIGTERM, detection time expired on SIGKILL. Plus refusals.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

const PATIENCE: Duration = Duration::from_secs(15);

fn heartbeat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_heartbeat"))
}

fn run(args: &[&str]) -> Output {
    heartbeat().args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

/// Asserts a refusal: exit 2, one line on stderr containing `needle`, nothing on stdout.
fn assert_refused(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert_eq!(text(&out.stdout), "", "something started");
}

fn secret(dir: &Path, name: &str, secret: &str, mode: u32) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A `heartbeat bfd --json` child whose stdout lines are collected as they come.
struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<serde_json::Value>,
}

impl Daemon {
    fn start(args: &[String]) -> Daemon {
        let mut child = heartbeat()
            .arg("bfd")
            .args(args)
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
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

    /// Collects lines until one satisfies `want` within `patience`; returns it.
    fn wait_for_within(
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

    fn wait_for(&mut self, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        self.wait_for_within(PATIENCE, want).unwrap_or_else(|| panic!("not seen in {:#?}", self.log))
    }

    fn signal(&self, signal: Signal) {
        kill_process(Pid::from_child(&self.child), signal).unwrap();
    }

    /// Waits (bounded) for the exit; returns the status and every line logged.
    fn exit(mut self) -> (std::process::ExitStatus, Vec<serde_json::Value>) {
        let end = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < end, "no exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest: Vec<String> = self.lines.try_iter().collect();
        for line in rest {
            self.take(&line);
        }
        (status, self.log.clone())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kind(v: &serde_json::Value, kind: &str) -> bool {
    v["kind"] == kind
}

/// Two daemons: 127.0.0.1 and 127.0.0.2, each listening where the other sends.
fn pair(extra: &[&str], control: Option<&Path>) -> (Daemon, Daemon) {
    let (p1, p2) = (free_port(), free_port());
    let args = |me: &str, peer: &str, mine: u16, theirs: u16| -> Vec<String> {
        let mut args: Vec<String> = [
            "--peer",
            peer,
            "--local",
            me,
            "--listen-port",
            &mine.to_string(),
            "--peer-port",
            &theirs.to_string(),
            "--interval",
            "50ms",
            "--multiplier",
            "3",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let mut one = args("127.0.0.1", "127.0.0.2", p1, p2);
    if let Some(control) = control {
        one.extend(["--control".to_string(), control.to_str().unwrap().to_string()]);
    }
    (Daemon::start(&one), Daemon::start(&args("127.0.0.2", "127.0.0.1", p2, p1)))
}

#[test]
fn help_names_every_flag() {
    let help = text(&run(&["bfd", "--help"]).stdout);
    for flag in [
        "--peer",
        "--interface",
        "--local",
        "--multihop",
        "--min-ttl",
        "--interval",
        "--rx-interval",
        "--multiplier",
        "--passive",
        "--auth",
        "--key-id",
        "--key-file",
        "--control",
        "--json",
        "--config",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    assert!(text(&run(&["--help"]).stdout).contains("bfd-status"));
}

#[test]
fn bad_settings_are_refused_in_one_line_and_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_refused(&run(&["bfd"]), "`peer`: is required");
    let out = run(&["bfd", "--peer", "not-an-address"]);
    assert!(!out.status.success() && text(&out.stderr).contains("--peer"), "{}", text(&out.stderr));
    assert_refused(&run(&["bfd", "--peer", "198.18.0.2", "--multiplier", "0"]), "`multiplier`");
    assert_refused(&run(&["bfd", "--peer", "198.18.0.2", "--auth", "keyed-sha1"]), "`key_file`: is required");
    let open = secret(dir.path(), "open.key", "hunter2", 0o644);
    let out = run(&["bfd", "--peer", "198.18.0.2", "--auth", "keyed-sha1", "--key-file", &open]);
    assert_refused(&out, "chmod 600");
    assert!(!text(&out.stderr).contains("hunter2"));
    let out = run(&["bfd", "--peer", "198.18.0.2%no-such-if0"]);
    assert_refused(&out, "no-such-if0");
    let file = dir.path().join("bfd.toml");
    std::fs::write(&file, "[[peer]]\naddr = \"198.18.0.2\"\nmultiplyer = 3\n").unwrap();
    assert_refused(&run(&["bfd", "--config", file.to_str().unwrap()]), "unknown field `multiplyer`");
}

#[test]
fn two_daemons_come_up_report_their_sessions_and_see_a_sigterm_as_admin_down() {
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("bfd1.sock");
    let (mut one, mut two) = pair(&[], Some(&control));
    let up = one.wait_for(|v| kind(v, "up"));
    assert_eq!(up["peer"], "127.0.0.2", "{up}");
    assert!(up["message"].as_str().unwrap().contains("bfd peer 127.0.0.2 up"), "{up}");
    two.wait_for(|v| kind(v, "up"));

    // The session table, once the fast rate is negotiated.
    let end = Instant::now() + PATIENCE;
    let report = loop {
        let out = run(&["bfd-status", "--control", control.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if report["sessions"][0]["detection_time_ms"] == 150.0 || Instant::now() > end {
            break report;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let s = &report["sessions"][0];
    assert_eq!(
        (s["peer"].as_str(), s["state"].as_str(), s["remote_state"].as_str()),
        (Some("127.0.0.2"), Some("up"), Some("up")),
        "{report}"
    );
    assert_eq!((s["tx_interval_ms"].as_f64(), s["detection_time_ms"].as_f64()), (Some(50.0), Some(150.0)), "{report}");
    assert_eq!(s["local_diag"], "no-diagnostic", "{report}");
    assert!(s["local_discriminator"].as_u64().is_some_and(|d| d > 0), "{report}");
    assert!(s["remote_discriminator"].as_u64().is_some_and(|d| d > 0), "{report}");
    let table = text(&run(&["bfd-status", "--control", control.to_str().unwrap()]).stdout);
    let row = table.lines().find(|l| l.starts_with("127.0.0.2")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("up") && row.contains("50ms") && row.contains("150ms"), "{table}");
    assert!(table.contains("REMOTE DISC") && table.contains("DETECT"), "{table}");

    // SIGTERM: two goes AdminDown; one sees it as such (diag 3), never as a detection timeout.
    two.signal(Signal::TERM);
    one.wait_for(|v| kind(v, "peer-admin-down"));
    let down = one.wait_for(|v| kind(v, "down"));
    assert_eq!(down["diag"], "neighbor-signaled-session-down", "{down}");
    let (code, log) = two.exit();
    assert!(code.success(), "{code:?}");
    assert!(log.iter().any(|v| kind(v, "admin-down") && v["diag"] == "administratively-down"), "{log:#?}");
    std::thread::sleep(Duration::from_millis(500));
    one.signal(Signal::INT);
    let (code, log) = one.exit();
    assert!(code.success(), "{code:?}");
    assert!(!log.iter().any(|v| v["diag"] == "control-detection-time-expired"), "{log:#?}");
    assert!(!control.exists(), "the control socket outlived its daemon");
}

#[test]
fn a_killed_daemon_is_detected_with_diag_control_detection_time_expired() {
    let (mut one, mut two) = pair(&[], None);
    one.wait_for(|v| kind(v, "up"));
    two.wait_for(|v| kind(v, "timing") && v["detection_time_ms"] == 150.0);
    one.wait_for(|v| kind(v, "timing") && v["detection_time_ms"] == 150.0);
    two.signal(Signal::KILL);
    let down = one.wait_for(|v| kind(v, "down"));
    assert_eq!(down["diag"], "control-detection-time-expired", "{down}");
    assert!(down["message"].as_str().unwrap().contains("down diag=control-detection-time-expired"), "{down}");
}

#[test]
fn keyed_sha1_comes_up_with_the_same_key_and_stays_down_with_another() {
    let dir = tempfile::tempdir().unwrap();
    let key = secret(dir.path(), "a.key", "shared-secret", 0o600);
    let (mut one, mut two) = pair(&["--auth", "keyed-sha1", "--key-id", "3", "--key-file", &key], None);
    one.wait_for(|v| kind(v, "up"));
    two.wait_for(|v| kind(v, "up"));
    drop((one, two));

    let other = secret(dir.path(), "b.key", "other-secret", 0o600);
    let (p1, p2) = (free_port(), free_port());
    let side = |me: &str, peer: &str, mine: u16, theirs: u16, key: &str| -> Vec<String> {
        [
            "--peer",
            peer,
            "--local",
            me,
            "--listen-port",
            &mine.to_string(),
            "--peer-port",
            &theirs.to_string(),
            "--interval",
            "50ms",
            "--auth",
            "keyed-sha1",
            "--key-id",
            "3",
            "--key-file",
            key,
        ]
        .map(String::from)
        .to_vec()
    };
    let control = dir.path().join("one.sock");
    let mut args = side("127.0.0.1", "127.0.0.2", p1, p2, &key);
    args.extend(["--control".to_string(), control.to_str().unwrap().to_string()]);
    let mut one = Daemon::start(&args);
    let _two = Daemon::start(&side("127.0.0.2", "127.0.0.1", p2, p1, &other));
    // Both send once a second while down; three seconds is several packets each way.
    let state = one.wait_for_within(Duration::from_secs(3), |v| kind(v, "up") || kind(v, "init"));
    assert!(state.is_none(), "a wrong key moved the session: {state:?}");
    // The packets did arrive, and were refused.
    let out = run(&["bfd-status", "--control", control.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &report["sessions"][0];
    assert_eq!((s["state"].as_str(), s["remote_discriminator"].as_u64()), (Some("down"), Some(0)), "{report}");
    assert!(s["packets_rejected"].as_u64().is_some_and(|n| n >= 2), "{report}");
    assert_eq!(s["packets_received"], 0, "{report}");
}
