//! The session drivers over real loopback TCP: our server, our client.

#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use heartbeat_session::client::{ClientEvent, ClientState};
use heartbeat_session::server::ServerConfig;
use heartbeat_std::Clock;
use heartbeat_std::session::{ClientOptions, ServerHandle, ServerOptions, SessionClient, SessionEvent, SessionServer};

const TICK: Duration = Duration::from_millis(100);

fn server(options: ServerOptions) -> (ServerHandle, mpsc::Receiver<SessionEvent>) {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let s = SessionServer::bind(listen, ServerConfig::new(1, TICK), options, Clock::new()).unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = s
        .spawn(move |e| {
            let _ = tx.send(e);
        })
        .unwrap();
    (handle, rx)
}

fn next(rx: &mpsc::Receiver<SessionEvent>) -> SessionEvent {
    rx.recv_timeout(Duration::from_secs(5)).expect("an event within 5 s")
}

fn client(addrs: Vec<SocketAddr>, timeout: Duration, clock: Clock) -> SessionClient {
    SessionClient::new(addrs, ClientOptions::new(timeout), clock).unwrap()
}

/// Turns `c` until an event matches, at most `limit`.
fn until(c: &mut SessionClient, limit: Duration, want: impl Fn(&ClientEvent) -> bool) -> Vec<ClientEvent> {
    let mut seen = Vec::new();
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end && !seen.iter().any(&want) {
        c.turn(Some(Duration::from_millis(50)), &mut |e| seen.push(e));
    }
    assert!(seen.iter().any(&want), "not seen within {limit:?}: {seen:?}");
    seen
}

#[test]
fn a_session_is_created_kept_alive_by_pings_and_closed_at_once() {
    let (handle, rx) = server(ServerOptions::default());
    let mut c = client(vec![handle.local_addr()], Duration::from_millis(300), handle.clock());
    let mut events = Vec::new();
    c.connect(&mut |e| events.push(e));
    until(&mut c, Duration::from_secs(2), |e| matches!(e, ClientEvent::Connected { .. }));
    let SessionEvent::Created { session, timeout, .. } = next(&rx) else { panic!("not Created") };
    assert_eq!(timeout, Duration::from_millis(300));
    assert_eq!(c.machine().session_id(), Some(session.0));

    // Three timeouts of pings: the session stays.
    let mut seen = Vec::new();
    c.run_for(timeout * 3, &mut |e| seen.push(e));
    assert!(seen.is_empty(), "{seen:?}");
    assert!(rx.try_recv().is_err());
    let status = handle.status().unwrap();
    assert_eq!(status.sessions.len(), 1);
    assert!(status.sessions[0].connected);
    assert!(status.machine.pings >= 6, "{:?}", status.machine);

    let asked = handle.clock().now();
    c.close(&mut |_| {});
    until(&mut c, Duration::from_secs(1), |e| *e == ClientEvent::Closed);
    let SessionEvent::Closed { session: closed, at } = next(&rx) else { panic!("not Closed") };
    assert_eq!(closed, session);
    assert!(at.saturating_duration_since(asked) < Duration::from_millis(100));
    assert!(handle.status().unwrap().sessions.is_empty());
    handle.stop();
}

#[test]
fn a_silent_client_expires_at_its_deadline_and_not_before() {
    let (handle, rx) = server(ServerOptions::default());
    let mut c = client(vec![handle.local_addr()], Duration::from_millis(250), handle.clock());
    c.connect(&mut |_| {});
    until(&mut c, Duration::from_secs(2), |e| matches!(e, ClientEvent::Connected { .. }));
    assert!(matches!(next(&rx), SessionEvent::Created { .. }));
    c.run_for(Duration::from_millis(200), &mut |_| {});
    let gone = handle.clock().now();
    drop(c); // the socket closes, the session stays until its timeout
    let event = next(&rx);
    let SessionEvent::Expired { timeout, last_heard, at, .. } = event else { panic!("{event:?}") };
    assert_eq!(timeout, Duration::from_millis(250));
    // A ping sent just before may be read just after (50 ms for a loaded machine).
    assert!(last_heard <= gone.saturating_add(Duration::from_millis(50)), "{last_heard:?} {gone:?}");
    assert!(at >= last_heard.saturating_add(timeout));
    let late = event.lateness().unwrap();
    // The goal is a millisecond; the bound leaves room for a loaded test machine.
    assert!(late < Duration::from_millis(20), "late by {late:?}");
    assert!(at.saturating_duration_since(gone) <= timeout + Duration::from_millis(20));
    handle.stop();
}

#[test]
fn connection_loss_resumes_the_same_session_on_the_next_server() {
    let (handle, rx) = server(ServerOptions::default());
    let addr = handle.local_addr();
    let mut c = client(vec![addr, addr], Duration::from_millis(600), handle.clock());
    c.connect(&mut |_| {});
    until(&mut c, Duration::from_secs(2), |e| matches!(e, ClientEvent::Connected { server: 0, .. }));
    let SessionEvent::Created { session, .. } = next(&rx) else { panic!() };
    let mut seen = Vec::new();
    c.drop_connection(&mut |e| seen.push(e));
    seen.extend(until(&mut c, Duration::from_secs(2), |e| matches!(e, ClientEvent::Resumed { server: 1, .. })));
    assert!(matches!(seen[0], ClientEvent::Disconnected { server: 0, .. }), "{seen:?}");
    let SessionEvent::Resumed { session: resumed, .. } = next(&rx) else { panic!() };
    assert_eq!(resumed, session);
    assert_eq!(c.state(), ClientState::Connected);
    handle.stop();
}

#[test]
fn an_unknown_session_is_told_it_expired() {
    let (handle, rx) = server(ServerOptions::default());
    let addr = handle.local_addr();
    let mut c = client(vec![addr], Duration::from_millis(200), handle.clock());
    c.connect(&mut |_| {});
    until(&mut c, Duration::from_secs(2), |e| matches!(e, ClientEvent::Connected { .. }));
    // The server goes away with the session; a new one at the same address does not know it.
    handle.stop();
    drop(rx);
    let s = SessionServer::bind(addr, ServerConfig::new(1, TICK), ServerOptions::default(), c.clock()).unwrap();
    let second = s.spawn(|_| {}).unwrap();
    until(&mut c, Duration::from_secs(3), |e| matches!(e, ClientEvent::Expired { .. }));
    assert_eq!(c.state(), ClientState::Expired);
    second.stop();
}

#[test]
fn a_connection_that_sends_nothing_is_closed_and_the_connection_cap_holds() {
    let mut options = ServerOptions::default();
    options.max_connections = 2;
    options.handshake_timeout = Duration::from_millis(200);
    let (handle, _rx) = server(options);
    let addr = handle.local_addr();
    let a = TcpStream::connect(addr).unwrap();
    let b = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut refused = TcpStream::connect(addr).unwrap();
    refused.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(refused.read(&mut [0; 8]).unwrap_or(0), 0, "the third connection is closed");
    for mut idle in [a, b] {
        idle.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(idle.read(&mut [0; 8]).unwrap_or(1), 0);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    let status = handle.status().unwrap();
    assert_eq!(status.tcp.refused, 1);
    assert_eq!(status.tcp.handshake_timeouts, 2);
    assert_eq!(status.connections, 0);
    handle.stop();
}

#[test]
fn ruok_is_answered_imok_and_garbage_closes_the_connection() {
    let (handle, _rx) = server(ServerOptions::default());
    let mut s = TcpStream::connect(handle.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"ruok").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "imok");

    let mut bad = TcpStream::connect(handle.local_addr()).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    bad.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]).unwrap();
    let mut rest = Vec::new();
    let _ = bad.read_to_end(&mut rest);
    assert!(rest.is_empty());
    let status = handle.status().unwrap();
    assert_eq!(status.tcp.bad_input, 1);
    assert!(status.sessions.is_empty());
    handle.stop();
}

fn connect_frame(timeout_ms: i32) -> Vec<u8> {
    use heartbeat_session::jute::{ConnectRequest, PASSWORD_LEN, frame_into};
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms,
        session_id: 0,
        password: &[0; PASSWORD_LEN],
        read_only: Some(false),
    };
    let mut buf = [0u8; 64];
    let n = frame_into(&mut buf, |w| request.encode(w)).unwrap();
    buf[..n].to_vec()
}

/// Sends `bytes` one every `gap` until the server closes; returns whether it closed within
/// `limit`.
fn trickle_until_closed(s: &mut TcpStream, bytes: &[u8], gap: Duration, limit: Duration) -> bool {
    s.set_read_timeout(Some(gap)).unwrap();
    let end = std::time::Instant::now() + limit;
    for b in bytes.iter().cycle() {
        if std::time::Instant::now() > end {
            return false;
        }
        if s.write_all(&[*b]).is_err() {
            return true;
        }
        match s.read(&mut [0u8; 256]) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn a_trickled_connect_request_is_cut_off_by_the_handshake_timeout() {
    let mut options = ServerOptions::default();
    options.handshake_timeout = Duration::from_millis(300);
    let (handle, rx) = server(options);
    let mut s = TcpStream::connect(handle.local_addr()).unwrap();
    let started = std::time::Instant::now();
    // One byte every 100 ms: the 45-byte request would take 4.5 s.
    assert!(trickle_until_closed(&mut s, &connect_frame(1000), Duration::from_millis(100), Duration::from_secs(3)));
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(rx.try_recv().is_err(), "a session from a trickle");
    assert_eq!(handle.status().unwrap().tcp.handshake_timeouts, 1);
    handle.stop();
}

#[test]
fn a_session_whose_client_trickles_a_ping_expires() {
    use heartbeat_session::jute::{PING_OP, PING_XID, RequestHeader, frame_into};
    let (handle, rx) = server(ServerOptions::default());
    let mut s = TcpStream::connect(handle.local_addr()).unwrap();
    s.write_all(&connect_frame(300)).unwrap();
    let SessionEvent::Created { timeout, .. } = next(&rx) else { panic!("not Created") };
    assert_eq!(timeout, Duration::from_millis(300));
    let mut ping = [0u8; 16];
    let n = frame_into(&mut ping, |w| RequestHeader { xid: PING_XID, op: PING_OP }.encode(w)).unwrap();
    // Bytes keep coming, but never a whole frame within the timeout: no touch.
    let slow = Duration::from_millis(300 / n as u64 + 20);
    assert!(trickle_until_closed(&mut s, &ping[..n], slow, Duration::from_secs(3)));
    let event = next(&rx);
    assert!(matches!(event, SessionEvent::Expired { .. }), "{event:?}");
    handle.stop();
}
