//! HA resources of `heartbeat linux-ha`: the `[[resource]]` tables of its `--config` file, and
//! the task that runs the core's [`ResourceManager`] — verdicts and announcements in, resource
//! agents' `start` / `stop` / `status` out through the shared runner ([`command::run`]), each
//! on its own task so a slow agent never delays heartbeats or detection.
//!
//! ```toml
//! auto_failback = "on"          # on | off | legacy (as on); default: ha.cf's auto_failback
//! status_interval = "5s"        # how often `status` runs for what we hold
//!
//! [[resource]]
//! name = "ip"
//! preferred = "hbnode1"
//! start = { command = ["/etc/ha.d/ip.sh", "start"], timeout = "5s" }
//! stop = { command = ["/etc/ha.d/ip.sh", "stop"], timeout = "5s" }
//! status = { command = ["/etc/ha.d/ip.sh", "status"], timeout = "2s" }
//! ```
//!
//! Every agent gets `HB_RESOURCE`, `HB_COMMAND` (`start`, `stop`, `status`), `HB_NODE` (ours)
//! and, for a stop, `HB_REASON` in its environment, and the same as one JSON line on stdin.
//! Before joining, the node runs every resource's `stop` once ([`Resources::release_leftovers`]),
//! so that what a crashed earlier run left behind is released. A failing `status` is logged as `resource R failed`; the resource is then stopped here and
//! the other node takes it over (see the core's rules in
//! [`heartbeat_proto::linuxha::resources`]).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heartbeat_proto::linuxha::AutoFailback;
use heartbeat_proto::linuxha::resources::{
    Claim, Command, Failback, Local, Output, ResourceEvent, ResourceId, ResourceManager, StopReason, Verdict,
};
use heartbeat_std::Clock;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use crate::command::{self, CommandSpec};
use crate::hooks::event::EventName;
use crate::hooks::{HookEvent, HookSender, Profile};

/// The file `--config` names.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ResourcesFile {
    /// `on`, `off` or `legacy`; `None`: ha.cf's.
    #[serde(default)]
    pub(crate) auto_failback: Option<String>,
    /// How often `status` runs.
    #[serde(default, with = "opt_duration")]
    pub(crate) status_interval: Option<Duration>,
    /// The resources.
    #[serde(default)]
    pub(crate) resource: Vec<ResourceConfig>,
}

/// One `[[resource]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceConfig {
    pub(crate) name: String,
    pub(crate) preferred: String,
    pub(crate) start: CommandSpec,
    pub(crate) stop: CommandSpec,
    #[serde(default)]
    pub(crate) status: Option<CommandSpec>,
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(Some).map_err(serde::de::Error::custom)
    }
}

const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(5);

impl ResourcesFile {
    /// Reads and checks `path`.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid {}: {e}", path.display()))
    }

    /// `auto_failback`, from this file or else ha.cf (`legacy` behaves as `on`).
    pub(crate) fn failback(&self, ha_cf: AutoFailback) -> Result<Failback, String> {
        match self.auto_failback.as_deref() {
            None => Ok(if ha_cf == AutoFailback::Off { Failback::Off } else { Failback::On }),
            Some("on" | "legacy") => Ok(Failback::On),
            Some("off") => Ok(Failback::Off),
            Some(other) => Err(format!("auto_failback must be on, off or legacy, not `{other}`")),
        }
    }
}

/// One resource's line in `heartbeat status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ResourceReport {
    pub(crate) name: String,
    pub(crate) preferred: String,
    /// The nodes that hold it, as far as this node knows.
    pub(crate) held_by: Vec<String>,
    /// Our own state: stopped, starting, held, stopping, failed, stuck.
    pub(crate) here: String,
}

/// What reaches the resource task.
#[derive(Debug)]
pub(crate) enum Input {
    Verdict(String, Verdict),
    Restarted(String),
    Announcement(String, String),
    Outcome(ResourceId, Command, bool),
}

/// The resource task: its manager, the agents, and where inputs arrive.
pub(crate) struct Resources {
    manager: ResourceManager,
    configs: Vec<ResourceConfig>,
    me: String,
    clock: Clock,
    status_interval: Duration,
    inputs: mpsc::UnboundedReceiver<Input>,
    sender: mpsc::UnboundedSender<Input>,
    report: Arc<Mutex<Vec<ResourceReport>>>,
    hooks: Option<HookSender>,
}

/// Sends our announcement (through the driver's handle).
pub(crate) type Announce<'a> = &'a (dyn Fn(String) + Sync);

impl Resources {
    /// The manager of node `me` among `nodes`, with `initdead`, incarnation `generation`.
    pub(crate) fn new(
        file: &ResourcesFile,
        failback: Failback,
        me: &str,
        nodes: &[&str],
        initdead: Duration,
        generation: u32,
        clock: Clock,
    ) -> Result<Self, String> {
        let pairs: Vec<(&str, &str)> = file.resource.iter().map(|r| (r.name.as_str(), r.preferred.as_str())).collect();
        let manager = ResourceManager::new(me, nodes, &pairs, failback, initdead, generation, clock.now())
            .map_err(|e| format!("invalid [[resource]]: {e}"))?;
        let (sender, inputs) = mpsc::unbounded_channel();
        Ok(Resources {
            manager,
            configs: file.resource.clone(),
            me: me.to_string(),
            clock,
            status_interval: file.status_interval.unwrap_or(DEFAULT_STATUS_INTERVAL),
            inputs,
            sender,
            report: Arc::default(),
            hooks: None,
        })
    }

    /// Hands `resource-started` / `-stopped` / `-failed` to the event hooks.
    pub(crate) fn set_hooks(&mut self, hooks: HookSender) {
        self.hooks = Some(hooks).filter(HookSender::is_active);
    }

    fn hook(&self, event: EventName, resource: ResourceId, reason: Option<&str>) {
        let Some(hooks) = &self.hooks else { return };
        let at = self.clock.now().since_epoch().as_secs_f64();
        let mut hook = HookEvent::new(event, Profile::LinuxHa, self.me.clone(), at);
        hook.resource = Some(self.manager.resource_name(resource).to_string());
        hook.reason = reason.map(String::from);
        hooks.send(hook);
    }

    /// Where verdicts, announcements and outcomes go (from any thread).
    pub(crate) fn sender(&self) -> mpsc::UnboundedSender<Input> {
        self.sender.clone()
    }

    /// Who holds what, kept current by the task.
    pub(crate) fn report(&self) -> Arc<Mutex<Vec<ResourceReport>>> {
        self.report.clone()
    }

    /// Runs every resource's `stop` once, before this node joins: whatever an earlier run
    /// that crashed left behind (an address still configured) is released, so this node's
    /// "I hold nothing" is true. Agents' `stop` must be idempotent.
    pub(crate) async fn release_leftovers(&self) {
        for config in &self.configs {
            let name = &config.name;
            let env = [
                ("HB_RESOURCE".to_string(), name.clone()),
                ("HB_COMMAND".to_string(), "stop".to_string()),
                ("HB_NODE".to_string(), self.me.clone()),
                ("HB_REASON".to_string(), "starting".to_string()),
            ];
            let input = serde_json::json!({"resource": name, "command": "stop", "node": self.me, "reason": "starting"});
            let outcome = command::run(&config.stop, &env, format!("{input}\n").as_bytes()).await;
            let took_ms = outcome.took.as_secs_f64() * 1e3;
            if outcome.succeeded() {
                info!(
                    kind = "resource-released-at-start",
                    resource = name,
                    took_ms,
                    "resource {name}: stopped before joining"
                );
            } else {
                warn!(
                    kind = "resource-command-failed",
                    resource = name,
                    command = "stop",
                    took_ms,
                    "resource {name}: stop before joining {}",
                    outcome.ended
                );
            }
        }
    }

    /// Runs until `stop` fires, then leaves (stops what we hold) and returns when every stop
    /// has ended: the caller sends the shutdown notice after that.
    pub(crate) async fn run(mut self, announce: Announce<'_>, mut stop: oneshot::Receiver<()>) {
        let mut status = tokio::time::interval(self.status_interval);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        status.tick().await;
        let mut leaving = false;
        self.manager.tick(self.clock.now());
        loop {
            if self.drain(announce) {
                return;
            }
            let wake = self.manager.poll_timeout().map(|at| self.clock.until(at));
            let sleep = tokio::time::sleep(wake.unwrap_or(Duration::from_secs(3600)));
            tokio::select! {
                input = self.inputs.recv() => match input {
                    Some(input) => self.input(input),
                    None => return,
                },
                () = sleep => self.manager.tick(self.clock.now()),
                _ = status.tick() => self.manager.check(self.clock.now()),
                _ = &mut stop, if !leaving => {
                    leaving = true;
                    info!(kind = "resources-leaving", "leaving: stopping every resource held here first");
                    self.manager.leave(self.clock.now());
                }
            }
        }
    }

    fn input(&mut self, input: Input) {
        let now = self.clock.now();
        match input {
            Input::Verdict(node, verdict) => {
                self.manager.on_verdict(now, &node, verdict);
            }
            Input::Restarted(node) => {
                self.manager.on_restart(now, &node);
            }
            Input::Announcement(node, text) => {
                if let Err(err) = self.manager.on_announcement(now, &node, &text) {
                    warn!(kind = "announcement-refused", node, text, "announcement from {node} refused: {err}");
                }
            }
            Input::Outcome(resource, command, ok) => {
                let _ = self.manager.on_outcome(now, resource, command, ok);
            }
        }
    }

    /// Carries out every output and logs every event; returns whether it is time to leave.
    fn drain(&mut self, announce: Announce<'_>) -> bool {
        // Events first: "held here and on X: we stop" reads before the stop it causes.
        while let Some(event) = self.manager.poll_event() {
            self.log(event);
        }
        let mut leave = false;
        while let Some(output) = self.manager.poll_output() {
            match output {
                Output::Run { resource, command, reason } => self.spawn(resource, command, reason),
                Output::Announce => announce(self.manager.announcement().to_string()),
                Output::Leave => leave = true,
            }
        }
        self.update_report();
        leave
    }

    fn spawn(&self, resource: ResourceId, command: Command, reason: Option<StopReason>) {
        let config = &self.configs[resource.0];
        let name = config.name.clone();
        let verb = verb(command);
        let spec = match command {
            Command::Start => Some(config.start.clone()),
            Command::Stop => Some(config.stop.clone()),
            Command::Status => config.status.clone(),
        };
        let sender = self.sender.clone();
        let Some(spec) = spec else {
            // No status command: nothing to check, healthy.
            let _ = sender.send(Input::Outcome(resource, command, true));
            return;
        };
        let reason = reason.map(reason_name);
        if command != Command::Status {
            info!(kind = "resource-command", resource = name, command = verb, reason, "resource {name}: {verb}");
        }
        let mut env = vec![
            ("HB_RESOURCE".to_string(), name.clone()),
            ("HB_COMMAND".to_string(), verb.to_string()),
            ("HB_NODE".to_string(), self.me.clone()),
        ];
        if let Some(reason) = reason {
            env.push(("HB_REASON".to_string(), reason.to_string()));
        }
        let input = serde_json::json!({"resource": name, "command": verb, "node": self.me, "reason": reason});
        tokio::spawn(async move {
            let outcome = command::run(&spec, &env, format!("{input}\n").as_bytes()).await;
            let ok = outcome.succeeded();
            let took_ms = outcome.took.as_secs_f64() * 1e3;
            if ok {
                if command != Command::Status {
                    info!(
                        kind = "resource-command-done",
                        resource = name,
                        command = verb,
                        took_ms,
                        "resource {name}: {verb} succeeded"
                    );
                }
            } else {
                warn!(
                    kind = "resource-command-failed",
                    resource = name,
                    command = verb,
                    took_ms,
                    stderr = outcome.stderr.trim_end(),
                    "resource {name}: {verb} {}",
                    outcome.ended
                );
            }
            let _ = sender.send(Input::Outcome(resource, command, ok));
        });
    }

    fn log(&self, event: ResourceEvent) {
        let m = &self.manager;
        match event {
            ResourceEvent::Started(r) => {
                let name = m.resource_name(r);
                info!(kind = "resource-started", resource = name, "resource {name} started: held here");
                self.hook(EventName::ResourceStarted, r, None);
            }
            ResourceEvent::Stopped(r) => {
                let name = m.resource_name(r);
                info!(kind = "resource-stopped", resource = name, "resource {name} stopped: released here");
                self.hook(EventName::ResourceStopped, r, None);
            }
            ResourceEvent::Failed(r, command) => {
                let name = m.resource_name(r);
                let reaction = match command {
                    Command::Stop => "still counted as held here; no further automatic move",
                    _ => "stopping it here; the other node takes it over",
                };
                error!(
                    kind = "resource-failed",
                    resource = name,
                    command = verb(command),
                    "resource {name} failed ({}): {reaction}",
                    verb(command)
                );
                self.hook(EventName::ResourceFailed, r, Some(verb(command)));
            }
            ResourceEvent::DoubleHeld { resource, peer, we_keep } => {
                let name = m.resource_name(resource);
                let peer = m.node_name(peer);
                let outcome =
                    if we_keep { "we keep it (tie-break), it stops" } else { "it keeps it (tie-break), we stop" };
                error!(
                    kind = "resource-double-held",
                    resource = name,
                    peer,
                    we_keep,
                    "resource {name} held here and on {peer}: {outcome}"
                );
            }
        }
    }

    fn update_report(&self) {
        let m = &self.manager;
        let lines = (0..m.len())
            .map(|i| {
                let r = ResourceId(i);
                ResourceReport {
                    name: m.resource_name(r).to_string(),
                    preferred: self.configs[i].preferred.to_ascii_lowercase(),
                    held_by: m.holders(r).map(|n| holder_label(m.node_name(n), m.claim(n, r))).collect(),
                    here: local_name(m.local(r)).to_string(),
                }
            })
            .collect();
        if let Ok(mut report) = self.report.lock() {
            *report = lines;
        }
    }
}

fn holder_label(node: &str, claim: Claim) -> String {
    match claim {
        Claim::Releasing => format!("{node} (releasing)"),
        _ => node.to_string(),
    }
}

fn local_name(local: Option<Local>) -> &'static str {
    match local {
        Some(Local::Stopped) | None => "stopped",
        Some(Local::Starting) => "starting",
        Some(Local::Held { .. }) => "held",
        Some(Local::Stopping(_)) => "stopping",
        Some(Local::Failed) => "failed",
        Some(Local::Stuck) => "stuck",
    }
}

fn verb(command: Command) -> &'static str {
    match command {
        Command::Start => "start",
        Command::Stop => "stop",
        Command::Status => "status",
    }
}

fn reason_name(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Leaving => "leaving",
        StopReason::Failback => "failback",
        StopReason::LostTieBreak => "lost-tie-break",
        StopReason::Failure => "failure",
    }
}

/// Our resources' lines of the `heartbeat status` table.
pub(crate) fn table(lines: &[ResourceReport]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!("{:<20} {:<20} {:<10} HELD BY\n", "RESOURCE", "PREFERRED", "HERE");
    for r in lines {
        let held = if r.held_by.is_empty() { "-".to_string() } else { r.held_by.join(", ") };
        out += &format!("{:<20} {:<20} {:<10} {held}\n", r.name, r.preferred, r.here);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
auto_failback = "off"
status_interval = "2s"

[[resource]]
name = "vip"
preferred = "hbnode1"
start = { command = ["/bin/true"], timeout = "3s" }
stop = { command = ["/bin/true"] }
"#;

    #[test]
    fn resources_are_read_with_their_commands_and_failback() {
        let file: ResourcesFile = toml::from_str(FILE).unwrap();
        assert_eq!(file.resource.len(), 1);
        assert_eq!(file.resource[0].start.timeout, Duration::from_secs(3));
        assert!(file.resource[0].status.is_none());
        assert_eq!(file.status_interval, Some(Duration::from_secs(2)));
        assert_eq!(file.failback(AutoFailback::On), Ok(Failback::Off), "the file wins over ha.cf");
        let none: ResourcesFile = toml::from_str("").unwrap();
        assert_eq!(none.failback(AutoFailback::Off), Ok(Failback::Off));
        assert_eq!(none.failback(AutoFailback::Legacy), Ok(Failback::On), "legacy behaves as on");
        let bad: ResourcesFile = toml::from_str("auto_failback = \"sometimes\"").unwrap();
        assert!(bad.failback(AutoFailback::On).is_err());
    }

    #[test]
    fn a_resource_with_an_unknown_key_or_no_stop_is_refused() {
        let typo = FILE.replace("preferred", "prefered");
        assert!(toml::from_str::<ResourcesFile>(&typo).is_err());
        let no_stop = FILE.replace("stop = { command = [\"/bin/true\"] }\n", "");
        assert!(toml::from_str::<ResourcesFile>(&no_stop).is_err());
    }

    #[test]
    fn the_table_lists_each_resource_with_its_holders() {
        let lines = [ResourceReport {
            name: "vip".into(),
            preferred: "hbnode1".into(),
            held_by: vec!["hbnode2 (releasing)".into()],
            here: "stopped".into(),
        }];
        let table = table(&lines);
        assert!(table.starts_with("RESOURCE"), "{table}");
        assert!(
            table.lines().nth(1).is_some_and(|l| l.starts_with("vip") && l.ends_with("hbnode2 (releasing)")),
            "{table}"
        );
        assert_eq!(super::table(&[]), "");
    }
}
