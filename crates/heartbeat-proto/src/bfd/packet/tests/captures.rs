//! Real packets of FRR bfdd 8.4.4 and BIRD 2.0.12, captured with tcpdump on a veth between two
//! network namespaces by the project's interop run (`/work/captures/*.txt`, see its README).
//! Each row keeps the capture's own decoding of the header, written by a separate Python
//! decoder, as the oracle: the test parses the payload with [`ControlPacket::parse`] and
//! compares field by field, re-emits it, and for the BIRD <-> BIRD authentication captures
//! verifies every packet with the configured secret, reproduces BIRD's password or digest by
//! signing, and runs each sender's sequence numbers through a [`SequenceWindow`].

use super::*;
use rows::{AUTHENTICATED, PLAIN};
use std::vec::Vec;

/// (capture, packet index in it, sender address, the capture's decoded header, UDP payload).
type Row = (&'static str, u32, &'static str, &'static str, &'static str);

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The capture's decoded header, e.g. `v1 Up diag 0 flags [PA] mult 3 len 52 my 0x… your 0x…
/// tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557940`.
#[derive(Debug, Default)]
struct Decoded<'a> {
    state: &'a str,
    diag: u8,
    flags: &'a str,
    mult: u8,
    len: u8,
    my: u32,
    your: u32,
    tx: u32,
    rx: u32,
    echo: u32,
    auth: Option<(&'a str, u8, u8, Option<u32>)>,
}

fn decoded(text: &str) -> Decoded<'_> {
    let hex32 = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    let t: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(t[0], "v1");
    let mut d = Decoded { state: t[1], ..Decoded::default() };
    let mut i = 2;
    while i + 1 < t.len() {
        let (key, value) = (t[i], t[i + 1]);
        match key {
            "diag" => d.diag = value.parse().unwrap(),
            "flags" => d.flags = value.trim_matches(['[', ']']),
            "mult" => d.mult = value.parse().unwrap(),
            "len" if d.auth.is_none() => d.len = value.parse().unwrap(),
            "my" => d.my = hex32(value),
            "your" => d.your = hex32(value),
            "tx" => d.tx = value.parse().unwrap(),
            "rx" => d.rx = value.parse().unwrap(),
            "echo" => d.echo = value.parse().unwrap(),
            "auth" => {
                // auth NAME len N key-id K [seq S]
                let seq = t.get(i + 7).map(|s| s.parse().unwrap());
                d.auth = Some((value, t[i + 3].parse().unwrap(), t[i + 5].parse().unwrap(), seq));
                break;
            }
            other => panic!("unknown field {other} in {text}"),
        }
        i += 2;
    }
    d
}

fn auth_type_named(name: &str) -> AuthType {
    match name {
        "simple" => AuthType::SimplePassword,
        "keyed-md5" => AuthType::KeyedMd5,
        "meticulous-keyed-md5" => AuthType::MeticulousKeyedMd5,
        "keyed-sha1" => AuthType::KeyedSha1,
        "meticulous-keyed-sha1" => AuthType::MeticulousKeyedSha1,
        other => panic!("unknown auth type {other}"),
    }
}

/// Parses a row and checks every field against the capture's decoding.
fn parse_row(row: &Row) -> ControlPacket {
    let (capture, index, _, text, payload) = *row;
    let bytes = hex(payload);
    let p = ControlPacket::parse(&bytes).unwrap_or_else(|e| panic!("{capture} #{index}: {e}"));
    let d = decoded(text);
    let at = || std::format!("{capture} #{index}");
    assert_eq!(std::format!("{}", p.state), d.state, "{}", at());
    assert_eq!(p.diag, Diag(d.diag), "{}", at());
    let flags: std::string::String = [(p.poll, 'P'), (p.final_, 'F'), (p.control_plane_independent, 'C')]
        .into_iter()
        .chain([(p.auth.is_some(), 'A'), (p.demand, 'D')])
        .filter_map(|(on, c)| on.then_some(c))
        .collect();
    assert_eq!(flags, d.flags, "{}", at());
    assert_eq!(p.detect_mult, d.mult, "{}", at());
    assert_eq!(p.len(), usize::from(d.len), "{}", at());
    assert_eq!(p.len(), bytes.len(), "{}", at());
    assert_eq!(
        (p.my_discriminator, p.your_discriminator, p.desired_min_tx, p.required_min_rx, p.required_min_echo_rx),
        (d.my, d.your, d.tx, d.rx, d.echo),
        "{}",
        at()
    );
    match (p.auth, d.auth) {
        (None, None) => {}
        (Some(s), Some((name, len, key_id, seq))) => {
            assert_eq!(s.auth_type, auth_type_named(name), "{}", at());
            assert_eq!((s.len, s.key_id), (len, key_id), "{}", at());
            assert_eq!(s.sequence, seq.unwrap_or(0), "{}", at());
        }
        (ours, theirs) => panic!("{}: auth {ours:?} vs {theirs:?}", at()),
    }
    p
}

#[test]
fn frr_and_bird_packets_parse_as_the_capture_decoded_them() {
    for row in PLAIN {
        let p = parse_row(row);
        let mut buf = [0xa5u8; MAX_PACKET_LEN];
        let len = p.emit(&mut buf).unwrap();
        assert_eq!(&buf[..len], &hex(row.4)[..], "{} #{} re-emits byte for byte", row.0, row.1);
    }
    // What the captures show, seen through the codec.
    let frr = |row: &&Row| row.2 == "198.18.0.1" || row.2 == "2001:db8::1";
    let frr_packets: Vec<ControlPacket> = PLAIN.iter().filter(frr).map(parse_row).collect();
    assert!(frr_packets.iter().all(|p| p.required_min_echo_rx == 50_000), "FRR always offers echo RX 50 ms");
    assert!(frr_packets.iter().any(|p| p.state == State::AdminDown && p.diag == Diag::NONE));
    assert!(frr_packets.iter().any(|p| p.state == State::Down && p.diag == Diag::CONTROL_DETECTION_TIME_EXPIRED));
    assert!(frr_packets.iter().any(|p| p.poll) && frr_packets.iter().any(|p| p.final_));
    assert!(PLAIN.iter().filter(|r| !frr(r)).map(parse_row).all(|p| p.required_min_echo_rx == 0));
}

#[test]
fn bird_authenticated_packets_parse_as_the_capture_decoded_them() {
    for row in AUTHENTICATED {
        let p = parse_row(row);
        let bytes = hex(row.4);
        let mut buf = [0xa5u8; MAX_PACKET_LEN];
        let len = p.emit(&mut buf).unwrap();
        // Everything but the password or digest, which emit leaves zero for the signer.
        let data = Packet::new_checked(&bytes[..]).unwrap().auth_data().len();
        assert!(data > 0, "{} #{}", row.0, row.1);
        assert_eq!(&buf[..len - data], &bytes[..len - data], "{} #{}", row.0, row.1);
        assert!(buf[len - data..len].iter().all(|&b| b == 0));
    }
}

#[cfg(feature = "bfd-auth")]
mod authenticated {
    use super::*;
    use crate::bfd::auth::{AuthFailure, BfdKey, BfdKeys, SequenceWindow};

    /// The secrets of the captures (their README and header lines).
    fn keys_of(capture: &str) -> BfdKeys {
        let (auth_type, id, secret): (_, _, &[u8]) = match capture {
            "bird-bird-auth-simple" => (AuthType::SimplePassword, 1, b"hbt-simple-pw"),
            "bird-bird-auth-keyed-md5" => (AuthType::KeyedMd5, 2, b"hbt-md5-secret"),
            "bird-bird-auth-meticulous-keyed-md5" => (AuthType::MeticulousKeyedMd5, 3, b"hbt-mmd5-secret"),
            "bird-bird-auth-keyed-sha1" => (AuthType::KeyedSha1, 4, b"hbt-sha1-secret"),
            "bird-bird-auth-meticulous-keyed-sha1" => (AuthType::MeticulousKeyedSha1, 5, b"hbt-msha1-secret"),
            other => panic!("no secret for {other}"),
        };
        BfdKeys::new(BfdKey::new(auth_type, id, secret).unwrap())
    }

    #[test]
    fn bird_packets_verify_and_signing_reproduces_them() {
        for row in AUTHENTICATED {
            let p = parse_row(row);
            let bytes = hex(row.4);
            let keys = keys_of(row.0);
            let section = p.auth.unwrap();
            assert_eq!(keys.verify(&bytes, &section), Ok(()), "{} #{}", row.0, row.1);
            let mut buf = [0u8; MAX_PACKET_LEN];
            let len = p.emit(&mut buf).unwrap();
            keys.sign(&mut buf[..len]).unwrap();
            assert_eq!(&buf[..len], &bytes[..], "{} #{}: our signature is BIRD's", row.0, row.1);
            let mut forged = bytes.clone();
            *forged.last_mut().unwrap() ^= 1;
            let expected = if section.auth_type.is_keyed() { AuthFailure::BadDigest } else { AuthFailure::BadPassword };
            assert_eq!(keys.verify(&forged, &section), Err(expected), "{} #{}", row.0, row.1);
        }
        assert_eq!(AUTHENTICATED.len(), 158, "every packet of the five captures");
    }

    #[test]
    fn bird_sequence_numbers_pass_the_window_in_order_and_replays_do_not() {
        let keyed = AUTHENTICATED.iter().filter(|r| r.0 != "bird-bird-auth-simple");
        let mut runs: Vec<(&str, &str, SequenceWindow, Vec<u32>)> = Vec::new();
        for row in keyed {
            let p = parse_row(row);
            let section = p.auth.unwrap();
            let i = match runs.iter().position(|r| r.0 == row.0 && r.1 == row.2) {
                Some(i) => i,
                None => {
                    runs.push((row.0, row.2, SequenceWindow::new(), Vec::new()));
                    runs.len() - 1
                }
            };
            let (_, _, window, seen) = &mut runs[i];
            let meticulous = section.auth_type.is_meticulous();
            assert_eq!(window.check(section.sequence, p.detect_mult, meticulous), Ok(()), "{} #{}", row.0, row.1);
            window.accept(section.sequence);
            seen.push(section.sequence);
        }
        assert_eq!(runs.len(), 8, "two senders in each of four keyed captures");
        for (capture, sender, window, seen) in &runs {
            let meticulous = capture.contains("meticulous");
            if meticulous {
                assert!(seen.windows(2).all(|w| w[1] == w[0].wrapping_add(1)), "{capture} {sender}: +1 per packet");
            } else {
                assert!(seen.windows(2).any(|w| w[1] == w[0]), "{capture} {sender}: BIRD repeats numbers");
            }
            // Replaying the sender's first packet after the run is refused: its number is behind
            // the last one accepted.
            let first = seen[0];
            let last = *seen.last().unwrap();
            assert_ne!(first, last, "{capture} {sender}: the run spans several numbers");
            assert_eq!(window.check(first, 3, meticulous), Err(AuthFailure::OutOfWindow { sequence: first, last }));
        }
    }
}

#[rustfmt::skip]
mod rows {
    use super::Row;

    /// Distinct packets of FRR and BIRD without authentication: (capture, packet index, sender, decoded header, payload).
    pub(super) const PLAIN: &[Row] = &[
        // frr-bird-v4-single-hop.txt
        ("frr-bird-v4-single-hop", 1, "198.18.0.2", "v1 Down diag 0 flags [] mult 3 len 24 my 0xf9c5e754 your 0x00000000 tx 1000000 rx 300000 echo 0",
         "20400318f9c5e75400000000000f4240000493e000000000"),
        ("frr-bird-v4-single-hop", 3, "198.18.0.1", "v1 Init diag 0 flags [] mult 3 len 24 my 0x4c73258c your 0xf9c5e754 tx 1000000 rx 1000000 echo 50000",
         "208003184c73258cf9c5e754000f4240000f42400000c350"),
        ("frr-bird-v4-single-hop", 4, "198.18.0.2", "v1 Up diag 0 flags [P] mult 3 len 24 my 0xf9c5e754 your 0x4c73258c tx 300000 rx 300000 echo 0",
         "20e00318f9c5e7544c73258c000493e0000493e000000000"),
        ("frr-bird-v4-single-hop", 5, "198.18.0.1", "v1 Up diag 0 flags [P] mult 3 len 24 my 0x4c73258c your 0xf9c5e754 tx 300000 rx 300000 echo 50000",
         "20e003184c73258cf9c5e754000493e0000493e00000c350"),
        ("frr-bird-v4-single-hop", 6, "198.18.0.2", "v1 Up diag 0 flags [F] mult 3 len 24 my 0xf9c5e754 your 0x4c73258c tx 300000 rx 300000 echo 0",
         "20d00318f9c5e7544c73258c000493e0000493e000000000"),
        ("frr-bird-v4-single-hop", 7, "198.18.0.1", "v1 Up diag 0 flags [F] mult 3 len 24 my 0x4c73258c your 0xf9c5e754 tx 300000 rx 300000 echo 50000",
         "20d003184c73258cf9c5e754000493e0000493e00000c350"),
        ("frr-bird-v4-single-hop", 8, "198.18.0.2", "v1 Up diag 0 flags [] mult 3 len 24 my 0xf9c5e754 your 0x4c73258c tx 300000 rx 300000 echo 0",
         "20c00318f9c5e7544c73258c000493e0000493e000000000"),
        ("frr-bird-v4-single-hop", 9, "198.18.0.1", "v1 Up diag 0 flags [] mult 3 len 24 my 0x4c73258c your 0xf9c5e754 tx 300000 rx 300000 echo 50000",
         "20c003184c73258cf9c5e754000493e0000493e00000c350"),
        ("frr-bird-v4-single-hop", 16, "198.18.0.1", "v1 AdminDown diag 0 flags [] mult 3 len 24 my 0x4c73258c your 0xf9c5e754 tx 300000 rx 300000 echo 50000",
         "200003184c73258cf9c5e754000493e0000493e00000c350"),
        ("frr-bird-v4-single-hop", 17, "198.18.0.2", "v1 Down diag 3 flags [P] mult 3 len 24 my 0xf9c5e754 your 0x4c73258c tx 1000000 rx 300000 echo 0",
         "23600318f9c5e7544c73258c000f4240000493e000000000"),
        ("frr-bird-v4-single-hop", 18, "198.18.0.1", "v1 AdminDown diag 0 flags [F] mult 3 len 24 my 0x4c73258c your 0xf9c5e754 tx 300000 rx 300000 echo 50000",
         "201003184c73258cf9c5e754000493e0000493e00000c350"),
        ("frr-bird-v4-single-hop", 19, "198.18.0.2", "v1 Down diag 3 flags [] mult 3 len 24 my 0xf9c5e754 your 0x4c73258c tx 1000000 rx 300000 echo 0",
         "23400318f9c5e7544c73258c000f4240000493e000000000"),
        ("frr-bird-v4-single-hop", 20, "198.18.0.2", "v1 Down diag 3 flags [] mult 3 len 24 my 0xf9c5e754 your 0x00000000 tx 1000000 rx 300000 echo 0",
         "23400318f9c5e75400000000000f4240000493e000000000"),
        ("frr-bird-v4-single-hop", 22, "198.18.0.1", "v1 Init diag 0 flags [] mult 3 len 24 my 0x4c73258c your 0xf9c5e754 tx 300000 rx 300000 echo 50000",
         "208003184c73258cf9c5e754000493e0000493e00000c350"),
        ("frr-bird-v4-single-hop", 36, "198.18.0.1", "v1 Down diag 1 flags [] mult 3 len 24 my 0x4c73258c your 0x00000000 tx 300000 rx 300000 echo 50000",
         "214003184c73258c00000000000493e0000493e00000c350"),
        ("frr-bird-v4-single-hop", 37, "198.18.0.1", "v1 Down diag 1 flags [] mult 3 len 24 my 0x4c73258c your 0x00000000 tx 1000000 rx 1000000 echo 50000",
         "214003184c73258c00000000000f4240000f42400000c350"),
        ("frr-bird-v4-single-hop", 38, "198.18.0.2", "v1 Down diag 0 flags [] mult 3 len 24 my 0x65a1cbf6 your 0x00000000 tx 1000000 rx 300000 echo 0",
         "2040031865a1cbf600000000000f4240000493e000000000"),
        ("frr-bird-v4-single-hop", 39, "198.18.0.1", "v1 Init diag 1 flags [] mult 3 len 24 my 0x4c73258c your 0x65a1cbf6 tx 1000000 rx 1000000 echo 50000",
         "218003184c73258c65a1cbf6000f4240000f42400000c350"),
        ("frr-bird-v4-single-hop", 40, "198.18.0.2", "v1 Up diag 0 flags [P] mult 3 len 24 my 0x65a1cbf6 your 0x4c73258c tx 300000 rx 300000 echo 0",
         "20e0031865a1cbf64c73258c000493e0000493e000000000"),
        ("frr-bird-v4-single-hop", 42, "198.18.0.2", "v1 Up diag 0 flags [F] mult 3 len 24 my 0x65a1cbf6 your 0x4c73258c tx 300000 rx 300000 echo 0",
         "20d0031865a1cbf64c73258c000493e0000493e000000000"),
        ("frr-bird-v4-single-hop", 44, "198.18.0.2", "v1 Up diag 0 flags [] mult 3 len 24 my 0x65a1cbf6 your 0x4c73258c tx 300000 rx 300000 echo 0",
         "20c0031865a1cbf64c73258c000493e0000493e000000000"),
        // frr-bird-v4-multihop.txt
        ("frr-bird-v4-multihop", 1, "198.18.0.2", "v1 Down diag 0 flags [] mult 3 len 24 my 0x41a67789 your 0x00000000 tx 1000000 rx 300000 echo 0",
         "2040031841a6778900000000000f4240000493e000000000"),
        ("frr-bird-v4-multihop", 3, "198.18.0.1", "v1 Init diag 0 flags [] mult 3 len 24 my 0x6af1647e your 0x41a67789 tx 1000000 rx 1000000 echo 50000",
         "208003186af1647e41a67789000f4240000f42400000c350"),
        ("frr-bird-v4-multihop", 4, "198.18.0.2", "v1 Up diag 0 flags [P] mult 3 len 24 my 0x41a67789 your 0x6af1647e tx 300000 rx 300000 echo 0",
         "20e0031841a677896af1647e000493e0000493e000000000"),
        ("frr-bird-v4-multihop", 5, "198.18.0.1", "v1 Up diag 0 flags [P] mult 3 len 24 my 0x6af1647e your 0x41a67789 tx 300000 rx 300000 echo 50000",
         "20e003186af1647e41a67789000493e0000493e00000c350"),
        ("frr-bird-v4-multihop", 6, "198.18.0.2", "v1 Up diag 0 flags [F] mult 3 len 24 my 0x41a67789 your 0x6af1647e tx 300000 rx 300000 echo 0",
         "20d0031841a677896af1647e000493e0000493e000000000"),
        ("frr-bird-v4-multihop", 7, "198.18.0.1", "v1 Up diag 0 flags [F] mult 3 len 24 my 0x6af1647e your 0x41a67789 tx 300000 rx 300000 echo 50000",
         "20d003186af1647e41a67789000493e0000493e00000c350"),
        ("frr-bird-v4-multihop", 8, "198.18.0.2", "v1 Up diag 0 flags [] mult 3 len 24 my 0x41a67789 your 0x6af1647e tx 300000 rx 300000 echo 0",
         "20c0031841a677896af1647e000493e0000493e000000000"),
        ("frr-bird-v4-multihop", 9, "198.18.0.1", "v1 Up diag 0 flags [] mult 3 len 24 my 0x6af1647e your 0x41a67789 tx 300000 rx 300000 echo 50000",
         "20c003186af1647e41a67789000493e0000493e00000c350"),
        ("frr-bird-v4-multihop", 17, "198.18.0.1", "v1 AdminDown diag 0 flags [] mult 3 len 24 my 0x6af1647e your 0x41a67789 tx 300000 rx 300000 echo 50000",
         "200003186af1647e41a67789000493e0000493e00000c350"),
        ("frr-bird-v4-multihop", 18, "198.18.0.2", "v1 Down diag 3 flags [P] mult 3 len 24 my 0x41a67789 your 0x6af1647e tx 1000000 rx 300000 echo 0",
         "2360031841a677896af1647e000f4240000493e000000000"),
        ("frr-bird-v4-multihop", 19, "198.18.0.1", "v1 AdminDown diag 0 flags [F] mult 3 len 24 my 0x6af1647e your 0x41a67789 tx 300000 rx 300000 echo 50000",
         "201003186af1647e41a67789000493e0000493e00000c350"),
        ("frr-bird-v4-multihop", 20, "198.18.0.2", "v1 Down diag 3 flags [] mult 3 len 24 my 0x41a67789 your 0x6af1647e tx 1000000 rx 300000 echo 0",
         "2340031841a677896af1647e000f4240000493e000000000"),
        ("frr-bird-v4-multihop", 21, "198.18.0.2", "v1 Down diag 3 flags [] mult 3 len 24 my 0x41a67789 your 0x00000000 tx 1000000 rx 300000 echo 0",
         "2340031841a6778900000000000f4240000493e000000000"),
        ("frr-bird-v4-multihop", 23, "198.18.0.1", "v1 Init diag 0 flags [] mult 3 len 24 my 0x6af1647e your 0x41a67789 tx 300000 rx 300000 echo 50000",
         "208003186af1647e41a67789000493e0000493e00000c350"),
        ("frr-bird-v4-multihop", 38, "198.18.0.1", "v1 Down diag 1 flags [] mult 3 len 24 my 0x6af1647e your 0x00000000 tx 300000 rx 300000 echo 50000",
         "214003186af1647e00000000000493e0000493e00000c350"),
        ("frr-bird-v4-multihop", 39, "198.18.0.1", "v1 Down diag 1 flags [] mult 3 len 24 my 0x6af1647e your 0x00000000 tx 1000000 rx 1000000 echo 50000",
         "214003186af1647e00000000000f4240000f42400000c350"),
        ("frr-bird-v4-multihop", 40, "198.18.0.2", "v1 Down diag 0 flags [] mult 3 len 24 my 0x5442b2dc your 0x00000000 tx 1000000 rx 300000 echo 0",
         "204003185442b2dc00000000000f4240000493e000000000"),
        ("frr-bird-v4-multihop", 41, "198.18.0.1", "v1 Init diag 1 flags [] mult 3 len 24 my 0x6af1647e your 0x5442b2dc tx 1000000 rx 1000000 echo 50000",
         "218003186af1647e5442b2dc000f4240000f42400000c350"),
        ("frr-bird-v4-multihop", 42, "198.18.0.2", "v1 Up diag 0 flags [P] mult 3 len 24 my 0x5442b2dc your 0x6af1647e tx 300000 rx 300000 echo 0",
         "20e003185442b2dc6af1647e000493e0000493e000000000"),
        ("frr-bird-v4-multihop", 44, "198.18.0.2", "v1 Up diag 0 flags [F] mult 3 len 24 my 0x5442b2dc your 0x6af1647e tx 300000 rx 300000 echo 0",
         "20d003185442b2dc6af1647e000493e0000493e000000000"),
        ("frr-bird-v4-multihop", 46, "198.18.0.2", "v1 Up diag 0 flags [] mult 3 len 24 my 0x5442b2dc your 0x6af1647e tx 300000 rx 300000 echo 0",
         "20c003185442b2dc6af1647e000493e0000493e000000000"),
        // frr-bird-v6-single-hop.txt
        ("frr-bird-v6-single-hop", 1, "2001:db8::2", "v1 Down diag 0 flags [] mult 3 len 24 my 0x7ae517c0 your 0x00000000 tx 1000000 rx 300000 echo 0",
         "204003187ae517c000000000000f4240000493e000000000"),
        ("frr-bird-v6-single-hop", 3, "2001:db8::1", "v1 Init diag 0 flags [] mult 3 len 24 my 0xd16bd62d your 0x7ae517c0 tx 1000000 rx 1000000 echo 50000",
         "20800318d16bd62d7ae517c0000f4240000f42400000c350"),
        ("frr-bird-v6-single-hop", 4, "2001:db8::2", "v1 Up diag 0 flags [P] mult 3 len 24 my 0x7ae517c0 your 0xd16bd62d tx 300000 rx 300000 echo 0",
         "20e003187ae517c0d16bd62d000493e0000493e000000000"),
        ("frr-bird-v6-single-hop", 5, "2001:db8::1", "v1 Up diag 0 flags [P] mult 3 len 24 my 0xd16bd62d your 0x7ae517c0 tx 300000 rx 300000 echo 50000",
         "20e00318d16bd62d7ae517c0000493e0000493e00000c350"),
        ("frr-bird-v6-single-hop", 6, "2001:db8::2", "v1 Up diag 0 flags [F] mult 3 len 24 my 0x7ae517c0 your 0xd16bd62d tx 300000 rx 300000 echo 0",
         "20d003187ae517c0d16bd62d000493e0000493e000000000"),
        ("frr-bird-v6-single-hop", 7, "2001:db8::1", "v1 Up diag 0 flags [F] mult 3 len 24 my 0xd16bd62d your 0x7ae517c0 tx 300000 rx 300000 echo 50000",
         "20d00318d16bd62d7ae517c0000493e0000493e00000c350"),
        ("frr-bird-v6-single-hop", 8, "2001:db8::2", "v1 Up diag 0 flags [] mult 3 len 24 my 0x7ae517c0 your 0xd16bd62d tx 300000 rx 300000 echo 0",
         "20c003187ae517c0d16bd62d000493e0000493e000000000"),
        ("frr-bird-v6-single-hop", 9, "2001:db8::1", "v1 Up diag 0 flags [] mult 3 len 24 my 0xd16bd62d your 0x7ae517c0 tx 300000 rx 300000 echo 50000",
         "20c00318d16bd62d7ae517c0000493e0000493e00000c350"),
        ("frr-bird-v6-single-hop", 16, "2001:db8::1", "v1 AdminDown diag 0 flags [] mult 3 len 24 my 0xd16bd62d your 0x7ae517c0 tx 300000 rx 300000 echo 50000",
         "20000318d16bd62d7ae517c0000493e0000493e00000c350"),
        ("frr-bird-v6-single-hop", 17, "2001:db8::2", "v1 Down diag 3 flags [P] mult 3 len 24 my 0x7ae517c0 your 0xd16bd62d tx 1000000 rx 300000 echo 0",
         "236003187ae517c0d16bd62d000f4240000493e000000000"),
        ("frr-bird-v6-single-hop", 18, "2001:db8::1", "v1 AdminDown diag 0 flags [F] mult 3 len 24 my 0xd16bd62d your 0x7ae517c0 tx 300000 rx 300000 echo 50000",
         "20100318d16bd62d7ae517c0000493e0000493e00000c350"),
        ("frr-bird-v6-single-hop", 19, "2001:db8::2", "v1 Down diag 3 flags [] mult 3 len 24 my 0x7ae517c0 your 0xd16bd62d tx 1000000 rx 300000 echo 0",
         "234003187ae517c0d16bd62d000f4240000493e000000000"),
        ("frr-bird-v6-single-hop", 20, "2001:db8::2", "v1 Down diag 3 flags [] mult 3 len 24 my 0x7ae517c0 your 0x00000000 tx 1000000 rx 300000 echo 0",
         "234003187ae517c000000000000f4240000493e000000000"),
        ("frr-bird-v6-single-hop", 22, "2001:db8::1", "v1 Init diag 0 flags [] mult 3 len 24 my 0xd16bd62d your 0x7ae517c0 tx 300000 rx 300000 echo 50000",
         "20800318d16bd62d7ae517c0000493e0000493e00000c350"),
        ("frr-bird-v6-single-hop", 38, "2001:db8::1", "v1 Down diag 1 flags [] mult 3 len 24 my 0xd16bd62d your 0x00000000 tx 300000 rx 300000 echo 50000",
         "21400318d16bd62d00000000000493e0000493e00000c350"),
        ("frr-bird-v6-single-hop", 39, "2001:db8::1", "v1 Down diag 1 flags [] mult 3 len 24 my 0xd16bd62d your 0x00000000 tx 1000000 rx 1000000 echo 50000",
         "21400318d16bd62d00000000000f4240000f42400000c350"),
        ("frr-bird-v6-single-hop", 40, "2001:db8::2", "v1 Down diag 0 flags [] mult 3 len 24 my 0x94e8aba7 your 0x00000000 tx 1000000 rx 300000 echo 0",
         "2040031894e8aba700000000000f4240000493e000000000"),
        ("frr-bird-v6-single-hop", 41, "2001:db8::1", "v1 Init diag 1 flags [] mult 3 len 24 my 0xd16bd62d your 0x94e8aba7 tx 1000000 rx 1000000 echo 50000",
         "21800318d16bd62d94e8aba7000f4240000f42400000c350"),
        ("frr-bird-v6-single-hop", 42, "2001:db8::2", "v1 Up diag 0 flags [P] mult 3 len 24 my 0x94e8aba7 your 0xd16bd62d tx 300000 rx 300000 echo 0",
         "20e0031894e8aba7d16bd62d000493e0000493e000000000"),
        ("frr-bird-v6-single-hop", 45, "2001:db8::2", "v1 Up diag 0 flags [F] mult 3 len 24 my 0x94e8aba7 your 0xd16bd62d tx 300000 rx 300000 echo 0",
         "20d0031894e8aba7d16bd62d000493e0000493e000000000"),
        ("frr-bird-v6-single-hop", 46, "2001:db8::2", "v1 Up diag 0 flags [] mult 3 len 24 my 0x94e8aba7 your 0xd16bd62d tx 300000 rx 300000 echo 0",
         "20c0031894e8aba7d16bd62d000493e0000493e000000000"),
    ];

    /// Every packet of the BIRD <-> BIRD authentication captures, in capture order.
    pub(super) const AUTHENTICATED: &[Row] = &[
        // bird-bird-auth-simple.txt
        ("bird-bird-auth-simple", 1, "198.18.0.1", "v1 Down diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0x00000000 tx 1000000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20440328e474592d00000000000f4240000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 2, "198.18.0.2", "v1 Down diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0x00000000 tx 1000000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20440328c7e4785400000000000f4240000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 3, "198.18.0.1", "v1 Init diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 1000000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20840328e474592dc7e47854000f4240000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 4, "198.18.0.2", "v1 Up diag 0 flags [PA] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20e40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 5, "198.18.0.1", "v1 Up diag 0 flags [FA] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20d40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 6, "198.18.0.1", "v1 Up diag 0 flags [PA] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20e40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 7, "198.18.0.2", "v1 Up diag 0 flags [FA] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20d40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 8, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 9, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 10, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 11, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 12, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 13, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 14, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 15, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 16, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 17, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 18, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 19, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 20, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 21, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 22, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 23, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 24, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 25, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 26, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xe474592d your 0xc7e47854 tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328e474592dc7e47854000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 27, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 28, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 29, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 30, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 40 my 0xc7e47854 your 0xe474592d tx 300000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "20c40328c7e47854e474592d000493e0000493e0000000000110016862742d73696d706c652d7077"),
        ("bird-bird-auth-simple", 31, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 40 my 0xc7e47854 your 0x00000000 tx 1000000 rx 300000 echo 0 auth simple len 16 key-id 1",
         "21440328c7e4785400000000000f4240000493e0000000000110016862742d73696d706c652d7077"),
        // bird-bird-auth-keyed-md5.txt
        ("bird-bird-auth-keyed-md5", 1, "198.18.0.1", "v1 Down diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x00000000 tx 1000000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770227",
         "20440330b5bf3bd600000000000f4240000493e00000000002180200063eaab3484afb8533a5a5790e2e6c2c90f562d1"),
        ("bird-bird-auth-keyed-md5", 2, "198.18.0.2", "v1 Down diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0x00000000 tx 1000000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459676",
         "20440330723c65bb00000000000f4240000493e000000000021802000c114a1c6294a1520bb2885c6cd0fa3f95fe7b26"),
        ("bird-bird-auth-keyed-md5", 3, "198.18.0.1", "v1 Init diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 1000000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770228",
         "20840330b5bf3bd6723c65bb000f4240000493e00000000002180200063eaab4f26e65010f89050889feb12c59e60ba4"),
        ("bird-bird-auth-keyed-md5", 4, "198.18.0.2", "v1 Up diag 0 flags [PA] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459677",
         "20e40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1da024866fe57d543189b2c912818873ea"),
        ("bird-bird-auth-keyed-md5", 5, "198.18.0.1", "v1 Up diag 0 flags [FA] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770228",
         "20d40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab40f3e3800ff43e1de765cc1e22bea3f45"),
        ("bird-bird-auth-keyed-md5", 6, "198.18.0.1", "v1 Up diag 0 flags [PA] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770228",
         "20e40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab422f537c83e6124710e8b8ddaee0859d5"),
        ("bird-bird-auth-keyed-md5", 7, "198.18.0.2", "v1 Up diag 0 flags [FA] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459677",
         "20d40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1deaa3e26d38e4cc60928c7a2648746494"),
        ("bird-bird-auth-keyed-md5", 8, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459677",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1df0a7444955874065c09704643431b1ef"),
        ("bird-bird-auth-keyed-md5", 9, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770228",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab49cb2d1ab621d504bcea306453ab2d448"),
        ("bird-bird-auth-keyed-md5", 10, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459677",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1df0a7444955874065c09704643431b1ef"),
        ("bird-bird-auth-keyed-md5", 11, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770228",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab49cb2d1ab621d504bcea306453ab2d448"),
        ("bird-bird-auth-keyed-md5", 12, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459677",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1df0a7444955874065c09704643431b1ef"),
        ("bird-bird-auth-keyed-md5", 13, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770229",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab55f8f9b04ba32ad9a50d2bb17ef5115af"),
        ("bird-bird-auth-keyed-md5", 14, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459678",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1e506f312800c60f9b37fa10630087152d"),
        ("bird-bird-auth-keyed-md5", 15, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770229",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab55f8f9b04ba32ad9a50d2bb17ef5115af"),
        ("bird-bird-auth-keyed-md5", 16, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459678",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1e506f312800c60f9b37fa10630087152d"),
        ("bird-bird-auth-keyed-md5", 17, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770229",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab55f8f9b04ba32ad9a50d2bb17ef5115af"),
        ("bird-bird-auth-keyed-md5", 18, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459678",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1e506f312800c60f9b37fa10630087152d"),
        ("bird-bird-auth-keyed-md5", 19, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770229",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab55f8f9b04ba32ad9a50d2bb17ef5115af"),
        ("bird-bird-auth-keyed-md5", 20, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459678",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1e506f312800c60f9b37fa10630087152d"),
        ("bird-bird-auth-keyed-md5", 21, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770229",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab55f8f9b04ba32ad9a50d2bb17ef5115af"),
        ("bird-bird-auth-keyed-md5", 22, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459679",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1f7517a5fbf22da65f57efce9e447fc2a4"),
        ("bird-bird-auth-keyed-md5", 23, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770230",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab6fa19af61140947fc0e84382a3c643168"),
        ("bird-bird-auth-keyed-md5", 24, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459679",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1f7517a5fbf22da65f57efce9e447fc2a4"),
        ("bird-bird-auth-keyed-md5", 25, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770230",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab6fa19af61140947fc0e84382a3c643168"),
        ("bird-bird-auth-keyed-md5", 26, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459679",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1f7517a5fbf22da65f57efce9e447fc2a4"),
        ("bird-bird-auth-keyed-md5", 27, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0xb5bf3bd6 your 0x723c65bb tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 104770230",
         "20c40330b5bf3bd6723c65bb000493e0000493e00000000002180200063eaab6fa19af61140947fc0e84382a3c643168"),
        ("bird-bird-auth-keyed-md5", 28, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459679",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a1f7517a5fbf22da65f57efce9e447fc2a4"),
        ("bird-bird-auth-keyed-md5", 29, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459680",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a20ee9ff864c33ccb898d57688ba5e1e11a"),
        ("bird-bird-auth-keyed-md5", 30, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x723c65bb your 0xb5bf3bd6 tx 300000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459680",
         "20c40330723c65bbb5bf3bd6000493e0000493e000000000021802000c114a20ee9ff864c33ccb898d57688ba5e1e11a"),
        ("bird-bird-auth-keyed-md5", 31, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 48 my 0x723c65bb your 0x00000000 tx 1000000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459680",
         "21440330723c65bb00000000000f4240000493e000000000021802000c114a20d453ead76dbaff9eb1ee746c74b43565"),
        ("bird-bird-auth-keyed-md5", 32, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 48 my 0x723c65bb your 0x00000000 tx 1000000 rx 300000 echo 0 auth keyed-md5 len 24 key-id 2 seq 202459681",
         "21440330723c65bb00000000000f4240000493e000000000021802000c114a216319a91dabc54cabb3bbac1c1ab0defd"),
        // bird-bird-auth-meticulous-keyed-md5.txt
        ("bird-bird-auth-meticulous-keyed-md5", 1, "198.18.0.1", "v1 Down diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x00000000 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238624",
         "2044033045e35fda00000000000f4240000493e000000000031803000401fae0d10b5910ce2e08626d35ff903344e73e"),
        ("bird-bird-auth-meticulous-keyed-md5", 2, "198.18.0.2", "v1 Down diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x00000000 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874936",
         "204403303ba8fee400000000000f4240000493e000000000031803004c1b90b89b598d6c0c2eedee8624e9c1f7dd4ae5"),
        ("bird-bird-auth-meticulous-keyed-md5", 3, "198.18.0.1", "v1 Init diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238625",
         "2084033045e35fda3ba8fee4000f4240000493e000000000031803000401fae13584278b2db7b378deae27a4ad0f6752"),
        ("bird-bird-auth-meticulous-keyed-md5", 4, "198.18.0.2", "v1 Up diag 0 flags [PA] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874937",
         "20e403303ba8fee445e35fda000493e0000493e000000000031803004c1b90b9acee87313deffe17113448d7822b1e3c"),
        ("bird-bird-auth-meticulous-keyed-md5", 5, "198.18.0.1", "v1 Up diag 0 flags [FA] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238626",
         "20d4033045e35fda3ba8fee4000493e0000493e000000000031803000401fae2314f211f1fe6a3aeecdf0a147c0bf10b"),
        ("bird-bird-auth-meticulous-keyed-md5", 6, "198.18.0.1", "v1 Up diag 0 flags [PA] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238627",
         "20e4033045e35fda3ba8fee4000493e0000493e000000000031803000401fae3c8a1e5652cefa50b11499356ec644d75"),
        ("bird-bird-auth-meticulous-keyed-md5", 7, "198.18.0.2", "v1 Up diag 0 flags [FA] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874938",
         "20d403303ba8fee445e35fda000493e0000493e000000000031803004c1b90ba3033373e4eb3f6d6d9e483abc06020a4"),
        ("bird-bird-auth-meticulous-keyed-md5", 8, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238628",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401fae4580c6dfe73d4df4f21d9428cc2113402"),
        ("bird-bird-auth-meticulous-keyed-md5", 9, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874939",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90bb06e35612b1314730251a86e4d0f8b722"),
        ("bird-bird-auth-meticulous-keyed-md5", 10, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238629",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401fae56bfb1af0e4e1be3a628eafa8eb4bf043"),
        ("bird-bird-auth-meticulous-keyed-md5", 11, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874940",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90bc87bbb5a92687b4b7f2377c2983f626db"),
        ("bird-bird-auth-meticulous-keyed-md5", 12, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874941",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90bd07bfdb8ed715c4b4a04ef4f77eb125d7"),
        ("bird-bird-auth-meticulous-keyed-md5", 13, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238630",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401fae63eae0f581162900483e6ada1897e52e6"),
        ("bird-bird-auth-meticulous-keyed-md5", 14, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874942",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90be7c0ed585355272934a3a675f0589713d"),
        ("bird-bird-auth-meticulous-keyed-md5", 15, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238631",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401fae73fff4255239473a15701297a24cafe4d"),
        ("bird-bird-auth-meticulous-keyed-md5", 16, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874943",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90bfb1272b83417fa644681711189c2401f2"),
        ("bird-bird-auth-meticulous-keyed-md5", 17, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238632",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401fae84c28a633ecf795a27f746bbf090879dc"),
        ("bird-bird-auth-meticulous-keyed-md5", 18, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238633",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401fae9054db5e8fb7a3dd3b9818cd6c90e73f1"),
        ("bird-bird-auth-meticulous-keyed-md5", 19, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874944",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90c0cef35ef015358cfd7a089101d467ce23"),
        ("bird-bird-auth-meticulous-keyed-md5", 20, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238634",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401faea2d9bd63d6cd3f1785acc104bb2f7049d"),
        ("bird-bird-auth-meticulous-keyed-md5", 21, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874945",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90c1c5aa9723930cb3490e2f7e04e2892aa4"),
        ("bird-bird-auth-meticulous-keyed-md5", 22, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238635",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401faeb4f934fd7d1d1daa5cff244ee98340aaf"),
        ("bird-bird-auth-meticulous-keyed-md5", 23, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874946",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90c2ac707a79f9916d0745c5ad68931b8a18"),
        ("bird-bird-auth-meticulous-keyed-md5", 24, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238636",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401faecb646615a03d17630ad3df1075cd1755b"),
        ("bird-bird-auth-meticulous-keyed-md5", 25, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874947",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90c33f28645aa7570a29a2fb985809969cc4"),
        ("bird-bird-auth-meticulous-keyed-md5", 26, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x45e35fda your 0x3ba8fee4 tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 67238637",
         "20c4033045e35fda3ba8fee4000493e0000493e000000000031803000401faed4913f7576c8d261847b232587107f881"),
        ("bird-bird-auth-meticulous-keyed-md5", 27, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874948",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90c40c2000218851cb168115f09d51be1788"),
        ("bird-bird-auth-meticulous-keyed-md5", 28, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874949",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90c5c9c4969290e5eee755f6fe9dff5faa7d"),
        ("bird-bird-auth-meticulous-keyed-md5", 29, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874950",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90c67c26d82e2618bc9c5ba8b479015c4153"),
        ("bird-bird-auth-meticulous-keyed-md5", 30, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x45e35fda tx 300000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874951",
         "20c403303ba8fee445e35fda000493e0000493e000000000031803004c1b90c75319fbfff2ea59a3b4ff408aeaebab86"),
        ("bird-bird-auth-meticulous-keyed-md5", 31, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x00000000 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874952",
         "214403303ba8fee400000000000f4240000493e000000000031803004c1b90c811ba304cde2aa00546517e2c78d8c5f7"),
        ("bird-bird-auth-meticulous-keyed-md5", 32, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 48 my 0x3ba8fee4 your 0x00000000 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-md5 len 24 key-id 3 seq 1276874953",
         "214403303ba8fee400000000000f4240000493e000000000031803004c1b90c969aa03c3b0f2717bde7d9858bbde2852"),
        // bird-bird-auth-keyed-sha1.txt
        ("bird-bird-auth-keyed-sha1", 1, "198.18.0.1", "v1 Down diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x00000000 tx 1000000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557939",
         "204403349f575c4100000000000f4240000493e000000000041c040007b8e5b3804497dcd06fc759915ecc13cd2a10dc19d63c18"),
        ("bird-bird-auth-keyed-sha1", 2, "198.18.0.2", "v1 Down diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x00000000 tx 1000000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031778",
         "204403348ca3d71400000000000f4240000493e000000000041c040056d88a62f706acd3de9721d17893dfd5cff9bd579e804f14"),
        ("bird-bird-auth-keyed-sha1", 3, "198.18.0.1", "v1 Init diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 1000000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557939",
         "208403349f575c418ca3d714000f4240000493e000000000041c040007b8e5b323fcb0245038e52f80b22212b9737095f8f3e656"),
        ("bird-bird-auth-keyed-sha1", 4, "198.18.0.2", "v1 Up diag 0 flags [PA] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031778",
         "20e403348ca3d7149f575c41000493e0000493e000000000041c040056d88a629a6869875f8ef7b6ea2fcd1164ae902833ac260d"),
        ("bird-bird-auth-keyed-sha1", 5, "198.18.0.1", "v1 Up diag 0 flags [FA] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557939",
         "20d403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b37939358d9435ad20eb69d3a96d54fdd2e3e7979b"),
        ("bird-bird-auth-keyed-sha1", 6, "198.18.0.1", "v1 Up diag 0 flags [PA] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557939",
         "20e403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b37b026b9f87ddaaf37660faaac8efa6843c014ae7"),
        ("bird-bird-auth-keyed-sha1", 7, "198.18.0.2", "v1 Up diag 0 flags [FA] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031778",
         "20d403348ca3d7149f575c41000493e0000493e000000000041c040056d88a62a64b46754ffb2d2d25b98db2a57c24450fc53b9e"),
        ("bird-bird-auth-keyed-sha1", 8, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031779",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a6374e4faa0c83d10112f34a0724abed2f752be1d33"),
        ("bird-bird-auth-keyed-sha1", 9, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557940",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b47f2cae7b85e25addb948a96e3015d43c24a903f8"),
        ("bird-bird-auth-keyed-sha1", 10, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031779",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a6374e4faa0c83d10112f34a0724abed2f752be1d33"),
        ("bird-bird-auth-keyed-sha1", 11, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557940",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b47f2cae7b85e25addb948a96e3015d43c24a903f8"),
        ("bird-bird-auth-keyed-sha1", 12, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031779",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a6374e4faa0c83d10112f34a0724abed2f752be1d33"),
        ("bird-bird-auth-keyed-sha1", 13, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557940",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b47f2cae7b85e25addb948a96e3015d43c24a903f8"),
        ("bird-bird-auth-keyed-sha1", 14, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557940",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b47f2cae7b85e25addb948a96e3015d43c24a903f8"),
        ("bird-bird-auth-keyed-sha1", 15, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031779",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a6374e4faa0c83d10112f34a0724abed2f752be1d33"),
        ("bird-bird-auth-keyed-sha1", 16, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557941",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b55cfd91ddd15b7369dfbe73436ceaa025946f9b00"),
        ("bird-bird-auth-keyed-sha1", 17, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031780",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a6450bb2dec19f29708716345c260bf468bae3696f1"),
        ("bird-bird-auth-keyed-sha1", 18, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557941",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b55cfd91ddd15b7369dfbe73436ceaa025946f9b00"),
        ("bird-bird-auth-keyed-sha1", 19, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031780",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a6450bb2dec19f29708716345c260bf468bae3696f1"),
        ("bird-bird-auth-keyed-sha1", 20, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557941",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b55cfd91ddd15b7369dfbe73436ceaa025946f9b00"),
        ("bird-bird-auth-keyed-sha1", 21, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031780",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a6450bb2dec19f29708716345c260bf468bae3696f1"),
        ("bird-bird-auth-keyed-sha1", 22, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031780",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a6450bb2dec19f29708716345c260bf468bae3696f1"),
        ("bird-bird-auth-keyed-sha1", 23, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557941",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b55cfd91ddd15b7369dfbe73436ceaa025946f9b00"),
        ("bird-bird-auth-keyed-sha1", 24, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557942",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b65921dffc3280947c525691fb8ba14e5d2897e576"),
        ("bird-bird-auth-keyed-sha1", 25, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031781",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a656c6406fa25cbd890ca3d2ea3916c0b0080da41c5"),
        ("bird-bird-auth-keyed-sha1", 26, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x9f575c41 your 0x8ca3d714 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 129557942",
         "20c403349f575c418ca3d714000493e0000493e000000000041c040007b8e5b65921dffc3280947c525691fb8ba14e5d2897e576"),
        ("bird-bird-auth-keyed-sha1", 27, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031781",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a656c6406fa25cbd890ca3d2ea3916c0b0080da41c5"),
        ("bird-bird-auth-keyed-sha1", 28, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031781",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a656c6406fa25cbd890ca3d2ea3916c0b0080da41c5"),
        ("bird-bird-auth-keyed-sha1", 29, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031781",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a656c6406fa25cbd890ca3d2ea3916c0b0080da41c5"),
        ("bird-bird-auth-keyed-sha1", 30, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x9f575c41 tx 300000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031781",
         "20c403348ca3d7149f575c41000493e0000493e000000000041c040056d88a656c6406fa25cbd890ca3d2ea3916c0b0080da41c5"),
        ("bird-bird-auth-keyed-sha1", 31, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x00000000 tx 1000000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031782",
         "214403348ca3d71400000000000f4240000493e000000000041c040056d88a665a6a22c94bb26b01618b5b67c042bdfe9a7706ad"),
        ("bird-bird-auth-keyed-sha1", 32, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 52 my 0x8ca3d714 your 0x00000000 tx 1000000 rx 300000 echo 0 auth keyed-sha1 len 28 key-id 4 seq 1457031782",
         "214403348ca3d71400000000000f4240000493e000000000041c040056d88a665a6a22c94bb26b01618b5b67c042bdfe9a7706ad"),
        // bird-bird-auth-meticulous-keyed-sha1.txt
        ("bird-bird-auth-meticulous-keyed-sha1", 1, "198.18.0.1", "v1 Down diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x00000000 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098702",
         "204403344ed71e5300000000000f4240000493e000000000051c0500b6932d4e12ab92242c0c279c2caa3bb5684bc017337041a9"),
        ("bird-bird-auth-meticulous-keyed-sha1", 2, "198.18.0.2", "v1 Down diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x00000000 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676776",
         "204403343882f4ed00000000000f4240000493e000000000051c050017e1d7a87fe41adab8fd2ba18d9996e35480a85a5ee3434e"),
        ("bird-bird-auth-meticulous-keyed-sha1", 3, "198.18.0.1", "v1 Init diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 1000000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098703",
         "208403344ed71e533882f4ed000f4240000493e000000000051c0500b6932d4fbc1b409e595737da2923781f7d09daf9b74e9ba3"),
        ("bird-bird-auth-meticulous-keyed-sha1", 4, "198.18.0.2", "v1 Up diag 0 flags [PA] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676777",
         "20e403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7a9e13db5e7f7fbf47733ff51d422f5966571d541fa"),
        ("bird-bird-auth-meticulous-keyed-sha1", 5, "198.18.0.1", "v1 Up diag 0 flags [FA] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098704",
         "20d403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d50ccf2b3d1eb8d40b9c5db463605417afef465206e"),
        ("bird-bird-auth-meticulous-keyed-sha1", 6, "198.18.0.1", "v1 Up diag 0 flags [PA] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098705",
         "20e403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d517b2a21a182dac8eb56dce34beba98db5b6814874"),
        ("bird-bird-auth-meticulous-keyed-sha1", 7, "198.18.0.2", "v1 Up diag 0 flags [FA] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676778",
         "20d403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7aaf88d697db8f0768af68cd9d768ca13c7ee550b86"),
        ("bird-bird-auth-meticulous-keyed-sha1", 8, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676779",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7ab48d93da78392ccb4fa62a1be7351f59ead5f2a72"),
        ("bird-bird-auth-meticulous-keyed-sha1", 9, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098706",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d52ec9fc37299d79f3b39bc990e70a221ae9e104eec"),
        ("bird-bird-auth-meticulous-keyed-sha1", 10, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676780",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7acad8f13007e14aa4b29fda8965c278ce21472779d"),
        ("bird-bird-auth-meticulous-keyed-sha1", 11, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098707",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d53f970711ada5e4ace9078634a008a764b0cc92f83"),
        ("bird-bird-auth-meticulous-keyed-sha1", 12, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676781",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7ad07d924484cf1c3a8b3e29198260e083c29b3060a"),
        ("bird-bird-auth-meticulous-keyed-sha1", 13, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098708",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d544a030ccdf131f5554239c0563f4172422e23e159"),
        ("bird-bird-auth-meticulous-keyed-sha1", 14, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676782",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7aedaaa75ec1ab116c002a9fb73804e6b44fa31315b"),
        ("bird-bird-auth-meticulous-keyed-sha1", 15, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098709",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d553ce267fc27378cea233e95cc63a91748294f4b60"),
        ("bird-bird-auth-meticulous-keyed-sha1", 16, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676783",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7af92c3b30dd78aa38bfc00bf670d5ab69529d65c3c"),
        ("bird-bird-auth-meticulous-keyed-sha1", 17, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098710",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d568d8f821f53a2f3a54f009f323d96b7d31b30b0f2"),
        ("bird-bird-auth-meticulous-keyed-sha1", 18, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676784",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7b0721c2f2d5d98900304cba1efbda36bb69cb3aecb"),
        ("bird-bird-auth-meticulous-keyed-sha1", 19, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098711",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d579a4210ab3f59ccdb637d58256b601c3b632577fc"),
        ("bird-bird-auth-meticulous-keyed-sha1", 20, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676785",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7b1fcd162bd636a7c5ea4bcc5d6d2ea32bc293ab060"),
        ("bird-bird-auth-meticulous-keyed-sha1", 21, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098712",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d585099947ed0cb8c299bf78c596539af9f598b7a8e"),
        ("bird-bird-auth-meticulous-keyed-sha1", 22, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676786",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7b21fc6378b66275045b89d3934beb575cdb09c5427"),
        ("bird-bird-auth-meticulous-keyed-sha1", 23, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098713",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d59e513bcdaae2d308a14f3e387f7817e95b80a1ff8"),
        ("bird-bird-auth-meticulous-keyed-sha1", 24, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676787",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7b3fa251d5b205827405122bd860aa13760252feef1"),
        ("bird-bird-auth-meticulous-keyed-sha1", 25, "198.18.0.1", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x4ed71e53 your 0x3882f4ed tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 3063098714",
         "20c403344ed71e533882f4ed000493e0000493e000000000051c0500b6932d5a4bc9525b8d343be8cd4047d783fd3473064c71c1"),
        ("bird-bird-auth-meticulous-keyed-sha1", 26, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676788",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7b439e56e9fba735deaa8685b454240354416cd62af"),
        ("bird-bird-auth-meticulous-keyed-sha1", 27, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676789",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7b5966776b94c54541c4034fb8266b72d57997c648a"),
        ("bird-bird-auth-meticulous-keyed-sha1", 28, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676790",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7b6e64a038bcbee9f4285f7790ce28f3188af977b22"),
        ("bird-bird-auth-meticulous-keyed-sha1", 29, "198.18.0.2", "v1 Up diag 0 flags [A] mult 3 len 52 my 0x3882f4ed your 0x4ed71e53 tx 300000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676791",
         "20c403343882f4ed4ed71e53000493e0000493e000000000051c050017e1d7b7920358693dda2c1f8127acb3149cf1a7ad4c45f2"),
        ("bird-bird-auth-meticulous-keyed-sha1", 30, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 52 my 0x3882f4ed your 0x00000000 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676792",
         "214403343882f4ed00000000000f4240000493e000000000051c050017e1d7b8a2e75eb7ef4daaf6c8aab2cb2e9f9625b3f79576"),
        ("bird-bird-auth-meticulous-keyed-sha1", 31, "198.18.0.2", "v1 Down diag 1 flags [A] mult 3 len 52 my 0x3882f4ed your 0x00000000 tx 1000000 rx 300000 echo 0 auth meticulous-keyed-sha1 len 28 key-id 5 seq 400676793",
         "214403343882f4ed00000000000f4240000493e000000000051c050017e1d7b94b333983fe7082f0088833acd685a69ee10695d5"),
    ];
}
