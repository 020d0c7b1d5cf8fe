//! Hook metrics on a real node's Prometheus endpoint: one `up` runs four hooks — one that
//! succeeds, one that fails, one that hangs past its timeout and one whose program does not
//! exist — and the scrape counts each by kind and outcome, times the three that ran, shows
//! the one waiting behind the hung hook as queued, and passes `promtool check metrics`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// The body of a successful scrape, or the error.
fn scrape(port: u16) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(std::io::Error::other(format!("not a 200 answer: {text}"))),
    }
}

/// Scrapes until one satisfies `want`; returns it.
fn scrape_until(port: u16, what: &str, want: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + PATIENCE;
    loop {
        if let Ok(body) = scrape(port)
            && want(&body)
        {
            return body;
        }
        assert!(Instant::now() < end, "never saw {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The value of the sample `series` (exact name and labels), if present.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

fn node(dir: &std::path::Path, me: u64, port: u16, peer: u16, extra: &str) -> Daemon {
    let file = format!(
        "id = {me}\nlisten = [\"127.0.0.1:{port}\"]\ninterval = \"50ms\"\ntimeout = \"300ms\"\ntick = \"50ms\"\ninsecure = true\n{extra}[[peer]]\nid = {}\naddr = [\"127.0.0.1:{peer}\"]\n",
        3 - me
    );
    let path = dir.join(format!("node{me}.toml"));
    std::fs::write(&path, file).unwrap();
    let mut command = heartbeat();
    command.args(["run", "--json", "--config", path.to_str().unwrap()]);
    Daemon::spawn(command)
}

#[test]
fn hook_runs_are_counted_by_kind_and_outcome_timed_and_queued() {
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let metrics = free_port();
    let hook = |command: &str, timeout: &str| {
        format!("[[hook]]\nevents = [\"up\"]\ncommand = [{command}]\ntimeout = \"{timeout}\"\n")
    };
    // One peer's runs go one at a time, in file order: the missing program waits behind the
    // hung one.
    let hooks = [
        hook("\"true\"", "5s"),
        hook("\"sh\", \"-c\", \"exit 3\"", "5s"),
        hook("\"sleep\", \"30\"", "1500ms"),
        hook(&format!("\"{}\"", dir.path().join("no-such-program").display()), "5s"),
    ]
    .concat();
    let top = format!("metrics = \"127.0.0.1:{metrics}\"\n");
    let mut n1 = node(dir.path(), 1, p1, p2, &format!("{top}{hooks}"));
    let _n2 = node(dir.path(), 2, p2, p1, "");
    n1.wait_for(|v| kind(v, "up"));

    let series = |outcome: &str| format!("heartbeat_hook_runs_total{{kind=\"up\",outcome=\"{outcome}\"}}");
    let during = scrape_until(metrics, "the failed run counted", |b| sample(b, &series("failed")) == Some(1.0));
    // The hung hook holds its place; the last one waits.
    assert_eq!(sample(&during, &series("ok")), Some(1.0), "{during}");
    assert_eq!(sample(&during, &series("timed_out")), None, "{during}");
    assert_eq!(sample(&during, "heartbeat_hooks_queued"), Some(1.0), "{during}");

    let after = scrape_until(metrics, "every run counted", |b| sample(b, &series("not_started")) == Some(1.0));
    assert_eq!(sample(&after, &series("ok")), Some(1.0), "{after}");
    assert_eq!(sample(&after, &series("failed")), Some(1.0), "{after}");
    assert_eq!(sample(&after, &series("timed_out")), Some(1.0), "{after}");
    assert_eq!(sample(&after, "heartbeat_hooks_queued"), Some(0.0), "{after}");
    // Three ran (the missing program never did); the hung one ran until its timeout.
    assert_eq!(sample(&after, "heartbeat_hook_duration_seconds_count{kind=\"up\"}"), Some(3.0), "{after}");
    let total = sample(&after, "heartbeat_hook_duration_seconds_sum{kind=\"up\"}").unwrap();
    assert!((1.5..10.0).contains(&total), "{total} s in {after}");
    assert!(after.contains("# TYPE heartbeat_hook_duration_seconds histogram"), "{after}");
    assert!(after.contains("# TYPE heartbeat_hook_runs_total counter"), "{after}");
    assert!(after.contains("# TYPE heartbeat_hooks_queued gauge"), "{after}");
    let (ok, report) = promtool(&after);
    assert!(ok, "promtool check metrics failed:\n{report}\n{after}");
}
