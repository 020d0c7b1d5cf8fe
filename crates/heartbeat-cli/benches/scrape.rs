//! What a Prometheus scrape of `heartbeat run --metrics` costs the node, against what the node
//! spends heartbeating, in the same run: a node with one live peer and `n - 1` configured but
//! silent ones is scraped `SCRAPES` times back to back; its CPU (user + system, from
//! `/proc/PID/stat`) over the scrapes, less its CPU over an idle stretch of the same length,
//! is the scrapes' cost. The live peer's log must show no suspicion of the node meanwhile.
//!
//! Run: `cargo bench -p heartbeat-cli --bench scrape` (builds the release binary).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRAPES: u32 = 2000;

fn free_udp() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn free_tcp() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// User + system CPU of `pid` so far.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports in USER_HZ, 100 per second on every architecture it runs on.
    Duration::from_millis(ticks * 10)
}

fn scrape(port: u16) -> usize {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.0\r\nAccept: text/plain\r\n\r\n").unwrap();
    let mut body = Vec::new();
    stream.read_to_end(&mut body).unwrap();
    assert!(body.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&body));
    body.len()
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node(args: &[String]) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .arg("run")
        .args(args)
        .args(["--interval", "50ms", "--timeout", "300ms", "--tick", "50ms", "--insecure", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Node(child)
}

/// (bytes per scrape, CPU per scrape, CPU per second idle).
fn measure(peers: u16) -> (usize, Duration, Duration) {
    let (p1, p2, metrics) = (free_udp(), free_udp(), free_tcp());
    let mut args = vec!["--id".into(), "1".into(), "--listen".into(), format!("127.0.0.1:{p1}")];
    args.extend(["--metrics".into(), format!("127.0.0.1:{metrics}")]);
    args.extend(["--peer".into(), format!("2@127.0.0.1:{p2}")]);
    for id in 3..=peers + 1 {
        args.extend(["--peer".into(), format!("{id}@127.0.0.1:9")]);
    }
    let n1 = node(&args);
    let mut n2 = node(
        &["--id", "2", "--listen", &format!("127.0.0.1:{p2}"), "--peer", &format!("1@127.0.0.1:{p1}")]
            .map(String::from),
    );
    std::thread::sleep(Duration::from_secs(2));
    let bytes = scrape(metrics);
    let pid = n1.0.id();
    let (c0, t0) = (cpu(pid), Instant::now());
    for _ in 0..SCRAPES {
        scrape(metrics);
    }
    let (c1, wall) = (cpu(pid), t0.elapsed());
    std::thread::sleep(wall.max(Duration::from_secs(5)));
    let idle_wall = wall.max(Duration::from_secs(5));
    let c2 = cpu(pid);
    let _ = n2.0.kill();
    let out = BufReader::new(n2.0.stdout.take().unwrap());
    let suspicions = out
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.contains("\"kind\":\"suspect\"") || l.contains("\"kind\":\"down\""))
        .count();
    assert_eq!(suspicions, 0, "the peer suspected the node while it was scraped");
    let idle_per_second = (c2 - c1).div_f64(idle_wall.as_secs_f64());
    let busy = (c1 - c0).saturating_sub(idle_per_second.mul_f64(wall.as_secs_f64()));
    (bytes, busy / SCRAPES, idle_per_second)
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: only check that it runs.
    let quick = !std::env::args().any(|a| a == "--bench");
    if quick {
        return;
    }
    println!("scrape cost of `heartbeat run --metrics` ({SCRAPES} scrapes back to back, 50 ms heartbeats)");
    for peers in [1u16, 100] {
        let (bytes, per_scrape, idle) = measure(peers);
        println!(
            "  {peers:>3} peer(s): {bytes:>7} bytes, {:>7.3} ms CPU per scrape; heartbeating alone {:>6.2} ms CPU per second; one scrape = {:.3} s of heartbeating",
            per_scrape.as_secs_f64() * 1e3,
            idle.as_secs_f64() * 1e3,
            per_scrape.as_secs_f64() / idle.as_secs_f64().max(1e-9)
        );
    }
}
