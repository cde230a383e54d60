//! Durations as rubric authors write them: `"30s"`, `"1.5s"`, `"500ms"`, `"2m"`, `"1m30s"`,
//! `"1h"`, or clock form `"0:30"`, `"1:02:03"` (also accepted with a fraction: `"0:05.5"`).
//!
//! Written by hand because the well-known crates (humantime, duration-str) either reject
//! fractions like `1.5s` or the clock form that call-centre people use when they read times
//! off a player; the grammar here is small and fully tested.

/// Parses a duration into milliseconds. The error says what was expected.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err(
            "empty duration (expected e.g. \"30s\", \"1m30s\", \"500ms\" or \"0:30\")".into(),
        );
    }
    if s.contains(':') {
        return parse_clock(s);
    }
    let mut total = 0f64;
    let mut rest = s;
    let mut parts = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(format!("'{s}' is not a duration: expected a number at '{rest}' (e.g. \"30s\", \"1m30s\", \"500ms\")"));
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| {
            format!(
                "'{s}' is not a duration: '{}' is not a number",
                &rest[..number_len]
            )
        })?;
        rest = rest[number_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit.to_ascii_lowercase().as_str() {
            "ms" => 1.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
            "h" | "hr" | "hour" | "hours" => 3_600_000.0,
            "" => {
                return Err(format!(
                    "'{s}' has no unit: write e.g. \"{}s\" for seconds",
                    &text.trim()
                ))
            }
            other => {
                return Err(format!(
                    "'{s}': unknown unit '{other}' (expected ms, s, m or h)"
                ))
            }
        };
        total += number * scale;
        rest = rest[unit_len..].trim_start();
        parts += 1;
    }
    debug_assert!(parts > 0);
    if !total.is_finite() || total > 1e15 {
        return Err(format!("'{s}' is too long a duration"));
    }
    Ok(total.round() as u64)
}

/// `m:ss`, `h:mm:ss`, with an optional fraction of a second.
fn parse_clock(s: &str) -> Result<u64, String> {
    let not_clock = || format!("'{s}' is not a clock time (expected m:ss or h:mm:ss)");
    let fields: Vec<&str> = s.split(':').collect();
    if fields.len() > 3 {
        return Err(not_clock());
    }
    let mut total_secs = 0f64;
    for (i, field) in fields.iter().enumerate() {
        let is_last = i + 1 == fields.len();
        if field.is_empty()
            || !field
                .chars()
                .all(|c| c.is_ascii_digit() || (is_last && c == '.'))
        {
            return Err(not_clock());
        }
        let value: f64 = field.parse().map_err(|_| not_clock())?;
        if i > 0 && value >= 60.0 {
            return Err(format!("'{s}': minutes and seconds must be below 60"));
        }
        total_secs = total_secs * 60.0 + value;
    }
    Ok((total_secs * 1000.0).round() as u64)
}

/// A short human form of a length of time for reasons: `25 s`, `1.5 s`, `2 min 5 s`.
pub fn fmt_span(ms: u64) -> String {
    if ms < 60_000 {
        let tenths = (ms + 50) / 100;
        if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    } else {
        let secs = (ms + 500) / 1000;
        if secs.is_multiple_of(60) {
            format!("{} min", secs / 60)
        } else {
            format!("{} min {} s", secs / 60, secs % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_compounds() {
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1_500));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("1m 30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms(" 25 seconds "), Ok(25_000));
    }

    #[test]
    fn reads_clock_times() {
        assert_eq!(parse_duration_ms("0:30"), Ok(30_000));
        assert_eq!(parse_duration_ms("1:02:03"), Ok(3_723_000));
        assert_eq!(parse_duration_ms("0:05.5"), Ok(5_500));
        assert_eq!(parse_duration_ms("12:00"), Ok(720_000));
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        assert!(parse_duration_ms("30").unwrap_err().contains("no unit"));
        assert!(parse_duration_ms("30 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration_ms("").is_err());
        assert!(parse_duration_ms("abc").is_err());
        assert!(parse_duration_ms("1:75").unwrap_err().contains("below 60"));
        assert!(parse_duration_ms("1:2:3:4").is_err());
        assert!(parse_duration_ms("1.2.3s").is_err());
        assert!(parse_duration_ms("a:30").is_err());
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(fmt_span(25_000), "25 s");
        assert_eq!(fmt_span(1_540), "1.5 s");
        assert_eq!(fmt_span(125_000), "2 min 5 s");
        assert_eq!(fmt_span(120_000), "2 min");
    }
}
