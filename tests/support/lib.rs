//! Shared helpers for the workspace's cross-crate integration tests and the adapters' benches:
//! simulated clusters of real nodes and the questions tests ask of their timelines, real-socket
//! clusters, an impairment relay, bench helpers, and network namespaces with real FRR and BIRD
//! BFD daemons in them (`netns`, `frr`, `bird`), and a reader for their captures (`pcap`); a real
//! ZooKeeper server and a three-server ensemble (`zookeeper`, `zk_ensemble`) and a TCP relay that
//! dates and can black-hole what a client sends them (`tcp_relay`).

pub mod bench;
pub mod bird;
pub mod cluster;
pub mod frr;
pub mod lab;
pub mod linuxha;
pub mod netns;
pub mod pcap;
pub mod relay;
pub mod tcp_relay;
pub mod zk_ensemble;
pub mod zookeeper;

use std::time::Duration;

use heartbeat_proto::{Authentication, ClusterId, Event, EventKind, FixedTimeout, Growable, Instant, Node, NodeId};
use heartbeat_sim::{NodeSpec, Sim, SimBuilder, node_factory};

/// The node every scenario runs: the fixed-timeout detector over growable storage.
pub type TestNode = Node<FixedTimeout, Growable>;

/// The cluster id of every simulated cluster.
pub const CLUSTER: ClusterId = ClusterId(0x4842);

/// A node id from a non-zero number.
pub fn id(n: u64) -> NodeId {
    NodeId::new(n).expect("node ids are non-zero")
}

/// The timing every node of a cluster is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The basic unit; peers' timeouts are clamped into `[2, 20]` ticks.
    pub tick: Duration,
    /// The timeout each node asks its peers to hold it to.
    pub timeout: Duration,
    /// The heartbeat interval (each gap is drawn from 75–100 % of it).
    pub interval: Duration,
}

impl Timing {
    /// Sub-second detection: tick 100 ms, timeout 900 ms, interval 300 ms.
    pub const FAST: Timing = Timing {
        tick: Duration::from_millis(100),
        timeout: Duration::from_millis(900),
        interval: Duration::from_millis(300),
    };

    /// Slow beacons for long runs: tick 1 s, timeout 15 s, interval 5 s.
    pub const SLOW: Timing =
        Timing { tick: Duration::from_secs(1), timeout: Duration::from_secs(15), interval: Duration::from_secs(5) };
}

/// Builds the simulation with every node configured with `timing`, except that
/// `per_node` may adjust each node's builder further.
pub fn build_with(
    builder: SimBuilder,
    timing: Timing,
    per_node: impl Fn(&NodeSpec<'_>, heartbeat_proto::ConfigBuilder) -> heartbeat_proto::ConfigBuilder + 'static,
) -> Sim<TestNode> {
    let factory = node_factory::<_, Growable>(CLUSTER, FixedTimeout::new(), move |spec, b| {
        per_node(
            spec,
            b.authentication(Authentication::None).tick(timing.tick).timeout(timing.timeout).interval(timing.interval),
        )
    })
    .expect("the test timing is a valid configuration");
    builder.build(factory)
}

/// Builds the simulation with every node configured with `timing`.
pub fn build(builder: SimBuilder, timing: Timing) -> Sim<TestNode> {
    build_with(builder, timing, |_, b| b)
}

/// The kinds of the events `observer` reported about `peer`, oldest first.
pub fn kinds_about(sim: &Sim<TestNode>, observer: NodeId, peer: NodeId) -> Vec<EventKind> {
    sim.timeline().events_about(observer, peer).map(|e| e.kind).collect()
}

/// The `Down` events `observer` reported about `peer`.
pub fn downs_about(sim: &Sim<TestNode>, observer: NodeId, peer: NodeId) -> Vec<Event> {
    sim.timeline().events_about(observer, peer).filter(|e| matches!(e.kind, EventKind::Down { .. })).copied().collect()
}

/// Asserts that `observer` declared `peer` down exactly once, to the nanosecond at the last
/// fresh arrival from `peer` plus `timeout`, and returns when.
pub fn assert_down_exactly(sim: &Sim<TestNode>, observer: NodeId, peer: NodeId, timeout: Duration) -> Instant {
    let downs = downs_about(sim, observer, peer);
    assert_eq!(downs.len(), 1, "{observer} about {peer}: {:?}", kinds_about(sim, observer, peer));
    let last = sim.timeline().last_fresh_arrival(peer, observer).expect("the peer was heard");
    let EventKind::Down { last_heard, deadline } = downs[0].kind else { unreachable!("filtered on Down") };
    assert_eq!(last_heard, Some(last), "{observer} about {peer}: last heard");
    assert_eq!(deadline, last + timeout, "{observer} about {peer}: deadline = last arrival + negotiated timeout");
    assert_eq!(downs[0].at, deadline, "{observer} about {peer}: declared at the deadline itself");
    downs[0].at
}

/// Every other member of the cluster.
pub fn others(sim: &Sim<TestNode>, me: NodeId) -> Vec<NodeId> {
    sim.ids().iter().copied().filter(|n| *n != me).collect()
}
