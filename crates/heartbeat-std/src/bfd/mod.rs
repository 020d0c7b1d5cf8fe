//! BFD (RFC 5880/5881/5883) over real sockets: a [`BfdDriver`] that runs the core's
//! [`BfdHost`](heartbeat_proto::bfd::BfdHost) on BFD's UDP encapsulation.
//!
//! - [`BfdDriver`]: opens the sockets its sessions need, feeds every datagram to the core with
//!   its source, TTL, local address and interface, sends what the core produces, and wakes at
//!   the core's deadlines on a `timerfd`. [`BfdDriver::shutdown`] takes every session
//!   AdminDown and keeps sending long enough for the peers to see it.
//! - [`BfdHandle`]: the driver on a thread of its own ([`BfdDriver::spawn`]).
//! - [`BfdSockets`]: BFD's socket set for the shared [`DriverCore`](crate::DriverCore): all
//!   this profile adds to the driver core every profile shares (receive, flush, status,
//!   commands, thread and waker are [`BlockingDriver`](crate::BlockingDriver)'s and
//!   [`Worker`](crate::Worker)'s). `heartbeat-tokio` waits on the same set.
//! - [`linger`] and [`admin_down_all`]: BFD's graceful stop, for every adapter.
//! - [`socket`]: receive sockets on the control ports that report TTL, local address and
//!   interface with each datagram, and transmit sockets with TTL 255 and CS6.
//! - [`source_port`]: the 49152–65535 source-port walk.
//! - [`links`]: interfaces numbered as the core's links.
//!
//! The adapter moves bytes and time only: which packets are accepted (TTL 255 on single hop,
//! the minimum TTL on multihop, authentication), state, timers and diagnostics are the core's.
//!
//! Linux only (packet info and per-datagram TTL are read and set as Linux ancillary data).
//!
//! ```no_run
//! use heartbeat_proto::bfd::SessionConfig;
//! use heartbeat_std::Clock;
//! use heartbeat_std::bfd::{BfdDriver, Options, links};
//!
//! let mut driver = BfdDriver::new(Options::new(0x5eed), Clock::new())?;
//! let peer = "198.18.0.2".parse()?;
//! driver.add_session(SessionConfig::new(peer, links::ANY), Some("veth0"))?;
//! let node = driver.spawn(|event| println!("{event:?}"))?;
//! // ... later: every session AdminDown, for one detection time, then stop.
//! node.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod driver;
pub mod links;
pub mod socket;
pub mod source_port;
mod thread;

pub use driver::{AddSessionError, BfdDriver, BfdSockets, BfdStatus, Options, admin_down_all, linger};
pub use thread::BfdHandle;
