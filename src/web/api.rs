//! (stub) Locust 2.47's HTTP API, our SSE stream and Prometheus metrics.
use std::sync::Arc;

use axum::Router;

use super::WebState;

pub fn routes(_state: Arc<WebState>) -> Router<Arc<WebState>> {
    Router::new()
}
