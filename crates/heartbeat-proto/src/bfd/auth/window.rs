//! The receive side's replay window (§6.7.3, §6.7.4): bfd.AuthSeqKnown and bfd.RcvAuthSeq.

use super::AuthFailure;

/// The receive side's sequence state for keyed types: whether a sequence number is known
/// (bfd.AuthSeqKnown) and the last one accepted (bfd.RcvAuthSeq).
///
/// Windows are in unsigned 32-bit circular arithmetic, `3 × Detect Mult` wide (the received
/// packet's Detect Mult):
/// - keyed MD5 / SHA1: `[last, last + 3·mult]` — a repeat of the last number is accepted;
/// - meticulous: `[last + 1, last + 3·mult]` — every packet must carry a new number.
///
/// While no number is known every number is accepted. Use: [`check`](Self::check) before
/// accepting a packet, [`accept`](Self::accept) once it is fully accepted, and
/// [`forget`](Self::forget) after no packet was received for twice the Detection Time (§6.8.1).
/// The simple password carries no sequence number and needs no window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SequenceWindow {
    /// bfd.RcvAuthSeq, when bfd.AuthSeqKnown is 1.
    last: Option<u32>,
}

impl SequenceWindow {
    /// No sequence number known yet.
    pub const fn new() -> Self {
        SequenceWindow { last: None }
    }

    /// Whether `sequence` is inside the window, for a packet whose Detect Mult is
    /// `detect_mult`. Changes nothing.
    pub fn check(&self, sequence: u32, detect_mult: u8, meticulous: bool) -> Result<(), AuthFailure> {
        let Some(last) = self.last else { return Ok(()) };
        let ahead = sequence.wrapping_sub(last);
        let width = 3 * u32::from(detect_mult);
        let lowest = u32::from(meticulous);
        if (lowest..=width).contains(&ahead) { Ok(()) } else { Err(AuthFailure::OutOfWindow { sequence, last }) }
    }

    /// Records `sequence` as the last accepted: bfd.RcvAuthSeq = sequence, bfd.AuthSeqKnown = 1.
    /// Call only after the whole packet was accepted.
    pub fn accept(&mut self, sequence: u32) {
        self.last = Some(sequence);
    }

    /// bfd.AuthSeqKnown = 0: any sequence number is accepted next.
    pub fn forget(&mut self) {
        self.last = None;
    }

    /// bfd.AuthSeqKnown.
    pub fn is_known(&self) -> bool {
        self.last.is_some()
    }

    /// bfd.RcvAuthSeq, if known.
    pub fn last(&self) -> Option<u32> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_accepts_anything_while_unknown() {
        let w = SequenceWindow::new();
        assert!(!w.is_known());
        for seq in [0, 1, u32::MAX / 2, u32::MAX] {
            assert_eq!(w.check(seq, 3, true), Ok(()));
            assert_eq!(w.check(seq, 3, false), Ok(()));
        }
    }

    #[test]
    fn keyed_and_meticulous_windows_differ_at_the_lower_edge() {
        let mut w = SequenceWindow::new();
        w.accept(1000);
        assert!(w.is_known());
        assert_eq!(w.last(), Some(1000));
        let out = |sequence| Err(AuthFailure::OutOfWindow { sequence, last: 1000 });
        // Keyed: [last, last + 3·mult].
        assert_eq!(w.check(1000, 3, false), Ok(()));
        assert_eq!(w.check(1009, 3, false), Ok(()));
        assert_eq!(w.check(1010, 3, false), out(1010));
        assert_eq!(w.check(999, 3, false), out(999));
        // Meticulous: [last + 1, last + 3·mult].
        assert_eq!(w.check(1000, 3, true), out(1000));
        assert_eq!(w.check(1001, 3, true), Ok(()));
        assert_eq!(w.check(1009, 3, true), Ok(()));
        assert_eq!(w.check(1010, 3, true), out(1010));
        // The width follows the packet's Detect Mult.
        assert_eq!(w.check(1000 + 3 * 255, 255, true), Ok(()));
        assert_eq!(w.check(1000 + 3 * 255 + 1, 255, true), out(1000 + 766));
        assert_eq!(w.check(1001, 1, true), Ok(()));
        assert_eq!(w.check(1004, 1, true), out(1004));
        // Checking moves nothing; `forget` makes everything acceptable again.
        assert_eq!(w.last(), Some(1000));
        w.forget();
        assert_eq!(w.check(999, 3, true), Ok(()));
    }

    #[test]
    fn the_window_wraps_around_u32_max() {
        let mut w = SequenceWindow::new();
        w.accept(u32::MAX - 1);
        // Window of 3: [MAX - 1, MAX + 2] = [MAX - 1, MAX, 0, 1] (keyed).
        for seq in [u32::MAX - 1, u32::MAX, 0, 1] {
            assert_eq!(w.check(seq, 1, false), Ok(()), "{seq}");
        }
        assert_eq!(w.check(2, 1, false), Err(AuthFailure::OutOfWindow { sequence: 2, last: u32::MAX - 1 }));
        assert!(w.check(u32::MAX - 2, 1, false).is_err());
        assert!(w.check(u32::MAX - 1, 1, true).is_err());
        w.accept(u32::MAX);
        assert_eq!(w.check(0, 1, true), Ok(()));
        assert_eq!(w.check(2, 1, true), Ok(()));
        assert!(w.check(3, 1, true).is_err());
        assert!(w.check(u32::MAX, 1, true).is_err());
        assert_eq!(w.check(u32::MAX, 1, false), Ok(()));
    }
}
