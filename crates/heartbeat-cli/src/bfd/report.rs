//! `heartbeat bfd`'s status report: every session's status as its control socket answers it,
//! and the table `heartbeat bfd-status` prints of it.

use std::fmt::Write as _;
use std::time::Duration;

use heartbeat_proto::bfd::{Diag, SessionStatus, State};
use heartbeat_std::bfd::BfdStatus;
use serde::{Deserialize, Serialize};

use super::settings::PeerSettings;
use crate::duration;

/// Every session's status as it travels over the control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BfdReport {
    pub(crate) sessions: Vec<SessionReport>,
    pub(crate) datagrams_sent: u64,
    pub(crate) datagrams_received: u64,
    pub(crate) socket_errors: u64,
}

/// One session's line of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionReport {
    pub(crate) peer: String,
    pub(crate) interface: Option<String>,
    pub(crate) local: Option<String>,
    pub(crate) multihop: bool,
    pub(crate) state: String,
    pub(crate) remote_state: String,
    pub(crate) local_diag: String,
    pub(crate) remote_diag: String,
    pub(crate) local_discriminator: u32,
    pub(crate) remote_discriminator: u32,
    /// The negotiated transmit interval; `None` while nothing is sent periodically.
    pub(crate) tx_interval_ms: Option<f64>,
    /// The detection time in force; `None` until the peer has been heard.
    pub(crate) detection_time_ms: Option<f64>,
    /// Milliseconds since the last accepted packet; `None` if never.
    pub(crate) last_received_ms: Option<f64>,
    pub(crate) packets_received: u64,
    pub(crate) packets_sent: u64,
    pub(crate) packets_rejected: u64,
}

/// A state as logs and reports spell it.
pub(crate) fn state_name(state: State) -> &'static str {
    match state {
        State::AdminDown => "admin-down",
        State::Down => "down",
        State::Init => "init",
        State::Up => "up",
    }
}

/// A diagnostic as logs and reports spell it: `control-detection-time-expired`, or
/// `diag-N` for a reserved code.
pub(crate) fn diag_name(diag: Diag) -> String {
    match diag.name() {
        Some(name) => name.to_ascii_lowercase().replace(' ', "-"),
        None => format!("diag-{}", diag.0),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl SessionReport {
    pub(crate) fn new(peer: &PeerSettings, s: &SessionStatus, now: heartbeat_proto::Instant) -> Self {
        SessionReport {
            peer: peer.addr.to_string(),
            interface: peer.interface.clone(),
            local: peer.local.map(|l| l.to_string()),
            multihop: peer.multihop.is_some(),
            state: state_name(s.state).into(),
            remote_state: state_name(s.remote_state).into(),
            local_diag: diag_name(s.local_diag),
            remote_diag: diag_name(s.remote_diag),
            local_discriminator: s.local_discriminator,
            remote_discriminator: s.remote_discriminator,
            tx_interval_ms: s.tx_interval.map(ms),
            detection_time_ms: s.detection_time.map(ms),
            last_received_ms: s.last_received.map(|t| ms(now.saturating_duration_since(t))),
            packets_received: s.stats.received,
            packets_sent: s.stats.transmitted,
            packets_rejected: s.stats.rejected.total(),
        }
    }
}

impl BfdReport {
    /// The report of `status`, whose sessions are matched to `peers` by handle.
    pub(crate) fn new(status: &BfdStatus, peers: &[(heartbeat_proto::engine::SessionHandle, PeerSettings)]) -> Self {
        let sessions = status
            .sessions
            .iter()
            .filter_map(|(handle, s)| {
                let (_, peer) = peers.iter().find(|(h, _)| h == handle)?;
                Some(SessionReport::new(peer, s, status.now))
            })
            .collect();
        BfdReport {
            sessions,
            datagrams_sent: status.io.sent,
            datagrams_received: status.io.received,
            socket_errors: status.io.send_errors + status.io.recv_errors,
        }
    }
}

fn show_ms(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| duration::show(Duration::from_secs_f64(v.max(0.0) / 1e3)))
}

/// The report as a table a person can read.
pub(crate) fn table(r: &BfdReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<10} {:<10} {:<32} {:<32} {:>10} {:>10} {:>8} {:>8}",
        "PEER", "STATE", "REMOTE", "LOCAL DIAG", "REMOTE DIAG", "LOCAL DISC", "REMOTE DISC", "TX", "DETECT"
    );
    for s in &r.sessions {
        let _ = writeln!(out, "{}", row(s));
    }
    let _ = writeln!(
        out,
        "datagrams sent {}, received {}; socket errors {}",
        r.datagrams_sent, r.datagrams_received, r.socket_errors
    );
    out
}

fn row(s: &SessionReport) -> String {
    let mut peer = s.peer.clone();
    if let Some(iface) = &s.interface {
        peer = format!("{peer}%{iface}");
    }
    if s.multihop {
        peer.push_str(" (multihop)");
    }
    format!(
        "{:<28} {:<10} {:<10} {:<32} {:<32} {:>10} {:>10} {:>8} {:>8}",
        peer,
        s.state,
        s.remote_state,
        s.local_diag,
        s.remote_diag,
        s.local_discriminator,
        s.remote_discriminator,
        show_ms(s.tx_interval_ms),
        show_ms(s.detection_time_ms)
    )
}
