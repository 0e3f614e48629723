//! Rows reported by other nodes (Locust or rustlocust workers), in the shape the master folds into
//! its [`Stats`](super::Stats) with Locust's `StatsEntry.extend` semantics: counters summed,
//! min/max of min/max, the earliest start and the latest request. The latency histogram is either
//! exact (a rustlocust worker's HDR delta) or rebuilt from Locust's 2-digit buckets, in which case
//! the merged row says so ([`Entry::is_approximate`](super::Entry::is_approximate)).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::accumulator::{Accumulator, SecondCounts};
use super::histogram::{sanitize_response_time, LatencyHistogram};

/// Locust's serialized `StatsEntry` (fields in Locust's order), owned so that it can be decoded
/// from a worker's report; [`LocustEntryDict`](super::LocustEntryDict) is the borrowed form we send.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsEntryDict {
    pub name: String,
    pub method: String,
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

/// One row of a worker's report: what happened since its previous report.
#[derive(Clone, Debug, Default)]
pub struct RemoteEntry {
    pub row: StatsEntryDict,
    /// The row's latencies; `row.response_times` is not read.
    pub histogram: LatencyHistogram,
    /// True when `histogram` came from Locust's bucket dict rather than an exact HDR delta.
    pub approximate: bool,
}

/// One decoded `StatsError` of a worker's report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteError {
    pub method: String,
    pub name: String,
    pub error: String,
    pub occurrences: u64,
    pub first_seen: Option<f64>,
    pub last_seen: Option<f64>,
}

/// A finite, non-negative float from the network; anything else is treated as absent.
fn sane(x: f64) -> Option<f64> {
    (x.is_finite() && x >= 0.0).then_some(x)
}

impl RemoteEntry {
    /// The counters in the form every other merge uses; nonsense floats (NaN, negative, huge) are
    /// sanitized the way local samples are, so one bad report cannot poison the aggregate.
    pub(crate) fn into_parts(self) -> (Accumulator, Vec<(u64, SecondCounts)>) {
        let row = self.row;
        let mut seconds: BTreeMap<u64, SecondCounts> = BTreeMap::new();
        for (s, n) in row.num_reqs_per_sec {
            seconds.entry(s).or_default().requests = n;
        }
        for (s, n) in row.num_fail_per_sec {
            seconds.entry(s).or_default().failures = n;
        }
        let acc = Accumulator {
            num_requests: row.num_requests,
            num_none_requests: row.num_none_requests.min(row.num_requests),
            num_failures: row.num_failures,
            total_response_time: sane(row.total_response_time).unwrap_or(0.0),
            min_response_time: row
                .min_response_time
                .and_then(sane)
                .and_then(sanitize_response_time),
            max_response_time: sanitize_response_time(sane(row.max_response_time).unwrap_or(0.0))
                .unwrap_or(0.0),
            total_content_length: row.total_content_length,
            last_request_timestamp: row.last_request_timestamp.and_then(sane),
            histogram: self.histogram,
        };
        (acc, seconds.into_iter().collect())
    }
}
