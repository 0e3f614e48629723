//! The counters one (method, name) pair accumulates, shared by the per-thread shard, the delta it
//! ships and the aggregate entry, so recording and merging use one definition of each counter.

use super::histogram::LatencyHistogram;

/// Requests and failures that happened within one unix second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecondCounts {
    pub requests: u64,
    pub failures: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Accumulator {
    pub num_requests: u64,
    /// Requests logged without a response time; excluded from averages and percentiles.
    pub num_none_requests: u64,
    pub num_failures: u64,
    pub total_response_time: f64,
    pub min_response_time: Option<f64>,
    pub max_response_time: f64,
    pub total_content_length: u64,
    pub last_request_timestamp: Option<f64>,
    pub histogram: LatencyHistogram,
}

impl Accumulator {
    /// `response_time` must already be sanitized; `None` is a request without a timing.
    pub fn record(
        &mut self,
        response_time: Option<f64>,
        content_length: u64,
        failed: bool,
        now: f64,
    ) {
        self.num_requests += 1;
        if failed {
            self.num_failures += 1;
        }
        self.total_content_length = self.total_content_length.saturating_add(content_length);
        self.last_request_timestamp = Some(max_timestamp(self.last_request_timestamp, now));
        match response_time {
            None => self.num_none_requests += 1,
            Some(ms) => {
                self.total_response_time += ms;
                self.min_response_time = Some(self.min_response_time.map_or(ms, |m| m.min(ms)));
                self.max_response_time = self.max_response_time.max(ms);
                self.histogram.record_ms(ms);
            }
        }
    }

    pub fn merge(&mut self, other: &Accumulator) {
        self.num_requests = self.num_requests.saturating_add(other.num_requests);
        self.num_none_requests = self
            .num_none_requests
            .saturating_add(other.num_none_requests);
        self.num_failures = self.num_failures.saturating_add(other.num_failures);
        self.total_response_time += other.total_response_time;
        self.min_response_time = match (self.min_response_time, other.min_response_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_response_time = self.max_response_time.max(other.max_response_time);
        self.total_content_length = self
            .total_content_length
            .saturating_add(other.total_content_length);
        if let Some(ts) = other.last_request_timestamp {
            self.last_request_timestamp = Some(max_timestamp(self.last_request_timestamp, ts));
        }
        self.histogram.add(&other.histogram);
    }

    /// Moves everything out and leaves zeroed counters; the histogram keeps its size.
    pub fn take(&mut self) -> Accumulator {
        use std::mem::take;
        Accumulator {
            num_requests: take(&mut self.num_requests),
            num_none_requests: take(&mut self.num_none_requests),
            num_failures: take(&mut self.num_failures),
            total_response_time: take(&mut self.total_response_time),
            min_response_time: take(&mut self.min_response_time),
            max_response_time: take(&mut self.max_response_time),
            total_content_length: take(&mut self.total_content_length),
            last_request_timestamp: take(&mut self.last_request_timestamp),
            histogram: self.histogram.take(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.num_requests == 0
    }
}

fn max_timestamp(current: Option<f64>, candidate: f64) -> f64 {
    match current {
        Some(t) if t > candidate => t,
        _ => candidate,
    }
}
