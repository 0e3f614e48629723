//! The control UI and HTTP API (Locust 2.47's routes plus our own SSE stream and Prometheus
//! metrics), served by axum. Handlers only read shared state and send commands; the controller
//! (`control.rs`) owns the runner and applies them, so the web layer never blocks a test.

pub mod api;
pub mod assets;
pub mod control;

use std::sync::Arc;

use axum::Router;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::stats::Stats;

pub use crate::run::{Command, Load, RunState, RunStatus};
pub use crate::stats::HistoryPoint;

/// A user class as the UI shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ClassInfo {
    pub name: String,
    pub weight: f64,
    pub fixed_count: u64,
    pub host: Option<String>,
}

/// What the UI knows of the loaded scenario; changes only on reload.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioInfo {
    /// The scenario file as given on the command line.
    pub scenario_file: String,
    pub classes: Vec<ClassInfo>,
    /// Locust's `/tasks` JSON (`per_class` and `total` ratio trees).
    pub tasks: serde_json::Value,
    /// The last reload's compile error (`file:line:col: message`), if it failed.
    pub reload_error: Option<String>,
}

/// `/status`: the test run's own status plus the scenario, derived on each read.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    #[serde(flatten)]
    pub run: RunStatus,
    #[serde(flatten)]
    pub scenario: ScenarioInfo,
}

/// What the web front end is asked for (the options layer builds it; the web layer never sees
/// the command line).
#[derive(Clone, Debug)]
pub struct WebOptions {
    /// Address and port the UI listens on (port 0: any free port).
    pub bind: std::net::SocketAddr,
    /// Start a test at once with the run's configured load.
    pub autostart: bool,
    /// With `autostart`: quit this long after the test ended.
    pub autoquit: Option<std::time::Duration>,
    /// `--web-auth user:pass` (basic auth on every route).
    pub auth: Option<(String, String)>,
    /// `--csv-full-history` with `--csv PREFIX`: where the full-history CSV is written.
    pub full_history_csv: Option<std::path::PathBuf>,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 8089)),
            autostart: false,
            autoquit: None,
            auth: None,
            full_history_csv: None,
        }
    }
}

/// Everything handlers read. One per process; the test run publishes `run`, the controller
/// writes `scenario` on reload.
pub struct WebState {
    pub cmd: mpsc::UnboundedSender<Command>,
    pub stats: Arc<Mutex<Stats>>,
    /// The test run's status (its only writer is the test run).
    pub run: watch::Receiver<RunStatus>,
    pub scenario: RwLock<ScenarioInfo>,
    pub history: Arc<Mutex<Vec<HistoryPoint>>>,
    /// The `/stats/requests` JSON, refreshed once a second (the SSE stream sends it).
    pub snapshot: watch::Receiver<Arc<str>>,
    pub options: WebOptions,
    /// A master's workers (`/worker-count`, `workers` in `/stats/requests`); None when local.
    pub workers: Option<Arc<crate::distributed::Master>>,
}

/// The whole web app: API routes, the UI's files, and a JSON 404 for anything else.
/// `api::finish` adds the fallback, body limit, CORS and basic auth to every route merged before
/// it (routes merged into the returned router afterwards are not protected).
impl WebState {
    /// The run's status now (a copy: no lock outlives the call).
    pub fn run_status(&self) -> RunStatus {
        self.run.borrow().clone()
    }

    /// `/status`, derived from the run's status and the scenario.
    pub fn status(&self) -> Status {
        Status {
            run: self.run_status(),
            scenario: self.scenario.read().clone(),
        }
    }
}

pub fn router(state: Arc<WebState>) -> Router {
    let app = api::routes(state.clone())
        .merge(assets::routes())
        .merge(control::routes());
    api::finish(app, state.clone()).with_state(state)
}
