//! A reader for the classic pcap files tcpdump writes (`tcpdump -w`), just enough to time and
//! check BFD packets on a veth: each record's capture time and, for IPv4 and IPv6 UDP frames, the
//! addresses, the TTL / hop limit, the TOS / traffic class and the UDP payload, which
//! [`Datagram::bfd`] decodes with the project's own codec. Malformed input is an error or a
//! skipped frame, never a panic.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use heartbeat_proto::bfd::ControlPacket;

/// Why a capture could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum PcapError {
    /// The file could not be read.
    Io(std::io::Error),
    /// Not a classic pcap file (wrong magic; pcapng is not supported).
    BadMagic(u32),
    /// The global header or a record header is cut short.
    Truncated,
    /// A link type this reader does not decode.
    LinkType(u32),
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Io(e) => write!(f, "cannot read the capture: {e}"),
            PcapError::BadMagic(m) => write!(f, "not a pcap file (magic {m:#010x})"),
            PcapError::Truncated => write!(f, "pcap file cut short"),
            PcapError::LinkType(t) => write!(f, "unsupported pcap link type {t}"),
        }
    }
}

impl std::error::Error for PcapError {}

/// Ethernet (`DLT_EN10MB`), what tcpdump writes for a veth.
const LINKTYPE_ETHERNET: u32 = 1;
/// Linux cooked capture v1 (`-i any`).
const LINKTYPE_LINUX_SLL: u32 = 113;
/// Raw IP.
const LINKTYPE_RAW: u32 = 101;

/// One UDP datagram seen in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Capture time, since the Unix epoch (the capturing host's `CLOCK_REALTIME`).
    pub at: Duration,
    /// Source address and port.
    pub source: SocketAddr,
    /// Destination address and port.
    pub destination: SocketAddr,
    /// The IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The IPv4 TOS or IPv6 traffic class.
    pub tos: u8,
    /// The UDP payload (as far as it was captured).
    pub payload: Vec<u8>,
}

impl Datagram {
    /// The BFD control packet the payload holds, if it parses as one.
    pub fn bfd(&self) -> Option<ControlPacket> {
        ControlPacket::parse(&self.payload).ok()
    }
}

/// Reads every UDP datagram (IPv4 or IPv6) of the pcap file at `path`, in capture order. Frames
/// of other protocols, fragments and cut-short frames are skipped.
pub fn read_udp(path: &Path) -> Result<Vec<Datagram>, PcapError> {
    parse_udp(&std::fs::read(path).map_err(PcapError::Io)?)
}

/// Like [`read_udp`], from the bytes of a pcap file.
pub fn parse_udp(bytes: &[u8]) -> Result<Vec<Datagram>, PcapError> {
    let header = bytes.get(..24).ok_or(PcapError::Truncated)?;
    let magic_le = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let (little, nanos) = match magic_le {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        other => return Err(PcapError::BadMagic(other)),
    };
    let word = |b: &[u8], at: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if little { u32::from_le_bytes(w) } else { u32::from_be_bytes(w) })
    };
    let link = word(header, 20).ok_or(PcapError::Truncated)?;
    if ![LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW].contains(&link) {
        return Err(PcapError::LinkType(link));
    }
    let mut out = Vec::new();
    let mut rest = &bytes[24..];
    while !rest.is_empty() {
        let (secs, frac, caplen) = match (word(rest, 0), word(rest, 4), word(rest, 8)) {
            (Some(s), Some(f), Some(c)) => (s, f, c as usize),
            _ => return Err(PcapError::Truncated),
        };
        let frame = rest.get(16..16 + caplen).ok_or(PcapError::Truncated)?;
        rest = &rest[16 + caplen..];
        let sub = if nanos { Duration::from_nanos(u64::from(frac)) } else { Duration::from_micros(u64::from(frac)) };
        let at = Duration::from_secs(u64::from(secs)) + sub;
        if let Some(datagram) = ip_payload(link, frame).and_then(|ip| udp(at, ip)) {
            out.push(datagram);
        }
    }
    Ok(out)
}

/// The IP packet inside a frame of link type `link`, if it carries IPv4 or IPv6.
fn ip_payload(link: u32, frame: &[u8]) -> Option<&[u8]> {
    let (ethertype_at, ip_at) = match link {
        LINKTYPE_ETHERNET => (12, 14),
        LINKTYPE_LINUX_SLL => (14, 16),
        _ => return Some(frame),
    };
    let ethertype = u16::from_be_bytes(frame.get(ethertype_at..ethertype_at + 2)?.try_into().ok()?);
    matches!(ethertype, 0x0800 | 0x86dd).then(|| frame.get(ip_at..)).flatten()
}

/// The addresses, TTL, TOS and UDP segment of an IPv4 or IPv6 packet carrying UDP (IPv4
/// fragments and IPv6 extension headers are skipped).
fn udp(at: Duration, ip: &[u8]) -> Option<Datagram> {
    let first = *ip.first()?;
    let (source, destination, ttl, tos, udp) = match first >> 4 {
        4 => {
            let header_len = usize::from(first & 0x0f) * 4;
            // Not UDP, or a fragment (MF set or a non-zero offset).
            if header_len < 20 || *ip.get(9)? != 17 || u16::from_be_bytes(ip.get(6..8)?.try_into().ok()?) & 0x3fff != 0
            {
                return None;
            }
            let addr = |at: usize| -> Option<IpAddr> {
                Some(Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(at..at + 4)?).ok()?).into())
            };
            (addr(12)?, addr(16)?, *ip.get(8)?, *ip.get(1)?, ip.get(header_len..)?)
        }
        6 => {
            if *ip.get(6)? != 17 {
                return None;
            }
            let addr = |at: usize| -> Option<IpAddr> {
                Some(Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(at..at + 16)?).ok()?).into())
            };
            let class = (first << 4) | (ip.get(1)? >> 4);
            (addr(8)?, addr(24)?, *ip.get(7)?, class, ip.get(40..)?)
        }
        _ => return None,
    };
    let port = |at: usize| -> Option<u16> { Some(u16::from_be_bytes(udp.get(at..at + 2)?.try_into().ok()?)) };
    let udp_len = usize::from(port(4)?);
    let payload = udp.get(8..udp_len.max(8).min(udp.len()))?;
    Some(Datagram {
        at,
        source: SocketAddr::new(source, port(0)?),
        destination: SocketAddr::new(destination, port(2)?),
        ttl,
        tos,
        payload: payload.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian microsecond pcap with one Ethernet/IPv4/UDP frame carrying `payload`.
    fn capture(payload: &[u8]) -> Vec<u8> {
        let mut file = Vec::new();
        file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        file.extend_from_slice(&[2, 0, 4, 0]);
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&262_144u32.to_le_bytes());
        file.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        let total = 20 + 8 + payload.len() as u16;
        frame.extend_from_slice(&[0x45, 0xc0]);
        frame.extend_from_slice(&total.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0x40, 0, 255, 17, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1]);
        frame.extend_from_slice(&49152u16.to_be_bytes());
        frame.extend_from_slice(&3784u16.to_be_bytes());
        frame.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(payload);
        file.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        file.extend_from_slice(&123_456u32.to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        file.extend_from_slice(&frame);
        file
    }

    #[test]
    fn reads_time_addresses_ttl_and_payload() {
        let got = parse_udp(&capture(b"bfd!")).expect("valid");
        assert_eq!(got.len(), 1);
        let d = &got[0];
        assert_eq!(d.at, Duration::from_secs(1_700_000_000) + Duration::from_micros(123_456));
        assert_eq!(d.source, "198.18.0.2:49152".parse().expect("addr"));
        assert_eq!(d.destination, "198.18.0.1:3784".parse().expect("addr"));
        assert_eq!((d.ttl, d.tos, d.payload.as_slice()), (255, 0xc0, &b"bfd!"[..]));
        assert_eq!(d.bfd(), None, "four bytes are no control packet");
    }

    #[test]
    fn every_cut_of_a_file_is_an_error_or_fewer_frames_never_a_panic() {
        let file = capture(&[0x20; 24]);
        for len in 0..file.len() {
            match parse_udp(&file[..len]) {
                Ok(frames) => assert!(frames.is_empty(), "cut at {len}"),
                Err(PcapError::Truncated) => {}
                Err(other) => panic!("cut at {len}: {other}"),
            }
        }
        assert!(matches!(parse_udp(b"\x0a\x0d\x0d\x0a and more bytes than a header"), Err(PcapError::BadMagic(_))));
    }
}
