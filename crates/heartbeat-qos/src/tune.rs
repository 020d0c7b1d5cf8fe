//! Tuning a detector's one knob: a log-spaced sweep (the λ_M-versus-T_D curve), then a
//! bisection to the most aggressive setting that keeps the mistake rate at or under a target.

use anyhow::Result;

use crate::contender::{Contender, Lab};
use crate::metrics::Quality;
use crate::trace::Trace;

/// A trace ready to be replayed many times: with its arrival order and the lab's settings.
#[derive(Debug, Clone, Copy)]
pub struct OnTrace<'a> {
    /// The trace.
    pub trace: &'a Trace,
    /// Its arrival order ([`Trace::arrival_order`]).
    pub order: &'a [u32],
    /// The receiver's settings.
    pub lab: &'a Lab,
}

impl OnTrace<'_> {
    /// Replays the trace with `contender` at `knob`.
    pub fn run(&self, contender: Contender, knob: f64) -> Result<Quality> {
        contender.run(knob, self.trace, self.order, self.lab)
    }
}

/// One knob setting and what it gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The knob.
    pub knob: f64,
    /// The quality on the trace it ran on.
    pub quality: Quality,
}

/// How a tuning ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Bisected to the boundary.
    Boundary,
    /// Even the most aggressive setting met the target.
    AggressiveEnd,
    /// Not even the most conservative setting met it.
    Unreachable,
}

/// The result of tuning to a target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuned {
    /// The knob chosen, and its quality on the tuning trace.
    pub point: Point,
    /// How the search ended.
    pub reach: Reach,
}

/// Knob settings from `lo` to `hi`, evenly spaced on a log scale.
fn log_space(lo: f64, hi: f64, points: usize) -> Vec<f64> {
    let n = points.max(2);
    (0..n).map(|i| lo * (hi / lo).powf(i as f64 / (n - 1) as f64)).collect()
}

/// Runs `contender` at `points` settings across its range, aggressive end first.
pub fn sweep(contender: Contender, on: &OnTrace<'_>, points: usize, progress: &dyn Fn()) -> Result<Vec<Point>> {
    let (lo, hi) = contender.range(on.lab.interval.as_secs_f64());
    log_space(lo, hi, points)
        .into_iter()
        .map(|knob| {
            let quality = on.run(contender, knob)?;
            progress();
            Ok(Point { knob, quality })
        })
        .collect()
}

/// Bisects between the sweep's last failing setting and the next one for the most aggressive
/// knob meeting `target` mistakes per hour, in `steps` halvings (on a log scale).
pub fn tune(
    contender: Contender,
    on: &OnTrace<'_>,
    sweep: &[Point],
    target: f64,
    steps: usize,
    progress: &dyn Fn(),
) -> Result<Tuned> {
    let Some(last_fail) = sweep.iter().rposition(|p| !p.quality.meets(target)) else {
        let first = sweep.first().copied().ok_or_else(|| anyhow::anyhow!("empty sweep"))?;
        return Ok(Tuned { point: first, reach: Reach::AggressiveEnd });
    };
    let Some(&pass) = sweep.get(last_fail + 1) else {
        return Ok(Tuned { point: sweep[last_fail], reach: Reach::Unreachable });
    };
    let (mut fail, mut pass) = (sweep[last_fail], pass);
    for _ in 0..steps {
        let knob = (fail.knob * pass.knob).sqrt();
        let quality = on.run(contender, knob)?;
        progress();
        let point = Point { knob, quality };
        if quality.meets(target) {
            pass = point;
        } else {
            fail = point;
        }
    }
    Ok(Tuned { point: pass, reach: Reach::Boundary })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_space_spans_the_range_either_way() {
        let up = log_space(0.01, 100.0, 5);
        assert_eq!(up.len(), 5);
        assert!((up[0] - 0.01).abs() < 1e-12 && (up[2] - 1.0).abs() < 1e-9 && (up[4] - 100.0).abs() < 1e-9);
        let down = log_space(1e4, 1e-4, 3);
        assert!((down[1] - 1.0).abs() < 1e-9);
    }
}
