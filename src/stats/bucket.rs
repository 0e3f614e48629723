//! Locust's response-time bucketing (`stats.bucket_response_time`), reproduced bit for bit so the
//! `response_times` dict we hand to Locust-shaped consumers has the same keys Locust would produce.

/// Python's `round(x, ndigits)` for `ndigits <= 0`, including its round-half-to-even rule.
///
/// Dividing by a power of ten is exact for the only inputs that can be true ties (integers), so the
/// division cannot turn a non-tie into a tie or the other way round for the magnitudes we see.
fn py_round(x: f64, ndigits: i32) -> f64 {
    if ndigits >= 0 {
        return x.round_ties_even();
    }
    let scale = 10f64.powi(-ndigits);
    (x / scale).round_ties_even() * scale
}

/// The Locust bucket key (integer milliseconds) for a response time in milliseconds:
/// about two significant digits, e.g. 147 → 150, 3432 → 3400, 58760 → 59000.
pub fn bucket_response_time(response_time_ms: f64) -> u64 {
    let ms = if response_time_ms.is_nan() {
        0.0
    } else {
        response_time_ms.max(0.0)
    };
    let rounded = if ms < 100.0 {
        py_round(ms, 0)
    } else if ms < 1_000.0 {
        py_round(ms, -1)
    } else if ms < 10_000.0 {
        py_round(ms, -2)
    } else {
        py_round(ms, -3)
    };
    // `as` saturates, which is the sane answer for absurd inputs.
    rounded as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_locust_examples() {
        assert_eq!(bucket_response_time(147.0), 150);
        assert_eq!(bucket_response_time(3432.0), 3400);
        assert_eq!(bucket_response_time(58760.0), 59000);
    }

    #[test]
    fn uses_bankers_rounding_like_python() {
        assert_eq!(bucket_response_time(0.5), 0);
        assert_eq!(bucket_response_time(1.5), 2);
        assert_eq!(bucket_response_time(2.5), 2);
        assert_eq!(bucket_response_time(105.0), 100);
        assert_eq!(bucket_response_time(115.0), 120);
        assert_eq!(bucket_response_time(145.0), 140);
        assert_eq!(bucket_response_time(1250.0), 1200);
        assert_eq!(bucket_response_time(12500.0), 12000);
    }

    #[test]
    fn boundaries_between_ranges() {
        assert_eq!(bucket_response_time(99.4), 99);
        assert_eq!(bucket_response_time(99.6), 100);
        assert_eq!(bucket_response_time(999.0), 1000);
        assert_eq!(bucket_response_time(9949.0), 9900);
        assert_eq!(bucket_response_time(0.0), 0);
    }

    #[test]
    fn garbage_in_does_not_panic() {
        assert_eq!(bucket_response_time(f64::NAN), 0);
        assert_eq!(bucket_response_time(-5.0), 0);
        assert_eq!(bucket_response_time(f64::INFINITY), u64::MAX);
    }
}
