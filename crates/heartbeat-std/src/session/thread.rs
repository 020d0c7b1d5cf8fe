//! The server on a thread of its own, controlled through a [`ServerHandle`].

use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

use super::server::{SessionEvent, SessionServer, SessionStatus};
use crate::clock::Clock;
use crate::thread::{Serve, Stopped, Worker};

impl Serve for SessionServer {
    type Event = SessionEvent;

    fn turn_waking(&mut self, waker: BorrowedFd<'_>, on_event: &mut impl FnMut(SessionEvent)) -> bool {
        self.turn_with(None, Some(waker), on_event)
    }

    fn farewell(&mut self, on_event: &mut impl FnMut(SessionEvent)) {
        self.shutdown(on_event);
    }

    fn clock(&self) -> Clock {
        SessionServer::clock(self)
    }
}

impl SessionServer {
    /// Runs the server on a new thread, handing every event to `on_event` there.
    pub fn spawn(self, on_event: impl FnMut(SessionEvent) + Send + 'static) -> io::Result<ServerHandle> {
        let local = self.local_addr();
        let name = format!("zk-server-{}", local.port());
        Ok(ServerHandle { worker: Worker::spawn(self, name, on_event)?, local })
    }
}

/// Controls a [`SessionServer`] running on its own thread. Dropping it stops the server like
/// [`stop`](Self::stop).
#[must_use = "dropping the handle stops the server"]
pub struct ServerHandle {
    worker: Worker<SessionServer>,
    local: SocketAddr,
}

impl ServerHandle {
    /// Where the server listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The clock that dates its events.
    pub fn clock(&self) -> Clock {
        self.worker.clock()
    }

    /// The live sessions and the counters, as of now.
    pub fn status(&self) -> Result<SessionStatus, Stopped> {
        self.worker.run(|s| s.status())
    }

    /// Sends what is queued, closes every connection and stops the thread. The sessions die
    /// with the process.
    pub fn stop(mut self) {
        self.worker.stop(true);
    }
}
