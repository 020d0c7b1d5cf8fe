//! The `heartbeat bfd` binary against FRR's bfdd: the binary runs in namespace `a` (through
//! `ip netns exec`), bfdd in `b`. Up on both sides with matching discriminators in
//! `bfd-status`; SIGTERM reaches FRR as AdminDown; a SIGKILLed bfdd is logged as
//! `down diag=control-detection-time-expired`.
//!
//! Needs root, iproute2 and `frr`; without them the tests fail saying what is missing.

mod common;

use std::time::{Duration, Instant};

use heartbeat_tests::frr::{Frr, FrrConfig, FrrPeer, Status, diag};
use heartbeat_tests::netns::{Error, Pair};
use rustix::process::Signal;

use self::common::{Daemon, run, text};

const UP_WITHIN: Duration = Duration::from_secs(10);

/// `heartbeat bfd --json` inside namespace `a`.
fn daemon(net: &Pair, args: &[&str]) -> Daemon {
    let mut command = net.a.command(env!("CARGO_BIN_EXE_heartbeat"));
    command.arg("bfd").args(args).arg("--json");
    Daemon::spawn(command)
}

fn peer_arg() -> String {
    format!("{}%{}", Pair::B_V4, Pair::A_DEV)
}

#[test]
fn the_binary_comes_up_with_frr_shows_it_and_stops_through_admin_down() -> Result<(), Error> {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let control = dir.path().join("bfd.sock");
    let frr = Frr::start(&net.b, FrrConfig { peers: vec![FrrPeer::single_hop(Pair::A_V4.into(), Pair::B_DEV)] })?;
    let control_arg = control.to_str().expect("utf-8 path");
    let mut ours = daemon(&net, &["--peer", &peer_arg(), "--control", control_arg]);
    let up = ours.expect_within(UP_WITHIN, |v| v["kind"] == "up");
    assert_eq!(up["peer"], Pair::B_V4.to_string(), "{up}");
    let state = frr.wait_peer(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;

    let out = run(&["bfd-status", "--control", control_arg, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = &report["sessions"][0];
    assert_eq!(s["interface"], Pair::A_DEV, "{report}");
    assert_eq!(s["remote_discriminator"].as_u64(), Some(u64::from(state.id)), "{report} / {state:?}");
    assert_eq!(s["local_discriminator"].as_u64(), Some(u64::from(state.remote_id)), "{report} / {state:?}");

    ours.signal(Signal::TERM);
    let down = frr.wait_peer(Pair::A_V4.into(), Status::Down, Duration::from_secs(3))?;
    assert_eq!((down.diagnostic.as_str(), down.remote_diagnostic.as_str()), (diag::NEIGHBOR_DOWN, diag::ADMIN_DOWN));
    assert!(ours.wait_exit(Duration::from_secs(10)).success());
    assert!(!control.exists(), "the control socket outlived the daemon");
    Ok(())
}

#[test]
fn the_binary_logs_a_killed_frr_as_detection_time_expired() -> Result<(), Error> {
    let net = Pair::new()?;
    let mut frr = Frr::start(&net.b, FrrConfig { peers: vec![FrrPeer::single_hop(Pair::A_V4.into(), Pair::B_DEV)] })?;
    let mut ours = daemon(&net, &["--peer", &peer_arg()]);
    ours.expect_within(UP_WITHIN, |v| v["kind"] == "up");
    ours.expect_within(UP_WITHIN, |v| v["kind"] == "timing" && v["detection_time_ms"] == 900.0);
    frr.kill()?;
    let killed = Instant::now();
    let down = ours.expect_within(Duration::from_secs(5), |v| v["kind"] == "down");
    assert_eq!(down["diag"], "control-detection-time-expired", "{down}");
    assert!(killed.elapsed() >= Duration::from_millis(550), "down after {:?}", killed.elapsed());
    ours.signal(Signal::INT);
    assert!(ours.wait_exit(Duration::from_secs(10)).success());
    Ok(())
}
