//! Wire v1 as a profile of the liveness engine: the checks only v1 frames need (cluster,
//! addressee), then the frame's fields as an [`Observation`].

use super::Rejected;
use crate::config::Config;
use crate::engine::{Observation, ObservationKind};
use crate::wire::{Kind, Message};

/// Admits a parsed v1 message for this node and translates it. Reads only.
pub(super) fn observation(config: &Config, msg: &Message) -> Result<Observation, Rejected> {
    if msg.cluster != config.cluster {
        return Err(Rejected::WrongCluster(msg.cluster));
    }
    // Before the addressee check: a node's own looped-back frame is reported as such.
    if msg.sender == config.node {
        return Err(Rejected::FromSelf);
    }
    if let Some(receiver) = msg.receiver.filter(|r| *r != config.node) {
        return Err(Rejected::NotForUs(receiver));
    }
    let kind = match msg.kind {
        Kind::Heartbeat => ObservationKind::Heartbeat,
        Kind::Goodbye => ObservationKind::Goodbye,
    };
    Ok(Observation {
        peer: msg.sender,
        kind,
        generation: msg.generation,
        sequence: msg.sequence,
        sent_at: msg.timestamp,
        interval: msg.interval,
        requested_timeout: msg.requested_timeout,
        applied_timeout: msg.applied_timeout,
        hears_you: msg.hears_you,
        // Only an echo addressed to this node is this node's timestamp.
        echo: msg.echo.filter(|_| msg.receiver == Some(config.node)),
    })
}
