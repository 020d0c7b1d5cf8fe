//! Importers for recorded traces: a plain CSV and the LIP6 PlanetLab reception logs.
//!
//! Heartbeats missing from a file count as lost; their send time is interpolated between the
//! neighbouring sends (it only matters for detection times).

use core::time::Duration;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::trace::{LOST, Record, Trace};

/// A recorded heartbeat as read: sequence number, send time (sender's clock) and receive time
/// (receiver's clock), in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    sequence: u64,
    sent: u64,
    received: Option<u64>,
}

/// Reads a CSV trace: one heartbeat per line, `sequence,sent,received`, times in seconds
/// (decimals allowed) on one clock; `received` empty, `lost` or negative for a lost heartbeat.
/// Blank lines, `#` comments and a header line whose first field is not a number are skipped.
pub fn csv(text: &str, name: &str, interval: Option<Duration>) -> Result<Trace> {
    let mut rows = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let Ok(sequence) = fields[0].parse::<u64>() else {
            if line_no == 0 {
                continue;
            }
            bail!("line {}: sequence {:?} is not a number", line_no + 1, fields[0]);
        };
        let at = |i: usize| -> Result<Option<u64>> {
            let field = fields.get(i).copied().unwrap_or("");
            if field.is_empty() || field.eq_ignore_ascii_case("lost") {
                return Ok(None);
            }
            let secs: f64 = field.parse().with_context(|| format!("line {}: time {field:?}", line_no + 1))?;
            Ok((secs >= 0.0).then(|| (secs * 1e9).round() as u64))
        };
        let sent = at(1)?.with_context(|| format!("line {}: no send time", line_no + 1))?;
        rows.push(Row { sequence, sent, received: at(2)? });
    }
    build(rows, name, format!("CSV {name}"), interval)
}

/// Reads a LIP6 PlanetLab reception log (`<site> <seq> <t_send> <t_recv> <hops>`, times in
/// nanoseconds, the send time on the sender's clock and the receive time on the receiver's),
/// keeping the heartbeats from `site` (the first site in the file if `None`).
///
/// The two clocks are unrelated, so the send times are moved onto the receiver's clock by the
/// smallest observed `t_recv − t_send` (assuming the fastest heartbeat took no time): detection
/// times then come out short by the true minimum delay, equally for every detector.
pub fn lip6(text: &str, name: &str, site: Option<u64>, interval: Option<Duration>) -> Result<Trace> {
    let mut rows = Vec::new();
    let mut chosen = site;
    for (line_no, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 4 {
            bail!("line {}: expected <site> <seq> <t_send> <t_recv> <hops>", line_no + 1);
        }
        let number = |i: usize| -> Result<u64> {
            fields[i].parse().with_context(|| format!("line {}: field {} {:?}", line_no + 1, i + 1, fields[i]))
        };
        let from = number(0)?;
        if *chosen.get_or_insert(from) != from {
            continue;
        }
        rows.push(Row { sequence: number(1)?, sent: number(2)?, received: Some(number(3)?) });
    }
    let offset = rows.iter().filter_map(|r| r.received.map(|t| i128::from(t) - i128::from(r.sent))).min();
    let Some(offset) = offset else { bail!("no heartbeats from site {chosen:?}") };
    // Shift both clocks so that the earliest time is well above zero.
    let earliest = rows.iter().map(|r| i128::from(r.sent) + offset).min().unwrap_or(0);
    let shift = 1_000_000_000 - earliest;
    let moved = |t: i128| u64::try_from(t + shift).context("time out of range");
    let rows = rows
        .into_iter()
        .map(|r| {
            Ok(Row {
                sequence: r.sequence,
                sent: moved(i128::from(r.sent) + offset)?,
                received: r.received.map(|t| moved(i128::from(t))).transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let provenance = format!("LIP6 {name}, site {}", chosen.unwrap_or(0));
    build(rows, name, provenance, interval)
}

/// Reads a trace file in `format`.
pub fn read(path: &Path, format: Format, site: Option<u64>, interval: Option<Duration>) -> Result<Trace> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_stem().map_or_else(|| "trace".to_owned(), |s| s.to_string_lossy().into_owned());
    match format {
        Format::Csv => csv(&text, &name, interval),
        Format::Lip6 => lip6(&text, &name, site, interval),
    }
}

/// Trace file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `sequence,sent,received` in seconds.
    Csv,
    /// LIP6 PlanetLab reception logs.
    Lip6,
}

/// Sorts by sequence, drops repeats, fills gaps with lost heartbeats and estimates the
/// interval (the median send spacing per sequence number) unless given.
fn build(mut rows: Vec<Row>, name: &str, provenance: String, interval: Option<Duration>) -> Result<Trace> {
    rows.sort_by_key(|r| r.sequence);
    rows.dedup_by_key(|r| r.sequence);
    if rows.len() < 2 {
        bail!("{name}: a trace needs at least two heartbeats");
    }
    let interval = match interval {
        Some(i) => i,
        None => {
            let mut spacing: Vec<f64> = rows
                .windows(2)
                .map(|w| (w[1].sent as f64 - w[0].sent as f64) / (w[1].sequence - w[0].sequence) as f64)
                .collect();
            let mid = spacing.len() / 2;
            spacing.select_nth_unstable_by(mid, f64::total_cmp);
            Duration::from_nanos(spacing[mid].max(1.0) as u64)
        }
    };
    let mut records = Vec::with_capacity(rows.len());
    for w in rows.windows(2) {
        let (r, next) = (w[0], w[1]);
        records.push(Record { sent: r.sent, stamp: r.sent, received: r.received.unwrap_or(LOST) });
        let missing = next.sequence - r.sequence - 1;
        for m in 1..=missing {
            let sent = r.sent + (next.sent.saturating_sub(r.sent)) * m / (missing + 1);
            records.push(Record { sent, stamp: sent, received: LOST });
        }
    }
    if let Some(last) = rows.last() {
        records.push(Record { sent: last.sent, stamp: last.sent, received: last.received.unwrap_or(LOST) });
    }
    Ok(Trace { name: name.to_owned(), provenance, interval, records, receiver_stalls: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_losses_gaps_and_headers() {
        let text = "sequence,sent,received\n1,10.0,10.05\n# a comment\n2,11.0,lost\n4,13.0,13.2\n3,12.0,\n";
        let t = csv(text, "x", None).unwrap();
        assert_eq!(t.interval, Duration::from_secs(1));
        assert_eq!(t.records.len(), 4);
        assert_eq!(t.records[0], Record { sent: 10_000_000_000, stamp: 10_000_000_000, received: 10_050_000_000 });
        assert!(!t.records[1].arrived() && !t.records[2].arrived());
        assert_eq!(t.records[3].received, 13_200_000_000);
        assert!(csv("1,x,2\n", "bad", None).is_err());
        assert!(csv("1,1.0,1.1\n", "short", None).is_err());
    }

    #[test]
    fn lip6_keeps_one_site_fills_gaps_and_aligns_clocks() {
        // Site 7's heartbeats 0, 1 and 3 reach node 0; site 5's line is ignored.
        let text = "7 0 10965460769347846 2439202604391108 14\n\
                    5 0 1 2 3\n\
                    7 1 10965460869347846 2439202704491108 14\n\
                    7 3 10965461069347846 2439202904391108 14\n";
        let t = lip6(text, "trace0", None, None).unwrap();
        assert_eq!(t.interval, Duration::from_millis(100));
        assert_eq!(t.records.len(), 4);
        assert!(!t.records[2].arrived());
        // The fastest heartbeat defines zero delay; the second took 100 µs more.
        assert_eq!(t.records[0].received - t.records[0].sent, 0);
        assert_eq!(t.records[1].received - t.records[1].sent, 100_000);
        assert_eq!(t.records[2].sent - t.records[1].sent, 100_000_000, "interpolated send");
        let only5 = lip6(text, "trace0", Some(5), None);
        assert!(only5.is_err(), "one heartbeat is not a trace");
        assert!(lip6("7 x 1 2 3\n", "bad", None, None).is_err());
    }
}
