//! The blocking wait for any profile: a [`DriverCore`] plus `poll(2)` on its sockets and, on
//! Linux, a `timerfd` armed for the machine's next deadline.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use heartbeat_proto::Instant;
use heartbeat_proto::engine::Machine;
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::driver_core::{DriverCore, LinkSockets, Sockets};
use crate::io_stats::Direction;
#[cfg(target_os = "linux")]
use crate::precise::PreciseTimer;

/// A socket set `poll(2)` can wait on: receive socket `i` has a file descriptor.
pub trait PollSockets {
    /// The file descriptor of receive socket `i` (`i` below the set's `len`).
    fn fd(&self, i: usize) -> BorrowedFd<'_>;
}

impl<T: AsFd> PollSockets for LinkSockets<T> {
    fn fd(&self, i: usize) -> BorrowedFd<'_> {
        self.0[i].as_fd()
    }
}

/// Drives any [`Machine`] on the calling thread: the shared [`DriverCore`] and a wait on its
/// sockets, the precise timer and, for a thread's command queue, one more descriptor.
///
/// The loop keeps the sans-IO rules: send every datagram and deliver every event after each
/// input, wait for a datagram or the machine's deadline, then always `tick` with the clock's
/// now.
pub struct BlockingDriver<M, K> {
    core: DriverCore<M, K>,
    /// Wakes the wait at the machine's deadline; `armed` is the deadline it is set for.
    #[cfg(target_os = "linux")]
    timer: Option<PreciseTimer>,
    #[cfg(target_os = "linux")]
    armed: Option<Instant>,
}

impl<M: Machine, K: Sockets<M::Transmit> + PollSockets> BlockingDriver<M, K> {
    /// Waits for `core`'s sockets and deadlines. Without a `timerfd` (or off Linux) the
    /// deadline rides on `poll`'s own timeout.
    pub fn new(core: DriverCore<M, K>) -> Self {
        BlockingDriver {
            core,
            #[cfg(target_os = "linux")]
            timer: PreciseTimer::new().ok(),
            #[cfg(target_os = "linux")]
            armed: None,
        }
    }

    /// The core.
    pub fn core(&self) -> &DriverCore<M, K> {
        &self.core
    }

    /// The core, to command its machine or open sockets.
    pub fn core_mut(&mut self) -> &mut DriverCore<M, K> {
        &mut self.core
    }

    /// One turn of the loop: send what is due, deliver events, wait for a datagram or the
    /// machine's next deadline (at most `max_wait`), feed what arrived, then always `tick`.
    pub fn turn(&mut self, max_wait: Option<Duration>, on_event: &mut impl FnMut(M::Event)) {
        self.turn_with(max_wait, None, on_event);
    }

    /// Turns until `stop` returns true (it is asked once per turn).
    pub fn run(&mut self, on_event: &mut impl FnMut(M::Event), mut stop: impl FnMut() -> bool) {
        while !stop() {
            self.turn(None, on_event);
        }
    }

    /// Turns until `linger` has passed on the clock.
    pub fn linger(&mut self, linger: Duration, on_event: &mut impl FnMut(M::Event)) {
        let clock = self.core.clock();
        let end = clock.now() + linger;
        self.core.flush(on_event);
        loop {
            let left = end.saturating_duration_since(clock.now());
            if left.is_zero() {
                break;
            }
            self.turn(Some(left), on_event);
        }
    }

    /// A turn that also waits for `extra` to become readable; returns whether it did.
    pub fn turn_with(
        &mut self,
        max_wait: Option<Duration>,
        extra: Option<BorrowedFd<'_>>,
        on_event: &mut impl FnMut(M::Event),
    ) -> bool {
        self.core.flush(on_event);
        let deadline = self.core.deadline();
        let clock = self.core.clock();
        let until_deadline = self.arm(deadline).then(|| deadline.map(|d| clock.until(d))).flatten();
        let wait = match (until_deadline, max_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let (ready, extra_ready) = self.wait(wait, extra);
        // Everything already queued is read (bounded) before time passes: a peer whose datagrams
        // arrived in time is not judged on a socket this loop had not emptied yet.
        for (i, ready) in ready.into_iter().enumerate() {
            if ready {
                self.core.drain(i, on_event);
            }
        }
        self.core.tick();
        self.core.flush(on_event);
        extra_ready
    }

    /// Sets the precise timer for `deadline` if it is not set for it already. Returns whether
    /// the wait's own timeout must carry the deadline (no timer).
    fn arm(&mut self, deadline: Option<Instant>) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(timer) = &self.timer {
            if deadline != self.armed {
                if let Some(d) = deadline
                    && let Err(err) = timer.arm(self.core.clock().until(d))
                {
                    self.core.record(Direction::Receive, &err);
                    return true;
                }
                self.armed = deadline;
            }
            return false;
        }
        deadline.is_some()
    }

    /// Blocks until a socket, `extra` or the timer is readable or `timeout` passes. Returns
    /// which receive sockets are readable and whether `extra` is.
    fn wait(&mut self, timeout: Option<Duration>, extra: Option<BorrowedFd<'_>>) -> (Vec<bool>, bool) {
        let sockets = self.core.sockets();
        let n = sockets.len();
        let mut fds: Vec<PollFd<'_>> = (0..n).map(|i| PollFd::from_borrowed_fd(sockets.fd(i), PollFlags::IN)).collect();
        fds.extend(extra.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)));
        #[cfg(target_os = "linux")]
        fds.extend(self.timer.as_ref().map(|t| PollFd::new(t, PollFlags::IN)));
        // Without a timer the deadline rides on ppoll's timeout (nanoseconds, plus timer slack).
        let timeout = timeout.map(|t| Timespec::try_from(t).unwrap_or(Timespec { tv_sec: i64::MAX, tv_nsec: 0 }));
        let polled = poll(&mut fds, timeout.as_ref());
        let is_ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
        let ready: Vec<bool> = fds.iter().take(n).map(is_ready).collect();
        let extra_ready = extra.is_some() && fds.get(n).is_some_and(is_ready);
        #[cfg(target_os = "linux")]
        let timer_ready = self.timer.is_some() && fds.last().is_some_and(is_ready);
        drop(fds);
        if let Err(err) = polled {
            self.core.record(Direction::Receive, &err.into());
            return (Vec::new(), false);
        }
        #[cfg(target_os = "linux")]
        if timer_ready && self.timer.as_ref().is_some_and(PreciseTimer::consume) {
            // Fired: whatever the next deadline is, it must be armed afresh.
            self.armed = None;
        }
        (ready, extra_ready)
    }
}
