//! `heartbeat zk-server`: ZooKeeper-protocol sessions over TCP (the session subset: connect,
//! ping, closeSession, `ruok`/`mntr`), expired exactly at last touch + timeout; and
//! `heartbeat zk-client`: one session held against a list of such servers (or real ZooKeeper).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use heartbeat_session::client::{ClientEvent, DisconnectReason, ExpiryReason};
use heartbeat_session::server::{ServerConfig, SessionId};
use heartbeat_std::Clock;
use heartbeat_std::session::{
    ClientOptions, ServerHandle, ServerOptions, SessionClient, SessionEvent, SessionServer, SessionStatus,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::daemon::{self, StopSignals, refuse};
use crate::hooks::{self, Hooks, Profile};
use crate::{duration, logging};

/// `heartbeat zk-server`.
///
/// Example: `heartbeat zk-server --listen 127.0.0.1:2181 --tick 500ms --control /tmp/zk.sock`
#[derive(Debug, clap::Args)]
pub(crate) struct ServerArgs {
    /// Address to accept clients on (port 0: one the system picks, logged at start).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// ZooKeeper's tickTime: the default timeout bounds are 2 and 20 ticks.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, default_value = "2s")]
    tick: Duration,
    /// minSessionTimeout [default: 2 × tick].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    min_timeout: Option<Duration>,
    /// maxSessionTimeout [default: 20 × tick].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    max_timeout: Option<Duration>,
    /// The server-pause guard: when the server itself was stopped for longer than this (a
    /// timer firing that late), sessions whose silence the pause explains get this much grace
    /// instead of expiring; `off` expires them all at once, as ZooKeeper does.
    #[arg(long, value_name = "DURATION|off", value_parser = pause_bound, default_value = "1s")]
    pause_bound: PauseBound,
    /// This server's id (myid), the top byte of every session id.
    #[arg(long, value_name = "N", default_value_t = 1)]
    server_id: u8,
    /// Connections held at once.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    max_connections: usize,
    /// Unix socket on which to answer `heartbeat status` with the session table.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// TOML file of `[[hook]]` tables (events, peers, command, timeout) and `hooks_at_once`:
    /// commands run on events (see the README's "Event hooks").
    #[arg(long, value_name = "FILE")]
    hooks: Option<PathBuf>,
    /// Log one JSON object per line.
    #[arg(long)]
    json: bool,
}

/// `heartbeat zk-client`.
///
/// Example: `heartbeat zk-client --servers 127.0.0.1:2181,127.0.0.1:2182 --timeout 2s`
#[derive(Debug, clap::Args)]
pub(crate) struct ClientArgs {
    /// The servers, tried in turn (a lost connection resumes the session on the next one).
    #[arg(long, value_name = "ADDR,ADDR,...", value_delimiter = ',', required = true)]
    servers: Vec<SocketAddr>,
    /// The session timeout asked for (the server grants its own within its bounds).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, default_value = "2s")]
    timeout: Duration,
    /// Close the session after this long [default: at SIGINT or SIGTERM].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    close_after: Option<Duration>,
    /// TOML file of `[[hook]]` tables (events, peers, command, timeout) and `hooks_at_once`:
    /// commands run on events (see the README's "Event hooks").
    #[arg(long, value_name = "FILE")]
    hooks: Option<PathBuf>,
    /// Log one JSON object per line.
    #[arg(long)]
    json: bool,
}

/// What `zk-server`'s control socket answers (told apart from the others by `zk_listen`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ZkReport {
    /// Where it listens.
    pub(crate) zk_listen: String,
    /// Open connections.
    pub(crate) connections: usize,
    /// The live sessions.
    pub(crate) zk_sessions: Vec<ZkSessionRow>,
    /// Sessions created, resumed, closed, expired; pings answered.
    pub(crate) created: u64,
    pub(crate) resumed: u64,
    pub(crate) closed: u64,
    pub(crate) expired: u64,
    pub(crate) pings: u64,
}

/// One row of [`ZkReport`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ZkSessionRow {
    pub(crate) session: String,
    pub(crate) timeout_ms: u64,
    pub(crate) silent_ms: f64,
    pub(crate) connected: bool,
}

impl ZkReport {
    fn new(status: &SessionStatus) -> ZkReport {
        ZkReport {
            zk_listen: status.listen.to_string(),
            connections: status.connections,
            zk_sessions: status
                .sessions
                .iter()
                .map(|s| ZkSessionRow {
                    session: hex(s.session),
                    timeout_ms: s.timeout.as_millis() as u64,
                    silent_ms: ms(s.silent_for),
                    connected: s.connected,
                })
                .collect(),
            created: status.machine.created,
            resumed: status.machine.resumed,
            closed: status.machine.closed,
            expired: status.machine.expired,
            pings: status.machine.pings,
        }
    }

    /// The table `heartbeat status` prints.
    pub(crate) fn table(&self) -> String {
        let mut out = format!("zk-server on {}, {} connection(s)\n", self.zk_listen, self.connections);
        out.push_str(&format!("{:<20} {:>10} {:>10} {:>9}\n", "SESSION", "TIMEOUT", "SILENT", "CONNECTED"));
        for s in &self.zk_sessions {
            let silent = duration::show(Duration::from_secs_f64(s.silent_ms / 1e3));
            let timeout = duration::show(Duration::from_millis(s.timeout_ms));
            out.push_str(&format!("{:<20} {timeout:>10} {silent:>10} {:>9}\n", s.session, s.connected));
        }
        out.push_str(&format!(
            "created {} resumed {} closed {} expired {} pings {}\n",
            self.created, self.resumed, self.closed, self.expired, self.pings
        ));
        out
    }
}

fn hex(id: SessionId) -> String {
    format!("0x{:x}", id.0 as u64)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `--pause-bound`: a duration, or `off` (`None`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PauseBound(Option<Duration>);

fn pause_bound(text: &str) -> Result<PauseBound, String> {
    if text == "off" {
        return Ok(PauseBound(None));
    }
    duration::parse(text).map(|d| PauseBound(Some(d)))
}

/// Runs the server until SIGINT or SIGTERM.
pub(crate) fn server_main(args: ServerArgs) -> ExitCode {
    let hooks = match hooks::settings::load(args.hooks.as_deref(), Profile::ZkServer) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    let mut config = ServerConfig::new(args.server_id, args.tick);
    config.min_session_timeout = args.min_timeout;
    config.max_session_timeout = args.max_timeout;
    config.pause_bound = args.pause_bound.0;
    // As ZooKeeper: the session counter starts from the wall clock, so a restart does not
    // reissue ids; the passwords' seed comes from the OS.
    let wall_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    config.first_session_counter = (wall_ms << 16) & ((1 << 56) - 1);
    if let Err(err) = getrandom::fill(&mut config.seed) {
        return refuse(format!("no randomness for passwords: {err}"));
    }
    if let Err(err) = config.validate() {
        return refuse(format!("invalid timeouts: {err}"));
    }
    let mut options = ServerOptions::default();
    options.max_connections = args.max_connections;
    let server = match SessionServer::bind(args.listen, config.clone(), options, Clock::new()) {
        Ok(server) => server,
        Err(err) => return refuse(format!("invalid `listen`: {}: {err}", args.listen)),
    };
    let runtime = match daemon::runtime() {
        Ok(runtime) => runtime,
        Err(err) => return refuse(err),
    };
    let _context = runtime.enter();
    let control = match daemon::bind_control(args.control.as_deref(), "zk-server") {
        Ok(control) => control,
        Err(err) => return refuse(err),
    };
    let _logging = logging::init(args.json);
    let (min, max) = config.bounds();
    info!(
        kind = "started",
        listen = %server.local_addr(),
        tick_ms = ms(args.tick),
        min_timeout_ms = ms(min),
        max_timeout_ms = ms(max),
        "zk-server listening on {}",
        server.local_addr()
    );
    let hooks = match Hooks::start(hooks) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    let sender = hooks.sender();
    let handle = match server.spawn(move |event| {
        if let Some(hook) = sender.is_active().then(|| hooks::profiles::zk_server(&event)).flatten() {
            sender.send(hook);
        }
        log_server_event(event);
    }) {
        Ok(handle) => handle,
        Err(err) => {
            eprintln!("error: cannot start the server: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(&handle, control));
    handle.stop();
    hooks.finish();
    info!(kind = "stopped", "stopped");
    code
}

async fn serve(handle: &ServerHandle, control: Option<crate::control::Server>) -> ExitCode {
    let mut signals = match StopSignals::new() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let answer = || std::future::ready(handle.status().ok().map(|s| ZkReport::new(&s)));
    let signal = daemon::serve_until_stopped(control.as_ref(), &mut signals, answer).await;
    info!(signal, "signal");
    ExitCode::SUCCESS
}

/// `session 0x… created, timeout 2000 ms`, `… expired 0.05 ms past its deadline`.
fn log_server_event(event: SessionEvent) {
    match event {
        SessionEvent::Created { session, timeout, peer, at } => {
            let (session, timeout_ms, at) = (hex(session), ms(timeout), at.since_epoch().as_secs_f64());
            let peer = peer.map(|p| p.to_string());
            info!(
                kind = "created",
                session, timeout_ms, peer, at, "session {session} created, timeout {timeout_ms} ms"
            );
        }
        SessionEvent::Resumed { session, timeout, peer, at } => {
            let (session, timeout_ms, at) = (hex(session), ms(timeout), at.since_epoch().as_secs_f64());
            let peer = peer.map(|p| p.to_string());
            info!(kind = "resumed", session, timeout_ms, peer, at, "session {session} resumed");
        }
        SessionEvent::Closed { session, at } => {
            let (session, at) = (hex(session), at.since_epoch().as_secs_f64());
            info!(kind = "closed", session, at, "session {session} closed");
        }
        SessionEvent::Expired { .. } => {
            let late_ms = event.lateness().map_or(0.0, ms);
            let SessionEvent::Expired { session, timeout, last_heard, at } = event else { return };
            let (session, timeout_ms, silent_ms) =
                (hex(session), ms(timeout), ms(at.saturating_duration_since(last_heard)));
            let at = at.since_epoch().as_secs_f64();
            warn!(
                kind = "expired",
                session,
                timeout_ms,
                silent_ms,
                late_ms,
                at,
                "session {session} expired: silent for {silent_ms} ms, {late_ms} ms past its deadline"
            );
        }
        _ => {}
    }
}

/// Holds one session until `--close-after`, a stop signal, or its expiry.
pub(crate) fn client_main(args: ClientArgs) -> ExitCode {
    let hooks = match hooks::settings::load(args.hooks.as_deref(), Profile::ZkClient) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    let clock = Clock::new();
    let mut client = match SessionClient::new(args.servers.clone(), ClientOptions::new(args.timeout), clock) {
        Ok(client) => client,
        Err(err) => return refuse(format!("invalid `servers`: {err}")),
    };
    let runtime = match daemon::runtime() {
        Ok(runtime) => runtime,
        Err(err) => return refuse(err),
    };
    let _logging = logging::init(args.json);
    let hooks = match Hooks::start(hooks) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    let sender = hooks.sender();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = Arc::clone(&stop);
    let signals = std::thread::spawn(move || {
        runtime.block_on(async {
            match StopSignals::new() {
                Ok(mut signals) => {
                    let signal = signals.recv().await;
                    info!(signal, "signal");
                }
                Err(err) => eprintln!("error: {err}"),
            }
        });
        stopper.store(true, Ordering::SeqCst);
    });
    let servers = args.servers;
    let mut log = |event: ClientEvent| {
        let at = clock.now().since_epoch().as_secs_f64();
        if let Some(hook) = sender.is_active().then(|| hooks::profiles::zk_client(&event, &servers, at)).flatten() {
            sender.send(hook);
        }
        log_client_event(&servers, event);
    };
    client.connect(&mut log);
    let close_at = args.close_after.map(|d| clock.now().saturating_add(d));
    while !client.is_done() {
        let due = close_at.is_some_and(|at| clock.now() >= at);
        if due || stop.load(Ordering::SeqCst) {
            client.close(&mut log);
            client.run_for(args.timeout, &mut log);
            break;
        }
        let wait = close_at.map_or(Duration::from_millis(50), |at| clock.until(at).min(Duration::from_millis(50)));
        client.turn(Some(wait), &mut log);
    }
    let code = match client.state() {
        heartbeat_session::client::ClientState::Closed => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    };
    // The signal thread ends with the process; it is not joined.
    drop(signals);
    drop(sender);
    hooks.finish();
    code
}

fn reason_name(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::ConnectTimeout => "connect-timeout",
        DisconnectReason::ReadTimeout => "read-timeout",
        DisconnectReason::Closed => "closed",
        DisconnectReason::BadInput => "bad-input",
        _ => "other",
    }
}

fn log_client_event(servers: &[SocketAddr], event: ClientEvent) {
    let addr = |i: usize| servers.get(i).map_or_else(String::new, ToString::to_string);
    match event {
        ClientEvent::Connected { server, session, timeout } => {
            let (server, session, timeout_ms) = (addr(server), format!("0x{:x}", session as u64), ms(timeout));
            info!(
                kind = "connected",
                server, session, timeout_ms, "session {session} on {server}, timeout {timeout_ms} ms"
            );
        }
        ClientEvent::Disconnected { server, reason } => {
            let (server, reason) = (addr(server), reason_name(reason));
            warn!(kind = "disconnected", server, reason, "connection to {server} lost ({reason})");
        }
        ClientEvent::Resumed { server, timeout } => {
            let (server, timeout_ms) = (addr(server), ms(timeout));
            info!(kind = "resumed", server, timeout_ms, "session resumed on {server}");
        }
        ClientEvent::Expired { reason } => {
            let reason = match reason {
                ExpiryReason::ToldByServer => "told-by-server",
                ExpiryReason::Timeout => "timeout",
                _ => "other",
            };
            warn!(kind = "expired", reason, "session expired ({reason})");
        }
        ClientEvent::Closed => info!(kind = "closed", "session closed"),
        _ => {}
    }
}
