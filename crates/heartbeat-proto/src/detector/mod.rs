//! Failure detectors: given a peer's arrivals, when to suspect it and when to declare it down.
//!
//! A [`Detector`] is configuration shared by all peers (`&self`) plus a small per-peer
//! [`Detector::PeerState`] that lives inside the peer table, so a detector works without an
//! allocator. The monitor feeds it every fresh heartbeat and asks it for deadlines; it never
//! asks it to scan, and it never gives it a clock.

mod fixed;

use core::fmt::Debug;
use core::time::Duration;

use crate::time::Instant;

pub use fixed::FixedTimeout;

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

/// A failure detector.
///
/// Contract: methods are pure functions of their arguments (no clock, no I/O, no
/// randomness), never panic, and return deadlines no earlier than `timing.last_heard`.
pub trait Detector {
    /// State kept per peer, inside the peer table. Keep it small: it is paid once per peer.
    type PeerState: Clone + Default + Debug;

    /// Records a fresh heartbeat.
    fn on_heartbeat(&self, state: &mut Self::PeerState, arrival: &Arrival);

    /// The peer's deadlines given its latest arrival.
    fn deadlines(&self, state: &Self::PeerState, timing: &PeerTiming) -> Deadlines;

    /// A continuous suspicion level at `now`: 0 right after a heartbeat, growing with silence.
    /// Its scale is the detector's own (see each implementation).
    fn suspicion(&self, state: &Self::PeerState, timing: &PeerTiming, now: Instant) -> f32;

    /// Forgets a peer's history, as when it restarts with a new generation.
    fn reset(&self, state: &mut Self::PeerState) {
        *state = Self::PeerState::default();
    }
}
