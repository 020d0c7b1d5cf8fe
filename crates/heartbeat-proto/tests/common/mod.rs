//! A small virtual-time network of `Node`s for the scenario tests: every frame is delivered
//! after a fixed delay, time jumps to the next deadline or delivery, and every event is kept.
//! Frames in flight are stored inline and the vectors are reserved up front, so that the
//! harness itself does not allocate while a scenario runs.
//!
//! Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code)]

use core::time::Duration;

use heartbeat_proto::{
    Authentication, ClusterId, Config, Destination, Event, EventKind, FixedTimeout, Growable, Instant, Learning,
    LinkId, MAX_FRAME_LEN, Node, NodeId,
};

pub(crate) type TestNode = Node<FixedTimeout, Growable>;

pub(crate) const CLUSTER: ClusterId = ClusterId(7);

pub(crate) fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// A frame on its way: when it arrives, to which node (index), and its bytes.
struct InFlight {
    at: Instant,
    to: usize,
    len: usize,
    bytes: [u8; MAX_FRAME_LEN],
}

pub(crate) struct Network {
    pub(crate) nodes: Vec<TestNode>,
    pub(crate) now: Instant,
    /// Every event of every node: (node index, event).
    pub(crate) events: Vec<(usize, Event)>,
    delay: Duration,
    in_flight: Vec<InFlight>,
}

impl Network {
    /// Nodes 1..=n in a full mesh, each with the authentication `auth(node id)`: tick 100 ms,
    /// interval 200 ms, timeout 600 ms; frames take `delay`.
    pub(crate) fn new(n: u64, delay: Duration, auth: impl Fn(u64) -> Authentication) -> Network {
        Network::with(n, delay, |me| {
            Config::builder(CLUSTER, id(me))
                .tick(Duration::from_millis(100))
                .timeout(Duration::from_millis(600))
                .interval(Duration::from_millis(200))
                .seed(me)
                .authentication(auth(me))
        })
    }

    /// As [`new`](Self::new) with learning enabled and a peer cap on node 1.
    pub(crate) fn with_learning(
        n: u64,
        delay: Duration,
        max_peers: usize,
        auth: impl Fn(u64) -> Authentication,
    ) -> Network {
        Network::with(n, delay, |me| {
            let builder = Config::builder(CLUSTER, id(me))
                .tick(Duration::from_millis(100))
                .timeout(Duration::from_millis(600))
                .interval(Duration::from_millis(200))
                .seed(me)
                .authentication(auth(me));
            if me == 1 { builder.learning(Learning::Enabled).max_peers(max_peers) } else { builder }
        })
    }

    fn with(n: u64, delay: Duration, config: impl Fn(u64) -> heartbeat_proto::ConfigBuilder) -> Network {
        let nodes = (1..=n)
            .map(|me| {
                let mut node = Node::new(config(me).build().unwrap(), FixedTimeout::new(), Instant::ZERO);
                for peer in (1..=n).filter(|p| *p != me) {
                    node.add_peer(id(peer)).unwrap();
                }
                node
            })
            .collect();
        Network {
            nodes,
            now: Instant::ZERO,
            events: Vec::with_capacity(4096),
            delay,
            in_flight: Vec::with_capacity(256),
        }
    }

    /// Runs every node until `until` (inclusive of everything due before it).
    pub(crate) fn run_until(&mut self, until: Instant) {
        while self.now < until {
            self.step();
            let next_node = self.nodes.iter().filter_map(|n| n.poll_timeout()).min();
            let next_frame = self.in_flight.iter().map(|f| f.at).min();
            let next = [next_node, next_frame].into_iter().flatten().min().unwrap_or(until);
            self.now = next.clamp(self.now, until);
        }
        self.step();
    }

    /// Delivers what is due, ticks every node and drains its outputs, at `self.now`.
    fn step(&mut self) {
        let now = self.now;
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].at <= now {
                let f = self.in_flight.swap_remove(i);
                // Refusals are counted in the receiver's stats; the scenarios read them there.
                let _ = self.nodes[f.to].on_message(now, LinkId(0), &f.bytes[..f.len]);
            } else {
                i += 1;
            }
        }
        let mut buf = [0u8; MAX_FRAME_LEN];
        for (from, node) in self.nodes.iter_mut().enumerate() {
            node.tick(now);
            while let Some(t) =
                node.poll_transmit(&mut buf).transpose().expect("a MAX_FRAME_LEN buffer fits every frame")
            {
                let Destination::Peer(to) = t.destination else { panic!("the mesh sends unicast") };
                let mut bytes = [0u8; MAX_FRAME_LEN];
                bytes[..t.len].copy_from_slice(&buf[..t.len]);
                assert_ne!(to.get() as usize - 1, from);
                self.in_flight.push(InFlight { at: now + self.delay, to: to.get() as usize - 1, len: t.len, bytes });
            }
            while let Some(event) = node.poll_event() {
                self.events.push((from, event));
            }
        }
    }

    /// Every `Down` any node declared, as (observer index, event).
    pub(crate) fn downs(&self) -> Vec<(usize, Event)> {
        self.events.iter().filter(|(_, e)| matches!(e.kind, EventKind::Down { .. })).copied().collect()
    }
}

impl Network {
    /// Hands `bytes` to node `to` now, as an attacker on its network would.
    pub(crate) fn inject(
        &mut self,
        to: usize,
        bytes: &[u8],
    ) -> Result<heartbeat_proto::Accepted, heartbeat_proto::Rejected> {
        self.nodes[to].on_message(self.now, LinkId(0), bytes)
    }
}
