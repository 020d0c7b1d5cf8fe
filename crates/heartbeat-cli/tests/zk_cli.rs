//! `heartbeat zk-server` and `heartbeat zk-client` end to end on loopback: a client session is
//! created, kept, closed at once on SIGTERM, and a SIGKILLed client's session expires at its
//! deadline; `heartbeat status` prints the session table. Plus refusals.

mod common;

use std::time::Duration;

use rustix::process::Signal;

use self::common::{Daemon, assert_refused, heartbeat, kind, run, text};

fn server(tick: &str, extra: &[&str]) -> (Daemon, String) {
    let mut command = heartbeat();
    command.args(["zk-server", "--listen", "127.0.0.1:0", "--tick", tick, "--json"]).args(extra);
    let mut d = Daemon::spawn(command);
    let started = d.wait_for(|v| kind(v, "started"));
    let listen = started["listen"].as_str().unwrap().to_owned();
    (d, listen)
}

fn client(servers: &str, timeout: &str, extra: &[&str]) -> Daemon {
    let mut command = heartbeat();
    command.args(["zk-client", "--servers", servers, "--timeout", timeout, "--json"]).args(extra);
    Daemon::spawn(command)
}

#[test]
fn a_client_session_is_created_kept_and_closed_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("zk.sock");
    let (mut srv, listen) = server("100ms", &["--control", control.to_str().unwrap()]);
    let mut c = client(&listen, "400ms", &[]);
    let connected = c.wait_for(|v| kind(v, "connected"));
    assert_eq!(connected["timeout_ms"], 400.0, "{connected}");
    let created = srv.wait_for(|v| kind(v, "created"));
    assert_eq!(created["session"], connected["session"]);

    // Three timeouts of pings: no expiry, and the table shows the session.
    std::thread::sleep(Duration::from_millis(1200));
    let out = run(&["status", "--control", control.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["zk_sessions"][0]["session"], connected["session"], "{report}");
    assert_eq!(report["expired"], 0, "{report}");
    assert!(report["pings"].as_u64().unwrap() >= 6, "{report}");
    let table = text(&run(&["status", "--control", control.to_str().unwrap()]).stdout);
    assert!(table.contains(connected["session"].as_str().unwrap()) && table.contains("400ms"), "{table}");

    c.signal(Signal::TERM);
    let (code, log) = c.exit();
    assert!(code.success(), "{code:?} {log:#?}");
    assert!(log.iter().any(|v| kind(v, "closed")), "{log:#?}");
    let closed = srv.wait_for(|v| kind(v, "closed"));
    assert_eq!(closed["session"], connected["session"]);
    srv.signal(Signal::INT);
    let (code, log) = srv.exit();
    assert!(code.success());
    assert!(!log.iter().any(|v| kind(v, "expired")), "{log:#?}");
    assert!(!control.exists());
}

#[test]
fn a_killed_client_expires_at_its_deadline() {
    let (mut srv, listen) = server("100ms", &[]);
    let mut c = client(&listen, "300ms", &[]);
    let connected = c.wait_for(|v| kind(v, "connected"));
    std::thread::sleep(Duration::from_millis(250));
    c.signal(Signal::KILL);
    let expired = srv.expect_within(Duration::from_secs(2), |v| kind(v, "expired"));
    assert_eq!(expired["session"], connected["session"]);
    assert_eq!(expired["timeout_ms"], 300.0);
    let late = expired["late_ms"].as_f64().unwrap();
    assert!((0.0..20.0).contains(&late), "{expired}");
    srv.signal(Signal::TERM);
    assert!(srv.exit().0.success());
}

#[test]
fn close_after_ends_the_session_and_bad_settings_are_refused() {
    let (mut srv, listen) = server("100ms", &[]);
    let (code, log) = client(&listen, "400ms", &["--close-after", "500ms"]).exit();
    assert!(code.success(), "{log:#?}");
    assert!(log.iter().any(|v| kind(v, "closed")), "{log:#?}");
    srv.wait_for(|v| kind(v, "closed"));
    srv.signal(Signal::TERM);
    assert!(srv.exit().0.success());

    let out = run(&["zk-server", "--listen", "127.0.0.1:0", "--min-timeout", "5s", "--max-timeout", "1s"]);
    assert_refused(&out, "invalid timeouts");
    let out = run(&["zk-server", "--listen", "192.0.2.1:0"]);
    assert_refused(&out, "invalid `listen`");
    let out = run(&["zk-server", "--listen", "127.0.0.1:0", "--pause-bound", "soon"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--pause-bound"), "{out:?}");
}

/// kazoo (Debian `python3-kazoo`) against `heartbeat zk-server`: the script of the root
/// package's interop tests, run by the system python that has kazoo.
fn kazoo(server: &str, args: &[&str]) -> Kazoo {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/support/kazoo_session.py");
    Kazoo(
        std::process::Command::new("/usr/bin/python3")
            .arg(script)
            .arg(server)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("/usr/bin/python3 (apt-get install -y python3-kazoo)"),
    )
}

/// A kazoo process, killed when dropped (a failing test leaves none behind).
struct Kazoo(std::process::Child);

impl Drop for Kazoo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines(child: &mut std::process::Child) -> std::io::Lines<std::io::BufReader<std::process::ChildStdout>> {
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap()).lines()
}

#[test]
fn kazoo_holds_a_session_with_the_binary_and_a_killed_one_expires() {
    let (mut srv, listen) = server("500ms", &[]);
    let mut k = kazoo(&listen, &["stay", "2000", "2.5"]);
    let mut out = lines(&mut k.0);
    let connected = out.next().expect("kazoo connected").unwrap();
    assert!(connected.starts_with("connected ") && connected.ends_with(" 2000"), "{connected}");
    let created = srv.wait_for(|v| kind(v, "created"));
    assert_eq!(created["timeout_ms"], 2000.0);
    assert_eq!(Some(created["session"].as_str().unwrap()), connected.split(' ').nth(1));
    assert_eq!(out.next().unwrap().unwrap(), "alive 0");
    assert_eq!(out.next().unwrap().unwrap(), "stopped");
    // kazoo's stop waited for the reply: the Closed line is already on its way.
    let closed = srv.expect_within(Duration::from_millis(500), |v| kind(v, "closed"));
    assert_eq!(closed["session"], created["session"]);
    assert!(k.0.wait().unwrap().success());

    let mut k = kazoo(&listen, &["hold", "1000"]);
    let connected = lines(&mut k.0).next().expect("kazoo connected").unwrap();
    let created = srv.wait_for(|v| kind(v, "created"));
    std::thread::sleep(Duration::from_millis(400));
    drop(k);
    let expired = srv.expect_within(Duration::from_secs(2), |v| kind(v, "expired"));
    assert_eq!(expired["session"], created["session"], "{connected}");
    assert!((0.0..10.0).contains(&expired["late_ms"].as_f64().unwrap()), "{expired}");
    srv.signal(Signal::TERM);
    assert!(srv.exit().0.success());
}

#[test]
fn zk_client_holds_a_session_with_the_real_zookeeper() {
    let zk = heartbeat_tests::zookeeper::ZooKeeper::start(500, &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut c = client(&zk.addr().to_string(), "2s", &["--close-after", "6s"]);
    let connected = c.wait_for(|v| kind(v, "connected"));
    assert_eq!(connected["timeout_ms"], 2000.0, "{connected}");
    let sid = format!("sid={}", connected["session"].as_str().unwrap());
    assert!(zk.cons().unwrap().contains(&sid), "{sid}");
    let (code, log) = c.exit();
    assert!(code.success(), "{log:#?}");
    assert!(log.iter().any(|v| kind(v, "closed")), "{log:#?}");
    assert!(!log.iter().any(|v| kind(v, "disconnected") || kind(v, "expired")), "{log:#?}");
    let end = std::time::Instant::now() + Duration::from_secs(2);
    while zk.cons().unwrap().contains(&sid) {
        assert!(std::time::Instant::now() < end, "{sid} outlived its close");
        std::thread::sleep(Duration::from_millis(50));
    }
}
