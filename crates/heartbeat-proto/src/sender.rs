//! The sending half on its own: a [`Sender`] beacons heartbeats to a list of targets and says
//! goodbye on shutdown, without monitoring anyone (one-way heartbeats, as a device reporting to
//! a monitor). A [`Node`](crate::Node) does both halves.

use crate::auth::Authentication;
use crate::beacon::{Beacon, Destination, Transmit};
use crate::config::Config;
use crate::engine::BufferTooSmall;
use crate::storage::{Buffer, Storage, swap_remove};
use crate::time::{Clock, Instant};
use crate::wire::{Kind, Message, NodeId};

/// The unaddressed parts of every frame this node sends: identity, sequence and timing.
pub(crate) fn outgoing(config: &Config, kind: Kind, sequence: u64, now: Instant) -> Message {
    let msg = Message::heartbeat(
        config.cluster,
        config.node,
        config.generation,
        sequence,
        now,
        config.interval,
        config.timeout,
    );
    Message { kind, ..msg }
}

/// Sends a heartbeat to each target every interval (with jitter), and a goodbye on
/// [`leave`](Self::leave).
///
/// Driving: call [`tick`](Self::tick) at [`poll_timeout`](Self::poll_timeout), then drain
/// [`poll_transmit`](Self::poll_transmit) until `None`.
pub struct Sender<S: Storage> {
    /// The configuration, without its keys.
    config: Config,
    auth: Authentication,
    clock: Clock,
    beacon: Beacon,
    targets: S::Vec<NodeId>,
}

impl<S: Storage> Sender<S> {
    /// A sender whose first round is due at `now`.
    ///
    /// It takes the configuration's keys into its own state (see [`Config::keys`]).
    ///
    /// # Panics
    ///
    /// If `config` is a running machine's configuration, whose keys are already taken.
    pub fn new(mut config: Config, now: Instant) -> Self {
        let auth = config.take_keys();
        let beacon = Beacon::new(&config, now);
        Sender { config, auth, clock: Clock::new(now), beacon, targets: Default::default() }
    }

    /// The configuration, without its keys.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How frames are signed.
    pub fn authentication(&self) -> &Authentication {
        &self.auth
    }

    /// The key ring, for rotating keys while running; `None` without keys.
    #[cfg(feature = "auth")]
    pub fn key_ring_mut(&mut self) -> Option<&mut crate::auth::KeyRing> {
        self.auth.key_ring_mut()
    }

    /// Adds a target; returns `false` if it is present already or storage is full.
    pub fn add_target(&mut self, id: NodeId) -> bool {
        !self.targets.contains(&id) && self.targets.try_push(id).is_ok()
    }

    /// Removes a target; returns whether it was present.
    pub fn remove_target(&mut self, id: NodeId) -> bool {
        match self.targets.iter().position(|t| *t == id) {
            Some(i) => swap_remove(&mut self.targets, i).is_some(),
            None => false,
        }
    }

    /// The sequence number of the latest round (0 before the first).
    pub fn sequence(&self) -> u64 {
        self.beacon.sequence()
    }

    /// Advances time; starts a round if one is due.
    pub fn tick(&mut self, now: Instant) {
        let now = self.clock.advance(now);
        self.beacon.tick(now);
    }

    /// Starts the goodbye round. Drain `poll_transmit` to send it; nothing follows.
    pub fn leave(&mut self, now: Instant) {
        self.clock.advance(now);
        self.beacon.leave();
    }

    /// Writes the next frame of the current round into `buf`; `None` once the round is sent.
    /// A buffer shorter than the frame (at most [`MAX_FRAME_LEN`](crate::MAX_FRAME_LEN) bytes) gets
    /// `Some(Err(BufferTooSmall))`, nothing written, and the frame stays next.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>> {
        let count = if self.config.broadcast { 1 } else { self.targets.len() };
        let (kind, i) = self.beacon.next_target(count)?;
        let mut msg = outgoing(&self.config, kind, self.beacon.sequence(), self.clock.now());
        let destination = if self.config.broadcast {
            Destination::All
        } else {
            let target = self.targets[i];
            msg.receiver = Some(target);
            Destination::Peer(target)
        };
        // Every field comes from a validated config. Signed here, with the current key, when the
        // configuration has keys.
        let sent = self.auth.encode_valid(&msg, buf).map(|len| Transmit { destination, len });
        if sent.is_ok() {
            self.beacon.sent();
        }
        Some(sent)
    }

    /// When to call `tick` next: now while a round is being sent, `None` after goodbye.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.beacon.poll_timeout(self.clock.now())
    }
}
