//! Per-peer sequence tracking: a 64-frame sliding window, as IPsec's anti-replay window.
//!
//! It tells a fresh frame (higher than any before, with the size of the gap it leaves) from a
//! late one (inside the window, never seen: reordered), a duplicate (inside the window, seen)
//! and one too old to judge (below the window: treated as a replay).

/// How many sequence numbers below the highest the window remembers.
pub const WINDOW: u64 = 64;

/// What a sequence number is, relative to those already accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqClass {
    /// Higher than every accepted one; `gap` sequence numbers were skipped (lost, or late).
    Fresh { gap: u64 },
    /// Inside the window and not yet seen: it was overtaken by later frames.
    Late,
    /// Inside the window and already seen.
    Duplicate,
    /// Below the window: cannot be told from a replay.
    TooOld,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SeqWindow {
    highest: u64,
    /// Bit `i` set: `highest - i` was seen. Zero before the first frame.
    seen: u64,
}

impl SeqWindow {
    /// A window whose first frame is `seq`.
    pub(crate) fn starting_at(seq: u64) -> Self {
        SeqWindow { highest: seq, seen: 1 }
    }

    /// A window that takes every sequence number up to `seq` as seen: only later ones are
    /// fresh. For a peer resumed from a persisted watermark.
    pub(crate) fn seen_through(seq: u64) -> Self {
        SeqWindow { highest: seq, seen: u64::MAX }
    }

    /// The highest sequence number accepted, if any.
    pub(crate) fn highest(&self) -> Option<u64> {
        (self.seen != 0).then_some(self.highest)
    }

    pub(crate) fn classify(&self, seq: u64) -> SeqClass {
        if self.seen == 0 {
            return SeqClass::Fresh { gap: 0 };
        }
        if seq > self.highest {
            return SeqClass::Fresh { gap: seq - self.highest - 1 };
        }
        let behind = self.highest - seq;
        if behind >= WINDOW {
            SeqClass::TooOld
        } else if self.seen & (1 << behind) != 0 {
            SeqClass::Duplicate
        } else {
            SeqClass::Late
        }
    }

    /// Marks `seq` seen. Call only for a `Fresh` or `Late` classification.
    pub(crate) fn record(&mut self, seq: u64) {
        if self.seen == 0 {
            *self = SeqWindow::starting_at(seq);
        } else if seq > self.highest {
            let shift = seq - self.highest;
            self.seen = if shift >= WINDOW { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = seq;
        } else {
            let behind = self.highest - seq;
            if behind < WINDOW {
                self.seen |= 1 << behind;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_fresh_late_duplicate_and_too_old() {
        let mut w = SeqWindow::default();
        assert_eq!(w.classify(10), SeqClass::Fresh { gap: 0 });
        w.record(10);
        assert_eq!(w.classify(10), SeqClass::Duplicate);
        assert_eq!(w.classify(13), SeqClass::Fresh { gap: 2 });
        w.record(13);
        assert_eq!(w.classify(12), SeqClass::Late);
        w.record(12);
        assert_eq!(w.classify(12), SeqClass::Duplicate);
        assert_eq!(w.classify(11), SeqClass::Late);
        w.record(13 + 70);
        assert_eq!(w.classify(13), SeqClass::TooOld);
        assert_eq!(w.classify(13 + 70 - 63), SeqClass::Late);
        assert_eq!(w.highest(), Some(83));
    }

    #[test]
    fn a_resumed_window_takes_everything_up_to_the_mark_as_seen() {
        let w = SeqWindow::seen_through(100);
        assert_eq!(w.classify(101), SeqClass::Fresh { gap: 0 });
        assert_eq!(w.classify(100), SeqClass::Duplicate);
        assert_eq!(w.classify(37), SeqClass::Duplicate);
        assert_eq!(w.classify(36), SeqClass::TooOld);
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let mut w = SeqWindow::starting_at(0);
        assert_eq!(w.classify(u64::MAX), SeqClass::Fresh { gap: u64::MAX - 1 });
        w.record(u64::MAX);
        assert_eq!(w.classify(0), SeqClass::TooOld);
        assert_eq!(w.classify(u64::MAX), SeqClass::Duplicate);
    }
}
