//! The session table against a model: whatever the touches and tick times, a session expires
//! at the first tick at or after its last touch plus its timeout, never earlier, with the
//! silence it had; and nothing else changes.

use core::time::Duration;
use std::collections::BTreeMap;

use heartbeat_session::Instant;
use heartbeat_session::jute::{ConnectRequest, ConnectResponse, frame_into};
use heartbeat_session::server::{Server, ServerConfig, ServerEvent, SessionId};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create { timeout_ms: i32 },
    Touch { pick: usize },
    Close { pick: usize },
    Tick,
}

fn op() -> impl Strategy<Value = (Op, u64)> {
    let op = prop_oneof![
        (0i32..3000).prop_map(|timeout_ms| Op::Create { timeout_ms }),
        any::<usize>().prop_map(|pick| Op::Touch { pick }),
        any::<usize>().prop_map(|pick| Op::Close { pick }),
        Just(Op::Tick),
    ];
    (op, 0u64..700)
}

proptest! {
    #[test]
    fn expiry_is_exact(ops in proptest::collection::vec(op(), 1..200)) {
        let config = ServerConfig::new(3, Duration::from_millis(100));
        let mut server = Server::<u32>::new(config.clone()).unwrap();
        // id -> (last touch, timeout)
        let mut model: BTreeMap<i64, (Instant, Duration)> = BTreeMap::new();
        let mut now = Instant::ZERO;
        let mut buf = [0u8; 128];
        for (op, dt) in ops {
            // Steps in 0.1 ms so that ticks land between and on deadlines.
            now = now + Duration::from_micros(dt * 100);
            server.tick(now);
            // What the model says must have expired by now, and with what silence.
            let mut want: Vec<(i64, Duration)> = model
                .iter()
                .filter(|(_, (last, t))| *last + *t <= now)
                .map(|(id, (last, _))| (*id, now.saturating_duration_since(*last)))
                .collect();
            model.retain(|_, (last, t)| *last + *t > now);
            let mut got = Vec::new();
            while let Some(e) = server.poll_event() {
                if let ServerEvent::Expired { session, silent_for } = e {
                    got.push((session.0, silent_for));
                }
            }
            want.sort();
            got.sort();
            prop_assert_eq!(got, want);
            match op {
                Op::Create { timeout_ms } => {
                    let c = server.accept().unwrap();
                    let r = ConnectRequest { protocol_version: 0, last_zxid_seen: 0, timeout_ms, session_id: 0, password: &[0; 16], read_only: None };
                    let n = frame_into(&mut buf, |w| r.encode(w)).unwrap();
                    server.on_bytes(c, now, &buf[..n]).unwrap();
                    let mut out = [0u8; 128];
                    let n = server.poll_transmit(c, &mut out).unwrap();
                    let resp = ConnectResponse::decode(&out[4..n]).unwrap();
                    let t = config.negotiate(timeout_ms);
                    prop_assert_eq!(resp.timeout_ms as u128, t.as_millis());
                    model.insert(resp.session_id, (now, t));
                }
                Op::Touch { pick } => {
                    if let Some((&id, _)) = model.iter().nth(pick % model.len().max(1)) {
                        let h = server.find_session(SessionId(id)).unwrap();
                        prop_assert!(server.touch(h, now));
                        model.get_mut(&id).unwrap().0 = now;
                    }
                }
                Op::Close { pick } => {
                    if let Some((&id, _)) = model.iter().nth(pick % model.len().max(1)) {
                        let h = server.find_session(SessionId(id)).unwrap();
                        prop_assert!(server.close_session(h, now));
                        model.remove(&id);
                    }
                }
                Op::Tick => {}
            }
            while let Some(e) = server.poll_event() {
                prop_assert!(!matches!(e, ServerEvent::Expired { .. }), "expired outside a due tick");
            }
            prop_assert_eq!(server.session_count(), model.len());
            // The next deadline is never later than the model's earliest one (it may be an
            // earlier, lazy one) and always after now.
            let earliest = model.values().map(|(last, t)| *last + *t).min();
            prop_assert_eq!(server.poll_timeout().is_some(), earliest.is_some());
            if let (Some(at), Some(e)) = (server.poll_timeout(), earliest) {
                prop_assert!(at > now && at <= e);
            }
        }
    }
}
