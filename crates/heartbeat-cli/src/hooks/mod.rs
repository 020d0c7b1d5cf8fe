//! Event hooks: operators' commands run on a node's events, in every long-running subcommand.
//!
//! A hook is a `[[hook]]` table ([`settings`]): which events, which peers, a command and a
//! timeout. Each matching event runs the command (through [`crate::command`]: no shell, its own
//! process group, killed at the timeout) with the event as `HEARTBEAT_*` environment variables
//! and as one JSON line on stdin — the same fields ([`event::HookEvent`]):
//!
//! | variable | JSON key | what |
//! |---|---|---|
//! | `HEARTBEAT_EVENT` | `event` | `up`, `suspect`, `down`, `restarted`, `left`, `link-up`, `link-down`, `init`, `admin-down`, `peer-admin-down`, `timing-changed`, `session-created`, `session-resumed`, `session-closed`, `session-expired`, `connected`, `disconnected`, `resource-started`, `resource-stopped`, `resource-failed` |
//! | `HEARTBEAT_PROFILE` | `profile` | `run`, `linux-ha`, `bfd`, `zk-server`, `zk-client` |
//! | `HEARTBEAT_PEER` | `peer` | node id (`run`), node name (`linux-ha`), peer address (`bfd`), session id (`zk-server`), `session` (`zk-client`) |
//! | `HEARTBEAT_PEER_NAME` | `peer_name` | its name where there is one (`zk-client`: the server's address), else as `peer` |
//! | `HEARTBEAT_RESOURCE` | `resource` | the HA resource (resource events) |
//! | `HEARTBEAT_AT` | `at` | seconds on the node's clock since it started |
//! | `HEARTBEAT_GENERATION` | `generation` | the peer's generation (`up`, `restarted`) |
//! | `HEARTBEAT_PREVIOUS_GENERATION` | `previous_generation` | before a `restarted` |
//! | `HEARTBEAT_SILENCE_MS` | `silence_ms` | how long the peer had been silent (`suspect`, `down`, `session-expired`) |
//! | `HEARTBEAT_TIMEOUT_MS` | `timeout_ms` | the timeout in force (detection time for BFD) |
//! | `HEARTBEAT_LATE_MS` | `late_ms` | how long after its deadline a `down` / expiry was declared |
//! | `HEARTBEAT_LINK` | `link` | the link of a `link-up` / `link-down` |
//! | `HEARTBEAT_REASON` | `reason` | `timeout`, `never-heard`, `goodbye`, a BFD diagnostic, ... |
//! | `HEARTBEAT_SEQ` | `seq` | the event's number on this node, from 1 |
//!
//! A variable is empty (and its key absent from the JSON) when the event has no such field.
//!
//! A subcommand hands its events over with a [`HookSender`] (from [`Hooks::start`]), built by
//! the one translation per profile in [`profiles`]; resource events are built with
//! [`HookEvent::new`] (`EventName::ResourceStarted`, ...) and `resource` set.
//!
//! Delivery ([`queue`]): every event, in order per peer, on a thread of its own with its own
//! runtime, so that starting, feeding and waiting for commands never touches the node's
//! heartbeats or detection; at most `hooks_at_once` run together; nothing is dropped.

pub(crate) mod event;
pub(crate) mod metrics;
pub(crate) mod profiles;
pub(crate) mod queue;
pub(crate) mod settings;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

pub(crate) use self::event::{HookEvent, Profile};
pub(crate) use self::metrics::HookMetrics;
use self::queue::{Dispatcher, Job, Runner};
use self::settings::Hook;
pub(crate) use self::settings::{HookSettings, HookTables};
use crate::command::{self, Ended};

/// The hook runner of a node: a thread with its own runtime and the [`Dispatcher`]. Without
/// hooks, nothing runs and [`HookSender::send`] does nothing.
pub(crate) struct Hooks {
    sender: HookSender,
    thread: Option<JoinHandle<()>>,
    /// Dropped to tell the runner that no more events come, even if a sender is still held
    /// by a driver thread that has not ended.
    closing: Option<oneshot::Sender<()>>,
}

/// Hands events to the hook runner from any thread; never waits. Cheap to clone.
#[derive(Clone)]
pub(crate) struct HookSender {
    queue: Option<mpsc::UnboundedSender<HookEvent>>,
}

impl HookSender {
    /// Queues `event` for its hooks (if any want it). Never waits, never drops.
    pub(crate) fn send(&self, event: HookEvent) {
        if let Some(queue) = &self.queue {
            // Only a runner that already ended refuses, and that happens only at exit.
            let _ = queue.send(event);
        }
    }

    /// Whether there is any hook, so that callers can skip building events nobody reads.
    pub(crate) fn is_active(&self) -> bool {
        self.queue.is_some()
    }
}

impl Hooks {
    /// Starts the runner for `settings`; with no hooks, none.
    pub(crate) fn start(settings: HookSettings) -> Result<Hooks, String> {
        Self::start_observed(settings, None)
    }

    /// [`start`](Self::start), counting every run (and the queue) in `metrics` as well.
    pub(crate) fn start_observed(settings: HookSettings, metrics: Option<HookMetrics>) -> Result<Hooks, String> {
        if settings.hooks.is_empty() {
            return Ok(Hooks { sender: HookSender { queue: None }, thread: None, closing: None });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| format!("cannot start the hook runner: {err}"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (closing, closed) = oneshot::channel();
        // At the end, hooks already running get their whole timeout to finish.
        let grace = settings.hooks.iter().map(|h| h.command.timeout).max().unwrap_or(Duration::ZERO);
        let thread = std::thread::Builder::new()
            .name("hooks".into())
            .spawn(move || runtime.block_on(serve(settings, rx, closed, grace, metrics)))
            .map_err(|err| format!("cannot start the hook runner: {err}"))?;
        Ok(Hooks { sender: HookSender { queue: Some(tx) }, thread: Some(thread), closing: Some(closing) })
    }

    /// A sender of events to the runner.
    pub(crate) fn sender(&self) -> HookSender {
        self.sender.clone()
    }

    /// No more events: lets what is queued run (each hook bounded by its timeout, all of it by
    /// the longest timeout), then stops the runner. What is left then is logged, not run.
    /// Events sent after this are not run.
    pub(crate) fn finish(mut self) {
        self.sender.queue = None;
        self.closing = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The runner thread's work: dispatches events as they come until every sender is gone or
/// [`Hooks::finish`] is called, then runs what is queued.
async fn serve(
    settings: HookSettings,
    mut events: mpsc::UnboundedReceiver<HookEvent>,
    mut closed: oneshot::Receiver<()>,
    grace: Duration,
    metrics: Option<HookMetrics>,
) {
    let dispatcher = Dispatcher::new(&settings, runner(metrics.clone()), metrics);
    info!(hooks = settings.hooks.len(), at_once = settings.at_once, "hooks ready");
    loop {
        tokio::select! {
            biased;
            event = events.recv() => match event {
                Some(event) => dispatcher.dispatch(event),
                None => break,
            },
            _ = &mut closed => {
                // What was sent before the close still runs.
                while let Ok(event) = events.try_recv() {
                    dispatcher.dispatch(event);
                }
                break;
            }
        }
    }
    if tokio::time::timeout(grace, dispatcher.idle()).await.is_err() {
        let waiting = dispatcher.waiting();
        warn!(kind = "hook-backlog", waiting, "stopping with hooks unfinished: {waiting} never started");
    }
    // Dropping the runtime drops any hook still running, which kills its process group.
}

/// The real runner: runs the hook's command with the event, logs how it ended and counts it.
fn runner(metrics: Option<HookMetrics>) -> Runner {
    Arc::new(move |hook, job| Box::pin(run_one(hook, job, metrics.clone())))
}

async fn run_one(hook: Arc<Hook>, job: Job, metrics: Option<HookMetrics>) {
    let waited_ms = event::ms(job.queued.elapsed());
    let event = &job.event;
    let outcome = command::run(&hook.command, &event.env(), &event.json_line()).await;
    if let Some(metrics) = &metrics {
        metrics.record(event.event.as_str(), &outcome);
    }
    let took_ms = event::ms(outcome.took);
    let (number, name, peer, seq) = (hook.number, event.event.as_str(), event.peer.as_str(), event.seq);
    let program = hook.command.command.first().map_or("", String::as_str);
    let stderr = outcome.stderr.trim_end();
    let ended = &outcome.ended;
    let message = format!("hook {number} ({program}) for {name} of {peer} {ended} after {took_ms} ms");
    if !outcome.stdout.is_empty() {
        debug!(kind = "hook-output", hook = number, event = name, peer, seq, stdout = outcome.stdout.trim_end());
    }
    match ended {
        _ if outcome.succeeded() => {
            info!(
                kind = "hook",
                hook = number,
                event = name,
                peer,
                seq,
                program,
                status = 0,
                took_ms,
                waited_ms,
                "{message}"
            );
        }
        Ended::Exited(status) => {
            let status = status.code();
            warn!(
                kind = "hook",
                hook = number,
                event = name,
                peer,
                seq,
                program,
                status,
                took_ms,
                waited_ms,
                stderr,
                "{message}"
            );
        }
        Ended::TimedOut => {
            let timeout_ms = event::ms(hook.command.timeout);
            warn!(
                kind = "hook",
                hook = number,
                event = name,
                peer,
                seq,
                program,
                timed_out = true,
                timeout_ms,
                took_ms,
                waited_ms,
                "{message}"
            );
        }
        Ended::NotStarted(_) => {
            warn!(
                kind = "hook",
                hook = number,
                event = name,
                peer,
                seq,
                program,
                not_started = true,
                waited_ms,
                "{message}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::command::CommandSpec;
    use crate::hooks::event::EventName;

    #[test]
    fn finishing_runs_what_was_sent_and_does_not_wait_for_senders_held_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ran");
        let script = format!("cat >> {}", out.display());
        let hook = Hook {
            number: 1,
            events: vec![EventName::Down],
            peers: Vec::new(),
            command: CommandSpec { command: vec!["sh".into(), "-c".into(), script], timeout: Duration::from_secs(30) },
        };
        let hooks = Hooks::start(HookSettings { hooks: vec![hook], at_once: 1 }).unwrap();
        // A driver thread that has not ended yet still holds a sender.
        let lingering = hooks.sender();
        for peer in ["2", "3"] {
            lingering.send(HookEvent::new(EventName::Down, Profile::Run, peer, 1.0));
        }
        let started = Instant::now();
        hooks.finish();
        assert!(started.elapsed() < Duration::from_secs(10), "finish waited for the lingering sender");
        let lines: Vec<serde_json::Value> =
            std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let mut peers: Vec<&str> = lines.iter().map(|l| l["peer"].as_str().unwrap()).collect();
        peers.sort_unstable();
        assert_eq!(peers, ["2", "3"]);
        // After the end, sending does nothing and does not fail.
        lingering.send(HookEvent::new(EventName::Down, Profile::Run, "4", 2.0));
    }

    #[test]
    fn without_hooks_nothing_runs() {
        let hooks = Hooks::start(HookSettings::default()).unwrap();
        assert!(!hooks.sender().is_active());
        hooks.sender().send(HookEvent::new(EventName::Up, Profile::Run, "2", 0.0));
        hooks.finish();
    }
}
