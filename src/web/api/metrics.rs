//! `GET /metrics`: the run in Prometheus' text exposition format (version 0.0.4), names prefixed
//! `rustlocust_`. Per (method, name): request and failure counters and a response time summary
//! (quantiles 0.5/0.95/0.99, `_sum`, `_count`); for the run: current RPS and failures/s, users,
//! target users, and the state as a labelled 0/1 gauge.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::web::{RunState, WebState};

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const QUANTILES: [(f64, &str); 3] = [(0.5, "0.5"), (0.95, "0.95"), (0.99, "0.99")];
const STATES: [RunState; 5] = [
    RunState::Ready,
    RunState::Spawning,
    RunState::Running,
    RunState::Stopping,
    RunState::Stopped,
];

pub(super) async fn metrics(State(state): State<Arc<WebState>>) -> Response {
    let text = render_metrics(&state, crate::stats::unix_now());
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response()
}

/// The exposition text at unix time `now`.
pub fn render_metrics(state: &WebState, now: f64) -> String {
    let (run_state, users, target) = {
        let s = state.run_status();
        (s.state, s.user_count, s.target_users)
    };
    let mut out = String::new();
    {
        let stats = state.stats.lock();
        let labels: Vec<(String, &crate::stats::Entry)> = stats
            .entries()
            .map(|e| {
                let l = format!(
                    "method=\"{}\",name=\"{}\"",
                    escape(&e.method),
                    escape(&e.name)
                );
                (l, e)
            })
            .collect();

        describe(
            &mut out,
            "requests_total",
            "counter",
            "Requests completed, per method and name.",
        );
        for (l, e) in &labels {
            sample(&mut out, "requests_total", l, e.num_requests() as f64);
        }
        describe(
            &mut out,
            "failures_total",
            "counter",
            "Requests that failed, per method and name.",
        );
        for (l, e) in &labels {
            sample(&mut out, "failures_total", l, e.num_failures() as f64);
        }
        describe(
            &mut out,
            "response_time_milliseconds",
            "summary",
            "Response times in milliseconds since the last reset, per method and name.",
        );
        for (l, e) in &labels {
            let values = e.percentiles(&QUANTILES.map(|(q, _)| q));
            for ((_, q), v) in QUANTILES.iter().zip(values) {
                let ql = format!("{l},quantile=\"{q}\"");
                sample(&mut out, "response_time_milliseconds", &ql, v);
            }
            let timed = e.num_requests().saturating_sub(e.num_none_requests());
            sample(
                &mut out,
                "response_time_milliseconds_sum",
                l,
                e.total_response_time(),
            );
            sample(
                &mut out,
                "response_time_milliseconds_count",
                l,
                timed as f64,
            );
        }
        let total = stats.total();
        describe(
            &mut out,
            "current_rps",
            "gauge",
            "Requests per second over the last ~10 s.",
        );
        sample(&mut out, "current_rps", "", total.current_rps(now));
        describe(
            &mut out,
            "current_fail_per_sec",
            "gauge",
            "Failures per second over the last ~10 s.",
        );
        sample(
            &mut out,
            "current_fail_per_sec",
            "",
            total.current_fail_per_sec(now),
        );
    }
    describe(&mut out, "users", "gauge", "Users running now.");
    sample(&mut out, "users", "", users as f64);
    describe(
        &mut out,
        "target_users",
        "gauge",
        "Users the current or last ramp aims at.",
    );
    sample(&mut out, "target_users", "", target as f64);
    describe(
        &mut out,
        "state",
        "gauge",
        "1 for the test's current state, 0 for the others.",
    );
    for s in STATES {
        let l = format!("state=\"{}\"", s.as_str());
        sample(
            &mut out,
            "state",
            &l,
            if s == run_state { 1.0 } else { 0.0 },
        );
    }
    out
}

fn describe(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP rustlocust_{name} {help}");
    let _ = writeln!(out, "# TYPE rustlocust_{name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: f64) {
    let value = number(value);
    if labels.is_empty() {
        let _ = writeln!(out, "rustlocust_{name} {value}");
    } else {
        let _ = writeln!(out, "rustlocust_{name}{{{labels}}} {value}");
    }
}

/// Prometheus' float syntax: `NaN`, `+Inf`, `-Inf`, otherwise Rust's shortest round-trip form.
fn number(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{x}")
    }
}

/// A label value: backslash, double quote and line feed escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_numbers() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(0.25), "0.25");
    }
}
