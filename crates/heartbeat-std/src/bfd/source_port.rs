//! Choosing a UDP source port for BFD's transmit sockets (RFC 5881 §4, RFC 5883 §5).
//!
//! The source port MUST be in 49152–65535. No port in that range can be assumed free (FRR's
//! bfdd takes 49152 upwards, one per session), so [`bind`] starts at a point derived from a seed
//! and walks the range, wrapping once, taking the first port that binds.
//!
//! **One port per address family, shared by every session.** RFC 5881 says the port MUST stay
//! the same for all packets of a session and SHOULD be unique per session; sharing one keeps the
//! adapter to one socket per family whatever the number of sessions, and neither FRR nor BIRD
//! looks at the source port (they demultiplex by discriminator, then addresses and interface).
//! Sessions are still told apart on the wire by their discriminators.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;

use socket2::Socket;

/// The dynamic port range BFD source ports must come from.
pub const RANGE: RangeInclusive<u16> = 49152..=65535;

/// Where the walk through `ports` starts for `seed`: spread over the range, so that several
/// processes started together rarely try the same ports in the same order.
pub fn start(ports: &RangeInclusive<u16>, seed: u64) -> u16 {
    let (first, last) = (*ports.start(), *ports.end());
    if first >= last {
        return first;
    }
    let span = u64::from(last - first) + 1;
    let offset = u16::try_from(mix(seed) % span).unwrap_or(0);
    first + offset
}

/// SplitMix64's finaliser: neighbouring seeds land far apart.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Binds a socket made by `make` to `ip` and the first free port of `ports`, starting at
/// [`start`]`(ports, seed)` and wrapping round once.
///
/// A port in use (`EADDRINUSE`) is skipped; any other error ends the search and is returned.
/// If every port is taken the error is `AddrInUse`.
pub fn bind(
    ip: IpAddr,
    ports: RangeInclusive<u16>,
    seed: u64,
    make: impl FnOnce(&SocketAddr) -> io::Result<Socket>,
) -> io::Result<Socket> {
    let (first, last) = (*ports.start(), *ports.end());
    if first > last {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty source port range"));
    }
    let begin = start(&ports, seed);
    let socket = make(&SocketAddr::new(ip, begin))?;
    // A failed bind leaves the socket unbound, so the same socket tries the next port.
    for port in (begin..=last).chain(first..begin) {
        match socket.bind(&SocketAddr::new(ip, port).into()) {
            Ok(()) => return Ok(socket),
            Err(err) if err.kind() == io::ErrorKind::AddrInUse => {}
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::new(io::ErrorKind::AddrInUse, format!("every source port in {first}-{last} is taken")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_stays_in_the_range_and_depends_on_the_seed() {
        let starts: Vec<u16> = (0..64).map(|seed| start(&RANGE, seed)).collect();
        assert!(starts.iter().all(|p| RANGE.contains(p)));
        let mut distinct = starts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 50, "{starts:?}");
        assert_eq!(start(&(50000..=50000), 7), 50000);
        assert!((60000..=60001).contains(&start(&(60000..=60001), 99)));
    }
}
