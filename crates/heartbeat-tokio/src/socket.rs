//! What the driver needs from a datagram socket, so that simulated networks can stand in.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

/// A datagram socket the driver can wait on and use without blocking.
///
/// Implemented for [`tokio::net::UdpSocket`]; a test may implement it for a simulated socket
/// (such as turmoil's) to run the same driver in a deterministic network.
pub trait Socket: Send + Sync + 'static {
    /// Resolves when a datagram may be waiting (it may be a false alarm).
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
    /// Resolves when the socket can take a datagram. The driver waits for it once, before its
    /// first send: a freshly registered socket may not know yet that it is writable.
    fn writable(&self) -> impl Future<Output = io::Result<()>> + Send;
    /// Takes one datagram if there is one, else fails with `WouldBlock`.
    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    /// Sends one datagram if the socket can take it now, else fails with `WouldBlock`.
    fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize>;
    /// The address the socket is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Socket for tokio::net::UdpSocket {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        tokio::net::UdpSocket::readable(self)
    }

    fn writable(&self) -> impl Future<Output = io::Result<()>> + Send {
        tokio::net::UdpSocket::writable(self)
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        tokio::net::UdpSocket::try_recv_from(self, buf)
    }

    fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        tokio::net::UdpSocket::try_send_to(self, buf, target)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        tokio::net::UdpSocket::local_addr(self)
    }
}
