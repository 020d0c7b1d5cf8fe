//! The BFD driver on a thread of its own: the shared [`Worker`] and BFD's own commands.

use std::io;
use std::os::fd::BorrowedFd;

use heartbeat_proto::Growable;
use heartbeat_proto::Instant;
use heartbeat_proto::bfd::{BfdEvent, BfdHost, SessionConfig};
use heartbeat_proto::engine::SessionHandle;

use super::driver::{AddSessionError, BfdDriver, BfdStatus};
use crate::clock::Clock;
use crate::thread::{Serve, Stopped, Worker};

impl Serve for BfdDriver {
    type Event = BfdEvent;

    fn turn_waking(&mut self, waker: BorrowedFd<'_>, on_event: &mut impl FnMut(BfdEvent)) -> bool {
        self.turn_with(None, Some(waker), on_event)
    }

    fn farewell(&mut self, on_event: &mut impl FnMut(BfdEvent)) {
        self.shutdown(on_event);
    }

    fn clock(&self) -> Clock {
        BfdDriver::clock(self)
    }
}

/// Controls a [`BfdDriver`] running on its own thread. Dropping it shuts the sessions down
/// gracefully, like [`shutdown`](Self::shutdown).
#[must_use = "dropping the handle stops every session"]
pub struct BfdHandle {
    worker: Worker<BfdDriver>,
}

impl BfdDriver {
    /// Runs the driver on a new thread, handing every event to `on_event` there.
    pub fn spawn(self, on_event: impl FnMut(BfdEvent) + Send + 'static) -> io::Result<BfdHandle> {
        Ok(BfdHandle { worker: Worker::spawn(self, "heartbeat-bfd".into(), on_event)? })
    }
}

impl BfdHandle {
    /// Adds a session (see [`BfdDriver::add_session`]).
    pub fn add_session(
        &self,
        config: SessionConfig,
        interface: Option<&str>,
    ) -> Result<SessionHandle, AddSessionError> {
        let interface = interface.map(str::to_string);
        self.worker
            .run(move |driver| driver.add_session(config, interface.as_deref()))
            .unwrap_or(Err(AddSessionError::Stopped))
    }

    /// Every session's status and the counters, as of now.
    pub fn status(&self) -> Result<BfdStatus, Stopped> {
        self.worker.run(|driver| driver.status())
    }

    /// Runs `command` on the driver's thread with the core and the clock's now, and returns
    /// its result: admin down, timing changes, key rotation (see [`BfdDriver::host_mut`]).
    pub fn with_host<T: Send + 'static>(
        &self,
        command: impl FnOnce(&mut BfdHost<Growable>, Instant) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        self.worker.run(move |driver| {
            let now = driver.clock().now();
            command(driver.host_mut(), now)
        })
    }

    /// The clock that dates this driver's events.
    pub fn clock(&self) -> Clock {
        self.worker.clock()
    }

    /// Puts every session AdminDown, keeps sending for [`BfdDriver::linger`], then stops the
    /// thread and closes the sockets. Blocks for that time.
    pub fn shutdown(mut self) {
        self.worker.stop(true);
    }

    /// Stops the thread and closes the sockets at once, as a crash would: peers detect the
    /// failure after their detection time (diag 1).
    pub fn abort(mut self) {
        self.worker.stop(false);
    }
}
