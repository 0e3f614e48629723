//! The controller of web mode. It owns the scenario and, while a test runs, its runner; it applies
//! the handlers' commands (start or re-target, stop, reset, reload), samples the charts' history,
//! publishes the stats snapshot for the SSE stream once a second, writes the CSV files, and serves
//! `/status` and `/reload`. Everything runs on the control thread inside a `LocalSet`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::{Mutex, RwLock};
use rhai::{Dynamic, Map};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

use super::{ClassInfo, Command, HistoryPoint, RunState, Status, WebOptions, WebState};
use crate::cli::Settings;
use crate::http::HttpConfig;
use crate::report::csv::CsvWriter;
use crate::runner::hooks::{role_args, Hooks};
use crate::runner::{now_unix, LocalRunner, RunnerConfig};
use crate::script::{LoadOptions, Scenario, TaskKind, TaskSet};
use crate::stats::Stats;

/// How far back "current" chart percentiles look (Locust uses about 10 s).
const WINDOW: Duration = Duration::from_secs(10);

struct Test {
    runner: LocalRunner,
    deadline: Option<Instant>,
}

struct Controller<'a> {
    s: &'a Settings,
    scenario: Arc<Scenario>,
    hooks: Hooks,
    state: Arc<WebState>,
    snapshot: watch::Sender<Arc<str>>,
    test: Option<Test>,
    csv: Option<CsvWriter>,
    /// Two overlapping windows behind the charts' current percentiles, reset alternately: the
    /// older one always holds the last 5–10 s.
    window: [Arc<Mutex<Stats>>; 2],
    older: usize,
    window_started: Instant,
    ended_at: Option<Instant>,
}

/// Serve the UI and API until Ctrl-C (or `--autoquit`); returns the exit code.
pub async fn serve(s: &Settings, scenario: Arc<Scenario>) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind((s.web_host, s.web_port))
        .await
        .with_context(|| format!("binding the web UI to {}:{}", s.web_host, s.web_port))?;
    let addr: SocketAddr = listener.local_addr()?;
    if !s.web_host.is_loopback() && s.web_auth.is_none() {
        log::warn!(
            "the web UI listens on {addr}, which is not a loopback address, without --web-auth: anyone who can \
             reach it can start load tests"
        );
    }
    log::info!("Starting web interface at http://{addr}");
    let http = HttpConfig {
        insecure: s.insecure,
        ..HttpConfig::default()
    };
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::<str>::from("{}"));
    let state = Arc::new(WebState {
        cmd: cmd_tx,
        stats: Arc::new(Mutex::new(Stats::new(now_unix()))),
        status: RwLock::new(status_of(&scenario, s)),
        history: Mutex::new(Vec::new()),
        snapshot: snap_rx,
        options: WebOptions {
            auth: s.web_auth.clone(),
            full_history_csv: s
                .csv_prefix
                .as_ref()
                .filter(|_| s.csv_full_history)
                .map(|p| PathBuf::from(format!("{}_stats_history.csv", p.display()))),
        },
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
    context_role();
    let hooks = Hooks::new(scenario.clone(), &http, s.host.as_deref(), s.seed);
    hooks.fire("init", role_args()).await;
    let mut c = Controller {
        s,
        scenario,
        hooks,
        state: state.clone(),
        snapshot: snap_tx,
        test: None,
        csv: None,
        window: [
            Arc::new(Mutex::new(Stats::new(now_unix()))),
            Arc::new(Mutex::new(Stats::new(now_unix()))),
        ],
        older: 0,
        window_started: Instant::now(),
        ended_at: None,
    };
    if s.autostart {
        if let Err(e) = c
            .start(
                s.users,
                s.spawn_rate,
                s.host.clone(),
                s.run_time,
                Vec::new(),
            )
            .await
        {
            log::error!("--autostart: {e}");
        }
    }
    let result = c.run(cmd_rx).await;
    if c.test.is_some() {
        c.stop().await;
    }
    // Open SSE streams end when the snapshot sender goes, so the server can stop at once.
    let Controller {
        snapshot, hooks, ..
    } = c;
    drop(snapshot);
    let _ = stop_server.send(());
    let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
    let code = {
        let st = state.stats.lock();
        if st.has_failures() || st.has_exceptions() {
            s.exit_code_on_error
        } else {
            0
        }
    };
    let mut q = Map::new();
    q.insert("exit_code".into(), Dynamic::from_int(code as i64));
    hooks.fire("quitting", q).await;
    result.map(|_| code)
}

fn context_role() {
    crate::script::context::set_role(crate::script::context::Role {
        kind: "local",
        worker_index: 0,
        worker_count: 0,
    });
}

impl Controller<'_> {
    async fn run(&mut self, mut cmds: mpsc::UnboundedReceiver<Command>) -> anyhow::Result<()> {
        let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut sigterm =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut last_second = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                Some(cmd) = cmds.recv() => self.apply(cmd).await,
                _ = sigint.recv() => { log::info!("Got SIGINT signal, shutting down"); return Ok(()); }
                _ = sigterm.recv() => { log::info!("Got SIGTERM signal, shutting down"); return Ok(()); }
            }
            self.tick().await;
            if last_second.elapsed() >= Duration::from_secs(1) {
                last_second = Instant::now();
                self.every_second();
            }
            if let (Some(after), Some(ended)) = (self.s.autoquit, self.ended_at) {
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
            Command::Swarm {
                users,
                spawn_rate,
                host,
                run_time,
                user_classes,
                reply,
            } => {
                let r = self
                    .start(users, spawn_rate, host, run_time, user_classes)
                    .await;
                let _ = reply.send(r);
            }
            Command::Stop { reply } => {
                self.stop().await;
                let _ = reply.send(());
            }
            Command::ResetStats { reply } => {
                self.state.stats.lock().reset(now_unix());
                for w in &self.window {
                    w.lock().reset(now_unix());
                }
                self.hooks.fire("reset_stats", Map::new()).await;
                let _ = reply.send(());
            }
            Command::Reload { reply } => {
                let _ = reply.send(self.reload().await);
            }
        }
    }

    /// Start a test, or re-target the running one (users, rate, run time).
    async fn start(
        &mut self,
        users: u64,
        spawn_rate: f64,
        host: Option<String>,
        run_time: Option<Duration>,
        user_classes: Vec<String>,
    ) -> Result<(), String> {
        let deadline = run_time.map(|t| Instant::now() + t);
        if let Some(test) = &mut self.test {
            // A running test keeps its host and classes; only the load changes.
            if let Some(bad) = user_classes
                .iter()
                .find(|c| !self.scenario.classes.iter().any(|k| &k.name == *c))
            {
                return Err(format!("unknown user class '{bad}'"));
            }
            log::info!("Re-targeting to {users} users at a rate of {spawn_rate:.2} per second");
            test.runner.set_target(users as usize, spawn_rate);
            if run_time.is_some() {
                test.deadline = deadline;
            }
            let mut st = self.state.status.write();
            st.state = RunState::Spawning;
            st.target_users = users;
            st.spawn_rate = spawn_rate;
            st.run_time = run_time.map(|t| t.as_secs_f64());
            return Ok(());
        }
        let host = host
            .filter(|h| !h.trim().is_empty())
            .or_else(|| self.s.host.clone());
        let cfg = RunnerConfig {
            threads: self.s.threads,
            http: HttpConfig {
                insecure: self.s.insecure,
                ..HttpConfig::default()
            },
            seed: self.s.seed,
            max_stacks: self.s.max_coroutine_stacks,
            host: host.clone(),
            max_jobs: self.s.max_background_jobs,
            user_classes,
            stats: Some(self.state.stats.clone()),
            windows: self.window.to_vec(),
        };
        self.state.stats.lock().reset(now_unix());
        for w in &self.window {
            w.lock().reset(now_unix());
        }
        self.state.history.lock().clear();
        let mut runner = LocalRunner::new(self.scenario.clone(), cfg).map_err(|e| e.to_string())?;
        self.csv = match &self.s.csv_prefix {
            Some(p) => Some(
                CsvWriter::new(p, self.s.csv_full_history).map_err(|e| format!("--csv: {e}"))?,
            ),
            None => None,
        };
        {
            let mut st = self.state.status.write();
            st.state = RunState::Spawning;
            st.target_users = users;
            st.spawn_rate = spawn_rate;
            st.host = host.clone().unwrap_or_else(|| default_host(&self.scenario));
            st.started_at = Some(now_unix());
            st.run_time = run_time.map(|t| t.as_secs_f64());
        }
        let mut args = role_args();
        args.insert("host".into(), host.unwrap_or_default().into());
        self.hooks.fire("test_start", args).await;
        log::info!("Ramping to {users} users at a rate of {spawn_rate:.2} per second");
        runner.set_target(users as usize, spawn_rate);
        self.test = Some(Test { runner, deadline });
        self.ended_at = None;
        Ok(())
    }

    async fn tick(&mut self) {
        let Some(test) = &mut self.test else { return };
        if let Some(users) = test.runner.tick() {
            self.state.status.write().state = RunState::Running;
            let mut a = Map::new();
            a.insert("user_count".into(), Dynamic::from_int(users as i64));
            self.hooks.fire("spawning_complete", a).await;
        }
        let test = self.test.as_ref().expect("checked above");
        self.state.status.write().user_count = test.runner.user_count() as u64;
        if test.deadline.is_some_and(|d| Instant::now() >= d) {
            log::info!("--run-time limit reached, stopping the test");
            self.stop().await;
        } else if let Some(reason) = crate::script::context::take_stop_request() {
            log::info!("stop_test: {reason}; stopping the test");
            self.stop().await;
        }
    }

    async fn stop(&mut self) {
        let Some(mut test) = self.test.take() else {
            return;
        };
        self.state.status.write().state = RunState::Stopping;
        self.hooks.fire("test_stopping", Map::new()).await;
        test.runner
            .stop(self.s.stop_timeout, std::future::pending())
            .await;
        test.runner.shutdown().await;
        self.hooks.fire("test_stop", Map::new()).await;
        if let Some(d) = crate::script::context::take_shard() {
            self.state.stats.lock().merge(d);
        }
        {
            let mut st = self.state.status.write();
            st.state = RunState::Stopped;
            st.user_count = 0;
        }
        self.every_second();
        // The test is over: the last CSV write must include everything.
        if let Some(csv) = &mut self.csv {
            if let Err(e) = csv.write(&self.state.stats.lock(), 0, now_unix()) {
                log::error!("writing the final CSV files: {e}");
            }
        }
        self.write_html();
        self.ended_at = Some(Instant::now());
    }

    /// History point, SSE snapshot, CSV files.
    fn every_second(&mut self) {
        let now = now_unix();
        if self.window_started.elapsed() >= WINDOW / 2 {
            self.window_started = Instant::now();
            self.window[self.older].lock().reset(now);
            self.older = 1 - self.older;
        }
        let (p50, p95) = {
            let w = self.window[self.older].lock();
            (w.total().percentile(0.5), w.total().percentile(0.95))
        };
        let users = self.state.status.read().user_count;
        if self.test.is_some() {
            let st = self.state.stats.lock();
            let t = st.total();
            self.state.history.lock().push(HistoryPoint {
                time: now,
                user_count: users,
                current_rps: t.current_rps(now),
                current_fail_per_sec: t.current_fail_per_sec(now),
                response_time_percentile_50: p50,
                response_time_percentile_95: p95,
                total_requests: t.num_requests(),
            });
            if let Some(csv) = &mut self.csv {
                if let Err(e) = csv.write(&st, users, now) {
                    log::error!("writing CSV files: {e}");
                }
            }
        }
        let json = super::api::stats_requests_json(&self.state, now);
        let _ = self.snapshot.send(Arc::from(json.to_string()));
    }

    fn write_html(&self) {
        let Some(path) = self.s.html_path() else {
            return;
        };
        let meta = crate::report::html::ReportMeta {
            scenario: self.s.scenario.display().to_string(),
            host: self.state.status.read().host.clone(),
            start: self.state.status.read().started_at.unwrap_or_else(now_unix),
            end: now_unix(),
        };
        let html = crate::report::html::render(
            &self.state.stats.lock(),
            &self.state.history.lock(),
            &meta,
        );
        if let Err(e) = std::fs::write(&path, html) {
            log::error!("writing the HTML report {}: {e}", path.display());
        }
    }

    /// Re-read the scenario from disk. A compile error keeps the loaded one (and a running test).
    async fn reload(&mut self) -> Result<String, String> {
        let opts = LoadOptions {
            tags: self.s.tags.clone(),
            exclude_tags: self.s.exclude_tags.clone(),
            user_classes: self.s.user_classes.clone(),
        };
        match Scenario::load(&self.s.scenario, &opts) {
            Err(e) => {
                let msg = e.to_string();
                log::error!("reload failed, keeping the loaded scenario: {msg}");
                self.state.status.write().reload_error = Some(msg.clone());
                Err(msg)
            }
            Ok(sc) => {
                let sc = Arc::new(sc);
                let n = sc.classes.len();
                let http = HttpConfig {
                    insecure: self.s.insecure,
                    ..HttpConfig::default()
                };
                self.hooks = Hooks::new(sc.clone(), &http, self.s.host.as_deref(), self.s.seed);
                self.scenario = sc;
                {
                    let mut st = self.state.status.write();
                    let fresh = status_of(&self.scenario, self.s);
                    st.classes = fresh.classes;
                    st.tasks = fresh.tasks;
                    st.reload_error = None;
                }
                self.hooks.fire("init", role_args()).await;
                let when = if self.test.is_some() {
                    " (it applies to the next test)"
                } else {
                    ""
                };
                log::info!(
                    "reloaded {}: {n} user classes{when}",
                    self.s.scenario.display()
                );
                Ok(format!(
                    "Reloaded {}: {n} user class(es){when}",
                    self.s.scenario.display()
                ))
            }
        }
    }
}

fn default_host(sc: &Scenario) -> String {
    sc.classes
        .iter()
        .find_map(|c| c.host.clone())
        .unwrap_or_default()
}

fn status_of(sc: &Scenario, s: &Settings) -> Status {
    Status {
        state: RunState::Ready,
        user_count: 0,
        target_users: s.users,
        spawn_rate: s.spawn_rate,
        host: s.host.clone().unwrap_or_else(|| default_host(sc)),
        scenario_file: s.scenario.display().to_string(),
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
        started_at: None,
        run_time: s.run_time.map(|t| t.as_secs_f64()),
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
