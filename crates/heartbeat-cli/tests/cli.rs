//! The `heartbeat` binary end to end: the demo, refusals of bad input, and two real nodes
//! queried with `status` and stopped with signals.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
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

/// Asserts a refusal: non-zero exit, exactly one line on stderr containing `needle`, nothing on
/// stdout (the node never started, so it logged nothing).
fn assert_refused(out: &Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "accepted: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert_eq!(text(&out.stdout), "", "something started");
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
    assert_refused(&out, "line 1 `id`");

    std::fs::write(&file, "id = 1\nlisten = [\"127.0.0.1:0\"]\nheartbeat = \"1s\"\n").unwrap();
    let out = run(&["run", "--config", file.to_str().unwrap()]);
    assert_refused(&out, "unknown field `heartbeat`");
}

/// A `heartbeat run` child whose stdout lines are collected as they come.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Node {
    fn start(args: &[String]) -> Node {
        let mut child =
            heartbeat().arg("run").args(args).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Node { child, lines, log: Vec::new() }
    }

    /// Collects lines until one satisfies `want`, within [`PATIENCE`]; returns it.
    fn wait_for(&mut self, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let end = Instant::now() + PATIENCE;
        loop {
            let left = end.checked_duration_since(Instant::now()).unwrap_or_else(|| panic!("{:#?}", self.log));
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("{:#?}", self.log));
            self.log.push(line.clone());
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            if want(&value) {
                return value;
            }
        }
    }

    fn signal(&self, signal: Signal) {
        kill_process(Pid::from_child(&self.child), signal).unwrap();
    }

    /// Waits for the exit (bounded) and returns the remaining log lines.
    fn exit(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let end = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < end, "no exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        self.log.extend(self.lines.try_iter());
        (status, self.log)
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
    let node = |me: u16, port: u16, peer: u16, control: &Path| -> Vec<String> {
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
    let mut n1 = Node::start(&node(1, p1, 2, &control1));
    let mut n2 = Node::start(&node(2, p2, 1, &dir.path().join("n2.sock")));
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

    // SIGTERM: node 2 says goodbye and exits 0; node 1 logs `left`, never `down`.
    n2.signal(Signal::TERM);
    let (code, _) = n2.exit();
    assert!(code.success(), "{code:?}");
    n1.wait_for(|v| v["kind"] == "left" && v["peer"] == 2);
    std::thread::sleep(Duration::from_millis(600)); // twice the timeout: room for a wrong `down`
    n1.signal(Signal::INT);
    let (code, log) = n1.exit();
    assert!(code.success(), "{code:?}");
    assert!(!log.iter().any(|l| l.contains("\"kind\":\"down\"")), "{log:#?}");
    assert!(!control1.exists(), "the control socket outlived its node");
    assert!(!status(&control1, true).status.success());
}
