//! Arbitrary chunked bytes into the ZooKeeper session server's connections (and a bare
//! framer), with well-formed connects and pings mixed in so that sessions exist. Asserts,
//! beyond "no panic":
//! - the framer yields the same frames whatever the chunking;
//! - a refused frame creates, resumes and ends no session (checked when bytes come one at a
//!   time, so that the refused call completed only that frame);
//! - after `tick(now)` and a full drain, `poll_timeout` is strictly later than `now`.

#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use heartbeat_session::Instant;
use heartbeat_session::jute::{ConnectRequest, Frame, Framer, RequestHeader, frame_into};
use heartbeat_session::server::{ConnectionId, Server, ServerConfig};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    tick_ms: u8,
    cap: u16,
    pause_bound_ms: Option<u16>,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Accept,
    Raw { conn: u8, dt_ms: u16, chunk: u8, bytes: Vec<u8> },
    Connect { conn: u8, dt_ms: u16, timeout_ms: i32, session: u8, password: [u8; 16], read_only: Option<bool> },
    Request { conn: u8, dt_ms: u16, xid: i32, op: i32 },
    Disconnect { conn: u8 },
    Close { session: u8 },
    Tick { dt_ms: u32 },
}

fn frames(cap: usize, bytes: &[u8], chunk: usize) -> (Vec<Vec<u8>>, bool) {
    let mut f = Framer::new(cap, true);
    let mut out = Vec::new();
    for mut piece in bytes.chunks(chunk.max(1)) {
        while !piece.is_empty() {
            match f.feed(&mut piece) {
                Ok(Some(Frame::Record(r))) => out.push(r.to_vec()),
                Ok(Some(Frame::FourLetterWord(w))) => out.push(w.to_vec()),
                Ok(None) => assert!(piece.is_empty()),
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|input: Input| {
    let mut config = ServerConfig::new(1, Duration::from_millis(u64::from(input.tick_ms.max(1))));
    config.max_frame_len = usize::from(input.cap);
    config.pause_bound = input.pause_bound_ms.map(|b| Duration::from_millis(u64::from(b.max(1))));
    let mut server = Server::<u8>::new(config).expect("valid config");
    let mut conns: Vec<ConnectionId> = Vec::new();
    let mut ids: Vec<i64> = Vec::new();
    let mut now = Instant::ZERO;
    let mut buf = [0u8; 4096];
    for op in input.ops.into_iter().take(256) {
        let (conn, dt, bytes, chunk) = match op {
            Op::Accept => {
                if let Ok(c) = server.accept() {
                    conns.push(c);
                }
                continue;
            }
            Op::Raw { conn, dt_ms, chunk, bytes } => {
                let (whole, whole_err) = frames(usize::from(input.cap), &bytes, bytes.len());
                let (bytewise, bytewise_err) = frames(usize::from(input.cap), &bytes, usize::from(chunk));
                assert_eq!(whole, bytewise, "chunking changed the frames");
                assert_eq!(whole_err, bytewise_err);
                (conn, dt_ms, bytes, usize::from(chunk))
            }
            Op::Connect { conn, dt_ms, timeout_ms, session, password, read_only } => {
                let session_id = ids.get(usize::from(session)).copied().unwrap_or(0);
                let r = ConnectRequest { protocol_version: 0, last_zxid_seen: 0, timeout_ms, session_id, password: &password, read_only };
                let n = frame_into(&mut buf, |w| r.encode(w)).expect("fits");
                (conn, dt_ms, buf[..n].to_vec(), 1)
            }
            Op::Request { conn, dt_ms, xid, op } => {
                let n = frame_into(&mut buf, |w| RequestHeader { xid, op }.encode(w)).expect("fits");
                (conn, dt_ms, buf[..n].to_vec(), 1)
            }
            Op::Disconnect { conn } => {
                if let Some(&c) = conns.get(usize::from(conn)) {
                    server.on_disconnect(c, now);
                }
                continue;
            }
            Op::Close { session } => {
                if let Some(h) = ids.get(usize::from(session)).and_then(|id| server.find_session(heartbeat_session::server::SessionId(*id))) {
                    server.close_session(h, now);
                }
                continue;
            }
            Op::Tick { dt_ms } => {
                now = now + Duration::from_millis(u64::from(dt_ms));
                server.tick(now);
                while let Some(e) = server.poll_event() {
                    if let heartbeat_session::server::ServerEvent::Created { session, .. } = e {
                        ids.push(session.0);
                    }
                }
                for &c in &conns {
                    while matches!(server.poll_transmit(c, &mut buf), Ok(n) if n > 0) {}
                }
                assert!(server.poll_timeout().is_none_or(|t| t > now), "busy loop at {now:?}");
                continue;
            }
        };
        let Some(&c) = conns.get(usize::from(conn)) else { continue };
        now = now + Duration::from_millis(u64::from(dt));
        // Expiries due now happen first, whatever the input.
        server.tick(now);
        for piece in bytes.chunks(chunk.max(1)) {
            let before = (server.session_count(), server.stats().created, server.stats().resumed, server.stats().closed + server.stats().expired);
            if server.on_bytes(c, now, piece).is_err() {
                // One byte completes at most one frame: the refused one, which must have
                // changed no session.
                if piece.len() == 1 {
                    let after = (server.session_count(), server.stats().created, server.stats().resumed, server.stats().closed + server.stats().expired);
                    assert_eq!(before, after, "a refused input changed the sessions");
                }
                break;
            }
        }
        while let Some(e) = server.poll_event() {
            if let heartbeat_session::server::ServerEvent::Created { session, .. } = e {
                ids.push(session.0);
            }
        }
    }
});
