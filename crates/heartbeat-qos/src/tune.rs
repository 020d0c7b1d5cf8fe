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
/// knob meeting `target` mistakes per hour, in `steps` halvings (on a log scale), replaying
/// `contender` on `on` at each step.
pub fn tune(
    contender: Contender,
    on: &OnTrace<'_>,
    sweep: &[Point],
    target: f64,
    steps: usize,
    progress: &dyn Fn(),
) -> Result<Tuned> {
    bisect(sweep, target, steps, |knob| {
        let quality = on.run(contender, knob)?;
        progress();
        Ok(quality)
    })
}

/// The search behind [`tune`], with `measure` giving the quality at a knob setting. The sweep
/// runs from the aggressive end to the conservative one; the result meets `target` on what
/// `measure` says, except when [`Reach::Unreachable`]: then it is the sweep's most
/// conservative setting, which did not.
pub fn bisect(
    sweep: &[Point],
    target: f64,
    steps: usize,
    mut measure: impl FnMut(f64) -> Result<Quality>,
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
        let point = Point { knob, quality: measure(knob)? };
        if point.quality.meets(target) {
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
    use core::cell::Cell;

    #[test]
    fn log_space_spans_the_range_either_way() {
        let up = log_space(0.01, 100.0, 5);
        assert_eq!(up.len(), 5);
        assert!((up[0] - 0.01).abs() < 1e-12 && (up[2] - 1.0).abs() < 1e-9 && (up[4] - 100.0).abs() < 1e-9);
        let down = log_space(1e4, 1e-4, 3);
        assert!((down[1] - 1.0).abs() < 1e-9);
    }

    /// A made-up quality curve over 100 h: `rate(knob)` mistakes per hour.
    fn curve(rate: impl Fn(f64) -> f64) -> impl Fn(f64) -> Quality {
        move |knob| Quality::made_up(100.0, (rate(knob) * 100.0).ceil() as u64, knob)
    }

    fn sweep_of(lo: f64, hi: f64, points: usize, quality: &impl Fn(f64) -> Quality) -> Vec<Point> {
        log_space(lo, hi, points).into_iter().map(|knob| Point { knob, quality: quality(knob) }).collect()
    }

    #[test]
    fn bisection_lands_on_the_boundary_of_a_monotone_curve() {
        // A timeout-like knob: 100 / knob² mistakes per hour, so λ_M ≤ 1/h from knob 10 on.
        let quality = curve(|knob| 100.0 / (knob * knob));
        let sweep = sweep_of(0.1, 1000.0, 12, &quality);
        let calls = Cell::new(0);
        let tuned = bisect(&sweep, 1.0, 7, |knob| {
            calls.set(calls.get() + 1);
            Ok(quality(knob))
        })
        .unwrap();
        assert_eq!(tuned.reach, Reach::Boundary);
        assert_eq!(calls.get(), 7);
        // Adjacent sweep points are 10^(4/11) apart; seven halvings (on a log scale) leave a
        // bracket 128 times narrower, whose passing end is returned.
        let bracket = 10f64.powf(4.0 / 11.0 / 128.0);
        assert!(tuned.point.knob >= 10.0 && tuned.point.knob <= 10.0 * bracket, "{tuned:?}");
        assert_eq!(tuned.point.quality, quality(tuned.point.knob));
        assert!(tuned.point.quality.meets(1.0));
        assert!(!quality(tuned.point.knob / bracket).meets(1.0), "not the most aggressive passing knob");
    }

    #[test]
    fn bisection_works_on_a_knob_that_is_aggressive_when_large() {
        // A target-like knob from 10⁴ down to 10⁻⁴: 0.8 × knob mistakes per hour, so
        // λ_M ≤ 1/h up to knob 1.25.
        let quality = curve(|knob| 0.8 * knob);
        let sweep = sweep_of(1e4, 1e-4, 12, &quality);
        let tuned = bisect(&sweep, 1.0, 7, |knob| Ok(quality(knob))).unwrap();
        assert_eq!(tuned.reach, Reach::Boundary);
        let bracket = 10f64.powf(8.0 / 11.0 / 128.0);
        assert!(tuned.point.knob <= 1.25 && tuned.point.knob >= 1.25 / bracket, "{tuned:?}");
    }

    #[test]
    fn the_ends_of_the_range_are_reported_as_such() {
        let quality = curve(|knob| 100.0 / (knob * knob));
        let no_call = |_| -> Result<Quality> { panic!("no bisection expected") };
        // Everything meets 10⁶/h: the aggressive end.
        let sweep = sweep_of(0.1, 1000.0, 12, &quality);
        let easy = bisect(&sweep, 1e6, 7, no_call).unwrap();
        assert_eq!((easy.reach, easy.point), (Reach::AggressiveEnd, sweep[0]));
        // Nothing up to knob 5 meets 1/h: unreachable, reported at the conservative end.
        let short = sweep_of(0.1, 5.0, 12, &quality);
        let hard = bisect(&short, 1.0, 7, no_call).unwrap();
        assert_eq!((hard.reach, hard.point), (Reach::Unreachable, short[11]));
        assert!(!hard.point.quality.meets(1.0));
        assert!(bisect(&[], 1.0, 7, no_call).is_err());
    }
}
