//! The tokio session drivers over real loopback TCP: our client against our server, kazoo
//! against our server, and bad input that must close only its own connection.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use heartbeat_session::client::{ClientEvent, DisconnectReason};
use heartbeat_session::jute::{ConnectRequest, PASSWORD_LEN, frame_into};
use heartbeat_session::server::{ServerConfig, SessionId};
use heartbeat_tokio::session::{
    ClientOptions, ServerOptions, SessionClient, SessionClientHandle, SessionEvent, SessionServer, SessionServerHandle,
};
use heartbeat_tokio::tokio_clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

const TICK: Duration = Duration::from_millis(100);

async fn server(options: ServerOptions) -> (SessionServerHandle, UnboundedReceiver<SessionEvent>) {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut s = SessionServer::bind(listen, ServerConfig::new(1, TICK), options, tokio_clock()).await.unwrap();
    s.precise_timer().unwrap();
    s.spawn()
}

async fn client(
    server: &SessionServerHandle,
    timeout: Duration,
) -> (SessionClientHandle, UnboundedReceiver<ClientEvent>) {
    let mut c = SessionClient::new(vec![server.local_addr()], ClientOptions::new(timeout), server.clock()).unwrap();
    c.precise_timer().unwrap();
    c.spawn()
}

async fn next<T>(rx: &mut UnboundedReceiver<T>, within: Duration) -> T {
    tokio::time::timeout(within, rx.recv()).await.expect("an event in time").expect("the channel is open")
}

/// What arrives on `rx` within `window`.
async fn collect<T>(rx: &mut UnboundedReceiver<T>, window: Duration) -> Vec<T> {
    let mut seen = Vec::new();
    let end = tokio::time::Instant::now() + window;
    while let Ok(Some(e)) = tokio::time::timeout_at(end, rx.recv()).await {
        seen.push(e);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_keeps_its_session_by_pinging_and_closes_it() {
    let (server, mut events) = server(ServerOptions::default()).await;
    let (client, mut seen) = client(&server, Duration::from_millis(300)).await;
    let ClientEvent::Connected { session, timeout, .. } = next(&mut seen, Duration::from_secs(5)).await else {
        panic!("not Connected")
    };
    assert_eq!(timeout, Duration::from_millis(300));
    let SessionEvent::Created { session: created, .. } = next(&mut events, Duration::from_secs(5)).await else {
        panic!("not Created")
    };
    assert_eq!(created, SessionId(session));

    // Four timeouts of pings: nothing happens to the session.
    let quiet = collect(&mut events, Duration::from_millis(1200)).await;
    assert!(quiet.is_empty(), "{quiet:?}");
    assert!(seen.try_recv().is_err(), "the client saw something");
    let status = server.status().await.unwrap();
    assert_eq!(status.sessions, 1);
    assert!(status.machine.pings >= 8, "pings at a third of 300 ms for 1.2 s: {}", status.machine.pings);

    client.close();
    assert!(matches!(next(&mut seen, Duration::from_secs(2)).await, ClientEvent::Closed));
    assert!(
        matches!(next(&mut events, Duration::from_secs(2)).await, SessionEvent::Closed { session: s, .. } if s == created)
    );
    client.finished().await;
    assert_eq!(server.status().await.unwrap().sessions, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_client_expires_at_its_deadline_and_not_before() {
    let (server, mut events) = server(ServerOptions::default()).await;
    let timeout = Duration::from_millis(400);
    let (client, mut seen) = client(&server, timeout).await;
    assert!(matches!(next(&mut seen, Duration::from_secs(5)).await, ClientEvent::Connected { .. }));
    let SessionEvent::Created { session, .. } = next(&mut events, Duration::from_secs(5)).await else { panic!() };
    tokio::time::sleep(Duration::from_millis(250)).await;
    let killed = server.clock().now();
    client.kill();
    let event = next(&mut events, Duration::from_secs(3)).await;
    let SessionEvent::Expired { session: expired, timeout: t, last_heard, at } = event else { panic!("{event:?}") };
    assert_eq!((expired, t), (session, timeout));
    // Never early, at least half a timeout after the kill (a ping goes at a third), and
    // promptly: the driver sleeps until the exact deadline (a loaded machine gets 50 ms).
    assert!(at >= last_heard.saturating_add(timeout), "{at:?} {last_heard:?}");
    assert!(at.saturating_duration_since(killed) > timeout / 2);
    assert!(event.lateness().unwrap() < Duration::from_millis(50), "{:?}", event.lateness());
    assert_eq!(server.status().await.unwrap().sessions, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_resumes_the_same_session() {
    let (server, mut events) = server(ServerOptions::default()).await;
    let (client, mut seen) = client(&server, Duration::from_millis(600)).await;
    assert!(matches!(next(&mut seen, Duration::from_secs(5)).await, ClientEvent::Connected { .. }));
    let SessionEvent::Created { session, .. } = next(&mut events, Duration::from_secs(5)).await else { panic!() };
    client.drop_connection();
    assert!(matches!(next(&mut seen, Duration::from_secs(2)).await, ClientEvent::Disconnected { .. }));
    assert!(matches!(next(&mut seen, Duration::from_secs(2)).await, ClientEvent::Resumed { .. }));
    let event = next(&mut events, Duration::from_secs(2)).await;
    assert!(matches!(event, SessionEvent::Resumed { session: s, .. } if s == session), "{event:?}");
    client.close();
    assert!(matches!(next(&mut events, Duration::from_secs(2)).await, SessionEvent::Closed { .. }));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_is_passed_over_at_once_not_after_the_connect_timeout() {
    let (server, _events) = server(ServerOptions::default()).await;
    // A port nothing listens on: connecting is refused at once.
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let timeout = Duration::from_secs(3);
    let mut c =
        SessionClient::new(vec![refusing, server.local_addr()], ClientOptions::new(timeout), server.clock()).unwrap();
    c.precise_timer().unwrap();
    let started = tokio::time::Instant::now();
    let (client, mut seen) = c.spawn();
    let first = next(&mut seen, Duration::from_secs(5)).await;
    assert!(matches!(first, ClientEvent::Disconnected { server: 0, .. }), "{first:?}");
    let second = next(&mut seen, Duration::from_secs(5)).await;
    assert!(matches!(second, ClientEvent::Connected { server: 1, .. }), "{second:?}");
    // The connect timeout is 3 s / 2 servers: waiting it out would take 1.5 s.
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "connected after {took:?}");
    client.close();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_server_refuses_the_round_waits_its_connect_timeout_and_says_so_once() {
    let (server, _events) = server(ServerOptions::default()).await;
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let timeout = Duration::from_millis(600);
    let c = SessionClient::new(vec![refusing], ClientOptions::new(timeout), server.clock()).unwrap();
    let (client, mut seen) = c.spawn();
    // Nothing to say before the attempt's share of the timeout (here all of it) is out.
    let early = collect(&mut seen, Duration::from_millis(300)).await;
    assert!(early.is_empty(), "{early:?}");
    let late = collect(&mut seen, Duration::from_millis(500)).await;
    assert!(
        matches!(late.as_slice(), [ClientEvent::Disconnected { server: 0, reason: DisconnectReason::ConnectTimeout }]),
        "{late:?}"
    );
    client.close();
    server.stop().await;
}

/// `tests/support/kazoo_session.py` (the repository's kazoo driver) run by `/usr/bin/python3`.
struct Kazoo {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: BufReader<ChildStdout>,
}

impl Kazoo {
    fn start(addr: SocketAddr, args: &[&str]) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/support/kazoo_session.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(addr.to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with kazoo");
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap());
        Kazoo { child, stdin, lines }
    }

    /// Its next line, split in words (on a blocking thread).
    async fn line(self) -> (Self, Vec<String>) {
        tokio::task::spawn_blocking(move || {
            let mut k = self;
            let mut line = String::new();
            k.lines.read_line(&mut line).unwrap();
            let words = line.split_whitespace().map(str::to_owned).collect();
            (k, words)
        })
        .await
        .unwrap()
    }
}

impl Drop for Kazoo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_sid(s: &str) -> SessionId {
    SessionId(u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_keeps_a_session_by_pinging_and_closes_it() {
    let (server, mut events) = server(ServerOptions::default()).await;
    let kazoo = Kazoo::start(server.local_addr(), &["stay", "1000", "3"]);
    let (kazoo, words) = kazoo.line().await;
    assert_eq!((words[0].as_str(), words[2].as_str()), ("connected", "1000"), "{words:?}");
    let sid = parse_sid(&words[1]);
    let event = next(&mut events, Duration::from_secs(5)).await;
    assert!(matches!(event, SessionEvent::Created { session, .. } if session == sid), "{event:?}");
    // Three seconds, three timeouts: kazoo stays connected (it says so) and nothing expires.
    let (mut kazoo, words) = kazoo.line().await;
    assert_eq!(words, ["alive", "0"]);
    assert!(events.try_recv().is_err());
    assert!(server.status().await.unwrap().machine.pings >= 6);
    kazoo.stdin.take().unwrap().write_all(b"\n").unwrap();
    let (kazoo, words) = kazoo.line().await;
    assert_eq!(words, ["stopped"]);
    let event = next(&mut events, Duration::from_secs(2)).await;
    assert!(matches!(event, SessionEvent::Closed { session, .. } if session == sid), "{event:?}");
    drop(kazoo);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_kazoo_expires_one_timeout_after_its_last_touch() {
    let (server, mut events) = server(ServerOptions::default()).await;
    let kazoo = Kazoo::start(server.local_addr(), &["hold", "1000"]);
    let (mut kazoo, words) = kazoo.line().await;
    assert_eq!(words[0], "connected", "{words:?}");
    let sid = parse_sid(&words[1]);
    assert!(matches!(next(&mut events, Duration::from_secs(5)).await, SessionEvent::Created { .. }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = server.clock().now();
    kazoo.child.kill().unwrap();
    let event = next(&mut events, Duration::from_secs(3)).await;
    let SessionEvent::Expired { session, timeout, last_heard, at } = event else { panic!("{event:?}") };
    assert_eq!((session, timeout), (sid, Duration::from_secs(1)));
    assert!(at >= last_heard.saturating_add(timeout));
    assert!(at.saturating_duration_since(killed) > timeout / 2);
    assert!(event.lateness().unwrap() < Duration::from_millis(50), "{:?}", event.lateness());
    server.stop().await;
}

fn connect_frame(timeout_ms: i32) -> Vec<u8> {
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

/// Whether the server closes `s` within `limit` (reading, and throwing away, what it sends).
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    let end = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_its_own_connection() {
    let mut options = ServerOptions::default();
    options.handshake_timeout = Duration::from_millis(300);
    let (server, mut events) = server(options).await;
    let (client, mut seen) = client(&server, Duration::from_millis(600)).await;
    assert!(matches!(next(&mut seen, Duration::from_secs(5)).await, ClientEvent::Connected { .. }));
    assert!(matches!(next(&mut events, Duration::from_secs(5)).await, SessionEvent::Created { .. }));
    let addr = server.local_addr();

    // A length prefix of 256 MiB, far over the cap: refused at the prefix, nothing allocated.
    let mut oversized = TcpStream::connect(addr).await.unwrap();
    oversized.write_all(&[0x10, 0, 0, 0, 1, 2, 3]).await.unwrap();
    assert!(closed_within(&mut oversized, Duration::from_secs(1)).await, "oversized");
    // A whole frame that is no ConnectRequest.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(&[0, 0, 0, 3, 0xde, 0xad, 0xbe]).await.unwrap();
    assert!(closed_within(&mut garbage, Duration::from_secs(1)).await, "garbage");
    // Silence, then a ConnectRequest trickled too slowly: both cut off by the handshake bound.
    let started = tokio::time::Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut trickle = TcpStream::connect(addr).await.unwrap();
    let frame = connect_frame(1000);
    let trickling = tokio::spawn(async move {
        for b in frame {
            if trickle.write_all(&[b]).await.is_err() {
                return true;
            }
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(100), trickle.read(&mut [0; 64])).await
            {
                return true;
            }
        }
        false
    });
    assert!(closed_within(&mut silent, Duration::from_secs(2)).await, "silent");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(trickling.await.unwrap(), "the trickle got a session");

    // None of it touched the live session or its client.
    let quiet = collect(&mut events, Duration::from_millis(200)).await;
    assert!(quiet.is_empty(), "{quiet:?}");
    assert!(seen.try_recv().is_err(), "the client saw something");
    let status = server.status().await.unwrap();
    assert_eq!(status.sessions, 1);
    assert_eq!(status.machine.bad_frames, 1, "{:?}", status.machine);
    assert_eq!(status.tcp.bad_input, 2);
    assert_eq!(status.tcp.handshake_timeouts, 2);
    assert_eq!(status.connections, 1, "only the client's is left");
    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_share_one_server_and_only_the_killed_ones_expire() {
    const CLIENTS: usize = 40;
    let (server, mut events) = server(ServerOptions::default()).await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (c, mut seen) = client(&server, Duration::from_millis(500)).await;
        let ClientEvent::Connected { session, .. } = next(&mut seen, Duration::from_secs(5)).await else { panic!() };
        clients.push((c, seen, SessionId(session)));
    }
    let created = collect(&mut events, Duration::from_millis(100)).await;
    assert_eq!(created.iter().filter(|e| matches!(e, SessionEvent::Created { .. })).count(), CLIENTS);
    assert_eq!(server.status().await.unwrap().connections, CLIENTS);
    // Every other client dies; the others keep pinging.
    let mut killed = std::collections::BTreeSet::new();
    for (c, _, id) in clients.iter().step_by(2) {
        c.kill();
        killed.insert(*id);
    }
    let after = collect(&mut events, Duration::from_millis(1500)).await;
    let expired: std::collections::BTreeSet<SessionId> = after
        .iter()
        .map(|e| match e {
            SessionEvent::Expired { session, .. } => *session,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(expired, killed);
    let status = server.status().await.unwrap();
    assert_eq!((status.sessions, status.connections), (CLIENTS / 2, CLIENTS / 2));
    for (_, seen, _) in clients.iter_mut().skip(1).step_by(2) {
        assert!(seen.try_recv().is_err(), "a live client saw something");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_is_closed_at_once() {
    let mut options = ServerOptions::default();
    options.max_connections = 2;
    let (server, _events) = server(options).await;
    let addr = server.local_addr();
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut refused = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut refused, Duration::from_secs(1)).await);
    let status = server.status().await.unwrap();
    assert_eq!((status.tcp.refused, status.tcp.accepted, status.connections), (1, 2, 2));
    server.stop().await;
}
