//! Number and time formatting shared by the reporters, chosen to print what Locust prints
//! (Python's float repr, UTC timestamps) while keeping sub-millisecond latencies readable.

/// Python's `repr(float)`: the shortest string that round-trips, always with a fraction or an
/// exponent (`10.0`, `0.1`, `1e-05`, `1.5e+16`).
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` already yields the shortest round-trip digits; only the layout differs.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let body = if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{body}")
    } else {
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exp.unsigned_abs())
    }
}

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

/// Python's `repr(str)`, as Locust shows exception arguments and bad values: single quotes unless
/// the text holds a `'` and no `"`; backslash, the quote and control characters escaped.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (10.0, "10.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (99.92354823860856, "99.92354823860856"),
            (7.5687988251471605, "7.5687988251471605"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (-2.5, "-2.5"),
            (2.908397507498353, "2.908397507498353"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
        ];
        for (x, want) in cases {
            assert_eq!(py_float_repr(x), want, "{x:?}");
        }
    }

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
