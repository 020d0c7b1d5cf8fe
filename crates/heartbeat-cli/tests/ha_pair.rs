//! Two `heartbeat linux-ha` nodes, `hbnode1` in namespace `a` and `hbnode2` in `b`, holding a
//! real resource: the address 198.19.0.10/32 on each namespace's veth, added and removed by an
//! `ip addr` script the test writes. The address's place is read with `ip addr` in both
//! namespaces.
//!
//! - auto_failback on: `hbnode2` alone takes it (after initdead), gives it back when the
//!   preferred `hbnode1` starts (never on both), and takes it again when `hbnode1` is SIGKILLed,
//!   within deadtime plus the script's time (measured and printed).
//! - auto_failback off: it stays on `hbnode2` when `hbnode1` starts; SIGTERM of `hbnode2` hands
//!   it over with no moment where both hold it (both namespaces polled every few ms), and
//!   the gap with neither holding it is measured and bounded.
//! - A partition (iptables drops port 694 both ways) lets both take it; once healed both
//!   report the double holding and the preferred node keeps it, the other stops.
//! - A real Heartbeat 3.0.6 node keeps reporting ours active while our heartbeats carry the
//!   announcement field.
//!
//! Needs root, iproute2, iptables and `heartbeat`; fails saying what is missing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use heartbeat_tests::linuxha::{HaConfig, Heartbeat};
use heartbeat_tests::netns::{Check, Error, Namespace, Pair, wait_for};
use rustix::process::Signal;

use self::common::{Daemon, run, secret_file, text};

const VIP: &str = "198.19.0.10";
const KEEPALIVE_MS: u64 = 100;
const DEADTIME_MS: u64 = 500;
/// What the start script may take on top of the deadtime (fork, exec, `ip addr`) and the
/// test's own polling (one `ip` run per namespace per round), generously for a loaded host.
const HOOK_ALLOWANCE: Duration = Duration::from_millis(250);

struct Node {
    name: &'static str,
    ha_cf: String,
    keys: String,
    config: String,
    control: String,
    hooks: String,
    hook_log: String,
}

/// Writes hbnode's files: `ha.cf` with the other node's address, `authkeys`, the `ip addr`
/// script for its own veth, and the resources file.
fn node(dir: &Path, name: &'static str, dev: &str, peer: &str, failback: &str) -> Node {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let ha_cf = d.join("ha.cf");
    std::fs::write(
        &ha_cf,
        format!(
            "keepalive {KEEPALIVE_MS}ms\nwarntime 300ms\ndeadtime {DEADTIME_MS}ms\ninitdead 1\nudpport 694\n\
ucast {dev} {peer}\nnode hbnode1 hbnode2\nauto_failback {failback}\n"
        ),
    )
    .unwrap();
    let keys = secret_file(&d, "authkeys", "auth 1\n1 sha1 ha-pair-secret", 0o600);
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in\n\
start) exec ip addr replace {VIP}/32 dev {dev} ;;\n\
stop) ip addr del {VIP}/32 dev {dev} 2>/dev/null; exit 0 ;;\n\
status) ip -o addr show dev {dev} | grep -q ' {VIP}/' ;;\n\
esac"
    );
    let script = secret_file(&d, "vip.sh", &script, 0o755);
    let config = d.join("resources.toml");
    std::fs::write(
        &config,
        format!(
            "status_interval = \"1s\"\n\n[[resource]]\nname = \"vip\"\npreferred = \"hbnode1\"\n\
start = {{ command = [\"{script}\", \"start\"], timeout = \"5s\" }}\n\
stop = {{ command = [\"{script}\", \"stop\"], timeout = \"5s\" }}\n\
status = {{ command = [\"{script}\", \"status\"], timeout = \"5s\" }}\n"
        ),
    )
    .unwrap();
    let hook_log = d.join("hooks.log");
    let hooks = d.join("hooks.toml");
    std::fs::write(
        &hooks,
        format!(
            "[[hook]]\nevents = [\"resource-started\", \"resource-stopped\", \"resource-failed\"]\n\
command = [\"/bin/sh\", \"-c\", \"echo \\\"$HEARTBEAT_EVENT $HEARTBEAT_RESOURCE $HEARTBEAT_PEER\\\" >> {}\"]\n",
            hook_log.display()
        ),
    )
    .unwrap();
    Node {
        hooks: hooks.to_str().unwrap().into(),
        hook_log: hook_log.to_str().unwrap().into(),
        name,
        ha_cf: ha_cf.to_str().unwrap().into(),
        keys,
        config: config.to_str().unwrap().into(),
        control: d.join("control.sock").to_str().unwrap().into(),
    }
}

fn start(ns: &Namespace, node: &Node) -> Daemon {
    let mut command = ns.command(env!("CARGO_BIN_EXE_heartbeat"));
    command.args([
        "linux-ha",
        "--ha-cf",
        &node.ha_cf,
        "--authkeys",
        &node.keys,
        "--node-name",
        node.name,
        "--config",
        &node.config,
        "--control",
        &node.control,
        "--hooks",
        &node.hooks,
        "--json",
    ]);
    Daemon::spawn(command)
}

/// Whether the address is on `dev` in `ns`.
fn holds(ns: &Namespace, dev: &str) -> bool {
    let out = Command::new("ip").args(["-n", ns.name(), "-o", "addr", "show", "dev", dev]).output().unwrap();
    assert!(out.status.success(), "ip addr: {}", text(&out.stderr));
    text(&out.stdout).contains(&format!(" {VIP}/32 "))
}

/// Where the address is: (on a, on b).
fn place(net: &Pair) -> (bool, bool) {
    (holds(&net.a, Pair::A_DEV), holds(&net.b, Pair::B_DEV))
}

fn wait_place(net: &Pair, want: (bool, bool), patience: Duration) -> Result<(), Error> {
    wait_for(&format!("the address at (a, b) = {want:?}"), patience, || {
        let now = place(net);
        Ok(if now == want { Check::Done(()) } else { Check::Waiting(format!("{now:?}")) })
    })
}

/// `heartbeat status --json` of `node`: who holds the resource, as it knows.
fn held_by(node: &Node) -> Vec<String> {
    let out = run(&["status", "--control", &node.control, "--json"]);
    if !out.status.success() {
        return Vec::new();
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["resources"][0]["held_by"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn wait_held_by(node: &Node, want: &[&str]) -> Result<(), Error> {
    wait_for(&format!("{} to report the resource held by {want:?}", node.name), Duration::from_secs(10), || {
        let now = held_by(node);
        Ok(if now == want { Check::Done(()) } else { Check::Waiting(format!("{now:?}")) })
    })
}

/// `ip -ts monitor all-nsid address`: every add and delete of the address in either
/// namespace, exact where polling only samples. One netlink socket in the test's namespace
/// hears both (through their namespace ids), so the events come in the kernel's order.
struct AddrEvents {
    child: std::process::Child,
    /// (µs of the day, namespace 0 = a / 1 = b, added), in arrival order.
    events: std::sync::mpsc::Receiver<(u64, usize, bool)>,
}

impl AddrEvents {
    fn start(net: &Pair) -> AddrEvents {
        let mut ids = Vec::new();
        for ns in [&net.a, &net.b] {
            // Already set is fine: the id is read back below.
            let _ = Command::new("ip").args(["netns", "set", ns.name(), "auto"]).output();
        }
        let list = Command::new("ip").args(["netns", "list-id"]).output().unwrap();
        for ns in [&net.a, &net.b] {
            let line = text(&list.stdout)
                .lines()
                .find(|l| l.ends_with(&format!("name: {})", ns.name())))
                .map(String::from)
                .unwrap_or_else(|| panic!("no nsid for {}: {}", ns.name(), text(&list.stdout)));
            let id: String = line.trim_start_matches("nsid ").chars().take_while(char::is_ascii_digit).collect();
            ids.push(id);
        }
        let (tx, events) = std::sync::mpsc::channel();
        let mut child = Command::new("ip")
            .args(["-ts", "monitor", "all-nsid", "address"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(event) = parse_monitor_line(&line, &ids) {
                    let _ = tx.send(event);
                }
            }
        });
        // Let the monitor subscribe before anything changes.
        std::thread::sleep(Duration::from_millis(200));
        AddrEvents { child, events }
    }

    /// Replays the events seen so far, in the kernel's order, from `initial`: fails if both
    /// ever held the address; returns the longest time neither did and the number of events.
    fn check(&self, initial: (bool, bool)) -> (Duration, usize) {
        std::thread::sleep(Duration::from_millis(100));
        let events: Vec<_> = self.events.try_iter().collect();
        let mut state = [initial.0, initial.1];
        let mut neither_since = (!state[0] && !state[1]).then(|| events.first().map_or(0, |e| e.0));
        let mut longest = 0;
        for &(at, ns, added) in &events {
            state[ns] = added;
            assert!(!(state[0] && state[1]), "both held the address at {at} µs: {events:?}");
            match (state, neither_since) {
                ([false, false], None) => neither_since = Some(at),
                ([false, false], Some(_)) => {}
                (_, Some(since)) => {
                    longest = longest.max(at.saturating_sub(since));
                    neither_since = None;
                }
                _ => {}
            }
        }
        (Duration::from_micros(longest), events.len())
    }
}

impl Drop for AddrEvents {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `[2026-12-03T11:16:13.195536] [nsid 3][Deleted ]N: dev inet 198.19.0.10/32 ...` → (µs of
/// the day, which of `ids`, added).
fn parse_monitor_line(line: &str, ids: &[String]) -> Option<(u64, usize, bool)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once("] [nsid ")?;
    let (id, rest) = rest.split_once(']')?;
    let ns = ids.iter().position(|i| i == id)?;
    if !rest.contains(&format!(" {VIP}/32 ")) {
        return None;
    }
    let time = stamp.split_once('T')?.1;
    let mut parts = time.split(':');
    let (h, m, s): (u64, u64, f64) =
        (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    let micros = (h * 3600 + m * 60) * 1_000_000 + (s * 1e6).round() as u64;
    Some((micros, ns, !rest.starts_with("Deleted")))
}

/// Polls both namespaces until the address is only at `want`; fails on any round where both
/// hold it, and returns the longest run of rounds where neither did.
fn watch_handover(net: &Pair, want: (bool, bool), patience: Duration) -> Duration {
    let end = Instant::now() + patience;
    let mut neither_since: Option<Instant> = None;
    let mut longest = Duration::ZERO;
    let mut rounds = 0;
    loop {
        let at = Instant::now();
        let now = place(net);
        rounds += 1;
        assert_ne!(now, (true, true), "both namespaces hold the address (round {rounds})");
        match (now, neither_since) {
            ((false, false), None) => neither_since = Some(at),
            ((false, false), Some(_)) => {}
            (_, Some(since)) => {
                longest = longest.max(at - since);
                neither_since = None;
            }
            _ => {}
        }
        if now == want {
            eprintln!("handover: {rounds} polling rounds, longest gap with neither holding: {longest:?}");
            return longest;
        }
        assert!(Instant::now() < end, "no handover to {want:?} within {patience:?}: at {now:?}");
    }
}

#[test]
fn failback_on_gives_the_address_back_and_a_sigkill_moves_it_within_the_deadtime() -> Result<(), Error> {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().unwrap();
    let one = node(dir.path(), "hbnode1", Pair::A_DEV, &Pair::B_V4.to_string(), "on");
    let two = node(dir.path(), "hbnode2", Pair::B_DEV, &Pair::A_V4.to_string(), "on");

    // hbnode2 alone: it takes the address after initdead although it prefers hbnode1.
    let mut b = start(&net.b, &two);
    b.wait_for(|v| v["kind"] == "resource-started" && v["resource"] == "vip");
    wait_place(&net, (false, true), Duration::from_secs(5))?;

    // The preferred node starts: handed back, never on both.
    let events = AddrEvents::start(&net);
    let mut a = start(&net.a, &one);
    let gap = watch_handover(&net, (true, false), Duration::from_secs(10));
    assert!(gap < Duration::from_millis(500), "neither held it for {gap:?}");
    let (exact, seen) = events.check((false, true));
    eprintln!("failback handover: {seen} address events, neither held it for {exact:?}");
    assert_eq!(seen, 2, "one delete, one add");
    assert!(exact < Duration::from_millis(100), "neither held it for {exact:?}");
    b.wait_for(|v| v["kind"] == "resource-command" && v["command"] == "stop" && v["reason"] == "failback");
    a.wait_for(|v| v["kind"] == "resource-started");
    wait_held_by(&two, &["hbnode1"])?;
    let out = run(&["status", "--control", &two.control]);
    let table = text(&out.stdout);
    assert!(table.lines().any(|l| l.starts_with("vip") && l.contains("hbnode1") && l.contains("stopped")), "{table}");

    // SIGKILL the holder: hbnode2 holds it within deadtime + the script's time.
    let killed = Instant::now();
    a.signal(Signal::KILL);
    wait_for("hbnode2 to hold the address", Duration::from_secs(5), || {
        Ok(if holds(&net.b, Pair::B_DEV) { Check::Done(()) } else { Check::Waiting(String::new()) })
    })?;
    let took = killed.elapsed();
    eprintln!("failover: SIGKILL of the holder -> address on the other node in {took:?} (deadtime {DEADTIME_MS} ms)");
    let dead = b.wait_for(|v| v["kind"] == "dead" && v["node"] == "hbnode1");
    assert!(dead["late_ms"].as_f64().is_some_and(|l| l < 5.0), "declared late: {dead}");
    b.wait_for(|v| v["kind"] == "resource-started");
    assert!(took >= Duration::from_millis(DEADTIME_MS - KEEPALIVE_MS), "faster than possible: {took:?}");
    assert!(took <= Duration::from_millis(DEADTIME_MS) + HOOK_ALLOWANCE, "too slow: {took:?}");

    // The killed node left the address behind. Started again, it first releases it, then gets
    // it back by failback: one delete on each side, then the add, never on both after.
    assert_eq!(place(&net), (true, true), "a SIGKILLed node cannot release");
    // The binary's generation is the wall clock's second: a restart within the same second
    // would look like a replay of the old incarnation.
    std::thread::sleep(Duration::from_millis(1100));
    let events = AddrEvents::start(&net);
    let mut a = start(&net.a, &one);
    a.wait_for(|v| v["kind"] == "resource-released-at-start");
    watch_handover(&net, (true, false), Duration::from_secs(10));
    let (exact, seen) = events.check((true, true));
    assert_eq!(seen, 3, "delete on a, delete on b, add on a");
    eprintln!("restart and failback: neither held it for {exact:?}");
    a.signal(Signal::TERM);
    assert!(a.wait_exit(Duration::from_secs(5)).success());
    b.signal(Signal::TERM);
    assert!(b.wait_exit(Duration::from_secs(5)).success());
    Ok(())
}

#[test]
fn failback_off_keeps_the_address_and_a_graceful_stop_hands_it_over_never_on_both() -> Result<(), Error> {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().unwrap();
    let one = node(dir.path(), "hbnode1", Pair::A_DEV, &Pair::B_V4.to_string(), "off");
    let two = node(dir.path(), "hbnode2", Pair::B_DEV, &Pair::A_V4.to_string(), "off");

    let mut b = start(&net.b, &two);
    b.wait_for(|v| v["kind"] == "resource-started" && v["resource"] == "vip");
    wait_place(&net, (false, true), Duration::from_secs(5))?;

    // The preferred node starts: the address stays where it runs.
    let mut a = start(&net.a, &one);
    a.wait_for(|v| v["kind"] == "up" && v["node"] == "hbnode2");
    wait_held_by(&one, &["hbnode2"])?;
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(place(&net), (false, true), "moved with auto_failback off");
    }

    // SIGTERM of the holder: stop, announce, then the other starts; then the goodbye.
    let events = AddrEvents::start(&net);
    b.signal(Signal::TERM);
    let gap = watch_handover(&net, (true, false), Duration::from_secs(10));
    assert!(gap < Duration::from_millis(500), "neither held it for {gap:?}");
    let (exact, seen) = events.check((false, true));
    eprintln!("graceful handover: {seen} address events, neither held it for {exact:?}");
    assert_eq!(seen, 2, "one delete, one add");
    assert!(exact < Duration::from_millis(100), "neither held it for {exact:?}");
    let (status, log) = b.exit();
    assert!(status.success());
    let stop = log.iter().position(|v| v["kind"] == "resource-stopped").expect("stopped before leaving");
    let notice = log.iter().position(|v| v["message"] == "stopping: shutdown notice to every node").expect("left");
    assert!(stop < notice, "the goodbye went out before the stop ended");
    let hooked = std::fs::read_to_string(&two.hook_log).unwrap_or_default();
    assert_eq!(hooked, "resource-started vip hbnode2\nresource-stopped vip hbnode2\n", "the resource hooks");
    let left = a.wait_for(|v| v["kind"] == "left" && v["node"] == "hbnode2");
    assert_eq!(left["node"], "hbnode2");
    assert_eq!(place(&net), (true, false));
    a.signal(Signal::TERM);
    assert!(a.wait_exit(Duration::from_secs(5)).success());
    assert_eq!(place(&net), (false, false), "the last node leaving stops the resource");
    Ok(())
}

#[test]
fn a_real_heartbeat_node_accepts_our_heartbeats_with_the_announcement_field() -> Result<(), Error> {
    let net = Pair::new()?;
    let theirs = HaConfig::new("hbnode1", "hbnode2", Pair::A_DEV, Pair::B_V4.into());
    let hb = Heartbeat::start(&net.a, &theirs)?;
    let dir = tempfile::tempdir().unwrap();
    let two = node(dir.path(), "hbnode2", Pair::B_DEV, &Pair::A_V4.to_string(), "off");
    // Their key and timing: the same authkeys and ha.cf as the daemon's, seen from hbnode2.
    let mut mine = theirs.clone();
    mine.interface = Pair::B_DEV.into();
    mine.peer_addr = Pair::A_V4.into();
    std::fs::write(&two.ha_cf, mine.ha_cf(dir.path())).unwrap();
    secret_file(Path::new(&two.keys).parent().unwrap(), "authkeys", theirs.authkeys.trim_end(), 0o600);
    let mut b = start(&net.b, &two);
    b.wait_for(|v| v["kind"] == "up" && v["node"] == "hbnode1");
    wait_for("cl_status nodestatus hbnode2 = active", Duration::from_secs(10), || {
        Ok(match hb.nodestatus("hbnode2") {
            Ok(s) if s == "active" => Check::Done(()),
            Ok(s) => Check::Waiting(s),
            Err(e) => Check::Waiting(e.to_string()),
        })
    })
    .map_err(|e| hb.failure(e.to_string()))?;
    // The daemon never announces: after initdead it counts as holding nothing, and ours takes
    // the resource while the daemon keeps seeing it alive (the field is ignored, not refused).
    b.wait_for(|v| v["kind"] == "resource-started");
    wait_place(&net, (false, true), Duration::from_secs(5))?;
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hb.nodestatus("hbnode2").map_err(|e| hb.failure(e.to_string()))?, "active");
    assert!(!hb.log().contains("hbnode2: is dead"), "{}", hb.log());
    b.signal(Signal::TERM);
    assert!(b.wait_exit(Duration::from_secs(5)).success());
    Ok(())
}

#[test]
fn a_healed_partition_with_both_holding_is_reported_and_the_preferred_node_keeps_it() -> Result<(), Error> {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().unwrap();
    let one = node(dir.path(), "hbnode1", Pair::A_DEV, &Pair::B_V4.to_string(), "off");
    let two = node(dir.path(), "hbnode2", Pair::B_DEV, &Pair::A_V4.to_string(), "off");
    let mut a = start(&net.a, &one);
    let mut b = start(&net.b, &two);
    a.wait_for(|v| v["kind"] == "resource-started");
    wait_place(&net, (true, false), Duration::from_secs(5))?;
    wait_held_by(&two, &["hbnode1"])?;

    // Partition: each declares the other dead; hbnode2 takes the address too.
    net.a.block_udp_port(694)?;
    net.b.block_udp_port(694)?;
    b.wait_for(|v| v["kind"] == "dead" && v["node"] == "hbnode1");
    b.wait_for(|v| v["kind"] == "resource-started");
    wait_place(&net, (true, true), Duration::from_secs(5))?;

    // Healed: both report the double holding; hbnode1 (preferred) keeps it, hbnode2 stops.
    net.a.unblock_udp_port(694)?;
    net.b.unblock_udp_port(694)?;
    let lost = b.wait_for(|v| v["kind"] == "resource-double-held");
    assert_eq!(lost["we_keep"], false, "{lost}");
    let kept = a.wait_for(|v| v["kind"] == "resource-double-held");
    assert_eq!(kept["we_keep"], true, "{kept}");
    b.wait_for(|v| v["kind"] == "resource-command" && v["reason"] == "lost-tie-break");
    wait_place(&net, (true, false), Duration::from_secs(5))?;
    wait_held_by(&two, &["hbnode1"])?;
    for d in [&mut a, &mut b] {
        d.signal(Signal::TERM);
        assert!(d.wait_exit(Duration::from_secs(5)).success());
    }
    Ok(())
}
