//! The driver on a thread of its own, controlled through a [`Handle`].

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::thread::JoinHandle;

use heartbeat_proto::{Detector, Event, LinkId, NodeId};

use crate::clock::Clock;
use crate::command::{AddPeerError, Command, Reply};
use crate::driver::Driver;
use crate::io_stats::Status;

/// The driver thread has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the driver has stopped")]
pub struct Stopped;

/// Controls a driver running on its own thread. Dropping it shuts the driver down with a
/// goodbye, like [`shutdown`](Self::shutdown).
#[must_use = "dropping the handle stops the node"]
pub struct Handle {
    commands: mpsc::Sender<Command>,
    // Each command is followed by a byte here, which wakes the driver out of its wait.
    waker: UnixDatagram,
    thread: Option<JoinHandle<()>>,
    clock: Clock,
    local: Vec<SocketAddr>,
}

impl<D> Driver<D>
where
    D: Detector + Send + 'static,
    D::PeerState: Send,
{
    /// Runs the driver on a new thread, handing every event to `on_event` there (a closure that
    /// forwards into a channel makes a channel of it).
    pub fn spawn(self, mut on_event: impl FnMut(Event) + Send + 'static) -> io::Result<Handle> {
        let (waker, wakee) = UnixDatagram::pair()?;
        waker.set_nonblocking(true)?;
        wakee.set_nonblocking(true)?;
        let (commands, inbox) = mpsc::channel();
        let clock = self.clock();
        let local = self.local_addrs()?;
        let name = format!("heartbeat-{}", self.node().config().node());
        let thread = std::thread::Builder::new().name(name).spawn(move || self.serve(&inbox, &wakee, &mut on_event))?;
        Ok(Handle { commands, waker, thread: Some(thread), clock, local })
    }

    fn serve(mut self, inbox: &mpsc::Receiver<Command>, wakee: &UnixDatagram, on_event: &mut impl FnMut(Event)) {
        loop {
            if !self.turn_with(None, Some(wakee.as_fd()), on_event) {
                continue;
            }
            while wakee.recv(&mut [0; 8]).is_ok() {}
            loop {
                match inbox.try_recv() {
                    Ok(command) => {
                        if !self.core_mut().command(command, on_event) {
                            return;
                        }
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        self.leave(on_event);
                        return;
                    }
                }
            }
        }
    }
}

impl Handle {
    fn send(&self, command: Command) -> Result<(), Stopped> {
        self.commands.send(command).map_err(|_| Stopped)?;
        // A full wake-up queue already holds a wake-up.
        let _ = self.waker.send(&[1]);
        Ok(())
    }

    fn ask<T: Send + 'static>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Stopped> {
        let (reply, answer) = mpsc::channel();
        self.send(command(Reply::new(move |value| {
            let _ = reply.send(value);
        })))?;
        answer.recv().map_err(|_| Stopped)
    }

    /// Monitors and sends to `id` at `addrs` (address `i` on link `i`).
    pub fn add_peer(&self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        self.ask(|reply| Command::AddPeer { id, addrs: addrs.to_vec(), reply }).unwrap_or(Err(AddPeerError::Stopped))
    }

    /// Stops monitoring `id`; returns whether it was a peer.
    pub fn remove_peer(&self, id: NodeId) -> Result<bool, Stopped> {
        self.ask(|reply| Command::RemovePeer { id, reply })
    }

    /// Sends frames for every node on `link` to `addr` (multicast group or broadcast address);
    /// returns whether there is such a link.
    pub fn set_group(&self, link: LinkId, addr: SocketAddr) -> Result<bool, Stopped> {
        self.ask(|reply| Command::SetGroup { link, addr, reply })
    }

    /// Says goodbye to every peer and keeps running: peers report `Left`, and this node keeps
    /// monitoring them but sends nothing more.
    pub fn leave(&self) -> Result<(), Stopped> {
        self.send(Command::Leave)
    }

    /// Every peer's status and the counters, as of now.
    pub fn status(&self) -> Result<Status, Stopped> {
        self.ask(Command::Status)
    }

    /// The clock that stamps this driver's events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// Sends a goodbye to every peer, stops the thread and closes the sockets.
    pub fn shutdown(mut self) {
        self.stop(true);
    }

    /// Stops the thread and closes the sockets without a goodbye, as a crash would: peers
    /// declare this node down after its timeout.
    pub fn abort(mut self) {
        self.stop(false);
    }

    fn stop(&mut self, goodbye: bool) {
        let _ = self.send(Command::Stop { goodbye });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop(true);
    }
}
