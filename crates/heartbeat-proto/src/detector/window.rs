//! A ring of the `N` most recent samples, stored inline: detectors keep sliding windows of any
//! size without an allocator, inside the peer table.

use core::fmt;

/// The `N` most recent samples, oldest first.
#[derive(Clone)]
pub(crate) struct Ring<T, const N: usize> {
    buf: [T; N],
    /// Index of the oldest sample.
    start: usize,
    len: usize,
}

impl<T: Copy + Default, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        Ring { buf: [T::default(); N], start: 0, len: 0 }
    }
}

impl<T, const N: usize> fmt::Debug for Ring<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ring({}/{N})", self.len)
    }
}

impl<T: Copy, const N: usize> Ring<T, N> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends `value`. When the ring is full, the oldest sample makes room and is returned;
    /// a ring of capacity 0 returns `value` itself.
    pub(crate) fn push(&mut self, value: T) -> Option<T> {
        if N == 0 {
            return Some(value);
        }
        if self.len < N {
            let i = self.index(self.len);
            self.buf[i] = value;
            self.len += 1;
            None
        } else {
            let old = core::mem::replace(&mut self.buf[self.start], value);
            self.start = if self.start + 1 == N { 0 } else { self.start + 1 };
            Some(old)
        }
    }

    /// The `i`-th oldest sample.
    pub(crate) fn get(&self, i: usize) -> Option<T> {
        (i < self.len).then(|| self.buf[self.index(i)])
    }

    pub(crate) fn last(&self) -> Option<T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    fn index(&self, i: usize) -> usize {
        let j = self.start + i;
        if j >= N { j - N } else { j }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_n_in_order() {
        let mut ring = Ring::<u32, 3>::default();
        assert_eq!(ring.get(0), None);
        assert_eq!(ring.push(1), None);
        assert_eq!(ring.push(2), None);
        assert_eq!(ring.push(3), None);
        assert_eq!(ring.push(4), Some(1));
        assert_eq!(ring.push(5), Some(2));
        assert_eq!((ring.get(0), ring.get(1), ring.last(), ring.get(3)), (Some(3), Some(4), Some(5), None));
        assert_eq!(ring.len(), 3);
        let mut empty = Ring::<u32, 0>::default();
        assert_eq!(empty.push(7), Some(7));
        assert_eq!(empty.last(), None);
    }
}
