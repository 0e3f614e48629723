//! The latency histogram behind every stats entry: an auto-resizing HDR histogram of whole
//! microseconds at 3 significant digits, so percentiles are within 0.1% and histograms from any
//! number of threads or nodes merge exactly.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::bucket::bucket_response_time;

/// Precision of every histogram; 3 digits bounds the relative error of a bucket at ~0.1%.
const SIGNIFICANT_DIGITS: u8 = 3;

/// The largest response time we record (24 h in ms). Anything longer is a broken clock or a hung
/// request; clamping keeps the auto-resizing histogram from growing towards `u64::MAX`.
pub const MAX_RESPONSE_TIME_MS: f64 = 86_400_000.0;

/// Turns a caller-supplied response time into something safe to aggregate.
///
/// `NaN` means "no response time" (Locust's `response_time=None`): the request is counted but kept
/// out of averages and percentiles. Negative values (clock steps) become 0 and values above
/// [`MAX_RESPONSE_TIME_MS`], including infinity, are clamped to it.
pub fn sanitize_response_time(ms: f64) -> Option<f64> {
    if ms.is_nan() {
        None
    } else {
        Some(ms.clamp(0.0, MAX_RESPONSE_TIME_MS))
    }
}

fn ms_to_us(ms: f64) -> u64 {
    (ms * 1000.0).round() as u64
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[derive(Clone, Debug)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        // A constant, valid configuration: this cannot fail for any input.
        Self(
            Histogram::new(SIGNIFICANT_DIGITS)
                .expect("3 significant digits is a valid HDR configuration"),
        )
    }

    /// Records a sanitized response time (see [`sanitize_response_time`]).
    pub fn record_ms(&mut self, ms: f64) {
        let us = ms_to_us(ms);
        // `record` grows the histogram; it only fails past i64::MAX/2, far above our clamp.
        if self.0.record(us).is_err() {
            self.0.saturating_record(us);
        }
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        if self.0.add(&other.0).is_err() {
            // Unreachable with our clamp, but degrade to saturating copies rather than lose data.
            for v in other.0.iter_recorded() {
                self.0
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    /// Moves the recorded values out, leaving an empty histogram of the same size so the hot path
    /// does not have to grow it again.
    pub fn take(&mut self) -> LatencyHistogram {
        let fresh = Histogram::new_from(&self.0);
        LatencyHistogram(std::mem::replace(&mut self.0, fresh))
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Locust percentiles for each quantile in `qs`, in one pass over the histogram.
    ///
    /// Locust answers `sorted[int(n*q)]` (capped at the last sample), which we reproduce by rank.
    /// The extreme ranks are the exact `min`/`max`; other ranks report the middle of their HDR
    /// bucket, clamped to `[min, max]` so a percentile never exceeds the maximum (Locust #331).
    pub fn quantiles_ms(&self, qs: &[f64], min: f64, max: f64) -> Vec<f64> {
        let n = self.len();
        let mut out = vec![0.0; qs.len()];
        if n == 0 {
            return out;
        }
        let mut pending: Vec<(u64, usize)> = Vec::with_capacity(qs.len());
        for (i, &q) in qs.iter().enumerate() {
            let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
            let rank = ((n as f64 * q) as u64).min(n - 1);
            if rank == 0 {
                out[i] = min;
            } else if rank == n - 1 {
                out[i] = max;
            } else {
                pending.push((rank, i));
            }
        }
        pending.sort_unstable();
        let mut next = pending.iter().peekable();
        let mut seen: u64 = 0;
        for v in self.0.iter_recorded() {
            seen = seen.saturating_add(v.count_at_value());
            let value = us_to_ms(self.0.median_equivalent(v.value_iterated_to())).clamp(min, max);
            while let Some(&&(rank, i)) = next.peek() {
                if rank >= seen {
                    break;
                }
                out[i] = value;
                next.next();
            }
            if next.peek().is_none() {
                break;
            }
        }
        out
    }

    /// Locust's `response_times` dict rebuilt from the histogram: each HDR bucket's midpoint
    /// (clamped to `[min, max]`) goes through Locust's bucketing. Samples sitting exactly on a
    /// Locust rounding boundary may land in the neighbouring key.
    pub fn locust_buckets(&self, min: f64, max: f64) -> BTreeMap<u64, u64> {
        let mut out = BTreeMap::new();
        for v in self.0.iter_recorded() {
            let ms = us_to_ms(self.0.median_equivalent(v.value_iterated_to())).clamp(min, max);
            *out.entry(bucket_response_time(ms)).or_insert(0) += v.count_at_value();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_documents_edge_cases() {
        assert_eq!(sanitize_response_time(f64::NAN), None);
        assert_eq!(sanitize_response_time(-3.0), Some(0.0));
        assert_eq!(sanitize_response_time(f64::NEG_INFINITY), Some(0.0));
        assert_eq!(
            sanitize_response_time(f64::INFINITY),
            Some(MAX_RESPONSE_TIME_MS)
        );
        assert_eq!(sanitize_response_time(12.5), Some(12.5));
    }

    #[test]
    fn rank_semantics_match_locust() {
        // Locust: sorted[min(int(n*q), n-1)]; for n = 2 the median is the larger sample.
        let mut h = LatencyHistogram::new();
        h.record_ms(1.0);
        h.record_ms(2.0);
        assert_eq!(
            h.quantiles_ms(&[0.5, 0.0, 1.0], 1.0, 2.0),
            vec![2.0, 1.0, 2.0]
        );

        let mut h = LatencyHistogram::new();
        // Sub-2 ms values are stored exactly, so the expected values are exact too.
        for tenths in 1..=10 {
            h.record_ms(tenths as f64 / 10.0);
        }
        // int(10*0.66) = 6 → the 7th sample.
        assert_eq!(
            h.quantiles_ms(&[0.66, 0.9, 0.95], 0.1, 1.0),
            vec![0.7, 1.0, 1.0]
        );
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = LatencyHistogram::new();
        assert_eq!(h.quantiles_ms(&[0.5, 1.0], 0.0, 0.0), vec![0.0, 0.0]);
        assert!(h.locust_buckets(0.0, 0.0).is_empty());
    }

    #[test]
    fn take_leaves_an_empty_histogram() {
        let mut h = LatencyHistogram::new();
        h.record_ms(5000.0);
        let taken = h.take();
        assert_eq!(taken.len(), 1);
        assert_eq!(h.len(), 0);
        h.record_ms(1.0);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn huge_values_are_recorded_not_lost() {
        let mut h = LatencyHistogram::new();
        h.record_ms(MAX_RESPONSE_TIME_MS);
        h.record_ms(0.0);
        assert_eq!(h.len(), 2);
        let mut other = LatencyHistogram::new();
        other.add(&h);
        assert_eq!(other.len(), 2);
    }

    #[test]
    fn locust_buckets_use_locust_rounding() {
        let mut h = LatencyHistogram::new();
        // Below 2.048 ms the histogram is exact, so Locust's ties round half to even here too.
        for ms in [147.0, 3432.0, 58760.0, 0.5, 1.5] {
            h.record_ms(ms);
        }
        let buckets = h.locust_buckets(0.5, 58760.0);
        let expected: BTreeMap<u64, u64> = [(0, 1), (2, 1), (150, 1), (3400, 1), (59000, 1)].into();
        assert_eq!(buckets, expected);
    }
}
