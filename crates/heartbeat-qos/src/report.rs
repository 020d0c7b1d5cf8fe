//! The report: Markdown tables of the suite's results and the verdict on each goal. Nothing
//! in [`Report::markdown`] depends on the machine or the clock, so the same seed gives the
//! same text; timings go to [`cost_markdown`] separately.

use core::fmt::Write;

use crate::contender::Contender;
use crate::metrics::Quality;
use crate::scenario;
use crate::suite::{ContenderResult, ScenarioResult, TARGETS, TargetResult};
use crate::tune::{Reach, Tuned};

/// What the run was, for the report's header.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// How the traces were obtained (seeds, length, or the file).
    pub traces: String,
    /// The lab's receiver settings.
    pub lab: String,
    /// The search plan.
    pub plan: String,
    /// Whether the run replayed a recorded trace (its goals are then judged on that trace)
    /// rather than the generated suite.
    pub recorded: bool,
}

/// A goal of issue 6 and whether this run met it.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// What was asked.
    pub goal: &'static str,
    /// `Some(true)` met, `Some(false)` missed, `None` not measurable in this run.
    pub met: Option<bool>,
    /// Whether the goal applies to this run at all (a goal about a built-in scenario does not
    /// apply to a recorded trace; then `met` is `None`).
    pub applies: bool,
    /// The numbers behind the verdict.
    pub detail: String,
}

/// The suite's results with what is needed to present them.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The header.
    pub settings: Settings,
    /// Per scenario.
    pub results: Vec<ScenarioResult>,
}

fn rate(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else if x == 0.0 {
        "0".into()
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else if x >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn secs(x: f64) -> String {
    if x.is_nan() { "–".into() } else { format!("{x:.3}") }
}

fn knob(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}

fn accuracy(q: &Quality) -> String {
    format!("{:.6}", q.query_accuracy)
}

fn reach(t: &Tuned) -> &'static str {
    match t.reach {
        Reach::Boundary => "",
        Reach::AggressiveEnd => " (range end)",
        Reach::Unreachable => " (target not reached)",
    }
}

/// The share of `q`'s deadlines clamped to `max_timeout` and to `min_timeout`, for a cell.
fn clamped(q: &Quality) -> String {
    let pct = |x: f64| {
        if x == 0.0 {
            "0".to_owned()
        } else if x >= 0.0995 {
            format!("{:.0} %", x * 100.0)
        } else {
            format!("{:.1} %", x * 100.0)
        }
    };
    let (max, min) = q.clamped();
    format!("{} / {}", pct(max), pct(min))
}

/// Mistakes a fixed timeout tuned to `target` may make on the span it was tuned on: how many
/// mistakes decide where the frontier lies.
pub fn allowed(target: f64, q: &Quality) -> u64 {
    let n = (target * q.hours).floor();
    if n.is_finite() && n > 0.0 { n as u64 } else { 0 }
}

/// The chance that a Poisson count of mean `mean` comes out at `k` or more: how surprising `k`
/// mistakes would be if the detector's true rate were exactly the one `mean` stands for.
pub fn poisson_tail(mean: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    // Each term below k is exp(−mean + i·ln mean − ln i!), built in log space: e^−mean alone
    // underflows to 0 past a mean of about 745, which would make every count look likely.
    let ln_mean = mean.ln();
    let (mut ln_term, mut below) = (-mean, 0.0);
    for i in 0..k {
        below += ln_term.exp();
        ln_term += ln_mean - ((i + 1) as f64).ln();
    }
    (1.0 - below).clamp(0.0, 1.0)
}

/// Out of sample, a count over a rate is taken as over it only when chance explains it poorly:
/// when that many mistakes or more would come with less than this probability at exactly that
/// rate. Between the rate and that point a count decides nothing either way.
pub const SURPRISE: f64 = 0.05;

/// How a count of mistakes on the test trace stands against a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// At or below it.
    Within,
    /// Over it by no more than chance explains ([`SURPRISE`]): neither within nor over.
    OverByChance,
    /// Over it beyond chance.
    Over,
}

/// Judges `q`'s mistakes against `per_hour` over its hours (a one-sided Poisson test when over).
pub fn judge_count(q: &Quality, per_hour: f64) -> Count {
    if q.meets(per_hour) {
        Count::Within
    } else if poisson_tail(per_hour * q.hours, q.mistakes) >= SURPRISE {
        Count::OverByChance
    } else {
        Count::Over
    }
}

/// Frontiers that allow fewer mistakes than this are noise: one mistake more or less moves
/// them a long way, so a verdict against them is marked low-confidence.
pub const CONFIDENT_MISTAKES: u64 = 5;

fn find(r: &ScenarioResult, c: Contender) -> Option<&ContenderResult> {
    r.contenders.iter().find(|x| x.contender == c)
}

impl Report {
    /// The whole report as Markdown (deterministic).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Heartbeat failure detectors: QoS lab report\n");
        let _ = writeln!(out, "- Traces: {}", self.settings.traces);
        let _ = writeln!(out, "- Receiver: {}", self.settings.lab);
        let _ = writeln!(out, "- Search: {}", self.settings.plan);
        let _ = writeln!(
            out,
            "- Metrics (Chen, Toueg, Aguilera): λ_M = `Down` verdicts on the live peer per hour; T_M = mean time until \
             it is `Up` again; P_A = fraction of time the verdict is right; T_D = time from a crash right after a send \
             to `Down` (every send past the warm-up is a crash point: the deadline the real monitor set after the last \
             heartbeat sent up to the crash, minus the crash).\n"
        );
        self.scenarios_table(&mut out);
        for r in &self.results {
            self.scenario(&mut out, r);
        }
        self.verdicts(&mut out);
        self.guard_table(&mut out);
        let _ = writeln!(out, "## Goals\n");
        for g in self.goals() {
            let verdict = match g.met {
                Some(true) => "**met**",
                Some(false) => "**missed**",
                None if !g.applies => "**does not apply**",
                None => "**not evaluated**",
            };
            let _ = writeln!(out, "- {} — {verdict}. {}", g.goal, g.detail);
        }
        let _ = writeln!(out);
        out
    }

    fn scenarios_table(&self, out: &mut String) {
        let _ = writeln!(out, "## Scenarios\n");
        let _ = writeln!(
            out,
            "| scenario | what | hours A / B | loss A | delay mean / p99 / max (s) A | longest loss burst A | receiver stalls A |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for r in &self.results {
            let [a, b] = &r.stats;
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} / {:.0} | {:.3} % | {} / {} / {} | {} | {} |",
                r.name,
                r.about,
                a.hours,
                b.hours,
                a.loss * 100.0,
                secs(a.delay_mean),
                secs(a.delay_p99),
                secs(a.delay_max),
                a.longest_loss_burst,
                a.receiver_stalls
            );
        }
        let _ = writeln!(out);
        for r in &self.results {
            let _ = writeln!(out, "- `{}` A: {}", r.name, r.provenance[0]);
            let _ = writeln!(out, "- `{}` B: {}", r.name, r.provenance[1]);
        }
        let _ = writeln!(out);
    }

    fn scenario(&self, out: &mut String, r: &ScenarioResult) {
        let _ = writeln!(out, "## {}\n", r.name);
        let _ = writeln!(out, "{}\n", r.about);
        let targets: Vec<f64> = r.hindsight.iter().map(|(t, _)| *t).collect();
        for (i, &target) in targets.iter().enumerate() {
            let _ = writeln!(out, "### Target λ_M ≤ {}/h: tuned on A, tested on B\n", rate(target));
            let _ = writeln!(
                out,
                "| detector | knob | A: λ_M (/h) | A: T_D mean (s) | B: λ_M (/h) | B: T_D mean (s) | B: T_D p99 (s) | B: T_M (s) | B: P_A | B: deadlines at max / min bound |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
            for c in &r.contenders {
                let Some(t) = c.targets.get(i) else { continue };
                let a = &t.tuned.point.quality;
                let _ = writeln!(
                    out,
                    "| {} | {} = {}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    c.contender.name(),
                    c.contender.knob(),
                    knob(t.tuned.point.knob),
                    reach(&t.tuned),
                    rate(a.mistake_rate),
                    secs(a.detection_mean),
                    rate(t.test.mistake_rate),
                    secs(t.test.detection_mean),
                    secs(t.test.detection_p99),
                    secs(t.test.mistake_duration),
                    accuracy(&t.test),
                    clamped(&t.test)
                );
            }
            if let Some(d) = find(r, Contender::Adaptive).and_then(|c| c.declared.get(i)) {
                let _ = writeln!(
                    out,
                    "| **adaptive, declared target (no tuning)** | target (/h) = {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    rate(d.target),
                    rate(d.on_a.mistake_rate),
                    secs(d.on_a.detection_mean),
                    rate(d.on_b.mistake_rate),
                    secs(d.on_b.detection_mean),
                    secs(d.on_b.detection_p99),
                    secs(d.on_b.mistake_duration),
                    accuracy(&d.on_b),
                    clamped(&d.on_b)
                );
            }
            if let Some((_, h)) = r.hindsight.get(i) {
                let q = &h.point.quality;
                let _ = writeln!(
                    out,
                    "| *fixed timeout, hindsight-best on B (frontier; allows {} mistakes)* | timeout (s) = {}{} | | | {} | {} | {} | {} | {} | {} |",
                    allowed(target, q),
                    knob(h.point.knob),
                    reach(h),
                    rate(q.mistake_rate),
                    secs(q.detection_mean),
                    secs(q.detection_p99),
                    secs(q.mistake_duration),
                    accuracy(q),
                    clamped(q)
                );
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "### Published defaults\n");
        let _ = writeln!(
            out,
            "| configuration | A: λ_M (/h) | A: T_D mean (s) | B: λ_M (/h) | B: T_D mean (s) | B: T_D p99 (s) | B: P_A | B: deadlines at max / min bound |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
        for (d, a, b) in &r.presets {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                d.name(),
                rate(a.mistake_rate),
                secs(a.detection_mean),
                rate(b.mistake_rate),
                secs(b.detection_mean),
                secs(b.detection_p99),
                accuracy(b),
                clamped(b)
            );
        }
        if crate::plot::drawable(r) {
            let _ = writeln!(out, "\n![λ_M against T_D on trace A]({}.svg)\n", r.name);
        } else {
            let _ = writeln!(
                out,
                "\nNo plot: no knob setting on trace A had a finite mean detection time (nothing was measured past \
                 the warm-up).\n"
            );
        }
    }

    fn guard_table(&self, out: &mut String) {
        let rows: Vec<_> = self
            .results
            .iter()
            .flat_map(|r| r.contenders.iter().flat_map(move |c| c.guard.iter().map(move |g| (r, g))))
            .collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(out, "## Local-stall guard\n");
        let _ = writeln!(
            out,
            "Trace B of each scenario with receiver stalls, replayed with the guard off and on (pause η/1000), each \
             detector at its knob tuned to the first target on A (and the adaptive detector also at that target as \
             declared). During a stall the receiver neither reads nor ticks; at its end the timer fires first and the \
             frames queued meanwhile are read after it. *At stall ends* counts the verdicts on the live peer issued by \
             that tick although a fresh heartbeat from it was waiting to be read: convictions on the receiver's own \
             pause. *Removed* is the share of each kind the guard took away (+N: it added N where there were none). \
             The last column counts all mistakes, and replays the same network draws without the stalls for scale.\n"
        );
        let _ = writeln!(
            out,
            "| scenario | detector | at stall ends, guard off: `Suspect` / `Down` | guard on: `Suspect` / `Down` | removed: `Suspect` / `Down` | all `Down` on B: guard off / guard on / no stalls |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for (r, g) in rows {
            let _ = writeln!(
                out,
                "| {} | {} ({} = {}) | {} / {} | {} / {} | {} / {} | {} / {} / {} |",
                r.name,
                g.contender.name(),
                if g.declared { "declared target (/h)" } else { g.contender.knob() },
                knob(g.knob),
                g.unguarded.stall_suspects,
                g.unguarded.stall_mistakes,
                g.guarded.stall_suspects,
                g.guarded.stall_mistakes,
                removal(g.unguarded.stall_suspects, g.guarded.stall_suspects, true),
                removal(g.unguarded.stall_mistakes, g.guarded.stall_mistakes, true),
                g.unguarded.mistakes,
                g.guarded.mistakes,
                g.no_stalls.mistakes,
            );
        }
        let _ = writeln!(out);
    }

    /// The (trace, target) cells the zero-tuning goals are judged on: every scenario of the
    /// default suite at both [`TARGETS`] (or, for a recorded trace, that trace at both), with
    /// what this run lacks of them.
    fn cells(&self) -> (Vec<Cell<'_>>, Vec<String>) {
        let names: Vec<String> = if self.settings.recorded {
            self.results.iter().map(|r| r.name.clone()).collect()
        } else {
            scenario::suite().iter().map(|s| s.name.to_owned()).collect()
        };
        let mut cells = Vec::new();
        let mut absent = Vec::new();
        for name in names {
            let Some(r) = self.results.iter().find(|r| r.name == name) else {
                absent.push(format!("scenario {name}"));
                continue;
            };
            for target in TARGETS {
                let declared =
                    find(r, Contender::Adaptive).and_then(|c| c.declared.iter().find(|d| d.target == target));
                let frontier = r.hindsight.iter().find(|(t, _)| *t == target).map(|(_, h)| h);
                let (Some(d), Some(frontier)) = (declared, frontier) else {
                    absent.push(format!("{name} at ≤{}/h", rate(target)));
                    continue;
                };
                let label = format!("{name} ≤{}/h", rate(target));
                cells.push(Cell { trace: &r.name, label, target, declared: &d.on_b, frontier });
            }
        }
        if self.results.is_empty() {
            absent.push("every trace".to_owned());
        }
        (cells, absent)
    }

    /// What a run lacks for the zero-tuning goals, as the goal's scope.
    fn cells_scope(&self, absent: &[String]) -> Option<String> {
        (!absent.is_empty()).then(|| {
            let of = if self.settings.recorded { "the recorded trace" } else { "the default suite" };
            format!(
                "This run lacks {} of {of} (every trace at both targets, {}/h)",
                absent.join(", "),
                TARGETS.map(rate).join(" and ")
            )
        })
    }

    /// The verdicts section: per trace and target, the adaptive detector at the declared
    /// target on the test trace against the frontier there, and a pass/fail line per trace.
    fn verdicts(&self, out: &mut String) {
        let (cells, _) = self.cells();
        if cells.is_empty() {
            return;
        }
        let _ = writeln!(out, "## Verdicts: the adaptive detector at its declared target against the frontier (B)\n");
        let _ = writeln!(
            out,
            "Untuned: the adaptive detector given the target and nothing else, replayed on the test trace B; the \
             frontier is the fixed timeout tuned on B itself (hindsight). A cell passes when λ_M ≤ 2× the target and \
             mean T_D ≤ 1.10× the frontier's; a count of mistakes over 2× the target fails only if it would come with \
             under 5 % chance at exactly 2× the target (a one-sided Poisson test: a few mistakes more than expected \
             are what an exact rate gives at times); short of that it leaves the cell undecided. *Allows* is the number of mistakes the frontier's target permits on B \
             (target × measured hours): below {CONFIDENT_MISTAKES} the frontier is set by the few longest gaps and \
             moves a long way with one mistake more or less, so its T_D verdict is low-confidence and does not \
             decide. *At max / min* is the share of the adaptive detector's deadlines on B that the node's \
             `max_timeout` / `min_timeout` clamped.\n"
        );
        let _ = writeln!(
            out,
            "| trace | target (/h) | λ_M on B (/h) | λ_M ÷ target | T_D on B (s) | frontier timeout (s) | frontier T_D (s) | T_D ÷ frontier | frontier allows | at max / min | verdict |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        for c in &cells {
            let f = &c.frontier.point.quality;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {} | {}{} | {} | {:.3} | {} | {} | {} |",
                c.trace,
                rate(c.target),
                rate(c.declared.mistake_rate),
                c.declared.mistake_rate / c.target,
                secs(c.declared.detection_mean),
                knob(c.frontier.point.knob),
                reach(c.frontier),
                secs(f.detection_mean),
                c.ratio(),
                c.allowed(),
                clamped(c.declared),
                c.verdict()
            );
        }
        let _ = writeln!(out);
        let mut traces: Vec<&str> = cells.iter().map(|c| c.trace).collect();
        traces.dedup();
        for trace in traces {
            let mine: Vec<&Cell<'_>> = cells.iter().filter(|c| c.trace == trace).collect();
            let rates_ok = mine.iter().filter(|c| c.rate() == Count::Within).count();
            let rates_over = mine.iter().filter(|c| c.rate() == Count::Over).count();
            let rates_unclear = mine.len() - rates_ok - rates_over;
            let confident: Vec<_> = mine.iter().filter(|c| c.detection() != Detection::LowConfidence).collect();
            let within = confident
                .iter()
                .filter(|c| matches!(c.detection(), Detection::Within | Detection::WithinAtFloor))
                .count();
            let over = confident.iter().filter(|c| c.detection() == Detection::Over).count();
            let low = mine.len() - confident.len();
            let undecided = confident.len() - within - over;
            let verdict = if rates_over > 0 || over > 0 {
                "**fail**"
            } else if rates_unclear > 0 {
                "**λ_M undecided**"
            } else if within == 0 {
                "**pass on λ_M; T_D undecided**"
            } else {
                "**pass**"
            };
            let _ = writeln!(
                out,
                "- {trace}: {verdict} — λ_M ≤ 2× target at {rates_ok} of {} targets{}; T_D ≤ 1.10× the frontier at \
                 {within} of {} cells whose frontier allows ≥ {CONFIDENT_MISTAKES} mistakes ({over} over{}); {low} \
                 low-confidence cell{}.",
                mine.len(),
                if rates_unclear > 0 {
                    format!(" ({rates_unclear} over it by count, within chance)")
                } else {
                    String::new()
                },
                confident.len(),
                if undecided > 0 { format!(", {undecided} without a comparable frontier") } else { String::new() },
                if low == 1 { "" } else { "s" }
            );
        }
        let _ = writeln!(out);
    }

    /// The verdict on each goal of the issues that the lab measures. A goal is met only where
    /// this run's measurements show it; where they cannot (a subset of the suite, a frontier
    /// that was not found, detectors not at equal mistake rate) it is not evaluated or missed,
    /// and the detail says why.
    pub fn goals(&self) -> Vec<Goal> {
        vec![self.rate_goal(), self.detection_goal(), self.chen_goal(), self.stall_guard_goal(), footprint_goal()]
    }

    /// Goal 1a: the adaptive detector at its declared target keeps λ_M within 2× of it on B.
    fn rate_goal(&self) -> Goal {
        let (cells, absent) = self.cells();
        let mut judged = Judged::default();
        for c in &cells {
            let row = format!(
                "{}: λ_M {}/h ({:.2}× target)",
                c.label,
                rate(c.declared.mistake_rate),
                c.declared.mistake_rate / c.target
            );
            match c.rate() {
                Count::Within => judged.met(row),
                Count::OverByChance => judged.not_comparable(
                    format!("{row} — {}", c.rate_noise()),
                    format!("{}: λ_M over 2× target by count, but within chance, so the cell is undecided", c.label),
                ),
                Count::Over => {
                    judged.missed(format!("{row} — {}", c.rate_noise()), format!("{} (λ_M over 2× target)", c.label))
                }
            }
        }
        judged.goal(
            "Adaptive detector at its declared target, no tuning, out of sample (B): λ_M ≤ 2× target in every cell \
             (trace × target; a count over 2× target that would still come with ≥ 5 % chance at exactly 2× target \
             leaves its cell undecided)",
            self.cells_scope(&absent),
        )
    }

    /// Goal 1b: its mean T_D within 10 % of the frontier where the frontier is not noise.
    fn detection_goal(&self) -> Goal {
        let (cells, absent) = self.cells();
        let mut judged = Judged::default();
        for c in &cells {
            judged.add_detection_row(c);
        }
        judged.goal(
            "Adaptive detector at its declared target, no tuning, out of sample (B): mean T_D ≤ 1.10× the \
             hindsight-best fixed timeout's on B in every cell whose frontier allows ≥ 5 mistakes (cells below are \
             low-confidence and shown, not judged)",
            self.cells_scope(&absent),
        )
    }

    /// Goal 2: faster than Chen on WAN delay spikes at equal mistake rate — against the better
    /// of Chen's two variants (η estimated, η known) at each target.
    fn chen_goal(&self) -> Goal {
        const GOAL: &str = "T_D at least 15 % lower than Chen's on the WAN delay-spike scenario at equal mistake rate: \
             all tuned on A to the same target, mean T_D compared on B against the better of Chen's two variants (η \
             estimated from the window, η known) where the adaptive detector is at or below the target on B or makes no \
             more mistakes there than that Chen (a count over the target that chance explains — ≥ 5 % at exactly the \
             target — is neither; a Chen variant over the target beyond chance is not a baseline)";
        if self.settings.recorded {
            return Goal {
                goal: GOAL,
                met: None,
                applies: false,
                detail: "It is about the built-in wan-spikes scenario; this run replayed a recorded trace (both Chen \
                         variants are in its tables)."
                    .to_owned(),
            };
        }
        let mut judged = Judged::default();
        let mut scope = None;
        let result = self.results.iter().find(|r| r.name == "wan-spikes");
        match result.and_then(chen_variants) {
            None => scope = Some("The wan-spikes scenario did not run".to_owned()),
            Some((adaptive, chens)) => {
                for target in TARGETS {
                    let at =
                        |c: &ContenderResult| c.targets.iter().find(|t| t.target == target).map(|t| (c.contender, *t));
                    let chen: Vec<(Contender, TargetResult)> = chens.iter().filter_map(|c| at(c)).collect();
                    match at(adaptive) {
                        Some((_, a)) if chen.len() == chens.len() => judged.add_chen_row(target, &a, &chen),
                        _ => scope = Some(format!("The target ≤{}/h did not run", rate(target))),
                    }
                }
            }
        }
        judged.goal(GOAL, scope)
    }

    /// Goal 3: the stall guard, on the adaptive detector at its declared target.
    fn stall_guard_goal(&self) -> Goal {
        let mut judged = Judged::default();
        let mut others = Vec::new();
        for r in &self.results {
            for c in &r.contenders {
                for g in &c.guard {
                    let kinds = [
                        ("Suspect", g.unguarded.stall_suspects, g.guarded.stall_suspects),
                        ("Down", g.unguarded.stall_mistakes, g.guarded.stall_mistakes),
                    ];
                    if c.contender == Contender::Adaptive && g.declared {
                        for (kind, off, on) in kinds {
                            judged.add_guard_row(&r.name, g.knob, kind, off, on);
                        }
                        continue;
                    }
                    let low: Vec<String> = kinds
                        .iter()
                        .filter(|(_, off, on)| !guard_removes_enough(*off, *on))
                        .map(|(kind, off, on)| format!("`{kind}` {off} → {on}"))
                        .collect();
                    if !low.is_empty() {
                        let name = c.contender.name();
                        others.push(format!(
                            "{} {name} ({} = {}): {}",
                            r.name,
                            c.contender.knob(),
                            knob(g.knob),
                            low.join(", ")
                        ));
                    }
                }
            }
        }
        let scope = judged.is_empty().then(|| "No receiver stall convicted anything in this run".to_owned());
        let mut goal = judged.goal(
            "The local-stall guard removes at least 90 % of receiver-stall false suspicions (the default detector: \
             adaptive at its declared target; `Suspect` and `Down` verdicts at stall ends judged separately)",
            scope,
        );
        if !others.is_empty() {
            let _ = write!(
                goal.detail,
                " Below 90 % for other rows of the guard table (not part of this verdict): {}.",
                others.join("; ")
            );
        }
        goal
    }
}

/// Goal 4: the adaptive detector's state per peer, as the core measures it. It is a property
/// of the build, the same whatever the trace.
fn footprint_goal() -> Goal {
    use heartbeat_proto::PeerFootprint;
    let state = size_of::<heartbeat_proto::detector::AdaptiveState>();
    let monitor = PeerFootprint::of::<heartbeat_proto::detector::AdaptiveState>().total();
    let stateless = PeerFootprint::of::<()>().total();
    Goal {
        goal: "≤ 256 B of detector state per peer for the default detector (issue 6: bounded state, \
               e.g. a decayed histogram instead of a 1000-sample window)",
        met: Some(state <= 256),
        applies: true,
        detail: format!(
            "The adaptive detector keeps {state} B per peer (`size_of::<AdaptiveState>()`, fixed at build time, \
             the same on every trace). For scale: a Monitor's whole per-peer footprint with it is {monitor} B \
             (`PeerFootprint::total`), of which {stateless} B is the monitor's own record that every detector pays; \
             an Akka-style φ with 1000 samples needs {} B in all. Time per heartbeat: see the criterion bench \
             (`cargo bench -p heartbeat-qos`).",
            Contender::AkkaPhi.bytes_per_peer()
        ),
    }
}

/// `r`'s adaptive detector and its Chen variants, if it has both.
fn chen_variants(r: &ScenarioResult) -> Option<(&ContenderResult, Vec<&ContenderResult>)> {
    let chens: Vec<_> = [Contender::Chen, Contender::ChenKnown].iter().filter_map(|&c| find(r, c)).collect();
    Some((find(r, Contender::Adaptive)?, chens)).filter(|(_, c)| !c.is_empty())
}

/// One (trace, target) cell of the zero-tuning goals: the adaptive detector at the declared
/// target on B, and the frontier there.
struct Cell<'r> {
    trace: &'r str,
    label: String,
    target: f64,
    declared: &'r Quality,
    frontier: &'r Tuned,
}

/// How a cell's detection time compares with its frontier's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detection {
    /// Within 10 %.
    Within,
    /// More than 10 % slower.
    Over,
    /// The frontier allows fewer than [`CONFIDENT_MISTAKES`]: shown, not judged.
    LowConfidence,
    /// No fixed timeout in range met the target on B.
    NoFrontier,
    /// Within 10 % of a frontier at the shortest fixed timeout searched, the interval (the
    /// search starts there by construction, [`Contender::range`]). That is the frontier of
    /// fixed timeouts a sender can ask for: the wire refuses a requested timeout below its
    /// interval. (A receiver-side fixed deadline below the interval would be overrun by every gap
    /// near the interval, so it could only win on a sender whose gaps all fall short of it.)
    WithinAtFloor,
    /// No detection time was measured.
    Unmeasured,
}

impl Cell<'_> {
    fn allowed(&self) -> u64 {
        allowed(self.target, &self.frontier.point.quality)
    }

    /// λ_M on B against 2× the target.
    fn rate(&self) -> Count {
        judge_count(self.declared, 2.0 * self.target)
    }

    /// For a cell over 2× the target: its mistakes, and the chance of that many or more if
    /// the true rate were exactly 2× the target (small counts are often that noisy).
    fn rate_noise(&self) -> String {
        let (k, hours) = (self.declared.mistakes, self.declared.hours);
        let p = poisson_tail(2.0 * self.target * hours, k);
        format!("{k} mistakes in {hours:.1} h; {p:.2} chance of {k} or more at exactly 2× target")
    }

    fn ratio(&self) -> f64 {
        self.declared.detection_mean / self.frontier.point.quality.detection_mean
    }

    fn detection(&self) -> Detection {
        let ratio = self.ratio();
        match self.frontier.reach {
            Reach::Unreachable => Detection::NoFrontier,
            _ if ratio.is_nan() => Detection::Unmeasured,
            _ if self.allowed() < CONFIDENT_MISTAKES => Detection::LowConfidence,
            _ if ratio > 1.10 => Detection::Over,
            Reach::AggressiveEnd => Detection::WithinAtFloor,
            Reach::Boundary => Detection::Within,
        }
    }

    /// The verdict cell of the verdicts table.
    fn verdict(&self) -> String {
        let rate = match self.rate() {
            Count::Within => String::new(),
            Count::OverByChance => format!("λ_M over 2× target by count, within chance ({}); ", self.rate_noise()),
            Count::Over => format!("λ_M over 2× target ({}); ", self.rate_noise()),
        };
        let detection = match self.detection() {
            Detection::Within => "T_D within 1.10×",
            Detection::Over => "T_D over 1.10×",
            Detection::LowConfidence if self.ratio() > 1.10 => "T_D over 1.10×, low-confidence",
            Detection::LowConfidence => "T_D within 1.10×, low-confidence",
            Detection::NoFrontier => "no frontier (no fixed timeout met the target)",
            Detection::WithinAtFloor => {
                "T_D within 1.10× of a frontier at the interval, the shortest timeout the wire allows"
            }
            Detection::Unmeasured => "no T_D measured",
        };
        let head = match (self.rate(), self.detection()) {
            (Count::Over, _) | (_, Detection::Over) => "**fail**",
            (Count::OverByChance, _) => "undecided",
            _ => "pass",
        };
        format!("{head}: {rate}{detection}")
    }
}

/// The comparisons behind one goal, each met, missed or not comparable.
#[derive(Debug, Default)]
struct Judged {
    rows: Vec<String>,
    met: usize,
    missed: Vec<String>,
    not_comparable: Vec<String>,
    low_confidence: usize,
}

impl Judged {
    fn met(&mut self, row: String) {
        self.met += 1;
        self.rows.push(row);
    }

    fn missed(&mut self, row: String, what: String) {
        self.missed.push(what);
        self.rows.push(row);
    }

    fn not_comparable(&mut self, row: String, why: String) {
        self.not_comparable.push(why);
        self.rows.push(row);
    }

    fn is_empty(&self) -> bool {
        self.met == 0 && self.missed.is_empty() && self.not_comparable.is_empty()
    }

    /// Goal 1b at one cell.
    fn add_detection_row(&mut self, c: &Cell<'_>) {
        let frontier = &c.frontier.point.quality;
        let (max, _) = c.declared.clamped();
        let row = format!(
            "{}: T_D {} s vs {} s for the fixed timeout of {} s{} ({:+.1} %; the frontier allows {} mistakes{})",
            c.label,
            secs(c.declared.detection_mean),
            secs(frontier.detection_mean),
            knob(c.frontier.point.knob),
            reach(c.frontier),
            (c.ratio() - 1.0) * 100.0,
            c.allowed(),
            if max >= 0.01 {
                format!("; {:.0} % of the adaptive deadlines at max_timeout", max * 100.0)
            } else {
                String::new()
            }
        );
        let label = &c.label;
        match c.detection() {
            Detection::Within => self.met(row),
            Detection::Over => self.missed(row, format!("{label} (T_D over 110 % of the frontier's)")),
            Detection::LowConfidence => {
                self.low_confidence += 1;
                self.rows.push(format!("{row} — low-confidence, not judged"));
            }
            Detection::NoFrontier => {
                let why = format!(
                    "{label}: no fixed timeout up to {} s met the target on B (λ_M {}/h there), so there is no \
                     frontier to compare with",
                    knob(c.frontier.point.knob),
                    rate(frontier.mistake_rate)
                );
                self.not_comparable(row, why);
            }
            Detection::WithinAtFloor => self.met(format!(
                "{row} — the frontier is the interval, the shortest timeout the wire lets a sender ask for"
            )),
            Detection::Unmeasured => self.not_comparable(row, format!("{label}: no detection time measured")),
        }
    }

    /// Goal 2 at one target: adaptive `a` against each Chen variant in `chens`, judged against
    /// the fastest variant on B that is not over the target beyond chance ([`judge_count`]; one
    /// over it by chance is only a stronger baseline). The comparison is at equal mistake rate
    /// when the adaptive detector is within the target on B, or makes no more mistakes there than
    /// that Chen; over it by chance with more mistakes than Chen, it decides nothing.
    fn add_chen_row(&mut self, target: f64, a: &TargetResult, chens: &[(Contender, TargetResult)]) {
        let qa = &a.test;
        let label = format!("≤{}/h", rate(target));
        // Says so when a count over the target is within chance.
        let chance = |q: &Quality| {
            if q.meets(target) {
                String::new()
            } else {
                let p = poisson_tail(target * q.hours, q.mistakes);
                format!(
                    " ({} mistakes where the target allows {}: {p:.2} chance at exactly it)",
                    q.mistakes,
                    allowed(target, q)
                )
            }
        };
        let mut parts = vec![format!(
            "{label}, on B: adaptive T_D {} s at λ_M {}/h{}",
            secs(qa.detection_mean),
            rate(qa.mistake_rate),
            chance(qa)
        )];
        for (c, t) in chens {
            parts.push(format!(
                "{} {} s at λ_M {}/h{} ({:.1} % lower; on A, where tuned: {} s at {}/h)",
                c.name(),
                secs(t.test.detection_mean),
                rate(t.test.mistake_rate),
                chance(&t.test),
                (1.0 - qa.detection_mean / t.test.detection_mean) * 100.0,
                secs(t.tuned.point.quality.detection_mean),
                rate(t.tuned.point.quality.mistake_rate)
            ));
        }
        let best = chens
            .iter()
            .filter(|(_, t)| judge_count(&t.test, target) != Count::Over && t.test.detection_mean.is_finite())
            .min_by(|x, y| x.1.test.detection_mean.total_cmp(&y.1.test.detection_mean));
        let row = match best {
            Some((c, _)) => format!("{}; the better Chen: {}", parts.join(" vs "), c.name()),
            None => parts.join(" vs "),
        };
        let adaptive = judge_count(qa, target);
        if adaptive == Count::Over {
            self.missed(row, format!("{label} (the adaptive detector over the target on B, beyond chance)"));
            return;
        }
        let Some((_, best)) = best else {
            self.not_comparable(
                row,
                format!("{label}: every Chen variant over the target on B beyond chance, so not at equal mistake rate"),
            );
            return;
        };
        if adaptive == Count::OverByChance && qa.mistake_rate > best.test.mistake_rate {
            self.not_comparable(
                row,
                format!(
                    "{label}: the adaptive detector over the target on B by count (within chance) and making more \
                     mistakes there than the better Chen, so not at equal mistake rate"
                ),
            );
            return;
        }
        let gain = 1.0 - qa.detection_mean / best.test.detection_mean;
        if gain.is_nan() {
            self.not_comparable(row, format!("{label}: no detection time measured"));
        } else if gain >= 0.15 {
            self.met(row);
        } else {
            self.missed(row, format!("{label} (less than 15 % lower than the better Chen)"));
        }
    }

    /// Goal 3 at one scenario and kind of verdict: `off` at stall ends without the guard,
    /// `on` with it.
    fn add_guard_row(&mut self, scenario: &str, target: f64, kind: &str, off: u64, on: u64) {
        let row = format!(
            "{scenario} (adaptive, declared {}/h), `{kind}` at stall ends: {off} with the guard off, {on} with it on \
             ({})",
            rate(target),
            removal(off, on, false)
        );
        if off == 0 && on == 0 {
            // Nothing to remove: shown, but it decides nothing.
            self.rows.push(row);
        } else if guard_removes_enough(off, on) {
            self.met(row);
        } else {
            self.missed(row, format!("{scenario} `{kind}`"));
        }
    }

    /// The verdict: not evaluated when `scope` says the run cannot show the goal; missed if
    /// any comparison missed; not evaluated if any could not be made (or none was); met
    /// otherwise.
    fn goal(self, goal: &'static str, scope: Option<String>) -> Goal {
        let mut detail = Vec::new();
        let met = if let Some(scope) = scope {
            detail.push(format!("{scope}, so the goal is not evaluated."));
            None
        } else if !self.missed.is_empty() {
            Some(false)
        } else if self.met == 0 && self.not_comparable.is_empty() && self.low_confidence > 0 {
            detail.push(format!(
                "Every frontier allows fewer than {CONFIDENT_MISTAKES} mistakes, so no cell decides and the goal is \
                 not evaluated."
            ));
            None
        } else if !self.not_comparable.is_empty() || self.met == 0 {
            detail.push("Not every comparison could be made, so the goal is not evaluated.".to_owned());
            None
        } else {
            Some(true)
        };
        if !self.missed.is_empty() {
            detail.push(format!("Missed on: {}.", self.missed.join(", ")));
        }
        if !self.not_comparable.is_empty() {
            detail.push(format!("Not comparable: {}.", self.not_comparable.join("; ")));
        }
        if !self.rows.is_empty() {
            detail.push(format!("{}.", self.rows.join("; ")));
        }
        Goal { goal, met, applies: true, detail: detail.join(" ") }
    }
}

/// Whether the guard removed at least 90 % of one kind of stall-end verdict (and added none
/// where there were none).
fn guard_removes_enough(off: u64, on: u64) -> bool {
    on as f64 <= 0.1 * off as f64
}

/// What the guard did to `off` verdicts of one kind, leaving `on`: the share it removed, or
/// what it added where there was nothing to remove; `short` for a table cell.
fn removal(off: u64, on: u64, short: bool) -> String {
    let share = off.saturating_sub(on) as f64 / off.max(1) as f64 * 100.0;
    match (off, on, short) {
        (0, 0, true) => "–".into(),
        (0, 0, false) => "none to remove".into(),
        (0, _, true) => format!("+{on}"),
        (0, _, false) => format!("{on} added"),
        (_, _, true) => format!("{share:.1} %"),
        (_, _, false) => format!("{share:.1} % removed"),
    }
}

/// Cost per detector: bytes per peer (fixed) and measured time per heartbeat (this machine).
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// The detector.
    pub contender: Contender,
    /// Bytes per peer in a monitor.
    pub bytes: usize,
    /// Nanoseconds per heartbeat in the detector alone (`on_heartbeat` + `deadlines`).
    pub detector_ns: f64,
    /// Nanoseconds per heartbeat for the whole receiver (encode, `on_message`, `tick`).
    pub receiver_ns: f64,
}

/// The cost table (machine-dependent).
pub fn cost_markdown(costs: &[Cost], trace: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Cost (measured on this machine; not part of the deterministic tables)\n");
    let _ = writeln!(out, "Timed over the arrivals of trace {trace}; criterion gives the careful numbers.\n");
    let _ =
        writeln!(out, "| detector | bytes per peer | ns per heartbeat, detector | ns per heartbeat, whole receiver |");
    let _ = writeln!(out, "|---|---|---|---|");
    for c in costs {
        let _ = writeln!(out, "| {} | {} | {:.1} | {:.0} |", c.contender.name(), c.bytes, c.detector_ns, c.receiver_ns);
    }
    let _ = writeln!(out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{Declared, GuardRow};
    use crate::trace::TraceStats;
    use crate::tune::Point;

    /// `rate` mistakes per hour over 100 h, mean detection time `detection` s.
    fn q(rate: f64, detection: f64) -> Quality {
        Quality::made_up(100.0, (rate * 100.0).round() as u64, detection)
    }

    fn tuned(knob: f64, quality: Quality, reach: Reach) -> Tuned {
        Tuned { point: Point { knob, quality }, reach }
    }

    fn contender(contender: Contender) -> ContenderResult {
        ContenderResult { contender, curve: Vec::new(), targets: Vec::new(), declared: Vec::new(), guard: Vec::new() }
    }

    /// At each target: the declared adaptive detector at the target and 2.1 s on B, the
    /// fixed timeout found on B at half the target and 2 s.
    fn scenario(name: &str) -> ScenarioResult {
        let stats = TraceStats {
            heartbeats: 360_000,
            hours: 100.0,
            loss: 0.0,
            longest_loss_burst: 0,
            delay_mean: 0.0,
            delay_p99: 0.0,
            delay_max: 0.0,
            receiver_stalls: 0,
        };
        let mut adaptive = contender(Contender::Adaptive);
        let mut hindsight = Vec::new();
        for target in TARGETS {
            adaptive.declared.push(Declared { target, on_a: q(target, 2.1), on_b: q(target, 2.1) });
            hindsight.push((target, tuned(2.0, q(target / 2.0, 2.0), Reach::Boundary)));
        }
        ScenarioResult {
            name: name.into(),
            about: String::new(),
            provenance: [String::new(), String::new()],
            stats: [stats; 2],
            contenders: vec![adaptive, contender(Contender::Chen)],
            hindsight,
            presets: Vec::new(),
        }
    }

    fn report_of(results: Vec<ScenarioResult>) -> Report {
        let settings =
            Settings { traces: "made up".into(), lab: "made up".into(), plan: "made up".into(), recorded: false };
        Report { settings, results }
    }

    fn full_suite() -> Report {
        report_of(scenario::suite().iter().map(|s| scenario(s.name)).collect())
    }

    fn get<'r>(report: &'r mut Report, name: &str, c: Contender) -> &'r mut ContenderResult {
        let r = report.results.iter_mut().find(|r| r.name == name).unwrap();
        r.contenders.iter_mut().find(|x| x.contender == c).unwrap()
    }

    fn hindsight<'r>(report: &'r mut Report, name: &str, target: f64) -> &'r mut Tuned {
        let r = report.results.iter_mut().find(|r| r.name == name).unwrap();
        &mut r.hindsight.iter_mut().find(|(t, _)| *t == target).unwrap().1
    }

    #[test]
    fn zero_tuning_is_met_only_within_both_bounds_everywhere() {
        let goals = full_suite().goals();
        assert_eq!((goals[0].met, goals[1].met), (Some(true), Some(true)), "{goals:?}");

        let mut report = full_suite();
        get(&mut report, "lan", Contender::Adaptive).declared[1].on_b = q(0.4, 2.1);
        let goal = &report.goals()[0];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("Missed on: lan ≤0.10/h (λ_M over 2× target)"), "{}", goal.detail);
        assert!(goal.detail.contains("λ_M 0.40/h (4.00× target)"), "{}", goal.detail);
        assert!(goal.detail.contains("chance of "), "the noise of the count is shown: {}", goal.detail);
        assert_eq!(report.goals()[1].met, Some(true), "the detection time is a goal of its own");

        let mut report = full_suite();
        get(&mut report, "bursty-loss", Contender::Adaptive).declared[0].on_b = q(1.0, 2.3);
        let goal = &report.goals()[1];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("T_D 2.300 s vs 2.000 s") && goal.detail.contains("(+15.0 %"), "{}", goal.detail);
        assert!(goal.detail.contains("the frontier allows 100 mistakes"), "{}", goal.detail);
    }

    #[test]
    fn a_count_over_twice_the_target_by_chance_is_undecided() {
        // 25 mistakes in 100 h where 2× the target (0.1/h) expects 20: 16 % chance at exactly
        // 2× target, so chance explains it.
        let mut report = full_suite();
        get(&mut report, "lan", Contender::Adaptive).declared[1].on_b = q(0.25, 2.1);
        let goal = &report.goals()[0];
        assert_eq!(goal.met, None, "undecided, neither met nor missed: {goal:?}");
        assert!(goal.detail.contains("λ_M 0.25/h (2.50× target) — 25 mistakes"), "{}", goal.detail);
        assert!(goal.detail.contains("lan ≤0.10/h: λ_M over 2× target by count, but within chance"), "{}", goal.detail);
        let text = report.markdown();
        assert!(
            text.contains("undecided: λ_M over 2× target by count, within chance (25 mistakes in 100.0 h; 0.16"),
            "{text}"
        );
        assert!(
            text.contains("- lan: **λ_M undecided** — λ_M ≤ 2× target at 1 of 2 targets (1 over it by count"),
            "{text}"
        );
        // 30 where 20 are expected: 2.2 % chance, over beyond chance.
        get(&mut report, "lan", Contender::Adaptive).declared[1].on_b = q(0.3, 2.1);
        assert_eq!(report.goals()[0].met, Some(false));
        assert!(report.markdown().contains("**fail**: λ_M over 2× target (30 mistakes"));
    }

    #[test]
    fn consistency_with_a_rate_is_a_one_sided_poisson_test() {
        let judge = |hours, mistakes| judge_count(&Quality::made_up(hours, mistakes, 1.0), 1.0);
        assert_eq!((judge(100.0, 100), judge(100.0, 0)), (Count::Within, Count::Within), "at or below the rate");
        assert_eq!(judge(100.0, 115), Count::OverByChance, "15 % over 100 expected: about 7 % chance");
        assert_eq!(judge(100.0, 120), Count::Over, "20 % over: about 2.8 % chance");
        assert_eq!((judge(1.0, 3), judge(1.0, 5)), (Count::OverByChance, Count::Over), "3 has 8 % chance, 5 has 0.4 %");
        // Large means do not underflow into "anything is likely".
        assert_eq!(judge(800.0, 1000), Count::Over);
        assert!(poisson_tail(800.0, 2000) < 1e-9, "{}", poisson_tail(800.0, 2000));
        assert!((poisson_tail(800.0, 800) - 0.5).abs() < 0.02, "{}", poisson_tail(800.0, 800));
        assert!(poisson_tail(1000.0, 900) > 0.99);
    }

    #[test]
    fn a_poisson_tail_says_how_surprising_a_count_is() {
        assert_eq!(poisson_tail(0.58, 0), 1.0);
        // 1 - e^-m: the chance of at least one.
        assert!((poisson_tail(1.16, 1) - (1.0 - (-1.16f64).exp())).abs() < 1e-12);
        // 2 mistakes where 2× the target expects 1.16: 1 - e^-m (1 + m).
        assert!((poisson_tail(1.16, 2) - 0.3227).abs() < 1e-3, "{}", poisson_tail(1.16, 2));
        assert!(poisson_tail(1.16, 6) < 0.01);
        assert!(poisson_tail(100.0, 1) > 0.999_999);
    }

    #[test]
    fn a_frontier_allowing_few_mistakes_does_not_decide() {
        // 30 h at 0.1/h: the frontier allows 3 mistakes.
        let mut report = full_suite();
        *hindsight(&mut report, "lan", 0.1) = tuned(2.0, Quality::made_up(30.0, 1, 2.0), Reach::Boundary);
        get(&mut report, "lan", Contender::Adaptive).declared[1].on_b = Quality::made_up(30.0, 2, 3.0);
        let goal = &report.goals()[1];
        assert_eq!(goal.met, Some(true), "{goal:?}");
        assert!(goal.detail.contains("lan ≤0.10/h: T_D 3.000 s vs 2.000 s"), "{}", goal.detail);
        assert!(goal.detail.contains("allows 3 mistakes) — low-confidence, not judged"), "{}", goal.detail);
        let text = report.markdown();
        assert!(text.contains("| lan | 0.10 | 0.067 | 0.67 | 3.000 | 2.000 | 2.000 | 1.500 | 3 |"), "{text}");
        assert!(text.contains("pass: T_D over 1.10×, low-confidence"), "{text}");
        assert!(
            text.contains("- lan: **pass** — λ_M ≤ 2× target at 2 of 2 targets; T_D ≤ 1.10× the frontier at 1 of 1")
        );

        // When every cell is low-confidence, nothing decides.
        let mut report = report_of(vec![scenario("mine")]);
        report.settings.recorded = true;
        for (_, h) in &mut report.results[0].hindsight {
            h.point.quality = Quality::made_up(2.0, 0, 2.0);
        }
        let goal = &report.goals()[1];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("Every frontier allows fewer than 5 mistakes"), "{}", goal.detail);
    }

    #[test]
    fn a_recorded_trace_is_judged_on_itself() {
        let mut report = report_of(vec![scenario("my-trace")]);
        assert_eq!(report.goals()[0].met, None, "as a suite run, it lacks the scenarios");
        report.settings.recorded = true;
        let goals = report.goals();
        assert_eq!((goals[0].met, goals[1].met), (Some(true), Some(true)), "{goals:?}");
        assert!(goals[0].detail.contains("my-trace ≤1.00/h: λ_M 1.00/h (1.00× target)"), "{}", goals[0].detail);
        let chen = &goals[2];
        assert_eq!((chen.met, chen.applies), (None, false), "{chen:?}");
        let text = report.markdown();
        assert!(text.contains("## Verdicts"), "{text}");
        assert!(text.contains("- my-trace: **pass**"), "{text}");
        assert!(text.contains("**does not apply**"), "{text}");
        get(&mut report, "my-trace", Contender::Adaptive).declared[0].on_b = q(2.5, 2.0);
        assert!(report.markdown().contains("- my-trace: **fail**"));
        assert_eq!(report.goals()[0].met, Some(false));
    }

    #[test]
    fn clamped_deadlines_are_shown() {
        let mut report = report_of(vec![scenario("my-trace")]);
        report.settings.recorded = true;
        let d = &mut get(&mut report, "my-trace", Contender::Adaptive).declared[1].on_b;
        (d.at_max, d.at_min) = (d.deadlines / 2, 0);
        let text = report.markdown();
        assert!(text.contains("| 50 % / 0 | pass"), "{text}");
        assert!(report.goals()[1].detail.contains("50 % of the adaptive deadlines at max_timeout"));
    }

    #[test]
    fn zero_tuning_needs_the_whole_suite_at_both_targets() {
        let mut report = full_suite();
        report.results.retain(|r| r.name != "product-sender");
        let goal = &report.goals()[0];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("lacks scenario product-sender"), "{}", goal.detail);

        let mut report = full_suite();
        get(&mut report, "lan", Contender::Adaptive).declared.truncate(1);
        let goal = &report.goals()[1];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("lan at ≤0.10/h"), "{}", goal.detail);

        assert_eq!(report_of(Vec::new()).goals()[0].met, None);
        let mut empty = report_of(Vec::new());
        empty.settings.recorded = true;
        assert_eq!(empty.goals()[0].met, None);
    }

    #[test]
    fn zero_tuning_is_not_met_against_a_frontier_that_was_not_found() {
        // No fixed timeout up to 60 s met the target: nothing to be within 10 % of.
        let mut report = full_suite();
        *hindsight(&mut report, "wan-spikes", 0.1) = tuned(60.0, q(0.5, 60.0), Reach::Unreachable);
        let goal = &report.goals()[1];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("wan-spikes ≤0.10/h: no fixed timeout up to 60.000 s met the target"), "{goal:?}");
        // A real miss elsewhere still makes it missed.
        get(&mut report, "lan", Contender::Adaptive).declared[0].on_b = q(1.0, 3.0);
        assert_eq!(report.goals()[1].met, Some(false));

        // The fixed timeout met the target at the short end of its range, the interval: the
        // wire allows no shorter requested timeout, so that is the frontier, within or not.
        let mut report = full_suite();
        *hindsight(&mut report, "lan", 1.0) = tuned(1.0, q(0.5, 2.0), Reach::AggressiveEnd);
        let goal = &report.goals()[1];
        assert_eq!(goal.met, Some(true), "{goal:?}");
        assert!(goal.detail.contains("the frontier is the interval, the shortest timeout the wire"), "{}", goal.detail);
        assert!(report.markdown().contains("pass: T_D within 1.10× of a frontier at the interval"));
        get(&mut report, "lan", Contender::Adaptive).declared[0].on_b = q(1.0, 2.5);
        assert_eq!(report.goals()[1].met, Some(false));
    }

    /// wan-spikes with the adaptive detector and Chen tuned to every target: `(λ_M, T_D)` on
    /// A and on B for each.
    fn wan(adaptive: [(f64, f64); 2], chen: [(f64, f64); 2]) -> Report {
        let mut report = report_of(vec![scenario("wan-spikes")]);
        for (c, [(rate_a, td_a), (rate_b, td_b)]) in [(Contender::Adaptive, adaptive), (Contender::Chen, chen)] {
            get(&mut report, "wan-spikes", c).targets = TARGETS
                .iter()
                .map(|&target| TargetResult {
                    target,
                    tuned: tuned(1.0, q(rate_a * target, td_a), Reach::Boundary),
                    test: q(rate_b * target, td_b),
                })
                .collect();
        }
        report
    }

    #[test]
    fn faster_than_chen_means_on_b_with_both_within_the_target() {
        // Rates as fractions of the target.
        let goal = &wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (1.0, 5.0)]).goals()[2];
        assert_eq!(goal.met, Some(true), "{goal:?}");
        assert!(
            goal.detail.contains(
                "adaptive T_D 4.000 s at λ_M 0.80/h vs Chen, estimated η (n=1000) 5.000 s at λ_M 1.00/h (20.0 % lower"
            ),
            "{}",
            goal.detail
        );

        // 20 % lower on A, where they were tuned, but only 10 % on B.
        let goal = &wan([(0.9, 4.0), (0.8, 4.5)], [(0.9, 5.0), (1.0, 5.0)]).goals()[2];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("less than 15 % lower"), "{}", goal.detail);

        // The adaptive detector over the target on B beyond chance: missed, however fast
        // (120 mistakes where 100 are allowed: 2.8 % chance at exactly the target).
        let goal = &wan([(0.9, 1.0), (1.2, 1.0)], [(0.9, 5.0), (1.0, 5.0)]).goals()[2];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("over the target on B, beyond chance"), "{}", goal.detail);
        // Over it by what chance explains (105 where 100 are allowed, 11 where 10 are), with more
        // mistakes than Chen: undecided, and the count is shown.
        let goal = &wan([(0.9, 4.0), (1.05, 4.0)], [(0.9, 5.0), (1.0, 5.0)]).goals()[2];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(
            goal.detail.contains("at λ_M 1.05/h (105 mistakes where the target allows 100: 0.3"),
            "{}",
            goal.detail
        );
        assert!(goal.detail.contains("more mistakes there than the better Chen"), "{}", goal.detail);
        // The same with Chen over the target by chance too, making more mistakes still: the
        // adaptive detector is faster at no more mistakes.
        let goal = &wan([(0.9, 4.0), (1.05, 4.0)], [(0.9, 5.0), (1.1, 5.0)]).goals()[2];
        assert_eq!(goal.met, Some(true), "{goal:?}");

        // Chen over the target on B beyond chance: not at equal mistake rate.
        let goal = &wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (2.0, 5.0)]).goals()[2];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("every Chen variant over the target on B beyond chance"), "{}", goal.detail);
    }

    #[test]
    fn faster_than_chen_is_judged_against_the_better_variant() {
        // The estimated-η Chen at 5 s, the known-η one at 4.5 s: 4 s is 20 % below the first
        // but only 11 % below the second.
        let mut report = wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (1.0, 5.0)]);
        let mut known = get(&mut report, "wan-spikes", Contender::Chen).clone();
        known.contender = Contender::ChenKnown;
        for t in &mut known.targets {
            t.test.detection_mean = 4.5;
        }
        report.results[0].contenders.push(known.clone());
        let goal = &report.goals()[2];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("the better Chen: Chen, known η (n=1000)"), "{}", goal.detail);
        assert!(goal.detail.contains("less than 15 % lower than the better Chen"), "{}", goal.detail);
        // Over the target on B beyond chance, the known-η variant is not at equal mistake rate:
        // the other decides.
        let r = &mut report.results[0];
        let k = r.contenders.iter_mut().find(|c| c.contender == Contender::ChenKnown).unwrap();
        for t in &mut k.targets {
            t.test = q(t.target * 2.0, 4.5);
        }
        assert_eq!(report.goals()[2].met, Some(true));
    }

    #[test]
    fn faster_than_chen_is_not_evaluated_without_its_scenario_or_targets() {
        assert_eq!(full_suite().goals()[2].met, None, "no targets tuned");
        let mut report = wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (1.0, 5.0)]);
        report.results[0].name = "lan".into();
        assert_eq!(report.goals()[2].met, None, "no wan-spikes");
        let mut report = wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (1.0, 5.0)]);
        get(&mut report, "wan-spikes", Contender::Chen).targets.truncate(1);
        assert_eq!(report.goals()[2].met, None, "one target missing");
    }

    /// receiver-stalls with guard rows: the adaptive detector at its declared target with
    /// `(Suspect, Down)` at stall ends guard off and on, and 2W-FD with `other`.
    fn stalls(off: (u64, u64), on: (u64, u64), other: Option<((u64, u64), (u64, u64))>) -> Report {
        let with = |(suspects, mistakes): (u64, u64)| Quality {
            stall_suspects: suspects,
            stall_mistakes: mistakes,
            ..q(1.0, 2.0)
        };
        let row = |contender, declared, off, on| GuardRow {
            contender,
            knob: 1.0,
            declared,
            guarded: with(on),
            unguarded: with(off),
            no_stalls: q(0.5, 2.0),
        };
        let mut report = report_of(vec![scenario("receiver-stalls")]);
        get(&mut report, "receiver-stalls", Contender::Adaptive).guard =
            vec![row(Contender::Adaptive, false, (0, 0), (0, 0)), row(Contender::Adaptive, true, off, on)];
        if let Some((off, on)) = other {
            let mut two_window = contender(Contender::TwoWindow);
            two_window.guard.push(row(Contender::TwoWindow, false, off, on));
            report.results[0].contenders.push(two_window);
        }
        report
    }

    #[test]
    fn the_guard_is_judged_on_each_kind_of_verdict() {
        let goal = &stalls((100, 50), (5, 0), None).goals()[3];
        assert_eq!(goal.met, Some(true), "{goal:?}");
        assert!(goal.detail.contains("`Suspect` at stall ends: 100 with the guard off, 5 with it on (95.0 % removed)"));

        // Pooled, 110 → 7 would be 93.6 % removed; `Down` alone is 80 %.
        let goal = &stalls((100, 10), (5, 2), None).goals()[3];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("Missed on: receiver-stalls `Down`"), "{}", goal.detail);

        // None to remove without the guard, some with it: the guard added them.
        let goal = &stalls((100, 0), (0, 3), None).goals()[3];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("0 with the guard off, 3 with it on (3 added)"), "{}", goal.detail);

        // Nothing at all at stall ends: nothing shown either way.
        assert_eq!(stalls((0, 0), (0, 0), None).goals()[3].met, None);
        assert_eq!(full_suite().goals()[3].met, None, "no guard rows");

        // Other detectors are reported, not judged.
        let goal = &stalls((100, 50), (5, 0), Some(((5, 20), (5, 0)))).goals()[3];
        assert_eq!(goal.met, Some(true), "{goal:?}");
        assert!(
            goal.detail.contains("receiver-stalls 2W-FD (1000/1) (α (s) = 1.000): `Suspect` 5 → 5"),
            "{}",
            goal.detail
        );
    }

    #[test]
    fn the_footprint_goal_reads_the_cores_measurement_whatever_the_trace() {
        let state = size_of::<heartbeat_proto::detector::AdaptiveState>();
        let total = heartbeat_proto::PeerFootprint::of::<heartbeat_proto::detector::AdaptiveState>().total();
        let mut recorded = report_of(vec![scenario("mine")]);
        recorded.settings.recorded = true;
        for report in [full_suite(), recorded, report_of(Vec::new())] {
            let goal = &report.goals()[4];
            assert_eq!((goal.met, goal.applies), (Some(state <= 256), true), "{goal:?}");
            assert!(goal.detail.starts_with(&format!("The adaptive detector keeps {state} B per peer")), "{goal:?}");
            assert!(goal.detail.contains(&format!("whole per-peer footprint with it is {total} B")), "{goal:?}");
        }
    }

    #[test]
    fn the_report_says_which_goals_were_not_evaluated() {
        let mut report = full_suite();
        report.results.truncate(2);
        let text = report.markdown();
        assert!(text.contains("leaves its cell undecided) — **not evaluated**. This run lacks"), "{text}");
    }
}
