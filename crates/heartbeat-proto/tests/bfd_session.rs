//! Two BFD hosts in virtual time over a perfect, instant network: every packet one sends is
//! delivered to the other at the same instant, and time jumps straight to the earlier
//! `poll_timeout` of the two (as the crate-level example does).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use heartbeat_proto::bfd::auth::{AuthFailure, AuthType, BfdKey, BfdKeys};
use heartbeat_proto::bfd::packet::MAX_PACKET_LEN;
use heartbeat_proto::bfd::{
    BfdEvent, BfdEventKind, BfdHost, ControlPacket, Diag, Rejected, SINGLE_HOP_PORT, SessionConfig, SessionStatus,
    State,
};
use heartbeat_proto::engine::{RecvMeta, SessionHandle};
use heartbeat_proto::{Growable, Instant, LinkId};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const MS: Duration = Duration::from_millis(1);

fn meta(from: IpAddr, ttl: u8) -> RecvMeta {
    RecvMeta { link: LinkId(0), source: Some(SocketAddr::new(from, 49152)), local: None, ttl: Some(ttl) }
}

/// One side: its host, its session and what it saw.
struct Side {
    host: BfdHost<Growable>,
    handle: Option<SessionHandle>,
    addr: IpAddr,
    alive: bool,
    events: Vec<BfdEvent>,
    /// Every packet it sent, with when.
    sent: Vec<(Instant, ControlPacket)>,
    /// The same packets' bytes.
    raw: Vec<Vec<u8>>,
}

impl Side {
    fn new(seed: u64, addr: IpAddr, now: Instant) -> Self {
        Side {
            host: BfdHost::new(seed, now),
            handle: None,
            addr,
            alive: true,
            events: Vec::new(),
            sent: Vec::new(),
            raw: Vec::new(),
        }
    }

    fn add(&mut self, config: SessionConfig) {
        self.handle = Some(self.host.add_session(config).expect("a valid session"));
    }

    fn status(&self) -> SessionStatus {
        self.host.session(self.handle.expect("a session")).expect("live")
    }

    fn state(&self) -> State {
        self.status().state
    }

    /// The first event at or after `from` matching `pred`.
    fn event(&self, from: Instant, pred: impl Fn(&BfdEventKind) -> bool) -> Option<BfdEvent> {
        self.events.iter().find(|e| e.at >= from && pred(&e.kind)).copied()
    }
}

struct Net {
    now: Instant,
    a: Side,
    b: Side,
    /// The TTL packets arrive with.
    ttl: u8,
}

fn config(peer: IpAddr) -> SessionConfig {
    SessionConfig::new(peer, LinkId(0))
}

impl Net {
    fn new() -> Self {
        Net { now: Instant::ZERO, a: Side::new(1, A, Instant::ZERO), b: Side::new(2, B, Instant::ZERO), ttl: 255 }
    }

    /// Moves every packet across until both sides are quiet, then drains events.
    fn exchange(&mut self) {
        let mut buf = [0u8; MAX_PACKET_LEN];
        loop {
            let mut moved = false;
            for from_a in [true, false] {
                let (src, dst) = if from_a { (&mut self.a, &mut self.b) } else { (&mut self.b, &mut self.a) };
                if !src.alive {
                    continue;
                }
                while let Some(t) = src.host.poll_transmit(&mut buf) {
                    let (_, send) = t.expect("the buffer fits every packet");
                    assert_eq!(send.destination, SocketAddr::new(dst.addr, SINGLE_HOP_PORT));
                    assert_eq!(send.ttl, Some(255));
                    let bytes = &buf[..send.len];
                    src.sent.push((self.now, ControlPacket::parse(bytes).expect("own packets parse")));
                    src.raw.push(bytes.to_vec());
                    moved = true;
                    if dst.alive {
                        let _ = dst.host.on_message(self.now, &meta(src.addr, self.ttl), bytes);
                    }
                }
            }
            if !moved {
                break;
            }
        }
        for side in [&mut self.a, &mut self.b] {
            while let Some(e) = side.host.poll_event() {
                assert!(e.at <= self.now);
                side.events.push(e);
            }
        }
    }

    /// Runs until `until`: tick, exchange, jump to the earlier deadline; stops at the last
    /// deadline at or before `until` (`now` is then the time of the last tick).
    fn run_until(&mut self, until: Instant) {
        loop {
            for side in [&mut self.a, &mut self.b] {
                if side.alive {
                    side.host.tick(self.now);
                }
            }
            self.exchange();
            let mut next = None::<Instant>;
            for side in [&self.a, &self.b] {
                if !side.alive {
                    continue;
                }
                let t = side.host.poll_timeout();
                assert!(t.is_none_or(|t| t > self.now), "busy loop at {}", self.now);
                next = match (next, t) {
                    (Some(n), Some(t)) => Some(n.min(t)),
                    (n, t) => n.or(t),
                };
            }
            match next {
                Some(t) if t <= until => self.now = t,
                _ => break,
            }
        }
    }

    /// Moves time to `at` (ticking both sides there) without running anything in between.
    fn jump(&mut self, at: Instant) {
        self.now = at;
        for side in [&mut self.a, &mut self.b] {
            side.host.tick(at);
        }
        self.exchange();
    }

    /// Both sides configured at 0 (A first), run until both are Up.
    fn up() -> Self {
        let mut net = Net::new();
        net.a.add(config(B));
        net.b.add(config(A));
        net.run_until(Instant::from_secs(5));
        assert_eq!((net.a.state(), net.b.state()), (State::Up, State::Up));
        net
    }
}

fn state_changes(side: &Side) -> Vec<(State, State, Diag)> {
    side.events
        .iter()
        .filter_map(|e| match e.kind {
            BfdEventKind::StateChanged { from, to, diag } => Some((from, to, diag)),
            _ => None,
        })
        .collect()
}

#[test]
fn handshake_from_either_side_comes_up_when_the_second_side_starts() {
    for a_first in [true, false] {
        let mut net = Net::new();
        let late = Instant::from_millis(2_500);
        if a_first {
            net.a.add(config(B));
        } else {
            net.b.add(config(A));
        }
        net.run_until(late - MS);
        net.jump(late);
        let early = if a_first { &net.a } else { &net.b };
        assert_eq!(early.state(), State::Down, "nobody answers yet");
        // Slow start: Down packets about once a second (jittered to 75–100 %).
        let times: Vec<Instant> = early.sent.iter().map(|(t, _)| *t).collect();
        assert!(times.len() >= 3, "{times:?}");
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            assert!(gap >= Duration::from_millis(750) && gap <= Duration::from_secs(1), "{gap:?}");
        }
        assert!(early.sent.iter().all(|(_, p)| p.desired_min_tx == 1_000_000 && p.your_discriminator == 0));
        if a_first {
            net.b.add(config(A));
        } else {
            net.a.add(config(B));
        }
        net.run_until(late + Duration::from_secs(3));
        for side in [&net.a, &net.b] {
            let up = side.event(Instant::ZERO, |k| matches!(k, BfdEventKind::StateChanged { to: State::Up, .. }));
            // Down → Init → Up takes three packets, each answered at once on a perfect network.
            assert_eq!(up.expect("came up").at, late, "a_first {a_first}");
        }
        // The side that heard a Down went through Init; the other went straight to Up.
        let (first, second) = if a_first { (&net.a, &net.b) } else { (&net.b, &net.a) };
        assert_eq!(
            state_changes(first),
            [(State::Down, State::Init, Diag::NONE), (State::Init, State::Up, Diag::NONE)]
        );
        assert_eq!(state_changes(second), [(State::Down, State::Up, Diag::NONE)]);
        assert_eq!(first.status().remote_discriminator, second.status().local_discriminator);
        assert_eq!(second.status().remote_discriminator, first.status().local_discriminator);
    }
}

#[test]
fn after_up_a_poll_sequence_switches_to_the_fast_rate() {
    let net = Net::up();
    for (side, other) in [(&net.a, &net.b), (&net.b, &net.a)] {
        let s = side.status();
        assert_eq!(s.tx_interval, Some(300 * MS));
        assert_eq!(s.detection_time, Some(900 * MS));
        assert!(!s.poll_in_progress);
        assert!(s.stats.polls_completed >= 1);
        // The first Up packet carries P with the fast rate; the peer answers F at once.
        let (t_poll, poll) = side.sent.iter().find(|(_, p)| p.state == State::Up && p.poll).expect("a poll");
        assert_eq!(poll.desired_min_tx, 300_000);
        assert!(
            other.sent.iter().any(|(t, p)| p.final_ && !p.poll && t == t_poll),
            "the peer answered the Poll at once"
        );
        // No packet ever carries both.
        assert!(side.sent.iter().all(|(_, p)| !(p.poll && p.final_)));
        // Periodic packets once Up (F answers aside) come every 225–300 ms.
        let periodic: Vec<Instant> =
            side.sent.iter().filter(|(t, p)| !p.final_ && *t > *t_poll + MS).map(|(t, _)| *t).collect();
        assert!(periodic.len() > 10);
        for w in periodic.windows(2) {
            let gap = w[1] - w[0];
            assert!(gap >= 225 * MS && gap <= 300 * MS, "{gap:?}");
        }
    }
}

#[test]
fn a_dead_peer_is_declared_down_exactly_one_detection_time_after_its_last_packet() {
    let mut net = Net::up();
    net.b.alive = false;
    let died = net.now;
    let last = net.a.status().last_received.expect("heard");
    let detection = net.a.status().detection_time.expect("negotiated");
    net.run_until(died + Duration::from_secs(3));
    let down = net.a.event(died, |k| matches!(k, BfdEventKind::StateChanged { .. })).expect("went down");
    assert_eq!(
        down.kind,
        BfdEventKind::StateChanged { from: State::Up, to: State::Down, diag: Diag::CONTROL_DETECTION_TIME_EXPIRED }
    );
    assert!(down.kind.is_failure());
    assert_eq!(down.at, last + detection);
    let s = net.a.status();
    assert_eq!(s.remote_discriminator, 0, "forgotten after the detection time");
    assert_eq!(s.local_diag, Diag::CONTROL_DETECTION_TIME_EXPIRED);
    // Back to the slow rate, still sending (active role), now without Your Discriminator.
    let after: Vec<&ControlPacket> = net.a.sent.iter().filter(|(t, _)| *t > down.at).map(|(_, p)| p).collect();
    assert!(!after.is_empty());
    assert!(after.iter().all(|p| p.state == State::Down && p.desired_min_tx == 1_000_000));
    assert!(after.iter().all(|p| p.your_discriminator == 0));
}

#[test]
fn admin_down_is_reported_to_the_peer_as_such_and_not_as_a_failure() {
    let mut net = Net::up();
    let at = net.now;
    net.b.host.admin_down(net.b.handle.unwrap(), at).unwrap();
    net.exchange();
    net.run_until(at + Duration::from_secs(5));
    let b = net.b.status();
    assert_eq!((b.state, b.local_diag), (State::AdminDown, Diag::ADMINISTRATIVELY_DOWN));
    let a_events: Vec<BfdEventKind> = net.a.events.iter().filter(|e| e.at >= at).map(|e| e.kind).collect();
    let peer_admin = a_events.iter().position(|k| *k == BfdEventKind::PeerAdminDown).expect("reported");
    let down = a_events
        .iter()
        .position(|k| {
            *k == BfdEventKind::StateChanged { from: State::Up, to: State::Down, diag: Diag::NEIGHBOR_SIGNALED_DOWN }
        })
        .expect("went down with diag 3");
    assert!(peer_admin < down);
    assert!(a_events.iter().all(|k| !k.is_failure()), "{a_events:?}");
    // A stays Down (not Init: the peer is AdminDown) and B keeps sending AdminDown packets.
    assert_eq!(net.a.state(), State::Down);
    assert!(
        net.b.sent.iter().filter(|(t, _)| *t > at + Duration::from_secs(3)).all(|(_, p)| p.state == State::AdminDown)
    );
    assert!(net.b.sent.iter().any(|(t, _)| *t > at + Duration::from_secs(3)));

    // Enabling B again brings both back Up.
    let again = net.now;
    net.b.host.enable(net.b.handle.unwrap(), again).unwrap();
    net.exchange();
    net.run_until(again + Duration::from_secs(3));
    assert_eq!((net.a.state(), net.b.state()), (State::Up, State::Up));
}

#[test]
fn a_timing_change_is_announced_by_poll_and_final_and_applied_by_the_section_6_8_3_rules() {
    let mut net = Net::up();
    net.run_until(net.now + Duration::from_secs(1));
    let at = net.now;
    let h = net.a.handle.unwrap();
    // Slower transmission and a longer required receive interval.
    net.a.host.set_timing(h, at, 600 * MS, Duration::from_secs(1), 3).unwrap();
    net.exchange();
    let s = net.a.status();
    assert!(s.poll_in_progress);
    assert_eq!(s.advertised, (600 * MS, Duration::from_secs(1)));
    // The increased Desired Min TX waits for the Poll to end; the longer Required Min RX (a
    // longer detection time) applies at once.
    assert_eq!(s.tx_interval, Some(300 * MS));
    assert_eq!(s.detection_time, Some(3 * Duration::from_secs(1)));
    net.run_until(at + Duration::from_secs(1));
    let (a, b) = (net.a.status(), net.b.status());
    assert!(!a.poll_in_progress);
    assert_eq!(a.tx_interval, Some(600 * MS));
    assert_eq!(b.tx_interval, Some(Duration::from_secs(1)), "B obeys A's Required Min RX");
    assert_eq!(b.detection_time, Some(3 * 600 * MS), "B's detection time follows A's Desired Min TX");
    let poll = net.a.sent.iter().find(|(t, p)| *t > at && p.poll).expect("a poll after the change");
    assert_eq!(poll.1.desired_min_tx, 600_000);
    assert!(net.b.sent.iter().any(|(t, p)| *t == poll.0 && p.final_));
    assert!(net.a.event(at, |k| matches!(k, BfdEventKind::TimingChanged { .. })).is_some());

    // Reducing Required Min RX keeps the old value in the detection time until the Poll ends.
    let at = net.now;
    net.a.host.set_timing(h, at, 600 * MS, 300 * MS, 3).unwrap();
    assert_eq!(net.a.status().detection_time, Some(3 * Duration::from_secs(1)));
    net.run_until(at + Duration::from_secs(2));
    assert_eq!(net.a.status().detection_time, Some(3 * 300 * MS));
    assert_eq!((net.a.state(), net.b.state()), (State::Up, State::Up), "no flap through the changes");
    assert!(net.a.events.iter().chain(&net.b.events).all(|e| !e.kind.is_failure()));
}

#[test]
fn a_passive_session_waits_for_the_peer() {
    let mut net = Net::new();
    net.b.add(config(A).clone());
    let mut passive = config(B);
    passive.passive = true;
    net.a.add(passive);
    net.b.alive = false;
    net.run_until(Instant::from_secs(3));
    assert!(net.a.sent.is_empty(), "passive: silent until it hears the peer");
    net.b.alive = true;
    net.run_until(Instant::from_secs(6));
    assert_eq!((net.a.state(), net.b.state()), (State::Up, State::Up));
}

/// Sends `bytes` to A as if from `from` with `ttl`; checks that A refuses it with `want` and
/// that nothing but A's refusal counters changed.
fn refused_without_effect(net: &mut Net, from: IpAddr, ttl: u8, bytes: &[u8], want: Rejected) {
    let h = net.a.handle.unwrap();
    let before = net.a.status();
    let host_before = *net.a.host.stats();
    let deadline_before = net.a.host.poll_timeout();
    let got = net.a.host.on_message(net.now + 10 * MS, &meta(from, ttl), bytes);
    assert_eq!(got, Err(want));
    assert_eq!(net.a.host.stats().rejected.total(), host_before.rejected.total() + 1);
    assert_eq!(net.a.host.stats().accepted, host_before.accepted);
    let mut after = net.a.host.session(h).unwrap();
    let counted = after.stats.rejected.total() - before.stats.rejected.total();
    assert!(counted <= 1);
    after.stats = before.stats;
    assert_eq!(after, before, "{want:?} changed the session");
    assert_eq!(net.a.host.poll_timeout(), deadline_before);
    assert!(net.a.host.poll_event().is_none());
    assert_eq!(net.a.host.now(), net.now, "a refused packet does not move the clock");
}

#[test]
fn refused_packets_change_nothing() {
    let mut net = Net::up();
    let mut buf = [0u8; MAX_PACKET_LEN];
    // A genuine packet of B's, as B would send it now.
    let genuine = ControlPacket {
        diag: Diag::NONE,
        state: State::Down,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: net.b.status().local_discriminator,
        your_discriminator: net.a.status().local_discriminator,
        desired_min_tx: 1_000_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
        auth: None,
    };
    let len = genuine.emit(&mut buf).unwrap();
    // TTL 254 on a single-hop session (RFC 5881 §5).
    refused_without_effect(&mut net, B, 254, &buf[..len], Rejected::Ttl(Some(254)));
    // From another address.
    let stranger = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 9));
    refused_without_effect(&mut net, stranger, 255, &buf[..len], Rejected::WrongSource);
    // For an unknown discriminator.
    let mut p = genuine;
    p.your_discriminator ^= 0x8000_0000;
    let len = p.emit(&mut buf).unwrap();
    refused_without_effect(&mut net, B, 255, &buf[..len], Rejected::UnknownDiscriminator(p.your_discriminator));
    // Your Discriminator 0 in state Up.
    let mut p = genuine;
    p.your_discriminator = 0;
    p.state = State::Up;
    let len = p.emit(&mut buf).unwrap();
    refused_without_effect(&mut net, B, 255, &buf[..len], Rejected::ZeroDiscriminatorNotDown(State::Up));
    // Truncated.
    refused_without_effect(
        &mut net,
        B,
        255,
        &buf[..3],
        Rejected::Malformed(ControlPacket::parse(&buf[..3]).unwrap_err()),
    );
    // And the genuine one, with TTL 255, is taken: A goes Down with diag 3.
    let len = genuine.emit(&mut buf).unwrap();
    assert!(net.a.host.on_message(net.now, &meta(B, 255), &buf[..len]).is_ok());
    assert_eq!((net.a.state(), net.a.status().local_diag), (State::Down, Diag::NEIGHBOR_SIGNALED_DOWN));
}

#[test]
fn time_going_backwards_is_no_progress() {
    let mut net = Net::up();
    let now = net.now;
    let a = net.a.status();
    net.a.host.tick(Instant::ZERO);
    assert_eq!(net.a.host.now(), now);
    assert!(net.a.host.poll_transmit(&mut [0u8; 64]).is_none());
    assert_eq!(net.a.status(), a);
    assert!(net.a.host.poll_timeout().is_some_and(|t| t > now));
}

#[test]
fn a_too_small_buffer_keeps_the_packet_queued() {
    let mut host = BfdHost::<Growable>::new(7, Instant::ZERO);
    let h = host.add_session(config(B)).unwrap();
    let mut small = [0u8; 10];
    match host.poll_transmit(&mut small) {
        Some(Err(e)) => assert_eq!((e.need, e.have), (24, 10)),
        other => panic!("{other:?}"),
    }
    assert_eq!(host.poll_timeout(), Some(Instant::ZERO), "still queued");
    let mut buf = [0u8; MAX_PACKET_LEN];
    let (sent, send) = host.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!((sent, send.len), (h, 24));
    assert!(host.poll_transmit(&mut buf).is_none());
    assert_eq!(host.session(h).unwrap().stats.transmitted, 1);
}

const AUTH_TYPES: [AuthType; 5] = [
    AuthType::SimplePassword,
    AuthType::KeyedMd5,
    AuthType::MeticulousKeyedMd5,
    AuthType::KeyedSha1,
    AuthType::MeticulousKeyedSha1,
];

fn keys(auth_type: AuthType, secret: &[u8]) -> BfdKeys {
    BfdKeys::new(BfdKey::new(auth_type, 7, secret).expect("a valid key"))
}

fn with_keys(peer: IpAddr, keys: Option<BfdKeys>) -> SessionConfig {
    let mut c = config(peer);
    c.keys = keys;
    c
}

#[test]
fn every_auth_type_comes_up_with_the_right_key_and_stays_down_with_a_wrong_one() {
    for auth_type in AUTH_TYPES {
        let mut net = Net::new();
        net.a.add(with_keys(B, Some(keys(auth_type, b"right-secret"))));
        net.b.add(with_keys(A, Some(keys(auth_type, b"right-secret"))));
        net.run_until(Instant::from_secs(5));
        assert_eq!((net.a.state(), net.b.state()), (State::Up, State::Up), "{auth_type:?}");
        let a = net.a.status();
        assert_eq!(a.auth_type, Some(auth_type));
        assert_eq!(a.stats.rejected.total(), 0);
        assert!(net.a.sent.iter().all(|(_, p)| p.auth.is_some_and(|s| s.auth_type == auth_type && s.key_id == 7)));
        // bfd.XmitAuthSeq: +1 on every packet (meticulous), +1 on every change (keyed).
        if auth_type.is_keyed() {
            for w in net.a.sent.windows(2) {
                let (p, q) = (w[0].1, w[1].1);
                let (sp, sq) = (p.auth.unwrap().sequence, q.auth.unwrap().sequence);
                let changed = ControlPacket { auth: None, ..p } != ControlPacket { auth: None, ..q };
                let want = if auth_type.is_meticulous() || changed { sp.wrapping_add(1) } else { sp };
                assert_eq!(sq, want, "{auth_type:?}: {p:?} then {q:?}");
            }
        }
        // The status shows the type, never the secret.
        let shown = format!("{:?} {:?}", net.a.status(), net.a.host.config(net.a.handle.unwrap()));
        assert!(!shown.contains("right-secret") && !shown.contains("114, 105, 103, 104, 116"), "{shown}");

        let mut net = Net::new();
        net.a.add(with_keys(B, Some(keys(auth_type, b"right-secret"))));
        net.b.add(with_keys(A, Some(keys(auth_type, b"wrong-secret"))));
        net.run_until(Instant::from_secs(5));
        assert_eq!((net.a.state(), net.b.state()), (State::Down, State::Down), "{auth_type:?}");
        let r = net.a.status().stats.rejected;
        assert!(r.auth_failed >= 3 && r.total() == r.auth_failed, "{auth_type:?}: {r:?}");
        assert_eq!(net.a.host.stats().rejected.auth_failed, r.auth_failed);
        assert_eq!(net.a.status().stats.received, 0);
    }
}

#[test]
fn authentication_on_one_side_only_is_refused_both_ways() {
    let mut net = Net::new();
    net.a.add(with_keys(B, Some(keys(AuthType::KeyedSha1, b"k"))));
    net.b.add(with_keys(A, None));
    net.run_until(Instant::from_secs(4));
    assert_eq!((net.a.state(), net.b.state()), (State::Down, State::Down));
    assert!(net.a.status().stats.rejected.auth_missing >= 3);
    assert!(net.b.status().stats.rejected.auth_unexpected >= 3);
}

#[test]
fn a_replayed_meticulous_packet_is_refused_and_the_window_is_forgotten_after_two_detection_times() {
    let mut net = Net::new();
    net.a.add(with_keys(B, Some(keys(AuthType::MeticulousKeyedSha1, b"secret"))));
    net.b.add(with_keys(A, Some(keys(AuthType::MeticulousKeyedSha1, b"secret"))));
    net.run_until(Instant::from_secs(5));
    assert_eq!(net.a.state(), State::Up);
    assert!(net.a.status().auth_seq_known);
    // B's latest packet again: its sequence number was accepted already.
    let replay = net.b.raw.last().unwrap().clone();
    let before = net.a.status();
    let got = net.a.host.on_message(net.now, &meta(B, 255), &replay);
    assert!(matches!(got, Err(Rejected::Auth(AuthFailure::OutOfWindow { .. }))), "{got:?}");
    let mut after = net.a.status();
    assert_eq!(after.stats.rejected.auth_replayed, 1);
    after.stats = before.stats;
    assert_eq!(after, before);

    net.b.alive = false;
    let last = net.a.status().last_received.unwrap();
    let detection = net.a.status().detection_time.unwrap();
    net.run_until(last + 2 * detection - MS);
    assert!(net.a.status().auth_seq_known);
    net.run_until(last + 2 * detection);
    assert!(!net.a.status().auth_seq_known, "bfd.AuthSeqKnown back to 0");
    assert_eq!(net.a.state(), State::Down);
}

fn down_packet(my_discriminator: u32, your_discriminator: u32) -> ControlPacket {
    ControlPacket {
        diag: Diag::NONE,
        state: State::Down,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator,
        your_discriminator,
        desired_min_tx: 1_000_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
        auth: None,
    }
}

#[test]
fn multihop_goes_to_port_4784_and_applies_its_minimum_ttl() {
    let mut host = BfdHost::<Growable>::new(3, Instant::ZERO);
    let h = host.add_session(config(B).multi_hop(254)).unwrap();
    let mut buf = [0u8; MAX_PACKET_LEN];
    let (_, send) = host.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(send.destination, SocketAddr::new(B, heartbeat_proto::bfd::MULTI_HOP_PORT));
    assert_eq!(send.ttl, Some(255));
    let len = down_packet(77, 0).emit(&mut buf).unwrap();
    for (ttl, ok) in [(Some(253), false), (None, false), (Some(254), true)] {
        let m = RecvMeta { ttl, ..meta(B, 0) };
        let got = host.on_message(Instant::ZERO, &m, &buf[..len]);
        assert_eq!(got.is_ok(), ok, "{ttl:?}: {got:?}");
        if !ok {
            assert_eq!(got, Err(Rejected::Ttl(ttl)));
        }
    }
    assert_eq!(host.session(h).unwrap().state, State::Init);
    assert_eq!(host.session(h).unwrap().stats.rejected.ttl, 2);
    // A single-hop session needs 255, and refuses an unknown TTL.
    let mut single = BfdHost::<Growable>::new(3, Instant::ZERO);
    single.add_session(config(B)).unwrap();
    let m = RecvMeta { ttl: None, ..meta(B, 0) };
    assert_eq!(single.on_message(Instant::ZERO, &m, &buf[..len]), Err(Rejected::Ttl(None)));
}

#[test]
fn sessions_are_validated_unique_and_their_handles_go_stale() {
    let mut host = BfdHost::<heartbeat_proto::Fixed<2>>::new(3, Instant::ZERO);
    use heartbeat_proto::bfd::ConfigError;
    assert_eq!(host.add_session(config(B).timing(Duration::ZERO, MS, 3)).err(), Some(ConfigError::ZeroInterval));
    assert_eq!(host.add_session(config(B).timing(MS, MS, 0)).err(), Some(ConfigError::ZeroDetectMult));
    let too_long = Duration::from_micros(u64::from(u32::MAX) + 1);
    assert_eq!(host.add_session(config(B).timing(too_long, MS, 3)).err(), Some(ConfigError::IntervalTooLong));
    let b = host.add_session(config(B)).unwrap();
    assert_eq!(host.add_session(config(B)).err(), Some(ConfigError::Duplicate));
    // Multihop to the same peer is told apart by its port.
    let c = host.add_session(config(B).multi_hop(254)).unwrap();
    assert_eq!(host.add_session(config(A)).err(), Some(ConfigError::TableFull));
    let (db, dc) = (host.session(b).unwrap().local_discriminator, host.session(c).unwrap().local_discriminator);
    assert!(db != 0 && dc != 0 && db != dc);
    assert!(host.remove_session(b));
    assert!(host.session(b).is_none());
    assert!(!host.remove_session(b));
    assert_eq!(host.admin_down(b, Instant::ZERO), Err(ConfigError::NoSuchSession));
    // The removed session's discriminator is no longer accepted, even once its slot is reused.
    let d = host.add_session(config(A)).unwrap();
    assert_eq!(d.index(), b.index());
    assert_ne!(host.session(d).unwrap().local_discriminator, db);
    let mut buf = [0u8; MAX_PACKET_LEN];
    let len = down_packet(5, db).emit(&mut buf).unwrap();
    assert_eq!(host.on_message(Instant::ZERO, &meta(B, 255), &buf[..len]), Err(Rejected::UnknownDiscriminator(db)));
    // Keys never show in a configuration.
    let mut keyed = config(C_ADDR);
    keyed.keys = Some(keys(AuthType::KeyedSha1, b"hidden-key"));
    let mut other = BfdHost::<Growable>::new(4, Instant::ZERO);
    let k = other.add_session(keyed).unwrap();
    assert!(other.config(k).unwrap().keys.is_none());
    assert!(other.keys_mut(k).is_some());
}

const C_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 3));

#[test]
fn a_full_event_queue_refuses_packets_and_defers_timers_without_losing_events() {
    use heartbeat_proto::bfd::BFD_EVENT_QUEUE_LEN;
    let mut host = BfdHost::<Growable>::new(5, Instant::ZERO);
    let peers: Vec<IpAddr> = (1..=40).map(|i| IpAddr::V4(Ipv4Addr::new(198, 18, 1, i))).collect();
    let handles: Vec<SessionHandle> = peers.iter().map(|p| host.add_session(config(*p)).unwrap()).collect();
    let mut buf = [0u8; MAX_PACKET_LEN];
    while host.poll_transmit(&mut buf).is_some() {}
    // Each Down packet takes its session to Init: a state change and a timing change.
    let mut events = Vec::new();
    let mut refused = 0;
    for (i, peer) in peers.iter().enumerate() {
        let len = down_packet(100 + i as u32, 0).emit(&mut buf).unwrap();
        loop {
            match host.on_message(Instant::ZERO, &meta(*peer, 255), &buf[..len]) {
                Ok(_) => break,
                Err(Rejected::EventQueueFull) => {
                    refused += 1;
                    while let Some(e) = host.poll_event() {
                        events.push(e);
                    }
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    assert!(refused >= 1);
    assert_eq!(host.stats().rejected.event_queue_full, refused);
    while let Some(e) = host.poll_event() {
        events.push(e);
    }
    assert_eq!(events.len(), 80);
    while host.poll_transmit(&mut buf).is_some() {}
    // Every session's detection time runs out at once: more Down events than the queue holds.
    let expiry = Instant::ZERO + Duration::from_secs(3);
    assert!(handles.iter().all(|h| host.session(*h).unwrap().state == State::Init));
    host.tick(expiry);
    assert_eq!(host.poll_timeout(), Some(expiry), "output waits");
    let mut downs = Vec::new();
    while let Some(e) = host.poll_event() {
        assert_eq!(e.at, expiry, "a deferred timer fires as of its tick");
        if matches!(e.kind, BfdEventKind::StateChanged { to: State::Down, .. }) {
            downs.push(e.session);
        }
    }
    assert!(downs.len() > BFD_EVENT_QUEUE_LEN);
    downs.sort();
    let mut all = handles.clone();
    all.sort();
    assert_eq!(downs, all);
    while host.poll_transmit(&mut buf).is_some() {}
    assert!(host.poll_timeout().is_some_and(|t| t > expiry));
}

/// Both sides Up, then switched to `interval` × `detect_mult` and run until that took.
fn fast(interval: Duration, detect_mult: u8) -> Net {
    let mut net = Net::up();
    for side in [&mut net.a, &mut net.b] {
        let handle = side.handle.expect("a session");
        side.host.set_timing(handle, net.now, interval, interval, detect_mult).expect("valid timing");
    }
    let until = net.now + Duration::from_secs(5);
    net.run_until(until);
    assert_eq!(net.a.status().tx_interval, Some(interval));
    net
}

/// The periodic packets `side` sent after `from` (Final replies are not periodic).
fn periodic_after(side: &Side, from: Instant) -> Vec<Instant> {
    side.sent.iter().filter(|(t, p)| *t > from && !p.final_ && !p.poll).map(|(t, _)| *t).collect()
}

#[test]
fn transmit_deadlines_sit_on_the_grid_and_every_interval_stays_in_the_jitter_band() {
    // 10 ms: 7.5–10 ms (Detect Mult 3), 7.5–9 ms (Detect Mult 1); both bands are wider than
    // the 1 ms grid, so every deadline can be moved onto it.
    for (detect_mult, upper) in [(3, 10_000_000), (1, 9_000_000)] {
        let net = fast(10 * MS, detect_mult);
        assert_eq!(net.a.host.transmit_granularity(), MS, "the default grid");
        let settled = net.now - Duration::from_secs(4);
        let times = periodic_after(&net.a, settled);
        assert!(times.len() > 300, "{}", times.len());
        for t in &times {
            assert_eq!(t.as_nanos() % 1_000_000, 0, "{t} is not on the 1 ms grid");
        }
        for w in times.windows(2) {
            let gap = (w[1] - w[0]).as_nanos();
            assert!((7_500_000..=upper).contains(&gap), "Detect Mult {detect_mult}: interval {gap} ns");
        }
    }
}

#[test]
fn a_band_narrower_than_the_grid_keeps_exact_jittered_deadlines() {
    // 3 ms intervals give a 0.75 ms band: on a 1 ms grid every interval would be 3 ms.
    let net = fast(3 * MS, 3);
    let times = periodic_after(&net.a, net.now - Duration::from_secs(4));
    let off_grid = times.iter().filter(|t| t.as_nanos() % 1_000_000 != 0).count();
    assert!(off_grid * 10 > times.len() * 9, "{off_grid} of {} off the grid", times.len());
    let mut gaps: Vec<u128> = times.windows(2).map(|w| (w[1] - w[0]).as_nanos()).collect();
    for gap in &gaps {
        assert!((2_250_000..=3_000_000).contains(gap), "interval {gap} ns");
    }
    gaps.sort_unstable();
    gaps.dedup();
    assert!(gaps.len() > 100, "the jitter stays random: {} distinct intervals", gaps.len());
}

/// Host `a` with `n` sessions to 198.18.1.i, host `b` with their counterparts (peer 198.18.0.1,
/// local 198.18.1.i), all at 10 ms × 3 once Up; returns how many distinct instants either host
/// asked to be woken at over one second of steady state.
fn wake_ups_per_second(n: u8, granularity: Duration) -> usize {
    let peer = |i: u8| IpAddr::V4(Ipv4Addr::new(198, 18, 1, i));
    let mut now = Instant::ZERO;
    let mut a: BfdHost<Growable> = BfdHost::new(1, now);
    let mut b: BfdHost<Growable> = BfdHost::new(2, now);
    for host in [&mut a, &mut b] {
        host.set_transmit_granularity(granularity);
    }
    for i in 1..=n {
        a.add_session(config(peer(i)).timing(10 * MS, 10 * MS, 3)).expect("valid");
        let mut c = config(A).timing(10 * MS, 10 * MS, 3);
        c.local = Some(peer(i));
        b.add_session(c).expect("valid");
    }
    let mut buf = [0u8; MAX_PACKET_LEN];
    let mut wake_ups = 0;
    let (start, end) = (Instant::from_secs(10), Instant::from_secs(11));
    while now < end {
        a.tick(now);
        b.tick(now);
        if now >= start {
            wake_ups += 1;
        }
        loop {
            let mut moved = false;
            while let Some(t) = a.poll_transmit(&mut buf) {
                let (_, send) = t.expect("fits");
                let to = send.destination.ip();
                let meta = RecvMeta {
                    link: LinkId(0),
                    source: Some(SocketAddr::new(A, 49152)),
                    local: Some(to),
                    ttl: Some(255),
                };
                let _ = b.on_message(now, &meta, &buf[..send.len]);
                moved = true;
            }
            while let Some(t) = b.poll_transmit(&mut buf) {
                let (handle, send) = t.expect("fits");
                let from = b.config(handle).and_then(|c| c.local).expect("a local address");
                let meta = RecvMeta {
                    link: LinkId(0),
                    source: Some(SocketAddr::new(from, 49152)),
                    local: Some(A),
                    ttl: Some(255),
                };
                let _ = a.on_message(now, &meta, &buf[..send.len]);
                moved = true;
            }
            while a.poll_event().is_some() || b.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
        now = [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min().expect("timers run");
    }
    for host in [&a, &b] {
        for h in host.handles() {
            let s = host.session(h).expect("live");
            assert_eq!((s.state, s.tx_interval), (State::Up, Some(10 * MS)), "every session Up at 10 ms");
        }
    }
    wake_ups
}

#[test]
fn many_sessions_share_wake_ups_on_the_grid() {
    // 2 × 100 sessions send about 23,000 packets a second: without a grid nearly each is a
    // wake-up of its own, with the 1 ms grid there are at most a thousand.
    let exact = wake_ups_per_second(100, Duration::ZERO);
    let grid = wake_ups_per_second(100, MS);
    assert!(exact > 15_000, "without a grid: {exact}");
    assert!(grid <= 1_001, "with a 1 ms grid: {grid}");
}

#[test]
fn detection_stays_exact_off_the_grid() {
    // b sends off a's grid; a declares b down exactly a detection time after its last packet.
    let mut net = Net::up();
    net.b.host.set_transmit_granularity(Duration::ZERO);
    for side in [&mut net.a, &mut net.b] {
        let handle = side.handle.expect("a session");
        side.host.set_timing(handle, net.now, 10 * MS, 10 * MS, 3).expect("valid timing");
    }
    let until = net.now + Duration::from_secs(2) + Duration::from_micros(333);
    net.run_until(until);
    net.b.alive = false;
    let died = net.now;
    let last = net.a.status().last_received.expect("heard");
    assert_ne!(last.as_nanos() % 1_000_000, 0, "b's last packet is off the grid");
    net.run_until(died + Duration::from_secs(1));
    let down = net.a.event(died, |k| k.is_failure()).expect("went down");
    assert_eq!(down.at, last + 30 * MS);
}

#[test]
fn the_local_stall_guard_postpones_overdue_detection_once() {
    for guard in [None, Some(10 * MS)] {
        let mut net = fast(10 * MS, 3);
        for side in [&mut net.a, &mut net.b] {
            side.host.set_local_pause(guard);
            assert_eq!(side.host.local_pause(), guard);
        }
        // Both processes stall for 50 ms (longer than the 30 ms detection time), then run.
        let resumed = net.now + 50 * MS;
        net.jump(resumed);
        let failures = |side: &Side| side.events.iter().filter(|e| e.at >= resumed && e.kind.is_failure()).count();
        if guard.is_none() {
            assert_eq!((failures(&net.a), failures(&net.b)), (1, 1), "without the guard both convict");
            continue;
        }
        // With it, the packets both sent on resuming keep them Up.
        net.run_until(resumed + Duration::from_secs(1));
        assert_eq!((failures(&net.a), failures(&net.b)), (0, 0));
        assert_eq!((net.a.state(), net.b.state()), (State::Up, State::Up));
        // A peer that stays silent is still convicted, one pause after the stall was noticed.
        net.b.alive = false;
        let last = net.a.status().last_received.expect("heard");
        let stalled = last + 100 * MS;
        net.jump(stalled);
        assert_eq!(failures(&net.a), 0, "held once");
        net.run_until(stalled + Duration::from_secs(1));
        let down = net.a.event(stalled, |k| k.is_failure()).expect("went down");
        assert_eq!(down.at, stalled + 10 * MS);
    }
}
