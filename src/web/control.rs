//! The controller of web mode: it owns a `TestRun` and applies the handlers' commands (start or
//! re-target, stop, reset, reload), keeps the status the UI reads, publishes the stats snapshot for
//! the SSE stream once a second, and serves `/status`, `/stats/history` and `/reload`. Everything
//! runs on the control thread inside a `LocalSet`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::RwLock;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::{ClassInfo, Command, HistoryPoint, RunState, Status, WebOptions, WebState};
use crate::report::console;
use crate::run::{default_host, Load, RunConfig, TestRun, Tick};
use crate::script::Scenario;
use crate::stats::unix_now as now_unix;

struct Controller {
    web: WebOptions,
    run: TestRun,
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
    let status = status_of(&scenario, &cfg);
    let run = TestRun::new(cfg, scenario).await;
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::<str>::from("{}"));
    let state = Arc::new(WebState {
        cmd: cmd_tx,
        stats: run.stats.clone(),
        status: RwLock::new(status),
        history: run.history.clone(),
        snapshot: snap_rx,
        options: web.clone(),
    });
    let (stop_server, server_stopped) = oneshot::channel::<()>();
    let app = super::router(state.clone());
    let server = server.serve(app, async {
        let _ = server_stopped.await;
    });
    let autostart = web.autostart;
    let mut c = Controller {
        web,
        run,
        state,
        snapshot: snap_tx,
        ended_at: None,
    };
    if autostart {
        if let Err(e) = c.start(c.run.config().load.clone()).await {
            log::error!("--autostart: {e}");
        }
    }
    let result = c.serve_commands(cmd_rx).await;
    c.stop().await;
    // Open SSE streams end when the snapshot sender goes, so the server can stop at once.
    let Controller { run, snapshot, .. } = c;
    drop(snapshot);
    let _ = stop_server.send(());
    let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
    let code = run.exit_code();
    run.quit(code).await;
    result.map(|_| code)
}

impl Controller {
    async fn serve_commands(
        &mut self,
        mut cmds: mpsc::UnboundedReceiver<Command>,
    ) -> anyhow::Result<()> {
        let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut sigterm =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let (mut last_second, mut last_console) = (Instant::now(), Instant::now());
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                Some(cmd) = cmds.recv() => self.apply(cmd).await,
                _ = sigint.recv() => { log::info!("Got SIGINT signal, shutting down"); return Ok(()); }
                _ = sigterm.recv() => { log::info!("Got SIGTERM signal, shutting down"); return Ok(()); }
            }
            match self.run.tick().await {
                Some(Tick::SpawningComplete(_)) => {
                    self.state.status.write().state = RunState::Running
                }
                Some(Tick::End(why)) => {
                    log::info!("{why}, stopping the test");
                    self.stop().await;
                }
                None => {}
            }
            self.state.status.write().user_count = self.run.user_count();
            if last_second.elapsed() >= Duration::from_secs(1) {
                last_second = Instant::now();
                self.run.every_second();
                self.publish();
            }
            let printing = self.web.print_stats && self.run.is_running();
            if printing && last_console.elapsed() >= console::PRINT_EVERY {
                last_console = Instant::now();
                let table = console::current_table(&self.run.stats.lock(), now_unix());
                console::emit(&table, false);
            }
            if let (Some(after), Some(ended)) = (self.web.autoquit, self.ended_at) {
                if ended.elapsed() >= after {
                    log::info!(
                        "--autoquit: quitting {} s after the test ended",
                        after.as_secs_f64()
                    );
                    return Ok(());
                }
            }
        }
    }

    async fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::Swarm { load, reply } => {
                let r = self.start(load).await;
                let _ = reply.send(r);
            }
            Command::Stop { reply } => {
                self.stop().await;
                let _ = reply.send(());
            }
            Command::ResetStats { reply } => {
                self.run.reset_stats().await;
                let _ = reply.send(());
            }
            Command::Reload { reply } => {
                let _ = reply.send(self.reload().await);
            }
        }
    }

    async fn start(&mut self, load: Load) -> Result<(), String> {
        let was_running = self.run.is_running();
        let (users, spawn_rate, run_time) = (load.users, load.spawn_rate, load.run_time);
        self.run.start(load).await?;
        let mut st = self.state.status.write();
        st.state = RunState::Spawning;
        st.target_users = users;
        st.spawn_rate = spawn_rate;
        st.run_time = run_time.map(|t| t.as_secs_f64());
        if !was_running {
            st.host = self.run.host().to_string();
            st.started_at = Some(self.run.started_at());
            self.ended_at = None;
        }
        Ok(())
    }

    async fn stop(&mut self) {
        if !self.run.is_running() {
            return;
        }
        self.state.status.write().state = RunState::Stopping;
        self.run.stop(std::future::pending()).await;
        {
            let mut st = self.state.status.write();
            st.state = RunState::Stopped;
            st.user_count = 0;
        }
        self.publish();
        self.ended_at = Some(Instant::now());
    }

    /// The `/stats/requests` JSON for the SSE stream.
    fn publish(&self) {
        let json = super::api::stats_requests_json(&self.state, now_unix());
        let _ = self.snapshot.send(Arc::from(json.to_string()));
    }

    /// Re-read the scenario from disk. A compile error keeps the loaded one (and a running test).
    async fn reload(&mut self) -> Result<String, String> {
        let cfg = self.run.config();
        let files = cfg.scenario_display();
        match Scenario::load_files(&cfg.scenario_files, &cfg.scenario_options) {
            Err(e) => {
                let msg = e.to_string();
                log::error!("reload failed, keeping the loaded scenario: {msg}");
                self.state.status.write().reload_error = Some(msg.clone());
                Err(msg)
            }
            Ok(sc) => {
                let sc = Arc::new(sc);
                let n = sc.classes.len();
                {
                    let fresh = status_of(&sc, self.run.config());
                    let mut st = self.state.status.write();
                    st.classes = fresh.classes;
                    st.tasks = fresh.tasks;
                    st.reload_error = None;
                }
                self.run.set_scenario(sc).await;
                let when = if self.run.is_running() {
                    " (it applies to the next test)"
                } else {
                    ""
                };
                log::info!("reloaded {files}: {n} user classes{when}");
                Ok(format!("Reloaded {files}: {n} user class(es){when}"))
            }
        }
    }
}

fn status_of(sc: &Scenario, cfg: &RunConfig) -> Status {
    Status {
        state: RunState::Ready,
        user_count: 0,
        target_users: cfg.load.users,
        spawn_rate: cfg.load.spawn_rate,
        host: cfg.load.host.clone().unwrap_or_else(|| default_host(sc)),
        scenario_file: cfg.scenario_display(),
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
        tasks: sc.task_ratios_by_weight().to_json(),
        reload_error: None,
        started_at: None,
        run_time: cfg.load.run_time.map(|t| t.as_secs_f64()),
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
    Json(state.status.read().clone())
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
