//! Our BFD against the real thing: a `BfdDriver` (heartbeat-std) runs inside network namespace
//! `a`, FRR's bfdd or BIRD inside `b`, joined by a veth.
//!
//! For each daemon: the session comes Up whichever side starts first; a SIGKILLed daemon is
//! detected with diag 1 at the detection time; our graceful stop reaches the daemon as AdminDown
//! (diag 7, answered with diag 3), not as a timeout. With BIRD every authentication type comes
//! Up with the right key and stays Down with a wrong one. A capture shows our TTL 255 and CS6.
//!
//! Needs root, iproute2, tcpdump, `frr` and `bird2`. Without them the tests fail with a message
//! saying what is missing; none passes unless the daemon ran and answered.

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use heartbeat_proto::bfd::auth::{AuthType, BfdKey, BfdKeys};
use heartbeat_proto::bfd::{BfdEvent, BfdEventKind, Diag, SessionConfig, SessionStatus, State};
use heartbeat_std::Clock;
use heartbeat_std::bfd::{BfdDriver, BfdHandle, Options, links, source_port};
use heartbeat_tests::bird::{AuthKind, Bird, BirdAuth, BirdConfig, BirdInterface, BirdNeighbor, BirdSessionOptions};
use heartbeat_tests::frr::{Frr, FrrConfig, FrrPeer, Status, diag};
use heartbeat_tests::netns::{Check, Error, Namespace, Pair, wait_for};
use heartbeat_tests::pcap;

/// Bound for a session to come Up (every side starts at the 1 s slow rate).
const UP_WITHIN: Duration = Duration::from_secs(10);
/// The daemons' and our timing: 300 ms / 300 ms / 3, so a detection time of 900 ms.
const INTERVAL: Duration = Duration::from_millis(300);
const DETECTION: Duration = Duration::from_millis(900);
/// Bound for tcpdump to write out what crossed the veth (it may read late on a loaded machine).
const CAPTURED_WITHIN: Duration = Duration::from_secs(10);

type TestResult = Result<(), Error>;

fn failed(problem: impl Into<String>) -> Error {
    Error::Daemon { daemon: "heartbeat BfdDriver".into(), problem: problem.into(), log: String::new() }
}

/// Our side: a driver with one session, running on a thread inside a namespace.
struct Ours {
    handle: Option<BfdHandle>,
    events: mpsc::Receiver<BfdEvent>,
    seen: Vec<BfdEvent>,
}

impl Ours {
    /// Starts a driver inside `ns` with a single-hop session to `peer` on `interface`.
    fn start(ns: &Namespace, peer: IpAddr, interface: &str, keys: Option<BfdKeys>) -> Result<Ours, Error> {
        let mut config = SessionConfig::new(peer, links::ANY).timing(INTERVAL, INTERVAL, 3);
        config.keys = keys;
        Ours::start_with(ns, config, Some(interface))
    }

    fn start_with(ns: &Namespace, config: SessionConfig, interface: Option<&str>) -> Result<Ours, Error> {
        let (tx, events) = mpsc::channel();
        let interface = interface.map(str::to_owned);
        // Sockets made and the thread spawned inside the namespace stay in it.
        let handle = ns.within(move || -> Result<BfdHandle, String> {
            let mut driver = BfdDriver::new(Options::new(seed()), Clock::new()).map_err(|e| e.to_string())?;
            driver.add_session(config, interface.as_deref()).map_err(|e| e.to_string())?;
            driver
                .spawn(move |event| {
                    let _ = tx.send(event);
                })
                .map_err(|e| e.to_string())
        })?;
        Ok(Ours { handle: Some(handle.map_err(failed)?), events, seen: Vec::new() })
    }

    fn handle(&self) -> &BfdHandle {
        self.handle.as_ref().expect("running")
    }

    /// Waits for an event satisfying `want`; returns it and when it was received.
    fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        want: impl Fn(&BfdEvent) -> bool,
    ) -> Result<(BfdEvent, Instant), Error> {
        let end = Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event);
                    if want(&event) {
                        return Ok((event, Instant::now()));
                    }
                }
                Err(_) => return Err(failed(format!("no {what} within {within:?}; saw {:#?}", self.seen))),
            }
        }
    }

    fn wait_up(&mut self) -> Result<(), Error> {
        self.wait_for("Up", UP_WITHIN, |e| matches!(e.kind, BfdEventKind::StateChanged { to: State::Up, .. })).map(drop)
    }

    /// Waits until our session runs at the fast rate (the Poll after Up has completed).
    fn wait_fast(&mut self) -> Result<(), Error> {
        wait_status(self, "at the fast rate", |s| {
            s.state == State::Up && s.detection_time == Some(DETECTION) && s.tx_interval == Some(INTERVAL)
        })
        .map(drop)
    }

    /// Graceful: AdminDown for one detection time, then stop (blocks meanwhile).
    fn shutdown(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        // Quick on the way out; the graceful path is tested on purpose where it matters.
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::from(t.subsec_nanos()) ^ u64::from(std::process::id()).rotate_left(32)
}

fn is_down(e: &BfdEvent) -> bool {
    matches!(e.kind, BfdEventKind::StateChanged { to: State::Down, .. })
}

/// After a SIGKILL of the peer: Down with diag 1, between DETECTION - INTERVAL (the last packet
/// left at most an interval before the kill) and DETECTION plus slack.
fn assert_detected(ours: &mut Ours, killed: Instant) -> TestResult {
    let (down, at) = ours.wait_for("Down", Duration::from_secs(5), is_down)?;
    let after = at - killed;
    eprintln!("Down {after:?} after the kill: {down:?}");
    assert!(
        matches!(down.kind, BfdEventKind::StateChanged { from: State::Up, diag, .. } if diag == Diag::CONTROL_DETECTION_TIME_EXPIRED),
        "{down:?}"
    );
    assert!(
        after >= DETECTION - INTERVAL - Duration::from_millis(50),
        "Down after {after:?}: before any detection time"
    );
    assert!(after <= DETECTION + Duration::from_millis(300), "Down after {after:?}: late");
    let (_, s) = ours.handle().status().map_err(|_| failed("driver stopped"))?.sessions[0];
    assert_eq!((s.state, s.local_diag, s.remote_discriminator), (State::Down, Diag::CONTROL_DETECTION_TIME_EXPIRED, 0));
    Ok(())
}

// ----- FRR -----------------------------------------------------------------------------------

fn frr_peer() -> FrrPeer {
    FrrPeer::single_hop(Pair::A_V4.into(), Pair::B_DEV)
}

fn frr_up_whoever_starts_first(ours_first: bool, v6: bool) -> TestResult {
    let net = Pair::new()?;
    let peer = FrrPeer::single_hop(net.a_addr(v6), Pair::B_DEV);
    let (mut ours, frr) = if ours_first {
        let ours = Ours::start(&net.a, net.b_addr(v6), Pair::A_DEV, None)?;
        std::thread::sleep(Duration::from_millis(1500)); // we send alone for a while
        (ours, Frr::start(&net.b, FrrConfig { peers: vec![peer] })?)
    } else {
        let frr = Frr::start(&net.b, FrrConfig { peers: vec![peer] })?;
        frr.wait_peer(net.a_addr(v6), Status::Down, UP_WITHIN)?;
        std::thread::sleep(Duration::from_millis(1500)); // FRR sends alone for a while
        (Ours::start(&net.a, net.b_addr(v6), Pair::A_DEV, None)?, frr)
    };
    ours.wait_up()?;
    ours.wait_fast()?;
    let state = frr.wait_peer(net.a_addr(v6), Status::Up, UP_WITHIN)?;
    let (_, s) = ours.handle().status().map_err(|_| failed("driver stopped"))?.sessions[0];
    assert_eq!((state.remote_id, state.id), (s.local_discriminator, s.remote_discriminator), "{state:?} / {s:?}");
    assert_eq!(
        (state.remote_transmit_interval, state.remote_receive_interval, state.remote_detect_multiplier),
        (300, 300, 3)
    );
    Ok(())
}

#[test]
fn frr_comes_up_when_we_start_first() -> TestResult {
    frr_up_whoever_starts_first(true, false)
}

#[test]
fn frr_comes_up_when_it_starts_first() -> TestResult {
    frr_up_whoever_starts_first(false, false)
}

#[test]
fn frr_comes_up_over_ipv6() -> TestResult {
    frr_up_whoever_starts_first(true, true)
}

#[test]
fn a_killed_frr_is_detected_with_diag_1_at_the_detection_time() -> TestResult {
    let net = Pair::new()?;
    let mut frr = Frr::start(&net.b, FrrConfig { peers: vec![frr_peer()] })?;
    let mut ours = Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, None)?;
    ours.wait_up()?;
    ours.wait_fast()?;
    frr.wait_peer(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    frr.kill()?;
    assert_detected(&mut ours, Instant::now())
}

#[test]
fn our_graceful_stop_reaches_frr_as_admin_down_not_as_a_timeout() -> TestResult {
    let net = Pair::new()?;
    let frr = Frr::start(&net.b, FrrConfig { peers: vec![frr_peer()] })?;
    let mut ours = Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, None)?;
    ours.wait_up()?;
    ours.wait_fast()?;
    frr.wait_peer(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    let stopping = Instant::now();
    ours.shutdown();
    // We sent AdminDown for at least a detection time before closing the sockets.
    assert!(stopping.elapsed() >= DETECTION, "stopped after {:?}", stopping.elapsed());
    let down = frr.wait_peer(Pair::A_V4.into(), Status::Down, Duration::from_secs(2))?;
    eprintln!("FRR after our stop: {down:?}");
    assert_eq!(down.remote_diagnostic, diag::ADMIN_DOWN, "{down:?}");
    assert_eq!(down.diagnostic, diag::NEIGHBOR_DOWN, "{down:?}");
    // Silence afterwards must not turn into a detection-time failure.
    std::thread::sleep(DETECTION + INTERVAL);
    let later = frr.peer(Pair::A_V4.into())?;
    assert_ne!(later.diagnostic, diag::DETECTION_TIME_EXPIRED, "{later:?}");
    Ok(())
}

#[test]
fn frr_multihop_comes_up_and_accepts_our_ttl() -> TestResult {
    let net = Pair::new()?;
    let peer = FrrPeer::multihop(Pair::A_V4.into(), Pair::B_V4.into());
    let frr = Frr::start(&net.b, FrrConfig { peers: vec![peer] })?;
    let mut config = SessionConfig::new(Pair::B_V4.into(), links::ANY).timing(INTERVAL, INTERVAL, 3).multi_hop(254);
    config.local = Some(Pair::A_V4.into());
    let mut ours = Ours::start_with(&net.a, config, None)?;
    ours.wait_up()?;
    let state = frr.wait_peer(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    assert!(state.multihop, "{state:?}");
    Ok(())
}

/// Waits until our one session's status satisfies `want`.
fn wait_status(ours: &Ours, what: &str, want: impl Fn(&SessionStatus) -> bool) -> Result<SessionStatus, Error> {
    wait_for(&format!("our session {what}"), UP_WITHIN, || {
        let (_, s) = ours.handle().status().map_err(|_| failed("driver stopped"))?.sessions[0];
        Ok(if want(&s) { Check::Done(s) } else { Check::Waiting(format!("{s:?}")) })
    })
}

/// What a running capture holds so far: its last record may still be half written, and is then
/// read on the next look.
fn so_far(file: &std::path::Path) -> Vec<pcap::Datagram> {
    pcap::read_udp(file).unwrap_or_default()
}

/// A control packet's (state, diag) codes.
fn state_diag(p: &pcap::Datagram) -> Option<(u8, u8)> {
    p.bfd().map(|b| (b.state.to_bits(), b.diag.0))
}

/// Whether the packets hold one from `poller` with P set that advertises `desired_min_tx_us`,
/// and after it one from the other side with F set.
fn poll_then_final(packets: &[pcap::Datagram], poller: IpAddr, desired_min_tx_us: u32) -> bool {
    let poll = packets.iter().position(|p| {
        p.source.ip() == poller && p.bfd().is_some_and(|b| b.poll && b.desired_min_tx == desired_min_tx_us)
    });
    poll.is_some_and(|poll| {
        packets[poll..].iter().any(|p| p.source.ip() != poller && p.bfd().is_some_and(|b| b.final_))
    })
}

/// Waits until the running capture in `file` shows `poller`'s Poll advertising
/// `desired_min_tx_us` answered by a Final. (tcpdump writes each packet as it reads it, but
/// may read late on a loaded machine, and drops what it has not read when stopped.)
fn wait_poll_then_final(file: &std::path::Path, poller: IpAddr, desired_min_tx_us: u32) -> TestResult {
    let what = format!("a Poll from {poller} advertising {desired_min_tx_us} us answered with Final");
    wait_for(&what, CAPTURED_WITHIN, || {
        let packets = so_far(file);
        Ok(if poll_then_final(&packets, poller, desired_min_tx_us) {
            Check::Done(())
        } else {
            Check::Waiting(format!("{packets:#?}"))
        })
    })
}

/// A session between us and FRR at the fast rate, with a capture running on FRR's end.
struct Captured {
    net: Pair,
    dir: tempfile::TempDir,
    file: std::path::PathBuf,
    capture: heartbeat_tests::netns::Capture,
    frr: Frr,
    ours: Ours,
}

fn up_with_frr_captured() -> Result<Captured, Error> {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bfd.pcap");
    let capture = net.b.capture(Pair::B_DEV, &file, "udp port 3784")?;
    let frr = Frr::start(&net.b, FrrConfig { peers: vec![frr_peer()] })?;
    let mut ours = Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, None)?;
    ours.wait_up()?;
    ours.wait_fast()?;
    frr.wait_peer(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    Ok(Captured { net, dir, file, capture, frr, ours })
}

#[test]
fn a_timing_change_by_frr_goes_through_poll_final_and_sets_our_detection_time() -> TestResult {
    let Captured { net: _net, dir: _dir, file, mut capture, frr, ours } = up_with_frr_captured()?;
    // FRR slows down to 600 ms / 600 ms / 5: we must send every max(300, 600) ms and detect
    // after 5 × max(our 300, its 600) ms.
    frr.set_timers(&frr_peer(), 600, 600, 5)?;
    let s = wait_status(&ours, "at FRR's new timing", |s| {
        s.tx_interval == Some(Duration::from_millis(600)) && s.detection_time == Some(Duration::from_secs(3))
    })?;
    assert_eq!(s.state, State::Up, "{s:?}");
    wait_poll_then_final(&file, Pair::B_V4.into(), 600_000)?;
    capture.stop();
    assert!(!ours.seen.iter().any(is_down), "{:#?}", ours.seen);
    Ok(())
}

#[test]
fn our_timing_change_goes_through_poll_final_and_frr_applies_it() -> TestResult {
    let Captured { net: _net, dir: _dir, file, mut capture, frr, ours } = up_with_frr_captured()?;
    let (session, _) = ours.handle().status().map_err(|_| failed("driver stopped"))?.sessions[0];
    let slow = Duration::from_millis(600);
    ours.handle()
        .with_host(move |host, now| host.set_timing(session, now, slow, slow, 5))
        .map_err(|_| failed("driver stopped"))?
        .map_err(|e| failed(format!("set_timing refused: {e}")))?;
    let state = frr.wait_peer_where(Pair::A_V4.into(), "at our new timing", UP_WITHIN, |p| {
        (p.remote_transmit_interval, p.remote_receive_interval, p.remote_detect_multiplier) == (600, 600, 5)
    })?;
    assert_eq!(state.status, Status::Up, "{state:?}");
    // Ours now: tx max(600, FRR's 300) ms; detection FRR's 3 × max(our 600, its 300) ms.
    wait_status(&ours, "at our new timing", |s| {
        s.tx_interval == Some(slow) && s.detection_time == Some(Duration::from_millis(1800)) && !s.poll_in_progress
    })?;
    wait_poll_then_final(&file, Pair::A_V4.into(), 600_000)?;
    capture.stop();
    assert_eq!(frr.peer(Pair::A_V4.into())?.status, Status::Up);
    Ok(())
}

// ----- BIRD ----------------------------------------------------------------------------------

fn bird_config(auth: Option<BirdAuth>) -> BirdConfig {
    let options = BirdSessionOptions { auth, ..BirdSessionOptions::default() };
    BirdConfig::new(Pair::B_V4)
        .interface(BirdInterface::new(Pair::B_DEV).options(options))
        .neighbor(BirdNeighbor::single_hop(Pair::A_V4.into(), Pair::B_DEV))
}

fn bird_up_whoever_starts_first(ours_first: bool) -> TestResult {
    let net = Pair::new()?;
    let (mut ours, bird) = if ours_first {
        let ours = Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, None)?;
        std::thread::sleep(Duration::from_millis(1500));
        (ours, Bird::start(&net.b, bird_config(None))?)
    } else {
        let bird = Bird::start(&net.b, bird_config(None))?;
        bird.wait_session(Pair::A_V4.into(), Status::Down, UP_WITHIN)?;
        std::thread::sleep(Duration::from_millis(1500));
        (Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, None)?, bird)
    };
    ours.wait_up()?;
    ours.wait_fast()?;
    let session = bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    assert_eq!((session.interval, session.timeout), (INTERVAL, DETECTION), "{session:?}");
    Ok(())
}

#[test]
fn bird_comes_up_when_we_start_first() -> TestResult {
    bird_up_whoever_starts_first(true)
}

#[test]
fn bird_comes_up_when_it_starts_first() -> TestResult {
    bird_up_whoever_starts_first(false)
}

#[test]
fn a_killed_bird_is_detected_with_diag_1_at_the_detection_time() -> TestResult {
    let net = Pair::new()?;
    let mut bird = Bird::start(&net.b, bird_config(None))?;
    let mut ours = Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, None)?;
    ours.wait_up()?;
    ours.wait_fast()?;
    bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    bird.kill()?;
    assert_detected(&mut ours, Instant::now())
}

#[test]
fn our_graceful_stop_reaches_bird_as_admin_down_and_our_packets_carry_ttl_255() -> TestResult {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bfd.pcap");
    let mut capture = net.b.capture(Pair::B_DEV, &file, "udp port 3784")?;
    let bird = Bird::start(&net.b, bird_config(None))?;
    let mut ours = Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, None)?;
    ours.wait_up()?;
    ours.wait_fast()?;
    bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    let stopping = Instant::now();
    let stopper = std::thread::spawn(move || {
        ours.shutdown();
        ours
    });
    // BIRD goes Down while we are still sending (AdminDown), so not by a detection timeout.
    bird.wait_session(Pair::A_V4.into(), Status::Down, DETECTION)?;
    let bird_down = stopping.elapsed();
    let ours = stopper.join().expect("shutdown thread");
    assert!(stopping.elapsed() >= DETECTION && bird_down < stopping.elapsed(), "{bird_down:?}");
    drop(ours);
    // tcpdump may read late on a loaded machine: wait for the exchange to reach the file.
    let said_admin_down = |packets: &[pcap::Datagram]| {
        let from = |ip: std::net::Ipv4Addr, state, diag| {
            packets.iter().any(|p| p.source.ip() == IpAddr::from(ip) && state_diag(p) == Some((state, diag)))
        };
        from(Pair::A_V4, 0, 7) && from(Pair::B_V4, 1, 3)
    };
    wait_for("the AdminDown exchange in the capture", CAPTURED_WITHIN, || {
        let packets = so_far(&file);
        Ok(if said_admin_down(&packets) { Check::Done(()) } else { Check::Waiting(format!("{packets:#?}")) })
    })?;
    capture.stop();

    let packets = pcap::read_udp(&file).expect("the stopped capture reads whole");
    let ours: Vec<_> = packets.iter().filter(|p| p.source.ip() == IpAddr::from(Pair::A_V4)).collect();
    let theirs: Vec<_> = packets.iter().filter(|p| p.source.ip() == IpAddr::from(Pair::B_V4)).collect();
    assert!(ours.len() >= 5 && theirs.len() >= 5, "{packets:#?}");
    for p in &ours {
        assert_eq!((p.ttl, p.tos, p.destination.port()), (255, 0xC0, 3784), "{p:?}");
        assert!(p.bfd().is_some(), "not a valid control packet: {p:?}");
        assert!(source_port::RANGE.contains(&p.source.port()), "{p:?}");
        assert_eq!(p.source.port(), ours[0].source.port(), "one source port per session: {p:?}");
    }
    // We said AdminDown with diag 7; BIRD answered Down with diag 3 and never diag 1.
    assert!(ours.iter().any(|p| state_diag(p) == Some((0, 7))), "{ours:#?}");
    assert!(theirs.iter().any(|p| state_diag(p) == Some((1, 3))), "{theirs:#?}");
    assert!(!theirs.iter().any(|p| state_diag(p).is_some_and(|(_, diag)| diag == 1)), "{theirs:#?}");
    Ok(())
}

#[test]
fn timing_changes_with_bird_go_through_poll_final_both_ways() -> TestResult {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bfd.pcap");
    let mut capture = net.b.capture(Pair::B_DEV, &file, "udp port 3784")?;
    let mut bird = Bird::start(&net.b, bird_config(None))?;
    let mut ours = Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, None)?;
    ours.wait_up()?;
    ours.wait_fast()?;
    bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    // BIRD slows down to 600 ms / 600 ms / 5: we send every 600 ms and detect after 3 s.
    let slow = BirdSessionOptions { min_rx_ms: 600, min_tx_ms: 600, multiplier: 5, ..BirdSessionOptions::default() };
    bird.reconfigure(
        BirdConfig::new(Pair::B_V4)
            .interface(BirdInterface::new(Pair::B_DEV).options(slow))
            .neighbor(BirdNeighbor::single_hop(Pair::A_V4.into(), Pair::B_DEV)),
    )?;
    wait_status(&ours, "at BIRD's new timing", |s| {
        s.tx_interval == Some(Duration::from_millis(600)) && s.detection_time == Some(Duration::from_secs(3))
    })?;
    // We slow down to 900 ms / 900 ms / 4: BIRD's detection time becomes 4 × 900 ms.
    let (session, _) = ours.handle().status().map_err(|_| failed("driver stopped"))?.sessions[0];
    let slower = Duration::from_millis(900);
    ours.handle()
        .with_host(move |host, now| host.set_timing(session, now, slower, slower, 4))
        .map_err(|_| failed("driver stopped"))?
        .map_err(|e| failed(format!("set_timing refused: {e}")))?;
    let theirs = bird.wait_session_where(Pair::A_V4.into(), "at our new timing", UP_WITHIN, |s| {
        s.status == Status::Up && s.timeout == Duration::from_millis(3600)
    })?;
    assert_eq!(theirs.interval, slower, "{theirs:?}");
    wait_status(&ours, "settled at our new timing", |s| {
        s.tx_interval == Some(slower) && s.detection_time == Some(5 * slower) && !s.poll_in_progress
    })?;
    wait_poll_then_final(&file, Pair::B_V4.into(), 600_000)?;
    wait_poll_then_final(&file, Pair::A_V4.into(), 900_000)?;
    capture.stop();
    assert!(!ours.seen.iter().any(is_down), "{:#?}", ours.seen);
    Ok(())
}

fn bird_auth(kind: AuthKind) -> TestResult {
    let secret = "hbt-secret-0042";
    let auth_type = match kind {
        AuthKind::Simple => AuthType::SimplePassword,
        AuthKind::KeyedMd5 => AuthType::KeyedMd5,
        AuthKind::MeticulousKeyedMd5 => AuthType::MeticulousKeyedMd5,
        AuthKind::KeyedSha1 => AuthType::KeyedSha1,
        AuthKind::MeticulousKeyedSha1 => AuthType::MeticulousKeyedSha1,
        other => panic!("unknown type {other:?}"),
    };
    let keys = BfdKeys::new(BfdKey::new(auth_type, 7, secret.as_bytes()).expect("a valid key"));
    let net = Pair::new()?;
    // A wrong secret first: BIRD's packets arrive and are refused, and the session stays Down.
    let wrong = BirdAuth { kind, key_id: 7, secret: "not-the-secret".into() };
    let mut bird = Bird::start(&net.b, bird_config(Some(wrong)))?;
    let mut ours = Ours::start(&net.a, Pair::B_V4.into(), Pair::A_DEV, Some(keys))?;
    let moved = ours
        .wait_for("a state change", Duration::from_secs(3), |e| matches!(e.kind, BfdEventKind::StateChanged { .. }));
    assert!(moved.is_err(), "a wrong key moved the session: {:#?}", ours.seen);
    let (_, s) = ours.handle().status().map_err(|_| failed("driver stopped"))?.sessions[0];
    assert_eq!((s.state, s.stats.received), (State::Down, 0), "{s:?}");
    assert!(s.stats.rejected.total() >= 2, "BIRD's packets never arrived: {s:?}");
    assert_ne!(bird.session(Pair::A_V4.into())?.map(|b| b.status), Some(Status::Up));

    // The right one: Up on both sides.
    bird.reconfigure(bird_config(Some(BirdAuth { kind, key_id: 7, secret: secret.into() })))?;
    ours.wait_up()?;
    ours.wait_fast()?;
    bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    // And stays Up over several detection times (sequence numbers keep being accepted).
    std::thread::sleep(3 * DETECTION);
    let (_, s) = ours.handle().status().map_err(|_| failed("driver stopped"))?.sessions[0];
    assert_eq!(s.state, State::Up, "{:#?}", ours.seen);
    assert!(!ours.seen.iter().any(|e| e.kind.is_failure()), "{:#?}", ours.seen);
    assert_eq!(bird.session(Pair::A_V4.into())?.map(|b| b.status), Some(Status::Up));
    Ok(())
}

#[test]
fn bird_simple_password() -> TestResult {
    bird_auth(AuthKind::Simple)
}

#[test]
fn bird_keyed_md5() -> TestResult {
    bird_auth(AuthKind::KeyedMd5)
}

#[test]
fn bird_meticulous_keyed_md5() -> TestResult {
    bird_auth(AuthKind::MeticulousKeyedMd5)
}

#[test]
fn bird_keyed_sha1() -> TestResult {
    bird_auth(AuthKind::KeyedSha1)
}

#[test]
fn bird_meticulous_keyed_sha1() -> TestResult {
    bird_auth(AuthKind::MeticulousKeyedSha1)
}
