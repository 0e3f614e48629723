//! Locust 2.47's HTTP API (`/swarm`, `/stop`, `/stats/*`, `/exceptions`, `/tasks`, `/user`,
//! `/logs`, `/worker-count`, the CSV downloads, the HTML report), our `/stats/stream` (server-sent
//! events) and `/metrics` (Prometheus), plus what every route shares: the JSON 404, the 1 MiB body
//! limit, basic auth and the cross-site checks (see [`finish`]).
//!
//! Handlers read [`WebState`] and send [`Command`]s; they never touch the runner. A refused
//! `/swarm` answers as Locust does (HTTP 200, `"success": false` and the reason). Where we differ
//! from Locust on purpose (statuses compared with Locust's captured answers in
//! `tests/fixtures/locust_api/`):
//! - a controller that is gone or does not answer is 503 or 504 (Locust has no such case);
//! - `/swarm` also takes a JSON body, and ignores keys it does not know (Locust copies them into
//!   its parsed options);
//! - `/stats/reset` also answers GET (as Locust ≤ 2.46 did; 2.47 answers 405); `/stop` is
//!   POST-only like 2.47;
//! - unknown routes are a JSON 404 (Locust: an HTML page), bodies over 1 MiB are 413 and
//!   `--web-auth` answers 401 (Locust has neither limit nor basic auth);
//! - `/stats/requests` is computed on each call (Locust memoizes it for 2 s);
//! - latencies keep sub-millisecond precision (3 significant digits below 100 ms) instead of
//!   Locust's whole milliseconds, so loopback tests do not read 0;
//! - download file names replace characters other than `A-Za-z0-9._-` with `_` (Locust puts the
//!   raw host, `http://…`, into the header);
//! - at most 10,000,000 users per `/swarm` (Locust has no limit);
//! - state-changing requests from other origins, unknown `Host` names and `text/plain` bodies
//!   are refused (403/415), and no `Access-Control-Allow-Origin: *` is sent (`guard.rs`).

mod auth;
mod csv;
mod guard;
mod metrics;
mod report;
mod sse;
mod stats_json;
mod swarm;
mod tasks;
mod user;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::{Command, WebState};

pub use metrics::render_metrics;
pub use stats_json::{stats_requests_json, MAX_ROWS};
pub use swarm::{parse_swarm, SwarmError, MAX_USERS};
pub use user::{parse_user, UserError};

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a handler waits for the controller to apply a start or reset. A stop is waited for
/// without limit: it takes up to `--stop-timeout`, and the controller always answers it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a handler could not get an answer from the controller.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the test controller is not running")]
    ControllerGone,
    #[error("the test controller did not answer within {} s", COMMAND_TIMEOUT.as_secs())]
    ControllerTimeout,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::ControllerGone => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ControllerTimeout => StatusCode::GATEWAY_TIMEOUT,
        };
        let body = json!({"success": false, "message": self.to_string()});
        (status, Json(body)).into_response()
    }
}

/// Sends the command built around a fresh reply channel and waits (at most [`COMMAND_TIMEOUT`])
/// for the controller's answer.
async fn ask<T>(
    state: &WebState,
    make: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, ApiError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, ask_unbounded(state, make)).await {
        Ok(answer) => answer,
        Err(_) => Err(ApiError::ControllerTimeout),
    }
}

async fn ask_unbounded<T>(
    state: &WebState,
    make: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    state
        .cmd
        .send(make(tx))
        .map_err(|_| ApiError::ControllerGone)?;
    rx.await.map_err(|_| ApiError::ControllerGone)
}

/// The API's routes (no fallback and no layers: [`finish`] adds those once the UI's routes are
/// merged in, so they cover every route).
pub fn routes(_state: Arc<WebState>) -> Router<Arc<WebState>> {
    Router::new()
        .route("/swarm", post(swarm::swarm))
        .route("/stop", post(stop))
        .route("/stats/reset", get(reset_stats).post(reset_stats))
        .route("/stats/requests", get(stats_requests))
        .route("/stats/requests/csv", get(csv::requests_csv))
        .route(
            "/stats/requests_full_history/csv",
            get(csv::full_history_csv),
        )
        .route("/stats/failures/csv", get(csv::failures_csv))
        .route("/stats/report", get(report::report))
        .route("/exceptions", get(exceptions))
        .route("/exceptions/csv", get(csv::exceptions_csv))
        .route("/tasks", get(tasks::tasks))
        .route("/user", post(user::user))
        .route("/logs", get(logs))
        .route("/worker-count", get(worker_count))
        .route("/stats/stream", get(sse::stream))
        .route("/metrics", get(metrics::metrics))
}

/// What every route shares, applied to the whole app: a JSON 404 for unknown paths, the body
/// size limit, the checks against other web pages (see `guard.rs`; no CORS header, unlike
/// Locust's `*`) and, with `--web-auth`, HTTP basic auth.
pub fn finish(router: Router<Arc<WebState>>, state: Arc<WebState>) -> Router<Arc<WebState>> {
    let guard = Arc::new(guard::Guard::new(&state.options.allowed_hosts));
    let router = router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(guard, guard::check));
    match &state.options.auth {
        Some((user, pass)) => {
            let expected = Arc::new(auth::BasicAuth::new(user, pass));
            router.layer(middleware::from_fn_with_state(expected, auth::require))
        }
        None => router,
    }
}

/// The JSON 404 of every unknown path.
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response()
}

async fn stop(State(state): State<Arc<WebState>>) -> Result<Json<Value>, ApiError> {
    ask_unbounded(&state, |reply| Command::Stop { reply }).await?;
    Ok(Json(json!({"success": true, "message": "Test stopped"})))
}

async fn reset_stats(State(state): State<Arc<WebState>>) -> Result<&'static str, ApiError> {
    ask(&state, |reply| Command::ResetStats { reply }).await?;
    Ok("ok")
}

async fn stats_requests(State(state): State<Arc<WebState>>) -> Json<Value> {
    Json(stats_requests_json(&state, crate::stats::unix_now()))
}

async fn exceptions(State(state): State<Arc<WebState>>) -> Json<Value> {
    let stats = state.stats.lock();
    let rows: Vec<Value> = stats
        .exceptions()
        .map(
            |e| json!({"count": e.count, "msg": e.msg, "traceback": e.traceback, "nodes": e.nodes}),
        )
        .collect();
    Json(json!({ "exceptions": rows }))
}

async fn logs() -> Json<Value> {
    Json(json!({"master": crate::logging::recent_lines(), "workers": {}}))
}

async fn worker_count(State(state): State<Arc<WebState>>) -> Json<Value> {
    let n = state.workers.as_ref().map_or(0, |m| m.worker_count());
    Json(json!({ "worker_count": n }))
}

/// A master's `workers` and `worker_count` keys of `/stats/requests`, in Locust's shape.
pub fn add_workers(report: &mut Value, master: &crate::distributed::Master) {
    let workers: Vec<Value> = master
        .workers()
        .into_iter()
        .map(|w| {
            json!({
                "id": w.id,
                "state": w.state.as_str(),
                "user_count": w.user_count,
                "cpu_usage": w.cpu_usage,
                "memory_usage": w.memory_usage,
                // Not in Locust's answer: the Workers tab shows it.
                "last_heartbeat": w.last_heartbeat,
            })
        })
        .collect();
    report["workers"] = Value::Array(workers);
    report["worker_count"] = json!(master.worker_count());
}
