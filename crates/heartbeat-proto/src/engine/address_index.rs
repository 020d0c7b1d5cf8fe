//! Peer address → session slots: a chained hash index over the slots of a
//! [`SessionTable`](super::SessionTable), O(1) expected per lookup, with a keyed hash so that
//! chain lengths cannot be chosen from the wire.
//!
//! Profiles use it to find a session from a datagram's source when the datagram does not name
//! one (BFD: Your Discriminator 0), without comparing every session.

use core::net::IpAddr;

use super::sessions::TableFull;
use crate::storage::{Buffer, Storage};

/// End of a chain, or an empty bucket.
const NIL: u32 = u32::MAX;
const MIN_BUCKETS: usize = 8;

pub(crate) struct AddressIndex<S: Storage> {
    /// The first slot of each bucket's chain.
    buckets: S::Vec<u32>,
    /// Per slot: the next slot in its chain.
    next: S::Vec<u32>,
    /// Per slot: its address, if indexed.
    addrs: S::Vec<Option<IpAddr>>,
    len: usize,
    key: u64,
}

impl<S: Storage> AddressIndex<S> {
    pub(crate) fn new(key: u64) -> Self {
        AddressIndex { buckets: Default::default(), next: Default::default(), addrs: Default::default(), len: 0, key }
    }

    /// Files `slot` under `addr` (replacing what it was filed under).
    pub(crate) fn insert(&mut self, slot: usize, addr: IpAddr) -> Result<(), TableFull> {
        self.remove(slot);
        while self.addrs.len() <= slot {
            self.addrs.try_push(None).map_err(|_| TableFull)?;
            if self.next.try_push(NIL).is_err() {
                self.addrs.pop_last();
                return Err(TableFull);
            }
        }
        if self.len >= self.buckets.len() {
            self.grow();
            if self.buckets.is_empty() {
                return Err(TableFull);
            }
        }
        self.addrs[slot] = Some(addr);
        self.link(slot, addr);
        self.len += 1;
        Ok(())
    }

    /// Unfiles `slot`, if filed.
    pub(crate) fn remove(&mut self, slot: usize) {
        let Some(addr) = self.addrs.get(slot).copied().flatten() else { return };
        let b = self.bucket(addr);
        let target = slot as u32;
        if self.buckets[b] == target {
            self.buckets[b] = self.next[slot];
        } else {
            let mut cur = self.buckets[b];
            while cur != NIL {
                let c = cur as usize;
                if self.next[c] == target {
                    self.next[c] = self.next[slot];
                    break;
                }
                cur = self.next[c];
            }
        }
        self.next[slot] = NIL;
        self.addrs[slot] = None;
        self.len -= 1;
    }

    /// The slots filed under `addr`.
    pub(crate) fn find(&self, addr: IpAddr) -> impl Iterator<Item = usize> + '_ {
        let mut cur = if self.buckets.is_empty() { NIL } else { self.buckets[self.bucket(addr)] };
        core::iter::from_fn(move || {
            while cur != NIL {
                let c = cur as usize;
                cur = self.next[c];
                if self.addrs[c] == Some(addr) {
                    return Some(c);
                }
            }
            None
        })
    }

    /// Doubles the buckets (as far as the storage allows) and refiles every slot.
    fn grow(&mut self) {
        let want = (self.buckets.len() * 2).max(MIN_BUCKETS).min(self.buckets.max_len());
        if want <= self.buckets.len() {
            return;
        }
        for b in self.buckets.iter_mut() {
            *b = NIL;
        }
        while self.buckets.len() < want {
            if self.buckets.try_push(NIL).is_err() {
                break;
            }
        }
        for slot in 0..self.addrs.len() {
            self.next[slot] = NIL;
            if let Some(addr) = self.addrs[slot] {
                self.link(slot, addr);
            }
        }
    }

    fn link(&mut self, slot: usize, addr: IpAddr) {
        let b = self.bucket(addr);
        self.next[slot] = self.buckets[b];
        self.buckets[b] = slot as u32;
    }

    fn bucket(&self, addr: IpAddr) -> usize {
        let folded = match addr {
            IpAddr::V4(v4) => u64::from(u32::from(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                (bits as u64) ^ ((bits >> 64) as u64).rotate_left(29) ^ 0x6000_0000_0000_0000
            }
        };
        // A keyed multiply-xorshift mix, then multiply-shift range reduction.
        let mut h = (folded ^ self.key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 32;
        ((u128::from(h) * self.buckets.len() as u128) >> 64) as usize
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::storage::{Fixed, Growable};
    use alloc::vec::Vec;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    fn addr(n: u8) -> IpAddr {
        if n.is_multiple_of(2) {
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, n / 4))
        } else {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(n / 4)))
        }
    }

    fn check<S: Storage>(ops: Vec<(bool, usize, u8)>, slots: usize) -> Result<(), TestCaseError> {
        let mut index = AddressIndex::<S>::new(42);
        let mut model: Vec<Option<IpAddr>> = alloc::vec![None; slots];
        for (insert, slot, a) in ops {
            let slot = slot % slots;
            if insert {
                index.insert(slot, addr(a)).unwrap();
                model[slot] = Some(addr(a));
            } else {
                index.remove(slot);
                model[slot] = None;
            }
            for a in 0..32u8 {
                let mut got: Vec<usize> = index.find(addr(a)).collect();
                got.sort_unstable();
                let want: Vec<usize> = (0..slots).filter(|s| model[*s] == Some(addr(a))).collect();
                prop_assert_eq!(got, want);
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn finds_exactly_the_slots_filed_under_an_address(ops in proptest::collection::vec((any::<bool>(), 0usize..64, 0u8..32), 0..200)) {
            check::<Growable>(ops, 64)?;
        }

        #[test]
        fn a_small_fixed_index_works_with_few_buckets(ops in proptest::collection::vec((any::<bool>(), 0usize..3, 0u8..32), 0..100)) {
            check::<Fixed<3>>(ops, 3)?;
        }
    }
}
