//! [`Heartbeat`]: one core [`Node`] driven by an embassy-net UDP socket and embassy-time.

use core::cell::RefCell;
use core::net::SocketAddr;

use embassy_futures::select::select;
use embassy_net::IpEndpoint;
use embassy_net::udp::UdpSocket;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::channel::DynamicSender;
use embassy_sync::signal::Signal;
use embassy_time::with_deadline;
use heartbeat_proto::{
    Config, Detector, Event, Fixed, LinkId, MAX_FRAME_LEN, MonitorStats, Node, NodeId, PeerError, PeerStatus, RecvMeta,
};

use crate::clock;

/// Why [`Heartbeat::new`] refused a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The configuration numbers more than one link, but the adapter drives one socket: every
    /// datagram arrives on link 0.
    #[error("{links} links configured, but one socket is one link")]
    MultipleLinks {
        /// The configured link count.
        links: u8,
    },
}

/// What the adapter itself did with datagrams, next to the node's own
/// [`MonitorStats`]. Counts saturate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdapterStats {
    /// Datagrams received and handed to the node (which accepts or rejects each, see
    /// [`Heartbeat::node_stats`]).
    pub received: u64,
    /// Frames handed to the socket.
    pub sent: u64,
    /// Frames the socket refused: no route to the peer, socket not bound, or larger than its
    /// send buffer.
    pub send_errors: u64,
    /// Frames with nowhere to go: for a peer without an address yet, for every node while no
    /// broadcast address is set, or to an address of an IP version this build leaves out.
    pub unroutable: u64,
}

/// A heartbeat node on embassy: the core's [`Node`] with a fixed-capacity table of up to
/// `PEERS` peers and their UDP endpoints (the node's own address book: configured, or learned
/// from the source of their frames), shared between the task that [`run`](Self::run)s it and
/// any task that adds peers or asks for status.
///
/// `M` is the mutex kind that guards the state ([`NoopRawMutex`] when every user runs on one
/// executor, [`CriticalSectionRawMutex`] otherwise); `D` is the failure detector.
///
/// The adapter moves bytes and time and nothing else: every decision is the core's.
///
/// [`NoopRawMutex`]: embassy_sync::blocking_mutex::raw::NoopRawMutex
/// [`CriticalSectionRawMutex`]: embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex
pub struct Heartbeat<M: RawMutex, D: Detector, const PEERS: usize> {
    state: Mutex<M, RefCell<State<D, PEERS>>>,
    /// Raised when a caller changed the node, so that `run` re-reads its deadline.
    changed: Signal<M, ()>,
}

struct State<D: Detector, const PEERS: usize> {
    node: Node<D, Fixed<PEERS>>,
    stats: AdapterStats,
}

impl<M: RawMutex, D: Detector, const PEERS: usize> Heartbeat<M, D, PEERS> {
    /// A node with no peers yet, started now. Its first heartbeat round is due at once.
    pub fn new(config: Config, detector: D) -> Result<Self, SetupError> {
        if config.links() != 1 {
            return Err(SetupError::MultipleLinks { links: config.links() });
        }
        let state = State { node: Node::new(config, detector, clock::now()), stats: AdapterStats::default() };
        Ok(Heartbeat { state: Mutex::new(RefCell::new(state)), changed: Signal::new() })
    }

    /// Runs `f` on the state. No caller code runs inside, so the borrow is never contended.
    fn with<R>(&self, f: impl FnOnce(&mut State<D, PEERS>) -> R) -> R {
        self.state.lock(|cell| f(&mut cell.borrow_mut()))
    }

    /// Adds a peer to monitor and send heartbeats to, at `address`.
    ///
    /// Fails with [`PeerError::TableFull`] when `PEERS` peers (or the configured
    /// `max_peers`) are already in the table, and with [`PeerError::AlreadyPresent`] or
    /// [`PeerError::IsSelf`] as the core does; a refused peer changes nothing.
    pub fn add_peer(&self, id: NodeId, address: impl Into<IpEndpoint>) -> Result<(), PeerError> {
        let address = SocketAddr::from(address.into());
        let added = self.with(|s| s.node.add_peer_at(id, &[address]));
        if added.is_ok() {
            self.changed.signal(());
        }
        added
    }

    /// Removes a peer silently; returns whether it was present.
    pub fn remove_peer(&self, id: NodeId) -> bool {
        let removed = self.with(|s| s.node.remove_peer(id));
        self.changed.signal(());
        removed
    }

    /// Sets where frames for every node go (a broadcast or multicast endpoint), used when the
    /// configuration asks for broadcast heartbeats. Unset, such frames are counted as
    /// [`unroutable`](AdapterStats::unroutable).
    pub fn set_broadcast(&self, address: Option<IpEndpoint>) {
        self.with(|s| match address {
            Some(address) => s.node.set_group(LinkId(0), address.into()),
            None => s.node.clear_group(LinkId(0)),
        });
    }

    /// Says goodbye: the next frames sent are goodbyes to every peer, and no heartbeat
    /// follows. The node keeps monitoring its peers.
    pub fn leave(&self) {
        self.with(|s| s.node.leave(clock::now()));
        self.changed.signal(());
    }

    /// One peer's status: liveness, last heard, generation, round-trip times, counters.
    pub fn peer(&self, id: NodeId) -> Option<PeerStatus> {
        self.with(|s| s.node.peer(id))
    }

    /// The ids of every peer in the table, configured and learned.
    pub fn peer_ids(&self) -> heapless::Vec<NodeId, PEERS> {
        self.with(|s| s.node.peers().map(|p| p.id).collect())
    }

    /// The node's counters of accepted and rejected frames.
    pub fn node_stats(&self) -> MonitorStats {
        self.with(|s| *s.node.stats())
    }

    /// The adapter's counters.
    pub fn stats(&self) -> AdapterStats {
        self.with(|s| s.stats)
    }

    /// The node's configuration.
    pub fn config(&self) -> Config {
        self.with(|s| s.node.config().clone())
    }

    /// Drives the node with `socket` (bound by the caller to the port peers send to) and sends
    /// every event to `events`, oldest first. Never returns; drop the future to stop the node
    /// (it then goes silent, as a crashed node would — call [`leave`](Self::leave) first for a
    /// graceful exit).
    ///
    /// The loop is the core's: send every frame, hand over every event, wait for a datagram
    /// or the node's next deadline (or a change made through `&self`), feed the datagram,
    /// tick, repeat.
    ///
    /// A full event channel pauses the loop until the application reads: the node then
    /// neither sends nor receives, so its peers see it stall, as they should when the
    /// application stops working.
    pub async fn run(&self, socket: &mut UdpSocket<'_>, events: DynamicSender<'_, Event>) -> ! {
        let mut frame = [0u8; MAX_FRAME_LEN];
        loop {
            while let Some((to, len)) = self.with(|s| s.poll_transmit(&mut frame)) {
                match to {
                    Some(address) => {
                        let sent = socket.send_to(&frame[..len], address).await;
                        self.with(|s| s.stats.count_send(sent.is_ok()));
                    }
                    None => self.with(|s| bump(&mut s.stats.unroutable)),
                }
            }
            while let Some(event) = self.with(|s| s.node.poll_event()) {
                events.send(event).await;
            }

            // No deadline (nothing scheduled) is a timer that never fires.
            let deadline = self.with(|s| s.node.poll_timeout()).map_or(embassy_time::Instant::MAX, clock::to_embassy);
            let receive = socket.recv_from_with(|datagram, meta| {
                let now = clock::now();
                let from = RecvMeta::new(LinkId(0), SocketAddr::from(meta.endpoint));
                self.with(|s| {
                    bump(&mut s.stats.received);
                    // The node counts what it rejects; the adapter has nothing to add.
                    let _ = s.node.on_message(now, from, datagram);
                });
            });
            // Whatever ends the wait — a datagram (already fed to the node), a change, or the
            // deadline — the next step is the same: tick.
            let _ = with_deadline(deadline, select(receive, self.changed.wait())).await;
            let now = clock::now();
            self.with(|s| s.node.tick(now));
        }
    }
}

impl<D: Detector, const PEERS: usize> State<D, PEERS> {
    /// Writes the node's next frame into `frame` and says where it goes (`None`: nowhere).
    fn poll_transmit(&mut self, frame: &mut [u8; MAX_FRAME_LEN]) -> Option<(Option<IpEndpoint>, usize)> {
        // `frame` holds MAX_FRAME_LEN bytes, the longest frame: it is never too small.
        let transmit = self.node.poll_transmit(frame)?.ok()?;
        // One socket, one link: a frame has at most one target.
        let to = self.node.targets(transmit).next().and_then(|target| endpoint(target.destination));
        Some((to, transmit.len))
    }
}

impl AdapterStats {
    fn count_send(&mut self, ok: bool) {
        bump(if ok { &mut self.sent } else { &mut self.send_errors });
    }
}

/// `addr` as an embassy-net endpoint, if this build has its IP version.
fn endpoint(addr: SocketAddr) -> Option<IpEndpoint> {
    match addr {
        #[cfg(feature = "proto-ipv4")]
        SocketAddr::V4(v4) => Some(v4.into()),
        #[cfg(feature = "proto-ipv6")]
        SocketAddr::V6(v6) => Some(v6.into()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

fn bump(counter: &mut u64) {
    *counter = counter.saturating_add(1);
}
