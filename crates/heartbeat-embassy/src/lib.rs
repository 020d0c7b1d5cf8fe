//! Runs a [`heartbeat_proto`] node on [embassy]: UDP through [`embassy_net::udp::UdpSocket`],
//! time from [`embassy_time`], events through an [`embassy_sync`] channel. `no_std`, no
//! allocator: the peer table is the core's inline [`Fixed`](heartbeat_proto::Fixed) storage, so
//! a [`Heartbeat`] for `PEERS` peers is one fixed-size value you can put in a `static`.
//!
//! The adapter moves bytes and time and nothing else. [`Heartbeat::run`] is the core's driver
//! loop: send every frame the node writes, hand every event to the application, wait for a
//! datagram or the node's next deadline (`embassy_time::with_deadline`), feed the datagram,
//! tick. Every decision — who is up, suspect, down, restarted — is the core's.
//!
//! - **Time**: the core's [`Instant`](heartbeat_proto::Instant) is embassy time since boot, in
//!   nanoseconds; deadlines are rounded up to whole embassy ticks so a timer never fires early
//!   (see [`clock`]).
//! - **Peers**: [`Heartbeat::add_peer`] takes a node id and its UDP endpoint, which the core's
//!   address book keeps (a peer learned from the wire is reached at the source of its frames).
//!   A full table refuses with [`PeerError::TableFull`](heartbeat_proto::PeerError::TableFull)
//!   and changes nothing.
//! - **Status**: [`Heartbeat::peer`], [`Heartbeat::peer_ids`], [`Heartbeat::node_stats`] and
//!   [`Heartbeat::stats`] may be called from any task while another runs the node.
//! - **One socket, one link**: every datagram arrives on link 0; configurations with more
//!   links are refused.
//!
//! # Example
//!
//! ```no_run
//! use core::time::Duration;
//! use embassy_net::udp::{PacketMetadata, UdpSocket};
//! use embassy_net::{IpAddress, IpEndpoint, Ipv4Address, Stack};
//! use embassy_sync::blocking_mutex::raw::NoopRawMutex;
//! use embassy_sync::channel::Channel;
//! use heartbeat_embassy::Heartbeat;
//! use heartbeat_proto::{Authentication, ClusterId, Config, Event, EventKind, FixedTimeout, MAX_FRAME_LEN, NodeId};
//!
//! const PORT: u16 = 7000;
//!
//! async fn heartbeat(stack: Stack<'_>) -> Result<(), Box<dyn std::error::Error>> {
//!     let me = NodeId::new(1).unwrap();
//!     let config = Config::builder(ClusterId(7), me).authentication(Authentication::None).timeout(Duration::from_millis(600)).build()?;
//!     // Room for 8 peers, inline.
//!     let node: Heartbeat<NoopRawMutex, FixedTimeout, 8> = Heartbeat::new(config, FixedTimeout::new())?;
//!     let peer = NodeId::new(2).unwrap();
//!     node.add_peer(peer, IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), PORT))?;
//!
//!     let (mut rx_meta, mut tx_meta) = ([PacketMetadata::EMPTY; 4], [PacketMetadata::EMPTY; 4]);
//!     let (mut rx, mut tx) = ([0; 4 * MAX_FRAME_LEN], [0; 4 * MAX_FRAME_LEN]);
//!     let mut socket = UdpSocket::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx);
//!     socket.bind(PORT).map_err(|e| format!("{e:?}"))?;
//!
//!     let events = Channel::<NoopRawMutex, Event, 4>::new();
//!     let application = async {
//!         loop {
//!             let event = events.receive().await;
//!             if let EventKind::Down { .. } = event.kind {
//!                 // fail over, alert, ...
//!             }
//!         }
//!     };
//!     embassy_futures::join::join(node.run(&mut socket, events.dyn_sender()), application).await;
//!     Ok(())
//! }
//! ```
//!
//! # Features
//!
//! - `proto-ipv4` (default), `proto-ipv6`, `medium-ip` (default), `medium-ethernet`: passed to
//!   embassy-net, which needs at least one IP version and one medium.
//! - `link`: the `link` module, an in-memory point-to-point driver joining two stacks in one program.
//!
//! [embassy]: https://embassy.dev

#![no_std]
#![forbid(unsafe_code)]

pub mod clock;
mod heartbeat;
#[cfg(any(test, feature = "link"))]
pub mod link;
#[cfg(test)]
mod tests;

pub use heartbeat::{AdapterStats, Heartbeat, SetupError};
