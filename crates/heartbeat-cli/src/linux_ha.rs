//! `heartbeat linux-ha`: a member of a Linux-HA Heartbeat 3.0.6 cluster, configured by the
//! cluster's own unmodified `ha.cf` and `authkeys`, on the std driver; its report for
//! `heartbeat status`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use heartbeat_proto::linuxha::{HaCf, LinuxHaNode, read_authkeys};
use heartbeat_proto::{Event, EventKind, FixedTimeout, Generation, NodeId};
use heartbeat_std::Clock;
use heartbeat_std::linuxha::{LinuxHaDriver, LinuxHaHandle, LinuxHaStatus};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::control::Server;
use crate::daemon::{self, StopSignals, refuse};
use crate::hooks::{self, HookSettings, Hooks, Profile};
use crate::logging;
use crate::resources::{self, Input, ResourceReport, Resources, ResourcesFile};
use crate::run::report::state_name;
use heartbeat_proto::linuxha::resources::Verdict;

/// Example: `heartbeat linux-ha --ha-cf /etc/ha.d/ha.cf --authkeys /etc/ha.d/authkeys`
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The cluster's `ha.cf` (read as Heartbeat reads it: node, ucast/mcast/bcast, udpport,
    /// keepalive, deadtime, initdead; everything else is skipped).
    #[arg(long = "ha-cf", value_name = "PATH")]
    ha_cf: PathBuf,
    /// The cluster's `authkeys` (refused if group or others may read it, as Heartbeat does).
    #[arg(long, value_name = "PATH")]
    authkeys: PathBuf,
    /// Our node name, one of the `node` names [default: the host name, as `uname -n`].
    #[arg(long, value_name = "NAME")]
    node_name: Option<String>,
    /// Receive on PORT instead of ha.cf's `udpport` (tests with several nodes on one host).
    #[arg(long, value_name = "PORT")]
    listen_port: Option<u16>,
    /// Keep our generation (`hg`) in PATH, as Heartbeat keeps its own in
    /// `/var/lib/heartbeat/hb_generation`: each start takes the larger of the stored one + 1
    /// and the wall clock's seconds, and writes it (atomically) before the first heartbeat.
    /// Without it the generation is the wall clock's seconds alone.
    #[arg(long, value_name = "PATH")]
    generation_file: Option<PathBuf>,
    /// Unix socket on which to answer `heartbeat status`.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// TOML file of `[[hook]]` tables (events, peers, command, timeout) and `hooks_at_once`:
    /// commands run on events (see the README's "Event hooks").
    #[arg(long, value_name = "FILE")]
    hooks: Option<PathBuf>,
    /// Log one JSON object per line.
    #[arg(long)]
    json: bool,
    /// A TOML file of HA resources (`[[resource]]` tables, `auto_failback`,
    /// `status_interval`) this pair holds and fails over.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Our view as the control socket answers it; `linux_ha_node` tells it from the other reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LinuxHaReport {
    pub(crate) linux_ha_node: String,
    pub(crate) heartbeats_sent: u64,
    pub(crate) nodes: Vec<NodeReport>,
    pub(crate) refused_unauthentic: u64,
    pub(crate) refused_other: u64,
    pub(crate) datagrams_sent: u64,
    pub(crate) datagrams_received: u64,
    pub(crate) socket_errors: u64,
    /// Who holds which resource (absent in reports of nodes without resources).
    #[serde(default)]
    pub(crate) resources: Vec<ResourceReport>,
}

/// One other node's line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NodeReport {
    pub(crate) name: String,
    pub(crate) state: String,
    /// Milliseconds since it was last heard; `None` if never.
    pub(crate) last_heard_ms: Option<f64>,
    /// The deadtime in force for it (its `dt`, clamped).
    pub(crate) deadtime_ms: f64,
    pub(crate) generation: Option<u32>,
}

impl LinuxHaReport {
    fn new(me: &str, status: &LinuxHaStatus, resources: Vec<ResourceReport>) -> Self {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        LinuxHaReport {
            linux_ha_node: me.to_string(),
            heartbeats_sent: status.sent_sequence,
            nodes: status
                .peers
                .iter()
                .map(|(name, p)| NodeReport {
                    name: name.clone(),
                    state: state_name(p.liveness).to_string(),
                    last_heard_ms: p.last_heard.map(|t| ms(status.now - t)),
                    deadtime_ms: ms(p.timeout),
                    generation: p.generation.map(|g| g.0),
                })
                .collect(),
            refused_unauthentic: status.unauthentic,
            refused_other: status.other_refused,
            datagrams_sent: status.io.sent,
            datagrams_received: status.io.received,
            socket_errors: status.io.send_errors + status.io.recv_errors,
            resources,
        }
    }

    /// The table `heartbeat status` prints.
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "linux-ha node {}: {} heartbeats sent, {} refused (wrong key), {} other refused\n{:<20} {:<8} {:>14} {:>12} {:>10}\n",
            self.linux_ha_node,
            self.heartbeats_sent,
            self.refused_unauthentic,
            self.refused_other,
            "NODE",
            "STATE",
            "LAST HEARD ms",
            "DEADTIME ms",
            "GEN"
        );
        for n in &self.nodes {
            let heard = n.last_heard_ms.map_or("-".to_string(), |m| format!("{m:.0}"));
            let generation = n.generation.map_or("-".to_string(), |g| format!("{g:x}"));
            out += &format!("{:<20} {:<8} {heard:>14} {:>12.0} {generation:>10}\n", n.name, n.state, n.deadtime_ms);
        }
        out + &resources::table(&self.resources)
    }
}

/// The host name, as `uname -n` prints it (the UTS namespace's).
fn hostname() -> Result<String, String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .map_err(|err| format!("cannot read the host name (give --node-name): {err}"))
}

fn wall_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_secs())
}

/// Reads both files, builds the node and binds its socket before anything runs.
pub(crate) fn main(args: Args) -> ExitCode {
    let hooks = match hooks::settings::load(args.hooks.as_deref(), Profile::LinuxHa) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    match start(&args) {
        Ok((driver, me, resources)) => serve(driver, me, resources, &args, hooks),
        Err(err) => refuse(err),
    }
}

fn start(args: &Args) -> Result<(LinuxHaDriver, String, Option<Resources>), String> {
    let text = read(&args.ha_cf)?;
    let cf = HaCf::parse(&text).map_err(|err| format!("invalid {}: {err}", args.ha_cf.display()))?;
    let keys = read_authkeys(&args.authkeys).map_err(|err| format!("invalid {}: {err}", args.authkeys.display()))?;
    let me = match &args.node_name {
        Some(name) => name.clone(),
        None => hostname()?,
    };
    if !cf.has_node(&me) {
        return Err(format!("node name `{me}` is not a `node` of {}", args.ha_cf.display()));
    }
    let generation = match &args.generation_file {
        Some(path) => next_generation(path, wall_secs())?,
        // A time-based generation: larger after every restart while the wall clock goes forward.
        None => Generation(u32::try_from(wall_secs()).unwrap_or(u32::MAX)),
    };
    let clock = Clock::new();
    let mut node = LinuxHaNode::new(&cf, &me, keys, generation, FixedTimeout::new(), clock.now(), wall_secs())
        .map_err(|err| format!("cannot start: {err}"))?;
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        node.set_load(load.trim_end());
    }
    let port = args.listen_port.unwrap_or(cf.udpport);
    let resources = match &args.config {
        None => None,
        Some(path) => {
            let file = ResourcesFile::read(path)?;
            let failback = file.failback(cf.auto_failback)?;
            Some(Resources::new(&file, failback, &me, &cf.nodes, cf.initdead, generation.0, clock)?)
        }
    };
    let driver = LinuxHaDriver::bind(node, port, clock).map_err(|err| format!("cannot bind udp port {port}: {err}"))?;
    Ok((driver, me.to_ascii_lowercase(), resources))
}

/// This start's generation: above the stored one (so above every earlier start's, whatever the
/// clock did) and at least the wall clock's seconds (so above a generation an earlier daemon
/// on this node used, stored or time-based), persisted before it is used.
fn next_generation(path: &Path, wall_secs: u64) -> Result<Generation, String> {
    let stored = match std::fs::read_to_string(path) {
        Ok(text) => Some(
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("{} does not hold a generation (a decimal number)", path.display()))?,
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    let clock = u32::try_from(wall_secs).unwrap_or(u32::MAX);
    let next = stored.map_or(clock, |g| g.saturating_add(1).max(clock));
    if stored == Some(u32::MAX) {
        return Err(format!("{}: the generation cannot grow past {}", path.display(), u32::MAX));
    }
    write_atomically(path, &format!("{next}\n"))
        .map_err(|err| format!("cannot write the generation to {}: {err}", path.display()))?;
    Ok(Generation(next))
}

/// Writes `text` to a temporary file beside `path`, syncs it and renames it over `path`, so
/// that a crash leaves the old or the new generation, never a torn one.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

fn serve(
    driver: LinuxHaDriver,
    me: String,
    resources: Option<Resources>,
    args: &Args,
    hooks: HookSettings,
) -> ExitCode {
    let runtime = match daemon::runtime() {
        Ok(runtime) => runtime,
        Err(err) => return refuse(err),
    };
    let _context = runtime.enter();
    let control = match daemon::bind_control(args.control.as_deref(), "node") {
        Ok(control) => control,
        Err(err) => return refuse(err),
    };
    let _logging = logging::init(args.json);
    let node = driver.node();
    let names: Vec<(u64, String)> =
        (1..=node.names().len() as u64).filter_map(|i| Some((i, node.name(NodeId::new(i)?)?.to_string()))).collect();
    info!(
        node = %me,
        listen = ?driver.local_addr().ok(),
        destinations = ?node.destinations(),
        generation = node.monitor().config().generation().0,
        "linux-ha node {me} started"
    );
    let hooks = match Hooks::start(hooks) {
        Ok(hooks) => hooks,
        Err(err) => return refuse(err),
    };
    let (sender, deadtime) = (hooks.sender(), node.monitor().config().timeout());
    let mut resources = resources;
    if let Some(resources) = &mut resources {
        resources.set_hooks(sender.clone());
        runtime.block_on(resources.release_leftovers());
    }
    let inputs = resources.as_ref().map(Resources::sender);
    let driver = match inputs.clone() {
        Some(inputs) => driver.with_announcements(move |node, text| {
            let _ = inputs.send(Input::Announcement(node.to_string(), text.to_string()));
        }),
        None => driver,
    };
    let running = match driver.spawn(move |event| {
        log_event(&names, &event);
        if sender.is_active() {
            let name = names.iter().find(|(i, _)| *i == event.peer.get()).map(|(_, n)| n.as_str());
            if let Some(hook) = hooks::profiles::node(&event, Profile::LinuxHa, name, deadtime) {
                sender.send(hook);
            }
        }
        if let Some(inputs) = &inputs {
            forward(&names, &event, inputs);
        }
    }) {
        Ok(running) => running,
        Err(err) => {
            eprintln!("error: cannot start the driver: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let report = resources.as_ref().map(Resources::report);
        let Some(resources) = resources else {
            return wait(&running, &me, control, report).await;
        };
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let announce = |text: String| {
            let _ = running.announce(text);
        };
        let work = resources.run(&announce, stopped);
        tokio::pin!(work);
        let code = tokio::select! {
            code = wait(&running, &me, control, report) => code,
            () = &mut work => {
                warn!("the resource task ended early");
                return ExitCode::FAILURE;
            }
        };
        // Stop what we hold; the shutdown notice follows.
        let _ = stop.send(());
        work.await;
        code
    });
    info!("stopping: shutdown notice to every node");
    running.shutdown();
    hooks.finish();
    info!("stopped");
    code
}

/// Runs until SIGINT or SIGTERM, answering the control socket.
async fn wait(
    node: &LinuxHaHandle,
    me: &str,
    control: Option<Server>,
    resources: Option<Arc<Mutex<Vec<ResourceReport>>>>,
) -> ExitCode {
    let mut signals = match StopSignals::new() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let answer = || {
        let lines = resources.as_ref().and_then(|r| r.lock().ok().map(|r| r.clone())).unwrap_or_default();
        std::future::ready(node.status().ok().map(|status| LinuxHaReport::new(me, &status, lines)))
    };
    let signal = daemon::serve_until_stopped(control.as_ref(), &mut signals, answer).await;
    info!(signal, "signal");
    ExitCode::SUCCESS
}

/// Hands a liveness verdict to the resource task.
fn forward(names: &[(u64, String)], event: &Event, inputs: &tokio::sync::mpsc::UnboundedSender<Input>) {
    let id = event.peer.get();
    let Some((_, name)) = names.iter().find(|(i, _)| *i == id) else { return };
    let input = match event.kind {
        EventKind::Up { .. } => Input::Verdict(name.clone(), Verdict::Up),
        EventKind::Down { .. } => Input::Verdict(name.clone(), Verdict::Down),
        EventKind::Left => Input::Verdict(name.clone(), Verdict::Left),
        EventKind::Restarted { .. } => Input::Restarted(name.clone()),
        _ => return,
    };
    let _ = inputs.send(input);
}

/// Logs one event by node name: `node hbnode1 up`, `node hbnode1 dead: silent for 2000.1 ms`,
/// `node hbnode1 left`, `node hbnode1 restarted`.
fn log_event(names: &[(u64, String)], event: &Event) {
    let id = event.peer.get();
    let name = names.iter().find(|(i, _)| *i == id).map_or("?", |(_, n)| n.as_str());
    let at = event.at.since_epoch().as_secs_f64();
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    match event.kind {
        EventKind::Up { generation } => {
            info!(kind = "up", node = name, at, generation = generation.0, "node {name} up");
        }
        EventKind::Down { last_heard, deadline } => {
            let silent_ms = last_heard.map(|t| ms(event.at - t));
            let late_ms = ms(event.at - deadline);
            warn!(kind = "dead", node = name, at, silent_ms, late_ms, "node {name} dead");
        }
        EventKind::Left => info!(kind = "left", node = name, at, "node {name} left"),
        EventKind::Restarted { previous, generation } => {
            let (previous, generation) = (previous.0, generation.0);
            info!(kind = "restarted", node = name, at, previous, generation, "node {name} restarted");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generation_file_only_grows_and_is_written_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hb_generation");
        assert_eq!(next_generation(&path, 1_000).unwrap(), Generation(1_000), "first start: the clock");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1000\n");
        // The clock went back: still one more than stored.
        assert_eq!(next_generation(&path, 10).unwrap(), Generation(1_001));
        assert_eq!(next_generation(&path, 5_000).unwrap(), Generation(5_000), "the clock ahead of it");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "5000\n");
        std::fs::write(&path, "garbage").unwrap();
        assert!(next_generation(&path, 1).unwrap_err().contains("does not hold a generation"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage", "a refused file is left alone");
        std::fs::write(&path, format!("{}", u32::MAX)).unwrap();
        assert!(next_generation(&path, 1).is_err());
    }
}
