//! The blocking driver: moves datagrams between sockets and the core, and time into it.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use heartbeat_proto::{Config, Detector, Event, FixedTimeout, Growable, LinkId, MAX_FRAME_LEN, Node, NodeId, Transmit};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::clock::Clock;
use crate::io_stats::{Direction, IoStats, Status};
#[cfg(target_os = "linux")]
use crate::precise::PreciseTimer;
use crate::routes::{AddPeerError, Routes};

/// Datagrams read from one socket in a row before the driver ticks and looks at the others.
const RECV_BATCH: usize = 256;

/// Datagrams dated with one clock reading.
const CLOCK_EVERY: usize = 16;

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
/// Socket `i` is link `i`: a datagram read from it is handed to the core as `LinkId(i)`, and a
/// frame for a peer goes out of socket `i` to the peer's address on link `i`. With
/// [`Config::links`] above 1 the core tracks each link and reports `LinkUp`/`LinkDown`.
pub struct Driver<D: Detector = FixedTimeout> {
    node: Node<D, Growable>,
    sockets: Vec<UdpSocket>,
    routes: Routes,
    clock: Clock,
    io: IoStats,
    /// Wakes the wait at the node's deadline; `armed` is the deadline it is set for.
    #[cfg(target_os = "linux")]
    timer: Option<PreciseTimer>,
    #[cfg(target_os = "linux")]
    armed: Option<heartbeat_proto::Instant>,
    tx: [u8; MAX_FRAME_LEN],
    // One spare byte so that an oversized datagram stays oversized and the core refuses it.
    rx: [u8; MAX_FRAME_LEN + 1],
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
        Ok(Driver {
            node: Node::new(config, detector, clock.now()),
            routes: Routes::new(sockets.len()),
            sockets,
            clock,
            io: IoStats::default(),
            // Without a timerfd the wait's own timeout carries the deadline.
            #[cfg(target_os = "linux")]
            timer: PreciseTimer::new().ok(),
            #[cfg(target_os = "linux")]
            armed: None,
            tx: [0; MAX_FRAME_LEN],
            rx: [0; MAX_FRAME_LEN + 1],
        })
    }

    /// Monitors and sends to `id`, at `addrs[i]` on link `i` (no address: group traffic only).
    pub fn add_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        self.routes.add_peer(&mut self.node, id, addrs)
    }

    /// Stops monitoring `id`, silently. Returns whether it was a peer.
    pub fn remove_peer(&mut self, id: NodeId) -> bool {
        self.routes.remove_peer(&mut self.node, id)
    }

    /// Where frames for every node go on `link` (a multicast group or broadcast address); used
    /// when the configuration says `broadcast`. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.routes.set_group(link, addr)
    }

    /// The node, for read access.
    pub fn node(&self) -> &Node<D, Growable> {
        &self.node
    }

    /// The clock that stamps events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Socket counters.
    pub fn io_stats(&self) -> IoStats {
        self.io
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.sockets.iter().map(UdpSocket::local_addr).collect()
    }

    /// Every peer's status and the counters.
    pub fn status(&self) -> Status {
        Status {
            config: self.node.config().clone(),
            now: self.clock.now(),
            leaving: self.node.is_leaving(),
            peers: self.node.peers().collect(),
            frames: *self.node.stats(),
            io: self.io,
        }
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
        self.node.leave(self.clock.now());
        self.flush(on_event);
    }

    /// A turn that also waits for `extra` to become readable; returns whether it did.
    pub(crate) fn turn_with(
        &mut self,
        max_wait: Option<Duration>,
        extra: Option<BorrowedFd<'_>>,
        on_event: &mut impl FnMut(Event),
    ) -> bool {
        self.flush(on_event);
        let deadline = self.node.poll_timeout();
        let until_deadline = self.arm(deadline).then(|| deadline.map(|d| self.clock.until(d))).flatten();
        let wait = match (until_deadline, max_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let (ready, extra_ready) = self.wait(wait, extra);
        for link in 0..self.sockets.len() {
            if ready & (1 << link) != 0 {
                self.receive(link, on_event);
            }
        }
        self.node.tick(self.clock.now());
        self.flush(on_event);
        extra_ready
    }

    /// Sets the precise timer for `deadline` if it is not set for it already. Returns whether
    /// the wait's own timeout must carry the deadline (no timer).
    fn arm(&mut self, deadline: Option<heartbeat_proto::Instant>) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(timer) = &self.timer {
            if deadline != self.armed {
                if let Some(d) = deadline
                    && let Err(err) = timer.arm(self.clock.until(d))
                {
                    self.io.record(Direction::Receive, &err);
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
        let mut fds: Vec<PollFd<'_>> = self.sockets.iter().map(|s| PollFd::new(s, PollFlags::IN)).collect();
        fds.extend(extra.map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)));
        #[cfg(target_os = "linux")]
        fds.extend(self.timer.as_ref().map(|t| PollFd::new(t, PollFlags::IN)));
        // Without a timer the deadline rides on ppoll's timeout (nanoseconds, plus timer slack).
        let timeout = timeout.map(|t| Timespec::try_from(t).unwrap_or(Timespec { tv_sec: i64::MAX, tv_nsec: 0 }));
        if let Err(err) = poll(&mut fds, timeout.as_ref()) {
            self.io.record(Direction::Receive, &err.into());
            return (0, false);
        }
        let links = self.sockets.len();
        let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
        let mask = fds.iter().take(links).enumerate().filter(|(_, fd)| ready(fd));
        let mask = mask.fold(0u64, |m, (i, _)| m | 1 << i);
        let extra_ready = extra.is_some() && fds.get(links).is_some_and(ready);
        #[cfg(target_os = "linux")]
        if fds.last().is_some_and(ready)
            && let Some(timer) = &self.timer
            && timer.consume()
        {
            // Fired: whatever the next deadline is, it must be armed afresh.
            self.armed = None;
        }
        (mask, extra_ready)
    }

    /// Reads what `link` holds (up to a batch) into the core. The clock is read once per
    /// [`CLOCK_EVERY`] datagrams rather than for each: a datagram is dated at most that many
    /// reads (a few microseconds) before it was read, and a busy socket is drained faster.
    fn receive(&mut self, link: usize, on_event: &mut impl FnMut(Event)) {
        let id = LinkId(u8::try_from(link).unwrap_or(u8::MAX));
        let mut now = self.clock.now();
        for n in 0..RECV_BATCH {
            if n % CLOCK_EVERY == CLOCK_EVERY - 1 {
                now = self.clock.now();
            }
            match self.sockets[link].recv_from(&mut self.rx) {
                Ok((len, from)) => {
                    self.io.received += 1;
                    if let Err(rejected) = self.node.on_message(now, id, &self.rx[..len]) {
                        tracing::trace!(%from, %rejected, "frame refused");
                    }
                    self.deliver(on_event);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) => {
                    self.io.record(Direction::Receive, &err);
                    // A refusal or an interruption is consumed by reporting it; keep reading.
                    if !matches!(err.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted) {
                        return;
                    }
                }
            }
        }
    }

    /// Sends every pending frame and delivers every pending event (the drain rule).
    fn flush(&mut self, on_event: &mut impl FnMut(Event)) {
        // The buffer holds MAX_FRAME_LEN bytes, the longest frame: it is never too small.
        while let Some(Ok(transmit)) = self.node.poll_transmit(&mut self.tx) {
            self.send(transmit);
        }
        self.deliver(on_event);
    }

    fn deliver(&mut self, on_event: &mut impl FnMut(Event)) {
        while let Some(event) = self.node.poll_event() {
            on_event(event);
        }
    }

    fn send(&mut self, transmit: Transmit) {
        let frame = &self.tx[..transmit.len];
        let mut routed = false;
        for (link, addr) in self.routes.targets(transmit.destination) {
            routed = true;
            let socket = &self.sockets[link];
            // One retry after a signal; otherwise this heartbeat is lost, like any datagram.
            let result = socket.send_to(frame, addr).or_else(|err| match err.kind() {
                io::ErrorKind::Interrupted => {
                    self.io.record(Direction::Send, &err);
                    socket.send_to(frame, addr)
                }
                _ => Err(err),
            });
            match result {
                Ok(_) => self.io.sent += 1,
                Err(err) => self.io.record(Direction::Send, &err),
            }
        }
        if !routed {
            self.io.unroutable += 1;
            tracing::debug!(destination = ?transmit.destination, "no address to send to");
        }
    }
}
