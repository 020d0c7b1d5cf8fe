//! Controlling a running driver task from anywhere: a cheap, cloneable [`Handle`].

use std::net::SocketAddr;
use std::sync::Arc;

use heartbeat_proto::{Event, LinkId, NodeId};
use heartbeat_std::{AddPeerError, Clock, Command, Reply, Status, Stopped};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::AbortHandle;

/// Controls a driver task. Clone it freely; when the last clone is dropped the driver says
/// goodbye and stops the next time it runs. A runtime that ends right after drops the task
/// before it can: peers then see this node go `Down`, not `Left`. Await
/// [`shutdown`](Self::shutdown) before the runtime ends to be sure of the goodbye.
///
/// Every method is cancellation-safe: dropping its future part-way leaves the driver
/// consistent (a command already sent is carried out, its answer is discarded).
#[derive(Clone)]
#[must_use = "dropping the last handle stops the node"]
pub struct Handle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    task: AbortHandle,
    clock: Clock,
    local: Arc<[SocketAddr]>,
}

impl Handle {
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        events: broadcast::Sender<Event>,
        task: AbortHandle,
        clock: Clock,
        local: Vec<SocketAddr>,
    ) -> Self {
        Handle { commands, events, task, clock, local: local.into() }
    }

    async fn ask<T: Send + 'static>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Stopped> {
        let (reply, answer) = oneshot::channel();
        let reply = Reply::new(move |value| {
            let _ = reply.send(value);
        });
        self.commands.send(command(reply)).await.map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }

    /// Monitors and sends to `id` at `addrs` (address `i` on link `i`).
    pub async fn add_peer(&self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        let added = self.ask(|reply| Command::AddPeer { id, addrs: addrs.to_vec(), reply }).await;
        added.unwrap_or(Err(AddPeerError::Stopped))
    }

    /// Stops monitoring `id`, silently; returns whether it was a peer.
    pub async fn remove_peer(&self, id: NodeId) -> Result<bool, Stopped> {
        self.ask(|reply| Command::RemovePeer { id, reply }).await
    }

    /// Sends frames for every node on `link` to `addr` (multicast group or broadcast address);
    /// returns whether there is such a link.
    pub async fn set_group(&self, link: LinkId, addr: SocketAddr) -> Result<bool, Stopped> {
        self.ask(|reply| Command::SetGroup { link, addr, reply }).await
    }

    /// Says goodbye to every peer and keeps running: peers report `Left`, and this node keeps
    /// monitoring them but sends nothing more.
    pub async fn leave(&self) -> Result<(), Stopped> {
        self.commands.send(Command::Leave).await.map_err(|_| Stopped)
    }

    /// Every peer's status and the counters, as of now.
    pub async fn status(&self) -> Result<Status, Stopped> {
        self.ask(Command::Status).await
    }

    /// A receiver of every event from now on. A subscriber that falls more than 1024 events
    /// behind is told how many it missed (`RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The clock that stamps this driver's events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// Sends a goodbye to every peer and stops; resolves once the sockets are closed.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Stop { goodbye: true }).await;
        self.stopped().await;
    }

    /// Stops without a goodbye, as a crash would (peers declare this node down after its
    /// timeout); resolves once the sockets are closed.
    pub async fn abort(&self) {
        self.task.abort();
        self.stopped().await;
    }

    /// Resolves once the driver has stopped and closed its sockets.
    pub async fn stopped(&self) {
        self.commands.closed().await;
    }
}
