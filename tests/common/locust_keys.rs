//! The shapes of Locust 2.47's web API answers, for tests that check ours against them.

// Locust 2.47's `/stats/requests` shape, written from the captured output in
// shared/reference/locust.md §2 (not from our own output), for the web API tests.
/// The keys of one `/stats/requests` row, from the captured Locust 2.47 output
/// (shared/reference/locust.md §2), not from our own output.
pub const LOCUST_ROW_KEYS: [&str; 15] = [
    "method",
    "name",
    "num_requests",
    "num_failures",
    "min_response_time",
    "max_response_time",
    "current_rps",
    "current_fail_per_sec",
    "avg_response_time",
    "median_response_time",
    "total_rps",
    "total_fail_per_sec",
    "response_time_percentile_0.95",
    "response_time_percentile_0.99",
    "avg_content_length",
];
pub const LOCUST_ERROR_KEYS: [&str; 6] = [
    "method",
    "name",
    "error",
    "occurrences",
    "first_seen",
    "last_seen",
];
/// Top-level keys of a local (non-master) runner's report.
pub const LOCUST_TOP_KEYS: [&str; 10] = [
    "stats",
    "errors",
    "current_rps",
    "current_fail_per_sec",
    "total_rps",
    "total_fail_per_sec",
    "fail_ratio",
    "current_response_time_percentiles",
    "state",
    "user_count",
];
pub const LOCUST_CURRENT_PERCENTILE_KEYS: [&str; 2] = [
    "response_time_percentile_0.5",
    "response_time_percentile_0.95",
];
