//! `heartbeat run --replay-file`: a restarted node still refuses frames recorded before the
//! restart.
//!
//! Node A (id 1) sends to node B (id 2) through the test's own UDP socket, which forwards every
//! frame to B and keeps a copy: the attacker's recording, authenticated with the cluster's key
//! like every frame A sends. Then A dies (SIGKILL: no goodbye), B stops (SIGTERM) and starts
//! again, and the test sends the recording to B. With the replay file every frame is refused,
//! counted by reason in `heartbeat status --json` and the metrics, and B never sees A come up.
//! With the file deleted, the same recording brings A up — so the first half can fail. A
//! damaged file is refused at start, moved aside, and the node runs.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rustix::process::Signal;

const KEYS: &str = "1 5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\n";

struct Lab {
    dir: tempfile::TempDir,
    a_port: u16,
    b_port: u16,
    metrics: u16,
    /// The test's socket: A's address for B.
    tap: UdpSocket,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::write(&keys, KEYS).unwrap();
        std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let tap = UdpSocket::bind("127.0.0.1:0").unwrap();
        let metrics = free_port();
        Lab { dir, a_port: free_port(), b_port: free_port(), metrics, tap }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn common(&self, id: u16, port: u16, peer: u16, peer_addr: String) -> Vec<String> {
        [
            "run",
            "--id",
            &id.to_string(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--peer",
            &format!("{peer}@{peer_addr}"),
            "--interval",
            "20ms",
            "--timeout",
            "300ms",
            "--tick",
            "20ms",
            "--key-file",
            self.path("keys").to_str().unwrap(),
            "--generation-file",
            self.path(&format!("generation-{id}")).to_str().unwrap(),
            "--json",
        ]
        .map(String::from)
        .to_vec()
    }

    /// A: sends to B at the tap.
    fn node_a(&self) -> Daemon {
        let tap = self.tap.local_addr().unwrap().to_string();
        let mut command = heartbeat();
        command.args(self.common(1, self.a_port, 2, tap));
        Daemon::spawn(command)
    }

    /// B, with the replay file, control socket and metrics.
    fn node_b(&self) -> Daemon {
        let mut args = self.common(2, self.b_port, 1, format!("127.0.0.1:{}", self.a_port));
        args.extend([
            "--replay-file".into(),
            self.path("replay").to_str().unwrap().into(),
            "--control".into(),
            self.path("b.sock").to_str().unwrap().into(),
            "--metrics".into(),
            format!("127.0.0.1:{}", self.metrics),
        ]);
        let mut command = heartbeat();
        command.args(args);
        Daemon::spawn(command)
    }

    fn status(&self) -> serde_json::Value {
        let out = run(&["status", "--control", self.path("b.sock").to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Forwards A's frames to B through the tap, recording each, for `how_long`.
    fn record(&self, how_long: Duration) -> Vec<Vec<u8>> {
        let recording = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tap = self.tap.try_clone().unwrap();
        tap.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let b = format!("127.0.0.1:{}", self.b_port);
        let relay = {
            let (recording, stop) = (Arc::clone(&recording), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((len, _)) = tap.recv_from(&mut buf) {
                        recording.lock().unwrap().push(buf[..len].to_vec());
                        tap.send_to(&buf[..len], &b).unwrap();
                    }
                }
            })
        };
        std::thread::sleep(how_long);
        stop.store(true, Ordering::Relaxed);
        relay.join().unwrap();
        Arc::try_unwrap(recording).unwrap().into_inner().unwrap()
    }

    /// Sends the recording to B from the tap, a frame every millisecond.
    fn replay(&self, recording: &[Vec<u8>]) {
        for frame in recording {
            self.tap.send_to(frame, ("127.0.0.1", self.b_port)).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn scrape(&self) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.metrics)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n").unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
    }

    /// Stops B gracefully; it must exit cleanly.
    fn stop(&self, b: Daemon) -> Vec<serde_json::Value> {
        b.signal(Signal::TERM);
        let (status, log) = b.exit();
        assert!(status.success(), "{status:?}: {log:#?}");
        log
    }
}

/// Waits until `b` answers `heartbeat status`.
fn started(_b: &mut Daemon, lab: &Lab) -> serde_json::Value {
    let end = Instant::now() + PATIENCE;
    loop {
        if lab.path("b.sock").exists() {
            let out = run(&["status", "--control", lab.path("b.sock").to_str().unwrap(), "--json"]);
            if out.status.success() {
                return serde_json::from_slice(&out.stdout).unwrap();
            }
        }
        assert!(Instant::now() < end, "B never answered status");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn peer_a(status: &serde_json::Value) -> &serde_json::Value {
    status["peers"].as_array().unwrap().iter().find(|p| p["id"] == 1).unwrap()
}

fn reason(status: &serde_json::Value, name: &str) -> u64 {
    status["frames_rejected_by_reason"][name].as_u64().unwrap_or_else(|| panic!("no {name} in {status:#}"))
}

/// B heard A for a while through the tap; A is dead and B has stopped. Returns the recording.
fn recorded_then_stopped(lab: &Lab) -> Vec<Vec<u8>> {
    let mut b = lab.node_b();
    started(&mut b, lab);
    let mut a = lab.node_a();
    let recording = lab.record(Duration::from_millis(3000));
    a.signal(Signal::KILL);
    a.wait_exit(PATIENCE);
    b.wait_for(|v| kind(v, "up"));
    // More than the 64-frame window, so that both kinds of refusal are exercised.
    assert!(recording.len() > 80, "only {} frames recorded", recording.len());
    std::thread::sleep(Duration::from_millis(200));
    lab.stop(b);
    recording
}

/// Everything B accepted and rejected, and whether A ever came up, after the replay.
fn replayed_at_restarted_b(lab: &Lab, recording: &[Vec<u8>]) -> (serde_json::Value, Vec<serde_json::Value>, String) {
    let mut b = lab.node_b();
    let before = started(&mut b, lab);
    assert_ne!(peer_a(&before)["state"], "up", "{before:#}");
    let received = before["datagrams_received"].as_u64().unwrap();
    lab.replay(recording);
    // Until B has read every replayed datagram (a loaded machine may take a while).
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while lab.status()["datagrams_received"].as_u64().unwrap() < received + recording.len() as u64
        && std::time::Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    // And a little longer, for an `up` that the last of them might bring.
    std::thread::sleep(Duration::from_millis(100));
    let after = lab.status();
    let table = text(&run(&["status", "--control", lab.path("b.sock").to_str().unwrap()]).stdout);
    let loaded = after["replay_file"]["loaded"].as_str().unwrap().to_string();
    assert!(table.contains(&format!("replay file {}: {loaded} at start", lab.path("replay").display())), "{table}");
    let scrape = lab.scrape();
    let log = lab.stop(b);
    (after, log, scrape)
}

#[test]
fn a_restarted_node_refuses_frames_recorded_before_the_restart() {
    let lab = Lab::new();
    let recording = recorded_then_stopped(&lab);
    assert!(lab.path("replay").exists(), "no replay file written");

    let (after, log, scrape) = replayed_at_restarted_b(&lab, &recording);
    let file = &after["replay_file"];
    assert_eq!(file["loaded"], "resumed", "{after:#}");
    assert_eq!(file["resumed"], 1, "{after:#}");
    let n = recording.len() as u64;
    let (duplicate, replayed, stale) =
        (reason(&after, "duplicate"), reason(&after, "replayed"), reason(&after, "stale_generation"));
    assert_eq!(duplicate + replayed + stale, n, "{after:#}");
    assert!(duplicate >= 1 && replayed >= 1, "{after:#}");
    assert_eq!(after["frames_rejected"].as_u64().unwrap(), n, "{after:#}");
    // B's view of A did not move: never heard in this run.
    let a = peer_a(&after);
    assert_ne!(a["state"], "up", "{after:#}");
    assert!(a["last_heard_ms"].is_null(), "{after:#}");
    assert!(!log.iter().any(|v| kind(v, "up")), "A came up from a replay: {log:#?}");
    assert!(scrape.contains(&format!("heartbeat_frames_rejected_total{{reason=\"replayed\"}} {replayed}")), "{scrape}");
    assert!(
        scrape.contains(&format!("heartbeat_frames_rejected_total{{reason=\"duplicate\"}} {duplicate}")),
        "{scrape}"
    );
    assert!(scrape.contains("heartbeat_frames_accepted_total 0"), "{scrape}");
}

#[test]
fn without_the_file_the_same_recording_is_believed() {
    let lab = Lab::new();
    let recording = recorded_then_stopped(&lab);
    std::fs::remove_file(lab.path("replay")).unwrap();

    let (after, log, _) = replayed_at_restarted_b(&lab, &recording);
    assert_eq!(after["replay_file"]["loaded"], "missing", "{after:#}");
    assert!(log.iter().any(|v| kind(v, "up")), "the replay did not bring A up: {log:#?}");
    assert!(peer_a(&after)["generation"].is_u64(), "{after:#}");
}

#[test]
fn a_damaged_file_is_refused_moved_aside_and_the_node_runs() {
    let lab = Lab::new();
    let recording = recorded_then_stopped(&lab);
    let mut bytes = std::fs::read(lab.path("replay")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(lab.path("replay"), &bytes).unwrap();

    let (after, log, _) = replayed_at_restarted_b(&lab, &recording);
    let file = &after["replay_file"];
    assert_eq!(file["loaded"], "refused", "{after:#}");
    assert!(file["reason"].as_str().unwrap().contains("checksum"), "{after:#}");
    assert_eq!(std::fs::read(lab.path("replay.refused")).unwrap(), bytes);
    assert!(log.iter().any(|v| kind(v, "replay-file")), "{log:#?}");
    // As documented: without usable watermarks the node believes the first frames.
    assert!(log.iter().any(|v| kind(v, "up")), "{log:#?}");
    // And it wrote a fresh, valid file again.
    assert!(lab.path("replay").exists());
}
