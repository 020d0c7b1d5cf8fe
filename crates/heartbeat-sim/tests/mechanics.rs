//! The simulator's own mechanics: each impairment, action and hook does what it says, as seen
//! in the timeline. (Protocol scenarios live in the workspace's root `tests/`.)

use std::time::Duration;

use heartbeat_proto::{
    Accepted, Authentication, ClusterId, EventKind, FixedTimeout, Growable, Instant, LinkId, Node, NodeId, Rejected,
};
use heartbeat_sim::{
    Action, Cut, DropReason, FrameInfo, Impairments, Injector, Interceptor, Loss, Recording, Sim, SimBuilder, SimError,
    Verdict, What, node_factory,
};

type TestNode = Node<FixedTimeout, Growable>;

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// Timeout 600 ms, interval 200 ms (150–200 ms with jitter).
fn builder(seed: u64, n: u64) -> SimBuilder {
    SimBuilder::new(seed).cluster_of(n)
}

fn build(b: SimBuilder) -> Sim<TestNode> {
    let factory = node_factory::<_, Growable>(ClusterId(9), FixedTimeout::new(), |_, b| {
        b.authentication(Authentication::None)
            .tick(Duration::from_millis(100))
            .timeout(Duration::from_millis(600))
            .interval(Duration::from_millis(200))
    })
    .unwrap();
    b.build(factory)
}

fn drops(sim: &Sim<TestNode>, reason: DropReason) -> usize {
    sim.timeline().entries().iter().filter(|e| matches!(e.what, What::Dropped { reason: r, .. } if r == reason)).count()
}

#[test]
fn every_sent_copy_is_delivered_or_dropped_exactly_once() {
    let link = Impairments::perfect().delay(Duration::from_millis(3)).loss(Loss::Random(0.1));
    let mut sim = build(builder(1, 4).default_link(link));
    sim.schedule(Instant::from_secs(5), Action::Crash(id(4)));
    sim.run_until(Instant::from_secs(10)).unwrap();
    let s = *sim.stats();
    assert!(s.sent > 500, "{s:?}");
    // Frames still in flight at the end are the only ones unaccounted for (at most one round).
    let accounted = s.delivered + s.lost + s.receiver_down + s.partitioned + s.intercepted;
    assert!(accounted <= s.sent && s.sent - accounted <= 12, "{s:?}");
    assert_eq!(s.delivered, s.accepted + s.rejected);
    assert!(s.lost > 0 && s.receiver_down > 0);
    assert_eq!(drops(&sim, DropReason::Lost) as u64, s.lost);
}

#[test]
fn delay_is_applied_exactly() {
    let mut sim = build(builder(2, 3).default_link(Impairments::perfect().delay(Duration::from_millis(7))));
    sim.run_until(Instant::from_secs(2)).unwrap();
    let entries = sim.timeline().entries();
    let mut checked = 0;
    for e in entries {
        if let What::Delivered { frame, .. } = e.what {
            let sent = entries.iter().find(|s| matches!(s.what, What::Sent { frame: f, .. } if f == frame)).unwrap();
            assert_eq!(e.at - sent.at, Duration::from_millis(7));
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} deliveries to check");
}

#[test]
fn duplicates_reach_the_receiver_and_are_rejected_there() {
    let mut sim = build(builder(3, 3).default_link(Impairments::perfect().duplicate(0.5)));
    sim.run_until(Instant::from_secs(5)).unwrap();
    let s = *sim.stats();
    assert!(s.duplicated > 20, "{s:?}");
    let rejected_dups = sim
        .timeline()
        .entries()
        .iter()
        .filter(|e| matches!(e.what, What::Delivered { outcome: Err(Rejected::Duplicate { .. }), .. }))
        .count() as u64;
    assert_eq!(rejected_dups, s.duplicated, "every second copy is a duplicate");
    assert_eq!(sim.timeline().downs(), 0);
}

#[test]
fn reordering_yields_late_frames() {
    let link = Impairments::perfect().delay(Duration::from_millis(1)).reorder(0.2, Duration::from_millis(250));
    let mut sim = build(builder(4, 3).default_link(link));
    sim.run_until(Instant::from_secs(10)).unwrap();
    let late = sim
        .timeline()
        .entries()
        .iter()
        .filter(|e| matches!(e.what, What::Delivered { outcome: Ok(Accepted::Late), .. }))
        .count();
    assert!(late > 10, "{late}");
}

#[test]
fn a_partition_drops_across_the_cut_only_and_heals() {
    let mut sim = build(builder(5, 4));
    let cut = Cut::between([id(1), id(2)], [id(3), id(4)]);
    sim.schedule(Instant::from_secs(1), Action::Partition(cut.clone()));
    sim.schedule(Instant::from_secs(3), Action::Heal(cut));
    sim.run_until(Instant::from_secs(5)).unwrap();
    let entries = sim.timeline().entries();
    let across = |from: Option<NodeId>, to: NodeId| {
        let side = |n: NodeId| n.get() <= 2;
        from.is_some_and(|f| side(f) != side(to))
    };
    for e in entries {
        match e.what {
            What::Dropped { from, to, reason: DropReason::Partitioned, .. } => {
                assert!(across(from, to));
                assert!(e.at >= Instant::from_secs(1) && e.at < Instant::from_secs(3));
            }
            What::Delivered { from, to, .. } if across(from, to) => {
                assert!(e.at < Instant::from_secs(1) || e.at >= Instant::from_secs(3));
            }
            _ => {}
        }
    }
    assert!(drops(&sim, DropReason::Partitioned) > 20);
}

#[test]
fn restart_bumps_the_generation_and_pause_keeps_it() {
    let mut sim = build(builder(6, 3));
    sim.schedule(Instant::from_secs(1), Action::Restart(id(2)));
    sim.schedule(Instant::from_secs(2), Action::Pause(id(3)));
    sim.schedule(Instant::from_secs(4), Action::Resume(id(3)));
    sim.run_until(Instant::from_millis(1500)).unwrap();
    assert_eq!(sim.generation(id(2)).unwrap().0, 2);
    sim.run_until(Instant::from_secs(3)).unwrap();
    assert!(!sim.is_running(id(3)) && sim.endpoint(id(3)).is_some(), "paused: state kept");
    sim.run_until(Instant::from_secs(6)).unwrap();
    assert_eq!(sim.generation(id(3)).unwrap().0, 1);
    let paused_node = sim.endpoint(id(3)).unwrap();
    // While frozen it saw nobody; on resume it caught up: node 1 went down and came back.
    let about_1: Vec<_> = sim.timeline().events_about(id(3), id(1)).map(|e| e.kind).collect();
    assert!(matches!(about_1[..], [EventKind::Up { .. }, EventKind::Down { .. }, EventKind::Up { .. }]), "{about_1:?}");
    assert_eq!(paused_node.peer(id(1)).unwrap().liveness, heartbeat_proto::Liveness::Up);
}

/// Drops everything node 1 sends on delivery, and replays each of node 2's frames to node 3
/// one second later.
struct Meddler;

impl Interceptor for Meddler {
    fn on_send(&mut self, info: &FrameInfo, bytes: &mut Vec<u8>, injector: &mut Injector) -> Verdict {
        if info.from == Some(id(2)) && info.to == id(3) {
            injector.inject(info.now + Duration::from_secs(1), info.to, info.link, bytes.clone());
        }
        Verdict::Pass
    }

    fn on_deliver(&mut self, info: &FrameInfo, _bytes: &mut Vec<u8>, _injector: &mut Injector) -> Verdict {
        if info.from == Some(id(1)) { Verdict::Drop } else { Verdict::Pass }
    }
}

#[test]
fn the_interceptor_drops_and_injects() {
    let mut sim = build(builder(7, 3).interceptor(Meddler));
    sim.run_until(Instant::from_secs(5)).unwrap();
    assert!(sim.stats().intercepted > 0);
    assert!(sim.stats().injected > 0);
    let replays_rejected = sim
        .timeline()
        .entries()
        .iter()
        .filter(|e| matches!(e.what, What::Delivered { from: None, outcome: Err(Rejected::Duplicate { .. }), .. }))
        .count() as u64;
    // Injections scheduled after the end are still pending; every one delivered was refused.
    assert!(replays_rejected > 0 && replays_rejected <= sim.stats().injected);
    for observer in [id(2), id(3)] {
        let kinds: Vec<_> = sim.timeline().events_about(observer, id(1)).map(|e| e.kind).collect();
        assert!(matches!(kinds[..], [EventKind::Down { last_heard: None, .. }]), "{kinds:?}");
    }
    let node3: &TestNode = sim.endpoint(id(3)).unwrap();
    assert_eq!(node3.peer(id(2)).unwrap().liveness, heartbeat_proto::Liveness::Up);
}

#[test]
fn events_only_recording_keeps_counters_but_no_frames() {
    let mut sim = build(builder(8, 3).recording(Recording::EventsAndActions));
    sim.schedule(Instant::from_secs(1), Action::Crash(id(3)));
    sim.run_until(Instant::from_secs(3)).unwrap();
    assert!(sim.stats().sent > 0);
    assert!(sim.timeline().entries().iter().all(|e| matches!(e.what, What::Event { .. } | What::Action(_))));
    assert_eq!(sim.timeline().downs(), 2);
}

/// An endpoint that never lets time pass: always asks for a tick now.
struct Spinner;

impl heartbeat_sim::Endpoint for Spinner {
    fn tick(&mut self, _now: Instant) {}
    fn on_message(&mut self, _: Instant, _: LinkId, _: &[u8]) -> Result<Accepted, Rejected> {
        Ok(Accepted::Late)
    }
    fn poll_transmit(
        &mut self,
        _: &mut [u8],
    ) -> Option<Result<heartbeat_proto::Transmit, heartbeat_proto::BufferTooSmall>> {
        None
    }
    fn poll_event(&mut self) -> Option<heartbeat_proto::Event> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::ZERO)
    }
    fn leave(&mut self, _: Instant) {}
}

#[test]
fn a_busy_loop_is_reported_not_spun() {
    let mut sim = SimBuilder::new(0).cluster_of(2).build(Box::new(|_: &heartbeat_sim::NodeSpec<'_>| Spinner));
    let err = sim.run_until(Instant::from_secs(1)).unwrap_err();
    assert!(matches!(err, SimError::DeadlineNotAdvanced { now: Instant::ZERO, deadline: Instant::ZERO, .. }));
}
