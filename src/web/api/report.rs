//! `GET /stats/report`: the self-contained HTML report of the current or last test, inline or,
//! with `?download=1` (any non-empty value, as Locust), as an attachment named
//! `Locust_<ts>_<scenario>_<host>.html`. Locust's `?theme=` is accepted and ignored.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::csv::attachment_name;
use crate::report::html::{render, ReportMeta};
use crate::web::{RunState, WebState};

pub(super) async fn report(
    State(state): State<Arc<WebState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let download = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "download" && !v.is_empty())
    });
    let now = crate::stats::unix_now();
    let (scenario, host, started_at, run_state) = {
        let s = state.run_status();
        let file = state.scenario.read().scenario_file.clone();
        (file, s.host, s.started_at, s.state)
    };
    let history = state.history.lock().clone();
    // A copy, so rendering does not hold the lock the controller merges under.
    let stats = state.stats.lock().clone();
    let end = match (run_state, history.last()) {
        (RunState::Stopped, Some(last)) => last.time,
        _ => now,
    };
    let meta = ReportMeta {
        scenario: scenario.clone(),
        host: host.clone(),
        start: started_at.unwrap_or_else(|| stats.start_time()),
        end,
    };
    let html = render(&stats, &history, &meta);
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if !download {
        return ([content_type], html).into_response();
    }
    let name = attachment_name(stats.start_time(), &scenario, &host, ".html");
    let disposition = HeaderValue::from_str(&format!("attachment;filename={name}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [content_type, (header::CONTENT_DISPOSITION, disposition)],
        html,
    )
        .into_response()
}
