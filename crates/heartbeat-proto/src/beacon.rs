//! The sending schedule shared by [`Sender`](crate::Sender) and [`Node`](crate::Node): when the
//! next heartbeat round starts, with jitter, and which target a round has reached.
//!
//! A round is one sequence number sent to every target. Frames are not queued: `poll_transmit`
//! encodes the next target's frame straight into the caller's buffer, so a round costs no
//! memory whatever the number of peers.

use core::time::Duration;

use crate::config::Config;
use crate::time::{Instant, duration_nanos};
use crate::wire::{Kind, NodeId};

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// One peer: send to each of its addresses (each link).
    Peer(NodeId),
    /// Every node: send to the multicast group or broadcast address.
    All,
}

/// A frame written into the caller's buffer by `poll_transmit`: send `buf[..len]` to
/// `destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Where to send it.
    pub destination: Destination,
    /// How many bytes of the buffer it occupies.
    pub len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// Waiting for the next round.
    Idle,
    /// Sending `kind` to targets `cursor..`.
    Sending { kind: Kind, cursor: usize },
    /// The goodbye round went out: nothing more is sent.
    Done,
}

/// SplitMix64: a tiny, well-mixed generator for jitter (not for anything secret).
#[derive(Debug, Clone)]
struct Jitter {
    state: u64,
}

impl Jitter {
    fn next_u32(&mut self) -> u32 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 32) as u32
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Beacon {
    interval: Duration,
    jitter_percent: u8,
    jitter: Jitter,
    next_round: Instant,
    sequence: u64,
    round: Round,
}

impl Beacon {
    /// A schedule whose first round starts at `start`.
    pub(crate) fn new(config: &Config, start: Instant) -> Self {
        Beacon {
            interval: config.interval,
            jitter_percent: config.jitter_percent,
            jitter: Jitter { state: config.seed },
            next_round: start,
            sequence: 0,
            round: Round::Idle,
        }
    }

    /// Takes a new interval at `now`: the next round comes no later than one new interval
    /// from now (sooner if it was due sooner), and the rounds after it keep the new pace.
    pub(crate) fn retime(&mut self, interval: Duration, now: Instant) {
        self.interval = interval;
        self.next_round = self.next_round.min(now.saturating_add(interval));
    }

    /// The current round's sequence number (0 before the first round).
    pub(crate) fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Starts a heartbeat round if one is due. A round still unfinished is abandoned: the
    /// caller did not drain `poll_transmit`.
    pub(crate) fn tick(&mut self, now: Instant) {
        // After `leave`, no heartbeat round may replace the goodbye round.
        if self.leaving() || now < self.next_round {
            return;
        }
        self.sequence = self.sequence.saturating_add(1);
        self.round = Round::Sending { kind: Kind::Heartbeat, cursor: 0 };
        self.next_round = now + self.jittered_interval();
    }

    /// Starts the goodbye round; no heartbeat follows it.
    pub(crate) fn leave(&mut self) {
        if self.round != Round::Done {
            self.sequence = self.sequence.saturating_add(1);
            self.round = Round::Sending { kind: Kind::Goodbye, cursor: 0 };
        }
    }

    /// Whether the goodbye round has been started (or sent).
    pub(crate) fn leaving(&self) -> bool {
        matches!(self.round, Round::Done | Round::Sending { kind: Kind::Goodbye, .. })
    }

    /// When the schedule needs a `tick`: `now` while a round is being sent. A next round that
    /// saturated at [`Instant::MAX`] never comes: `None`, since nothing is strictly later.
    pub(crate) fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        match self.round {
            Round::Idle => Some(self.next_round).filter(|at| *at != Instant::MAX),
            Round::Sending { .. } => Some(now),
            Round::Done => None,
        }
    }

    /// The (kind, target index) the current round has reached, among `targets`; `None` (and the
    /// round over) once every target had its frame. [`sent`](Self::sent) moves past it.
    pub(crate) fn next_target(&mut self, targets: usize) -> Option<(Kind, usize)> {
        let Round::Sending { kind, cursor } = self.round else { return None };
        if cursor >= targets {
            self.round = if kind == Kind::Goodbye { Round::Done } else { Round::Idle };
            return None;
        }
        Some((kind, cursor))
    }

    /// The target [`next_target`](Self::next_target) returned got its frame.
    pub(crate) fn sent(&mut self) {
        if let Round::Sending { kind, cursor } = self.round {
            self.round = Round::Sending { kind, cursor: cursor + 1 };
        }
    }

    /// `interval × (1 − jitter × u)` for a uniform `u` in `[0, 1)`.
    fn jittered_interval(&mut self) -> Duration {
        let full = duration_nanos(self.interval);
        let span = full / 100 * u64::from(self.jitter_percent);
        let cut = ((u128::from(span) * u128::from(self.jitter.next_u32())) >> 32) as u64;
        Duration::from_nanos(full - cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ClusterId;

    #[test]
    fn intervals_stay_within_the_jitter_band() {
        let config = Config::builder(ClusterId(1), NodeId::new(1).unwrap())
            .interval(Duration::from_millis(100))
            .timeout(Duration::from_millis(1000))
            .seed(42)
            .authentication(crate::Authentication::None)
            .build()
            .unwrap();
        let mut beacon = Beacon::new(&config, Instant::ZERO);
        let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
        for _ in 0..10_000 {
            let d = beacon.jittered_interval();
            lo = lo.min(d);
            hi = hi.max(d);
        }
        assert!(lo >= Duration::from_millis(75), "{lo:?}");
        assert!(hi <= Duration::from_millis(100), "{hi:?}");
        // The band is actually used, not collapsed to one value.
        assert!(lo < Duration::from_millis(76) && hi > Duration::from_millis(99), "{lo:?}..{hi:?}");
    }

    #[test]
    fn rounds_advance_the_sequence_and_goodbye_ends_them() {
        let config = Config::builder(ClusterId(1), NodeId::new(1).unwrap())
            .authentication(crate::Authentication::None)
            .build()
            .unwrap();
        let mut beacon = Beacon::new(&config, Instant::ZERO);
        beacon.tick(Instant::ZERO);
        assert_eq!(beacon.sequence(), 1);
        assert_eq!(beacon.next_target(2), Some((Kind::Heartbeat, 0)));
        // Not sent yet (say the buffer was too small): the same target again.
        assert_eq!(beacon.next_target(2), Some((Kind::Heartbeat, 0)));
        beacon.sent();
        assert_eq!(beacon.next_target(2), Some((Kind::Heartbeat, 1)));
        beacon.sent();
        assert_eq!(beacon.next_target(2), None);
        beacon.leave();
        beacon.tick(Instant::from_secs(50));
        assert_eq!(beacon.sequence(), 2, "a due round does not replace the goodbye");
        assert_eq!(beacon.next_target(1), Some((Kind::Goodbye, 0)));
        beacon.sent();
        assert_eq!(beacon.next_target(1), None);
        beacon.tick(Instant::from_secs(100));
        assert_eq!(beacon.sequence(), 2);
        assert_eq!(beacon.poll_timeout(Instant::from_secs(100)), None);
    }
}
