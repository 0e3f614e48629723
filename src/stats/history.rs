//! One point of the charts, sampled once a second while a test runs: a stats fact that the web UI,
//! its `/stats/history` route and the HTML report all read, so it lives with the stats.

use serde::Serialize;

/// Chart values at one moment of a test, with the server's clock.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct HistoryPoint {
    /// Unix seconds on the machine that ran the test (never the browser's clock).
    pub time: f64,
    pub user_count: u64,
    pub current_rps: f64,
    pub current_fail_per_sec: f64,
    /// Current (5–10 s window) response time percentiles, ms.
    pub response_time_percentile_50: f64,
    pub response_time_percentile_95: f64,
    pub total_requests: u64,
}
