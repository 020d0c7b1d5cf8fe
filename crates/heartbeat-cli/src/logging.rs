//! Logs through `tracing`: readable lines by default, one JSON object per line with `--json`.
//! Every peer event carries at least `kind` and `peer`; the subscriber adds the timestamp.

use std::io::IsTerminal;
use std::time::Duration;

use heartbeat_proto::{Event, EventKind};
use tracing::{info, warn};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format;

/// Installs the subscriber; `HEARTBEAT_LOG` (e.g. `debug`) overrides the `info` default.
///
/// Lines go to stdout through a writer thread: a terminal paused with Ctrl-S or a pipe nobody
/// reads then costs log lines (dropped once the buffer is full), never heartbeats. Keep the
/// returned guard until exit: dropping it flushes what is buffered.
///
/// When stdout is the journal (systemd says so in `JOURNAL_STREAM`), readable lines carry the
/// journal's priority prefix (`<4>` for a warning, see `sd-daemon(3)`) and no timestamp of
/// their own, since the journal stamps each line: `journalctl -p warning` then finds the
/// suspicions and convictions.
#[must_use = "dropping the guard stops logging"]
pub(crate) fn init(json: bool) -> WorkerGuard {
    let filter = EnvFilter::try_from_env("HEARTBEAT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking(std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stdout().is_terminal())
        .with_target(false);
    if json {
        builder.json().flatten_event(true).with_current_span(false).with_span_list(false).init();
    } else if stdout_is_journal() {
        builder.event_format(journal::Prefixed(format().without_time())).init();
    } else {
        builder.init();
    }
    guard
}

/// Whether stdout is the journal's stream: `JOURNAL_STREAM` names its device and inode, and
/// is only believed if stdout still is that file (a child may have redirected it).
fn stdout_is_journal() -> bool {
    let Ok(named) = std::env::var("JOURNAL_STREAM") else { return false };
    let Ok(stat) = rustix::fs::fstat(std::io::stdout()) else { return false };
    journal::names(&named, stat.st_dev, stat.st_ino)
}

mod journal {
    use std::fmt;

    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::fmt::FmtContext;
    use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
    use tracing_subscriber::registry::LookupSpan;

    /// Whether `JOURNAL_STREAM`'s `DEVICE:INODE` value names the file `(dev, ino)`.
    pub(super) fn names(value: &str, dev: u64, ino: u64) -> bool {
        let Some((d, i)) = value.split_once(':') else { return false };
        d.parse() == Ok(dev) && i.parse() == Ok(ino)
    }

    /// The syslog priority journald reads from a `<N>` line prefix.
    pub(super) fn priority(level: &Level) -> u8 {
        match *level {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        }
    }

    /// Another event format with the journal's priority prefix in front.
    pub(super) struct Prefixed<F>(pub(super) F);

    impl<S, N, F> FormatEvent<S, N> for Prefixed<F>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
        F: FormatEvent<S, N>,
    {
        fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
            write!(writer, "<{}>", priority(event.metadata().level()))?;
            self.0.format_event(ctx, writer, event)
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Logs one peer event. `at` is the node's own clock (seconds since it started).
pub(crate) fn event(event: &Event) {
    let peer = event.peer.get();
    let at = event.at.since_epoch().as_secs_f64();
    match event.kind {
        EventKind::Up { generation } => info!(kind = "up", peer, at, generation = generation.0, "peer {peer} is up"),
        EventKind::Suspect { last_heard } => {
            let silent_ms = ms(event.at - last_heard);
            warn!(kind = "suspect", peer, at, silent_ms, "peer {peer} is late: silent for {silent_ms} ms");
        }
        EventKind::Down { last_heard: Some(last), deadline } => {
            let (silent_ms, late_ms) = (ms(event.at - last), ms(event.at - deadline));
            warn!(kind = "down", peer, at, silent_ms, late_ms, "peer {peer} is down: silent for {silent_ms} ms");
        }
        EventKind::Down { last_heard: None, .. } => {
            warn!(kind = "down", peer, at, "peer {peer} is down: never heard since start-up");
        }
        EventKind::Restarted { previous, generation } => {
            let (previous, generation) = (previous.0, generation.0);
            info!(kind = "restarted", peer, at, previous, generation, "peer {peer} restarted");
        }
        EventKind::Left => info!(kind = "left", peer, at, "peer {peer} left (goodbye)"),
        EventKind::LinkUp { link } => {
            info!(kind = "link_up", peer, at, link = link.0, "link {} to peer {peer} is up", link.0)
        }
        EventKind::LinkDown { link } => {
            warn!(kind = "link_down", peer, at, link = link.0, "link {} to peer {peer} is down", link.0);
        }
        other => info!(kind = "other", peer, at, "peer {peer}: {other:?}"),
    }
}

/// Logs one peer event with the evidence of its verdict, if it is a `Suspect` or `Down` that
/// came with some: the line of [`event`] plus where the deadline came from, the detector's
/// suspicion, loss and RTT before the silence, each link's silence, and whether the local-stall
/// guard had held it back.
pub(crate) fn event_explained(event: &Event, evidence: Option<&crate::run::evidence::VerdictReport>) {
    let Some(e) = evidence else { return self::event(event) };
    let peer = event.peer.get();
    let at = event.at.since_epoch().as_secs_f64();
    let source = e.deadline_source.as_str();
    let deadline_after_ms = e.deadline_after_ms;
    let links_silent = e.links_text();
    let why = format!(
        "deadline {} after the last heartbeat ({source}), suspicion {:.3}, loss {:.1}%{}",
        deadline_after_ms.map_or("-".to_string(), |d| format!("{d} ms")),
        e.suspicion,
        e.loss_percent,
        if e.held_by_stall_guard { ", held back once by the stall guard" } else { "" }
    );
    let (suspicion, loss_percent, rtt_ms, held) = (e.suspicion, e.loss_percent, e.rtt_ms, e.held_by_stall_guard);
    let (timeout_ms, interval_ms) = (e.negotiated_timeout_ms, e.interval_ms);
    match event.kind {
        EventKind::Suspect { last_heard } => {
            let silent_ms = ms(event.at - last_heard);
            warn!(
                kind = "suspect",
                peer,
                at,
                silent_ms,
                deadline_source = source,
                deadline_after_ms,
                negotiated_timeout_ms = timeout_ms,
                interval_ms,
                suspicion,
                loss_percent,
                rtt_ms,
                links_silent,
                held_by_stall_guard = held,
                "peer {peer} is late: silent for {silent_ms} ms; {why}"
            );
        }
        EventKind::Down { last_heard: Some(last), deadline } => {
            let (silent_ms, late_ms) = (ms(event.at - last), ms(event.at - deadline));
            warn!(
                kind = "down",
                peer,
                at,
                silent_ms,
                late_ms,
                deadline_source = source,
                deadline_after_ms,
                negotiated_timeout_ms = timeout_ms,
                interval_ms,
                suspicion,
                loss_percent,
                rtt_ms,
                links_silent,
                held_by_stall_guard = held,
                "peer {peer} is down: silent for {silent_ms} ms; {why}"
            );
        }
        EventKind::Down { last_heard: None, .. } => {
            warn!(
                kind = "down",
                peer,
                at,
                deadline_source = source,
                deadline_after_ms,
                held_by_stall_guard = held,
                "peer {peer} is down: never heard since start-up; {why}"
            );
        }
        _ => self::event(event),
    }
}

#[cfg(test)]
mod tests {
    use super::journal::{names, priority};
    use tracing::Level;

    #[test]
    fn journal_stream_is_device_colon_inode() {
        assert!(names("64769:1234", 64769, 1234));
        assert!(!names("64769:1234", 64769, 1235));
        assert!(!names("64769", 64769, 1234));
        assert!(!names("x:1234", 64769, 1234));
        assert!(!names("", 0, 0));
    }

    #[test]
    fn warnings_are_priority_four_for_journalctl_p_warning() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
    }
}
