//! Running under systemd (`Type=notify`): `READY=1` once every socket is bound and the node
//! runs, `WATCHDOG=1` while its driver answers, `STOPPING=1` when a stop signal comes, before
//! the goodbye. Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::metrics::server::Node;

/// Tells the service manager the node is up; `status` is the one-line `systemctl status` text.
pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells the service manager the node is stopping (it says goodbye next).
pub(crate) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping: saying goodbye")]);
}

/// The watchdog period systemd asks for (`WatchdogSec=`), if it asks this process.
pub(crate) fn watchdog_period() -> Option<Duration> {
    let mut usec = 0;
    // Leaving the environment as it is: changing it while threads run is not sound.
    (sd_notify::watchdog_enabled(false, &mut usec) && usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings the watchdog every half `period`, each time only after the driver answered a status
/// request: a driver that hangs stops the pings, and systemd restarts the node. Never returns
/// while the driver runs.
pub(crate) async fn watchdog(node: Node, period: Duration) {
    let every = period / 2;
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match tokio::time::timeout(every, node.status()).await {
            Ok(Ok(_)) => send(&[NotifyState::Watchdog]),
            Ok(Err(_)) => return,
            Err(_) => tracing::warn!("watchdog: the driver did not answer within {every:?}; no ping"),
        }
    }
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(err) = sd_notify::notify(false, states) {
        tracing::warn!(%err, "cannot notify the service manager");
    }
}
