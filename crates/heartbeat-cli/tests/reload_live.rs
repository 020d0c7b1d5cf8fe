//! Live reload of the real binary (`heartbeat run` re-reading its file on SIGHUP or `heartbeat
//! reload`): peers, timing, detectors and the key file change while the nodes run, and nobody
//! is ever suspected or declared down for it. A change that needs a restart, or a broken
//! value, is refused with its field and the running settings stay.
//!
//! Each test prints what it measured (`--nocapture`): false verdicts during the changes and the
//! time from SIGHUP to applied, as the node logs it (`took_us`) and as `heartbeat reload` waits
//! for it.

mod common;

use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use heartbeat_proto::wire::{Frame, Kind};
use heartbeat_proto::{Authentication, ClusterId, Generation, Key, KeyId, KeyRing, MAX_FRAME_LEN, Message, NodeId};
use rustix::process::Signal;

const SECRET_1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const SECRET_2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// The peer id of the test's own socket: every node sends it heartbeats (so that the test sees
/// which key a node signs with) and the test forges its frames.
const TAP: u64 = 9;

fn spawn_node(file: &Path) -> Daemon {
    let mut command = heartbeat();
    command.args(["run", "--config", file.to_str().unwrap(), "--json"]);
    Daemon::spawn(command)
}

/// `heartbeat reload --control`, timed; exit status, stdout and the wall time.
fn reload(control: &Path) -> (bool, String, Duration) {
    let start = Instant::now();
    let out = run(&["reload", "--control", control.to_str().unwrap()]);
    let took = start.elapsed();
    (out.status.success(), format!("{}{}", text(&out.stdout), text(&out.stderr)), took)
}

fn status(control: &Path) -> serde_json::Value {
    let out = run(&["status", "--control", control.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits until the node at `control` reports each of `peers` up.
fn wait_up(control: &Path, peers: &[u64]) {
    let end = Instant::now() + PATIENCE;
    loop {
        let out = run(&["status", "--control", control.to_str().unwrap(), "--json"]);
        if let Ok(report) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            && let Some(list) = report["peers"].as_array()
            && peers.iter().all(|id| list.iter().any(|p| p["id"] == *id && p["state"] == "up"))
        {
            return;
        }
        assert!(
            Instant::now() < end,
            "{} never saw {peers:?} up: {}{}",
            control.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn peer(report: &serde_json::Value, id: u64) -> &serde_json::Value {
    report["peers"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap_or_else(|| panic!("{report}"))
}

/// A `suspect` or `down` of one of `nodes` in a log.
fn false_verdicts(log: &[serde_json::Value], nodes: &[u64]) -> Vec<serde_json::Value> {
    log.iter()
        .filter(|v| (kind(v, "down") || kind(v, "suspect")) && nodes.iter().any(|n| v["peer"] == *n))
        .cloned()
        .collect()
}

/// Every `took_us` of the `reloaded` lines of a log.
fn reload_times(log: &[serde_json::Value]) -> Vec<u64> {
    log.iter().filter(|v| kind(v, "reloaded")).filter_map(|v| v["took_us"].as_u64()).collect()
}

fn summary(label: &str, mut us: Vec<u64>) -> String {
    us.sort_unstable();
    let median = us.get(us.len() / 2).copied().unwrap_or(0);
    format!("{label}: n={} median={median} µs max={} µs", us.len(), us.last().copied().unwrap_or(0))
}

/// One node of a test cluster on loopback: its files and its ports.
struct Node {
    id: u64,
    port: u16,
    file: PathBuf,
    control: PathBuf,
    keys: PathBuf,
    generation: PathBuf,
}

impl Node {
    fn new(dir: &Path, id: u64) -> Node {
        Node {
            id,
            port: free_port(),
            file: dir.join(format!("n{id}.toml")),
            control: dir.join(format!("n{id}.sock")),
            keys: dir.join(format!("n{id}.keys")),
            generation: dir.join(format!("n{id}.generation")),
        }
    }

    /// Writes the settings file: `head` (timing, detector…), authentication, and one
    /// `[[peer]]` per `(id, port)`.
    fn write(&self, head: &str, keyed: bool, peers: &[(u64, u16)]) {
        let auth = if keyed { format!("key_file = \"{}\"", self.keys.display()) } else { "insecure = true".into() };
        let mut text = format!(
            "id = {}\nlisten = [\"127.0.0.1:{}\"]\ncontrol = \"{}\"\ngeneration_file = \"{}\"\n{auth}\n{head}\n",
            self.id,
            self.port,
            self.control.display(),
            self.generation.display()
        );
        for (id, port) in peers {
            text.push_str(&format!("\n[[peer]]\nid = {id}\naddr = [\"127.0.0.1:{port}\"]\n"));
        }
        std::fs::write(&self.file, text).unwrap();
    }

    /// Writes the key file, one `ID SECRET` per entry, the first the signing key.
    fn write_keys(&self, keys: &[u8]) {
        let text: Vec<String> =
            keys.iter().map(|id| format!("{id} {}", if *id == 1 { SECRET_1 } else { SECRET_2 })).collect();
        let dir = self.keys.parent().unwrap();
        secret_file(dir, self.keys.file_name().unwrap().to_str().unwrap(), &text.join("\n"), 0o600);
    }
}

fn key(id: u8) -> Key {
    let secret = hex::decode(if id == 1 { SECRET_1 } else { SECRET_2 }).unwrap();
    Key::new(KeyId(id), &secret).unwrap()
}

/// A heartbeat from the tap to `to`, signed with key `key` alone.
fn forged(to: u64, sequence: u64, key_id: u8) -> Vec<u8> {
    let msg = Message {
        kind: Kind::Heartbeat,
        cluster: ClusterId(0),
        sender: NodeId::new(TAP).unwrap(),
        receiver: NodeId::new(to),
        generation: Generation(1),
        sequence,
        timestamp: heartbeat_proto::Instant::from_millis(sequence * 100),
        echo: None,
        interval: Duration::from_millis(100),
        requested_timeout: Duration::from_millis(1500),
        applied_timeout: None,
        hears_you: false,
        auth: None,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = Authentication::Hmac(KeyRing::new(key(key_id))).encode(&msg, &mut buf).unwrap();
    buf[..len].to_vec()
}

/// The key id of the next frame `tap` receives, after dropping what was queued.
fn signing_key(tap: &UdpSocket) -> u8 {
    tap.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    while tap.recv(&mut buf).is_ok() {}
    tap.set_nonblocking(false).unwrap();
    tap.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = tap.recv(&mut buf).expect("no heartbeat reached the tap in 5 s");
    Frame::new_checked(&buf[..n]).unwrap().auth_trailer().expect("an unsigned frame").key_id
}

/// The metrics text of the node whose metrics are at `port`.
fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// `heartbeat_frames_rejected_total{reason="auth"}` of the node whose metrics are at `port`.
fn rejected_auth(port: u16) -> u64 {
    let text = scrape(port);
    let line = text
        .lines()
        .find(|l| l.starts_with("heartbeat_frames_rejected_total{reason=\"auth\"}"))
        .unwrap_or_else(|| panic!("no auth rejections line in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Waits until `count` moves past `before` (the status is refreshed between scrapes).
fn rejected_auth_after(port: u16, before: u64) -> u64 {
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        let now = rejected_auth(port);
        if now != before || Instant::now() > end {
            return now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The rotation `keys.rs` describes, staggered over three real nodes with a reload after every
/// step on every node: add key 2 (second line) on node 1, 2, 3; make it first on each in turn;
/// remove key 1 on each in turn. Throughout, nobody logs a `suspect` or `down` of anybody;
/// after the switch each node signs with key 2 (read off the frames it sends the test's
/// socket); a node without key 2 refuses a frame signed with it, and once key 1 is retired a
/// frame signed with key 1 is refused, both counted as `auth` rejections.
#[test]
fn staggered_key_rotation_over_three_real_nodes_has_no_false_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<Node> = (1..=3).map(|id| Node::new(dir.path(), id)).collect();
    let taps: Vec<UdpSocket> = (0..3).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    let metrics = free_port();
    for (node, tap) in nodes.iter().zip(&taps) {
        let mut peers: Vec<(u64, u16)> = nodes.iter().filter(|n| n.id != node.id).map(|n| (n.id, n.port)).collect();
        peers.push((TAP, tap.local_addr().unwrap().port()));
        let extra = if node.id == 1 { format!("metrics = \"127.0.0.1:{metrics}\"\n") } else { String::new() };
        node.write(&format!("{extra}interval = \"100ms\"\ntimeout = \"1500ms\"\ntick = \"100ms\""), true, &peers);
        node.write_keys(&[1]);
    }
    let mut daemons: Vec<Daemon> = nodes.iter().map(|n| spawn_node(&n.file)).collect();
    for node in &nodes {
        let others: Vec<u64> = nodes.iter().filter(|n| n.id != node.id).map(|n| n.id).collect();
        wait_up(&node.control, &others);
    }
    let forge = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sequence = 1u64;
    let mut send_to_node_1 = |key_id: u8| {
        sequence += 1;
        forge.send_to(&forged(1, sequence, key_id), ("127.0.0.1", nodes[0].port)).unwrap();
    };

    // Negative: node 1 without key 2 refuses a frame signed with it, counted by reason.
    let before = rejected_auth(metrics);
    send_to_node_1(2);
    let without_key_2 = rejected_auth_after(metrics, before);
    assert_eq!(without_key_2, before + 1, "a frame under a key node 1 lacks was not refused as `auth`");

    let mut wall = Vec::new();
    let mut step = |keys: &[u8], i: usize, daemons: &mut Vec<Daemon>| {
        nodes[i].write_keys(keys);
        let (ok, out, took) = reload(&nodes[i].control);
        assert!(ok, "node {}: {out}", i + 1);
        let listed: Vec<String> = keys.iter().map(u8::to_string).collect();
        assert!(out.contains(&format!("keys {} (signing with {})", listed.join(", "), keys[0])), "{out}");
        daemons[i].wait_for(|v| kind(v, "reloaded") && v["keys"] == true);
        wall.push(u64::try_from(took.as_micros()).unwrap());
        // Several heartbeat intervals with frames in flight before the next node changes.
        std::thread::sleep(Duration::from_millis(400));
    };
    // 1. Add key 2 everywhere, still signing with key 1.
    for (i, tap) in taps.iter().enumerate() {
        step(&[1, 2], i, &mut daemons);
        assert_eq!(signing_key(tap), 1, "node {} switched before being told", i + 1);
    }
    // Node 1 now has key 2: the same kind of frame is accepted.
    let before = rejected_auth(metrics);
    send_to_node_1(2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rejected_auth(metrics), before, "a frame under the added key was refused");
    // 2. Make key 2 the signing key on each node in turn.
    for (i, tap) in taps.iter().enumerate() {
        assert_eq!(signing_key(tap), 1);
        step(&[2, 1], i, &mut daemons);
        assert_eq!(signing_key(tap), 2, "node {} still signs with key 1", i + 1);
    }
    // 3. Retire key 1 on each node in turn.
    for i in 0..3 {
        step(&[2], i, &mut daemons);
    }
    let before = rejected_auth(metrics);
    send_to_node_1(1);
    assert_eq!(rejected_auth_after(metrics, before), before + 1, "a frame under the retired key was accepted");
    // A key file others may read, or with a broken line, is refused and the ring stays.
    secret_file(dir.path(), "n1.keys", &format!("2 {SECRET_2}\n1 {SECRET_1}"), 0o644);
    let (ok, out, _) = reload(&nodes[0].control);
    assert!(!ok && out.contains("chmod 600"), "{out}");
    secret_file(dir.path(), "n1.keys", &format!("2 {SECRET_2}\n1 not-hex"), 0o600);
    let (ok, out, _) = reload(&nodes[0].control);
    assert!(!ok && out.contains("line 2") && out.contains("hexadecimal"), "{out}");
    let before = rejected_auth(metrics);
    send_to_node_1(1);
    assert_eq!(rejected_auth_after(metrics, before), before + 1, "a refused key file was applied");
    nodes[0].write_keys(&[2]);
    // Everyone still hears everyone, and only the test's forgeries were ever refused.
    std::thread::sleep(Duration::from_secs(2));
    for (i, node) in nodes.iter().enumerate() {
        let report = status(&node.control);
        for other in nodes.iter().filter(|n| n.id != node.id) {
            let seen = peer(&report, other.id);
            assert_eq!(seen["state"], "up", "node {} sees {}: {report}", node.id, other.id);
            // A 100 ms interval; 1 s of slack for a loaded machine, still under the 1.5 s timeout.
            assert!(seen["last_heard_ms"].as_f64().unwrap() < 1000.0, "{report}");
        }
        let forgeries = if i == 0 { 3 } else { 0 };
        assert_eq!(report["frames_rejected"], forgeries, "node {}: {report}", node.id);
        assert_eq!(signing_key(&taps[i]), 2);
    }
    stop_and_report(daemons, &[1, 2, 3], "key rotation", "during rotation", wall);
}

/// Stops every node (SIGTERM, each must exit cleanly), prints what was measured under `what`,
/// and fails if any node logged a `suspect` or `down` of one of `ids`.
fn stop_and_report(daemons: Vec<Daemon>, ids: &[u64], what: &str, when: &str, wall: Vec<u64>) {
    let mut verdicts = Vec::new();
    let mut took = Vec::new();
    for daemon in daemons {
        daemon.signal(Signal::TERM);
        let (code, log) = daemon.exit();
        assert!(code.success(), "{code:?}");
        verdicts.extend(false_verdicts(&log, ids));
        took.extend(reload_times(&log));
    }
    eprintln!("{what}: false suspect/down {when}: {}", verdicts.len());
    eprintln!("{}", summary(&format!("{what}: SIGHUP to applied (node's took_us)"), took));
    eprintln!("{}", summary(&format!("{what}: `heartbeat reload` wall time"), wall));
    assert_eq!(verdicts, Vec::<serde_json::Value>::new());
}

/// Timing and detector changes on two real nodes, both ways (faster and stricter, slower and
/// looser, another detector kind each time), with no `suspect` or `down`; then values the
/// library refuses, and a change that needs a restart, are refused with the field named while
/// the running settings stay.
#[test]
fn timing_and_detector_change_live_and_bad_values_leave_the_running_settings() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<Node> = (1..=2).map(|id| Node::new(dir.path(), id)).collect();
    let write_both = |head: &str| {
        for node in &nodes {
            let peers: Vec<(u64, u16)> = nodes.iter().filter(|n| n.id != node.id).map(|n| (n.id, n.port)).collect();
            node.write(head, false, &peers);
        }
    };
    write_both("interval = \"100ms\"\ntimeout = \"1s\"\ntick = \"100ms\"");
    let mut daemons: Vec<Daemon> = nodes.iter().map(|n| spawn_node(&n.file)).collect();
    daemons[0].wait_for(|v| kind(v, "up") && v["peer"] == 2);
    daemons[1].wait_for(|v| kind(v, "up") && v["peer"] == 1);
    let mut wall = Vec::new();
    let changes = [
        // Faster and stricter, φ accrual.
        ("interval = \"50ms\"\ntimeout = \"600ms\"\ntick = \"100ms\"\n[detector]\nkind = \"phi\"", 50.0, 600.0, "phi"),
        // The same kind with other knobs, the stall guard off.
        (
            "interval = \"50ms\"\ntimeout = \"600ms\"\ntick = \"100ms\"\nlocal_pause = \"off\"\n[detector]\nkind = \"phi\"\nthreshold = 12.0",
            50.0,
            600.0,
            "phi",
        ),
        // Slower and looser, another kind.
        (
            "interval = \"200ms\"\ntimeout = \"1500ms\"\ntick = \"100ms\"\n[detector]\nkind = \"chen\"\nalpha = \"400ms\"",
            200.0,
            1500.0,
            "chen",
        ),
        // Back to the fixed timeout, tighter than before.
        ("interval = \"100ms\"\ntimeout = \"800ms\"\ntick = \"50ms\"", 100.0, 800.0, "fixed"),
    ];
    for (head, interval, timeout, detector) in changes {
        write_both(head);
        for (node, daemon) in nodes.iter().zip(daemons.iter_mut()) {
            let (ok, out, took) = reload(&node.control);
            assert!(ok, "{out}");
            assert!(out.contains("; timing: "), "{out}");
            daemon.wait_for(|v| kind(v, "reloaded"));
            wall.push(u64::try_from(took.as_micros()).unwrap());
            std::thread::sleep(Duration::from_millis(150));
        }
        // Long enough for the old deadlines to have passed and the new rule to hold alone.
        std::thread::sleep(Duration::from_millis(1800));
        for node in &nodes {
            let report = status(&node.control);
            assert_eq!(
                (report["interval_ms"].as_f64(), report["timeout_ms"].as_f64()),
                (Some(interval), Some(timeout))
            );
            let other = peer(&report, 3 - node.id);
            assert_eq!((&other["state"], &other["detector"]), (&"up".into(), &detector.into()), "{report}");
            // The peer's new timeout reached this node with its heartbeats.
            assert_eq!(other["timeout_ms"].as_f64(), Some(timeout), "{report}");
        }
    }

    // Refused, each with its field, and nothing of it applied.
    let bad = [
        ("interval = \"500ms\"\ntimeout = \"800ms\"\ntick = \"50ms\"", "`interval`"),
        (
            "interval = \"100ms\"\ntimeout = \"800ms\"\ntick = \"50ms\"\n[detector]\nkind = \"phi\"\nthreshold = 0.1",
            "`detector.threshold`",
        ),
        ("interval = \"100ms\"\ntimeout = \"800ms\"\ntick = \"50ms\"\nlocal_pause = \"soon\"", "`local_pause`"),
    ];
    for (head, field) in bad {
        write_both(head);
        let (ok, out, _) = reload(&nodes[0].control);
        assert!(!ok && out.contains(field), "{field}: {out}");
        let refused = daemons[0].wait_for(|v| kind(v, "reload_refused"));
        assert!(refused["reason"].as_str().unwrap().contains(field), "{refused}");
    }
    let elsewhere = Node { id: 1, port: free_port(), ..Node::new(dir.path(), 1) };
    elsewhere.write("interval = \"100ms\"\ntimeout = \"800ms\"\ntick = \"50ms\"", false, &[(2, nodes[1].port)]);
    let (ok, out, _) = reload(&nodes[0].control);
    assert!(!ok && out.contains("`listen` changed, which needs a restart"), "{out}");
    let report = status(&nodes[0].control);
    assert_eq!((report["interval_ms"].as_f64(), report["timeout_ms"].as_f64()), (Some(100.0), Some(800.0)));
    assert_eq!(peer(&report, 2)["detector"], "fixed");
    assert_eq!((report["reload"]["applied"].as_bool(), report["reload"]["count"].as_u64()), (Some(false), Some(8)));

    stop_and_report(daemons, &[1, 2], "timing/detector", "across 4 live changes on 2 nodes", wall);
}

/// SIGHUP re-reads the file: a peer added is watched (it comes up), a peer removed is dropped
/// silently (no `down` for it), and a change that needs a restart, or a broken file, is
/// refused with the reason while the node runs on as it was.
#[test]
fn sighup_adds_and_removes_peers_and_refuses_what_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let file = dir.path().join("n1.toml");
    let generation_file = dir.path().join("generation");
    let control = dir.path().join("n1.sock");
    let settings = |peers: &[(u16, &str)], listen: u16| {
        let mut text = format!(
            "id = 1\nlisten = [\"127.0.0.1:{listen}\"]\ninterval = \"50ms\"\ntimeout = \"300ms\"\ntick = \"50ms\"\n\
             insecure = true\ngeneration_file = \"{}\"\ncontrol = \"{}\"\n",
            generation_file.display(),
            control.display()
        );
        for (id, addr) in peers {
            text.push_str(&format!("\n[[peer]]\nid = {id}\naddr = [\"{addr}\"]\n"));
        }
        std::fs::write(&file, text).unwrap();
    };
    let peer_args = |me: u16, port: u16| {
        let mut command = heartbeat();
        command.args(["run", "--id", &me.to_string(), "--listen", &format!("127.0.0.1:{port}")]);
        command.args(["--peer", &format!("1@127.0.0.1:{p1}"), "--interval", "50ms", "--timeout", "300ms"]);
        command.args(["--tick", "50ms", "--insecure", "--json"]);
        Daemon::spawn(command)
    };
    let (a2, a3) = (format!("127.0.0.1:{p2}"), format!("127.0.0.1:{p3}"));
    settings(&[(2, &a2)], p1);
    let mut n1 = spawn_node(&file);
    let _n2 = peer_args(2, p2);
    let mut n3 = peer_args(3, p3);
    n1.wait_for(|v| kind(v, "up") && v["peer"] == 2);
    let generation = std::fs::read_to_string(&generation_file).unwrap();

    // `heartbeat reload` signals the process behind the control socket and reports the outcome.
    settings(&[(2, &a2), (3, &a3)], p1);
    let out = run(&["reload", "--config", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(text(&out.stdout), "settings reloaded: 1 peer(s) added, 0 removed, 0 moved\n");
    let reloaded = n1.wait_for(|v| kind(v, "reloaded"));
    assert_eq!((reloaded["added"].as_u64(), reloaded["removed"].as_u64()), (Some(1), Some(0)), "{reloaded}");
    n1.wait_for(|v| kind(v, "up") && v["peer"] == 3);
    assert_eq!(std::fs::read_to_string(&generation_file).unwrap(), generation, "a reload spent a generation");

    n3.wait_for(|v| kind(v, "up") && v["peer"] == 1);

    // Peer 3 moved to an address where nothing listens: node 3 stops hearing node 1 (so the
    // move took effect), while node 1, which still hears node 3, keeps its record of it: no
    // second `up`. Moved back, node 3 hears node 1 again.
    settings(&[(2, &a2), (3, &format!("127.0.0.2:{p3}"))], p1);
    n1.signal(Signal::HUP);
    let reloaded = n1.wait_for(|v| kind(v, "reloaded"));
    assert_eq!(reloaded["moved"].as_u64(), Some(1), "{reloaded}");
    n3.wait_for(|v| kind(v, "down") && v["peer"] == 1);
    settings(&[(2, &a2), (3, &a3)], p1);
    n1.signal(Signal::HUP);
    assert_eq!(n1.wait_for(|v| kind(v, "reloaded"))["moved"].as_u64(), Some(1));
    n3.wait_for(|v| kind(v, "up") && v["peer"] == 1);

    settings(&[(3, &a3)], p1);
    n1.signal(Signal::HUP);
    let reloaded = n1.wait_for(|v| kind(v, "reloaded"));
    assert_eq!((reloaded["added"].as_u64(), reloaded["removed"].as_u64()), (Some(0), Some(1)), "{reloaded}");

    settings(&[(3, &a3)], free_port());
    let out = run(&["reload", "--control", control.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("`listen` changed, which needs a restart"), "{}", text(&out.stdout));
    let refused = n1.wait_for(|v| kind(v, "reload_refused"));
    assert!(refused["reason"].as_str().unwrap().contains("`listen` changed"), "{refused}");
    let report = status(&control);
    assert_eq!((report["reload"]["count"].as_u64(), report["reload"]["applied"].as_bool()), (Some(5), Some(false)));
    std::fs::write(&file, "id = 1\nlisten = [\"127.0.0.1:1\"]\nbogus = 1\n").unwrap();
    n1.signal(Signal::HUP);
    let refused = n1.wait_for(|v| kind(v, "reload_refused"));
    assert!(refused["reason"].as_str().unwrap().contains("line 3: invalid `bogus`"), "{refused}");

    // Twice the timeout after removing it: no `down` for the peer that was removed, and the
    // node still runs with peer 3.
    std::thread::sleep(Duration::from_millis(700));
    n1.signal(Signal::TERM);
    let (code, log) = n1.exit();
    assert!(code.success(), "{code:?}");
    assert!(!log.iter().any(|v| kind(v, "down") || kind(v, "suspect")), "{log:#?}");
    let ups_of_3 = log.iter().filter(|v| kind(v, "up") && v["peer"] == 3).count();
    assert_eq!(ups_of_3, 1, "a moved peer came up again: {log:#?}");
}

/// The live-change rule on the real binary. Node 2 is stopped (SIGSTOP) for 420 ms; 400 ms into
/// that silence — well within node 1's fixed 1.5 s timeout — node 1 switches to Chen's detector
/// with a 300 ms margin, whose rule alone says node 2 should have been suspected 300 ms ago and
/// declared down by now. Counted from the change instead, node 2 has until 100 ms after it to be
/// heard, and it is: nobody logs a `suspect` or `down`. (Judged by the new rule alone, node 1
/// logs `down` at the reload: checked by disabling the rule.)
#[test]
fn a_stricter_detector_does_not_convict_a_peer_for_silence_the_old_rule_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<Node> = (1..=2).map(|id| Node::new(dir.path(), id)).collect();
    // The stall guard off: it would take the overdue deadline for a stall of node 1 itself.
    let timing = "interval = \"100ms\"\ntimeout = \"1500ms\"\ntick = \"100ms\"\nlocal_pause = \"off\"";
    for node in &nodes {
        let other = &nodes[2 - node.id as usize];
        node.write(timing, false, &[(other.id, other.port)]);
    }
    let mut daemons: Vec<Daemon> = nodes.iter().map(|n| spawn_node(&n.file)).collect();
    wait_up(&nodes[0].control, &[2]);
    wait_up(&nodes[1].control, &[1]);
    std::thread::sleep(Duration::from_millis(500));
    nodes[0].write(&format!("{timing}\n[detector]\nkind = \"chen\"\nalpha = \"300ms\""), false, &[(2, nodes[1].port)]);
    daemons[1].signal(Signal::STOP);
    std::thread::sleep(Duration::from_millis(400));
    daemons[0].signal(Signal::HUP);
    std::thread::sleep(Duration::from_millis(20));
    daemons[1].signal(Signal::CONT);
    let reloaded = daemons[0].wait_for(|v| kind(v, "reloaded"));
    assert_eq!(reloaded["detector"], true, "{reloaded}");
    // Well past every deadline either rule could set, with node 2 heartbeating again.
    std::thread::sleep(Duration::from_millis(1500));
    let report = status(&nodes[0].control);
    assert_eq!((&peer(&report, 2)["state"], &peer(&report, 2)["detector"]), (&"up".into(), &"chen".into()));
    let mut verdicts = Vec::new();
    for daemon in daemons {
        daemon.signal(Signal::TERM);
        let (code, log) = daemon.exit();
        assert!(code.success(), "{code:?}");
        verdicts.extend(false_verdicts(&log, &[1, 2]));
    }
    assert_eq!(verdicts, Vec::<serde_json::Value>::new());
}

/// What reads the timing and the peer list after start-up follows a reload: a hook is told
/// the timeout in force now, and a removed peer's series leave the metrics.
#[test]
fn hooks_and_metrics_follow_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2, p3, metrics) = (free_port(), free_port(), free_port(), free_port());
    let file = dir.path().join("n1.toml");
    let told = dir.path().join("told");
    let hook = dir.path().join("hook.sh");
    std::fs::write(&hook, format!("#!/bin/sh\necho \"$HEARTBEAT_PEER $HEARTBEAT_TIMEOUT_MS\" >> {}\n", told.display()))
        .unwrap();
    let settings = |timeout: &str, peers: &[u16]| {
        let mut text = format!(
            "id = 1\nlisten = [\"127.0.0.1:{p1}\"]\ninterval = \"50ms\"\ntimeout = \"{timeout}\"\ntick = \"50ms\"\n\
             insecure = true\ncontrol = \"{}\"\nmetrics = \"127.0.0.1:{metrics}\"\n\n\
             [[hook]]\nevents = [\"up\"]\ncommand = [\"/bin/sh\", \"{}\"]\n",
            dir.path().join("n1.sock").display(),
            hook.display()
        );
        for (id, port) in peers.iter().enumerate().map(|(i, p)| (i + 2, p)) {
            text.push_str(&format!("\n[[peer]]\nid = {id}\naddr = [\"127.0.0.1:{port}\"]\n"));
        }
        std::fs::write(&file, text).unwrap();
    };
    let peer = |me: u16, port: u16| {
        let mut command = heartbeat();
        command.args(["run", "--id", &me.to_string(), "--listen", &format!("127.0.0.1:{port}")]);
        command.args(["--peer", &format!("1@127.0.0.1:{p1}"), "--interval", "50ms", "--timeout", "1s"]);
        command.args(["--tick", "50ms", "--insecure", "--json"]);
        Daemon::spawn(command)
    };
    settings("300ms", &[p2]);
    let mut n1 = spawn_node(&file);
    let (_n2, _n3) = (peer(2, p2), peer(3, p3));
    n1.wait_for(|v| kind(v, "up") && v["peer"] == 2);
    assert!(scrape(metrics).contains("peer=\"2\""), "peer 2 has series");

    // One reload: a longer timeout, peer 3 added (its `up` runs the hook).
    settings("900ms", &[p2, p3]);
    n1.signal(Signal::HUP);
    n1.wait_for(|v| kind(v, "up") && v["peer"] == 3);
    let end = Instant::now() + PATIENCE;
    let lines = loop {
        let text = std::fs::read_to_string(&told).unwrap_or_default();
        if text.lines().count() >= 2 || Instant::now() > end {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(lines, "2 300.0\n3 900.0\n", "what the hooks were told");

    // Peer 2 removed: its series go with it, peer 3's stay.
    let file_text = std::fs::read_to_string(&file).unwrap();
    let without_2 = file_text.replace(&format!("\n[[peer]]\nid = 2\naddr = [\"127.0.0.1:{p2}\"]\n"), "");
    assert_ne!(without_2, file_text);
    std::fs::write(&file, without_2).unwrap();
    n1.signal(Signal::HUP);
    let reloaded = n1.wait_for(|v| kind(v, "reloaded"));
    assert_eq!(reloaded["removed"].as_u64(), Some(1), "{reloaded}");
    let text = scrape(metrics);
    assert!(!text.contains("peer=\"2\""), "peer 2's series stayed: {text}");
    assert!(text.contains("peer=\"3\""), "{text}");
}
