//! The control UI and HTTP API (Locust 2.47's routes plus our own SSE stream and Prometheus
//! metrics), served by axum. Handlers only read shared state and send commands; the controller
//! (`control.rs`) owns the runner and applies them, so the web layer never blocks a test.

pub mod api;
pub mod assets;
pub mod control;
pub mod server;

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
    /// As the script writes it: `constant(1)`, `between(1, 2)`, `constant_pacing(1)`.
    pub wait_time: String,
    /// The class's own tasks (task sets by name), in declaration order.
    pub tasks: Vec<String>,
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
    /// `--print-stats`: the console stats table every 2 s while a test runs, as in headless mode.
    pub print_stats: bool,
    /// `--tls-cert`/`--tls-key`: serve over HTTPS with this PEM certificate chain and private key.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// `--web-base-path`: "" or a path like `/locust`; every route and asset is served under it
    /// (for a reverse proxy that forwards `/locust/...` unchanged).
    pub base_path: String,
    /// `--class-picker`: the start form lets the user choose the classes to run; without it the
    /// form offers no choice and every class runs (`/swarm` still takes `user_classes`).
    pub class_picker: bool,
    /// `--web-allowed-hosts`: host names the UI answers to besides IP addresses and localhost
    /// (`*`: any), e.g. a reverse proxy's public name.
    pub allowed_hosts: Vec<String>,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 8089)),
            autostart: false,
            autoquit: None,
            auth: None,
            full_history_csv: None,
            print_stats: false,
            tls: None,
            base_path: String::new(),
            class_picker: false,
            allowed_hosts: Vec::new(),
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

/// The whole web app: API routes, the UI's files, and a JSON 404 for anything else, all under the
/// base path when there is one (its bare form redirects to the one with a slash, where the page's
/// relative URLs resolve). `api::finish` adds the fallback, body limit, CORS and basic auth to every
/// route merged before it (routes merged into the returned router afterwards are not protected).
pub fn router(state: Arc<WebState>) -> Router {
    let base = server::base_path(&state.options.base_path).unwrap_or_else(|e| {
        // `control::serve` refuses a bad base path before it gets here; a library caller that
        // passes one gets the UI at the root rather than a panic.
        log::error!("{e}; serving the web UI at /");
        String::new()
    });
    let app = api::routes(state.clone())
        .merge(assets::routes(&base, state.options.class_picker))
        .merge(control::routes());
    let app = api::finish(app, state.clone());
    if base.is_empty() {
        return app.with_state(state);
    }
    let with_slash = format!("{base}/");
    let to = with_slash.clone();
    let redirect = move || {
        let to = to.clone();
        async move { axum::response::Redirect::permanent(&to) }
    };
    Router::new()
        .nest(&with_slash, app)
        .route(&base, axum::routing::any(redirect))
        .fallback(api::not_found)
        .with_state(state)
}
