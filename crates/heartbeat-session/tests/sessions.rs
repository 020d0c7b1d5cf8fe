//! Server and client in virtual time over in-memory TCP.

mod support;

use core::time::Duration;

use heartbeat_session::client::{ClientConfig, ClientEvent, ClientState, DisconnectReason, ExpiryReason, ExpiryRule};
use heartbeat_session::jute::{ConnectRequest, ConnectResponse, ErrorCode, ReplyHeader, RequestHeader, frame_into};
use heartbeat_session::server::{Server, ServerError, ServerEvent, SessionId};
use support::{Net, Res, ms, server_config};

fn d(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn connect_bytes(timeout_ms: i32, session_id: i64, password: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let r = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms,
        session_id,
        password,
        read_only: Some(false),
    };
    let n = frame_into(&mut buf, |w| r.encode(w)).unwrap();
    buf[..n].to_vec()
}

fn request_bytes(xid: i32, op: i32) -> Vec<u8> {
    let mut buf = [0u8; 16];
    let n = frame_into(&mut buf, |w| RequestHeader { xid, op }.encode(w)).unwrap();
    buf[..n].to_vec()
}

fn take_output(server: &mut Server<Res>, c: heartbeat_session::server::ConnectionId) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    let n = server.poll_transmit(c, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// Opens a raw session on `server` at `now`: (connection, id, password).
fn raw_session(
    server: &mut Server<Res>,
    now: heartbeat_session::Instant,
    timeout_ms: i32,
) -> (heartbeat_session::server::ConnectionId, i64, [u8; 16]) {
    let c = server.accept().unwrap();
    server.on_bytes(c, now, &connect_bytes(timeout_ms, 0, &[0; 16])).unwrap();
    let out = take_output(server, c);
    let r = ConnectResponse::decode(&out[4..]).unwrap();
    (c, r.session_id, r.password.try_into().unwrap())
}

#[test]
fn negotiation_matches_the_measured_zookeeper_table() {
    let tick = server_config(1, 500);
    for (asked, granted) in [(200, 1000), (999, 1000), (1234, 1234), (20_000, 10_000), (-5, 1000)] {
        assert_eq!(tick.negotiate(asked), d(granted), "tick 500, asked {asked}");
    }
    let mut bounds = server_config(1, 500);
    bounds.min_session_timeout = Some(d(300));
    bounds.max_session_timeout = Some(d(15_000));
    for (asked, granted) in [(200, 300), (999, 999), (20_000, 15_000)] {
        assert_eq!(bounds.negotiate(asked), d(granted), "bounds 300/15000, asked {asked}");
    }
    // And over the wire: the client reads the negotiated value.
    for (asked, granted) in [(200, 1000), (1234, 1234), (20_000, 10_000)] {
        let mut net = Net::new(vec![server_config(1, 500)], ClientConfig::new(1, d(asked)), 3);
        net.client.connect(ms(0));
        net.run_until(ms(1));
        assert_eq!(net.client.timeout(), Some(d(granted)));
        assert!(
            matches!(net.client_events[0].1, ClientEvent::Connected { server: 0, timeout, .. } if timeout == d(granted))
        );
    }
}

#[test]
fn session_ids_carry_the_server_id_and_passwords_differ() {
    let mut server = Server::<Res>::new(server_config(7, 500)).unwrap();
    let (_, a, pa) = raw_session(&mut server, ms(0), 2000);
    let (_, b, pb) = raw_session(&mut server, ms(0), 2000);
    assert_eq!(SessionId(a).server_id(), 7);
    assert_eq!(b, a + 1);
    assert_ne!(pa, pb);
    assert_ne!(pa, [0; 16]);
}

#[test]
fn pings_go_out_at_a_third_of_the_timeout_and_keep_the_session() {
    for chunk in [1, 7, 4096] {
        let mut net = Net::new(vec![server_config(1, 500)], ClientConfig::new(1, d(3000)), chunk);
        net.client.connect(ms(0));
        net.run_until(ms(10_000));
        let times: Vec<u64> = net.delivered.iter().map(|(t, _)| t.as_nanos() / 1_000_000).collect();
        assert_eq!(times, [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000], "chunk {chunk}");
        assert_eq!(net.servers[0].stats().pings, 10);
        assert_eq!(net.servers[0].session_count(), 1);
        assert_eq!(net.client.state(), ClientState::Connected);
    }
}

#[test]
fn the_server_expires_a_silent_session_exactly_at_last_touch_plus_timeout() {
    let mut net = Net::new(vec![server_config(1, 500)], ClientConfig::new(1, d(2000)), 5);
    net.client.connect(ms(0));
    net.run_until(ms(1500));
    // The client pinged at 666.67 ms and 1333.33 ms; then it is stopped.
    let last = net.delivered.last().unwrap().0;
    assert_eq!(last, ms(0) + d(2000) / 3 * 2);
    net.client_frozen = true;
    net.run_until(ms(10_000));
    let expired: Vec<_> =
        net.server_events.iter().filter(|(_, _, e)| matches!(e, ServerEvent::Expired { .. })).collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].0, last + d(2000), "not a tick bucket later");
    assert!(matches!(expired[0].2, ServerEvent::Expired { silent_for, .. } if silent_for == d(2000)));
    assert_eq!(net.servers[0].session_count(), 0);
    assert_eq!(net.conn, None, "the server ended the expired session's connection");
}

#[test]
fn a_tick_just_before_the_deadline_does_not_expire() {
    let mut server = Server::<Res>::new(server_config(1, 500)).unwrap();
    let (c, id, _) = raw_session(&mut server, ms(0), 2000);
    server.on_bytes(c, ms(700), &request_bytes(-2, 11)).unwrap();
    server.tick(ms(2000));
    assert!(server.poll_event().is_some_and(|e| matches!(e, ServerEvent::Created { .. })));
    assert_eq!(server.poll_event(), None, "the touch at 700 moved the deadline to 2700");
    assert_eq!(server.poll_timeout(), Some(ms(2700)), "the lazy timer was filed again at the true deadline");
    server.tick(heartbeat_session::Instant::from_nanos(2_699_999_999));
    assert_eq!(server.poll_event(), None);
    server.tick(ms(2700));
    assert_eq!(server.poll_event(), Some(ServerEvent::Expired { session: SessionId(id), silent_for: d(2000) }));
}

#[test]
fn connection_loss_at_two_thirds_tries_the_next_server_which_refuses_a_session_it_does_not_share() {
    let servers = vec![server_config(1, 500), server_config(2, 500), server_config(3, 500)];
    let mut net = Net::new(servers, ClientConfig::new(3, d(3000)), 2);
    net.client.connect(ms(0));
    net.run_until(ms(100));
    let id = net.client.session_id().unwrap();
    net.frozen[0] = true;
    net.run_until(ms(6000));
    let lost = net.client_events_of(|e| matches!(e, ClientEvent::Disconnected { .. }));
    // Last heard at 0 (the connect response): the pings at 1000 got no answer.
    assert_eq!(lost[0], (ms(2000), ClientEvent::Disconnected { server: 0, reason: DisconnectReason::ReadTimeout }));
    // Server 2 never had the session: it answers "expired", and the client stops.
    assert_eq!(net.servers[1].stats().unknown_sessions, 1);
    assert_eq!(
        net.client_events.last().unwrap(),
        &(ms(2000), ClientEvent::Expired { reason: ExpiryReason::ToldByServer })
    );
    assert_eq!(net.client.state(), ClientState::Expired);
    assert_eq!(net.servers[1].session_count(), 0);
    assert!(net.servers[0].find_session(SessionId(id)).is_some(), "frozen server 1 still has it");
}

#[test]
fn a_reconnect_to_the_same_server_within_the_timeout_resumes_the_session() {
    let mut net = Net::new(vec![server_config(1, 500)], ClientConfig::new(1, d(3000)), 1);
    net.client.connect(ms(0));
    net.run_until(ms(1500));
    let id = net.client.session_id().unwrap();
    net.drop_connection();
    net.run_until(ms(1501));
    assert!(
        net.client_events
            .contains(&(ms(1500), ClientEvent::Disconnected { server: 0, reason: DisconnectReason::Closed }))
    );
    assert!(net.client_events.contains(&(ms(1500), ClientEvent::Resumed { server: 0, timeout: d(3000) })));
    assert_eq!(net.client.session_id(), Some(id));
    assert!(
        net.server_events.iter().any(|(_, _, e)| matches!(e, ServerEvent::Resumed { session, .. } if session.0 == id))
    );
    net.run_until(ms(20_000));
    assert_eq!(net.client.state(), ClientState::Connected);
    assert_eq!(net.servers[0].stats().expired, 0);
}

#[test]
fn a_wrong_password_is_refused_and_changes_nothing() {
    let mut server = Server::<Res>::new(server_config(1, 500)).unwrap();
    let (_, id, password) = raw_session(&mut server, ms(0), 2000);
    let handle = server.find_session(SessionId(id)).unwrap();
    let before = server.session(handle).unwrap();
    let mut wrong = password;
    wrong[0] ^= 1;
    let c = server.accept().unwrap();
    assert_eq!(
        server.on_bytes(c, ms(1000), &connect_bytes(2000, id, &wrong)),
        Err(ServerError::WrongPassword(SessionId(id)))
    );
    let reply = take_output(&mut server, c);
    let reply = ConnectResponse::decode(&reply[4..]).unwrap();
    assert_eq!((reply.timeout_ms, reply.session_id), (0, 0), "the expired-session reply");
    assert!(server.wants_close(c));
    assert_eq!(server.session(handle), Some(before), "not touched, not moved");
    assert_eq!(server.stats().wrong_passwords, 1);
    // Unknown id, likewise.
    let c = server.accept().unwrap();
    assert_eq!(
        server.on_bytes(c, ms(1000), &connect_bytes(2000, id + 1, &password)),
        Err(ServerError::UnknownSession(SessionId(id + 1)))
    );
    assert_eq!(server.stats().unknown_sessions, 1);
    // The right one still resumes.
    let c = server.accept().unwrap();
    server.on_bytes(c, ms(1000), &connect_bytes(2000, id, &password)).unwrap();
    assert_eq!(server.stats().resumed, 1);
    // And after expiry the client is told so.
    server.tick(ms(3000));
    let c = server.accept().unwrap();
    assert_eq!(
        server.on_bytes(c, ms(3000), &connect_bytes(2000, id, &password)),
        Err(ServerError::UnknownSession(SessionId(id)))
    );
    assert_eq!(ConnectResponse::decode(&take_output(&mut server, c)[4..]).unwrap().timeout_ms, 0);
}

#[test]
fn closing_releases_resources_with_events() {
    let mut net = Net::new(vec![server_config(1, 500)], ClientConfig::new(1, d(3000)), 3);
    net.client.connect(ms(0));
    net.run_until(ms(10));
    let id = SessionId(net.client.session_id().unwrap());
    let h = net.servers[0].find_session(id).unwrap();
    net.servers[0].attach(h, "/lock-a").unwrap();
    net.servers[0].attach(h, "/name-b").unwrap();
    assert_eq!(net.servers[0].resources(h), Some(&["/lock-a", "/name-b"][..]));
    net.run_until(ms(20));
    net.server_events.clear();
    net.client.close(ms(20));
    net.run_until(ms(20));
    let events: Vec<_> = net.server_events.iter().map(|(t, _, e)| (*t, e.clone())).collect();
    assert_eq!(
        events,
        [
            (ms(20), ServerEvent::Released { session: id, resource: "/lock-a" }),
            (ms(20), ServerEvent::Released { session: id, resource: "/name-b" }),
            (ms(20), ServerEvent::Closed { session: id }),
        ]
    );
    assert_eq!(net.client_events.last().unwrap(), &(ms(20), ClientEvent::Closed));
    assert_eq!(net.servers[0].session_count(), 0);
    assert_eq!(net.servers[0].attach(h, "/late"), Err("/late"), "a stale handle owns nothing");
}

#[test]
fn expiry_releases_resources_too() {
    let mut server = Server::<Res>::new(server_config(1, 500)).unwrap();
    let (_, id, _) = raw_session(&mut server, ms(0), 1000);
    let h = server.find_session(SessionId(id)).unwrap();
    server.attach(h, "/eph").unwrap();
    server.tick(ms(1000));
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).skip(1).collect();
    assert_eq!(
        events,
        [
            ServerEvent::Released { session: SessionId(id), resource: "/eph" },
            ServerEvent::Expired { session: SessionId(id), silent_for: d(1000) },
        ]
    );
}

fn paused_server(guard: Option<u64>) -> (Server<Res>, Vec<(heartbeat_session::server::ConnectionId, i64)>) {
    let mut config = server_config(1, 500);
    config.pause_bound = guard.map(d);
    let mut server = Server::<Res>::new(config).unwrap();
    let a = raw_session(&mut server, ms(0), 4000);
    let b = raw_session(&mut server, ms(0), 4000);
    while server.poll_event().is_some() {}
    (server, vec![(a.0, a.1), (b.0, b.1)])
}

#[test]
fn the_pause_guard_holds_sessions_the_server_pause_explains_then_expires_the_silent_ones() {
    let (mut server, s) = paused_server(Some(1000));
    // The server was not called from 0 to 10 s (deadlines at 4 s): it was paused.
    server.tick(ms(10_000));
    assert_eq!(server.poll_event(), None, "nobody mass-expired");
    assert_eq!(server.stats().held_by_pause, 2);
    assert_eq!(server.stats().pauses, 1);
    assert_eq!(server.poll_timeout(), Some(ms(11_000)));
    // One client speaks during the grace; the other stays silent.
    server.on_bytes(s[0].0, ms(10_500), &request_bytes(-2, 11)).unwrap();
    server.tick(heartbeat_session::Instant::from_nanos(10_999_999_999));
    assert_eq!(server.poll_event(), None);
    server.tick(ms(11_000));
    assert_eq!(server.poll_event(), Some(ServerEvent::Expired { session: SessionId(s[1].1), silent_for: d(11_000) }));
    assert_eq!(server.poll_event(), None);
    assert_eq!(server.poll_timeout(), Some(ms(14_500)));
    server.tick(ms(14_500));
    assert_eq!(server.poll_event(), Some(ServerEvent::Expired { session: SessionId(s[0].1), silent_for: d(4000) }));
    assert_eq!(server.stats().pauses, 1, "the grace's own timer is no new pause");
}

#[test]
fn without_the_guard_a_server_pause_expires_everyone_as_zookeeper_does() {
    let (mut server, _) = paused_server(None);
    server.tick(ms(10_000));
    let expired =
        std::iter::from_fn(|| server.poll_event()).filter(|e| matches!(e, ServerEvent::Expired { .. })).count();
    assert_eq!(expired, 2);
}

#[test]
fn a_late_tick_within_the_bound_is_no_pause() {
    let (mut server, _) = paused_server(Some(1000));
    server.tick(ms(4900));
    assert_eq!(std::iter::from_fn(|| server.poll_event()).count(), 2, "900 ms late is within the bound");
    assert_eq!(server.stats().pauses, 0);
}

#[test]
fn the_client_expires_itself_when_no_server_answers_within_the_timeout_or_four_thirds() {
    for (rule, at) in [(ExpiryRule::SessionTimeout, 3000), (ExpiryRule::FourThirds, 4000)] {
        let mut config = ClientConfig::new(2, d(3000));
        config.expiry = rule;
        let mut net = Net::new(vec![server_config(1, 500), server_config(2, 500)], config, 4);
        net.client.connect(ms(0));
        net.run_until(ms(1));
        net.frozen = vec![true, true];
        net.run_until(ms(10_000));
        let lost: Vec<_> = net.client_events_of(|e| matches!(e, ClientEvent::Disconnected { .. }));
        // Read timeout at 2000 (last heard 0), then connect timeouts of 3000/2 on server 2.
        assert_eq!(lost[0], (ms(2000), ClientEvent::Disconnected { server: 0, reason: DisconnectReason::ReadTimeout }));
        if rule == ExpiryRule::FourThirds {
            assert_eq!(
                lost[1],
                (ms(3500), ClientEvent::Disconnected { server: 1, reason: DisconnectReason::ConnectTimeout })
            );
        } else {
            assert_eq!(lost.len(), 1, "expired at 3000, before server 2's connect timeout at 3500");
        }
        let expired = net.client_events_of(|e| matches!(e, ClientEvent::Expired { .. }));
        assert_eq!(expired, [(ms(at), ClientEvent::Expired { reason: ExpiryReason::Timeout })], "{rule:?}");
    }
}

#[test]
fn other_operations_get_unimplemented_and_bad_input_is_typed_counted_and_harmless() {
    let mut config = server_config(1, 500);
    config.max_frame_len = 64;
    let mut server = Server::<Res>::new(config).unwrap();
    let (c, id, _) = raw_session(&mut server, ms(0), 2000);
    let h = server.find_session(SessionId(id)).unwrap();
    server.on_bytes(c, ms(100), &request_bytes(5, 4)).unwrap();
    let (reply, _) = ReplyHeader::decode(&take_output(&mut server, c)[4..]).unwrap();
    assert_eq!((reply.xid, reply.err), (5, ErrorCode::Unimplemented));
    assert_eq!(server.session(h).unwrap().last_heard, ms(100), "valid traffic touches");
    // A record too short for a header.
    assert!(matches!(server.on_bytes(c, ms(200), &[0, 0, 0, 3, 1, 2, 3]), Err(ServerError::Decode(_))));
    assert_eq!(server.stats().bad_records, 1);
    assert_eq!(server.session(h).unwrap().last_heard, ms(100), "refused input does not touch");
    assert!(server.wants_close(c));
    // A length over the cap on a fresh connection: refused from the prefix alone.
    let c2 = server.accept().unwrap();
    let refused = server.on_bytes(c2, ms(200), &[0, 0, 0x10, 0]);
    assert_eq!(refused, Err(ServerError::Frame(heartbeat_session::jute::FrameError::TooLong { len: 4096, cap: 64 })));
    assert_eq!(server.stats().bad_frames, 1);
    // A malformed connect.
    let c3 = server.accept().unwrap();
    assert!(matches!(server.on_bytes(c3, ms(200), &[0, 0, 0, 2, 0, 0]), Err(ServerError::Decode(_))));
    assert_eq!(server.stats().bad_records, 2);
    assert_eq!(server.session_count(), 1);
    assert_eq!(server.stats().created, 1);
    // The session's own connection ended, but the session lives to its timeout.
    server.on_disconnect(c, ms(300));
    assert!(server.session(h).is_some_and(|s| s.connection.is_none()));
    while server.poll_event().is_some() {}
    assert_eq!(server.poll_timeout(), Some(ms(2000)), "the lazy timer, filed at creation");
    server.tick(ms(2000));
    assert_eq!(server.poll_event(), None);
    assert_eq!(server.poll_timeout(), Some(ms(2100)), "the true deadline: the touch at 100 + 2000");
}

#[test]
fn four_letter_words_ruok_and_mntr() {
    let mut server = Server::<Res>::new(server_config(1, 500)).unwrap();
    let (_, id, _) = raw_session(&mut server, ms(0), 2000);
    server.attach(server.find_session(SessionId(id)).unwrap(), "/x").unwrap();
    let c = server.accept().unwrap();
    for b in b"ruok" {
        server.on_bytes(c, ms(1), &[*b]).unwrap();
    }
    assert_eq!(take_output(&mut server, c), b"imok");
    assert!(server.wants_close(c));
    let c = server.accept().unwrap();
    server.on_bytes(c, ms(1), b"mntr").unwrap();
    let text = String::from_utf8(take_output(&mut server, c)).unwrap();
    assert!(text.contains("zk_global_sessions\t1\n"), "{text}");
    assert!(text.contains("zk_num_alive_connections\t3\n"), "{text}");
    assert!(text.contains("zk_ephemerals_count\t1\n"), "{text}");
    let c = server.accept().unwrap();
    assert_eq!(server.on_bytes(c, ms(1), b"wxyz"), Err(ServerError::UnknownFourLetterWord(*b"wxyz")));
    assert_eq!(server.stats().four_letter_words, 2);
    assert_eq!(server.stats().unknown_four_letter_words, 1);
}

#[test]
fn the_client_counts_and_survives_garbage_from_a_server() {
    let mut net = Net::new(vec![server_config(1, 500), server_config(2, 500)], ClientConfig::new(2, d(3000)), 4);
    net.client.connect(ms(0));
    net.run_until(ms(10));
    // A reply too short for a ReplyHeader: the connection is dropped, the next server tried.
    assert!(net.client.on_bytes(ms(10), &[0, 0, 0, 2, 0, 0]).is_err());
    assert_eq!(net.client.rejected(), 1);
    assert_eq!(
        net.client.poll_event(),
        Some(ClientEvent::Disconnected { server: 0, reason: DisconnectReason::BadInput })
    );
    assert_eq!(net.client.poll_connect(), Some(1));
    assert_eq!(net.client.state(), ClientState::Connecting);
}

#[test]
fn time_going_backwards_is_no_progress() {
    let mut server = Server::<Res>::new(server_config(1, 500)).unwrap();
    let (c, id, _) = raw_session(&mut server, ms(5000), 2000);
    let h = server.find_session(SessionId(id)).unwrap();
    server.tick(ms(100));
    server.on_bytes(c, ms(200), &request_bytes(-2, 11)).unwrap();
    assert_eq!(server.session(h).unwrap().last_heard, ms(5000), "an older now does not move the last touch back");
    server.tick(ms(6999));
    assert!(server.session(h).is_some());
    server.tick(ms(7000));
    assert!(server.session(h).is_none());
}

#[test]
fn a_resume_renegotiates_the_timeout_and_the_deadline_follows() {
    let mut server = Server::<Res>::new(server_config(1, 500)).unwrap();
    let (_, id, password) = raw_session(&mut server, ms(0), 8000);
    let c = server.accept().unwrap();
    server.on_bytes(c, ms(1000), &connect_bytes(2000, id, &password)).unwrap();
    let out = take_output(&mut server, c);
    let reply = ConnectResponse::decode(&out[4..]).unwrap();
    assert_eq!((reply.timeout_ms, reply.session_id), (2000, id));
    assert_eq!(reply.password, password);
    while server.poll_event().is_some() {}
    assert_eq!(server.poll_timeout(), Some(ms(3000)));
    server.tick(ms(3000));
    assert_eq!(server.poll_event(), Some(ServerEvent::Expired { session: SessionId(id), silent_for: d(2000) }));
}
