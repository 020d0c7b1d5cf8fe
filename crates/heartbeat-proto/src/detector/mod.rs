//! Failure detectors: given a peer's arrivals, when to suspect it and when to declare it down.
//!
//! A [`Detector`] is configuration shared by all peers (`&self`) plus a small per-peer
//! [`Detector::PeerState`] that lives inside the peer table, so a detector works without an
//! allocator. The monitor feeds it every fresh heartbeat and asks it for deadlines; it never
//! asks it to scan, and it never gives it a clock.
//!
//! # The detectors
//!
//! | detector | knob | state per peer | suspicion scale |
//! |---|---|---|---|
//! | [`FixedTimeout`] | the negotiated timeout | none | silence / timeout |
//! | [`Chen`] | safety margin α | window of `N` arrivals (16 B each) | silence / (deadline − last) |
//! | [`TwoWindow`] | safety margin α | window of `N` arrivals | silence / (deadline − last) |
//! | [`AkkaPhi`] | threshold Φ (and Akka's other settings) | window of `N` intervals (4 B each) | Akka's φ |
//! | [`CassandraPhi`] | `phi_convict_threshold` | window of `N` intervals (4 B each) | Cassandra's φ |
//! | [`Adaptive`] | target mistakes per hour | 128 B | −log10 P(a live peer is this late) |
//!
//! [`Adaptive`] is the one to start with: its knob says what you want (how many false
//! suspicions per hour and peer you accept) instead of a margin whose effect depends on the
//! network.
//!
//! # Adaptive deadlines and the negotiated timeout
//!
//! A peer asks to be held to a timeout, and this node clamps the request into its own bounds
//! `[min_timeout, max_timeout]`, as a ZooKeeper server clamps session timeouts. That negotiated
//! timeout is what [`FixedTimeout`] applies, and what [`Adaptive`] applies while it is still
//! learning. Once a detector estimates deadlines from the arrivals themselves, the request is
//! replaced by the estimate — but the bounds still hold: every estimating detector here keeps
//! its down deadline within `[last_heard + min_timeout, last_heard + max_timeout]`
//! ([`PeerTiming::bounded`]), and [`FixedTimeout`] applies the negotiated timeout, which the
//! monitor already clamped into them. The floor stops a detector that has seen only a quiet network
//! from convicting within microseconds; the ceiling stops a hostile or broken peer from
//! teaching a detector to trust it for hours. The bounds are this node's policy, the request
//! is the peer's wish; estimates replace wishes, not policy.

mod adaptive;
mod cassandra;
mod chen;
mod fixed;
mod phi;
mod two_window;
mod window;

use core::fmt::Debug;
use core::time::Duration;

use crate::time::Instant;
use crate::wire::NodeId;

pub use adaptive::{Adaptive, AdaptiveState, SharedDeadline};
pub use cassandra::{CassandraPhi, CassandraState};
pub use chen::{Chen, ChenState};
pub use fixed::FixedTimeout;
pub use phi::{AkkaPhi, AkkaPhiState, akka_phi, akka_phi_quantile};
pub use two_window::{TwoWindow, TwoWindowState};

/// A fresh heartbeat, as the detector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// When it arrived (receiver's clock).
    pub at: Instant,
    /// Its sequence number.
    pub sequence: u64,
    /// Sequence numbers skipped since the previous fresh heartbeat (0 without loss).
    pub gap: u64,
    /// The sender's advertised interval.
    pub interval: Duration,
    /// It was heard right after this node itself had stopped running for a while (see
    /// [`ConfigBuilder::local_pause`](crate::ConfigBuilder::local_pause)): its lateness says more
    /// about this node than about the peer or the path. Detectors that learn from lateness
    /// should not learn from this one.
    pub after_local_pause: bool,
}

/// What the monitor knows of a peer's timing when it asks for deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerTiming {
    /// The arrival of the latest fresh heartbeat.
    pub last_heard: Instant,
    /// The peer's advertised interval.
    pub interval: Duration,
    /// The negotiated timeout: what the peer asked for, clamped into this node's bounds.
    pub timeout: Duration,
    /// This node's smallest timeout: no detector declares a peer down sooner after its last
    /// heartbeat.
    pub min_timeout: Duration,
    /// This node's largest timeout: no detector waits longer after the last heartbeat.
    pub max_timeout: Duration,
}

impl PeerTiming {
    /// `down` moved into `[last_heard + min_timeout, last_heard + max_timeout]`.
    pub fn bounded(&self, down: Instant) -> Instant {
        let lo = self.last_heard + self.min_timeout;
        let hi = (self.last_heard + self.max_timeout).max(lo);
        down.max(lo).min(hi)
    }
}

/// When, absent further heartbeats, the peer becomes `Suspect` and then `Down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// The suspect deadline (Linux-HA's warntime). The monitor treats it as no later than
    /// `down`.
    pub suspect: Instant,
    /// The down deadline (Linux-HA's deadtime).
    pub down: Instant,
}

impl Deadlines {
    /// Deadlines that keep the contract: `down` within the timing's bounds
    /// ([`PeerTiming::bounded`]), `suspect` between `last_heard` and `down`.
    pub fn bounded(timing: &PeerTiming, suspect: Instant, down: Instant) -> Deadlines {
        let down = timing.bounded(down);
        Deadlines { suspect: suspect.max(timing.last_heard).min(down), down }
    }
}

/// A failure detector.
///
/// Contract: methods are pure functions of their arguments (no clock, no I/O, no
/// randomness), never panic — whatever the arrivals, including equal timestamps and time going
/// backwards — and return deadlines no earlier than `timing.last_heard`.
pub trait Detector {
    /// State kept per peer, inside the peer table. Keep it small: it is paid once per peer.
    type PeerState: Clone + Default + Debug;

    /// Records a fresh heartbeat.
    fn on_heartbeat(&self, state: &mut Self::PeerState, arrival: &Arrival);

    /// The peer's deadlines given its latest arrival.
    fn deadlines(&self, state: &Self::PeerState, timing: &PeerTiming) -> Deadlines;

    /// A continuous suspicion level at `now`: 0 right after a heartbeat, never decreasing while
    /// the peer stays silent. Its scale is the detector's own (see each implementation).
    fn suspicion(&self, state: &Self::PeerState, timing: &PeerTiming, now: Instant) -> f32;

    /// Forgets a peer's history, as when it restarts with a new generation.
    fn reset(&self, state: &mut Self::PeerState) {
        *state = Self::PeerState::default();
    }

    /// Called once when `peer` enters the peer table (configured or learned), before any of
    /// its heartbeats, with its fresh state. A detector whose settings differ from peer to peer
    /// records the peer's choice in its state here; the default does nothing. A detector that
    /// keeps such a choice in its state should keep it across [`reset`](Self::reset) too.
    fn on_peer_added(&self, state: &mut Self::PeerState, peer: NodeId) {
        let _ = (state, peer);
    }

    /// Called for every peer when this detector replaces the monitor's previous one while it
    /// runs ([`Monitor::replace_detector`](crate::Monitor::replace_detector)), with the state
    /// the previous detector left. The default forgets the history and starts the peer over, as
    /// if just added: right for a detector whose settings changed the meaning of its history. A
    /// detector that can keep a compatible history (the same kind with other knobs) may keep
    /// it. Either way the monitor makes the new deadlines count from the change.
    fn on_replaced(&self, state: &mut Self::PeerState, peer: NodeId) {
        *state = Self::PeerState::default();
        self.on_peer_added(state, peer);
    }
}

/// `base` moved by `nanos` (negative: earlier), saturating; NaN leaves it where it is.
pub(crate) fn after(base: Instant, nanos: f64) -> Instant {
    // `as` saturates and maps NaN to 0.
    if nanos >= 0.0 { base + Duration::from_nanos(nanos as u64) } else { base - Duration::from_nanos((-nanos) as u64) }
}

/// Silence as a fraction of the span from `last_heard` to `down`: 0 right after a heartbeat,
/// 1 at the down deadline.
pub(crate) fn fraction_of_span(timing: &PeerTiming, down: Instant, now: Instant) -> f32 {
    let elapsed = (now - timing.last_heard).as_secs_f64();
    let span = (down - timing.last_heard).as_secs_f64();
    if elapsed <= 0.0 {
        0.0
    } else if span <= 0.0 {
        f32::INFINITY
    } else {
        (elapsed / span) as f32
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers and properties shared by the detectors' tests.

    use super::*;

    /// Timing with wide bounds, so that tests see the detector's own deadlines.
    pub(crate) fn timing(last_heard: Instant, interval: Duration) -> PeerTiming {
        PeerTiming {
            last_heard,
            interval,
            timeout: interval * 3,
            min_timeout: Duration::from_micros(1),
            max_timeout: Duration::from_secs(3600),
        }
    }

    pub(crate) fn arrival(at_ms: u64, sequence: u64, gap: u64) -> Arrival {
        Arrival {
            at: Instant::from_millis(at_ms),
            sequence,
            gap,
            interval: Duration::from_secs(1),
            after_local_pause: false,
        }
    }

    /// Feeds `arrivals` (time in µs, sequence) and checks the trait's contract after each:
    /// no panic, deadlines not before `last_heard` and ordered, suspicion 0 at the arrival and
    /// non-decreasing with silence, and never above its value just before the arrival.
    pub(crate) fn check_contract<D: Detector>(detector: &D, arrivals: &[(u64, u64)]) {
        let mut state = D::PeerState::default();
        let mut previous: Option<(PeerTiming, D::PeerState)> = None;
        let mut last_seq = None::<u64>;
        for &(at_us, seq) in arrivals {
            let at = Instant::from_micros(at_us);
            let gap = match last_seq {
                Some(s) if seq > s => seq - s - 1,
                _ => 0,
            };
            last_seq = Some(seq);
            if let Some((timing, old)) = &previous {
                let before = detector.suspicion(old, timing, at);
                detector.on_heartbeat(
                    &mut state,
                    &Arrival { at, sequence: seq, gap, interval: timing.interval, after_local_pause: false },
                );
                let t = PeerTiming { last_heard: at, ..*timing };
                let after = detector.suspicion(&state, &t, at);
                assert!(after <= before || before.is_nan(), "a heartbeat raised suspicion {before} → {after}");
            } else {
                detector.on_heartbeat(
                    &mut state,
                    &Arrival { at, sequence: seq, gap, interval: Duration::from_secs(1), after_local_pause: false },
                );
            }
            let t = timing(at, Duration::from_secs(1));
            let d = detector.deadlines(&state, &t);
            assert!(d.down >= at && d.suspect >= at && d.suspect <= d.down, "{d:?} at {at:?}");
            assert_eq!(detector.suspicion(&state, &t, at), 0.0, "suspicion right after a heartbeat");
            let mut last = 0.0f32;
            for k in 0..40u64 {
                let s = detector.suspicion(&state, &t, at + Duration::from_millis(k * k * 20));
                assert!(!s.is_nan(), "NaN suspicion");
                assert!(s >= last, "suspicion fell from {last} to {s} with silence");
                last = s;
            }
            previous = Some((t, state.clone()));
        }
    }
}

#[cfg(test)]
mod properties {
    use super::testing::check_contract;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Arrival sequences that mix steady heartbeats with repeats, time going backwards, huge
    /// jumps and sequence numbers out of order.
    fn arrivals() -> impl Strategy<Value = Vec<(u64, u64)>> {
        let step = prop_oneof![
            6 => (900_000u64..1_100_000, Just(1u64)),
            1 => (0u64..1, 0u64..3),
            1 => (0u64..50_000_000, 1u64..100),
            1 => (0u64..u64::MAX / 4, 0u64..u64::MAX / 4),
        ];
        proptest::collection::vec((step, any::<bool>()), 1..220).prop_map(|steps| {
            let (mut at, mut seq) = (1_000_000_000u64, 1u64);
            steps
                .into_iter()
                .map(|((dt, ds), backwards)| {
                    if backwards && dt < 1_000_000 {
                        at = at.saturating_sub(dt);
                        seq = seq.saturating_sub(ds);
                    } else {
                        at = at.saturating_add(dt);
                        seq = seq.saturating_add(ds);
                    }
                    (at, seq)
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn every_detector_keeps_the_contract_on_any_arrivals(arrivals in arrivals()) {
            check_contract(&FixedTimeout::new(), &arrivals);
            check_contract(&Chen::<16>::new(Duration::from_millis(50)), &arrivals);
            check_contract(&TwoWindow::<16>::new(Duration::from_millis(50)), &arrivals);
            check_contract(&AkkaPhi::<16>::new(), &arrivals);
            check_contract(&CassandraPhi::<16>::new(), &arrivals);
            check_contract(&Adaptive::with_target(1.0), &arrivals);
        }
    }
}
