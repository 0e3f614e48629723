//! The `/stats/requests` JSON (Locust 2.47's shape and keys), also published once a second by the
//! controller as the SSE snapshot.

use serde_json::{json, Value};

use crate::report::format::format_ms;
use crate::stats::{Entry, ErrorRow, Stats};
use crate::web::{RunState, WebState};

/// Locust shows at most this many entries (plus the Aggregated row) and this many errors.
pub const MAX_ROWS: usize = 500;

/// Locust's `PERCENTILES_TO_STATISTICS` and `PERCENTILES_TO_CHART`.
const STAT_PERCENTILES: [f64; 3] = [0.5, 0.95, 0.99];

/// `GET /stats/requests` at unix time `now`: the entries sorted by (name, method) then the
/// Aggregated row, the errors, the totals, the current response time percentiles, state and users.
///
/// The current percentiles are the latest chart point's (the controller's ~10 s window) while a
/// test spawns or runs; otherwise, or before the first point, they are the cumulative ones (so 0
/// after a reset). Each lock is taken and released in turn, never two at once.
pub fn stats_requests_json(state: &WebState, now: f64) -> Value {
    let (run_state, user_count) = {
        let status = state.run.borrow();
        (status.state, status.user_count)
    };
    let current = if matches!(run_state, RunState::Spawning | RunState::Running) {
        state
            .history
            .lock()
            .last()
            .map(|p| (p.response_time_percentile_50, p.response_time_percentile_95))
    } else {
        None
    };
    let mut report = build(&state.stats.lock(), now, run_state, user_count, current);
    if let Some(master) = &state.workers {
        super::add_workers(&mut report, master);
    }
    report
}

fn build(
    stats: &Stats,
    now: f64,
    run_state: RunState,
    user_count: u64,
    current: Option<(f64, f64)>,
) -> Value {
    let total = stats.total();
    let mut rows: Vec<Value> = stats
        .entries()
        .take(MAX_ROWS)
        .map(|e| entry_json(e, now))
        .collect();
    rows.push(entry_json(total, now));
    let errors: Vec<Value> = stats.errors().take(MAX_ROWS).map(error_json).collect();
    let (p50, p95) = current.unwrap_or_else(|| {
        let p = total.percentiles(&[0.5, 0.95]);
        (
            p.first().copied().unwrap_or(0.0),
            p.get(1).copied().unwrap_or(0.0),
        )
    });
    json!({
        "stats": rows,
        "errors": errors,
        "current_rps": finite(total.current_rps(now)),
        "current_fail_per_sec": finite(total.current_fail_per_sec(now)),
        "total_rps": finite(total.total_rps()),
        "total_fail_per_sec": finite(total.total_fail_per_sec()),
        "fail_ratio": finite(total.fail_ratio()),
        "current_response_time_percentiles": {
            "response_time_percentile_0.5": latency(p50),
            "response_time_percentile_0.95": latency(p95),
        },
        "state": run_state.as_str(),
        "user_count": user_count,
    })
}

/// One row, Locust's `StatsEntry.to_dict()`; on a master, a row whose percentiles come from a
/// Locust worker's 2-digit buckets also has `"approximate": true` (a key Locust's clients
/// ignore; rows without it, and every row of a local run, are exact).
fn entry_json(e: &Entry, now: f64) -> Value {
    let mut row = locust_row(e, now);
    if e.is_approximate() {
        row["approximate"] = Value::Bool(true);
    }
    row
}

fn locust_row(e: &Entry, now: f64) -> Value {
    let p = e.percentiles(&STAT_PERCENTILES);
    let pct = |i: usize| latency(p.get(i).copied().unwrap_or(0.0));
    json!({
        "method": e.method,
        "name": e.name,
        "num_requests": e.num_requests(),
        "num_failures": e.num_failures(),
        "min_response_time": rounded_float(e.min_response_time().unwrap_or(0.0)),
        "max_response_time": rounded_float(e.max_response_time()),
        "current_rps": finite(e.current_rps(now)),
        "current_fail_per_sec": finite(e.current_fail_per_sec(now)),
        "avg_response_time": finite(e.avg_response_time()),
        "median_response_time": pct(0),
        "total_rps": finite(e.total_rps()),
        "total_fail_per_sec": finite(e.total_fail_per_sec()),
        "response_time_percentile_0.95": pct(1),
        "response_time_percentile_0.99": pct(2),
        "avg_content_length": finite(e.avg_content_length()),
    })
}

fn error_json(e: &ErrorRow) -> Value {
    json!({
        "method": e.method,
        "name": e.name,
        "error": e.error,
        "occurrences": e.occurrences,
        "first_seen": finite(e.first_seen),
        "last_seen": finite(e.last_seen),
    })
}

/// A float for JSON (which has no NaN or infinity): non-finite values become 0.
fn finite(x: f64) -> Value {
    json!(if x.is_finite() { x } else { 0.0 })
}

/// A percentile: an integer from 100 ms up or when whole (Locust's are bucket ints), otherwise
/// 3 significant digits, as the CSV and console print it.
fn latency(ms: f64) -> Value {
    let text = format_ms(ms);
    match text.parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) => finite(text.parse::<f64>().unwrap_or(0.0)),
    }
}

/// Min/max: always a float like Locust's `proper_round()`, with the same rounding as [`latency`].
fn rounded_float(ms: f64) -> Value {
    finite(format_ms(ms).parse::<f64>().unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Shard;

    #[test]
    fn rows_sorted_truncated_and_aggregated_last() {
        let mut shard = Shard::new();
        for i in 0..(MAX_ROWS + 20) {
            shard.record_at("GET", &format!("/{i:04}"), 150.0, 10, Some("e"), 100.0);
        }
        let mut stats = Stats::new(99.0);
        stats.merge(shard.take());
        let v = build(&stats, 101.0, RunState::Running, 3, None);
        let rows = v["stats"].as_array().cloned().unwrap_or_default();
        assert_eq!(rows.len(), MAX_ROWS + 1);
        assert_eq!(rows[0]["name"], "/0000");
        assert_eq!(rows[MAX_ROWS]["name"], "Aggregated");
        assert_eq!(rows[MAX_ROWS]["method"], "");
        assert_eq!(rows[MAX_ROWS]["num_requests"], (MAX_ROWS + 20) as u64);
        assert_eq!(v["errors"].as_array().map(Vec::len), Some(MAX_ROWS));
        assert_eq!(rows[0]["median_response_time"], 150);
        assert_eq!(rows[0]["min_response_time"], 150.0);
        assert!(rows[0]["min_response_time"].is_f64());
        assert_eq!(v["fail_ratio"], 1.0);
        assert_eq!(v["state"], "running");
        assert_eq!(v["user_count"], 3);
    }

    #[test]
    fn only_rows_from_locusts_buckets_are_flagged_approximate() {
        let mut exact = Entry::new("GET", "/rust", 1.0);
        let mut bucketed = Entry::new("GET", "/py", 1.0);
        exact.absorb_remote_meta(1.0, false);
        bucketed.absorb_remote_meta(1.0, true);
        assert_eq!(entry_json(&exact, 2.0).get("approximate"), None);
        assert_eq!(entry_json(&bucketed, 2.0)["approximate"], true);
    }

    #[test]
    fn sub_millisecond_latencies_are_kept() {
        assert_eq!(latency(0.4123), json!(0.412));
        assert_eq!(latency(12.0), json!(12));
        assert_eq!(latency(f64::NAN), json!(0));
        assert_eq!(rounded_float(194.43815219720392), json!(194.0));
        assert_eq!(finite(f64::INFINITY), json!(0.0));
    }

    #[test]
    fn empty_stats_have_every_key() {
        let v = build(
            &Stats::new(0.0),
            10.0,
            RunState::Ready,
            0,
            Some((1.5, 200.4)),
        );
        assert_eq!(v["stats"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            v["current_response_time_percentiles"]["response_time_percentile_0.95"],
            200
        );
        assert_eq!(
            v["current_response_time_percentiles"]["response_time_percentile_0.5"],
            1.5
        );
        assert_eq!(v["stats"][0]["min_response_time"], 0.0);
    }
}
