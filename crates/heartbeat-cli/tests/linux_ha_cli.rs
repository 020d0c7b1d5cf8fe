//! The `heartbeat linux-ha` binary: refusals of bad files, and against Debian's Heartbeat
//! 3.0.6 — the binary runs in namespace `b` with host name `hbnode2` (its node name by
//! default), the daemon as `hbnode1` in `a`. Both report each other, `heartbeat status` shows
//! the daemon up, SIGTERM reaches the daemon as a shutdown notice.
//!
//! The daemon test needs root, iproute2 and `heartbeat`; without them it fails saying what is
//! missing.

mod common;

use std::time::{Duration, Instant};

use heartbeat_tests::linuxha::{HaConfig, Heartbeat};
use heartbeat_tests::netns::{Check, Error, Pair, wait_for};
use rustix::process::Signal;

use self::common::{Daemon, assert_refused, run, secret_file, text};

const KEYS: &str = "auth 1\n1 sha1 lha-test-secret";

/// `ha.cf` and `authkeys` (mode `mode`) in `dir`; returns their paths.
fn files(dir: &std::path::Path, cf: &str, mode: u32) -> (String, String) {
    let ha_cf = dir.join("ha.cf");
    std::fs::write(&ha_cf, cf).unwrap();
    (ha_cf.to_str().unwrap().to_owned(), secret_file(dir, "authkeys", KEYS, mode))
}

const CF: &str = "keepalive 250ms\ndeadtime 1500ms\ninitdead 3\nucast lo 127.0.0.1\nnode hbnode1 hbnode2\n";

#[test]
fn an_authkeys_others_may_read_is_refused_as_heartbeat_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cf, keys) = files(dir.path(), CF, 0o644);
    let out = run(&["linux-ha", "--ha-cf", &cf, "--authkeys", &keys, "--node-name", "hbnode2"]);
    assert_refused(&out, "authkeys");
}

#[test]
fn a_node_name_outside_the_node_lines_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (cf, keys) = files(dir.path(), CF, 0o600);
    let out = run(&["linux-ha", "--ha-cf", &cf, "--authkeys", &keys, "--node-name", "stranger"]);
    assert_refused(&out, "`stranger` is not a `node`");
}

#[test]
fn the_binary_and_heartbeat_report_each_other_and_sigterm_is_a_shutdown_notice() -> Result<(), Error> {
    let net = Pair::new()?;
    let theirs = HaConfig::new("hbnode1", "hbnode2", Pair::A_DEV, Pair::B_V4.into());
    let hb = Heartbeat::start(&net.a, &theirs)?;
    let dir = tempfile::tempdir().unwrap();
    let mut mine = theirs.clone();
    mine.interface = Pair::B_DEV.into();
    mine.peer_addr = Pair::A_V4.into();
    let (cf, keys) = files(dir.path(), &mine.ha_cf(dir.path()), 0o600);
    let control = dir.path().join("lha.sock");
    let control = control.to_str().unwrap();
    // Our node name from the host name, as Heartbeat takes its own.
    let script = format!(
        "hostname hbnode2 && exec {} linux-ha --ha-cf {cf} --authkeys {keys} --control {control} --json",
        env!("CARGO_BIN_EXE_heartbeat")
    );
    let mut command = net.b.command("unshare");
    command.args(["--uts", "/bin/sh", "-c", &script]);
    let mut ours = Daemon::spawn(command);
    let up = ours.expect_within(Duration::from_secs(10), |v| v["kind"] == "up");
    assert_eq!(up["node"], "hbnode1", "{up}");
    assert_eq!(up["message"], "node hbnode1 up", "{up}");
    wait_for("cl_status nodestatus hbnode2 = active", Duration::from_secs(10), || {
        Ok(match hb.nodestatus("hbnode2") {
            Ok(s) if s == "active" => Check::Done(()),
            Ok(s) => Check::Waiting(s),
            Err(e) => Check::Waiting(e.to_string()),
        })
    })
    .map_err(|e| hb.failure(e.to_string()))?;

    let out = run(&["status", "--control", control]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("linux-ha node hbnode2"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("hbnode1") && l.contains(" up ")), "{table}");
    let out = run(&["status", "--control", control, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // Its dt: deadtime + 2 s (3.5 s) for its first 5 s, clamped to our initdead (3 s); then 1.5 s.
    let dt = report["nodes"][0]["deadtime_ms"].as_f64();
    assert!(matches!(dt, Some(3000.0 | 1500.0)), "its dt: {report}");

    let stopped = Instant::now();
    ours.signal(Signal::TERM);
    wait_for("the shutdown notice in the daemon's log", Duration::from_millis(700), || {
        Ok(if hb.log().contains("Received shutdown notice from 'hbnode2'") {
            Check::Done(())
        } else {
            Check::Waiting(String::new())
        })
    })
    .map_err(|e| hb.failure(e.to_string()))?;
    assert!(stopped.elapsed() < Duration::from_millis(1500), "before its deadtime");
    assert!(ours.wait_exit(Duration::from_secs(5)).success());
    assert!(!std::path::Path::new(control).exists(), "the control socket outlived the node");
    Ok(())
}
