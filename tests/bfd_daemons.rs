//! The BFD daemon harness proven on the daemons themselves: FRR bfdd and BIRD, each in a
//! network namespace of its own, talk BFD to each other over a veth.
//!
//! These tests need root, iproute2, `frr` and `bird2` (CI installs them). Without them they fail
//! with a message that says what is missing; they never pass without the daemons running.

use std::net::{IpAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use heartbeat_tests::bird::{AuthKind, Bird, BirdAuth, BirdConfig, BirdInterface, BirdNeighbor, BirdSessionOptions};
use heartbeat_tests::frr::{Frr, FrrConfig, FrrPeer, Status, diag};
use heartbeat_tests::netns::{self, Error, Namespace, Pair};

/// Bound for a session to come Up (both daemons start at the 1 s slow rate).
const UP_WITHIN: Duration = Duration::from_secs(10);
/// Bound for a 3 x 300 ms detection to fire, with slack for a loaded machine.
const DOWN_WITHIN: Duration = Duration::from_secs(4);

type TestResult = Result<(), Error>;

/// BIRD's side of a single-hop session with `a` from `b` over the pair's veth.
fn bird_single_hop(net: &Pair, v6: bool) -> BirdConfig {
    BirdConfig::new(Pair::B_V4)
        .interface(BirdInterface::new(Pair::B_DEV))
        .neighbor(BirdNeighbor::single_hop(net.a_addr(v6), Pair::B_DEV))
}

/// Asserts that the namespaces and processes of a finished test are gone.
fn assert_cleaned_up(names: &[String], pids: &[u32]) {
    for name in names {
        assert!(!netns::exists(name), "namespace {name} is still there");
        assert!(!netns::list().unwrap().contains(name), "namespace {name} is still listed");
    }
    for pid in pids {
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "process {pid} still runs");
    }
}

/// FRR in `a`, BIRD in `b`: both report Up, BIRD is killed, FRR goes Down with diag 1, and
/// everything is removed afterwards.
fn frr_detects_a_killed_bird(v6: bool) -> TestResult {
    let begin = Instant::now();
    let net = Pair::new()?;
    let (frr_addr, bird_addr) = (net.a_addr(v6), net.b_addr(v6));
    let frr = Frr::start(&net.a, FrrConfig { peers: vec![FrrPeer::single_hop(bird_addr, Pair::A_DEV)] })?;
    let mut bird = Bird::start(&net.b, bird_single_hop(&net, v6))?;
    eprintln!("startup: FRR {:?}, BIRD {:?}", frr.startup_time(), bird.startup_time());

    let up = frr.wait_peer(bird_addr, Status::Up, UP_WITHIN)?;
    let session = bird.wait_session(frr_addr, Status::Up, UP_WITHIN)?;
    eprintln!("both Up after {:?}", begin.elapsed());
    assert_ne!(up.remote_id, 0, "an Up peer knows the remote discriminator");
    assert_eq!((up.remote_receive_interval, up.remote_transmit_interval, up.remote_detect_multiplier), (300, 300, 3));
    assert_eq!(session.interval, Duration::from_millis(300));
    assert_eq!(session.interface.as_deref(), Some(Pair::B_DEV));

    bird.kill()?;
    let killed = Instant::now();
    let down = frr.wait_peer(bird_addr, Status::Down, DOWN_WITHIN)?;
    eprintln!("FRR Down {:?} after the kill: {down:?}", killed.elapsed());
    assert_eq!(down.diagnostic, diag::DETECTION_TIME_EXPIRED);
    assert_eq!(down.remote_id, 0, "RFC 5880 6.8.1: the remote discriminator is forgotten");
    assert!(killed.elapsed() >= Duration::from_millis(600), "Down came before a detection time could pass");

    let (names, pids) = (net.names(), vec![frr.bfdd_pid(), bird.pid()]);
    drop((frr, bird, net));
    assert_cleaned_up(&names, &pids);
    Ok(())
}

#[test]
fn frr_and_bird_come_up_over_ipv4_and_frr_detects_a_killed_bird() -> TestResult {
    frr_detects_a_killed_bird(false)
}

#[test]
fn frr_and_bird_come_up_over_ipv6_and_frr_detects_a_killed_bird() -> TestResult {
    frr_detects_a_killed_bird(true)
}

#[test]
fn frr_admin_shutdown_takes_bird_down_and_no_shutdown_brings_it_back() -> TestResult {
    let net = Pair::new()?;
    let peer = FrrPeer::single_hop(Pair::B_V4.into(), Pair::A_DEV);
    let frr = Frr::start(&net.a, FrrConfig { peers: vec![peer.clone()] })?;
    let bird = Bird::start(&net.b, bird_single_hop(&net, false))?;
    frr.wait_peer(Pair::B_V4.into(), Status::Up, UP_WITHIN)?;
    bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;

    frr.shutdown_peer(&peer)?;
    let shut = frr.wait_peer(Pair::B_V4.into(), Status::AdminDown, DOWN_WITHIN)?;
    bird.wait_session(Pair::A_V4.into(), Status::Down, DOWN_WITHIN)?;
    // FRR 8.4 keeps its local diagnostic at "ok" (and sends diag 0 in its AdminDown packet);
    // BIRD answers AdminDown with Down / diag 3.
    eprintln!("after shutdown: {shut:?}");
    assert_eq!(shut.remote_diagnostic, diag::NEIGHBOR_DOWN);

    frr.enable_peer(&peer)?;
    frr.wait_peer(Pair::B_V4.into(), Status::Up, UP_WITHIN)?;
    bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;
    Ok(())
}

#[test]
fn frr_and_bird_multihop_come_up_once_frr_accepts_birds_ttl() -> TestResult {
    let net = Pair::new()?;
    let (a, b): (IpAddr, IpAddr) = (Pair::A_V4.into(), Pair::B_V4.into());
    // BIRD sends multihop packets with TTL 64; FRR's default minimum-ttl is 254.
    let peer = FrrPeer::multihop(b, a).minimum_ttl(1);
    let frr = Frr::start(&net.a, FrrConfig { peers: vec![peer.clone()] })?;
    let config =
        BirdConfig::new(Pair::B_V4).multihop(BirdSessionOptions::default()).neighbor(BirdNeighbor::multihop(a, b));
    let bird = Bird::start(&net.b, config)?;
    let up = frr.wait_peer(b, Status::Up, UP_WITHIN)?;
    assert!(up.multihop);
    assert_eq!(bird.wait_session(a, Status::Up, UP_WITHIN)?.interface, None);

    // Timer change on a live session: FRR polls, BIRD follows the slower rate.
    frr.set_timers(&peer, 600, 600, 3)?;
    bird.wait_session_where(a, "at the 600 ms rate", UP_WITHIN, |s| {
        s.status == Status::Up && s.interval == Duration::from_millis(600)
    })?;
    Ok(())
}

#[test]
fn bird_to_bird_keyed_sha1_comes_up_and_a_wrong_key_takes_it_down() -> TestResult {
    let net = Pair::new()?;
    let options = |secret: &str| BirdSessionOptions {
        auth: Some(BirdAuth { kind: AuthKind::KeyedSha1, key_id: 4, secret: secret.into() }),
        ..Default::default()
    };
    let side = |me, dev: &str, peer, secret: &str| {
        BirdConfig::new(me)
            .interface(BirdInterface::new(dev).options(options(secret)))
            .neighbor(BirdNeighbor::single_hop(peer, dev))
    };
    let bird_a = Bird::start(&net.a, side(Pair::A_V4, Pair::A_DEV, Pair::B_V4.into(), "hbt-sha1-secret"))?;
    let mut bird_b = Bird::start(&net.b, side(Pair::B_V4, Pair::B_DEV, Pair::A_V4.into(), "hbt-sha1-secret"))?;
    bird_a.wait_session(Pair::B_V4.into(), Status::Up, UP_WITHIN)?;
    bird_b.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;

    bird_b.reconfigure(side(Pair::B_V4, Pair::B_DEV, Pair::A_V4.into(), "not-the-secret"))?;
    bird_a.wait_session(Pair::B_V4.into(), Status::Down, DOWN_WITHIN)?;
    // It stays down: a detection time later, still not Up.
    std::thread::sleep(Duration::from_millis(1500));
    let still = bird_a.session(Pair::B_V4.into())?.expect("BIRD keeps the configured neighbor");
    assert_ne!(still.status, Status::Up, "a session with mismatched keys came back Up");
    Ok(())
}

#[test]
fn a_daemon_that_cannot_start_fails_with_its_log() -> TestResult {
    let ns = Namespace::new("broken")?;
    let broken = BirdConfig::new(Pair::A_V4).interface(BirdInterface::new("bad\"name"));
    match Bird::start(&ns, broken) {
        Err(Error::Daemon { log, .. }) => assert!(log.contains("bird.log"), "the error carries BIRD's log: {log}"),
        Err(other) => panic!("wrong error for a broken BIRD config: {other}"),
        Ok(_) => panic!("BIRD started with a broken configuration"),
    }
    // FRR refuses a single-hop peer on an interface it does not know, loudly.
    let peer = FrrPeer::single_hop(Pair::B_V4.into(), "no-such-dev");
    match Frr::start(&ns, FrrConfig { peers: vec![peer] }) {
        Err(Error::Daemon { problem, .. }) => assert!(problem.contains("no-such-dev"), "{problem}"),
        Err(other) => panic!("wrong error for a peer on a missing interface: {other}"),
        Ok(_) => panic!("FRR accepted a peer on a missing interface"),
    }
    Ok(())
}

#[test]
fn namespaces_of_dead_runs_are_removed_and_live_ones_kept() -> TestResult {
    let live = Namespace::new("live")?;
    // A pid that certainly belonged to a process that has exited.
    let mut child = std::process::Command::new("true").spawn().expect("run true");
    let dead = child.id();
    child.wait().expect("reap true");
    let stale = format!("{}{dead}-0-stale", netns::PREFIX);
    netns::run_command(std::process::Command::new("ip").args(["netns", "add", &stale]))?;
    let stale_dir = std::env::temp_dir().join(format!("{}{dead}-frr-leftover", netns::PREFIX));
    std::fs::create_dir_all(stale_dir.join("inner")).expect("create a stale dir");
    let own_dir = netns::temp_dir("kept")?;

    let removed = netns::cleanup_stale()?;
    assert!(removed.contains(&stale), "{stale} was not removed: {removed:?}");
    assert!(!netns::exists(&stale));
    assert!(!stale_dir.exists(), "{} was not removed: {removed:?}", stale_dir.display());
    assert!(own_dir.path().exists(), "a directory of this live process was removed");
    assert!(netns::exists(live.name()), "a namespace of this live process was removed");
    Ok(())
}

#[test]
fn sockets_made_within_a_namespace_talk_over_its_link() -> TestResult {
    let net = Pair::new()?;
    let bind = |ns: &Namespace, addr: IpAddr| ns.within(move || UdpSocket::bind((addr, 0)));
    let a = bind(&net.a, Pair::A_V4.into())?.expect("bind in a");
    let b = bind(&net.b, Pair::B_V4.into())?.expect("bind in b");
    a.send_to(b"hello", b.local_addr().expect("local addr")).expect("send");
    b.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    let mut buf = [0; 16];
    let (n, from) = b.recv_from(&mut buf).expect("receive over the veth");
    assert_eq!((&buf[..n], from.ip()), (&b"hello"[..], IpAddr::from(Pair::A_V4)));
    // The address exists only inside the namespace.
    assert!(UdpSocket::bind((Pair::A_V4, 0)).is_err(), "198.18.0.1 is bindable outside the namespace");
    Ok(())
}

#[test]
fn dropped_packets_take_frr_down_and_it_recovers_when_they_flow_again() -> TestResult {
    let net = Pair::new()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let pcap = dir.path().join("bfd.pcap");
    let mut capture = net.b.capture(Pair::B_DEV, &pcap, "udp port 3784")?;
    let frr = Frr::start(&net.a, FrrConfig { peers: vec![FrrPeer::single_hop(Pair::B_V4.into(), Pair::A_DEV)] })?;
    let bird = Bird::start(&net.b, bird_single_hop(&net, false))?;
    frr.wait_peer(Pair::B_V4.into(), Status::Up, UP_WITHIN)?;
    bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;

    net.a.block_udp_port(3784)?;
    let down = frr.wait_peer(Pair::B_V4.into(), Status::Down, DOWN_WITHIN)?;
    assert_eq!(down.diagnostic, diag::DETECTION_TIME_EXPIRED);
    // FRR's Down still reaches BIRD, which follows (RFC 5880 6.8.6: Up and remote Down).
    bird.wait_session_where(Pair::A_V4.into(), "not Up", DOWN_WITHIN, |s| s.status != Status::Up)?;

    net.a.unblock_udp_port(3784)?;
    frr.wait_peer(Pair::B_V4.into(), Status::Up, UP_WITHIN)?;
    bird.wait_session(Pair::A_V4.into(), Status::Up, UP_WITHIN)?;

    capture.stop();
    let bytes = std::fs::metadata(&pcap).expect("the capture file exists").len();
    // pcap header (24) plus at least a handful of 66-byte BFD frames with their record headers.
    assert!(bytes > 24 + 10 * 82, "the capture holds only {bytes} bytes");
    Ok(())
}
