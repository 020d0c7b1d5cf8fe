//! The HA resource manager: the rules one by one, then random sequences of verdicts,
//! announcements and command outcomes for a pair, checked for "one holder once the
//! announcements settle" and "no resource lost while a node is live".

use core::time::Duration;

use heartbeat_proto::Instant;
use heartbeat_proto::linuxha::resources::{
    AnnounceError, Command, Failback, Local, Output, ResourceEvent, ResourceId, ResourceManager, StopReason, Verdict,
};
use proptest::prelude::*;

const INITDEAD: Duration = Duration::from_secs(4);
const NODES: [&str; 2] = ["a", "b"];
/// r0 prefers a, r1 prefers b.
const RESOURCES: [(&str, &str); 2] = [("r0", "a"), ("r1", "b")];

fn manager(me: &str, failback: Failback, generation: u32, now: Instant) -> ResourceManager {
    ResourceManager::new(me, &NODES, &RESOURCES, failback, INITDEAD, generation, now).unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// Drains outputs (commands, announce, leave) and events.
fn drain(m: &mut ResourceManager) -> (Vec<Output>, Vec<ResourceEvent>) {
    (core::iter::from_fn(|| m.poll_output()).collect(), core::iter::from_fn(|| m.poll_event()).collect())
}

fn runs(outputs: &[Output]) -> Vec<(usize, Command)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Run { resource, command, .. } => Some((resource.0, *command)),
            _ => None,
        })
        .collect()
}

/// Delivers `from`'s announcement to `to`, with the Up verdict a heartbeat brings.
fn tell(from: &ResourceManager, from_name: &str, to: &mut ResourceManager, now: Instant) {
    to.on_verdict(now, from_name, Verdict::Up);
    to.on_announcement(now, from_name, from.announcement()).unwrap();
}

#[test]
fn at_start_each_node_takes_what_it_prefers_once_it_has_heard_the_other() {
    let (mut a, mut b) = (manager("a", Failback::Off, 1, ms(0)), manager("b", Failback::Off, 1, ms(0)));
    a.tick(ms(0));
    assert!(runs(&drain(&mut a).0).is_empty(), "nothing before the other node is known");
    tell(&b, "b", &mut a, ms(10));
    tell(&a, "a", &mut b, ms(10));
    assert_eq!(runs(&drain(&mut a).0), [(0, Command::Start)]);
    assert_eq!(runs(&drain(&mut b).0), [(1, Command::Start)]);
    assert_eq!(a.announcement(), "100000001 r0=h");
}

#[test]
fn alone_a_node_takes_everything_after_initdead() {
    let mut a = manager("a", Failback::Off, 1, ms(0));
    a.tick(ms(3_999));
    assert!(runs(&drain(&mut a).0).is_empty());
    assert_eq!(a.poll_timeout(), Some(ms(4_000)));
    a.tick(ms(4_000));
    assert_eq!(runs(&drain(&mut a).0), [(0, Command::Start), (1, Command::Start)]);
}

/// a holds r0 and r1 (b was away), b comes back: returns a with both started.
fn a_holds_everything(failback: Failback) -> (ResourceManager, ResourceManager) {
    let mut a = manager("a", failback, 1, ms(0));
    a.tick(ms(4_000));
    let _ = drain(&mut a);
    a.on_outcome(ms(4_010), ResourceId(0), Command::Start, true).unwrap();
    a.on_outcome(ms(4_010), ResourceId(1), Command::Start, true).unwrap();
    let (_, events) = drain(&mut a);
    assert_eq!(events, [ResourceEvent::Started(ResourceId(0)), ResourceEvent::Started(ResourceId(1))]);
    assert_eq!(a.announcement(), "100000001 r0=h r1=h");
    let b = manager("b", failback, 1, ms(5_000));
    (a, b)
}

#[test]
fn failback_on_hands_over_stop_then_announce_then_start() {
    let (mut a, mut b) = a_holds_everything(Failback::On);
    // b hears a first: a holds r1, b waits.
    tell(&a, "a", &mut b, ms(5_001));
    assert!(runs(&drain(&mut b).0).is_empty());
    tell(&b, "b", &mut a, ms(5_002));
    let (out, _) = drain(&mut a);
    assert_eq!(runs(&out), [(1, Command::Stop)]);
    assert!(out.iter().any(|o| matches!(o, Output::Run { reason: Some(StopReason::Failback), .. })));
    assert_eq!(a.announcement(), "100000002 r0=h r1=r", "releasing: still held");
    tell(&a, "a", &mut b, ms(5_003));
    assert!(runs(&drain(&mut b).0).is_empty(), "b waits while a releases");
    a.on_outcome(ms(5_050), ResourceId(1), Command::Stop, true).unwrap();
    assert_eq!(a.announcement(), "100000003 r0=h");
    assert!(runs(&drain(&mut a).0).is_empty(), "a does not take it back");
    tell(&a, "a", &mut b, ms(5_051));
    assert_eq!(runs(&drain(&mut b).0), [(1, Command::Start)]);
}

#[test]
fn failback_off_leaves_resources_where_they_run() {
    let (mut a, mut b) = a_holds_everything(Failback::Off);
    tell(&a, "a", &mut b, ms(5_001));
    tell(&b, "b", &mut a, ms(5_002));
    assert!(runs(&drain(&mut a).0).is_empty());
    assert!(runs(&drain(&mut b).0).is_empty());
    // Until a dies: then b takes both, at once.
    b.on_verdict(ms(9_000), "a", Verdict::Down);
    assert_eq!(runs(&drain(&mut b).0), [(0, Command::Start), (1, Command::Start)]);
}

#[test]
fn a_leaving_node_stops_first_and_says_goodbye_after_and_the_other_takes_over() {
    let (mut a, mut b) = a_holds_everything(Failback::Off);
    tell(&a, "a", &mut b, ms(5_001));
    tell(&b, "b", &mut a, ms(5_002));
    let _ = (drain(&mut a), drain(&mut b));
    a.leave(ms(6_000));
    let (out, _) = drain(&mut a);
    assert_eq!(runs(&out), [(0, Command::Stop), (1, Command::Stop)]);
    assert!(!out.contains(&Output::Leave), "no goodbye while stops run");
    assert_eq!(a.announcement(), "100000002 leaving r0=r r1=r");
    a.on_outcome(ms(6_010), ResourceId(0), Command::Stop, true).unwrap();
    assert!(!drain(&mut a).0.contains(&Output::Leave));
    tell(&a, "a", &mut b, ms(6_011));
    assert_eq!(runs(&drain(&mut b).0), [(0, Command::Start)], "released by a leaving node: b takes it");
    a.on_outcome(ms(6_020), ResourceId(1), Command::Stop, false).unwrap();
    let (out, events) = drain(&mut a);
    assert!(out.contains(&Output::Leave), "a failed stop is reported and the node leaves anyway");
    assert!(events.contains(&ResourceEvent::Failed(ResourceId(1), Command::Stop)));
    assert_eq!(a.local(ResourceId(1)), Some(Local::Stuck));
}

#[test]
fn a_healed_partition_with_both_holding_is_reported_and_the_loser_stops() {
    let (mut a, mut b) = a_holds_everything(Failback::Off);
    // b, partitioned, never heard a: takes both after initdead.
    b.tick(ms(9_000));
    assert_eq!(runs(&drain(&mut b).0), [(0, Command::Start), (1, Command::Start)]);
    b.on_outcome(ms(9_010), ResourceId(0), Command::Start, true).unwrap();
    b.on_outcome(ms(9_010), ResourceId(1), Command::Start, true).unwrap();
    let _ = drain(&mut b);
    // Healed.
    tell(&b, "b", &mut a, ms(10_000));
    tell(&a, "a", &mut b, ms(10_000));
    let (a_out, a_events) = drain(&mut a);
    let (b_out, b_events) = drain(&mut b);
    // r0 prefers a: a keeps it, b stops; r1 prefers b: the other way round.
    assert_eq!(runs(&a_out), [(1, Command::Stop)]);
    assert_eq!(runs(&b_out), [(0, Command::Stop)]);
    let double = |events: &[ResourceEvent], r: usize, keep: bool| {
        events.iter().any(
            |e| matches!(e, ResourceEvent::DoubleHeld { resource, we_keep, .. } if resource.0 == r && *we_keep == keep),
        )
    };
    assert!(double(&a_events, 0, true) && double(&a_events, 1, false), "{a_events:?}");
    assert!(double(&b_events, 0, false) && double(&b_events, 1, true), "{b_events:?}");
    assert_eq!(a.stats().double_held, 2);
}

#[test]
fn without_the_preferred_node_among_the_holders_the_lowest_name_keeps_it() {
    let nodes = ["c", "b", "a"];
    let rs = [("ip", "c")];
    let mk = |me| ResourceManager::new(me, &nodes, &rs, Failback::Off, INITDEAD, 1, ms(0)).unwrap();
    let (mut a, mut b) = (mk("a"), mk("b"));
    for m in [&mut a, &mut b] {
        m.on_verdict(ms(1), "c", Verdict::Down);
    }
    // Partitioned a and b each alone: each takes it (after initdead, the other never heard).
    a.tick(ms(4_000));
    b.tick(ms(4_000));
    assert_eq!(runs(&drain(&mut a).0), [(0, Command::Start)]);
    assert_eq!(runs(&drain(&mut b).0), [(0, Command::Start)]);
    a.on_outcome(ms(4_001), ResourceId(0), Command::Start, true).unwrap();
    b.on_outcome(ms(4_001), ResourceId(0), Command::Start, true).unwrap();
    let _ = (drain(&mut a), drain(&mut b));
    tell(&a, "a", &mut b, ms(5_000));
    tell(&b, "b", &mut a, ms(5_000));
    assert!(runs(&drain(&mut a).0).is_empty(), "a < b keeps it");
    assert_eq!(runs(&drain(&mut b).0), [(0, Command::Stop)]);
}

#[test]
fn a_failing_status_stops_the_resource_here_and_the_other_node_takes_it() {
    let (mut a, mut b) = a_holds_everything(Failback::Off);
    tell(&a, "a", &mut b, ms(5_001));
    tell(&b, "b", &mut a, ms(5_002));
    let _ = (drain(&mut a), drain(&mut b));
    a.check(ms(6_000));
    assert_eq!(runs(&drain(&mut a).0), [(0, Command::Status), (1, Command::Status)]);
    a.on_outcome(ms(6_001), ResourceId(0), Command::Status, true).unwrap();
    a.on_outcome(ms(6_001), ResourceId(1), Command::Status, false).unwrap();
    let (out, events) = drain(&mut a);
    assert_eq!(events, [ResourceEvent::Failed(ResourceId(1), Command::Status)]);
    assert_eq!(runs(&out), [(1, Command::Stop)]);
    a.on_outcome(ms(6_010), ResourceId(1), Command::Stop, true).unwrap();
    assert_eq!(a.announcement(), "100000003 r0=h r1=f");
    tell(&a, "a", &mut b, ms(6_011));
    assert_eq!(runs(&drain(&mut b).0), [(1, Command::Start)]);
}

#[test]
fn stale_malformed_and_unexpected_inputs_are_refused_and_change_nothing() {
    let (a, mut b) = a_holds_everything(Failback::Off);
    tell(&a, "a", &mut b, ms(5_001));
    let before = (b.announcement().to_string(), b.claim(0, ResourceId(0)));
    assert_eq!(b.on_announcement(ms(5_002), "a", "100000000"), Err(AnnounceError::Stale));
    assert_eq!(b.on_announcement(ms(5_002), "a", "zz r0=h"), Err(AnnounceError::Malformed));
    assert_eq!(b.on_announcement(ms(5_002), "a", "100000009 r0=x"), Err(AnnounceError::Malformed));
    assert_eq!(b.on_announcement(ms(5_002), "a", "100000009 r0=h r0=h"), Err(AnnounceError::Malformed));
    assert_eq!(b.on_announcement(ms(5_002), "z", "100000009"), Err(AnnounceError::UnknownNode));
    assert_eq!(b.on_announcement(ms(5_002), "b", "100000009"), Err(AnnounceError::UnknownNode), "ourselves");
    assert_eq!(b.stats().refused_announcements, 6);
    assert_eq!((b.announcement().to_string(), b.claim(0, ResourceId(0))), before);
    assert!(b.on_outcome(ms(5_003), ResourceId(0), Command::Start, true).is_err());
    assert!(b.on_outcome(ms(5_003), ResourceId(9), Command::Stop, true).is_err());
    assert_eq!(b.stats().unexpected_outcomes, 2);
    assert!(drain(&mut b).0.iter().all(|o| !matches!(o, Output::Run { .. })));
    // A restart of a (a higher generation) is never stale.
    b.on_restart(ms(6_000), "a");
    assert_eq!(b.on_announcement(ms(6_000), "a", "200000000"), Ok(()));
}

#[test]
fn a_refused_input_leaves_the_clock_and_so_the_next_deadline_alone() {
    // Alone, a waits for initdead (4 s) before taking anything. Inputs that are refused must
    // not move its clock past that deadline: poll_timeout would stop naming it, and a driver
    // sleeping until poll_timeout would never tick it.
    let mut a = manager("a", Failback::Off, 1, ms(0));
    a.tick(ms(0));
    let _ = drain(&mut a);
    assert_eq!(a.poll_timeout(), Some(ms(4_000)));
    assert!(!a.on_verdict(ms(9_000), "z", Verdict::Up), "an unknown node");
    assert!(!a.on_restart(ms(9_000), "z"));
    assert!(a.on_outcome(ms(9_000), ResourceId(0), Command::Stop, true).is_err(), "nothing running");
    assert!(a.on_outcome(ms(9_000), ResourceId(7), Command::Start, true).is_err(), "no such resource");
    assert_eq!(a.on_announcement(ms(9_000), "z", "100000000"), Err(AnnounceError::UnknownNode));
    assert_eq!(a.on_announcement(ms(9_000), "b", "1 r0=?"), Err(AnnounceError::Malformed));
    assert_eq!(a.poll_timeout(), Some(ms(4_000)), "refusals moved the clock");
    assert!(drain(&mut a).0.is_empty());
}

#[test]
fn a_status_check_past_initdead_takes_over_as_a_tick_would() {
    // The daemon calls `check` on its status timer; if that timer fires first, past initdead,
    // the check must act on the deadline it passed rather than hide it.
    let mut a = manager("a", Failback::Off, 1, ms(0));
    a.tick(ms(0));
    let _ = drain(&mut a);
    a.check(ms(9_000));
    assert_eq!(runs(&drain(&mut a).0), [(0, Command::Start), (1, Command::Start)]);
}

#[test]
fn without_initdead_a_lone_node_takes_everything_as_it_starts() {
    // No deadline lies ahead to wake a driver that waits on poll_timeout, so the manager
    // must act when it is made.
    let mut a = ResourceManager::new("a", &NODES, &RESOURCES, Failback::Off, Duration::ZERO, 1, ms(0)).unwrap();
    assert_eq!(runs(&drain(&mut a).0), [(0, Command::Start), (1, Command::Start)]);
}

// --- random sequences for a pair ---

#[derive(Debug, Clone)]
enum Op {
    /// Node i's heartbeat (with its announcement) reaches the other node.
    Deliver(usize),
    /// Node i's oldest running command ends, successfully or not.
    Complete(usize, bool),
    /// Node i's machine dies (its resources with it); the other declares it down.
    Crash(usize),
    /// A crashed node i starts again, with a higher generation.
    Restart(usize),
    /// The link breaks: both declare the other down.
    Partition,
    /// The link is back.
    Heal,
    /// Time passes.
    Advance(u64),
    /// Node i checks its resources' status.
    Check(usize),
    /// Node i leaves.
    Leave(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize).prop_map(Op::Deliver),
        4 => (0..2usize, prop::bool::weighted(0.85)).prop_map(|(i, ok)| Op::Complete(i, ok)),
        1 => (0..2usize).prop_map(Op::Crash),
        1 => (0..2usize).prop_map(Op::Restart),
        1 => Just(Op::Partition),
        1 => Just(Op::Heal),
        2 => (1..6_000u64).prop_map(Op::Advance),
        1 => (0..2usize).prop_map(Op::Check),
        1 => (0..2usize).prop_map(Op::Leave),
    ]
}

struct Machine {
    m: Option<ResourceManager>,
    generation: u32,
    running: Vec<(ResourceId, Command)>,
    /// Whether the resource is really acquired on this machine.
    holds: [bool; 2],
}

struct World {
    nodes: [Machine; 2],
    link: bool,
    now: Instant,
    failback: Failback,
}

impl World {
    fn new(failback: Failback) -> Self {
        let mk = |i: usize| Machine {
            m: Some(manager(NODES[i], failback, 1, Instant::ZERO)),
            generation: 1,
            running: Vec::new(),
            holds: [false; 2],
        };
        World { nodes: [mk(0), mk(1)], link: true, now: Instant::ZERO, failback }
    }

    fn alive(&self, i: usize) -> bool {
        self.nodes[i].m.is_some()
    }

    /// Drains node i's outputs; a `Leave` makes it gone (the other hears the goodbye if linked).
    fn drain(&mut self, i: usize) {
        let Some(m) = self.nodes[i].m.as_mut() else { return };
        let mut left = false;
        while let Some(o) = m.poll_output() {
            match o {
                Output::Run { resource, command, .. } => {
                    assert!(
                        !self.nodes[i].running.iter().any(|(r, _)| *r == resource),
                        "two commands at once for one resource"
                    );
                    self.nodes[i].running.push((resource, command));
                }
                Output::Announce => {}
                Output::Leave => left = true,
            }
        }
        while m.poll_event().is_some() {}
        if left {
            self.nodes[i].m = None;
            self.nodes[i].running.clear();
            let (other, now, link) = (1 - i, self.now, self.link);
            if let Some(o) = self.nodes[other].m.as_mut() {
                o.on_verdict(now, NODES[i], if link { Verdict::Left } else { Verdict::Down });
            }
            self.drain(other);
        }
    }

    fn apply(&mut self, op: &Op) {
        let now = self.now;
        match *op {
            Op::Deliver(i) => {
                let j = 1 - i;
                if self.link && self.alive(i) && self.alive(j) {
                    let text = self.nodes[i].m.as_ref().unwrap().announcement().to_string();
                    let to = self.nodes[j].m.as_mut().unwrap();
                    to.on_verdict(now, NODES[i], Verdict::Up);
                    to.on_announcement(now, NODES[i], &text).unwrap();
                    self.drain(j);
                }
            }
            Op::Complete(i, ok) => {
                if self.alive(i) && !self.nodes[i].running.is_empty() {
                    let (r, c) = self.nodes[i].running.remove(0);
                    match (c, ok) {
                        (Command::Start, true) => self.nodes[i].holds[r.0] = true,
                        (Command::Stop, true) => self.nodes[i].holds[r.0] = false,
                        _ => {}
                    }
                    self.nodes[i].m.as_mut().unwrap().on_outcome(now, r, c, ok).unwrap();
                    self.drain(i);
                }
            }
            Op::Crash(i) => {
                if self.alive(i) {
                    let n = &mut self.nodes[i];
                    n.m = None;
                    n.running.clear();
                    n.holds = [false; 2];
                    if let Some(o) = self.nodes[1 - i].m.as_mut() {
                        o.on_verdict(now, NODES[i], Verdict::Down);
                    }
                    self.drain(1 - i);
                }
            }
            Op::Restart(i) => {
                if !self.alive(i) && self.nodes[i].holds == [false; 2] {
                    let n = &mut self.nodes[i];
                    n.generation += 1;
                    n.m = Some(manager(NODES[i], self.failback, n.generation, now));
                    self.drain(i);
                }
            }
            Op::Partition => {
                if self.link {
                    self.link = false;
                    for i in 0..2 {
                        if let Some(m) = self.nodes[i].m.as_mut() {
                            m.on_verdict(now, NODES[1 - i], Verdict::Down);
                        }
                        self.drain(i);
                    }
                }
            }
            Op::Heal => self.link = true,
            Op::Advance(d) => {
                self.now = now + Duration::from_millis(d);
                for i in 0..2 {
                    if let Some(m) = self.nodes[i].m.as_mut() {
                        m.tick(self.now);
                    }
                    self.drain(i);
                }
            }
            Op::Check(i) => {
                if let Some(m) = self.nodes[i].m.as_mut() {
                    m.check(now);
                    self.drain(i);
                }
            }
            Op::Leave(i) => {
                if let Some(m) = self.nodes[i].m.as_mut() {
                    m.leave(now);
                    self.drain(i);
                }
            }
        }
    }

    /// Heals the link, lets every command succeed and every announcement arrive, and lets
    /// initdead pass, until nothing changes.
    fn settle(&mut self) {
        self.link = true;
        for _ in 0..200 {
            let before = self.snapshot();
            for i in 0..2 {
                while self.alive(i) && !self.nodes[i].running.is_empty() {
                    self.apply(&Op::Complete(i, true));
                }
            }
            self.apply(&Op::Deliver(0));
            self.apply(&Op::Deliver(1));
            self.apply(&Op::Advance(INITDEAD.as_millis() as u64 + 1));
            if self.snapshot() == before && self.nodes.iter().all(|n| n.running.is_empty()) {
                return;
            }
        }
        panic!("did not settle");
    }

    fn snapshot(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| n.m.as_ref().map_or("gone".into(), |m| format!("{} {:?}", m.announcement(), n.holds)))
            .collect()
    }

    fn stuck(&self, r: usize) -> bool {
        // A failed stop: still held by a live node, or by one that left after it.
        self.nodes.iter().any(|n| match &n.m {
            Some(m) => m.local(ResourceId(r)) == Some(Local::Stuck),
            None => n.holds[r],
        })
    }

    fn check_invariants(&self) {
        for r in 0..2 {
            // After a failed stop nobody can tell who holds it: reported, and exempt here.
            if self.stuck(r) {
                continue;
            }
            let holders = (0..2).filter(|&i| self.nodes[i].holds[r]).count();
            assert!(holders <= 1, "two holders of r{r}: {:?}", self.snapshot());
            let can_hold = (0..2).any(|i| {
                self.nodes[i]
                    .m
                    .as_ref()
                    .is_some_and(|m| !m.is_leaving() && !matches!(m.local(ResourceId(r)), Some(Local::Failed)))
            });
            if can_hold {
                assert!(holders >= 1, "r{r} lost while a node could hold it: {:?}", self.snapshot());
            }
            // What the managers believe matches what the machines hold.
            for i in 0..2 {
                if let Some(m) = self.nodes[i].m.as_ref() {
                    assert_eq!(m.claim(i, ResourceId(r)).holds(), self.nodes[i].holds[r], "{:?}", self.snapshot());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn one_holder_after_settling_and_nothing_lost(
        on in any::<bool>(),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut world = World::new(if on { Failback::On } else { Failback::Off });
        for i in 0..2 {
            world.drain(i);
        }
        for op in &ops {
            world.apply(op);
        }
        world.settle();
        world.check_invariants();
        if world.failback == Failback::On {
            // Every resource ends on its preferred node when that node is live and can hold it.
            for (r, (_, preferred)) in RESOURCES.iter().enumerate() {
                let p = NODES.iter().position(|n| n == preferred).unwrap();
                if world.nodes[p].m.as_ref().is_some_and(|m| !m.is_leaving() && m.local(ResourceId(r)) != Some(Local::Failed)) && !world.stuck(r) {
                    prop_assert!(world.nodes[p].holds[r], "r{} not back on {}: {:?}", r, preferred, world.snapshot());
                }
            }
        }
    }
}
