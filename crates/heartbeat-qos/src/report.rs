//! The report: Markdown tables of the suite's results and the verdict on each goal. Nothing
//! in [`Report::markdown`] depends on the machine or the clock, so the same seed gives the
//! same text; timings go to [`cost_markdown`] separately.

use core::fmt::Write;

use crate::contender::Contender;
use crate::metrics::Quality;
use crate::suite::{ContenderResult, GuardRow, ScenarioResult};
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
                None => "not measured",
            };
            let _ = writeln!(out, "- {} — {verdict}. {}", g.goal, g.detail);
        }
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
             pause. The last column counts all mistakes, and replays the same network draws without the stalls for \
             scale.\n"
        );
        let _ = writeln!(
            out,
            "| scenario | detector | at stall ends, guard off: `Suspect` / `Down` | guard on: `Suspect` / `Down` | removed | all `Down` on B: guard off / guard on / no stalls |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for (r, g) in rows {
            let _ = writeln!(
                out,
                "| {} | {} ({} = {}) | {} / {} | {} / {} | {} | {} / {} / {} |",
                r.name,
                g.contender.name(),
                if g.declared { "declared target (/h)" } else { g.contender.knob() },
                knob(g.knob),
                g.unguarded.stall_suspects,
                g.unguarded.stall_mistakes,
                g.guarded.stall_suspects,
                g.guarded.stall_mistakes,
                removed(g),
                g.unguarded.mistakes,
                g.guarded.mistakes,
                g.no_stalls.mistakes,
            );
        }
        let _ = writeln!(out);
    }

    /// The verdict on each goal of the issue that the lab measures.
    pub fn goals(&self) -> Vec<Goal> {
        let mut goals = Vec::new();
        // 1. Zero-tuning adaptive: λ within 2× of target, T_D within 10 % of the hindsight fixed.
        let mut misses = Vec::new();
        let mut rows = Vec::new();
        let mut measured = false;
        for r in &self.results {
            let Some(adaptive) = find(r, Contender::Adaptive) else { continue };
            for (d, (target, h)) in adaptive.declared.iter().zip(&r.hindsight) {
                measured = true;
                let rate_ratio = d.on_b.mistake_rate / target;
                let td_ratio = d.on_b.detection_mean / h.point.quality.detection_mean;
                let ok = d.on_b.meets(2.0 * target) && td_ratio <= 1.10;
                let row = format!(
                    "{} ≤{}/h: λ_M {} ({:.2}× target), T_D {} s vs {} s ({:+.1} %)",
                    r.name,
                    rate(*target),
                    rate(d.on_b.mistake_rate),
                    rate_ratio,
                    secs(d.on_b.detection_mean),
                    secs(h.point.quality.detection_mean),
                    (td_ratio - 1.0) * 100.0
                );
                if !ok {
                    misses.push(r.name.clone() + " ≤" + &rate(*target) + "/h");
                }
                rows.push(row);
            }
        }
        goals.push(Goal {
            goal: "Adaptive detector, no per-scenario tuning, out of sample (B): λ_M ≤ 2× target and mean T_D within \
                   10 % of the hindsight-best fixed timeout, on every scenario",
            met: measured.then_some(misses.is_empty()),
            detail: format!(
                "{}{}",
                if misses.is_empty() { String::new() } else { format!("Missed on: {}. ", misses.join(", ")) },
                rows.join("; ")
            ),
        });
        // 2. T_D ≥ 15 % below Chen's on WAN delay spikes at equal mistake rate (both tuned on A).
        let mut detail = Vec::new();
        let mut verdict = None;
        if let Some(r) = self.results.iter().find(|r| r.name == "wan-spikes")
            && let (Some(a), Some(c)) = (find(r, Contender::Adaptive), find(r, Contender::Chen))
        {
            let mut all = true;
            for (ta, tc) in a.targets.iter().zip(&c.targets) {
                let (qa, qc) = (&ta.tuned.point.quality, &tc.tuned.point.quality);
                let gain = 1.0 - qa.detection_mean / qc.detection_mean;
                all &= gain >= 0.15;
                detail.push(format!(
                    "≤{}/h on A: adaptive T_D {} s (λ_M {}) vs Chen {} s (λ_M {}): {:.1} % lower; out of sample on B: \
                         {} s vs {} s",
                    rate(ta.target),
                    secs(qa.detection_mean),
                    rate(qa.mistake_rate),
                    secs(qc.detection_mean),
                    rate(qc.mistake_rate),
                    gain * 100.0,
                    secs(ta.test.detection_mean),
                    secs(tc.test.detection_mean)
                ));
            }
            verdict = Some(all);
        }
        goals.push(Goal {
            goal: "T_D at least 15 % lower than Chen's on the WAN delay-spike scenario at equal mistake rate (each \
                   tuned to the target on A)",
            met: verdict,
            detail: detail.join("; "),
        });
        // 3. Stall guard removes ≥ 90 % of receiver-stall false suspicions.
        let mut detail = Vec::new();
        let mut verdict = None;
        for r in &self.results {
            let Some(c) = find(r, Contender::Adaptive) else { continue };
            for g in c.guard.iter().filter(|g| g.declared) {
                let (off, on) = (stall_verdicts(&g.unguarded), stall_verdicts(&g.guarded));
                if off > 0 {
                    verdict = Some(verdict.unwrap_or(true) && on as f64 <= 0.1 * off as f64);
                }
                detail.push(format!(
                    "{} (adaptive, declared {}/h): false verdicts at stall ends {off} with the guard off ({} `Suspect`, \
                     {} `Down`), {on} with it on ({} `Suspect`, {} `Down`): {} removed",
                    r.name,
                    rate(g.knob),
                    g.unguarded.stall_suspects,
                    g.unguarded.stall_mistakes,
                    g.guarded.stall_suspects,
                    g.guarded.stall_mistakes,
                    removed(g)
                ));
            }
        }
        goals.push(Goal {
            goal: "The local-stall guard removes at least 90 % of receiver-stall false suspicions",
            met: verdict,
            detail: detail.join("; "),
        });
        // 4. State size (the time per heartbeat is criterion's to measure).
        let bytes = Contender::Adaptive.bytes_per_peer();
        goals.push(Goal {
            goal: "≤ 256 B per peer for the default detector",
            met: Some(bytes <= 256),
            detail: format!(
                "{bytes} B per peer in a Monitor, detector state ({} B) included; an Akka-style φ with 1000 samples: {} \
                 B. Time per heartbeat: see the criterion bench (`cargo bench -p heartbeat-qos`).",
                size_of::<heartbeat_proto::detector::AdaptiveState>(),
                Contender::AkkaPhi.bytes_per_peer()
            ),
        });
        goals
    }
}

/// False verdicts (`Suspect` and `Down`) issued as receiver stalls ended.
fn stall_verdicts(q: &Quality) -> u64 {
    q.stall_suspects + q.stall_mistakes
}

fn removed(g: &GuardRow) -> String {
    let (off, on) = (stall_verdicts(&g.unguarded), stall_verdicts(&g.guarded));
    if off == 0 { "n/a".into() } else { format!("{:.1} %", off.saturating_sub(on) as f64 / off as f64 * 100.0) }
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
