//! BFD over tokio on loopback: two tokio BFD drivers, A (127.0.0.1) and B (127.0.0.2), each on
//! its own receive port and sending to the other's. The session comes up (A's only session is
//! added through its handle after the task started, so the task must wait on a socket a
//! command opened), and a graceful shutdown of B is seen by A as AdminDown (diag 3), never as
//! a failure, after B kept sending for at least a detection time.

#![cfg(target_os = "linux")]

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;

use heartbeat_proto::bfd::{BfdEvent, BfdEventKind, Diag, SessionConfig, State};
use heartbeat_std::bfd::{Options, links};
use heartbeat_tokio::bfd::BfdDriver;
use heartbeat_tokio::tokio_clock;
use tokio::time::{Instant, timeout};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const INTERVAL: Duration = Duration::from_millis(50);
const DETECTION: Duration = Duration::from_millis(150);
const PATIENCE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

fn session(me: IpAddr, peer: IpAddr) -> SessionConfig {
    let mut config = SessionConfig::new(peer, links::ANY).timing(INTERVAL, INTERVAL, 3);
    config.local = Some(me);
    config
}

/// Events until one satisfies `want`; every event seen is kept in `seen`.
async fn wait_for(
    events: &mut heartbeat_tokio::Subscription<BfdEvent>,
    seen: &mut Vec<BfdEvent>,
    want: impl Fn(&BfdEvent) -> bool,
) -> BfdEvent {
    let end = Instant::now() + PATIENCE;
    loop {
        let event = timeout(end - Instant::now(), events.recv())
            .await
            .unwrap_or_else(|_| panic!("not seen; saw {seen:#?}"))
            .unwrap();
        seen.push(event);
        if want(&event) {
            return event;
        }
    }
}

fn up(e: &BfdEvent) -> bool {
    matches!(e.kind, BfdEventKind::StateChanged { to: State::Up, .. })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tokio_bfd_drivers_come_up_and_a_graceful_stop_is_admin_down() {
    let (pa, pb) = (free_port(), free_port());
    let clock = tokio_clock();
    let a = BfdDriver::new(Options::new(11).with_ports(pa, free_port(), pb, free_port()), clock);
    let mut b = BfdDriver::new(Options::new(12).with_ports(pb, free_port(), pa, free_port()), clock);
    b.add_session(session(B, A), None).unwrap();
    assert_eq!(b.sockets().inner().listen_addrs().len(), 1);
    let (mut a_events, mut b_events) = (a.subscribe(), b.subscribe());
    let (a, b) = (a.spawn(), b.spawn());
    // A opens its sockets from a command, while its task runs.
    let handle = a.add_session(session(A, B), None).await.unwrap();

    let (mut a_seen, mut b_seen) = (Vec::new(), Vec::new());
    wait_for(&mut a_events, &mut a_seen, up).await;
    wait_for(&mut b_events, &mut b_seen, up).await;
    let status = a.status().await.unwrap();
    assert_eq!(status.sessions[0].0, handle);
    assert!(status.io.sent > 0 && status.io.received > 0, "{:?}", status.io);

    let stopping = Instant::now();
    let stopper = tokio::spawn(async move {
        b.shutdown().await;
        Instant::now()
    });
    wait_for(&mut a_events, &mut a_seen, |e| e.kind == BfdEventKind::PeerAdminDown).await;
    let down = wait_for(&mut a_events, &mut a_seen, |e| matches!(e.kind, BfdEventKind::StateChanged { .. })).await;
    assert!(
        matches!(down.kind, BfdEventKind::StateChanged { to: State::Down, diag, .. } if diag == Diag::NEIGHBOR_SIGNALED_DOWN),
        "{down:?}"
    );
    let stopped = stopper.await.unwrap();
    assert!(stopped - stopping >= DETECTION, "B stopped after {:?}", stopped - stopping);
    assert!(!a_seen.iter().any(|e| e.kind.is_failure()), "{a_seen:#?}");
    a.abort().await;
}
