//! What a verdict rested on: the facts the monitor had when it decided a peer was `Suspect`
//! or `Down`, small enough to travel in the event queue (no allocation).

use core::time::Duration;

use crate::config::MAX_LINKS;
use crate::time::Instant;

/// Which verdict an [`Evidence`] explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// The peer became `Suspect`.
    Suspect,
    /// The peer became `Down`.
    Down,
}

/// Where the deadline that passed came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeadlineSource {
    /// The peer was never heard: this node's configured start-up deadline (`initdead`).
    Startup,
    /// The timeout negotiated with the peer: what it asked for, clamped into this node's
    /// bounds (the fixed-timeout detector; an estimating one still warming up).
    Negotiated,
    /// The detector's estimate from the peer's arrivals, within this node's bounds.
    Estimated,
    /// The detector's estimate was shorter than this node's `min_timeout`, which applied.
    Floor,
    /// The detector's estimate was longer than this node's `max_timeout`, which applied.
    Ceiling,
}

/// The evidence for one `Suspect` or `Down`: carried by
/// [`EventKind::Explained`](crate::EventKind::Explained), queued just before the verdict
/// itself when [`ConfigBuilder::explain_verdicts`](crate::ConfigBuilder::explain_verdicts) is
/// on. Read it through its methods; more facts may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    pub(crate) verdict: Verdict,
    pub(crate) source: DeadlineSource,
    pub(crate) held_by_stall_guard: bool,
    pub(crate) links: u8,
    pub(crate) last_heard: Option<Instant>,
    pub(crate) deadline: Instant,
    pub(crate) down_after_us: u32,
    pub(crate) timeout_us: u32,
    pub(crate) interval_us: u32,
    pub(crate) suspicion_bits: u32,
    pub(crate) loss_bits: u32,
    pub(crate) srtt_us: u32,
    /// Per link: µs since it last delivered, as of the verdict; `u32::MAX` if never.
    pub(crate) link_silence_us: [u32; MAX_LINKS as usize],
}

fn micros(us: u32) -> Option<Duration> {
    (us != u32::MAX).then(|| Duration::from_micros(u64::from(us)))
}

impl Evidence {
    /// The verdict explained.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// When the peer was last heard; `None` if never.
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// The deadline that passed (the suspect deadline for a `Suspect`).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Where the down deadline came from.
    pub fn source(&self) -> DeadlineSource {
        self.source
    }

    /// The down deadline's distance from the last heartbeat (or from start-up, for a peer never
    /// heard): the timeout in force, or the detector's estimate. `None` if beyond 71 minutes.
    pub fn down_after(&self) -> Option<Duration> {
        micros(self.down_after_us)
    }

    /// The timeout negotiated with the peer (what it asked for, clamped into this node's
    /// bounds), whatever the detector made of it.
    pub fn negotiated_timeout(&self) -> Duration {
        Duration::from_micros(u64::from(self.timeout_us))
    }

    /// The peer's advertised heartbeat interval, an input of every estimate.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(u64::from(self.interval_us))
    }

    /// The detector's suspicion level at the verdict, on the detector's own scale.
    pub fn suspicion(&self) -> f32 {
        f32::from_bits(self.suspicion_bits)
    }

    /// The fraction of the peer's heartbeats lost before the silence, in `[0, 1]`.
    pub fn loss_ratio(&self) -> f32 {
        f32::from_bits(self.loss_bits)
    }

    /// The smoothed round-trip time before the silence, if it was measured.
    pub fn srtt(&self) -> Option<Duration> {
        (self.srtt_us != 0).then(|| Duration::from_micros(u64::from(self.srtt_us)))
    }

    /// Whether the local-stall guard had postponed this verdict: this node itself had been
    /// stalled when the deadline passed, and waited for frames that might have been queued.
    pub fn held_by_stall_guard(&self) -> bool {
        self.held_by_stall_guard
    }

    /// How many links the node has (the length of [`link_silence`](Self::link_silence)'s range).
    pub fn links(&self) -> u8 {
        self.links
    }

    /// How long link `link` had been silent at the verdict; `None` if it never delivered (or
    /// there is no such link, or it is beyond 71 minutes).
    pub fn link_silence(&self, link: u8) -> Option<Duration> {
        if link >= self.links {
            return None;
        }
        micros(*self.link_silence_us.get(usize::from(link))?)
    }
}
