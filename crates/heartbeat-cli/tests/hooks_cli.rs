//! Event hooks end to end, with the real binary on loopback: the hook gets the event in its
//! environment and on stdin, a slow hook delays neither detection nor another peer's hooks and
//! its own peer's next events keep their order, a hung hook is killed at its timeout and
//! logged, and a bad `[[hook]]` is refused at start naming the field. Also `bfd`, `zk-server`
//! and `zk-client` hooks.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde_json::Value;

use self::common::{Daemon, PATIENCE, assert_refused, free_port, heartbeat, kind, run};

/// A hook script that appends one record per run to `log`: a `--- ` line, every `HEARTBEAT_*`
/// variable (sorted), and `STDIN ` with what it read; after sleeping `sleep` seconds.
fn recorder(dir: &Path, name: &str, log: &Path, sleep: &str) -> PathBuf {
    let script = dir.join(name);
    // One write per record, so that hooks of different peers running at once do not mix.
    let body = format!(
        "#!/bin/sh\ninput=$(cat)\nsleep {sleep}\nrecord=$(echo \"--- $HEARTBEAT_SEQ\"; env | grep '^HEARTBEAT_' | sort; echo \"STDIN $input\")\nprintf '%s\\n' \"$record\" >> {}\n",
        log.display()
    );
    std::fs::write(&script, body).unwrap();
    script
}

/// One record a [`recorder`] wrote: its variables and its stdin as JSON.
#[derive(Debug)]
struct Record {
    env: BTreeMap<String, String>,
    json: Value,
}

/// Every complete record in `log`, in the order written.
fn records(log: &Path) -> Vec<Record> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.split("--- ")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut env = BTreeMap::new();
            let mut json = Value::Null;
            for line in block.lines().skip(1) {
                if let Some(input) = line.strip_prefix("STDIN ") {
                    json = serde_json::from_str(input).unwrap_or_else(|e| panic!("{input}: {e}"));
                } else if let Some((k, v)) = line.split_once('=') {
                    env.insert(k.to_string(), v.to_string());
                }
            }
            Record { env, json }
        })
        // The last one may be half written.
        .filter(|r| !r.json.is_null())
        .collect()
}

impl Record {
    /// Variable `HEARTBEAT_{key}`, empty if it is not set.
    fn var(&self, key: &str) -> &str {
        self.env.get(&format!("HEARTBEAT_{key}")).map_or("", String::as_str)
    }
}

/// Waits until `log` holds a record satisfying `want`; returns it.
fn wait_record(log: &Path, want: impl Fn(&Record) -> bool) -> Record {
    let end = Instant::now() + PATIENCE;
    loop {
        if let Some(r) = records(log).into_iter().find(|r| want(r)) {
            return r;
        }
        assert!(Instant::now() < end, "no such record in {:#?}", records(log));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `heartbeat run` node `me` on `port`, watching `peers` (id, port), at 50 ms / 300 ms, with
/// `extra` (top-level keys, then `[[hook]]` tables) added to its settings file.
fn node(dir: &Path, me: u64, port: u16, peers: &[(u64, u16)], extra: &str) -> Daemon {
    let mut file = format!(
        "id = {me}\nlisten = [\"127.0.0.1:{port}\"]\ninterval = \"50ms\"\ntimeout = \"300ms\"\ntick = \"50ms\"\ninsecure = true\n"
    );
    // Top-level keys of `extra` before any table.
    file += extra;
    for (id, port) in peers {
        file += &format!("[[peer]]\nid = {id}\naddr = [\"127.0.0.1:{port}\"]\n");
    }
    let path = dir.join(format!("node{me}-{}.toml", free_port()));
    std::fs::write(&path, file).unwrap();
    let mut command = heartbeat();
    command.args(["run", "--json", "--config", path.to_str().unwrap()]);
    Daemon::spawn(command)
}

fn hook(events: &str, peers: &str, command: &[&str], timeout: &str) -> String {
    let command: Vec<String> = command.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "[[hook]]\nevents = {events}\npeers = {peers}\ncommand = [{}]\ntimeout = \"{timeout}\"\n",
        command.join(", ")
    )
}

#[test]
fn a_down_runs_its_hook_with_the_event_in_the_environment_and_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hooks.log");
    let script = recorder(dir.path(), "record.sh", &log, "0");
    let (p1, p2) = (free_port(), free_port());
    let hooks = hook("[\"up\", \"down\"]", "[]", &["sh", script.to_str().unwrap()], "5s");
    let mut n1 = node(dir.path(), 1, p1, &[(2, p2)], &hooks);
    let n2 = node(dir.path(), 2, p2, &[(1, p1)], "");
    let up = n1.wait_for(|v| kind(v, "up"));
    let up_record = wait_record(&log, |r| r.var("EVENT") == "up");
    assert_eq!(up_record.var("GENERATION"), up["generation"].to_string(), "{up_record:?}");
    n2.signal(Signal::KILL);
    let down = n1.wait_for(|v| kind(v, "down"));
    let r = wait_record(&log, |r| r.var("EVENT") == "down");
    let env = |k: &str| r.env.get(k).map(String::as_str).unwrap_or_else(|| panic!("no {k} in {r:?}"));
    assert_eq!((env("HEARTBEAT_PROFILE"), env("HEARTBEAT_PEER"), env("HEARTBEAT_PEER_NAME")), ("run", "2", "2"));
    assert_eq!((env("HEARTBEAT_REASON"), env("HEARTBEAT_TIMEOUT_MS")), ("timeout", "300.0"));
    assert_eq!((env("HEARTBEAT_GENERATION"), env("HEARTBEAT_LINK")), ("", ""));
    let silence: f64 = env("HEARTBEAT_SILENCE_MS").parse().unwrap();
    assert!((300.0..400.0).contains(&silence), "{r:?}");
    let seq = |r: &Record| r.var("SEQ").parse::<u64>().unwrap();
    assert!(seq(&r) > seq(&up_record), "{r:?}");
    // Stdin carries the same fields, and the log's own down line agrees with them.
    let json = &r.json;
    assert_eq!(
        (json["event"].as_str(), json["peer"].as_str(), json["profile"].as_str()),
        (Some("down"), Some("2"), Some("run"))
    );
    assert_eq!(json["silence_ms"].as_f64(), Some(silence));
    assert_eq!(json["silence_ms"], down["silent_ms"], "{json} vs {down}");
    assert_eq!(json["late_ms"], down["late_ms"]);
    assert_eq!(json["at"], down["at"]);
    assert_eq!(json["timeout_ms"], 300.0);
    assert!(json.get("generation").is_none(), "{json}");
    // The outcome is logged.
    let outcome = n1.wait_for(|v| kind(v, "hook") && v["event"] == "down");
    assert_eq!(
        (outcome["status"].as_i64(), outcome["peer"].as_str(), outcome["hook"].as_u64()),
        (Some(0), Some("2"), Some(1))
    );
    assert!(outcome["took_ms"].as_f64().is_some() && outcome["waited_ms"].as_f64().is_some(), "{outcome}");
    n1.signal(Signal::TERM);
    assert!(n1.exit().0.success());
}

/// Peer 2's down hook sleeps 3 s (60 heartbeat intervals) while peer 3 is killed: node 1
/// declares 3 down on time and 3's hook runs at once; peer 2's next events (it comes back)
/// run after its slow hook, in order.
#[test]
fn a_slow_hook_delays_neither_detection_nor_another_peer_and_its_peer_s_events_keep_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hooks.log");
    let slow = recorder(dir.path(), "slow.sh", &log, "3");
    let quick = recorder(dir.path(), "quick.sh", &log, "0");
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let hooks = [
        hook("[\"down\"]", "[2]", &["sh", slow.to_str().unwrap()], "20s"),
        hook("[\"down\", \"up\", \"restarted\"]", "[3]", &["sh", quick.to_str().unwrap()], "20s"),
        hook("[\"up\", \"restarted\"]", "[2]", &["sh", quick.to_str().unwrap()], "20s"),
    ]
    .concat();
    let mut n1 = node(dir.path(), 1, p1, &[(2, p2), (3, p3)], &hooks);
    let n2 = node(dir.path(), 2, p2, &[(1, p1)], "generation = 1\n");
    let n3 = node(dir.path(), 3, p3, &[(1, p1)], "");
    // Both ups, in whichever order they come.
    wait_record(&log, |r| r.var("EVENT") == "up" && r.var("PEER") == "2");
    wait_record(&log, |r| r.var("EVENT") == "up" && r.var("PEER") == "3");

    n2.signal(Signal::KILL);
    n1.wait_for(|v| kind(v, "down") && v["peer"] == 2);
    // Peer 2's hook now sleeps. Kill 3 and bring 2 back meanwhile.
    n3.signal(Signal::KILL);
    let down3 = n1.wait_for(|v| kind(v, "down") && v["peer"] == 3);
    let seen_down3 = Instant::now();
    let late = down3["late_ms"].as_f64().unwrap();
    assert!(late < 20.0, "detection was delayed by the hung hook: {down3}");
    let silent = down3["silent_ms"].as_f64().unwrap();
    assert!((300.0..360.0).contains(&silent), "{down3}");
    drop(n2);
    let _n2 = node(dir.path(), 2, p2, &[(1, p1)], "generation = 2\n");
    wait_record(&log, |r| r.var("EVENT") == "down" && r.var("PEER") == "3");
    assert!(seen_down3.elapsed() < Duration::from_millis(1500), "peer 3's hook waited for peer 2's");
    let slow_done = wait_record(&log, |r| r.var("EVENT") == "down" && r.var("PEER") == "2");
    let seq = |r: &Record| r.var("SEQ").parse::<u64>().unwrap();
    let back = wait_record(&log, |r| r.var("PEER") == "2" && seq(r) > seq(&slow_done));
    // Peer 2: its down, then its return, in the file in that order with rising numbers.
    let all = records(&log);
    let two: Vec<(&str, u64)> =
        all.iter().filter(|r| r.var("PEER") == "2").map(|r| (r.var("EVENT"), r.var("SEQ").parse().unwrap())).collect();
    assert!(two.len() >= 3, "{two:?}");
    assert_eq!(&two[1].0, &"down", "{two:?}");
    assert!(two.windows(2).all(|w| w[0].1 < w[1].1), "out of order: {two:?}");
    assert!(["up", "restarted"].contains(&back.var("EVENT")), "{back:?}");
    // The slow hook's outcome says how long it took; the one after it waited for it.
    let slow_outcome = n1.wait_for(|v| kind(v, "hook") && v["hook"] == 1);
    assert!(slow_outcome["took_ms"].as_f64().unwrap() >= 3000.0, "{slow_outcome}");
    n1.signal(Signal::TERM);
    assert!(n1.exit().0.success());
}

#[test]
fn a_hung_hook_is_killed_at_its_timeout_and_that_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("hung.pid");
    let script = format!("echo $$ > {}; exec sleep 60", pidfile.display());
    let (p1, p2) = (free_port(), free_port());
    // Hung for five of the peer's timeouts: node 1 keeps sending heartbeats all along.
    let hooks = hook("[\"up\"]", "[]", &["sh", "-c", &script], "1500ms");
    let mut n1 = node(dir.path(), 1, p1, &[(2, p2)], &hooks);
    let n2 = node(dir.path(), 2, p2, &[(1, p1)], "");
    let outcome = n1.wait_for(|v| kind(v, "hook"));
    assert_eq!(outcome["timed_out"], true, "{outcome}");
    assert_eq!((outcome["event"].as_str(), outcome["level"].as_str()), (Some("up"), Some("WARN")), "{outcome}");
    let took = outcome["took_ms"].as_f64().unwrap();
    assert!((1500.0..3000.0).contains(&took), "{outcome}");
    assert_eq!(outcome["timeout_ms"], 1500.0);
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
    });
    assert!(gone, "the hung hook {pid} outlived its timeout");
    // Both kept detecting and sending: neither saw the other late, let alone down.
    n1.signal(Signal::TERM);
    let (code, log) = n1.exit();
    assert!(code.success());
    assert!(!log.iter().any(|v| kind(v, "down") || kind(v, "suspect")), "{log:#?}");
    n2.signal(Signal::TERM);
    let (code, log) = n2.exit();
    assert!(code.success());
    assert!(log.iter().any(|v| kind(v, "up")), "{log:#?}");
    assert!(!log.iter().any(|v| kind(v, "down") || kind(v, "suspect")), "node 1 fell silent: {log:#?}");
}

#[test]
fn a_bad_hook_is_refused_at_start_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |profile_args: &[&str], file: &str, needle: &str| {
        let path = dir.path().join("settings.toml");
        std::fs::write(&path, file).unwrap();
        let mut args: Vec<&str> = profile_args.to_vec();
        args.push(path.to_str().unwrap());
        assert_refused(&run(&args), needle);
    };
    let run_args = ["run", "--id", "1", "--listen", "127.0.0.1:0", "--insecure", "--config"];
    refused(
        &run_args,
        "[[hook]]\nevents = [\"lnk-up\"]\ncommand = [\"true\"]\n",
        "invalid `hook[1].events`: `lnk-up` is not an event",
    );
    refused(&run_args, "[[hook]]\nevents = [\"down\"]\ncommand = []\n", "invalid `hook[1].command`: is empty");
    refused(
        &run_args,
        "[[hook]]\nevents = [\"down\"]\ncommand = [\"true\"]\n[[hook]]\nevents = [\"down\"]\ncommand = [\"true\"]\ntimeout = \"never\"\n",
        "invalid `hook[2].timeout`",
    );
    refused(&run_args, "[[hook]]\nevents = [\"down\"]\nprogram = [\"true\"]\n", "unknown field `program`");
    refused(&run_args, "hooks_at_once = 0\n", "invalid `hooks_at_once`");
    // A misspelt peer would never match: refused.
    refused(
        &["run", "--id", "1", "--listen", "127.0.0.1:0", "--insecure", "--peer", "2@127.0.0.1:9", "--config"],
        "[[hook]]\nevents = [\"down\"]\npeers = [3]\ncommand = [\"true\"]\n",
        "invalid `hook[1].peers`: `3` is not a peer of this node (its peers: 2)",
    );
    refused(
        &["bfd", "--peer", "127.0.0.2", "--config"],
        "[[hook]]\nevents = [\"restarted\"]\ncommand = [\"true\"]\n",
        "not an event of `heartbeat bfd`",
    );
    refused(
        &["zk-server", "--listen", "127.0.0.1:0", "--hooks"],
        "[[hook]]\nevents = [\"down\"]\ncommand = [\"true\"]\n",
        "invalid `hook[1].events`: `down` is not an event of `heartbeat zk-server`",
    );
    refused(
        &["zk-client", "--servers", "127.0.0.1:9", "--hooks"],
        "[[hook]]\nevents = [\"connected\"]\ncommand = []\n",
        "hook[1].command",
    );
    refused(
        &["linux-ha", "--ha-cf", "/nonexistent", "--authkeys", "/nonexistent", "--hooks"],
        "[[hook]]\nevents = [\"suspect\"]\ncommand = [\"true\"]\n",
        "not an event of `heartbeat linux-ha`",
    );
}

#[test]
fn bfd_session_changes_run_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hooks.log");
    let script = recorder(dir.path(), "record.sh", &log, "0");
    let file = dir.path().join("bfd.toml");
    std::fs::write(&file, hook("[\"up\", \"down\"]", "[\"127.0.0.2\"]", &["sh", script.to_str().unwrap()], "5s"))
        .unwrap();
    let (p1, p2) = (free_port(), free_port());
    let side = |me: &str, peer: &str, mine: u16, theirs: u16| {
        let mut command = heartbeat();
        command.args(["bfd", "--json", "--peer", peer, "--local", me, "--interval", "50ms", "--multiplier", "3"]);
        command.args(["--listen-port", &mine.to_string(), "--peer-port", &theirs.to_string()]);
        command
    };
    let mut one = side("127.0.0.1", "127.0.0.2", p1, p2);
    one.args(["--config", file.to_str().unwrap()]);
    let mut one = Daemon::spawn(one);
    let two = Daemon::spawn(side("127.0.0.2", "127.0.0.1", p2, p1));
    one.wait_for(|v| kind(v, "up"));
    let up = wait_record(&log, |r| r.var("EVENT") == "up");
    assert_eq!((up.var("PROFILE"), up.var("PEER")), ("bfd", "127.0.0.2"));
    two.signal(Signal::KILL);
    one.wait_for(|v| kind(v, "down"));
    let down = wait_record(&log, |r| r.var("EVENT") == "down");
    assert_eq!(down.json["reason"], "control-detection-time-expired", "{down:?}");
    drop(two);
    one.signal(Signal::TERM);
    assert!(one.exit().0.success());
}

#[test]
fn zk_sessions_run_hooks_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let (server_log, client_log) = (dir.path().join("server.log"), dir.path().join("client.log"));
    let server_hook = recorder(dir.path(), "server.sh", &server_log, "0");
    let client_hook = recorder(dir.path(), "client.sh", &client_log, "0");
    let server_file = dir.path().join("server-hooks.toml");
    let events = "[\"session-created\", \"session-closed\"]";
    std::fs::write(&server_file, hook(events, "[]", &["sh", server_hook.to_str().unwrap()], "5s")).unwrap();
    let client_file = dir.path().join("client-hooks.toml");
    let events = "[\"connected\", \"session-closed\"]";
    std::fs::write(&client_file, hook(events, "[]", &["sh", client_hook.to_str().unwrap()], "5s")).unwrap();
    let mut command = heartbeat();
    command.args(["zk-server", "--listen", "127.0.0.1:0", "--tick", "100ms", "--json", "--hooks"]).arg(&server_file);
    let mut srv = Daemon::spawn(command);
    let listen = srv.wait_for(|v| kind(v, "started"))["listen"].as_str().unwrap().to_owned();
    let mut command = heartbeat();
    command.args([
        "zk-client",
        "--servers",
        &listen,
        "--timeout",
        "400ms",
        "--close-after",
        "500ms",
        "--json",
        "--hooks",
    ]);
    command.arg(&client_file);
    let client = Daemon::spawn(command);
    let (code, _) = client.exit();
    assert!(code.success());
    // The client's hooks ran before it exited.
    let seen: Vec<String> = records(&client_log).iter().map(|r| r.var("EVENT").to_string()).collect();
    assert_eq!(seen, ["connected", "session-closed"]);
    let connected = &records(&client_log)[0];
    assert_eq!(connected.var("PEER_NAME"), listen);
    let created = wait_record(&server_log, |r| r.var("EVENT") == "session-created");
    assert_eq!(created.var("TIMEOUT_MS"), "400.0");
    assert_eq!(connected.var("REASON"), format!("session {}", created.var("PEER")));
    wait_record(&server_log, |r| r.var("EVENT") == "session-closed");
    srv.signal(Signal::TERM);
    assert!(srv.exit().0.success());
}

/// Two of our Linux-HA nodes in network namespaces of their own; `hbnode2` runs hooks: it sees
/// `hbnode1` up, then dead at its deadtime once SIGKILLed, by name.
#[test]
fn linux_ha_nodes_run_hooks_by_node_name() -> Result<(), heartbeat_tests::netns::Error> {
    use heartbeat_tests::linuxha::HaConfig;
    use heartbeat_tests::netns::{Namespace, veth};

    let (a, b) = (Namespace::new("hooks-lha1")?, Namespace::new("hooks-lha2")?);
    veth(&a, "hk-a", &b, "hk-b")?;
    let (a_addr, b_addr) = ([198, 18, 0, 101].into(), [198, 18, 0, 102].into());
    a.add_address("hk-a", a_addr, 30)?;
    b.add_address("hk-b", b_addr, 30)?;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hooks.log");
    let script = recorder(dir.path(), "record.sh", &log, "0");
    let hooks = dir.path().join("hooks.toml");
    std::fs::write(&hooks, hook("[\"up\", \"down\"]", "[\"hbnode1\"]", &["sh", script.to_str().unwrap()], "5s"))
        .unwrap();
    let keys = common::secret_file(dir.path(), "authkeys", "auth 1\n1 sha1 hooks-test-secret", 0o600);
    let start = |ns: &Namespace, me: &str, peer: &str, dev: &str, peer_addr, extra: &[&str]| {
        let cf = dir.path().join(format!("{me}.cf"));
        std::fs::write(&cf, HaConfig::new(me, peer, dev, peer_addr).ha_cf(dir.path())).unwrap();
        let mut command = ns.command(env!("CARGO_BIN_EXE_heartbeat"));
        command.args(["linux-ha", "--json", "--node-name", me, "--authkeys", &keys, "--ha-cf"]).arg(&cf).args(extra);
        Daemon::spawn(command)
    };
    let one = start(&a, "hbnode1", "hbnode2", "hk-a", b_addr, &[]);
    let mut two = start(&b, "hbnode2", "hbnode1", "hk-b", a_addr, &["--hooks", hooks.to_str().unwrap()]);
    two.wait_for(|v| kind(v, "up"));
    let up = wait_record(&log, |r| r.var("EVENT") == "up");
    assert_eq!((up.var("PROFILE"), up.var("PEER"), up.var("PEER_NAME")), ("linux-ha", "hbnode1", "hbnode1"), "{up:?}");
    assert!(!up.var("GENERATION").is_empty(), "{up:?}");
    one.signal(Signal::KILL);
    let dead = two.wait_for(|v| kind(v, "dead"));
    let down = wait_record(&log, |r| r.var("EVENT") == "down");
    assert_eq!(
        (down.var("PEER"), down.var("REASON"), down.var("TIMEOUT_MS")),
        ("hbnode1", "timeout", "1500.0"),
        "{down:?}"
    );
    assert_eq!(down.json["late_ms"], dead["late_ms"], "{down:?} {dead}");
    two.signal(Signal::TERM);
    assert!(two.exit().0.success());
    Ok(())
}
