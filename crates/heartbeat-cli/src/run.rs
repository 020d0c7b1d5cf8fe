//! `heartbeat run`: one long-lived node on the tokio adapter.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use heartbeat_proto::Event;
use heartbeat_tokio::{Driver, Subscription, tokio_clock};
use tokio::sync::watch;
use tracing::{info, warn};

use self::evidence::Explanations;
use self::reload::{Reloader, Timing};
use self::report::StatusReport;
use crate::control::Server;
use crate::daemon::{self, StopSignals, refuse};
use crate::detectors::DetectorTable;
use crate::hooks::{self, HookSender, Hooks, Profile};
use crate::metrics::{self, Metrics};
use crate::replay_file::{self, ReplayFile};
use crate::settings::discovery::DiscoveryTable;
use crate::settings::{self, NodeSettings, Overrides, PeerSpec};
use crate::{duration, logging};

pub(crate) mod discovery;
pub(crate) mod evidence;
pub(crate) mod reachability;
pub(crate) mod reload;
pub(crate) mod report;

/// Settings come from `--config FILE`, from flags, or both (flags win).
///
/// Example: `heartbeat run --id 1 --listen 127.0.0.1:7001 --peer 2@127.0.0.1:7002 --timeout 1s
/// --key-file keys`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// TOML settings file (keys as the flags: id, listen, interval, timeout, tick, cluster,
    /// generation, generation_file, control, key_file, insecure, local_pause, metrics, replay_file, a `[detector]`
    /// table (kind and the detector flags' keys), `[[peer]]` tables with id, addr and an
    /// optional `detector = { kind = ... }` of that peer's own, and `[[hook]]` tables with
    /// events, peers, command, timeout; `hooks_at_once`; a `[discovery]` table with the
    /// discovery flags' keys: multicast, broadcast, interface, ttl, learn, max_peers,
    /// forget_after). SIGHUP (or `heartbeat reload`) re-reads it: peers, timing (interval,
    /// timeout, tick, local_pause), the key file's keys and the detectors apply at once;
    /// listen, discovery, cluster, control, metrics, replay_file and turning authentication
    /// on or off are refused until a restart.
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
    /// The local-stall guard (TOML `local_pause`): a verdict due while this node itself was
    /// stalled for longer than this (GC, frozen VM) waits this long more for frames queued
    /// unread; `off` disables it [default: 20ms].
    #[arg(long, value_name = "DURATION|off")]
    local_pause: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (TOML `metrics`), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Keep the replay watermarks in FILE (TOML `replay_file`), so that after a restart frames
    /// recorded before it are still refused: read at start, rewritten atomically at most once a
    /// second and at a graceful stop. A damaged or foreign file is moved to FILE.refused and the
    /// node starts without watermarks (README "Replay protection across restarts").
    #[arg(long, value_name = "FILE")]
    replay_file: Option<PathBuf>,
    #[command(flatten)]
    detector: Box<DetectorArgs>,
    #[command(flatten)]
    discovery: Box<DiscoveryArgs>,
}

/// Discovery, as flags (the TOML `[discovery]` table has the same keys): instead of `--listen`,
/// one link on which every heartbeat goes to a group and the peers heard there are learned.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Discovery (instead of --listen)")]
struct DiscoveryArgs {
    /// Send every heartbeat to this multicast group and listen on its port (TOML
    /// `discovery.multicast`), e.g. 239.255.42.1:7400, or `[ff02::4242]:7400` with
    /// --interface. Peers heard there that carry a valid HMAC join, up to --max-peers.
    #[arg(long, value_name = "GROUP:PORT", conflicts_with = "broadcast")]
    multicast: Option<SocketAddr>,
    /// Send every heartbeat to this IPv4 broadcast address and listen on its port (TOML
    /// `discovery.broadcast`), e.g. 198.18.1.255:7400.
    #[arg(long, value_name = "ADDR:PORT")]
    broadcast: Option<SocketAddr>,
    /// The interface to join the group on (TOML `discovery.interface`): IPv4, its address
    /// [default: the kernel's choice]; IPv6, its name or index (required).
    #[arg(long, value_name = "ADDR|NAME|INDEX")]
    interface: Option<String>,
    /// Multicast TTL or hop limit, 1 to 255 (TOML `discovery.ttl`) [default: 1, this link].
    #[arg(long = "multicast-ttl", value_name = "N")]
    ttl: Option<u32>,
    /// Learn no peers: only the listed ones count (TOML `learn = false`). Required without
    /// --key-file, since only authenticated frames may create peers.
    #[arg(long)]
    no_learn: bool,
    /// The most peers held, configured and learned together; frames of further senders are
    /// refused and counted (TOML `discovery.max_peers`) [default: 64].
    #[arg(long, value_name = "N")]
    max_peers: Option<usize>,
    /// A learned peer down (or gone) this long is dropped, freeing its slot but also its replay
    /// window (TOML `discovery.forget_after`) [default: off, kept down].
    #[arg(long, value_name = "DURATION|off")]
    forget_after: Option<String>,
}

impl DiscoveryArgs {
    fn table(&self) -> DiscoveryTable {
        DiscoveryTable {
            multicast: self.multicast,
            broadcast: self.broadcast,
            interface: self.interface.clone(),
            ttl: self.ttl,
            learn: self.no_learn.then_some(false),
            max_peers: self.max_peers,
            forget_after: self.forget_after.clone(),
        }
    }
}

/// The cluster's failure detector, as flags (the TOML `[detector]` table has the same keys;
/// a `[[peer]]` may carry its own `detector = { kind = ... }`).
#[derive(Debug, clap::Args)]
struct DetectorArgs {
    /// The failure detector (TOML `detector.kind`): fixed (the negotiated timeout), adaptive
    /// (aims at --target-mistakes-per-hour), phi (Akka-compatible φ accrual), chen, two-window
    /// [default: fixed].
    #[arg(long, value_name = "KIND")]
    detector: Option<String>,
    /// fixed (TOML `detector.suspect_fraction`): suspect after this fraction of the timeout,
    /// in [0.001, 1] [default: 0.5].
    #[arg(long, value_name = "FRACTION")]
    suspect_fraction: Option<f64>,
    /// adaptive (TOML `detector.target_mistakes_per_hour`): false suspicions per hour and
    /// peer it aims at, in [0.000001, 3600] [default: 0.1].
    #[arg(long, value_name = "RATE")]
    target_mistakes_per_hour: Option<f64>,
    /// phi (TOML `detector.threshold`): Akka's threshold, in [0.5, 100] [default: 8].
    #[arg(long, value_name = "PHI")]
    threshold: Option<f64>,
    /// phi (TOML `detector.min_std_deviation`): Akka's min-std-deviation [default: 100ms].
    #[arg(long, value_name = "DURATION")]
    min_std_deviation: Option<String>,
    /// phi (TOML `detector.acceptable_heartbeat_pause`): Akka's acceptable-heartbeat-pause
    /// [default: 3s].
    #[arg(long, value_name = "DURATION")]
    acceptable_heartbeat_pause: Option<String>,
    /// phi (TOML `detector.first_heartbeat_estimate`): Akka's first-heartbeat-estimate
    /// [default: 1s].
    #[arg(long, value_name = "DURATION")]
    first_heartbeat_estimate: Option<String>,
    /// chen, two-window (TOML `detector.alpha`): the safety margin α added to the expected
    /// arrival [default: 200ms].
    #[arg(long, value_name = "DURATION")]
    alpha: Option<String>,
    /// two-window (TOML `detector.short_window`): arrivals in the short window, in [1, 1000]
    /// [default: 1].
    #[arg(long, value_name = "N")]
    short_window: Option<u32>,
}

impl DetectorArgs {
    fn table(&self) -> DetectorTable {
        DetectorTable {
            kind: self.detector.clone(),
            suspect_fraction: self.suspect_fraction,
            target_mistakes_per_hour: self.target_mistakes_per_hour,
            threshold: self.threshold,
            min_std_deviation: self.min_std_deviation.clone(),
            acceptable_heartbeat_pause: self.acceptable_heartbeat_pause.clone(),
            first_heartbeat_estimate: self.first_heartbeat_estimate.clone(),
            alpha: self.alpha.clone(),
            short_window: self.short_window,
        }
    }
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
            detector: self.detector.table(),
            local_pause: self.local_pause.clone(),
            metrics: self.metrics,
            discovery: self.discovery.table(),
            keep_generation: None,
            replay_file: self.replay_file.clone(),
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
    if let Some(discovery) = &settings.discovery {
        let group = &discovery.group;
        match group.socket().and_then(|s| s.set_nonblocking(true).map(|()| s)).and_then(tokio::net::UdpSocket::from_std)
        {
            Ok(socket) => sockets.push(socket),
            Err(err) => return refuse(format!("invalid `discovery`: cannot open {}: {err}", group.describe())),
        }
    }
    for addr in settings.listen.iter().filter(|_| settings.discovery.is_none()) {
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
    let listener = match settings.metrics.map(metrics::server::bind).transpose() {
        Ok(listener) => listener,
        Err(err) => return refuse(format!("invalid `metrics`: cannot listen: {err}")),
    };
    let _logging = logging::init(args.json);
    // Made before the hooks start, so that they count every run.
    let metrics = listener.as_ref().map(|_| Arc::new(Metrics::new()));
    let hooks = match Hooks::start_observed(settings.hooks.clone(), metrics.as_ref().map(|m| m.hooks())) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    let reloader = Reloader::new(args.config.clone(), args.overrides(), settings.clone());
    let code = runtime.block_on(serve(settings, sockets, control, listener, metrics, reloader, hooks.sender()));
    hooks.finish();
    code
}

async fn serve(
    mut settings: NodeSettings,
    sockets: Vec<tokio::net::UdpSocket>,
    control: Option<Server>,
    metrics_listener: Option<std::net::TcpListener>,
    metrics: Option<Arc<Metrics>>,
    reloader: Reloader,
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
    if let Some(metrics) = &metrics {
        settings.detector = settings.detector.clone().with_intervals(metrics.interval_family());
    }
    let mut driver = match Driver::new(settings.config, settings.detector.clone(), sockets, tokio_clock()) {
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
    if let Some(discovery) = &settings.discovery {
        driver.set_group(heartbeat_proto::LinkId(0), discovery.group.destination());
    }
    let replay_file = settings.replay_file.clone().map(|path| ReplayFile::new(path, config.cluster(), config.node()));
    if let Some(file) = &replay_file {
        resume_watermarks(file, &mut driver);
    }
    if let Err(err) = driver.precise_timer() {
        warn!(%err, "no nanosecond timer: detections may come up to 2 ms late");
    }
    let mut events = driver.subscribe();
    let node = driver.spawn();
    if let (Some(listener), Some(metrics)) = (metrics_listener, &metrics)
        && let Err(err) = metrics::server::spawn(listener, Arc::clone(metrics), node.clone())
    {
        eprintln!("error: cannot serve metrics: {err}");
        return ExitCode::FAILURE;
    }
    info!(
        node = config.node().get(),
        generation = config.generation().0,
        listen = ?node.local_addrs(),
        peers = settings.peers.len(),
        interval_ms = config.interval().as_secs_f64() * 1e3,
        timeout_ms = config.timeout().as_secs_f64() * 1e3,
        detector = settings.detector.describe(),
        local_pause_ms = config.local_pause().map(|p| p.as_secs_f64() * 1e3),
        control = ?settings.control,
        metrics = ?settings.metrics,
        discovery = settings.discovery.as_ref().map(|d| d.group.describe()),
        learning = settings.discovery.as_ref().is_some_and(|d| d.learn),
        "node started"
    );
    let reloader = reloader.with_metrics(metrics.clone());
    let timing = reloader.timing();
    let detectors = reloader.detectors();
    let explanations = Arc::new(Explanations::default());
    crate::notify::ready(&format!("node {} watching {} peer(s)", config.node().get(), settings.peers.len()));
    let watchdog = async {
        match crate::notify::watchdog_period() {
            Some(period) => crate::notify::watchdog(node.clone(), period).await,
            None => std::future::pending().await,
        }
    };
    let reloads = reloader.outcome();
    let discovery = settings.discovery.clone();
    let learning = async {
        match discovery.clone() {
            Some(d) => discovery::watch(node.clone(), d, config.interval(), metrics.as_deref()).await,
            None => std::future::pending().await,
        }
    };
    let keep_replay_file = async {
        match &replay_file {
            Some(file) => file.clone().keep(node.clone()).await,
            None => std::future::pending().await,
        }
    };
    let answer = || {
        let replay = replay_file.as_ref().map(ReplayFile::report);
        let node = node.clone();
        let discovery = discovery.clone();
        let detectors = Arc::clone(&detectors);
        let explanations = Arc::clone(&explanations);
        let reloads = Arc::clone(&reloads);
        async move {
            let status = node.status().await.ok()?;
            let reload = reloads.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let detectors = detectors.read().unwrap_or_else(|e| e.into_inner()).clone();
            let report = StatusReport::new(&status)
                .with_detectors(&detectors)
                .with_verdicts(&explanations)
                .with_reload(reload)
                .with_replay_file(replay);
            Some(match &discovery {
                Some(d) => report.with_discovery(discovery::DiscoveryReport::new(d, &status)),
                None => report,
            })
        }
    };
    tokio::select! {
        () = log_events(&mut events, metrics.as_deref(), &explanations, &hooks, &timing) => {}
        () = reachability::watch(node.clone(), timing.clone(), metrics.as_deref()) => {}
        () = watchdog => {}
        () = learning => {}
        () = reloader.serve(node.clone()) => {}
        () = keep_replay_file => {}
        signal = daemon::serve_until_stopped(control.as_ref(), &mut signals, answer) => {
            crate::notify::stopping();
            info!(signal, "stopping: saying goodbye to every peer");
        }
    }
    if let (Some(file), Ok(marks)) = (&replay_file, node.watermarks().await) {
        // The last write, with everything accepted up to the goodbye.
        let file = file.clone();
        let _ = tokio::task::spawn_blocking(move || file.store(&marks)).await;
    }
    node.shutdown().await;
    info!("goodbye sent; node stopped");
    ExitCode::SUCCESS
}

/// Resumes every configured peer's watermark from the replay file, before the first frame.
fn resume_watermarks(file: &ReplayFile, driver: &mut Driver<tokio::net::UdpSocket, crate::detectors::Selected>) {
    let loaded = file.load();
    let (mut resumed, mut skipped) = (0, 0);
    if let replay_file::Loaded::Found(entries) = &loaded {
        for entry in entries {
            match driver.resume_watermark(entry.peer, entry.mark) {
                Ok(()) => resumed += 1,
                Err(_) => skipped += 1,
            }
        }
    }
    file.record_load(&loaded, resumed, skipped);
}

/// Logs every event (a verdict with its evidence), counts it in the metrics and hands it to the
/// hooks, until the driver stops sending them (none is ever missed).
async fn log_events(
    events: &mut Subscription<Event>,
    metrics: Option<&Metrics>,
    explanations: &Explanations,
    hooks: &HookSender,
    timing: &watch::Receiver<Timing>,
) {
    while let Ok(event) = events.recv().await {
        if explanations.absorb(&event) {
            continue;
        }
        let evidence = explanations.for_verdict(&event);
        logging::event_explained(&event, evidence.as_ref());
        if let (Some(metrics), Some(evidence)) = (metrics, &evidence) {
            metrics.record_verdict(event.peer.get(), evidence);
        }
        if let Some(metrics) = metrics {
            metrics.record_event(&event);
        }
        let timeout = timing.borrow().timeout;
        if let Some(hook) =
            hooks.is_active().then(|| hooks::profiles::node(&event, Profile::Run, None, timeout)).flatten()
        {
            hooks.send(hook);
        }
    }
}
