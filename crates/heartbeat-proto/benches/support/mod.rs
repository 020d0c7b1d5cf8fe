//! Shared by the benches: criterion set up to write where we can read it back, and a ratio
//! table computed from the estimates of benchmarks that ran in the same process.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::SystemTime;

use criterion::Criterion;

/// When this process set criterion up: estimates older than that are from another run.
static STARTED: OnceLock<SystemTime> = OnceLock::new();

/// Where criterion writes its estimates for these benches.
pub(crate) fn output_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion")
}

/// A criterion configured from the command line, writing to [`output_dir`].
pub(crate) fn criterion() -> Criterion {
    STARTED.get_or_init(SystemTime::now);
    Criterion::default().output_directory(&output_dir()).configure_from_args()
}

/// The mean time of `group/bench` in nanoseconds, from criterion's estimates of this run;
/// `None` if this run did not measure it (a filter skipped it), even if an older run did.
pub(crate) fn mean_ns(group: &str, bench: &str) -> Option<f64> {
    let path = output_dir().join(group).join(bench).join("new").join("estimates.json");
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if written < *STARTED.get()? {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

/// A benchmark by (group, function) name.
pub(crate) type BenchId<'a> = (&'a str, &'a str);

/// A labelled ratio: the numerator's mean time over the denominator's.
pub(crate) type Ratio<'a> = (&'a str, BenchId<'a>, BenchId<'a>);

/// Prints `numerator / denominator` for each pair, e.g. how many times slower a baseline is.
pub(crate) fn print_ratios(title: &str, pairs: &[Ratio<'_>]) {
    println!("\n{title}");
    for (label, (g1, b1), (g2, b2)) in pairs {
        match (mean_ns(g1, b1), mean_ns(g2, b2)) {
            (Some(a), Some(b)) if b > 0.0 => {
                println!("  {label:<58} {:>9.2}x   ({a:.1} ns / {b:.1} ns)", a / b)
            }
            _ => println!("  {label:<58} (not measured in this run)"),
        }
    }
}
