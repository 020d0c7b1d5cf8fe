//! A subscriber that falls far behind still receives every event, in order: the driver keeps
//! a queue per subscriber and never drops (a broadcast channel used to drop all but the last
//! 1024 for a lagging subscriber).

use std::time::Duration;

use heartbeat_proto::{Authentication, ClusterId, Config, EventKind, FixedTimeout, NodeId};
use heartbeat_tokio::{Closed, Driver, TryRecvError, tokio_clock};

fn id(n: u64) -> NodeId {
    NodeId::new(n).unwrap()
}

/// 3000 silent peers go down at once while one subscriber reads nothing: it then reads all
/// 3000 downs, each peer's once, while a subscriber that kept up saw the same sequence.
#[tokio::test(start_paused = true)]
async fn a_subscriber_that_reads_nothing_for_a_while_misses_no_event() {
    const PEERS: u64 = 3000;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Nobody answers here.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let config = Config::builder(ClusterId(3), id(1))
        .authentication(Authentication::None)
        .max_peers(PEERS as usize + 1)
        .interval(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .tick(Duration::from_secs(10))
        .initdead(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut driver = Driver::new(config, FixedTimeout::new(), vec![socket], tokio_clock()).unwrap();
    for peer in 2..PEERS + 2 {
        driver.add_peer(id(peer), &[silent]).unwrap();
    }
    let mut lagging = driver.subscribe();
    let mut keeping_up = driver.subscribe();
    let handle = driver.spawn();
    let mut seen = Vec::new();
    while seen.len() < PEERS as usize {
        let event = tokio::time::timeout(Duration::from_secs(3600), keeping_up.recv()).await.unwrap().unwrap();
        assert!(matches!(event.kind, EventKind::Down { .. }), "{event:?}");
        seen.push(event);
    }
    // Far beyond what a broadcast channel kept.
    assert_eq!(lagging.backlog(), PEERS as usize);
    for expected in &seen {
        assert_eq!(lagging.try_recv().as_ref(), Ok(expected));
    }
    assert_eq!(lagging.try_recv(), Err(TryRecvError::Empty));
    let mut peers: Vec<u64> = seen.iter().map(|e| e.peer.get()).collect();
    peers.sort_unstable();
    peers.dedup();
    assert_eq!(peers.len(), PEERS as usize);

    // Once the driver has stopped, a subscriber gets what was left, then `Closed`; so does one
    // that subscribes after.
    handle.abort().await;
    assert_eq!(lagging.recv().await, Err(Closed));
    assert_eq!(handle.subscribe().recv().await, Err(Closed));
}
