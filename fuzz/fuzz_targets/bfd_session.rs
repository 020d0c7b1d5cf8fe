//! Two BFD hosts, A and B, joined by an instant network that the input can interrupt, plus
//! arbitrary datagrams into A: raw bytes, B's packets mutated or replayed, from B's address or
//! another, with any TTL. Sessions may be authenticated, passive, multihop. Asserts, beyond
//! "no panic":
//! - after `tick(now)` and a full drain, `poll_timeout` is strictly later than `now`;
//! - a refused datagram changes no session status (bar its refusal counter), raises no event,
//!   does not move the clock, and counts exactly one refusal;
//! - events are in time order and never from the future.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use arbitrary::Arbitrary;
use heartbeat_proto::bfd::auth::{AuthType, BfdKey, BfdKeys};
use heartbeat_proto::bfd::packet::MAX_PACKET_LEN;
use heartbeat_proto::bfd::{BfdHost, SessionConfig, SessionStatus};
use heartbeat_proto::engine::{RecvMeta, SessionHandle};
use heartbeat_proto::{Fixed, Growable, Instant, LinkId, Storage};
use libfuzzer_sys::fuzz_target;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const C: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 3));

#[derive(Debug, Arbitrary)]
struct Input {
    seed: u64,
    fixed_storage: bool,
    /// 0: none, 1..=5: that auth type.
    auth: u8,
    a_passive: bool,
    multi_hop: bool,
    /// A second session on A, to C (never answered).
    second: bool,
    timing: (u16, u16, u8),
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
enum Op {
    /// Time passes (µs, ms scaled); both tick, packets cross, events drain.
    Step { dt_us: u32 },
    Raw { dt_us: u16, from_b: bool, ttl: Option<u8>, bytes: Vec<u8> },
    Mutate { dt_us: u16, back: u8, pos: u8, byte: u8, ttl: Option<u8> },
    Replay { dt_us: u16, back: u8 },
    AdminDown { on_a: bool },
    Enable { on_a: bool },
    SetTiming { on_a: bool, desired_ms: u16, required_ms: u16, mult: u8 },
    Cut(bool),
    TimeBack { us: u16 },
}

fn keys(auth: u8) -> Option<BfdKeys> {
    let auth_type = AuthType::from_wire(auth % 6)?;
    Some(BfdKeys::new(BfdKey::new(auth_type, 3, b"fuzz-secret").expect("a valid key")))
}

struct Harness<S: Storage> {
    a: BfdHost<S>,
    b: BfdHost<S>,
    a_sessions: Vec<SessionHandle>,
    b_session: SessionHandle,
    now: Instant,
    cut: bool,
    /// B's packets, newest last (at most 64 kept).
    b_sent: Vec<Vec<u8>>,
    last_event: Instant,
}

fn meta(from: IpAddr, ttl: Option<u8>) -> RecvMeta {
    RecvMeta { link: LinkId(0), source: Some(SocketAddr::new(from, 49152)), local: None, ttl }
}

impl<S: Storage> Harness<S> {
    fn statuses(&self) -> Vec<Option<SessionStatus>> {
        self.a_sessions.iter().map(|h| self.a.session(*h)).collect()
    }

    fn drain(&mut self) {
        let mut buf = [0u8; MAX_PACKET_LEN];
        for _ in 0..64 {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit(&mut buf) {
                let (_, send) = t.expect("the buffer fits every packet");
                moved = true;
                if !self.cut && send.destination.ip() == B {
                    let _ = self.b.on_message(self.now, &meta(A, send.ttl), &buf[..send.len]);
                }
            }
            while let Some(t) = self.b.poll_transmit(&mut buf) {
                let (_, send) = t.expect("the buffer fits every packet");
                moved = true;
                if self.b_sent.len() == 64 {
                    self.b_sent.remove(0);
                }
                self.b_sent.push(buf[..send.len].to_vec());
                if !self.cut {
                    let _ = self.a.on_message(self.now, &meta(B, send.ttl), &buf[..send.len]);
                }
            }
            if !moved {
                break;
            }
        }
        while let Some(e) = self.a.poll_event() {
            assert!(e.at >= self.last_event && e.at <= self.a.now(), "{e:?}");
            self.last_event = e.at;
        }
        while self.b.poll_event().is_some() {}
    }

    fn step(&mut self, dt: Duration) {
        self.now = self.now + dt;
        self.a.tick(self.now);
        self.b.tick(self.now);
        self.drain();
        // Ticking again at the same time is harmless and settles what the drain caused.
        self.a.tick(self.now);
        self.b.tick(self.now);
        self.drain();
        for host in [&self.a, &self.b] {
            let now = host.now();
            assert!(host.poll_timeout().is_none_or(|t| t > now), "busy loop after tick({now})");
        }
    }

    fn inject(&mut self, dt: Duration, from: IpAddr, ttl: Option<u8>, bytes: &[u8]) {
        self.drain();
        let at = self.now + dt;
        let before = self.statuses();
        let (clock, stats) = (self.a.now(), *self.a.stats());
        let result = self.a.on_message(at, &meta(from, ttl), bytes);
        let after_stats = *self.a.stats();
        match result {
            Ok(_) => {
                assert_eq!(after_stats.accepted, stats.accepted + 1);
                self.now = self.now.max(at);
            }
            Err(rejected) => {
                assert_eq!(after_stats.rejected.total(), stats.rejected.total() + 1, "{rejected:?}");
                assert_eq!(self.a.now(), clock, "{rejected:?} moved the clock");
                assert!(self.a.poll_event().is_none(), "{rejected:?} raised an event");
                let after = self.statuses();
                for (b, a) in before.iter().zip(&after) {
                    if let (Some(b), Some(a)) = (b, a) {
                        let mut a = *a;
                        assert!(a.stats.rejected.total() <= b.stats.rejected.total() + 1);
                        a.stats = b.stats;
                        assert_eq!(&a, b, "{rejected:?} changed a session");
                    }
                }
            }
        }
        self.drain();
    }
}

fn run<S: Storage>(input: &Input) {
    let (d, r, m) = input.timing;
    let timing = |c: SessionConfig| {
        c.timing(
            Duration::from_millis(u64::from(d % 2000) + 1),
            Duration::from_millis(u64::from(r % 2000) + 1),
            m % 5 + 1,
        )
    };
    let hop = |c: SessionConfig| if input.multi_hop { c.multi_hop(254) } else { c };
    let mut a = BfdHost::<S>::new(input.seed, Instant::ZERO);
    let mut b = BfdHost::<S>::new(input.seed ^ 1, Instant::ZERO);
    let mut ca = hop(timing(SessionConfig::new(B, LinkId(0))));
    ca.passive = input.a_passive;
    ca.keys = keys(input.auth);
    let mut cb = hop(timing(SessionConfig::new(A, LinkId(0))));
    cb.keys = keys(input.auth);
    let Ok(ha) = a.add_session(ca) else { return };
    let mut a_sessions = vec![ha];
    if input.second {
        if let Ok(h) = a.add_session(hop(SessionConfig::new(C, LinkId(0)))) {
            a_sessions.push(h);
        }
    }
    let Ok(hb) = b.add_session(cb) else { return };
    let mut h = Harness {
        a,
        b,
        a_sessions,
        b_session: hb,
        now: Instant::ZERO,
        cut: false,
        b_sent: Vec::new(),
        last_event: Instant::ZERO,
    };
    let ttl_ok = Some(255);
    for op in input.ops.iter().take(256) {
        match op {
            Op::Step { dt_us } => h.step(Duration::from_micros(u64::from(*dt_us % 5_000_000))),
            Op::Raw { dt_us, from_b, ttl, bytes } => {
                let from = if *from_b { B } else { C };
                h.inject(Duration::from_micros(u64::from(*dt_us)), from, *ttl, bytes);
            }
            Op::Mutate { dt_us, back, pos, byte, ttl } => {
                let Some(mut bytes) = h.b_sent.iter().rev().nth(usize::from(*back % 8)).cloned() else { continue };
                let i = usize::from(*pos) % bytes.len();
                bytes[i] = *byte;
                h.inject(Duration::from_micros(u64::from(*dt_us)), B, ttl.or(ttl_ok), &bytes);
            }
            Op::Replay { dt_us, back } => {
                let Some(bytes) = h.b_sent.iter().rev().nth(usize::from(*back % 16)).cloned() else { continue };
                h.inject(Duration::from_micros(u64::from(*dt_us)), B, ttl_ok, &bytes);
            }
            Op::AdminDown { on_a } => {
                h.drain();
                let now = h.now;
                let _ = if *on_a { h.a.admin_down(h.a_sessions[0], now) } else { h.b.admin_down(h.b_session, now) };
                h.drain();
            }
            Op::Enable { on_a } => {
                h.drain();
                let now = h.now;
                let _ = if *on_a { h.a.enable(h.a_sessions[0], now) } else { h.b.enable(h.b_session, now) };
                h.drain();
            }
            Op::SetTiming { on_a, desired_ms, required_ms, mult } => {
                h.drain();
                let (now, d, r) = (
                    h.now,
                    Duration::from_millis(u64::from(*desired_ms)),
                    Duration::from_millis(u64::from(*required_ms)),
                );
                let _ = if *on_a {
                    h.a.set_timing(h.a_sessions[0], now, d, r, *mult)
                } else {
                    h.b.set_timing(h.b_session, now, d, r, *mult)
                };
                h.drain();
            }
            Op::Cut(cut) => h.cut = *cut,
            Op::TimeBack { us } => {
                // Time going backwards is no progress: the clock does not move back.
                let past = h.now - Duration::from_micros(u64::from(*us));
                let clock = h.a.now();
                h.a.tick(past);
                assert_eq!(h.a.now(), clock);
                h.drain();
            }
        }
    }
    h.step(Duration::from_secs(10));
}

fuzz_target!(|input: Input| {
    if input.fixed_storage {
        run::<Fixed<2>>(&input);
    } else {
        run::<Growable>(&input);
    }
});
