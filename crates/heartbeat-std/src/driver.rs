//! Wire v1's blocking driver: the [`BlockingDriver`] over one socket per link, with the
//! node's own commands.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use heartbeat_proto::{Config, Detector, Event, FixedTimeout, LinkId, Node, NodeId};

use crate::blocking::BlockingDriver;
use crate::clock::Clock;
use crate::command::AddPeerError;
use crate::driver_core::{DriverCore, LinkSockets, V1Node};
use crate::io_stats::{IoStats, Status};

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
/// Everything but the node's own commands is the profile-neutral [`BlockingDriver`] (the
/// shared [`DriverCore`] plus `poll` and, on Linux, a `timerfd`).
pub struct Driver<D: Detector = FixedTimeout> {
    inner: BlockingDriver<V1Node<D>, LinkSockets<UdpSocket>>,
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
        Ok(Driver { inner: BlockingDriver::new(core) })
    }

    fn core(&self) -> &DriverCore<V1Node<D>, LinkSockets<UdpSocket>> {
        self.inner.core()
    }

    /// The shared core, for the thread that serves a [`Handle`](crate::Handle).
    pub(crate) fn core_mut(&mut self) -> &mut DriverCore<V1Node<D>, LinkSockets<UdpSocket>> {
        self.inner.core_mut()
    }

    /// Monitors and sends to `id`, at `addrs[i]` on link `i` (no address: group traffic only,
    /// until the peer's address is learned from its frames).
    pub fn add_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        self.core_mut().add_peer(id, addrs)
    }

    /// Stops monitoring `id`, silently. Returns whether it was a peer.
    pub fn remove_peer(&mut self, id: NodeId) -> bool {
        self.core_mut().remove_peer(id)
    }

    /// Takes over new timing and (when `config` holds them) keys, every peer's state kept.
    /// See [`DriverCore::reconfigure`].
    pub fn reconfigure(&mut self, config: Config) -> Result<(), heartbeat_proto::FixedFieldError> {
        self.core_mut().reconfigure(config)
    }

    /// Replaces the detector, every peer's record kept. See [`DriverCore::replace_detector`].
    pub fn replace_detector(&mut self, detector: D) {
        self.core_mut().replace_detector(detector);
    }

    /// Where frames for every node go on `link` (a multicast group or broadcast address); used
    /// when the configuration says `broadcast`. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.core_mut().set_group(link, addr)
    }

    /// The node, for read access (its address book included: [`Node::addresses`]).
    pub fn node(&self) -> &Node<D, heartbeat_proto::Growable> {
        self.core().node()
    }

    /// The clock that stamps events.
    pub fn clock(&self) -> Clock {
        self.core().clock()
    }

    /// Socket counters.
    pub fn io_stats(&self) -> IoStats {
        self.core().io_stats()
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.core().local_addrs()
    }

    /// Every peer's status and the counters.
    pub fn status(&self) -> Status {
        self.core().status()
    }

    /// One turn of the loop: send what is due, deliver events, wait for a datagram or the
    /// node's next deadline (at most `max_wait`), feed what arrived, then always `tick`.
    pub fn turn(&mut self, max_wait: Option<Duration>, on_event: &mut impl FnMut(Event)) {
        self.inner.turn(max_wait, on_event);
    }

    /// Turns until `stop` returns true (it is asked once per turn, so at least once per
    /// heartbeat interval). Returns without saying goodbye: call [`leave`](Self::leave).
    pub fn run(&mut self, on_event: &mut impl FnMut(Event), stop: impl FnMut() -> bool) {
        self.inner.run(on_event, stop);
    }

    /// Sends a goodbye to every peer; peers report `Left` instead of `Down`.
    pub fn leave(&mut self, on_event: &mut impl FnMut(Event)) {
        self.core_mut().leave(on_event);
    }

    /// A turn that also waits for `extra` to become readable; returns whether it did.
    pub(crate) fn turn_with(
        &mut self,
        max_wait: Option<Duration>,
        extra: Option<BorrowedFd<'_>>,
        on_event: &mut impl FnMut(Event),
    ) -> bool {
        self.inner.turn_with(max_wait, extra, on_event)
    }
}
