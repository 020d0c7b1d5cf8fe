//! Each profile's events as hooks see them: the one translation from a driver's event to a
//! [`HookEvent`] per profile.

use std::net::SocketAddr;
use std::time::Duration;

use heartbeat_proto::bfd::{BfdEvent, BfdEventKind, State};
use heartbeat_proto::{Event, EventKind};
use heartbeat_session::client::{ClientEvent, DisconnectReason, ExpiryReason};
use heartbeat_std::session::SessionEvent;

use super::event::{EventName, HookEvent, Profile, ms};
use crate::bfd::report::diag_name;

/// A wire v1 or Linux-HA peer event. `name`: the peer's name (Linux-HA's node name, which is
/// then also its identity); `timeout`: the node's configured timeout, the one in force unless
/// the event says otherwise.
pub(crate) fn node(event: &Event, profile: Profile, name: Option<&str>, timeout: Duration) -> Option<HookEvent> {
    let peer = match name {
        Some(name) => name.to_string(),
        None => event.peer.get().to_string(),
    };
    let at = event.at.since_epoch().as_secs_f64();
    let new = |name| HookEvent::new(name, profile, peer.clone(), at);
    let mut hook = match event.kind {
        EventKind::Up { generation } => HookEvent { generation: Some(generation.0.into()), ..new(EventName::Up) },
        EventKind::Suspect { last_heard } => {
            HookEvent { silence_ms: Some(ms(event.at - last_heard)), ..new(EventName::Suspect) }
        }
        EventKind::Down { last_heard: Some(last), deadline } => HookEvent {
            silence_ms: Some(ms(event.at - last)),
            late_ms: Some(ms(event.at - deadline)),
            reason: Some("timeout".into()),
            // The deadline was the last frame plus the timeout in force for this peer.
            timeout_ms: Some(ms(deadline - last)),
            ..new(EventName::Down)
        },
        EventKind::Down { last_heard: None, deadline } => HookEvent {
            late_ms: Some(ms(event.at - deadline)),
            reason: Some("never-heard".into()),
            ..new(EventName::Down)
        },
        EventKind::Restarted { previous, generation } => HookEvent {
            generation: Some(generation.0.into()),
            previous_generation: Some(previous.0.into()),
            reason: Some("higher-generation".into()),
            ..new(EventName::Restarted)
        },
        EventKind::Left => HookEvent { reason: Some("goodbye".into()), ..new(EventName::Left) },
        EventKind::LinkUp { link } => HookEvent { link: Some(link.0), ..new(EventName::LinkUp) },
        EventKind::LinkDown { link } => HookEvent { link: Some(link.0), ..new(EventName::LinkDown) },
        // A kind added to the library later than this binary knows of.
        _ => return None,
    };
    if hook.timeout_ms.is_none() {
        hook.timeout_ms = Some(ms(timeout));
    }
    Some(hook)
}

/// A BFD session's event; `peer` is the session's peer address as configured.
pub(crate) fn bfd(event: &BfdEvent, peer: &str) -> Option<HookEvent> {
    let at = event.at.since_epoch().as_secs_f64();
    let new = |name| HookEvent::new(name, Profile::Bfd, peer, at);
    Some(match event.kind {
        BfdEventKind::StateChanged { to, diag, .. } => {
            let name = match to {
                State::Up => EventName::Up,
                State::Down => EventName::Down,
                State::Init => EventName::Init,
                State::AdminDown => EventName::AdminDown,
            };
            HookEvent { reason: Some(diag_name(diag)), ..new(name) }
        }
        BfdEventKind::PeerAdminDown => new(EventName::PeerAdminDown),
        BfdEventKind::TimingChanged { detection_time, .. } => {
            HookEvent { timeout_ms: detection_time.map(ms), ..new(EventName::TimingChanged) }
        }
        _ => return None,
    })
}

/// A `zk-server` session's event; the peer is the session id.
pub(crate) fn zk_server(event: &SessionEvent) -> Option<HookEvent> {
    let hex = |id: heartbeat_session::server::SessionId| format!("0x{:x}", id.0 as u64);
    let late_ms = event.lateness().map(ms);
    let with_client = |mut hook: HookEvent, client: &Option<SocketAddr>| {
        if let Some(client) = client {
            hook.peer_name = client.to_string();
        }
        hook
    };
    let new = |name, session, at: heartbeat_proto::Instant| {
        HookEvent::new(name, Profile::ZkServer, hex(session), at.since_epoch().as_secs_f64())
    };
    Some(match event {
        SessionEvent::Created { session, timeout, peer, at } => with_client(
            HookEvent { timeout_ms: Some(ms(*timeout)), ..new(EventName::SessionCreated, *session, *at) },
            peer,
        ),
        SessionEvent::Resumed { session, timeout, peer, at } => with_client(
            HookEvent { timeout_ms: Some(ms(*timeout)), ..new(EventName::SessionResumed, *session, *at) },
            peer,
        ),
        SessionEvent::Closed { session, at } => {
            HookEvent { reason: Some("closed-by-client".into()), ..new(EventName::SessionClosed, *session, *at) }
        }
        SessionEvent::Expired { session, timeout, last_heard, at } => HookEvent {
            timeout_ms: Some(ms(*timeout)),
            silence_ms: Some(ms(at.saturating_duration_since(*last_heard))),
            late_ms,
            reason: Some("timeout".into()),
            ..new(EventName::SessionExpired, *session, *at)
        },
        _ => return None,
    })
}

/// A `zk-client` event. The client holds one session, so every event has the same peer
/// (`session`), which keeps them in order; `peer_name` is the server's address where known.
/// `at`: seconds on the client's clock.
pub(crate) fn zk_client(event: &ClientEvent, servers: &[SocketAddr], at: f64) -> Option<HookEvent> {
    let new = |name, server: Option<usize>| {
        let mut hook = HookEvent::new(name, Profile::ZkClient, "session", at);
        if let Some(addr) = server.and_then(|i| servers.get(i)) {
            hook.peer_name = addr.to_string();
        }
        hook
    };
    Some(match event {
        ClientEvent::Connected { server, session, timeout } => HookEvent {
            timeout_ms: Some(ms(*timeout)),
            reason: Some(format!("session 0x{:x}", *session as u64)),
            ..new(EventName::Connected, Some(*server))
        },
        ClientEvent::Disconnected { server, reason } => {
            let reason = match reason {
                DisconnectReason::ConnectTimeout => "connect-timeout",
                DisconnectReason::ReadTimeout => "read-timeout",
                DisconnectReason::Closed => "closed",
                DisconnectReason::BadInput => "bad-input",
                _ => "other",
            };
            HookEvent { reason: Some(reason.into()), ..new(EventName::Disconnected, Some(*server)) }
        }
        ClientEvent::Resumed { server, timeout } => {
            HookEvent { timeout_ms: Some(ms(*timeout)), ..new(EventName::SessionResumed, Some(*server)) }
        }
        ClientEvent::Expired { reason } => {
            let reason = match reason {
                ExpiryReason::ToldByServer => "told-by-server",
                ExpiryReason::Timeout => "timeout",
                _ => "other",
            };
            HookEvent { reason: Some(reason.into()), ..new(EventName::SessionExpired, None) }
        }
        ClientEvent::Closed => new(EventName::SessionClosed, None),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use heartbeat_proto::{Generation, Instant, LinkId, NodeId};

    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn a_down_carries_its_silence_timeout_and_lateness() {
        let event = Event {
            peer: NodeId::new(2).unwrap(),
            at: at(1_302),
            kind: EventKind::Down { last_heard: Some(at(1_000)), deadline: at(1_300) },
        };
        let hook = node(&event, Profile::Run, None, Duration::from_secs(9)).unwrap();
        assert_eq!((hook.event, hook.peer.as_str(), hook.peer_name.as_str()), (EventName::Down, "2", "2"));
        assert_eq!((hook.silence_ms, hook.timeout_ms, hook.late_ms), (Some(302.0), Some(300.0), Some(2.0)));
        assert_eq!(hook.reason.as_deref(), Some("timeout"));
        assert_eq!(hook.at, 1.302);
        let restarted =
            Event { kind: EventKind::Restarted { previous: Generation(4), generation: Generation(5) }, ..event };
        let hook = node(&restarted, Profile::LinuxHa, Some("hbnode1"), Duration::from_secs(2)).unwrap();
        assert_eq!((hook.peer.as_str(), hook.generation, hook.previous_generation), ("hbnode1", Some(5), Some(4)));
        assert_eq!(hook.timeout_ms, Some(2000.0));
        let link = Event { kind: EventKind::LinkDown { link: LinkId(1) }, ..event };
        assert_eq!(node(&link, Profile::Run, None, Duration::from_secs(1)).unwrap().link, Some(1));
    }
}
