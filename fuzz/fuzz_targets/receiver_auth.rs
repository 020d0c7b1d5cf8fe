//! A receiving node with keys, driven by a script the fuzzer writes: raw datagrams, genuine
//! frames signed by its peers (with fields the fuzzer picks, so it gets past the tag and
//! reaches the verdict and state code), genuine frames with one byte changed, replays of
//! anything sent before, time passing, and key rotation on both sides.
//!
//! Checked after every step:
//! - nothing panics;
//! - a refused frame changes nothing but its own counter (peers, deadline, time, events);
//! - a frame the fuzzer made or changed itself is never accepted: without the key, only
//!   bytes a genuine peer signed can pass;
//! - after `tick(now)` and a full drain, the next deadline is strictly later than `now`.

#![no_main]

use core::time::Duration;

use heartbeat_proto::wire::{Echo, Kind};
use heartbeat_proto::{
    Authentication, ClusterId, Config, Fixed, FixedTimeout, Generation, Instant, Key, KeyId, KeyRing, LinkId,
    MAX_FRAME_LEN, Message, MonitorStats, Node, NodeId, PeerStatus, Rejected,
};
use libfuzzer_sys::fuzz_target;

const CLUSTER: ClusterId = ClusterId(7);
const ME: u64 = 1;

type Receiver = Node<FixedTimeout, Fixed<4, 8>>;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn key(id: u8) -> Key {
    Key::new(KeyId(id), &[id.wrapping_mul(0x5d) | 1; 32]).unwrap()
}

/// Reads the script.
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

#[derive(Debug, PartialEq)]
struct Observed {
    peers: Vec<PeerStatus>,
    next: Option<Instant>,
    now: Instant,
    stats: MonitorStats,
}

fn observe(node: &Receiver) -> Observed {
    Observed {
        peers: node.peers().collect(),
        next: node.poll_timeout(),
        now: node.monitor().now(),
        stats: *node.stats(),
    }
}

fn counter(stats: &mut MonitorStats, reason: &Rejected) -> u64 {
    let c = match reason {
        Rejected::Malformed(_) => &mut stats.rejected_malformed,
        Rejected::WrongCluster(_) => &mut stats.rejected_cluster,
        Rejected::FromSelf => &mut stats.rejected_self,
        Rejected::NotForUs(_) => &mut stats.rejected_not_for_us,
        Rejected::UnknownLink(_) => &mut stats.rejected_link,
        Rejected::UnknownPeer(_) => &mut stats.rejected_unknown_peer,
        Rejected::PeerTableFull(_) => &mut stats.rejected_table_full,
        Rejected::Auth(_) => &mut stats.rejected_auth,
        Rejected::StaleGeneration { .. } => &mut stats.rejected_stale_generation,
        Rejected::Duplicate { .. } => &mut stats.rejected_duplicate,
        Rejected::Replayed { .. } => &mut stats.rejected_replay,
        Rejected::EventQueueFull => &mut stats.rejected_queue_full,
        other => panic!("no counter known to this target for {other:?}"),
    };
    *c += 1;
    *c
}

struct Harness {
    node: Receiver,
    /// What the peers sign with (they share one ring).
    peers: Authentication,
    now: Instant,
    /// Every frame a genuine peer signed.
    signed: Vec<Vec<u8>>,
}

impl Harness {
    /// Delivers `bytes`; checks the refusal rule, and that only genuine bytes are accepted.
    fn deliver(&mut self, link: u8, bytes: &[u8]) {
        let before = observe(&self.node);
        match self.node.on_message(self.now, LinkId(link), bytes) {
            Ok(_) => assert!(self.signed.iter().any(|s| s == bytes), "accepted bytes no peer signed"),
            Err(reason) => {
                let mut expected = before;
                counter(&mut expected.stats, &reason);
                // A duplicate is also counted against its peer, as `Rejected::Duplicate` says.
                if let Rejected::Duplicate { peer, .. } = reason {
                    for status in expected.peers.iter_mut().filter(|s| s.id == peer) {
                        status.stats.duplicates += 1;
                    }
                }
                assert_eq!(observe(&self.node), expected, "{reason:?} changed state");
                // Every step drains, so nothing was waiting: a refusal must raise nothing.
                assert!(self.node.poll_event().is_none(), "{reason:?} raised an event");
            }
        }
        while self.node.poll_event().is_some() {}
    }

    fn genuine(&mut self, s: &mut Script<'_>) -> Option<Vec<u8>> {
        let sender = [2, 3, 9, ME][usize::from(s.byte()? & 3)];
        let flags = s.byte()?;
        let generation = u32::from(s.byte()? & 3);
        let sequence = u64::from(s.u16()?);
        let timestamp = Instant::from_millis(u64::from(s.u16()?) * 10);
        let interval = Duration::from_millis(u64::from(s.byte()?.max(1)));
        let addressed = flags & 1 != 0;
        let msg = Message {
            kind: if flags & 2 != 0 { Kind::Goodbye } else { Kind::Heartbeat },
            cluster: if flags & 4 != 0 { ClusterId(8) } else { CLUSTER },
            sender: id(sender),
            receiver: addressed.then(|| id(ME)),
            generation: Generation(generation),
            sequence,
            timestamp,
            echo: (addressed && flags & 8 != 0)
                .then(|| Echo { timestamp: self.now.saturating_sub(Duration::from_millis(5)), delay: Duration::ZERO }),
            interval,
            requested_timeout: interval * u32::from(flags >> 4).max(2),
            applied_timeout: None,
            hears_you: addressed && flags & 8 != 0,
            auth: None,
        };
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = self.peers.encode(&msg, &mut buf).ok()?;
        let frame = buf[..len].to_vec();
        self.signed.push(frame.clone());
        Some(frame)
    }

    fn rotate(&mut self, op: u8) {
        let target = KeyId(1 + (op >> 2) % 3);
        let apply = |ring: &mut KeyRing| {
            let _ = match op & 3 {
                0 => ring.insert(key(target.0)),
                1 => ring.set_current(target),
                _ => ring.remove(target),
            };
        };
        if op & 0x20 != 0 {
            if let Authentication::Hmac(ring) = &mut self.peers {
                apply(ring);
            }
        } else if let Some(ring) = self.node.key_ring_mut() {
            apply(ring);
        }
    }

    fn tick(&mut self, ms: u16) {
        self.now = self.now + Duration::from_millis(u64::from(ms));
        self.node.tick(self.now);
        let mut buf = [0u8; MAX_FRAME_LEN];
        while self.node.poll_transmit(&mut buf).transpose().expect("a MAX_FRAME_LEN buffer fits every frame").is_some() {}
        while self.node.poll_event().is_some() {}
        if let Some(next) = self.node.poll_timeout() {
            assert!(next > self.now, "busy loop: next deadline {next} at {}", self.now);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut s = Script(data);
    let Some(setup) = s.byte() else { return };
    let config = Config::builder(CLUSTER, id(ME))
        .tick(Duration::from_millis(10))
        .links(1 + setup % 3)
        .authentication(Authentication::Hmac(KeyRing::new(key(1))))
        .build()
        .unwrap();
    let mut node: Receiver = Node::new(config, FixedTimeout::new(), Instant::ZERO);
    node.add_peer(id(2)).unwrap();
    node.add_peer(id(3)).unwrap();
    let peers = Authentication::Hmac(KeyRing::new(key(1)));
    let mut h = Harness { node, peers, now: Instant::ZERO, signed: Vec::new() };
    while let Some(op) = s.byte() {
        let link = op >> 6;
        match op & 7 {
            0 => {
                let len = usize::from(s.byte().unwrap_or(0));
                let raw = s.bytes(len).to_vec();
                h.deliver(link, &raw);
            }
            1 => {
                if let Some(frame) = h.genuine(&mut s) {
                    h.deliver(link, &frame);
                }
            }
            2 => {
                let (Some(pos), Some(xor)) = (s.byte(), s.byte()) else { return };
                if let Some(mut frame) = h.genuine(&mut s) {
                    // Not delivered as genuine: the changed copy is the fuzzer's own.
                    h.signed.pop();
                    let pos = usize::from(pos) % frame.len();
                    frame[pos] ^= xor.max(1);
                    h.deliver(link, &frame);
                }
            }
            3 => {
                let Some(i) = s.byte() else { return };
                if !h.signed.is_empty() {
                    let frame = h.signed[usize::from(i) % h.signed.len()].clone();
                    h.deliver(link, &frame);
                }
            }
            4 | 5 => {
                let Some(ms) = s.u16() else { return };
                h.tick(ms);
            }
            _ => {
                let Some(op) = s.byte() else { return };
                h.rotate(op);
            }
        }
    }
});
