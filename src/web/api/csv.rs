//! The CSV downloads: `/stats/requests/csv`, `/stats/failures/csv`, `/exceptions/csv` (rendered
//! from the live stats with the `--csv` writer's format) and `/stats/requests_full_history/csv`
//! (the `--csv-full-history` file as written so far).

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::report::csv as report_csv;
use crate::stats::Stats;
use crate::web::WebState;

pub(super) async fn requests_csv(State(state): State<Arc<WebState>>) -> Response {
    render(&state, "requests", report_csv::stats_csv)
}

pub(super) async fn failures_csv(State(state): State<Arc<WebState>>) -> Response {
    render(&state, "failures", report_csv::failures_csv)
}

pub(super) async fn exceptions_csv(State(state): State<Arc<WebState>>) -> Response {
    render(&state, "exceptions", report_csv::exceptions_csv)
}

pub(super) async fn full_history_csv(State(state): State<Arc<WebState>>) -> Response {
    let Some(path) = state.options.full_history_csv.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "Error: Server was not started with option to generate full history.",
        )
            .into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let start = state.stats.lock().start_time();
            attachment(bytes, &file_name(&state, start, "requests_full_history"))
        }
        Err(e) => (
            StatusCode::NOT_FOUND,
            format!(
                "Error: the full history file {} cannot be read: {e}",
                path.display()
            ),
        )
            .into_response(),
    }
}

fn render(state: &WebState, suffix: &str, csv: fn(&Stats) -> String) -> Response {
    let (text, start) = {
        let stats = state.stats.lock();
        (csv(&stats), stats.start_time())
    };
    attachment(text.into_bytes(), &file_name(state, start, suffix))
}

fn attachment(body: Vec<u8>, name: &str) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment;filename={name}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// Locust's `Locust_<YYYY-mm-dd-HHhMM>_<locustfile>[_<host>]_<suffix>.csv`, local time of the
/// stats' start.
fn file_name(state: &WebState, start_unix: f64, suffix: &str) -> String {
    let (scenario, host) = {
        let file = state.scenario.read().scenario_file.clone();
        (file, state.run_status().host)
    };
    attachment_name(start_unix, &scenario, &host, &format!("_{suffix}.csv"))
}

/// `Locust_<ts>_<scenario base name>[_<host>]<tail>` with every character a browser or header
/// could object to (`/`, `:`, quotes, spaces, non-ASCII) replaced by `_`.
pub(super) fn attachment_name(start_unix: f64, scenario: &str, host: &str, tail: &str) -> String {
    let base = Path::new(scenario)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| scenario.to_owned());
    let host = if host.is_empty() {
        String::new()
    } else {
        format!("_{host}")
    };
    let name = format!("Locust_{}_{base}{host}{tail}", safe_timestamp(start_unix));
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Locust's `format_safe_timestamp`: local `%Y-%m-%d-%Hh%M`.
fn safe_timestamp(unix: f64) -> String {
    let secs = if unix.is_finite() { unix as i64 } else { 0 };
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d-%Hh%M")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_locust_and_header_safe() {
        let name = attachment_name(
            0.0,
            "dir/demo.rhai",
            "http://127.0.0.1:8080",
            "_requests.csv",
        );
        assert!(name.starts_with("Locust_19"), "{name}");
        assert!(
            name.ends_with("_demo.rhai_http___127.0.0.1_8080_requests.csv"),
            "{name}"
        );
        let name = attachment_name(f64::NAN, "x\"é\n.rhai", "", ".html");
        assert!(name.ends_with("_x___.rhai.html"), "{name}");
        assert!(HeaderValue::from_str(&name).is_ok());
    }
}
