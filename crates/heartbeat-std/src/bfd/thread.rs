//! The BFD driver on a thread of its own, controlled through a [`BfdHandle`].

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc;
use std::thread::JoinHandle;

use heartbeat_proto::bfd::{BfdEvent, BfdHost, SessionConfig};
use heartbeat_proto::engine::SessionHandle;
use heartbeat_proto::{Growable, Instant};

use super::driver::{AddSessionError, BfdDriver, BfdStatus};
use crate::clock::Clock;
use crate::thread::Stopped;

/// A command for the core, run on the driver's thread with the clock's now.
type HostCommand = Box<dyn FnOnce(&mut BfdHost<Growable>, Instant) + Send>;

enum Command {
    AddSession(Box<SessionConfig>, Option<String>, mpsc::Sender<Result<SessionHandle, AddSessionError>>),
    Status(mpsc::Sender<BfdStatus>),
    /// Runs on the driver's thread with the core and the clock's now.
    Host(HostCommand),
    Stop {
        graceful: bool,
    },
}

/// Controls a [`BfdDriver`] running on its own thread. Dropping it shuts the sessions down
/// gracefully, like [`shutdown`](Self::shutdown).
#[must_use = "dropping the handle stops every session"]
pub struct BfdHandle {
    commands: mpsc::Sender<Command>,
    // Each command is followed by a byte here, which wakes the driver out of its wait.
    waker: UnixDatagram,
    thread: Option<JoinHandle<()>>,
    clock: Clock,
}

impl BfdDriver {
    /// Runs the driver on a new thread, handing every event to `on_event` there.
    pub fn spawn(self, mut on_event: impl FnMut(BfdEvent) + Send + 'static) -> io::Result<BfdHandle> {
        let (waker, wakee) = UnixDatagram::pair()?;
        waker.set_nonblocking(true)?;
        wakee.set_nonblocking(true)?;
        let (commands, inbox) = mpsc::channel();
        let clock = self.clock();
        let thread = std::thread::Builder::new()
            .name("heartbeat-bfd".into())
            .spawn(move || self.serve(&inbox, &wakee, &mut on_event))?;
        Ok(BfdHandle { commands, waker, thread: Some(thread), clock })
    }

    fn serve(mut self, inbox: &mpsc::Receiver<Command>, wakee: &UnixDatagram, on_event: &mut impl FnMut(BfdEvent)) {
        loop {
            if !self.turn_with(None, Some(wakee.as_fd()), on_event) {
                continue;
            }
            while wakee.recv(&mut [0; 8]).is_ok() {}
            loop {
                match inbox.try_recv() {
                    Ok(Command::AddSession(config, interface, reply)) => {
                        let _ = reply.send(self.add_session(*config, interface.as_deref()));
                    }
                    Ok(Command::Status(reply)) => {
                        let _ = reply.send(self.status());
                    }
                    Ok(Command::Host(command)) => {
                        let now = self.clock().now();
                        command(self.host_mut(), now);
                    }
                    Ok(Command::Stop { graceful }) => {
                        if graceful {
                            self.shutdown(on_event);
                        }
                        return;
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        self.shutdown(on_event);
                        return;
                    }
                }
            }
        }
    }
}

impl BfdHandle {
    fn send(&self, command: Command) -> Result<(), Stopped> {
        self.commands.send(command).map_err(|_| Stopped)?;
        // A full wake-up queue already holds a wake-up.
        let _ = self.waker.send(&[1]);
        Ok(())
    }

    fn ask<T>(&self, command: impl FnOnce(mpsc::Sender<T>) -> Command) -> Result<T, Stopped> {
        let (reply, answer) = mpsc::channel();
        self.send(command(reply))?;
        answer.recv().map_err(|_| Stopped)
    }

    /// Adds a session (see [`BfdDriver::add_session`]).
    pub fn add_session(
        &self,
        config: SessionConfig,
        interface: Option<&str>,
    ) -> Result<SessionHandle, AddSessionError> {
        let interface = interface.map(str::to_string);
        self.ask(|reply| Command::AddSession(Box::new(config), interface, reply))
            .unwrap_or(Err(AddSessionError::Stopped))
    }

    /// Every session's status and the counters, as of now.
    pub fn status(&self) -> Result<BfdStatus, Stopped> {
        self.ask(Command::Status)
    }

    /// Runs `command` on the driver's thread with the core and the clock's now, and returns
    /// its result: admin down, timing changes, key rotation (see [`BfdDriver::host_mut`]).
    pub fn with_host<T: Send + 'static>(
        &self,
        command: impl FnOnce(&mut BfdHost<Growable>, Instant) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        self.ask(|reply| {
            Command::Host(Box::new(move |host, now| {
                let _ = reply.send(command(host, now));
            }))
        })
    }

    /// The clock that dates this driver's events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Puts every session AdminDown, keeps sending for [`BfdDriver::linger`], then stops the
    /// thread and closes the sockets. Blocks for that time.
    pub fn shutdown(mut self) {
        self.stop(true);
    }

    /// Stops the thread and closes the sockets at once, as a crash would: peers detect the
    /// failure after their detection time (diag 1).
    pub fn abort(mut self) {
        self.stop(false);
    }

    fn stop(&mut self, graceful: bool) {
        let _ = self.send(Command::Stop { graceful });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BfdHandle {
    fn drop(&mut self) {
        self.stop(true);
    }
}
