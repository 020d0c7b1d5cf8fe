//! The detectors the lab compares, each with the one knob it is tuned by, and the lab's
//! receiver configuration.

use core::time::Duration;

use anyhow::Result;
use heartbeat_proto::{Adaptive, AkkaPhi, CassandraPhi, Chen, Detector, FixedTimeout, TwoWindow};

use crate::metrics::Quality;
use crate::replay::{Setup, replay_with_order};
use crate::trace::Trace;

/// Window size for Chen, 2W-FD and both φ detectors (the literature's and Akka's/Cassandra's).
pub const WINDOW: usize = 1000;

/// A detector as the lab runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Contender {
    /// [`FixedTimeout`]; knob: the timeout.
    Fixed,
    /// [`Chen`] (n = 1000) with η estimated from the window (least squares); knob: α.
    Chen,
    /// [`Chen`] (n = 1000) with η known: the sender's advertised interval, as in Chen, Toueg and
    /// Aguilera's NFD-E; knob: α.
    ChenKnown,
    /// [`TwoWindow`] (1000 and 1); knob: α.
    TwoWindow,
    /// [`AkkaPhi`] with Akka's defaults but no acceptable pause; knob: the threshold Φ.
    AkkaPhi,
    /// [`CassandraPhi`]; knob: `phi_convict_threshold`.
    CassandraPhi,
    /// [`Adaptive`]; knob: the target mistake rate.
    Adaptive,
}

impl Contender {
    /// All of them, in report order.
    pub const ALL: [Contender; 7] = [
        Contender::Fixed,
        Contender::Chen,
        Contender::ChenKnown,
        Contender::TwoWindow,
        Contender::AkkaPhi,
        Contender::CassandraPhi,
        Contender::Adaptive,
    ];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Contender::Fixed => "fixed timeout",
            Contender::Chen => "Chen, estimated η (n=1000)",
            Contender::ChenKnown => "Chen, known η (n=1000)",
            Contender::TwoWindow => "2W-FD (1000/1)",
            Contender::AkkaPhi => "φ Akka (pause 0)",
            Contender::CassandraPhi => "φ Cassandra",
            Contender::Adaptive => "adaptive",
        }
    }

    /// A short name for file names and plot legends.
    pub fn short(self) -> &'static str {
        match self {
            Contender::Fixed => "fixed",
            Contender::Chen => "chen",
            Contender::ChenKnown => "chen-known",
            Contender::TwoWindow => "2w-fd",
            Contender::AkkaPhi => "phi-akka",
            Contender::CassandraPhi => "phi-cassandra",
            Contender::Adaptive => "adaptive",
        }
    }

    /// The knob and its unit.
    pub fn knob(self) -> &'static str {
        match self {
            Contender::Fixed => "timeout (s)",
            Contender::Chen | Contender::ChenKnown | Contender::TwoWindow => "α (s)",
            Contender::AkkaPhi | Contender::CassandraPhi => "threshold Φ",
            Contender::Adaptive => "target (/h)",
        }
    }

    /// The knob's search range for heartbeats every `eta` seconds: the aggressive end (short
    /// detection, many mistakes) first.
    pub fn range(self, eta: f64) -> (f64, f64) {
        match self {
            Contender::Fixed => (eta, 60.0 * eta),
            Contender::Chen | Contender::ChenKnown | Contender::TwoWindow => (0.001 * eta, 60.0 * eta),
            Contender::AkkaPhi => (0.05, 1e5),
            Contender::CassandraPhi => (0.3, 2000.0),
            Contender::Adaptive => (1e4, 1e-4),
        }
    }

    /// Replays `trace` with the knob at `knob`.
    pub fn run(self, knob: f64, trace: &Trace, order: &[u32], lab: &Lab) -> Result<Quality> {
        let eta = lab.interval;
        let secs = |s: f64| Duration::from_secs_f64(s.clamp(0.0, 1e6));
        let setup = lab.setup();
        let outcome = match self {
            Contender::Fixed => {
                let setup = Setup { requested: secs(knob), ..setup };
                replay_with_order(trace, order, FixedTimeout::new(), &setup)?
            }
            Contender::Chen => replay_with_order(trace, order, Chen::<WINDOW>::new(secs(knob)), &setup)?,
            Contender::ChenKnown => {
                let chen = Chen::<WINDOW>::new(secs(knob)).with_advertised_interval();
                replay_with_order(trace, order, chen, &setup)?
            }
            Contender::TwoWindow => replay_with_order(trace, order, TwoWindow::<WINDOW>::new(secs(knob)), &setup)?,
            Contender::AkkaPhi => {
                let phi = akka(eta).with_threshold(knob).with_acceptable_heartbeat_pause(Duration::ZERO);
                replay_with_order(trace, order, phi, &setup)?
            }
            Contender::CassandraPhi => {
                let phi = CassandraPhi::<WINDOW>::new().with_gossip_interval(eta).with_threshold(knob);
                replay_with_order(trace, order, phi, &setup)?
            }
            Contender::Adaptive => replay_with_order(trace, order, Adaptive::with_target(knob), &setup)?,
        };
        Ok(Quality::of(outcome))
    }

    /// Bytes of state per monitored peer, detector included, in a `Monitor` without extra links.
    pub fn bytes_per_peer(self) -> usize {
        fn bytes_per_peer<P>() -> usize {
            heartbeat_proto::PeerFootprint::of::<P>().total()
        }
        match self {
            Contender::Fixed => bytes_per_peer::<<FixedTimeout as Detector>::PeerState>(),
            Contender::Chen | Contender::ChenKnown => bytes_per_peer::<<Chen<WINDOW> as Detector>::PeerState>(),
            Contender::TwoWindow => bytes_per_peer::<<TwoWindow<WINDOW> as Detector>::PeerState>(),
            Contender::AkkaPhi => bytes_per_peer::<<AkkaPhi<WINDOW> as Detector>::PeerState>(),
            Contender::CassandraPhi => bytes_per_peer::<<CassandraPhi<WINDOW> as Detector>::PeerState>(),
            Contender::Adaptive => bytes_per_peer::<<Adaptive as Detector>::PeerState>(),
        }
    }
}

/// Akka's cluster defaults, scaled to heartbeats every `eta`: `min-std-deviation` 0.1 η,
/// `acceptable-heartbeat-pause` 3 η, `first-heartbeat-estimate` η, threshold 8.
pub fn akka(eta: Duration) -> AkkaPhi<WINDOW> {
    AkkaPhi::new()
        .with_min_std_deviation(eta / 10)
        .with_acceptable_heartbeat_pause(eta * 3)
        .with_first_heartbeat_estimate(eta)
}

/// A published or shipped default configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Preset {
    /// Akka/Pekko cluster defaults (threshold 8, pause 3 η, min σ 0.1 η, 1000 samples).
    Akka,
    /// Cassandra defaults (`phi_convict_threshold` 8, initial interval 2 η).
    Cassandra,
    /// This project's configuration defaults: a fixed timeout of 3 intervals.
    FixedThreeIntervals,
    /// This project's adaptive detector at its default target, 0.1 mistakes per hour.
    AdaptiveDefault,
}

impl Preset {
    /// All of them, in report order.
    pub const ALL: [Preset; 4] =
        [Preset::Akka, Preset::Cassandra, Preset::FixedThreeIntervals, Preset::AdaptiveDefault];

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Akka => "φ Akka/Pekko defaults (Φ 8, pause 3η)",
            Preset::Cassandra => "φ Cassandra defaults (Φ 8)",
            Preset::FixedThreeIntervals => "fixed timeout, 3η (heartbeat default)",
            Preset::AdaptiveDefault => "adaptive, default target 0.1/h",
        }
    }

    /// Replays `trace` with this configuration.
    pub fn run(self, trace: &Trace, order: &[u32], lab: &Lab) -> Result<Quality> {
        let eta = lab.interval;
        let setup = lab.setup();
        let outcome = match self {
            Preset::Akka => replay_with_order(trace, order, akka(eta), &setup)?,
            Preset::Cassandra => {
                replay_with_order(trace, order, CassandraPhi::<WINDOW>::new().with_gossip_interval(eta), &setup)?
            }
            Preset::FixedThreeIntervals => {
                let setup = Setup { requested: eta * 3, ..setup };
                replay_with_order(trace, order, FixedTimeout::new(), &setup)?
            }
            Preset::AdaptiveDefault => replay_with_order(trace, order, Adaptive::default(), &setup)?,
        };
        Ok(Quality::of(outcome))
    }
}

/// The receiver's configuration in every replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lab {
    /// The heartbeat interval η.
    pub interval: Duration,
    /// Metrics ignore the first part of each trace, while windows fill.
    pub warmup: Duration,
    /// The local-stall guard's pause (`None`: off).
    pub local_pause: Option<Duration>,
    /// Whether the receiver freezes during the trace's receiver stalls.
    pub receiver_stalls: bool,
}

impl Lab {
    /// The lab's settings for heartbeats every `interval`, ignoring the first `warmup`
    /// intervals of each trace: stall guard at a thousandth of the interval (1 ms at 1 s).
    pub fn new(interval: Duration, warmup: u32) -> Lab {
        Lab { interval, warmup: interval * warmup, local_pause: Some(interval / 1000), receiver_stalls: true }
    }

    /// The replay setup: bounds `[0.2 η, 60 η]` (wide, so that they do not decide the
    /// comparison), the sender asking for 3 η (this project's default ratio).
    pub fn setup(&self) -> Setup {
        Setup {
            min_timeout: self.interval / 5,
            max_timeout: self.interval * 60,
            requested: self.interval * 3,
            local_pause: self.local_pause,
            receiver_stalls: self.receiver_stalls,
            warmup: self.warmup,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;
    use crate::scenario::suite;

    #[test]
    fn a_fixed_timeout_below_the_interval_cannot_be_asked_for() {
        // The fixed timeout's search starts at the interval because the wire refuses a shorter
        // requested timeout; the report calls a frontier found there the frontier on that ground.
        let lan = suite().into_iter().find(|s| s.name == "lan").unwrap();
        let trace = generate(&lan, 0.1, 7).unwrap();
        let (order, lab) = (trace.arrival_order(), Lab::new(trace.interval, 1 << 9));
        let eta = lab.interval.as_secs_f64();
        assert_eq!(Contender::Fixed.range(eta).0, eta);
        assert!(Contender::Fixed.run(eta, &trace, &order, &lab).is_ok());
        assert!(Contender::Fixed.run(0.99 * eta, &trace, &order, &lab).is_err());
    }

    #[test]
    fn every_knob_moves_its_detector_along_the_curve() {
        let wan = suite().into_iter().find(|s| s.name == "wan-spikes").unwrap();
        let trace = generate(&wan, 1.0, 7).unwrap();
        let order = trace.arrival_order();
        let lab = Lab::new(trace.interval, 1 << 9);
        for c in Contender::ALL {
            let (aggressive, conservative) = c.range(lab.interval.as_secs_f64());
            let fast = c.run(aggressive, &trace, &order, &lab).unwrap();
            let slow = c.run(conservative, &trace, &order, &lab).unwrap();
            assert!(
                fast.detection_mean < slow.detection_mean && fast.mistakes > slow.mistakes,
                "{}: knob {aggressive} gave {fast:?}, knob {conservative} gave {slow:?}",
                c.name()
            );
        }
    }
}
