//! The latency histogram behind every stats entry: an HDR (log-linear) histogram of whole
//! microseconds at 3 significant digits, so percentiles are within 0.1% and histograms from any
//! number of threads or nodes merge exactly. Storage is sparse until an entry is busy, so a test
//! with thousands of distinct names (dynamic URLs without `name`) stays small.

use std::collections::BTreeMap;

use super::bucket::bucket_response_time;

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

/// Values below this are stored exactly (1 µs buckets); above it each power-of-two range is cut
/// into 1024 buckets, so a bucket is never wider than 1/1024 of its value (HDR, 3 digits).
const EXACT: u64 = 2048;
const HALF: u32 = 1024;

/// The bucket index of a value in µs (monotonic, gap-free).
fn index_of(us: u64) -> u32 {
    if us < EXACT {
        return us as u32;
    }
    let shift = 63 - us.leading_zeros() - 10;
    shift * HALF + (us >> shift) as u32
}

/// The lowest value and the width of bucket `i`.
fn bucket_of(i: u32) -> (u64, u64) {
    if (i as u64) < EXACT {
        return (i as u64, 1);
    }
    let shift = i / HALF - 1;
    (((i % HALF + HALF) as u64) << shift, 1u64 << shift)
}

/// The value that stands for bucket `i` (its middle, as HDR's `median_equivalent`).
fn middle_ms(i: u32) -> f64 {
    let (low, width) = bucket_of(i);
    us_to_ms(low + width / 2)
}

/// The leading byte of [`LatencyHistogram::to_compact`]; bump it when the layout changes.
const COMPACT_FORMAT: u8 = 1;

/// Why bytes received from another node are not a histogram.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    #[error("compact histogram is truncated")]
    Truncated,
    #[error("unknown compact histogram format {0}")]
    UnknownFormat(u8),
    #[error("compact histogram varint is longer than 64 bits")]
    VarintOverflow,
    #[error("compact histogram bucket indices are not increasing")]
    NotIncreasing,
    #[error("compact histogram bucket is beyond the largest recordable response time")]
    OutOfRange,
    #[error("compact histogram has an empty bucket")]
    ZeroCount,
    #[error("compact histogram has {0} trailing bytes")]
    TrailingBytes(usize),
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(input: &mut &[u8]) -> Result<u64, CompactError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = input.split_first().ok_or(CompactError::Truncated)?;
        *input = rest;
        let bits = u64::from(b & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(CompactError::VarintOverflow);
        }
        v |= bits << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(CompactError::VarintOverflow)
}

/// Past this many distinct buckets an entry switches to a dense array (cheaper per sample).
const SPARSE_LIMIT: usize = 256;

/// Counts per bucket: sparse (sorted pairs) for the many entries that see few distinct latencies —
/// e.g. one row per dynamic URL — and dense once an entry is busy. Memory grows with the buckets
/// actually used, never with the covered range.
#[derive(Clone, Debug)]
enum Counts {
    Sparse(Vec<(u32, u64)>),
    Dense(Vec<u64>),
}

#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Counts,
    len: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            counts: Counts::Sparse(Vec::new()),
            len: 0,
        }
    }

    /// Records a sanitized response time (see [`sanitize_response_time`]).
    pub fn record_ms(&mut self, ms: f64) {
        self.add_count(index_of(ms_to_us(ms)), 1);
    }

    /// Records `n` samples of one sanitized response time at once (e.g. one Locust bucket).
    pub fn record_n_ms(&mut self, ms: f64, n: u64) {
        if n > 0 {
            self.add_count(index_of(ms_to_us(ms)), n);
        }
    }

    /// A histogram holding Locust's `response_times` bucket dict (key ms → count). Percentiles
    /// read from it are Locust's 2-digit ones, not exact.
    pub fn from_locust_buckets(buckets: &BTreeMap<u64, u64>) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        for (&ms, &n) in buckets {
            h.record_n_ms((ms as f64).min(MAX_RESPONSE_TIME_MS), n);
        }
        h
    }

    /// A compact, lossless byte form for shipping a histogram between rustlocust nodes: a format
    /// byte, the number of non-empty buckets, then (index gap, count) pairs as LEB128 varints.
    /// A few bytes per distinct latency, so it rides along Locust's report every 3 s.
    pub fn to_compact(&self) -> Vec<u8> {
        let mut out = vec![COMPACT_FORMAT];
        let buckets: Vec<(u32, u64)> = self.iter().collect();
        put_varint(&mut out, buckets.len() as u64);
        let mut prev = 0u32;
        for (i, (k, c)) in buckets.into_iter().enumerate() {
            // The first index is absolute, later ones are gaps (>= 1, indices are increasing).
            put_varint(&mut out, u64::from(if i == 0 { k } else { k - prev }));
            put_varint(&mut out, c);
            prev = k;
        }
        out
    }

    /// Reads [`LatencyHistogram::to_compact`]'s form back; any malformed input (it comes from the
    /// network) is a typed error, never a panic or an oversized allocation.
    pub fn from_compact(bytes: &[u8]) -> Result<LatencyHistogram, CompactError> {
        let (&format, mut rest) = bytes.split_first().ok_or(CompactError::Truncated)?;
        if format != COMPACT_FORMAT {
            return Err(CompactError::UnknownFormat(format));
        }
        let pairs = take_varint(&mut rest)?;
        // Each pair takes at least two bytes, which bounds the loop by the input size.
        if pairs > (rest.len() / 2) as u64 {
            return Err(CompactError::Truncated);
        }
        let max_index = index_of(ms_to_us(MAX_RESPONSE_TIME_MS));
        let mut h = LatencyHistogram::new();
        let mut prev: Option<u32> = None;
        for _ in 0..pairs {
            let step = take_varint(&mut rest)?;
            let index = match prev {
                None => step,
                Some(_) if step == 0 => return Err(CompactError::NotIncreasing),
                Some(p) => u64::from(p).saturating_add(step),
            };
            let index = u32::try_from(index)
                .ok()
                .filter(|&i| i <= max_index)
                .ok_or(CompactError::OutOfRange)?;
            let count = take_varint(&mut rest)?;
            if count == 0 {
                return Err(CompactError::ZeroCount);
            }
            h.add_count(index, count);
            prev = Some(index);
        }
        if !rest.is_empty() {
            return Err(CompactError::TrailingBytes(rest.len()));
        }
        Ok(h)
    }

    fn add_count(&mut self, i: u32, n: u64) {
        self.len = self.len.saturating_add(n);
        match &mut self.counts {
            Counts::Dense(v) => {
                let i = i as usize;
                if i >= v.len() {
                    v.resize(i + 1, 0);
                }
                v[i] = v[i].saturating_add(n);
            }
            Counts::Sparse(v) => match v.binary_search_by_key(&i, |&(k, _)| k) {
                Ok(at) => v[at].1 = v[at].1.saturating_add(n),
                Err(at) => {
                    if v.capacity() == 0 {
                        // Most rows of dynamic names see one latency: room for one, not four.
                        v.reserve_exact(1);
                    }
                    v.insert(at, (i, n));
                    if v.len() > SPARSE_LIMIT {
                        self.densify();
                    }
                }
            },
        }
    }

    fn densify(&mut self) {
        if let Counts::Sparse(v) = &self.counts {
            let mut dense = vec![0u64; v.last().map_or(0, |&(k, _)| k as usize + 1)];
            for &(k, c) in v {
                dense[k as usize] = c;
            }
            self.counts = Counts::Dense(dense);
        }
    }

    /// (bucket index, count) for every non-empty bucket, in increasing order.
    fn iter(&self) -> Box<dyn Iterator<Item = (u32, u64)> + '_> {
        match &self.counts {
            Counts::Sparse(v) => Box::new(v.iter().copied()),
            Counts::Dense(v) => Box::new(
                v.iter()
                    .enumerate()
                    .filter(|(_, &c)| c > 0)
                    .map(|(k, &c)| (k as u32, c)),
            ),
        }
    }

    pub fn add(&mut self, other: &LatencyHistogram) {
        if let (Counts::Sparse(_), Counts::Dense(_)) = (&self.counts, &other.counts) {
            self.densify();
        }
        for (k, c) in other.iter() {
            self.add_count(k, c);
        }
    }

    /// Moves the recorded values out, leaving an empty histogram of the same kind and capacity so
    /// the hot path does not grow it again.
    pub fn take(&mut self) -> LatencyHistogram {
        let fresh = match &self.counts {
            Counts::Sparse(v) => Counts::Sparse(Vec::with_capacity(v.capacity())),
            Counts::Dense(v) => Counts::Dense(vec![0; v.len()]),
        };
        let len = std::mem::take(&mut self.len);
        LatencyHistogram {
            counts: std::mem::replace(&mut self.counts, fresh),
            len,
        }
    }

    /// Samples recorded.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Locust percentiles for each quantile in `qs`, in one pass over the histogram.
    ///
    /// Locust answers `sorted[int(n*q)]` (capped at the last sample), which we reproduce by rank.
    /// The extreme ranks are the exact `min`/`max`; other ranks report the middle of their
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
        for (k, c) in self.iter() {
            seen = seen.saturating_add(c);
            let value = middle_ms(k).clamp(min, max);
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

    /// Locust's `response_times` dict rebuilt from the histogram: each bucket's middle (clamped to
    /// `[min, max]`) goes through Locust's bucketing. Samples sitting exactly on a Locust rounding
    /// boundary may land in the neighbouring key.
    pub fn locust_buckets(&self, min: f64, max: f64) -> BTreeMap<u64, u64> {
        let mut out = BTreeMap::new();
        for (k, c) in self.iter() {
            *out.entry(bucket_response_time(middle_ms(k).clamp(min, max)))
                .or_insert(0) += c;
        }
        out
    }

    /// Approximate heap bytes held.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        match &self.counts {
            Counts::Sparse(v) => v.capacity() * std::mem::size_of::<(u32, u64)>(),
            Counts::Dense(v) => v.capacity() * 8,
        }
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

    #[test]
    fn buckets_are_gap_free_and_within_a_thousandth() {
        let mut prev = None;
        for us in (0..3_000_000u64)
            .step_by(7)
            .chain([u64::from(u32::MAX), 86_400_000_000])
        {
            let i = index_of(us);
            let (low, width) = bucket_of(i);
            assert!(
                low <= us && us < low + width,
                "{us} not in bucket {i} = [{low}, {})",
                low + width
            );
            assert!(width == 1 || (width as f64) / (low as f64) <= 1.0 / 1024.0 + 1e-12);
            if let Some(p) = prev {
                assert!(i >= p);
            }
            prev = Some(i);
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = LatencyHistogram::new();
        let mut dense = LatencyHistogram::new();
        for i in 0..5000u64 {
            dense.record_ms((i * 37 % 9000) as f64 / 7.0);
        }
        for i in 0..100u64 {
            sparse.record_ms(i as f64);
        }
        assert!(matches!(sparse.counts, Counts::Sparse(_)));
        assert!(matches!(dense.counts, Counts::Dense(_)));
        let mut a = sparse.clone();
        a.add(&dense);
        let mut b = dense.clone();
        b.add(&sparse);
        let qs = [0.1, 0.5, 0.9, 0.99];
        assert_eq!(
            a.quantiles_ms(&qs, 0.0, 2000.0),
            b.quantiles_ms(&qs, 0.0, 2000.0)
        );
        assert_eq!(a.len(), 5100);
        assert_eq!(a.locust_buckets(0.0, 2000.0), b.locust_buckets(0.0, 2000.0));
    }

    #[test]
    fn compact_form_round_trips_exactly() {
        let mut h = LatencyHistogram::new();
        for i in 0..3000u64 {
            h.record_ms((i * 7919 % 100_000) as f64 / 3.0);
        }
        h.record_n_ms(MAX_RESPONSE_TIME_MS, 5);
        h.record_n_ms(0.0, 1 << 40);
        let bytes = h.to_compact();
        let back = LatencyHistogram::from_compact(&bytes);
        let back = back.as_ref().map(|b| b.iter().collect::<Vec<_>>());
        assert_eq!(back, Ok(h.iter().collect::<Vec<_>>()));
        assert_eq!(
            LatencyHistogram::from_compact(&LatencyHistogram::new().to_compact()).map(|h| h.len()),
            Ok(0)
        );
    }

    #[test]
    fn compact_form_rejects_garbage() {
        use CompactError::*;
        let cases: [(&[u8], CompactError); 8] = [
            (&[], Truncated),
            (&[9], UnknownFormat(9)),
            (&[1, 2, 5, 1], Truncated),
            (&[1, 2, 5, 1, 0, 1], NotIncreasing),
            (&[1, 1, 5, 0], ZeroCount),
            (&[1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 1], OutOfRange),
            (&[1, 0, 7], TrailingBytes(1)),
            (
                &[
                    1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                ],
                VarintOverflow,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                LatencyHistogram::from_compact(bytes).err(),
                Some(want),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn a_light_entry_stays_small() {
        let mut h = LatencyHistogram::new();
        for ms in [0.05, 1.2, 15.0, 250.0, 4000.0] {
            h.record_ms(ms);
        }
        assert!(h.heap_bytes() < 256, "{} bytes", h.heap_bytes());
    }
}
