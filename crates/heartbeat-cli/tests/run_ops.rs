//! `heartbeat run` as operators run it: the detector chosen per cluster and per peer, the
//! Prometheus endpoint checked by `promtool` and scraped by a real Prometheus, and scrapes
//! that misbehave without costing a heartbeat.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rustix::process::Signal;

/// A TCP port free on this host a moment ago.
/// `GET path` over HTTP/1.0 with `accept`; the status line and the body.
fn get(port: u16, path: &str, accept: &str) -> std::io::Result<(String, String)> {
    get_from("127.0.0.1", port, path, accept)
}

fn get_from(host: &str, port: u16, path: &str, accept: &str) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.lines().next().unwrap_or("").to_string(), body.to_string()))
}

fn scrape(port: u16) -> String {
    let (status, body) = get(port, "/metrics", "text/plain").unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    body
}

/// Waits for `port` to answer a scrape.
fn scrape_when_ready(port: u16) -> String {
    let end = Instant::now() + PATIENCE;
    loop {
        if let Ok((status, body)) = get(port, "/metrics", "text/plain")
            && status.contains("200")
            && body.contains("heartbeat_peer_state{peer=\"2\",state=\"up\"} 1")
        {
            return body;
        }
        assert!(Instant::now() < end, "no scrape with peer 2 up on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn node_args(me: u16, port: u16, peer: u16, peer_port: u16) -> Vec<String> {
    [
        "run",
        "--id",
        &me.to_string(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--peer",
        &format!("{peer}@127.0.0.1:{peer_port}"),
        "--interval",
        "50ms",
        "--timeout",
        "300ms",
        "--tick",
        "50ms",
        "--insecure",
        "--json",
    ]
    .map(String::from)
    .to_vec()
}

fn spawn(args: &[String]) -> Daemon {
    let mut command = heartbeat();
    command.args(args);
    Daemon::spawn(command)
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_scrape_of_a_running_node_passes_promtool_and_says_what_the_node_knows() {
    let (p1, p2, metrics) = (free_port(), free_port(), free_port());
    let mut args = node_args(1, p1, 2, p2);
    args.extend(["--metrics".into(), format!("127.0.0.1:{metrics}"), "--detector".into(), "two-window".into()]);
    let mut n1 = spawn(&args);
    let n2 = spawn(&node_args(2, p2, 1, p1));
    n1.wait_for(|v| kind(v, "up"));
    let first = scrape_when_ready(metrics);
    // Heartbeats keep coming: the interval histogram fills, the silence stays short.
    std::thread::sleep(Duration::from_millis(500));
    let body = scrape(metrics);
    let (ok, report) = promtool(&body);
    assert!(ok, "promtool check metrics failed:\n{report}\n{body}");
    for needle in [
        "# TYPE heartbeat_peer_state gauge",
        "heartbeat_peer_suspicion{peer=\"2\"}",
        "heartbeat_peer_silence_seconds{peer=\"2\"}",
        "heartbeat_peer_loss_ratio{peer=\"2\"}",
        "heartbeat_peer_rtt_seconds{peer=\"2\"}",
        "heartbeat_peer_timeout_seconds{peer=\"2\"} 0.3",
        "# TYPE heartbeat_peer_heartbeat_interval_seconds histogram",
        "heartbeat_events_total{peer=\"2\",kind=\"up\"} 1",
        "# TYPE heartbeat_frames_rejected_total counter",
        "heartbeat_frames_rejected_total{reason=\"auth\"} 0",
        "# TYPE heartbeat_socket_errors_total counter",
        "heartbeat_local_stalls_total 0",
    ] {
        assert!(body.contains(needle), "{needle} not in\n{body}");
    }
    let count = |text: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with("heartbeat_peer_heartbeat_interval_seconds_count")).unwrap();
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(count(&body) > count(&first) + 4.0, "the interval histogram did not fill:\n{body}");
    // Prometheus itself asks for OpenMetrics, and gets it.
    let (status, open) = get(metrics, "/metrics", "application/openmetrics-text;version=1.0.0").unwrap();
    assert!(status.contains("200") && open.ends_with("# EOF\n"), "{status}\n{open}");
    assert_eq!(get(metrics, "/", "*/*").unwrap().0, "HTTP/1.1 404 Not Found");

    // Node 2 dies without a goodbye: the verdict shows in the events and the state.
    n2.signal(Signal::KILL);
    let down = n1.wait_for(|v| kind(v, "down") && v["peer"] == 2);
    // The verdict says why: the deadline and where it came from, the detector's level, the
    // link's silence, loss and RTT before the silence.
    let source = down["deadline_source"].as_str().unwrap_or_else(|| panic!("{down}"));
    assert!(["estimated", "floor", "ceiling", "negotiated"].contains(&source), "{down}");
    assert!(down["deadline_after_ms"].as_f64().is_some() && down["suspicion"].as_f64().is_some(), "{down}");
    assert!(down["links_silent"].as_str().is_some_and(|l| l.starts_with("0:")), "{down}");
    assert!(down["rtt_ms"].as_f64().is_some() && down["held_by_stall_guard"] == false, "{down}");
    let body = scrape(metrics);
    assert!(body.contains("heartbeat_peer_state{peer=\"2\",state=\"down\"} 1"), "{body}");
    assert!(body.contains("heartbeat_events_total{peer=\"2\",kind=\"down\"} 1"), "{body}");
    let verdict = format!("heartbeat_verdicts_total{{peer=\"2\",verdict=\"down\",source=\"{source}\"}} 1");
    assert!(body.contains(&verdict), "{verdict} not in\n{body}");
    assert!(body.contains("heartbeat_peer_last_verdict_silence_seconds{peer=\"2\"}"), "{body}");
    let (ok, report) = promtool(&body);
    assert!(ok, "promtool check metrics failed:\n{report}\n{body}");
    n1.signal(Signal::TERM);
    assert!(n1.wait_exit(PATIENCE).success());
}

/// Clients that connect and send nothing, send half a request, or send far too much, all at
/// once and more of them than are served together: heartbeats go on (no suspicion either way
/// on a 300 ms timeout) and a well-behaved scrape is answered once the slow ones time out.
#[test]
fn slow_malformed_and_oversized_scrapes_cost_no_heartbeat() {
    let (p1, p2, metrics) = (free_port(), free_port(), free_port());
    let mut args = node_args(1, p1, 2, p2);
    args.extend(["--metrics".into(), format!("127.0.0.1:{metrics}")]);
    let mut n1 = spawn(&args);
    let mut n2 = spawn(&node_args(2, p2, 1, p1));
    n1.wait_for(|v| kind(v, "up"));
    n2.wait_for(|v| kind(v, "up"));
    scrape_when_ready(metrics);

    let mut hogs = Vec::new();
    for i in 0..24 {
        let mut s = TcpStream::connect(("127.0.0.1", metrics)).unwrap();
        match i % 3 {
            0 => {}
            1 => s.write_all(b"GET /metr").unwrap(),
            _ => {
                // Larger than any request head accepted; the server stops reading at 8 KiB.
                let _ = s.write_all(&vec![b'x'; 64 * 1024]);
            }
        }
        hogs.push(s);
    }
    let started = Instant::now();
    let body = scrape(metrics);
    let waited = started.elapsed();
    assert!(body.contains("heartbeat_peer_state{peer=\"2\",state=\"up\"} 1"), "{body}");
    assert!(waited < Duration::from_secs(8), "a scrape waited {waited:?} behind slow clients");
    // The oversized ones were told so.
    let mut answer = String::new();
    hogs[2].set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = hogs[2].read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    drop(hogs);
    std::thread::sleep(Duration::from_millis(300));
    for n in [&mut n1, &mut n2] {
        n.signal(Signal::TERM);
    }
    let (_, log1) = n1.exit();
    let (_, log2) = n2.exit();
    for log in [&log1, &log2] {
        assert!(!log.iter().any(|v| kind(v, "suspect") || kind(v, "down")), "{log:#?}");
    }
}

/// A real Prometheus server scrapes the node once a second; its own API then says the target
/// is up and holds the node's series.
#[test]
fn a_real_prometheus_scrapes_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2, metrics, web) = (free_port(), free_port(), free_port(), free_port());
    let mut args = node_args(1, p1, 2, p2);
    args.extend(["--metrics".into(), format!("127.0.0.1:{metrics}")]);
    let mut n1 = spawn(&args);
    let _n2 = spawn(&node_args(2, p2, 1, p1));
    n1.wait_for(|v| kind(v, "up"));
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: heartbeat\n    \
             static_configs:\n      - targets: ['127.0.0.1:{metrics}']\n"
        ),
    )
    .unwrap();
    let mut prometheus = PrometheusServer::start(&config, &dir.path().join("data"), web);
    let end = Instant::now() + Duration::from_secs(20);
    let (mut up, mut state) = (String::new(), String::new());
    while Instant::now() < end {
        if let Some(status) = prometheus.exited() {
            panic!("prometheus exited: {status:?}");
        }
        up = query(web, "up").unwrap_or_default();
        state = query(web, "heartbeat_peer_state").unwrap_or_default();
        if up.contains("\"value\":[") && up.contains(",\"1\"]") && state.contains("\"state\":\"up\"") {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(up.contains(",\"1\"]"), "up: {up}");
    assert!(state.contains("\"peer\":\"2\"") && state.contains("\"state\":\"up\""), "{state}");
}

fn query(port: u16, expr: &str) -> std::io::Result<String> {
    get(port, &format!("/api/v1/query?query={expr}"), "application/json").map(|(_, body)| body)
}

/// A Prometheus server of the test's own, killed when dropped.
struct PrometheusServer(std::process::Child);

impl PrometheusServer {
    fn start(config: &Path, data: &Path, web: u16) -> PrometheusServer {
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian package `prometheus`) must be installed");
        PrometheusServer(child)
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().unwrap()
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_detector_is_chosen_per_cluster_and_per_peer_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let control = dir.path().join("n1.sock");
    let file = dir.path().join("n1.toml");
    std::fs::write(
        &file,
        format!(
            "id = 1\nlisten = [\"127.0.0.1:{p1}\"]\ninterval = \"50ms\"\ntimeout = \"300ms\"\ntick = \"50ms\"\n\
             insecure = true\ncontrol = \"{}\"\nlocal_pause = \"5ms\"\n\n\
             [detector]\nkind = \"phi\"\nthreshold = 8.0\nmin_std_deviation = \"20ms\"\n\
             acceptable_heartbeat_pause = \"50ms\"\nfirst_heartbeat_estimate = \"50ms\"\n\n\
             [[peer]]\nid = 2\naddr = [\"127.0.0.1:{p2}\"]\n\n\
             [[peer]]\nid = 3\naddr = [\"127.0.0.1:{p3}\"]\ndetector = {{ kind = \"adaptive\", target_mistakes_per_hour = 0.5 }}\n",
            control.display()
        ),
    )
    .unwrap();
    let mut n1 = spawn(&["run".into(), "--config".into(), file.display().to_string(), "--json".into()]);
    let started = n1.wait_for(|v| v["message"] == "node started");
    assert_eq!(started["detector"], "phi; peer 3: adaptive", "{started}");
    assert_eq!(started["local_pause_ms"], 5.0, "{started}");
    let n2 = spawn(&node_args(2, p2, 1, p1));
    let _n3 = spawn(&node_args(3, p3, 1, p1));
    let first = n1.wait_for(|v| kind(v, "up"));
    let other = if first["peer"] == 2 { 3 } else { 2 };
    n1.wait_for(|v| kind(v, "up") && v["peer"] == other);
    let out = run(&["status", "--control", control.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let detector_of =
        |id: u64| report["peers"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()["detector"].clone();
    assert_eq!((detector_of(2), detector_of(3)), ("phi".into(), "adaptive".into()), "{report}");
    let table = text(&run(&["status", "--control", control.to_str().unwrap()]).stdout);
    assert!(table.contains("DETECTOR") && table.contains("phi") && table.contains("local stalls 0"), "{table}");
    // φ convicts a peer that stops: down well within a second of its last heartbeat.
    n2.signal(Signal::KILL);
    let down = n1.wait_for(|v| kind(v, "down") && v["peer"] == 2);
    assert!(down["silent_ms"].as_f64().unwrap() < 1000.0, "{down}");
    // The status keeps the evidence; φ's suspicion at a down verdict is at least the threshold.
    let out = run(&["status", "--control", control.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let peer = report["peers"].as_array().unwrap().iter().find(|p| p["id"] == 2).unwrap().clone();
    let verdict = &peer["last_verdict"];
    assert_eq!(verdict["verdict"], "down", "{peer}");
    assert!(verdict["suspicion"].as_f64().unwrap() >= 8.0 || verdict["deadline_source"] != "estimated", "{peer}");
    assert_eq!(verdict["link_silent_ms"].as_array().map(Vec::len), Some(1), "{peer}");
    let table = text(&run(&["status", "--control", control.to_str().unwrap()]).stdout);
    assert!(table.contains("peer 2 last down at"), "{table}");
}

#[test]
fn a_detector_the_library_would_refuse_is_refused_with_its_field_and_range() {
    let base = ["run", "--id", "1", "--listen", "127.0.0.1:0", "--insecure"];
    let out = run(&[&base[..], &["--timeout", "10ms", "--interval", "1s"]].concat());
    assert_refused(&out, "`timeout`: must lie within [min_timeout, max_timeout] (10ms given; allowed: 200ms to 2000ms");
    let out = run(&[&base[..], &["--detector", "adaptive", "--target-mistakes-per-hour", "0"]].concat());
    assert_refused(&out, "`detector.target_mistakes_per_hour`: 0 must lie within [0.000001, 3600]");
    let out = run(&[&base[..], &["--detector", "phi", "--min-std-deviation", "2h"]].concat());
    assert_refused(&out, "`detector.min_std_deviation`: 7200.0s must lie within [1µs, 3600.0s]");
    let out = run(&[&base[..], &["--detector", "fixed", "--alpha", "1s"]].concat());
    assert_refused(&out, "`detector.alpha`: applies to the chen and two-window detector, not to fixed");
    let out = run(&[&base[..], &["--detector", "gossip"]].concat());
    assert_refused(&out, "`detector.kind`: 'gossip' is not one of fixed, adaptive, phi, chen, two-window");
    let out = run(&[&base[..], &["--local-pause", "soon"]].concat());
    assert_refused(&out, "`local_pause`");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("n.toml");
    std::fs::write(
        &file,
        "id = 1\nlisten = [\"127.0.0.1:0\"]\ninsecure = true\n[[peer]]\nid = 2\naddr = [\"127.0.0.1:9\"]\n\
         detector = { kind = \"phi\", threshold = 1000.0 }\n",
    )
    .unwrap();
    let out = run(&["run", "--config", file.to_str().unwrap()]);
    assert_refused(&out, "`peer 2 detector.threshold`: 1000 must lie within [0.5, 100]");
}

/// Two nodes in two network namespaces; iptables in node 2's drops what node 1 sends, so node
/// 1 hears node 2 but node 2 never hears node 1. Node 1 reports node 2 `asymmetric` — with an
/// event, in its status and its metrics — not up and not down; lifting the rule ends it.
#[test]
fn a_path_cut_one_way_with_iptables_is_asymmetric_not_up_and_not_down() {
    use heartbeat_tests::netns::{Namespace, veth};
    let (a, b) = (Namespace::new("ops-asym-a").unwrap(), Namespace::new("ops-asym-b").unwrap());
    veth(&a, "veth-a", &b, "veth-b").unwrap();
    a.add_address("veth-a", "198.18.7.1".parse().unwrap(), 30).unwrap();
    b.add_address("veth-b", "198.18.7.2".parse().unwrap(), 30).unwrap();
    b.block_udp_port(7002).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("n1.sock");
    let node = |ns: &Namespace, me: u16, addr: &str, peer: &str, extra: &[&str]| {
        let mut command = ns.command(env!("CARGO_BIN_EXE_heartbeat"));
        command.args(["run", "--id", &me.to_string(), "--listen", addr, "--peer", peer]);
        command.args(["--interval", "50ms", "--timeout", "300ms", "--tick", "50ms", "--insecure", "--json"]);
        command.args(extra);
        Daemon::spawn(command)
    };
    let metrics = free_port();
    let metrics_addr = format!("198.18.7.1:{metrics}");
    let mut n1 = node(
        &a,
        1,
        "198.18.7.1:7001",
        "2@198.18.7.2:7002",
        &["--control", control.to_str().unwrap(), "--metrics", &metrics_addr],
    );
    let mut n2 = node(&b, 2, "198.18.7.2:7002", "1@198.18.7.1:7001", &[]);
    n1.wait_for(|v| kind(v, "up") && v["peer"] == 2);
    let one_way = n1.wait_for(|v| kind(v, "asymmetric"));
    assert_eq!(one_way["peer"], 2, "{one_way}");
    let out = run(&["status", "--control", control.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let peer = &report["peers"][0];
    assert_eq!(
        (peer["state"].as_str(), peer["reachability"].as_str()),
        (Some("asymmetric"), Some("asymmetric")),
        "{peer}"
    );
    assert_eq!(peer["hears_us"], false, "{peer}");
    let table = text(&run(&["status", "--control", control.to_str().unwrap()]).stdout);
    assert!(table.lines().any(|l| l.starts_with("2 ") && l.contains("asymmetric")), "{table}");
    // The scrape from inside node 1's namespace (its address lives there).
    let (_, body) = a.within(|| get_from("198.18.7.1", metrics, "/metrics", "text/plain")).unwrap().unwrap();
    assert!(body.contains("heartbeat_peer_state{peer=\"2\",state=\"asymmetric\"} 1"), "{body}");
    assert!(body.contains("heartbeat_events_total{peer=\"2\",kind=\"asymmetric\"} 1"), "{body}");
    // Node 2 never hears node 1: it declares it down after its start-up deadline.
    n2.wait_for(|v| kind(v, "down") && v["peer"] == 1);

    b.unblock_udp_port(7002).unwrap();
    n1.wait_for(|v| kind(v, "symmetric") && v["peer"] == 2);
    n2.wait_for(|v| kind(v, "up") && v["peer"] == 1);
    let out = run(&["status", "--control", control.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["peers"][0]["state"], "up", "{report}");
    n1.signal(Signal::TERM);
    let (_, log) = n1.exit();
    assert!(!log.iter().any(|v| kind(v, "down") || kind(v, "suspect")), "node 2 was always heard: {log:#?}");
}

/// Under systemd (`Type=notify`, `WatchdogSec=`), against a notify socket of the test's own:
/// `READY=1` once the sockets are bound, `WATCHDOG=1` every half period while the node runs,
/// `STOPPING=1` on SIGTERM, then the goodbye the peer logs as `left`.
#[test]
fn systemd_hears_ready_watchdog_and_stopping_and_the_peer_a_goodbye() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let systemd = UnixDatagram::bind(&socket_path).unwrap();
    systemd.set_read_timeout(Some(PATIENCE)).unwrap();
    let (p1, p2) = (free_port(), free_port());
    let control = dir.path().join("n1.sock");
    // systemd names the main process in WATCHDOG_PID: the shell execs the node, same pid.
    let args = node_args(1, p1, 2, p2).join(" ");
    let script = format!(
        "export WATCHDOG_PID=$$; exec {} {args} --control {}",
        env!("CARGO_BIN_EXE_heartbeat"),
        control.display()
    );
    let mut command = Command::new("/bin/sh");
    command.args(["-c", &script]).env("NOTIFY_SOCKET", &socket_path).env("WATCHDOG_USEC", "200000");
    let mut n2 = spawn(&node_args(2, p2, 1, p1));
    let mut n1 = Daemon::spawn(command);
    let recv = || {
        let mut buf = [0u8; 4096];
        let n = systemd.recv(&mut buf).expect("no notification from the node");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = recv();
    assert!(first.lines().any(|l| l == "READY=1"), "{first:?}");
    assert!(first.contains("STATUS=node 1 watching 1 peer(s)"), "{first:?}");
    // Ready means bound: the node's UDP port and control socket are taken.
    assert!(std::net::UdpSocket::bind(("127.0.0.1", p1)).is_err(), "READY before the socket was bound");
    assert!(control.exists(), "READY before the control socket was bound");
    let started = Instant::now();
    let mut pings = 0;
    while pings < 5 {
        let message = recv();
        assert_eq!(message, "WATCHDOG=1\n", "{message:?}");
        pings += 1;
    }
    let per_ping = started.elapsed() / pings;
    assert!(per_ping < Duration::from_millis(200), "pings every {per_ping:?}: the period is 200 ms");
    n1.signal(Signal::TERM);
    let stopping = loop {
        let message = recv();
        if message != "WATCHDOG=1\n" {
            break message;
        }
    };
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    assert!(n1.wait_exit(PATIENCE).success());
    n2.wait_for(|v| kind(v, "left") && v["peer"] == 1);
}

/// Control clients that connect and never read, and others that connect and hang up at once,
/// delay no heartbeat: neither node doubts the other, and the status answers afterwards.
#[test]
fn control_clients_that_never_read_delay_no_heartbeat() {
    use std::os::unix::net::UnixStream;
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let control = dir.path().join("n1.sock");
    let mut args = node_args(1, p1, 2, p2);
    args.extend(["--control".to_string(), control.display().to_string()]);
    let mut n1 = spawn(&args);
    let mut n2 = spawn(&node_args(2, p2, 1, p1));
    n1.wait_for(|v| kind(v, "up") && v["peer"] == 2);
    n2.wait_for(|v| kind(v, "up") && v["peer"] == 1);
    let started = Instant::now();
    let mut silent = Vec::new();
    let mut hung_up = 0;
    // 1.5 s, five timeouts: 300 clients that never read, and as many as fit that hang up.
    while started.elapsed() < Duration::from_millis(1500) {
        if silent.len() < 300 {
            silent.push(UnixStream::connect(&control).unwrap());
        }
        if UnixStream::connect(&control).is_ok() {
            hung_up += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(silent);
    let doubt = |v: &serde_json::Value| ["suspect", "down"].iter().any(|k| kind(v, k));
    assert_eq!(n1.wait_for_within(Duration::from_millis(400), doubt), None, "node 1 doubted its peer");
    assert_eq!(n2.wait_for_within(Duration::from_millis(100), doubt), None, "node 2 doubted its peer");
    assert!(hung_up > 100, "only {hung_up} clients connected");
    let out = run(&["status", "--control", &control.display().to_string(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"state\":\"up\""), "{}", text(&out.stdout));
}

/// Under systemd, stdout is the journal: lines carry its priority prefix and no timestamp of
/// their own. Elsewhere (or when `JOURNAL_STREAM` names another file) they are plain.
#[test]
fn lines_to_the_journal_carry_its_priority_and_no_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let plain_args = |me, port, peer, peer_port| {
        let mut args = node_args(me, port, peer, peer_port);
        args.retain(|a| a != "--json");
        args.join(" ")
    };
    // `stat -c %d:%i` is what systemd writes into JOURNAL_STREAM: the stream's device:inode.
    let node = |name: &str, journal: &str| {
        let out = dir.path().join(name);
        let script = format!(
            "exec >{out}; {journal} exec {bin} {args}",
            journal = journal.replace("OUT", &out.display().to_string()),
            out = out.display(),
            bin = env!("CARGO_BIN_EXE_heartbeat"),
            args = plain_args(1, p1, 2, p2)
        );
        (out, script)
    };
    let read_until = |path: &Path, done: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if done(&text) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let cases = [
        ("journal.log", "export JOURNAL_STREAM=$(stat -L -c %d:%i OUT);", true),
        ("other.log", "export JOURNAL_STREAM=1:1;", false),
        ("plain.log", "unset JOURNAL_STREAM;", false),
    ];
    for (name, journal, prefixed) in cases {
        let (out, script) = node(name, journal);
        let n2 = spawn(&node_args(2, p2, 1, p1));
        let mut n1 = Daemon::spawn({
            let mut c = Command::new("/bin/sh");
            c.args(["-c", &script]);
            c
        });
        read_until(&out, &|t| t.contains("peer 2 is up"));
        n2.signal(Signal::KILL);
        let text = read_until(&out, &|t| t.contains("peer 2 is down"));
        n1.signal(Signal::TERM);
        assert!(n1.wait_exit(PATIENCE).success());
        let up = text.lines().find(|l| l.contains("peer 2 is up")).unwrap_or_else(|| panic!("{name}: {text}"));
        let down = text.lines().find(|l| l.contains("peer 2 is down")).unwrap_or_else(|| panic!("{name}: {text}"));
        if prefixed {
            assert!(up.starts_with("<6>") && down.starts_with("<4>"), "{name}: {up:?} / {down:?}");
            // No timestamp: the level follows the prefix directly.
            assert!(up.trim_start_matches("<6>").trim_start().starts_with("INFO"), "{name}: {up:?}");
        } else {
            assert!(!up.starts_with('<') && !down.starts_with('<'), "{name}: {up:?} / {down:?}");
            assert!(up.starts_with(|c: char| c.is_ascii_digit()), "{name}: a timestamp first: {up:?}");
        }
    }
}

/// The unit in contrib/systemd is what the node speaks (`Type=notify`, a watchdog, SIGTERM for
/// the goodbye) and what systemd accepts (`systemd-analyze verify`, with ExecStart pointed at
/// the binary under test).
#[test]
fn the_systemd_unit_matches_the_node_and_systemd_accepts_it() {
    let unit_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/systemd/heartbeat.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    for line in ["Type=notify", "NotifyAccess=main", "KillSignal=SIGTERM"] {
        assert!(unit.lines().any(|l| l == line), "{line} not in {}", unit_path.display());
    }
    assert!(unit.lines().any(|l| l.starts_with("WatchdogSec=")), "no watchdog");
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let config = exec.split("--config ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(exec.starts_with("/usr/local/bin/heartbeat run "), "{exec}");
    assert_eq!(config, "/etc/heartbeat/node.toml");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("heartbeat-under-test.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/heartbeat", env!("CARGO_BIN_EXE_heartbeat"))).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", copy.to_str().unwrap()])
        .output()
        .expect("systemd-analyze (Debian package `systemd`) must be installed");
    assert!(out.status.success(), "{}{}", text_of(&out.stdout), text_of(&out.stderr));
}
