//! `heartbeat bfd` end to end on loopback: two real processes, each receiving on its own port
//! and sending to the other's, come up, show their sessions with `bfd-status`, and go down the
//! way they should: AdminDown on SIGTERM, detection time expired on SIGKILL. Plus refusals.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use self::common::{Daemon, PATIENCE, assert_refused, free_port, heartbeat, kind, run, secret_file, text};

/// A `heartbeat bfd --json` daemon.
fn daemon(args: &[String]) -> Daemon {
    let mut command = heartbeat();
    command.arg("bfd").args(args).arg("--json");
    Daemon::spawn(command)
}

/// One side of a loopback pair: `me` receiving on `mine`, sending to `peer` on `theirs`, at
/// 50 ms, then `extra`.
fn side(me: &str, peer: &str, mine: u16, theirs: u16, extra: &[&str]) -> Vec<String> {
    let args = ["--peer", peer, "--local", me, "--listen-port", &mine.to_string(), "--peer-port", &theirs.to_string()];
    let mut args: Vec<String> = args.iter().chain(&["--interval", "50ms"]).map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Two daemons: 127.0.0.1 and 127.0.0.2, each listening where the other sends.
fn pair(extra: &[&str], control: Option<&Path>) -> (Daemon, Daemon) {
    let (p1, p2) = (free_port(), free_port());
    let extra = [&["--multiplier", "3"], extra].concat();
    let mut one = side("127.0.0.1", "127.0.0.2", p1, p2, &extra);
    if let Some(control) = control {
        one.extend(["--control".to_string(), control.to_str().unwrap().to_string()]);
    }
    (daemon(&one), daemon(&side("127.0.0.2", "127.0.0.1", p2, p1, &extra)))
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
    let open = secret_file(dir.path(), "open.key", "hunter2", 0o644);
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
    let key = secret_file(dir.path(), "a.key", "shared-secret", 0o600);
    let (mut one, mut two) = pair(&["--auth", "keyed-sha1", "--key-id", "3", "--key-file", &key], None);
    one.wait_for(|v| kind(v, "up"));
    two.wait_for(|v| kind(v, "up"));
    drop((one, two));

    let other = secret_file(dir.path(), "b.key", "other-secret", 0o600);
    let (p1, p2) = (free_port(), free_port());
    let auth = |key| ["--auth", "keyed-sha1", "--key-id", "3", "--key-file", key];
    let control = dir.path().join("one.sock");
    let mut one = daemon(&side(
        "127.0.0.1",
        "127.0.0.2",
        p1,
        p2,
        &[&auth(&key)[..], &["--control", control.to_str().unwrap()]].concat(),
    ));
    let _two = daemon(&side("127.0.0.2", "127.0.0.1", p2, p1, &auth(&other)));
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

#[test]
fn heartbeat_status_asked_of_a_bfd_socket_prints_its_session_table() {
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("bfd.sock");
    let control_arg = control.to_str().unwrap();
    // Nobody answers on 127.0.0.2: the session stays down, which is all this test needs.
    let mut one = daemon(&side("127.0.0.1", "127.0.0.2", free_port(), free_port(), &["--control", control_arg]));
    one.wait_for(|v| v["message"] == "bfd started");
    let out = run(&["status", "--control", control_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("PEER ") && table.contains("REMOTE DISC"), "{table}");
    let row = table.lines().find(|l| l.starts_with("127.0.0.2")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("down"), "{table}");
    let out = run(&["status", "--control", control_arg, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["sessions"][0]["peer"], "127.0.0.2", "{report}");
    assert!(report.get("node").is_none(), "{report}");
    drop(one);
    let out = run(&["status", "--control", control_arg]);
    assert!(text(&out.stderr).contains("no node answers on"), "{}", text(&out.stderr));
}
