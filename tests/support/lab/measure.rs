//! Numbers the lab reports: per-process CPU time and RSS from `/proc`, and percentiles and a
//! histogram of detection lateness.

use std::fmt::Write as _;

/// Clock ticks per second of `/proc/<pid>/stat` (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
const CLK_TCK: f64 = 100.0;

/// One look at a process in `/proc`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU time so far, in seconds.
    pub cpu_s: f64,
    /// Resident set size, in KiB.
    pub rss_kib: u64,
}

/// Samples `/proc/<pid>/stat` and `/proc/<pid>/status`; `None` if the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())?;
    Some(ProcSample { cpu_s: ticks as f64 / CLK_TCK, rss_kib })
}

/// CPU time used so far by all threads of `pid`, in nanoseconds, from
/// `/proc/<pid>/task/*/schedstat` (exact, unlike the 10 ms ticks of `stat`); `None` if the
/// process is gone.
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let Ok(line) = std::fs::read_to_string(task.path().join("schedstat")) else { continue };
        total += line.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The `q`-quantile (0 to 1) of `values` by the nearest-rank method; `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// `p50 / p99 / max` of `values` in milliseconds, or `-` when there are none.
pub fn summary_ms(values: &[f64]) -> String {
    match (quantile(values, 0.5), quantile(values, 0.99), quantile(values, 1.0)) {
        (Some(p50), Some(p99), Some(max)) => {
            format!("n = {}, p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms", values.len())
        }
        _ => "n = 0".into(),
    }
}

/// A text histogram of lateness in milliseconds, in buckets that double from 0.25 ms.
pub fn histogram_ms(values: &[f64]) -> String {
    let mut edges = vec![0.25];
    while *edges.last().unwrap_or(&0.0) < 256.0 {
        let next = edges.last().unwrap_or(&0.25) * 2.0;
        edges.push(next);
    }
    let mut counts = vec![0usize; edges.len() + 1];
    for v in values {
        let i = edges.iter().position(|e| v < e).unwrap_or(edges.len());
        counts[i] += 1;
    }
    let mut out = String::new();
    let mut low = f64::NEG_INFINITY;
    for (i, count) in counts.iter().enumerate() {
        let high = edges.get(i).copied();
        if *count > 0 {
            let range = match high {
                Some(h) if low.is_finite() => format!("[{low}, {h}) ms"),
                Some(h) => format!("< {h} ms"),
                None => format!(">= {low} ms"),
            };
            let _ = writeln!(out, "| {range} | {count} |");
        }
        low = high.unwrap_or(low);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 1.0), Some(5.0));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert!(histogram_ms(&[0.1, 0.3, 1000.0]).contains("| >= 256 ms | 1 |"));
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_kib > 0);
    }
}
