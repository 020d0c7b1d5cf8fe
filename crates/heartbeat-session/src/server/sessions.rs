//! The session table: O(1) touch, exact expiry through lazy deadlines, owned resources and the
//! server-pause guard.
//!
//! A touch only records when the session was last heard. Each session has one expiry timer in a
//! [`TimerTable`]; when it fires, the true deadline (last heard + timeout) is computed: if it
//! lies in the future, the timer is filed again at it (it fired early because of touches),
//! otherwise the session expires. So a touch costs O(1), expiry is exact to the first `tick` at
//! or after the deadline, and nothing ever scans the table.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

use heartbeat_proto::engine::{SessionHandle, SessionTable, TimerKind, TimerTable};
use heartbeat_proto::{Growable, Instant};
use rand_chacha::ChaCha12Rng;
use rand_core::{Rng, SeedableRng};

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

/// One session's record.
#[derive(Debug)]
pub(crate) struct Session<R> {
    pub(crate) id: SessionId,
    pub(crate) password: [u8; PASSWORD_LEN],
    pub(crate) timeout: Duration,
    pub(crate) last_heard: Instant,
    pub(crate) connection: Option<ConnectionId>,
    pub(crate) resources: Vec<R>,
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

/// The table and its timers.
pub(crate) struct Sessions<R> {
    table: SessionTable<Session<R>, Growable>,
    timers: TimerTable<Expiry, Growable>,
    by_id: BTreeMap<SessionId, SessionHandle>,
    server_id: u8,
    counter: u64,
    rng: ChaCha12Rng,
    pause_bound: Option<Duration>,
    pause: Option<Pause>,
    pub(crate) resources: u64,
}

impl<R> Sessions<R> {
    pub(crate) fn new(server_id: u8, first_counter: u64, seed: [u8; 32], pause_bound: Option<Duration>) -> Self {
        Sessions {
            table: SessionTable::new(),
            timers: TimerTable::new(),
            by_id: BTreeMap::new(),
            server_id,
            counter: first_counter,
            rng: ChaCha12Rng::from_seed(seed),
            pause_bound,
            pause: None,
            resources: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// The next session id: the server id in the top byte, the counter below (wrapping within
    /// its 56 bits), skipping ids still in use and 0.
    fn next_id(&mut self) -> SessionId {
        loop {
            let low = self.counter & 0x00ff_ffff_ffff_ffff;
            self.counter = self.counter.wrapping_add(1);
            let id = SessionId((u64::from(self.server_id) << 56 | low) as i64);
            if id.0 != 0 && !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    pub(crate) fn create(
        &mut self,
        now: Instant,
        timeout: Duration,
        connection: ConnectionId,
    ) -> Option<(SessionHandle, SessionId, [u8; PASSWORD_LEN])> {
        let handle = self.table.next_handle()?;
        let id = self.next_id();
        let mut password = [0u8; PASSWORD_LEN];
        self.rng.fill_bytes(&mut password);
        self.timers.set(handle, Expiry, now.saturating_add(timeout)).ok()?;
        let session =
            Session { id, password, timeout, last_heard: now, connection: Some(connection), resources: Vec::new() };
        if self.table.insert(session).is_err() {
            self.timers.remove_session(handle);
            return None;
        }
        self.by_id.insert(id, handle);
        Some((handle, id, password))
    }

    pub(crate) fn find(&self, id: SessionId) -> Option<SessionHandle> {
        self.by_id.get(&id).copied()
    }

    pub(crate) fn get(&self, handle: SessionHandle) -> Option<&Session<R>> {
        self.table.get(handle)
    }

    pub(crate) fn get_mut(&mut self, handle: SessionHandle) -> Option<&mut Session<R>> {
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
        s.timeout = timeout;
        let deadline = s.last_heard.saturating_add(timeout);
        if self.timers.get(handle, Expiry).is_none_or(|at| deadline < at) {
            // Replacing a set timer never needs room.
            let _ = self.timers.set(handle, Expiry, deadline);
        }
    }

    /// Removes the session, queueing its resources' releases then `Closed` or `Expired`.
    pub(crate) fn end(
        &mut self,
        handle: SessionHandle,
        now: Instant,
        ending: Ending,
        events: &mut VecDeque<ServerEvent<R>>,
    ) -> Option<Option<ConnectionId>> {
        let s = self.table.remove(handle)?;
        self.timers.remove_session(handle);
        self.by_id.remove(&s.id);
        self.resources -= s.resources.len() as u64;
        for resource in s.resources {
            events.push_back(ServerEvent::Released { session: s.id, resource });
        }
        events.push_back(match ending {
            Ending::Closed => ServerEvent::Closed { session: s.id },
            Ending::Expired => {
                ServerEvent::Expired { session: s.id, silent_for: now.saturating_duration_since(s.last_heard) }
            }
        });
        Some(s.connection)
    }

    /// Expires what is due at `now`; returns (handle, connection) of every expired session
    /// through `expired`, and how many expiries the pause guard deferred.
    pub(crate) fn expire_due(
        &mut self,
        now: Instant,
        events: &mut VecDeque<ServerEvent<R>>,
        mut expired: impl FnMut(Option<ConnectionId>),
        stats: &mut super::ServerStats,
    ) {
        while let Some((handle, _, at)) = self.timers.pop_expired(now) {
            let Some(s) = self.table.get(handle) else { continue };
            let deadline = s.last_heard.saturating_add(s.timeout);
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
