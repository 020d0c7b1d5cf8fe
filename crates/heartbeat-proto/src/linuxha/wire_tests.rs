//! Two [`LinuxHaNode`]s (and hand-made messages) in virtual time: retransmission, naks, acks,
//! `reqnodes`/`repnodes`, refusals of replays, duplicates and stale generations, and the
//! clamping of a peer's advertised `dt`.

use core::net::SocketAddr;
use core::time::Duration;
use std::string::String;
use std::vec::Vec;

use super::node::{Handled, LinuxHaNode, MAX_DATAGRAM, Rejected, SeqRefusal, Transmit};
use super::profile::Control;
use super::{HaCf, Message, encode_netstring, parse_authkeys};
use crate::engine::RecvMeta;
use crate::event::EventKind;
use crate::linuxha::message::Field;
use crate::monitor::{Accepted, Rejected as EngineRejected};
use crate::{FixedTimeout, Generation, Growable, Instant};

const CF: &str = "keepalive 500ms\ndeadtime 2\ninitdead 4\nucast eth0 198.18.0.1\nucast eth0 198.18.0.2\n\
node hbnode1 hbnode2\n";
const KEYS: &str = "auth 1\n1 sha1 lha-test-secret\n";

type TestNode = LinuxHaNode<FixedTimeout, Growable>;

fn node(me: &str, generation: u32) -> TestNode {
    let cf = HaCf::parse(CF).unwrap();
    let keys = parse_authkeys(KEYS).unwrap();
    LinuxHaNode::new(&cf, me, keys, Generation(generation), FixedTimeout::new(), Instant::ZERO, 0x6b07_0000).unwrap()
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// Ticks at `now` and returns every datagram sent.
fn sent(node: &mut TestNode, now: Instant) -> Vec<Vec<u8>> {
    node.tick(now);
    let mut buf = std::vec![0; MAX_DATAGRAM];
    let mut out = Vec::new();
    while let Some(t) = node.poll_transmit(&mut buf) {
        let t: Transmit = t.unwrap();
        out.push(buf[..t.len].to_vec());
    }
    // Events waiting would keep `poll_timeout` at `now`.
    while node.poll_event().is_some() {}
    out
}

fn from(addr: &str) -> RecvMeta {
    RecvMeta::from(addr.parse::<SocketAddr>().unwrap())
}

fn b_addr() -> RecvMeta {
    from("198.18.0.2:694")
}

fn a_addr() -> RecvMeta {
    from("198.18.0.1:694")
}

/// A field of a datagram, as text.
fn field(bytes: &[u8], name: &'static str) -> Option<String> {
    Message::decode(bytes).unwrap().text(name).unwrap().map(String::from)
}

fn kind(bytes: &[u8]) -> String {
    field(bytes, "t").unwrap()
}

/// A message of hbnode1's, signed with the cluster key.
fn from_hbnode1(fields: &[(&str, &str)]) -> Vec<u8> {
    let fields: Vec<Field<'_>> = fields.iter().map(|(n, v)| Field::text(n, v)).collect();
    let mut buf = std::vec![0; 4096];
    let len = encode_netstring(&fields, &parse_authkeys(KEYS).unwrap(), &mut buf).unwrap();
    buf.truncate(len);
    buf
}

#[test]
fn a_lost_heartbeat_is_asked_for_after_a_random_delay_and_resent_byte_for_byte() {
    let (mut a, mut b) = (node("hbnode1", 1), node("hbnode2", 5));
    let mut hbs = Vec::new();
    for i in 0..3 {
        hbs.extend(sent(&mut b, ms(500 * i)));
    }
    assert_eq!(hbs.len(), 3);
    a.on_message(ms(0), b_addr(), &hbs[0]).unwrap();
    // The second is lost: the third shows the gap.
    a.on_message(ms(1_000), b_addr(), &hbs[2]).unwrap();
    assert_eq!(a.wire_stats().missing, 1);
    let _ = sent(&mut a, ms(1_000));
    let due = a.poll_timeout().unwrap();
    assert!(due >= ms(1_050) && due <= ms(1_250), "first request 50..250 ms after the gap: {due:?}");
    let before: Vec<_> = sent(&mut a, due - Duration::from_nanos(1));
    assert!(before.iter().all(|m| kind(m) != "NS_rexmit"));
    let out = sent(&mut a, due);
    let request: Vec<_> = out.iter().filter(|m| kind(m) == "NS_rexmit").collect();
    assert_eq!(request.len(), 1);
    assert_eq!(field(request[0], "dest").as_deref(), Some("hbnode2"));
    assert_eq!(field(request[0], "firstseq").as_deref(), Some("2"));
    assert_eq!(field(request[0], "lastseq").as_deref(), Some("2"));
    assert_eq!(field(request[0], "seq"), None, "NS_ messages have no sequence number");
    // b answers with the same bytes (the same fields, so the same authenticators).
    let handled = b.on_message(due, a_addr(), request[0]).unwrap();
    assert_eq!(handled, Handled::Control(Control::Rexmit { first: 2, last: 2 }));
    assert_eq!(b.poll_timeout(), Some(due), "the answer waits to be polled");
    let answer = sent(&mut b, due);
    assert_eq!(answer, [hbs[1].clone()]);
    assert_eq!(b.wire_stats().resent, 1);
    // Asked again at once: not resent twice within 240 ms.
    b.on_message(due, a_addr(), request[0]).unwrap();
    assert!(sent(&mut b, due).is_empty());
    // a takes it (late, so no liveness) and stops asking.
    assert_eq!(a.on_message(due, b_addr(), &answer[0]).unwrap(), Handled::Liveness(Accepted::Late));
    let later = sent(&mut a, due + Duration::from_secs(1));
    assert!(later.iter().all(|m| kind(m) != "NS_rexmit"), "nothing more asked");
    assert_eq!(a.wire_stats().rexmit_requests_sent, 1);
}

#[test]
fn an_unanswered_gap_is_asked_for_every_250_ms_and_then_given_up() {
    let (mut a, mut b) = (node("hbnode1", 1), node("hbnode2", 5));
    let hbs: Vec<_> = (0..3).flat_map(|i| sent(&mut b, ms(500 * i))).collect();
    a.on_message(ms(0), b_addr(), &hbs[0]).unwrap();
    a.on_message(ms(1_000), b_addr(), &hbs[2]).unwrap();
    let mut times = Vec::new();
    let mut now = ms(1_000);
    let _ = sent(&mut a, now);
    // Keep a's peer alive with fresh heartbeats while it asks.
    let mut next_hb = 1_500;
    loop {
        let next = a.poll_timeout().unwrap().min(ms(next_hb));
        assert!(next > now, "the deadline moves on");
        now = next;
        if now >= ms(5_000) {
            break;
        }
        if now == ms(next_hb) {
            let hb = sent(&mut b, now);
            a.on_message(now, b_addr(), &hb[0]).unwrap();
            next_hb += 500;
        }
        for m in sent(&mut a, now) {
            if kind(&m) == "NS_rexmit" {
                times.push(now);
            }
        }
    }
    assert_eq!(times.len(), 10, "{times:?}");
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], Duration::from_millis(250));
    }
    assert_eq!(a.wire_stats().abandoned, 1);
}

#[test]
fn a_request_for_a_message_we_do_not_have_is_naked_and_a_nak_stops_the_requests() {
    let (mut a, mut b) = (node("hbnode1", 1), node("hbnode2", 5));
    let _ = sent(&mut b, ms(0));
    let request = from_hbnode1(&[
        ("t", "NS_rexmit"),
        ("dest", "hbnode2"),
        ("firstseq", "7"),
        ("lastseq", "7"),
        ("src", "hbnode1"),
        ("hg", "1"),
        ("ts", "6b070000"),
        ("ttl", "3"),
    ]);
    b.on_message(ms(10), a_addr(), &request).unwrap();
    let nak = sent(&mut b, ms(10));
    assert_eq!(nak.len(), 1);
    assert_eq!(kind(&nak[0]), "NS_nak_rexmit");
    assert_eq!(field(&nak[0], "firstseq").as_deref(), Some("7"));
    assert_eq!(field(&nak[0], "info").as_deref(), Some("seqno not found"));
    assert_eq!(b.wire_stats().naks_sent, 1);
    // A nak for a number a is asking for ends the requests.
    let hbs: Vec<_> = (1..3).flat_map(|i| sent(&mut b, ms(500 * i))).collect();
    let first = sent(&mut node("hbnode2", 5), ms(0)).remove(0);
    a.on_message(ms(1_000), b_addr(), &first).unwrap();
    a.on_message(ms(1_000), b_addr(), &hbs[1]).unwrap(); // seq 3: 2 missing
    let nak2 = {
        let mut b2 = node("hbnode2", 5);
        let req = from_hbnode1(&[
            ("t", "NS_rexmit"),
            ("dest", "hbnode2"),
            ("firstseq", "2"),
            ("lastseq", "2"),
            ("src", "hbnode1"),
            ("hg", "1"),
            ("ts", "6b070000"),
            ("ttl", "3"),
        ]);
        b2.on_message(ms(0), a_addr(), &req).unwrap();
        sent(&mut b2, ms(0)).into_iter().find(|m| kind(m) == "NS_nak_rexmit").unwrap()
    };
    assert_eq!(field(&nak2, "firstseq").as_deref(), Some("2"));
    a.on_message(ms(1_010), b_addr(), &nak2).unwrap();
    assert_eq!(a.wire_stats().naks_received, 1);
    let out = sent(&mut a, ms(1_300));
    assert!(out.iter().all(|m| kind(m) != "NS_rexmit"), "given up on the nak");
}

#[test]
fn reqnodes_is_answered_with_the_node_list_and_that_answer_can_be_resent() {
    let mut b = node("hbnode2", 5);
    let _ = sent(&mut b, ms(0));
    let req = from_hbnode1(&[
        ("t", "reqnodes"),
        ("dest", "hbnode2"),
        ("src", "hbnode1"),
        ("seq", "4"),
        ("hg", "1"),
        ("ts", "6b070000"),
        ("ld", "0.00"),
        ("ttl", "3"),
    ]);
    assert_eq!(b.on_message(ms(5), a_addr(), &req).unwrap(), Handled::Control(Control::ReqNodes));
    let rep = sent(&mut b, ms(5));
    assert_eq!(rep.len(), 1);
    assert_eq!(kind(&rep[0]), "repnodes");
    assert_eq!(field(&rep[0], "dest").as_deref(), Some("hbnode1"));
    assert_eq!(field(&rep[0], "nodelist").as_deref(), Some("hbnode1 hbnode2 "));
    assert_eq!(field(&rep[0], "delnodelist").as_deref(), Some(" "));
    assert_eq!(field(&rep[0], "seq").as_deref(), Some("2"), "sequenced, after our first status");
    assert_eq!(b.wire_stats().repnodes_sent, 1);
    // The same request again is a duplicate: refused, counted, not answered twice.
    assert_eq!(b.on_message(ms(6), a_addr(), &req), Err(Rejected::Sequence(SeqRefusal::Duplicate)));
    assert_eq!(b.wire_stats().refused_duplicate, 1);
    assert!(sent(&mut b, ms(6)).is_empty());
    let again = from_hbnode1(&[
        ("t", "NS_rexmit"),
        ("dest", "hbnode2"),
        ("firstseq", "2"),
        ("lastseq", "2"),
        ("src", "hbnode1"),
        ("hg", "1"),
        ("ts", "6b070000"),
        ("ttl", "3"),
    ]);
    b.on_message(ms(7), a_addr(), &again).unwrap();
    assert_eq!(sent(&mut b, ms(7)), rep);
}

#[test]
fn sequenced_chatter_of_an_older_generation_or_number_is_refused_and_counted() {
    let mut b = node("hbnode2", 5);
    let msg = |seq: &str, hg: &str| {
        from_hbnode1(&[
            ("t", "resource"),
            ("src", "hbnode1"),
            ("seq", seq),
            ("hg", hg),
            ("ts", "6b070000"),
            ("ld", "0.00"),
            ("ttl", "3"),
        ])
    };
    assert_eq!(b.on_message(ms(0), a_addr(), &msg("a", "7")).unwrap(), Handled::Control(Control::Other));
    assert_eq!(b.on_message(ms(1), a_addr(), &msg("9", "7")), Err(Rejected::Sequence(SeqRefusal::Old)));
    assert_eq!(b.on_message(ms(1), a_addr(), &msg("b", "6")), Err(Rejected::Sequence(SeqRefusal::StaleGeneration)));
    let w = b.wire_stats();
    assert_eq!((w.refused_old, w.refused_stale_generation), (1, 1));
    // Addressed to someone else: not for us.
    let other =
        from_hbnode1(&[("t", "NS_ackmsg"), ("dest", "hbnode3"), ("ackseq", "1"), ("src", "hbnode1"), ("ts", "1")]);
    assert!(b.on_message(ms(2), a_addr(), &other).is_err());
    assert_eq!(b.profile_stats().not_for_us, 1);
}

#[test]
fn a_peer_speaking_flow_control_is_acked_on_its_digit_and_only_without_gaps() {
    let (mut a, mut b) = (node("hbnode1", 1), node("hbnode2", 5));
    let mut acks = Vec::new();
    for i in 0..30u64 {
        let hb = sent(&mut b, ms(500 * i)).remove(0);
        assert_eq!(field(&hb, "protocol").as_deref(), Some("1"), "we speak flow control");
        a.on_message(ms(500 * i), b_addr(), &hb).unwrap();
        for m in sent(&mut a, ms(500 * i)) {
            if kind(&m) == "NS_ackmsg" {
                acks.push(u64::from_str_radix(&field(&m, "ackseq").unwrap(), 16).unwrap());
            }
        }
    }
    assert_eq!(acks.len(), 3, "{acks:?}");
    assert!(acks.windows(2).all(|w| w[1] - w[0] == 10), "{acks:?}");
    assert_eq!(a.wire_stats().acks_sent, 3);
}

#[test]
fn a_replayed_heartbeat_and_a_lower_generation_are_refused_counted_and_change_nothing() {
    let mut a = node("hbnode1", 1);
    let mut b = node("hbnode2", 5);
    let hbs: Vec<_> = (0..2).flat_map(|i| sent(&mut b, ms(500 * i))).collect();
    a.on_message(ms(0), b_addr(), &hbs[0]).unwrap();
    a.on_message(ms(500), b_addr(), &hbs[1]).unwrap();
    let before = a.peers().next().unwrap();
    // The captured first heartbeat again (same seq, old ts).
    let err = a.on_message(ms(900), b_addr(), &hbs[0]).unwrap_err();
    assert_eq!(err, Rejected::Sequence(SeqRefusal::Old), "older than the last, never missing");
    // The latest one again: the engine's duplicate.
    let err = a.on_message(ms(900), b_addr(), &hbs[1]).unwrap_err();
    assert!(matches!(err, Rejected::Engine(EngineRejected::Duplicate { sequence: 2, .. })), "{err:?}");
    // The previous incarnation's heartbeat.
    let old = sent(&mut node("hbnode2", 4), ms(0)).remove(0);
    let err = a.on_message(ms(900), b_addr(), &old).unwrap_err();
    assert!(matches!(err, Rejected::Engine(EngineRejected::StaleGeneration { .. })), "{err:?}");
    let stats = a.monitor().stats();
    assert_eq!((stats.rejected_duplicate, stats.rejected_stale_generation, a.wire_stats().refused_old), (1, 1, 1));
    let after = a.peers().next().unwrap();
    assert_eq!(
        (after.last_heard, after.generation, after.liveness),
        (before.last_heard, before.generation, before.liveness)
    );
    assert_eq!((after.stats.received, after.stats.duplicates), (before.stats.received, before.stats.duplicates + 1));
    assert!(sent(&mut a, ms(900)).iter().all(|m| kind(m) != "NS_rexmit"), "no gap from a replay");
    // A node that first heard seq 2: seq 1 replayed later is old, not a reordered heartbeat.
    let mut c = node("hbnode1", 1);
    c.on_message(ms(500), b_addr(), &hbs[1]).unwrap();
    assert_eq!(c.on_message(ms(900), b_addr(), &hbs[0]), Err(Rejected::Sequence(SeqRefusal::Old)));
    assert_eq!(c.wire_stats().refused_old, 1);
    assert_eq!(c.peers().next().unwrap().stats.late, 0);
}

#[test]
fn a_restart_with_a_higher_generation_is_reported_and_starts_a_new_sequence() {
    let mut a = node("hbnode1", 1);
    let mut b = node("hbnode2", 5);
    for i in 0..4 {
        let hb = sent(&mut b, ms(500 * i)).remove(0);
        a.on_message(ms(500 * i), b_addr(), &hb).unwrap();
    }
    let mut b2 = node("hbnode2", 6);
    let hb = sent(&mut b2, ms(2_000)).remove(0);
    assert_eq!(field(&hb, "seq").as_deref(), Some("1"));
    a.on_message(ms(2_000), b_addr(), &hb).unwrap();
    let kinds: Vec<_> = core::iter::from_fn(|| a.poll_event()).map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::Restarted { previous: Generation(5), generation: Generation(6) }), "{kinds:?}");
    assert_eq!(a.wire_stats().missing, 0, "seq 1 of a new generation is no gap");
}

#[test]
fn the_advertised_dt_is_applied_but_clamped_into_our_bounds() {
    // Bounds: [2 × keepalive, initdead] = [1 s, 4 s].
    for (dt, applied) in [("3e8", 1_000), ("5dc", 1_500), ("bb8", 3_000), ("ea60", 4_000), ("1", 1_000)] {
        let mut a = node("hbnode1", 1);
        let hb = from_hbnode1(&[
            ("t", "status"),
            ("st", "active"),
            ("dt", dt),
            ("src", "hbnode2"),
            ("seq", "1"),
            ("hg", "5"),
            ("ts", "6b070000"),
        ]);
        a.on_message(ms(0), b_addr(), &hb).unwrap();
        let peer = a.peers().next().unwrap();
        assert_eq!(peer.timeout, Duration::from_millis(applied), "dt {dt}");
        let _ = core::iter::from_fn(|| a.poll_event()).count();
        a.tick(ms(applied) - Duration::from_nanos(1));
        assert!(core::iter::from_fn(|| a.poll_event()).all(|e| !matches!(e.kind, EventKind::Down { .. })));
        a.tick(ms(applied));
        assert!(core::iter::from_fn(|| a.poll_event()).any(|e| matches!(e.kind, EventKind::Down { .. })), "dt {dt}");
    }
}

#[test]
fn a_gap_in_the_chatter_of_a_node_not_up_leaves_no_deadline_in_the_past() {
    // Found by the linuxha_node fuzz target: a gap in a node's sequenced chatter while the node
    // is not up filed a request that `tick` does not send (requests go to live nodes only), yet
    // `poll_timeout` kept offering its time: a busy loop.
    let mut b = node("hbnode2", 5);
    let msg = |seq: &str| {
        from_hbnode1(&[
            ("t", "resource"),
            ("src", "hbnode1"),
            ("seq", seq),
            ("hg", "7"),
            ("ts", "6b070000"),
            ("ld", "0.00"),
            ("ttl", "3"),
        ])
    };
    b.on_message(ms(0), a_addr(), &msg("1")).unwrap();
    b.on_message(ms(1), a_addr(), &msg("5")).unwrap();
    for now in [ms(300), ms(5_000), ms(20_000)] {
        sent(&mut b, now);
        assert!(b.poll_timeout().is_none_or(|t| t > now), "busy loop: {:?} at {now}", b.poll_timeout());
    }
}
