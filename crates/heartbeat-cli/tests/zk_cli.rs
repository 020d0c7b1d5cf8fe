//! `heartbeat zk-server` and `heartbeat zk-client` end to end on loopback: a client session is
//! created, kept, closed at once on SIGTERM, and a SIGKILLed client's session expires at its
//! deadline; `heartbeat status` prints the session table. Plus refusals.

mod common;

use std::time::Duration;

use rustix::process::Signal;

use self::common::{Daemon, assert_refused, heartbeat, kind, run, text};

fn server(extra: &[&str]) -> (Daemon, String) {
    let mut command = heartbeat();
    command.args(["zk-server", "--listen", "127.0.0.1:0", "--tick", "100ms", "--json"]).args(extra);
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
    let (mut srv, listen) = server(&["--control", control.to_str().unwrap()]);
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
    let (mut srv, listen) = server(&[]);
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
    let (mut srv, listen) = server(&[]);
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
}
