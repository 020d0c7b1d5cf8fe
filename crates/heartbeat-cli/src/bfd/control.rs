//! `heartbeat bfd`'s control socket: each connection is answered with every session's status
//! as one JSON object, then closed. `heartbeat bfd-status` is the client.

use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use heartbeat_proto::bfd::{Diag, SessionStatus, State};
use heartbeat_std::bfd::BfdStatus;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

use super::settings::PeerSettings;

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

/// The daemon's side: a listening socket at `path`, removed again when dropped.
pub(crate) struct Server {
    listener: UnixListener,
    path: PathBuf,
}

impl Server {
    /// Listens at `path`; a stale socket file is replaced, a live one is not, and anything that
    /// is not a socket is left alone (refused). Needs a tokio runtime entered.
    pub(crate) fn bind(path: &Path) -> io::Result<Server> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a socket"));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, "another daemon answers on it"));
            }
            std::fs::remove_file(path)?;
        }
        Ok(Server { listener: UnixListener::bind(path)?, path: path.to_path_buf() })
    }

    /// Accepts one connection and answers it with `report()`. Cancellation-safe: only the
    /// accept is awaited before the answer is written on a task of its own.
    pub(crate) async fn serve_one(&self, report: impl FnOnce() -> Option<BfdReport>) {
        let mut stream = match self.listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!(%err, "control socket: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                return;
            }
        };
        let Some(report) = report() else { return };
        let Ok(mut json) = serde_json::to_vec(&report) else { return };
        json.push(b'\n');
        tokio::spawn(async move {
            // A client that went away is its own business.
            let _ = stream.write_all(&json).await;
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The client's side: fetches a daemon's report (and its JSON text).
pub(crate) fn fetch(path: &Path) -> io::Result<(String, BfdReport)> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let report = serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((text, report))
}
