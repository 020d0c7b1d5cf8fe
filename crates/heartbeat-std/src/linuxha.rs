//! Linux-HA Heartbeat 3.0.6 over a real socket: the core's
//! [`LinuxHaNode`] on the shared [`BlockingDriver`],
//! with one UDP socket on `udpport` and nothing of its own but that socket.
//!
//! The socket receives every node's heartbeats and sends ours to the destinations the core
//! read from `ha.cf` (`ucast` addresses, an `mcast` group, the `bcast` address). Receive,
//! flush, timers, thread and commands are the profile-neutral [`DriverCore`],
//! [`BlockingDriver`] and [`Worker`]'s; every decision (authentication, liveness, what to send
//! and when) is the core's.
//!
//! ```no_run
//! use heartbeat_proto::linuxha::{HaCf, LinuxHaNode, parse_authkeys};
//! use heartbeat_proto::{FixedTimeout, Generation};
//! use heartbeat_std::Clock;
//! use heartbeat_std::linuxha::LinuxHaDriver;
//!
//! let cf = HaCf::parse("keepalive 500ms\ndeadtime 2\nucast eth0 198.18.0.1\nnode hbnode1 hbnode2\n")?;
//! let keys = parse_authkeys("auth 1\n1 sha1 lha-test-secret\n")?;
//! let clock = Clock::new();
//! let node = LinuxHaNode::new(&cf, "hbnode2", keys, Generation(1), FixedTimeout::new(), clock.now(), 0x6b07_6859)?;
//! let driver = LinuxHaDriver::bind(node, cf.udpport, clock)?;
//! let running = driver.spawn(|event| println!("{event:?}"))?;
//! // ... later: our shutdown notice, then stop.
//! running.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::BorrowedFd;
use std::time::Duration;

use heartbeat_proto::linuxha::{LinuxHaNode, WireStats};
use heartbeat_proto::{Event, FixedTimeout, Growable, Instant, PeerStatus};

use crate::blocking::BlockingDriver;
use crate::clock::Clock;
use crate::driver_core::{DriverCore, LinkSockets};
use crate::io_stats::IoStats;
use crate::thread::{Serve, Stopped, Worker};

/// The node the driver runs.
pub type Machine = LinuxHaNode<FixedTimeout, Growable>;

/// Receives the other nodes' resource announcements (node name, text) on the driver's thread,
/// right after the events of the same turn.
pub type OnAnnouncement = Box<dyn FnMut(&str, &str) + Send>;

/// Drives a [`LinuxHaNode`] over one UDP socket, on the calling thread or its own
/// ([`spawn`](Self::spawn)).
pub struct LinuxHaDriver {
    inner: BlockingDriver<Machine, LinkSockets<UdpSocket>>,
    on_announcement: Option<OnAnnouncement>,
}

/// The node's view and the socket counters, as of `now`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinuxHaStatus {
    /// When it was taken.
    pub now: Instant,
    /// Every other node: its name and status.
    pub peers: Vec<(String, PeerStatus)>,
    /// Datagrams refused for a wrong key or a bad digest.
    pub unauthentic: u64,
    /// Authentic datagrams refused as replays: a lower generation than the sender's, or a
    /// sequence number already had or too old (status messages and other sequenced ones).
    pub replays_refused: u64,
    /// Datagrams refused for any other reason (replays included).
    pub other_refused: u64,
    /// Retransmission, ack and `repnodes` counters.
    pub wire: WireStats,
    /// Heartbeats of ours sent (the last sequence number).
    pub sent_sequence: u64,
    /// Socket counters.
    pub io: IoStats,
}

impl LinuxHaDriver {
    /// Runs `node` on `socket` (switched to non-blocking, broadcast allowed for `bcast`).
    pub fn new(node: Machine, socket: UdpSocket, clock: Clock) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        socket.set_broadcast(true)?;
        let core = DriverCore::with_machine(node, LinkSockets(vec![socket]), clock);
        Ok(LinuxHaDriver { inner: BlockingDriver::new(core), on_announcement: None })
    }

    /// Runs `node` on a socket bound to `udpport` on every local IPv4 address.
    pub fn bind(node: Machine, udpport: u16, clock: Clock) -> io::Result<Self> {
        Self::new(node, UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, udpport)))?, clock)
    }

    fn core(&self) -> &DriverCore<Machine, LinkSockets<UdpSocket>> {
        self.inner.core()
    }

    /// The node, for read access.
    pub fn node(&self) -> &Machine {
        self.core().machine()
    }

    /// The clock that dates events.
    pub fn clock(&self) -> Clock {
        self.core().clock()
    }

    /// The socket's local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.core().sockets().as_slice()[0].local_addr()
    }

    /// The node's view and the counters.
    pub fn status(&self) -> LinuxHaStatus {
        let node = self.node();
        let stats = node.profile_stats();
        let monitor = node.monitor().stats();
        let wire = *node.wire_stats();
        LinuxHaStatus {
            replays_refused: monitor.rejected_stale_generation
                + monitor.rejected_duplicate
                + monitor.rejected_replay
                + wire.refused_stale_generation
                + wire.refused_duplicate
                + wire.refused_old,
            wire,
            now: self.clock().now(),
            peers: node.peers().map(|p| (node.name(p.id).unwrap_or("?").to_string(), p)).collect(),
            unauthentic: stats.unauthentic,
            other_refused: stats.malformed
                + stats.bad_fields
                + stats.unknown_node
                + stats.bad_generation
                + stats.not_for_us
                + monitor.rejected()
                + wire.refused_stale_generation
                + wire.refused_duplicate
                + wire.refused_old,
            sent_sequence: node.last_sequence(),
            io: self.core().io_stats(),
        }
    }

    /// Hands every announcement heard (see [`LinuxHaNode::poll_announcement`]) to
    /// `on_announcement`, after the events of the turn that received it.
    pub fn with_announcements(mut self, on_announcement: impl FnMut(&str, &str) + Send + 'static) -> Self {
        self.on_announcement = Some(Box::new(on_announcement));
        self
    }

    /// Sets our announcement (see [`LinuxHaNode::announce`]) and sends it now. Returns
    /// whether it was accepted.
    pub fn announce(&mut self, text: &str, on_event: &mut impl FnMut(Event)) -> bool {
        let core = self.inner.core_mut();
        let accepted = core.machine_mut().announce(text);
        core.flush(on_event);
        accepted
    }

    fn deliver_announcements(&mut self) {
        let Some(deliver) = self.on_announcement.as_mut() else { return };
        let node = self.inner.core_mut().machine_mut();
        while let Some((peer, text)) = node.poll_announcement() {
            deliver(node.name(peer).unwrap_or("?"), &text);
        }
    }

    /// One turn of the loop (see [`BlockingDriver::turn`]).
    pub fn turn(&mut self, max_wait: Option<Duration>, on_event: &mut impl FnMut(Event)) {
        self.inner.turn(max_wait, on_event);
        self.deliver_announcements();
    }

    /// Turns until `stop` returns true. Returns without the shutdown notice: call
    /// [`leave`](Self::leave).
    pub fn run(&mut self, on_event: &mut impl FnMut(Event), stop: impl FnMut() -> bool) {
        self.inner.run(on_event, stop);
    }

    /// Sends our shutdown notice (`t=shutdone`) now; peers report us gone at once.
    pub fn leave(&mut self, on_event: &mut impl FnMut(Event)) {
        let core = self.inner.core_mut();
        let now = core.clock().now();
        core.machine_mut().leave(now);
        core.flush(on_event);
    }

    /// Runs the driver on a new thread, handing every event to `on_event` there.
    pub fn spawn(self, on_event: impl FnMut(Event) + Send + 'static) -> io::Result<LinuxHaHandle> {
        Ok(LinuxHaHandle { worker: Worker::spawn(self, "heartbeat-linuxha".into(), on_event)? })
    }
}

impl Serve for LinuxHaDriver {
    type Event = Event;

    fn turn_waking(&mut self, waker: BorrowedFd<'_>, on_event: &mut impl FnMut(Event)) -> bool {
        let woken = self.inner.turn_with(None, Some(waker), on_event);
        self.deliver_announcements();
        woken
    }

    fn farewell(&mut self, on_event: &mut impl FnMut(Event)) {
        self.leave(on_event);
    }

    fn clock(&self) -> Clock {
        LinuxHaDriver::clock(self)
    }
}

/// Controls a [`LinuxHaDriver`] on its own thread. Dropping it stops the node gracefully, like
/// [`shutdown`](Self::shutdown).
#[must_use = "dropping the handle stops the node"]
pub struct LinuxHaHandle {
    worker: Worker<LinuxHaDriver>,
}

impl LinuxHaHandle {
    /// The node's view and the counters, as of now.
    pub fn status(&self) -> Result<LinuxHaStatus, Stopped> {
        self.worker.run(|driver| driver.status())
    }

    /// The clock that dates events.
    pub fn clock(&self) -> Clock {
        self.worker.clock()
    }

    /// Sets our resource announcement and sends it at once (see [`LinuxHaNode::announce`]);
    /// returns without waiting for the driver's thread.
    pub fn announce(&self, text: String) -> Result<(), Stopped> {
        self.worker.post(move |driver| {
            let core = driver.inner.core_mut();
            core.machine_mut().announce(&text);
        })
    }

    /// Sends our shutdown notice, then stops the thread and closes the socket.
    pub fn shutdown(mut self) {
        self.worker.stop(true);
    }

    /// Stops at once, as a crash would: peers declare us dead after their deadtime.
    pub fn abort(mut self) {
        self.worker.stop(false);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use heartbeat_proto::linuxha::{HaCf, parse_authkeys};
    use heartbeat_proto::{EventKind, Generation};

    use super::*;

    fn driver(me: &str, cf: &str, socket: UdpSocket, clock: Clock) -> LinuxHaDriver {
        let cf = HaCf::parse(cf).unwrap();
        let keys = parse_authkeys("auth 1\n1 sha1 lha-test-secret\n").unwrap();
        let node = LinuxHaNode::new(&cf, me, keys, Generation(9), FixedTimeout::new(), clock.now(), 0x6b07_0000);
        LinuxHaDriver::new(node.unwrap(), socket, clock).unwrap()
    }

    #[test]
    fn two_nodes_on_loopback_see_each_other_and_a_shutdown_notice_is_a_leave() {
        let clock = Clock::new();
        let (sa, sb) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
        let (pa, pb) = (sa.local_addr().unwrap().port(), sb.local_addr().unwrap().port());
        // Each node's udpport is the other's socket: its one ucast destination on loopback.
        let cf = |port| {
            format!("udpport {port}\nkeepalive 50ms\ndeadtime 300ms\ninitdead 1\nucast lo 127.0.0.1\nnode a b\n")
        };
        let a = driver("a", &cf(pb), sa, clock);
        let b = driver("b", &cf(pa), sb, clock);
        let (tx, rx) = mpsc::channel();
        let a = a
            .spawn(move |e| {
                let _ = tx.send(e);
            })
            .unwrap();
        let b = b.spawn(|_| {}).unwrap();
        let up = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(up.kind, EventKind::Up { generation: Generation(9) });
        let status = a.status().unwrap();
        assert_eq!(status.peers[0].0, "b");
        assert!(status.sent_sequence > 0);
        b.shutdown();
        let left = loop {
            let e = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            if !matches!(e.kind, EventKind::Suspect { .. }) {
                break e;
            }
        };
        assert_eq!(left.kind, EventKind::Left);
        a.abort();
    }

    #[test]
    fn an_announcement_reaches_the_other_node() {
        let clock = Clock::new();
        let (sa, sb) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
        let (pa, pb) = (sa.local_addr().unwrap().port(), sb.local_addr().unwrap().port());
        let cf = |port| format!("udpport {port}\nkeepalive 1s\ndeadtime 3s\nucast lo 127.0.0.1\nnode a b\n");
        let (tx, rx) = mpsc::channel();
        let a = driver("a", &cf(pb), sa, clock).with_announcements(move |from, text| {
            let _ = tx.send((from.to_string(), text.to_string()));
        });
        let a = a.spawn(|_| {}).unwrap();
        let b = driver("b", &cf(pa), sb, clock).spawn(|_| {}).unwrap();
        b.announce("900000001 ip=h".into()).unwrap();
        // Sent at once: well before the next keepalive.
        let heard = rx.recv_timeout(Duration::from_millis(500)).unwrap();
        assert_eq!(heard, ("b".to_string(), "900000001 ip=h".to_string()));
        a.abort();
        b.abort();
    }
}
