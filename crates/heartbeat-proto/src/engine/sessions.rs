//! A slab of sessions with stable, generation-checked handles.
//!
//! [`SessionTable`] is the record store a profile keeps its per-session state in (BFD's
//! [`BfdHost`](crate::bfd::BfdHost) does; so can a user's own protocol). Every operation is
//! O(1): free slots form an intrusive list, so inserting reuses the most recently freed slot
//! without searching. A [`SessionHandle`] names a slot *and* the occupant it was issued for:
//! once that occupant is removed the handle is stale and every lookup with it returns `None`,
//! even after the slot holds a new session. Removing a session never moves another one.

use crate::storage::{Buffer, Storage};

/// Names one session of a [`SessionTable`]: its slot and that slot's generation when the
/// session was inserted. Cheap to copy, compare and hash.
///
/// A handle outlives its session harmlessly: after removal it matches nothing, not even a later
/// session in the same slot (until the slot's 32-bit generation wraps around, after 2³² reuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle {
    index: u32,
    generation: u32,
}

impl SessionHandle {
    pub(crate) const fn new(index: u32, generation: u32) -> Self {
        SessionHandle { index, generation }
    }

    /// The slot number, dense from 0: usable to index side tables (as [`TimerTable`] does).
    ///
    /// [`TimerTable`]: super::TimerTable
    pub const fn index(self) -> usize {
        self.index as usize
    }

    /// The slot's generation when this handle was issued.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

/// The table's storage is full: nothing was inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("session table full")]
pub struct TableFull;

/// Marks the end of the free list.
const NO_SLOT: u32 = u32::MAX;

#[derive(Debug)]
enum Entry<T> {
    Occupied(T),
    Vacant { next_free: u32 },
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    entry: Entry<T>,
}

/// Sessions of type `T` in slots of storage `S`, addressed by [`SessionHandle`].
///
/// Capacity is the storage's (`Fixed<N>`: N sessions, no allocator; `Growable`: unbounded).
/// Iteration visits live sessions in slot order.
pub struct SessionTable<T, S: Storage> {
    slots: S::Vec<Slot<T>>,
    /// The most recently freed slot, heading the list of vacant ones.
    free: u32,
    len: usize,
}

impl<T, S: Storage> Default for SessionTable<T, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, S: Storage> SessionTable<T, S> {
    /// An empty table.
    pub fn new() -> Self {
        SessionTable { slots: Default::default(), free: NO_SLOT, len: 0 }
    }

    /// How many sessions it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The handle the next [`insert`](Self::insert) will return, or `None` if the table is full.
    pub fn next_handle(&self) -> Option<SessionHandle> {
        if self.free != NO_SLOT {
            let generation = self.slots.get(self.free as usize)?.generation;
            return Some(SessionHandle { index: self.free, generation });
        }
        let index = self.slots.len();
        (index < self.slots.max_len() && index < NO_SLOT as usize)
            .then_some(SessionHandle { index: index as u32, generation: 0 })
    }

    /// Inserts `value`; its handle is [`next_handle`](Self::next_handle)'s answer just before.
    pub fn insert(&mut self, value: T) -> Result<SessionHandle, TableFull> {
        self.insert_with(|_| value)
    }

    /// Inserts the value `make` builds from its own handle (for records that store it).
    pub fn insert_with(&mut self, make: impl FnOnce(SessionHandle) -> T) -> Result<SessionHandle, TableFull> {
        let handle = self.next_handle().ok_or(TableFull)?;
        let value = make(handle);
        if self.free == handle.index {
            let slot = &mut self.slots[handle.index()];
            if let Entry::Vacant { next_free } = slot.entry {
                self.free = next_free;
            }
            slot.entry = Entry::Occupied(value);
        } else {
            let slot = Slot { generation: handle.generation, entry: Entry::Occupied(value) };
            self.slots.try_push(slot).map_err(|_| TableFull)?;
        }
        self.len += 1;
        Ok(handle)
    }

    /// Whether `handle` names a live session.
    pub fn contains(&self, handle: SessionHandle) -> bool {
        self.get(handle).is_some()
    }

    /// The session `handle` names, unless it was removed.
    pub fn get(&self, handle: SessionHandle) -> Option<&T> {
        match self.slots.get(handle.index())? {
            Slot { generation, entry: Entry::Occupied(value) } if *generation == handle.generation => Some(value),
            _ => None,
        }
    }

    /// The session `handle` names, mutably, unless it was removed.
    pub fn get_mut(&mut self, handle: SessionHandle) -> Option<&mut T> {
        match self.slots.get_mut(handle.index())? {
            Slot { generation, entry: Entry::Occupied(value) } if *generation == handle.generation => Some(value),
            _ => None,
        }
    }

    /// The live session in slot `index` and its current handle.
    pub fn get_by_index(&self, index: usize) -> Option<(SessionHandle, &T)> {
        match self.slots.get(index)? {
            Slot { generation, entry: Entry::Occupied(value) } => {
                Some((SessionHandle { index: index as u32, generation: *generation }, value))
            }
            _ => None,
        }
    }

    /// Removes and returns the session `handle` names. Its handle, and every copy of it, goes
    /// stale; other handles are unaffected.
    pub fn remove(&mut self, handle: SessionHandle) -> Option<T> {
        self.get(handle)?;
        let slot = &mut self.slots[handle.index()];
        let entry = core::mem::replace(&mut slot.entry, Entry::Vacant { next_free: self.free });
        slot.generation = slot.generation.wrapping_add(1);
        self.free = handle.index;
        self.len -= 1;
        match entry {
            Entry::Occupied(value) => Some(value),
            Entry::Vacant { .. } => None,
        }
    }

    /// Every live session with its handle, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (SessionHandle, &T)> + '_ {
        self.slots.iter().enumerate().filter_map(|(index, slot)| match &slot.entry {
            Entry::Occupied(value) => Some((SessionHandle { index: index as u32, generation: slot.generation }, value)),
            Entry::Vacant { .. } => None,
        })
    }

    /// Every live session with its handle, mutably, in slot order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (SessionHandle, &mut T)> + '_ {
        self.slots.iter_mut().enumerate().filter_map(|(index, slot)| match &mut slot.entry {
            Entry::Occupied(value) => Some((SessionHandle { index: index as u32, generation: slot.generation }, value)),
            Entry::Vacant { .. } => None,
        })
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::storage::{Fixed, Growable};
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn a_stale_handle_matches_nothing_even_after_reuse() {
        let mut t = SessionTable::<&str, Growable>::new();
        let a = t.insert("a").unwrap();
        let b = t.insert("b").unwrap();
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.get(a), None);
        let c = t.insert("c").unwrap();
        assert_eq!(c.index(), a.index(), "the freed slot is reused");
        assert_ne!(c, a);
        assert_eq!(t.get(a), None);
        assert_eq!(t.remove(a), None);
        assert_eq!(t.get(c), Some(&"c"));
        assert_eq!(t.get(b), Some(&"b"), "removal did not renumber b");
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_fixed_table_refuses_past_its_capacity() {
        let mut t = SessionTable::<u8, Fixed<2>>::new();
        let a = t.insert(1).unwrap();
        t.insert(2).unwrap();
        assert_eq!(t.next_handle(), None);
        assert_eq!(t.insert(3), Err(TableFull));
        t.remove(a);
        let predicted = t.next_handle().unwrap();
        assert_eq!(t.insert_with(|h| h.generation() as u8 + 10), Ok(predicted));
        assert_eq!(t.get(predicted), Some(&11));
    }

    proptest! {
        /// Against a model: a list of (handle, value) for live sessions and the set of handles
        /// ever issued.
        #[test]
        fn behaves_like_a_map_of_issued_handles(ops in proptest::collection::vec((0u8..3, 0usize..16), 0..300)) {
            let mut t = SessionTable::<u32, Fixed<8>>::new();
            let mut live: Vec<(SessionHandle, u32)> = Vec::new();
            let mut issued: Vec<SessionHandle> = Vec::new();
            for (n, (op, pick)) in ops.into_iter().enumerate() {
                match op {
                    0 => match t.insert(n as u32) {
                        Ok(h) => {
                            prop_assert!(!issued.contains(&h), "handle {h:?} issued twice");
                            issued.push(h);
                            live.push((h, n as u32));
                        }
                        Err(TableFull) => prop_assert_eq!(live.len(), 8),
                    },
                    1 if !live.is_empty() => {
                        let (h, v) = live.remove(pick % live.len());
                        prop_assert_eq!(t.remove(h), Some(v));
                    }
                    _ => {
                        if let Some(h) = issued.get(pick % issued.len().max(1)) {
                            let want = live.iter().find(|(l, _)| l == h).map(|(_, v)| v);
                            prop_assert_eq!(t.get(*h), want);
                        }
                    }
                }
                prop_assert_eq!(t.len(), live.len());
                let mut seen: Vec<(SessionHandle, u32)> = t.iter().map(|(h, v)| (h, *v)).collect();
                let mut want = live.clone();
                seen.sort();
                want.sort();
                prop_assert_eq!(seen, want);
            }
        }
    }
}
