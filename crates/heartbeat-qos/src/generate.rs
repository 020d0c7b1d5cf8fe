//! Seeded trace generators: a [`Scenario`]'s parameters plus a seed give the same trace on
//! every machine (ChaCha8 streams, one per component, so that switching one component off
//! leaves the others' draws unchanged).

use core::time::Duration;

use anyhow::{Context, Result};
use heartbeat_proto::{Authentication, ClusterId, Config, Growable, Instant, MAX_FRAME_LEN, NodeId, Sender};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp, LogNormal, Normal, Pareto};

use crate::scenario::{Episodes, Scenario, Sending};
use crate::trace::{LOST, Record, Trace};

/// The receiver's clock reads this (seconds) at true time 0, so that offsets stay positive.
const EPOCH: f64 = 1000.0;

/// Independent random streams, one per component.
#[derive(Clone, Copy)]
enum Stream {
    Sending = 1,
    SenderStalls,
    Delay,
    Loss,
    Spikes,
    Regimes,
    ReceiverStalls,
}

fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// Generates `hours × 3600 / η` heartbeats of `scenario` from `seed`: `hours` long on a
/// periodic sender, shorter on one whose gaps average less than η.
pub fn generate(scenario: &Scenario, hours: f64, seed: u64) -> Result<Trace> {
    let eta = scenario.interval;
    let n = (hours * 3600.0 / eta).round().max(1.0) as usize;
    let span = (n as f64 + 2.0) * eta;
    let sender_stalls = episodes(scenario.sender_stalls.as_ref(), span, &mut rng(seed, Stream::SenderStalls))?;
    let sends = match scenario.sending {
        Sending::Grid { jitter } => grid(n, eta, jitter, &sender_stalls, &mut rng(seed, Stream::Sending))?,
        Sending::Product { jitter_percent } => product(n, eta, jitter_percent, &sender_stalls, seed)?,
    };
    let delays = delays(scenario, &sends, seed)?;
    let lost = losses(scenario, n, &mut rng(seed, Stream::Loss));
    let receiver_stalls = episodes(scenario.receiver_stalls.as_ref(), span, &mut rng(seed, Stream::ReceiverStalls))?;

    let clocks = scenario.clocks;
    let receiver = |t: f64| secs_to_nanos(EPOCH + t * (1.0 + clocks.receiver_ppm * 1e-6));
    let sender = |t: f64| secs_to_nanos(EPOCH + clocks.offset + t * (1.0 + clocks.sender_ppm * 1e-6));
    let records = (0..n)
        .map(|k| Record {
            sent: receiver(sends[k]),
            stamp: sender(sends[k]),
            received: if lost[k] { LOST } else { receiver(sends[k] + delays[k]) },
        })
        .collect();
    Ok(Trace {
        name: scenario.name.to_owned(),
        provenance: format!("{}; {n} heartbeats (--hours {hours}), seed {seed}", scenario.describe()),
        interval: Duration::from_secs_f64(eta),
        records,
        receiver_stalls: receiver_stalls.into_iter().map(|(a, b)| (receiver(a), receiver(b))).collect(),
    })
}

fn secs_to_nanos(t: f64) -> u64 {
    (t * 1e9).round() as u64
}

/// Disjoint episodes `[start, end)` up to `span`: Poisson onsets (counted from the end of the
/// previous episode), Pareto sizes capped.
fn episodes(e: Option<&Episodes>, span: f64, rng: &mut ChaCha8Rng) -> Result<Vec<(f64, f64)>> {
    let Some(e) = e else { return Ok(Vec::new()) };
    let onset = Exp::new(e.per_hour / 3600.0).context("episode rate")?;
    let size = Pareto::new(e.min, e.shape).context("episode size")?;
    let mut out = Vec::new();
    let mut t = 0.0;
    loop {
        t += rng.sample(onset);
        if t >= span {
            return Ok(out);
        }
        let end = t + rng.sample(size).min(e.cap);
        out.push((t, end));
        t = end;
    }
}

/// The episode containing `t`, advancing a cursor (queries come in increasing `t`).
fn containing(episodes: &[(f64, f64)], cursor: &mut usize, t: f64) -> Option<(f64, f64)> {
    while *cursor < episodes.len() && episodes[*cursor].1 <= t {
        *cursor += 1;
    }
    episodes.get(*cursor).copied().filter(|&(a, _)| a <= t)
}

/// A periodic sender: send `k` at `k·η` plus normal noise; during a stall, at its end in a
/// burst (a microsecond apart).
fn grid(n: usize, eta: f64, jitter: f64, stalls: &[(f64, f64)], rng: &mut ChaCha8Rng) -> Result<Vec<f64>> {
    let noise = Normal::new(0.0, jitter).context("send jitter")?;
    let mut cursor = 0;
    let mut sends = Vec::with_capacity(n);
    let mut previous = f64::NEG_INFINITY;
    for k in 1..=n {
        let mut t = k as f64 * eta + rng.sample(noise);
        if let Some((_, end)) = containing(stalls, &mut cursor, t) {
            t = end;
        }
        t = t.max(previous + 1e-6);
        sends.push(t);
        previous = t;
    }
    Ok(sends)
}

/// This project's own sender state machine, ticked whenever it asks (at the end of a stall
/// if it asks during one): the schedule users of `heartbeat_proto::Sender` produce.
fn product(n: usize, eta: f64, jitter_percent: u8, stalls: &[(f64, f64)], seed: u64) -> Result<Vec<f64>> {
    let node = |id| NodeId::new(id).context("node id");
    let interval = Duration::from_secs_f64(eta);
    let config = Config::builder(ClusterId(1), node(2)?)
        .authentication(Authentication::None)
        .interval(interval)
        .timeout(interval * 3)
        .max_timeout(interval * 60)
        .jitter_percent(jitter_percent)
        .seed(seed)
        .build()?;
    let to_instant = |t: f64| Instant::from_nanos(secs_to_nanos(t));
    let mut sender: Sender<Growable> = Sender::new(config, to_instant(eta));
    sender.add_target(node(1)?);
    let mut buf = [0u8; MAX_FRAME_LEN];
    let mut sends = Vec::with_capacity(n);
    let mut cursor = 0;
    let mut now = eta;
    while sends.len() < n {
        sender.tick(to_instant(now));
        while sender.poll_transmit(&mut buf).transpose().expect("a MAX_FRAME_LEN buffer fits every frame").is_some() {
            sends.push(now);
        }
        let next = sender.poll_timeout().context("the sender stopped")?.as_nanos() as f64 * 1e-9;
        now = match containing(stalls, &mut cursor, next) {
            Some((_, end)) => end,
            None => next,
        };
    }
    sends.truncate(n);
    Ok(sends)
}

/// One-way delay of each heartbeat, from its send time.
fn delays(s: &Scenario, sends: &[f64], seed: u64) -> Result<Vec<f64>> {
    let jitter = LogNormal::new(s.jitter_median.ln(), s.jitter_shape).context("jitter")?;
    let mut delay_rng = rng(seed, Stream::Delay);
    let end = sends.last().copied().unwrap_or(0.0) + 1.0;
    let spikes: Vec<(f64, f64, f64)> = match &s.spikes {
        None => Vec::new(),
        Some(spikes) => {
            let mut r = rng(seed, Stream::Spikes);
            let duration = Exp::new(1.0 / spikes.mean_duration).context("spike duration")?;
            let size = Pareto::new(spikes.extra.min, spikes.extra.shape).context("spike size")?;
            let onset = Exp::new(spikes.extra.per_hour / 3600.0).context("spike rate")?;
            let mut out = Vec::new();
            let mut t = 0.0;
            while t < end {
                t += r.sample(onset);
                let stop = t + r.sample(duration);
                out.push((t, stop, r.sample(size).min(spikes.extra.cap)));
                t = stop;
            }
            out
        }
    };
    let degraded: Vec<(f64, f64)> = match &s.regimes {
        None => Vec::new(),
        Some(regimes) => {
            let mut r = rng(seed, Stream::Regimes);
            let normal = Exp::new(1.0 / regimes.normal_dwell).context("normal dwell")?;
            let bad = Exp::new(1.0 / regimes.degraded_dwell).context("degraded dwell")?;
            let mut out = Vec::new();
            let mut t = 0.0;
            while t < end {
                t += r.sample(normal);
                let stop = t + r.sample(bad);
                out.push((t, stop));
                t = stop;
            }
            out
        }
    };
    let (mut spike_cursor, mut regime_cursor) = (0, 0);
    let mut spike_at = |t: f64| {
        while spike_cursor < spikes.len() && spikes[spike_cursor].1 <= t {
            spike_cursor += 1;
        }
        spikes.get(spike_cursor).filter(|sp| sp.0 <= t).map_or(0.0, |sp| sp.2)
    };
    Ok(sends
        .iter()
        .map(|&t| {
            let (extra, factor) = match (&s.regimes, containing(&degraded, &mut regime_cursor, t)) {
                (Some(r), Some(_)) => (r.extra_delay, r.jitter_factor),
                _ => (0.0, 1.0),
            };
            s.base_delay + extra + factor * delay_rng.sample(jitter) + spike_at(t)
        })
        .collect())
}

/// Which heartbeats are lost (Gilbert–Elliott, stepped once per heartbeat).
fn losses(s: &Scenario, n: usize, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let Some(ge) = s.loss else { return vec![false; n] };
    let mut bad = false;
    (0..n)
        .map(|_| {
            bad = if bad { !rng.random_bool(ge.bad_to_good) } else { rng.random_bool(ge.good_to_bad) };
            rng.random_bool(if bad { ge.loss_bad } else { ge.loss_good })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::suite;

    fn scenario(name: &str) -> Scenario {
        suite().into_iter().find(|s| s.name == name).unwrap()
    }

    #[test]
    fn same_seed_same_trace_other_seed_other_trace() {
        let s = scenario("wan-spikes");
        let a = generate(&s, 2.0, 5).unwrap();
        assert_eq!(a.records, generate(&s, 2.0, 5).unwrap().records);
        assert_ne!(a.records, generate(&s, 2.0, 6).unwrap().records);
        assert_eq!(a.records.len(), 7200);
    }

    #[test]
    fn parameters_show_in_the_statistics() {
        let lossy = generate(&scenario("bursty-loss"), 50.0, 1).unwrap().stats();
        assert!((lossy.loss - 0.01).abs() < 0.003, "{lossy:?}");
        assert!(lossy.longest_loss_burst >= 8, "{lossy:?}");
        let lan = generate(&scenario("lan"), 5.0, 1).unwrap().stats();
        assert!(lan.delay_mean > 0.0002 && lan.delay_mean < 0.0005, "{lan:?}");
        let spikes = generate(&scenario("wan-spikes"), 50.0, 1).unwrap().stats();
        assert!(spikes.delay_max > 1.0, "{spikes:?}");
        let stalls = generate(&scenario("receiver-stalls"), 10.0, 1).unwrap();
        assert!((200..400).contains(&stalls.receiver_stalls.len()), "{}", stalls.receiver_stalls.len());
    }

    #[test]
    fn the_product_sender_jitters_each_gap_and_stalls_hold_sends() {
        let t = generate(&scenario("product-sender"), 1.0, 3).unwrap();
        let gaps: Vec<f64> = t.records.windows(2).map(|w| (w[1].sent - w[0].sent) as f64 * 1e-9).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        // Gaps uniform in [0.75, 1] s (on the receiver's clock, −15 ppm).
        assert!((mean - 0.875).abs() < 0.01, "{mean}");
        assert!(gaps.iter().all(|&g| g > 0.7499 && g < 1.0001));
        let stalled = generate(&scenario("sender-stalls"), 10.0, 3).unwrap();
        let bursts = stalled.records.windows(2).filter(|w| w[1].sent - w[0].sent < 10_000).count();
        assert!(bursts > 0, "heartbeats due during a stall go out together");
    }
}
