//! Our Linux-HA node against the real thing: a `LinuxHaDriver` (heartbeat-std) runs as node
//! `hbnode2` inside network namespace `b`, Debian's Heartbeat 3.0.6 as `hbnode1` inside `a`
//! (its own host name, a private `/etc/ha.d`), joined by a veth, `ucast` both ways.
//!
//! Both come up (`cl_status nodestatus hbnode2` = `active`, ours reports hbnode1 up), with
//! sha1, md5 and crc; a SIGKILLed daemon is declared dead by ours at its advertised `dt`
//! (clamped into our bounds) after its last captured heartbeat; our graceful stop reaches the
//! daemon as a shutdown notice at once, not after its deadtime; a wrong key is refused both ways.
//! The daemon comes up through our `repnodes`; a restart of either side is a higher generation
//! (its log says "Heartbeat restart", ours reports Restarted); our SIGKILL is declared dead by
//! it at our `dt` (plus its 250 ms check); a replayed captured packet and a lower generation
//! are refused by ours (counted) and by it (its log); one heartbeat dropped by iptables either
//! way is asked for with `NS_rexmit` and resent (seen in the capture).
//!
//! Needs root, iproute2, tcpdump and Debian's `heartbeat`. Without them the tests fail with a
//! message saying what is missing; none passes unless the daemon ran and answered.

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use heartbeat_proto::linuxha::{HaCf, LinuxHaNode, Message, parse_authkeys};
use heartbeat_proto::{Event, EventKind, FixedTimeout, Generation};
use heartbeat_std::Clock;
use heartbeat_std::linuxha::{LinuxHaDriver, LinuxHaHandle};
use heartbeat_tests::linuxha::{HaConfig, Heartbeat};
use heartbeat_tests::netns::{Check, Error, Pair, wait_for};
use heartbeat_tests::pcap;

type TestResult = Result<(), Error>;

const OURS: &str = "hbnode2";
const THEIRS: &str = "hbnode1";
/// Bound for both sides to report each other (the daemon answers `cl_status` only after its
/// `initdead`, 3 s).
const UP_WITHIN: Duration = Duration::from_secs(10);

fn failed(problem: impl Into<String>) -> Error {
    Error::Daemon { daemon: "heartbeat LinuxHaDriver".into(), problem: problem.into(), log: String::new() }
}

fn config(authkeys: &str) -> HaConfig {
    let mut config = HaConfig::new(THEIRS, OURS, Pair::A_DEV, Pair::B_V4.into());
    config.authkeys = authkeys.into();
    config
}

/// Our side: the same cluster's `ha.cf` but our own `ucast` line, on a thread inside `b`.
struct Ours {
    handle: Option<LinuxHaHandle>,
    events: mpsc::Receiver<Event>,
    seen: Vec<Event>,
    /// The wall clock at `clock`'s epoch, to compare our event times with capture times.
    wall_at_epoch: Duration,
}

impl Ours {
    fn start(net: &Pair, theirs: &HaConfig, authkeys: &str) -> Result<Ours, Error> {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self::start_as(net, theirs, authkeys, Generation(u32::try_from(wall.as_secs()).unwrap_or(u32::MAX)))
    }

    /// Starts ours in incarnation `generation`.
    fn start_as(net: &Pair, theirs: &HaConfig, authkeys: &str, generation: Generation) -> Result<Ours, Error> {
        let mut mine = theirs.clone();
        mine.interface = Pair::B_DEV.into();
        mine.peer_addr = Pair::A_V4.into();
        let text = mine.ha_cf(std::path::Path::new("/nonexistent"));
        let keys = parse_authkeys(authkeys).map_err(|e| failed(e.to_string()))?;
        let clock = Clock::new();
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let wall_at_epoch = wall.saturating_sub(clock.now().since_epoch());
        let (tx, events) = mpsc::channel();
        let handle = net.b.within(move || -> Result<LinuxHaHandle, String> {
            let cf = HaCf::parse(&text).map_err(|e| e.to_string())?;
            let node = LinuxHaNode::new(&cf, OURS, keys, generation, FixedTimeout::new(), clock.now(), wall.as_secs())
                .map_err(|e| e.to_string())?;
            let driver = LinuxHaDriver::bind(node, cf.udpport, clock).map_err(|e| e.to_string())?;
            driver
                .spawn(move |event| {
                    let _ = tx.send(event);
                })
                .map_err(|e| e.to_string())
        })?;
        let handle = handle.map_err(failed)?;
        Ok(Ours { handle: Some(handle), events, seen: Vec::new(), wall_at_epoch })
    }

    fn handle(&self) -> &LinuxHaHandle {
        self.handle.as_ref().expect("running")
    }

    /// Waits for an event matching `want`; every event is kept in `seen`.
    fn wait_for(&mut self, what: &str, within: Duration, want: impl Fn(&Event) -> bool) -> Result<Event, Error> {
        let end = Instant::now() + within;
        if let Some(e) = self.seen.iter().find(|e| want(e)) {
            return Ok(*e);
        }
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event);
                    if want(&event) {
                        return Ok(event);
                    }
                }
                Err(_) => return Err(failed(format!("no {what} within {within:?}; events: {:?}", self.seen))),
            }
        }
    }

    fn wait_up(&mut self) -> Result<Event, Error> {
        self.wait_for("Up for hbnode1", UP_WITHIN, |e| matches!(e.kind, EventKind::Up { .. }))
    }

    /// The wall-clock time of `event`.
    fn wall(&self, event: &Event) -> Duration {
        self.wall_at_epoch + event.at.since_epoch()
    }

    fn status(&self) -> Result<heartbeat_std::linuxha::LinuxHaStatus, Error> {
        self.handle().status().map_err(|_| failed("driver stopped"))
    }

    /// Stops at once, as SIGKILL would: no goodbye.
    fn abort(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }

    fn shutdown(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

/// Waits until the daemon reports our node `want` (`cl_status` answers only once its
/// communication is up).
fn wait_nodestatus(hb: &Heartbeat, want: &str, within: Duration) -> TestResult {
    wait_for(&format!("cl_status nodestatus {OURS} = {want}"), within, || {
        Ok(match hb.nodestatus(OURS) {
            Ok(status) if status == want => Check::Done(()),
            Ok(status) => Check::Waiting(status),
            Err(e) => Check::Waiting(e.to_string()),
        })
    })
    .map_err(|e| hb.failure(e.to_string()))
}

fn both_come_up(authkeys: &str) -> TestResult {
    let net = Pair::new()?;
    let theirs = config(authkeys);
    let hb = Heartbeat::start(&net.a, &theirs)?;
    let mut ours = Ours::start(&net, &theirs, authkeys)?;
    let up = ours.wait_up()?;
    let status = ours.handle().status().map_err(|_| failed("driver stopped"))?;
    let (name, peer) = &status.peers[0];
    assert_eq!(name, THEIRS);
    assert_eq!(peer.id, up.peer);
    wait_nodestatus(&hb, "active", UP_WITHIN)?;
    let log = hb.log();
    assert!(log.contains(&format!("Status update for node {OURS}: status active")), "{log}");
    assert!(log.contains(&format!("Link {OURS}:{} up", Pair::A_DEV)), "{log}");
    assert_eq!(status.unauthentic, 0);
    // We speak flow control (`protocol=1`): the daemon keeps its own on, asks us for the node
    // list and comes up on our answer.
    assert!(!log.contains("flow control disabled"), "{log}");
    assert!(log.contains("Comm_now_up(): updating status to active"), "{log}");
    let status = ours.status()?;
    assert!(status.wire.repnodes_sent >= 1, "reqnodes answered: {:?}", status.wire);
    ours.shutdown();
    Ok(())
}

#[test]
fn both_come_up_with_sha1() -> TestResult {
    both_come_up("auth 1\n1 sha1 lha-test-secret\n")
}

#[test]
fn both_come_up_with_md5() -> TestResult {
    both_come_up("auth 3\n3 md5 lha-md5-key\n")
}

#[test]
fn both_come_up_with_crc() -> TestResult {
    both_come_up("auth 2\n2 crc\n")
}

/// The `dt` (ms) and `t` of a captured datagram from the daemon.
fn status_dt(d: &pcap::Datagram) -> Option<Duration> {
    let msg = Message::decode(&d.payload).ok()?;
    (msg.text("t").ok()?? == "status").then_some(())?;
    Some(Duration::from_millis(msg.hex("dt").ok()??))
}

/// One trial: returns how late our Down came after the daemon's last heartbeat + its clamped
/// `dt`, by capture time.
fn kill_trial() -> Result<Duration, Error> {
    let net = Pair::new()?;
    let authkeys = "auth 1\n1 sha1 lha-test-secret\n";
    let theirs = config(authkeys);
    let dir = heartbeat_tests::netns::temp_dir("lha-capture")?;
    let file = dir.path().join("b.pcap");
    let mut capture = net.b.capture(Pair::B_DEV, &file, "udp port 694")?;
    let mut hb = Heartbeat::start(&net.a, &theirs)?;
    let mut ours = Ours::start(&net, &theirs, authkeys)?;
    ours.wait_up()?;
    wait_nodestatus(&hb, "active", UP_WITHIN)?;
    // Heartbeat advertises deadtime + 2 s for its first 5 s; wait past that.
    std::thread::sleep(Duration::from_millis(5_500));
    hb.kill();
    let down =
        ours.wait_for("Down for hbnode1", Duration::from_secs(10), |e| matches!(e.kind, EventKind::Down { .. }))?;
    capture.stop();
    let packets = pcap::read_udp(&file).map_err(|e| failed(format!("capture: {e:?}")))?;
    let from_daemon: Vec<&pcap::Datagram> =
        packets.iter().filter(|d| d.source.ip() == std::net::IpAddr::from(Pair::A_V4)).collect();
    let (last, dt) =
        from_daemon.iter().rev().find_map(|d| status_dt(d).map(|dt| (*d, dt))).ok_or_else(|| {
            failed(format!("no status heartbeat of the daemon captured ({} datagrams)", packets.len()))
        })?;
    let bounds = (Duration::from_millis(500), Duration::from_secs(3)); // [2 × keepalive, initdead]
    let clamped = dt.clamp(bounds.0, bounds.1);
    assert_eq!(dt, Duration::from_millis(1_500), "its dt after its first 5 s is its deadtime");
    let expected = last.at + clamped;
    let at = ours.wall(&down);
    let lateness = at.checked_sub(expected).ok_or_else(|| {
        failed(format!("Down {:?} before the deadline (last heartbeat {:?} + {clamped:?})", expected - at, last.at))
    })?;
    if let EventKind::Down { deadline, last_heard: Some(heard) } = down.kind {
        eprintln!(
            "trial: dt {dt:?}, Down {lateness:?} after last capture + dt; core: {:?} after its deadline, silent {:?}",
            down.at - deadline,
            down.at - heard
        );
    }
    Ok(lateness)
}

#[test]
fn a_killed_daemon_is_declared_dead_at_its_advertised_deadtime() -> TestResult {
    let mut lateness = Vec::new();
    for _ in 0..3 {
        lateness.push(kill_trial()?);
    }
    lateness.sort();
    let (p50, max) = (lateness[lateness.len() / 2], lateness[lateness.len() - 1]);
    eprintln!("lateness after last heartbeat + dt: p50 {p50:?}, max {max:?} over {} trials", lateness.len());
    // Down at the deadline: a few ms of scheduling, never a check period (250 ms) or a keepalive.
    assert!(max < Duration::from_millis(20), "lateness {lateness:?}");
    Ok(())
}

#[test]
fn our_graceful_stop_reaches_the_daemon_as_a_shutdown_notice_not_a_timeout() -> TestResult {
    let net = Pair::new()?;
    let authkeys = "auth 1\n1 sha1 lha-test-secret\n";
    let theirs = config(authkeys);
    let hb = Heartbeat::start(&net.a, &theirs)?;
    let mut ours = Ours::start(&net, &theirs, authkeys)?;
    ours.wait_up()?;
    wait_nodestatus(&hb, "active", UP_WITHIN)?;
    let stopped = Instant::now();
    ours.shutdown();
    let notice = format!("Received shutdown notice from '{OURS}'");
    // Well before its deadtime (1.5 s) would have passed.
    wait_for("the shutdown notice in the daemon's log", Duration::from_millis(700), || {
        Ok(if hb.log().contains(&notice) { Check::Done(()) } else { Check::Waiting(String::new()) })
    })
    .map_err(|e| hb.failure(e.to_string()))?;
    let logged = stopped.elapsed();
    // Our last status said `dead`: its view changes at once, not after its deadtime (1.5 s).
    let dead = wait_for("cl_status dead", Duration::from_millis(700), || {
        Ok(match hb.nodestatus(OURS) {
            Ok(s) if s == "dead" => Check::Done(stopped.elapsed()),
            Ok(s) => Check::Waiting(s),
            Err(e) => Check::Waiting(e.to_string()),
        })
    })
    .map_err(|e| hb.failure(e.to_string()))?;
    let log = hb.log();
    assert!(log.contains(&format!("Status update for node {OURS}: status dead")), "{log}");
    // Wait past its deadtime: no timeout is ever logged for a node that said goodbye.
    std::thread::sleep(Duration::from_secs(2));
    assert!(!hb.log().contains(&format!("node {OURS}: is dead")), "{}", hb.log());
    eprintln!("shutdown notice logged {logged:?} after our stop; cl_status dead after {dead:?}");
    Ok(())
}

#[test]
fn a_wrong_key_is_refused_both_ways() -> TestResult {
    let net = Pair::new()?;
    let theirs = config("auth 1\n1 sha1 lha-test-secret\n");
    let hb = Heartbeat::start(&net.a, &theirs)?;
    let mut ours = Ours::start(&net, &theirs, "auth 1\n1 sha1 not-the-secret\n")?;
    // Well past its initdead: cl_status answers, and it has had many of our heartbeats.
    std::thread::sleep(Duration::from_secs(4));
    let status = ours.handle().status().map_err(|_| failed("driver stopped"))?;
    assert!(status.unauthentic >= 8, "its heartbeats refused and counted: {status:?}");
    assert!(status.peers.iter().all(|(_, p)| p.last_heard.is_none()), "{status:?}");
    assert!(
        ours.seen.is_empty() && ours.events.try_recv().map(|e| !matches!(e.kind, EventKind::Up { .. })).unwrap_or(true)
    );
    let view = hb.nodestatus(OURS).map_err(|e| hb.failure(e.to_string()))?;
    assert_eq!(view, "dead", "{}", hb.log());
    let log = hb.log();
    assert!(!log.contains(&format!("Status update for node {OURS}")), "{log}");
    // Heartbeat's words for a trailer digest that does not match its key.
    let refusals: Vec<&str> = log.lines().filter(|l| l.contains("authtoken does not match")).collect();
    assert!(!refusals.is_empty(), "the daemon logs the refusal:\n{log}");
    eprintln!(
        "ours refused {} of its heartbeats; it logged {} refusals, e.g. {:?}",
        status.unauthentic,
        refusals.len(),
        refusals[0]
    );
    ours.shutdown();
    Ok(())
}

/// Our node's name for a node's liveness in the daemon's log.
fn log_has(hb: &Heartbeat, what: &str, needle: &str, within: Duration) -> TestResult {
    wait_for(what, within, || {
        Ok(if hb.log().contains(needle) { Check::Done(()) } else { Check::Waiting(String::new()) })
    })
    .map_err(|e| hb.failure(e.to_string()))
}

/// Sends `payload` to `to` from a fresh UDP socket inside `ns` (a raw re-injection: the
/// payload is not ours to sign).
fn inject(ns: &heartbeat_tests::netns::Namespace, from: Ipv4Addr, to: SocketAddrV4, payload: Vec<u8>) -> TestResult {
    ns.within(move || -> std::io::Result<()> {
        let socket = UdpSocket::bind(SocketAddrV4::new(from, 0))?;
        socket.send_to(&payload, to).map(drop)
    })?
    .map_err(|e| failed(format!("cannot inject: {e}")))
}

/// One line per captured datagram: source, type, seq (for failure messages).
fn summary(packets: &[pcap::Datagram]) -> String {
    packets
        .iter()
        .map(|d| match Message::decode(&d.payload) {
            Ok(_) => format!("{} {:?} seq={:?}", d.source, kind_of(d), field_of(d, "seq")),
            Err(e) => format!("{} undecodable ({e}): {:?}", d.source, String::from_utf8_lossy(&d.payload)),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn kind_of(d: &pcap::Datagram) -> Option<String> {
    Message::decode(&d.payload).ok()?.text("t").ok()?.map(String::from)
}

fn field_of(d: &pcap::Datagram, name: &'static str) -> Option<String> {
    Message::decode(&d.payload).ok()?.text(name).ok()?.map(String::from)
}

/// The capture at `file` (packet-buffered) once `done` holds for it, polled for up to 5 s: a
/// loaded machine delays the daemon, and tcpdump, well past what a resend takes at rest.
fn captured_until(
    file: &std::path::Path,
    what: &str,
    done: impl Fn(&[pcap::Datagram]) -> bool,
) -> Result<Vec<pcap::Datagram>, Error> {
    wait_for(what, Duration::from_secs(5), || {
        Ok(match pcap::read_udp(file) {
            Ok(packets) if done(&packets) => Check::Done(packets),
            Ok(packets) => Check::Waiting(format!("{} datagrams captured", packets.len())),
            Err(e) => Check::Waiting(format!("{e:?}")),
        })
    })
}

/// The first retransmit request `from` sent to the node `to` in `packets`, and the sequence
/// number it asks for.
fn rexmit_request<'a>(
    packets: &'a [pcap::Datagram],
    from: Ipv4Addr,
    to: &str,
) -> Result<(&'a pcap::Datagram, u64), Error> {
    let request = packets
        .iter()
        .find(|d| kind_of(d).as_deref() == Some("NS_rexmit") && d.source.ip() == IpAddr::from(from))
        .ok_or_else(|| failed(format!("no retransmit request from {from} captured: {}", summary(packets))))?;
    assert_eq!(field_of(request, "dest").as_deref(), Some(to));
    let asked = field_of(request, "firstseq").and_then(|s| s.parse().ok()).ok_or_else(|| failed("firstseq"))?;
    Ok((request, asked))
}

/// What `from` sent with sequence number `seq` (hexadecimal on the wire), in capture order.
fn with_seq(packets: &[pcap::Datagram], from: Ipv4Addr, seq: u64) -> impl Iterator<Item = &pcap::Datagram> {
    packets.iter().filter(move |d| {
        d.source.ip() == IpAddr::from(from)
            && field_of(d, "seq").and_then(|s| u64::from_str_radix(&s, 16).ok()) == Some(seq)
    })
}

#[test]
fn a_restart_of_ours_is_a_higher_generation_to_the_daemon() -> TestResult {
    let net = Pair::new()?;
    let authkeys = "auth 1\n1 sha1 lha-test-secret\n";
    let theirs = config(authkeys);
    let hb = Heartbeat::start(&net.a, &theirs)?;
    let mut ours = Ours::start_as(&net, &theirs, authkeys, Generation(0x100))?;
    ours.wait_up()?;
    wait_nodestatus(&hb, "active", UP_WITHIN)?;
    // A crash and a restart within its deadtime: the next incarnation.
    ours.abort();
    let mut ours = Ours::start_as(&net, &theirs, authkeys, Generation(0x101))?;
    log_has(
        &hb,
        "the restart in the daemon's log",
        &format!("Heartbeat restart on node {OURS}"),
        Duration::from_secs(3),
    )?;
    ours.wait_up()?;
    assert!(!hb.log().contains(&format!("node {OURS}: is dead")), "{}", hb.log());
    wait_nodestatus(&hb, "active", UP_WITHIN)?;
    ours.shutdown();
    Ok(())
}

#[test]
fn a_restart_of_theirs_is_seen_as_restarted_with_a_higher_generation() -> TestResult {
    let net = Pair::new()?;
    let authkeys = "auth 3\n3 md5 lha-md5-key\n";
    let theirs = config(authkeys);
    let mut hb = Heartbeat::start(&net.a, &theirs)?;
    let mut ours = Ours::start(&net, &theirs, authkeys)?;
    let up = ours.wait_up()?;
    let EventKind::Up { generation: first } = up.kind else { unreachable!() };
    hb.kill();
    // Its generation must be higher on the next start: it takes it from the clock or its
    // hb_generation file; one second later, in any case.
    std::thread::sleep(Duration::from_millis(1_100));
    let hb2 = Heartbeat::start(&net.a, &theirs)?;
    let restarted =
        ours.wait_for("Restarted for hbnode1", UP_WITHIN, |e| matches!(e.kind, EventKind::Restarted { .. }))?;
    let EventKind::Restarted { previous, generation } = restarted.kind else { unreachable!() };
    eprintln!("the daemon restarted: generation {previous:?} -> {generation:?}");
    assert_eq!(previous, first);
    assert!(generation > previous);
    let status = ours.status()?;
    assert_eq!(status.peers[0].1.generation, Some(generation));
    drop(hb2);
    ours.abort();
    Ok(())
}

#[test]
fn sigkill_of_ours_is_declared_dead_by_the_daemon_at_its_deadtime() -> TestResult {
    let net = Pair::new()?;
    let authkeys = "auth 2\n2 crc\n";
    let theirs = config(authkeys);
    let dir = heartbeat_tests::netns::temp_dir("lha-kill-ours")?;
    let file = dir.path().join("b.pcap");
    let mut capture = net.b.capture(Pair::B_DEV, &file, "udp port 694")?;
    let hb = Heartbeat::start(&net.a, &theirs)?;
    let mut ours = Ours::start(&net, &theirs, authkeys)?;
    ours.wait_up()?;
    wait_nodestatus(&hb, "active", UP_WITHIN)?;
    std::thread::sleep(Duration::from_millis(500));
    ours.abort();
    let dead = wait_for("cl_status dead", Duration::from_secs(5), || {
        Ok(match hb.nodestatus(OURS) {
            Ok(s) if s == "dead" => Check::Done(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()),
            Ok(s) => Check::Waiting(s),
            Err(e) => Check::Waiting(e.to_string()),
        })
    })
    .map_err(|e| hb.failure(e.to_string()))?;
    capture.stop();
    let log = hb.log();
    assert!(log.contains(&format!("node {OURS}: is dead")), "a timeout, not a goodbye: {log}");
    assert!(!log.contains(&format!("Received shutdown notice from '{OURS}'")), "{log}");
    let packets = pcap::read_udp(&file).map_err(|e| failed(format!("capture: {e:?}")))?;
    let last = packets
        .iter()
        .rev()
        .find(|d| d.source.ip() == std::net::IpAddr::from(Pair::B_V4) && kind_of(d).as_deref() == Some("status"))
        .ok_or_else(|| failed("no heartbeat of ours captured"))?;
    let dt = Duration::from_millis(u64::from_str_radix(&field_of(last, "dt").unwrap_or_default(), 16).unwrap_or(0));
    assert_eq!(dt, Duration::from_millis(1_500), "we advertise our deadtime");
    let silent = dead.saturating_sub(last.at);
    eprintln!("the daemon reported us dead {silent:?} after our last heartbeat (dt {dt:?}; it checks every 250 ms)");
    assert!(silent >= dt, "not before our dt: {silent:?}");
    // Its 250 ms check period, plus our 20 ms polling of cl_status and scheduling.
    assert!(silent < dt + Duration::from_millis(600), "{silent:?}");
    Ok(())
}

#[test]
fn a_replayed_packet_and_a_lower_generation_are_refused_both_ways() -> TestResult {
    let net = Pair::new()?;
    let authkeys = "auth 1\n1 sha1 lha-test-secret\n";
    let theirs = config(authkeys);
    let dir = heartbeat_tests::netns::temp_dir("lha-replay")?;
    let file = dir.path().join("b.pcap");
    let mut capture = net.b.capture(Pair::B_DEV, &file, "udp port 694")?;
    let hb = Heartbeat::start(&net.a, &theirs)?;
    let mut ours = Ours::start_as(&net, &theirs, authkeys, Generation(0x200))?;
    ours.wait_up()?;
    wait_nodestatus(&hb, "active", UP_WITHIN)?;
    std::thread::sleep(Duration::from_millis(1_000));
    capture.stop();
    let packets = pcap::read_udp(&file).map_err(|e| failed(format!("capture: {e:?}")))?;
    let is_status = |d: &&pcap::Datagram, from: Ipv4Addr| {
        d.source.ip() == std::net::IpAddr::from(from) && kind_of(d).as_deref() == Some("status")
    };
    let theirs_old = packets.iter().find(|d| is_status(d, Pair::A_V4)).ok_or_else(|| failed("no daemon status"))?;
    let ours_old = packets.iter().find(|d| is_status(d, Pair::B_V4)).ok_or_else(|| failed("no status of ours"))?;
    let their_hg = u32::from_str_radix(&field_of(theirs_old, "hg").unwrap_or_default(), 16).unwrap_or(0);

    // To ours: the daemon's captured first heartbeat, again (same seq, old ts).
    let before = ours.status()?;
    inject(&net.a, Pair::A_V4, SocketAddrV4::new(Pair::B_V4, 694), theirs_old.payload.clone())?;
    // To ours: a heartbeat of a lower generation of hbnode1, correctly signed.
    let keys = parse_authkeys(authkeys).map_err(|e| failed(e.to_string()))?;
    let cf_text = theirs.ha_cf(std::path::Path::new("/nonexistent"));
    let cf = HaCf::parse(&cf_text).map_err(|e| failed(e.to_string()))?;
    let forge = |me: &str, generation: u32| -> Result<Vec<u8>, Error> {
        let mut node: LinuxHaNode<FixedTimeout, heartbeat_proto::Growable> = LinuxHaNode::new(
            &cf,
            me,
            keys.clone(),
            Generation(generation),
            FixedTimeout::new(),
            heartbeat_proto::Instant::ZERO,
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        )
        .map_err(|e| failed(e.to_string()))?;
        node.tick(heartbeat_proto::Instant::ZERO);
        let mut buf = vec![0; 4096];
        let t = node
            .poll_transmit(&mut buf)
            .ok_or_else(|| failed("nothing to send"))?
            .map_err(|e| failed(e.to_string()))?;
        buf.truncate(t.len);
        Ok(buf)
    };
    inject(&net.a, Pair::A_V4, SocketAddrV4::new(Pair::B_V4, 694), forge(THEIRS, their_hg - 1)?)?;
    std::thread::sleep(Duration::from_millis(200));
    let after = ours.status()?;
    assert_eq!(after.replays_refused, before.replays_refused + 2, "both refused and counted: {after:?}");
    assert!(!ours.seen.iter().any(|e| matches!(e.kind, EventKind::Restarted { .. } | EventKind::Down { .. })));
    assert_eq!(after.peers[0].1.generation, before.peers[0].1.generation, "state unchanged");

    // To the daemon: our captured first heartbeat again, and a lower generation of ours.
    inject(&net.b, Pair::B_V4, SocketAddrV4::new(Pair::A_V4, 694), ours_old.payload.clone())?;
    inject(&net.b, Pair::B_V4, SocketAddrV4::new(Pair::A_V4, 694), forge(OURS, 0x1ff)?)?;
    log_has(&hb, "the daemon's replay warning", "attempted replay attack", Duration::from_secs(2))?;
    std::thread::sleep(Duration::from_millis(300));
    let log = hb.log();
    assert!(!log.contains(&format!("Heartbeat restart on node {OURS}")), "{log}");
    assert_eq!(hb.nodestatus(OURS).map_err(|e| hb.failure(e.to_string()))?, "active");
    eprintln!(
        "ours refused {} replays; the daemon logged: {:?}",
        after.replays_refused,
        log.lines().filter(|l| l.contains("replay")).collect::<Vec<_>>()
    );
    ours.shutdown();
    Ok(())
}

/// Drops exactly one status message to or from the node (iptables `nth` on a string match).
fn drop_one_status(ns: &heartbeat_tests::netns::Namespace, chain: &str) -> TestResult {
    ns.run(
        "iptables",
        &[
            "-A",
            chain,
            "-p",
            "udp",
            "--dport",
            "694",
            "-m",
            "string",
            "--string",
            "t=status",
            "--algo",
            "bm",
            "-m",
            "statistic",
            "--mode",
            "nth",
            "--every",
            "1000000",
            "--packet",
            "0",
            "-j",
            "DROP",
        ],
    )
    .map(drop)
}

/// The daemon and ours in a pair, up, with a capture of node B's link running and one status
/// heartbeat about to be dropped by B's `chain` (`OUTPUT`: one of ours on its way out, after
/// the capture saw it; `INPUT`: one of theirs on arrival, after the capture saw it).
struct LostHeartbeat {
    hb: Heartbeat,
    ours: Ours,
    capture: heartbeat_tests::netns::Capture,
    file: std::path::PathBuf,
    // Last: the files and the namespaces outlive the processes.
    _dir: tempfile::TempDir,
    _net: Pair,
}

impl LostHeartbeat {
    fn start(name: &str, authkeys: &str, chain: &str) -> Result<LostHeartbeat, Error> {
        let net = Pair::new()?;
        let theirs = config(authkeys);
        let dir = heartbeat_tests::netns::temp_dir(name)?;
        let file = dir.path().join("b.pcap");
        let capture = net.b.capture(Pair::B_DEV, &file, "udp port 694")?;
        let hb = Heartbeat::start(&net.a, &theirs)?;
        let mut ours = Ours::start(&net, &theirs, authkeys)?;
        ours.wait_up()?;
        wait_nodestatus(&hb, "active", UP_WITHIN)?;
        drop_one_status(&net.b, chain)?;
        Ok(LostHeartbeat { hb, ours, capture, file, _dir: dir, _net: net })
    }

    /// Our wire counters once `done` holds for them (within 5 s).
    fn wire_once(
        &self,
        what: &str,
        done: impl Fn(&heartbeat_proto::linuxha::WireStats) -> bool,
    ) -> Result<heartbeat_proto::linuxha::WireStats, Error> {
        wait_for(what, Duration::from_secs(5), || {
            let w = self.ours.status()?.wire;
            Ok(if done(&w) { Check::Done(w) } else { Check::Waiting(format!("{w:?}")) })
        })
        .map_err(|e| self.hb.failure(e.to_string()))
    }

    /// The capture once `done` holds for it (see [`captured_until`]), and stops it.
    fn captured(&mut self, what: &str, done: impl Fn(&[pcap::Datagram]) -> bool) -> Result<Vec<pcap::Datagram>, Error> {
        let packets = captured_until(&self.file, what, done)
            .map_err(|e| self.hb.failure(format!("{e}; ours: {:?}", self.ours.status().map(|s| s.wire))))?;
        self.capture.stop();
        Ok(packets)
    }
}

#[test]
fn a_heartbeat_of_ours_lost_on_the_way_is_asked_for_by_the_daemon_and_resent() -> TestResult {
    let mut lab = LostHeartbeat::start("lha-rexmit-ours", "auth 3\n3 md5 lha-md5-key\n", "OUTPUT")?;
    let resent = lab.wire_once("a resend of ours", |w| w.resent >= 1)?;
    let resent_after_request = |packets: &[pcap::Datagram]| {
        rexmit_request(packets, Pair::A_V4, OURS)
            .is_ok_and(|(request, asked)| with_seq(packets, Pair::B_V4, asked).any(|d| d.at >= request.at))
    };
    let packets = lab.captured("our resend in the capture", resent_after_request)?;
    let (request, asked) = rexmit_request(&packets, Pair::A_V4, OURS)?;
    let answer = with_seq(&packets, Pair::B_V4, asked)
        .find(|d| d.at >= request.at)
        .ok_or_else(|| failed(format!("seq {asked:x} not resent after the request")))?;
    let original = with_seq(&packets, Pair::B_V4, asked).count();
    assert_eq!(original, 1, "the first copy never left (dropped), the resend did");
    eprintln!(
        "the daemon asked for our seq {asked}; we resent it {:?} after its request (capture times); {resent:?}",
        answer.at - request.at
    );
    let log = lab.hb.log();
    assert!(log.contains("lost packet") || log.contains("No pkts missing"), "{log}");
    assert_eq!(lab.hb.nodestatus(OURS).map_err(|e| lab.hb.failure(e.to_string()))?, "active");
    lab.ours.shutdown();
    Ok(())
}

#[test]
fn a_heartbeat_of_theirs_lost_on_the_way_is_asked_for_by_ours() -> TestResult {
    let mut lab = LostHeartbeat::start("lha-rexmit-theirs", "auth 2\n2 crc\n", "INPUT")?;
    let wire = lab.wire_once("a retransmit request of ours", |w| w.rexmit_requests_sent >= 1)?;
    let resent = |packets: &[pcap::Datagram]| {
        rexmit_request(packets, Pair::B_V4, THEIRS)
            .is_ok_and(|(_, asked)| with_seq(packets, Pair::A_V4, asked).count() >= 2)
    };
    let packets = lab.captured("the daemon's resend in the capture", resent)?;
    let (request, asked) = rexmit_request(&packets, Pair::B_V4, THEIRS)?;
    let copies = with_seq(&packets, Pair::A_V4, asked).collect::<Vec<_>>();
    let status = lab.ours.status()?;
    eprintln!(
        "we asked for its seq {asked}; it resent it {:?} after our request; {wire:?}; now {:?}",
        copies[1].at.saturating_sub(request.at),
        status.wire
    );
    assert_eq!(status.wire.abandoned, 0, "the resend arrived: {:?}", status.wire);
    lab.ours.shutdown();
    Ok(())
}
