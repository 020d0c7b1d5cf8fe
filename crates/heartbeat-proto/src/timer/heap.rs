//! A binary min-heap of slot deadlines with a position index: the wheel's exact front.
//!
//! Scheduling, rescheduling and cancelling a slot cost O(log f) for f entries in the heap;
//! the earliest deadline costs O(1).

use crate::storage::{Buffer, Storage, swap_remove};
use crate::time::Instant;

const UNSCHEDULED: u32 = u32::MAX;

/// The bytes one heap slot takes.
pub(crate) const ENTRY_SIZE: usize = core::mem::size_of::<Entry>();

#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Instant,
    slot: u32,
}

/// Deadlines keyed by slot number. Slots are dense `0..len`, as in the peer table.
pub(crate) struct TimerHeap<S: Storage> {
    heap: S::Vec<Entry>,
    /// For each slot, its index in `heap`, or `UNSCHEDULED`.
    pos: S::Vec<u32>,
}

impl<S: Storage> Default for TimerHeap<S> {
    fn default() -> Self {
        TimerHeap { heap: Default::default(), pos: Default::default() }
    }
}

/// The heap could not grow (fixed capacity reached). Never happens while the heap holds at
/// most as many slots as the peer table it serves.
#[derive(Debug)]
pub(crate) struct Full;

impl<S: Storage> TimerHeap<S> {
    /// Registers a new slot at the end, unscheduled.
    pub(crate) fn push_slot(&mut self) -> Result<(), Full> {
        self.pos.try_push(UNSCHEDULED).map_err(|_| Full)
    }

    /// Forgets `slot` the way the peer table forgets it: the last slot moves into its number.
    pub(crate) fn swap_remove_slot(&mut self, slot: usize) {
        self.cancel(slot);
        let last = self.pos.len().saturating_sub(1);
        if swap_remove(&mut self.pos, slot).is_none() {
            return;
        }
        if slot != last {
            // The former last slot now answers to `slot`: relabel its heap entry.
            if let Some(&p) = self.pos.get(slot)
                && let Some(entry) = self.heap.get_mut(p as usize)
            {
                entry.slot = slot as u32;
            }
        }
    }

    /// The earliest deadline and its slot.
    pub(crate) fn peek(&self) -> Option<(Instant, usize)> {
        self.heap.first().map(|e| (e.at, e.slot as usize))
    }

    /// Whether `slot` is in the heap.
    pub(crate) fn contains(&self, slot: usize) -> bool {
        self.pos.get(slot).is_some_and(|p| *p != UNSCHEDULED)
    }

    /// The deadline of `slot`, if scheduled.
    #[cfg(test)]
    pub(crate) fn deadline(&self, slot: usize) -> Option<Instant> {
        let p = *self.pos.get(slot)?;
        self.heap.get(p as usize).map(|e| e.at)
    }

    /// Schedules `slot` at `at`, replacing any earlier schedule.
    pub(crate) fn schedule(&mut self, slot: usize, at: Instant) -> Result<(), Full> {
        let Some(&p) = self.pos.get(slot) else { return Err(Full) };
        if p == UNSCHEDULED {
            let end = self.heap.len();
            self.heap.try_push(Entry { at, slot: slot as u32 }).map_err(|_| Full)?;
            self.pos[slot] = end as u32;
            self.sift_up(end);
        } else {
            let p = p as usize;
            let old = self.heap[p].at;
            self.heap[p].at = at;
            if at < old {
                self.sift_up(p);
            } else {
                self.sift_down(p);
            }
        }
        Ok(())
    }

    /// Cancels `slot`'s timer, if any.
    pub(crate) fn cancel(&mut self, slot: usize) {
        let Some(&p) = self.pos.get(slot) else { return };
        if p == UNSCHEDULED {
            return;
        }
        let p = p as usize;
        let last = self.heap.len() - 1;
        self.swap_entries(p, last);
        self.heap.pop_last();
        self.pos[slot] = UNSCHEDULED;
        if p < self.heap.len() {
            self.sift_down(p);
            self.sift_up(p);
        }
    }

    fn swap_entries(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        let (sa, sb) = (self.heap[a].slot as usize, self.heap[b].slot as usize);
        self.pos[sa] = a as u32;
        self.pos[sb] = b as u32;
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[i].at >= self.heap[parent].at {
                break;
            }
            self.swap_entries(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut smallest = i;
            if l < len && self.heap[l].at < self.heap[smallest].at {
                smallest = l;
            }
            if r < len && self.heap[r].at < self.heap[smallest].at {
                smallest = r;
            }
            if smallest == i {
                break;
            }
            self.swap_entries(i, smallest);
            i = smallest;
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::storage::Growable;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn drain(heap: &mut TimerHeap<Growable>) -> Vec<(u64, usize)> {
        let mut out = Vec::new();
        while let Some((at, slot)) = heap.peek() {
            out.push((at.as_nanos(), slot));
            heap.cancel(slot);
        }
        out
    }

    proptest! {
        /// Against a trivially correct model: a plain array of optional deadlines.
        #[test]
        fn behaves_like_a_sorted_list(ops in proptest::collection::vec((0usize..12, 0u64..50, 0u8..3), 0..200)) {
            let mut heap = TimerHeap::<Growable>::default();
            let mut model: Vec<Option<u64>> = Vec::new();
            for (slot, at, op) in ops {
                while model.len() <= slot {
                    heap.push_slot().unwrap();
                    model.push(None);
                }
                match op {
                    0 => { heap.schedule(slot, Instant::from_nanos(at)).unwrap(); model[slot] = Some(at); }
                    1 => { heap.cancel(slot); model[slot] = None; }
                    _ => { heap.swap_remove_slot(slot); model.swap_remove(slot); }
                }
                for (s, m) in model.iter().enumerate() {
                    prop_assert_eq!(heap.deadline(s).map(Instant::as_nanos), *m);
                }
                let earliest = model.iter().filter_map(|m| *m).min();
                prop_assert_eq!(heap.peek().map(|(at, _)| at.as_nanos()), earliest);
            }
            let drained = drain(&mut heap);
            prop_assert!(drained.windows(2).all(|w| w[0].0 <= w[1].0));
            prop_assert_eq!(drained.len(), model.iter().filter(|m| m.is_some()).count());
        }
    }
}
