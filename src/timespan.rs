//! Locust-style time spans (`-t/--run-time`, `-s/--stop-timeout`, config values): parsing
//! `30s`, `5m`, `1h30m`, `3h30m10s` or a bare number of seconds (`20`, `1.5`), and formatting a
//! [`Duration`] back into that notation for display.

use std::fmt;
use std::time::Duration;

/// The longest span accepted. Other modules add spans to `Instant`s, which panics on overflow;
/// a century is far beyond any real test yet keeps every such addition safe.
pub const MAX_TIMESPAN: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A time span that could not be parsed; displays the offending input and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time span {input:?}: {kind} (expected e.g. 30s, 5m, 1h30m, 3h30m10s or a number of seconds)")]
pub struct TimespanError {
    /// The input as given (untrimmed), so the user can recognise it.
    pub input: String,
    pub kind: TimespanErrorKind,
}

/// What exactly is wrong with a time span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimespanErrorKind {
    Empty,
    Negative,
    /// Not a number at all (`abc`, `NaN`, `inf`, `1e3`, `1..5`).
    NotANumber,
    /// A unit other than `h`, `m` or `s`.
    UnknownUnit(String),
    /// A unit with no number before it (`h`, `m30s`).
    MissingNumber(char),
    /// A number without a unit after a unit-suffixed part (`1h30`).
    MissingUnit(String),
    /// The same unit twice (`1m2m`).
    RepeatedUnit(char),
    /// Units not in h, m, s order (`30s1m`).
    OutOfOrder {
        unit: char,
        after: char,
    },
    /// Longer than [`MAX_TIMESPAN`] or not representable at all.
    TooLong,
}

impl fmt::Display for TimespanErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "it is empty"),
            Self::Negative => write!(f, "it is negative"),
            Self::NotANumber => write!(f, "it is not a number"),
            Self::UnknownUnit(u) => write!(f, "unknown unit {u:?} (units are h, m and s)"),
            Self::MissingNumber(u) => write!(f, "unit '{u}' has no number before it"),
            Self::MissingUnit(n) => write!(f, "number {n} has no unit after it"),
            Self::RepeatedUnit(u) => write!(f, "unit '{u}' appears more than once"),
            Self::OutOfOrder { unit, after } => {
                write!(
                    f,
                    "unit '{unit}' comes after '{after}' (write hours, then minutes, then seconds)"
                )
            }
            Self::TooLong => write!(
                f,
                "it is longer than the maximum of {}",
                format_timespan(MAX_TIMESPAN)
            ),
        }
    }
}

/// Parses a Locust time span. Surrounding whitespace is ignored and units are case-insensitive.
pub fn parse_timespan(s: &str) -> Result<Duration, TimespanError> {
    parse_inner(s.trim()).map_err(|kind| TimespanError {
        input: s.to_string(),
        kind,
    })
}

fn parse_inner(s: &str) -> Result<Duration, TimespanErrorKind> {
    if s.is_empty() {
        return Err(TimespanErrorKind::Empty);
    }
    if s.starts_with('-') {
        return Err(TimespanErrorKind::Negative);
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_bare_seconds(s);
    }
    parse_with_units(s)
}

/// Only plain decimal notation: `f64::from_str` would also take `NaN`, `inf` and `1e3`, which no
/// Locust user writes and which are more likely typos than intent.
fn parse_bare_seconds(s: &str) -> Result<Duration, TimespanErrorKind> {
    let dots = s.bytes().filter(|&b| b == b'.').count();
    let has_digit = s.bytes().any(|b| b.is_ascii_digit());
    if dots > 1 || !has_digit {
        return Err(TimespanErrorKind::NotANumber);
    }
    let d = if dots == 0 {
        let secs: u64 = s.parse().map_err(|_| TimespanErrorKind::TooLong)?;
        Duration::from_secs(secs)
    } else {
        let secs: f64 = s.parse().map_err(|_| TimespanErrorKind::NotANumber)?;
        Duration::try_from_secs_f64(secs).map_err(|_| TimespanErrorKind::TooLong)?
    };
    check_max(d)
}

fn parse_with_units(s: &str) -> Result<Duration, TimespanErrorKind> {
    const ORDER: [char; 3] = ['h', 'm', 's'];
    let mut total: u64 = 0;
    let mut last: Option<usize> = None;
    let mut rest = s;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits_end);
        if after.is_empty() {
            return Err(TimespanErrorKind::MissingUnit(number.to_string()));
        }
        let run_len = after
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after.len());
        let run = &after[..run_len];
        if run.is_empty() {
            // `1.5m`, `1h 30m`, `1,5s`: a malformed number rather than a strange unit.
            return Err(TimespanErrorKind::NotANumber);
        }
        let mut chars = run.chars();
        let unit = match (chars.next(), chars.next()) {
            (Some(c), None) => c.to_ascii_lowercase(),
            _ => '?',
        };
        let Some(pos) = ORDER.iter().position(|&u| u == unit) else {
            return Err(if number.is_empty() {
                TimespanErrorKind::NotANumber
            } else {
                TimespanErrorKind::UnknownUnit(run.to_string())
            });
        };
        if number.is_empty() {
            return Err(TimespanErrorKind::MissingNumber(unit));
        }
        if let Some(prev) = last {
            if prev == pos {
                return Err(TimespanErrorKind::RepeatedUnit(unit));
            }
            if prev > pos {
                return Err(TimespanErrorKind::OutOfOrder {
                    unit,
                    after: ORDER[prev],
                });
            }
        }
        last = Some(pos);
        let factor: u64 = [3600, 60, 1][pos];
        let value: u64 = number.parse().map_err(|_| TimespanErrorKind::TooLong)?;
        total = value
            .checked_mul(factor)
            .and_then(|v| v.checked_add(total))
            .ok_or(TimespanErrorKind::TooLong)?;
        rest = &after[run_len..];
    }
    check_max(Duration::from_secs(total))
}

fn check_max(d: Duration) -> Result<Duration, TimespanErrorKind> {
    if d > MAX_TIMESPAN {
        Err(TimespanErrorKind::TooLong)
    } else {
        Ok(d)
    }
}

/// Formats a duration as `1h30m`, `3h30m10s`, `45s`, `0s`; a fractional second is shown to the
/// millisecond (`1.5s`, `2m0.25s`), anything finer is dropped.
pub fn format_timespan(d: Duration) -> String {
    let total_ms = d.as_millis();
    let ms = total_ms % 1000;
    let total_secs = total_ms / 1000;
    let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if ms > 0 {
        let frac = format!("{ms:03}");
        out.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
    } else if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn err_kind(s: &str) -> TimespanErrorKind {
        match parse_timespan(s) {
            Ok(d) => panic!("{s:?} parsed as {d:?}, expected an error"),
            Err(e) => e.kind,
        }
    }

    #[test]
    fn parses_locust_forms() {
        assert_eq!(parse_timespan("30s"), Ok(secs(30)));
        assert_eq!(parse_timespan("5m"), Ok(secs(300)));
        assert_eq!(parse_timespan("3h"), Ok(secs(3 * 3600)));
        assert_eq!(parse_timespan("1h30m"), Ok(secs(5400)));
        assert_eq!(
            parse_timespan("3h30m10s"),
            Ok(secs(3 * 3600 + 30 * 60 + 10))
        );
        assert_eq!(parse_timespan("1h10s"), Ok(secs(3610)));
        assert_eq!(parse_timespan("20"), Ok(secs(20)));
        assert_eq!(parse_timespan("0"), Ok(secs(0)));
        assert_eq!(parse_timespan("0s"), Ok(secs(0)));
        assert_eq!(parse_timespan("90m"), Ok(secs(5400)));
    }

    #[test]
    fn parses_fraction_whitespace_and_uppercase() {
        assert_eq!(parse_timespan("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timespan(".5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timespan("2."), Ok(secs(2)));
        assert_eq!(parse_timespan("  1m \n"), Ok(secs(60)));
        assert_eq!(parse_timespan("\t20 "), Ok(secs(20)));
        assert_eq!(parse_timespan("1H30M"), Ok(secs(5400)));
    }

    #[test]
    fn rejects_empty_and_negative() {
        assert_eq!(err_kind(""), TimespanErrorKind::Empty);
        assert_eq!(err_kind("   "), TimespanErrorKind::Empty);
        assert_eq!(err_kind("-5"), TimespanErrorKind::Negative);
        assert_eq!(err_kind("-1m"), TimespanErrorKind::Negative);
        assert_eq!(err_kind(" -0.5"), TimespanErrorKind::Negative);
    }

    #[test]
    fn rejects_non_numbers() {
        assert_eq!(err_kind("NaN"), TimespanErrorKind::NotANumber);
        assert_eq!(err_kind("inf"), TimespanErrorKind::NotANumber);
        assert_eq!(err_kind("abc"), TimespanErrorKind::NotANumber);
        assert_eq!(err_kind("1e3"), TimespanErrorKind::UnknownUnit("e".into()));
        assert_eq!(err_kind("1..5"), TimespanErrorKind::NotANumber);
        assert_eq!(err_kind("."), TimespanErrorKind::NotANumber);
        assert_eq!(err_kind("1.5m"), TimespanErrorKind::NotANumber);
        assert_eq!(err_kind("1h 30m"), TimespanErrorKind::NotANumber);
    }

    #[test]
    fn rejects_unknown_units() {
        assert_eq!(err_kind("10x"), TimespanErrorKind::UnknownUnit("x".into()));
        assert_eq!(
            err_kind("10ms"),
            TimespanErrorKind::UnknownUnit("ms".into())
        );
        assert_eq!(err_kind("2d"), TimespanErrorKind::UnknownUnit("d".into()));
        assert_eq!(
            err_kind("1h30min"),
            TimespanErrorKind::UnknownUnit("min".into())
        );
        assert_eq!(err_kind("5µ"), TimespanErrorKind::UnknownUnit("µ".into()));
    }

    #[test]
    fn rejects_repeated_out_of_order_and_dangling_parts() {
        assert_eq!(err_kind("1m2m"), TimespanErrorKind::RepeatedUnit('m'));
        assert_eq!(err_kind("1h1H"), TimespanErrorKind::RepeatedUnit('h'));
        assert_eq!(
            err_kind("30s1m"),
            TimespanErrorKind::OutOfOrder {
                unit: 'm',
                after: 's'
            }
        );
        assert_eq!(
            err_kind("1m1h"),
            TimespanErrorKind::OutOfOrder {
                unit: 'h',
                after: 'm'
            }
        );
        assert_eq!(err_kind("h"), TimespanErrorKind::MissingNumber('h'));
        assert_eq!(err_kind("m30s"), TimespanErrorKind::MissingNumber('m'));
        assert_eq!(err_kind("1hs"), TimespanErrorKind::UnknownUnit("hs".into()));
        assert_eq!(err_kind("1h.5s"), TimespanErrorKind::NotANumber);
        assert_eq!(
            err_kind("1h30"),
            TimespanErrorKind::MissingUnit("30".into())
        );
    }

    #[test]
    fn rejects_overflow() {
        assert_eq!(
            err_kind("99999999999999999999999"),
            TimespanErrorKind::TooLong
        );
        assert_eq!(
            err_kind("99999999999999999999h"),
            TimespanErrorKind::TooLong
        );
        assert_eq!(
            err_kind("18446744073709551615h"),
            TimespanErrorKind::TooLong
        );
        assert_eq!(
            err_kind("1000000000000000000000.5"),
            TimespanErrorKind::TooLong
        );
        // Just over the century limit, and just under.
        assert_eq!(err_kind("876601h"), TimespanErrorKind::TooLong);
        assert_eq!(parse_timespan("876000h"), Ok(MAX_TIMESPAN));
    }

    #[test]
    fn error_message_names_input_and_problem() {
        let msg = parse_timespan("30x").unwrap_err().to_string();
        assert!(msg.contains("\"30x\""), "{msg}");
        assert!(msg.contains("unknown unit \"x\""), "{msg}");
        let msg = parse_timespan("-5").unwrap_err().to_string();
        assert!(msg.contains("\"-5\"") && msg.contains("negative"), "{msg}");
        let msg = parse_timespan("").unwrap_err().to_string();
        assert!(msg.contains("empty"), "{msg}");
    }

    #[test]
    fn formats() {
        assert_eq!(format_timespan(secs(0)), "0s");
        assert_eq!(format_timespan(secs(45)), "45s");
        assert_eq!(format_timespan(secs(60)), "1m");
        assert_eq!(format_timespan(secs(5400)), "1h30m");
        assert_eq!(format_timespan(secs(3 * 3600 + 30 * 60 + 10)), "3h30m10s");
        assert_eq!(format_timespan(secs(3610)), "1h10s");
        assert_eq!(format_timespan(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_timespan(Duration::from_millis(120_250)), "2m0.25s");
        assert_eq!(format_timespan(Duration::from_millis(7)), "0.007s");
        assert_eq!(format_timespan(Duration::from_micros(300)), "0s");
        assert_eq!(format_timespan(MAX_TIMESPAN), "876000h");
    }

    #[test]
    fn whole_second_spans_round_trip() {
        for n in [0, 1, 59, 60, 61, 3599, 3600, 3661, 86_400, 12_345_678] {
            let d = secs(n);
            assert_eq!(parse_timespan(&format_timespan(d)), Ok(d), "{n}");
        }
    }
}
