//! Waiting for a machine's next deadline: a tokio sleep re-armed only when the deadline
//! changes, plus (Linux, on request) a nanosecond `timerfd`. The caller compares the clock
//! with the deadline itself ([`Deadline::due`]) rather than trusting the sleep alone.

use std::future::pending;
use std::io;
use std::pin::Pin;

use heartbeat_proto::Instant;
use heartbeat_std::Clock;
use tokio::time::Sleep;

use crate::precise::{self, PreciseTimer};

pub(crate) struct Deadline {
    clock: Clock,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    precise: Option<PreciseTimer>,
}

impl Deadline {
    pub(crate) fn new(clock: Clock) -> Self {
        Deadline { clock, sleep: Box::pin(tokio::time::sleep(std::time::Duration::ZERO)), armed: None, precise: None }
    }

    #[cfg(target_os = "linux")]
    pub(crate) fn precise(&mut self) -> io::Result<()> {
        self.precise = Some(PreciseTimer::new()?);
        Ok(())
    }

    /// Whether `deadline` has come.
    pub(crate) fn due(&self, deadline: Option<Instant>) -> bool {
        deadline.is_some_and(|d| d <= self.clock.now())
    }

    /// Resolves when `deadline` may have come; never without one. Cancellation-safe: the
    /// timers stay armed for the next call with the same deadline.
    pub(crate) async fn wait(&mut self, deadline: Option<Instant>) {
        let Some(d) = deadline else { return pending().await };
        if self.armed != Some(d) {
            self.sleep.as_mut().reset(tokio::time::Instant::from_std(self.clock.to_std(d)));
            let after = d.saturating_duration_since(self.clock.now());
            if let Err(err) = precise::arm(self.precise.as_ref(), after) {
                tracing::debug!(%err, "cannot arm the precise timer");
            }
            self.armed = Some(d);
        }
        tokio::select! {
            () = self.sleep.as_mut() => {}
            () = precise::fired(self.precise.as_ref()) => {}
        }
        // A fired timer stays fired: arm afresh next time.
        self.armed = None;
    }
}
