//! Number and time formatting shared by the reporters, chosen to print what Locust prints
//! (UTC timestamps, readable percentiles) while keeping sub-millisecond latencies readable.

use crate::pyfmt::py_float_repr;

/// A latency for the percentile and median columns: whole milliseconds from 100 ms up (as Locust
/// prints them), otherwise 3 significant digits with trailing zeros trimmed (`12.3`, `0.412`, `5`),
/// because our microsecond data must not print sub-millisecond loopback latencies as 0.
pub fn format_ms(ms: f64) -> String {
    if !ms.is_finite() || ms <= 0.0 {
        return "0".to_owned();
    }
    // 99.95 and above would print as "100.0" with 3 significant digits.
    if ms >= 99.95 {
        return format!("{}", ms.round() as u64);
    }
    let magnitude = ms.log10().floor() as i32;
    // Microsecond resolution: more than 6 decimals would be noise.
    let decimals = (2 - magnitude).clamp(0, 6) as usize;
    let text = format!("{ms:.decimals$}");
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text.as_str()
    };
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Unix seconds as `%Y-%m-%dT%H:%M:%SZ` in UTC (Locust's failures CSV); empty if unrepresentable.
pub fn format_utc(unix: f64) -> String {
    if !unix.is_finite() {
        return String::new();
    }
    chrono::DateTime::from_timestamp(unix.floor() as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Locust's `get_readable_percentiles`: `0.5` → `50%`, `0.999` → `99.9%`.
pub fn readable_percentile(q: f64) -> String {
    let pct = (q * 100.0 * 1e6).round() / 1e6;
    if pct.fract() == 0.0 {
        format!("{}%", pct as i64)
    } else {
        format!("{}%", py_float_repr(pct))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_format_keeps_three_digits_below_100() {
        let cases = [
            (12.34, "12.3"),
            (0.412, "0.412"),
            (5.0, "5"),
            (0.0, "0"),
            (99.94, "99.9"),
            (99.96, "100"),
            (9.996, "10"),
            (110.4, "110"),
            (194.43815219720392, "194"),
            (1234.4, "1234"),
            (1234.6, "1235"),
            (0.0004, "0.0004"),
            (1e-9, "0"),
            (f64::NAN, "0"),
            (-3.0, "0"),
        ];
        for (x, want) in cases {
            assert_eq!(format_ms(x), want, "{x:?}");
        }
    }

    #[test]
    fn utc_timestamps() {
        assert_eq!(format_utc(1_795_691_229.9), "2026-11-26T11:07:09Z");
        assert_eq!(format_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(f64::NAN), "");
        assert_eq!(format_utc(1e300), "");
    }

    #[test]
    fn readable_percentiles_like_locust() {
        let got: Vec<String> = crate::stats::PERCENTILES_TO_REPORT
            .iter()
            .map(|q| readable_percentile(*q))
            .collect();
        assert_eq!(
            got,
            ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
        );
    }
}
