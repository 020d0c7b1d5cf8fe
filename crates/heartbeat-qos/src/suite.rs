//! The suite: for every scenario, tune each detector on one trace (A) and test it on another
//! (B), evaluate the published defaults, find the hindsight-best fixed timeout on B, and
//! measure what the local-stall guard removes. Work is spread over threads; every result
//! depends only on the traces and the plan, so the same seed gives the same tables.

use anyhow::Result;
use rayon::prelude::*;

use crate::contender::{Contender, Lab, Preset};
use crate::metrics::Quality;
use crate::trace::{Trace, TraceStats};
use crate::tune::{OnTrace, Point, Tuned, sweep, tune};

/// The mistake-rate targets of issue 6, per hour: the default plan's, and those its goals are
/// judged at.
pub const TARGETS: [f64; 2] = [1.0, 0.1];

/// How thoroughly to search.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Mistake-rate targets, per hour.
    pub targets: Vec<f64>,
    /// Knob settings in each sweep.
    pub sweep_points: usize,
    /// Bisection halvings per target.
    pub bisect_steps: usize,
    /// Heartbeat intervals at the start of each trace left out of every metric. The default,
    /// 2¹⁶, is the adaptive detector's shortest memory and longer than any other window here
    /// ("exclude a warm-up of one window").
    pub warmup: u32,
}

/// A tuning trace (A) and a test trace (B) of one scenario.
#[derive(Debug, Clone)]
pub struct Source {
    /// The scenario's name.
    pub name: String,
    /// One line about it.
    pub about: String,
    /// The tuning trace.
    pub a: Trace,
    /// The test trace.
    pub b: Trace,
}

/// One target's tuning of one detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetResult {
    /// The target, mistakes per hour.
    pub target: f64,
    /// The knob tuned on A and its quality there.
    pub tuned: Tuned,
    /// The same knob on B (out of sample).
    pub test: Quality,
}

/// The adaptive detector run at a declared target, without tuning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Declared {
    /// The target it was given.
    pub target: f64,
    /// On A.
    pub on_a: Quality,
    /// On B.
    pub on_b: Quality,
}

/// The local-stall guard's effect on one detector at one knob: its knob tuned to the first
/// target, or (the adaptive detector) the first target as declared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardRow {
    /// The detector.
    pub contender: Contender,
    /// Its knob.
    pub knob: f64,
    /// Whether the knob is a declared target rather than a tuned value.
    pub declared: bool,
    /// On B as recorded, guard on.
    pub guarded: Quality,
    /// On B, guard off.
    pub unguarded: Quality,
    /// On B with the receiver stalls removed (same network draws), guard on.
    pub no_stalls: Quality,
}

/// Everything measured for one detector on one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ContenderResult {
    /// The detector.
    pub contender: Contender,
    /// The sweep on A: the λ_M-versus-T_D curve.
    pub curve: Vec<Point>,
    /// Per target: tuned on A, tested on B.
    pub targets: Vec<TargetResult>,
    /// The adaptive detector only: run at each target as declared.
    pub declared: Vec<Declared>,
    /// When B has receiver stalls: the guard's effect (two rows for the adaptive detector:
    /// tuned, and as declared).
    pub guard: Vec<GuardRow>,
}

/// Everything measured on one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: String,
    /// One line about it.
    pub about: String,
    /// The traces' provenance (how to regenerate them).
    pub provenance: [String; 2],
    /// The traces' statistics.
    pub stats: [TraceStats; 2],
    /// Per detector.
    pub contenders: Vec<ContenderResult>,
    /// The fixed timeout tuned on B itself, per target: the frontier of the simplest detector.
    pub hindsight: Vec<(f64, Tuned)>,
    /// Published defaults, on A and on B.
    pub presets: Vec<(Preset, Quality, Quality)>,
}

/// How many replays [`run`] makes, for a progress bar.
pub fn replays(sources: &[Source], plan: &Plan) -> u64 {
    let targets = plan.targets.len();
    let per_contender = plan.sweep_points + targets * (plan.bisect_steps + 1);
    let per_scenario = |s: &Source| {
        let guard = if s.b.receiver_stalls.is_empty() { 0 } else { 2 * Contender::ALL.len() + 2 };
        Contender::ALL.len() * per_contender
            + 2 * targets
            + plan.sweep_points
            + targets * plan.bisect_steps
            + 2 * Preset::ALL.len()
            + guard
    };
    sources.iter().map(per_scenario).sum::<usize>() as u64
}

enum Task<'s> {
    Contender(&'s Prepared, Contender),
    Hindsight(&'s Prepared),
    Presets(&'s Prepared),
}

enum Done {
    Contender(ContenderResult),
    Hindsight(Vec<(f64, Tuned)>),
    Presets(Vec<(Preset, Quality, Quality)>),
}

/// A source with its arrival orders computed once.
struct Prepared {
    source: Source,
    order_a: Vec<u32>,
    order_b: Vec<u32>,
    lab: Lab,
}

/// Runs the suite on `sources`, calling `progress` after every replay.
pub fn run(sources: Vec<Source>, plan: &Plan, progress: &(dyn Fn() + Sync)) -> Result<Vec<ScenarioResult>> {
    let prepared: Vec<Prepared> = sources
        .into_par_iter()
        .map(|source| Prepared {
            order_a: source.a.arrival_order(),
            order_b: source.b.arrival_order(),
            lab: Lab::new(source.a.interval, plan.warmup),
            source,
        })
        .collect();
    let mut tasks = Vec::new();
    for p in &prepared {
        tasks.extend(Contender::ALL.iter().map(|&c| Task::Contender(p, c)));
        tasks.push(Task::Hindsight(p));
        tasks.push(Task::Presets(p));
    }
    let done: Vec<Done> = tasks
        .into_par_iter()
        .map(|task| match task {
            Task::Contender(p, c) => contender(p, c, plan, progress).map(Done::Contender),
            Task::Hindsight(p) => hindsight(p, plan, progress).map(Done::Hindsight),
            Task::Presets(p) => presets(p, progress).map(Done::Presets),
        })
        .collect::<Result<_>>()?;
    let mut done = done.into_iter();
    let mut results = Vec::new();
    for p in prepared {
        let contenders = done
            .by_ref()
            .take(Contender::ALL.len())
            .filter_map(|d| if let Done::Contender(c) = d { Some(c) } else { None })
            .collect();
        let hindsight = match done.next() {
            Some(Done::Hindsight(h)) => h,
            _ => anyhow::bail!("suite results out of order"),
        };
        let presets = match done.next() {
            Some(Done::Presets(d)) => d,
            _ => anyhow::bail!("suite results out of order"),
        };
        let s = &p.source;
        results.push(ScenarioResult {
            name: s.name.clone(),
            about: s.about.clone(),
            provenance: [s.a.provenance.clone(), s.b.provenance.clone()],
            stats: [s.a.stats(), s.b.stats()],
            contenders,
            hindsight,
            presets,
        });
    }
    Ok(results)
}

fn contender(p: &Prepared, c: Contender, plan: &Plan, progress: &(dyn Fn() + Sync)) -> Result<ContenderResult> {
    let (a, b, lab) = (&p.source.a, &p.source.b, &p.lab);
    let on_a = OnTrace { trace: a, order: &p.order_a, lab };
    let curve = sweep(c, &on_a, plan.sweep_points, progress)?;
    let mut targets = Vec::new();
    for &target in &plan.targets {
        let tuned = tune(c, &on_a, &curve, target, plan.bisect_steps, progress)?;
        let test = c.run(tuned.point.knob, b, &p.order_b, lab)?;
        progress();
        targets.push(TargetResult { target, tuned, test });
    }
    let mut declared = Vec::new();
    if c == Contender::Adaptive {
        for &target in &plan.targets {
            let on_a = c.run(target, a, &p.order_a, lab)?;
            let on_b = c.run(target, b, &p.order_b, lab)?;
            progress();
            progress();
            declared.push(Declared { target, on_a, on_b });
        }
    }
    let mut guard = Vec::new();
    if let Some(first) = targets.first().filter(|_| !b.receiver_stalls.is_empty()) {
        let mut rows = vec![(first.tuned.point.knob, false, first.test)];
        rows.extend(declared.first().map(|d| (d.target, true, d.on_b)));
        for (knob, declared, guarded) in rows {
            let unguarded = c.run(knob, b, &p.order_b, &Lab { local_pause: None, ..*lab })?;
            let no_stalls = c.run(knob, b, &p.order_b, &Lab { receiver_stalls: false, ..*lab })?;
            progress();
            progress();
            guard.push(GuardRow { contender: c, knob, declared, guarded, unguarded, no_stalls });
        }
    }
    Ok(ContenderResult { contender: c, curve, targets, declared, guard })
}

fn hindsight(p: &Prepared, plan: &Plan, progress: &(dyn Fn() + Sync)) -> Result<Vec<(f64, Tuned)>> {
    let on_b = OnTrace { trace: &p.source.b, order: &p.order_b, lab: &p.lab };
    let curve = sweep(Contender::Fixed, &on_b, plan.sweep_points, progress)?;
    plan.targets
        .iter()
        .map(|&target| {
            let tuned = tune(Contender::Fixed, &on_b, &curve, target, plan.bisect_steps, progress)?;
            Ok((target, tuned))
        })
        .collect()
}

fn presets(p: &Prepared, progress: &(dyn Fn() + Sync)) -> Result<Vec<(Preset, Quality, Quality)>> {
    Preset::ALL
        .iter()
        .map(|&d| {
            let on_a = d.run(&p.source.a, &p.order_a, &p.lab)?;
            let on_b = d.run(&p.source.b, &p.order_b, &p.lab)?;
            progress();
            progress();
            Ok((d, on_a, on_b))
        })
        .collect()
}
