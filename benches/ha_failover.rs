//! Failover time of an HA pair: the holder of a resource is SIGKILLed at a random phase of its
//! heartbeat, and we measure until the other node's `start` command begins (its first act is
//! to write the wall-clock time to a file). Ours — two `heartbeat linux-ha` nodes with a
//! `[[resource]]` — against the real Heartbeat 3.0.6 pair with the same `ha.cf` timing and an
//! R1 `haresources` line whose resource script (in the daemon's private `resource.d`) does the
//! same. Both pairs run in two network namespaces; after each kill the killed node is started
//! again as the standby (auto_failback off) and the next trial kills the new holder.
//!
//! Run (root, iproute2, Debian's `heartbeat`):
//!
//! ```text
//! cargo build --release -p heartbeat-cli
//! nice -n 10 cargo bench --bench ha_failover            # HA_FAILOVER_TRIALS=10 by default
//! ```
//!
//! The binary is `target/release/heartbeat` (or `$HEARTBEAT_BIN`). Printed: for each pair the
//! kill → start time (min, p50, max) and its excess over the deadtime; for ours also how late
//! past its deadline the death was declared and from that verdict to the start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use heartbeat_tests::linuxha::{HaConfig, Heartbeat};
use heartbeat_tests::netns::{Check, Error, Namespace, Pair, wait_for};

const KEEPALIVE_MS: u64 = 200;
const DEADTIME_MS: u64 = 1000;
const NAMES: [&str; 2] = ["hbnode1", "hbnode2"];

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("ha_failover: bench");
        return;
    }
    let trials: usize = std::env::var("HA_FAILOVER_TRIALS").ok().and_then(|t| t.parse().ok()).unwrap_or(10);
    let ours = ours(trials).unwrap_or_else(|e| panic!("our pair: {e}"));
    let theirs = theirs(trials).unwrap_or_else(|e| panic!("Heartbeat's pair: {e}"));
    println!("\nfailover: holder SIGKILLed at a random phase -> the other's start command begins");
    println!("keepalive {KEEPALIVE_MS} ms, deadtime {DEADTIME_MS} ms, {trials} trials each\n");
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>16} {:>16}",
        "pair", "min ms", "p50 ms", "max ms", "p50 - deadtime", "max - deadtime"
    );
    for (name, t) in [("ours", &ours.kill_to_start), ("heartbeat 3.0.6", &theirs)] {
        let (min, p50, max) = summary(t);
        let dt = DEADTIME_MS as f64;
        println!("{name:<22} {min:>10.1} {p50:>10.1} {max:>10.1} {:>16.1} {:>16.1}", p50 - dt, max - dt);
    }
    let (lmin, lp50, lmax) = summary(&ours.late);
    let (vmin, vp50, vmax) = summary(&ours.verdict_to_start);
    println!(
        "\nours, death declared past its deadline (last heartbeat + deadtime): min {lmin:.3} p50 {lp50:.3} max {lmax:.3} ms"
    );
    let (smin, sp50, smax) = summary(&ours.verdict_to_spawn);
    println!("ours, verdict -> start command launched (its log line): min {smin:.3} p50 {sp50:.3} max {smax:.3} ms");
    println!("ours, verdict -> start command begins (its first `date`): min {vmin:.3} p50 {vp50:.3} max {vmax:.3} ms");
    println!("ours, deadline -> start command begins (late + verdict->start): p50 {:.3} ms", lp50 + vp50);
    let (_, theirs_p50, _) = summary(&theirs);
    let (_, ours_p50, _) = summary(&ours.kill_to_start);
    println!("ratio of kill->start p50, heartbeat / ours: {:.2}", theirs_p50 / ours_p50);
}

fn summary(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn wall() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A little xorshift for the kill phase (no need for a crate).
struct Phase(u64);

impl Phase {
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(self.0 % (KEEPALIVE_MS * 1000))
    }
}

/// The resource script both pairs run: `start` first records the time, then marks the node as
/// holder; `stop` unmarks; `status` says `running` while marked.
fn script(dir: &Path, node: &str) -> String {
    let d = dir.display();
    format!(
        "#!/bin/sh\ncase \"$1\" in\n\
start) date +%s.%N >> {d}/{node}.starts; touch {d}/{node}.held ;;\n\
stop) rm -f {d}/{node}.held ;;\n\
status) if [ -e {d}/{node}.held ]; then echo running; else echo stopped; exit 3; fi ;;\n\
esac\nexit 0\n"
    )
}

fn starts(dir: &Path, node: &str) -> Vec<f64> {
    std::fs::read_to_string(dir.join(format!("{node}.starts")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn held(dir: &Path, node: usize) -> bool {
    dir.join(format!("{}.held", NAMES[node])).exists()
}

fn wait_new_start(dir: &Path, node: usize, before: usize, patience: Duration) -> Result<f64, Error> {
    wait_for(&format!("{} to run start", NAMES[node]), patience, || {
        let s = starts(dir, NAMES[node]);
        Ok(if s.len() > before { Check::Done(s[before]) } else { Check::Waiting(format!("{s:?}")) })
    })
}

// --- ours ---

struct Ours {
    kill_to_start: Vec<f64>,
    late: Vec<f64>,
    verdict_to_start: Vec<f64>,
    verdict_to_spawn: Vec<f64>,
}

fn binary() -> PathBuf {
    if let Ok(bin) = std::env::var("HEARTBEAT_BIN") {
        return bin.into();
    }
    // target/release/deps/ha_failover-… → target/release/heartbeat
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).map(|p| p.join("heartbeat")).unwrap()
}

struct OurNode {
    dir: PathBuf,
    index: usize,
}

impl OurNode {
    fn new(dir: &Path, index: usize, dev: &str, peer: &str) -> OurNode {
        let name = NAMES[index];
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("ha.cf"),
            format!(
                "keepalive {KEEPALIVE_MS}ms\nwarntime 500ms\ndeadtime {DEADTIME_MS}ms\ninitdead 2\nudpport 694\n\
ucast {dev} {peer}\nnode hbnode1 hbnode2\nauto_failback off\n"
            ),
        )
        .unwrap();
        write_mode(&d.join("authkeys"), "auth 1\n1 sha1 lha-test-secret\n", 0o600);
        let script_path = d.join("rsc.sh");
        write_mode(&script_path, &script(dir, name), 0o755);
        let s = script_path.display();
        std::fs::write(
            d.join("resources.toml"),
            format!(
                "status_interval = \"10s\"\n[[resource]]\nname = \"rec\"\npreferred = \"hbnode1\"\n\
start = {{ command = [\"{s}\", \"start\"] }}\nstop = {{ command = [\"{s}\", \"stop\"] }}\n\
status = {{ command = [\"{s}\", \"status\"] }}\n"
            ),
        )
        .unwrap();
        OurNode { dir: d, index }
    }

    fn start(&self, ns: &Namespace, generation_log: usize) -> Child {
        let d = &self.dir;
        let log = std::fs::File::create(d.join(format!("log.{generation_log}.json"))).unwrap();
        ns.command(binary())
            .arg("linux-ha")
            .arg("--ha-cf")
            .arg(d.join("ha.cf"))
            .arg("--authkeys")
            .arg(d.join("authkeys"))
            .args(["--node-name", NAMES[self.index], "--json", "--config"])
            .arg(d.join("resources.toml"))
            .arg("--control")
            .arg(d.join("control.sock"))
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `heartbeat status --json` of this node.
    fn status(&self) -> serde_json::Value {
        let out = Command::new(binary())
            .args(["status", "--json", "--control"])
            .arg(self.dir.join("control.sock"))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// From log `n`: the last `dead` line's lateness, its time, and the time of the start
    /// command logged after it (seconds of the day).
    fn verdict(&self, n: usize) -> Option<(f64, f64, f64)> {
        let text = std::fs::read_to_string(self.dir.join(format!("log.{n}.json"))).ok()?;
        let lines: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let at = lines.iter().rposition(|v| v["kind"] == "dead")?;
        let dead = &lines[at];
        let start = lines[at..].iter().find(|v| v["kind"] == "resource-command" && v["command"] == "start")?;
        Some((
            dead["late_ms"].as_f64()?,
            parse_ts(dead["timestamp"].as_str()?)?,
            parse_ts(start["timestamp"].as_str()?)?,
        ))
    }
}

/// RFC 3339 UTC `2026-12-03T11:16:13.195536Z` → seconds of the day.
fn parse_ts(ts: &str) -> Option<f64> {
    let time = ts.split_once('T')?.1.trim_end_matches('Z');
    let mut p = time.split(':');
    let (h, m, s): (f64, f64, f64) = (p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?);
    Some(h * 3600.0 + m * 60.0 + s)
}

fn write_mode(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn ours(trials: usize) -> Result<Ours, Error> {
    let bin = binary();
    assert!(bin.exists(), "{} missing: cargo build --release -p heartbeat-cli (or set HEARTBEAT_BIN)", bin.display());
    let net = Pair::new()?;
    let dir = tempfile::tempdir().unwrap();
    let nodes = [
        OurNode::new(dir.path(), 0, Pair::A_DEV, &Pair::B_V4.to_string()),
        OurNode::new(dir.path(), 1, Pair::B_DEV, &Pair::A_V4.to_string()),
    ];
    let ns = [&net.a, &net.b];
    let mut runs = [0usize; 2];
    let mut children = [Some(nodes[0].start(ns[0], 0)), Some(nodes[1].start(ns[1], 0))];
    let mut phase = Phase(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let mut result = Ours {
        kill_to_start: Vec::new(),
        late: Vec::new(),
        verdict_to_start: Vec::new(),
        verdict_to_spawn: Vec::new(),
    };
    for trial in 0..trials {
        // Settled: one holder, and the other knows it.
        let holder = wait_for("one holder, known to the other", Duration::from_secs(20), || {
            let h = (0..2).find(|&i| held(dir.path(), i));
            Ok(match h {
                Some(h) if !held(dir.path(), 1 - h) => {
                    let other = nodes[1 - h].status();
                    let known = other["resources"][0]["held_by"] == serde_json::json!([NAMES[h]]);
                    if known { Check::Done(h) } else { Check::Waiting(format!("{other}")) }
                }
                _ => Check::Waiting("no single holder".into()),
            })
        })?;
        let other = 1 - holder;
        std::thread::sleep(Duration::from_millis(300) + phase.next());
        let before = starts(dir.path(), NAMES[other]).len();
        let mut child = children[holder].take().unwrap();
        let killed = wall();
        child.kill().unwrap();
        let _ = child.wait();
        std::fs::remove_file(dir.path().join(format!("{}.held", NAMES[holder]))).unwrap();
        let started = wait_new_start(dir.path(), other, before, Duration::from_secs(10))?;
        let ms = (started - killed) * 1e3;
        result.kill_to_start.push(ms);
        std::thread::sleep(Duration::from_millis(50));
        if let Some((late, at, spawned)) = nodes[other].verdict(runs[other]) {
            result.late.push(late);
            result.verdict_to_spawn.push((spawned - at) * 1e3);
            let day = started.rem_euclid(86_400.0);
            result.verdict_to_start.push((day - at) * 1e3);
        }
        eprintln!("ours, trial {trial}: {} killed, {} started after {ms:.1} ms", NAMES[holder], NAMES[other]);
        runs[holder] += 1;
        children[holder] = Some(nodes[holder].start(ns[holder], runs[holder]));
    }
    for c in children.iter_mut().flatten() {
        let _ = c.kill();
        let _ = c.wait();
    }
    Ok(result)
}

// --- Heartbeat 3.0.6 ---

fn theirs(trials: usize) -> Result<Vec<f64>, Error> {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().unwrap();
    let config = |i: usize| {
        let (dev, peer) = if i == 0 { (Pair::A_DEV, Pair::B_V4) } else { (Pair::B_DEV, Pair::A_V4) };
        let mut c = HaConfig::new(NAMES[i], NAMES[1 - i], dev, peer.into());
        c.keepalive = format!("{KEEPALIVE_MS}ms");
        c.warntime = "500ms".into();
        c.deadtime = format!("{DEADTIME_MS}ms");
        c.initdead = "2".into();
        c.auto_failback = "off".into();
        // The same haresources on both nodes, as Heartbeat requires.
        c.haresources = Some("hbnode1 hbtrec\n".into());
        c.resource_scripts = vec![("hbtrec".into(), script(dir.path(), NAMES[i]))];
        c
    };
    let ns = [&net.a, &net.b];
    let mut daemons = [Some(Heartbeat::start(ns[0], &config(0))?), Some(Heartbeat::start(ns[1], &config(1))?)];
    let mut phase = Phase(0x2545_f491_4f6c_dd1d ^ u64::from(std::process::id()));
    let mut result = Vec::new();
    for trial in 0..trials {
        let holder = wait_for("Heartbeat: one holder, the other active", Duration::from_secs(60), || {
            let h = (0..2).find(|&i| held(dir.path(), i));
            Ok(match h {
                Some(h) if !held(dir.path(), 1 - h) => {
                    let other = daemons[1 - h].as_ref().unwrap();
                    match other.nodestatus(NAMES[h]) {
                        Ok(s) if s == "active" => Check::Done(h),
                        Ok(s) => Check::Waiting(s),
                        Err(e) => Check::Waiting(e.to_string()),
                    }
                }
                _ => Check::Waiting("no single holder".into()),
            })
        });
        let holder = match holder {
            Ok(h) => h,
            Err(e) => {
                let logs: Vec<String> = daemons.iter().flatten().map(Heartbeat::log).collect();
                return Err(Error::Daemon {
                    daemon: "heartbeat".into(),
                    problem: e.to_string(),
                    log: logs.join("\n----\n"),
                });
            }
        };
        let other = 1 - holder;
        // Let R1 settle after the restart and the takeover: a kill a second or two after a
        // restart once got no takeover `start` at all from the survivor.
        std::thread::sleep(Duration::from_millis(4000) + phase.next());
        let before = starts(dir.path(), NAMES[other]).len();
        let mut daemon = daemons[holder].take().unwrap();
        let killed = wall();
        daemon.kill();
        std::fs::remove_file(dir.path().join(format!("{}.held", NAMES[holder]))).unwrap();
        let started =
            wait_new_start(dir.path(), other, before, Duration::from_secs(20)).map_err(|e| Error::Daemon {
                daemon: "heartbeat".into(),
                problem: e.to_string(),
                log: daemons[other].as_ref().unwrap().log(),
            })?;
        let ms = (started - killed) * 1e3;
        result.push(ms);
        eprintln!("heartbeat, trial {trial}: {} killed, {} started after {ms:.1} ms", NAMES[holder], NAMES[other]);
        drop(daemon);
        let wait_dead = Instant::now();
        while Instant::now() - wait_dead < Duration::from_millis(200) {
            std::thread::sleep(Duration::from_millis(20));
        }
        daemons[holder] = Some(Heartbeat::start(ns[holder], &config(holder))?);
    }
    Ok(result)
}
