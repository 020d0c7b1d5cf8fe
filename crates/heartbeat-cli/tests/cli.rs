//! The `heartbeat` binary end to end: the demo, refusals of bad input, and two real nodes
//! queried with `status` and stopped with signals.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use self::common::{Daemon, PATIENCE, assert_refused, free_port, heartbeat, kind, run, text};

#[test]
fn the_demo_sees_every_expected_event_and_exits_zero() {
    let started = Instant::now();
    let out = run(&["demo"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(30));
    for needle in
        ["UP (generation 1)", "SUSPECT", "DOWN: silent for", "RESTARTED (generation 1 -> 2)", "LEFT (goodbye)"]
    {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    assert!(stdout.contains("all 8 checks passed"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn help_explains_every_subcommand() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in ["demo", "run", "status"] {
        assert!(help.contains(word), "{help}");
    }
    let help = text(&run(&["run", "--help"]).stdout);
    for flag in [
        "--config",
        "--id",
        "--listen",
        "--peer",
        "--interval",
        "--timeout",
        "--tick",
        "--json",
        "--control",
        "--key-file",
        "--insecure",
    ] {
        assert!(help.contains(flag), "{help}");
    }
}

#[test]
fn a_bad_flag_is_refused_in_one_line_naming_it() {
    let out = run(&["run", "--id", "1", "--listen", "127.0.0.1:0", "--interval", "10xs"]);
    assert_refused(&out, "--interval");
    let out = run(&["run", "--id", "1", "--listen", "127.0.0.1:0", "--peer", "two@127.0.0.1:9"]);
    assert_refused(&out, "--peer");
}

#[test]
fn a_bad_setting_names_its_field_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("node.sock");
    let control_arg = control.to_str().unwrap();
    let args = ["run", "--id", "1", "--listen", "127.0.0.1:0", "--interval", "1s", "--timeout", "1s", "--insecure"];
    let out = run(&[&args[..], &["--control", control_arg]].concat());
    assert_refused(&out, "`interval`: must be at most half the timeout");
    assert!(!control.exists(), "the control socket was created");

    // Authentication is an explicit choice: keys, or --insecure.
    let out = run(&["run", "--id", "1", "--listen", "127.0.0.1:0", "--control", control_arg]);
    assert_refused(&out, "`key_file`: is required");
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "1 00112233\n").unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = run(&["run", "--id", "1", "--listen", "127.0.0.1:0", "--key-file", keys.to_str().unwrap()]);
    assert_refused(&out, "line 1");
    assert!(!control.exists(), "the control socket was created");

    let file = dir.path().join("node.toml");
    std::fs::write(&file, "id = \"one\"\nlisten = [\"127.0.0.1:0\"]\n").unwrap();
    let out = run(&["run", "--config", file.to_str().unwrap()]);
    assert_refused(&out, "line 1: invalid `id`");

    std::fs::write(&file, "id = 1\nlisten = [\"127.0.0.1:0\"]\nheartbeat = \"1s\"\n").unwrap();
    let out = run(&["run", "--config", file.to_str().unwrap()]);
    assert_refused(&out, "unknown field `heartbeat`");
}

/// A `heartbeat run` node logging JSON.
fn node(args: &[String]) -> Daemon {
    let mut command = heartbeat();
    command.arg("run").args(args);
    Daemon::spawn(command)
}

fn status(control: &Path, json: bool) -> Output {
    let mut args = vec!["status", "--control", control.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    run(&args)
}

#[test]
fn two_nodes_report_status_and_stop_with_a_goodbye_on_signals() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let control1 = dir.path().join("n1.sock");
    // Both nodes sign and check every frame with the same key.
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "# test key\n7 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n").unwrap();
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let args = |me: u16, port: u16, peer: u16, control: &Path| -> Vec<String> {
        [
            "--id",
            &me.to_string(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--peer",
            &format!("{peer}@127.0.0.1:{}", if me == 1 { p2 } else { p1 }),
            "--interval",
            "50ms",
            "--timeout",
            "300ms",
            "--tick",
            "50ms",
            "--control",
            control.to_str().unwrap(),
            "--key-file",
            keys.to_str().unwrap(),
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let mut n1 = node(&args(1, p1, 2, &control1));
    let mut n2 = node(&args(2, p2, 1, &dir.path().join("n2.sock")));
    let up = n1.wait_for(|v| v["kind"] == "up");
    assert_eq!(up["peer"], 2);
    assert!(up["timestamp"].is_string(), "{up}");
    n2.wait_for(|v| v["kind"] == "up");

    // The status, as JSON and as a table, once node 2's round-trip time is known.
    let end = Instant::now() + PATIENCE;
    let report = loop {
        let out = status(&control1, true);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if !report["peers"][0]["rtt_ms"].is_null() || Instant::now() > end {
            break report;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let peer = &report["peers"][0];
    assert_eq!((report["node"].as_u64(), peer["id"].as_u64()), (Some(1), Some(2)), "{report}");
    assert_eq!(peer["state"], "up", "{report}");
    assert_eq!(peer["links"], serde_json::json!(["up"]), "{report}");
    assert_eq!(peer["timeout_ms"].as_f64(), Some(300.0), "{report}");
    assert!(peer["rtt_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{report}");
    assert!(peer["last_heard_ms"].as_f64().is_some() && peer["loss_percent"].as_f64().is_some(), "{report}");
    let table = text(&status(&control1, false).stdout);
    assert!(table.contains("PEER") && table.contains("LAST HEARD") && table.contains("0:up"), "{table}");
    let row = table.lines().find(|l| l.starts_with("2 ")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("up") && row.contains("300ms"), "{row}");
    // `bfd-status` asked of a node's socket prints the same peer table.
    let out = run(&["bfd-status", "--control", control1.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("node 1 ") && table.lines().any(|l| l.starts_with("2 ")), "{table}");

    // SIGTERM: node 2 says goodbye and exits 0; node 1 logs `left`, never `down`.
    n2.signal(Signal::TERM);
    let (code, _) = n2.exit();
    assert!(code.success(), "{code:?}");
    n1.wait_for(|v| v["kind"] == "left" && v["peer"] == 2);
    std::thread::sleep(Duration::from_millis(600)); // twice the timeout: room for a wrong `down`
    n1.signal(Signal::INT);
    let (code, log) = n1.exit();
    assert!(code.success(), "{code:?}");
    assert!(!log.iter().any(|v| kind(v, "down")), "{log:#?}");
    assert!(!control1.exists(), "the control socket outlived its node");
    assert!(!status(&control1, true).status.success());
}
