//! Ready-made sockets for the usual set-ups, with their options set through `socket2`.
//!
//! The driver accepts any `std::net::UdpSocket`; these helpers only save the option dance.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

fn new_socket(addr: &SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(*addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // One family per socket: an IPv6 link is IPv6 only.
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

/// A unicast socket bound to `addr` (IPv4 or IPv6; port 0 picks a free port).
pub fn unicast(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = new_socket(&addr)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// A socket that sends to and receives from the IPv4 multicast `group` on `port`, through the
/// interface with address `interface` (e.g. `127.0.0.1` for loopback tests).
///
/// Several nodes on one host may share the port (address and port reuse are on). The node's
/// own frames loop back and are refused by the core as its own, and counted.
pub fn multicast_v4(group: Ipv4Addr, port: u16, interface: Ipv4Addr) -> io::Result<UdpSocket> {
    let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    let socket = new_socket(&addr)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.join_multicast_v4(&group, &interface)?;
    socket.set_multicast_if_v4(&interface)?;
    socket.set_multicast_loop_v4(true)?;
    socket.set_multicast_ttl_v4(1)?;
    Ok(socket.into())
}

/// A socket that sends to and receives from the IPv6 multicast `group` on `port`, through the
/// interface numbered `interface` (its index, as `ip link` shows it), with `hops` as the
/// multicast hop limit (1 keeps frames on the link).
///
/// A link-local group (`ff02::/16`) is only defined on one interface: send to it with that
/// interface's index as the destination's scope id. Address and port reuse are on, and the
/// node's own frames loop back (refused by the core as its own, and counted), as with
/// [`multicast_v4`].
pub fn multicast_v6(group: Ipv6Addr, port: u16, interface: u32, hops: u32) -> io::Result<UdpSocket> {
    let addr = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
    let socket = new_socket(&addr)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.join_multicast_v6(&group, interface)?;
    socket.set_multicast_if_v6(interface)?;
    socket.set_multicast_loop_v6(true)?;
    socket.set_multicast_hops_v6(hops)?;
    Ok(socket.into())
}

/// A socket that sends to and receives broadcasts on `port` (send to e.g.
/// `255.255.255.255:port`, or `127.255.255.255:port` on loopback). Several nodes on one host may
/// share the port.
pub fn broadcast_v4(port: u16) -> io::Result<UdpSocket> {
    let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    let socket = new_socket(&addr)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_broadcast(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}
