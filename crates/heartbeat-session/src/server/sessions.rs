//! The session table: O(1) touch, exact expiry through lazy deadlines, owned resources and the
//! server-pause guard.
//!
//! A touch only records when the session was last heard. Each session has one expiry timer in a
//! [`TimerTable`]; when it fires, the true deadline (last heard + timeout) is computed: if it
//! lies in the future, the timer is filed again at it (it fired early because of touches),
//! otherwise the session expires. So a touch costs O(1), expiry is exact to the first `tick` at
//! or after the deadline, and nothing ever scans the table.
//!
//! **What a session stores** is only what cannot be derived: when it was last heard, its
//! timeout and its connection ([`Session`], 24 bytes). Its id is computed from its handle (the
//! slot number and a tag from the slot's generation, see [`Sessions::id_of`]), so finding a
//! session by id is O(1) without an index. Its password is computed too, as ZooKeeper does from
//! the id and a server secret, but with a real keyed PRF: the first 16 bytes of
//! HMAC-SHA256(secret, id ‖ generation). Resources live in a side map keyed by slot, so a
//! session without any pays nothing for them.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::num::NonZeroU32;
use core::time::Duration;

use heartbeat_proto::engine::{SessionHandle, SessionTable, TimerKind, TimerTable};
use heartbeat_proto::{Growable, Instant};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::events::{ConnectionId, ServerEvent, SessionId};
use crate::jute::PASSWORD_LEN;

/// The only timer a session has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiry;

impl TimerKind for Expiry {
    const COUNT: usize = 1;
    fn index(self) -> usize {
        0
    }
    fn from_index(index: usize) -> Option<Self> {
        (index == 0).then_some(Expiry)
    }
}

/// A connection as a session remembers it: its slot plus one (so that `Option` costs nothing)
/// and the slot's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectionRef {
    slot_plus_one: NonZeroU32,
    generation: u32,
}

impl ConnectionRef {
    pub(crate) fn of(connection: ConnectionId) -> Option<Self> {
        let slot = u32::try_from(connection.0.index()).ok()?.checked_add(1)?;
        Some(ConnectionRef { slot_plus_one: NonZeroU32::new(slot)?, generation: connection.0.generation() })
    }

    /// The slot it names.
    pub(crate) fn slot(self) -> usize {
        self.slot_plus_one.get() as usize - 1
    }

    /// Whether `handle` is the connection this names.
    pub(crate) fn is(self, handle: SessionHandle) -> bool {
        handle.index() == self.slot() && handle.generation() == self.generation
    }
}

/// One session's record: 24 bytes.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) last_heard: Instant,
    /// The negotiated timeout in milliseconds (always whole and positive).
    timeout_ms: NonZeroU32,
    pub(crate) connection: Option<ConnectionRef>,
}

impl Session {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.timeout_ms.get()))
    }

    fn deadline(&self) -> Instant {
        self.last_heard.saturating_add(self.timeout())
    }
}

/// A timeout in whole milliseconds, at least 1.
fn timeout_ms(timeout: Duration) -> NonZeroU32 {
    let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    NonZeroU32::new(ms).unwrap_or(NonZeroU32::MIN)
}

/// A detected server pause: expiries due from `started` on are deferred to `grace_until`.
#[derive(Debug, Clone, Copy)]
struct Pause {
    started: Instant,
    grace_until: Instant,
}

/// What a session went away for.
pub(crate) enum Ending {
    Closed,
    Expired,
}

/// The bits of a session id below the server id: a 24-bit tag, then the slot plus one.
const TAG_BITS: u32 = 24;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;

/// The table and its timers.
pub(crate) struct Sessions<R> {
    table: SessionTable<Session, Growable>,
    timers: TimerTable<Expiry, Growable, { Expiry::COUNT }>,
    /// The resources of the sessions that own any, by slot.
    owned: BTreeMap<u32, Vec<R>>,
    server_id: u8,
    /// Added to a slot's generation to make the id's tag.
    tag_base: u64,
    /// HMAC-SHA256 keyed with the server secret, ready to be cloned per password.
    password_key: Hmac<Sha256>,
    pause_bound: Option<Duration>,
    pause: Option<Pause>,
    pub(crate) resources: u64,
}

impl<R> Sessions<R> {
    /// `first_counter`'s bits 32..56 start the id tags; `secret` keys the passwords.
    pub(crate) fn new(server_id: u8, first_counter: u64, secret: &[u8; 32], pause_bound: Option<Duration>) -> Self {
        // HMAC pads a key shorter than the hash's block with zeros: this is that padding.
        let mut block = [0u8; 64];
        block[..secret.len()].copy_from_slice(secret);
        let password_key = <Hmac<Sha256> as KeyInit>::new(&block.into());
        Sessions {
            table: SessionTable::new(),
            timers: TimerTable::new(),
            owned: BTreeMap::new(),
            server_id,
            tag_base: (first_counter >> 32) & TAG_MASK,
            password_key,
            pause_bound,
            pause: None,
            resources: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// A session's id: the server id in the top byte, then a 24-bit tag (the id tag base plus
    /// the slot's generation), then the slot number plus one (so never 0). Two sessions that
    /// held one slot get different ids until the slot is reused 2²⁴ times; even then the
    /// password, which covers the whole generation, tells them apart.
    pub(crate) fn id_of(&self, handle: SessionHandle) -> SessionId {
        let tag = (self.tag_base + u64::from(handle.generation())) & TAG_MASK;
        let slot = handle.index() as u64 + 1;
        SessionId((u64::from(self.server_id) << 56 | tag << 32 | (slot & 0xffff_ffff)) as i64)
    }

    /// The password of the session `handle` names: HMAC-SHA256(secret, id ‖ generation),
    /// cut to 16 bytes.
    pub(crate) fn password_of(&self, handle: SessionHandle) -> [u8; PASSWORD_LEN] {
        let tag = self.keyed(handle).finalize().into_bytes();
        let mut password = [0u8; PASSWORD_LEN];
        password.copy_from_slice(&tag[..PASSWORD_LEN]);
        password
    }

    /// Whether `password` is the session's, compared in constant time.
    pub(crate) fn password_matches(&self, handle: SessionHandle, password: &[u8]) -> bool {
        password.len() == PASSWORD_LEN && self.keyed(handle).verify_truncated_left(password).is_ok()
    }

    fn keyed(&self, handle: SessionHandle) -> Hmac<Sha256> {
        let mut mac = self.password_key.clone();
        mac.update(&self.id_of(handle).0.to_be_bytes());
        mac.update(&handle.generation().to_be_bytes());
        mac
    }

    pub(crate) fn create(
        &mut self,
        now: Instant,
        timeout: Duration,
        connection: ConnectionId,
    ) -> Option<(SessionHandle, SessionId, [u8; PASSWORD_LEN])> {
        let handle = self.table.next_handle()?;
        // The id's slot part must fit 32 bits.
        u32::try_from(handle.index()).ok()?.checked_add(1)?;
        self.timers.set(handle, Expiry, now.saturating_add(timeout)).ok()?;
        let session =
            Session { last_heard: now, timeout_ms: timeout_ms(timeout), connection: ConnectionRef::of(connection) };
        if self.table.insert(session).is_err() {
            self.timers.remove_session(handle);
            return None;
        }
        Some((handle, self.id_of(handle), self.password_of(handle)))
    }

    /// The live session `id` names, in O(1): the slot is in the id, and the id must be the
    /// one its current session has.
    pub(crate) fn find(&self, id: SessionId) -> Option<SessionHandle> {
        let slot = (id.0 as u64 & 0xffff_ffff).checked_sub(1)?;
        let (handle, _) = self.table.get_by_index(usize::try_from(slot).ok()?)?;
        (self.id_of(handle) == id).then_some(handle)
    }

    pub(crate) fn get(&self, handle: SessionHandle) -> Option<&Session> {
        self.table.get(handle)
    }

    pub(crate) fn get_mut(&mut self, handle: SessionHandle) -> Option<&mut Session> {
        self.table.get_mut(handle)
    }

    /// Records traffic from the session: O(1), the timer is not moved.
    pub(crate) fn touch(&mut self, handle: SessionHandle, now: Instant) -> bool {
        match self.table.get_mut(handle) {
            Some(s) => {
                s.last_heard = s.last_heard.max(now);
                true
            }
            None => false,
        }
    }

    /// Changes the timeout (a resume renegotiates it) and files the timer at the new deadline
    /// if that is earlier than the one filed.
    pub(crate) fn set_timeout(&mut self, handle: SessionHandle, timeout: Duration) {
        let Some(s) = self.table.get_mut(handle) else { return };
        s.timeout_ms = timeout_ms(timeout);
        let deadline = s.deadline();
        if self.timers.get(handle, Expiry).is_none_or(|at| deadline < at) {
            // Replacing a set timer never needs room.
            let _ = self.timers.set(handle, Expiry, deadline);
        }
    }

    /// Gives `resource` to the session, or gives it back if the handle is stale.
    pub(crate) fn attach(&mut self, handle: SessionHandle, resource: R) -> Result<(), R> {
        if !self.table.contains(handle) {
            return Err(resource);
        }
        self.owned.entry(handle.index() as u32).or_default().push(resource);
        self.resources += 1;
        Ok(())
    }

    /// The session's resources, in the order attached.
    pub(crate) fn resources_of(&self, handle: SessionHandle) -> Option<&[R]> {
        self.table.get(handle)?;
        Some(self.owned.get(&(handle.index() as u32)).map_or(&[][..], Vec::as_slice))
    }

    /// Takes back the first resource that `matches`.
    pub(crate) fn detach(&mut self, handle: SessionHandle, matches: impl Fn(&R) -> bool) -> Option<R> {
        self.table.get(handle)?;
        let slot = handle.index() as u32;
        let owned = self.owned.get_mut(&slot)?;
        let resource = owned.remove(owned.iter().position(matches)?);
        if owned.is_empty() {
            self.owned.remove(&slot);
        }
        self.resources -= 1;
        Some(resource)
    }

    /// Removes the session, queueing its resources' releases then `Closed` or `Expired`.
    pub(crate) fn end(
        &mut self,
        handle: SessionHandle,
        now: Instant,
        ending: Ending,
        events: &mut VecDeque<ServerEvent<R>>,
    ) -> Option<Option<ConnectionRef>> {
        let id = self.id_of(handle);
        let s = self.table.remove(handle)?;
        self.timers.remove_session(handle);
        let owned = self.owned.remove(&(handle.index() as u32)).unwrap_or_default();
        self.resources -= owned.len() as u64;
        for resource in owned {
            events.push_back(ServerEvent::Released { session: id, resource });
        }
        events.push_back(match ending {
            Ending::Closed => ServerEvent::Closed { session: id },
            Ending::Expired => {
                ServerEvent::Expired { session: id, silent_for: now.saturating_duration_since(s.last_heard) }
            }
        });
        Some(s.connection)
    }

    /// Expires what is due at `now`; hands the connection of every expired session to
    /// `expired`, and counts what the pause guard deferred.
    pub(crate) fn expire_due(
        &mut self,
        now: Instant,
        events: &mut VecDeque<ServerEvent<R>>,
        mut expired: impl FnMut(Option<ConnectionRef>),
        stats: &mut super::ServerStats,
    ) {
        while let Some((handle, _, at)) = self.timers.pop_expired(now) {
            let Some(s) = self.table.get(handle) else { continue };
            let deadline = s.deadline();
            if deadline > now {
                // Touched since the timer was filed: file it at the true deadline.
                let _ = self.timers.set(handle, Expiry, deadline);
                continue;
            }
            if let Some(until) = self.pause_grace(at, deadline, now, stats) {
                stats.held_by_pause += 1;
                let _ = self.timers.set(handle, Expiry, until);
                continue;
            }
            if let Some(connection) = self.end(handle, now, Ending::Expired, events) {
                stats.expired += 1;
                expired(connection);
            }
        }
    }

    /// The pause guard. A timer that fires more than the bound after it was due says the
    /// server was not called for that long: a pause from `at` on. A session whose deadline
    /// fell at or after the pause's start owes its silence (partly) to it and gets until one
    /// bound after the pause ended.
    fn pause_grace(
        &mut self,
        at: Instant,
        deadline: Instant,
        now: Instant,
        stats: &mut super::ServerStats,
    ) -> Option<Instant> {
        let bound = self.pause_bound?;
        if now.saturating_duration_since(at) > bound {
            match self.pause {
                Some(p) if p.grace_until == now.saturating_add(bound) => {
                    self.pause = Some(Pause { started: p.started.min(at), ..p });
                }
                _ => {
                    stats.pauses += 1;
                    self.pause = Some(Pause { started: at, grace_until: now.saturating_add(bound) });
                }
            }
        }
        let p = self.pause?;
        (now < p.grace_until && deadline >= p.started).then_some(p.grace_until)
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heartbeat_proto::Fixed;
    use heartbeat_proto::engine::SessionTable;

    /// The bytes one slot of a `SessionTable<T, _>` takes: the growth of a fixed table by one.
    fn slot_bytes<T>() -> usize {
        core::mem::size_of::<SessionTable<T, Fixed<2>>>() - core::mem::size_of::<SessionTable<T, Fixed<1>>>()
    }

    /// The per-session state, so that a regression fails here: a 24-byte record in a 32-byte
    /// table slot, a 16-byte timer row and a 4-byte heap entry, 52 bytes before the tables'
    /// growth slack (the goal: at most 64).
    #[test]
    fn a_session_costs_at_most_52_bytes() {
        assert_eq!(core::mem::size_of::<Session>(), 24);
        assert_eq!(core::mem::size_of::<Option<ConnectionRef>>(), 8);
        let slot = slot_bytes::<Session>();
        let row = TimerTable::<Expiry, Growable, { Expiry::COUNT }>::ROW_BYTES;
        assert_eq!((slot, row), (32, 16));
        assert!(slot + row + core::mem::size_of::<u32>() <= 52);
    }

    fn handle_in(sessions: &mut Sessions<()>, n: usize) -> Vec<SessionHandle> {
        (0..n).map(|_| sessions.create(Instant::ZERO, Duration::from_secs(1), dummy()).unwrap().0).collect()
    }

    fn dummy() -> ConnectionId {
        let mut t = SessionTable::<(), Growable>::new();
        ConnectionId(t.insert(()).unwrap())
    }

    #[test]
    fn ids_name_their_slot_and_passwords_are_keyed_per_generation() {
        let mut s = Sessions::<()>::new(9, 5 << 32, &[7; 32], None);
        let h = handle_in(&mut s, 2);
        assert_eq!(s.id_of(h[0]).0 as u64, 9 << 56 | 5 << 32 | 1);
        assert_eq!(s.find(s.id_of(h[1])), Some(h[1]));
        let (id0, pw0) = (s.id_of(h[0]), s.password_of(h[0]));
        assert!(s.password_matches(h[0], &pw0));
        assert!(!s.password_matches(h[1], &pw0));
        assert!(!s.password_matches(h[0], &pw0[..15]));
        // The slot's next session has another id and another password.
        s.end(h[0], Instant::ZERO, Ending::Closed, &mut VecDeque::new());
        assert_eq!(s.find(id0), None);
        let h2 = handle_in(&mut s, 1)[0];
        assert_eq!(h2.index(), h[0].index());
        assert_ne!(s.id_of(h2), id0);
        assert_eq!(s.find(id0), None);
        assert_ne!(s.password_of(h2), pw0);
        // Another secret, other passwords.
        let other = Sessions::<()>::new(9, 5 << 32, &[8; 32], None);
        assert_ne!(other.password_of(h[1]), s.password_of(h[1]));
    }
}
