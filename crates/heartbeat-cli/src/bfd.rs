//! `heartbeat bfd`: BFD sessions (RFC 5880/5881/5883) with routers' BFD daemons, on the std
//! driver; and `heartbeat bfd-status`, its session table.

pub(crate) mod report;
pub(crate) mod settings;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use heartbeat_proto::bfd::auth::{AuthType, BfdKey, BfdKeys};
use heartbeat_proto::bfd::{BfdEvent, BfdEventKind, Hop, SessionConfig, State};
use heartbeat_proto::engine::SessionHandle;
use heartbeat_std::Clock;
use heartbeat_std::bfd::{BfdDriver, BfdHandle, Options, links};
use tracing::{info, warn};

use self::report::{BfdReport, diag_name, state_name};
use self::settings::{AuthKind, AuthSettings, BfdSettings, Overrides, PeerArg, PeerSettings};
use crate::control::Server;
use crate::daemon::{self, StopSignals, refuse};
use crate::hooks::{self, Hooks};
use crate::settings_file::SettingsError;
use crate::{duration, logging};

/// Settings come from `--config FILE`, from flags, or both (flags win).
///
/// Example: `heartbeat bfd --peer 198.18.0.2%veth0 --interval 300ms --multiplier 3`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// TOML settings file (keys as the flags: interval, rx_interval, multiplier, passive, local,
    /// interface, multihop, min_ttl, control, auth, key_id, key_file, listen_port, peer_port,
    /// `[[peer]]` tables with addr and optionally interface, local, multihop, min_ttl, and
    /// `[[hook]]` tables with events, peers, command, timeout; `hooks_at_once`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A peer to run a session with, as ADDR or ADDR%IFACE (repeatable).
    #[arg(long = "peer", value_name = "ADDR[%IFACE]")]
    peers: Vec<PeerArg>,
    /// Interface of single-hop peers given without %IFACE.
    #[arg(long, value_name = "IFACE")]
    interface: Option<String>,
    /// Source address of every session [default: the route's].
    #[arg(long, value_name = "ADDR")]
    local: Option<IpAddr>,
    /// Multihop sessions (RFC 5883, port 4784) instead of single hop (RFC 5881, port 3784).
    #[arg(long)]
    multihop: bool,
    /// Multihop: the lowest TTL accepted [default: 254].
    #[arg(long, value_name = "N", requires = "multihop")]
    min_ttl: Option<u8>,
    /// Desired min TX interval, e.g. 300ms [default: 300ms]. Until a session is up it sends
    /// once a second, as RFC 5880 requires.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    interval: Option<Duration>,
    /// Required min RX interval [default: the interval].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    rx_interval: Option<Duration>,
    /// Detect multiplier: packets missed before the session goes down [default: 3].
    #[arg(long, value_name = "N")]
    multiplier: Option<u8>,
    /// Send nothing until the peer has spoken (RFC 5880 §6.1 passive role).
    #[arg(long)]
    passive: bool,
    /// Authentication: simple, keyed-md5, meticulous-keyed-md5, keyed-sha1,
    /// meticulous-keyed-sha1 (needs --key-file).
    #[arg(long, value_name = "TYPE")]
    auth: Option<AuthKind>,
    /// Authentication key id [default: 1].
    #[arg(long, value_name = "N")]
    key_id: Option<u8>,
    /// File holding the secret (its whole content, less a trailing newline; readable by its
    /// owner only).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Unix socket on which to answer `heartbeat bfd-status`.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Receive on PORT instead of 3784 / 4784 (tests with two daemons on one host).
    #[arg(long, value_name = "PORT")]
    listen_port: Option<u16>,
    /// Send to PORT instead of 3784 / 4784 (likewise).
    #[arg(long, value_name = "PORT")]
    peer_port: Option<u16>,
    /// Log one JSON object per line.
    #[arg(long)]
    json: bool,
}

impl Args {
    fn overrides(&self) -> Overrides {
        Overrides {
            peers: self.peers.clone(),
            interface: self.interface.clone(),
            local: self.local,
            multihop: self.multihop,
            min_ttl: self.min_ttl,
            interval: self.interval,
            rx_interval: self.rx_interval,
            multiplier: self.multiplier,
            passive: self.passive,
            auth: self.auth,
            key_id: self.key_id,
            key_file: self.key_file.clone(),
            control: self.control.clone(),
            listen_port: self.listen_port,
            peer_port: self.peer_port,
        }
    }
}

/// Validates everything and binds every socket before a session starts: a mistake stops it
/// with one line naming the field, and nothing runs.
pub(crate) fn main(args: Args) -> ExitCode {
    let settings = match settings::load(args.config.as_deref(), args.overrides()) {
        Ok(settings) => settings,
        Err(err) => return refuse(err),
    };
    let keys = match settings.auth.as_ref().map(keys).transpose() {
        Ok(keys) => keys,
        Err(err) => return refuse(err),
    };
    let mut seed = [0u8; 8];
    if let Err(err) = getrandom::fill(&mut seed) {
        return refuse(format!("no randomness for discriminators: {err}"));
    }
    let mut options = Options::new(u64::from_le_bytes(seed));
    if let Some(port) = settings.listen_port {
        options.single_hop_port = port;
        options.multi_hop_port = port;
    }
    if let Some(port) = settings.peer_port {
        options.peer_single_hop_port = port;
        options.peer_multi_hop_port = port;
    }
    let mut driver = match BfdDriver::new(options, Clock::new()) {
        Ok(driver) => driver,
        Err(err) => return refuse(format!("cannot start: {err}")),
    };
    let mut sessions = Vec::new();
    for peer in &settings.peers {
        let config = session_config(&settings, peer, keys.clone());
        match driver.add_session(config, peer.interface.as_deref()) {
            Ok(handle) => sessions.push((handle, peer.clone())),
            Err(err) => return refuse(format!("invalid `peer`: {}: {err}", peer.addr)),
        }
    }
    let runtime = match daemon::runtime() {
        Ok(runtime) => runtime,
        Err(err) => return refuse(err),
    };
    let _context = runtime.enter();
    let control = match daemon::bind_control(settings.control.as_deref(), "daemon") {
        Ok(control) => control,
        Err(err) => return refuse(err),
    };
    let _logging = logging::init(args.json);
    let (v4_port, v6_port) = driver.source_ports();
    info!(
        sessions = sessions.len(),
        listen = ?driver.listen_addrs(),
        source_port_v4 = v4_port,
        source_port_v6 = v6_port,
        interval_ms = settings.interval.as_secs_f64() * 1e3,
        multiplier = settings.multiplier,
        auth = settings.auth.as_ref().map(|a| a.kind.to_string()),
        "bfd started"
    );
    let hooks = match Hooks::start(settings.hooks.clone()) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    let (peers, sender) = (sessions.clone(), hooks.sender());
    let node = match driver.spawn(move |event| {
        log_event(&peers, &event);
        let peer = peers.iter().find(|(h, _)| *h == event.session).filter(|_| sender.is_active());
        if let Some(hook) = peer.and_then(|(_, peer)| hooks::profiles::bfd(&event, &peer.addr.to_string())) {
            sender.send(hook);
        }
    }) {
        Ok(node) => node,
        Err(err) => {
            eprintln!("error: cannot start the driver: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(&node, &sessions, control));
    info!("stopping: every session admin-down, for one detection time");
    node.shutdown();
    hooks.finish();
    info!("stopped");
    code
}

fn session_config(settings: &BfdSettings, peer: &PeerSettings, keys: Option<BfdKeys>) -> SessionConfig {
    SessionConfig {
        peer: peer.addr,
        local: peer.local,
        link: links::ANY,
        hop: match peer.multihop {
            Some(min_ttl) => Hop::MultiHop { min_ttl },
            None => Hop::SingleHop,
        },
        detect_mult: settings.multiplier,
        desired_min_tx: settings.interval,
        required_min_rx: settings.rx_interval,
        passive: settings.passive,
        keys,
    }
}

fn keys(auth: &AuthSettings) -> Result<BfdKeys, SettingsError> {
    let kind = match auth.kind {
        AuthKind::Simple => AuthType::SimplePassword,
        AuthKind::KeyedMd5 => AuthType::KeyedMd5,
        AuthKind::MeticulousKeyedMd5 => AuthType::MeticulousKeyedMd5,
        AuthKind::KeyedSha1 => AuthType::KeyedSha1,
        AuthKind::MeticulousKeyedSha1 => AuthType::MeticulousKeyedSha1,
    };
    let key =
        BfdKey::new(kind, auth.key_id, &auth.secret).map_err(|err| SettingsError::new("key_file", format!("{err}")))?;
    Ok(BfdKeys::new(key))
}

/// Runs until SIGINT or SIGTERM, answering the control socket.
async fn serve(node: &BfdHandle, sessions: &[(SessionHandle, PeerSettings)], control: Option<Server>) -> ExitCode {
    let mut signals = match StopSignals::new() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The std driver answers at once: the report is taken before the reply task starts.
    let answer = || std::future::ready(node.status().ok().map(|status| BfdReport::new(&status, sessions)));
    let signal = daemon::serve_until_stopped(control.as_ref(), &mut signals, answer).await;
    info!(signal, "signal");
    ExitCode::SUCCESS
}

/// Logs one event: `bfd peer 198.18.0.2 up`, `bfd peer 198.18.0.2 down
/// diag=control-detection-time-expired`, `bfd peer 198.18.0.2 peer admin-down`.
fn log_event(sessions: &[(SessionHandle, PeerSettings)], event: &BfdEvent) {
    let Some((_, peer)) = sessions.iter().find(|(h, _)| *h == event.session) else { return };
    let addr = peer.addr;
    let at = event.at.since_epoch().as_secs_f64();
    match event.kind {
        BfdEventKind::StateChanged { from, to, diag } => {
            let (from, state, diag) = (state_name(from), state_name(to), diag_name(diag));
            if to == State::Up {
                info!(kind = state, peer = %addr, at, from, diag, "bfd peer {addr} up");
            } else if event.kind.is_failure() {
                warn!(kind = state, peer = %addr, at, from, diag, "bfd peer {addr} {state} diag={diag}");
            } else {
                info!(kind = state, peer = %addr, at, from, diag, "bfd peer {addr} {state} diag={diag}");
            }
        }
        BfdEventKind::PeerAdminDown => {
            info!(kind = "peer-admin-down", peer = %addr, at, "bfd peer {addr} peer admin-down");
        }
        BfdEventKind::TimingChanged { tx_interval, detection_time } => {
            let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
            let (tx_interval_ms, detection_time_ms) = (ms(tx_interval), ms(detection_time));
            info!(kind = "timing", peer = %addr, at, tx_interval_ms, detection_time_ms, "bfd peer {addr} timing");
        }
        _ => {}
    }
}
