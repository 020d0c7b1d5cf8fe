//! Per-session timers of a few kinds, with exact deadlines and O(log n) filing: [`TimerTable`].

use core::marker::PhantomData;

use super::sessions::{SessionHandle, TableFull};
use crate::storage::{Buffer, Storage};
use crate::time::Instant;

/// The default room of a [`TimerTable`] row: how many kinds it holds when its `N` is not given.
pub const MAX_TIMER_KINDS: usize = 8;

/// A small set of timer kinds, numbered densely from 0, e.g. a fieldless enum:
///
/// ```
/// use heartbeat_proto::engine::TimerKind;
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// enum Kind { Retransmit, Idle }
///
/// impl TimerKind for Kind {
///     const COUNT: usize = 2;
///     fn index(self) -> usize { self as usize }
///     fn from_index(index: usize) -> Option<Self> {
///         [Kind::Retransmit, Kind::Idle].get(index).copied()
///     }
/// }
/// ```
pub trait TimerKind: Copy + Eq + core::fmt::Debug {
    /// How many kinds there are: at most the `N` of the [`TimerTable`] that files them.
    const COUNT: usize;
    /// This kind's number, below [`COUNT`](Self::COUNT).
    fn index(self) -> usize;
    /// The kind numbered `index`, for every `index` below [`COUNT`](Self::COUNT).
    fn from_index(index: usize) -> Option<Self>;
}

/// Marks a row that is not in the heap.
const NOT_QUEUED: u32 = u32::MAX;

/// Marks a timer that is not set. A deadline at [`Instant::MAX`] is never reached by a real
/// clock, so setting one is the same as stopping the timer.
const UNSET: Instant = Instant::MAX;

/// One session's timers: `8 + 8 × N` bytes.
#[derive(Debug, Clone, Copy)]
struct Row<const N: usize> {
    /// The generation of the session the deadlines belong to.
    generation: u32,
    /// Its index in the heap, or `NOT_QUEUED`.
    position: u32,
    /// Per kind, the deadline or `UNSET`.
    deadlines: [Instant; N],
}

impl<const N: usize> Row<N> {
    const EMPTY: Self = Row { generation: 0, position: NOT_QUEUED, deadlines: [UNSET; N] };

    /// The earliest deadline (`UNSET` if none): the row's heap key, computed rather than
    /// cached since `N` is a handful.
    fn earliest(&self) -> Instant {
        self.deadlines.iter().copied().min().unwrap_or(UNSET)
    }
}

/// Deadlines keyed by (session, timer kind).
///
/// It holds, for every session of a [`SessionTable`](super::SessionTable), one
/// optional deadline per timer kind `K` (BFD: transmit, detection, sequence-window reset). The
/// sessions form an indexed binary min-heap keyed by their own earliest deadline, so:
///
/// - [`set`](Self::set), [`stop`](Self::stop) and
///   [`pop_expired`](Self::pop_expired) cost O(N + log n);
/// - [`next_timeout`](Self::next_timeout) costs O(N) and [`get`](Self::get) O(1);
/// - deadlines are kept exactly as given (no bucket rounding), and nothing scans all sessions.
///
/// **Footprint.** `N` is how many deadlines a row has room for: give it `K::COUNT`
/// (`TimerTable<Kind, S, { Kind::COUNT }>`), then a session costs [`ROW_BYTES`](Self::ROW_BYTES)
/// `= 8 + 8 × K::COUNT` bytes in the rows plus 4 in the heap. `N` defaults to
/// [`MAX_TIMER_KINDS`] so that older code keeps compiling, at 72 bytes a row; a `K` with more
/// kinds than `N` is a compile-time error. A deadline at [`Instant::MAX`] never fires: setting
/// it is the same as [`stop`](Self::stop).
///
/// The heap holds at most one entry per session, so a table over `Fixed<N>` storage needs no
/// more room than the session table it serves. Expired timers come out earliest first; ties
/// go to the lower session index, then to the lower kind index, so a run is deterministic.
pub struct TimerTable<K: TimerKind, S: Storage, const N: usize = MAX_TIMER_KINDS> {
    rows: S::Vec<Row<N>>,
    /// Row numbers, a binary min-heap by (earliest, row number).
    heap: S::Vec<u32>,
    kind: PhantomData<K>,
}

impl<K: TimerKind, S: Storage, const N: usize> Default for TimerTable<K, S, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: TimerKind, S: Storage, const N: usize> TimerTable<K, S, N> {
    /// The bytes one session's row takes (the heap adds 4 per session with a timer set).
    pub const ROW_BYTES: usize = core::mem::size_of::<Row<N>>();

    /// An empty table.
    pub fn new() -> Self {
        const { assert!(K::COUNT <= N, "a TimerTable's N must be at least its kind's COUNT") };
        TimerTable { rows: Default::default(), heap: Default::default(), kind: PhantomData }
    }

    /// Sets `handle`'s timer `kind` to fire at `at`, replacing any earlier setting. A handle of
    /// a newer session in a reused slot first clears what the old one left behind. Fails only
    /// if the storage has no room for the slot.
    pub fn set(&mut self, handle: SessionHandle, kind: K, at: Instant) -> Result<(), TableFull> {
        let r = handle.index();
        while self.rows.len() <= r {
            self.rows.try_push(Row::EMPTY).map_err(|_| TableFull)?;
        }
        let row = &mut self.rows[r];
        // The heap holds the row at its earliest deadline, even one a stale session left.
        let old = row.earliest();
        if row.generation != handle.generation() {
            row.generation = handle.generation();
            row.deadlines = [UNSET; N];
        }
        row.deadlines[kind.index()] = at;
        self.refile(r, old)
    }

    /// Sets or stops the timer: [`set`](Self::set) for `Some`, [`stop`](Self::stop) for `None`.
    pub fn set_opt(&mut self, handle: SessionHandle, kind: K, at: Option<Instant>) -> Result<(), TableFull> {
        match at {
            Some(at) => self.set(handle, kind, at),
            None => {
                self.stop(handle, kind);
                Ok(())
            }
        }
    }

    /// Stops `handle`'s timer `kind`, if set.
    pub fn stop(&mut self, handle: SessionHandle, kind: K) {
        let r = handle.index();
        if let Some(row) = self.rows.get_mut(r).filter(|row| row.generation == handle.generation()) {
            let old = row.earliest();
            row.deadlines[kind.index()] = UNSET;
            // Stopping frees heap room, so refiling cannot fail.
            let _ = self.refile(r, old);
        }
    }

    /// When `handle`'s timer `kind` fires, if set.
    pub fn get(&self, handle: SessionHandle, kind: K) -> Option<Instant> {
        let row = self.rows.get(handle.index()).filter(|row| row.generation == handle.generation())?;
        Some(row.deadlines[kind.index()]).filter(|at| *at != UNSET)
    }

    /// Stops every timer of `handle`.
    pub fn remove_session(&mut self, handle: SessionHandle) {
        let r = handle.index();
        if let Some(row) = self.rows.get_mut(r).filter(|row| row.generation == handle.generation()) {
            let old = row.earliest();
            row.deadlines = [UNSET; N];
            let _ = self.refile(r, old);
        }
    }

    /// The earliest deadline of all.
    pub fn next_timeout(&self) -> Option<Instant> {
        let &top = self.heap.first()?;
        Some(self.rows[top as usize].earliest())
    }

    /// Takes out the earliest timer if it is due at `now` (deadline at or before `now`): its
    /// session, kind and deadline. Call until `None` to fire everything due.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(SessionHandle, K, Instant)> {
        let &top = self.heap.first()?;
        let r = top as usize;
        let row = &mut self.rows[r];
        let at = row.earliest();
        if at > now {
            return None;
        }
        let k = row.deadlines.iter().position(|d| *d == at)?;
        row.deadlines[k] = UNSET;
        let handle = SessionHandle::new(r as u32, row.generation);
        let _ = self.refile(r, at);
        Some((handle, K::from_index(k)?, at))
    }

    /// How many sessions have at least one timer set.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no timer is set.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Moves row `r`, whose earliest deadline was `old`, in, within or out of the heap.
    fn refile(&mut self, r: usize, old: Instant) -> Result<(), TableFull> {
        let row = &mut self.rows[r];
        let new = row.earliest();
        let position = row.position;
        match (position == NOT_QUEUED, new != UNSET) {
            (true, false) => {}
            (true, true) => {
                let end = self.heap.len();
                if self.heap.try_push(r as u32).is_err() {
                    self.rows[r].deadlines = [UNSET; N];
                    return Err(TableFull);
                }
                self.rows[r].position = end as u32;
                self.sift_up(end);
            }
            (false, false) => {
                let p = position as usize;
                let last = self.heap.len() - 1;
                self.swap(p, last);
                self.heap.pop_last();
                self.rows[r].position = NOT_QUEUED;
                if p < self.heap.len() {
                    self.sift_down(p);
                    self.sift_up(p);
                }
            }
            (false, true) if new < old => self.sift_up(position as usize),
            (false, true) => self.sift_down(position as usize),
        }
        Ok(())
    }

    /// The heap key of heap entry `i`.
    fn key(&self, i: usize) -> (Instant, u32) {
        let r = self.heap[i];
        (self.rows[r as usize].earliest(), r)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        let (ra, rb) = (self.heap[a] as usize, self.heap[b] as usize);
        self.rows[ra].position = a as u32;
        self.rows[rb].position = b as u32;
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.key(i) >= self.key(parent) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut smallest = i;
            if l < len && self.key(l) < self.key(smallest) {
                smallest = l;
            }
            if r < len && self.key(r) < self.key(smallest) {
                smallest = r;
            }
            if smallest == i {
                break;
            }
            self.swap(i, smallest);
            i = smallest;
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use crate::storage::{Fixed, Growable};
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        A,
        B,
        C,
    }

    impl TimerKind for Kind {
        const COUNT: usize = 3;
        fn index(self) -> usize {
            self as usize
        }
        fn from_index(index: usize) -> Option<Self> {
            [Kind::A, Kind::B, Kind::C].get(index).copied()
        }
    }

    fn h(index: u32, generation: u32) -> SessionHandle {
        SessionHandle::new(index, generation)
    }

    #[test]
    fn fires_earliest_first_at_exact_deadlines() {
        let mut t = TimerTable::<Kind, Growable, { Kind::COUNT }>::new();
        t.set(h(3, 0), Kind::B, Instant::from_nanos(1_000_000_007)).unwrap();
        t.set(h(0, 0), Kind::A, Instant::from_nanos(5)).unwrap();
        t.set(h(0, 0), Kind::C, Instant::from_nanos(2)).unwrap();
        assert_eq!(t.next_timeout(), Some(Instant::from_nanos(2)));
        assert_eq!(t.pop_expired(Instant::from_nanos(1)), None);
        assert_eq!(t.pop_expired(Instant::from_nanos(5)), Some((h(0, 0), Kind::C, Instant::from_nanos(2))));
        assert_eq!(t.pop_expired(Instant::from_nanos(5)), Some((h(0, 0), Kind::A, Instant::from_nanos(5))));
        assert_eq!(t.pop_expired(Instant::from_nanos(5)), None);
        assert_eq!(t.next_timeout(), Some(Instant::from_nanos(1_000_000_007)));
    }

    #[test]
    fn a_stale_handle_neither_reads_nor_stops_the_new_sessions_timers() {
        let mut t = TimerTable::<Kind, Fixed<2>>::new();
        t.set(h(1, 0), Kind::A, Instant::from_secs(1)).unwrap();
        // Slot 1 now belongs to generation 1: the old timers are gone.
        t.set(h(1, 1), Kind::B, Instant::from_secs(2)).unwrap();
        assert_eq!(t.get(h(1, 0), Kind::A), None);
        assert_eq!(t.get(h(1, 1), Kind::A), None);
        t.stop(h(1, 0), Kind::B);
        t.remove_session(h(1, 0));
        assert_eq!(t.get(h(1, 1), Kind::B), Some(Instant::from_secs(2)));
        assert_eq!(t.set(h(2, 0), Kind::A, Instant::ZERO), Err(TableFull), "beyond the fixed capacity");
        t.remove_session(h(1, 1));
        assert!(t.is_empty());
    }

    #[test]
    fn a_row_is_sized_by_its_kind_count() {
        assert_eq!(TimerTable::<Kind, Growable, { Kind::COUNT }>::ROW_BYTES, 8 + 8 * 3);
        assert_eq!(TimerTable::<Kind, Growable>::ROW_BYTES, 8 + 8 * MAX_TIMER_KINDS);
    }

    #[test]
    fn a_deadline_at_the_end_of_time_is_a_stop() {
        let mut t = TimerTable::<Kind, Growable, { Kind::COUNT }>::new();
        t.set(h(0, 0), Kind::A, Instant::from_secs(1)).unwrap();
        t.set(h(0, 0), Kind::A, Instant::MAX).unwrap();
        assert_eq!(t.get(h(0, 0), Kind::A), None);
        assert!(t.is_empty());
        assert_eq!(t.pop_expired(Instant::MAX), None);
    }

    #[test]
    fn a_newer_session_refiles_a_row_a_stale_one_left_queued() {
        let mut t = TimerTable::<Kind, Growable, { Kind::COUNT }>::new();
        t.set(h(0, 0), Kind::A, Instant::from_secs(1)).unwrap();
        t.set(h(1, 0), Kind::A, Instant::from_secs(2)).unwrap();
        // Slot 0 is taken by generation 1 without the old timers being removed.
        t.set(h(0, 1), Kind::B, Instant::from_secs(3)).unwrap();
        assert_eq!(t.next_timeout(), Some(Instant::from_secs(2)));
        assert_eq!(t.pop_expired(Instant::from_secs(5)).map(|(hd, ..)| hd), Some(h(1, 0)));
        assert_eq!(t.pop_expired(Instant::from_secs(5)), Some((h(0, 1), Kind::B, Instant::from_secs(3))));
    }

    proptest! {
        /// Against a model: a sorted map from (deadline, slot, kind) and the generation each
        /// slot is at.
        #[test]
        fn behaves_like_a_sorted_map(ops in proptest::collection::vec((0u8..5, 0u32..6, 0usize..3, 0u64..40), 0..300)) {
            let mut t = TimerTable::<Kind, Fixed<6>, { Kind::COUNT }>::new();
            let mut model: BTreeMap<(u32, usize), u64> = BTreeMap::new();
            let mut generations = [0u32; 6];
            let mut now = 0u64;
            for (op, slot, kind, at) in ops {
                let handle = h(slot, generations[slot as usize]);
                let k = Kind::from_index(kind).unwrap();
                match op {
                    0 | 1 => {
                        t.set(handle, k, Instant::from_nanos(at)).unwrap();
                        model.insert((slot, kind), at);
                    }
                    2 => {
                        t.stop(handle, k);
                        model.remove(&(slot, kind));
                    }
                    3 => {
                        // The slot is reused by a new session: the old handle goes stale.
                        t.remove_session(handle);
                        model.retain(|(s, _), _| *s != slot);
                        generations[slot as usize] += 1;
                        prop_assert_eq!(t.get(handle, k), None);
                    }
                    _ => {
                        now += at;
                        let mut want: Vec<(u64, u32, usize)> =
                            model.iter().map(|((s, k), a)| (*a, *s, *k)).filter(|(a, _, _)| *a <= now).collect();
                        want.sort();
                        let mut got = Vec::new();
                        while let Some((hd, k, a)) = t.pop_expired(Instant::from_nanos(now)) {
                            prop_assert_eq!(hd.generation(), generations[hd.index()]);
                            got.push((a.as_nanos(), hd.index() as u32, k.index()));
                        }
                        prop_assert_eq!(got, want);
                        model.retain(|_, a| *a > now);
                    }
                }
                prop_assert_eq!(t.next_timeout().map(Instant::as_nanos), model.values().min().copied());
                for ((s, k), a) in &model {
                    let hd = h(*s, generations[*s as usize]);
                    prop_assert_eq!(t.get(hd, Kind::from_index(*k).unwrap()), Some(Instant::from_nanos(*a)));
                }
            }
        }
    }
}
