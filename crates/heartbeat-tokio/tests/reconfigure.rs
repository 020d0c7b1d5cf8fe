//! Changing a running tokio driver's timing and detector through its handle, on real loopback
//! sockets: the peer sees the new interval and timeout, nobody is declared down, and a change
//! only a new node can take is refused with its field.

mod common;

use std::time::Duration;

use common::*;
use heartbeat_proto::{Authentication, ClusterId, Config, EventKind, FixedTimeout, Generation};

/// Node 1's configuration with another interval and timeout (same identity as `config`).
fn retimed(cluster: u32, interval: Duration, timeout: Duration) -> Config {
    Config::builder(ClusterId(cluster), id(1))
        .authentication(Authentication::None)
        .generation(Generation(1))
        .tick(Duration::from_millis(25))
        .interval(interval)
        .timeout(timeout)
        .seed(1)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_retimes_and_replaces_the_detector_without_a_verdict() {
    let mut log = Log::new();
    let (nodes, _) = converged_cluster(&mut log, 2).await;
    let mark = log.seen.len();
    let (interval, timeout) = (Duration::from_millis(25), Duration::from_millis(400));
    nodes[0].reconfigure(retimed(0x70c1, interval, timeout)).await.unwrap().unwrap();
    nodes[0].replace_detector(FixedTimeout::with_suspect_permille(900)).await.unwrap();
    log.observe(TIMEOUT * 4).await;
    let mine = nodes[0].status().await.unwrap();
    assert_eq!((mine.config.interval(), mine.config.timeout()), (interval, timeout));
    let theirs = nodes[1].status().await.unwrap();
    let seen = theirs.peers.iter().find(|p| p.id == id(1)).unwrap();
    assert_eq!((seen.interval, seen.timeout), (Some(interval), timeout));
    let verdicts: Vec<_> = log.seen[mark..]
        .iter()
        .filter(|s| matches!(s.event.kind, EventKind::Down { .. } | EventKind::Suspect { .. }))
        .collect();
    assert!(verdicts.is_empty(), "{verdicts:#?}");
    let refused = nodes[0].reconfigure(retimed(0x70c2, interval, timeout)).await.unwrap().unwrap_err();
    assert_eq!(refused.field, "cluster");
    assert_eq!(nodes[0].status().await.unwrap().config.cluster(), ClusterId(0x70c1));
}
