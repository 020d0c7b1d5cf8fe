//! The QoS lab: how well do failure detectors do on a given network, measured rather than
//! guessed.
//!
//! Seeded generators produce heartbeat traces ([`scenario`], [`generate`]) — log-normal jitter,
//! Gilbert–Elliott bursty loss, delay spikes, sender and receiver stalls, regime shifts, clock
//! offset and drift — or [`import`] reads recorded ones (CSV, LIP6 PlanetLab). Each trace is
//! [`replay`]ed through the real receiver, a `heartbeat_proto::Monitor` fed encoded frames by
//! `on_message` and driven by `tick`, with each detector in turn ([`contender`]). The lab
//! computes Chen, Toueg and Aguilera's metrics ([`metrics`]), tunes each detector's one knob to
//! mistake-rate targets on one trace and tests it on another ([`tune`], [`suite`]), and writes
//! the tables and plots ([`report`], [`plot`]).
//!
//! [`run`] does all of it for a [`QosArgs`]; the `heartbeat qos` subcommand is a thin wrapper.

#![forbid(unsafe_code)]

pub mod contender;
pub mod cost;
pub mod generate;
pub mod import;
pub mod metrics;
pub mod plot;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod suite;
pub mod trace;
pub mod tune;

use core::time::Duration;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::contender::Lab;
use crate::report::{Goal, Report, Settings};
use crate::suite::{Plan, Source};

/// Command-line arguments of the lab (`heartbeat qos …`).
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct QosArgs {
    /// Directory for report.md and the SVG plots (created if missing).
    #[arg(long, default_value = "qos-report")]
    pub out: PathBuf,
    /// A short run for smoke tests: 24 h traces, a coarse search, a 68-minute warm-up.
    #[arg(long)]
    pub quick: bool,
    /// Seed of the generated traces: each scenario's tuning and test traces derive from it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Length of each generated trace in hours of heartbeat intervals: it has hours × 3600 / η
    /// sends (default 240, or 24 with --quick), and spans fewer hours if its sender's gaps
    /// average less than η.
    #[arg(long)]
    pub hours: Option<f64>,
    /// Run only these scenarios (repeat the flag for several).
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Replay a recorded trace instead of the generated suite: tuned on its first half, tested
    /// on its second.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// The recorded trace's format.
    #[arg(long, value_enum, default_value = "csv", requires = "trace")]
    pub format: import::Format,
    /// For LIP6 logs: the sending site to keep (default: the first in the file).
    #[arg(long, requires = "trace")]
    pub site: Option<u64>,
    /// The recorded trace's heartbeat interval in milliseconds (default: estimated).
    #[arg(long, requires = "trace")]
    pub interval_ms: Option<f64>,
    /// When the recorded trace's receiver was itself paused (GC, a stopped VM): a CSV of
    /// `start,end` in seconds on the receive times' clock. The replayed receiver then freezes
    /// during each pause, and the local-stall guard is measured on the trace.
    #[arg(long, value_name = "FILE", requires = "trace")]
    pub receiver_pauses: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Skip the machine-dependent cost timing (the report is then fully deterministic).
    #[arg(long)]
    pub no_timing: bool,
}

impl QosArgs {
    /// Defaults, as if given no flags.
    pub fn new(out: impl Into<PathBuf>) -> QosArgs {
        QosArgs {
            out: out.into(),
            quick: false,
            seed: 1,
            hours: None,
            scenarios: Vec::new(),
            trace: None,
            format: import::Format::Csv,
            site: None,
            interval_ms: None,
            receiver_pauses: None,
            threads: None,
            no_progress: false,
            no_timing: false,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The deterministic part of the report (tables and goals).
    pub report: String,
    /// The machine-dependent cost section (empty with `--no-timing`).
    pub cost: String,
    /// The verdict on each goal.
    pub goals: Vec<Goal>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Seeds of scenario `index`'s tuning and test traces.
pub fn seeds(seed: u64, index: usize) -> (u64, u64) {
    let base = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(index as u64 * 2);
    (base, base + 1)
}

fn plan(quick: bool) -> Plan {
    if quick {
        Plan { targets: suite::TARGETS.to_vec(), sweep_points: 7, bisect_steps: 4, warmup: 1 << 12 }
    } else {
        Plan { targets: suite::TARGETS.to_vec(), sweep_points: 12, bisect_steps: 7, warmup: 1 << 16 }
    }
}

/// Reads the recorded trace of `args` (and its receiver pauses), refusing it unless it is long
/// enough for `plan`.
fn recorded(args: &QosArgs, path: &std::path::Path, plan: &Plan) -> Result<(Vec<Source>, String)> {
    let interval = match args.interval_ms {
        Some(ms) if ms.is_finite() && ms > 0.0 && ms <= 3.6e6 => Some(Duration::from_secs_f64(ms / 1000.0)),
        Some(ms) => bail!("--interval-ms {ms} is not an interval (a positive number of milliseconds up to an hour)"),
        None => None,
    };
    let mut trace = import::read(path, args.format, args.site, interval)?;
    if let Some(file) = &args.receiver_pauses {
        trace.receiver_stalls = import::read_pauses(file)?;
        let pauses = format!("; receiver pauses from {} ({})", file.display(), trace.receiver_stalls.len());
        trace.provenance.push_str(&pauses);
    }
    import::check_length(&trace, plan.warmup).with_context(|| format!("{} is not a usable trace", path.display()))?;
    let (a, b) = trace.split(0.5);
    let about = format!("recorded trace {}", path.display());
    let text = format!("{} (η {:?}), tuned on the first half, tested on the second", trace.provenance, trace.interval);
    Ok((vec![Source { name: trace.name.clone(), about, a, b }], text))
}

fn sources(args: &QosArgs, hours: f64, plan: &Plan) -> Result<(Vec<Source>, String)> {
    if let Some(path) = &args.trace {
        return recorded(args, path, plan);
    }
    let all = scenario::suite();
    for wanted in &args.scenarios {
        if !all.iter().any(|s| s.name == wanted) {
            let names: Vec<_> = all.iter().map(|s| s.name).collect();
            bail!("no scenario {wanted:?}; there are {}", names.join(", "));
        }
    }
    let chosen: Vec<(usize, scenario::Scenario)> = all
        .into_iter()
        .enumerate()
        .filter(|(_, s)| args.scenarios.is_empty() || args.scenarios.iter().any(|w| w == s.name))
        .collect();
    let sources = chosen
        .into_par_iter()
        .map(|(i, s)| {
            let (seed_a, seed_b) = seeds(args.seed, i);
            Ok(Source {
                name: s.name.to_owned(),
                about: s.about.to_owned(),
                a: generate::generate(&s, hours, seed_a)?,
                b: generate::generate(&s, hours, seed_b)?,
            })
        })
        .collect::<Result<Vec<Source>>>()?;
    let traces = || sources.iter().flat_map(|s| [&s.a, &s.b]);
    let sends = range(traces().map(|t| t.records.len() as f64), 0);
    let spans = range(traces().map(|t| t.stats().hours), 0);
    let text = format!(
        "generated per scenario: a tuning trace A and a test trace B, each of {sends} heartbeats ({hours} h × 3600 / η) \
         and spanning {spans} h as its sender's mean gap decides (hours A / B below); seed {}",
        args.seed
    );
    Ok((sources, text))
}

/// `lo–hi` of `values` with `decimals` decimals, or one number if they all print alike.
fn range(values: impl Iterator<Item = f64>, decimals: usize) -> String {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (format!("{lo:.decimals$}"), format!("{hi:.decimals$}"));
    if lo == hi { lo } else { format!("{lo}–{hi}") }
}

/// Runs the lab: generates or reads the traces, runs the suite, writes `report.md` and one SVG
/// per scenario into `args.out`, prints the report, and returns it.
pub fn run(args: &QosArgs) -> Result<Summary> {
    let hours = args.hours.unwrap_or(if args.quick { 24.0 } else { 240.0 });
    if hours.is_nan() || hours <= 0.0 {
        bail!("--hours must be positive");
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(args.threads.unwrap_or(0)).build()?;
    pool.install(|| run_in_pool(args, hours))
}

fn run_in_pool(args: &QosArgs, hours: f64) -> Result<Summary> {
    let plan = plan(args.quick);
    let (sources, traces) = sources(args, hours, &plan)?;
    let interval = sources.first().map_or(Duration::from_secs(1), |s| s.a.interval);
    let lab = Lab::new(interval, plan.warmup);
    // The cost timing needs only the first trace's first part (see `cost::measure`).
    let first = sources.first().map(|s| (cost::prefix(&s.a), s.name.clone()));
    let bar = ProgressBar::new(suite::replays(&sources, &plan));
    if args.no_progress || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} replays, ETA {eta}")
            .context("progress bar template")?,
    );
    let results = suite::run(sources, &plan, &|| bar.inc(1))?;
    bar.finish_and_clear();

    let settings = Settings {
        recorded: args.trace.is_some(),
        traces,
        lab: format!(
            "a real `Monitor` per replay; timeout bounds [{:?}, {:?}]; the sender asks for {:?} (what the fixed \
             timeout and the adaptive detector's warm-up apply); local-stall guard at {:?}; warm-up {:?} excluded from \
             every metric",
            lab.setup().min_timeout,
            lab.setup().max_timeout,
            lab.setup().requested,
            lab.local_pause,
            lab.warmup
        ),
        plan: format!(
            "targets {:?} mistakes/h; {} log-spaced knob settings per detector on A (the curve), then {} bisection \
             steps per target to the most aggressive setting with λ_M ≤ target on A; that knob tested on B",
            plan.targets, plan.sweep_points, plan.bisect_steps
        ),
    };
    let report = Report { settings, results };
    let markdown = report.markdown();
    let cost = match (&first, args.no_timing) {
        (Some((trace, name)), false) => report::cost_markdown(&cost::measure(trace, &lab)?, &format!("{name} (A)")),
        _ => String::new(),
    };

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut files = Vec::new();
    let path = args.out.join("report.md");
    std::fs::write(&path, format!("{markdown}{cost}")).with_context(|| format!("writing {}", path.display()))?;
    files.push(path);
    for r in &report.results {
        let path = args.out.join(format!("{}.svg", r.name));
        if plot::draw(r, &path).with_context(|| format!("plotting {}", path.display()))? {
            files.push(path);
        }
    }
    println!("{markdown}{cost}");
    Ok(Summary { report: markdown, cost, goals: report.goals(), files })
}
