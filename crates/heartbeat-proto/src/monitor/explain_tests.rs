//! Explained verdicts (`ConfigBuilder::explain_verdicts`): every `Suspect` and `Down` comes
//! right after its evidence, and the evidence says what the monitor knew.

use core::time::Duration;
use std::vec::Vec;

use proptest::prelude::*;

use crate::detector::Chen;
use crate::wire::Kind;
use crate::{
    Authentication, ClusterId, Config, DeadlineSource, Event, EventKind, Evidence, FixedTimeout, Generation, Growable,
    Instant, LinkId, MAX_FRAME_LEN, Message, Monitor, NodeId, Verdict,
};

const CLUSTER: ClusterId = ClusterId(7);

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// A monitor of peer 2 (600 ms timeout, suspect at 300 ms) on `links` links.
fn monitor<D: crate::Detector>(detector: D, explain: bool, links: u8, pause: Option<Duration>) -> Monitor<D, Growable> {
    let config = Config::builder(CLUSTER, id(1))
        .authentication(Authentication::None)
        .tick(Duration::from_millis(100))
        .links(links)
        .local_pause(pause)
        .explain_verdicts(explain)
        .build()
        .unwrap();
    let mut m = Monitor::new(config, detector, Instant::ZERO);
    m.add_peer(id(2)).unwrap();
    m
}

fn arrive<D: crate::Detector>(m: &mut Monitor<D, Growable>, now: Instant, sequence: u64, link: u8) {
    let msg = Message {
        kind: Kind::Heartbeat,
        cluster: CLUSTER,
        sender: id(2),
        receiver: Some(id(1)),
        generation: Generation(1),
        sequence,
        timestamp: now,
        echo: None,
        interval: Duration::from_millis(100),
        requested_timeout: Duration::from_millis(600),
        applied_timeout: None,
        hears_you: false,
        auth: None,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = msg.encode(&mut buf).unwrap();
    let _ = m.on_message(now, LinkId(link), &buf[..len]);
}

fn drain<D: crate::Detector>(m: &mut Monitor<D, Growable>) -> Vec<Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn evidence(events: &[Event]) -> Vec<Evidence> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Explained(evidence) => Some(evidence),
            _ => None,
        })
        .collect()
}

#[test]
fn without_the_option_nothing_changes() {
    let mut m = monitor(FixedTimeout::new(), false, 1, None);
    arrive(&mut m, ms(1000), 1, 0);
    m.tick(ms(5000));
    let events = drain(&mut m);
    assert!(evidence(&events).is_empty(), "{events:?}");
    assert!(matches!(events.last().unwrap().kind, EventKind::Down { .. }));
}

#[test]
fn each_verdict_follows_its_evidence_with_the_negotiated_deadline() {
    let mut m = monitor(FixedTimeout::new(), true, 1, None);
    for (seq, at) in (1..=5).zip([1000, 1100, 1200, 1300, 1400]) {
        arrive(&mut m, ms(at), seq, 0);
    }
    drain(&mut m);
    m.tick(ms(1700));
    let events = drain(&mut m);
    assert_eq!(events.len(), 2, "{events:?}");
    let EventKind::Explained(e) = events[0].kind else { panic!("{events:?}") };
    assert!(matches!(events[1].kind, EventKind::Suspect { .. }));
    assert_eq!((events[0].at, events[0].peer), (events[1].at, events[1].peer));
    assert_eq!(e.verdict(), Verdict::Suspect);
    assert_eq!(e.deadline(), ms(1700));
    assert_eq!(e.last_heard(), Some(ms(1400)));
    assert_eq!(e.source(), DeadlineSource::Negotiated);
    assert_eq!(e.down_after(), Some(Duration::from_millis(600)));
    assert_eq!(e.negotiated_timeout(), Duration::from_millis(600));
    assert_eq!(e.interval(), Duration::from_millis(100));
    assert!((e.suspicion() - 0.5).abs() < 1e-6, "{}", e.suspicion());
    assert_eq!(e.loss_ratio(), 0.0);
    assert_eq!(e.link_silence(0), Some(Duration::from_millis(300)));
    assert_eq!(e.link_silence(1), None);
    assert!(!e.held_by_stall_guard());
    m.tick(ms(2000));
    let events = drain(&mut m);
    let EventKind::Explained(e) = events[0].kind else { panic!("{events:?}") };
    assert!(matches!(events[1].kind, EventKind::Down { deadline, .. } if deadline == ms(2000)));
    assert_eq!((e.verdict(), e.deadline()), (Verdict::Down, ms(2000)));
    assert!((e.suspicion() - 1.0).abs() < 1e-6);
}

#[test]
fn a_peer_never_heard_is_down_on_the_startup_deadline() {
    let mut m = monitor(FixedTimeout::new(), true, 1, None);
    m.tick(ms(60_000));
    let events = drain(&mut m);
    let EventKind::Explained(e) = events[0].kind else { panic!("{events:?}") };
    assert_eq!((e.verdict(), e.source(), e.last_heard()), (Verdict::Down, DeadlineSource::Startup, None));
    assert_eq!(e.down_after(), Some(m.config().initdead()));
    assert_eq!(e.link_silence(0), None);
}

#[test]
fn an_estimating_detector_reports_its_estimate_and_lost_heartbeats() {
    let mut m = monitor(Chen::<16>::new(Duration::from_millis(150)), true, 1, None);
    let mut seq = 0;
    for k in 0..40u64 {
        seq += if k % 10 == 9 { 2 } else { 1 };
        arrive(&mut m, ms(1000 + 100 * k), seq, 0);
    }
    drain(&mut m);
    m.tick(ms(10_000));
    let events = drain(&mut m);
    let e = evidence(&events)[0];
    assert_eq!(e.source(), DeadlineSource::Estimated);
    // The next arrival was expected about 100 ms after the last, plus α = 150 ms: above the
    // 200 ms floor (2 ticks), so the estimate itself applied.
    let after = e.down_after().unwrap();
    assert!(after > Duration::from_millis(220) && after < Duration::from_millis(300), "{after:?}");
    assert!(e.loss_ratio() > 0.05, "{}", e.loss_ratio());
}

#[test]
fn an_estimate_below_the_floor_says_so() {
    let mut m = monitor(Chen::<16>::new(Duration::from_millis(10)), true, 1, None);
    for k in 0..40u64 {
        arrive(&mut m, ms(1000 + 100 * k), k + 1, 0);
    }
    drain(&mut m);
    m.tick(ms(10_000));
    let e = evidence(&drain(&mut m))[0];
    assert_eq!((e.source(), e.down_after()), (DeadlineSource::Floor, Some(Duration::from_millis(200))));
}

#[test]
fn the_stall_guard_says_it_held_the_verdict() {
    let mut m = monitor(FixedTimeout::new(), true, 1, Some(Duration::from_millis(10)));
    arrive(&mut m, ms(1000), 1, 0);
    drain(&mut m);
    m.tick(ms(5000));
    assert!(drain(&mut m).is_empty());
    m.tick(ms(5010));
    let events = drain(&mut m);
    let e = evidence(&events)[0];
    assert_eq!(e.verdict(), Verdict::Down);
    assert!(e.held_by_stall_guard(), "{e:?}");
}

#[test]
fn each_link_has_its_own_silence() {
    let mut m = monitor(FixedTimeout::new(), true, 3, None);
    arrive(&mut m, ms(1000), 1, 0);
    arrive(&mut m, ms(1000), 1, 1);
    arrive(&mut m, ms(1200), 2, 0);
    drain(&mut m);
    m.tick(ms(1500));
    let events = drain(&mut m);
    let e = evidence(&events)[0];
    assert_eq!(e.verdict(), Verdict::Suspect);
    assert_eq!(e.links(), 3);
    assert_eq!(e.link_silence(0), Some(Duration::from_millis(300)));
    assert_eq!(e.link_silence(1), Some(Duration::from_millis(500)));
    assert_eq!(e.link_silence(2), None, "link 2 never delivered");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the arrivals and ticks, every `Suspect` and `Down` comes right after an
    /// `Explained` of the same peer, instant and verdict, and nothing else is explained.
    #[test]
    fn every_verdict_is_explained_and_only_verdicts(steps in proptest::collection::vec((0u64..900, any::<bool>(), 0u8..2), 1..80)) {
        let mut m = monitor(FixedTimeout::new(), true, 2, Some(Duration::from_millis(10)));
        let (mut now, mut seq) = (0u64, 0u64);
        let mut events = Vec::new();
        for (dt, heartbeat, link) in steps {
            now += dt;
            if heartbeat {
                seq += 1;
                arrive(&mut m, ms(now), seq, link);
            }
            m.tick(ms(now));
            events.extend(drain(&mut m));
        }
        for (i, e) in events.iter().enumerate() {
            let want = match e.kind {
                EventKind::Suspect { .. } => Some(Verdict::Suspect),
                EventKind::Down { .. } => Some(Verdict::Down),
                _ => None,
            };
            if let Some(want) = want {
                let before = i.checked_sub(1).map(|j| events[j]);
                let explained = before.and_then(|b| match b.kind {
                    EventKind::Explained(ev) if b.at == e.at && b.peer == e.peer => Some(ev.verdict()),
                    _ => None,
                });
                prop_assert_eq!(explained, Some(want), "{:?}", events);
            }
            if let EventKind::Explained(_) = e.kind {
                let next = events.get(i + 1).map(|n| n.kind);
                prop_assert!(matches!(next, Some(EventKind::Suspect { .. } | EventKind::Down { .. })), "{:?}", events);
            }
        }
    }
}

/// The evidence travels inside every queued event: keep it within a cache line or two.
#[test]
fn an_event_stays_small() {
    let size = core::mem::size_of::<Event>();
    std::println!("size_of::<Event>() = {size}, size_of::<Evidence>() = {}", core::mem::size_of::<Evidence>());
    assert!(size <= 104, "{size}");
}
