//! A driver on a thread of its own, controlled through a [`Worker`]: written once for every
//! profile. Wire v1's [`Handle`] and BFD's `BfdHandle` are a [`Worker`] and the profile's own
//! commands, each a [`Job`] run on the driver's thread.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::thread::JoinHandle;

use heartbeat_proto::{Detector, Event, FixedTimeout, LinkId, NodeId};

use crate::clock::Clock;
use crate::command::{AddPeerError, Command, Job};
use crate::driver::Driver;
use crate::io_stats::Status;

/// The driver thread has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the driver has stopped")]
pub struct Stopped;

/// A driver that can run on a thread of its own: one turn of its loop that also wakes for a
/// command, and its graceful stop.
pub trait Serve: Send + 'static {
    /// What it reports.
    type Event;
    /// One turn that also wakes when `waker` becomes readable; returns whether it did.
    fn turn_waking(&mut self, waker: BorrowedFd<'_>, on_event: &mut impl FnMut(Self::Event)) -> bool;
    /// Takes leave of the peers (wire v1: a goodbye; BFD: AdminDown, then linger).
    fn farewell(&mut self, on_event: &mut impl FnMut(Self::Event));
    /// The clock that dates its events.
    fn clock(&self) -> Clock;
}

/// Controls a driver of any profile running on its own thread. Dropping it stops the driver
/// gracefully, like [`stop`](Self::stop)`(true)`.
#[must_use = "dropping the worker stops the driver"]
pub struct Worker<C> {
    commands: mpsc::Sender<Command<C>>,
    // Each command is followed by a byte here, which wakes the driver out of its wait.
    waker: UnixDatagram,
    thread: Option<JoinHandle<()>>,
    clock: Clock,
}

impl<C: Serve> Worker<C> {
    /// Runs `driver` on a new thread called `name`, handing every event to `on_event` there (a
    /// closure that forwards into a channel makes a channel of it).
    pub fn spawn(
        driver: C,
        name: String,
        mut on_event: impl FnMut(C::Event) + Send + 'static,
    ) -> io::Result<Worker<C>> {
        let (waker, wakee) = UnixDatagram::pair()?;
        waker.set_nonblocking(true)?;
        wakee.set_nonblocking(true)?;
        let (commands, inbox) = mpsc::channel();
        let clock = driver.clock();
        let thread =
            std::thread::Builder::new().name(name).spawn(move || serve(driver, &inbox, &wakee, &mut on_event))?;
        Ok(Worker { commands, waker, thread: Some(thread), clock })
    }
}

fn serve<C: Serve>(
    mut driver: C,
    inbox: &mpsc::Receiver<Command<C>>,
    wakee: &UnixDatagram,
    on_event: &mut impl FnMut(C::Event),
) {
    loop {
        if !driver.turn_waking(wakee.as_fd(), on_event) {
            continue;
        }
        while wakee.recv(&mut [0; 8]).is_ok() {}
        loop {
            match inbox.try_recv() {
                Ok(Command::Run(job)) => job(&mut driver),
                Ok(Command::Stop { graceful }) => {
                    if graceful {
                        driver.farewell(on_event);
                    }
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    driver.farewell(on_event);
                    return;
                }
            }
        }
    }
}

impl<C> Worker<C> {
    fn send(&self, command: Command<C>) -> Result<(), Stopped> {
        self.commands.send(command).map_err(|_| Stopped)?;
        // A full wake-up queue already holds a wake-up.
        let _ = self.waker.send(&[1]);
        Ok(())
    }

    /// Runs `job` on the driver's thread, between two turns, and returns its result. What it
    /// queues goes out at the turn that follows.
    pub fn run<T: Send + 'static>(&self, job: impl FnOnce(&mut C) -> T + Send + 'static) -> Result<T, Stopped> {
        let (reply, answer) = mpsc::channel();
        self.post(move |driver| {
            // An asker that went away is not an error.
            let _ = reply.send(job(driver));
        })?;
        answer.recv().map_err(|_| Stopped)
    }

    /// Queues `job` for the driver's thread without waiting for it.
    pub fn post(&self, job: impl FnOnce(&mut C) + Send + 'static) -> Result<(), Stopped> {
        let job: Job<C> = Box::new(job);
        self.send(Command::Run(job))
    }

    /// The clock that dates the driver's events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Stops the thread, after the driver's farewell if `graceful`, and waits for it. Later
    /// calls do nothing.
    pub fn stop(&mut self, graceful: bool) {
        let _ = self.send(Command::Stop { graceful });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<C> Drop for Worker<C> {
    fn drop(&mut self) {
        self.stop(true);
    }
}

impl<D> Serve for Driver<D>
where
    D: Detector + Send + 'static,
    D::PeerState: Send,
{
    type Event = Event;

    fn turn_waking(&mut self, waker: BorrowedFd<'_>, on_event: &mut impl FnMut(Event)) -> bool {
        self.turn_with(None, Some(waker), on_event)
    }

    fn farewell(&mut self, on_event: &mut impl FnMut(Event)) {
        self.leave(on_event);
    }

    fn clock(&self) -> Clock {
        Driver::clock(self)
    }
}

/// Controls a wire v1 driver running on its own thread. Dropping it shuts the driver down with
/// a goodbye, like [`shutdown`](Self::shutdown).
#[must_use = "dropping the handle stops the node"]
pub struct Handle<D: Detector = FixedTimeout> {
    worker: Worker<Driver<D>>,
    local: Vec<SocketAddr>,
}

impl<D> Driver<D>
where
    D: Detector + Send + 'static,
    D::PeerState: Send,
{
    /// Runs the driver on a new thread, handing every event to `on_event` there (a closure that
    /// forwards into a channel makes a channel of it).
    pub fn spawn(self, on_event: impl FnMut(Event) + Send + 'static) -> io::Result<Handle<D>> {
        let local = self.local_addrs()?;
        let name = format!("heartbeat-{}", self.node().config().node());
        Ok(Handle { worker: Worker::spawn(self, name, on_event)?, local })
    }
}

impl<D> Handle<D>
where
    D: Detector + Send + 'static,
    D::PeerState: Send,
{
    /// Monitors and sends to `id` at `addrs` (address `i` on link `i`).
    pub fn add_peer(&self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        let addrs = addrs.to_vec();
        self.worker.run(move |d| d.add_peer(id, &addrs)).unwrap_or(Err(AddPeerError::Stopped))
    }

    /// Stops monitoring `id`; returns whether it was a peer.
    pub fn remove_peer(&self, id: NodeId) -> Result<bool, Stopped> {
        self.worker.run(move |d| d.remove_peer(id))
    }

    /// Takes over new timing and (when `config` holds them) keys on the driver's thread, every
    /// peer's state kept; the inner error names a field only a new node can change. See
    /// [`Node::reconfigure`](heartbeat_proto::Node::reconfigure).
    pub fn reconfigure(
        &self,
        config: heartbeat_proto::Config,
    ) -> Result<Result<(), heartbeat_proto::FixedFieldError>, Stopped> {
        self.worker.run(move |d| d.reconfigure(config))
    }

    /// Replaces the detector on the driver's thread, every peer's record kept. See
    /// [`Node::replace_detector`](heartbeat_proto::Node::replace_detector).
    pub fn replace_detector(&self, detector: D) -> Result<(), Stopped> {
        self.worker.run(move |d| d.replace_detector(detector))
    }

    /// Sends frames for every node on `link` to `addr` (multicast group or broadcast address);
    /// returns whether there is such a link.
    pub fn set_group(&self, link: LinkId, addr: SocketAddr) -> Result<bool, Stopped> {
        self.worker.run(move |d| d.set_group(link, addr))
    }

    /// Says goodbye to every peer and keeps running: peers report `Left`, and this node keeps
    /// monitoring them but sends nothing more.
    pub fn leave(&self) -> Result<(), Stopped> {
        self.worker.post(|d| d.core_mut().start_leaving())
    }

    /// Every peer's status and the counters, as of now.
    pub fn status(&self) -> Result<Status, Stopped> {
        self.worker.run(|d| d.status())
    }
}

impl<D: Detector> Handle<D> {
    /// The clock that stamps this driver's events.
    pub fn clock(&self) -> Clock {
        self.worker.clock()
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// Sends a goodbye to every peer, stops the thread and closes the sockets.
    pub fn shutdown(mut self) {
        self.worker.stop(true);
    }

    /// Stops the thread and closes the sockets without a goodbye, as a crash would: peers
    /// declare this node down after its timeout.
    pub fn abort(mut self) {
        self.worker.stop(false);
    }
}
