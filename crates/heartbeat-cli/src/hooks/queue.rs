//! Delivery: one queue per peer, run in order by a task of its own while it holds work, under
//! one bound on the hooks running at once (all peers together).
//!
//! - **In order per peer.** A peer's jobs (every matching hook of every event, in event order,
//!   then in file order) run one at a time; different peers' run side by side.
//! - **Nothing is dropped.** Queues have no bound: the backlog is counted and logged as it
//!   grows (at 16, 32, 64, ... waiting) and when it is cleared. It cannot grow without end
//!   while events come at detection speed: every hook is killed at its timeout, so each peer's
//!   queue drains at least one job per timeout.
//! - **A hung hook holds back its own peer only**, and one of the bound's places, until its
//!   timeout.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::{Notify, Semaphore};
use tracing::{info, warn};

use super::event::HookEvent;
use super::metrics::HookMetrics;
use super::settings::{Hook, HookSettings};

/// A job: hook number `hook` for `event`, handed over at `queued`.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// Index into the hooks.
    pub(crate) hook: usize,
    /// The event, shared by every hook it matched.
    pub(crate) event: Arc<HookEvent>,
    /// When the dispatcher received the event.
    pub(crate) queued: Instant,
}

/// What runs a job to its end (the real one runs the command and logs how it ended).
pub(crate) type Runner = Arc<dyn Fn(Arc<Hook>, Job) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The first backlog that is logged; each doubling after it is too.
const FIRST_WARNING: usize = 16;

/// The per-peer queues and the bound; cheap to clone (one state, shared).
#[derive(Clone)]
pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
}

struct Shared {
    hooks: Vec<Arc<Hook>>,
    permits: Semaphore,
    /// A queue per peer with work, present while its task runs.
    queues: Mutex<HashMap<String, VecDeque<Job>>>,
    /// Jobs queued and not yet started.
    waiting: AtomicUsize,
    /// The next backlog to log.
    warn_at: AtomicUsize,
    /// Events dispatched so far (the next one's `seq` is this plus one).
    events: AtomicU64,
    /// Told when the last queue is removed.
    idle: Notify,
    runner: Runner,
    /// Where the count of waiting jobs is also shown, if anywhere.
    metrics: Option<HookMetrics>,
}

impl Dispatcher {
    /// A dispatcher for `settings`, running each job with `runner`, counting the jobs waiting
    /// in `metrics` too (if any).
    pub(crate) fn new(settings: &HookSettings, runner: Runner, metrics: Option<HookMetrics>) -> Self {
        Dispatcher {
            shared: Arc::new(Shared {
                hooks: settings.hooks.iter().cloned().map(Arc::new).collect(),
                permits: Semaphore::new(settings.at_once.max(1)),
                queues: Mutex::new(HashMap::new()),
                waiting: AtomicUsize::new(0),
                warn_at: AtomicUsize::new(FIRST_WARNING),
                events: AtomicU64::new(0),
                idle: Notify::new(),
                runner,
                metrics,
            }),
        }
    }

    /// Numbers `event` and queues a job for every hook that wants it, on its peer's queue;
    /// starts that queue's task if it has none. Never waits. Needs a runtime.
    pub(crate) fn dispatch(&self, mut event: HookEvent) {
        let shared = &self.shared;
        event.seq = shared.events.fetch_add(1, Ordering::Relaxed) + 1;
        let wanted: Vec<usize> = (0..shared.hooks.len())
            .filter(|&i| shared.hooks[i].wants(event.event, &event.peer, &event.peer_name))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let peer = event.peer.clone();
        let event = Arc::new(event);
        let queued = Instant::now();
        let start = {
            let mut queues = shared.queues.lock().unwrap_or_else(PoisonError::into_inner);
            let start = !queues.contains_key(&peer);
            let queue = queues.entry(peer.clone()).or_default();
            queue.extend(wanted.iter().map(|&hook| Job { hook, event: Arc::clone(&event), queued }));
            start
        };
        let waiting = shared.waiting.fetch_add(wanted.len(), Ordering::Relaxed) + wanted.len();
        if let Some(metrics) = &shared.metrics {
            metrics.queued(wanted.len());
        }
        let warn_at = shared.warn_at.load(Ordering::Relaxed);
        if waiting >= warn_at {
            shared.warn_at.store(warn_at.saturating_mul(2), Ordering::Relaxed);
            warn!(kind = "hook-backlog", waiting, "hooks are falling behind: {waiting} waiting (none is dropped)");
        }
        if start {
            tokio::spawn(Arc::clone(shared).drain(peer));
        }
    }

    /// Jobs queued and not yet started.
    pub(crate) fn waiting(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }

    /// Whether no job is waiting or running.
    pub(crate) fn is_idle(&self) -> bool {
        self.shared.queues.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
    }

    /// Resolves once no job is waiting or running.
    pub(crate) async fn idle(&self) {
        loop {
            // Registered before the look, so that a queue removed in between still wakes us.
            let told = self.shared.idle.notified();
            if self.is_idle() {
                return;
            }
            told.await;
        }
    }
}

impl Shared {
    /// Runs `peer`'s queue until it is empty, then removes it (under the lock, so that a job
    /// queued meanwhile starts a new task).
    async fn drain(self: Arc<Self>, peer: String) {
        loop {
            let job = {
                let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
                let next = queues.get_mut(&peer).and_then(VecDeque::pop_front);
                if next.is_none() {
                    queues.remove(&peer);
                    if queues.is_empty() {
                        self.idle.notify_waiters();
                    }
                }
                next
            };
            let Some(job) = job else { return };
            // The semaphore is never closed.
            let Ok(_permit) = self.permits.acquire().await else { return };
            let left = self.waiting.fetch_sub(1, Ordering::Relaxed) - 1;
            if let Some(metrics) = &self.metrics {
                metrics.started();
            }
            if left == 0 && self.warn_at.swap(FIRST_WARNING, Ordering::Relaxed) > FIRST_WARNING {
                info!(kind = "hook-backlog", waiting = 0, "hook backlog cleared");
            }
            let hook = Arc::clone(&self.hooks[job.hook]);
            (self.runner)(hook, job).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::command::CommandSpec;
    use crate::hooks::event::{EventName, Profile};

    fn hook(number: usize, events: &[EventName], peers: &[&str]) -> Hook {
        Hook {
            number,
            events: events.to_vec(),
            peers: peers.iter().map(|p| p.to_string()).collect(),
            command: CommandSpec { command: vec!["unused".into()], timeout: Duration::from_secs(1) },
        }
    }

    /// What the fake runner saw: (hook number, peer, seq, started, ended) in virtual time.
    type Log = Arc<Mutex<Vec<(usize, String, u64, tokio::time::Instant, tokio::time::Instant)>>>;

    /// A runner that takes `took(peer)` of (paused) time per job and records it.
    fn recording(log: &Log, took: fn(&str) -> Duration) -> Runner {
        let log = Arc::clone(log);
        Arc::new(move |hook, job| {
            let log = Arc::clone(&log);
            Box::pin(async move {
                let started = tokio::time::Instant::now();
                tokio::time::sleep(took(&job.event.peer)).await;
                log.lock().unwrap().push((
                    hook.number,
                    job.event.peer.clone(),
                    job.event.seq,
                    started,
                    tokio::time::Instant::now(),
                ));
            })
        })
    }

    fn event(name: EventName, peer: &str) -> HookEvent {
        HookEvent::new(name, Profile::Run, peer, 0.0)
    }

    #[tokio::test(start_paused = true)]
    async fn one_peer_s_jobs_run_in_event_then_file_order_one_at_a_time() {
        let log: Log = Arc::default();
        let settings = HookSettings {
            hooks: vec![hook(1, &[EventName::Down, EventName::Up], &[]), hook(2, &[EventName::Down], &[])],
            at_once: 4,
        };
        let d = Dispatcher::new(&settings, recording(&log, |_| Duration::from_millis(100)), None);
        d.dispatch(event(EventName::Down, "2"));
        d.dispatch(event(EventName::Up, "2"));
        d.dispatch(event(EventName::Suspect, "2")); // no hook wants it
        d.dispatch(event(EventName::Down, "2"));
        assert_eq!(d.waiting(), 5);
        d.idle().await;
        let log = log.lock().unwrap();
        let order: Vec<(usize, u64)> = log.iter().map(|(h, _, seq, _, _)| (*h, *seq)).collect();
        assert_eq!(order, [(1, 1), (2, 1), (1, 2), (1, 4), (2, 4)]);
        for pair in log.windows(2) {
            assert!(pair[1].3 >= pair[0].4, "overlap within one peer: {pair:?}");
        }
        assert_eq!(d.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn peers_run_side_by_side_up_to_the_bound_and_a_slow_peer_holds_back_only_itself() {
        let log: Log = Arc::default();
        let settings = HookSettings { hooks: vec![hook(1, &[EventName::Down], &[])], at_once: 2 };
        // Peer "slow" takes an hour per hook; the others 10 ms.
        let took = |peer: &str| if peer == "slow" { Duration::from_secs(3600) } else { Duration::from_millis(10) };
        let d = Dispatcher::new(&settings, recording(&log, took), None);
        let t0 = tokio::time::Instant::now();
        d.dispatch(event(EventName::Down, "slow"));
        d.dispatch(event(EventName::Down, "slow"));
        for peer in ["a", "b", "c"] {
            d.dispatch(event(EventName::Down, peer));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        {
            let log = log.lock().unwrap();
            let quick: Vec<&str> = log.iter().map(|(_, p, ..)| p.as_str()).collect();
            assert_eq!(quick, ["a", "b", "c"], "the other peers' hooks waited for the slow one");
            // Bound 2, one place held by the slow hook: the others ran one after another,
            // each within 10 ms of the previous.
            assert_eq!(log[2].4 - t0, Duration::from_millis(30));
        }
        assert_eq!(d.waiting(), 1, "the slow peer's second job waits for its first");
        d.idle().await;
        assert_eq!(log.lock().unwrap().len(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn the_bound_holds_with_many_peers_and_every_job_runs() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        let runner: Runner = {
            let (running, most, ran) = (Arc::clone(&running), Arc::clone(&most), Arc::clone(&ran));
            Arc::new(move |_, _| {
                let (running, most, ran) = (Arc::clone(&running), Arc::clone(&most), Arc::clone(&ran));
                Box::pin(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    ran.fetch_add(1, Ordering::SeqCst);
                })
            })
        };
        let settings = HookSettings { hooks: vec![hook(1, &[EventName::Down, EventName::Up], &[])], at_once: 3 };
        let d = Dispatcher::new(&settings, runner, None);
        for round in 0..50 {
            for peer in 0..20 {
                d.dispatch(event(if round % 2 == 0 { EventName::Down } else { EventName::Up }, &peer.to_string()));
            }
        }
        d.idle().await;
        assert_eq!(ran.load(Ordering::SeqCst), 1000);
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hook_for_named_peers_runs_only_for_them() {
        let log: Log = Arc::default();
        let settings = HookSettings { hooks: vec![hook(1, &[EventName::Down], &["2", "db"])], at_once: 4 };
        let d = Dispatcher::new(&settings, recording(&log, |_| Duration::ZERO), None);
        d.dispatch(event(EventName::Down, "2"));
        d.dispatch(event(EventName::Down, "3"));
        let mut named = event(EventName::Down, "198.18.0.9");
        named.peer_name = "db".into();
        d.dispatch(named);
        d.idle().await;
        let peers: Vec<String> = log.lock().unwrap().iter().map(|(_, p, ..)| p.clone()).collect();
        assert_eq!(peers, ["2", "198.18.0.9"]);
    }
}
