//! How long from an event to its hook starting, with the real binary on loopback, against the
//! same command started directly by this process (the baseline: what starting `sh` and `date`
//! costs on this machine).
//!
//! Node 1 runs a hook on `up`, `restarted` and `down` that appends `date +%s.%N`; node 2 is
//! started and SIGKILLed `HEARTBEAT_HOOK_SAMPLES` times (default 40). The event's time is node
//! 1's JSON log line for it (logged just before it is handed to the hooks); hooks of one peer
//! run in event order, so the n-th hook start is the n-th such event's.
//!
//! `cargo bench -p heartbeat-cli --bench hook_latency`

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HOOK: &str = "date +%s.%N >> \"$0\"";

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn node(dir: &Path, me: u64, port: u16, peer: (u64, u16), generation: u32, extra: &str) -> Child {
    let file = dir.join(format!("node{me}.toml"));
    let text = format!(
        "id = {me}\nlisten = [\"127.0.0.1:{port}\"]\ninterval = \"50ms\"\ntimeout = \"300ms\"\ntick = \"50ms\"\ninsecure = true\ngeneration = {generation}\n{extra}[[peer]]\nid = {}\naddr = [\"127.0.0.1:{}\"]\n",
        peer.0, peer.1
    );
    std::fs::write(&file, text).unwrap();
    Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .args(["run", "--json", "--config", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wall(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn read_times(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn summary(name: &str, mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<28} n={:<3} p50 {:>7.3} ms  p90 {:>7.3} ms  max {:>7.3} ms",
        ms.len(),
        at(0.5),
        at(0.9),
        ms[ms.len() - 1]
    );
    at(0.5)
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: do one sample only then.
    let samples: usize = std::env::var("HEARTBEAT_HOOK_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if std::env::args().any(|a| a == "--bench") { 40 } else { 2 });
    let dir = tempfile::tempdir().unwrap();

    // Baseline: the same command, started here.
    let base_file = dir.path().join("baseline.times");
    let mut baseline = Vec::new();
    for _ in 0..samples {
        let before = wall(SystemTime::now());
        let status = Command::new("sh").args(["-c", HOOK, base_file.to_str().unwrap()]).status().unwrap();
        assert!(status.success());
        let stamped = *read_times(&base_file).last().unwrap();
        baseline.push((stamped - before) * 1e3);
    }

    let hook_file = dir.path().join("hook.times");
    let (p1, p2) = (free_port(), free_port());
    let hooks = format!(
        "[[hook]]\nevents = [\"up\", \"restarted\", \"down\"]\ncommand = [\"sh\", \"-c\", {HOOK:?}, {:?}]\ntimeout = \"5s\"\n",
        hook_file.to_str().unwrap()
    );
    let mut n1 = node(dir.path(), 1, p1, (2, p2), 1, &hooks);
    // Every event a hook runs for, in order: (is a down, when logged).
    let (tx, lines) = mpsc::channel::<(bool, f64)>();
    // And each hook's time in its queue, as the runner logs it.
    let (waited_tx, waited) = mpsc::channel::<f64>();
    let stdout = n1.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if let Some(ms) = v["waited_ms"].as_f64().filter(|_| v["kind"] == "hook") {
                let _ = waited_tx.send(ms);
            }
            if ["up", "restarted", "down"].iter().any(|k| v["kind"] == *k) {
                let stamp = wall(humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).unwrap());
                let _ = tx.send((v["kind"] == "down", stamp));
            }
        }
    });
    let mut events = Vec::new();
    let mut wait = |down: bool| {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            let event = lines.recv_timeout(end - Instant::now()).expect("the event in time");
            events.push(event);
            if event.0 == down {
                return;
            }
        }
    };
    for i in 0..samples {
        let mut n2 = node(dir.path(), 2, p2, (1, p1), 2 + i as u32, "");
        wait(false);
        // A random-ish phase for the kill.
        std::thread::sleep(Duration::from_millis(50 + (i as u64 * 37) % 100));
        n2.kill().unwrap();
        n2.wait().unwrap();
        wait(true);
    }
    // Let the last hook finish.
    let end = Instant::now() + Duration::from_secs(10);
    while read_times(&hook_file).len() < events.len() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = n1.kill();
    let _ = n1.wait();
    let starts = read_times(&hook_file);
    assert_eq!(starts.len(), events.len(), "a hook did not run");
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for ((is_down, event), start) in events.iter().zip(&starts) {
        let ms = (start - event) * 1e3;
        if *is_down { down.push(ms) } else { up.push(ms) }
    }
    println!("event (logged) -> hook's first command, `heartbeat run`, {samples} samples each:");
    let b = summary("baseline: sh -c date, direct", baseline);
    let u = summary("hook on up / restarted", up);
    let d = summary("hook on down", down);
    summary("of which waiting in its queue", waited.try_iter().collect());
    println!("ratio p50 hook/baseline: up {:.2}, down {:.2}", u / b, d / b);
}
