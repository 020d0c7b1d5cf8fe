//! One BFD session's state machine: RFC 5880 asynchronous mode (§6.2, §6.5, §6.8).
//!
//! A [`Session`] holds the state variables of §6.8.1 and nothing about addresses or sockets:
//! [`BfdHost`](super::BfdHost) demultiplexes packets to it and files its timers. It can also be
//! driven on its own, with decoded [`ControlPacket`]s, which is how its tests and its model test
//! run.
//!
//! # What it does
//!
//! - **Three-way handshake** (§6.8.6): Down → Init once the peer's Down is heard, Init → Up once
//!   the peer reports Init or Up, Down → Up when the peer is already in Init. A peer in Down or
//!   AdminDown takes an Up session Down with diag 3.
//! - **Timers**: the transmit interval is max(bfd.DesiredMinTxInterval,
//!   bfd.RemoteMinRxInterval), none when the peer asks for 0; each interval is jittered to
//!   75–100 % (75–90 % with Detect Mult 1) by a PRNG seeded from the configuration. The
//!   detection time is the received Detect Mult × max(bfd.RequiredMinRxInterval, last received
//!   Desired Min TX); its expiry in Init or Up takes the session Down with diag 1 and forgets the
//!   remote discriminator.
//! - **Slow start** (§6.8.3): while not Up, Desired Min TX on the wire is at least 1 s; entering
//!   Up switches to the configured value.
//! - **Poll sequences** (§6.5): every change of the advertised Desired Min TX, Required Min RX or
//!   Detect Mult starts one; P rides on the periodic packets only, and a received F ends it. A
//!   change made during a Poll starts a new one when it ends. While Up, an increased Desired Min
//!   TX does not slow the actual transmission, and a reduced Required Min RX does not shorten the
//!   detection time, until the Poll that announced it ends. A received P is answered with one
//!   packet with F set, outside the schedule.
//! - **Roles**: a passive session sends nothing until it knows the remote discriminator.
//! - **Administrative down** (§6.8.16): AdminDown with diag 7, packets keep going; received
//!   packets only update the remote variables.
//! - A state change sends a packet at once (and restarts the schedule from it), so a handshake
//!   takes one round trip per step instead of one interval.
//!
//! Echo and demand mode are not implemented: packets advertise Required Min Echo RX 0 and never
//! set D; a peer's D bit is recorded but does not stop transmission (a peer may only ask for
//! demand mode if it implements it, and then it still answers Polls).
//!
//! # Rejected packets
//!
//! [`judge`](Session::judge) decides on a packet without changing anything;
//! [`receive`](Session::receive) judges, then applies. A rejected packet therefore changes
//! nothing but the caller's counters.

use core::time::Duration;

use super::auth::{AuthFailure, AuthType, BfdKeys, SequenceWindow};
use super::packet::{ControlPacket, Diag, PacketError, State};
use crate::engine::{BufferTooSmall, TimerKind};
use crate::time::Instant;

/// Desired Min TX on the wire while a session is not Up (§6.8.3): at least one second.
pub const SLOW_TX_INTERVAL: Duration = Duration::from_secs(1);
const SLOW_TX_US: u32 = 1_000_000;

/// Validated timing parameters of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    desired_min_tx_us: u32,
    required_min_rx_us: u32,
    detect_mult: u8,
}

impl Timing {
    /// Checks the parameters: both intervals nonzero and at most `u32::MAX` µs (about 71
    /// minutes), whole microseconds (anything finer is truncated), and `detect_mult` ≥ 1.
    pub fn new(desired_min_tx: Duration, required_min_rx: Duration, detect_mult: u8) -> Result<Timing, ConfigError> {
        let micros = |d| crate::time::checked_micros_u32(d).ok_or(ConfigError::IntervalTooLong);
        let (desired_min_tx_us, required_min_rx_us) = (micros(desired_min_tx)?, micros(required_min_rx)?);
        if desired_min_tx_us == 0 || required_min_rx_us == 0 {
            return Err(ConfigError::ZeroInterval);
        }
        if detect_mult == 0 {
            return Err(ConfigError::ZeroDetectMult);
        }
        Ok(Timing { desired_min_tx_us, required_min_rx_us, detect_mult })
    }

    /// bfd.DesiredMinTxInterval as configured (the wire value once Up).
    pub fn desired_min_tx(&self) -> Duration {
        micros(self.desired_min_tx_us)
    }

    /// bfd.RequiredMinRxInterval.
    pub fn required_min_rx(&self) -> Duration {
        micros(self.required_min_rx_us)
    }

    /// bfd.DetectMult.
    pub fn detect_mult(&self) -> u8 {
        self.detect_mult
    }
}

fn micros(us: u32) -> Duration {
    Duration::from_micros(u64::from(us))
}

/// Why a session configuration (or a timing change) was refused; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Desired Min TX or Required Min RX is zero (0 is reserved, or means "send me nothing").
    #[error("intervals must be nonzero")]
    ZeroInterval,
    /// An interval does not fit the wire's 32-bit microseconds.
    #[error("interval above u32::MAX microseconds")]
    IntervalTooLong,
    /// Detect Mult is zero.
    #[error("detect mult must be at least 1")]
    ZeroDetectMult,
    /// The host's session table is full.
    #[error("session table full")]
    TableFull,
    /// A session with the same peer, local address, link and hop type exists already: packets
    /// without a discriminator could not tell them apart.
    #[error("a session to that peer exists already")]
    Duplicate,
    /// No session has that handle (it was removed).
    #[error("no such session")]
    NoSuchSession,
    /// The event queue has no room for what the command could cause: drain `poll_event` first.
    #[error("event queue full")]
    EventQueueFull,
}

/// The timers a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionTimer {
    /// The next periodic packet.
    Transmit,
    /// The detection time since the last accepted packet.
    Detect,
    /// Twice the detection time of silence: forget the authentication sequence (§6.8.1).
    AuthSeqReset,
}

impl TimerKind for SessionTimer {
    const COUNT: usize = 3;

    fn index(self) -> usize {
        self as usize
    }

    fn from_index(index: usize) -> Option<Self> {
        [SessionTimer::Transmit, SessionTimer::Detect, SessionTimer::AuthSeqReset].get(index).copied()
    }
}

/// Why a packet was refused. Refusing changes no session state, only counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Not a BFD control packet (§6.8.6 structural checks).
    #[error("malformed: {0}")]
    Malformed(#[from] PacketError),
    /// TTL / hop limit below the session's policy (single hop: 255, RFC 5881 §5), or unknown.
    #[error("TTL {0:?} refused")]
    Ttl(Option<u8>),
    /// Your Discriminator names no session (§6.8.6).
    #[error("no session with discriminator {0:#x}")]
    UnknownDiscriminator(u32),
    /// Your Discriminator is 0 but State is Init or Up (§6.8.6).
    #[error("zero Your Discriminator in state {0:?}")]
    ZeroDiscriminatorNotDown(State),
    /// Your Discriminator is 0 and no session matches the source address and link.
    #[error("no session for the packet's source")]
    NoSessionForSource,
    /// Your Discriminator names a session configured for another peer, local address or link.
    #[error("packet for a session of another peer")]
    WrongSource,
    /// P and F both set (§6.5: a sender must not).
    #[error("P and F both set")]
    PollAndFinal,
    /// The A bit is set but the session has no authentication (§6.8.6).
    #[error("authentication present but not configured")]
    AuthUnexpected,
    /// The A bit is clear but the session requires authentication (§6.8.6).
    #[error("authentication missing")]
    AuthMissing,
    /// Failed authentication (§6.7): wrong type, key, length, password or digest, or a
    /// sequence number outside the replay window.
    #[error("authentication failed: {0}")]
    Auth(AuthFailure),
    /// The event queue has no room for what the packet could cause: drain `poll_event` first.
    #[error("event queue full")]
    EventQueueFull,
}

/// Counters of refused packets, one per [`Rejected`] reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejectStats {
    /// [`Rejected::Malformed`].
    pub malformed: u64,
    /// [`Rejected::Ttl`].
    pub ttl: u64,
    /// [`Rejected::UnknownDiscriminator`].
    pub unknown_discriminator: u64,
    /// [`Rejected::ZeroDiscriminatorNotDown`].
    pub zero_discriminator_not_down: u64,
    /// [`Rejected::NoSessionForSource`].
    pub no_session_for_source: u64,
    /// [`Rejected::WrongSource`].
    pub wrong_source: u64,
    /// [`Rejected::PollAndFinal`].
    pub poll_and_final: u64,
    /// [`Rejected::AuthUnexpected`].
    pub auth_unexpected: u64,
    /// [`Rejected::AuthMissing`].
    pub auth_missing: u64,
    /// [`Rejected::Auth`] with a bad password or digest, key, type or length.
    pub auth_failed: u64,
    /// [`Rejected::Auth`] with a sequence number outside the window: a replay, or a sender
    /// that skipped too far.
    pub auth_replayed: u64,
    /// [`Rejected::EventQueueFull`].
    pub event_queue_full: u64,
}

impl RejectStats {
    /// All refusals together.
    pub fn total(&self) -> u64 {
        [
            self.malformed,
            self.ttl,
            self.unknown_discriminator,
            self.zero_discriminator_not_down,
            self.no_session_for_source,
            self.wrong_source,
            self.poll_and_final,
            self.auth_unexpected,
            self.auth_missing,
            self.auth_failed,
            self.auth_replayed,
            self.event_queue_full,
        ]
        .into_iter()
        .fold(0, u64::saturating_add)
    }

    /// Counts one refusal.
    pub fn count(&mut self, rejected: &Rejected) {
        let counter = match rejected {
            Rejected::Malformed(_) => &mut self.malformed,
            Rejected::Ttl(_) => &mut self.ttl,
            Rejected::UnknownDiscriminator(_) => &mut self.unknown_discriminator,
            Rejected::ZeroDiscriminatorNotDown(_) => &mut self.zero_discriminator_not_down,
            Rejected::NoSessionForSource => &mut self.no_session_for_source,
            Rejected::WrongSource => &mut self.wrong_source,
            Rejected::PollAndFinal => &mut self.poll_and_final,
            Rejected::AuthUnexpected => &mut self.auth_unexpected,
            Rejected::AuthMissing => &mut self.auth_missing,
            Rejected::Auth(AuthFailure::OutOfWindow { .. }) => &mut self.auth_replayed,
            Rejected::Auth(_) => &mut self.auth_failed,
            Rejected::EventQueueFull => &mut self.event_queue_full,
        };
        *counter = counter.saturating_add(1);
    }
}

/// A session's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Packets accepted.
    pub received: u64,
    /// Packets written by `poll_transmit` (periodic, state-change and Final ones).
    pub transmitted: u64,
    /// Of those, answers to a Poll (F set).
    pub finals_sent: u64,
    /// Poll sequences this side started that a Final ended.
    pub polls_completed: u64,
    /// Packets dropped because signing failed (never expected: the session builds them).
    pub sign_failures: u64,
    /// Packets for this session that were refused, by reason.
    pub rejected: RejectStats,
}

/// A snapshot of one session, free of secrets: keys never appear in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStatus {
    /// bfd.SessionState.
    pub state: State,
    /// bfd.RemoteSessionState.
    pub remote_state: State,
    /// bfd.LocalDiag: why the session last changed state.
    pub local_diag: Diag,
    /// The diag of the last packet accepted from the peer.
    pub remote_diag: Diag,
    /// bfd.LocalDiscr.
    pub local_discriminator: u32,
    /// bfd.RemoteDiscr (0 while unknown).
    pub remote_discriminator: u32,
    /// The negotiated interval between periodic packets, before jitter; `None` while the peer
    /// asks for none (Required Min RX 0).
    pub tx_interval: Option<Duration>,
    /// The detection time; `None` until a packet was accepted.
    pub detection_time: Option<Duration>,
    /// When the last packet was accepted.
    pub last_received: Option<Instant>,
    /// Desired Min TX and Required Min RX as this side advertises them now.
    pub advertised: (Duration, Duration),
    /// Whether this side has a Poll sequence out.
    pub poll_in_progress: bool,
    /// Whether the session is passive (sends only once it knows the remote discriminator).
    pub passive: bool,
    /// bfd.AuthType (`None`: no authentication). The keys themselves are never shown.
    pub auth_type: Option<AuthType>,
    /// bfd.AuthSeqKnown: whether a received sequence number is remembered.
    pub auth_seq_known: bool,
    /// Counters.
    pub stats: SessionStats,
}

/// What the session advertises; a change starts a Poll sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Advert {
    desired_min_tx_us: u32,
    required_min_rx_us: u32,
    detect_mult: u8,
}

/// A small seeded PRNG (SplitMix64): jitter, discriminators and sequence starts. Never reads a
/// clock or the OS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) const fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

/// The jitter drawn for one interval, in per-mille of the interval: 750..=1000, or 750..=900
/// with Detect Mult 1 (§6.8.7).
fn jitter_permille(rng: &mut Rng, detect_mult: u8) -> u32 {
    let span = if detect_mult == 1 { 151 } else { 251 };
    750 + (rng.next_u64() % span) as u32
}

/// Authentication state: bfd.AuthType (from the keys), bfd.RcvAuthSeq / bfd.AuthSeqKnown (the
/// window) and bfd.XmitAuthSeq.
#[derive(Debug, Clone)]
struct AuthState {
    keys: BfdKeys,
    window: SequenceWindow,
    /// The sequence number of the last packet sent (the first packet uses one more, or the
    /// same for a keyed type whose content did not change).
    xmit_seq: u32,
    /// The last packet sent, without its section: keyed types bump the sequence when the
    /// content changes.
    last_sent: Option<ControlPacket>,
}

impl AuthState {
    fn meticulous(&self) -> bool {
        self.keys.auth_type().is_meticulous()
    }

    fn keyed(&self) -> bool {
        self.keys.auth_type().is_keyed()
    }

    /// The sequence number for `packet` (sent without a section).
    fn sequence_for(&self, packet: &ControlPacket) -> u32 {
        if self.meticulous() || self.last_sent.is_some_and(|last| last != *packet) {
            self.xmit_seq.wrapping_add(1)
        } else {
            self.xmit_seq
        }
    }
}

/// One BFD session (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub struct Session {
    local_discr: u32,
    timing: Timing,
    passive: bool,
    state: State,
    remote_state: State,
    remote_discr: u32,
    local_diag: Diag,
    remote_diag: Diag,
    /// bfd.RemoteMinRxInterval (starts at 1 µs).
    remote_min_rx_us: u32,
    /// The last received Desired Min TX (0 until heard).
    remote_desired_min_tx_us: u32,
    /// The last received Detect Mult (0 until heard).
    remote_detect_mult: u8,
    /// bfd.RemoteDemandMode: recorded only.
    remote_demand: bool,
    /// What the packets carry now.
    advertised: Advert,
    /// The Desired Min TX the transmit interval is computed from (§6.8.3: an increase waits for
    /// the Poll to end).
    tx_in_use_us: u32,
    /// The Required Min RX the detection time is computed from (§6.8.3: a reduction waits for
    /// the Poll to end).
    rx_in_use_us: u32,
    /// The values a Poll in progress announced.
    poll: Option<Advert>,
    /// A Final is owed to a received Poll.
    want_final: bool,
    /// A periodic (or state-change) packet is due.
    want_periodic: bool,
    /// When the last periodic packet was scheduled out; `None`: send at once.
    last_tx: Option<Instant>,
    /// The jitter of the interval that follows `last_tx`.
    jitter: u32,
    /// The transmit grid in nanoseconds (0: none): see
    /// [`set_transmit_granularity`](Session::set_transmit_granularity).
    tx_grid_ns: u64,
    /// A detection deadline postponed once after a local stall (see
    /// [`hold_detection`](Session::hold_detection)); cleared by the next accepted packet or
    /// expiry.
    detect_hold: Option<Instant>,
    /// The detection timer runs (an accepted packet since the last expiry).
    detect_armed: bool,
    last_rx: Option<Instant>,
    auth: Option<AuthState>,
    /// The latest `now` the session was given (time going backwards counts as no progress).
    clock: Instant,
    rng: Rng,
    stats: SessionStats,
}

impl Session {
    /// A session in state Down with local discriminator `local_discriminator` (nonzero, unique
    /// on this system: the caller's duty), started at `now`. `keys` set bfd.AuthType (`None`:
    /// no authentication). `seed` drives its jitter and the random start of bfd.XmitAuthSeq.
    pub fn new(
        local_discriminator: u32,
        timing: Timing,
        passive: bool,
        keys: Option<BfdKeys>,
        seed: u64,
        now: Instant,
    ) -> Self {
        let mut rng = Rng::new(seed);
        let jitter = jitter_permille(&mut rng, timing.detect_mult);
        let auth = keys.map(|keys| AuthState {
            keys,
            window: SequenceWindow::new(),
            xmit_seq: rng.next_u32(),
            last_sent: None,
        });
        let advertised = Advert {
            desired_min_tx_us: timing.desired_min_tx_us.max(SLOW_TX_US),
            required_min_rx_us: timing.required_min_rx_us,
            detect_mult: timing.detect_mult,
        };
        Session {
            local_discr: local_discriminator,
            timing,
            passive,
            state: State::Down,
            remote_state: State::Down,
            remote_discr: 0,
            local_diag: Diag::NONE,
            remote_diag: Diag::NONE,
            remote_min_rx_us: 1,
            remote_desired_min_tx_us: 0,
            remote_detect_mult: 0,
            remote_demand: false,
            advertised,
            tx_in_use_us: advertised.desired_min_tx_us,
            rx_in_use_us: advertised.required_min_rx_us,
            poll: None,
            want_final: false,
            want_periodic: false,
            last_tx: None,
            jitter,
            tx_grid_ns: 0,
            detect_hold: None,
            detect_armed: false,
            last_rx: None,
            auth,
            clock: now,
            rng,
            stats: SessionStats::default(),
        }
    }

    /// bfd.SessionState.
    pub fn state(&self) -> State {
        self.state
    }

    /// bfd.RemoteSessionState.
    pub fn remote_state(&self) -> State {
        self.remote_state
    }

    /// bfd.LocalDiscr.
    pub fn local_discriminator(&self) -> u32 {
        self.local_discr
    }

    /// bfd.RemoteDiscr.
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discr
    }

    /// bfd.LocalDiag.
    pub fn local_diag(&self) -> Diag {
        self.local_diag
    }

    /// The configured timing.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The counters.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// The counters, for a host that counts refusals it decided itself.
    pub(crate) fn stats_mut(&mut self) -> &mut SessionStats {
        &mut self.stats
    }

    /// The negotiated transmit interval before jitter (§6.8.2, §6.8.7), `None` if the peer asks
    /// for no periodic packets.
    pub fn tx_interval(&self) -> Option<Duration> {
        (self.remote_min_rx_us != 0).then(|| micros(self.tx_in_use_us.max(self.remote_min_rx_us)))
    }

    /// The detection time (§6.8.4), `None` until a packet was accepted.
    pub fn detection_time(&self) -> Option<Duration> {
        (self.remote_detect_mult != 0).then(|| {
            let base = self.rx_in_use_us.max(self.remote_desired_min_tx_us);
            Duration::from_micros(u64::from(base) * u64::from(self.remote_detect_mult))
        })
    }

    /// A snapshot of the session.
    pub fn status(&self) -> SessionStatus {
        SessionStatus {
            state: self.state,
            remote_state: self.remote_state,
            local_diag: self.local_diag,
            remote_diag: self.remote_diag,
            local_discriminator: self.local_discr,
            remote_discriminator: self.remote_discr,
            tx_interval: self.tx_interval(),
            detection_time: self.detection_time(),
            last_received: self.last_rx,
            advertised: (micros(self.advertised.desired_min_tx_us), micros(self.advertised.required_min_rx_us)),
            poll_in_progress: self.poll.is_some(),
            passive: self.passive,
            auth_type: self.auth.as_ref().map(|a| a.keys.auth_type()),
            auth_seq_known: self.auth.as_ref().is_some_and(|a| a.window.is_known()),
            stats: self.stats,
        }
    }

    /// When timer `kind` fires; `None` when it does not run.
    pub fn deadline(&self, kind: SessionTimer) -> Option<Instant> {
        match kind {
            SessionTimer::Transmit => self.tx_deadline(),
            SessionTimer::Detect => self.detect_deadline(),
            SessionTimer::AuthSeqReset => self.auth_reset_deadline(),
        }
    }

    /// The earliest of the session's deadlines.
    pub fn next_deadline(&self) -> Option<Instant> {
        [SessionTimer::Transmit, SessionTimer::Detect, SessionTimer::AuthSeqReset]
            .into_iter()
            .filter_map(|k| self.deadline(k))
            .min()
    }

    fn may_send(&self) -> bool {
        self.remote_min_rx_us != 0 && !(self.passive && self.remote_discr == 0)
    }

    fn tx_deadline(&self) -> Option<Instant> {
        if !self.may_send() {
            return None;
        }
        let Some(last) = self.last_tx else {
            // As soon as possible.
            return Some(self.clock);
        };
        let interval = u64::from(self.tx_in_use_us.max(self.remote_min_rx_us));
        let jittered = interval * u64::from(self.jitter) / 1000;
        let exact = last + Duration::from_micros(jittered.max(1));
        Some(self.on_grid(last, exact, interval))
    }

    /// Moves the jittered deadline `exact` (an interval of `interval_us` after `last`) onto the
    /// transmit grid if the interval stays inside §6.8.7's band (75–100 % of the interval,
    /// 75–90 % with Detect Mult 1): down to the grid point before it if that is still at least
    /// 75 %, else up to the next one if that is still within the upper bound, else unchanged.
    /// A band narrower than the grid is left alone, so that the jitter stays random.
    fn on_grid(&self, last: Instant, exact: Instant, interval_us: u64) -> Instant {
        let grid = self.tx_grid_ns;
        if grid == 0 {
            return exact;
        }
        let upper_permille = if self.timing.detect_mult == 1 { 900 } else { 1000 };
        // A band narrower than the grid would leave at most one grid point in it: every
        // interval would come out the same, the jitter gone. Such a session keeps exact times.
        if interval_us.saturating_mul(upper_permille - 750) < grid {
            return exact;
        }
        // µs × permille = ns.
        let lowest = last.as_nanos().saturating_add(interval_us.saturating_mul(750));
        let highest = last.as_nanos().saturating_add(interval_us.saturating_mul(upper_permille));
        let t = exact.as_nanos();
        let down = t - t % grid;
        if down >= lowest {
            return Instant::from_nanos(down);
        }
        match down.checked_add(grid) {
            Some(up) if up <= highest => Instant::from_nanos(up),
            _ => exact,
        }
    }

    /// Puts periodic transmissions on a grid of `granularity` (zero: none, every deadline
    /// exact): each jittered deadline moves to a multiple of it (on the time base of the
    /// `Instant`s given) whenever the interval stays inside RFC 5880 §6.8.7's 75–100 % (75–90 %
    /// with Detect Mult 1), so that sessions of one host share wake-ups. A session whose band
    /// (a quarter of its interval, or 15 % with Detect Mult 1) is narrower than the grid keeps
    /// exact deadlines: on the grid, its intervals would all be the same. Detection deadlines,
    /// Final replies and packets for a state change are not moved.
    pub fn set_transmit_granularity(&mut self, granularity: Duration) {
        self.tx_grid_ns = u64::try_from(granularity.as_nanos()).unwrap_or(u64::MAX);
    }

    /// The transmit grid (zero: none).
    pub fn transmit_granularity(&self) -> Duration {
        Duration::from_nanos(self.tx_grid_ns)
    }

    /// Postpones a detection deadline that has passed to `until`, once: the session goes Down
    /// at `until` unless a packet is accepted before. For a host whose driver did not run for a
    /// while (its peers' packets may be waiting unread). Does nothing if the detection timer
    /// does not run, is not due at `until`, or was already held.
    pub fn hold_detection(&mut self, until: Instant) {
        if self.detect_hold.is_some() {
            return;
        }
        if self.detect_deadline().is_some_and(|at| at < until) {
            self.detect_hold = Some(until);
        }
    }

    /// Whether a detection deadline is held (see [`hold_detection`](Self::hold_detection)).
    pub fn detection_held(&self) -> bool {
        self.detect_hold.is_some()
    }

    fn auth_reset_deadline(&self) -> Option<Instant> {
        if !self.auth.as_ref()?.window.is_known() {
            return None;
        }
        Some(self.last_rx? + 2 * self.detection_time()?)
    }

    /// The keys, for rotation (add the new key on both ends, select it, remove the old one).
    /// `None` without authentication.
    pub fn keys_mut(&mut self) -> Option<&mut BfdKeys> {
        self.auth.as_mut().map(|a| &mut a.keys)
    }

    fn detect_deadline(&self) -> Option<Instant> {
        if !self.detect_armed || self.state == State::AdminDown {
            return None;
        }
        let at = self.last_rx? + self.detection_time()?;
        Some(self.detect_hold.map_or(at, |hold| hold.max(at)))
    }

    /// Decides on a packet without changing anything: `Ok` if [`apply`](Self::apply) may take
    /// it. Checks the P-and-F rule, then authentication (§6.8.6 steps 10–11): the A bit
    /// against bfd.AuthType, the password or digest over `bytes` (the packet as received), and
    /// for keyed types the sequence window.
    pub fn judge(&self, packet: &ControlPacket, bytes: &[u8]) -> Result<(), Rejected> {
        if packet.poll && packet.final_ {
            return Err(Rejected::PollAndFinal);
        }
        match (&packet.auth, &self.auth) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(Rejected::AuthUnexpected),
            (None, Some(_)) => Err(Rejected::AuthMissing),
            (Some(section), Some(auth)) => {
                auth.keys.verify(bytes, section).map_err(Rejected::Auth)?;
                if auth.keyed() {
                    auth.window
                        .check(section.sequence, packet.detect_mult, auth.meticulous())
                        .map_err(Rejected::Auth)?;
                }
                Ok(())
            }
        }
    }

    /// Judges the packet (see [`judge`](Self::judge)) and, if it passes, applies it at `now`. A
    /// refused packet is counted in this session's stats and changes nothing else.
    pub fn receive(&mut self, now: Instant, packet: &ControlPacket, bytes: &[u8]) -> Result<(), Rejected> {
        match self.judge(packet, bytes) {
            Ok(()) => {
                self.apply(now, packet);
                Ok(())
            }
            Err(rejected) => {
                self.stats.rejected.count(&rejected);
                Err(rejected)
            }
        }
    }

    /// Applies a packet that [`judge`](Self::judge) accepted (§6.8.6 steps 12–19).
    pub fn apply(&mut self, now: Instant, packet: &ControlPacket) {
        let now = self.advance(now);
        self.stats.received = self.stats.received.saturating_add(1);
        if let (Some(auth), Some(section)) = (&mut self.auth, &packet.auth)
            && auth.keyed()
        {
            auth.window.accept(section.sequence);
        }
        self.remote_discr = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_demand = packet.demand;
        self.remote_min_rx_us = packet.required_min_rx;
        self.remote_desired_min_tx_us = packet.desired_min_tx;
        self.remote_detect_mult = packet.detect_mult;
        self.remote_diag = packet.diag;
        self.last_rx = Some(now);
        self.detect_hold = None;
        if packet.final_ {
            self.end_poll();
        }
        if self.state == State::AdminDown {
            self.retime();
            return;
        }
        self.detect_armed = true;
        let next = match (self.state, packet.state) {
            (State::Down, State::Down) => Some((State::Init, Diag::NONE)),
            (State::Down, State::Init) | (State::Init, State::Init | State::Up) => Some((State::Up, Diag::NONE)),
            (State::Init | State::Up, State::AdminDown) | (State::Up, State::Down) => {
                Some((State::Down, Diag::NEIGHBOR_SIGNALED_DOWN))
            }
            _ => None,
        };
        if let Some((state, diag)) = next {
            self.set_state(state, diag);
        }
        if packet.poll {
            self.want_final = true;
        }
        self.retime();
    }

    /// Fires timer `kind` at `now` (the host calls this when the timer is due).
    pub fn on_timer(&mut self, now: Instant, kind: SessionTimer) {
        let now = self.advance(now);
        match kind {
            SessionTimer::Transmit => {
                if self.tx_deadline().is_some_and(|at| at <= now) {
                    self.want_periodic = true;
                    self.last_tx = Some(now);
                    self.jitter = jitter_permille(&mut self.rng, self.timing.detect_mult);
                }
            }
            SessionTimer::Detect => {
                if self.detect_deadline().is_some_and(|at| at <= now) {
                    self.detect_armed = false;
                    self.detect_hold = None;
                    // §6.8.1: RemoteDiscr goes back to 0 when a detection time passes.
                    self.remote_discr = 0;
                    if matches!(self.state, State::Init | State::Up) {
                        self.set_state(State::Down, Diag::CONTROL_DETECTION_TIME_EXPIRED);
                    }
                    self.retime();
                }
            }
            SessionTimer::AuthSeqReset => {
                if self.auth_reset_deadline().is_some_and(|at| at <= now)
                    && let Some(auth) = &mut self.auth
                {
                    auth.window.forget();
                }
            }
        }
    }

    /// Holds the session down administratively (§6.8.16): AdminDown, diag 7. Packets keep
    /// going, so the peer sees it. Does nothing if already AdminDown.
    pub fn admin_down(&mut self, now: Instant) {
        self.advance(now);
        if self.state != State::AdminDown {
            self.set_state(State::AdminDown, Diag::ADMINISTRATIVELY_DOWN);
            self.detect_armed = false;
            self.detect_hold = None;
            self.retime();
        }
    }

    /// Releases an administrative hold: the session goes Down (diag 0) and starts over. Does
    /// nothing unless AdminDown.
    pub fn enable(&mut self, now: Instant) {
        self.advance(now);
        if self.state == State::AdminDown {
            self.set_state(State::Down, Diag::NONE);
            self.retime();
        }
    }

    /// Changes the timing; a change of what is advertised starts a Poll sequence.
    pub fn set_timing(&mut self, now: Instant, timing: Timing) {
        self.advance(now);
        self.timing = timing;
        self.retime();
    }

    /// Whether a packet waits for [`write_transmit`](Self::write_transmit).
    pub fn has_transmit(&self) -> bool {
        self.want_final || self.want_periodic
    }

    /// The next packet to send, before authentication: a Final first if one is owed, else the
    /// periodic packet (with P during a Poll sequence).
    pub fn peek_transmit(&self) -> Option<ControlPacket> {
        let final_ = if self.want_final {
            true
        } else if self.want_periodic {
            false
        } else {
            return None;
        };
        Some(ControlPacket {
            diag: self.local_diag,
            state: self.state,
            poll: !final_ && self.poll.is_some(),
            final_,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.advertised.detect_mult,
            my_discriminator: self.local_discr,
            your_discriminator: self.remote_discr,
            desired_min_tx: self.advertised.desired_min_tx_us,
            required_min_rx: self.advertised.required_min_rx_us,
            required_min_echo_rx: 0,
            auth: None,
        })
    }

    /// Writes the next packet into `buf`, signed when the session has keys, and returns its
    /// length; `None` if nothing waits. A too-small buffer leaves the packet waiting and the
    /// session unchanged.
    pub fn write_transmit(&mut self, buf: &mut [u8]) -> Option<Result<usize, BufferTooSmall>> {
        loop {
            let plain = self.peek_transmit()?;
            let mut packet = plain;
            let sequence = self.auth.as_ref().map(|auth| {
                let sequence = auth.sequence_for(&plain);
                packet.auth = Some(auth.keys.section(sequence));
                sequence
            });
            let len = match packet.emit(buf) {
                Ok(len) => len,
                Err(e) => return Some(Err(e)),
            };
            let signed = match (&mut self.auth, sequence) {
                (Some(auth), Some(sequence)) => {
                    let signed = auth.keys.sign(&mut buf[..len]);
                    if signed.is_ok() {
                        auth.xmit_seq = sequence;
                        auth.last_sent = Some(plain);
                    }
                    signed.is_ok()
                }
                _ => true,
            };
            self.dequeue(&packet);
            if signed {
                self.stats.transmitted = self.stats.transmitted.saturating_add(1);
                if packet.final_ {
                    self.stats.finals_sent = self.stats.finals_sent.saturating_add(1);
                }
                return Some(Ok(len));
            }
            // Cannot happen for packets the session builds; drop it rather than send it unsigned.
            buf[..len].fill(0);
            self.stats.sign_failures = self.stats.sign_failures.saturating_add(1);
        }
    }

    /// Takes a written (or dropped) packet off the queue.
    fn dequeue(&mut self, packet: &ControlPacket) {
        if packet.final_ {
            self.want_final = false;
        } else {
            self.want_periodic = false;
        }
    }

    fn advance(&mut self, now: Instant) -> Instant {
        self.clock = self.clock.max(now);
        self.clock
    }

    fn set_state(&mut self, state: State, diag: Diag) {
        self.state = state;
        self.local_diag = diag;
        // Tell the peer at once; the schedule restarts from that packet.
        self.last_tx = None;
    }

    /// What the packets should advertise in the current state (§6.8.3: slow while not Up).
    fn wanted_advert(&self) -> Advert {
        let desired = self.timing.desired_min_tx_us;
        Advert {
            desired_min_tx_us: if self.state == State::Up { desired } else { desired.max(SLOW_TX_US) },
            required_min_rx_us: self.timing.required_min_rx_us,
            detect_mult: self.timing.detect_mult,
        }
    }

    /// Brings the advertised values in line with the state and the timing; a change starts a
    /// Poll (unless one is out: its end starts the next) and moves the values in use by the
    /// §6.8.3 rules.
    fn retime(&mut self) {
        let want = self.wanted_advert();
        if want == self.advertised {
            return;
        }
        self.advertised = want;
        if self.state == State::Up {
            // Faster transmission and a longer detection time are safe at once.
            self.tx_in_use_us = self.tx_in_use_us.min(want.desired_min_tx_us);
            self.rx_in_use_us = self.rx_in_use_us.max(want.required_min_rx_us);
        } else {
            self.tx_in_use_us = want.desired_min_tx_us;
            self.rx_in_use_us = want.required_min_rx_us;
        }
        if self.poll.is_none() {
            self.poll = Some(want);
        }
    }

    /// A Final arrived: the Poll in progress (if any) ends, and the values it announced are now
    /// in use. A change made since then starts the next Poll.
    fn end_poll(&mut self) {
        let Some(announced) = self.poll.take() else { return };
        self.stats.polls_completed = self.stats.polls_completed.saturating_add(1);
        let now = self.advertised;
        if self.state == State::Up {
            self.tx_in_use_us = now.desired_min_tx_us.min(announced.desired_min_tx_us);
            self.rx_in_use_us = now.required_min_rx_us.max(announced.required_min_rx_us);
        } else {
            self.tx_in_use_us = now.desired_min_tx_us;
            self.rx_in_use_us = now.required_min_rx_us;
        }
        if now != announced {
            self.poll = Some(now);
        }
    }
}
