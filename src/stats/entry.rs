//! One row of the aggregate statistics (Locust's `StatsEntry`) and the metrics derived from it.
//! Times are milliseconds (`f64`), timestamps unix seconds (`f64`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::accumulator::{Accumulator, SecondCounts};
use super::histogram::LatencyHistogram;

/// Seconds looked back by the "current" rates, and the most recent seconds they ignore because
/// other threads may still be reporting them (Locust: `[last-12, last-2)`).
const CURRENT_WINDOW_START: i64 = 12;
const CURRENT_WINDOW_END: i64 = 2;

#[derive(Clone, Debug)]
pub struct Entry {
    pub method: String,
    pub name: String,
    acc: Accumulator,
    /// Per-second counts, sorted by second. A sorted `Vec` rather than a `BTreeMap`: a row seen
    /// in one second costs one small allocation instead of a whole B-tree node (~300 bytes),
    /// and seconds almost always arrive in order, so inserting is an append.
    seconds: Vec<(u64, SecondCounts)>,
    start_time: f64,
    /// The latest request of the whole run: Locust divides every row's totals by the run's
    /// duration, not the row's, so an endpoint hit only early still reports its run-wide rate.
    run_last_request_timestamp: Option<f64>,
    /// Set once a Locust worker's 2-digit buckets were merged in (see [`Entry::is_approximate`]).
    approximate: bool,
}

/// Locust's serialized `StatsEntry` dict; fields are declared in Locust's key order so serializing
/// this struct (unlike a `serde_json::Value`) preserves it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LocustEntryDict<'a> {
    pub name: &'a str,
    pub method: &'a str,
    pub last_request_timestamp: Option<f64>,
    pub start_time: f64,
    pub num_requests: u64,
    pub num_none_requests: u64,
    pub num_failures: u64,
    pub total_response_time: f64,
    pub max_response_time: f64,
    pub min_response_time: Option<f64>,
    pub total_content_length: u64,
    pub response_times: BTreeMap<u64, u64>,
    pub num_reqs_per_sec: BTreeMap<u64, u64>,
    pub num_fail_per_sec: BTreeMap<u64, u64>,
}

impl Entry {
    pub(crate) fn new(method: &str, name: &str, start_time: f64) -> Self {
        Self {
            method: method.to_owned(),
            name: name.to_owned(),
            acc: Accumulator::default(),
            seconds: Vec::new(),
            start_time,
            run_last_request_timestamp: None,
            approximate: false,
        }
    }

    pub(crate) fn absorb(&mut self, acc: &Accumulator, seconds: &[(u64, SecondCounts)]) {
        self.acc.merge(acc);
        for (second, counts) in seconds {
            let slot = match self.seconds.binary_search_by_key(second, |(s, _)| *s) {
                Ok(i) => &mut self.seconds[i].1,
                Err(i) => {
                    if self.seconds.capacity() == 0 {
                        self.seconds.reserve_exact(1); // a rarely hit row: one second
                    }
                    self.seconds.insert(i, (*second, SecondCounts::default()));
                    &mut self.seconds[i].1
                }
            };
            slot.requests = slot.requests.saturating_add(counts.requests);
            slot.failures = slot.failures.saturating_add(counts.failures);
        }
    }

    /// Folds in a remote row's start (Locust's `extend`: the earliest start wins) and whether its
    /// latencies were exact.
    pub(crate) fn absorb_remote_meta(&mut self, start_time: f64, approximate: bool) {
        if start_time.is_finite() && start_time > 0.0 && start_time < self.start_time {
            self.start_time = start_time;
        }
        self.approximate |= approximate;
    }

    /// Whether percentiles include samples known only through Locust's 2-digit buckets (a Locust
    /// worker's report): they are then Locust-accurate, not exact to 3 digits.
    pub fn is_approximate(&self) -> bool {
        self.approximate
    }

    /// The latency histogram (whole µs, 3 significant digits), e.g. to ship to a master.
    pub fn histogram(&self) -> &LatencyHistogram {
        &self.acc.histogram
    }

    pub(crate) fn set_run_last_request_timestamp(&mut self, ts: Option<f64>) {
        self.run_last_request_timestamp = ts;
    }

    pub fn num_requests(&self) -> u64 {
        self.acc.num_requests
    }

    /// Requests recorded without a response time (a `NaN` response time).
    pub fn num_none_requests(&self) -> u64 {
        self.acc.num_none_requests
    }

    pub fn num_failures(&self) -> u64 {
        self.acc.num_failures
    }

    /// Whether any request carried a response time; Locust omits percentile rows otherwise.
    pub fn has_response_times(&self) -> bool {
        !self.acc.histogram.is_empty()
    }

    pub fn total_response_time(&self) -> f64 {
        self.acc.total_response_time
    }

    pub fn avg_response_time(&self) -> f64 {
        let timed = self
            .acc
            .num_requests
            .saturating_sub(self.acc.num_none_requests);
        if timed == 0 {
            0.0
        } else {
            self.acc.total_response_time / timed as f64
        }
    }

    /// Exact minimum; `None` until a timed request is recorded.
    pub fn min_response_time(&self) -> Option<f64> {
        self.acc.min_response_time
    }

    /// Exact maximum; 0 when nothing was timed.
    pub fn max_response_time(&self) -> f64 {
        self.acc.max_response_time
    }

    pub fn median_response_time(&self) -> f64 {
        self.percentile(0.5)
    }

    /// The response time below which `q` (0..=1) of the timed requests finished; 0 without any.
    pub fn percentile(&self, q: f64) -> f64 {
        self.percentiles(&[q]).first().copied().unwrap_or(0.0)
    }

    /// Several percentiles in one pass over the histogram (what the reporters use).
    pub fn percentiles(&self, qs: &[f64]) -> Vec<f64> {
        let min = self.acc.min_response_time.unwrap_or(0.0);
        self.acc
            .histogram
            .quantiles_ms(qs, min, self.acc.max_response_time)
    }

    pub fn total_content_length(&self) -> u64 {
        self.acc.total_content_length
    }

    pub fn avg_content_length(&self) -> f64 {
        if self.acc.num_requests == 0 {
            0.0
        } else {
            self.acc.total_content_length as f64 / self.acc.num_requests as f64
        }
    }

    /// Requests per second over the whole run: `num_requests / (run's last request - start_time)`.
    /// A non-positive duration (no requests yet, or clock skew) gives 0.
    pub fn total_rps(&self) -> f64 {
        self.per_run_second(self.acc.num_requests)
    }

    pub fn total_fail_per_sec(&self) -> f64 {
        self.per_run_second(self.acc.num_failures)
    }

    fn per_run_second(&self, count: u64) -> f64 {
        match self.run_last_request_timestamp {
            Some(last) if self.start_time != 0.0 && last > self.start_time => {
                count as f64 / (last - self.start_time)
            }
            _ => 0.0,
        }
    }

    /// Average requests per second over the whole seconds `[now-12, now-2)`, clamped at
    /// `start_time`; the last 2 s are left out because their counts may still be arriving.
    pub fn current_rps(&self, now: f64) -> f64 {
        self.window_average(now, |c| c.requests)
    }

    pub fn current_fail_per_sec(&self, now: f64) -> f64 {
        self.window_average(now, |c| c.failures)
    }

    fn window_average(&self, now: f64, pick: impl Fn(&SecondCounts) -> u64) -> f64 {
        // `as` truncates like Python's int() and maps NaN to 0.
        let now_s = now as i64;
        let from = (now_s - CURRENT_WINDOW_START).max(self.start_time as i64);
        let to = now_s - CURRENT_WINDOW_END;
        if to <= from {
            return 0.0;
        }
        let (from, to) = (from.max(0) as u64, to.max(0) as u64);
        let start = self.seconds.partition_point(|(s, _)| *s < from);
        let end = self.seconds.partition_point(|(s, _)| *s < to);
        let sum: u64 = self.seconds[start..end.max(start)]
            .iter()
            .map(|(_, c)| pick(c))
            .sum();
        sum as f64 / (to - from) as f64
    }

    /// Failures per request; 1 when there are failures but no requests, like Locust.
    pub fn fail_ratio(&self) -> f64 {
        if self.acc.num_requests == 0 {
            if self.acc.num_failures > 0 {
                1.0
            } else {
                0.0
            }
        } else {
            self.acc.num_failures as f64 / self.acc.num_requests as f64
        }
    }

    pub fn last_request_timestamp(&self) -> Option<f64> {
        self.acc.last_request_timestamp
    }

    pub fn start_time(&self) -> f64 {
        self.start_time
    }

    /// Locust's `response_times` bucket dict, rebuilt from the histogram.
    pub fn locust_response_times(&self) -> BTreeMap<u64, u64> {
        let min = self.acc.min_response_time.unwrap_or(0.0);
        self.acc
            .histogram
            .locust_buckets(min, self.acc.max_response_time)
    }

    /// The `StatsEntry` dict of Locust, as an order-preserving serializable struct.
    pub fn to_locust_dict(&self) -> LocustEntryDict<'_> {
        let per_second = |pick: fn(&SecondCounts) -> u64| -> BTreeMap<u64, u64> {
            self.seconds
                .iter()
                .filter_map(|(s, c)| Some((*s, pick(c))).filter(|(_, n)| *n > 0))
                .collect()
        };
        LocustEntryDict {
            name: &self.name,
            method: &self.method,
            last_request_timestamp: self.acc.last_request_timestamp,
            start_time: self.start_time,
            num_requests: self.acc.num_requests,
            num_none_requests: self.acc.num_none_requests,
            num_failures: self.acc.num_failures,
            total_response_time: self.acc.total_response_time,
            max_response_time: self.acc.max_response_time,
            min_response_time: self.acc.min_response_time,
            total_content_length: self.acc.total_content_length,
            response_times: self.locust_response_times(),
            num_reqs_per_sec: per_second(|c| c.requests),
            num_fail_per_sec: per_second(|c| c.failures),
        }
    }

    /// The `StatsEntry` dict as a JSON value. Key order follows `serde_json::Map` (sorted unless
    /// serde_json's `preserve_order` feature is on); use [`Entry::to_locust_dict`] when order matters.
    pub fn to_locust_json(&self) -> serde_json::Value {
        serde_json::to_value(self.to_locust_dict()).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_with(samples: &[(f64, bool, f64)], start: f64) -> Entry {
        let mut acc = Accumulator::default();
        let mut seconds: BTreeMap<u64, SecondCounts> = BTreeMap::new();
        for &(rt, failed, at) in samples {
            acc.record(Some(rt), 100, failed, at);
            let c = seconds.entry(at as u64).or_default();
            c.requests += 1;
            c.failures += u64::from(failed);
        }
        let mut e = Entry::new("GET", "/x", start);
        let secs: Vec<_> = seconds.into_iter().collect();
        e.absorb(&acc, &secs);
        e.set_run_last_request_timestamp(e.last_request_timestamp());
        e
    }

    #[test]
    fn current_rps_averages_the_window() {
        // 5 requests in each second 100..=119, start at 100.
        let samples: Vec<_> = (100..120)
            .flat_map(|s| (0..5).map(move |i| (1.0, i == 0, s as f64 + 0.1 * i as f64)))
            .collect();
        let e = entry_with(&samples, 100.0);
        // now=120.5: seconds [108, 118) → 10 seconds of 5 requests, 1 failure.
        assert_eq!(e.current_rps(120.5), 5.0);
        assert_eq!(e.current_fail_per_sec(120.5), 1.0);
        // now=105: window clamped to [100, 103) → 3 full seconds.
        assert_eq!(e.current_rps(105.0), 5.0);
        // now=102: [100, 100) is empty → 0, like Locust's avg([]).
        assert_eq!(e.current_rps(102.0), 0.0);
        // Seconds after the data are zeros: [118,128) has 2 busy seconds of 10.
        assert_eq!(e.current_rps(130.0), 1.0);
    }

    #[test]
    fn current_rps_counts_missing_seconds_as_zero() {
        let e = entry_with(&[(1.0, false, 110.0), (1.0, false, 110.5)], 100.0);
        assert_eq!(e.current_rps(122.0), 2.0 / 10.0);
    }

    #[test]
    fn total_rps_uses_the_run_duration() {
        let mut e = entry_with(&[(1.0, false, 101.0), (1.0, true, 104.0)], 100.0);
        assert_eq!(e.total_rps(), 0.5);
        assert_eq!(e.total_fail_per_sec(), 0.25);
        e.set_run_last_request_timestamp(Some(110.0));
        assert_eq!(e.total_rps(), 0.2);
        e.set_run_last_request_timestamp(Some(90.0));
        assert_eq!(e.total_rps(), 0.0);
    }

    #[test]
    fn derived_metrics() {
        let e = entry_with(&[(10.0, false, 1.0), (30.0, true, 1.0)], 1.0);
        assert_eq!(e.avg_response_time(), 20.0);
        assert_eq!(e.fail_ratio(), 0.5);
        assert_eq!(e.avg_content_length(), 100.0);
        assert_eq!(e.min_response_time(), Some(10.0));
        assert_eq!(e.max_response_time(), 30.0);
        assert_eq!(e.median_response_time(), 30.0);

        let empty = Entry::new("GET", "/", 0.0);
        assert_eq!(empty.avg_response_time(), 0.0);
        assert_eq!(empty.percentile(0.99), 0.0);
        assert_eq!(empty.fail_ratio(), 0.0);
        assert_eq!(empty.avg_content_length(), 0.0);
        assert_eq!(empty.min_response_time(), None);
    }

    #[test]
    fn locust_dict_has_locust_keys_in_order() {
        let e = entry_with(&[(147.0, false, 5.5), (3.0, true, 6.0)], 5.0);
        let text = serde_json::to_string(&e.to_locust_dict()).unwrap_or_default();
        let keys = [
            "name",
            "method",
            "last_request_timestamp",
            "start_time",
            "num_requests",
            "num_none_requests",
            "num_failures",
            "total_response_time",
            "max_response_time",
            "min_response_time",
            "total_content_length",
            "response_times",
            "num_reqs_per_sec",
            "num_fail_per_sec",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap_or(usize::MAX))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");

        let v = e.to_locust_json();
        assert_eq!(v["num_requests"], 2);
        assert_eq!(v["response_times"]["150"], 1);
        assert_eq!(v["response_times"]["3"], 1);
        assert_eq!(v["num_reqs_per_sec"]["5"], 1);
        assert_eq!(v["num_fail_per_sec"]["6"], 1);
        assert!(v["num_fail_per_sec"].get("5").is_none());
        assert_eq!(v["min_response_time"], 3.0);
        assert_eq!(v["last_request_timestamp"], 6.0);
    }
}
