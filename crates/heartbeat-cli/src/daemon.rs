//! What the long-running subcommands (`run`, `bfd`) share around their driver: refusing to
//! start, the runtime, the control socket, and stopping on SIGINT or SIGTERM.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::control::Server;

/// Refuses to start: one line on stderr, exit status 2.
pub(crate) fn refuse(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// The single-threaded runtime both subcommands run their control socket and signals on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the runtime: {err}"))
}

/// Binds the control socket, if the settings name one; a refusal names `control`. Needs the
/// runtime entered.
pub(crate) fn bind_control(path: Option<&Path>, who: &str) -> Result<Option<Server>, String> {
    path.map(|path| Server::bind(path, who)).transpose().map_err(|err| format!("invalid `control`: {err}"))
}

/// SIGINT and SIGTERM, the two ways to ask for a graceful stop.
pub(crate) struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    /// Takes both signals over from their default (exit at once). Needs the runtime entered.
    pub(crate) fn new() -> Result<StopSignals, String> {
        let take = |kind| signal(kind).map_err(|err| format!("cannot handle signals: {err}"));
        Ok(StopSignals { interrupt: take(SignalKind::interrupt())?, terminate: take(SignalKind::terminate())? })
    }

    /// Waits for the next one; returns its name (`SIGINT`, `SIGTERM`). Cancellation-safe.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// Answers the control socket (if any) with `answer()` until a stop signal comes; returns the
/// signal's name.
pub(crate) async fn serve_until_stopped<T, F>(
    control: Option<&Server>,
    signals: &mut StopSignals,
    answer: impl Fn() -> F,
) -> &'static str
where
    T: Serialize + Send + 'static,
    F: Future<Output = Option<T>> + Send + 'static,
{
    loop {
        tokio::select! {
            () = serve_one(control, &answer) => {}
            signal = signals.recv() => return signal,
        }
    }
}

async fn serve_one<T, F>(control: Option<&Server>, answer: impl FnOnce() -> F)
where
    T: Serialize + Send + 'static,
    F: Future<Output = Option<T>> + Send + 'static,
{
    match control {
        Some(server) => server.serve_one(answer).await,
        None => std::future::pending().await,
    }
}
