//! Prints what the adaptive detector's down deadline is made of over a replay of one built-in
//! scenario's trace B (the out-of-sample half the lab judges it on): η̂, the margins, the loss
//! counts and the model's survival at a few points, every `--every` heartbeats, then the mean
//! deadline after the lab's warm-up next to the lab's own replay of the same trace.
//!
//! `cargo run --release -p heartbeat-qos --example adaptive_deadline -- lan 0.1 [log every] [plan every]`
//!
//! With a `.csv` path instead of a scenario name, the second half of that recorded trace (what
//! `heartbeat qos --trace` tests on). Every false `Down` after the warm-up is printed with the
//! end of the shared deadline that caused it.

use core::time::Duration;

use anyhow::{Context, Result, bail};
use heartbeat_proto::detector::{Arrival, PeerTiming};
use heartbeat_proto::{Adaptive, Detector, FixedTimeout, Instant};
use heartbeat_qos::contender::Lab;
use heartbeat_qos::metrics::Quality;
use heartbeat_qos::replay::Setup;
use heartbeat_qos::trace::Trace;
use heartbeat_qos::{generate, import, replay, scenario, seeds};
use std::path::Path;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "lan".into());
    let target: f64 = args.next().map_or(Ok(0.1), |t| t.parse()).context("target per hour")?;
    // Heartbeats between two lines of the log, and between two plans of the mixed deadline.
    let every: usize = args.next().map_or(Ok(43_200), |t| t.parse()).context("every")?;
    let plan_every: usize = args.next().map_or(Ok(1024), |t| t.parse()).context("plan every")?;
    let trace = if name.ends_with(".csv") {
        import::read(Path::new(&name), import::Format::Csv, None, None)?.split(0.5).1
    } else {
        let suite = scenario::suite();
        let Some(index) = suite.iter().position(|s| s.name == name) else { bail!("no scenario {name}") };
        let (_, seed_b) = seeds(1, index);
        generate::generate(&suite[index], 240.0, seed_b)?
    };
    let warmup = 1u64 << 16;

    let detector = Adaptive::with_target(target);
    let mut state = <Adaptive as Detector>::PeerState::default();
    let mut order: Vec<usize> = (0..trace.records.len()).filter(|&k| trace.records[k].arrived()).collect();
    order.sort_by_key(|&k| trace.records[k].received);
    let mut last_seq = 0u64;
    let (mut sum, mut n, mut shared_sum) = (0.0f64, 0u64, 0.0f64);
    // The deadline set after the previous fresh heartbeat: (arrival, silence allowed, which end).
    let mut previous: Option<(u64, f64, &str)> = None;
    let t0 = trace.records[0].sent;
    let eta = trace.interval.as_secs_f64();
    for (i, &k) in order.iter().enumerate() {
        let seq = k as u64 + 1;
        if seq <= last_seq {
            continue;
        }
        let r = trace.records[k];
        let arrival = Arrival {
            at: Instant::from_nanos(r.received),
            sequence: seq,
            gap: seq - last_seq - 1,
            interval: trace.interval,
            after_local_pause: false,
        };
        last_seq = seq;
        detector.on_heartbeat(&mut state, &arrival);
        let down = |x: f64| detector.survival(&state, Duration::from_secs_f64(x));
        // The deadline after this heartbeat: the smallest silence with S ≤ p, by bisection on
        // the public survival function (the detector's own margin is private).
        let p = target * eta / 3600.0;
        let deadline = down(1.0).map(|_| {
            let (mut lo, mut hi) = (eta, 60.0 * eta);
            for _ in 0..40 {
                let mid = (lo + hi) / 2.0;
                if down(mid).unwrap() <= p { hi = mid } else { lo = mid }
            }
            hi
        });
        if (r.sent - t0) as f64 * 1e-9 >= warmup as f64 * eta
            && let Some(d) = deadline
        {
            sum += d;
            // What the detector itself set: one of its two ends.
            let timing = PeerTiming {
                last_heard: arrival.at,
                interval: trace.interval,
                timeout: Duration::from_secs(3),
                min_timeout: Duration::from_millis(200),
                max_timeout: Duration::from_secs(3600),
            };
            let allowed = (detector.deadlines(&state, &timing).down - arrival.at).as_secs_f64();
            shared_sum += allowed;
            if let Some((at, silence, end)) = previous
                && (r.received - at) as f64 * 1e-9 > silence
            {
                println!(
                    "mistake at {:.2} h: silence {:.3} s after a deadline of {silence:.3} s ({end} end), {} lost; now {:?}",
                    (r.received - t0) as f64 / 3.6e12,
                    (r.received - at) as f64 * 1e-9,
                    arrival.gap,
                    state.shared_deadline()
                );
            }
            let end = match state.shared_deadline() {
                Some(d) if d.lower_share > 0.0 && d.latest_lower => "lower",
                Some(d) if d.lower_share > 0.0 => "upper",
                _ => "single",
            };
            previous = Some((r.received, allowed, end));
            n += 1;
        }
        if i % every == 0 || i + 1 == order.len() {
            let fmt = |x: f64| down(x).map_or("-".into(), |s| format!("{s:.2e}"));
            let shared = state.shared_deadline().map_or("-".into(), |d| {
                let at = |m: Duration| (d.interval + m).as_secs_f64();
                format!(
                    "{:.3} s × {:.3} + {:.3} s × {:.3}",
                    at(d.lower),
                    d.lower_share,
                    at(d.upper),
                    1.0 - d.lower_share
                )
            });
            println!(
                "beat {i:>7} t {:>6.1} h  deadline {}  shared {shared}  S(1.5) {}  S(2.004) {}  S(2.5) {}  S(2.86) {}  S(3.01) {}  p {p:.2e}  {state:?}",
                (r.received - t0) as f64 / 3.6e12,
                deadline.map_or("-".into(), |d| format!("{d:.3} s")),
                fmt(1.5),
                fmt(2.004),
                fmt(2.5),
                fmt(2.86),
                fmt(3.01),
            );
        }
    }
    println!(
        "mean down deadline after the warm-up (silence after a heartbeat): single {:.3} s, shared (as set) {:.3} s, over {n}",
        sum / n as f64,
        shared_sum / n as f64
    );
    loss_bursts(&trace, t0 + warmup * trace.interval.as_nanos() as u64);
    mixed(&trace, target, warmup, plan_every)?;
    for timeout in [2.004, 3.01] {
        let setup = Setup { requested: Duration::from_secs_f64(timeout), ..Lab::new(trace.interval, 1 << 16).setup() };
        let q = Quality::of(replay::replay(&trace, FixedTimeout::new(), &setup)?);
        println!(
            "lab replay, fixed timeout {timeout} s: λ_M {:.4}/h ({} mistakes, {:.1} allowed), mean T_D {:.3} s",
            q.mistake_rate,
            q.mistakes,
            target * q.hours,
            q.detection_mean
        );
    }
    let lab = Lab::new(trace.interval, 1 << 16);
    let q = Quality::of(replay::replay(&trace, Adaptive::with_target(target), &lab.setup())?);
    println!(
        "lab replay: λ_M {:.3}/h ({} mistakes in {:.1} h), mean T_D {:.3} s, p99 {:.3} s",
        q.mistake_rate, q.mistakes, q.hours, q.detection_mean, q.detection_p99
    );
    Ok(())
}

/// Loss bursts by length, counting only those that begin after `from` (ns, sender side).
fn loss_bursts(trace: &Trace, from: u64) {
    let mut counts = [0u64; 6];
    let mut run = 0usize;
    for r in &trace.records {
        if r.arrived() {
            if run > 0 {
                counts[run.min(5)] += 1;
            }
            run = 0;
        } else if run > 0 || r.sent >= from {
            run += 1;
        }
    }
    let at_least = |k: usize| counts[k..].iter().sum::<u64>();
    println!(
        "loss bursts after the warm-up: ≥1 {}, ≥2 {}, ≥3 {}, ≥4 {} (lengths 1..5+: {:?})",
        at_least(1),
        at_least(2),
        at_least(3),
        at_least(4),
        &counts[1..]
    );
}

/// What a deadline mixed between the two ends of a plateau of S would do: every `every`
/// heartbeats, the lower convex hull of (S(x), x) over a grid of silences gives the cheapest
/// pair (x_a, x_b) with S(x_a) ≥ p ≥ S(x_b) and the share θ of heartbeats that get x_a so that
/// the expected rate is p; each heartbeat then takes x_a or x_b by a deterministic dither
/// (golden-ratio sequence), and is a mistake if the next fresh heartbeat comes later.
fn mixed(trace: &Trace, target: f64, warmup: u64, every: usize) -> Result<()> {
    let detector = Adaptive::with_target(target);
    let mut state = <Adaptive as Detector>::PeerState::default();
    let eta = trace.interval.as_secs_f64();
    let p = target * eta / 3600.0;
    let mut order: Vec<usize> = (0..trace.records.len()).filter(|&k| trace.records[k].arrived()).collect();
    order.sort_by_key(|&k| trace.records[k].received);
    let t0 = trace.records[0].sent;
    // Silences from 1 η to 60 η: every 0.01 η up to 11 η, then every 0.1 η.
    let grid: Vec<f64> = (0..1000)
        .map(|j| 1.0 + f64::from(j) / 100.0)
        .chain((0..=490).map(|j| 11.0 + f64::from(j) / 10.0))
        .map(|x| eta * x)
        .collect();
    let (mut last_seq, mut plan, mut dither) = (0u64, None::<(f64, f64, f64)>, 0.0f64);
    let (mut pending, mut mistakes, mut sum, mut n, mut hours_from) = (None::<(u64, f64)>, 0u64, 0.0, 0u64, None);
    for (i, &k) in order.iter().enumerate() {
        let seq = k as u64 + 1;
        if seq <= last_seq {
            continue;
        }
        let gap = seq - last_seq - 1;
        last_seq = seq;
        let r = trace.records[k];
        if let Some((since, deadline)) = pending.take()
            && (r.received - since) as f64 * 1e-9 > deadline
        {
            mistakes += 1;
        }
        let arrival = Arrival {
            at: Instant::from_nanos(r.received),
            sequence: seq,
            gap,
            interval: trace.interval,
            after_local_pause: false,
        };
        detector.on_heartbeat(&mut state, &arrival);
        if i % every.max(1) == 0 || plan.is_none() {
            plan = survival_grid(&detector, &state, &grid).map(|s| hull(&grid, &s, p));
        }
        if let Some((x_a, x_b, theta)) = plan {
            dither = (dither + 0.618_033_988_749_895) % 1.0;
            let deadline = if dither < theta { x_a } else { x_b };
            if (r.sent - t0) as f64 * 1e-9 >= warmup as f64 * eta {
                hours_from.get_or_insert(r.received);
                sum += deadline;
                n += 1;
                pending = Some((r.received, deadline));
            }
        }
    }
    let hours = (trace.records.last().map_or(0, |r| r.sent) - hours_from.unwrap_or(0)) as f64 / 3.6e12;
    println!(
        "mixed deadline (simulated): mean {:.3} s over {n}, {mistakes} mistakes in {hours:.1} h = {:.4}/h; last plan {:?}",
        sum / n.max(1) as f64,
        mistakes as f64 / hours,
        plan
    );
    Ok(())
}

fn survival_grid(detector: &Adaptive, state: &<Adaptive as Detector>::PeerState, grid: &[f64]) -> Option<Vec<f64>> {
    grid.iter().map(|&x| detector.survival(state, Duration::from_secs_f64(x))).collect()
}

/// The cheapest mix of two grid points meeting rate `p` on average, (x_a, x_b, θ): the lower
/// convex hull of the points (S(x), x), read at S = p.
fn hull(grid: &[f64], s: &[f64], p: f64) -> (f64, f64, f64) {
    let last = grid[grid.len() - 1];
    if s[s.len() - 1] > p {
        return (last, last, 0.0);
    }
    // By S ascending (x descending); the monotone chain keeps the lower hull.
    let mut hull: Vec<(f64, f64)> = Vec::new();
    for (&x, &v) in grid.iter().zip(s).rev() {
        while hull.len() >= 2 {
            let (s1, x1) = hull[hull.len() - 2];
            let (s2, x2) = hull[hull.len() - 1];
            // Drop the middle point when it lies on or above the chord.
            if (x2 - x1) * (v - s1) >= (x - x1) * (s2 - s1) {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push((v, x));
    }
    for w in hull.windows(2) {
        let ((s_b, x_b), (s_a, x_a)) = (w[0], w[1]);
        if s_b <= p && p <= s_a && s_a > s_b {
            return (x_a, x_b, (p - s_b) / (s_a - s_b));
        }
    }
    let (_, x) = hull.iter().copied().find(|&(v, _)| v <= p).unwrap_or((0.0, last));
    (x, x, 0.0)
}
