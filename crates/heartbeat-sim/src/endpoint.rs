//! What the simulator drives: any sans-IO [`Endpoint`] — a plain [`Node`] of any detector and
//! storage, or a wrapper around one (an authenticating layer, an adversary) — built by a
//! [`Factory`] whenever a node starts or restarts.

use heartbeat_proto::{
    Accepted, BufferTooSmall, ClusterId, Config, ConfigBuilder, ConfigError, Detector, Event, Generation, Instant,
    LinkId, Node, NodeId, Rejected, Storage, Transmit,
};

/// The sans-IO surface the simulator needs from a node. [`Node`] implements it; so can any
/// wrapper that keeps the same driving rules (see the `heartbeat_proto` crate docs).
pub trait Endpoint {
    /// Advances time: fire due deadlines, start a heartbeat round if one is due.
    fn tick(&mut self, now: Instant);
    /// Handles one datagram that arrived on `link` at `now`.
    fn on_message(&mut self, now: Instant, link: LinkId, bytes: &[u8]) -> Result<Accepted, Rejected>;
    /// Writes the next outgoing frame into `buf`.
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>>;
    /// The next event.
    fn poll_event(&mut self) -> Option<Event>;
    /// When to call `tick` next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Starts a graceful leave (goodbye round).
    fn leave(&mut self, now: Instant);
}

impl<D: Detector, S: Storage> Endpoint for Node<D, S> {
    fn tick(&mut self, now: Instant) {
        Node::tick(self, now);
    }

    fn on_message(&mut self, now: Instant, link: LinkId, bytes: &[u8]) -> Result<Accepted, Rejected> {
        Node::on_message(self, now, link, bytes)
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>> {
        Node::poll_transmit(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Node::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Node::poll_timeout(self)
    }

    fn leave(&mut self, now: Instant) {
        Node::leave(self, now);
    }
}

/// Everything a factory needs to build one incarnation of a node.
#[derive(Debug, Clone, Copy)]
pub struct NodeSpec<'a> {
    /// The node.
    pub id: NodeId,
    /// This incarnation's generation: 1 at the first start, one more at every restart.
    pub generation: Generation,
    /// Every other member of the cluster, in id order.
    pub peers: &'a [NodeId],
    /// How many links the simulator numbers (`Config::links` should match).
    pub links: u8,
    /// A seed for the node's own randomness (jitter), derived from the simulation seed, the
    /// node and the generation.
    pub seed: u64,
    /// The virtual time at which it starts.
    pub start: Instant,
}

/// Builds an endpoint for a [`NodeSpec`]. Called at every start and restart.
pub type Factory<E> = Box<dyn FnMut(&NodeSpec<'_>) -> E>;

/// A factory of plain [`Node`]s: `configure` adjusts, per node, a builder that already
/// carries the cluster, the node id, the spec's generation, seed and link count; every other
/// member is added as a configured peer.
///
/// The configuration is validated once here, on a sample node, so that a bad one is an error now rather than a
/// panic later. Fails also if `configure` overrides the generation or the link count the
/// simulator assigns (leave the seed alone too: the simulator derives it from its own).
pub fn node_factory<D, S>(
    cluster: ClusterId,
    detector: D,
    configure: impl Fn(&NodeSpec<'_>, ConfigBuilder) -> ConfigBuilder + 'static,
) -> Result<Factory<Node<D, S>>, ConfigError>
where
    D: Detector + Clone + 'static,
    S: Storage + 'static,
{
    let build = move |spec: &NodeSpec<'_>| {
        let base = Config::builder(cluster, spec.id).generation(spec.generation).seed(spec.seed).links(spec.links);
        configure(spec, base).build()
    };
    let probe_id = NodeId::new(1).ok_or(ConfigError { field: "node", reason: "must be non-zero" })?;
    let probe =
        NodeSpec { id: probe_id, generation: Generation(7), peers: &[], links: 1, seed: 11, start: Instant::ZERO };
    let config = build(&probe)?;
    if config.generation() != probe.generation || config.links() != probe.links {
        return Err(ConfigError { field: "configure", reason: "must not override generation or links" });
    }
    Ok(Box::new(move |spec: &NodeSpec<'_>| {
        let config = build(spec).unwrap_or_else(|e| panic!("node {}: configuration validated earlier: {e}", spec.id));
        let mut node = Node::new(config, detector.clone(), spec.start);
        for peer in spec.peers {
            if let Err(e) = node.add_peer(*peer) {
                panic!("node {}: cannot add peer {peer}: {e} (storage too small for the cluster?)", spec.id);
            }
        }
        node
    }))
}
