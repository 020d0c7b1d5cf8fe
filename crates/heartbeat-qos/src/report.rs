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
}

/// A goal of issue 6 and whether this run met it.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// What was asked.
    pub goal: &'static str,
    /// `Some(true)` met, `Some(false)` missed, `None` not measurable in this run.
    pub met: Option<bool>,
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
        self.guard_table(&mut out);
        let _ = writeln!(out, "## Goals\n");
        for g in self.goals() {
            let verdict = match g.met {
                Some(true) => "**met**",
                Some(false) => "**missed**",
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
                "| detector | knob | A: λ_M (/h) | A: T_D mean (s) | B: λ_M (/h) | B: T_D mean (s) | B: T_D p99 (s) | B: T_M (s) | B: P_A |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
            for c in &r.contenders {
                let Some(t) = c.targets.get(i) else { continue };
                let a = &t.tuned.point.quality;
                let _ = writeln!(
                    out,
                    "| {} | {} = {}{} | {} | {} | {} | {} | {} | {} | {} |",
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
                    accuracy(&t.test)
                );
            }
            if let Some(d) = find(r, Contender::Adaptive).and_then(|c| c.declared.get(i)) {
                let _ = writeln!(
                    out,
                    "| **adaptive, declared target (no tuning)** | target (/h) = {} | {} | {} | {} | {} | {} | {} | {} |",
                    rate(d.target),
                    rate(d.on_a.mistake_rate),
                    secs(d.on_a.detection_mean),
                    rate(d.on_b.mistake_rate),
                    secs(d.on_b.detection_mean),
                    secs(d.on_b.detection_p99),
                    secs(d.on_b.mistake_duration),
                    accuracy(&d.on_b)
                );
            }
            if let Some((_, h)) = r.hindsight.get(i) {
                let q = &h.point.quality;
                let _ = writeln!(
                    out,
                    "| *fixed timeout, hindsight-best on B (frontier)* | timeout (s) = {}{} | | | {} | {} | {} | {} | {} |",
                    knob(h.point.knob),
                    reach(h),
                    rate(q.mistake_rate),
                    secs(q.detection_mean),
                    secs(q.detection_p99),
                    secs(q.mistake_duration),
                    accuracy(q)
                );
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "### Published defaults\n");
        let _ = writeln!(
            out,
            "| configuration | A: λ_M (/h) | A: T_D mean (s) | B: λ_M (/h) | B: T_D mean (s) | B: T_D p99 (s) | B: P_A |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for (d, a, b) in &r.presets {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                d.name(),
                rate(a.mistake_rate),
                secs(a.detection_mean),
                rate(b.mistake_rate),
                secs(b.detection_mean),
                secs(b.detection_p99),
                accuracy(b)
            );
        }
        let _ = writeln!(out, "\n![λ_M against T_D on trace A]({}.svg)\n", r.name);
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

    /// The verdict on each goal of the issue that the lab measures. A goal is met only where
    /// this run's measurements show it; where they cannot (a subset of the suite, a frontier
    /// that was not found, detectors not at equal mistake rate) it is not evaluated or missed,
    /// and the detail says why.
    pub fn goals(&self) -> Vec<Goal> {
        vec![self.zero_tuning_goal(), self.chen_goal(), self.stall_guard_goal(), footprint_goal()]
    }

    /// Goal 1: the adaptive detector at its declared target, out of sample, on every scenario.
    fn zero_tuning_goal(&self) -> Goal {
        let mut judged = Judged::default();
        let mut absent = Vec::new();
        for name in scenario::suite().iter().map(|s| s.name) {
            let Some(r) = self.results.iter().find(|r| r.name == name) else {
                absent.push(format!("scenario {name}"));
                continue;
            };
            for target in TARGETS {
                let declared =
                    find(r, Contender::Adaptive).and_then(|c| c.declared.iter().find(|d| d.target == target));
                let hindsight = r.hindsight.iter().find(|(t, _)| *t == target).map(|(_, h)| h);
                let (Some(d), Some(h)) = (declared, hindsight) else {
                    absent.push(format!("{name} at ≤{}/h", rate(target)));
                    continue;
                };
                judged.add_zero_tuning_row(&format!("{name} ≤{}/h", rate(target)), target, &d.on_b, h);
            }
        }
        let scope = (!absent.is_empty()).then(|| {
            format!(
                "This run lacks {} of the default suite (every scenario at both targets, {}/h)",
                absent.join(", "),
                TARGETS.map(rate).join(" and ")
            )
        });
        judged.goal(
            "Adaptive detector at its declared target, no per-scenario tuning, out of sample (B): λ_M ≤ 2× target \
             and mean T_D within 10 % of the hindsight-best fixed timeout on B, on every scenario at both targets",
            scope,
        )
    }

    /// Goal 2: faster than Chen on WAN delay spikes at equal mistake rate.
    fn chen_goal(&self) -> Goal {
        let mut judged = Judged::default();
        let mut scope = None;
        let result = self.results.iter().find(|r| r.name == "wan-spikes");
        match result.and_then(|r| Some((find(r, Contender::Adaptive)?, find(r, Contender::Chen)?))) {
            None => scope = Some("The wan-spikes scenario did not run".to_owned()),
            Some((adaptive, chen)) => {
                for target in TARGETS {
                    let at = |c: &ContenderResult| c.targets.iter().find(|t| t.target == target).copied();
                    match (at(adaptive), at(chen)) {
                        (Some(a), Some(c)) => judged.add_chen_row(target, &a, &c),
                        _ => scope = Some(format!("The target ≤{}/h did not run", rate(target))),
                    }
                }
            }
        }
        judged.goal(
            "T_D at least 15 % lower than Chen's on the WAN delay-spike scenario at equal mistake rate: both tuned \
             on A to the same target, both at or below that target out of sample on B, mean T_D compared on B",
            scope,
        )
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

/// Goal 4: the adaptive detector's bytes per peer, as the core measures them.
fn footprint_goal() -> Goal {
    let bytes = Contender::Adaptive.bytes_per_peer();
    Goal {
        goal: "≤ 256 B per peer for the default detector",
        met: Some(bytes <= 256),
        detail: format!(
            "{bytes} B per peer in a Monitor (`PeerFootprint::total`), detector state ({} B) included; an Akka-style \
             φ with 1000 samples: {} B. Time per heartbeat: see the criterion bench (`cargo bench -p heartbeat-qos`).",
            size_of::<heartbeat_proto::detector::AdaptiveState>(),
            Contender::AkkaPhi.bytes_per_peer()
        ),
    }
}

/// The comparisons behind one goal, each met, missed or not comparable.
#[derive(Debug, Default)]
struct Judged {
    rows: Vec<String>,
    met: usize,
    missed: Vec<String>,
    not_comparable: Vec<String>,
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

    /// Goal 1 at one scenario and target: the adaptive detector's quality `q` on B against the
    /// hindsight-best fixed timeout `h` there.
    fn add_zero_tuning_row(&mut self, label: &str, target: f64, q: &Quality, h: &Tuned) {
        let frontier = &h.point.quality;
        let ratio = q.detection_mean / frontier.detection_mean;
        let row = format!(
            "{label}: λ_M {}/h ({:.2}× target), T_D {} s vs {} s for the fixed timeout of {} s{} ({:+.1} %)",
            rate(q.mistake_rate),
            q.mistake_rate / target,
            secs(q.detection_mean),
            secs(frontier.detection_mean),
            knob(h.point.knob),
            reach(h),
            (ratio - 1.0) * 100.0
        );
        match h.reach {
            _ if !q.meets(2.0 * target) => self.missed(row, format!("{label} (λ_M over 2× target)")),
            Reach::Unreachable => {
                let why = format!(
                    "{label}: no fixed timeout up to {} s met the target on B (λ_M {}/h there), so there is no \
                     frontier to compare with",
                    knob(h.point.knob),
                    rate(frontier.mistake_rate)
                );
                self.not_comparable(row, why);
            }
            // A frontier at the range's short end is no slower than the true one.
            _ if ratio > 1.10 => self.missed(row, format!("{label} (T_D over 110 % of the frontier's)")),
            Reach::AggressiveEnd => {
                let why = format!(
                    "{label}: the shortest fixed timeout searched ({} s) already met the target on B, so the \
                     frontier may lie below it",
                    knob(h.point.knob)
                );
                self.not_comparable(row, why);
            }
            _ if ratio.is_nan() => self.not_comparable(row, format!("{label}: no detection time measured")),
            Reach::Boundary => self.met(row),
        }
    }

    /// Goal 2 at one target: adaptive `a` against Chen `c`.
    fn add_chen_row(&mut self, target: f64, a: &TargetResult, c: &TargetResult) {
        let (qa, qc) = (&a.test, &c.test);
        let (ta, tc) = (&a.tuned.point.quality, &c.tuned.point.quality);
        let gain = 1.0 - qa.detection_mean / qc.detection_mean;
        let label = format!("≤{}/h", rate(target));
        let row = format!(
            "{label}, on B: adaptive T_D {} s at λ_M {}/h vs Chen {} s at λ_M {}/h, {:.1} % lower (on A, where \
             both were tuned: {} s at {}/h vs {} s at {}/h, {:.1} % lower)",
            secs(qa.detection_mean),
            rate(qa.mistake_rate),
            secs(qc.detection_mean),
            rate(qc.mistake_rate),
            gain * 100.0,
            secs(ta.detection_mean),
            rate(ta.mistake_rate),
            secs(tc.detection_mean),
            rate(tc.mistake_rate),
            (1.0 - ta.detection_mean / tc.detection_mean) * 100.0
        );
        if !qa.meets(target) {
            self.missed(row, format!("{label} (the adaptive detector over the target on B)"));
        } else if !qc.meets(target) {
            self.not_comparable(row, format!("{label}: Chen over the target on B, so not at equal mistake rate"));
        } else if gain.is_nan() {
            self.not_comparable(row, format!("{label}: no detection time measured"));
        } else if gain >= 0.15 {
            self.met(row);
        } else {
            self.missed(row, format!("{label} (less than 15 % lower)"));
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
        Goal { goal, met, detail: detail.join(" ") }
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
        let settings = Settings { traces: "made up".into(), lab: "made up".into(), plan: "made up".into() };
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
        let goal = &full_suite().goals()[0];
        assert_eq!(goal.met, Some(true), "{goal:?}");

        let mut report = full_suite();
        get(&mut report, "lan", Contender::Adaptive).declared[1].on_b = q(0.25, 2.1);
        let goal = &report.goals()[0];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("Missed on: lan ≤0.10/h (λ_M over 2× target)"), "{}", goal.detail);
        assert!(goal.detail.contains("λ_M 0.25/h (2.50× target)"), "{}", goal.detail);

        let mut report = full_suite();
        get(&mut report, "bursty-loss", Contender::Adaptive).declared[0].on_b = q(1.0, 2.3);
        let goal = &report.goals()[0];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("T_D 2.300 s vs 2.000 s") && goal.detail.contains("(+15.0 %)"), "{}", goal.detail);
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
        let goal = &report.goals()[0];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("lan at ≤0.10/h"), "{}", goal.detail);

        assert_eq!(report_of(Vec::new()).goals()[0].met, None);
    }

    #[test]
    fn zero_tuning_is_not_met_against_a_frontier_that_was_not_found() {
        // No fixed timeout up to 60 s met the target: nothing to be within 10 % of.
        let mut report = full_suite();
        *hindsight(&mut report, "wan-spikes", 0.1) = tuned(60.0, q(0.5, 60.0), Reach::Unreachable);
        let goal = &report.goals()[0];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("wan-spikes ≤0.10/h: no fixed timeout up to 60.000 s met the target"), "{goal:?}");
        // A real miss elsewhere still makes it missed.
        get(&mut report, "lan", Contender::Adaptive).declared[0].on_b = q(3.0, 2.1);
        assert_eq!(report.goals()[0].met, Some(false));

        // The fixed timeout met the target at the short end of its range: the frontier may be
        // faster still, so being within 10 % of it proves nothing — but being slower does.
        let mut report = full_suite();
        *hindsight(&mut report, "lan", 1.0) = tuned(1.0, q(0.5, 2.0), Reach::AggressiveEnd);
        let goal = &report.goals()[0];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("frontier may lie below it"), "{}", goal.detail);
        get(&mut report, "lan", Contender::Adaptive).declared[0].on_b = q(1.0, 2.5);
        assert_eq!(report.goals()[0].met, Some(false));
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
        let goal = &wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (1.0, 5.0)]).goals()[1];
        assert_eq!(goal.met, Some(true), "{goal:?}");
        assert!(goal.detail.contains("adaptive T_D 4.000 s at λ_M 0.80/h vs Chen 5.000 s at λ_M 1.00/h, 20.0 % lower"));

        // 20 % lower on A, where they were tuned, but only 10 % on B.
        let goal = &wan([(0.9, 4.0), (0.8, 4.5)], [(0.9, 5.0), (1.0, 5.0)]).goals()[1];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("less than 15 % lower"), "{}", goal.detail);

        // The adaptive detector over the target on B: missed, however fast.
        let goal = &wan([(0.9, 1.0), (1.2, 1.0)], [(0.9, 5.0), (1.0, 5.0)]).goals()[1];
        assert_eq!(goal.met, Some(false), "{goal:?}");

        // Chen over the target on B: not at equal mistake rate.
        let goal = &wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (1.1, 5.0)]).goals()[1];
        assert_eq!(goal.met, None, "{goal:?}");
        assert!(goal.detail.contains("Chen over the target on B, so not at equal mistake rate"), "{}", goal.detail);
    }

    #[test]
    fn faster_than_chen_is_not_evaluated_without_its_scenario_or_targets() {
        assert_eq!(full_suite().goals()[1].met, None, "no targets tuned");
        let mut report = wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (1.0, 5.0)]);
        report.results[0].name = "lan".into();
        assert_eq!(report.goals()[1].met, None, "no wan-spikes");
        let mut report = wan([(0.9, 4.0), (0.8, 4.0)], [(0.9, 5.0), (1.0, 5.0)]);
        get(&mut report, "wan-spikes", Contender::Chen).targets.truncate(1);
        assert_eq!(report.goals()[1].met, None, "one target missing");
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
        let goal = &stalls((100, 50), (5, 0), None).goals()[2];
        assert_eq!(goal.met, Some(true), "{goal:?}");
        assert!(goal.detail.contains("`Suspect` at stall ends: 100 with the guard off, 5 with it on (95.0 % removed)"));

        // Pooled, 110 → 7 would be 93.6 % removed; `Down` alone is 80 %.
        let goal = &stalls((100, 10), (5, 2), None).goals()[2];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("Missed on: receiver-stalls `Down`"), "{}", goal.detail);

        // None to remove without the guard, some with it: the guard added them.
        let goal = &stalls((100, 0), (0, 3), None).goals()[2];
        assert_eq!(goal.met, Some(false), "{goal:?}");
        assert!(goal.detail.contains("0 with the guard off, 3 with it on (3 added)"), "{}", goal.detail);

        // Nothing at all at stall ends: nothing shown either way.
        assert_eq!(stalls((0, 0), (0, 0), None).goals()[2].met, None);
        assert_eq!(full_suite().goals()[2].met, None, "no guard rows");

        // Other detectors are reported, not judged.
        let goal = &stalls((100, 50), (5, 0), Some(((5, 20), (5, 0)))).goals()[2];
        assert_eq!(goal.met, Some(true), "{goal:?}");
        assert!(
            goal.detail.contains("receiver-stalls 2W-FD (1000/1) (α (s) = 1.000): `Suspect` 5 → 5"),
            "{}",
            goal.detail
        );
    }

    #[test]
    fn the_footprint_goal_reads_the_cores_measurement() {
        let bytes = heartbeat_proto::PeerFootprint::of::<heartbeat_proto::detector::AdaptiveState>().total();
        let goal = &full_suite().goals()[3];
        assert_eq!(goal.met, Some(bytes <= 256));
        assert!(goal.detail.starts_with(&format!("{bytes} B per peer")), "{}", goal.detail);
    }

    #[test]
    fn the_report_says_which_goals_were_not_evaluated() {
        let mut report = full_suite();
        report.results.truncate(2);
        let text = report.markdown();
        assert!(text.contains("on every scenario at both targets — **not evaluated**. This run lacks"), "{text}");
    }
}
