//! The control socket: a running node answers each connection with its status as one JSON
//! object and closes it. `heartbeat status` is the client.

use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use heartbeat_proto::{Liveness, PeerStatus};
use heartbeat_tokio::{Handle, Status};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

/// A node's status as it travels over the control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusReport {
    pub(crate) node: u64,
    pub(crate) cluster: u32,
    pub(crate) generation: u32,
    pub(crate) interval_ms: f64,
    pub(crate) timeout_ms: f64,
    pub(crate) links: u8,
    pub(crate) leaving: bool,
    pub(crate) peers: Vec<PeerReport>,
    pub(crate) datagrams_sent: u64,
    pub(crate) datagrams_received: u64,
    pub(crate) frames_rejected: u64,
    pub(crate) socket_errors: u64,
}

/// One peer's line of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PeerReport {
    pub(crate) id: u64,
    pub(crate) state: String,
    /// Seconds since it entered that state.
    pub(crate) since_s: f64,
    /// Milliseconds since it was last heard; `None` if never.
    pub(crate) last_heard_ms: Option<f64>,
    pub(crate) loss_percent: f64,
    pub(crate) rtt_ms: Option<f64>,
    /// The timeout in force for it, after negotiation.
    pub(crate) timeout_ms: f64,
    pub(crate) generation: Option<u32>,
    pub(crate) hears_us: bool,
    /// `up` or `down` per link.
    pub(crate) links: Vec<String>,
}

/// The name of a liveness state, as logs and reports spell it.
pub(crate) fn state_name(liveness: Liveness) -> &'static str {
    match liveness {
        Liveness::Waiting => "waiting",
        Liveness::Up => "up",
        Liveness::Suspect => "suspect",
        Liveness::Down => "down",
        Liveness::Left => "left",
        // A state added to the library later than this binary knows of.
        _ => "unknown",
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl StatusReport {
    pub(crate) fn new(status: &Status) -> Self {
        let config = &status.config;
        let peer = |p: &PeerStatus| PeerReport {
            id: p.id.get(),
            state: state_name(p.liveness).to_string(),
            since_s: (status.now - p.since).as_secs_f64(),
            last_heard_ms: p.last_heard.map(|t| ms(status.now - t)),
            loss_percent: f64::from(p.stats.loss_ratio()) * 100.0,
            rtt_ms: p.stats.srtt().map(ms),
            timeout_ms: ms(p.timeout),
            generation: p.generation.map(|g| g.0),
            hears_us: p.hears_us,
            links: (0..config.links())
                .map(|l| if p.links_up & (1 << l) != 0 { "up" } else { "down" }.to_string())
                .collect(),
        };
        StatusReport {
            node: config.node().get(),
            cluster: config.cluster().0,
            generation: config.generation().0,
            interval_ms: ms(config.interval()),
            timeout_ms: ms(config.timeout()),
            links: config.links(),
            leaving: status.leaving,
            peers: status.peers.iter().map(peer).collect(),
            datagrams_sent: status.io.sent,
            datagrams_received: status.io.received,
            frames_rejected: status.frames.rejected(),
            socket_errors: status.io.send_errors + status.io.recv_errors,
        }
    }
}

/// The node's side: a listening socket at `path`, removed again when dropped.
pub(crate) struct Server {
    listener: UnixListener,
    path: PathBuf,
}

impl Server {
    /// Listens at `path`; a stale socket file left by a dead node is replaced, a live one is not,
    /// and anything that is not a socket is left alone (refused).
    pub(crate) fn bind(path: &Path) -> io::Result<Server> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a socket"));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, "another node answers on it"));
            }
            std::fs::remove_file(path)?;
        }
        Ok(Server { listener: UnixListener::bind(path)?, path: path.to_path_buf() })
    }

    /// Accepts one connection and answers it on a task of its own. Cancellation-safe: only the
    /// accept is awaited here.
    pub(crate) async fn serve_one(&self, node: &Handle) {
        let mut stream = match self.listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors, say: log it and do not spin on it.
                tracing::warn!(%err, "control socket: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                return;
            }
        };
        let node = node.clone();
        tokio::spawn(async move {
            let Ok(status) = node.status().await else { return };
            let Ok(mut json) = serde_json::to_vec(&StatusReport::new(&status)) else { return };
            json.push(b'\n');
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

/// The client's side: fetches a node's status.
pub(crate) fn fetch(path: &Path) -> io::Result<(String, StatusReport)> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let report = serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((text, report))
}
