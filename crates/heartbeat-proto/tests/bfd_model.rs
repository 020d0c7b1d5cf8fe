//! Model test of one BFD session against RFC 5880's state table (bfd.md §3) and timer rules.
//!
//! Random sequences of received packets (any state, P/F flags, timing fields), administrative
//! commands, drains and time steps — with every timer that falls due fired on the way, as a
//! host's `tick` would — go both to a [`Session`] and to a small reference model. The model's
//! transitions come from [`TABLE`], written down cell by cell from the RFC, not from the
//! session's code; its timing is recomputed from scratch after every step:
//!
//! - tx interval = max(Desired Min TX in use, RemoteMinRx), none when RemoteMinRx = 0;
//! - detection time = received Detect Mult × max(Required Min RX, received Desired Min TX);
//! - Desired Min TX on the wire ≥ 1 s while not Up; each change of what is advertised starts a
//!   Poll (one at a time: a change during a Poll starts the next when it ends); while Up an
//!   increased Desired Min TX and a reduced Required Min RX wait for the F that ends the Poll;
//! - detection expiry in Init/Up → Down, diag 1; any expiry forgets RemoteDiscr;
//! - every accepted P is owed exactly one F packet (P clear); AdminDown answers nothing;
//! - periodic packets run unless RemoteMinRx = 0, or the session is passive and RemoteDiscr 0.
//!
//! After every step the two must agree on the state, diag, discriminators, Poll, timings and
//! deadlines, and every periodic interval must be jittered into 75–100 % (75–90 % for Detect
//! Mult 1).

use std::time::Duration;

use heartbeat_proto::Instant;
use heartbeat_proto::bfd::packet::MAX_PACKET_LEN;
use heartbeat_proto::bfd::{ControlPacket, Diag, Rejected, Session, SessionTimer, State, Timing};
use proptest::prelude::*;

const SLOW_US: u32 = 1_000_000;
const LOCAL_DISCR: u32 = 0x1234_0001;

/// RFC 5880 §6.8.6 (bfd.md §3): row = local state, column = received state; `None` = stay.
/// Indexed by `State as usize` (AdminDown 0, Down 1, Init 2, Up 3). The AdminDown row is never
/// consulted: an AdminDown session discards packets after the timer updates.
const TABLE: [[Option<(State, Diag)>; 4]; 4] = [
    // local AdminDown
    [None, None, None, None],
    // local Down: received AdminDown, Down, Init, Up
    [None, Some((State::Init, Diag::NONE)), Some((State::Up, Diag::NONE)), None],
    // local Init
    [
        Some((State::Down, Diag::NEIGHBOR_SIGNALED_DOWN)),
        None,
        Some((State::Up, Diag::NONE)),
        Some((State::Up, Diag::NONE)),
    ],
    // local Up
    [Some((State::Down, Diag::NEIGHBOR_SIGNALED_DOWN)), Some((State::Down, Diag::NEIGHBOR_SIGNALED_DOWN)), None, None],
];

#[derive(Debug, Clone)]
struct Rx {
    state: State,
    poll: bool,
    final_: bool,
    detect_mult: u8,
    my_discriminator: u32,
    desired_min_tx: u32,
    required_min_rx: u32,
}

#[derive(Debug, Clone)]
enum Op {
    Receive { dt_ms: u64, rx: Rx },
    Wait { dt_ms: u64 },
    AdminDown,
    Enable,
    Drain,
    SetTiming { desired: u32, required: u32, detect_mult: u8 },
}

fn state() -> impl Strategy<Value = State> {
    prop_oneof![Just(State::AdminDown), Just(State::Down), Just(State::Init), Just(State::Up)]
}

fn rx() -> impl Strategy<Value = Rx> {
    (
        state(),
        0u8..8,
        1u8..5,
        prop_oneof![Just(1u32), Just(2), Just(0xDEAD_BEEF)],
        prop_oneof![Just(50_000u32), Just(300_000), Just(1_000_000), Just(2_000_000)],
        prop_oneof![Just(0u32), Just(100_000), Just(300_000), Just(1_500_000)],
    )
        .prop_map(|(state, flags, detect_mult, my_discriminator, desired_min_tx, required_min_rx)| Rx {
            state,
            // Mostly neither flag, sometimes one, rarely both (which must be refused).
            poll: flags == 1 || flags == 3,
            final_: flags == 2 || flags == 3,
            detect_mult,
            my_discriminator,
            desired_min_tx,
            required_min_rx,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u64..1_500, rx()).prop_map(|(dt_ms, rx)| Op::Receive { dt_ms, rx }),
        3 => (0u64..4_000).prop_map(|dt_ms| Op::Wait { dt_ms }),
        1 => Just(Op::AdminDown),
        1 => Just(Op::Enable),
        2 => Just(Op::Drain),
        1 => (interval(), prop_oneof![Just(100_000u32), Just(300_000), Just(900_000)], 1u8..4)
            .prop_map(|(desired, required, detect_mult)| Op::SetTiming { desired, required, detect_mult }),
    ]
}

fn interval() -> impl Strategy<Value = u32> {
    prop_oneof![Just(100_000u32), Just(300_000), Just(600_000), Just(2_000_000)]
}

/// The reference model.
#[derive(Debug, Clone)]
struct Model {
    desired_us: u32,
    required_us: u32,
    detect_mult: u8,
    state: State,
    diag: Diag,
    remote_discr: u32,
    remote_min_rx: u32,
    remote_desired: u32,
    remote_mult: u8,
    last_rx: Option<Instant>,
    detect_armed: bool,
    /// Desired Min TX, Required Min RX and Detect Mult on the wire.
    advertised: (u32, u32, u8),
    /// Desired Min TX the tx interval uses.
    tx_in_use: u32,
    /// Required Min RX the detection time uses.
    rx_in_use: u32,
    /// What the Poll in progress announced.
    poll: Option<(u32, u32, u8)>,
    want_final: bool,
}

impl Model {
    fn new(desired_us: u32, required_us: u32, detect_mult: u8) -> Self {
        let advertised = (desired_us.max(SLOW_US), required_us, detect_mult);
        Model {
            desired_us,
            required_us,
            detect_mult,
            state: State::Down,
            diag: Diag::NONE,
            remote_discr: 0,
            remote_min_rx: 1,
            remote_desired: 0,
            remote_mult: 0,
            last_rx: None,
            detect_armed: false,
            advertised,
            tx_in_use: advertised.0,
            rx_in_use: required_us,
            poll: None,
            want_final: false,
        }
    }

    fn tx_interval(&self) -> Option<Duration> {
        (self.remote_min_rx != 0).then(|| us(self.tx_in_use.max(self.remote_min_rx)))
    }

    fn detection_time(&self) -> Option<Duration> {
        (self.remote_mult != 0).then(|| us(self.rx_in_use.max(self.remote_desired)) * u32::from(self.remote_mult))
    }

    fn detect_deadline(&self) -> Option<Instant> {
        if !self.detect_armed || self.state == State::AdminDown {
            return None;
        }
        Some(self.last_rx? + self.detection_time()?)
    }

    /// §6.8.3: the wire values follow the state and the timing; a change starts a Poll and is
    /// used at once, except an increased Desired Min TX or a reduced Required Min RX while Up.
    fn retime(&mut self) {
        let desired = if self.state == State::Up { self.desired_us } else { self.desired_us.max(SLOW_US) };
        let want = (desired, self.required_us, self.detect_mult);
        if want == self.advertised {
            return;
        }
        self.advertised = want;
        let up = self.state == State::Up;
        if !up || want.0 < self.tx_in_use {
            self.tx_in_use = want.0;
        }
        if !up || want.1 > self.rx_in_use {
            self.rx_in_use = want.1;
        }
        self.poll.get_or_insert(want);
    }

    fn receive(&mut self, now: Instant, rx: &Rx) {
        self.remote_discr = rx.my_discriminator;
        self.remote_min_rx = rx.required_min_rx;
        self.remote_desired = rx.desired_min_tx;
        self.remote_mult = rx.detect_mult;
        self.last_rx = Some(now);
        if rx.final_
            && let Some(announced) = self.poll.take()
        {
            // The peer has seen what the Poll announced: that (or a faster tx, a longer
            // detection time announced since) is now in use.
            let up = self.state == State::Up;
            self.tx_in_use = if up { self.advertised.0.min(announced.0) } else { self.advertised.0 };
            self.rx_in_use = if up { self.advertised.1.max(announced.1) } else { self.advertised.1 };
            if self.advertised != announced {
                self.poll = Some(self.advertised);
            }
        }
        if self.state != State::AdminDown {
            self.detect_armed = true;
            if let Some((state, diag)) = TABLE[self.state as usize][rx.state as usize] {
                self.state = state;
                self.diag = diag;
            }
            if rx.poll {
                self.want_final = true;
            }
        }
        self.retime();
    }

    fn expire(&mut self) {
        self.detect_armed = false;
        self.remote_discr = 0;
        if matches!(self.state, State::Init | State::Up) {
            self.state = State::Down;
            self.diag = Diag::CONTROL_DETECTION_TIME_EXPIRED;
        }
        self.retime();
    }
}

fn us(v: u32) -> Duration {
    Duration::from_micros(u64::from(v))
}

fn packet(rx: &Rx) -> ControlPacket {
    ControlPacket {
        diag: Diag::NONE,
        state: rx.state,
        poll: rx.poll,
        final_: rx.final_,
        control_plane_independent: false,
        demand: false,
        detect_mult: rx.detect_mult,
        my_discriminator: rx.my_discriminator,
        your_discriminator: LOCAL_DISCR,
        desired_min_tx: rx.desired_min_tx,
        required_min_rx: rx.required_min_rx,
        required_min_echo_rx: 0,
        auth: None,
    }
}

fn agree(s: &Session, m: &Model) -> Result<(), TestCaseError> {
    let status = s.status();
    // Periodic packets run while the peer wants them, and a passive session waits for the
    // remote discriminator.
    let sends = m.tx_interval().is_some() && !(status.passive && m.remote_discr == 0);
    prop_assert_eq!(s.deadline(SessionTimer::Transmit).is_some(), sends);
    prop_assert_eq!(status.state, m.state);
    prop_assert_eq!(status.local_diag, m.diag);
    prop_assert_eq!(status.remote_discriminator, m.remote_discr);
    prop_assert_eq!(status.poll_in_progress, m.poll.is_some());
    prop_assert_eq!(status.advertised, (us(m.advertised.0), us(m.advertised.1)));
    prop_assert_eq!(status.tx_interval, m.tx_interval());
    prop_assert_eq!(status.detection_time, m.detection_time());
    prop_assert_eq!(s.deadline(SessionTimer::Detect), m.detect_deadline());
    if let Some(p) = s.peek_transmit() {
        prop_assert!(!(p.poll && p.final_));
        prop_assert_eq!(p.final_, m.want_final, "a Final first, and only when owed");
        prop_assert_eq!(p.poll, !p.final_ && m.poll.is_some(), "P on periodic packets during a Poll");
        prop_assert_eq!(p.state, m.state);
        prop_assert_eq!((p.desired_min_tx, p.required_min_rx, p.detect_mult), m.advertised);
        prop_assert_eq!(p.required_min_echo_rx, 0);
        prop_assert!(!p.demand);
    } else {
        prop_assert!(!m.want_final);
    }
    Ok(())
}

/// Fires every timer due by `now`, earliest first, in both; checks the jitter of each new
/// transmit interval. `latest` is the latest time the session was given: a deadline that
/// moved earlier than it fires late, at `latest`.
fn fire_due(s: &mut Session, m: &mut Model, latest: &mut Instant, now: Instant) -> Result<(), TestCaseError> {
    while let Some(at) = s.next_deadline().filter(|at| *at <= now) {
        *latest = (*latest).max(at);
        let kind = [SessionTimer::Detect, SessionTimer::Transmit, SessionTimer::AuthSeqReset]
            .into_iter()
            .find(|k| s.deadline(*k) == Some(at))
            .expect("a timer is due");
        match kind {
            SessionTimer::Detect => {
                prop_assert_eq!(Some(at), m.detect_deadline());
                s.on_timer(at, kind);
                m.expire();
            }
            _ => {
                s.on_timer(at, kind);
                if kind == SessionTimer::Transmit {
                    let interval = m.tx_interval().expect("sending");
                    let next = s.deadline(SessionTimer::Transmit).expect("rescheduled") - *latest;
                    let top = if m.advertised.2 == 1 { interval * 9 / 10 } else { interval };
                    prop_assert!(next >= interval * 3 / 4 && next <= top, "{next:?} of {interval:?}");
                }
            }
        }
        agree(s, m)?;
    }
    Ok(())
}

fn drain(s: &mut Session, m: &mut Model) {
    let mut buf = [0u8; MAX_PACKET_LEN];
    while let Some(Ok(_)) = s.write_transmit(&mut buf) {}
    m.want_final = false;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_session_follows_the_rfc_table_and_timer_rules(
        desired in interval(),
        required in prop_oneof![Just(100_000u32), Just(300_000)],
        detect_mult in prop_oneof![Just(1u8), Just(3)],
        passive in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let timing = Timing::new(us(desired), us(required), detect_mult).unwrap();
        let mut s = Session::new(LOCAL_DISCR, timing, passive, None, 99, Instant::ZERO);
        let mut m = Model::new(desired, required, detect_mult);
        let mut now = Instant::ZERO;
        let mut latest = now;
        agree(&s, &m)?;
        for op in ops {
            match op {
                Op::Receive { dt_ms, rx } => {
                    now = now + Duration::from_millis(dt_ms);
                    fire_due(&mut s, &mut m, &mut latest, now)?;
                    latest = now;
                    let p = packet(&rx);
                    let mut buf = [0u8; MAX_PACKET_LEN];
                    let len = p.emit(&mut buf).unwrap();
                    let result = s.receive(now, &p, &buf[..len]);
                    if rx.poll && rx.final_ {
                        prop_assert_eq!(result, Err(Rejected::PollAndFinal));
                    } else {
                        prop_assert_eq!(result, Ok(()));
                        m.receive(now, &rx);
                    }
                }
                Op::Wait { dt_ms } => {
                    now = now + Duration::from_millis(dt_ms);
                    fire_due(&mut s, &mut m, &mut latest, now)?;
                }
                Op::AdminDown => {
                    latest = now;
                    s.admin_down(now);
                    if m.state != State::AdminDown {
                        m.state = State::AdminDown;
                        m.diag = Diag::ADMINISTRATIVELY_DOWN;
                        m.detect_armed = false;
                        m.retime();
                    }
                }
                Op::Enable => {
                    latest = now;
                    s.enable(now);
                    if m.state == State::AdminDown {
                        m.state = State::Down;
                        m.diag = Diag::NONE;
                        m.retime();
                    }
                }
                Op::Drain => drain(&mut s, &mut m),
                Op::SetTiming { desired, required, detect_mult } => {
                    latest = now;
                    s.set_timing(now, Timing::new(us(desired), us(required), detect_mult).unwrap());
                    m.desired_us = desired;
                    m.required_us = required;
                    m.detect_mult = detect_mult;
                    m.retime();
                }
            }
            agree(&s, &m)?;
        }
    }
}

/// The table itself, checked cell by cell against bfd.md §3's prose, so a typo in it cannot
/// silently weaken the model.
#[test]
fn the_reference_table_is_the_rfcs() {
    use State::*;
    let stay = None;
    let cells = [
        (Down, AdminDown, stay),
        (Down, Down, Some(Init)),
        (Down, Init, Some(Up)),
        (Down, Up, stay),
        (Init, AdminDown, Some(Down)),
        (Init, Down, stay),
        (Init, Init, Some(Up)),
        (Init, Up, Some(Up)),
        (Up, AdminDown, Some(Down)),
        (Up, Down, Some(Down)),
        (Up, Init, stay),
        (Up, Up, stay),
    ];
    for (local, received, want) in cells {
        assert_eq!(TABLE[local as usize][received as usize].map(|(s, _)| s), want, "{local:?} <- {received:?}");
    }
}
