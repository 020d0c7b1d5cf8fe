//! The scenarios of the default suite: the parameters of each trace generator. All times in
//! seconds, rates per hour.

use core::fmt::Write;

/// How the sender schedules heartbeats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sending {
    /// On a fixed grid `k·η`, each send off by normal noise of this standard deviation — the
    /// periodic sender the literature (Chen, Hayashibara, Tomsic) assumes.
    Grid {
        /// Standard deviation of the send time around its grid point.
        jitter: f64,
    },
    /// As this project's own [`Sender`](heartbeat_proto::Sender) does it — the real state
    /// machine generates the schedule: each gap drawn from `[η·(1 − j), η]`, so the phase
    /// wanders.
    Product {
        /// `jitter_percent` of the sender's configuration.
        jitter_percent: u8,
    },
}

/// Gilbert–Elliott loss: a two-state Markov chain stepped once per heartbeat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstyLoss {
    /// Probability of moving from the good to the bad state.
    pub good_to_bad: f64,
    /// Probability of moving from the bad to the good state (mean burst = 1 / this).
    pub bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl BurstyLoss {
    /// Average loss `loss`, in bursts of `burst` heartbeats on average (all lost while bad).
    pub fn new(loss: f64, burst: f64) -> BurstyLoss {
        let bad_to_good = 1.0 / burst.max(1.0);
        // Stationary π_B = g/(g + b) = loss.
        let good_to_bad = bad_to_good * loss / (1.0 - loss);
        BurstyLoss { good_to_bad, bad_to_good, loss_good: 0.0, loss_bad: 1.0 }
    }
}

/// Episodes starting as a Poisson process, with Pareto-distributed sizes (capped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Episodes {
    /// Onsets per hour.
    pub per_hour: f64,
    /// Pareto scale (the smallest size).
    pub min: f64,
    /// Pareto shape (smaller: heavier tail).
    pub shape: f64,
    /// Largest size.
    pub cap: f64,
}

/// Delay spikes (route flaps, congestion): extra delay for every heartbeat sent during one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spikes {
    /// Onsets and extra delay (seconds).
    pub extra: Episodes,
    /// Mean duration (exponential), seconds.
    pub mean_duration: f64,
}

/// A path that alternates between a normal and a degraded state (exponential dwell times).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regimes {
    /// Mean time in the normal state, seconds.
    pub normal_dwell: f64,
    /// Mean time in the degraded state, seconds.
    pub degraded_dwell: f64,
    /// Extra delay while degraded.
    pub extra_delay: f64,
    /// Jitter multiplier while degraded.
    pub jitter_factor: f64,
}

/// The two clocks. The receiver's runs at `1 + drift` of true time from an offset; so does the
/// sender's, with its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clocks {
    /// Sender clock minus receiver clock at the start, seconds.
    pub offset: f64,
    /// Sender clock drift, parts per million.
    pub sender_ppm: f64,
    /// Receiver clock drift, parts per million.
    pub receiver_ppm: f64,
}

/// One scenario: everything a trace generator needs besides the seed and the length.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Short name, used in file names.
    pub name: &'static str,
    /// One line for the report.
    pub about: &'static str,
    /// The heartbeat interval η.
    pub interval: f64,
    /// The send schedule.
    pub sending: Sending,
    /// Fixed part of the one-way delay.
    pub base_delay: f64,
    /// Median of the log-normal jitter added to it.
    pub jitter_median: f64,
    /// Shape σ of the log-normal jitter.
    pub jitter_shape: f64,
    /// Bursty loss, if any.
    pub loss: Option<BurstyLoss>,
    /// Delay spikes, if any.
    pub spikes: Option<Spikes>,
    /// Sender stalls (GC pauses); heartbeats due meanwhile go out in a burst at the end.
    pub sender_stalls: Option<Episodes>,
    /// Receiver stalls; the receiver reads nothing and is not ticked meanwhile.
    pub receiver_stalls: Option<Episodes>,
    /// Regime shifts, if any.
    pub regimes: Option<Regimes>,
    /// Clock offset and drift.
    pub clocks: Clocks,
}

impl Scenario {
    /// The parameters, as a line of text for a trace's provenance.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "η {} s, sending {:?}, delay {} s + lognormal(median {} s, σ {})",
            self.interval, self.sending, self.base_delay, self.jitter_median, self.jitter_shape
        );
        for (name, value) in [
            ("loss", self.loss.map(|l| format!("{l:?}"))),
            ("spikes", self.spikes.map(|v| format!("{v:?}"))),
            ("sender stalls", self.sender_stalls.map(|v| format!("{v:?}"))),
            ("receiver stalls", self.receiver_stalls.map(|v| format!("{v:?}"))),
            ("regimes", self.regimes.map(|v| format!("{v:?}"))),
        ] {
            if let Some(v) = value {
                let _ = write!(s, ", {name} {v}");
            }
        }
        let _ = write!(s, ", clocks {:?}", self.clocks);
        s
    }
}

const CLOCKS: Clocks = Clocks { offset: -7.25, sender_ppm: 40.0, receiver_ppm: -15.0 };

fn base(name: &'static str, about: &'static str) -> Scenario {
    Scenario {
        name,
        about,
        interval: 1.0,
        sending: Sending::Grid { jitter: 0.0005 },
        base_delay: 0.0002,
        jitter_median: 0.0001,
        jitter_shape: 0.5,
        loss: Some(BurstyLoss::new(0.0001, 1.5)),
        spikes: None,
        sender_stalls: None,
        receiver_stalls: None,
        regimes: None,
        clocks: CLOCKS,
    }
}

/// GC-like pauses: 30 an hour, Pareto(50 ms, 1.2) capped at 5 s.
const STALLS: Episodes = Episodes { per_hour: 30.0, min: 0.05, shape: 1.2, cap: 5.0 };

/// The default suite. Heartbeats every second (Akka's and Cassandra's default).
pub fn suite() -> Vec<Scenario> {
    vec![
        base("lan", "LAN: 0.3 ms delay, tiny jitter, 0.01 % loss in short bursts"),
        Scenario {
            base_delay: 0.040,
            jitter_median: 0.010,
            jitter_shape: 0.8,
            loss: Some(BurstyLoss::new(0.001, 1.5)),
            spikes: Some(Spikes {
                extra: Episodes { per_hour: 6.0, min: 0.3, shape: 1.5, cap: 5.0 },
                mean_duration: 5.0,
            }),
            ..base(
                "wan-spikes",
                "WAN: 50 ms delay, heavy jitter, 0.1 % loss, 6 delay spikes an hour (+0.3…5 s for ~5 s)",
            )
        },
        Scenario {
            base_delay: 0.020,
            jitter_median: 0.005,
            jitter_shape: 0.6,
            loss: Some(BurstyLoss::new(0.01, 3.0)),
            ..base("bursty-loss", "1 % loss in Gilbert–Elliott bursts of 3 heartbeats on average, 25 ms delay")
        },
        Scenario {
            base_delay: 0.0005,
            jitter_median: 0.0002,
            sender_stalls: Some(STALLS),
            ..base("sender-stalls", "LAN with sender GC pauses: 30/h, Pareto(50 ms, 1.2) up to 5 s, burst after")
        },
        Scenario {
            base_delay: 0.0005,
            jitter_median: 0.0002,
            receiver_stalls: Some(STALLS),
            ..base("receiver-stalls", "LAN with receiver pauses: 30/h, Pareto(50 ms, 1.2) up to 5 s")
        },
        Scenario {
            base_delay: 0.020,
            jitter_median: 0.005,
            jitter_shape: 0.5,
            loss: Some(BurstyLoss::new(0.001, 1.5)),
            regimes: Some(Regimes {
                normal_dwell: 600.0,
                degraded_dwell: 120.0,
                extra_delay: 0.150,
                jitter_factor: 10.0,
            }),
            ..base("regime-shifts", "25 ms path that degrades (+150 ms, jitter ×10) for ~2 min every ~10 min")
        },
        Scenario {
            sending: Sending::Product { jitter_percent: 25 },
            ..base("product-sender", "LAN, sent by this project's Sender: each gap drawn from [0.75 η, η]")
        },
    ]
}
