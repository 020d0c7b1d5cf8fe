//! Reads the BFD control packets out of a tcpdump capture (classic little-endian pcap,
//! Ethernet link type, microsecond or nanosecond timestamps), decoded by the project's own codec.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use heartbeat_proto::bfd::ControlPacket;

/// One UDP datagram of the capture, with its BFD control packet if it holds one.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Capture time, since the Unix epoch.
    pub time: Duration,
    /// IP source address.
    pub src: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 TOS or IPv6 traffic class.
    pub tos: u8,
    /// UDP source port.
    pub sport: u16,
    /// UDP destination port.
    pub dport: u16,
    /// The control packet, if the payload parses as one.
    pub bfd: Option<ControlPacket>,
}

impl Packet {
    /// The BFD state code (0 AdminDown … 3 Up), if a control packet.
    pub fn state(&self) -> Option<u8> {
        self.bfd.map(|b| b.state.to_bits())
    }

    /// The BFD diagnostic code, if a control packet.
    pub fn diag(&self) -> Option<u8> {
        self.bfd.map(|b| b.diag.0)
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Every UDP datagram in the capture at `path`, in capture order.
///
/// # Panics
///
/// If the file cannot be read or is not a little-endian Ethernet pcap: a test must not pass on
/// a capture it could not read.
pub fn read(path: &Path) -> Vec<Packet> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("the capture file {}: {e}", path.display()));
    let nanos = match bytes.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => false,
        Some([0x4d, 0x3c, 0xb2, 0xa1]) => true,
        _ => panic!("{}: not a little-endian pcap", path.display()),
    };
    assert_eq!(le32(&bytes, 20), Some(1), "{}: not Ethernet", path.display());
    let mut packets = Vec::new();
    let mut at = 24;
    while let (Some(secs), Some(frac), Some(len)) = (le32(&bytes, at), le32(&bytes, at + 4), le32(&bytes, at + 8)) {
        let len = len as usize;
        let frame = &bytes[(at + 16).min(bytes.len())..(at + 16 + len).min(bytes.len())];
        at += 16 + len;
        let frac = if nanos { Duration::from_nanos(frac.into()) } else { Duration::from_micros(frac.into()) };
        if let Some(p) = parse(Duration::from_secs(secs.into()) + frac, frame) {
            packets.push(p);
        }
    }
    packets
}

fn parse(time: Duration, frame: &[u8]) -> Option<Packet> {
    let ip = frame.get(14..)?;
    let (src, ttl, tos, udp) = match be16(frame, 12)? {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            if *ip.get(9)? != 17 {
                return None;
            }
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            (IpAddr::V4(Ipv4Addr::from(src)), *ip.get(8)?, *ip.get(1)?, ip.get(ihl..)?)
        }
        0x86dd => {
            if *ip.get(6)? != 17 {
                return None;
            }
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let class = (ip.first()? << 4) | (ip.get(1)? >> 4);
            (IpAddr::V6(Ipv6Addr::from(src)), *ip.get(7)?, class, ip.get(40..)?)
        }
        _ => return None,
    };
    Some(Packet {
        time,
        src,
        ttl,
        tos,
        sport: be16(udp, 0)?,
        dport: be16(udp, 2)?,
        bfd: ControlPacket::parse(udp.get(8..)?).ok(),
    })
}
