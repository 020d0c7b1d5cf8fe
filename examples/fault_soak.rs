//! The fault lab's long form: a five-host soak of the real `heartbeat run` (tests/support/lab),
//! first with no faults, then with 1 % random loss on every host and periodic stalls
//! (SIGSTOP/SIGCONT, alternately shorter and longer than the timeout, round robin over the
//! hosts). Writes a report — events, false positives, detection lateness p50/p99/max and its
//! histogram, CPU and RSS per host sampled from /proc — to `OUT/report.md` and stdout.
//!
//! ```text
//! cargo build --release -p heartbeat-cli
//! nice -n 10 cargo run --release --example fault_soak -- --quiet-minutes 60 --faulty-minutes 60
//! ```
//!
//! Options (defaults in brackets): `--quiet-minutes` [60], `--faulty-minutes` [60], `--loss`
//! [0.01], `--stall-every-s` [30], `--interval-ms` [100], `--timeout-ms` [500], `--heartbeat
//! PATH` [the `heartbeat` next to this example's directory, i.e. target/release/heartbeat],
//! `--out DIR` [target/fault-soak]. Needs root, iproute2 and iptables.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use heartbeat_tests::lab::host::wall_now;
use heartbeat_tests::lab::log::LogEvent;
use heartbeat_tests::lab::measure::{ProcSample, histogram_ms, summary_ms};
use heartbeat_tests::lab::{Lab, LabSpec};

/// What `--help` prints.
const USAGE: &str = "\
usage: fault_soak [OPTIONS]   (needs root, iproute2 and iptables)

  --quiet-minutes M   the phase without faults [60]
  --faulty-minutes M  the phase with loss and stalls [60]
  --loss P            random loss on every host's input in the faulty phase [0.01]
  --stall-every-s S   a SIGSTOP/SIGCONT every S seconds, round robin [30]
  --interval-ms MS    heartbeat interval [100]
  --timeout-ms MS     timeout [500]
  --heartbeat PATH    the binary [target/release/heartbeat]
  --out DIR           report and logs [target/fault-soak]";

/// Prints `why` and the usage, and exits with status 2.
fn usage_error(why: &str) -> ! {
    eprintln!("fault_soak: {why}\n\n{USAGE}");
    std::process::exit(2)
}

/// How often CPU and RSS are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

struct Options {
    quiet: Duration,
    faulty: Duration,
    loss: f64,
    stall_every: Duration,
    interval: Duration,
    timeout: Duration,
    heartbeat: PathBuf,
    out: PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        quiet: Duration::from_secs(3600),
        faulty: Duration::from_secs(3600),
        loss: 0.01,
        stall_every: Duration::from_secs(30),
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(500),
        heartbeat: std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.join("heartbeat")))
            .unwrap_or_else(|| "target/release/heartbeat".into()),
        out: "target/fault-soak".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let Some(value) = args.next() else { usage_error(&format!("{flag} needs a value")) };
        let number =
            || value.parse::<f64>().unwrap_or_else(|_| usage_error(&format!("{flag}: '{value}' is not a number")));
        match flag.as_str() {
            "--quiet-minutes" => o.quiet = Duration::from_secs_f64(number() * 60.0),
            "--faulty-minutes" => o.faulty = Duration::from_secs_f64(number() * 60.0),
            "--loss" => o.loss = number(),
            "--stall-every-s" => o.stall_every = Duration::from_secs_f64(number()),
            "--interval-ms" => o.interval = Duration::from_secs_f64(number() / 1e3),
            "--timeout-ms" => o.timeout = Duration::from_secs_f64(number() / 1e3),
            "--heartbeat" => o.heartbeat = value.into(),
            "--out" => o.out = value.into(),
            other => usage_error(&format!("unknown option {other}")),
        }
    }
    o
}

/// One stall: which host, when (wall clock), and whether it was meant to outlast the timeout.
#[derive(Debug, Clone, Copy)]
struct Stall {
    host: u64,
    from: f64,
    to: f64,
    long: bool,
}

/// Per-host samples of one phase.
#[derive(Debug, Default, Clone)]
struct Samples(Vec<(f64, ProcSample)>);

impl Samples {
    fn cpu_percent(&self) -> f64 {
        match (self.0.first(), self.0.last()) {
            (Some((t0, a)), Some((t1, b))) if t1 > t0 => (b.cpu_s - a.cpu_s) / (t1 - t0) * 100.0,
            _ => f64::NAN,
        }
    }
    fn rss(&self) -> (u64, u64) {
        let rss = self.0.iter().map(|(_, s)| s.rss_kib);
        (rss.clone().min().unwrap_or(0), rss.max().unwrap_or(0))
    }
}

struct Phase {
    name: &'static str,
    from: f64,
    to: f64,
    samples: BTreeMap<u64, Samples>,
}

fn sample_all(lab: &Lab, phase: &mut Phase) {
    let now = wall_now();
    for host in lab.hosts() {
        if let Some(s) = host.sample() {
            phase.samples.entry(host.id()).or_default().0.push((now, s));
        }
    }
}

/// Runs a phase for `length`, sampling, and calling `tick` every 100 ms.
fn run_phase(lab: &mut Lab, name: &'static str, length: Duration, mut tick: impl FnMut(&mut Lab, f64)) -> Phase {
    let mut phase = Phase { name, from: wall_now(), to: 0.0, samples: BTreeMap::new() };
    let start = Instant::now();
    let mut next_sample = Instant::now();
    while start.elapsed() < length {
        if Instant::now() >= next_sample {
            sample_all(lab, &mut phase);
            next_sample += SAMPLE_EVERY;
            eprintln!("{name}: {:.0} of {:.0} s", start.elapsed().as_secs_f64(), length.as_secs_f64());
        }
        tick(lab, wall_now());
        std::thread::sleep(Duration::from_millis(100));
    }
    sample_all(lab, &mut phase);
    phase.to = wall_now();
    phase
}

/// What a Down was, given the stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// The peer was stalled past the timeout: a true detection.
    Detection,
    /// The peer was stalled, but for less than the timeout.
    ShortStallConvicted,
    /// The observer itself had just woken from a stall and convicted before reading.
    WakingReceiver,
    /// Nothing explains it.
    Unexplained,
}

fn classify(observer: u64, e: &LogEvent, stalls: &[Stall], window: f64) -> Verdict {
    let peer_stall = stalls.iter().find(|s| s.host == e.peer && s.from <= e.wall && e.wall - window <= s.to);
    match peer_stall {
        Some(s) if s.long => Verdict::Detection,
        Some(_) => Verdict::ShortStallConvicted,
        None if stalls.iter().any(|s| s.host == observer && s.to <= e.wall + 0.05 && e.wall - window <= s.to) => {
            Verdict::WakingReceiver
        }
        None => Verdict::Unexplained,
    }
}

fn main() {
    let o = options();
    if !o.heartbeat.is_file() {
        usage_error(&format!(
            "no heartbeat binary at {} (build it first: cargo build --release -p heartbeat-cli)",
            o.heartbeat.display()
        ));
    }
    let spec = LabSpec { interval: o.interval, timeout: o.timeout, tick: Duration::from_millis(50), ..LabSpec::fast() };
    eprintln!("fault soak: {} with {:?}", o.heartbeat.display(), spec);
    let mut lab = Lab::start(&o.heartbeat, spec.clone()).expect("the lab starts");
    lab.wait_converged(Duration::from_secs(10)).expect("the lab converges");
    let started = wall_now();

    let quiet = run_phase(&mut lab, "no faults", o.quiet, |_, _| {});

    for host in lab.hosts_mut() {
        host.drop_random(o.loss).expect("iptables loss");
    }
    let mut stalls: Vec<Stall> = Vec::new();
    let mut next_stall = wall_now() + o.stall_every.as_secs_f64();
    let mut round = 0u64;
    let (short, long) = (o.timeout / 2, o.timeout * 3);
    let faulty = run_phase(&mut lab, "1 % loss + stalls", o.faulty, |lab, now| {
        if now < next_stall {
            return;
        }
        let host = (round % 5 + 1) as usize;
        let is_long = round % 2 == 1;
        let from = lab.host(host).stop();
        std::thread::sleep(if is_long { long } else { short });
        let to = lab.host(host).cont();
        stalls.push(Stall { host: host as u64, from, to, long: is_long });
        round += 1;
        next_stall = now + o.stall_every.as_secs_f64();
    });
    let mut dropped = 0;
    for host in lab.hosts_mut() {
        dropped += host.dropped().unwrap_or(0);
        let _ = host.clear_filters();
    }
    let statuses: Vec<_> = lab.hosts().iter().map(|h| h.status()).collect();

    // Every host's events, by phase.
    let window = o.timeout.as_secs_f64() + o.interval.as_secs_f64() + 0.1;
    let mut report = String::new();
    let minutes = |p: &Phase| (p.to - p.from) / 60.0;
    let _ = writeln!(report, "# Fault lab soak\n");
    let _ = writeln!(
        report,
        "5 hosts, 2 links each, `heartbeat run` ({}), interval {:?}, timeout {:?}, tick {:?}. \
         Phase 1: {:.1} min, no faults. Phase 2: {:.1} min, {} % random loss on every host's input \
         (iptables, {dropped} datagrams dropped) and a stall every {:?} (SIGSTOP/SIGCONT, alternately {:?} and {:?}, \
         round robin over the hosts; {} stalls).\n",
        o.heartbeat.display(),
        spec.interval,
        spec.timeout,
        spec.tick,
        minutes(&quiet),
        minutes(&faulty),
        o.loss * 100.0,
        o.stall_every,
        short,
        long,
        stalls.len()
    );
    let mut lateness = Vec::new();
    let mut verdicts: BTreeMap<Verdict, usize> = BTreeMap::new();
    let _ = writeln!(report, "## Events per phase (all hosts together)\n");
    let _ = writeln!(report, "| phase | up | suspect | down | restarted | left | link_down | link_up |");
    let _ = writeln!(report, "|---|---|---|---|---|---|---|---|");
    let mut quiet_false = 0;
    let mut quiet_suspect = 0;
    for phase in [&quiet, &faulty] {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for host in lab.hosts() {
            for e in
                host.events().unwrap_or_default().iter().filter(|e| e.wall >= phase.from && e.wall <= phase.to + window)
            {
                *counts.entry(e.kind.clone()).or_default() += 1;
                if phase.name == quiet.name {
                    quiet_false += usize::from(e.kind == "down");
                    quiet_suspect += usize::from(e.kind == "suspect");
                } else if e.kind == "down" {
                    let v = classify(host.id(), e, &stalls, window);
                    *verdicts.entry(v).or_default() += 1;
                    if v == Verdict::Detection {
                        lateness.push(e.late_ms.unwrap_or(f64::NAN));
                    }
                }
            }
        }
        let c = |k: &str| counts.get(k).copied().unwrap_or(0);
        let _ = writeln!(
            report,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            phase.name,
            c("up"),
            c("suspect"),
            c("down"),
            c("restarted"),
            c("left"),
            c("link_down"),
            c("link_up")
        );
    }
    let long_stalls = stalls.iter().filter(|s| s.long).count();
    let v = |k: Verdict| verdicts.get(&k).copied().unwrap_or(0);
    let _ = writeln!(report, "\n## False positives\n");
    let _ = writeln!(report, "- no-fault phase: **{quiet_false} Down, {quiet_suspect} Suspect**");
    let _ = writeln!(
        report,
        "- faulty phase: {} Down of a host stalled past the timeout (true detections; {} expected = {long_stalls} long \
         stalls x 4 observers); **{} Down of a host stalled shorter than the timeout; {} Down by a stalled host on \
         waking (it ticked before reading its peers' frames: the local-stall guard failed); {} Down unexplained**",
        v(Verdict::Detection),
        long_stalls * 4,
        v(Verdict::ShortStallConvicted),
        v(Verdict::WakingReceiver),
        v(Verdict::Unexplained)
    );
    let _ = writeln!(report, "\n## Detection lateness (Down time - last heard - timeout, from each observer's log)\n");
    let _ =
        writeln!(report, "{}\n\n| lateness | count |\n|---|---|\n{}", summary_ms(&lateness), histogram_ms(&lateness));
    let _ = writeln!(report, "## CPU and RSS per host (/proc, every {SAMPLE_EVERY:?})\n");
    let _ = writeln!(report, "| host | phase | CPU % of a core | RSS min-max KiB |\n|---|---|---|---|");
    for host in lab.numbers() {
        for phase in [&quiet, &faulty] {
            let s = phase.samples.get(&(host as u64)).cloned().unwrap_or_default();
            let (lo, hi) = s.rss();
            let _ = writeln!(report, "| {host} | {} | {:.2} | {lo}-{hi} |", phase.name, s.cpu_percent());
        }
    }
    let _ = writeln!(report, "\n## Final status\n");
    for (n, status) in lab.numbers().zip(&statuses) {
        match status {
            Ok(s) => {
                let peers: Vec<String> = s
                    .peers
                    .iter()
                    .map(|p| {
                        format!(
                            "{}:{} loss {:.1}% rtt {:?}",
                            p.id,
                            p.state,
                            p.loss_percent,
                            p.rtt_ms.map(|r| (r * 10.0).round() / 10.0)
                        )
                    })
                    .collect();
                let _ = writeln!(report, "- host {n}: rejected {} frames; {}", s.frames_rejected, peers.join(", "));
            }
            Err(e) => {
                let _ = writeln!(report, "- host {n}: no status ({e})");
            }
        }
    }
    let _ = writeln!(report, "\nWall time {:.1} min.", (wall_now() - started) / 60.0);
    std::fs::create_dir_all(&o.out).expect("the output directory");
    let path = o.out.join("report.md");
    std::fs::write(&path, &report).expect("the report");
    for host in lab.hosts() {
        let _ = std::fs::copy(host.log_path(), o.out.join(format!("h{}.log", host.id())));
    }
    println!("{report}");
    eprintln!("wrote {}", path.display());
}
