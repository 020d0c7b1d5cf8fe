//! A Linux-HA node `a` fed, past its authentication, by what the fuzzer builds with `arbitrary`:
//! the genuine heartbeats of a real peer node `b` (which restarts with any generation, leaves,
//! signs with any of the cluster's key indices), messages with fields of the fuzzer's choosing
//! signed with a key `a` knows (so the status reader and the engine are reached), those frames
//! with one byte changed, replays of anything signed before, raw bytes, and time passing.
//!
//! Checked after every step:
//! - nothing panics;
//! - a refused datagram changes nothing but exactly one refusal counter: peers, deadlines,
//!   the clock, observations, events;
//! - only bytes signed with one of `a`'s keys are ever accepted;
//! - after `tick(now)` and a full drain, the next deadline is strictly later than `now`.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use arbitrary::Arbitrary;
use heartbeat_proto::engine::RecvMeta;
use heartbeat_proto::linuxha::node::Rejected;
use heartbeat_proto::linuxha::{Field, HaCf, LinuxHaNode, Message, encode_netstring, parse_authkeys};
use heartbeat_proto::{Rejected as EngineRejected, FixedTimeout, Generation, Growable, Instant, LinkId, PeerStatus};
use libfuzzer_sys::fuzz_target;

type Node = LinuxHaNode<FixedTimeout, Growable>;

/// Three keys `a` knows (one of each method); index 4 is known only to the fuzzer.
fn authkeys(selected: u8) -> String {
    format!("auth {selected}\n1 sha1 fuzz-sha1\n2 md5 fuzz-md5\n3 crc\n4 sha1 not-a-key-a-knows\n")
}

fn known_keys(selected: u8) -> String {
    format!("auth {selected}\n1 sha1 fuzz-sha1\n2 md5 fuzz-md5\n3 crc\n")
}

const CF: &str = "keepalive 100ms\ndeadtime 1\nwarntime 500ms\ninitdead 2\nucast eth0 198.18.0.2\nnode a b c\n";

#[derive(Debug, Arbitrary)]
struct Input {
    a_key: u8,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
enum Op {
    /// Time passes for both nodes; `b`'s heartbeats reach `a` unless `drop` is set.
    Step { ms: u16, drop: bool },
    /// `b` restarts with this generation, signing with key index `key`.
    Restart { generation: u16, key: u8 },
    /// `b` says goodbye.
    Leave,
    /// A message of the fuzzer's fields, signed with key index `key` (1..=4).
    Forged { key: u8, fields: Vec<(FieldName, String)> },
    /// An earlier signed datagram with one byte changed.
    Mutate { back: u8, pos: u16, xor: u8 },
    /// An earlier signed datagram again.
    Replay { back: u8 },
    /// Anything.
    Raw(Vec<u8>),
}

/// Field names the status reader looks at, and some it does not.
#[derive(Debug, Arbitrary, Clone, Copy)]
enum FieldName {
    T,
    St,
    Src,
    Srcuuid,
    Seq,
    Hg,
    Ts,
    Ld,
    Ttl,
    Dt,
    Protocol,
    Other,
}

impl FieldName {
    fn name(self) -> &'static str {
        match self {
            FieldName::T => "t",
            FieldName::St => "st",
            FieldName::Src => "src",
            FieldName::Srcuuid => "srcuuid",
            FieldName::Seq => "seq",
            FieldName::Hg => "hg",
            FieldName::Ts => "ts",
            FieldName::Ld => "ld",
            FieldName::Ttl => "ttl",
            FieldName::Dt => "dt",
            FieldName::Protocol => "protocol",
            FieldName::Other => "x",
        }
    }
}

#[derive(Debug, PartialEq)]
struct Observed {
    peers: Vec<PeerStatus>,
    next: Option<Instant>,
    now: Instant,
    observed: u64,
    accepted: u64,
}

struct Harness {
    a: Node,
    b: Node,
    cf: HaCf<'static>,
    now: Instant,
    /// Every datagram signed with a key `a` knows.
    genuine: Vec<Vec<u8>>,
    /// Everything signed, with any key, for replays and mutations.
    signed: Vec<Vec<u8>>,
}

fn meta() -> RecvMeta {
    RecvMeta {
        link: LinkId(0),
        source: Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)), 694)),
        local: None,
        ttl: None,
    }
}

fn crc_checked(bytes: &[u8]) -> bool {
    let keys = parse_authkeys(&known_keys(3)).expect("a's authkeys parse");
    Message::decode(bytes).is_ok_and(|m| m.verify(&keys) == Ok(3))
}

fn refusals(node: &Node) -> u64 {
    let p = node.profile_stats();
    let w = node.wire_stats();
    p.malformed
        + p.unauthentic
        + p.bad_fields
        + p.not_liveness
        + p.unknown_node
        + p.bad_generation
        + p.not_for_us
        + w.refused_stale_generation
        + w.refused_duplicate
        + w.refused_old
        + node.monitor().stats().rejected()
}

fn observe(node: &Node) -> Observed {
    Observed {
        peers: node.peers().collect(),
        next: node.poll_timeout(),
        now: node.monitor().now(),
        observed: node.profile_stats().observed,
        accepted: node.monitor().stats().accepted,
    }
}

impl Harness {
    fn deliver(&mut self, bytes: &[u8]) {
        let before = observe(&self.a);
        let refused_before = refusals(&self.a);
        match self.a.on_message(self.now, meta(), bytes) {
            // crc is a checksum, not a MAC: anyone can make a message that passes it, so the
            // only accepted bytes that need not come from a signer are crc-checked ones.
            Ok(_) => assert!(
                self.genuine.iter().any(|g| g == bytes) || crc_checked(bytes),
                "accepted bytes signed with no key of a's"
            ),
            Err(reason) => {
                let mut expected = before;
                // Each layer counts what it saw: a datagram the profile turned into an
                // observation is `observed` there, whatever the engine then made of it.
                // The node's own sequence check refuses statuses (observed) and control
                // messages (not observations) alike.
                let observed_now = self.a.profile_stats().observed;
                match reason {
                    Rejected::Engine(_) => expected.observed += 1,
                    Rejected::Sequence(_) if observed_now == expected.observed + 1 => expected.observed += 1,
                    _ => {}
                }
                // A duplicate is also counted against its peer, as `Rejected::Duplicate` says.
                if let Rejected::Engine(EngineRejected::Duplicate { peer, .. }) = reason {
                    for status in expected.peers.iter_mut().filter(|s| s.id == peer) {
                        status.stats.duplicates += 1;
                    }
                }
                assert_eq!(observe(&self.a), expected, "{reason:?} changed state");
                assert_eq!(refusals(&self.a), refused_before + 1, "{reason:?} was not counted once");
                assert!(self.a.poll_event().is_none(), "{reason:?} raised an event");
            }
        }
        while self.a.poll_event().is_some() {}
    }

    fn keep(&mut self, bytes: Vec<u8>, known: bool) {
        if known {
            self.genuine.push(bytes.clone());
        }
        self.signed.push(bytes);
        if self.signed.len() > 64 {
            self.signed.remove(0);
        }
    }

    fn step(&mut self, ms: u16, drop: bool, b_known: bool) {
        self.now = self.now + Duration::from_millis(u64::from(ms));
        let mut buf = vec![0u8; 2048];
        self.b.tick(self.now);
        while let Some(t) = self.b.poll_transmit(&mut buf) {
            let t = t.expect("2 KiB holds a status");
            let bytes = buf[..t.len].to_vec();
            self.keep(bytes.clone(), b_known);
            if !drop {
                self.deliver(&bytes);
            }
        }
        while self.b.poll_event().is_some() {}
        self.a.tick(self.now);
        while let Some(t) = self.a.poll_transmit(&mut buf) {
            let _sent = t.expect("2 KiB holds a status");
        }
        while self.a.poll_event().is_some() {}
        if let Some(next) = self.a.poll_timeout() {
            assert!(next > self.now, "busy loop: next deadline {next} at {}", self.now);
        }
    }
}

fuzz_target!(|input: Input| {
    let cf = HaCf::parse(CF).expect("the target's ha.cf parses");
    let a_key = 1 + input.a_key % 3;
    let a_keys = parse_authkeys(&known_keys(a_key)).expect("a's authkeys parse");
    let Ok(a) = Node::new(&cf, "a", a_keys, Generation(5), FixedTimeout::new(), Instant::ZERO, 1_700_000_000) else {
        return;
    };
    let b_keys = parse_authkeys(&authkeys(1)).expect("b's authkeys parse");
    let b = Node::new(&cf, "b", b_keys, Generation(5), FixedTimeout::new(), Instant::ZERO, 1_700_000_000)
        .expect("b is a member");
    let mut h = Harness { a, b, cf, now: Instant::ZERO, genuine: Vec::new(), signed: Vec::new() };
    let mut b_known = true;
    for op in input.ops.into_iter().take(200) {
        match op {
            Op::Step { ms, drop } => h.step(ms % 2000, drop, b_known),
            Op::Restart { generation, key } => {
                let key = 1 + key % 4;
                let Ok(keys) = parse_authkeys(&authkeys(key)) else { continue };
                let wall = 1_700_000_000 + h.now.as_nanos() / 1_000_000_000;
                if let Ok(b) = Node::new(&h.cf, "b", keys, Generation(u32::from(generation)), FixedTimeout::new(), h.now, wall) {
                    h.b = b;
                    b_known = key != 4;
                }
            }
            Op::Leave => h.b.leave(h.now),
            Op::Forged { key, fields } => {
                let key = 1 + key % 4;
                let keys = parse_authkeys(&authkeys(key)).expect("the fuzzer's authkeys parse");
                let fields: Vec<Field<'_>> = fields.iter().take(16).map(|(n, v)| Field::text(n.name(), v)).collect();
                let mut buf = vec![0u8; 4096];
                if let Ok(len) = encode_netstring(&fields, &keys, &mut buf) {
                    let bytes = buf[..len].to_vec();
                    h.keep(bytes.clone(), key != 4);
                    h.deliver(&bytes);
                }
            }
            Op::Mutate { back, pos, xor } => {
                let Some(i) = h.signed.len().checked_sub(1 + usize::from(back) % h.signed.len().max(1)) else { continue };
                let mut bytes = h.signed[i].clone();
                let pos = usize::from(pos) % bytes.len();
                bytes[pos] ^= xor.max(1);
                // Some changes keep a message genuine (an unsigned framing byte, a crc collision
                // is not one of them but a changed trailer on a message signed twice might be):
                // only what a signer produced counts as genuine, so the changed copy is not.
                if !h.genuine.contains(&bytes) {
                    h.deliver(&bytes);
                }
            }
            Op::Replay { back } => {
                let Some(i) = h.signed.len().checked_sub(1 + usize::from(back) % h.signed.len().max(1)) else { continue };
                let bytes = h.signed[i].clone();
                h.deliver(&bytes);
            }
            Op::Raw(bytes) => {
                if !h.genuine.contains(&bytes) {
                    h.deliver(&bytes);
                }
            }
        }
    }
});
