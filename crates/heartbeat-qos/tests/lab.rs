//! The lab end to end, on traces short enough for a debug build.

use core::time::Duration;

use heartbeat_proto::{Adaptive, Chen, FixedTimeout};
use heartbeat_qos::contender::Lab;
use heartbeat_qos::generate::generate;
use heartbeat_qos::replay::{inject_crash, replay};
use heartbeat_qos::report::{Report, Settings};
use heartbeat_qos::scenario::{Scenario, suite};
use heartbeat_qos::suite::{Plan, Source, run};
use heartbeat_qos::{QosArgs, seeds};

fn scenario(name: &str) -> Scenario {
    suite().into_iter().find(|s| s.name == name).expect("scenario")
}

fn tables(seed: u64) -> String {
    let sources = ["lan", "receiver-stalls"]
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
        .collect();
    let plan = Plan { targets: vec![10.0], sweep_points: 4, bisect_steps: 2, warmup: 1 << 10 };
    let results = run(sources, &plan, &|| {}).unwrap();
    let settings = Settings { traces: format!("seed {seed}"), lab: "test".into(), plan: "test".into() };
    Report { settings, results }.markdown()
}

#[test]
fn the_same_seed_gives_the_same_tables() {
    let first = tables(3);
    assert_eq!(first, tables(3));
    assert_ne!(first, tables(4));
    // The tables are there, with every detector and the guard.
    for needle in ["## lan", "## receiver-stalls", "φ Cassandra", "adaptive, declared target", "## Local-stall guard"]
    {
        assert!(first.contains(needle), "missing {needle:?}");
    }
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
    assert_eq!(summary.goals.len(), 4);
    let wrong = QosArgs { scenarios: vec!["nope".into()], ..args };
    assert!(heartbeat_qos::run(&wrong).is_err());
    std::fs::remove_dir_all(&out).unwrap();
}
