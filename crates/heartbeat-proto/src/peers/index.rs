//! Node id → slot lookup: a chained hash index over dense slots, O(1) expected per lookup,
//! with a keyed hash so that chain lengths cannot be chosen from the wire.

use crate::storage::{Buffer, Storage, swap_remove};
use crate::wire::NodeId;

const NONE: u32 = u32::MAX;
const MIN_BUCKETS: usize = 8;

pub(crate) struct PeerIndex<S: Storage> {
    /// The id of each slot.
    ids: S::Vec<NodeId>,
    /// The next slot in the same bucket's chain.
    next: S::Vec<u32>,
    /// The first slot of each bucket's chain.
    buckets: S::Vec<u32>,
    hash_key: u64,
}

/// The index is at its storage's capacity.
#[derive(Debug)]
pub(crate) struct Full;

impl<S: Storage> PeerIndex<S> {
    pub(crate) fn new(hash_key: u64) -> Self {
        PeerIndex { ids: Default::default(), next: Default::default(), buckets: Default::default(), hash_key }
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn id(&self, slot: usize) -> Option<NodeId> {
        self.ids.get(slot).copied()
    }

    pub(crate) fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    pub(crate) fn find(&self, id: NodeId) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut slot = self.buckets[self.bucket_of(id)];
        while slot != NONE {
            let s = slot as usize;
            if self.ids[s] == id {
                return Some(s);
            }
            slot = self.next[s];
        }
        None
    }

    /// Appends `id` as the new last slot. The caller checked it is absent.
    pub(crate) fn push(&mut self, id: NodeId) -> Result<usize, Full> {
        let slot = self.ids.len();
        if slot >= self.ids.max_len() || slot >= NONE as usize {
            return Err(Full);
        }
        if self.buckets.len() <= slot {
            // Keep the load factor at most 1: rehash the existing slots into more buckets.
            self.grow_buckets();
            if self.buckets.is_empty() {
                return Err(Full);
            }
        }
        self.ids.try_push(id).map_err(|_| Full)?;
        if self.next.try_push(NONE).is_err() {
            self.ids.pop_last();
            return Err(Full);
        }
        self.link(slot);
        Ok(slot)
    }

    /// Removes `slot`; the last slot takes its number.
    pub(crate) fn swap_remove(&mut self, slot: usize) {
        let Some(last) = self.ids.len().checked_sub(1) else { return };
        if slot > last {
            return;
        }
        self.unlink(slot);
        if slot != last {
            self.unlink(last);
        }
        swap_remove(&mut self.ids, slot);
        swap_remove(&mut self.next, slot);
        if slot != last {
            self.link(slot);
        }
    }

    fn bucket_of(&self, id: NodeId) -> usize {
        // A keyed multiply-xorshift mix, then Lemire's multiply-shift range reduction.
        let mut h = (id.get() ^ self.hash_key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 32;
        ((u128::from(h) * self.buckets.len() as u128) >> 64) as usize
    }

    fn link(&mut self, slot: usize) {
        let b = self.bucket_of(self.ids[slot]);
        self.next[slot] = self.buckets[b];
        self.buckets[b] = slot as u32;
    }

    fn unlink(&mut self, slot: usize) {
        let b = self.bucket_of(self.ids[slot]);
        let target = slot as u32;
        if self.buckets[b] == target {
            self.buckets[b] = self.next[slot];
            return;
        }
        let mut cur = self.buckets[b];
        while cur != NONE {
            let c = cur as usize;
            if self.next[c] == target {
                self.next[c] = self.next[slot];
                return;
            }
            cur = self.next[c];
        }
    }

    /// Doubles the bucket array (as far as the storage allows) and rebuilds every chain.
    fn grow_buckets(&mut self) {
        let wanted = (self.buckets.len() * 2).max(MIN_BUCKETS).min(self.buckets.max_len());
        while self.buckets.len() < wanted && self.buckets.try_push(NONE).is_ok() {}
        self.buckets.fill(NONE);
        for slot in 0..self.ids.len() {
            self.link(slot);
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::storage::{Fixed, Growable};
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn id(n: u64) -> NodeId {
        NodeId::new(n).unwrap()
    }

    #[test]
    fn fixed_capacity_rejects_the_extra_peer() {
        let mut index = PeerIndex::<Fixed<3>>::new(7);
        for n in 1..=3 {
            index.push(id(n)).unwrap();
        }
        assert!(index.push(id(4)).is_err());
        assert_eq!(index.len(), 3);
        for n in 1..=3 {
            assert_eq!(index.find(id(n)), Some(n as usize - 1));
        }
        assert_eq!(index.find(id(4)), None);
    }

    proptest! {
        #[test]
        fn agrees_with_a_linear_search(ops in proptest::collection::vec((1u64..40, any::<bool>()), 0..300), key in any::<u64>()) {
            let mut index = PeerIndex::<Growable>::new(key);
            let mut model: Vec<NodeId> = Vec::new();
            for (n, insert) in ops {
                let node = id(n);
                match (insert, model.iter().position(|m| *m == node)) {
                    (true, None) => { index.push(node).unwrap(); model.push(node); }
                    (false, Some(slot)) => { index.swap_remove(slot); model.swap_remove(slot); }
                    _ => {}
                }
                for n in 1u64..40 {
                    prop_assert_eq!(index.find(id(n)), model.iter().position(|m| *m == id(n)));
                }
            }
        }
    }
}
