//! Any profile's [`Machine`] on a tokio task: the shared [`DriverCore`] plus tokio's waiting,
//! controlled through a [`TaskHandle`]. Wire v1's [`Driver`](crate::Driver) and
//! [`Handle`](crate::Handle) are this and the node's own commands.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use heartbeat_proto::Instant;
use heartbeat_proto::engine::Machine;
use heartbeat_std::{Clock, Command, Direction, DriverCore, Job, Sockets, Stopped};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::events::{Publisher, Subscription};
use crate::precise::{self, PreciseTimer};

/// A future that resolves when a socket may be ready. It owns what it waits on, so it survives
/// from one turn to the next and no wake-up is lost when another branch wins.
pub type Readiness = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A socket set the task can wait on: what a profile's tokio sockets add to [`Sockets`].
pub trait WaitSockets<X>: Sockets<X> + Send + 'static {
    /// Resolves when receive socket `i` may be readable (it may be a false alarm). An error is
    /// swallowed: it surfaces again, and is counted, at the read that follows.
    fn readable(&self, i: usize) -> Readiness;
    /// Resolves when every socket can take a datagram. The task waits for it once, before its
    /// first send: a freshly registered socket may not know yet that it is writable.
    fn writable(&self) -> Readiness;
}

/// Work for the task, with the core; what it queues goes out at the turn that follows.
type CoreJob<M, K> = Job<DriverCore<M, K>>;

/// Drives any [`Machine`] over a [`WaitSockets`] set on a tokio task.
///
/// - Time is `tokio::time` (through the core's [`Clock`]), so tests can pause it. The task
///   compares the clock with the deadline itself rather than trusting the sleep future alone,
///   and re-arms the sleep only when the deadline changes.
/// - Every branch it waits on is cancellation-safe; nothing blocks the runtime.
/// - Every event goes to every [`subscribe`](Self::subscribe)r, none dropped: each has an
///   unbounded queue of its own, so a slow subscriber never loses events nor holds up the task.
pub struct AsyncDriver<M: Machine, K> {
    core: DriverCore<M, K>,
    events: Publisher<M::Event>,
    precise: Option<PreciseTimer>,
    farewell: Farewell<M, K>,
}

/// How a profile takes leave of its peers: it queues what to say (handing over any event it
/// must drain to do so) and returns how long the task keeps running so that the peers hear it.
pub type Farewell<M, K> = fn(&mut DriverCore<M, K>, &mut dyn FnMut(<M as Machine>::Event)) -> Duration;

impl<M, K> AsyncDriver<M, K>
where
    M: Machine + Send + 'static,
    M::Event: Clone + Send + 'static,
    K: WaitSockets<M::Transmit>,
{
    /// Drives `core`; `farewell` takes leave of the peers on a graceful stop or when every
    /// handle is gone: what it queues is sent, and the task keeps running (taking no more
    /// commands) for as long as it says before it ends.
    pub fn new(core: DriverCore<M, K>, farewell: Farewell<M, K>) -> Self {
        AsyncDriver { core, events: Publisher::new(), precise: None, farewell }
    }

    /// The core.
    pub fn core(&self) -> &DriverCore<M, K> {
        &self.core
    }

    /// The core, to command its machine before the task starts.
    pub fn core_mut(&mut self) -> &mut DriverCore<M, K> {
        &mut self.core
    }

    /// Also wakes for deadlines through a nanosecond `timerfd` (Linux). Real time only.
    #[cfg(target_os = "linux")]
    pub fn precise_timer(&mut self) -> io::Result<()> {
        self.precise = Some(PreciseTimer::new()?);
        Ok(())
    }

    /// A receiver of every event from now on; it never misses one (see [`Subscription`]).
    pub fn subscribe(&self) -> Subscription<M::Event> {
        self.events.subscribe()
    }

    /// Starts the task on the current runtime.
    pub fn spawn(self) -> TaskHandle<M, K> {
        let (commands, inbox) = mpsc::channel(64);
        let events = self.events.clone();
        let clock = self.core.clock();
        // Subscribers see `Closed` once the task ends, aborted or not.
        let closing = self.events.close_on_drop();
        let task = tokio::spawn(async move {
            let _closing = closing;
            self.run(inbox).await;
        });
        TaskHandle { commands, events, task: task.abort_handle(), clock }
    }

    async fn run(self, inbox: mpsc::Receiver<Command<DriverCore<M, K>>>) {
        // Errors surface, and are counted, at the first send.
        self.core.sockets().writable().await;
        let ready = (0..self.core.sockets().len()).map(|i| self.core.sockets().readable(i)).collect();
        // Field order is drop order: the sockets close before `inbox` tells handles we stopped.
        let mut task = Task { driver: self, ready, next: 0, inbox };
        let sleep = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(sleep);
        let mut armed = None;
        // Set once the farewell is said: the task ends then.
        let mut end: Option<Instant> = None;
        loop {
            let driver = &mut task.driver;
            driver.flush();
            let clock = driver.core.clock();
            if end.is_some_and(|end| end <= clock.now()) {
                return;
            }
            let deadline = match (driver.core.deadline(), end) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // Compare the clock with the deadline ourselves: a due deadline is handled now,
            // whether or not the sleep future has fired (tokio's budget may hold it back).
            if deadline.is_some_and(|d| d <= clock.now()) {
                driver.core.tick();
                // The core never asks for this twice in a row after a drain; should it ever,
                // the runtime still gets its turn.
                tokio::task::consume_budget().await;
                continue;
            }
            if deadline != armed {
                if let Some(d) = deadline {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(clock.to_std(d)));
                    driver.arm_precise(d);
                }
                armed = deadline;
            }
            tokio::select! {
                biased;
                command = task.inbox.recv(), if end.is_none() => {
                    match task.driver.command(command) {
                        Step::Go => task.sync_readiness(),
                        Step::Stop => return,
                        Step::Linger(linger) if linger.is_zero() => return,
                        Step::Linger(linger) => end = Some(task.driver.core.clock().now() + linger),
                    }
                }
                i = next_ready(&mut task.ready, &mut task.next) => {
                    task.driver.receive(i);
                    task.ready[i] = task.driver.core.sockets().readable(i);
                }
                () = &mut sleep, if deadline.is_some() => {
                    // A fired sleep stays fired: arm it afresh next turn.
                    armed = None;
                }
                () = precise::fired(task.driver.precise.as_ref()), if deadline.is_some() => {
                    armed = None;
                }
            }
            task.driver.core.tick();
        }
    }

    fn arm_precise(&mut self, deadline: Instant) {
        let after = deadline.saturating_duration_since(self.core.clock().now());
        if let Err(err) = precise::arm(self.precise.as_ref(), after) {
            self.core.record(Direction::Receive, &err);
        }
    }

    /// Handles a command (`None`: every handle is gone).
    fn command(&mut self, command: Option<Command<DriverCore<M, K>>>) -> Step {
        match command {
            Some(Command::Run(job)) => {
                job(&mut self.core);
                Step::Go
            }
            Some(Command::Stop { graceful: false }) => Step::Stop,
            // A graceful stop, or nobody can stop us any more: take leave now.
            Some(_) | None => {
                let events = &self.events;
                let linger = (self.farewell)(&mut self.core, &mut |event| events.publish(event));
                self.flush();
                Step::Linger(linger)
            }
        }
    }

    /// Reads what socket `i` holds (up to a batch) into the core.
    fn receive(&mut self, i: usize) {
        let events = &self.events;
        self.core.receive(i, &mut |event| events.publish(event));
    }

    /// Sends every pending datagram and publishes every pending event (the drain rule).
    fn flush(&mut self) {
        let events = &self.events;
        self.core.flush(&mut |event| events.publish(event));
    }
}

/// What the task does after a command.
enum Step {
    /// Keeps running.
    Go,
    /// Ends now.
    Stop,
    /// Ends after this long, taking no more commands.
    Linger(Duration),
}

/// Everything the task owns; fields drop in this order.
struct Task<M: Machine, K> {
    driver: AsyncDriver<M, K>,
    ready: Vec<Readiness>,
    next: usize,
    inbox: mpsc::Receiver<Command<DriverCore<M, K>>>,
}

impl<M: Machine, K: WaitSockets<M::Transmit>> Task<M, K> {
    /// Waits on sockets a command opened, too.
    fn sync_readiness(&mut self) {
        for i in self.ready.len()..self.driver.core.sockets().len() {
            self.ready.push(self.driver.core.sockets().readable(i));
        }
    }
}

/// The first ready socket, scanning from `next` so that no socket starves the others.
async fn next_ready(ready: &mut [Readiness], next: &mut usize) -> usize {
    poll_fn(|cx| {
        let n = ready.len();
        for k in 0..n {
            let i = (*next + k) % n;
            if ready[i].as_mut().poll(cx).is_ready() {
                *next = (i + 1) % n;
                return Poll::Ready(i);
            }
        }
        Poll::Pending
    })
    .await
}

/// Controls an [`AsyncDriver`]'s task. Clone it freely; when the last clone is dropped the task
/// takes leave and stops the next time it runs. Every method is cancellation-safe: a command
/// already sent is carried out, its answer discarded.
pub struct TaskHandle<M: Machine, K> {
    commands: mpsc::Sender<Command<DriverCore<M, K>>>,
    events: Publisher<M::Event>,
    task: AbortHandle,
    clock: Clock,
}

impl<M: Machine, K> Clone for TaskHandle<M, K> {
    fn clone(&self) -> Self {
        TaskHandle {
            commands: self.commands.clone(),
            events: self.events.clone(),
            task: self.task.clone(),
            clock: self.clock,
        }
    }
}

impl<M: Machine, K> TaskHandle<M, K> {
    /// Runs `job` on the task with the core, between two turns, and returns its result.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut DriverCore<M, K>) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.post(move |core| {
            let _ = reply.send(job(core));
        })
        .await?;
        answer.await.map_err(|_| Stopped)
    }

    /// Queues `job` for the task without waiting for it.
    pub async fn post(&self, job: impl FnOnce(&mut DriverCore<M, K>) + Send + 'static) -> Result<(), Stopped> {
        let job: CoreJob<M, K> = Box::new(job);
        self.commands.send(Command::Run(job)).await.map_err(|_| Stopped)
    }

    /// A receiver of every event from now on; it never misses one (see [`Subscription`]).
    /// Once the task has stopped, it is closed at once.
    pub fn subscribe(&self) -> Subscription<M::Event> {
        self.events.subscribe()
    }

    /// The clock that stamps the task's events.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Takes leave of the peers and stops; resolves once the sockets are closed.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Stop { graceful: true }).await;
        self.stopped().await;
    }

    /// Stops without taking leave, as a crash would; resolves once the sockets are closed.
    pub async fn abort(&self) {
        self.task.abort();
        self.stopped().await;
    }

    /// Resolves once the task has stopped and closed its sockets.
    pub async fn stopped(&self) {
        self.commands.closed().await;
    }
}
