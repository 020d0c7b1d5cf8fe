//! `heartbeat run`: one long-lived node on the tokio adapter.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use heartbeat_proto::Event;
use heartbeat_proto::FixedTimeout;
use heartbeat_tokio::{Driver, Subscription, tokio_clock};
use tracing::{info, warn};

use self::report::StatusReport;
use crate::control::Server;
use crate::daemon::{self, StopSignals, refuse};
use crate::hooks::{self, HookSender, Hooks, Profile};
use crate::settings::{self, NodeSettings, Overrides, PeerSpec};
use crate::{duration, logging};

pub(crate) mod report;

/// Settings come from `--config FILE`, from flags, or both (flags win).
///
/// Example: `heartbeat run --id 1 --listen 127.0.0.1:7001 --peer 2@127.0.0.1:7002 --timeout 1s
/// --key-file keys`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// TOML settings file (keys as the flags: id, listen, interval, timeout, tick, cluster,
    /// generation, generation_file, control, key_file, insecure, `[[peer]]` tables with id
    /// and addr, and `[[hook]]` tables with events, peers, command, timeout; `hooks_at_once`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// This node's id: a non-zero integer, unique in the cluster.
    #[arg(long)]
    id: Option<u64>,
    /// Address to listen on, e.g. 127.0.0.1:7001 or `[::1]:7001`. Repeat it for redundant
    /// links: one address per link.
    #[arg(long, value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// A peer to watch, as ID@ADDR (repeatable). On several links: ID@ADDR,ADDR, its address
    /// on each link in --listen order.
    #[arg(long = "peer", value_name = "ID@ADDR")]
    peers: Vec<PeerSpec>,
    /// Time between heartbeats, e.g. 100ms [default: a third of the timeout].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    interval: Option<Duration>,
    /// Silence after which a peer is declared down, e.g. 1s [default: 10 ticks].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    timeout: Option<Duration>,
    /// Basic time unit: peers' timeouts are clamped into [2, 20] ticks [default: 100ms].
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    tick: Option<Duration>,
    /// Cluster number: nodes of other clusters are ignored [default: 0].
    #[arg(long)]
    cluster: Option<u32>,
    /// This start's generation; it must grow from one start to the next [default: Unix time
    /// in seconds, or from --generation-file].
    #[arg(long, conflicts_with = "generation_file")]
    generation: Option<u32>,
    /// A file keeping a counter so that every start gets a higher generation than the last,
    /// even two starts within one second: max(counter + 1, Unix time), written before the node
    /// sends anything.
    #[arg(long, value_name = "FILE")]
    generation_file: Option<PathBuf>,
    /// Unix socket on which to answer `heartbeat status`.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Required, or --insecure: the cluster's HMAC-SHA256 keys, one `ID HEX-SECRET` per line, the
    /// first one used for sending (make a secret with `openssl rand -hex 32`; the file must be
    /// readable by its owner only). Every node needs the same keys.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    key_file: Option<PathBuf>,
    /// Required, or --key-file: run without authentication, where anyone who can reach the
    /// port can forge heartbeats. Only on networks where every sender is trusted.
    #[arg(long)]
    insecure: bool,
    /// Log one JSON object per line (with at least kind, peer and timestamp for each event).
    #[arg(long)]
    json: bool,
}

impl Args {
    fn overrides(&self) -> Overrides {
        Overrides {
            id: self.id,
            cluster: self.cluster,
            generation: self.generation,
            listen: self.listen.clone(),
            peers: self.peers.clone(),
            interval: self.interval,
            timeout: self.timeout,
            tick: self.tick,
            control: self.control.clone(),
            key_file: self.key_file.clone(),
            insecure: self.insecure,
            generation_file: self.generation_file.clone(),
        }
    }
}

/// Validates everything and binds every socket before the node starts: a mistake stops it
/// with one line naming the field, and nothing runs.
pub(crate) fn main(args: Args) -> ExitCode {
    let settings = match settings::load(args.config.as_deref(), args.overrides()) {
        Ok(settings) => settings,
        Err(err) => return refuse(err),
    };
    let runtime = match daemon::runtime() {
        Ok(runtime) => runtime,
        Err(err) => return refuse(err),
    };
    let _context = runtime.enter();
    let mut sockets = Vec::new();
    for addr in &settings.listen {
        let socket = heartbeat_std::socket::unicast(*addr)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .and_then(tokio::net::UdpSocket::from_std);
        match socket {
            Ok(socket) => sockets.push(socket),
            Err(err) => return refuse(format!("invalid `listen`: cannot bind {addr}: {err}")),
        }
    }
    let control = match daemon::bind_control(settings.control.as_deref(), "node") {
        Ok(control) => control,
        Err(err) => return refuse(err),
    };
    let _logging = logging::init(args.json);
    let hooks = match Hooks::start(settings.hooks.clone()) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    let code = runtime.block_on(serve(settings, sockets, control, hooks.sender()));
    hooks.finish();
    code
}

async fn serve(
    settings: NodeSettings,
    sockets: Vec<tokio::net::UdpSocket>,
    control: Option<Server>,
    hooks: HookSender,
) -> ExitCode {
    let mut signals = match StopSignals::new() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let config = settings.config.clone();
    let mut driver = match Driver::new(settings.config, FixedTimeout::new(), sockets, tokio_clock()) {
        Ok(driver) => driver,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    for (id, addrs) in &settings.peers {
        if let Err(err) = driver.add_peer(*id, addrs) {
            return refuse(format!("invalid `peer`: node {id}: {err}"));
        }
    }
    if let Err(err) = driver.precise_timer() {
        warn!(%err, "no nanosecond timer: detections may come up to 2 ms late");
    }
    let mut events = driver.subscribe();
    let node = driver.spawn();
    info!(
        node = config.node().get(),
        generation = config.generation().0,
        listen = ?node.local_addrs(),
        peers = settings.peers.len(),
        interval_ms = config.interval().as_secs_f64() * 1e3,
        timeout_ms = config.timeout().as_secs_f64() * 1e3,
        control = ?settings.control,
        "node started"
    );
    let answer = || {
        let node = node.clone();
        async move { node.status().await.ok().map(|status| StatusReport::new(&status)) }
    };
    tokio::select! {
        () = log_events(&mut events, &hooks, config.timeout()) => {}
        signal = daemon::serve_until_stopped(control.as_ref(), &mut signals, answer) => {
            info!(signal, "stopping: saying goodbye to every peer");
        }
    }
    node.shutdown().await;
    info!("goodbye sent; node stopped");
    ExitCode::SUCCESS
}

/// Logs every event and hands it to the hooks until the driver stops sending them (none is
/// ever missed).
async fn log_events(events: &mut Subscription<Event>, hooks: &HookSender, timeout: Duration) {
    while let Ok(event) = events.recv().await {
        logging::event(&event);
        if let Some(hook) =
            hooks.is_active().then(|| hooks::profiles::node(&event, Profile::Run, None, timeout)).flatten()
        {
            hooks.send(hook);
        }
    }
}
