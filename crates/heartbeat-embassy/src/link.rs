//! An in-memory point-to-point link (feature `link`): two [`embassy_net_driver::Driver`] ends
//! joined back to back, so that two embassy-net stacks can talk inside one program — host
//! tests, simulations, or firmware that runs two nodes on one chip under QEMU.
//!
//! The link carries IP packets (the stacks use `medium-ip`: no link layer, no ARP). Each
//! direction is a queue of `DEPTH` packets of at most `MTU` bytes; a packet sent while its
//! queue is full is lost, as on a real wire. The link is always up.
//!
//! ```
//! use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
//! use heartbeat_embassy::link::Link;
//!
//! // A `static` in firmware; the ends borrow it.
//! static LINK: Link<CriticalSectionRawMutex, 256, 4> = Link::new();
//! let (a, b) = LINK.ends();
//! // embassy_net::new(a, config_a, resources_a, seed_a), and likewise with b.
//! # let _ = (a, b);
//! ```

use core::task::{Context, Poll};

use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::channel::Channel;

/// One packet in flight.
type Packet<const MTU: usize> = heapless::Vec<u8, MTU>;

/// The two queues of a link, one per direction. Hand out its ends with [`ends`](Self::ends).
pub struct Link<M: RawMutex, const MTU: usize, const DEPTH: usize> {
    a_to_b: Channel<M, Packet<MTU>, DEPTH>,
    b_to_a: Channel<M, Packet<MTU>, DEPTH>,
}

impl<M: RawMutex, const MTU: usize, const DEPTH: usize> Link<M, MTU, DEPTH> {
    /// An idle link.
    pub const fn new() -> Self {
        Link { a_to_b: Channel::new(), b_to_a: Channel::new() }
    }

    /// The two ends, each a driver for one stack. Take them once: ends taken twice would
    /// share, and split, the same queues.
    pub fn ends(&self) -> (End<'_, M, MTU, DEPTH>, End<'_, M, MTU, DEPTH>) {
        (End { rx: &self.b_to_a, tx: &self.a_to_b }, End { rx: &self.a_to_b, tx: &self.b_to_a })
    }
}

impl<M: RawMutex, const MTU: usize, const DEPTH: usize> Default for Link<M, MTU, DEPTH> {
    fn default() -> Self {
        Self::new()
    }
}

/// One end of a [`Link`]: the driver of one stack.
pub struct End<'a, M: RawMutex, const MTU: usize, const DEPTH: usize> {
    rx: &'a Channel<M, Packet<MTU>, DEPTH>,
    tx: &'a Channel<M, Packet<MTU>, DEPTH>,
}

/// A received packet, handed to the stack.
pub struct RxToken<const MTU: usize> {
    packet: Packet<MTU>,
}

/// Room to send one packet.
pub struct TxToken<'a, M: RawMutex, const MTU: usize, const DEPTH: usize> {
    tx: &'a Channel<M, Packet<MTU>, DEPTH>,
}

impl<M: RawMutex, const MTU: usize, const DEPTH: usize> Driver for End<'_, M, MTU, DEPTH> {
    type RxToken<'a>
        = RxToken<MTU>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, M, MTU, DEPTH>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        // The stack may answer a packet at once, so hand one over only with room to reply.
        if self.tx.poll_ready_to_send(cx).is_pending() {
            return None;
        }
        match self.rx.poll_receive(cx) {
            Poll::Ready(packet) => Some((RxToken { packet }, TxToken { tx: self.tx })),
            Poll::Pending => None,
        }
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<Self::TxToken<'_>> {
        self.tx.poll_ready_to_send(cx).is_ready().then_some(TxToken { tx: self.tx })
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(DEPTH);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ip
    }
}

impl<const MTU: usize> embassy_net_driver::RxToken for RxToken<MTU> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.packet)
    }
}

impl<M: RawMutex, const MTU: usize, const DEPTH: usize> embassy_net_driver::TxToken for TxToken<'_, M, MTU, DEPTH> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = Packet::<MTU>::new();
        // The stack never asks for more than the MTU announced in `capabilities`.
        let _ = packet.resize(len.min(MTU), 0);
        let result = f(&mut packet);
        // Room was checked when the token was made; should the queue have filled since, the
        // packet is lost, as on a wire.
        let _ = self.tx.try_send(packet);
        result
    }
}
