//! Importers for recorded traces: a plain CSV and the LIP6 PlanetLab reception logs, plus an
//! optional CSV of the receiver's own pauses.
//!
//! Heartbeats missing from a file count as lost; their send time is interpolated between the
//! neighbouring sends (it only matters for detection times).
//!
//! Every reader streams its input line by line and refuses, with an error naming the line and
//! what is wrong, anything that is not a usable trace: a line longer than [`MAX_LINE`] bytes, a
//! field that is not a number, a negative or non-finite send time, send times that go back as
//! sequence numbers go up, a trace with no heartbeat or none received, or one whose sequence
//! numbers span more than [`MAX_HEARTBEATS`]. Memory is therefore bounded by the trace's
//! length, and that length is capped. Whether a trace is long enough for the lab's warm-up is
//! decided by the caller, who knows the warm-up ([`check_length`]).

use core::time::Duration;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::trace::{LOST, Record, Trace};

/// The most heartbeats a trace may span (sequence numbers from first to last, gaps included):
/// 10 million, about 11.5 days at 100 ms or 115 days at 1 s. It keeps the lab's memory under
/// 1 GiB whatever the file says.
pub const MAX_HEARTBEATS: u64 = 10_000_000;

/// The longest line a trace file may have, in bytes.
pub const MAX_LINE: usize = 4096;

/// The shortest heartbeat interval the lab accepts, given or estimated.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The longest heartbeat interval the lab accepts, given or estimated.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Heartbeats each half of a recorded trace needs beyond the warm-up ([`check_length`]).
pub const MIN_MEASURED: u32 = 1000;

/// The latest time a trace may name, in seconds (the lab counts nanoseconds in a `u64`).
const MAX_SECONDS: f64 = 1.8e10;

/// A recorded heartbeat as read: sequence number, send time (sender's clock) and receive time
/// (receiver's clock, [`LOST`] if it never arrived), in nanoseconds, and the line it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    sequence: u64,
    sent: u64,
    received: u64,
    line: u32,
}

/// Calls `each` with every line of `input` (1-based number, text without the line end),
/// refusing lines longer than [`MAX_LINE`] and text that is not UTF-8.
fn lines(input: impl Read, mut each: impl FnMut(u32, &str) -> Result<()>) -> Result<()> {
    let mut reader = BufReader::new(input);
    let mut buf = Vec::with_capacity(256);
    let mut number: u32 = 0;
    loop {
        buf.clear();
        let read = reader.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
        if read == 0 {
            return Ok(());
        }
        number = number.saturating_add(1);
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if buf.len() > MAX_LINE {
            bail!("line {number}: longer than {MAX_LINE} bytes");
        }
        let text = std::str::from_utf8(&buf).with_context(|| format!("line {number}: not UTF-8 text"))?;
        each(number, text.trim_end_matches('\r'))?;
    }
}

/// A time field in seconds as nanoseconds: `Ok(None)` for a negative value when `negative_is_lost`,
/// an error naming the problem otherwise.
fn seconds(field: &str, what: &str, line: u32, negative_is_lost: bool) -> Result<Option<u64>> {
    let secs: f64 = field.parse().map_err(|_| anyhow::anyhow!("line {line}: {what} {field:?} is not a number"))?;
    if !secs.is_finite() {
        bail!("line {line}: {what} {field:?} is not a finite number");
    }
    if secs < 0.0 {
        if negative_is_lost {
            return Ok(None);
        }
        bail!("line {line}: {what} {field:?} is negative (times are seconds ≥ 0 on one clock)");
    }
    if secs > MAX_SECONDS {
        bail!("line {line}: {what} {field:?} is too large (at most {MAX_SECONDS:e} s)");
    }
    Ok(Some((secs * 1e9).round() as u64))
}

/// Reads a CSV trace from `input`: one heartbeat per line, `sequence,sent,received`, times in
/// seconds (decimals allowed) on one clock; `received` empty, `lost` or negative for a lost
/// heartbeat. Blank lines and `#` comments are skipped anywhere, and so is a header line (the
/// first other line, if its first field is not a number). Lines may come in any order (as
/// received, say); the send times must not go back as the sequence numbers go up.
pub fn csv_from(input: impl Read, name: &str, interval: Option<Duration>) -> Result<Trace> {
    let mut rows = Vec::new();
    let mut seen_data = false;
    lines(input, |line, text| {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Ok(());
        }
        let first_line = !seen_data;
        seen_data = true;
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let Ok(sequence) = fields[0].parse::<u64>() else {
            if first_line && fields[0].parse::<f64>().is_err() {
                return Ok(()); // a header
            }
            bail!("line {line}: sequence {:?} is not a whole number ≥ 0", fields[0]);
        };
        if fields.len() != 3 {
            bail!("line {line}: expected 3 fields (sequence,sent,received), found {}", fields.len());
        }
        let sent =
            seconds(fields[1], "send time", line, false)?.with_context(|| format!("line {line}: no send time"))?;
        let received = match fields[2] {
            "" => LOST,
            f if f.eq_ignore_ascii_case("lost") => LOST,
            f => seconds(f, "receive time", line, true)?.unwrap_or(LOST),
        };
        push(&mut rows, Row { sequence, sent, received, line })
    })?;
    build(rows, name, format!("CSV {name}"), interval)
}

/// [`csv_from`] on a string.
pub fn csv(text: &str, name: &str, interval: Option<Duration>) -> Result<Trace> {
    csv_from(text.as_bytes(), name, interval)
}

/// Adds a row, refusing more than [`MAX_HEARTBEATS`] of them before they take the memory.
fn push(rows: &mut Vec<Row>, row: Row) -> Result<()> {
    if rows.len() as u64 >= MAX_HEARTBEATS {
        bail!("line {}: more than {MAX_HEARTBEATS} heartbeats (the most a trace may have)", row.line);
    }
    rows.push(row);
    Ok(())
}

/// Reads a LIP6 PlanetLab reception log (`<site> <seq> <t_send> <t_recv> <hops>`, times in
/// nanoseconds, the send time on the sender's clock and the receive time on the receiver's),
/// keeping the heartbeats from `site` (the first site in the file if `None`).
///
/// The two clocks are unrelated, so the send times are moved onto the receiver's clock by the
/// smallest observed `t_recv − t_send` (assuming the fastest heartbeat took no time): detection
/// times then come out short by the true minimum delay, equally for every detector.
pub fn lip6_from(input: impl Read, name: &str, site: Option<u64>, interval: Option<Duration>) -> Result<Trace> {
    let mut raw: Vec<(u64, u64, u64, u32)> = Vec::new();
    let mut chosen = site;
    lines(input, |line, text| {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.is_empty() {
            return Ok(());
        }
        if fields.len() < 4 {
            bail!("line {line}: expected <site> <seq> <t_send> <t_recv> <hops>");
        }
        let number = |i: usize| -> Result<u64> {
            fields[i]
                .parse()
                .map_err(|_| anyhow::anyhow!("line {line}: field {} {:?} is not a whole number", i + 1, fields[i]))
        };
        let from = number(0)?;
        if *chosen.get_or_insert(from) != from {
            return Ok(());
        }
        if raw.len() as u64 >= MAX_HEARTBEATS {
            bail!("line {line}: more than {MAX_HEARTBEATS} heartbeats (the most a trace may have)");
        }
        raw.push((number(1)?, number(2)?, number(3)?, line));
        Ok(())
    })?;
    let offset = raw.iter().map(|&(_, sent, received, _)| i128::from(received) - i128::from(sent)).min();
    let Some(offset) = offset else {
        bail!("{name}: no heartbeats{}", chosen.map(|s| format!(" from site {s}")).unwrap_or_default())
    };
    // Shift both clocks so that the earliest time is well above zero.
    let earliest = raw.iter().map(|&(_, sent, _, _)| i128::from(sent) + offset).min().unwrap_or(0);
    let shift = 1_000_000_000 - earliest;
    let moved = |t: i128, line: u32| {
        u64::try_from(t + shift)
            .ok()
            .filter(|&t| t as f64 <= MAX_SECONDS * 1e9)
            .with_context(|| format!("line {line}: time out of range"))
    };
    let rows = raw
        .into_iter()
        .map(|(sequence, sent, received, line)| {
            Ok(Row {
                sequence,
                sent: moved(i128::from(sent) + offset, line)?,
                received: moved(i128::from(received), line)?,
                line,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let provenance = format!("LIP6 {name}, site {}", chosen.unwrap_or(0));
    build(rows, name, provenance, interval)
}

/// [`lip6_from`] on a string.
pub fn lip6(text: &str, name: &str, site: Option<u64>, interval: Option<Duration>) -> Result<Trace> {
    lip6_from(text.as_bytes(), name, site, interval)
}

/// Reads a trace file in `format`.
pub fn read(path: &Path, format: Format, site: Option<u64>, interval: Option<Duration>) -> Result<Trace> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_stem().map_or_else(|| "trace".to_owned(), |s| s.to_string_lossy().into_owned());
    let trace = match format {
        Format::Csv => csv_from(file, &name, interval),
        Format::Lip6 => lip6_from(file, &name, site, interval),
    };
    trace.with_context(|| format!("{} is not a usable trace", path.display()))
}

/// Reads the receiver's pauses: one per line, `start,end` in seconds on the receiver's clock
/// (the clock of the trace's receive times), during which the receiving process did not run —
/// a GC pause, a stopped VM. Blank lines, `#` comments and a header line are skipped. Pauses may
/// come in any order; overlapping ones are merged. Each must end after it starts.
pub fn pauses_from(input: impl Read) -> Result<Vec<(u64, u64)>> {
    let mut pauses = Vec::new();
    let mut seen_data = false;
    lines(input, |line, text| {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Ok(());
        }
        let first_line = !seen_data;
        seen_data = true;
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        if first_line && fields[0].parse::<f64>().is_err() {
            return Ok(()); // a header
        }
        if fields.len() != 2 {
            bail!("line {line}: expected 2 fields (start,end), found {}", fields.len());
        }
        let start = seconds(fields[0], "pause start", line, false)?.unwrap_or(0);
        let end = seconds(fields[1], "pause end", line, false)?.unwrap_or(0);
        if end <= start {
            bail!("line {line}: the pause ends ({}) no later than it starts ({})", fields[1], fields[0]);
        }
        if pauses.len() as u64 >= MAX_HEARTBEATS {
            bail!("line {line}: more than {MAX_HEARTBEATS} pauses");
        }
        pauses.push((start, end));
        Ok(())
    })?;
    pauses.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(pauses.len());
    for (start, end) in pauses {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ok(merged)
}

/// Reads a receiver-pause file ([`pauses_from`]).
pub fn read_pauses(path: &Path) -> Result<Vec<(u64, u64)>> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    pauses_from(file).with_context(|| format!("{} is not a usable list of receiver pauses", path.display()))
}

/// Whether `trace` is long enough for the lab: each half (the tuning and the test part) must
/// span the warm-up of `warmup` intervals plus [`MIN_MEASURED`] more, and receive at least one
/// heartbeat after its warm-up. The error says what is missing and what the minimum is.
pub fn check_length(trace: &Trace, warmup: u32) -> Result<()> {
    let eta = trace.interval;
    let needed = eta.saturating_mul(warmup.saturating_add(MIN_MEASURED));
    let minimum = needed.saturating_mul(2);
    let span = Duration::from_nanos(trace.end().saturating_sub(trace.start()));
    let heartbeats = trace.records.len() as u64;
    let wanted = 2 * (u64::from(warmup) + u64::from(MIN_MEASURED));
    if span < minimum || heartbeats < wanted {
        bail!(
            "{}: too short: {heartbeats} heartbeats over {:.1} s, but the lab needs at least {wanted} heartbeats \
             spanning {:.1} s (η {:?}): each half — one to tune on, one to test on — needs a warm-up of {warmup} \
             intervals (excluded from every metric) plus {MIN_MEASURED} more (with --quick the warm-up is shorter)",
            trace.name,
            span.as_secs_f64(),
            minimum.as_secs_f64(),
            eta
        );
    }
    // The halves as `Trace::split(0.5)` cuts them.
    let (a, b) = trace.records.split_at(trace.records.len() / 2);
    let warmup_ns = u64::try_from(eta.saturating_mul(warmup).as_nanos()).unwrap_or(u64::MAX);
    for (half, part) in [("first (tuning)", a), ("second (test)", b)] {
        let warm_end = part.first().map_or(0, |r| r.sent).saturating_add(warmup_ns);
        if !part.iter().any(|r| r.arrived() && r.received >= warm_end) {
            bail!(
                "{}: the {half} half receives no heartbeat after its warm-up of {warmup} intervals ({:.1} s), so \
                 there is nothing to measure there",
                trace.name,
                eta.saturating_mul(warmup).as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Trace file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `sequence,sent,received` in seconds.
    Csv,
    /// LIP6 PlanetLab reception logs.
    Lip6,
}

/// Sorts by sequence, drops repeats, refuses what is not a trace, fills gaps with lost
/// heartbeats and estimates the interval (the median send spacing per sequence number) unless
/// given.
fn build(mut rows: Vec<Row>, name: &str, provenance: String, interval: Option<Duration>) -> Result<Trace> {
    rows.sort_by_key(|r| r.sequence);
    rows.dedup_by_key(|r| r.sequence);
    let (Some(first), Some(last)) = (rows.first().copied(), rows.last().copied()) else {
        bail!("{name}: no heartbeats (a trace needs at least two, one per line: sequence,sent,received)");
    };
    if rows.len() < 2 {
        bail!("{name}: only one heartbeat (line {}); a trace needs at least two", first.line);
    }
    if !rows.iter().any(|r| r.received != LOST) {
        bail!(
            "{name}: none of its {} heartbeats was received (every receive time is empty, `lost` or negative)",
            rows.len()
        );
    }
    if let Some(w) = rows.windows(2).find(|w| w[1].sent < w[0].sent) {
        let secs = |ns: u64| ns as f64 * 1e-9;
        bail!(
            "{name}: sequence numbers are not monotonic in send time: heartbeat {} (line {}) was sent at {:.6} s, \
             before heartbeat {} (line {}) at {:.6} s — did the sender restart? Replay each run of increasing \
             sequence numbers as its own trace",
            w[1].sequence,
            w[1].line,
            secs(w[1].sent),
            w[0].sequence,
            w[0].line,
            secs(w[0].sent)
        );
    }
    let span = last.sequence - first.sequence + 1;
    if span > MAX_HEARTBEATS {
        bail!(
            "{name}: its sequence numbers run from {} to {} ({span} heartbeats, lost ones included), more than the \
             {MAX_HEARTBEATS} a trace may have",
            first.sequence,
            last.sequence
        );
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
            Duration::from_nanos(spacing[mid].max(0.0) as u64)
        }
    };
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        bail!(
            "{name}: a heartbeat interval of {interval:?} (given, or the median send spacing) is outside the lab's \
             range [{MIN_INTERVAL:?}, {MAX_INTERVAL:?}]"
        );
    }
    let mut records = Vec::with_capacity(usize::try_from(span).unwrap_or(0));
    for w in rows.windows(2) {
        let (r, next) = (w[0], w[1]);
        records.push(Record { sent: r.sent, stamp: r.sent, received: r.received });
        let missing = next.sequence - r.sequence - 1;
        for m in 1..=missing {
            let offset = u128::from(next.sent - r.sent) * u128::from(m) / u128::from(missing + 1);
            let sent = r.sent + offset as u64;
            records.push(Record { sent, stamp: sent, received: LOST });
        }
    }
    records.push(Record { sent: last.sent, stamp: last.sent, received: last.received });
    drop(rows);
    Ok(Trace { name: name.to_owned(), provenance, interval, records, receiver_stalls: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        format!("{:#}", csv(text, "t", None).unwrap_err())
    }

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
    fn a_header_after_comments_is_a_header() {
        let text = "# recorded on host a\n\n# by tool b\nseq,sent,received\n1,10.0,10.05\n2,11.0,11.05\n";
        let t = csv(text, "x", None).unwrap();
        assert_eq!(t.records.len(), 2);
        // A second non-numeric line is an error, and says which field is wrong.
        let e = err("seq,sent,received\nsequence,sent,received\n1,10.0,10.05\n");
        assert!(e.contains("line 2: sequence \"sequence\" is not a whole number"), "{e}");
    }

    #[test]
    fn each_bad_field_is_named() {
        let e = err("1,-3.5,1.0\n2,1.0,1.1\n");
        assert!(e.contains("line 1: send time \"-3.5\" is negative"), "{e}");
        let e = err("1,,1.0\n2,1.0,1.1\n");
        assert!(e.contains("line 1: send time \"\" is not a number"), "{e}");
        let e = err("1,inf,1.0\n");
        assert!(e.contains("not a finite number"), "{e}");
        let e = err("1,1e30,1.0\n");
        assert!(e.contains("too large"), "{e}");
        let e = err("1,1.0\n");
        assert!(e.contains("line 1: expected 3 fields (sequence,sent,received), found 2"), "{e}");
        let e = err("1,1.0,1.1,9\n");
        assert!(e.contains("found 4"), "{e}");
        let e = err("1.5,1.0,1.1\n");
        assert!(e.contains("sequence \"1.5\" is not a whole number"), "{e}");
        let e = err("1,1.0,soon\n");
        assert!(e.contains("line 1: receive time \"soon\" is not a number"), "{e}");
        let long = format!("1,1.0,{}\n", "1".repeat(MAX_LINE));
        assert!(err(&long).contains("line 1: longer than 4096 bytes"));
        assert!(format!("{:#}", csv_from(&b"1,1.0,\xff\n"[..], "t", None).unwrap_err()).contains("not UTF-8"));
    }

    #[test]
    fn traces_that_are_not_traces_are_refused() {
        let e = err("");
        assert!(e.contains("no heartbeats"), "{e}");
        let e = err("# only a comment\nsequence,sent,received\n");
        assert!(e.contains("no heartbeats"), "{e}");
        let e = err("1,1.0,1.1\n");
        assert!(e.contains("only one heartbeat") && e.contains("at least two"), "{e}");
        let e = err("1,1.0,lost\n2,2.0,\n3,3.0,-1\n");
        assert!(e.contains("none of its 3 heartbeats was received"), "{e}");
        let e = err("1,10.0,10.1\n2,11.0,11.1\n3,5.0,5.1\n");
        assert!(e.contains("not monotonic in send time: heartbeat 3 (line 3) was sent at 5.000000 s"), "{e}");
        let e = err("1,1.0,1.1\n99999999999,2.0,2.1\n");
        assert!(e.contains("more than the 10000000 a trace may have"), "{e}");
        let e = err("1,1.0,1.1\n2,1.0,1.1\n3,1.0,1.1\n");
        assert!(e.contains("interval of 0ns") && e.contains("outside the lab's range"), "{e}");
        assert!(csv("1,1.0,1.1\n2,1.0,1.1\n", "t", Some(Duration::from_secs(1))).is_ok(), "given interval");
    }

    #[test]
    fn length_is_checked_against_the_warm_up() {
        let trace = |n: u64| {
            let text: String = (1..=n).map(|k| format!("{k},{k}.0,{k}.01\n")).collect();
            csv(&text, "t", None).unwrap()
        };
        let e = format!("{:#}", check_length(&trace(4), 16).unwrap_err());
        assert!(e.contains("too short: 4 heartbeats") && e.contains("needs at least 2032 heartbeats"), "{e}");
        assert!(check_length(&trace(2032), 16).is_err(), "2032 heartbeats span 2031 s, short of 2032");
        assert!(check_length(&trace(2040), 16).is_ok());
        // Long enough, but the test half is silent after its warm-up.
        // (Its last arrival is a very late copy of heartbeat 101, in the first half.)
        let mut silent = trace(4000);
        for r in &mut silent.records[2010..] {
            r.received = LOST;
        }
        silent.records[100].received = 4100 * 1_000_000_000;
        let e = format!("{:#}", check_length(&silent, 1000).unwrap_err());
        assert!(e.contains("second (test) half receives no heartbeat after its warm-up"), "{e}");
    }

    #[test]
    fn pauses_are_read_sorted_and_merged() {
        let p = pauses_from(&b"# pauses\nstart,end\n5,6\n1,2.5\n2,3\n"[..]).unwrap();
        assert_eq!(p, vec![(1_000_000_000, 3_000_000_000), (5_000_000_000, 6_000_000_000)]);
        let e = format!("{:#}", pauses_from(&b"3,2\n"[..]).unwrap_err());
        assert!(e.contains("line 1: the pause ends (2) no later than it starts (3)"), "{e}");
        assert!(pauses_from(&b"1,-2\n"[..]).is_err());
        assert!(pauses_from(&b"1,2,3\n"[..]).is_err());
        assert_eq!(pauses_from(&b""[..]).unwrap(), Vec::new());
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
        assert!(lip6("", "empty", None, None).is_err());
    }
}
