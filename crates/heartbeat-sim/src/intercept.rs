//! A hook on the wire: see, rewrite, drop or add frames. Later layers use it for
//! authentication (sign on send, verify on delivery) and adversaries (forge, replay, corrupt).

use heartbeat_proto::{Instant, LinkId, NodeId};

use crate::timeline::FrameId;

/// Where a frame is on the wire when the interceptor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// The frame.
    pub frame: FrameId,
    /// The sender; `None` for injected frames.
    pub from: Option<NodeId>,
    /// The destination.
    pub to: NodeId,
    /// The link.
    pub link: LinkId,
    /// Virtual time: when it is sent (`on_send`) or about to be delivered (`on_deliver`).
    pub now: Instant,
}

/// What to do with the frame after the interceptor saw (and maybe rewrote) it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Carry on with the (possibly rewritten) bytes.
    Pass,
    /// Drop it; the timeline records [`DropReason::Intercepted`](crate::DropReason::Intercepted).
    Drop,
}

/// Frames an interceptor wants delivered later, outside the normal flow (replays, forgeries).
#[derive(Debug, Default)]
pub struct Injector {
    pub(crate) queued: Vec<(Instant, NodeId, LinkId, Vec<u8>)>,
}

impl Injector {
    /// Delivers `bytes` to `to` on `link` at `at` (or now, if `at` has passed), with no
    /// impairment applied; the sender is recorded as `None`.
    pub fn inject(&mut self, at: Instant, to: NodeId, link: LinkId, bytes: Vec<u8>) {
        self.queued.push((at, to, link, bytes));
    }
}

/// Sees every frame twice: once when a node sends it (per destination and link, before the
/// network's impairments and partitions) and once just before delivery. Both default to
/// passing the frame unchanged.
///
/// An interceptor must be deterministic (seed its own randomness) for runs to repeat.
pub trait Interceptor {
    /// A node sent `bytes`; rewrite them in place, inject others, or drop.
    fn on_send(&mut self, info: &FrameInfo, bytes: &mut Vec<u8>, injector: &mut Injector) -> Verdict {
        let _ = (info, bytes, injector);
        Verdict::Pass
    }

    /// `bytes` is about to be handed to the receiver's `on_message`.
    fn on_deliver(&mut self, info: &FrameInfo, bytes: &mut Vec<u8>, injector: &mut Injector) -> Verdict {
        let _ = (info, bytes, injector);
        Verdict::Pass
    }
}

/// The default interceptor: passes everything unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl Interceptor for PassThrough {}
