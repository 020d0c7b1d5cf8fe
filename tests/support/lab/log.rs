//! Reading `heartbeat run --json` logs: one JSON object per line; peer events carry `kind`,
//! `peer`, `at` (the node's own clock, seconds since it started) and, for `down`, `silent_ms`
//! (since it was last heard) and `late_ms` (past its deadline). The subscriber adds a wall-clock
//! `timestamp`.

use std::path::Path;

use crate::netns::{Result, io_error};

/// One peer event from a node's log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// Which start of the process logged it (0 for the first, counted by `node started`).
    pub run: usize,
    /// `up`, `suspect`, `down`, `restarted`, `left`, `link_up`, `link_down`, ...
    pub kind: String,
    /// The peer it is about.
    pub peer: u64,
    /// The node's clock when it happened, in seconds since that start.
    pub at: f64,
    /// The wall-clock time of the line, in seconds since the Unix epoch.
    pub wall: f64,
    /// `down`: how long the peer had been silent, in milliseconds.
    pub silent_ms: Option<f64>,
    /// `down`: how far past its deadline it was declared, in milliseconds.
    pub late_ms: Option<f64>,
    /// `up` and `restarted`: the peer's generation.
    pub generation: Option<u64>,
    /// `link_up` and `link_down`: the link.
    pub link: Option<u64>,
}

/// Reads every peer event of the log at `path`; lines that are not JSON (a panic message, a
/// line cut by SIGKILL) are skipped.
pub fn read(path: &Path) -> Result<Vec<LogEvent>> {
    let text = std::fs::read_to_string(path).map_err(io_error(format!("cannot read {}", path.display())))?;
    Ok(parse(&text))
}

/// Like [`read`], from the log's text.
pub fn parse(text: &str) -> Vec<LogEvent> {
    let mut run = None::<usize>;
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["message"] == "node started" {
            run = Some(run.map_or(0, |r| r + 1));
            continue;
        }
        let (Some(kind), Some(peer)) = (v["kind"].as_str(), v["peer"].as_u64()) else { continue };
        out.push(LogEvent {
            run: run.unwrap_or(0),
            kind: kind.to_owned(),
            peer,
            at: v["at"].as_f64().unwrap_or(f64::NAN),
            wall: v["timestamp"].as_str().and_then(rfc3339).unwrap_or(f64::NAN),
            silent_ms: v["silent_ms"].as_f64(),
            late_ms: v["late_ms"].as_f64(),
            generation: v["generation"].as_u64(),
            link: v["link"].as_u64(),
        });
    }
    out
}

/// `2026-12-03T11:07:06.331660Z` as seconds since the Unix epoch (UTC only, as tracing writes).
pub fn rfc3339(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, min) = (t.next()?.parse::<f64>().ok()?, t.next()?.parse::<f64>().ok()?);
    let sec = t.next()?.parse::<f64>().ok()?;
    // Days from the civil date (proleptic Gregorian), after H. Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + sec)
}

/// The events of `events` of kind `kind` about `peer`.
pub fn about<'a>(events: &'a [LogEvent], kind: &'a str, peer: u64) -> impl Iterator<Item = &'a LogEvent> + 'a {
    events.iter().filter(move |e| e.kind == kind && e.peer == peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_runs_are_read() {
        assert_eq!(rfc3339("1970-01-02T00:00:01.5Z"), Some(86_401.5));
        assert_eq!(rfc3339("2026-12-03T11:07:06Z"), Some(1_796_296_026.0));
        let log = concat!(
            r#"{"timestamp":"1970-01-01T00:00:00Z","message":"node started","node":1}"#,
            "\n",
            r#"{"timestamp":"1970-01-01T00:00:01Z","kind":"down","peer":2,"at":1.0,"silent_ms":400.5,"late_ms":0.5}"#,
            "\n{cut short\n",
            r#"{"timestamp":"1970-01-01T00:00:02Z","message":"node started","node":1}"#,
            "\n",
            r#"{"timestamp":"1970-01-01T00:00:03Z","kind":"restarted","peer":2,"at":0.1,"generation":9}"#,
        );
        let events = parse(log);
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].run, events[0].late_ms, events[0].wall), (0, Some(0.5), 1.0));
        assert_eq!((events[1].run, events[1].generation), (1, Some(9)));
    }
}
