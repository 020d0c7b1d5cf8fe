//! The blocking driver: the [`DriverCore`] plus a wait on `poll(2)` (and a `timerfd`).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use heartbeat_proto::{Config, Detector, Event, FixedTimeout, Growable, LinkId, Node, NodeId};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::clock::Clock;
use crate::command::AddPeerError;
use crate::driver_core::DriverCore;
use crate::io_stats::{Direction, IoStats, Status};
#[cfg(target_os = "linux")]
use crate::precise::PreciseTimer;

/// Why a driver could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// One socket per configured link is needed.
    #[error("{sockets} socket(s) for {links} configured link(s)")]
    LinkCount {
        /// Sockets given.
        sockets: usize,
        /// `Config::links`.
        links: u8,
    },
    /// A socket option could not be set.
    #[error("cannot configure socket: {0}")]
    Socket(#[from] io::Error),
}

/// Drives a [`Node`] over one `UdpSocket` per link, on the calling thread.
///
/// Socket `i` is link `i`: a datagram read from it is handed to the core as `LinkId(i)` with
/// its source address, and a frame for a peer goes out of socket `i` to the peer's address on
/// link `i` in the node's address book (configured, or learned from the peer's frames). With
/// [`Config::links`] above 1 the core tracks each link and reports `LinkUp`/`LinkDown`.
///
/// Everything but the wait is the shared [`DriverCore`]; this type adds `poll` and, on Linux,
/// a [`PreciseTimer`].
pub struct Driver<D: Detector = FixedTimeout> {
    core: DriverCore<UdpSocket, D>,
    /// Wakes the wait at the node's deadline; `armed` is the deadline it is set for.
    #[cfg(target_os = "linux")]
    timer: Option<PreciseTimer>,
    #[cfg(target_os = "linux")]
    armed: Option<heartbeat_proto::Instant>,
}

impl<D: Detector> Driver<D> {
    /// A driver for a node with `config`, one socket per link (the sockets are switched to
    /// non-blocking mode). The node starts at `clock.now()`.
    pub fn new(config: Config, detector: D, sockets: Vec<UdpSocket>, clock: Clock) -> Result<Self, SetupError> {
        if sockets.len() != usize::from(config.links()) {
            return Err(SetupError::LinkCount { sockets: sockets.len(), links: config.links() });
        }
        for socket in &sockets {
            socket.set_nonblocking(true)?;
        }
        let core = DriverCore::new(config, detector, sockets, clock)
            .map_err(|e| SetupError::LinkCount { sockets: e.sockets, links: e.links })?;
        Ok(Driver {
            core,
            // Without a timerfd the wait's own timeout carries the deadline.
            #[cfg(target_os = "linux")]
            timer: PreciseTimer::new().ok(),
            #[cfg(target_os = "linux")]
            armed: None,
        })
    }

    /// Monitors and sends to `id`, at `addrs[i]` on link `i` (no address: group traffic only,
    /// until the peer's address is learned from its frames).
    pub fn add_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        self.core.add_peer(id, addrs)
    }

    /// Stops monitoring `id`, silently. Returns whether it was a peer.
    pub fn remove_peer(&mut self, id: NodeId) -> bool {
        self.core.remove_peer(id)
    }

    /// Where frames for every node go on `link` (a multicast group or broadcast address); used
    /// when the configuration says `broadcast`. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.core.set_group(link, addr)
    }

    /// The node, for read access (its address book included: [`Node::addresses`]).
    pub fn node(&self) -> &Node<D, Growable> {
        self.core.node()
    }

    /// The clock that stamps events.
    pub fn clock(&self) -> Clock {
        self.core.clock()
    }

    /// Socket counters.
    pub fn io_stats(&self) -> IoStats {
        self.core.io_stats()
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.core.local_addrs()
    }

    /// Every peer's status and the counters.
    pub fn status(&self) -> Status {
        self.core.status()
    }

    /// One turn of the loop: send what is due, deliver events, wait for a datagram or the
    /// node's next deadline (at most `max_wait`), feed what arrived, then always `tick`.
    pub fn turn(&mut self, max_wait: Option<Duration>, on_event: &mut impl FnMut(Event)) {
        self.turn_with(max_wait, None, on_event);
    }

    /// Turns until `stop` returns true (it is asked once per turn, so at least once per
    /// heartbeat interval). Returns without saying goodbye: call [`leave`](Self::leave).
    pub fn run(&mut self, on_event: &mut impl FnMut(Event), mut stop: impl FnMut() -> bool) {
        while !stop() {
            self.turn(None, on_event);
        }
    }

    /// Sends a goodbye to every peer; peers report `Left` instead of `Down`.
    pub fn leave(&mut self, on_event: &mut impl FnMut(Event)) {
        self.core.leave(on_event);
    }

    /// The shared core, for the thread that serves a [`Handle`](crate::Handle).
    pub(crate) fn core_mut(&mut self) -> &mut DriverCore<UdpSocket, D> {
        &mut self.core
    }

    /// A turn that also waits for `extra` to become readable; returns whether it did.
    pub(crate) fn turn_with(
        &mut self,
        max_wait: Option<Duration>,
        extra: Option<BorrowedFd<'_>>,
        on_event: &mut impl FnMut(Event),
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
        for link in 0..self.core.sockets().len() {
            if ready & (1 << link) != 0 {
                self.core.receive(link, on_event);
            }
        }
        self.core.tick();
        self.core.flush(on_event);
        extra_ready
    }

    /// Sets the precise timer for `deadline` if it is not set for it already. Returns whether
    /// the wait's own timeout must carry the deadline (no timer).
    fn arm(&mut self, deadline: Option<heartbeat_proto::Instant>) -> bool {
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

    /// Blocks until a socket, `extra` or the timer is readable or `timeout` passes. Returns a
    /// bit mask of readable links and whether `extra` is readable.
    fn wait(&mut self, timeout: Option<Duration>, extra: Option<BorrowedFd<'_>>) -> (u64, bool) {
        let sockets = self.core.sockets();
        let mut fds: Vec<PollFd<'_>> = sockets.iter().map(|s| PollFd::new(s, PollFlags::IN)).collect();
        fds.extend(extra.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)));
        #[cfg(target_os = "linux")]
        fds.extend(self.timer.as_ref().map(|t| PollFd::new(t, PollFlags::IN)));
        // Without a timer the deadline rides on ppoll's timeout (nanoseconds, plus timer slack).
        let timeout = timeout.map(|t| Timespec::try_from(t).unwrap_or(Timespec { tv_sec: i64::MAX, tv_nsec: 0 }));
        let links = sockets.len();
        let polled = poll(&mut fds, timeout.as_ref());
        let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
        let mask = fds.iter().take(links).enumerate().filter(|(_, fd)| ready(fd));
        let mask = mask.fold(0u64, |m, (i, _)| m | 1 << i);
        let extra_ready = extra.is_some() && fds.get(links).is_some_and(ready);
        #[cfg(target_os = "linux")]
        let timer_ready = self.timer.is_some() && fds.last().is_some_and(ready);
        drop(fds);
        if let Err(err) = polled {
            self.core.record(Direction::Receive, &err.into());
            return (0, false);
        }
        #[cfg(target_os = "linux")]
        if timer_ready && self.timer.as_ref().is_some_and(PreciseTimer::consume) {
            // Fired: whatever the next deadline is, it must be armed afresh.
            self.armed = None;
        }
        (mask, extra_ready)
    }
}
