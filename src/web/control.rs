//! The controller of web mode: the web front end of the test run's driver loop. Handlers send
//! their commands (start or re-target, stop, reset, reload) to the loop; the controller publishes
//! the stats snapshot for the SSE stream once a second, keeps the scenario info current on reload,
//! and serves `/status`, `/stats/history` and `/reload`. Everything runs on the control thread
//! inside a `LocalSet`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::RwLock;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::{ClassInfo, Command, HistoryPoint, ScenarioInfo, Status, WebOptions, WebState};
use crate::distributed::Master;
use crate::run::{drive, users, FrontEnd, RunConfig, TestRun, UsersFactory};
use crate::script::{Scenario, TaskKind, TaskSet};
use crate::stats::unix_now as now_unix;

/// The web front end of the driver loop: publishes the SSE snapshot once a second, keeps the
/// scenario info current on reload, and quits after `--autoquit`.
struct Controller {
    web: WebOptions,
    state: Arc<WebState>,
    snapshot: watch::Sender<Arc<str>>,
    ended_at: Option<Instant>,
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
    let listener = tokio::net::TcpListener::bind(web.bind)
        .await
        .with_context(|| format!("binding the web UI to {}", web.bind))?;
    let addr: SocketAddr = listener.local_addr()?;
    if !web.bind.ip().is_loopback() && web.auth.is_none() {
        log::warn!(
            "the web UI listens on {addr}, which is not a loopback address, without --web-auth: anyone who can \
             reach it can start load tests"
        );
    }
    log::info!("Starting web interface at http://{addr}");
    let info = scenario_info(&scenario, &cfg);
    let mut run = TestRun::with_users(cfg, scenario, users).await;
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
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = server_stopped.await;
            })
            .await
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
    };
    let result = drive(&mut run, &mut c, Some(cmd_rx)).await;
    // Open SSE streams end when the snapshot sender goes, so the server can stop at once.
    drop(c);
    let _ = stop_server.send(());
    let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
    let code = run.exit_code();
    run.quit(code).await;
    result?;
    Ok(code)
}

impl FrontEnd for Controller {
    fn every_second(&mut self, _run: &TestRun) {
        self.publish();
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
        scenario_file: cfg.scenario_file.display().to_string(),
        classes: sc
            .classes
            .iter()
            .map(|c| ClassInfo {
                name: c.name.clone(),
                weight: c.weight,
                fixed_count: c.fixed_count,
                host: c.host.clone(),
            })
            .collect(),
        tasks: tasks_json(sc),
        reload_error: None,
    }
}

/// Locust's `/tasks` JSON: each class's share and its task tree, per class and in total.
pub fn tasks_json(sc: &Scenario) -> Value {
    fn tree(set: &TaskSet, scale: f64) -> Value {
        let total = set.total_weight().max(1) as f64;
        let mut m = serde_json::Map::new();
        for t in &set.tasks {
            let ratio = t.weight as f64 / total * scale;
            let mut node = json!({ "ratio": ratio });
            if let TaskKind::Set(s) = &t.kind {
                node["tasks"] = tree(s, ratio);
            }
            // Same task listed twice: add up, as Locust's dict does.
            match m.get_mut(t.label()) {
                Some(prev) => prev["ratio"] = json!(prev["ratio"].as_f64().unwrap_or(0.0) + ratio),
                None => {
                    m.insert(t.label().to_string(), node);
                }
            }
        }
        Value::Object(m)
    }
    let weights: f64 = sc
        .classes
        .iter()
        .map(|c| c.weight)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    let (mut per_class, mut total) = (serde_json::Map::new(), serde_json::Map::new());
    for c in &sc.classes {
        let share = c.weight / weights;
        per_class.insert(
            c.name.clone(),
            json!({ "ratio": share, "tasks": tree(&c.tasks, 1.0) }),
        );
        total.insert(
            c.name.clone(),
            json!({ "ratio": share, "tasks": tree(&c.tasks, share) }),
        );
    }
    json!({ "per_class": per_class, "total": total })
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
