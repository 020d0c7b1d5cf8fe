//! Wire v1's tokio driver: the profile-neutral [`AsyncDriver`] over one socket per link, with
//! the node's own commands.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use heartbeat_proto::{Config, Detector, Event, FixedTimeout, LinkId, NodeId, Transmit};
use heartbeat_std::{AddPeerError, Clock, DatagramSocket, DriverCore, LinkSockets, V1Node};

use crate::events::Subscription;
use crate::handle::Handle;
use crate::socket::Socket;
use crate::task::{AsyncDriver, Readiness, WaitSockets};

pub use heartbeat_std::LinkCountError;

/// Tokio's now, as a `std::time::Instant` (so `tokio::time::pause` moves it).
fn tokio_now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A clock whose epoch is tokio's now and which reads tokio's time (so `tokio::time::pause`
/// moves it).
pub fn tokio_clock() -> Clock {
    Clock::with_source(tokio_now(), tokio_now)
}

/// `clock`'s epoch on tokio's time.
pub(crate) fn on_tokio_time(clock: Clock) -> Clock {
    Clock::with_source(clock.epoch(), tokio_now)
}

/// One link's socket, shared between the core (reads and sends) and its readiness future.
pub struct Link<S>(Arc<S>);

impl<S: Socket> DatagramSocket for Link<S> {
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.try_recv_from(buf)
    }

    fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.0.try_send_to(buf, target)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// Wire v1's tokio socket set: socket `i` is link `i`.
pub type V1Sockets<S> = LinkSockets<Link<S>>;

impl<S: Socket> WaitSockets<Transmit> for LinkSockets<Link<S>> {
    fn readable(&self, i: usize) -> Readiness {
        let socket = Arc::clone(&self.as_slice()[i].0);
        Box::pin(async move {
            let _ = socket.readable().await;
        })
    }

    fn writable(&self) -> Readiness {
        let sockets: Vec<Arc<S>> = self.as_slice().iter().map(|s| Arc::clone(&s.0)).collect();
        Box::pin(async move {
            for socket in sockets {
                let _ = socket.writable().await;
            }
        })
    }
}

/// Wire v1's farewell: a goodbye to every peer, sent at once.
fn goodbye<D: Detector, S: Socket>(
    core: &mut DriverCore<V1Node<D>, V1Sockets<S>>,
    _: &mut dyn FnMut(Event),
) -> Duration {
    core.start_leaving();
    Duration::ZERO
}

/// Drives a [`Node`](heartbeat_proto::Node) over one socket per link on a tokio task. Set it
/// up, [`subscribe`] to its events, then [`spawn`] it and control it through the [`Handle`].
///
/// Socket `i` is link `i`, as in `heartbeat_std`: a datagram read from it is handed to the core
/// as `LinkId(i)` with its source address, and a frame for a peer goes out of socket `i` to the
/// peer's address on link `i` in the node's address book (configured, or learned from the
/// peer's frames).
///
/// Everything but the node's own commands is the profile-neutral [`AsyncDriver`] (the shared
/// `heartbeat_std` [`DriverCore`] plus tokio's waiting).
///
/// [`subscribe`]: Self::subscribe
/// [`spawn`]: Self::spawn
pub struct Driver<S: Socket = tokio::net::UdpSocket, D: Detector = FixedTimeout> {
    inner: AsyncDriver<V1Node<D>, V1Sockets<S>>,
}

impl<S: Socket, D: Detector + Send + 'static> Driver<S, D>
where
    D::PeerState: Send,
{
    /// A driver for a node with `config`, one socket per link, stamping time with `clock`'s
    /// epoch on tokio's time (see [`tokio_clock`]). Returns the sockets' count mismatch as an
    /// error.
    pub fn new(config: Config, detector: D, sockets: Vec<S>, clock: Clock) -> Result<Self, LinkCountError> {
        let clock = Clock::with_source(clock.epoch(), tokio_now);
        let sockets = sockets.into_iter().map(|s| Link(Arc::new(s))).collect();
        let core = DriverCore::new(config, detector, sockets, clock)?;
        Ok(Driver { inner: AsyncDriver::new(core, goodbye) })
    }

    /// Monitors and sends to `id`, at `addrs[i]` on link `i` (no address: group traffic only,
    /// until the peer's address is learned from its frames).
    pub fn add_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        self.inner.core_mut().add_peer(id, addrs)
    }

    /// Resumes `id`'s replay protection where an earlier run left it (see
    /// [`Node::resume_watermark`](heartbeat_proto::Node::resume_watermark)); before the first
    /// frame, so before [`spawn`](Self::spawn).
    pub fn resume_watermark(
        &mut self,
        id: NodeId,
        mark: heartbeat_proto::Watermark,
    ) -> Result<(), heartbeat_proto::ResumeError> {
        self.inner.core_mut().resume_watermark(id, mark)
    }

    /// Where frames for every node go on `link` (multicast group or broadcast address), for a
    /// `broadcast` configuration. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.inner.core_mut().set_group(link, addr)
    }

    /// Also wakes for deadlines through a nanosecond `timerfd` (Linux), so that a `Down` comes
    /// within microseconds of its deadline instead of up to about 2 ms after it (tokio's timers
    /// tick in milliseconds). Real time only: leave it off under `tokio::time::pause` or a
    /// simulator, whose clock the timerfd does not follow. Needs a runtime with I/O enabled.
    #[cfg(target_os = "linux")]
    pub fn precise_timer(&mut self) -> io::Result<()> {
        self.inner.precise_timer()
    }

    /// A receiver of every event from now on; it never misses one (see [`Subscription`]).
    pub fn subscribe(&self) -> Subscription<Event> {
        self.inner.subscribe()
    }

    /// Starts the driver task on the current runtime.
    pub fn spawn(self) -> Handle<S, D> {
        // One entry per link, in link order, even for a socket that cannot say its address.
        let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
        let local = self.inner.core().sockets().as_slice().iter().map(|s| s.local_addr().unwrap_or(unknown)).collect();
        Handle::new(self.inner.spawn(), local)
    }
}
