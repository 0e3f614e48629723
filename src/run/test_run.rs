//! One load test from start to stop, the same in headless and web mode: ramp (or re-target) the
//! users, fire the runner's events, end at the run time or on `stop_test()`, sample the charts'
//! history, keep the CSV files current, and at the end stop the users, write the final CSV and the
//! HTML report. Headless mode adds the console tables; web mode adds commands, status and SSE.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rhai::{Dynamic, Map};

use super::{Load, RunConfig};
use crate::report::csv::CsvWriter;
use crate::runner::hooks::{role_args, Hooks};
use crate::runner::{LocalRunner, RunnerConfig};
use crate::script::context::{self, Role};
use crate::script::Scenario;
use crate::stats::{unix_now as now_unix, HistoryPoint, Stats};

/// How far back "current" chart percentiles look (Locust uses about 10 s).
const WINDOW: Duration = Duration::from_secs(10);

/// Why a test should end now.
pub enum Tick {
    /// The ramp reached its target with this many users (spawning_complete fired).
    SpawningComplete(usize),
    /// The run time is up, or a script called stop_test(): stop the test.
    End(String),
}

struct Active {
    runner: LocalRunner,
    deadline: Option<Instant>,
}

pub struct TestRun {
    cfg: RunConfig,
    scenario: Arc<Scenario>,
    hooks: Hooks,
    pub stats: Arc<Mutex<Stats>>,
    pub history: Arc<Mutex<Vec<HistoryPoint>>>,
    test: Option<Active>,
    csv: Option<CsvWriter>,
    /// Two overlapping windows behind the charts' current percentiles, reset alternately: the
    /// older one always holds the last 5–10 s.
    window: [Arc<Mutex<Stats>>; 2],
    older: usize,
    window_started: Instant,
    host: String,
    started_at: f64,
}

impl TestRun {
    /// Set up the runner's script context (role, hooks) for `scenario` and fire `init`.
    pub async fn new(cfg: RunConfig, scenario: Arc<Scenario>) -> TestRun {
        context::set_role(Role {
            kind: "local",
            worker_index: 0,
            worker_count: 0,
        });
        let hooks = Hooks::new(
            scenario.clone(),
            &cfg.runner.http,
            cfg.runner.host.as_deref(),
            cfg.runner.seed,
        );
        hooks.fire("init", role_args()).await;
        let fresh = || Arc::new(Mutex::new(Stats::new(now_unix())));
        TestRun {
            host: cfg
                .runner
                .host
                .clone()
                .unwrap_or_else(|| default_host(&scenario)),
            cfg,
            scenario,
            hooks,
            stats: fresh(),
            history: Arc::new(Mutex::new(Vec::new())),
            test: None,
            csv: None,
            window: [fresh(), fresh()],
            older: 0,
            window_started: Instant::now(),
            started_at: now_unix(),
        }
    }

    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    /// Use a newly loaded scenario from the next test on (`init` fires for it).
    pub async fn set_scenario(&mut self, scenario: Arc<Scenario>) {
        self.hooks = Hooks::new(
            scenario.clone(),
            &self.cfg.runner.http,
            self.cfg.runner.host.as_deref(),
            self.cfg.runner.seed,
        );
        self.scenario = scenario;
        self.hooks.fire("init", role_args()).await;
    }

    pub fn is_running(&self) -> bool {
        self.test.is_some()
    }

    pub fn user_count(&self) -> u64 {
        self.test
            .as_ref()
            .map_or(0, |t| t.runner.user_count() as u64)
    }

    /// The host the users hit, and when the current or last test started (unix seconds).
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn started_at(&self) -> f64 {
        self.started_at
    }

    /// Start a test, or re-target the running one (its host and classes stay; the load changes).
    pub async fn start(&mut self, load: Load) -> Result<(), String> {
        let Load {
            users,
            spawn_rate,
            host,
            run_time,
            user_classes,
        } = load;
        let deadline = run_time.map(|t| Instant::now() + t);
        if let Some(test) = &mut self.test {
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
            return Ok(());
        }
        let host = host
            .filter(|h| !h.trim().is_empty())
            .or_else(|| self.cfg.runner.host.clone());
        let cfg = RunnerConfig {
            host: host.clone(),
            user_classes,
            stats: Some(self.stats.clone()),
            windows: self.window.to_vec(),
            ..self.cfg.runner.clone()
        };
        let mut runner = LocalRunner::new(self.scenario.clone(), cfg).map_err(|e| e.to_string())?;
        self.csv = match &self.cfg.outputs.csv_prefix {
            Some(p) => Some(
                CsvWriter::new(p, self.cfg.outputs.csv_full_history)
                    .map_err(|e| format!("--csv {}: {e}", p.display()))?,
            ),
            None => None,
        };
        let now = now_unix();
        self.stats.lock().reset(now);
        for w in &self.window {
            w.lock().reset(now);
        }
        self.history.lock().clear();
        self.host = host.clone().unwrap_or_else(|| default_host(&self.scenario));
        self.started_at = now;
        let mut args = role_args();
        args.insert("host".into(), host.unwrap_or_default().into());
        self.hooks.fire("test_start", args).await;
        log::info!("Ramping to {users} users at a rate of {spawn_rate:.2} per second");
        runner.set_target(users as usize, spawn_rate);
        self.test = Some(Active { runner, deadline });
        Ok(())
    }

    /// Spawn/stop the users due by now and merge stats; says when the ramp completed (after its
    /// spawning_complete listeners ran) or the test should end.
    pub async fn tick(&mut self) -> Option<Tick> {
        let test = self.test.as_mut()?;
        if let Some(users) = test.runner.tick() {
            let mut a = Map::new();
            a.insert("user_count".into(), Dynamic::from_int(users as i64));
            self.hooks.fire("spawning_complete", a).await;
            if self.cfg.reset_stats_after_ramp {
                // As Locust: after the listeners, without firing reset_stats; what the workers
                // still hold from the ramp is shipped first, so it is not counted either.
                test.runner.flush().await;
                log::info!("Resetting stats");
                self.clear_stats();
            }
            return Some(Tick::SpawningComplete(users));
        }
        if test.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Tick::End("--run-time limit reached".into()));
        }
        context::take_stop_request().map(|reason| Tick::End(format!("stop_test: {reason}")))
    }

    /// Once a second: rotate the percentile window, add a history point, rewrite the CSV files.
    pub fn every_second(&mut self) {
        let now = now_unix();
        if self.window_started.elapsed() >= WINDOW / 2 {
            self.window_started = Instant::now();
            self.window[self.older].lock().reset(now);
            self.older = 1 - self.older;
        }
        let Some(test) = &self.test else { return };
        let users = test.runner.user_count() as u64;
        let (p50, p95) = {
            let w = self.window[self.older].lock();
            (w.total().percentile(0.5), w.total().percentile(0.95))
        };
        let st = self.stats.lock();
        let t = st.total();
        self.history.lock().push(HistoryPoint {
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

    /// Stop the users (honouring --stop-timeout; `hurry` cuts it short), fire test_stopping and
    /// test_stop, then write the final CSV files and the HTML report.
    pub async fn stop(&mut self, hurry: impl Future<Output = ()>) {
        let Some(mut test) = self.test.take() else {
            return;
        };
        self.hooks.fire("test_stopping", Map::new()).await;
        test.runner.stop(self.cfg.stop_timeout, hurry).await;
        test.runner.shutdown().await;
        self.hooks.fire("test_stop", Map::new()).await;
        // What the runner's own listeners recorded on this thread.
        if let Some(d) = context::take_shard() {
            self.stats.lock().merge(d);
        }
        let (now, st) = (now_unix(), self.stats.lock());
        if let Some(csv) = &mut self.csv {
            if let Err(e) = csv.write(&st, 0, now) {
                log::error!("writing the final CSV files: {e}");
            }
        }
        if let Some(path) = &self.cfg.outputs.html {
            let meta = crate::report::html::ReportMeta {
                scenario: self.cfg.scenario_display(),
                host: self.host.clone(),
                start: self.started_at,
                end: now,
            };
            if let Err(e) = std::fs::write(
                path,
                crate::report::html::render(&st, &self.history.lock(), &meta),
            ) {
                log::error!("writing the HTML report {}: {e}", path.display());
            }
        }
    }

    /// Reset the statistics (Locust's "Reset stats") and fire reset_stats.
    pub async fn reset_stats(&mut self) {
        self.clear_stats();
        self.hooks.fire("reset_stats", Map::new()).await;
    }

    /// Zero the statistics and the charts' percentile windows.
    fn clear_stats(&self) {
        let now = now_unix();
        self.stats.lock().reset(now);
        for w in &self.window {
            w.lock().reset(now);
        }
    }

    /// The exit code the statistics call for.
    pub fn exit_code(&self) -> i32 {
        let st = self.stats.lock();
        if st.has_failures() || st.has_exceptions() {
            self.cfg.exit_code_on_error
        } else {
            0
        }
    }

    /// Fire `quitting` with the exit code; the last thing before the process exits.
    pub async fn quit(self, code: i32) {
        let mut q = Map::new();
        q.insert("exit_code".into(), Dynamic::from_int(code as i64));
        self.hooks.fire("quitting", q).await;
    }
}

/// The first host a user class declares (shown when neither -H nor the form gives one).
pub fn default_host(sc: &Scenario) -> String {
    sc.classes
        .iter()
        .find_map(|c| c.host.clone())
        .unwrap_or_default()
}
