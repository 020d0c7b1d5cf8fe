//! The control socket of `heartbeat run` and `heartbeat bfd`: the running process answers each
//! connection with its status as one JSON object and closes it. `heartbeat status` and
//! `heartbeat bfd-status` are the clients; either one reads either kind of socket.

use std::future::Future;
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::sync::Semaphore;

use crate::bfd::report::BfdReport;
use crate::linux_ha::LinuxHaReport;
use crate::run::report::StatusReport;
use crate::zk::ZkReport;

/// What a control socket answers: a node's peer table, a BFD daemon's session table, or a
/// zk-server's session table. The
/// JSON carries no tag; the two are told apart by their fields (`node` or `sessions`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Report {
    /// From `heartbeat zk-server` (first: it is the one with `zk_listen`).
    Zk(ZkReport),
    /// From `heartbeat run`.
    Node(Box<StatusReport>),
    /// From `heartbeat bfd`.
    Bfd(BfdReport),
    /// From `heartbeat linux-ha` (told apart by `linux_ha_node`).
    LinuxHa(LinuxHaReport),
}

/// Answers being written at once; a client past that is closed without one. Each answer is a
/// task holding a copy of the report, so this bounds what clients that never read can pin.
const ANSWERS_AT_ONCE: usize = 32;

/// How long an answer may take to write before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The serving side: a listening socket at `path`, removed again when dropped.
pub(crate) struct Server {
    listener: UnixListener,
    path: PathBuf,
    answering: Arc<Semaphore>,
}

impl Server {
    /// Listens at `path`; a stale socket file left by a dead process is replaced, a live one is
    /// not (`another {who} answers on it`), and anything that is not a socket is left alone
    /// (refused). Needs a tokio runtime entered.
    pub(crate) fn bind(path: &Path, who: &str) -> io::Result<Server> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a socket"));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("another {who} answers on it")));
            }
            std::fs::remove_file(path)?;
        }
        let answering = Arc::new(Semaphore::new(ANSWERS_AT_ONCE));
        Ok(Server { listener: UnixListener::bind(path)?, path: path.to_path_buf(), answering })
    }

    /// Accepts one connection and answers it with what `answer()` resolves to (nothing, if
    /// `None`), on a task of its own. Cancellation-safe: only the accept is awaited here, and
    /// `answer` is called only once a client has connected. A client that does not read its
    /// answer within [`WRITE_TIMEOUT`] is dropped; while [`ANSWERS_AT_ONCE`] answers are being
    /// written, a new client is closed at once, unanswered.
    pub(crate) async fn serve_one<T, F>(&self, answer: impl FnOnce() -> F)
    where
        T: Serialize + Send + 'static,
        F: Future<Output = Option<T>> + Send + 'static,
    {
        let mut stream = match self.listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors, say: log it and do not spin on it.
                tracing::warn!(%err, "control socket: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                return;
            }
        };
        let Ok(permit) = Arc::clone(&self.answering).try_acquire_owned() else {
            tracing::debug!("control socket: {ANSWERS_AT_ONCE} answers already being written; client closed");
            return;
        };
        let report = answer();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(report) = report.await else { return };
            let Ok(mut json) = serde_json::to_vec(&report) else { return };
            json.push(b'\n');
            // A client that went away, or reads too slowly, is its own business.
            let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&json)).await;
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The client's side: fetches the report of whatever answers at `path`, and its JSON text.
pub(crate) fn fetch(path: &Path) -> io::Result<(String, Report)> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let report = serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((text, report))
}
