//! Controlling a running wire v1 driver task from anywhere: a cheap, cloneable [`Handle`].

use std::net::SocketAddr;
use std::sync::Arc;

use heartbeat_proto::{Config, Detector, Event, FixedFieldError, FixedTimeout, LinkId, NodeId};
use heartbeat_std::{AddPeerError, Clock, Status, Stopped, V1Node};

use crate::driver::V1Sockets;
use crate::events::Subscription;
use crate::socket::Socket;
use crate::task::TaskHandle;

/// Controls a driver task. Clone it freely; when the last clone is dropped the driver says
/// goodbye and stops the next time it runs. A runtime that ends right after drops the task
/// before it can: peers then see this node go `Down`, not `Left`. Await
/// [`shutdown`](Self::shutdown) before the runtime ends to be sure of the goodbye.
///
/// Every method is cancellation-safe: dropping its future part-way leaves the driver
/// consistent (a command already sent is carried out, its answer is discarded).
#[must_use = "dropping the last handle stops the node"]
pub struct Handle<S: Socket = tokio::net::UdpSocket, D: Detector = FixedTimeout> {
    task: TaskHandle<V1Node<D>, V1Sockets<S>>,
    local: Arc<[SocketAddr]>,
}

impl<S: Socket, D: Detector> Clone for Handle<S, D> {
    fn clone(&self) -> Self {
        Handle { task: self.task.clone(), local: Arc::clone(&self.local) }
    }
}

impl<S: Socket, D: Detector + Send + 'static> Handle<S, D>
where
    D::PeerState: Send,
{
    pub(crate) fn new(task: TaskHandle<V1Node<D>, V1Sockets<S>>, local: Vec<SocketAddr>) -> Self {
        Handle { task, local: local.into() }
    }

    /// Monitors and sends to `id` at `addrs` (address `i` on link `i`).
    pub async fn add_peer(&self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        let addrs = addrs.to_vec();
        let added = self.task.run(move |core| core.add_peer(id, &addrs)).await;
        added.unwrap_or(Err(AddPeerError::Stopped))
    }

    /// Moves `id` to `addrs`, keeping its state, replay window and history (see
    /// [`Node::move_peer`](heartbeat_proto::Node::move_peer)).
    pub async fn move_peer(&self, id: NodeId, addrs: &[SocketAddr]) -> Result<(), AddPeerError> {
        let addrs = addrs.to_vec();
        let moved = self.task.run(move |core| core.move_peer(id, &addrs)).await;
        moved.unwrap_or(Err(AddPeerError::Stopped))
    }

    /// Stops monitoring `id`, silently; returns whether it was a peer.
    pub async fn remove_peer(&self, id: NodeId) -> Result<bool, Stopped> {
        self.task.run(move |core| core.remove_peer(id)).await
    }

    /// Takes over new timing and (when `config` holds them) keys, every peer's state kept,
    /// between two of the driver's turns; the outer error says the driver stopped, the inner
    /// one names a field only a new node can change (nothing changed then). See
    /// [`Node::reconfigure`](heartbeat_proto::Node::reconfigure).
    pub async fn reconfigure(&self, config: Config) -> Result<Result<(), FixedFieldError>, Stopped> {
        self.task.run(move |core| core.reconfigure(config)).await
    }

    /// Replaces the detector, every peer's record kept. See
    /// [`Node::replace_detector`](heartbeat_proto::Node::replace_detector).
    pub async fn replace_detector(&self, detector: D) -> Result<(), Stopped> {
        self.task.run(move |core| core.replace_detector(detector)).await
    }

    /// Sends frames for every node on `link` to `addr` (multicast group or broadcast address);
    /// returns whether there is such a link.
    pub async fn set_group(&self, link: LinkId, addr: SocketAddr) -> Result<bool, Stopped> {
        self.task.run(move |core| core.set_group(link, addr)).await
    }

    /// Says goodbye to every peer and keeps running: peers report `Left`, and this node keeps
    /// monitoring them but sends nothing more.
    pub async fn leave(&self) -> Result<(), Stopped> {
        self.task.post(|core| core.start_leaving()).await
    }

    /// Every peer's status and the counters, as of now.
    pub async fn status(&self) -> Result<Status, Stopped> {
        self.task.run(|core| core.status()).await
    }

    /// Every peer's replay watermark, as of now, to persist (see
    /// [`Node::watermarks`](heartbeat_proto::Node::watermarks)).
    pub async fn watermarks(&self) -> Result<Vec<(NodeId, heartbeat_proto::Watermark)>, Stopped> {
        self.task.run(|core| core.watermarks()).await
    }

    /// A receiver of every event from now on; it never misses one (see [`Subscription`]).
    pub fn subscribe(&self) -> Subscription<Event> {
        self.task.subscribe()
    }

    /// The clock that stamps this driver's events.
    pub fn clock(&self) -> Clock {
        self.task.clock()
    }

    /// The local address of each link.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// Sends a goodbye to every peer and stops; resolves once the sockets are closed.
    pub async fn shutdown(&self) {
        self.task.shutdown().await;
    }

    /// Stops without a goodbye, as a crash would (peers declare this node down after its
    /// timeout); resolves once the sockets are closed.
    pub async fn abort(&self) {
        self.task.abort().await;
    }

    /// Resolves once the driver has stopped and closed its sockets.
    pub async fn stopped(&self) {
        self.task.stopped().await;
    }
}
