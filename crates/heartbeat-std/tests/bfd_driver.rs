//! Two BFD drivers on loopback, each on its own receive port and sending to the other's: the
//! session comes up, a dropped driver is detected at the detection time (diag 1), and a
//! graceful shutdown is seen as AdminDown (diag 3), never as a failure.

#![cfg(target_os = "linux")]

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use heartbeat_proto::bfd::{BfdEvent, BfdEventKind, Diag, SessionConfig, State};
use heartbeat_std::Clock;
use heartbeat_std::bfd::{BfdDriver, BfdHandle, Options, links};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const INTERVAL: Duration = Duration::from_millis(50);
const MULT: u8 = 3;
const DETECTION: Duration = Duration::from_millis(150);
const PATIENCE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

struct Side {
    handle: BfdHandle,
    events: mpsc::Receiver<BfdEvent>,
    seen: Vec<BfdEvent>,
}

impl Side {
    /// Collects events until one satisfies `want`; returns it and when it was received.
    fn wait_for(&mut self, want: impl Fn(&BfdEvent) -> bool) -> (BfdEvent, Instant) {
        let end = Instant::now() + PATIENCE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let event = self.events.recv_timeout(left).unwrap_or_else(|_| panic!("not seen; saw {:#?}", self.seen));
            self.seen.push(event);
            if want(&event) {
                return (event, Instant::now());
            }
        }
    }

    fn drain(&mut self, during: Duration) {
        let end = Instant::now() + during;
        while let Ok(event) = self.events.recv_timeout(end.saturating_duration_since(Instant::now())) {
            self.seen.push(event);
        }
    }
}

fn up(e: &BfdEvent) -> bool {
    matches!(e.kind, BfdEventKind::StateChanged { to: State::Up, .. })
}

/// Two drivers, A (127.0.0.1) and B (127.0.0.2), in session with each other.
fn pair(seed: u64) -> (Side, Side, Clock) {
    let (pa, pb) = (free_port(), free_port());
    let clock = Clock::new();
    let side = |me: IpAddr, peer: IpAddr, mine: u16, theirs: u16, seed: u64| {
        let options = Options::new(seed).with_ports(mine, free_port(), theirs, free_port());
        let mut driver = BfdDriver::new(options, clock).unwrap();
        let mut config = SessionConfig::new(peer, links::ANY).timing(INTERVAL, INTERVAL, MULT);
        config.local = Some(me);
        driver.add_session(config, None).unwrap();
        assert_eq!(driver.listen_addrs().len(), 1);
        let (tx, events) = mpsc::channel();
        let handle = driver
            .spawn(move |e| {
                let _ = tx.send(e);
            })
            .unwrap();
        Side { handle, events, seen: Vec::new() }
    };
    let a = side(A, B, pa, pb, seed);
    let b = side(B, A, pb, pa, seed + 1);
    (a, b, clock)
}

/// Both sides Up and at the fast rate (the Poll after Up has completed).
fn bring_up(a: &mut Side, b: &mut Side) {
    a.wait_for(up);
    b.wait_for(up);
    let end = Instant::now() + PATIENCE;
    loop {
        let status = a.handle.status().unwrap();
        let (_, s) = status.sessions[0];
        if s.detection_time == Some(DETECTION) && s.tx_interval == Some(INTERVAL) {
            let (_, theirs) = b.handle.status().unwrap().sessions[0];
            assert_eq!(s.remote_discriminator, theirs.local_discriminator);
            assert_eq!((s.state, s.remote_state), (State::Up, State::Up));
            assert!(status.io.sent > 0 && status.io.received > 0, "{:?}", status.io);
            return;
        }
        assert!(Instant::now() < end, "never at the fast rate: {s:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_dropped_driver_is_detected_at_the_detection_time_with_diag_1() {
    let (mut a, mut b, _) = pair(100);
    bring_up(&mut a, &mut b);
    let dropped = Instant::now();
    b.handle.abort();
    let (down, seen_at) = a.wait_for(|e| matches!(e.kind, BfdEventKind::StateChanged { to: State::Down, .. }));
    let BfdEventKind::StateChanged { from, diag, .. } = down.kind else { unreachable!() };
    assert_eq!((from, diag), (State::Up, Diag::CONTROL_DETECTION_TIME_EXPIRED), "{:#?}", a.seen);
    // The last packet left B at most one interval before the drop, so the detection time ends
    // between DETECTION - INTERVAL and DETECTION after it (plus scheduling noise).
    let after = seen_at - dropped;
    assert!(after >= DETECTION - INTERVAL - Duration::from_millis(10), "down after {after:?}");
    assert!(after <= DETECTION + Duration::from_millis(150), "down after {after:?}");
    assert!(!a.seen.iter().any(|e| e.kind == BfdEventKind::PeerAdminDown));
    a.handle.abort();
}

#[test]
fn a_graceful_shutdown_is_seen_as_admin_down_not_as_a_failure() {
    let (mut a, mut b, _) = pair(200);
    bring_up(&mut a, &mut b);
    let stopping = Instant::now();
    let stopper = std::thread::spawn(move || {
        b.handle.shutdown();
        Instant::now()
    });
    a.wait_for(|e| e.kind == BfdEventKind::PeerAdminDown);
    let (down, _) = a.wait_for(|e| matches!(e.kind, BfdEventKind::StateChanged { to: State::Down, .. }));
    assert!(
        matches!(down.kind, BfdEventKind::StateChanged { diag, .. } if diag == Diag::NEIGHBOR_SIGNALED_DOWN),
        "{down:?}"
    );
    let stopped = stopper.join().unwrap();
    // B kept sending AdminDown for at least a detection time before it closed its sockets.
    assert!(stopped - stopping >= DETECTION, "stopped after {:?}", stopped - stopping);
    a.drain(3 * DETECTION);
    assert!(!a.seen.iter().any(|e| e.kind.is_failure()), "{:#?}", a.seen);
    let (_, s) = a.handle.status().unwrap().sessions[0];
    assert_eq!((s.state, s.remote_state, s.local_diag), (State::Down, State::AdminDown, Diag::NEIGHBOR_SIGNALED_DOWN));
    a.handle.abort();
}
