//! The async driver: one task runs the shared [`DriverCore`] and waits on tokio.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use heartbeat_proto::{Config, Detector, Event, FixedTimeout, Instant, LinkId, NodeId};
use heartbeat_std::{AddPeerError, Clock, Command, DatagramSocket, Direction, DriverCore};
use tokio::sync::{broadcast, mpsc};

use crate::handle::Handle;
use crate::precise::{self, PreciseTimer};
use crate::socket::Socket;

pub use heartbeat_std::LinkCountError;

/// Events a subscriber may fall behind by before it misses some (it is then told how many).
const EVENT_BACKLOG: usize = 1024;

/// Tokio's now, as a `std::time::Instant` (so `tokio::time::pause` moves it).
fn tokio_now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A clock whose epoch is tokio's now and which reads tokio's time (so `tokio::time::pause`
/// moves it).
pub fn tokio_clock() -> Clock {
    Clock::with_source(tokio_now(), tokio_now)
}

/// One link's socket, shared between the core (reads and sends) and its readiness future.
pub(crate) struct Link<S>(Arc<S>);

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

/// Drives a [`Node`](heartbeat_proto::Node) over one socket per link on a tokio task. Set it
/// up, [`subscribe`] to its events, then [`spawn`] it and control it through the [`Handle`].
///
/// Socket `i` is link `i`, as in `heartbeat_std`: a datagram read from it is handed to the core
/// as `LinkId(i)` with its source address, and a frame for a peer goes out of socket `i` to the
/// peer's address on link `i` in the node's address book (configured, or learned from the
/// peer's frames).
///
/// Everything but the wait is `heartbeat_std`'s shared [`DriverCore`]; this type adds the
/// readiness futures, tokio's sleep and the optional nanosecond timer.
///
/// [`subscribe`]: Self::subscribe
/// [`spawn`]: Self::spawn
pub struct Driver<S: Socket = tokio::net::UdpSocket, D: Detector = FixedTimeout> {
    core: DriverCore<Link<S>, D>,
    events: broadcast::Sender<Event>,
    precise: Option<PreciseTimer>,
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
        Ok(Driver {
            core: DriverCore::new(config, detector, sockets, clock)?,
            events: broadcast::channel(EVENT_BACKLOG).0,
            precise: None,
        })
    }

    /// Monitors and sends to `id`, at `addrs[i]` on link `i` (no address: group traffic only,
    /// until the peer's address is learned from its frames).
    pub fn add_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        self.core.add_peer(id, addrs)
    }

    /// Where frames for every node go on `link` (multicast group or broadcast address), for a
    /// `broadcast` configuration. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.core.set_group(link, addr)
    }

    /// Also wakes for deadlines through a nanosecond `timerfd` (Linux), so that a `Down` comes
    /// within microseconds of its deadline instead of up to about 2 ms after it (tokio's timers
    /// tick in milliseconds). Real time only: leave it off under `tokio::time::pause` or a
    /// simulator, whose clock the timerfd does not follow. Needs a runtime with I/O enabled.
    #[cfg(target_os = "linux")]
    pub fn precise_timer(&mut self) -> io::Result<()> {
        self.precise = Some(PreciseTimer::new()?);
        Ok(())
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Starts the driver task on the current runtime.
    pub fn spawn(self) -> Handle {
        let (commands, inbox) = mpsc::channel(64);
        // One entry per link, in link order, even for a socket that cannot say its address.
        let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
        let local = self.core.sockets().iter().map(|s| s.local_addr().unwrap_or(unknown)).collect();
        let events = self.events.clone();
        let clock = self.core.clock();
        let task = tokio::spawn(self.run(inbox));
        Handle::new(commands, events, task.abort_handle(), clock, local)
    }

    async fn run(self, inbox: mpsc::Receiver<Command>) {
        for socket in self.core.sockets() {
            // Errors surface, and are counted, at the first send.
            let _ = socket.0.writable().await;
        }
        let ready = self.core.sockets().iter().map(|s| readiness(&s.0)).collect();
        // Field order is drop order: the sockets close before `inbox` tells handles we stopped.
        let mut task = Task { driver: self, ready, next: 0, inbox };
        let sleep = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(sleep);
        let mut armed = None;
        loop {
            let driver = &mut task.driver;
            driver.flush();
            let deadline = driver.core.deadline();
            let clock = driver.core.clock();
            // Compare the clock with the deadline ourselves: a due deadline is handled now,
            // whether or not the sleep future has fired (tokio's budget may hold it back).
            if deadline.is_some_and(|d| d <= clock.now()) {
                driver.core.tick();
                // The core never asks for this twice in a row after a drain; should it ever,
                // the runtime still gets its turn.
                tokio::task::consume_budget().await;
                continue;
            }
            if deadline != armed {
                if let Some(d) = deadline {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(clock.to_std(d)));
                    driver.arm_precise(d);
                }
                armed = deadline;
            }
            tokio::select! {
                biased;
                command = task.inbox.recv() => {
                    if !task.driver.command(command) {
                        return;
                    }
                }
                link = next_ready(&mut task.ready, &mut task.next) => {
                    task.driver.receive(link);
                    task.ready[link] = readiness(&task.driver.core.sockets()[link].0);
                }
                () = &mut sleep, if deadline.is_some() => {
                    // A fired sleep stays fired: arm it afresh next turn.
                    armed = None;
                }
                () = precise::fired(task.driver.precise.as_ref()), if deadline.is_some() => {
                    armed = None;
                }
            }
            task.driver.core.tick();
        }
    }

    fn arm_precise(&mut self, deadline: Instant) {
        let after = deadline.saturating_duration_since(self.core.clock().now());
        if let Err(err) = precise::arm(self.precise.as_ref(), after) {
            self.core.record(Direction::Receive, &err);
        }
    }

    /// Handles a command (`None`: every handle is gone); returns whether to keep running.
    fn command(&mut self, command: Option<Command>) -> bool {
        let events = &self.events;
        let mut publish = |event| {
            // No subscriber is not an error.
            let _ = events.send(event);
        };
        match command {
            Some(command) => self.core.command(command, &mut publish),
            // Nobody can stop us any more, so leave now.
            None => {
                self.core.leave(&mut publish);
                false
            }
        }
    }

    /// Reads what `link` holds (up to a batch) into the core.
    fn receive(&mut self, link: usize) {
        let events = &self.events;
        self.core.receive(link, &mut |event| {
            let _ = events.send(event);
        });
    }

    /// Sends every pending frame and publishes every pending event (the drain rule).
    fn flush(&mut self) {
        let events = &self.events;
        self.core.flush(&mut |event| {
            let _ = events.send(event);
        });
    }
}

type Readiness = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Everything the task owns; fields drop in this order.
struct Task<S: Socket, D: Detector> {
    driver: Driver<S, D>,
    ready: Vec<Readiness>,
    next: usize,
    inbox: mpsc::Receiver<Command>,
}

/// A future that resolves when `socket` may be readable. It owns its socket handle, so it
/// survives from one turn to the next and no wake-up is lost when another branch wins.
fn readiness<S: Socket>(socket: &Arc<S>) -> Readiness {
    let socket = Arc::clone(socket);
    Box::pin(async move {
        // An error here surfaces again, and is counted, at the read that follows.
        let _ = socket.readable().await;
    })
}

/// The first readable link, scanning from `next` so that no link starves the others.
async fn next_ready(ready: &mut [Readiness], next: &mut usize) -> usize {
    poll_fn(|cx| {
        let n = ready.len();
        for k in 0..n {
            let link = (*next + k) % n;
            if ready[link].as_mut().poll(cx).is_ready() {
                *next = (link + 1) % n;
                return Poll::Ready(link);
            }
        }
        Poll::Pending
    })
    .await
}
