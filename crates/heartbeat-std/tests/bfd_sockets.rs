//! BFD's sockets on real loopback: TTLs, sources and local addresses as the kernel reports them,
//! and the source-port walk around ports that are taken.

#![cfg(target_os = "linux")]

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use heartbeat_std::bfd::socket::{Datagram, RxSocket, SendOptions, TOS, TTL, TxSocket};
use heartbeat_std::bfd::source_port;

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Waits (bounded) for one datagram on the non-blocking `rx`.
fn receive(rx: &mut RxSocket, buf: &mut [u8]) -> Datagram {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        match rx.recv(buf) {
            Ok(datagram) => return datagram,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(err) => panic!("no datagram: {err}"),
        }
    }
}

fn pair(ip: IpAddr, seed: u64) -> (TxSocket, RxSocket) {
    let tx = TxSocket::bind(ip, seed).unwrap();
    let rx = RxSocket::bind(SocketAddr::new(ip, 0)).unwrap();
    (tx, rx)
}

#[test]
fn ttl_255_and_64_arrive_as_sent_with_source_and_local_address() {
    for ip in [V4, V6] {
        let (tx, mut rx) = pair(ip, 1);
        let to = rx.local_addr().unwrap();
        let mut buf = [0u8; 64];
        for (ttl, payload) in [(Some(TTL), &b"two-five-five"[..]), (Some(64), b"sixty-four"), (None, b"socket's own")] {
            tx.send(payload, to, SendOptions { ttl, ..SendOptions::default() }).unwrap();
            let got = receive(&mut rx, &mut buf);
            assert_eq!(&buf[..got.len], payload, "{ip}");
            assert_eq!(got.ttl, Some(ttl.unwrap_or(TTL)), "{ip}: {got:?}");
            assert_eq!(got.source, SocketAddr::new(ip, tx.local_addr().unwrap().port()), "{ip}");
            assert_eq!(got.local, Some(ip), "{ip}: {got:?}");
            assert!(got.ifindex.is_some_and(|i| i > 0), "{ip}: {got:?}");
            assert!(!got.truncated);
        }
    }
}

#[test]
fn the_receive_socket_gets_the_buffer_it_asks_for_as_far_as_the_kernel_allows() {
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    let default = RxSocket::bind_with_buffer(any, 0).unwrap().recv_buffer().unwrap();
    let want = 4 << 20;
    let granted = RxSocket::bind_with_buffer(any, want).unwrap().recv_buffer().unwrap();
    // SO_RCVBUFFORCE when privileged, else capped at rmem_max; the kernel reports double.
    let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap().trim().parse().unwrap();
    assert!(granted >= 2 * want.min(rmem_max), "granted {granted}, default {default}, rmem_max {rmem_max}");
    assert!(RxSocket::bind(any).unwrap().recv_buffer().unwrap() >= granted, "the default asks for 32 MiB");
}

#[test]
fn the_transmit_socket_uses_a_dynamic_port_ttl_255_and_cs6() {
    let v4 = TxSocket::bind(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 42).unwrap();
    let port = v4.local_addr().unwrap().port();
    assert!(source_port::RANGE.contains(&port), "{port}");
    let sock = socket2::SockRef::from(v4.socket());
    assert_eq!((sock.ttl_v4().unwrap(), sock.tos_v4().unwrap()), (u32::from(TTL), u32::from(TOS)));
    let pmtu = rustix::net::sockopt::ip_mtu_discover(v4.socket()).unwrap();
    assert_eq!(pmtu, rustix::net::sockopt::Ipv4PathMtuDiscovery::PROBE, "Don't Fragment, ID 0");
    let v6 = TxSocket::bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 42).unwrap();
    let sock = socket2::SockRef::from(v6.socket());
    assert_eq!((sock.unicast_hops_v6().unwrap(), sock.tclass_v6().unwrap()), (u32::from(TTL), u32::from(TOS)));
    assert!(sock.only_v6().unwrap());
}

#[test]
fn a_datagram_can_name_its_source_address() {
    // All of 127/8 is on loopback: send from 127.0.0.2 through a socket bound to the wildcard.
    let tx = TxSocket::bind(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 3).unwrap();
    let mut rx = RxSocket::bind(SocketAddr::new(V4, 0)).unwrap();
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let options = SendOptions { ttl: Some(TTL), source: Some(source), ifindex: None };
    tx.send(b"from .2", rx.local_addr().unwrap(), options).unwrap();
    let got = receive(&mut rx, &mut [0u8; 64]);
    assert_eq!(got.source, SocketAddr::new(source, tx.local_addr().unwrap().port()));
}

#[test]
fn an_oversized_datagram_is_marked_truncated() {
    let (tx, mut rx) = pair(V4, 5);
    tx.send(&[7u8; 100], rx.local_addr().unwrap(), SendOptions::default()).unwrap();
    let got = receive(&mut rx, &mut [0u8; 65]);
    assert_eq!((got.len, got.truncated), (65, true));
}

/// A port range of three in which nothing else binds (found by trying: the machine is shared).
fn free_range() -> u16 {
    for first in (50000..60000).step_by(97) {
        let ok = (first..first + 3).all(|p| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, p)).is_ok());
        if ok {
            return first;
        }
    }
    panic!("no free range of three ports");
}

#[test]
fn the_source_port_walk_skips_a_port_held_by_another_socket() {
    let first = free_range();
    let ports = first..=first + 2;
    let seed = 11;
    let begin = source_port::start(&ports, seed);
    let wildcard = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    // Unheld, the walk takes its first port.
    let tx = TxSocket::bind_in(wildcard, ports.clone(), seed).unwrap();
    assert_eq!(tx.local_addr().unwrap().port(), begin);
    drop(tx);
    // Held by another socket, it moves on to the next free one, wrapping at the end.
    let _held = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, begin)).unwrap();
    let tx = TxSocket::bind_in(wildcard, ports.clone(), seed).unwrap();
    let port = tx.local_addr().unwrap().port();
    assert!(ports.contains(&port) && port != begin, "{port} (held {begin})");
    let expected = if begin == first + 2 { first } else { begin + 1 };
    assert_eq!(port, expected);
    // Every port taken: an error, not a port outside the range.
    let _others: Vec<UdpSocket> = ports
        .clone()
        .filter(|p| *p != begin && *p != port)
        .map(|p| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, p)).unwrap())
        .collect();
    let err = TxSocket::bind_in(wildcard, ports, seed).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
}
