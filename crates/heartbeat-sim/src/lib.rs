//! A deterministic, seeded, sans-IO network simulator for heartbeat clusters.
//!
//! It runs 3 to 50 (or more) real [`heartbeat_proto::Node`]s — or any other [`Endpoint`] —
//! in **virtual time**: it always jumps to the earliest pending moment among the nodes'
//! `poll_timeout`s, the frames in flight and the scheduled [`Action`]s, so an hour of protocol
//! time takes milliseconds and every deadline is hit exactly, never a polling period late.
//!
//! # The model
//!
//! - **Nodes** start at zero (or staggered), each built by a [`Factory`] from a [`NodeSpec`]
//!   (id, generation, the other members, a derived seed). They can [crash](Action::Crash)
//!   (state dropped), [pause](Action::Pause) and [resume](Action::Resume) (state kept),
//!   [restart](Action::Restart) with the next generation, or [leave](Action::Leave)
//!   gracefully (goodbye round, then stop).
//! - **Links** are directed (`from → to`) and numbered `0..links`; a frame addressed to a peer
//!   goes out once per link. Each has its own [`Impairments`]: fixed delay, uniform jitter,
//!   i.i.d. or bursty ([Gilbert–Elliott](GilbertElliott)) loss, duplication and explicit
//!   reordering. Jitter wider than the gap between frames reorders them too.
//! - **Partitions** ([`Cut`]) separate two sets of nodes, on every link or one; a frame is
//!   dropped if a cut separates its ends when it is sent or when it would arrive. Cuts are
//!   added and healed by scheduled actions.
//! - An [`Interceptor`] sees every frame when it is sent and before it is delivered, and may
//!   rewrite, drop or inject frames (authentication layers, adversaries). [`Sim::inject`]
//!   delivers arbitrary bytes at a chosen time.
//! - Frames to a node that is not running are dropped on arrival (a paused node's socket
//!   buffer is not modelled).
//!
//! # Determinism
//!
//! All randomness comes from ChaCha8 streams derived from the seed: one stream per directed
//! link, one for start times, one per node incarnation for its own seed. Ties in time are
//! broken by creation order, and no hash-map iteration order is involved, so the same seed and
//! configuration give the same [`Timeline`], bit for bit.
//!
//! # The timeline
//!
//! Every event each observer reported (with the virtual time it was drained), every action,
//! and — with [`Recording::Full`] — every frame sent, injected, delivered (with the receiver's
//! verdict) or dropped (with the reason). [`NetStats`] and [`LinkStats`] count the same
//! whatever is recorded.
//!
//! # The contract it checks
//!
//! After every `tick(now)` and full drain, a node must ask for its next tick strictly after
//! `now`; otherwise [`Sim::run_until`] stops with [`SimError::DeadlineNotAdvanced`] instead of
//! spinning.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use heartbeat_proto::{Authentication, ClusterId, EventKind, FixedTimeout, Growable, Instant, Node, NodeId};
//! use heartbeat_sim::{Action, Impairments, SimBuilder, node_factory};
//!
//! let factory = node_factory::<_, Growable>(ClusterId(1), FixedTimeout::new(), |_, b| {
//!     b.authentication(Authentication::None).tick(Duration::from_millis(100)).timeout(Duration::from_millis(900)).interval(Duration::from_millis(300))
//! })?;
//! let link = Impairments::perfect().delay(Duration::from_millis(2)).jitter(Duration::from_millis(3));
//! let mut sim = SimBuilder::new(42).cluster_of(5).default_link(link).build(factory);
//! let victim = NodeId::new(3).unwrap();
//! sim.schedule(Instant::from_secs(60), Action::Crash(victim));
//! sim.run_until(Instant::from_secs(3600))?;
//!
//! // Every survivor declared node 3 down once, exactly at its last arrival plus the timeout.
//! for observer in sim.ids().iter().copied().filter(|id| *id != victim) {
//!     let last = sim.timeline().last_fresh_arrival(victim, observer).unwrap();
//!     let downs: Vec<_> = sim
//!         .timeline()
//!         .events_about(observer, victim)
//!         .filter(|e| matches!(e.kind, EventKind::Down { .. }))
//!         .collect();
//!     assert_eq!(downs.len(), 1);
//!     assert_eq!(downs[0].at, last + Duration::from_millis(900));
//! }
//! let node: &Node<FixedTimeout, Growable> = sim.endpoint(NodeId::new(1).unwrap()).unwrap();
//! assert_eq!(node.stats().rejected(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod endpoint;
mod impair;
mod intercept;
mod rng;
mod sim;
mod timeline;

pub use endpoint::{Endpoint, Factory, NodeSpec, node_factory};
pub use impair::{GilbertElliott, Impairments, LinkStats, Loss, Reorder};
pub use intercept::{FrameInfo, Injector, Interceptor, PassThrough, Verdict};
pub use sim::{Action, Cut, NetStats, Sim, SimBuilder, SimError};
pub use timeline::{DropReason, Entry, FrameId, Recording, Timeline, What};
