//! An async driver for the [`heartbeat_proto`] state machines on tokio.
//!
//! One task owns the node and its sockets and moves bytes and time, nothing else: it reads
//! datagrams into the core with the link they arrived on and their source address, calls `tick`
//! after every wake-up, sends what `poll_transmit` produces to where the node's address book
//! says (never waiting for socket room: a heartbeat that cannot leave now is dropped and
//! counted), and publishes every event to each subscriber's own queue, which never drops one. All of that is
//! `heartbeat_std`'s [`DriverCore`](heartbeat_std::DriverCore), shared with the blocking
//! driver and written once for every wire profile; this crate adds only the waiting
//! ([`AsyncDriver`], which runs any [`Machine`](heartbeat_proto::engine::Machine) over a
//! [`WaitSockets`] set, controlled through a [`TaskHandle`]). [`Driver`] and [`Handle`] are wire
//! v1's commands on top.
//!
//! - Time is `tokio::time`, so tests can run under `tokio::time::pause()` or a simulator. The
//!   task compares the clock with the node's deadline itself rather than trusting the sleep
//!   future alone, and only re-arms the sleep when the deadline changes.
//! - Nothing blocks the runtime; every branch the task waits on is cancellation-safe.
//! - The [`Handle`] adds and removes peers, queries status, subscribes to events and shuts the
//!   node down with a goodbye. Sockets are anything implementing [`Socket`]
//!   (`tokio::net::UdpSocket` out of the box). Links, addressing, status and error counters
//!   are those of `heartbeat_std`.
//!
//! Note: tokio's timers have a resolution of one millisecond, so by default a `Down` comes up to
//! about 2 ms after its deadline. On Linux, [`Driver::precise_timer`] adds a nanosecond
//! `timerfd` for real-time use (not under a paused or simulated clock).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use heartbeat_proto::{Authentication, ClusterId, Config, EventKind, FixedTimeout, NodeId};
//! use heartbeat_tokio::{Driver, tokio_clock};
//! use tokio::net::UdpSocket;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let id = |n| NodeId::new(n).unwrap();
//! let config = |me| {
//!     Config::builder(ClusterId(7), id(me))
//!         .authentication(Authentication::None)
//!         .tick(Duration::from_millis(50))
//!         .interval(Duration::from_millis(50))
//!         .timeout(Duration::from_millis(300))
//!         .build()
//! };
//! let (sa, sb) = (UdpSocket::bind("127.0.0.1:0").await?, UdpSocket::bind("127.0.0.1:0").await?);
//! let (addr_a, addr_b) = (sa.local_addr()?, sb.local_addr()?);
//! let clock = tokio_clock();
//! let mut a = Driver::new(config(1)?, FixedTimeout::new(), vec![sa], clock)?;
//! let mut b = Driver::new(config(2)?, FixedTimeout::new(), vec![sb], clock)?;
//! a.add_peer(id(2), &[addr_b])?;
//! b.add_peer(id(1), &[addr_a])?;
//! let mut events = a.subscribe();
//! let (a, b) = (a.spawn(), b.spawn());
//!
//! let up = tokio::time::timeout(Duration::from_secs(5), events.recv()).await??;
//! assert!(matches!(up.kind, EventKind::Up { .. }));
//! b.shutdown().await; // goodbye: `a` reports Left, not Down
//! while events.recv().await?.kind != EventKind::Left {}
//! println!("{:?}", a.status().await?.peers[0].liveness); // Left
//! a.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![cfg(unix)]

#[cfg(target_os = "linux")]
pub mod bfd;
mod driver;
mod events;
mod handle;
#[cfg(target_os = "linux")]
mod precise;
pub mod session;
mod socket;
mod task;

pub use driver::{Driver, Link, LinkCountError, V1Sockets, tokio_clock};
pub use events::{Closed, Subscription, TryRecvError};
pub use handle::Handle;
pub use heartbeat_std::{AddPeerError, Clock, IoStats, Status, Stopped};
pub use socket::Socket;
pub use task::{AsyncDriver, Farewell, Readiness, TaskHandle, WaitSockets};
