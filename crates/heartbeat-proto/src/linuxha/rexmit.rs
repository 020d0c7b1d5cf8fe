//! Heartbeat's reliable-delivery bookkeeping, sans-IO: the history of our sequenced messages
//! (what a retransmission request is answered from) and, per other node, the sequence tracker
//! that finds gaps and schedules retransmission requests.
//!
//! Heartbeat 3.0.6 (`hb_rexmit.c`, `should_drop_message`) numbers every sequenced message of a
//! node from one counter, whatever its type; a receiver that sees a sequence number more than
//! one past the last asks for each missing one with `t=NS_rexmit`, first after a random 50 to
//! 250 ms, then every 250 ms until it arrives. The sender resends from a window of its recent
//! messages, at most once per 240 ms each, or answers `t=NS_nak_rexmit` when it has no longer
//! got it.

use core::time::Duration;

use heapless::{Deque, String, Vec};

use crate::time::Instant;
use crate::wire::Generation;

/// How many of our sequenced messages are kept for retransmission (Heartbeat keeps 500; we
/// send one status per keepalive and little else, so this is minutes of messages).
pub const HISTORY: usize = 256;

/// At most this many messages resent for one request (Heartbeat's limit).
pub const MAX_RESEND_PER_REQUEST: u64 = 50;

/// A gap wider than this is not asked for: the sequence is taken up from the new number
/// (Heartbeat logs "lost a lot of packets!" and resets).
pub const MAX_GAP: u64 = 250;

/// At most this many missing sequence numbers are tracked per node.
pub const MAX_MISSING: usize = 64;

/// How often a missing message is asked for before it is given up as lost.
pub const MAX_REQUESTS: u8 = 10;

/// The longest delay before the first request, and the interval between the next ones.
pub const MAX_REXMIT_DELAY: Duration = Duration::from_millis(250);

/// The shortest delay before the first request.
pub const MIN_REXMIT_DELAY: Duration = Duration::from_millis(50);

/// One message is resent at most once in this long (`max_rexmit_delay - 10 ms`).
pub const RESEND_HOLDOFF: Duration = Duration::from_millis(240);

/// What one of our sequenced messages said, enough to encode it again byte for byte (but for
/// the authenticators, which are recomputed and come out the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Sent {
    /// `t=status st=<st>`.
    Status { st: &'static str },
    /// `t=shutdone st=dead`.
    Shutdone,
    /// `t=repnodes` to node `to` (its id).
    RepNodes { to: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) seq: u64,
    pub(super) what: Sent,
    pub(super) wall_secs: u64,
    pub(super) load: String<64>,
    resent_at: Option<Instant>,
}

/// Why a message cannot be resent (the `info` of our `NS_nak_rexmit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gone {
    /// Older than the oldest kept.
    TooLow,
    /// Not one we sent (beyond the newest).
    NotFound,
}

impl Gone {
    pub(super) const fn info(self) -> &'static str {
        match self {
            Gone::TooLow => "seqno too low",
            Gone::NotFound => "seqno not found",
        }
    }
}

/// The last [`HISTORY`] sequenced messages we sent, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) struct SentHistory {
    entries: Deque<Entry, HISTORY>,
}

impl SentHistory {
    /// Remembers message `seq` (dropping the oldest when full).
    pub(super) fn push(&mut self, seq: u64, what: Sent, wall_secs: u64, load: &str) {
        if self.entries.is_full() {
            self.entries.pop_front();
        }
        let mut text = String::new();
        // The node keeps its load at most 64 bytes.
        let _ = text.push_str(load);
        let _ = self.entries.push_back(Entry { seq, what, wall_secs, load: text, resent_at: None });
    }

    /// Message `seq` to resend at `now`: `Ok(None)` if it was resent less than
    /// [`RESEND_HOLDOFF`] ago, `Err` if it is no longer (or never was) here.
    pub(super) fn resend(&mut self, seq: u64, now: Instant) -> Result<Option<Entry>, Gone> {
        let oldest = self.entries.front().map_or(u64::MAX, |e| e.seq);
        let Some(entry) = self.entries.iter_mut().find(|e| e.seq == seq) else {
            return Err(if seq < oldest { Gone::TooLow } else { Gone::NotFound });
        };
        if entry.resent_at.is_some_and(|at| now < at + RESEND_HOLDOFF) {
            return Ok(None);
        }
        entry.resent_at = Some(now);
        Ok(Some(entry.clone()))
    }

    /// Message `seq`, if kept.
    pub(super) fn get(&self, seq: u64) -> Option<Entry> {
        self.entries.iter().find(|e| e.seq == seq).cloned()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// How a sequenced message from a node relates to what was had from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SeqVerdict {
    /// The next, or a first one: take it.
    InOrder,
    /// Ahead by `missing` messages: take it, and ask for the ones skipped.
    Gap { missing: u64 },
    /// One that was missing: take it.
    Recovered,
    /// A higher generation: the node restarted; a new sequence space.
    Restart,
    /// Already had.
    Duplicate,
    /// Older than the last and not missing: a replay, or a copy too late to matter.
    Old,
    /// A lower generation than the node's: a replay.
    StaleGeneration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Missing {
    seq: u64,
    due: Instant,
    requests: u8,
}

/// Heartbeat's `seqtrack` for one node: its generation, the last sequence number had, the
/// missing ones with their request timers, and when to ack.
#[derive(Debug, Clone, Default)]
pub(super) struct SeqTrack {
    /// The node's generation, once one was taken (kept across [`reset`](Self::reset)).
    generation: Option<Generation>,
    last: u64,
    missing: Vec<Missing, MAX_MISSING>,
    /// Ack sequence numbers `≡ ack_trigger (mod 10)`.
    pub(super) ack_trigger: u8,
    /// The node sent `protocol` in its latest status: it wants acks.
    pub(super) flow_control: bool,
    /// The node was up when last looked at (the owner resets the track when it no longer is).
    pub(super) was_live: bool,
}

impl SeqTrack {
    pub(super) fn new(ack_trigger: u8) -> Self {
        SeqTrack { ack_trigger: ack_trigger % 10, ..SeqTrack::default() }
    }

    /// Judges `seq` of `generation`. Reads only.
    pub(super) fn judge(&self, generation: Generation, seq: u64) -> SeqVerdict {
        let Some(known) = self.generation else { return SeqVerdict::InOrder };
        match generation.cmp(&known) {
            core::cmp::Ordering::Less => return SeqVerdict::StaleGeneration,
            core::cmp::Ordering::Greater => return SeqVerdict::Restart,
            core::cmp::Ordering::Equal => {}
        }
        if self.last == 0 || seq == self.last + 1 {
            SeqVerdict::InOrder
        } else if seq > self.last {
            SeqVerdict::Gap { missing: seq - self.last - 1 }
        } else if self.missing.iter().any(|m| m.seq == seq) {
            SeqVerdict::Recovered
        } else if seq == self.last {
            SeqVerdict::Duplicate
        } else {
            SeqVerdict::Old
        }
    }

    /// Takes `seq` of `generation` in, as [`judge`](Self::judge) said, at `now`; `jitter` gives
    /// each new missing number its first request delay. Returns how many numbers went missing.
    pub(super) fn record(
        &mut self,
        generation: Generation,
        seq: u64,
        now: Instant,
        mut jitter: impl FnMut() -> Duration,
    ) -> u64 {
        match self.judge(generation, seq) {
            SeqVerdict::Duplicate | SeqVerdict::Old | SeqVerdict::StaleGeneration => 0,
            SeqVerdict::Recovered => {
                self.missing.retain(|m| m.seq != seq);
                0
            }
            SeqVerdict::InOrder | SeqVerdict::Restart => {
                if self.generation != Some(generation) {
                    self.missing.clear();
                }
                self.generation = Some(generation);
                self.last = seq;
                0
            }
            SeqVerdict::Gap { missing } => {
                if missing > MAX_GAP {
                    self.missing.clear();
                } else {
                    for lost in self.last + 1..seq {
                        if self.missing.push(Missing { seq: lost, due: now + jitter(), requests: 0 }).is_err() {
                            break;
                        }
                    }
                }
                self.last = seq;
                missing
            }
        }
    }

    /// Nothing missing: acks may go.
    pub(super) fn complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// Forgets the sequence state but the generation (the node is dead: Heartbeat's
    /// `reset_seqtrack`); its next message starts a new sequence.
    pub(super) fn reset(&mut self) {
        self.last = 0;
        self.missing.clear();
    }

    /// Stops asking for anything (requests go to live nodes only).
    pub(super) fn stop_asking(&mut self) {
        self.missing.clear();
    }

    /// Stops asking for `seq` (the sender said it cannot resend it).
    pub(super) fn give_up(&mut self, seq: u64) -> bool {
        let before = self.missing.len();
        self.missing.retain(|m| m.seq != seq);
        before != self.missing.len()
    }

    /// The earliest request due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.missing.iter().map(|m| m.due).min()
    }

    /// Calls `ask` with every missing number whose request is due at `now`, re-arming each
    /// [`MAX_REXMIT_DELAY`] later; a number asked for [`MAX_REQUESTS`] times is given up and
    /// counted in the returned total.
    pub(super) fn fire(&mut self, now: Instant, mut ask: impl FnMut(u64)) -> u64 {
        let mut abandoned = 0;
        for m in self.missing.iter_mut().filter(|m| m.due <= now) {
            if m.requests >= MAX_REQUESTS {
                abandoned += 1;
                m.requests = u8::MAX;
                continue;
            }
            ask(m.seq);
            m.requests += 1;
            m.due = now + MAX_REXMIT_DELAY;
        }
        self.missing.retain(|m| m.requests != u8::MAX);
        abandoned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: Generation = Generation(7);

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn in_order_gaps_recoveries_duplicates_and_replays_are_told_apart() {
        let mut t = SeqTrack::new(3);
        assert_eq!(t.judge(G, 5), SeqVerdict::InOrder, "the first number of a node is taken");
        t.record(G, 5, ms(0), || MIN_REXMIT_DELAY);
        assert_eq!(t.judge(G, 6), SeqVerdict::InOrder);
        assert_eq!(t.judge(G, 5), SeqVerdict::Duplicate);
        assert_eq!(t.judge(G, 9), SeqVerdict::Gap { missing: 3 });
        assert_eq!(t.record(G, 9, ms(0), || MIN_REXMIT_DELAY), 3);
        assert!(!t.complete());
        assert_eq!(t.judge(G, 7), SeqVerdict::Recovered);
        t.record(G, 7, ms(1), || MIN_REXMIT_DELAY);
        assert_eq!(t.judge(G, 7), SeqVerdict::Old);
        assert_eq!(t.judge(G, 4), SeqVerdict::Old);
        assert_eq!(t.judge(Generation(6), 100), SeqVerdict::StaleGeneration);
        assert_eq!(t.judge(Generation(8), 1), SeqVerdict::Restart);
        t.record(Generation(8), 1, ms(2), || MIN_REXMIT_DELAY);
        assert!(t.complete(), "a restart forgets the old incarnation's gaps");
        assert_eq!(t.judge(G, 10), SeqVerdict::StaleGeneration);
        t.reset();
        assert_eq!(t.judge(Generation(8), 40), SeqVerdict::InOrder, "after a reset, any next number");
        assert_eq!(t.judge(G, 41), SeqVerdict::StaleGeneration, "but never an older generation");
    }

    #[test]
    fn requests_fire_after_their_delay_then_every_250_ms_until_given_up() {
        let mut t = SeqTrack::new(0);
        t.record(G, 1, ms(0), || MIN_REXMIT_DELAY);
        t.record(G, 3, ms(0), || Duration::from_millis(120));
        assert_eq!(t.next_due(), Some(ms(120)));
        let mut asked = std::vec::Vec::new();
        assert_eq!(t.fire(ms(119), |s| asked.push(s)), 0);
        assert!(asked.is_empty());
        t.fire(ms(120), |s| asked.push(s));
        assert_eq!(asked, [2]);
        assert_eq!(t.next_due(), Some(ms(370)));
        let mut now = 370;
        let mut abandoned = 0;
        for _ in 0..20 {
            abandoned += t.fire(ms(now), |s| asked.push(s));
            now += 250;
        }
        assert_eq!(asked.len(), usize::from(MAX_REQUESTS));
        assert_eq!(abandoned, 1);
        assert!(t.complete() && t.next_due().is_none());
    }

    #[test]
    fn a_huge_gap_is_not_asked_for() {
        let mut t = SeqTrack::new(0);
        t.record(G, 1, ms(0), || MIN_REXMIT_DELAY);
        assert_eq!(t.record(G, 2 + MAX_GAP + 1, ms(0), || MIN_REXMIT_DELAY), MAX_GAP + 1);
        assert!(t.complete());
        assert_eq!(t.judge(G, 4 + MAX_GAP), SeqVerdict::InOrder);
    }

    #[test]
    fn the_history_resends_what_it_has_once_per_holdoff_and_says_why_not_otherwise() {
        let mut h = SentHistory::default();
        for seq in 1..=(HISTORY as u64 + 10) {
            h.push(seq, Sent::Status { st: "active" }, 0x6b07_0000 + seq, "0.00");
        }
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h.resend(5, ms(0)), Err(Gone::TooLow));
        assert_eq!(h.resend(HISTORY as u64 + 11, ms(0)), Err(Gone::NotFound));
        let seq = HISTORY as u64;
        let entry = h.resend(seq, ms(0)).unwrap().unwrap();
        assert_eq!((entry.seq, entry.wall_secs), (seq, 0x6b07_0000 + seq));
        assert_eq!(h.resend(seq, ms(239)), Ok(None), "not twice within the holdoff");
        assert!(h.resend(seq, ms(240)).unwrap().is_some());
    }
}
