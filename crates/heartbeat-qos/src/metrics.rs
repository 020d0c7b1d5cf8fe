//! Chen, Toueg and Aguilera's QoS metrics from a replay's [`Outcome`].

use crate::replay::Outcome;

/// The quality of one detector configuration on one trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// Hours measured (after the warm-up).
    pub hours: f64,
    /// Mistakes: `Down` verdicts on the live peer.
    pub mistakes: u64,
    /// `Suspect` verdicts on the live peer.
    pub suspects: u64,
    /// Of those, issued as a receiver stall ended (see [`Outcome::stall_suspects`]).
    pub stall_suspects: u64,
    /// Mistakes issued as a receiver stall ended.
    pub stall_mistakes: u64,
    /// λ_M: mistakes per hour.
    pub mistake_rate: f64,
    /// E(T_M): mean mistake duration in seconds (0 without mistakes).
    pub mistake_duration: f64,
    /// P_A: the probability that the verdict at a random instant is right.
    pub query_accuracy: f64,
    /// E(T_D): mean detection time in seconds, for a crash right after a send.
    pub detection_mean: f64,
    /// The 99th percentile of T_D.
    pub detection_p99: f64,
    /// Deadlines set after the warm-up (one per fresh heartbeat).
    pub deadlines: u64,
    /// Of those, down deadlines clamped to the node's `max_timeout`.
    pub at_max: u64,
    /// Of those, down deadlines clamped to the node's `min_timeout`.
    pub at_min: u64,
}

impl Quality {
    /// Computes the metrics (consumes the outcome's detection samples).
    pub fn of(mut outcome: Outcome) -> Quality {
        let seconds = outcome.span.as_secs_f64();
        let hours = seconds / 3600.0;
        let mistakes = outcome.mistakes;
        let mistaken = outcome.mistaken.as_secs_f64();
        let samples = &mut outcome.detection_us;
        let (mean, p99) = if samples.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            let mean = samples.iter().map(|&us| f64::from(us)).sum::<f64>() / samples.len() as f64 * 1e-6;
            let i = (samples.len() * 99 / 100).min(samples.len() - 1);
            (mean, f64::from(*samples.select_nth_unstable(i).1) * 1e-6)
        };
        Quality {
            hours,
            mistakes,
            suspects: outcome.suspects,
            stall_suspects: outcome.stall_suspects,
            stall_mistakes: outcome.stall_mistakes,
            mistake_rate: if hours > 0.0 { mistakes as f64 / hours } else { f64::NAN },
            mistake_duration: if mistakes > 0 { mistaken / mistakes as f64 } else { 0.0 },
            query_accuracy: if seconds > 0.0 { 1.0 - mistaken / seconds } else { f64::NAN },
            detection_mean: mean,
            detection_p99: p99,
            deadlines: outcome.deadlines,
            at_max: outcome.at_max,
            at_min: outcome.at_min,
        }
    }

    /// The share of deadlines clamped to `max_timeout` and to `min_timeout`, in [0, 1] (0
    /// without deadlines).
    pub fn clamped(&self) -> (f64, f64) {
        let n = self.deadlines.max(1) as f64;
        (self.at_max as f64 / n, self.at_min as f64 / n)
    }

    /// Whether the mistake rate is at most `per_hour`.
    pub fn meets(&self, per_hour: f64) -> bool {
        self.mistakes as f64 <= per_hour * self.hours
    }

    /// E(T_MR): mean time between mistakes, hours (infinite without mistakes).
    pub fn recurrence_hours(&self) -> f64 {
        if self.mistakes == 0 { f64::INFINITY } else { self.hours / self.mistakes as f64 }
    }
}

#[cfg(test)]
impl Quality {
    /// A made-up quality, for testing what consumes one: `mistakes` over `hours`, each lasting
    /// a second, and a mean (and 99th percentile) detection time of `detection` seconds.
    pub(crate) fn made_up(hours: f64, mistakes: u64, detection: f64) -> Quality {
        let seconds = hours * 3600.0;
        Quality {
            hours,
            mistakes,
            suspects: mistakes,
            stall_suspects: 0,
            stall_mistakes: 0,
            mistake_rate: mistakes as f64 / hours,
            mistake_duration: if mistakes > 0 { 1.0 } else { 0.0 },
            query_accuracy: 1.0 - mistakes as f64 / seconds,
            detection_mean: detection,
            detection_p99: detection,
            deadlines: (hours * 3600.0) as u64,
            at_max: 0,
            at_min: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn metrics_follow_their_definitions() {
        let q = Quality::of(Outcome {
            heartbeats: 7200,
            span: Duration::from_secs(7200),
            mistakes: 4,
            mistaken: Duration::from_secs(2),
            final_down: None,
            suspects: 9,
            stall_suspects: 0,
            stall_mistakes: 0,
            deadlines: 7000,
            at_max: 700,
            at_min: 70,
            detection_us: (1..=100).map(|k| k * 10_000).collect(),
        });
        assert_eq!(q.hours, 2.0);
        assert_eq!(q.mistake_rate, 2.0);
        assert_eq!(q.mistake_duration, 0.5);
        assert!((q.query_accuracy - (1.0 - 2.0 / 7200.0)).abs() < 1e-12);
        assert!((q.detection_mean - 0.505).abs() < 1e-9);
        assert_eq!(q.detection_p99, 1.0);
        assert_eq!(q.recurrence_hours(), 0.5);
        assert!(q.meets(2.0) && !q.meets(1.9));
        assert_eq!(q.clamped(), (0.1, 0.01));
    }
}
