//! BFD's UDP sockets, set up the way RFC 5881 and RFC 5883 ask and FRR and BIRD do it.
//!
//! - [`RxSocket`]: bound to the control port (3784 single hop, 4784 multihop) on one address
//!   family, it reports with every datagram its source, the TTL or hop limit it arrived with
//!   (`IP_RECVTTL` / `IPV6_RECVHOPLIMIT`), and the local address and interface it was sent to
//!   (`IP_PKTINFO` / `IPV6_RECVPKTINFO`): what the core needs for the GTSM check (RFC 5881 §5)
//!   and to tie a session to its interface and addresses.
//! - [`TxSocket`]: bound to a source port in 49152–65535 (see [`source_port`]),
//!   with TTL / hop limit 255, traffic class CS6 (`0xC0`) and, on IPv4, Don't Fragment
//!   (`IP_PMTUDISC_PROBE`: BFD packets are far below any MTU). Each datagram can carry its own
//!   TTL, source address and outgoing interface as ancillary data, so one socket per family
//!   serves every session.
//!
//! Ancillary data is read and written through `nix`, which wraps `recvmsg`/`sendmsg` and their
//! control messages safely (rustix has no TTL or packet-info messages, and this workspace
//! forbids `unsafe`). Linux only.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use nix::libc;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, sendmsg, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};

use super::source_port;

pub use heartbeat_proto::bfd::{MULTI_HOP_PORT, SINGLE_HOP_PORT};

/// The TTL / hop limit every BFD control packet is sent with (RFC 5881 §5, RFC 5883 §5).
pub const TTL: u8 = heartbeat_proto::bfd::TX_TTL;
/// IP TOS / IPv6 traffic class of every sent packet: CS6, network control, as FRR and BIRD.
pub const TOS: u8 = 0xC0;

/// The receive buffer [`RxSocket::bind`] asks for: 32 MiB, a few hundred milliseconds of
/// the 100,000 packets a second of a thousand 10 ms sessions (each small datagram takes about
/// 1 KiB of buffer in the kernel's accounting). The kernel's default (about 212 kB) holds
/// some 2 ms of that. It is only the most the socket may hold, not memory taken up front.
pub const DEFAULT_RECV_BUFFER: usize = 32 << 20;

/// One received datagram's length and how it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Datagram {
    /// Bytes written to the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer; only its first `len` bytes were kept.
    pub truncated: bool,
    /// Its source address and port.
    pub source: SocketAddr,
    /// The destination address in its IP header (packet info), if the kernel reported it.
    pub local: Option<IpAddr>,
    /// The interface it arrived on (packet info), if the kernel reported it.
    pub ifindex: Option<u32>,
    /// Its TTL / hop limit, if the kernel reported it.
    pub ttl: Option<u8>,
}

/// How one datagram is to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendOptions {
    /// TTL / hop limit for this datagram; `None`: the socket's own ([`TTL`]).
    pub ttl: Option<u8>,
    /// Source address; `None`: the kernel picks it from the route.
    pub source: Option<IpAddr>,
    /// Outgoing interface; `None`: the route's.
    pub ifindex: Option<u32>,
}

fn new_socket(addr: &SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(*addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        // One family per socket: IPv4 arrives on the IPv4 socket, never as a mapped address.
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A receive socket on a BFD control port.
#[derive(Debug)]
pub struct RxSocket {
    socket: UdpSocket,
    /// Room for one TTL and one packet-info message of either family.
    cmsg: Vec<u8>,
}

impl RxSocket {
    /// A non-blocking socket bound to `addr` (usually the unspecified address of a family and
    /// [`SINGLE_HOP_PORT`] or [`MULTI_HOP_PORT`]; any port for tests), reporting TTL and packet
    /// info with each datagram, with a receive buffer of [`DEFAULT_RECV_BUFFER`]. Fails if the
    /// port is taken: another BFD daemon is running.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        RxSocket::bind_with_buffer(addr, DEFAULT_RECV_BUFFER)
    }

    /// Like [`bind`](Self::bind), with a receive buffer of `bytes`: with `CAP_NET_ADMIN`
    /// (`SO_RCVBUFFORCE`) whatever `net.core.rmem_max` says, else at most that. 0 keeps the
    /// kernel's default.
    pub fn bind_with_buffer(addr: SocketAddr, bytes: usize) -> io::Result<Self> {
        let socket = new_socket(&addr)?;
        if bytes > 0 && setsockopt(&socket, sockopt::RcvBufForce, &bytes).is_err() {
            // Not privileged: the kernel caps the request at rmem_max.
            socket.set_recv_buffer_size(bytes)?;
        }
        if addr.is_ipv4() {
            setsockopt(&socket, sockopt::Ipv4RecvTtl, &true)?;
            setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)?;
        } else {
            setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true)?;
            setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)?;
        }
        socket.bind(&addr.into())?;
        Ok(RxSocket {
            socket: socket.into(),
            cmsg: nix::cmsg_space!(libc::c_int, libc::in_pktinfo, libc::c_int, libc::in6_pktinfo),
        })
    }

    /// The address and port it is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The receive buffer the kernel granted (it reports twice the request: its bookkeeping
    /// overhead is included).
    pub fn recv_buffer(&self) -> io::Result<usize> {
        Ok(nix::sys::socket::getsockopt(&self.socket, sockopt::RcvBuf)?)
    }

    /// Reads one datagram into `buf`, with its metadata. `WouldBlock` when none is waiting.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        let mut iov = [IoSliceMut::new(buf)];
        let msg =
            recvmsg::<SockaddrStorage>(self.socket.as_raw_fd(), &mut iov, Some(&mut self.cmsg), MsgFlags::empty())?;
        let source = msg
            .address
            .as_ref()
            .and_then(socket_addr)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "datagram without an IP source address"))?;
        let mut datagram = Datagram {
            len: msg.bytes,
            truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
            source,
            local: None,
            ifindex: None,
            ttl: None,
        };
        for cmsg in msg.cmsgs()? {
            match cmsg {
                ControlMessageOwned::Ipv4Ttl(ttl) | ControlMessageOwned::Ipv6HopLimit(ttl) => {
                    datagram.ttl = u8::try_from(ttl).ok();
                }
                ControlMessageOwned::Ipv4PacketInfo(info) => {
                    datagram.local = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr))));
                    datagram.ifindex = u32::try_from(info.ipi_ifindex).ok();
                }
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    datagram.local = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                    datagram.ifindex = Some(info.ipi6_ifindex);
                }
                _ => {}
            }
        }
        Ok(datagram)
    }
}

impl AsFd for RxSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

fn socket_addr(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::from(*v4));
    }
    addr.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6))
}

/// A transmit socket on a source port of its own.
#[derive(Debug)]
pub struct TxSocket {
    socket: UdpSocket,
}

impl TxSocket {
    /// A socket on `ip` (usually a family's unspecified address) and the first free port of
    /// 49152–65535, starting from a point derived from `seed` (see
    /// [`source_port::bind`]).
    pub fn bind(ip: IpAddr, seed: u64) -> io::Result<Self> {
        TxSocket::bind_in(ip, source_port::RANGE, seed)
    }

    /// Like [`bind`](Self::bind), within `ports`.
    pub fn bind_in(ip: IpAddr, ports: RangeInclusive<u16>, seed: u64) -> io::Result<Self> {
        let socket = source_port::bind(ip, ports, seed, |addr| {
            let socket = new_socket(addr)?;
            if addr.is_ipv4() {
                socket.set_ttl_v4(u32::from(TTL))?;
                socket.set_tos_v4(u32::from(TOS))?;
                // DF on every packet (they are tiny): the kernel then writes IP ID 0 (RFC 6864)
                // instead of drawing one from its shared hash for each datagram.
                rustix::net::sockopt::set_ip_mtu_discover(&socket, rustix::net::sockopt::Ipv4PathMtuDiscovery::PROBE)?;
            } else {
                socket.set_unicast_hops_v6(u32::from(TTL))?;
                socket.set_tclass_v6(u32::from(TOS))?;
            }
            Ok(socket)
        })?;
        Ok(TxSocket { socket: socket.into() })
    }

    /// The address and source port it is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The underlying socket (e.g. to read the options back).
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// Sends `bytes` to `to` with `options` as ancillary data. Non-blocking: a full buffer is
    /// `WouldBlock`, and the datagram is lost like any other.
    pub fn send(&self, bytes: &[u8], to: SocketAddr, options: SendOptions) -> io::Result<usize> {
        let iov = [IoSlice::new(bytes)];
        let hops = libc::c_int::from(options.ttl.unwrap_or(TTL));
        let ifindex = options.ifindex.unwrap_or(0);
        let v4_info = libc::in_pktinfo {
            ipi_ifindex: libc::c_int::try_from(ifindex).unwrap_or(0),
            ipi_spec_dst: libc::in_addr {
                s_addr: match options.source {
                    Some(IpAddr::V4(ip)) => u32::from(ip).to_be(),
                    _ => 0,
                },
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        let v6_info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: match options.source {
                    Some(IpAddr::V6(ip)) => ip.octets(),
                    _ => [0; 16],
                },
            },
            ipi6_ifindex: ifindex,
        };
        let wants_info = options.source.is_some() || options.ifindex.is_some();
        let mut cmsgs = Vec::with_capacity(2);
        if to.is_ipv4() {
            if options.ttl.is_some() {
                cmsgs.push(ControlMessage::Ipv4Ttl(&hops));
            }
            if wants_info {
                cmsgs.push(ControlMessage::Ipv4PacketInfo(&v4_info));
            }
        } else {
            if options.ttl.is_some() {
                cmsgs.push(ControlMessage::Ipv6HopLimit(&hops));
            }
            if wants_info {
                cmsgs.push(ControlMessage::Ipv6PacketInfo(&v6_info));
            }
        }
        let to = SockaddrStorage::from(to);
        Ok(sendmsg(self.socket.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_DONTWAIT, Some(&to))?)
    }
}

impl AsFd for TxSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}
