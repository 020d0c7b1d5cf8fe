//! The server's settings and ZooKeeper's timeout negotiation.

use core::time::Duration;

use crate::jute::DEFAULT_MAX_FRAME_LEN;

/// A setting that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `tick` is zero or not a whole number of milliseconds.
    #[error("tick must be a positive whole number of milliseconds")]
    BadTick,
    /// The session timeout bounds are zero, not whole milliseconds, or min > max.
    #[error("session timeout bounds must be positive whole milliseconds with min <= max")]
    BadBounds,
    /// The pause bound is zero.
    #[error("the pause bound must be positive")]
    BadPauseBound,
}

/// How a [`Server`](super::Server) behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// This server's id (`myid`), written into the top byte of every session id it creates.
    pub server_id: u8,
    /// ZooKeeper's `tickTime`: the unit of the default timeout bounds.
    pub tick: Duration,
    /// `minSessionTimeout`; `None`: 2 × tick.
    pub min_session_timeout: Option<Duration>,
    /// `maxSessionTimeout`; `None`: 20 × tick.
    pub max_session_timeout: Option<Duration>,
    /// The largest frame accepted from a client (`jute.maxbuffer`).
    pub max_frame_len: usize,
    /// The server-pause guard: when two calls are further apart than this, the server itself
    /// was paused, and sessions whose silence the pause explains get this much grace instead
    /// of expiring. `None` disables the guard (ZooKeeper's behaviour).
    pub pause_bound: Option<Duration>,
    /// Where session ids start: its bits 32..56 are the base of the ids' 24-bit tag (the
    /// slot's generation is added to it). ZooKeeper derives its counter from the wall clock at
    /// start-up so that a restarted server does not reissue ids; the adapter can do the same.
    pub first_session_counter: u64,
    /// The server secret session passwords are derived from (HMAC-SHA256 key). The adapter
    /// draws it from the OS; a restart with another secret turns every old password wrong.
    pub seed: [u8; 32],
}

impl ServerConfig {
    /// Defaults for `server_id` and `tick`: bounds 2 and 20 ticks, frame cap 0xfffff bytes,
    /// no pause guard, counter 1, an all-zero seed (set one for real use).
    pub fn new(server_id: u8, tick: Duration) -> Self {
        ServerConfig {
            server_id,
            tick,
            min_session_timeout: None,
            max_session_timeout: None,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            pause_bound: None,
            first_session_counter: 1,
            seed: [0; 32],
        }
    }

    /// The effective `[min, max]` bounds.
    pub fn bounds(&self) -> (Duration, Duration) {
        (self.min_session_timeout.unwrap_or(self.tick * 2), self.max_session_timeout.unwrap_or(self.tick * 20))
    }

    /// The timeout granted for a request of `requested_ms`: `min(max(requested, min), max)`,
    /// in whole milliseconds, no rounding to ticks.
    pub fn negotiate(&self, requested_ms: i32) -> Duration {
        let (min, max) = self.bounds();
        let requested = Duration::from_millis(u64::try_from(requested_ms).unwrap_or(0));
        requested.max(min).min(max)
    }

    /// Checks that the settings can work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let whole_ms = |d: Duration| !d.is_zero() && d.subsec_nanos().is_multiple_of(1_000_000);
        if !whole_ms(self.tick) {
            return Err(ConfigError::BadTick);
        }
        let (min, max) = self.bounds();
        if !whole_ms(min) || !whole_ms(max) || min > max || max.as_millis() > i32::MAX as u128 {
            return Err(ConfigError::BadBounds);
        }
        if self.pause_bound.is_some_and(|b| b.is_zero()) {
            return Err(ConfigError::BadPauseBound);
        }
        Ok(())
    }
}
