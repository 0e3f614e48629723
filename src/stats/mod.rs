//! Exact, mergeable request statistics with Locust's semantics.
//!
//! Worker threads record into a thread-owned [`Shard`] (no locks, no allocation once a
//! (method, name) pair is known); once a second each shard's [`Delta`] goes to the control thread,
//! which merges it into one [`Stats`]. Percentiles come from HDR histograms (microseconds, 3
//! significant digits), so merging across threads loses nothing, unlike Locust's 2-digit buckets,
//! which [`Entry::locust_response_times`] still rebuilds for Locust-shaped output.

mod accumulator;
mod aggregate;
mod bucket;
mod entry;
mod errors;
mod histogram;
mod history;
mod limit;
mod remote;
mod shard;

use std::time::{SystemTime, UNIX_EPOCH};

pub use aggregate::{Stats, AGGREGATED_NAME};
pub use bucket::bucket_response_time;
pub use entry::{Entry, LocustEntryDict};
pub use errors::{ErrorRow, ExceptionRow};
pub use histogram::{sanitize_response_time, CompactError, LatencyHistogram, MAX_RESPONSE_TIME_MS};
pub use history::HistoryPoint;
pub use limit::{max_rows, set_max_rows, DEFAULT_MAX_ROWS, OVERFLOW_ERROR, OVERFLOW_NAME};
pub use remote::{RemoteEntry, RemoteError, StatsEntryDict};
pub use shard::{Delta, Shard};

/// Locust's `PERCENTILES_TO_REPORT`: the console and CSV percentile columns.
pub const PERCENTILES_TO_REPORT: [f64; 11] = [
    0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// Wall-clock unix time in seconds (0 if the clock is before 1970): the one clock of stats,
/// reports and scripts' `now()`.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
