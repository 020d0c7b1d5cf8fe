//! Configuration, validated once at construction so that the state machines never re-check it.
//!
//! Timing follows ZooKeeper's model: a basic unit, the **tick**, bounds the timeouts this node
//! accepts from peers (`[min_timeout, max_timeout]`, by default 2 and 20 ticks), and a node asks
//! its peers to hold it to its own **timeout** (Linux-HA's deadtime), sending heartbeats every
//! **interval** (by default a third of the timeout, as ZooKeeper clients ping).

use core::time::Duration;

use crate::auth::Authentication;
use crate::wire::{ClusterId, Generation, NodeId};

/// The largest duration the wire can carry: `u32::MAX` microseconds, about 71.6 minutes.
pub const MAX_WIRE_DURATION: Duration = Duration::from_micros(u32::MAX as u64);

/// The most links a node may reach its peers over (Linux-HA setups use two to four media).
pub const MAX_LINKS: u8 = 8;

/// Whether frames from unknown senders may add peers to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Learning {
    /// Only configured peers are monitored; frames from others are rejected and counted. The
    /// default, and the only safe choice on a network shared with untrusted senders.
    #[default]
    Disabled,
    /// Unknown senders of valid heartbeats are added, up to the configured peer cap. Requires
    /// authentication keys: only a sender whose frame carries a valid tag can claim a slot.
    Enabled,
}

/// A configuration value that cannot work; names the field and says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    /// The offending field, as named by the builder method that sets it.
    pub field: &'static str,
    /// Why it was refused.
    pub reason: &'static str,
}

/// A new configuration for a running state machine that changes what only a new machine can
/// (see [`Config::fixed_field_changed`]). Refused changes leave the machine as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` cannot change while running")]
pub struct FixedFieldError {
    /// The first such field that differs, as named by the builder method that sets it.
    pub field: &'static str,
}

/// A validated configuration. Build one with [`Config::builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub(crate) cluster: ClusterId,
    pub(crate) node: NodeId,
    pub(crate) generation: Generation,
    pub(crate) tick: Duration,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) min_timeout: Duration,
    pub(crate) max_timeout: Duration,
    pub(crate) initdead: Duration,
    pub(crate) local_pause: Option<Duration>,
    pub(crate) explain: bool,
    pub(crate) jitter_percent: u8,
    pub(crate) learning: Learning,
    pub(crate) max_peers: usize,
    pub(crate) links: u8,
    pub(crate) broadcast: bool,
    pub(crate) seed: u64,
    /// Whether frames are signed and checked (fixed at build; survives the keys being taken).
    pub(crate) authenticated: bool,
    /// The keys, until a state machine takes them into its own state at construction.
    pub(crate) keys: Option<Authentication>,
}

impl Config {
    /// Starts a configuration for `node` in `cluster`, with every other field at its default.
    pub fn builder(cluster: ClusterId, node: NodeId) -> ConfigBuilder {
        ConfigBuilder {
            cluster,
            node,
            generation: Generation(0),
            tick: Duration::from_millis(100),
            interval: None,
            timeout: None,
            min_timeout: None,
            max_timeout: None,
            initdead: None,
            local_pause: None,
            explain: false,
            jitter_percent: 25,
            learning: Learning::Disabled,
            max_peers: 1024,
            links: 1,
            broadcast: false,
            seed: 0,
            auth: None,
        }
    }

    /// The authentication this configuration was built with, until a state machine takes it:
    /// [`Monitor`](crate::Monitor), [`Node`](crate::Node) and [`Sender`](crate::Sender) move the
    /// keys into their own state when constructed, so the `config()` of a running machine, and
    /// every status snapshot cloned from it, holds no secret (and returns `None` here). Use
    /// the machine's `authentication()` to reach its keys.
    pub fn keys(&self) -> Option<&Authentication> {
        self.keys.as_ref()
    }

    /// Whether frames are signed and checked (keys were configured), also after the keys were
    /// taken.
    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// Moves the keys out for a state machine, leaving none behind.
    ///
    /// # Panics
    ///
    /// If they were taken already: the configuration came from a running machine's
    /// `config()`. Running on without them would mean running unauthenticated, so the machine
    /// refuses to start instead (fail closed).
    pub(crate) fn take_keys(&mut self) -> Authentication {
        self.keys.take().expect(
            "this configuration's keys belong to a running state machine: \
             build the configuration again (or clone it before handing it over)",
        )
    }

    /// The first field, if any, in which `new` differs from `self` that a running machine
    /// cannot take over: who the node is (`cluster`, `node`, `generation`), how it is reached
    /// and what its tables are sized for (`links`, `broadcast`, `max_peers`, `learning`), its
    /// jitter, whether verdicts are explained, and whether frames are authenticated at all.
    /// The `seed` is not compared: it only seeds a machine as it is built, and a running one
    /// keeps its own jitter and hashing whatever a new configuration says. Turning authentication on or off is a flag day for the whole cluster (a node
    /// with keys refuses every unsigned frame and the reverse), so it takes a restart; the
    /// keys themselves may change live.
    ///
    /// Everything else may change while running (see
    /// [`Monitor::reconfigure`](crate::Monitor::reconfigure)): `tick` and the timeout bounds,
    /// `timeout`, `interval`, `initdead`, `local_pause`, and the keys.
    pub fn fixed_field_changed(&self, new: &Config) -> Option<&'static str> {
        // Every field is named here, so that a new one cannot go unclassified: fixed (compared
        // below), timing (see `timing_changed`), or neither (`seed`, `keys`).
        let Config {
            cluster: _,
            node: _,
            generation: _,
            tick: _,
            interval: _,
            timeout: _,
            min_timeout: _,
            max_timeout: _,
            initdead: _,
            local_pause: _,
            explain: _,
            jitter_percent: _,
            learning: _,
            max_peers: _,
            links: _,
            broadcast: _,
            seed: _,
            authenticated: _,
            keys: _,
        } = self;
        let fixed = [
            ("cluster", self.cluster != new.cluster),
            ("node", self.node != new.node),
            ("generation", self.generation != new.generation),
            ("links", self.links != new.links),
            ("broadcast", self.broadcast != new.broadcast),
            ("max_peers", self.max_peers != new.max_peers),
            ("learning", self.learning != new.learning),
            ("jitter_percent", self.jitter_percent != new.jitter_percent),
            ("explain_verdicts", self.explain != new.explain),
            ("authentication", self.authenticated != new.authenticated),
        ];
        fixed.into_iter().find(|(_, changed)| *changed).map(|(field, _)| field)
    }

    /// Whether `new` differs from `self` in timing, the fields a running machine takes over
    /// with [`Monitor::reconfigure`](crate::Monitor::reconfigure) besides the keys: `tick`
    /// and the timeout bounds, `timeout`, `interval`, `initdead`, `local_pause`.
    pub fn timing_changed(&self, new: &Config) -> bool {
        self.tick != new.tick
            || self.interval != new.interval
            || self.timeout != new.timeout
            || (self.min_timeout, self.max_timeout) != (new.min_timeout, new.max_timeout)
            || self.initdead != new.initdead
            || self.local_pause != new.local_pause
    }

    /// This node's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// This node's cluster.
    pub fn cluster(&self) -> ClusterId {
        self.cluster
    }

    /// This node's generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The basic time unit.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// The heartbeat interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The timeout this node asks its peers to hold it to.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The bounds into which peers' requested timeouts are clamped.
    pub fn timeout_bounds(&self) -> (Duration, Duration) {
        (self.min_timeout, self.max_timeout)
    }

    /// The deadline for a configured peer never heard since start-up.
    pub fn initdead(&self) -> Duration {
        self.initdead
    }

    /// How late a `tick` may come after a deadline before the lateness is taken for this
    /// node's own pause (see [`ConfigBuilder::local_pause`]); `None` when the guard is off.
    pub fn local_pause(&self) -> Option<Duration> {
        self.local_pause
    }

    /// Whether every `Suspect` and `Down` comes with its evidence (see
    /// [`ConfigBuilder::explain_verdicts`]).
    #[cfg(feature = "explain")]
    pub fn explains_verdicts(&self) -> bool {
        self.explain
    }

    /// How many links the adapter numbers.
    pub fn links(&self) -> u8 {
        self.links
    }

    /// The most peers the table may hold.
    pub fn max_peers(&self) -> usize {
        self.max_peers
    }

    /// Whether heartbeats go to every node at once (a group address), carrying no per-peer
    /// fields: no echo, and no word on whether the sender hears the receiver.
    pub fn broadcasts(&self) -> bool {
        self.broadcast
    }

    /// Whether unknown senders of authenticated heartbeats become peers.
    pub fn learning(&self) -> Learning {
        self.learning
    }

    /// Clamps a peer's requested timeout into `[min_timeout, max_timeout]`, as a ZooKeeper
    /// server clamps a session timeout.
    pub fn negotiate(&self, requested: Duration) -> Duration {
        requested.clamp(self.min_timeout, self.max_timeout)
    }
}

/// Builds a [`Config`]; see each method for its default. [`build`](Self::build) validates.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    cluster: ClusterId,
    node: NodeId,
    generation: Generation,
    tick: Duration,
    interval: Option<Duration>,
    timeout: Option<Duration>,
    min_timeout: Option<Duration>,
    max_timeout: Option<Duration>,
    initdead: Option<Duration>,
    local_pause: Option<Duration>,
    explain: bool,
    jitter_percent: u8,
    learning: Learning,
    max_peers: usize,
    links: u8,
    broadcast: bool,
    seed: u64,
    auth: Option<Authentication>,
}

impl ConfigBuilder {
    /// How frames are authenticated. **Required**: there is no default, so that running
    /// without authentication is a visible choice ([`Authentication::None`]) rather than an
    /// omission.
    pub fn authentication(mut self, auth: Authentication) -> Self {
        self.auth = Some(auth);
        self
    }

    /// This start's generation (default 0). Each start must use a higher one than the last;
    /// adapters derive it from a persisted counter or a clock.
    pub fn generation(mut self, generation: Generation) -> Self {
        self.generation = generation;
        self
    }

    /// The basic time unit (default 100 ms). The other timings default to multiples of it.
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// The timeout this node asks peers to hold it to (default 10 ticks). Must lie within this
    /// node's own bounds and be at least twice the interval.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The heartbeat interval (default a third of the timeout). Each actual gap is drawn from
    /// `[interval × (1 − jitter), interval]`.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// The smallest timeout granted to a peer (default 2 ticks).
    pub fn min_timeout(mut self, min: Duration) -> Self {
        self.min_timeout = Some(min);
        self
    }

    /// The largest timeout granted to a peer (default 20 ticks). Bounding it keeps a
    /// misconfigured or hostile peer from being trusted for too long.
    pub fn max_timeout(mut self, max: Duration) -> Self {
        self.max_timeout = Some(max);
        self
    }

    /// How long configured peers may stay unheard after start-up before they are declared
    /// down (default twice the timeout; at least the timeout).
    pub fn initdead(mut self, initdead: Duration) -> Self {
        self.initdead = Some(initdead);
        self
    }

    /// The local-stall guard (default off). With `Some(pause)`, a `tick` that comes more than
    /// `pause` after a peer's deadline is taken as evidence that this node itself was not
    /// running — a GC stop, a suspended VM, an overloaded event loop — rather than that the
    /// peer went silent: frames it sent may be waiting unread in the socket. The verdict is
    /// then postponed once, to `now + pause`, so that the driver can hand those frames in
    /// first; frames accepted in that window are flagged
    /// ([`Arrival::after_local_pause`](crate::detector::Arrival::after_local_pause)) so that
    /// detectors do not learn this node's pause as the path's lateness. A peer that is really
    /// gone is declared down `pause` later than it would have been.
    ///
    /// This is Cassandra's `MAX_LOCAL_PAUSE` (skip convictions after a long local pause) for a
    /// deadline-driven monitor: the evidence is how late the driver came compared with when the
    /// monitor asked to be ticked, so a driver that ticks at `poll_timeout` pays nothing.
    ///
    /// Choosing it: a pause that ends less than `pause` after a deadline escapes the guard, and
    /// a tick that is merely late by more than `pause` costs one `pause` of delay, so small is
    /// good — but it must exceed the time the driver takes from a `tick` to reading its socket.
    /// A millisecond suits a driver that honours `poll_timeout`. A driver that ticks only
    /// periodically delays each verdict by at most one period more.
    pub fn local_pause(mut self, pause: Option<Duration>) -> Self {
        self.local_pause = pause;
        self
    }

    /// Whether each `Suspect` and `Down` is preceded, in the event queue, by an
    /// [`EventKind::Explained`](crate::EventKind::Explained) for the same peer and instant
    /// carrying its [`Evidence`](crate::Evidence): the silence, the deadline and where it came
    /// from, the detector's suspicion, each link's silence, loss and RTT, and whether the
    /// local-stall guard had held the verdict back (default false: no extra events). Feature
    /// `explain`.
    #[cfg(feature = "explain")]
    pub fn explain_verdicts(mut self, yes: bool) -> Self {
        self.explain = yes;
        self
    }

    /// Jitter as a percentage taken off the interval at random (default 25, as BFD; at most
    /// 50). Jitter keeps nodes that started together from sending in lockstep.
    pub fn jitter_percent(mut self, percent: u8) -> Self {
        self.jitter_percent = percent;
        self
    }

    /// Whether unknown senders become peers (default [`Learning::Disabled`]). Enabling it
    /// requires authentication keys.
    pub fn learning(mut self, learning: Learning) -> Self {
        self.learning = learning;
        self
    }

    /// The most peers the table holds, configured and learned together (default 1024). The
    /// storage's own capacity bounds it too.
    pub fn max_peers(mut self, max: usize) -> Self {
        self.max_peers = max;
        self
    }

    /// How many links (paths or media) the adapter numbers, `1..=MAX_LINKS` (default 1). With more
    /// than one, each peer's links are tracked and reported separately and the peer stays up
    /// while any link delivers.
    pub fn links(mut self, links: u8) -> Self {
        self.links = links;
        self
    }

    /// Send one heartbeat per round addressed to every node (for multicast or broadcast)
    /// instead of one per peer (default false). Such frames carry no echo and no per-peer
    /// fields.
    pub fn broadcast(mut self, yes: bool) -> Self {
        self.broadcast = yes;
        self
    }

    /// Seeds the jitter and the peer-index hash (default 0). Give each node its own random
    /// seed in production and a fixed one in tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The values [`build`](Self::build) accepts for `field` (a [`ConfigError::field`] of a
    /// duration: `tick`, `timeout`, `interval`, `min_timeout`, `max_timeout`, `initdead`,
    /// `local_pause`), inclusive, given every other value as set: so that a refusal can say
    /// which numbers would have worked. `None` for other fields, and where no value would do
    /// (the range is then empty because of another field, which `build` names first).
    pub fn allowed(&self, field: &str) -> Option<(Duration, Duration)> {
        let one = Duration::from_micros(1);
        let tick = self.tick;
        let min_timeout = self.min_timeout.unwrap_or(tick.saturating_mul(2));
        let max_timeout = self.max_timeout.unwrap_or(tick.saturating_mul(20));
        let timeout = self.timeout.unwrap_or(tick.saturating_mul(10).clamp(min_timeout, max_timeout.max(min_timeout)));
        let range = match field {
            "tick" | "local_pause" => (one, MAX_WIRE_DURATION),
            "timeout" => (min_timeout.max(one), max_timeout.min(MAX_WIRE_DURATION)),
            "interval" => (one, (timeout / 2).min(MAX_WIRE_DURATION)),
            "min_timeout" => (one, max_timeout.min(MAX_WIRE_DURATION)),
            "max_timeout" => (min_timeout.max(one), MAX_WIRE_DURATION),
            "initdead" => (timeout.max(one), MAX_WIRE_DURATION),
            _ => return None,
        };
        (range.0 <= range.1).then_some(range)
    }

    /// The value [`build`](Self::build) checks for the duration `field` (named as in
    /// [`allowed`](Self::allowed)), defaults applied; `None` for other fields and for an unset
    /// `local_pause`.
    pub fn value(&self, field: &str) -> Option<Duration> {
        let tick = self.tick;
        let min_timeout = self.min_timeout.unwrap_or(tick.saturating_mul(2));
        let max_timeout = self.max_timeout.unwrap_or(tick.saturating_mul(20));
        let timeout = self.timeout.unwrap_or(tick.saturating_mul(10).clamp(min_timeout, max_timeout.max(min_timeout)));
        match field {
            "tick" => Some(tick),
            "timeout" => Some(timeout),
            "interval" => Some(self.interval.unwrap_or(timeout / 3)),
            "min_timeout" => Some(min_timeout),
            "max_timeout" => Some(max_timeout),
            "initdead" => Some(self.initdead.unwrap_or(timeout.saturating_mul(2))),
            "local_pause" => self.local_pause,
            _ => None,
        }
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let err = |field, reason| Err(ConfigError { field, reason });
        let tick = self.tick;
        if tick.is_zero() {
            return err("tick", "must be positive");
        }
        let min_timeout = self.min_timeout.unwrap_or(tick.saturating_mul(2));
        let max_timeout = self.max_timeout.unwrap_or(tick.saturating_mul(20));
        if min_timeout > max_timeout {
            return err("min_timeout", "must not exceed max_timeout");
        }
        let timeout = self.timeout.unwrap_or(tick.saturating_mul(10).clamp(min_timeout, max_timeout));
        let interval = self.interval.unwrap_or(timeout / 3);
        let initdead = self.initdead.unwrap_or(timeout.saturating_mul(2));
        for (field, value) in [
            ("tick", tick),
            ("timeout", timeout),
            ("interval", interval),
            ("min_timeout", min_timeout),
            ("max_timeout", max_timeout),
            ("initdead", initdead),
        ] {
            if value > MAX_WIRE_DURATION {
                return err(field, "must be at most 71 minutes (32 bits of microseconds)");
            }
            if value < Duration::from_micros(1) {
                return err(field, "must be at least 1 microsecond");
            }
        }
        if timeout < min_timeout || timeout > max_timeout {
            return err("timeout", "must lie within [min_timeout, max_timeout]");
        }
        if interval.saturating_mul(2) > timeout {
            return err("interval", "must be at most half the timeout");
        }
        if initdead < timeout {
            return err("initdead", "must be at least the timeout");
        }
        if self.local_pause.is_some_and(|p| p < Duration::from_micros(1)) {
            return err("local_pause", "must be at least 1 microsecond");
        }
        if self.jitter_percent > 50 {
            return err("jitter_percent", "must be at most 50");
        }
        if self.max_peers == 0 {
            return err("max_peers", "must be at least 1");
        }
        if self.links == 0 || self.links > MAX_LINKS {
            return err("links", "must be between 1 and 8");
        }
        let Some(auth) = self.auth else {
            return err("authentication", "must be chosen: keys, or Authentication::None explicitly");
        };
        if self.learning == Learning::Enabled && auth.is_none() {
            return err("learning", "requires authentication keys");
        }
        Ok(Config {
            cluster: self.cluster,
            node: self.node,
            generation: self.generation,
            tick,
            interval,
            timeout,
            min_timeout,
            max_timeout,
            initdead,
            local_pause: self.local_pause,
            explain: self.explain,
            jitter_percent: self.jitter_percent,
            learning: self.learning,
            max_peers: self.max_peers,
            links: self.links,
            broadcast: self.broadcast,
            seed: self.seed,
            authenticated: !auth.is_none(),
            keys: Some(auth),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ConfigBuilder {
        Config::builder(ClusterId(1), NodeId::new(1).unwrap()).authentication(Authentication::None)
    }

    #[test]
    fn each_field_is_fixed_or_timing_or_neither() {
        let base = builder().build().unwrap();
        let timing = [
            builder().tick(Duration::from_millis(50)).build().unwrap(),
            builder().timeout(Duration::from_millis(700)).build().unwrap(),
            builder().interval(Duration::from_millis(100)).build().unwrap(),
            builder().local_pause(Some(Duration::from_millis(20))).build().unwrap(),
        ];
        for new in &timing {
            assert!(base.timing_changed(new) && base.fixed_field_changed(new).is_none(), "{new:?}");
        }
        let fixed = Config::builder(ClusterId(2), NodeId::new(1).unwrap()).authentication(Authentication::None);
        let fixed = fixed.build().unwrap();
        assert_eq!((base.timing_changed(&fixed), base.fixed_field_changed(&fixed)), (false, Some("cluster")));
        let same = builder().seed(99).build().unwrap();
        assert_eq!((base.timing_changed(&same), base.fixed_field_changed(&same)), (false, None));
    }

    #[test]
    fn defaults_follow_the_tick() {
        let c = builder().tick(Duration::from_millis(50)).build().unwrap();
        assert_eq!(c.timeout_bounds(), (Duration::from_millis(100), Duration::from_millis(1000)));
        assert_eq!(c.timeout(), Duration::from_millis(500));
        assert_eq!(c.interval(), Duration::from_millis(500) / 3);
        assert_eq!(c.initdead(), Duration::from_secs(1));
    }

    #[test]
    fn a_refused_duration_comes_with_the_range_that_would_work() {
        let b = builder().timeout(Duration::from_millis(10)).interval(Duration::from_secs(1));
        assert_eq!(b.clone().build().unwrap_err().field, "timeout");
        assert_eq!(b.allowed("timeout"), Some((Duration::from_millis(200), Duration::from_secs(2))));
        assert_eq!(b.value("timeout"), Some(Duration::from_millis(10)));
        let b = builder().timeout(Duration::from_secs(1)).interval(Duration::from_secs(1));
        assert_eq!(b.clone().build().unwrap_err().field, "interval");
        assert_eq!(b.allowed("interval"), Some((Duration::from_micros(1), Duration::from_millis(500))));
        let within = b.clone().interval(b.allowed("interval").unwrap().1);
        assert!(within.build().is_ok());
        assert_eq!(builder().allowed("jitter_percent"), None);
        assert_eq!(builder().min_timeout(Duration::from_secs(9)).allowed("timeout"), None);
    }

    #[test]
    fn negotiation_clamps_like_zookeeper() {
        // ZooKeeper's documented example: min 3000, max 5000; 1000 → 3000, 6000 → 5000.
        let c = builder()
            .min_timeout(Duration::from_millis(3000))
            .max_timeout(Duration::from_millis(5000))
            .timeout(Duration::from_millis(4000))
            .build()
            .unwrap();
        assert_eq!(c.negotiate(Duration::from_millis(1000)), Duration::from_millis(3000));
        assert_eq!(c.negotiate(Duration::from_millis(6000)), Duration::from_millis(5000));
        assert_eq!(c.negotiate(Duration::from_millis(4500)), Duration::from_millis(4500));
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let cases = [
            (builder().tick(Duration::ZERO), "tick"),
            (builder().timeout(Duration::from_secs(60)), "timeout"),
            (builder().interval(Duration::from_millis(600)), "interval"),
            (builder().initdead(Duration::from_millis(10)), "initdead"),
            (builder().min_timeout(Duration::from_secs(9)), "min_timeout"),
            (builder().jitter_percent(51), "jitter_percent"),
            (builder().max_peers(0), "max_peers"),
            (builder().links(0), "links"),
            (builder().links(9), "links"),
            (builder().local_pause(Some(Duration::ZERO)), "local_pause"),
            (builder().tick(Duration::from_secs(4 * 3600)), "tick"),
            (Config::builder(ClusterId(1), NodeId::new(1).unwrap()), "authentication"),
            (builder().learning(Learning::Enabled), "learning"),
        ];
        for (b, field) in cases {
            assert_eq!(b.build().unwrap_err().field, field);
        }
    }
}
