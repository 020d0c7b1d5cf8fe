//! The lab end to end, on traces short enough for a debug build.

use core::time::Duration;
use std::sync::OnceLock;

use heartbeat_proto::{Adaptive, Chen, FixedTimeout};
use heartbeat_qos::contender::{Contender, Lab};
use heartbeat_qos::generate::generate;
use heartbeat_qos::replay::{inject_crash, replay};
use heartbeat_qos::report::{Report, Settings};
use heartbeat_qos::scenario::{Scenario, suite};
use heartbeat_qos::suite::{Plan, ScenarioResult, Source, run};
use heartbeat_qos::tune::Reach;
use heartbeat_qos::{QosArgs, seeds};

fn scenario(name: &str) -> Scenario {
    suite().into_iter().find(|s| s.name == name).expect("scenario")
}

const PLAN: Plan = Plan { targets: Vec::new(), sweep_points: 4, bisect_steps: 2, warmup: 1 << 10 };

fn plan() -> Plan {
    Plan { targets: vec![10.0], ..PLAN }
}

/// Two short scenarios, one with receiver stalls, from `seed`.
fn sources(seed: u64) -> Vec<Source> {
    ["lan", "receiver-stalls"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let s = scenario(name);
            let (a, b) = seeds(seed, i);
            Source {
                name: s.name.into(),
                about: s.about.into(),
                a: generate(&s, 2.0, a).unwrap(),
                b: generate(&s, 2.0, b).unwrap(),
            }
        })
        .collect()
}

/// The suite's results on [`sources`]`(3)`, computed once for the tests that inspect them.
fn seed_3() -> &'static (Vec<Source>, Vec<ScenarioResult>) {
    static RUN: OnceLock<(Vec<Source>, Vec<ScenarioResult>)> = OnceLock::new();
    RUN.get_or_init(|| (sources(3), run(sources(3), &plan(), &|| {}).unwrap()))
}

fn markdown(seed: u64, results: Vec<ScenarioResult>) -> String {
    let settings =
        Settings { traces: format!("seed {seed}"), lab: "test".into(), plan: "test".into(), recorded: false };
    Report { settings, results }.markdown()
}

/// The rows of the measurement tables: every table but the one describing the traces.
fn measurements(markdown: &str) -> Vec<&str> {
    let mut section = "";
    let mut rows = Vec::new();
    for line in markdown.lines() {
        if line.starts_with("## ") {
            section = line;
        } else if line.starts_with('|') && section != "## Scenarios" {
            rows.push(line);
        }
    }
    rows
}

#[test]
fn the_same_seed_gives_the_same_tables() {
    let first = markdown(3, seed_3().1.clone());
    assert_eq!(first, markdown(3, run(sources(3), &plan(), &|| {}).unwrap()));
    let other = markdown(4, run(sources(4), &plan(), &|| {}).unwrap());
    let (ours, theirs) = (measurements(&first), measurements(&other));
    assert!(ours.len() > 20, "{ours:?}");
    assert_eq!(ours.len(), theirs.len());
    assert_ne!(ours, theirs, "another seed, other traces: other measurements");
    // The tables are there, with every detector and the guard.
    for needle in ["## lan", "## receiver-stalls", "φ Cassandra", "adaptive, declared target", "## Local-stall guard"]
    {
        assert!(first.contains(needle), "missing {needle:?}");
    }
}

/// The lab's settings for `source`, as the suite uses them.
fn lab(source: &Source) -> Lab {
    Lab::new(source.a.interval, plan().warmup)
}

#[test]
fn each_setting_is_tuned_on_a_and_tested_on_b() {
    let (sources, results) = seed_3();
    for (s, r) in sources.iter().zip(results) {
        let (order_a, order_b, lab) = (s.a.arrival_order(), s.b.arrival_order(), lab(s));
        assert_eq!(r.contenders.len(), Contender::ALL.len());
        for c in &r.contenders {
            assert_eq!(c.targets.len(), 1);
            for t in &c.targets {
                let knob = t.tuned.point.knob;
                let on_a = c.contender.run(knob, &s.a, &order_a, &lab).unwrap();
                let on_b = c.contender.run(knob, &s.b, &order_b, &lab).unwrap();
                let name = format!("{} {}", r.name, c.contender.name());
                assert_eq!(t.tuned.point.quality, on_a, "{name}: the tuned point is measured on A");
                assert_eq!(t.test, on_b, "{name}: the test column is a replay of B at the tuned knob");
                assert_ne!(on_a, on_b, "{name}: A and B are different traces");
            }
            for d in &c.declared {
                assert_eq!(d.on_a, Contender::Adaptive.run(d.target, &s.a, &order_a, &lab).unwrap());
                assert_eq!(d.on_b, Contender::Adaptive.run(d.target, &s.b, &order_b, &lab).unwrap());
            }
        }
        for (target, h) in &r.hindsight {
            let on_b = Contender::Fixed.run(h.point.knob, &s.b, &order_b, &lab).unwrap();
            let on_a = Contender::Fixed.run(h.point.knob, &s.a, &order_a, &lab).unwrap();
            assert_eq!(h.point.quality, on_b, "{}: the hindsight-best timeout is found on B", r.name);
            assert_ne!(on_a, on_b);
            assert!(h.point.quality.meets(*target) || h.reach == Reach::Unreachable);
        }
    }
}

#[test]
fn each_tuned_knob_is_the_most_aggressive_meeting_its_target_on_a() {
    let (_, results) = seed_3();
    for r in results {
        for c in &r.contenders {
            let curve = &c.curve;
            for t in &c.targets {
                let (knob, name) = (t.tuned.point.knob, format!("{} {}", r.name, c.contender.name()));
                let last_fail = curve.iter().rposition(|p| !p.quality.meets(t.target));
                match (t.tuned.reach, last_fail) {
                    (Reach::AggressiveEnd, None) => assert_eq!(t.tuned.point, curve[0], "{name}"),
                    (Reach::Unreachable, Some(f)) => {
                        assert_eq!(f, curve.len() - 1, "{name}");
                        assert_eq!(t.tuned.point, curve[f], "{name}");
                    }
                    (Reach::Boundary, Some(f)) => {
                        // Strictly between the last failing sweep point and the next one.
                        let (fail, pass) = (curve[f].knob, curve[f + 1].knob);
                        assert!((knob / fail).ln() * (pass / knob).ln() >= 0.0 && knob != fail, "{name}: {knob}");
                        assert!(t.tuned.point.quality.meets(t.target), "{name}: {:?}", t.tuned);
                    }
                    other => panic!("{name}: {other:?} for {:?}", t.tuned),
                }
            }
        }
    }
}

#[test]
fn the_guard_rows_are_what_they_say() {
    let (sources, results) = seed_3();
    let (s, r) = sources.iter().zip(results).find(|(s, _)| !s.b.receiver_stalls.is_empty()).unwrap();
    let (order_b, lab) = (s.b.arrival_order(), lab(s));
    let mut rows = 0;
    for c in &r.contenders {
        for g in &c.guard {
            let replay = |lab: &Lab| c.contender.run(g.knob, &s.b, &order_b, lab).unwrap();
            let name = c.contender.name();
            assert_eq!(g.guarded, replay(&lab), "{name}: guard on");
            assert_eq!(g.unguarded, replay(&Lab { local_pause: None, ..lab }), "{name}: guard off");
            assert_eq!(g.no_stalls, replay(&Lab { receiver_stalls: false, ..lab }), "{name}: no stalls");
            assert_ne!(g.no_stalls, g.guarded, "{name}: the stalls change the replay");
            assert_eq!(g.no_stalls.stall_suspects + g.no_stalls.stall_mistakes, 0);
            rows += 1;
        }
    }
    // Every detector at its tuned knob, and the adaptive one also at its declared target.
    assert_eq!(rows, Contender::ALL.len() + 1);
    assert!(results.iter().filter(|r| r.name == "lan").all(|r| r.contenders.iter().all(|c| c.guard.is_empty())));
}

#[test]
fn the_detection_time_shortcut_agrees_with_crash_injection() {
    let trace = generate(&scenario("wan-spikes"), 1.0, 11).unwrap();
    let lab = Lab::new(trace.interval, 1 << 9);
    let setup = lab.setup();
    let warm_end = trace.start() + (trace.interval * (1 << 9)).as_nanos() as u64;
    let first = trace.records.iter().position(|r| r.sent >= warm_end).unwrap();
    for (name, shortcut, injected) in [
        (
            "adaptive",
            replay(&trace, Adaptive::with_target(1.0), &setup).unwrap().detection_us,
            Box::new(|k| inject_crash(&trace, Adaptive::with_target(1.0), &setup, k).unwrap())
                as Box<dyn Fn(usize) -> Option<Duration>>,
        ),
        (
            "chen",
            replay(&trace, Chen::<1000>::new(Duration::from_millis(300)), &setup).unwrap().detection_us,
            Box::new(|k| inject_crash(&trace, Chen::<1000>::new(Duration::from_millis(300)), &setup, k).unwrap()),
        ),
    ] {
        for k in [first + 3, first + 700, first + 2000, trace.records.len() - 10] {
            let real = injected(k).expect("declared down").as_micros() as i64;
            let quick = i64::from(shortcut[k - first]);
            assert!((real - quick).abs() <= 1, "{name}, crash after send {k}: injected {real} µs, shortcut {quick} µs");
        }
    }
}

#[test]
fn the_guard_removes_convictions_on_the_receivers_own_stalls() {
    use heartbeat_qos::replay::Setup;
    let trace = generate(&scenario("receiver-stalls"), 6.0, 5).unwrap();
    let lab = Lab::new(trace.interval, 1 << 10);
    // A tight fixed timeout, so that many stalls cover a deadline.
    let setup = Setup { requested: trace.interval * 11 / 10, ..lab.setup() };
    let on = replay(&trace, FixedTimeout::new(), &setup).unwrap();
    let off = replay(&trace, FixedTimeout::new(), &Setup { local_pause: None, ..setup }).unwrap();
    let counts = |o: &heartbeat_qos::replay::Outcome| (o.stall_mistakes, o.mistakes);
    assert!(off.stall_mistakes >= 5, "without the guard, stalls convict: {:?}", counts(&off));
    assert!(on.stall_mistakes * 10 <= off.stall_mistakes, "{:?} vs {:?}", counts(&on), counts(&off));
    assert!(on.mistakes < off.mistakes);
}

#[test]
fn run_writes_the_report_and_a_plot_per_scenario() {
    let out = std::env::temp_dir().join(format!("heartbeat-qos-test-{}", std::process::id()));
    let args = QosArgs {
        quick: true,
        hours: Some(2.0),
        scenarios: vec!["lan".into()],
        no_progress: true,
        no_timing: true,
        ..QosArgs::new(&out)
    };
    let summary = heartbeat_qos::run(&args).unwrap();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert_eq!(report, summary.report);
    assert!(report.contains("## lan") && report.contains("## Goals"));
    let svg = std::fs::read_to_string(out.join("lan.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("fixed timeout"));
    assert_eq!(summary.goals.len(), 5);
    // One scenario of seven: nothing to say about "every scenario" or WAN spikes.
    let met: Vec<_> = summary.goals.iter().take(3).map(|g| g.met).collect();
    assert_eq!(met, [None, None, None], "{:?}", summary.goals);
    let wrong = QosArgs { scenarios: vec!["nope".into()], ..args };
    assert!(heartbeat_qos::run(&wrong).is_err());
    std::fs::remove_dir_all(&out).unwrap();
}
