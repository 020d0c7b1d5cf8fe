//! Arbitrary sequences of ticks, well-formed frames (built from fields, then maybe corrupted),
//! raw byte frames, drains and peer-table changes, fed to a `Monitor` over growable or fixed
//! storage, single- or multi-link. Asserts, beyond "no panic":
//! - after `tick(now)` and a full drain, the next deadline is strictly later than `now`;
//! - a rejected frame leaves every peer's status and the clock unchanged (bar the peer's
//!   duplicate counter for a duplicate), counts exactly one rejection, and raises no event
//!   (checked whenever the queue was drained before it);
//! - events come out in time order, never from the future, and after a full drain every
//!   peer's liveness is what its latest event said (`Waiting` if none yet).

#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use arbitrary::Arbitrary;
use heartbeat_proto::wire::{AuthHeader, Echo, Kind};
use heartbeat_proto::{
    Authentication, ClusterId, Config, EventKind, Fixed, FixedTimeout, Generation, Growable, Instant, Key, KeyId,
    KeyRing, Learning, LinkId, Liveness, MAX_FRAME_LEN, Message, Monitor, NodeId, PeerStatus, Rejected, Storage,
};
use libfuzzer_sys::fuzz_target;

const ME: u64 = 1;
const CLUSTER: ClusterId = ClusterId(7);

#[derive(Debug, Arbitrary)]
struct Input {
    fixed_storage: bool,
    learning: bool,
    links: u8,
    configured: u8,
    max_peers: u8,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Tick { dt_ms: i16 },
    Frame { dt_ms: i16, link: u8, frame: FrameSpec },
    Raw { dt_ms: i16, link: u8, bytes: Vec<u8> },
    Drain,
    Add(u8),
    Remove(u8),
}

/// A frame from fields; `build` repairs what encoding would refuse, `corrupt` may then break it.
#[derive(Debug, Arbitrary)]
struct FrameSpec {
    goodbye: bool,
    other_cluster: bool,
    sender: u8,
    receiver: Option<u8>,
    generation: u8,
    sequence: u64,
    small_sequence: bool,
    interval_ms: u16,
    extra_timeout_ms: u16,
    echo: Option<(u32, u32)>,
    hears_you: bool,
    applied_ms: u16,
    auth: Option<(u8, u8, u8)>,
    corrupt: Option<(u8, u8)>,
}

fn id(n: u64) -> NodeId {
    NodeId::new(n.max(1)).expect("non-zero")
}

impl FrameSpec {
    /// Encodes the frame as a peer sends it: signed when the monitor has keys (unless the spec
    /// asks for a trailer of its own), plain otherwise.
    fn build(&self, auth: &Authentication) -> Vec<u8> {
        let sender = id(u64::from(self.sender % 24) + 1);
        let receiver = self.receiver.map(|r| id(u64::from(r % 24) + 1)).filter(|r| *r != sender);
        let addressed = receiver.is_some();
        let interval = Duration::from_millis(u64::from(self.interval_ms.max(1)));
        let msg = Message {
            kind: if self.goodbye { Kind::Goodbye } else { Kind::Heartbeat },
            cluster: if self.other_cluster { ClusterId(8) } else { CLUSTER },
            sender,
            receiver,
            generation: Generation(u32::from(self.generation % 4)),
            sequence: if self.small_sequence { self.sequence % 128 } else { self.sequence },
            timestamp: Instant::from_nanos(self.sequence),
            echo: self.echo.filter(|_| addressed).map(|(ms, us)| Echo {
                timestamp: Instant::from_millis(u64::from(ms)),
                delay: Duration::from_micros(u64::from(us)),
            }),
            interval,
            requested_timeout: interval + Duration::from_millis(u64::from(self.extra_timeout_ms)),
            applied_timeout: (addressed && self.applied_ms != 0)
                .then(|| Duration::from_millis(u64::from(self.applied_ms))),
            hears_you: self.hears_you && addressed,
            auth: self.auth.map(|(scheme, key_id, len)| AuthHeader {
                scheme: scheme.max(1),
                key_id,
                tag_len: len % 32 + 1,
            }),
        };
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = match (auth, msg.auth) {
            (Authentication::None, _) | (_, Some(_)) => msg.encode(&mut buf),
            _ => auth.encode(&msg, &mut buf),
        }
        .expect("the spec is repaired into a valid message");
        if let Some((pos, byte)) = self.corrupt {
            buf[usize::from(pos) % len] = byte;
        }
        buf[..len].to_vec()
    }
}

fn statuses<S: Storage>(m: &Monitor<FixedTimeout, S>) -> BTreeMap<u64, PeerStatus> {
    m.peers().map(|s| (s.id.get(), s)).collect()
}

/// The monitor plus what the harness learned from its events.
struct Harness<S: Storage> {
    m: Monitor<FixedTimeout, S>,
    /// Each peer's liveness according to its latest event.
    told: BTreeMap<u64, Liveness>,
    last_event_at: Instant,
    frames: u64,
    /// No event has been raised since the last full drain.
    drained: bool,
}

impl<S: Storage> Harness<S> {
    fn drain(&mut self) {
        self.drained = true;
        while let Some(e) = self.m.poll_event() {
            assert!(e.at >= self.last_event_at && e.at <= self.m.now(), "{e:?}");
            self.last_event_at = e.at;
            let liveness = match e.kind {
                EventKind::Up { .. } | EventKind::Restarted { .. } => Liveness::Up,
                EventKind::Suspect { .. } => Liveness::Suspect,
                EventKind::Down { deadline, .. } => {
                    assert!(deadline <= e.at);
                    Liveness::Down
                }
                EventKind::Left => Liveness::Left,
                EventKind::LinkUp { .. } | EventKind::LinkDown { .. } => continue,
                other => panic!("an event this target does not model: {other:?}"),
            };
            self.told.insert(e.peer.get(), liveness);
        }
        for s in self.m.peers() {
            let told = self.told.get(&s.id.get()).copied().unwrap_or(Liveness::Waiting);
            assert_eq!(s.liveness, told, "{s:?}");
        }
    }

    fn deliver(&mut self, now: Instant, link: u8, bytes: &[u8]) {
        let before = statuses(&self.m);
        let (clock, rejected_before) = (self.m.now(), self.m.stats().rejected());
        let result = self.m.on_message(now, LinkId(link), bytes);
        self.frames += 1;
        let stats = *self.m.stats();
        assert_eq!(stats.accepted + stats.late + stats.link_copies + stats.rejected(), self.frames);
        let Err(rejected) = result else {
            self.drained = false;
            return;
        };
        assert_eq!(stats.rejected(), rejected_before + 1);
        if self.drained {
            assert!(self.m.poll_event().is_none(), "{rejected:?} raised an event");
        }
        assert_eq!(self.m.now(), clock, "a rejected frame moved the clock");
        let mut after = statuses(&self.m);
        if let Rejected::Duplicate { peer, .. } = rejected {
            let p = peer.get();
            assert_eq!(after[&p].stats.duplicates, before[&p].stats.duplicates.saturating_add(1));
            after.get_mut(&p).expect("present").stats.duplicates = before[&p].stats.duplicates;
        }
        assert_eq!(after.len(), before.len());
        for (p, s) in &after {
            let b = &before[p];
            // Suspicion is computed from the clock, which did not move: compare it exactly too.
            assert!(s == b || (s.suspicion.is_nan() && b.suspicion.is_nan()), "{rejected:?} changed {s:?}");
        }
    }
}

fn run<S: Storage>(input: &Input) {
    let links = input.links % 3 + 1;
    // Learning needs keys.
    let auth = if input.learning {
        let key = Key::new(KeyId(1), b"fuzz-receiver-key-0123456789abcd").expect("a valid key");
        Authentication::Hmac(KeyRing::new(key))
    } else {
        Authentication::None
    };
    let config = Config::builder(CLUSTER, id(ME))
        .authentication(auth.clone())
        .tick(Duration::from_millis(100))
        .timeout(Duration::from_millis(600))
        .initdead(Duration::from_secs(2))
        .learning(if input.learning { Learning::Enabled } else { Learning::Disabled })
        .max_peers(usize::from(input.max_peers % 24) + 1)
        .links(links)
        .build()
        .expect("valid configuration");
    let mut h = Harness::<S> {
        m: Monitor::new(config, FixedTimeout::new(), Instant::ZERO),
        told: BTreeMap::new(),
        last_event_at: Instant::ZERO,
        frames: 0,
        drained: true,
    };
    for p in 2..u64::from(input.configured % 20) + 2 {
        let _ = h.m.add_peer(id(p));
    }
    let mut wall = Instant::ZERO;
    let mut step = |dt_ms: i16| {
        let d = Duration::from_millis(u64::from(dt_ms.unsigned_abs()));
        wall = if dt_ms >= 0 { wall + d } else { wall - d };
        wall
    };
    for op in input.ops.iter().take(512) {
        match op {
            Op::Tick { dt_ms } => {
                let now = step(*dt_ms);
                h.m.tick(now);
                h.drain();
                let now = h.m.now();
                assert!(h.m.poll_timeout().is_none_or(|t| t > now), "busy loop after tick({now})");
            }
            Op::Frame { dt_ms, link, frame } => {
                let now = step(*dt_ms);
                h.deliver(now, link % (links + 1), &frame.build(&auth));
            }
            Op::Raw { dt_ms, link, bytes } => {
                let now = step(*dt_ms);
                h.deliver(now, link % (links + 1), bytes);
            }
            Op::Drain => h.drain(),
            Op::Add(p) => {
                h.drain();
                if h.m.add_peer(id(u64::from(*p % 24) + 1)).is_ok() {
                    h.told.remove(&(u64::from(*p % 24) + 1));
                }
            }
            Op::Remove(p) => {
                h.drain();
                let p = u64::from(*p % 24) + 1;
                if h.m.remove_peer(id(p)) {
                    h.told.remove(&p);
                }
            }
        }
    }
    h.drain();
}

fuzz_target!(|input: Input| {
    if input.fixed_storage {
        run::<Fixed<8, 24>>(&input);
    } else {
        run::<Growable>(&input);
    }
});
