//! The lab on recorded traces: what it refuses, in bounded memory, and what it rules on what it
//! accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

use heartbeat_qos::QosArgs;
use heartbeat_qos::import::{self, MAX_HEARTBEATS};
use heartbeat_qos::suite::{ContenderResult, ScenarioResult};
use heartbeat_qos::trace::TraceStats;
use heartbeat_qos::tune::Point;
use proptest::prelude::*;

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("heartbeat-qos-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn args(trace: &Path, out: &Path) -> QosArgs {
    QosArgs { quick: true, trace: Some(trace.into()), no_progress: true, no_timing: true, ..QosArgs::new(out) }
}

/// Runs the lab on `csv` and returns its error, checking that it refused before any work:
/// nothing written.
fn refusal(dir: &Path, name: &str, csv: &str) -> String {
    let trace = dir.join(format!("{name}.csv"));
    std::fs::write(&trace, csv).unwrap();
    let out = dir.join(format!("{name}-out"));
    let err = heartbeat_qos::run(&args(&trace, &out)).expect_err(name);
    assert!(!out.exists(), "{name}: refused, yet it wrote {}", out.display());
    format!("{err:#}")
}

/// A recorded-looking trace of `n` heartbeats every second (jittered by a fixed LCG, 1 in 500
/// lost), with a comment and a header first.
fn periodic_csv(n: u64) -> String {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut text = String::from("# recorded by a test\nsequence,sent,received\n");
    for k in 1..=n {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let jitter = (x >> 40) as f64 / (1u64 << 24) as f64; // [0, 1)
        let sent = 100.0 + k as f64 + 0.002 * jitter;
        if (x >> 20).is_multiple_of(500) {
            text.push_str(&format!("{k},{sent:.6},lost\n"));
        } else {
            text.push_str(&format!("{k},{sent:.6},{:.6}\n", sent + 0.01 + 0.02 * jitter * jitter));
        }
    }
    text
}

#[test]
fn bad_traces_are_refused_before_any_work_saying_why() {
    let dir = scratch("refusals");
    let cases = [
        ("short", "1,1.0,1.05\n2,2.0,2.05\n3,3.0,3.05\n4,4.0,4.05\n", "too short: 4 heartbeats"),
        ("empty", "", "no heartbeats"),
        ("comments-only", "# nothing\nsequence,sent,received\n", "no heartbeats"),
        ("all-lost", "1,1.0,lost\n2,2.0,\n3,3.0,-1\n", "none of its 3 heartbeats was received"),
        ("backwards", "1,10.0,10.1\n2,11.0,11.1\n3,5.0,5.1\n", "not monotonic in send time"),
        ("negative", "1,-1.0,1.0\n2,2.0,2.1\n", "send time \"-1.0\" is negative"),
        ("huge-gap", "1,1.0,1.1\n1000000000000,2.0,2.1\n", "more than the 10000000 a trace may have"),
    ];
    for (name, csv, expected) in cases {
        let err = refusal(&dir, name, csv);
        assert!(err.contains(expected), "{name}: {err}");
        assert!(err.contains(&format!("{name}.csv is not a usable trace")), "{name}: names the file: {err}");
    }
    // The minimum is stated.
    let err = refusal(&dir, "short", cases[0].1);
    assert!(err.contains("needs at least 10192 heartbeats") && err.contains("warm-up of 4096 intervals"), "{err}");
    // A header after a comment is a header: this trace is refused for its length alone.
    let err = refusal(&dir, "header", &periodic_csv(100));
    assert!(err.contains("too short: 100 heartbeats"), "{err}");
    // Bad receiver pauses are refused too.
    let trace = dir.join("long.csv");
    std::fs::write(&trace, periodic_csv(10_300)).unwrap();
    let pauses = dir.join("pauses.csv");
    std::fs::write(&pauses, "start,end\n500,400\n").unwrap();
    let bad = QosArgs { receiver_pauses: Some(pauses), ..args(&trace, &dir.join("p-out")) };
    let err = format!("{:#}", heartbeat_qos::run(&bad).unwrap_err());
    assert!(err.contains("line 2: the pause ends (400) no later than it starts (500)"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What the memory-limited child does: each input that once took the machine's memory, now
/// refused or drawn within the limit.
fn within_the_limit() {
    let dir = scratch("bounded-child");
    let err = refusal(&dir, "short", "1,1.0,1.05\n2,2.0,2.05\n3,3.0,3.05\n4,4.0,4.05\n");
    assert!(err.contains("too short"), "{err}");
    let err = refusal(&dir, "gap", "1,1.0,1.1\n9000000000000000000,2.0,2.1\n");
    assert!(err.contains("a trace may have"), "{err}");
    // One endless line.
    let path = dir.join("line.csv");
    std::fs::write(&path, vec![b'7'; 64 << 20]).unwrap();
    let out = dir.join("line-out");
    let err = format!("{:#}", heartbeat_qos::run(&args(&path, &out)).unwrap_err());
    assert!(err.contains("line 1: longer than 4096 bytes"), "{err}");
    // The plot of a scenario where nothing had a finite detection time: no plot, no axis
    // built from an infinite range.
    let stats = TraceStats {
        heartbeats: 4,
        hours: 0.0,
        loss: 0.0,
        longest_loss_burst: 0,
        delay_mean: f64::NAN,
        delay_p99: f64::NAN,
        delay_max: f64::NAN,
        receiver_stalls: 0,
    };
    let nothing = heartbeat_qos::metrics::Quality {
        hours: 0.0,
        mistakes: 0,
        suspects: 0,
        stall_suspects: 0,
        stall_mistakes: 0,
        mistake_rate: f64::NAN,
        mistake_duration: 0.0,
        query_accuracy: f64::NAN,
        detection_mean: f64::NAN,
        detection_p99: f64::NAN,
        deadlines: 0,
        at_max: 0,
        at_min: 0,
    };
    let contenders = heartbeat_qos::contender::Contender::ALL
        .iter()
        .map(|&contender| ContenderResult {
            contender,
            curve: (1..8).map(|k| Point { knob: f64::from(k), quality: nothing }).collect(),
            targets: Vec::new(),
            declared: Vec::new(),
            guard: Vec::new(),
        })
        .collect();
    let result = ScenarioResult {
        name: "short".into(),
        about: String::new(),
        provenance: [String::new(), String::new()],
        stats: [stats; 2],
        contenders,
        hindsight: Vec::new(),
        presets: Vec::new(),
    };
    let svg = dir.join("short.svg");
    assert!(!heartbeat_qos::plot::drawable(&result));
    assert!(!heartbeat_qos::plot::draw(&result, &svg).unwrap(), "nothing to draw");
    assert!(!svg.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_input_takes_more_than_a_gibibyte() {
    const CHILD: &str = "HEARTBEAT_QOS_BOUNDED_CHILD";
    if std::env::var_os(CHILD).is_some() {
        within_the_limit();
        return;
    }
    // The same test again in a child whose address space is capped at 1 GiB (RLIMIT_AS via
    // the shell's `ulimit -v`, in KiB): an unbounded allocation aborts it.
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(&exe)
        .args(["--exact", "no_input_takes_more_than_a_gibibyte", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .status()
        .unwrap();
    assert!(status.success(), "the child under a 1 GiB limit failed: {status}");
}

#[test]
fn a_recorded_trace_gets_verdicts_and_its_receiver_pauses_reach_the_guard() {
    let dir = scratch("verdicts");
    let trace = dir.join("mine.csv");
    std::fs::write(&trace, periodic_csv(10_400)).unwrap();
    // A 3 s pause every 150 s once past the warm-up of each half.
    let mut pauses = String::from("# receiver pauses\nstart,end\n");
    for k in 0..60 {
        let start = 100.0 + 4_300.0 + 150.0 * f64::from(k);
        pauses.push_str(&format!("{start:.3},{:.3}\n", start + 3.0));
        pauses.push_str(&format!("{:.3},{:.3}\n", start + 5_200.0, start + 5_203.0));
    }
    let pause_file = dir.join("pauses.csv");
    std::fs::write(&pause_file, pauses).unwrap();

    let out = dir.join("plain");
    let plain = heartbeat_qos::run(&args(&trace, &out)).unwrap();
    assert!(plain.report.contains("## Verdicts"), "{}", plain.report);
    assert!(plain.report.contains("- mine: **"), "a pass/fail line");
    assert!(plain.report.contains("Chen, known η (n=1000)") && plain.report.contains("Chen, estimated η (n=1000)"));
    assert!(!plain.report.contains("## Local-stall guard"));
    let [rate, _detection, chen, guard, footprint] = &plain.goals[..] else { panic!("{:?}", plain.goals) };
    // Judged on the trace itself (not "lacks the default suite"). Its 0.3 h test half holds one
    // mistake where 1/h allows 0.3: over 2x by count, but 46 % likely at exactly 2x, so that
    // cell is undecided rather than a pass or a fail.
    assert!(!rate.detail.contains("This run lacks") && rate.detail.contains("mine ≤0.10/h: λ_M"), "{rate:?}");
    assert!(
        rate.met == Some(true) || rate.detail.contains("within chance, so the cell is undecided"),
        "judged on the trace itself: {rate:?}"
    );
    assert!(!chen.applies);
    assert_eq!(guard.met, None, "no pauses, nothing for the guard");
    assert_eq!(footprint.met, Some(true), "{footprint:?}");
    assert!(!plain.report.contains("**missed**") || !footprint.detail.is_empty());

    let out = dir.join("paused");
    let paused = QosArgs { receiver_pauses: Some(pause_file), ..args(&trace, &out) };
    let paused = heartbeat_qos::run(&paused).unwrap();
    assert!(paused.report.contains("## Local-stall guard"), "{}", paused.report);
    assert!(paused.report.contains("receiver pauses from"), "provenance names the file");
    let guard = &paused.goals[3];
    assert!(guard.met.is_some(), "the guard is judged on the recorded pauses: {guard:?}");
    assert!(guard.detail.contains("with the guard off"), "{guard:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Lines that are almost a trace: numbers, negatives, blanks, words, odd separators.
fn line() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        (0u64..2000).prop_map(|n| n.to_string()),
        (-5.0f64..3000.0).prop_map(|x| format!("{x:.3}")),
        Just(String::new()),
        Just("lost".to_owned()),
        Just("sequence".to_owned()),
        Just("NaN".to_owned()),
        Just("-inf".to_owned()),
        Just("1e400".to_owned()),
        Just(u64::MAX.to_string()),
        "[ -~]{0,6}",
    ];
    prop_oneof![
        8 => prop::collection::vec(field, 0..5).prop_map(|f| f.join(",")),
        1 => Just("# comment".to_owned()),
        1 => "[ -~\t]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the lines, reading returns a trace or an error — never a panic — and what it
    /// accepts is a trace the lab can replay.
    #[test]
    fn malformed_csv_is_an_error_not_a_panic(lines in prop::collection::vec(line(), 0..40), crlf in any::<bool>()) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        if let Ok(trace) = import::csv(&text, "p", None) {
            prop_assert!(trace.records.len() >= 2 && trace.records.len() as u64 <= MAX_HEARTBEATS);
            prop_assert!(trace.records.windows(2).all(|w| w[0].sent <= w[1].sent));
            prop_assert!(trace.records.iter().any(|r| r.arrived()));
            prop_assert!((import::MIN_INTERVAL..=import::MAX_INTERVAL).contains(&trace.interval));
            let _ = import::check_length(&trace, 16);
        }
        let _ = import::pauses_from(text.as_bytes());
        let _ = import::lip6(&text.replace(',', " "), "p", None, None);
    }

    /// Arbitrary bytes, too.
    #[test]
    fn arbitrary_bytes_are_an_error_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = import::csv_from(&bytes[..], "p", None);
        let _ = import::pauses_from(&bytes[..]);
        let _ = import::lip6_from(&bytes[..], "p", None, None);
    }
}
