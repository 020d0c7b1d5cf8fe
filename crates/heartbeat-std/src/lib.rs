//! A blocking driver for the [`heartbeat_proto`] state machines over `std::net::UdpSocket`.
//!
//! The driver moves bytes and time and nothing else: it reads datagrams into
//! [`Node::on_message`](heartbeat_proto::Node::on_message) with the link they arrived on and
//! their source address, calls `tick` with the clock's time after every wake-up, sends what
//! `poll_transmit` produces to where the node's address book says
//! ([`Node::targets`](heartbeat_proto::Node::targets)) and hands every event to you. Every
//! liveness decision, and every address, is the core's.
//!
//! All of that is the [`DriverCore`], written once for every wire profile (any
//! [`Machine`](heartbeat_proto::engine::Machine) over any [`Sockets`] set) and shared with
//! `heartbeat-tokio`; the [`BlockingDriver`] adds only its wait (`poll` and a `timerfd`), and
//! the [`Worker`] its thread. [`Driver`] and [`Handle`] are wire v1's commands on top, and
//! [`bfd`]'s driver BFD's, [`linuxha`]'s Linux-HA Heartbeat's. [`session`] is different: TCP
//! drivers (a server of many connections, a client) for the ZooKeeper-style session machines of
//! `heartbeat_session`.
//!
//! - **Links.** One socket per link (`Config::links`); a peer has one address per link,
//!   configured or learned from the source of its accepted frames.
//!   With several links the peer stays up while any link delivers, and each link's own
//!   `LinkUp`/`LinkDown` is reported (Linux-HA's redundant heartbeat media).
//! - **Addressing.** Unicast over IPv4 and IPv6, or, with `Config::broadcast`, one frame per
//!   round to a multicast group or broadcast address per link (see [`socket`]).
//! - **Waiting.** `poll` on every socket and, on Linux, a [`PreciseTimer`] (`timerfd`) armed for
//!   the node's next deadline: unlike a `poll` timeout it is not padded by timer slack, so a
//!   peer is declared down within microseconds of its deadline. Elsewhere the deadline is the
//!   `ppoll` timeout, in nanoseconds.
//! - **Errors.** Socket errors (ICMP port unreachable surfacing as `ECONNREFUSED`, `EINTR`,
//!   a full buffer) are counted in [`IoStats`] and logged through `tracing`; none stops the
//!   driver.
//! - **Running it.** Own the loop with [`Driver::turn`]/[`Driver::run`], or move the driver to
//!   a thread with [`Driver::spawn`] and control it through a [`Handle`] (status at any time,
//!   peers added and removed, shutdown with goodbye).
//!
//! Unix only (the wait is `poll(2)`).
//!
//! # Example: two nodes on loopback
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use heartbeat_proto::{Authentication, ClusterId, Config, EventKind, FixedTimeout, NodeId};
//! use heartbeat_std::{Clock, Driver, socket};
//!
//! let id = |n| NodeId::new(n).unwrap();
//! let config = |me| {
//!     Config::builder(ClusterId(7), id(me))
//!         .authentication(Authentication::None)
//!         .tick(Duration::from_millis(50))
//!         .interval(Duration::from_millis(50))
//!         .timeout(Duration::from_millis(300))
//!         .build()
//! };
//! let clock = Clock::new();
//! let loopback = "127.0.0.1:0".parse()?;
//! let mut a = Driver::new(config(1)?, FixedTimeout::new(), vec![socket::unicast(loopback)?], clock)?;
//! let mut b = Driver::new(config(2)?, FixedTimeout::new(), vec![socket::unicast(loopback)?], clock)?;
//! a.add_peer(id(2), &b.local_addrs()?)?;
//! b.add_peer(id(1), &a.local_addrs()?)?;
//!
//! let (events, seen) = mpsc::channel();
//! let a = a.spawn(move |event| { let _ = events.send(event); })?;
//! let b = b.spawn(|_| {})?;
//! let up = seen.recv_timeout(Duration::from_secs(5))?;
//! assert!(matches!(up.kind, EventKind::Up { .. }));
//! b.shutdown(); // goodbye: `a` reports Left, not Down
//! while let Ok(event) = seen.recv_timeout(Duration::from_secs(5)) {
//!     if event.kind == EventKind::Left { break; }
//! }
//! a.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![cfg(unix)]

#[cfg(target_os = "linux")]
pub mod bfd;
pub mod blocking;
mod clock;
mod command;
mod driver;
pub mod driver_core;
mod io_stats;
pub mod linuxha;
#[cfg(target_os = "linux")]
mod precise;
#[cfg(target_os = "linux")]
pub mod session;
pub mod socket;
mod thread;

pub use blocking::{BlockingDriver, PollSockets};
pub use clock::Clock;
pub use command::{AddPeerError, Command, Job};
pub use driver::{Driver, SetupError};
pub use driver_core::{DatagramSocket, DriverCore, LinkCountError, LinkSockets, Sockets, V1Node};
pub use io_stats::{Direction, IoStats, Status};
#[cfg(target_os = "linux")]
pub use precise::PreciseTimer;
pub use thread::{Handle, Serve, Stopped, Worker};
