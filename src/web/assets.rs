//! (stub) The UI's files from `web/`, embedded in the binary.
use std::sync::Arc;

use axum::Router;

use super::WebState;

pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
}
