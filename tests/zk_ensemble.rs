//! Our [`SessionClient`] against a real three-server ZooKeeper 3.8 ensemble (three local
//! processes, Debian `zookeeper`; see `tests/support/zk_ensemble.rs`):
//!
//! - its server is killed (SIGKILL, then SIGTERM of the next one, the leader): the client
//!   resumes the same session id on another member each time, within the session timeout;
//! - it is frozen for longer than the session timeout (not driven, as in a GC pause, right
//!   after a ping): the ensemble expires the session, and when the client thaws and reconnects
//!   to another member that member tells it so (a ConnectResponse with timeout 0), and the
//!   client reports `Expired` told by the server.
//!
//! Each test fails (does not skip) when the ensemble does not start or form a quorum. The two
//! tests take turns (six JVMs at once would starve a small machine); each stops all it started.

#![cfg(target_os = "linux")]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use heartbeat_session::client::{ClientEvent, DisconnectReason, ExpiryReason};
use heartbeat_std::Clock;
use heartbeat_std::session::{ClientOptions, SessionClient};
use heartbeat_tests::tcp_relay::TcpRelay;
use heartbeat_tests::zk_ensemble::{Ensemble, MEMBERS, Mode};

/// The ensemble's tickTime: sessions between 400 ms and 4 s, elections quick.
const TICK_MS: u32 = 200;

/// One ensemble at a time.
static TURN: Mutex<()> = Mutex::new(());

fn ensemble() -> Ensemble {
    Ensemble::start(TICK_MS, &[]).unwrap_or_else(|e| panic!("the ZooKeeper ensemble did not start: {e}"))
}

/// Turns `client` until `done` holds for the events seen (returned with their times), or
/// `limit` passed (then the test fails with `context`).
fn drive_until(
    client: &mut SessionClient,
    limit: Duration,
    context: &dyn Fn() -> String,
    done: impl Fn(&[(Instant, ClientEvent)]) -> bool,
) -> Vec<(Instant, ClientEvent)> {
    let mut seen = Vec::new();
    let end = Instant::now() + limit;
    while !done(&seen) {
        assert!(Instant::now() < end, "not within {limit:?}: {seen:?}\n{}", context());
        client.turn(Some(Duration::from_millis(20)), &mut |e| seen.push((Instant::now(), e)));
    }
    seen
}

fn connected(client: &mut SessionClient, ensemble: &Ensemble) -> (i64, Duration) {
    let context = || ensemble.logs();
    client.connect(&mut |_| {});
    let seen = drive_until(client, Duration::from_secs(10), &context, |s| !s.is_empty());
    let [(_, ClientEvent::Connected { server: 0, session, timeout })] = seen[..] else {
        panic!("not a session on the first server: {seen:?}\n{}", ensemble.logs())
    };
    (session, timeout)
}

fn sid(session: i64) -> String {
    format!("sid=0x{:x}", session as u64)
}

/// Whether member `i` lists the session among its connections.
fn holds(ensemble: &Ensemble, i: usize, session: i64) -> bool {
    ensemble.cons(i).is_ok_and(|c| c.contains(&sid(session)))
}

/// Fails the test unless the events are one loss of `from` and a resume elsewhere within the
/// timeout of `lost_at`; returns the server resumed on.
fn resumed_elsewhere(seen: &[(Instant, ClientEvent)], from: usize, lost_at: Instant, timeout: Duration) -> usize {
    let Some((resumed_at, ClientEvent::Resumed { server, timeout: t })) = seen.last().copied() else {
        panic!("no resume: {seen:?}")
    };
    assert!(
        matches!(seen[0].1, ClientEvent::Disconnected { server, .. } if server == from),
        "the first event is not the loss of server {from}: {seen:?}"
    );
    assert!(
        seen.iter().all(|(_, e)| !matches!(e, ClientEvent::Expired { .. } | ClientEvent::Connected { .. })),
        "a new session or an expiry: {seen:?}"
    );
    assert_ne!(server, from);
    assert_eq!(t, timeout);
    let took = resumed_at.duration_since(lost_at);
    assert!(took < timeout, "resumed {took:?} after the kill, past the {timeout:?} timeout");
    eprintln!("resumed on server {server} {took:?} after its server was stopped; events {seen:?}");
    server
}

#[test]
fn our_client_resumes_its_session_on_another_member_when_its_server_dies() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut zk = ensemble();
    // Servers in the order follower, leader, follower: the first kill needs no election, the
    // second stops the leader itself.
    let leader = zk.leader().expect("a leader");
    let followers: Vec<usize> = (0..MEMBERS).filter(|&i| i != leader).collect();
    assert!(followers.iter().all(|&i| zk.mode(i) == Some(Mode::Follower)));
    let order = [followers[0], leader, followers[1]];
    let servers = order.map(|i| zk.addr(i)).to_vec();
    let timeout = Duration::from_millis(4000);
    let mut client = SessionClient::new(servers, ClientOptions::new(timeout), Clock::new()).unwrap();
    let (session, granted) = connected(&mut client, &zk);
    assert_eq!(granted, timeout, "ZooKeeper's max at tick {TICK_MS} ms is 20 ticks");
    assert!(holds(&zk, order[0], session), "{} not on its member", sid(session));

    // A follower dies: SIGKILL. The kernel closes its sockets; the client goes to the leader.
    let killed_at = Instant::now();
    zk.kill(order[0]);
    let context = || zk.logs();
    let seen = drive_until(&mut client, timeout * 2, &context, |s| {
        s.iter().any(|(_, e)| matches!(e, ClientEvent::Resumed { .. } | ClientEvent::Expired { .. }))
    });
    let on = resumed_elsewhere(&seen, 0, killed_at, timeout);
    assert_eq!(on, 1);
    assert_eq!(client.machine().session_id(), Some(session), "the same session id");
    assert_eq!(zk.member_of(client.server()), Some(order[1]));
    assert!(holds(&zk, order[1], session), "{} not on the leader:\n{}", sid(session), zk.cons(order[1]).unwrap());

    // The follower comes back (from its data dir) and the quorum is whole again, with the
    // session still held on the leader: pings kept it.
    zk.restart(order[0]).unwrap();
    let context = || zk.logs();
    let mut quiet = Vec::new();
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        client.turn(Some(Duration::from_millis(50)), &mut |e| quiet.push(e));
        if zk.mode(order[0]).is_some() {
            break;
        }
        assert!(Instant::now() < end, "the restarted member never served:\n{}", context());
    }
    assert!(quiet.is_empty(), "events while the member restarted: {quiet:?}");
    assert_eq!(zk.leader(), Some(leader));

    // Now the leader, the client's server, is stopped with SIGTERM: the two others elect a
    // new leader, and the client resumes its session on one of them.
    let stopped_at = Instant::now();
    zk.terminate(order[1]);
    let context = || zk.logs();
    let seen = drive_until(&mut client, timeout * 2, &context, |s| {
        s.iter().any(|(_, e)| matches!(e, ClientEvent::Resumed { .. } | ClientEvent::Expired { .. }))
    });
    let on = resumed_elsewhere(&seen, 1, stopped_at, timeout);
    assert_eq!(client.machine().session_id(), Some(session), "the same session id");
    assert!(holds(&zk, order[on], session), "{} not on member {}:\n{}", sid(session), order[on], zk.logs());

    client.close(&mut |_| {});
    let mut end = Vec::new();
    assert!(client.run_for(timeout, &mut |e| end.push(e)));
    assert_eq!(end, [ClientEvent::Closed]);
    for i in 0..MEMBERS {
        assert!(!zk.log(i).contains("Expiring session"), "member {i} expired a session:\n{}", zk.log(i));
    }
}

#[test]
fn a_client_frozen_past_its_timeout_is_told_by_the_ensemble_that_its_session_expired() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let zk = ensemble();
    // The first server through a relay that shows when the client's bytes left for it.
    let relay = TcpRelay::start(zk.addr(0)).unwrap();
    let servers = vec![relay.addr(), zk.addr(1), zk.addr(2)];
    let timeout = Duration::from_millis(2000);
    let mut client = SessionClient::new(servers, ClientOptions::new(timeout), Clock::new()).unwrap();
    let (session, granted) = connected(&mut client, &zk);
    assert_eq!(granted, timeout);

    // Drive it until a ping has just left; its answer is left unread in the socket.
    let context = || zk.logs();
    let mut quiet = Vec::new();
    let end = Instant::now() + timeout * 2;
    loop {
        let before = relay.upstream_bytes();
        client.turn(Some(Duration::from_millis(10)), &mut |e| quiet.push(e));
        std::thread::sleep(Duration::from_millis(20));
        if relay.upstream_bytes() > before {
            break;
        }
        assert!(Instant::now() < end, "no ping within {:?}:\n{}", timeout * 2, context());
    }
    assert!(quiet.is_empty(), "{quiet:?}");
    let (last_sent, _) = relay.last_upstream().unwrap();

    // Frozen for 1.5 timeouts: ZooKeeper expires the session (at most a tick after the
    // timeout) and closes its connection.
    std::thread::sleep(timeout * 3 / 2);
    let leader = zk.leader().expect("a leader");
    let expiring = format!("Expiring session 0x{:x}", session as u64);
    assert!(zk.log(leader).contains(&expiring), "the leader did not expire it:\n{}", zk.logs());

    // Thawed: it reads the stale ping answer (so it believes the server spoke just now), then
    // the close, reconnects to the next member with its id, and is told the session expired.
    let (opened, _) = client.connects();
    let seen = drive_until(&mut client, timeout, &context, |s| {
        s.iter().any(|(_, e)| matches!(e, ClientEvent::Expired { .. } | ClientEvent::Resumed { .. }))
    });
    let events: Vec<ClientEvent> = seen.iter().map(|(_, e)| *e).collect();
    assert_eq!(
        events,
        [
            ClientEvent::Disconnected { server: 0, reason: DisconnectReason::Closed },
            ClientEvent::Expired { reason: ExpiryReason::ToldByServer }
        ],
        "{}",
        zk.logs()
    );
    assert_eq!(client.connects().0, opened + 1, "told on a fresh connection to member 1");
    assert!(client.is_done());
    let told = seen[1].0.duration_since(last_sent);
    assert!(told > timeout, "told {told:?} after the last ping");
    eprintln!("told expired {told:?} after its last ping (timeout {timeout:?})");
}
