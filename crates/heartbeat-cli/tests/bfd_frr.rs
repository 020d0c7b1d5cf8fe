//! The `heartbeat bfd` binary against FRR's bfdd: the binary runs in namespace `a` (through
//! `ip netns exec`), bfdd in `b`. Up on both sides with matching discriminators in
//! `bfd-status`; SIGTERM reaches FRR as AdminDown; a SIGKILLed bfdd is logged as
//! `down diag=control-detection-time-expired`.
//!
//! Needs root, iproute2 and `frr`; without them the tests fail saying what is missing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use heartbeat_tests::frr::{Frr, FrrConfig, FrrPeer, Status, diag};
use heartbeat_tests::netns::{Error, Pair};
use rustix::process::{Pid, Signal, kill_process};

const UP_WITHIN: Duration = Duration::from_secs(10);

/// `heartbeat bfd --json` inside a namespace, its log lines collected as they come.
struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<serde_json::Value>,
}

impl Daemon {
    fn start(net: &Pair, args: &[&str]) -> Daemon {
        let mut command = net.a.command(env!("CARGO_BIN_EXE_heartbeat"));
        command.arg("bfd").args(args).arg("--json").stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = command.spawn().expect("start heartbeat bfd");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Daemon { child, lines, log: Vec::new() }
    }

    fn wait_for(&mut self, within: Duration, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let end = Instant::now() + within;
        loop {
            let left = end.checked_duration_since(Instant::now()).unwrap_or_else(|| panic!("{:#?}", self.log));
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("{:#?}", self.log));
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            self.log.push(value.clone());
            if want(&value) {
                return value;
            }
        }
    }

    fn signal(&self, signal: Signal) {
        kill_process(Pid::from_child(&self.child), signal).expect("signal");
    }

    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let end = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < end, "no exit: {:#?}", self.log);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let mut ours = Daemon::start(&net, &["--peer", &peer_arg(), "--control", control_arg]);
    let up = ours.wait_for(UP_WITHIN, |v| v["kind"] == "up");
    assert_eq!(up["peer"], Pair::B_V4.to_string(), "{up}");
    let state = frr.wait_peer(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .args(["bfd-status", "--control", control_arg, "--json"])
        .output()
        .expect("bfd-status");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
    let mut ours = Daemon::start(&net, &["--peer", &peer_arg()]);
    ours.wait_for(UP_WITHIN, |v| v["kind"] == "up");
    ours.wait_for(UP_WITHIN, |v| v["kind"] == "timing" && v["detection_time_ms"] == 900.0);
    frr.kill()?;
    let killed = Instant::now();
    let down = ours.wait_for(Duration::from_secs(5), |v| v["kind"] == "down");
    assert_eq!(down["diag"], "control-detection-time-expired", "{down}");
    assert!(killed.elapsed() >= Duration::from_millis(550), "down after {:?}", killed.elapsed());
    ours.signal(Signal::INT);
    assert!(ours.wait_exit(Duration::from_secs(10)).success());
    Ok(())
}
