//! Where peer tables keep their memory: inline fixed-capacity arrays ([`Fixed`], no allocator)
//! or growable vectors ([`Growable`], feature `alloc`).
//!
//! A state machine is generic over one [`Storage`], which picks the vector type for every
//! per-peer array it keeps (peer records, the id index, the timer heap). The choice changes
//! capacity and memory placement only, never behaviour.

use core::ops::{Deref, DerefMut};

/// A vector a peer table can push to and pop from.
pub trait Buffer<T>: Default + Deref<Target = [T]> + DerefMut {
    /// Appends `value`, or gives it back if the buffer is full.
    fn try_push(&mut self, value: T) -> Result<(), T>;
    /// Removes and returns the last element.
    fn pop_last(&mut self) -> Option<T>;
    /// The most elements this buffer can ever hold.
    fn max_len(&self) -> usize;
}

/// A family of buffers: one memory strategy for every per-peer array of a state machine.
pub trait Storage {
    /// A per-peer array, holding up to one element per peer.
    type Vec<T>: Buffer<T>;
    /// The per-link array of multi-link setups, holding one element per (peer, link) pair.
    type LinkVec<T>: Buffer<T>;
    /// Whether peer timers are filed in a hashed timing wheel (O(1) per filing, worth it for
    /// large tables) or all kept in one binary heap (O(log n), and the least code: small
    /// tables, small firmware). Behaviour is the same either way.
    const TIMER_WHEEL: bool;
}

/// Inline storage for at most `PEERS` peers and `LINK_ROWS` (peer, link) records; no
/// allocator. `LINK_ROWS` only matters when peers are reached over more than one link, and
/// must then be at least `PEERS × links`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fixed<const PEERS: usize, const LINK_ROWS: usize = 0>;

impl<const PEERS: usize, const LINK_ROWS: usize> Storage for Fixed<PEERS, LINK_ROWS> {
    type Vec<T> = heapless::Vec<T, PEERS>;
    type LinkVec<T> = heapless::Vec<T, LINK_ROWS>;
    const TIMER_WHEEL: bool = PEERS > 256;
}

impl<T, const N: usize> Buffer<T> for heapless::Vec<T, N> {
    fn try_push(&mut self, value: T) -> Result<(), T> {
        self.push(value)
    }

    fn pop_last(&mut self) -> Option<T> {
        self.pop()
    }

    fn max_len(&self) -> usize {
        N
    }
}

/// Heap storage that grows as peers are added; the limit is the configured peer cap.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Growable;

#[cfg(feature = "alloc")]
impl Storage for Growable {
    type Vec<T> = alloc::vec::Vec<T>;
    type LinkVec<T> = alloc::vec::Vec<T>;
    const TIMER_WHEEL: bool = true;
}

#[cfg(feature = "alloc")]
impl<T> Buffer<T> for alloc::vec::Vec<T> {
    fn try_push(&mut self, value: T) -> Result<(), T> {
        self.push(value);
        Ok(())
    }

    fn pop_last(&mut self) -> Option<T> {
        self.pop()
    }

    fn max_len(&self) -> usize {
        usize::MAX
    }
}

/// Removes element `index` by moving the last element into its place, as `Vec::swap_remove`.
/// Returns `None` if `index` is out of range.
pub(crate) fn swap_remove<T, B: Buffer<T>>(buf: &mut B, index: usize) -> Option<T> {
    let last = buf.len().checked_sub(1)?;
    if index > last {
        return None;
    }
    buf.swap(index, last);
    buf.pop_last()
}
