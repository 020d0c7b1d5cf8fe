//! The vocabulary of the adapters' cluster tests: timings, configurations, and questions asked
//! of an event log.

use std::net::SocketAddr;
use std::time::Duration;

use heartbeat_proto::{Authentication, ClusterId, Config, Event, EventKind, Generation, NodeId};

/// Heartbeat interval of test nodes.
pub const INTERVAL: Duration = Duration::from_millis(50);
/// Timeout of test nodes.
pub const TIMEOUT: Duration = Duration::from_millis(250);
/// Bound for conditions that only need the cluster to converge (never the measured quantity).
pub const PATIENCE: Duration = Duration::from_secs(10);
/// The bound: a survivor reports `Down` within the timeout plus 50 ms of a crash.
pub const DETECTION_BOUND: Duration = Duration::from_millis(300);

/// Node id `n` (non-zero).
pub fn id(n: u64) -> NodeId {
    NodeId::new(n).expect("node ids in tests are non-zero")
}

/// A test node's configuration: [`INTERVAL`], [`TIMEOUT`], a 25 ms tick, `links` links.
pub fn config(cluster: u32, me: u64, generation: u32, links: u8) -> Config {
    Config::builder(ClusterId(cluster), id(me))
        .authentication(Authentication::None)
        .generation(Generation(generation))
        .tick(Duration::from_millis(25))
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .links(links)
        .seed(me)
        .build()
        .expect("the test configuration is valid")
}

/// An event, the node that saw it, and when it reached the test.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// The node that reported it.
    pub observer: u64,
    /// The event.
    pub event: Event,
    /// When the test received it.
    pub wall: std::time::Instant,
}

/// Whether every observer saw `peer` in a state matching `kind` after index `from`.
pub fn all_saw(seen: &[Seen], from: usize, observers: &[u64], peer: u64, kind: impl Fn(&EventKind) -> bool) -> bool {
    observers
        .iter()
        .all(|o| seen[from..].iter().any(|s| s.observer == *o && s.event.peer == id(peer) && kind(&s.event.kind)))
}

/// Events that `observer` saw about `peer` after index `from`.
pub fn about(seen: &[Seen], from: usize, observer: u64, peer: u64) -> Vec<Seen> {
    seen[from..].iter().filter(|s| s.observer == observer && s.event.peer == id(peer)).copied().collect()
}

/// Whether every one of nodes `1..=n` saw every other `Up`.
pub fn converged(seen: &[Seen], n: u64) -> bool {
    (1..=n).all(|p| all_saw(seen, 0, &(1..=n).filter(|o| *o != p).collect::<Vec<_>>(), p, is_up))
}

/// Asserts that `observer` reported `peer` down within [`DETECTION_BOUND`] of `crash` (and
/// not before its last heartbeat could have expired), at its last arrival plus the timeout.
pub fn assert_crash_detected(seen: &[Seen], from: usize, observer: u64, peer: u64, crash: std::time::Instant) {
    let down = about(seen, from, observer, peer).into_iter().find(|s| is_down(&s.event.kind));
    let down = down.unwrap_or_else(|| panic!("node {observer} never reported {peer} down"));
    let after_crash = down.wall.saturating_duration_since(crash);
    assert!(after_crash <= DETECTION_BOUND, "node {observer} took {after_crash:?}");
    // The last heartbeat left about an interval before the crash at most; a loaded machine may
    // have sent it a little late, hence the slack (the exact check below is the strict one).
    let earliest = (TIMEOUT - INTERVAL).saturating_sub(Duration::from_millis(20));
    assert!(after_crash >= earliest, "node {observer} declared down after only {after_crash:?}");
    let EventKind::Down { last_heard: Some(last), deadline } = down.event.kind else { panic!("{down:?}") };
    assert_eq!(deadline, last + TIMEOUT);
}

/// `Up`, any generation.
pub fn is_up(k: &EventKind) -> bool {
    matches!(k, EventKind::Up { .. })
}

/// `Down`, any cause.
pub fn is_down(k: &EventKind) -> bool {
    matches!(k, EventKind::Down { .. })
}

/// The full-mesh peer list of node `me` among nodes `1..=n` listening at `addrs[i - 1]`.
pub fn mesh(me: u64, addrs: &[SocketAddr]) -> Vec<(u64, Vec<SocketAddr>)> {
    (1..=addrs.len() as u64).filter(|p| *p != me).map(|p| (p, vec![addrs[p as usize - 1]])).collect()
}
