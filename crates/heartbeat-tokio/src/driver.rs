//! The async driver: one task moves datagrams between sockets and the core, and time into it.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use heartbeat_proto::{Config, Detector, Event, FixedTimeout, Growable, Instant, LinkId, MAX_FRAME_LEN, Node, NodeId};
use heartbeat_std::{AddPeerError, Clock, Direction, IoStats, Routes, Status};
use tokio::sync::{broadcast, mpsc};

use crate::handle::{Command, Handle};
use crate::precise::{self, PreciseTimer};
use crate::socket::Socket;

/// Datagrams read from one socket in a row before the driver ticks and looks at the rest.
const RECV_BATCH: usize = 256;
/// Events a subscriber may fall behind by before it misses some (it is then told how many).
const EVENT_BACKLOG: usize = 1024;

/// One socket per configured link is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{sockets} socket(s) for {links} configured link(s)")]
pub struct LinkCountError {
    /// Sockets given.
    pub sockets: usize,
    /// `Config::links`.
    pub links: u8,
}

/// The core's time on tokio's clock (so `tokio::time::pause` moves it).
pub(crate) fn now(clock: &Clock) -> Instant {
    clock.at(tokio::time::Instant::now().into_std())
}

/// A clock whose epoch is tokio's now.
pub fn tokio_clock() -> Clock {
    Clock::with_epoch(tokio::time::Instant::now().into_std())
}

/// Drives a [`Node`] over one socket per link on a tokio task. Set it up, [`subscribe`] to
/// its events, then [`spawn`] it and control it through the [`Handle`].
///
/// Socket `i` is link `i`, as in `heartbeat_std`: a datagram read from it is handed to the core
/// as `LinkId(i)`, and a frame for a peer goes out of socket `i` to the peer's address on
/// link `i`.
///
/// [`subscribe`]: Self::subscribe
/// [`spawn`]: Self::spawn
pub struct Driver<S: Socket = tokio::net::UdpSocket, D: Detector = FixedTimeout> {
    node: Node<D, Growable>,
    sockets: Vec<Arc<S>>,
    routes: Routes,
    clock: Clock,
    io: IoStats,
    events: broadcast::Sender<Event>,
    precise: Option<PreciseTimer>,
    tx: [u8; MAX_FRAME_LEN],
    // One spare byte so that an oversized datagram stays oversized and the core refuses it.
    rx: [u8; MAX_FRAME_LEN + 1],
}

impl<S: Socket, D: Detector + Send + 'static> Driver<S, D>
where
    D::PeerState: Send,
{
    /// A driver for a node with `config`, one socket per link, stamping time with `clock`
    /// (see [`tokio_clock`]). Returns the sockets' count mismatch as an error.
    pub fn new(config: Config, detector: D, sockets: Vec<S>, clock: Clock) -> Result<Self, LinkCountError> {
        if sockets.len() != usize::from(config.links()) {
            return Err(LinkCountError { sockets: sockets.len(), links: config.links() });
        }
        Ok(Driver {
            node: Node::new(config, detector, now(&clock)),
            routes: Routes::new(sockets.len()),
            sockets: sockets.into_iter().map(Arc::new).collect(),
            clock,
            io: IoStats::default(),
            events: broadcast::channel(EVENT_BACKLOG).0,
            precise: None,
            tx: [0; MAX_FRAME_LEN],
            rx: [0; MAX_FRAME_LEN + 1],
        })
    }

    /// Monitors and sends to `id`, at `addrs[i]` on link `i` (no address: group traffic only).
    pub fn add_peer(&mut self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        self.routes.add_peer(&mut self.node, id, addrs)
    }

    /// Where frames for every node go on `link` (multicast group or broadcast address), for a
    /// `broadcast` configuration. Returns `false` if there is no such link.
    pub fn set_group(&mut self, link: LinkId, addr: SocketAddr) -> bool {
        self.routes.set_group(link, addr)
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
        let local = self.sockets.iter().map(|s| s.local_addr().unwrap_or(unknown)).collect();
        let events = self.events.clone();
        let clock = self.clock;
        let task = tokio::spawn(self.run(inbox));
        Handle::new(commands, events, task.abort_handle(), clock, local)
    }

    fn status(&self) -> Status {
        Status {
            config: self.node.config().clone(),
            now: now(&self.clock),
            leaving: self.node.is_leaving(),
            peers: self.node.peers().collect(),
            frames: *self.node.stats(),
            io: self.io,
        }
    }

    async fn run(self, inbox: mpsc::Receiver<Command>) {
        for socket in &self.sockets {
            // Errors surface, and are counted, at the first send.
            let _ = socket.writable().await;
        }
        let ready = self.sockets.iter().map(|s| readiness(s)).collect();
        // Field order is drop order: the sockets close before `inbox` tells handles we stopped.
        let mut task = Task { driver: self, ready, next: 0, inbox };
        let sleep = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(sleep);
        let mut armed = None;
        loop {
            let driver = &mut task.driver;
            driver.flush();
            let deadline = driver.node.poll_timeout();
            // Compare the clock with the deadline ourselves: a due deadline is handled now,
            // whether or not the sleep future has fired (tokio's budget may hold it back).
            if deadline.is_some_and(|d| d <= now(&driver.clock)) {
                driver.node.tick(now(&driver.clock));
                // The core never asks for this twice in a row after a drain; should it ever,
                // the runtime still gets its turn.
                tokio::task::consume_budget().await;
                continue;
            }
            if deadline != armed {
                if let Some(d) = deadline {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(driver.clock.to_std(d)));
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
                    task.ready[link] = readiness(&task.driver.sockets[link]);
                }
                () = &mut sleep, if deadline.is_some() => {
                    // A fired sleep stays fired: arm it afresh next turn.
                    armed = None;
                }
                () = precise::fired(task.driver.precise.as_ref()), if deadline.is_some() => {
                    armed = None;
                }
            }
            task.driver.node.tick(now(&task.driver.clock));
        }
    }

    fn arm_precise(&mut self, deadline: Instant) {
        let after = deadline.saturating_duration_since(now(&self.clock));
        if let Err(err) = precise::arm(self.precise.as_ref(), after) {
            self.io.record(Direction::Receive, &err);
        }
    }

    /// Handles a command; returns whether to keep running.
    fn command(&mut self, command: Option<Command>) -> bool {
        match command {
            Some(Command::AddPeer(id, addrs, reply)) => {
                let _ = reply.send(self.add_peer(id, &addrs));
            }
            Some(Command::RemovePeer(id, reply)) => {
                let _ = reply.send(self.routes.remove_peer(&mut self.node, id));
            }
            Some(Command::Status(reply)) => {
                let _ = reply.send(self.status());
            }
            Some(Command::Stop { goodbye }) => {
                if goodbye {
                    self.leave();
                }
                return false;
            }
            // Every handle is gone: nobody can stop us any more, so leave now.
            None => {
                self.leave();
                return false;
            }
        }
        true
    }

    fn leave(&mut self) {
        self.node.leave(now(&self.clock));
        self.flush();
    }

    /// Reads what `link` holds (up to a batch) into the core.
    fn receive(&mut self, link: usize) {
        let id = LinkId(u8::try_from(link).unwrap_or(u8::MAX));
        for _ in 0..RECV_BATCH {
            match self.sockets[link].try_recv_from(&mut self.rx) {
                Ok((len, from)) => {
                    self.io.received += 1;
                    if let Err(rejected) = self.node.on_message(now(&self.clock), id, &self.rx[..len]) {
                        tracing::trace!(%from, %rejected, "frame refused");
                    }
                    self.deliver();
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) => {
                    self.io.record(Direction::Receive, &err);
                    if !matches!(err.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted) {
                        return;
                    }
                }
            }
        }
    }

    /// Sends every pending frame and publishes every pending event (the drain rule).
    fn flush(&mut self) {
        // The buffer holds MAX_FRAME_LEN bytes, the longest frame: it is never too small.
        while let Some(Ok(transmit)) = self.node.poll_transmit(&mut self.tx) {
            let frame = &self.tx[..transmit.len];
            let mut routed = false;
            for (link, addr) in self.routes.targets(transmit.destination) {
                routed = true;
                // Never wait for room: a heartbeat that cannot leave now is lost, like any datagram.
                match self.sockets[link].try_send_to(frame, addr) {
                    Ok(_) => self.io.sent += 1,
                    Err(err) => self.io.record(Direction::Send, &err),
                }
            }
            if !routed {
                self.io.unroutable += 1;
                tracing::debug!(destination = ?transmit.destination, "no address to send to");
            }
        }
        self.deliver();
    }

    fn deliver(&mut self) {
        while let Some(event) = self.node.poll_event() {
            // No subscriber is not an error.
            let _ = self.events.send(event);
        }
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
