//! One timer per peer slot: a hashed timing wheel with lazy deadlines and an exact front.
//!
//! Heartbeats move deadlines later far more often than timers fire, so the wheel is built for
//! that case:
//!
//! - **Buckets.** A slot is filed in the bucket of its deadline (`deadline / width`, modulo the
//!   bucket count), in an intrusive doubly-linked list. Filing and unfiling cost O(1).
//! - **Laziness.** A deadline that moves later leaves the slot where it is
//!   ([`TimerWheel::schedule_lazily`]): its filed deadline becomes a lower bound. A heartbeat
//!   therefore costs no timer work at all.
//! - **Exact front.** Buckets are opened in time order; their slots move into a small binary
//!   heap of slots due before the cursor. [`TimerWheel::settle`] re-files the heap's top until
//!   it is exact, so the earliest deadline reported is the true one — no bucket rounding, no
//!   early wake-up.
//!
//! A peer heartbeating every interval is re-filed about once per its suspect (or down)
//! offset, each time in O(1) plus a push into the small front heap; a `tick` costs in
//! proportion to the timers that fire. Nothing ever scans all slots.
//!
//! Storage without a wheel ([`Storage::TIMER_WHEEL`] false: small fixed tables) files every
//! slot straight into the heap: O(log n) per filing, the same laziness and exactness, and none
//! of the bucket code in the binary.

mod heap;

use crate::storage::{Buffer, Storage, swap_remove};
use crate::time::Instant;
use heap::TimerHeap;
pub(crate) use heap::{ENTRY_SIZE as HEAP_ENTRY_SIZE, Full};

/// `prev` of a slot that is not in a bucket.
const UNLINKED: u32 = u32::MAX;
/// `prev` of the first slot of a bucket's list (and `next` of the last).
const END: u32 = u32::MAX - 1;
/// The fewest buckets a wheel starts with (or all a fixed table has, if smaller).
const MIN_BUCKETS: usize = 64;
/// The most buckets a wheel grows to.
const MAX_BUCKETS: usize = 1 << 20;

/// Deadlines keyed by slot number. Slots are dense `0..len`, as in the peer table.
pub(crate) struct TimerWheel<S: Storage> {
    /// Slots due before the cursor's bucket, by exact (or lower-bound) deadline.
    front: TimerHeap<S>,
    /// Per slot: the deadline it is filed under. Meaningful only while the slot is filed, that
    /// is linked in a bucket or in the front.
    filed: S::Vec<Instant>,
    /// Per slot: neighbours in its bucket's list (`UNLINKED` when not in a bucket).
    prev: S::Vec<u32>,
    next: S::Vec<u32>,
    /// Per bucket: the first slot of its list, or `END`.
    buckets: S::Vec<u32>,
    /// How many slots sit in buckets.
    linked: usize,
    /// The first bucket number (`deadline >> shift`) not yet opened.
    cursor: u64,
    /// log2 of the bucket width in nanoseconds.
    shift: u32,
    /// The span the buckets cover together, in nanoseconds.
    horizon: u64,
    /// Bookkeeping for jumping over a long empty stretch (see `open_next`).
    idle: IdleStreak,
    /// The front's top as `settle` last found it exact. Any scheduling call for that slot (the
    /// monitor makes one whenever it changes a peer) forgets it, so `settle` re-checks only
    /// after something changed.
    verified: Option<(Instant, usize)>,
}

#[derive(Debug, Clone, Copy)]
struct IdleStreak {
    /// Buckets opened in a row without moving anything to the front.
    opened: usize,
    /// The smallest bucket number filed during the streak.
    min_filed: Option<u64>,
}

impl IdleStreak {
    const NONE: IdleStreak = IdleStreak { opened: 0, min_filed: None };

    /// Notes that a slot is filed in bucket `number` during the streak.
    fn saw(&mut self, number: u64) {
        self.min_filed = Some(self.min_filed.map_or(number, |m| m.min(number)));
    }
}

impl<S: Storage> TimerWheel<S> {
    /// A wheel whose buckets together span at least `horizon` nanoseconds: every deadline
    /// filed is expected within about `horizon` of the time it is filed (a later one is still
    /// correct, but is looked at once per revolution). A fixed-capacity wheel has one bucket per
    /// slot; a growable one starts small and keeps about one bucket per slot as it grows.
    pub(crate) fn new(horizon_nanos: u64) -> Self {
        let mut buckets = S::Vec::<u32>::default();
        let max = buckets.max_len().min(MAX_BUCKETS);
        let count = match max {
            _ if !S::TIMER_WHEEL => 0,
            MAX_BUCKETS => MIN_BUCKETS,
            _ => max,
        };
        while buckets.len() < count && buckets.try_push(END).is_ok() {}
        let horizon = horizon_nanos.max(1);
        TimerWheel {
            front: TimerHeap::default(),
            filed: Default::default(),
            prev: Default::default(),
            next: Default::default(),
            shift: shift_for(horizon, buckets.len()),
            buckets,
            linked: 0,
            cursor: 0,
            horizon,
            idle: IdleStreak::NONE,
            verified: None,
        }
    }

    /// Registers a new slot at the end, unscheduled.
    pub(crate) fn push_slot(&mut self) -> Result<(), Full> {
        if self.filed.len() >= self.filed.max_len() {
            return Err(Full);
        }
        self.front.push_slot()?;
        // The per-slot arrays share one capacity, checked above.
        let _ = self.filed.try_push(Instant::ZERO);
        let _ = self.prev.try_push(UNLINKED);
        let _ = self.next.try_push(END);
        if S::TIMER_WHEEL
            && self.filed.len() > self.buckets.len()
            && self.buckets.len() < self.buckets.max_len().min(MAX_BUCKETS)
        {
            self.grow();
        }
        Ok(())
    }

    /// Doubles the bucket count (halving the width) and re-files every linked slot: O(n), once
    /// per doubling of the table, so O(1) amortised per slot.
    fn grow(&mut self) {
        let old_shift = self.shift;
        let wanted = (self.buckets.len() * 2).min(self.buckets.max_len()).min(MAX_BUCKETS);
        while self.buckets.len() < wanted && self.buckets.try_push(END).is_ok() {}
        self.shift = shift_for(self.horizon, self.buckets.len()).min(old_shift);
        // The old cursor's boundary is a boundary in the finer width too.
        self.cursor <<= old_shift - self.shift;
        self.buckets.fill(END);
        self.linked = 0;
        self.idle = IdleStreak::NONE;
        for slot in 0..self.prev.len() {
            if self.prev[slot] != UNLINKED {
                let number = self.bucket_number(self.filed[slot]);
                self.link(slot, number);
            }
        }
    }

    /// Forgets `slot` the way the peer table forgets it: the last slot moves into its number.
    pub(crate) fn swap_remove_slot(&mut self, slot: usize) {
        // Slot numbers change.
        self.verified = None;
        let Some(last) = self.filed.len().checked_sub(1) else { return };
        if slot > last {
            return;
        }
        self.cancel(slot);
        self.front.swap_remove_slot(slot);
        // The last slot takes number `slot`: take it out of its bucket under its old number
        // and put it back under the new one.
        let relink = S::TIMER_WHEEL && slot != last && self.prev[last] != UNLINKED;
        if relink {
            self.unlink(last);
        }
        swap_remove(&mut self.filed, slot);
        swap_remove(&mut self.prev, slot);
        swap_remove(&mut self.next, slot);
        if relink {
            let number = self.bucket_number(self.filed[slot]);
            self.link(slot, number);
        }
    }

    /// The deadline `slot` is filed under, if any.
    pub(crate) fn filed(&self, slot: usize) -> Option<Instant> {
        let linked = S::TIMER_WHEEL && *self.prev.get(slot)? != UNLINKED;
        (linked || self.front.contains(slot)).then(|| self.filed[slot])
    }

    /// The earliest filed deadline in the front. After [`settle`](Self::settle) it is exact and
    /// the earliest of all.
    pub(crate) fn peek(&self) -> Option<(Instant, usize)> {
        self.front.peek()
    }

    /// Files `slot` at exactly `at` (or unfiles it), wherever it was before.
    pub(crate) fn schedule(&mut self, slot: usize, at: Option<Instant>) {
        if slot >= self.filed.len() {
            return;
        }
        self.forget_verified(slot);
        self.cancel(slot);
        if let Some(at) = at {
            self.file(slot, at);
        }
    }

    /// Like [`schedule`](Self::schedule), but keeps an earlier filing: it becomes a lower
    /// bound that [`settle`](Self::settle) corrects when it reaches the front.
    pub(crate) fn schedule_lazily(&mut self, slot: usize, at: Option<Instant>) {
        // Kept or not, the slot's true deadline changed.
        self.forget_verified(slot);
        match (self.filed(slot), at) {
            (Some(filed), Some(at)) if filed <= at => {}
            _ => self.schedule(slot, at),
        }
    }

    /// Makes the front exact: re-files its top until the top's filed deadline is no earlier
    /// than `exact`'s answer for that slot, opening buckets as needed. Afterwards
    /// [`peek`](Self::peek) is the earliest time any slot is due: its true deadline, or a later
    /// time it was deliberately filed at with [`schedule`](Self::schedule) (a postponement).
    pub(crate) fn settle(&mut self, mut exact: impl FnMut(usize) -> Option<Instant>) {
        loop {
            if let Some((at, slot)) = self.front.peek() {
                if self.verified == Some((at, slot)) {
                    return;
                }
                // Everything in buckets is filed at or after the cursor, which is after every
                // front entry: an exact top is the global minimum. A top filed *later* than its
                // deadline was postponed on purpose (the monitor's local-stall guard): it
                // stands too.
                let truth = exact(slot);
                if truth.is_some_and(|truth| truth <= at) {
                    self.verified = Some((at, slot));
                    return;
                }
                self.schedule(slot, truth);
            } else if !S::TIMER_WHEEL || self.linked == 0 {
                return;
            } else {
                self.open_next();
            }
        }
    }

    fn forget_verified(&mut self, slot: usize) {
        if self.verified.is_some_and(|(_, s)| s == slot) {
            self.verified = None;
        }
    }

    fn bucket_number(&self, at: Instant) -> u64 {
        at.as_nanos() >> self.shift
    }

    fn bucket_index(&self, at: Instant) -> usize {
        (self.bucket_number(at) % self.buckets.len() as u64) as usize
    }

    fn file(&mut self, slot: usize, at: Instant) {
        self.filed[slot] = at;
        let number = self.bucket_number(at);
        if !S::TIMER_WHEEL || number < self.cursor {
            // Its bucket was opened already: straight to the front. The front holds at most
            // one entry per slot, so it has room.
            let _ = self.front.schedule(slot, at);
        } else {
            self.link(slot, number);
        }
    }

    fn link(&mut self, slot: usize, number: u64) {
        let b = (number % self.buckets.len() as u64) as usize;
        let head = self.buckets[b];
        self.prev[slot] = END;
        self.next[slot] = head;
        if head != END {
            self.prev[head as usize] = slot as u32;
        }
        self.buckets[b] = slot as u32;
        self.linked += 1;
        self.idle.saw(number);
    }

    fn unlink(&mut self, slot: usize) {
        let (p, n) = (self.prev[slot], self.next[slot]);
        if p == UNLINKED {
            return;
        }
        if p == END {
            let b = self.bucket_index(self.filed[slot]);
            self.buckets[b] = n;
        } else {
            self.next[p as usize] = n;
        }
        if n != END {
            self.prev[n as usize] = p;
        }
        self.prev[slot] = UNLINKED;
        self.next[slot] = END;
        self.linked -= 1;
    }

    fn cancel(&mut self, slot: usize) {
        if self.front.contains(slot) {
            self.front.cancel(slot);
        } else if S::TIMER_WHEEL {
            self.unlink(slot);
        }
    }

    /// Opens the cursor's bucket: its slots filed for this revolution move to the front, the
    /// others (filed a revolution or more ahead) stay. A whole revolution that moves nothing
    /// means every slot is far ahead: the cursor then jumps to the earliest of them instead of
    /// walking there bucket by bucket.
    fn open_next(&mut self) {
        let number = self.cursor;
        let b = (number % self.buckets.len() as u64) as usize;
        if self.idle.opened == 0 {
            self.idle.min_filed = None;
        }
        // At the very end of time the last bucket is opened again rather than overflowing.
        self.cursor = self.cursor.saturating_add(1);
        let mut slot = self.buckets[b];
        let mut moved = false;
        while slot != END {
            let s = slot as usize;
            slot = self.next[s];
            let at = self.filed[s];
            let filed_number = self.bucket_number(at);
            if filed_number <= number {
                self.unlink(s);
                let _ = self.front.schedule(s, at);
                moved = true;
            } else {
                self.idle.saw(filed_number);
            }
        }
        if moved {
            self.idle = IdleStreak::NONE;
            return;
        }
        self.idle.opened += 1;
        if self.idle.opened >= self.buckets.len()
            && let Some(min) = self.idle.min_filed
        {
            self.cursor = self.cursor.max(min);
            self.idle = IdleStreak::NONE;
        }
    }
}

/// log2 of the smallest power-of-two bucket width with which `count` buckets span `horizon`.
fn shift_for(horizon: u64, count: usize) -> u32 {
    let width = (horizon / count.max(1) as u64).max(1);
    u64::BITS - (width - 1).leading_zeros()
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::storage::{Fixed, Growable};
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// Pops everything in deadline order, as a monitor firing timers would.
    fn drain<S: Storage>(wheel: &mut TimerWheel<S>, model: &[Option<u64>]) -> Vec<u64> {
        let mut out = Vec::new();
        loop {
            wheel.settle(|s| model[s].map(Instant::from_nanos));
            let Some((at, slot)) = wheel.peek() else { break };
            out.push(at.as_nanos());
            wheel.schedule(slot, None);
        }
        out
    }

    fn check_against_model<S: Storage>(
        horizon: u64,
        ops: Vec<(usize, u64, u8)>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut wheel = TimerWheel::<S>::new(horizon);
        // The model: each slot's true deadline. The wheel may hold lower bounds for them.
        let mut truth: Vec<Option<u64>> = Vec::new();
        for (slot, at, op) in ops {
            while truth.len() <= slot {
                if wheel.push_slot().is_err() {
                    return Ok(());
                }
                truth.push(None);
            }
            match op {
                0 => {
                    wheel.schedule(slot, Some(Instant::from_nanos(at)));
                    truth[slot] = Some(at);
                }
                1 => {
                    // Lazily: only ever later than before (or fresh).
                    let later = truth[slot].map_or(at, |t| t.max(at));
                    wheel.schedule_lazily(slot, Some(Instant::from_nanos(later)));
                    truth[slot] = Some(later);
                }
                2 => {
                    wheel.schedule(slot, None);
                    truth[slot] = None;
                }
                _ => {
                    wheel.swap_remove_slot(slot);
                    truth.swap_remove(slot);
                }
            }
            for (s, t) in truth.iter().enumerate() {
                // A filing is never later than the truth.
                prop_assert!(wheel.filed(s).map(Instant::as_nanos) <= *t || t.is_none(), "slot {s}");
                prop_assert_eq!(wheel.filed(s).is_some(), t.is_some());
            }
            wheel.settle(|s| truth[s].map(Instant::from_nanos));
            let earliest = truth.iter().flatten().min().copied();
            prop_assert_eq!(wheel.peek().map(|(at, _)| at.as_nanos()), earliest);
        }
        let drained = drain(&mut wheel, &truth);
        let mut expected: Vec<u64> = truth.iter().flatten().copied().collect();
        expected.sort_unstable();
        prop_assert_eq!(drained, expected);
        Ok(())
    }

    proptest! {
        #[test]
        fn growable_wheel_behaves_like_a_sorted_list(
            ops in proptest::collection::vec((0usize..150, 0u64..5_000, 0u8..4), 0..400),
            horizon in 1u64..2_000,
        ) {
            check_against_model::<Growable>(horizon, ops)?;
        }

        #[test]
        fn tiny_fixed_wheel_behaves_like_a_sorted_list(
            ops in proptest::collection::vec((0usize..6, 0u64..100_000, 0u8..4), 0..200),
            horizon in 1u64..500,
        ) {
            check_against_model::<Fixed<6>>(horizon, ops)?;
        }
    }

    #[test]
    fn a_far_jump_in_time_does_not_walk_every_bucket() {
        let mut wheel = TimerWheel::<Growable>::new(1_000);
        wheel.push_slot().unwrap();
        wheel.schedule(0, Some(Instant::from_secs(86_400)));
        let mut calls = 0;
        wheel.settle(|_| {
            calls += 1;
            Some(Instant::from_secs(86_400))
        });
        assert_eq!(wheel.peek(), Some((Instant::from_secs(86_400), 0)));
        assert!(wheel.cursor > 86_400_000_000_000 >> wheel.shift, "the cursor jumped");
        assert_eq!(calls, 1);
    }

    #[test]
    fn growing_refiles_every_linked_slot() {
        let mut wheel = TimerWheel::<Growable>::new(10_000);
        let mut truth = Vec::new();
        for slot in 0..1000usize {
            wheel.push_slot().unwrap();
            // Deadlines all over the horizon (and beyond it), in no particular order.
            let at = (slot as u64 * 7919) % 25_000;
            wheel.schedule(slot, Some(Instant::from_nanos(at)));
            truth.push(Some(at));
            if slot % 97 == 0 {
                wheel.settle(|s| truth[s].map(Instant::from_nanos));
            }
        }
        assert!(wheel.buckets.len() >= 1000);
        let mut expected: Vec<u64> = truth.iter().flatten().copied().collect();
        expected.sort_unstable();
        assert_eq!(drain(&mut wheel, &truth), expected);
    }

    /// Regression (review): with 1 ns buckets a deadline at the end of time used to share its
    /// bucket number with the "nothing seen" marker, so the cursor walked bucket by bucket.
    #[test]
    fn a_deadline_at_the_end_of_time_is_reached_by_a_jump() {
        let mut wheel = TimerWheel::<Growable>::new(1);
        assert_eq!(wheel.shift, 0);
        wheel.push_slot().unwrap();
        wheel.schedule(0, Some(Instant::MAX));
        wheel.settle(|_| Some(Instant::MAX));
        assert_eq!(wheel.peek(), Some((Instant::MAX, 0)));
        wheel.schedule(0, None);
        wheel.settle(|_| None);
        assert_eq!(wheel.peek(), None);
    }
}
