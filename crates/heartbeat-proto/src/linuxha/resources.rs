//! [`ResourceManager`]: who of a Linux-HA pair holds which resource (a floating IP, a mount, a
//! service), sans-IO — no clock, no socket, no process. The caller feeds it liveness verdicts,
//! the other nodes' announcements and the outcomes of the commands it asked for; it answers with
//! commands to run ([`Output::Run`]), a new announcement to send ([`Output::Announce`]), the
//! moment to say goodbye ([`Output::Leave`]), and [`ResourceEvent`]s to report.
//!
//! # The rules
//!
//! - **One holder.** A node *holds* a resource from the moment it runs `start` until its `stop`
//!   succeeded. Every node announces what it holds in each of its heartbeats (an
//!   [`Announcement`], carried in `t=status` so it is authenticated like the status), and never
//!   starts a resource another live node announces.
//! - **Start-up.** A node takes nothing until it is *settled*: every other node has announced,
//!   or was declared down / left, or `initdead` has passed since our start. A live node whose
//!   announcement has not arrived blocks starts for `initdead` after it came up (it may hold
//!   something); after that it counts as holding nothing.
//! - **Who takes a free resource.** Among the *candidates* — live, settled, not leaving, and
//!   without a failure of that resource — the preferred node if it is one, else the candidate
//!   with the lowest node name. Both nodes compute the same answer from the same announcements,
//!   so only one starts.
//! - **Failover.** When the holder is declared down or leaves, its announcement is forgotten:
//!   the resource is free, and the best candidate starts it at once.
//! - **Leaving.** [`ResourceManager::leave`] announces that we leave (we stop being a candidate),
//!   runs `stop` for everything held, and only when every stop has ended emits
//!   [`Output::Leave`]: the caller sends its shutdown notice after that. A stop that fails is
//!   reported and the node leaves anyway (the operator asked it to stop).
//! - **auto_failback** ([`Failback::On`]; Linux-HA's `legacy` behaves as `on` here): a resource
//!   held away from its preferred node moves back when the preferred node is a candidate again.
//!   The handover never has two holders: the holder runs `stop` while announcing the resource
//!   as *releasing* (still held, so the preferred node waits), then announces it no longer
//!   holds it; only on that announcement does the preferred node, seeing it free, run `start`.
//!   The gap with no holder is one announcement plus the start command. With
//!   [`Failback::Off`] a resource stays where it runs.
//! - **Double holding** (a partition healed, both sides took the resource): detected as soon
//!   as an announcement shows another live node holding what we hold, reported on both sides
//!   as [`ResourceEvent::DoubleHeld`], and resolved by a deterministic tie-break both sides
//!   compute alike: **the preferred node keeps it if it is one of the holders, else the holder
//!   with the lowest node name**; the other runs `stop`.
//! - **Failures.** A failed `start` or a failed `status` is reported
//!   ([`ResourceEvent::Failed`]), the resource is stopped here (to clean up, `stop` must be
//!   idempotent) and this node is no longer a candidate for it until it restarts, so the other
//!   node takes it over. A failed `stop` is reported and the resource counts as still held here
//!   ("stuck"): it is never claimed released, and no further automatic move is tried for it.
//!
//! Stale announcements lose: each carries an epoch, larger after every change and across
//! restarts (its high 32 bits are the generation), and one older than the last seen from that
//! node is refused ([`AnnounceError::Stale`]) and counted, changing nothing.
//!
//! Names: resources have names of 1 to [`MAX_RESOURCE_NAME`] bytes of `[A-Za-z0-9_.-]`; nodes
//! are compared ASCII case-insensitively, as Heartbeat does.

use core::fmt::Write as _;
use core::time::Duration;

use heapless::{Deque, String, Vec};

use crate::time::Instant;

/// The most resources one manager handles.
pub const MAX_RESOURCES: usize = 16;
/// The longest resource name.
pub const MAX_RESOURCE_NAME: usize = 32;
/// The most nodes in the cluster (ourselves included).
pub const MAX_HA_NODES: usize = 8;
/// The longest node name.
pub const MAX_NODE_NAME: usize = 100;
/// The longest announcement text (fits every resource with its longest name).
pub const MAX_ANNOUNCEMENT: usize = 24 + MAX_RESOURCES * (MAX_RESOURCE_NAME + 3);
/// The name of the `t=status` field that carries an announcement.
pub const ANNOUNCEMENT_FIELD: &str = "hb_resources";

const OUTPUTS: usize = 4 * MAX_RESOURCES + 8;

type NodeName = String<MAX_NODE_NAME>;

/// A resource, by its position in the configuration (stable for the manager's life).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId(pub usize);

/// `auto_failback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failback {
    /// Move resources back to their preferred node when it returns.
    On,
    /// Leave them where they run.
    Off,
}

/// Why a manager could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HaConfigError {
    /// A resource name that is empty, too long or has a character outside `[A-Za-z0-9_.-]`.
    #[error("bad resource name")]
    BadResourceName,
    /// A node name that is empty, too long or has whitespace or control characters.
    #[error("bad node name")]
    BadNodeName,
    /// Two resources, or two nodes, of one name.
    #[error("duplicate name")]
    Duplicate,
    /// A resource's preferred node is not a node of the cluster.
    #[error("preferred node is not a cluster node")]
    UnknownPreferred,
    /// More than [`MAX_RESOURCES`] resources or [`MAX_HA_NODES`] nodes.
    #[error("too many resources or nodes")]
    TooMany,
}

/// A liveness verdict about another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Heard (first time, again, or restarted: its earlier announcement no longer counts).
    Up,
    /// Declared dead: it holds nothing any more.
    Down,
    /// Left on purpose: it holds nothing any more.
    Left,
}

/// A resource-agent command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Acquire the resource (idempotent).
    Start,
    /// Release it (idempotent).
    Stop,
    /// Check that it is still healthy here.
    Status,
}

/// Why a `stop` was asked for (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// We leave.
    Leaving,
    /// auto_failback: the preferred node is back.
    Failback,
    /// Another node holds it too and won the tie-break.
    LostTieBreak,
    /// Cleaning up after a failed `start` or `status`.
    Failure,
}

/// What the caller must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// Run `command` for `resource`, then report with [`ResourceManager::on_outcome`]. At most one
    /// command per resource is asked for at a time.
    Run {
        /// Which resource.
        resource: ResourceId,
        /// Which command.
        command: Command,
        /// For a stop, why.
        reason: Option<StopReason>,
    },
    /// Our [`announcement`](ResourceManager::announcement) changed: send it now.
    Announce,
    /// Every resource is stopped after [`leave`](ResourceManager::leave): send the goodbye.
    Leave,
}

/// Something to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum ResourceEvent {
    /// `start` succeeded: we hold it.
    Started(ResourceId),
    /// `stop` succeeded: we no longer hold it.
    Stopped(ResourceId),
    /// A command failed here (see the module docs for the reaction).
    Failed(ResourceId, Command),
    /// Another live node (`peer`, an index into [`ResourceManager::node_name`]) holds what we
    /// hold; `we_keep` says who won the tie-break.
    DoubleHeld {
        /// Which resource.
        resource: ResourceId,
        /// The other holder.
        peer: usize,
        /// Whether we keep it (else we stop it).
        we_keep: bool,
    },
}

/// Why an outcome or an announcement was refused. Refusal changes nothing but a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnnounceError {
    /// Not `<epoch hex>[ leaving] name=h|r|f ...`.
    #[error("malformed announcement")]
    Malformed,
    /// From a node that is not in the cluster (or is ourselves).
    #[error("unknown node")]
    UnknownNode,
    /// An epoch below the last accepted one from that node.
    #[error("stale announcement")]
    Stale,
}

/// An outcome for a command that was not asked for (or not for that resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no such command is running")]
pub struct UnexpectedOutcome;

/// What a node announces about one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Claim {
    /// Not held there.
    #[default]
    None,
    /// Held (or being started).
    Held,
    /// Being stopped: still held until the next announcement says otherwise.
    Releasing,
    /// It failed there: that node is not a candidate for it.
    Failed,
}

impl Claim {
    /// Whether this counts as holding.
    pub const fn holds(self) -> bool {
        matches!(self, Claim::Held | Claim::Releasing)
    }

    const fn letter(self) -> Option<char> {
        match self {
            Claim::None => None,
            Claim::Held => Some('h'),
            Claim::Releasing => Some('r'),
            Claim::Failed => Some('f'),
        }
    }
}

/// A decoded announcement: the sender's epoch, whether it leaves, and a claim per resource
/// name it mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement<'a> {
    /// Larger after every change; high 32 bits the sender's generation.
    pub epoch: u64,
    /// The sender leaves: not a candidate for anything.
    pub leaving: bool,
    claims: Vec<(&'a str, Claim), MAX_RESOURCES>,
}

impl<'a> Announcement<'a> {
    /// Reads `<epoch hex>[ leaving]( name=h|r|f)*`.
    pub fn parse(text: &'a str) -> Result<Self, AnnounceError> {
        let mut words = text.split(' ');
        let epoch = words.next().ok_or(AnnounceError::Malformed)?;
        if epoch.is_empty() || epoch.len() > 16 {
            return Err(AnnounceError::Malformed);
        }
        let epoch = u64::from_str_radix(epoch, 16).map_err(|_| AnnounceError::Malformed)?;
        let mut leaving = false;
        let mut claims = Vec::new();
        for (i, word) in words.enumerate() {
            if i == 0 && word == "leaving" {
                leaving = true;
                continue;
            }
            let (name, state) = word.split_once('=').ok_or(AnnounceError::Malformed)?;
            if !valid_resource_name(name) || claims.iter().any(|(n, _)| *n == name) {
                return Err(AnnounceError::Malformed);
            }
            let claim = match state {
                "h" => Claim::Held,
                "r" => Claim::Releasing,
                "f" => Claim::Failed,
                _ => return Err(AnnounceError::Malformed),
            };
            claims.push((name, claim)).map_err(|_| AnnounceError::Malformed)?;
        }
        Ok(Announcement { epoch, leaving, claims })
    }

    /// The claim on `resource` (`None` if not mentioned).
    pub fn claim(&self, resource: &str) -> Claim {
        self.claims.iter().find(|(n, _)| *n == resource).map_or(Claim::None, |(_, c)| *c)
    }
}

fn valid_resource_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_RESOURCE_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn node_name(name: &str) -> Result<NodeName, HaConfigError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(HaConfigError::BadNodeName);
    }
    let mut lower = String::new();
    for c in name.chars() {
        lower.push(c.to_ascii_lowercase()).map_err(|_| HaConfigError::BadNodeName)?;
    }
    Ok(lower)
}

/// Our own state of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// Not held here.
    Stopped,
    /// `start` running.
    Starting,
    /// Held; `checking` while a `status` runs.
    Held {
        /// A `status` command is running.
        checking: bool,
    },
    /// `stop` running (still held).
    Stopping(StopReason),
    /// Stopped after a failure: not a candidate here until restart.
    Failed,
    /// `stop` failed: counted as held, no further automatic move.
    Stuck,
}

impl Local {
    fn claim(self) -> Claim {
        match self {
            Local::Stopped => Claim::None,
            Local::Starting | Local::Held { .. } | Local::Stuck => Claim::Held,
            Local::Stopping(_) => Claim::Releasing,
            Local::Failed => Claim::Failed,
        }
    }

    const fn busy(self) -> bool {
        matches!(self, Local::Starting | Local::Held { checking: true } | Local::Stopping(_))
    }
}

#[derive(Debug, Clone)]
struct Resource {
    name: String<MAX_RESOURCE_NAME>,
    preferred: usize,
    local: Local,
    /// The peer we last reported a double holding with (reported once per episode).
    double_reported: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// Never heard, never declared.
    Unknown,
    /// Heard since this instant.
    Up(Instant),
    /// Down or left.
    Gone,
}

#[derive(Debug, Clone)]
struct Peer {
    liveness: Liveness,
    /// The last accepted epoch (kept across down/up: stale loses always).
    epoch: Option<u64>,
    /// Whether the current incarnation has announced since it came up.
    announced: bool,
    leaving: bool,
    claims: [Claim; MAX_RESOURCES],
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HaStats {
    /// Announcements accepted.
    pub announcements: u64,
    /// Announcements refused (malformed, unknown node, stale).
    pub refused_announcements: u64,
    /// Outcomes for commands that were not running.
    pub unexpected_outcomes: u64,
    /// Double holdings detected.
    pub double_held: u64,
    /// Outputs or events lost to a full queue (never, when drained after every input).
    pub overflows: u64,
}

/// The resource manager of one node (see the [module docs](self) for the rules).
///
/// Call order: after every input ([`on_verdict`](Self::on_verdict),
/// [`on_announcement`](Self::on_announcement), [`on_outcome`](Self::on_outcome),
/// [`tick`](Self::tick), [`leave`](Self::leave), [`check`](Self::check)), drain
/// [`poll_output`](Self::poll_output) and [`poll_event`](Self::poll_event) until `None`, and
/// call `tick` again at [`poll_timeout`](Self::poll_timeout).
///
/// ```
/// use core::time::Duration;
/// use heartbeat_proto::Instant;
/// use heartbeat_proto::linuxha::resources::{Command, Failback, Output, ResourceManager, Verdict};
///
/// let mut a = ResourceManager::new("a", &["a", "b"], &[("ip", "b")], Failback::Off,
///     Duration::from_secs(4), 7, Instant::ZERO)?;
/// a.tick(Instant::ZERO);
/// assert_eq!(a.poll_output(), Some(Output::Announce));
/// assert_eq!(a.announcement(), "700000000");
/// // b (the preferred node) is declared dead: a takes the address.
/// a.on_verdict(Instant::from_secs(1), "b", Verdict::Down);
/// let start = a.poll_output();
/// assert!(matches!(start, Some(Output::Run { command: Command::Start, .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ResourceManager {
    me: usize,
    nodes: Vec<NodeName, MAX_HA_NODES>,
    peers: Vec<Peer, MAX_HA_NODES>,
    resources: Vec<Resource, MAX_RESOURCES>,
    failback: Failback,
    initdead: Duration,
    started: Instant,
    latest: Instant,
    epoch: u64,
    announcement: String<MAX_ANNOUNCEMENT>,
    leaving: bool,
    left: bool,
    outputs: Deque<Output, OUTPUTS>,
    events: Deque<ResourceEvent, OUTPUTS>,
    stats: HaStats,
}

impl ResourceManager {
    /// The manager of node `me` in the cluster of `nodes` (ourselves included), for
    /// `resources` as `(name, preferred node)`, with `auto_failback` and `initdead`, in
    /// incarnation `generation` (strictly larger after every restart), started at `now`.
    pub fn new(
        me: &str,
        nodes: &[&str],
        resources: &[(&str, &str)],
        failback: Failback,
        initdead: Duration,
        generation: u32,
        now: Instant,
    ) -> Result<Self, HaConfigError> {
        let mut names: Vec<NodeName, MAX_HA_NODES> = Vec::new();
        for n in nodes {
            let n = node_name(n)?;
            if names.contains(&n) {
                return Err(HaConfigError::Duplicate);
            }
            names.push(n).map_err(|_| HaConfigError::TooMany)?;
        }
        let index = |n: &str| -> Result<usize, HaConfigError> {
            let n = node_name(n)?;
            names.iter().position(|x| *x == n).ok_or(HaConfigError::UnknownPreferred)
        };
        let me = index(me)?;
        let mut rs: Vec<Resource, MAX_RESOURCES> = Vec::new();
        for (name, preferred) in resources {
            if !valid_resource_name(name) {
                return Err(HaConfigError::BadResourceName);
            }
            if rs.iter().any(|r| r.name == *name) {
                return Err(HaConfigError::Duplicate);
            }
            let mut n = String::new();
            let _ = n.push_str(name);
            let r = Resource { name: n, preferred: index(preferred)?, local: Local::Stopped, double_reported: None };
            rs.push(r).map_err(|_| HaConfigError::TooMany)?;
        }
        let peer = Peer {
            liveness: Liveness::Unknown,
            epoch: None,
            announced: false,
            leaving: false,
            claims: [Claim::None; MAX_RESOURCES],
        };
        let mut peers = Vec::new();
        for _ in 0..names.len() {
            let _ = peers.push(peer.clone());
        }
        let mut manager = ResourceManager {
            me,
            nodes: names,
            peers,
            resources: rs,
            failback,
            initdead,
            started: now,
            latest: now,
            epoch: u64::from(generation) << 32,
            announcement: String::new(),
            leaving: false,
            left: false,
            outputs: Deque::new(),
            events: Deque::new(),
            stats: HaStats::default(),
        };
        manager.write_announcement();
        manager.push(Output::Announce);
        // Judged at once, as a tick at `now` would: with no initdead there is nothing to wait
        // for, and `poll_timeout` names only deadlines still ahead.
        manager.evaluate();
        Ok(manager)
    }

    // --- getters ---

    /// What to send in [`ANNOUNCEMENT_FIELD`] of every heartbeat.
    pub fn announcement(&self) -> &str {
        &self.announcement
    }

    /// How many resources.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The name of `resource`.
    pub fn resource_name(&self, resource: ResourceId) -> &str {
        self.resources.get(resource.0).map_or("", |r| r.name.as_str())
    }

    /// The resource called `name`.
    pub fn resource(&self, name: &str) -> Option<ResourceId> {
        self.resources.iter().position(|r| r.name == name).map(ResourceId)
    }

    /// The name of node `index` (0 = the first of `nodes`).
    pub fn node_name(&self, index: usize) -> &str {
        self.nodes.get(index).map_or("?", |n| n.as_str())
    }

    /// Our own state of `resource`.
    pub fn local(&self, resource: ResourceId) -> Option<Local> {
        self.resources.get(resource.0).map(|r| r.local)
    }

    /// The nodes (indices) that hold `resource` as far as we know: ourselves if we do, and every
    /// live node whose announcement says so.
    pub fn holders(&self, resource: ResourceId) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(move |&n| self.claim_of(n, resource.0).holds())
    }

    /// What node `node` claims about `resource` (ourselves included), as we know it.
    pub fn claim(&self, node: usize, resource: ResourceId) -> Claim {
        if node >= self.nodes.len() || resource.0 >= self.resources.len() {
            return Claim::None;
        }
        self.claim_of(node, resource.0)
    }

    /// Whether [`leave`](Self::leave) was called.
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Counters.
    pub fn stats(&self) -> &HaStats {
        &self.stats
    }

    // --- inputs ---

    /// Lets time pass (initdead, peers that never announced).
    pub fn tick(&mut self, now: Instant) {
        self.latest = self.latest.max(now);
        self.evaluate();
    }

    /// A liveness verdict about node `name`. Unknown names are ignored (returns `false`).
    pub fn on_verdict(&mut self, now: Instant, name: &str, verdict: Verdict) -> bool {
        let Some(n) = self.peer_index(name) else { return false };
        self.latest = self.latest.max(now);
        let peer = &mut self.peers[n];
        match verdict {
            Verdict::Up => {
                if !matches!(peer.liveness, Liveness::Up(_)) {
                    peer.liveness = Liveness::Up(self.latest);
                }
            }
            Verdict::Down | Verdict::Left => {
                peer.liveness = Liveness::Gone;
                peer.announced = false;
                peer.leaving = false;
                peer.claims = [Claim::None; MAX_RESOURCES];
            }
        }
        self.evaluate();
        true
    }

    /// Node `name` restarted: its earlier announcement no longer counts. Unknown names are
    /// ignored (returns `false`).
    pub fn on_restart(&mut self, now: Instant, name: &str) -> bool {
        let Some(n) = self.peer_index(name) else { return false };
        self.latest = self.latest.max(now);
        let peer = &mut self.peers[n];
        peer.liveness = Liveness::Up(self.latest);
        peer.announced = false;
        peer.leaving = false;
        peer.claims = [Claim::None; MAX_RESOURCES];
        self.evaluate();
        true
    }

    /// An authenticated announcement from node `name` (the [`ANNOUNCEMENT_FIELD`] of its
    /// heartbeat). Names of resources we do not have are ignored.
    pub fn on_announcement(&mut self, now: Instant, name: &str, text: &str) -> Result<(), AnnounceError> {
        let result = self.accept_announcement(now, name, text);
        match result {
            Ok(()) => {
                self.stats.announcements += 1;
                self.evaluate();
            }
            Err(_) => self.stats.refused_announcements += 1,
        }
        result
    }

    fn accept_announcement(&mut self, now: Instant, name: &str, text: &str) -> Result<(), AnnounceError> {
        let n = self.peer_index(name).ok_or(AnnounceError::UnknownNode)?;
        let a = Announcement::parse(text)?;
        if self.peers[n].epoch.is_some_and(|e| a.epoch < e) {
            return Err(AnnounceError::Stale);
        }
        self.latest = self.latest.max(now);
        let mut claims = [Claim::None; MAX_RESOURCES];
        for (i, r) in self.resources.iter().enumerate() {
            claims[i] = a.claim(&r.name);
        }
        let peer = &mut self.peers[n];
        peer.epoch = Some(a.epoch);
        peer.announced = true;
        peer.leaving = a.leaving;
        peer.claims = claims;
        if !matches!(peer.liveness, Liveness::Up(_)) {
            // Heard: an announcement only comes inside an accepted heartbeat.
            peer.liveness = Liveness::Up(self.latest);
        }
        Ok(())
    }

    /// The outcome of the command running for `resource`.
    pub fn on_outcome(
        &mut self,
        now: Instant,
        resource: ResourceId,
        command: Command,
        succeeded: bool,
    ) -> Result<(), UnexpectedOutcome> {
        let Some(r) = self.resources.get_mut(resource.0) else {
            self.stats.unexpected_outcomes += 1;
            return Err(UnexpectedOutcome);
        };
        let (local, events): (Local, &[ResourceEvent]) = match (r.local, command, succeeded) {
            (Local::Starting, Command::Start, true) => {
                (Local::Held { checking: false }, &[ResourceEvent::Started(resource)])
            }
            (Local::Starting, Command::Start, false) => {
                (Local::Stopping(StopReason::Failure), &[ResourceEvent::Failed(resource, Command::Start)])
            }
            (Local::Held { checking: true }, Command::Status, true) => (Local::Held { checking: false }, &[]),
            (Local::Held { checking: true }, Command::Status, false) => {
                (Local::Stopping(StopReason::Failure), &[ResourceEvent::Failed(resource, Command::Status)])
            }
            (Local::Stopping(reason), Command::Stop, true) => {
                let next = if reason == StopReason::Failure { Local::Failed } else { Local::Stopped };
                (next, &[ResourceEvent::Stopped(resource)])
            }
            (Local::Stopping(_), Command::Stop, false) => {
                (Local::Stuck, &[ResourceEvent::Failed(resource, Command::Stop)])
            }
            _ => {
                self.stats.unexpected_outcomes += 1;
                return Err(UnexpectedOutcome);
            }
        };
        r.local = local;
        self.latest = self.latest.max(now);
        let cleanup = matches!(local, Local::Stopping(StopReason::Failure));
        for e in events {
            self.event(*e);
        }
        if cleanup {
            self.push(Output::Run { resource, command: Command::Stop, reason: Some(StopReason::Failure) });
        }
        self.evaluate();
        Ok(())
    }

    /// Leave: stop everything held, then [`Output::Leave`].
    pub fn leave(&mut self, now: Instant) {
        self.latest = self.latest.max(now);
        self.leaving = true;
        self.evaluate();
    }

    /// Asks for a `status` of every resource held here with no command running (call it
    /// every status interval).
    pub fn check(&mut self, now: Instant) {
        // Time passed: what it decides (initdead, a peer that stopped blocking) comes first, as
        // in `tick` — else the deadline would be behind the clock and `poll_timeout` would no
        // longer name it.
        self.tick(now);
        for i in 0..self.resources.len() {
            if self.resources[i].local == (Local::Held { checking: false }) && !self.leaving {
                self.resources[i].local = Local::Held { checking: true };
                self.push(Output::Run { resource: ResourceId(i), command: Command::Status, reason: None });
            }
        }
    }

    // --- outputs ---

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next event to report.
    pub fn poll_event(&mut self) -> Option<ResourceEvent> {
        self.events.pop_front()
    }

    /// When to [`tick`](Self::tick) next: the end of `initdead`, or when a peer that has not
    /// announced stops blocking; `None` if nothing waits on time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| {
            if t > self.latest {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.started + self.initdead);
        for (n, p) in self.peers.iter().enumerate() {
            if n != self.me
                && let Liveness::Up(since) = p.liveness
                && !p.announced
            {
                consider(since + self.initdead);
            }
        }
        next
    }

    // --- the rules ---

    fn peer_index(&self, name: &str) -> Option<usize> {
        let n = self.nodes.iter().position(|x| x.eq_ignore_ascii_case(name))?;
        (n != self.me).then_some(n)
    }

    fn live(&self, n: usize) -> bool {
        n == self.me || matches!(self.peers[n].liveness, Liveness::Up(_))
    }

    fn claim_of(&self, n: usize, r: usize) -> Claim {
        if n == self.me {
            self.resources[r].local.claim()
        } else if self.live(n) {
            self.peers[n].claims[r]
        } else {
            Claim::None
        }
    }

    /// Whether a live peer that has not announced still blocks starts.
    fn blocking(&self, n: usize) -> bool {
        matches!(self.peers[n].liveness, Liveness::Up(since) if !self.peers[n].announced && self.latest < since + self.initdead)
    }

    /// Whether we know enough to take a free resource.
    fn settled(&self) -> bool {
        let initdead_over = self.latest >= self.started + self.initdead;
        (0..self.nodes.len()).filter(|&n| n != self.me).all(|n| {
            if self.blocking(n) {
                return false;
            }
            initdead_over || self.peers[n].announced || self.peers[n].liveness == Liveness::Gone
        })
    }

    fn candidate(&self, n: usize, r: usize) -> bool {
        if n == self.me {
            return !self.leaving
                && self.resources[r].local != Local::Failed
                && self.resources[r].local != Local::Stuck;
        }
        let p = &self.peers[n];
        matches!(p.liveness, Liveness::Up(_)) && p.announced && !p.leaving && p.claims[r] != Claim::Failed
    }

    fn best_candidate(&self, r: usize) -> Option<usize> {
        let preferred = self.resources[r].preferred;
        if self.candidate(preferred, r) {
            return Some(preferred);
        }
        (0..self.nodes.len()).filter(|&n| self.candidate(n, r)).min_by(|&a, &b| self.nodes[a].cmp(&self.nodes[b]))
    }

    /// Among the holders (us included), who keeps it: the preferred node, else the lowest name.
    fn tie_break(&self, r: usize) -> usize {
        let preferred = self.resources[r].preferred;
        let holders = (0..self.nodes.len()).filter(|&n| self.claim_of(n, r).holds());
        if self.claim_of(preferred, r).holds() {
            return preferred;
        }
        holders.min_by(|&a, &b| self.nodes[a].cmp(&self.nodes[b])).unwrap_or(self.me)
    }

    fn stop(&mut self, r: usize, reason: StopReason) {
        self.resources[r].local = Local::Stopping(reason);
        self.push(Output::Run { resource: ResourceId(r), command: Command::Stop, reason: Some(reason) });
    }

    fn evaluate(&mut self) {
        let settled = self.settled();
        for r in 0..self.resources.len() {
            let local = self.resources[r].local;
            let other = (0..self.nodes.len()).find(|&n| n != self.me && self.claim_of(n, r).holds());
            if other.is_none() {
                self.resources[r].double_reported = None;
            }
            if local.busy() {
                continue;
            }
            let i_hold = matches!(local, Local::Held { .. } | Local::Stuck);
            if self.leaving {
                if local == (Local::Held { checking: false }) {
                    self.stop(r, StopReason::Leaving);
                }
                continue;
            }
            if i_hold {
                if let Some(peer) = other {
                    let we_keep = self.tie_break(r) == self.me;
                    if self.resources[r].double_reported != Some(peer) {
                        self.resources[r].double_reported = Some(peer);
                        self.stats.double_held += 1;
                        self.event(ResourceEvent::DoubleHeld { resource: ResourceId(r), peer, we_keep });
                    }
                    if !we_keep && local != Local::Stuck {
                        self.stop(r, StopReason::LostTieBreak);
                    }
                } else if self.failback == Failback::On && local != Local::Stuck {
                    let preferred = self.resources[r].preferred;
                    if preferred != self.me && self.candidate(preferred, r) {
                        self.stop(r, StopReason::Failback);
                    }
                }
                continue;
            }
            if local == Local::Stopped && other.is_none() && settled && self.best_candidate(r) == Some(self.me) {
                self.resources[r].local = Local::Starting;
                self.push(Output::Run { resource: ResourceId(r), command: Command::Start, reason: None });
            }
        }
        let before = self.announcement.clone();
        self.write_announcement();
        if self.announcement != before {
            self.push(Output::Announce);
        }
        if self.leaving
            && !self.left
            && self.resources.iter().all(|r| !r.local.busy() && !matches!(r.local, Local::Held { .. }))
        {
            self.left = true;
            self.push(Output::Leave);
        }
    }

    /// Rewrites our announcement; a new epoch when its content changes.
    fn write_announcement(&mut self) {
        let mut body: String<MAX_ANNOUNCEMENT> = String::new();
        if self.leaving {
            let _ = body.push_str(" leaving");
        }
        for r in &self.resources {
            if let Some(letter) = r.local.claim().letter() {
                let _ = write!(body, " {}={letter}", r.name);
            }
        }
        let old_body = self.announcement.find(' ').map_or("", |at| &self.announcement[at..]);
        if !self.announcement.is_empty() && old_body == body.as_str() {
            return;
        }
        if !self.announcement.is_empty() {
            self.epoch = self.epoch.wrapping_add(1);
        }
        self.announcement.clear();
        let _ = write!(self.announcement, "{:x}{body}", self.epoch);
    }

    fn push(&mut self, output: Output) {
        if output == Output::Announce && self.outputs.iter().any(|o| *o == Output::Announce) {
            return;
        }
        if self.outputs.push_back(output).is_err() {
            self.stats.overflows += 1;
        }
    }

    fn event(&mut self, event: ResourceEvent) {
        if self.events.push_back(event).is_err() {
            self.stats.overflows += 1;
        }
    }
}
