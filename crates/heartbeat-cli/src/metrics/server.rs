//! The `/metrics` endpoint: a minimal HTTP/1.x responder on a thread of its own.
//!
//! It runs its own single-threaded runtime, so encoding a large exposition or serving many
//! clients never takes the node's thread. A client gets [`HEADER_TIMEOUT`] to send its request
//! head and at most [`MAX_HEADER`] bytes of it; at most [`MAX_CLIENTS`] are served at once and
//! the rest wait in the kernel's backlog. What a scrape asks of the node is one status snapshot
//! (at most one per [`REFRESH_EVERY`], whatever the number of scrapers), answered by the driver
//! between two of its turns.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use heartbeat_tokio::Handle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Mutex, Semaphore};

use super::Metrics;
use crate::detectors::Selected;

/// Time a client has to send its request head.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a client has to take the answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request head accepted.
pub(crate) const MAX_HEADER: usize = 8 * 1024;
/// Clients served at once.
pub(crate) const MAX_CLIENTS: usize = 16;
/// Scrapes closer together than this share one status snapshot.
const REFRESH_EVERY: Duration = Duration::from_millis(50);
/// How long a scrape waits for the node's snapshot before answering with the previous one.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(1);

/// The node as the endpoint sees it.
pub(crate) type Node = Handle<UdpSocket, Selected>;

/// Binds the endpoint's socket (before the node starts, so that a bad address refuses the
/// start).
pub(crate) fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `/metrics` from `listener` on a new thread until the process ends.
pub(crate) fn spawn(listener: std::net::TcpListener, metrics: Arc<Metrics>, node: Node) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = match TcpListener::from_std(listener) {
                Ok(listener) => listener,
                Err(err) => return tracing::warn!(%err, "metrics: cannot serve"),
            };
            let shared = Arc::new(Shared { metrics, node, refreshed: Mutex::new(None) });
            let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
            loop {
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { return };
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::warn!(%err, "metrics: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    shared.answer(stream).await;
                    drop(permit);
                });
            }
        });
    })?;
    Ok(())
}

struct Shared {
    metrics: Arc<Metrics>,
    node: Node,
    refreshed: Mutex<Option<tokio::time::Instant>>,
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Metrics { head: bool, openmetrics: bool },
    NotFound,
    BadMethod,
    Malformed,
}

impl Shared {
    async fn answer(&self, mut stream: TcpStream) {
        let request = match tokio::time::timeout(HEADER_TIMEOUT, read_head(&mut stream)).await {
            Ok(Ok(Some(head))) => parse(&head),
            Ok(Ok(None)) => return respond(&mut stream, "431 Request Header Fields Too Large", PLAIN, "", false).await,
            // A slow client, or one gone: nothing to answer.
            Ok(Err(_)) | Err(_) => return,
        };
        match request {
            Request::Metrics { head, openmetrics } => {
                self.refresh().await;
                let (body, kind) = if openmetrics {
                    (self.metrics.encode(), OPENMETRICS)
                } else {
                    (self.metrics.encode_prometheus(), PROMETHEUS_TEXT)
                };
                respond(&mut stream, "200 OK", kind, &body, head).await;
            }
            Request::NotFound => respond(&mut stream, "404 Not Found", PLAIN, "try /metrics\n", false).await,
            Request::BadMethod => respond(&mut stream, "405 Method Not Allowed", PLAIN, "", false).await,
            Request::Malformed => respond(&mut stream, "400 Bad Request", PLAIN, "", false).await,
        }
    }

    async fn refresh(&self) {
        let mut last = self.refreshed.lock().await;
        if last.is_some_and(|t| t.elapsed() < REFRESH_EVERY) {
            return;
        }
        if let Ok(Ok(status)) = tokio::time::timeout(SNAPSHOT_TIMEOUT, self.node.status()).await {
            self.metrics.refresh(&status);
            *last = Some(tokio::time::Instant::now());
        }
    }
}

/// Reads up to the blank line that ends a request head; `None` if it is longer than
/// [`MAX_HEADER`].
async fn read_head(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEADER {
            return Ok(None);
        }
    }
}

fn parse(head: &[u8]) -> Request {
    let Ok(text) = std::str::from_utf8(head) else { return Request::Malformed };
    let mut parts = text.lines().next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Request::Malformed;
    };
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return Request::Malformed;
    }
    let path = target.split('?').next().unwrap_or("");
    // OpenMetrics only for a client that asks for it by name.
    let openmetrics = text.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("accept") && value.contains("application/openmetrics-text")
        })
    });
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => Request::Metrics { head: method == "HEAD", openmetrics },
        ("GET" | "HEAD", _) => Request::NotFound,
        _ => Request::BadMethod,
    }
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const PLAIN: &str = "text/plain; charset=utf-8";

async fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str, head_only: bool) {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    // A client that does not take it in time is dropped.
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_are_read_strictly() {
        let metrics = |head, openmetrics| Request::Metrics { head, openmetrics };
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), metrics(false, false));
        assert_eq!(parse(b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n"), metrics(true, false));
        let asks =
            b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n";
        assert_eq!(parse(asks), metrics(false, true));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(parse(b"POST /metrics HTTP/1.1\r\n\r\n"), Request::BadMethod);
        assert_eq!(parse(b"GET /metrics\r\n\r\n"), Request::Malformed);
        assert_eq!(parse(b"GET /metrics SMTP/1.0\r\n\r\n"), Request::Malformed);
        assert_eq!(parse(b"\xff\xfe\r\n\r\n"), Request::Malformed);
    }
}
