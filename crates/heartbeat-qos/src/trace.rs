//! A heartbeat trace: what one sender sent and when each heartbeat reached one receiver, plus
//! when the receiver itself was frozen.

use core::time::Duration;

/// `Record::received` of a heartbeat that never arrived.
pub const LOST: u64 = u64::MAX;

/// One heartbeat. Times are nanoseconds on the receiver's clock unless said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// When it was sent, expressed on the receiver's clock: a crash right after this send is
    /// what detection times are measured from.
    pub sent: u64,
    /// The sender's own timestamp for it (sender's clock), carried in the frame.
    pub stamp: u64,
    /// When it reached the receiver's socket, or [`LOST`].
    pub received: u64,
}

impl Record {
    /// Whether it arrived.
    pub fn arrived(&self) -> bool {
        self.received != LOST
    }
}

/// A trace: heartbeat `k` (sequence number `k + 1`) is `records[k]`.
#[derive(Debug, Clone)]
pub struct Trace {
    /// A short name (the scenario's, or the file's).
    pub name: String,
    /// Everything needed to regenerate it: generator parameters and seed, or the source file.
    pub provenance: String,
    /// The interval the sender advertises.
    pub interval: Duration,
    /// The heartbeats, in sending order.
    pub records: Vec<Record>,
    /// Intervals `[start, end)` during which the receiver did not run (its own stalls), sorted
    /// and disjoint, on the receiver's clock.
    pub receiver_stalls: Vec<(u64, u64)>,
}

/// Summary figures of a trace, for the report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceStats {
    /// Heartbeats sent.
    pub heartbeats: usize,
    /// Hours from the first send to the last arrival.
    pub hours: f64,
    /// Fraction lost.
    pub loss: f64,
    /// Longest run of consecutive losses.
    pub longest_loss_burst: usize,
    /// Mean, 99th percentile and maximum one-way delay (seconds), on the receiver's clock.
    pub delay_mean: f64,
    /// 99th percentile delay.
    pub delay_p99: f64,
    /// Maximum delay.
    pub delay_max: f64,
    /// Receiver stalls.
    pub receiver_stalls: usize,
}

impl Trace {
    /// The first send, where replays start.
    pub fn start(&self) -> u64 {
        self.records.first().map_or(0, |r| r.sent)
    }

    /// The last arrival, where replays end.
    pub fn end(&self) -> u64 {
        self.records.iter().filter(|r| r.arrived()).map(|r| r.received).max().unwrap_or(self.start())
    }

    /// Indices of the heartbeats that arrived, in order of arrival (ties by sequence).
    pub fn arrival_order(&self) -> Vec<u32> {
        let mut order: Vec<u32> =
            (0..self.records.len()).filter(|&k| self.records[k].arrived()).map(|k| k as u32).collect();
        order.sort_by_key(|&k| (self.records[k as usize].received, k));
        order
    }

    /// Summary figures.
    pub fn stats(&self) -> TraceStats {
        let n = self.records.len();
        let mut delays: Vec<u64> =
            self.records.iter().filter(|r| r.arrived()).map(|r| r.received.saturating_sub(r.sent)).collect();
        let lost = n - delays.len();
        let (mut burst, mut longest) = (0, 0);
        for r in &self.records {
            burst = if r.arrived() { 0 } else { burst + 1 };
            longest = longest.max(burst);
        }
        let secs = |ns: u64| ns as f64 * 1e-9;
        let mean =
            if delays.is_empty() { 0.0 } else { delays.iter().map(|&d| secs(d)).sum::<f64>() / delays.len() as f64 };
        let (p99, max) = if delays.is_empty() {
            (0.0, 0.0)
        } else {
            let i = (delays.len() * 99 / 100).min(delays.len() - 1);
            let p99 = *delays.select_nth_unstable(i).1;
            (secs(p99), secs(delays.iter().copied().max().unwrap_or(0)))
        };
        TraceStats {
            heartbeats: n,
            hours: secs(self.end().saturating_sub(self.start())) / 3600.0,
            loss: if n == 0 { 0.0 } else { lost as f64 / n as f64 },
            longest_loss_burst: longest,
            delay_mean: mean,
            delay_p99: p99,
            delay_max: max,
            receiver_stalls: self.receiver_stalls.len(),
        }
    }

    /// The first `fraction` of the trace (by sending order), for tuning on one part of a
    /// recorded trace and testing on the rest.
    pub fn split(&self, fraction: f64) -> (Trace, Trace) {
        let cut = ((self.records.len() as f64 * fraction) as usize).min(self.records.len());
        let boundary = self.records.get(cut).map_or(u64::MAX, |r| r.sent);
        let part = |records: &[Record], suffix: &str, keep: &dyn Fn(&(u64, u64)) -> bool| Trace {
            name: format!("{} ({suffix})", self.name),
            provenance: format!("{}; {suffix}", self.provenance),
            interval: self.interval,
            records: records.to_vec(),
            receiver_stalls: self.receiver_stalls.iter().copied().filter(|s| keep(s)).collect(),
        };
        (
            part(&self.records[..cut], "first part", &|s| s.0 < boundary),
            part(&self.records[cut..], "second part", &|s| s.0 >= boundary),
        )
    }
}
