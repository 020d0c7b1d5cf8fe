//! BFD (RFC 5880/5881/5883) over real sockets: the UDP encapsulation of single-hop and multihop
//! sessions.
//!
//! - [`socket`]: receive sockets on the control ports that report TTL, local address and
//!   interface with each datagram, and transmit sockets with TTL 255 and CS6.
//! - [`source_port`]: the 49152–65535 source-port walk.
//! - [`links`]: interfaces numbered as the core's links.
//!
//! Linux only (packet info and per-datagram TTL are read and set as Linux ancillary data).

pub mod links;
pub mod socket;
pub mod source_port;
