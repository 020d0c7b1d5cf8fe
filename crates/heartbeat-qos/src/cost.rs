//! What each detector costs: bytes per peer, and time per heartbeat on this machine (a quick
//! in-process timing for the report; the criterion bench is the careful measurement).

use core::time::Duration;
use std::hint::black_box;
use std::time::Instant as Clock;

use anyhow::Result;
use heartbeat_proto::detector::{Arrival, PeerTiming};
use heartbeat_proto::{Adaptive, AkkaPhi, CassandraPhi, Chen, Detector, FixedTimeout, Instant, TwoWindow};

use crate::contender::{Contender, Lab, WINDOW};
use crate::report::Cost;
use crate::trace::Trace;

/// The arrivals of `trace` as a detector sees them (fresh heartbeats only, in arrival order).
pub fn arrivals(trace: &Trace) -> Vec<Arrival> {
    let mut highest = 0u64;
    let mut out = Vec::new();
    for k in trace.arrival_order() {
        let sequence = u64::from(k) + 1;
        if sequence <= highest {
            continue;
        }
        out.push(Arrival {
            at: Instant::from_nanos(trace.records[k as usize].received),
            sequence,
            gap: sequence - highest - 1,
            interval: trace.interval,
            after_local_pause: false,
        });
        highest = sequence;
    }
    out
}

/// Mean nanoseconds per heartbeat of `on_heartbeat` followed by `deadlines`, over `arrivals`.
pub fn detector_ns<D: Detector>(detector: &D, arrivals: &[Arrival]) -> f64 {
    let mut state = D::PeerState::default();
    let mut timing = PeerTiming {
        last_heard: Instant::ZERO,
        interval: arrivals.first().map_or(Duration::from_secs(1), |a| a.interval),
        timeout: Duration::from_secs(3),
        min_timeout: Duration::from_millis(1),
        max_timeout: Duration::from_secs(3600),
    };
    let start = Clock::now();
    for a in arrivals {
        detector.on_heartbeat(&mut state, black_box(a));
        timing.last_heard = a.at;
        black_box(detector.deadlines(&state, &timing));
    }
    start.elapsed().as_nanos() as f64 / arrivals.len().max(1) as f64
}

/// Heartbeats [`measure`] times.
pub const TIMED: usize = 200_000;

/// The first [`TIMED`] heartbeats of `trace` (and its receiver stalls up to there).
pub fn prefix(trace: &Trace) -> Trace {
    let records: Vec<_> = trace.records.iter().take(TIMED).copied().collect();
    let end = records.last().map_or(0, |r| r.sent);
    Trace {
        name: trace.name.clone(),
        provenance: trace.provenance.clone(),
        interval: trace.interval,
        records,
        receiver_stalls: trace.receiver_stalls.iter().copied().filter(|s| s.0 <= end).collect(),
    }
}

/// Times every contender on (a prefix of) `trace`.
pub fn measure(trace: &Trace, lab: &Lab) -> Result<Vec<Cost>> {
    let prefix = prefix(trace);
    let arrivals = arrivals(&prefix);
    let order = prefix.arrival_order();
    let eta = lab.interval;
    Contender::ALL
        .iter()
        .map(|&c| {
            let detector_ns = match c {
                Contender::Fixed => detector_ns(&FixedTimeout::new(), &arrivals),
                Contender::Chen => detector_ns(&Chen::<WINDOW>::new(eta / 10), &arrivals),
                Contender::ChenKnown => {
                    detector_ns(&Chen::<WINDOW>::new(eta / 10).with_advertised_interval(), &arrivals)
                }
                Contender::TwoWindow => detector_ns(&TwoWindow::<WINDOW>::new(eta / 10), &arrivals),
                Contender::AkkaPhi => detector_ns(&AkkaPhi::<WINDOW>::new(), &arrivals),
                Contender::CassandraPhi => detector_ns(&CassandraPhi::<WINDOW>::new(), &arrivals),
                Contender::Adaptive => detector_ns(&Adaptive::with_target(1.0), &arrivals),
            };
            let knob = match c {
                Contender::Fixed => 3.0 * eta.as_secs_f64(),
                Contender::Chen | Contender::ChenKnown | Contender::TwoWindow => 0.1 * eta.as_secs_f64(),
                Contender::AkkaPhi | Contender::CassandraPhi => 8.0,
                Contender::Adaptive => 1.0,
            };
            let start = Clock::now();
            c.run(knob, &prefix, &order, lab)?;
            let receiver_ns = start.elapsed().as_nanos() as f64 / arrivals.len().max(1) as f64;
            Ok(Cost { contender: c, bytes: c.bytes_per_peer(), detector_ns, receiver_ns })
        })
        .collect()
}
