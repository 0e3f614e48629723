//! The controller of web mode: the web front end of the test run's driver loop. Handlers send
//! their commands (start or re-target, stop, reset, reload) to the loop; the controller publishes
//! the stats snapshot for the SSE stream once a second, keeps the scenario info current on reload,
//! and serves `/status`, `/stats/history` and `/reload`. Everything runs on the control thread
//! inside a `LocalSet`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::RwLock;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::{ClassInfo, Command, HistoryPoint, ScenarioInfo, Status, WebOptions, WebState};
use crate::distributed::Master;
use crate::report::console;
use crate::run::{drive, users, FrontEnd, RunConfig, TestRun, UsersFactory};
use crate::script::Scenario;
use crate::stats::unix_now as now_unix;

/// The web front end of the driver loop: publishes the SSE snapshot once a second, keeps the
/// scenario info current on reload, and quits after `--autoquit`.
struct Controller {
    web: WebOptions,
    state: Arc<WebState>,
    snapshot: watch::Sender<Arc<str>>,
    ended_at: Option<Instant>,
    /// When `--print-stats` last printed the console table.
    last_table: Instant,
}

/// Serve the UI and API until Ctrl-C (or `--autoquit`); returns the exit code.
pub async fn serve(
    cfg: RunConfig,
    web: WebOptions,
    scenario: Arc<Scenario>,
) -> anyhow::Result<i32> {
    serve_with(cfg, web, scenario, users::local(), None).await
}

/// [`serve`] with the users `users` makes for each test; a master also passes itself, whose
/// workers the API lists.
pub async fn serve_with(
    cfg: RunConfig,
    web: WebOptions,
    scenario: Arc<Scenario>,
    users: UsersFactory,
    workers: Option<Arc<Master>>,
) -> anyhow::Result<i32> {
    // Bad TLS files or base path: an error now, before anything runs.
    let server = super::server::Server::bind(&web).await?;
    let addr: SocketAddr = server.local_addr();
    if !web.bind.ip().is_loopback() && web.auth.is_none() {
        log::warn!(
            "the web UI listens on {addr}, which is not a loopback address, without --web-auth: anyone who can \
             reach it can start load tests"
        );
    }
    log::info!("Starting web interface at {}", server.url());
    let info = scenario_info(&scenario, &cfg);
    let mut run = TestRun::with_users(cfg, scenario, users).await;
    if let Some(m) = workers.as_ref().and_then(|m| m.mailbox()) {
        run.set_mailbox(m);
    }
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::<str>::from("{}"));
    let state = Arc::new(WebState {
        cmd: cmd_tx,
        stats: run.stats.clone(),
        run: run.status(),
        scenario: RwLock::new(info),
        history: run.history.clone(),
        snapshot: snap_rx,
        options: web.clone(),
        workers,
    });
    let (stop_server, server_stopped) = oneshot::channel::<()>();
    let app = super::router(state.clone());
    let server = server.serve(app, async {
        let _ = server_stopped.await;
    });
    if web.autostart {
        let load = run.config().load.clone();
        if let Err(e) = run.start(load).await {
            log::error!("--autostart: {e}");
        }
    }
    let mut c = Controller {
        web,
        state,
        snapshot: snap_tx,
        ended_at: None,
        last_table: Instant::now(),
    };
    let result = drive(&mut run, &mut c, Some(cmd_rx)).await;
    // Open SSE streams end when the snapshot sender goes, so the server can stop at once.
    drop(c);
    let _ = stop_server.send(());
    let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
    let code = run.exit_code();
    let code = run.quit(code).await;
    result?;
    Ok(code)
}

impl FrontEnd for Controller {
    fn every_second(&mut self, run: &TestRun) {
        self.publish();
        // `--print-stats`: the console table as in headless mode, while a test runs.
        if self.web.print_stats
            && run.is_running()
            && self.last_table.elapsed() >= console::PRINT_EVERY
        {
            self.last_table = Instant::now();
            console::emit(
                &console::current_table(&run.stats.lock(), now_unix()),
                false,
            );
        }
    }

    fn test_ended(&mut self, _run: &TestRun) -> bool {
        self.publish();
        self.ended_at = Some(Instant::now());
        false
    }

    fn should_quit(&mut self) -> bool {
        match (self.web.autoquit, self.ended_at) {
            (Some(after), Some(ended)) if ended.elapsed() >= after => {
                log::info!(
                    "--autoquit: quitting {} s after the test ended",
                    after.as_secs_f64()
                );
                true
            }
            _ => false,
        }
    }

    fn reloaded(&mut self, run: &TestRun, result: &Result<String, String>) {
        let mut info = self.state.scenario.write();
        match result {
            Ok(_) => *info = scenario_info(run.scenario(), run.config()),
            Err(msg) => info.reload_error = Some(msg.clone()),
        }
    }

    fn class_changed(&mut self, run: &TestRun) {
        let mut info = self.state.scenario.write();
        let reload_error = info.reload_error.take();
        *info = scenario_info(run.scenario(), run.config());
        info.reload_error = reload_error;
    }
}

impl Controller {
    /// The `/stats/requests` JSON for the SSE stream.
    fn publish(&self) {
        let json = super::api::stats_requests_json(&self.state, now_unix());
        let _ = self.snapshot.send(Arc::from(json.to_string()));
    }
}

fn scenario_info(sc: &Scenario, cfg: &RunConfig) -> ScenarioInfo {
    ScenarioInfo {
        scenario_file: cfg.scenario_display(),
        classes: sc
            .classes
            .iter()
            .map(|c| ClassInfo {
                name: c.name.clone(),
                weight: c.weight,
                fixed_count: c.fixed_count,
                host: c.host.clone(),
                wait_time: c.wait.describe(),
                tasks: c.tasks.tasks.iter().map(|t| t.label().to_owned()).collect(),
            })
            .collect(),
        tasks: sc.task_ratios_by_weight().to_json(),
        reload_error: None,
    }
}

/// `/status` (what the UI needs about the scenario and the run), `/stats/history` and `/reload`.
pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/status", get(status))
        .route("/reload", post(reload))
        .route("/stats/history", get(history))
}

/// The charts' points of the current or last test, so a page opened mid-run shows the whole run.
async fn history(State(state): State<Arc<WebState>>) -> Json<Vec<HistoryPoint>> {
    Json(state.history.lock().clone())
}

async fn status(State(state): State<Arc<WebState>>) -> Json<Status> {
    Json(state.status())
}

async fn reload(State(state): State<Arc<WebState>>) -> (axum::http::StatusCode, Json<Value>) {
    let (tx, rx) = oneshot::channel();
    if state.cmd.send(Command::Reload { reply: tx }).is_err() {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"success": false, "message": "shutting down"})),
        );
    }
    match rx.await {
        Ok(Ok(msg)) => (
            axum::http::StatusCode::OK,
            Json(json!({ "success": true, "message": msg })),
        ),
        Ok(Err(msg)) => (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({ "success": false, "message": msg })),
        ),
        Err(_) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"success": false, "message": "shutting down"})),
        ),
    }
}
