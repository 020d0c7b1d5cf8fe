//! Durations as people write them: `100ms`, `2s`, `1m 30s`.

use std::time::Duration;

/// Parses a human duration; the error says what was expected.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("'{text}' is not a duration such as 100ms or 2s ({err})"))
}

/// Formats a duration briefly, in the largest unit that keeps it readable.
pub(crate) fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.0}µs")
    } else if us < 10_000_000.0 {
        format!("{:.1}ms", us / 1_000.0).replace(".0ms", "ms")
    } else {
        format!("{:.1}s", us / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_forms_parse_and_nonsense_does_not() {
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert!(parse("10xs").unwrap_err().contains("'10xs' is not a duration"));
        assert_eq!(show(Duration::from_millis(500)), "500ms");
        assert_eq!(show(Duration::from_micros(80)), "80µs");
    }
}
