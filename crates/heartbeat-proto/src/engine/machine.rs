//! [`Machine`]: what every profile's sans-IO state machine offers a driver, so that one driver
//! runs any of them.

use core::fmt;

use super::{BufferTooSmall, RecvMeta, SendMeta};
use crate::bfd::BfdHost;
use crate::detector::Detector;
use crate::node::Node;
use crate::storage::Storage;
use crate::time::Instant;
use crate::{Transmit, bfd, monitor};

/// A wire profile's state machine as a driver sees it: datagrams and time in, datagrams,
/// events and the next deadline out. Wire v1's [`Node`] and BFD's [`BfdHost`] implement it by
/// forwarding to their own methods, which stay the reference for what each call does.
///
/// # Driving rules
///
/// - **Time rule.** `now` is always an argument and never goes backwards for the machine (an
///   earlier `now` is treated as the latest one seen). Call [`tick`](Self::tick) when
///   [`poll_timeout`](Self::poll_timeout) is reached, and after every wake-up.
/// - **Drain rule.** After every input ([`on_message`](Self::on_message), [`tick`](Self::tick)
///   or a command of the profile's own), take [`poll_transmit`](Self::poll_transmit) until it
///   returns `None`, sending each datagram to every [`targets`](Self::targets) of its
///   transmit, and [`poll_event`](Self::poll_event) until it returns `None`, before waiting
///   again. While output waits, `poll_timeout` is the latest `now`: a driver that forgets to
///   drain does not sleep.
/// - **Buffers.** A buffer of [`MAX_DATAGRAM`](Self::MAX_DATAGRAM) bytes always takes the next
///   datagram; a shorter one may get [`BufferTooSmall`], nothing written, the datagram still
///   queued. A receive buffer one byte longer keeps an oversized datagram recognisable: the
///   machine refuses it.
/// - **Refusals.** A refused datagram changes nothing but counters.
///
/// # Example: one loop for every profile
///
/// ```
/// use heartbeat_proto::engine::{Machine, SendMeta};
/// use heartbeat_proto::{Authentication, ClusterId, Config, FixedTimeout, Growable, Instant, Node, NodeId};
///
/// /// Lets time pass and collects what the machine sends, whatever its profile.
/// fn step<M: Machine>(machine: &mut M, now: Instant) -> Vec<SendMeta> {
///     machine.tick(now);
///     let mut buf = vec![0; M::MAX_DATAGRAM];
///     let mut sent = Vec::new();
///     while let Some(Ok(transmit)) = machine.poll_transmit(&mut buf) {
///         sent.extend(machine.targets(&transmit));
///     }
///     while machine.poll_event().is_some() {}
///     sent
/// }
///
/// let id = |n| NodeId::new(n).unwrap();
/// let config = Config::builder(ClusterId(1), id(1)).authentication(Authentication::None).build()?;
/// let mut node: Node<FixedTimeout, Growable> = Node::new(config, FixedTimeout::new(), Instant::ZERO);
/// node.add_peer_at(id(2), &["192.0.2.2:7000".parse()?])?;
/// let sent = step(&mut node, Instant::ZERO);
/// assert_eq!(sent.len(), 1);
/// assert_eq!(sent[0].destination, "192.0.2.2:7000".parse()?);
/// assert!(node.poll_timeout() > Some(Instant::ZERO), "the next round is later");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Machine {
    /// Describes one datagram written by [`poll_transmit`](Self::poll_transmit).
    type Transmit: Copy;
    /// What the machine reports.
    type Event;
    /// Why a datagram was refused.
    type Rejected: fmt::Debug;
    /// What an accepted datagram did.
    type Accepted;

    /// The largest datagram the machine sends or accepts, in bytes.
    const MAX_DATAGRAM: usize;

    /// Handles one datagram that arrived at `now` as `meta` says. A refusal changes nothing but
    /// counters.
    fn on_message(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<Self::Accepted, Self::Rejected>;

    /// Lets time pass up to `now`: fires every due deadline.
    fn tick(&mut self, now: Instant);

    /// Writes the next datagram into `buf`; `None` when nothing waits.
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Self::Transmit, BufferTooSmall>>;

    /// Where the datagram `transmit` describes goes: one item per copy to send. No item: it
    /// has nowhere to go.
    fn targets(&self, transmit: &Self::Transmit) -> impl Iterator<Item = SendMeta> + '_;

    /// The next event, oldest first.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When to call [`tick`](Self::tick) next (the latest `now` while output waits).
    fn poll_timeout(&self) -> Option<Instant>;
}

impl<D: Detector, S: Storage> Machine for Node<D, S> {
    type Transmit = Transmit;
    type Event = crate::Event;
    type Rejected = monitor::Rejected;
    type Accepted = monitor::Accepted;

    const MAX_DATAGRAM: usize = crate::MAX_FRAME_LEN;

    fn on_message(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<Self::Accepted, Self::Rejected> {
        Node::on_message(self, now, meta, bytes)
    }

    fn tick(&mut self, now: Instant) {
        Node::tick(self, now);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, BufferTooSmall>> {
        Node::poll_transmit(self, buf)
    }

    fn targets(&self, transmit: &Transmit) -> impl Iterator<Item = SendMeta> + '_ {
        Node::targets(self, *transmit)
    }

    fn poll_event(&mut self) -> Option<crate::Event> {
        Node::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Node::poll_timeout(self)
    }
}

impl<S: Storage> Machine for BfdHost<S> {
    /// The session a packet is for, and where it goes.
    type Transmit = (super::SessionHandle, SendMeta);
    type Event = bfd::BfdEvent;
    type Rejected = bfd::Rejected;
    type Accepted = bfd::Accepted;

    const MAX_DATAGRAM: usize = bfd::packet::MAX_PACKET_LEN;

    fn on_message(&mut self, now: Instant, meta: RecvMeta, bytes: &[u8]) -> Result<Self::Accepted, Self::Rejected> {
        BfdHost::on_message(self, now, &meta, bytes)
    }

    fn tick(&mut self, now: Instant) {
        BfdHost::tick(self, now);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Self::Transmit, BufferTooSmall>> {
        BfdHost::poll_transmit(self, buf)
    }

    fn targets(&self, transmit: &Self::Transmit) -> impl Iterator<Item = SendMeta> + '_ {
        core::iter::once(transmit.1)
    }

    fn poll_event(&mut self) -> Option<bfd::BfdEvent> {
        BfdHost::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        BfdHost::poll_timeout(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bfd::SessionConfig;
    use crate::{Fixed, LinkId};

    fn drained<M: Machine>(machine: &mut M, now: Instant) -> (usize, usize) {
        machine.tick(now);
        let mut buf = [0u8; 128];
        let mut sent = 0;
        while let Some(Ok(transmit)) = machine.poll_transmit(&mut buf[..M::MAX_DATAGRAM]) {
            sent += machine.targets(&transmit).count();
        }
        let mut events = 0;
        while machine.poll_event().is_some() {
            events += 1;
        }
        (sent, events)
    }

    #[test]
    fn a_bfd_host_driven_as_a_machine_sends_to_its_peer_and_then_waits() {
        let mut host: BfdHost<Fixed<2>> = BfdHost::new(7, Instant::ZERO);
        let peer = "192.0.2.9".parse().unwrap();
        host.add_session(SessionConfig::new(peer, LinkId(0))).unwrap();
        let (sent, _) = drained(&mut host, Instant::ZERO);
        assert_eq!(sent, 1);
        let next = Machine::poll_timeout(&host).unwrap();
        assert!(next > Instant::ZERO, "after a drain the next deadline is later");
        assert_eq!(drained(&mut host, Instant::ZERO).0, 0, "nothing more before it");
        let mut tiny = [0u8; 4];
        host.tick(next);
        assert!(matches!(Machine::poll_transmit(&mut host, &mut tiny), Some(Err(BufferTooSmall { .. }))));
    }
}
