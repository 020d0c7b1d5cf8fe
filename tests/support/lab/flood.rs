//! Floods of frames no node should believe, at one host: replays of a real peer's frames
//! (verbatim, from the peer's own address), forgeries of them (one byte of the authenticated
//! frame changed, so the MAC no longer matches), and random garbage.
//!
//! Real frames are captured with tcpdump on the target's link 0 (Debian package `tcpdump`).

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::host::Host;
use super::{PORT, address};
use crate::netns::{self, Error, Namespace, Result, io_error};
use crate::pcap;

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Captured frames of the real peer, verbatim.
    Replayed,
    /// Captured frames with one byte flipped: a forged MAC.
    Forged,
    /// Random bytes of heartbeat-like length.
    Garbage,
}

/// Captures, for `window` (over a second: tcpdump hands packets over in blocks with a one-second
/// timeout), the frames `from` sends to `target` on link 0.
pub fn capture(target: &Host, from: &Host, window: Duration, dir: &std::path::Path) -> Result<Vec<Vec<u8>>> {
    let file = dir.join(format!("capture-{}-to-{}.pcap", from.id(), target.id()));
    let source = address(from.id() as usize, 0);
    let filter = format!("udp and src host {source} and dst port {PORT}");
    let mut capture = target.namespace().capture("e0", &file, &filter)?;
    std::thread::sleep(window);
    capture.stop();
    let bytes = std::fs::read(&file).map_err(io_error(format!("cannot read {}", file.display())))?;
    let frames: Vec<Vec<u8>> = pcap::parse_udp(&bytes)
        .map_err(|e| Error::Parse { what: format!("capture {} ({e})", file.display()), text: String::new() })?
        .into_iter()
        .map(|d| d.payload)
        .collect();
    if frames.is_empty() {
        let log = std::fs::read_to_string(file.with_extension("tcpdump.log")).unwrap_or_default();
        return Err(Error::Parse {
            what: format!("capture: no frames from the peer in {} bytes of {}", bytes.len(), file.display()),
            text: log,
        });
    }
    Ok(frames)
}

/// Sends `count` datagrams of `kind` built from `frames` to host `target`'s link 0, at about
/// `rate` per second, from a socket in `from_ns` bound to `from_ip` (port chosen by the kernel).
/// Returns how many were sent.
pub fn send(
    from_ns: &Namespace,
    from_ip: std::net::Ipv4Addr,
    target: usize,
    kind: Kind,
    frames: &[Vec<u8>],
    count: usize,
    rate: u32,
) -> Result<usize> {
    let to = SocketAddr::from((address(target, 0), PORT));
    from_ns
        .within(|| -> std::io::Result<usize> {
            let socket = UdpSocket::bind((from_ip, 0))?;
            let start = Instant::now();
            let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ count as u64;
            let mut sent = 0;
            for i in 0..count {
                let mut frame = frames[i % frames.len()].clone();
                match kind {
                    Kind::Replayed => {}
                    Kind::Forged => {
                        // Somewhere in the MAC-covered bytes: any change must be caught.
                        let at = (i * 7919) % frame.len();
                        frame[at] ^= 1 << (i % 8);
                    }
                    Kind::Garbage => {
                        for byte in frame.iter_mut() {
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            *byte = rng as u8;
                        }
                    }
                }
                if socket.send_to(&frame, to).is_ok() {
                    sent += 1;
                }
                // Pace: datagram i is due at i / rate.
                let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            Ok(sent)
        })?
        .map_err(io_error("flood"))
}

/// Whether the machine can capture (tcpdump installed).
pub fn require_tcpdump() -> Result<()> {
    netns::require_program("tcpdump", &["--version"], "tcpdump")
}
