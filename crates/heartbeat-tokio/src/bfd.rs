//! BFD on tokio: `heartbeat_std`'s BFD socket set (the same sockets, options and interface
//! numbering as its blocking BFD driver) waited on through tokio's reactor, on the shared
//! [`AsyncDriver`]. Linux only, like the sockets.
//!
//! What this module adds is the waiting (each receive socket's duplicate registered as a
//! tokio socket) and BFD's
//! commands on a [`TaskHandle`]; receiving, sending, status and the graceful stop (every
//! session AdminDown, then [`linger`]) are the shared core's and `heartbeat_std::bfd`'s.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use heartbeat_proto::bfd::{BfdEvent, BfdHost, SessionConfig};
use heartbeat_proto::engine::{RecvMeta, SendMeta, SessionHandle};
use heartbeat_proto::{Growable, Instant};
use heartbeat_std::bfd::{self as std_bfd, AddSessionError, BfdStatus, Options, admin_down_all, linger};
use heartbeat_std::{Clock, DriverCore, PollSockets, Sockets, Stopped};
use tokio::net::UdpSocket;

use crate::events::Subscription;
use crate::task::{AsyncDriver, Readiness, TaskHandle, WaitSockets};

/// The BFD packet and where it goes.
type BfdTransmit = (SessionHandle, SendMeta);

/// `heartbeat_std`'s [`BfdSockets`](std_bfd::BfdSockets), each receive socket registered with
/// tokio's reactor (a duplicate of its descriptor as a tokio `UdpSocket`) the first time the task waits on it.
#[derive(Debug)]
pub struct BfdSockets {
    inner: std_bfd::BfdSockets,
    registered: Mutex<Vec<Arc<UdpSocket>>>,
}

impl BfdSockets {
    /// No socket yet; sessions open them.
    pub fn new(options: Options) -> Self {
        BfdSockets { inner: std_bfd::BfdSockets::new(options), registered: Mutex::new(Vec::new()) }
    }

    /// The blocking adapter's socket set underneath (source ports, listen addresses, counters).
    pub fn inner(&self) -> &std_bfd::BfdSockets {
        &self.inner
    }

    /// The registration of receive socket `i`, made now if it is new.
    fn registered(&self, i: usize) -> io::Result<Arc<UdpSocket>> {
        let mut registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner);
        while registered.len() <= i {
            let fd = self.inner.fd(registered.len()).try_clone_to_owned()?;
            // The duplicate shares the socket (and its non-blocking mode); only readiness is asked of it.
            registered.push(Arc::new(UdpSocket::from_std(std::net::UdpSocket::from(fd))?));
        }
        Ok(Arc::clone(&registered[i]))
    }
}

impl Sockets<BfdTransmit> for BfdSockets {
    fn len(&self) -> usize {
        Sockets::<BfdTransmit>::len(&self.inner)
    }

    fn try_recv(&mut self, i: usize, buf: &mut [u8]) -> io::Result<(usize, RecvMeta)> {
        self.inner.try_recv(i, buf)
    }

    fn try_send(&mut self, buf: &[u8], transmit: &BfdTransmit, meta: &SendMeta) -> Option<io::Result<()>> {
        self.inner.try_send(buf, transmit, meta)
    }
}

impl WaitSockets<BfdTransmit> for BfdSockets {
    fn readable(&self, i: usize) -> Readiness {
        let registered = self.registered(i);
        Box::pin(async move {
            let fd = match registered {
                Ok(fd) => fd,
                Err(err) => {
                    // Without a registration the socket can only be polled: look again soon.
                    tracing::warn!(%err, "cannot wait on a BFD socket");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    return;
                }
            };
            loop {
                if fd.readable().await.is_err() {
                    return;
                }
                // Ready only if a datagram (or an error) waits: the core reads through the
                // other descriptor, so a look that finds the socket empty is what clears the
                // reactor's readiness, and the next wait sleeps until the kernel reports more.
                match fd.try_peek_from(&mut [0; 1]) {
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    _ => return,
                }
            }
        })
    }

    fn writable(&self) -> Readiness {
        // Sends never wait (`MSG_DONTWAIT`): a full buffer loses the packet, counted.
        Box::pin(async {})
    }
}

/// BFD's farewell: every session AdminDown, then long enough for every peer to hear it.
fn admin_down(
    core: &mut DriverCore<BfdHost<Growable>, BfdSockets>,
    on_event: &mut dyn FnMut(BfdEvent),
) -> std::time::Duration {
    let linger = linger(core.machine());
    admin_down_all(core, &mut |event| on_event(event));
    linger
}

/// Drives a [`BfdHost`] over BFD's UDP sockets on a tokio task: the same sockets and
/// behaviour as `heartbeat_std`'s [`BfdDriver`](std_bfd::BfdDriver), waited on by tokio.
pub struct BfdDriver {
    inner: AsyncDriver<BfdHost<Growable>, BfdSockets>,
}

impl BfdDriver {
    /// A driver with no session yet, dating everything with `clock`'s epoch on tokio's time
    /// (see [`tokio_clock`](crate::tokio_clock)).
    pub fn new(options: Options, clock: Clock) -> Self {
        let clock = Clock::with_source(clock.epoch(), || tokio::time::Instant::now().into_std());
        let host = BfdHost::new(options.seed, clock.now());
        let core = DriverCore::with_machine(host, BfdSockets::new(options), clock);
        BfdDriver { inner: AsyncDriver::new(core, admin_down) }
    }

    /// Adds a session and opens the sockets it needs (see
    /// [`heartbeat_std::bfd::BfdDriver::add_session`]).
    pub fn add_session(
        &mut self,
        config: SessionConfig,
        interface: Option<&str>,
    ) -> Result<SessionHandle, AddSessionError> {
        let (host, sockets) = self.inner.core_mut().parts_mut();
        sockets.inner.add_session(host, config, interface)
    }

    /// The core, for read access.
    pub fn host(&self) -> &BfdHost<Growable> {
        self.inner.core().machine()
    }

    /// The socket set (source ports, listen addresses).
    pub fn sockets(&self) -> &BfdSockets {
        self.inner.core().sockets()
    }

    /// A receiver of every event from now on; it never misses one (see [`Subscription`]).
    pub fn subscribe(&self) -> Subscription<BfdEvent> {
        self.inner.subscribe()
    }

    /// Starts the driver task on the current runtime.
    pub fn spawn(self) -> BfdHandle {
        BfdHandle { task: self.inner.spawn() }
    }
}

/// Controls a [`BfdDriver`] task. Clone it freely; when the last clone is dropped every
/// session goes AdminDown and the task stops after [`linger`].
#[derive(Clone)]
#[must_use = "dropping the last handle stops every session"]
pub struct BfdHandle {
    task: TaskHandle<BfdHost<Growable>, BfdSockets>,
}

impl BfdHandle {
    /// Adds a session (see [`BfdDriver::add_session`]).
    pub async fn add_session(
        &self,
        config: SessionConfig,
        interface: Option<&str>,
    ) -> Result<SessionHandle, AddSessionError> {
        let interface = interface.map(str::to_string);
        let added = self
            .task
            .run(move |core| {
                let (host, sockets) = core.parts_mut();
                sockets.inner.add_session(host, config, interface.as_deref())
            })
            .await;
        added.unwrap_or(Err(AddSessionError::Stopped))
    }

    /// Every session's status and the counters, as of now.
    pub async fn status(&self) -> Result<BfdStatus, Stopped> {
        self.task
            .run(|core| {
                let handles: Vec<SessionHandle> = core.machine().handles().collect();
                BfdStatus::of(core, handles.into_iter(), core.sockets().inner.truncated())
            })
            .await
    }

    /// Runs `command` on the task with the core and the clock's now, and returns its result.
    pub async fn with_host<T: Send + 'static>(
        &self,
        command: impl FnOnce(&mut BfdHost<Growable>, Instant) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        self.task
            .run(move |core| {
                let now = core.clock().now();
                command(core.machine_mut(), now)
            })
            .await
    }

    /// A receiver of every event from now on; it never misses one (see [`Subscription`]).
    pub fn subscribe(&self) -> Subscription<BfdEvent> {
        self.task.subscribe()
    }

    /// Every session AdminDown, kept up for [`linger`], then the task stops; resolves once the
    /// sockets are closed.
    pub async fn shutdown(&self) {
        self.task.shutdown().await;
    }

    /// Stops at once, as a crash would; resolves once the sockets are closed.
    pub async fn abort(&self) {
        self.task.abort().await;
    }
}
