//! One load test from start to stop, the same in headless and web mode: ramp (or re-target) the
//! users, fire the runner's events, end at the run time or on `stop_test()`, sample the charts'
//! history, keep the CSV files current, and at the end stop the users, write the final CSV and the
//! HTML report. It publishes its status (one writer: this file) through a watch channel; the
//! front ends (console, web) read it and add what they show.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rhai::{Dynamic, Map};
use tokio::sync::watch;

use super::driver::Signals;
use super::mailbox::Mailbox;
use super::status::{RunState, RunStatus};
use super::users::{self, Users, UsersFactory};
use super::{ClassUpdate, ClassUpdateError, Load, RunConfig};
use crate::coro::{StopLevel, StopSignal};
use crate::report::csv::CsvWriter;
use crate::runner::hooks::{role_args, Hooks};
use crate::runner::RunnerConfig;
use crate::script::context;
use crate::script::events::Builtin;
use crate::script::Scenario;
use crate::stats::{unix_now as now_unix, HistoryPoint, Stats};

/// Custom messages handled per tick at most, so a flood cannot starve the loop.
const MESSAGES_PER_TICK: usize = 100;

/// Distinct message types without a handler that are logged (once each).
const MAX_UNHANDLED_LOGGED: usize = 100;

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
    runner: Box<dyn Users>,
    deadline: Option<Instant>,
}

pub struct TestRun {
    cfg: RunConfig,
    scenario: Arc<Scenario>,
    users: UsersFactory,
    /// The scenario as read from its file: `scenario` may have classes changed since (POST /user).
    loaded: Arc<Scenario>,
    hooks: Hooks,
    pub stats: Arc<Mutex<Stats>>,
    pub history: Arc<Mutex<Vec<HistoryPoint>>>,
    test: Option<Active>,
    csv: Option<CsvWriter>,
    /// A report (CSV, HTML) could not be written at the end of a test: the exit code says so.
    report_lost: bool,
    /// Two overlapping windows behind the charts' current percentiles, reset alternately: the
    /// older one always holds the last 5–10 s.
    window: [Arc<Mutex<Stats>>; 2],
    older: usize,
    window_started: Instant,
    /// What happened since the last [`TestRun::take_interval`] (a worker's delta reports).
    interval: Option<Arc<Mutex<Stats>>>,
    status: watch::Sender<RunStatus>,
    /// Ctrl-C/SIGTERM, listened to from the start: one that comes while test_start's listeners
    /// run is seen by the driver once they return (see [`TestRun::take_signals`]).
    signals: Option<Signals>,
    /// Custom messages to and from other nodes (a master's workers); None on a local run.
    mailbox: Option<Box<dyn Mailbox>>,
    /// Message types that arrived without a handler, logged once each.
    unhandled: HashSet<String>,
}

impl TestRun {
    /// A test run whose users run on this process; fires `init`.
    pub async fn new(cfg: RunConfig, scenario: Arc<Scenario>) -> TestRun {
        Self::with_users(cfg, scenario, users::local()).await
    }

    /// A test run whose users `users` makes for each test (a master's remote users); sets up
    /// the runner's script context (hooks) for `scenario` and fires `init`.
    pub async fn with_users(
        cfg: RunConfig,
        scenario: Arc<Scenario>,
        users: UsersFactory,
    ) -> TestRun {
        // Before `init`: a Ctrl-C during its listeners is not lost.
        let signals = Signals::new().ok();
        let hooks = Hooks::new(
            scenario.clone(),
            &cfg.runner.http,
            cfg.runner.host.as_deref(),
            cfg.runner.seed,
            cfg.stop_timeout,
        );
        hooks
            .fire(Builtin::Init, role_args(&scenario.control))
            .await;
        let fresh = || Arc::new(Mutex::new(Stats::new(now_unix())));
        let window = || Arc::new(Mutex::new(Stats::totals_only(now_unix())));
        let (status, _) = watch::channel(RunStatus {
            state: RunState::Ready,
            user_count: 0,
            user_classes_count: Default::default(),
            target_users: cfg.load.users,
            spawn_rate: cfg.load.spawn_rate,
            host: cfg
                .load
                .host
                .clone()
                .unwrap_or_else(|| default_host(&scenario)),
            started_at: None,
            run_time: cfg.load.run_time.map(|t| t.as_secs_f64()),
        });
        TestRun {
            status,
            users,
            cfg,
            loaded: scenario.clone(),
            scenario,
            hooks,
            stats: fresh(),
            history: Arc::new(Mutex::new(Vec::new())),
            test: None,
            csv: None,
            report_lost: false,
            window: [window(), window()],
            older: 0,
            window_started: Instant::now(),
            interval: None,
            signals,
            mailbox: None,
            unhandled: HashSet::new(),
        }
    }

    /// Exchange the scripts' custom messages through `mailbox` (see [`TestRun::exchange_messages`]).
    pub fn set_mailbox(&mut self, mailbox: Box<dyn Mailbox>) {
        self.mailbox = Some(mailbox);
    }

    /// Ship what the scripts sent and run their `on_message` handlers for what arrived, in the
    /// runner's listener context, between tests too. Without a mailbox, nothing.
    pub async fn exchange_messages(&mut self) {
        let Some(mailbox) = self.mailbox.as_mut() else {
            return;
        };
        for m in self.scenario.control.take_outbox() {
            mailbox.send(m);
        }
        for m in mailbox.receive(MESSAGES_PER_TICK) {
            if !self.deliver_message(&m.kind, m.data, &m.sender).await
                && self.unhandled.len() < MAX_UNHANDLED_LOGGED
                && self.unhandled.insert(m.kind.clone())
            {
                log::warn!(
                    "Unknown message type received from {}: {} (the scenario has no on_message(\"{}\", ..); further ones are not logged)",
                    m.sender, m.kind, m.kind
                );
            }
        }
    }

    /// The signals listened to since this test run was made (once; the driver's).
    pub(crate) fn take_signals(&mut self) -> Option<Signals> {
        self.signals.take()
    }

    /// The run's status as it changes (state, users, host, times).
    pub fn status(&self) -> watch::Receiver<RunStatus> {
        self.status.subscribe()
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
            self.cfg.stop_timeout,
        );
        self.loaded = scenario.clone();
        self.scenario = scenario;
        self.hooks
            .fire(Builtin::Init, role_args(&self.scenario.control))
            .await;
    }

    pub fn is_running(&self) -> bool {
        self.test.is_some()
    }

    pub fn user_count(&self) -> u64 {
        self.test
            .as_ref()
            .map_or(0, |t| t.runner.user_count() as u64)
    }

    /// Re-read the scenario from disk for the next test (a running one keeps its own). A compile
    /// error keeps the loaded scenario and is returned as `file:line:col: message`.
    pub async fn reload(&mut self) -> Result<String, String> {
        let file = self.cfg.scenario_display();
        let sc = Scenario::load_files(&self.cfg.scenario_files, &self.cfg.scenario_options)
            .map_err(|e| {
                let msg = e.to_string();
                log::error!("reload failed, keeping the loaded scenario: {msg}");
                msg
            })?;
        let n = sc.classes.len();
        self.set_scenario(Arc::new(sc)).await;
        let when = if self.is_running() {
            " (it applies to the next test)"
        } else {
            ""
        };
        log::info!("reloaded {file}: {n} user classes{when}");
        Ok(format!("Reloaded {file}: {n} user class(es){when}"))
    }

    /// Change one user class for the next test (`POST /user`); refused while a test runs.
    pub fn update_user_class(&mut self, update: &ClassUpdate) -> Result<(), ClassUpdateError> {
        if self.is_running() {
            return Err(ClassUpdateError::Running);
        }
        self.scenario = Arc::new(update.apply(&self.scenario, &self.loaded)?);
        Ok(())
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
                self.hooks.set_stop_at(deadline);
            }
            self.status.send_modify(|st| {
                st.state = RunState::Spawning;
                st.target_users = users;
                st.spawn_rate = spawn_rate;
                st.run_time = run_time.map(|t| t.as_secs_f64());
            });
            return Ok(());
        }
        let host = host
            .filter(|h| !h.trim().is_empty())
            .or_else(|| self.cfg.runner.host.clone());
        let cfg = RunnerConfig {
            host: host.clone(),
            user_classes,
            stats: Some(self.stats.clone()),
            windows: self.window.iter().chain(&self.interval).cloned().collect(),
            ..self.cfg.runner.clone()
        };
        let mut runner = (self.users)(self.scenario.clone(), cfg)?;
        self.csv = match &self.cfg.outputs.csv_prefix {
            Some(p) => Some(
                CsvWriter::new(p, self.cfg.outputs.csv_full_history)
                    .map_err(|e| format!("--csv {}: {e}", p.display()))?,
            ),
            None => None,
        };
        // A new test starts from no rows (Locust's clear_all), unlike "Reset stats".
        let now = now_unix();
        self.stats.lock().clear(now);
        for w in self.window.iter().chain(&self.interval) {
            w.lock().clear(now);
        }
        self.history.lock().clear();
        let shown_host = host.clone().unwrap_or_else(|| default_host(&self.scenario));
        self.status.send_modify(|st| {
            st.state = RunState::Spawning;
            st.user_count = 0;
            st.target_users = users;
            st.spawn_rate = spawn_rate;
            st.host = shown_host;
            st.started_at = Some(now);
            st.run_time = run_time.map(|t| t.as_secs_f64());
        });
        let mut args = role_args(&self.scenario.control);
        self.hooks.set_host(&self.cfg.runner.http, host.as_deref());
        args.insert("host".into(), host.unwrap_or_default().into());
        // The run time counts from here: a test_start listener still running then is cut short.
        self.hooks.new_test();
        self.hooks.set_stop_at(deadline);
        self.hooks.fire(Builtin::TestStart, args).await;
        log::info!("Ramping to {users} users at a rate of {spawn_rate:.2} per second");
        runner.set_target(users as usize, spawn_rate);
        self.test = Some(Active { runner, deadline });
        Ok(())
    }

    /// Spawn/stop the users due by now and merge stats; says when the ramp completed (after its
    /// spawning_complete listeners ran) or the test should end.
    pub async fn tick(&mut self) -> Option<Tick> {
        let test = self.test.as_mut()?;
        let completed = test.runner.tick();
        let users = test.runner.user_count() as u64;
        let runner = &test.runner;
        self.status.send_if_modified(|st| {
            if st.user_count == users && !st.user_classes_count.is_empty() {
                return false;
            }
            st.user_count = users;
            st.user_classes_count = runner
                .class_counts()
                .into_iter()
                .map(|(k, v)| (k, v as u64))
                .collect();
            true
        });
        if let Some(users) = completed {
            let mut a = Map::new();
            a.insert("user_count".into(), Dynamic::from_int(users as i64));
            self.hooks.fire(Builtin::SpawningComplete, a).await;
            if self.cfg.reset_stats_after_ramp {
                // As Locust: after the listeners, without firing reset_stats; what the workers
                // still hold from the ramp is shipped first, so it is not counted either.
                if let Some(test) = self.test.as_mut() {
                    test.runner.flush().await;
                }
                log::info!("Resetting stats");
                self.clear_stats();
            }
            self.status.send_modify(|st| st.state = RunState::Running);
            return Some(Tick::SpawningComplete(users));
        }
        if test.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Tick::End("--run-time limit reached".into()));
        }
        self.scenario
            .control
            .take_stop_request()
            .map(|reason| Tick::End(format!("stop_test: {reason}")))
    }

    /// Once a second: rotate the percentile window, add a history point, rewrite the CSV files.
    pub fn every_second(&mut self) {
        let now = now_unix();
        if self.window_started.elapsed() >= WINDOW / 2 {
            self.window_started = Instant::now();
            self.window[self.older].lock().clear(now);
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

    /// Stop the users (honouring --stop-timeout; `hurry` cuts it short and also cancels
    /// listeners still running), fire test_stopping and test_stop, then write the final CSV files
    /// and the HTML report.
    pub async fn stop(&mut self, hurry: impl Future<Output = ()>) {
        let Some(mut test) = self.test.take() else {
            return;
        };
        self.status.send_modify(|st| st.state = RunState::Stopping);
        self.hooks.set_stop_at(None);
        let hurried = StopSignal::new();
        let stop_timeout = self.cfg.stop_timeout;
        let hooks = &self.hooks;
        let stopping = async {
            hooks.fire(Builtin::TestStopping, Map::new()).await;
            test.runner
                .stop(stop_timeout, Box::pin(hurried.reached(StopLevel::Abort)))
                .await;
            test.runner.shutdown().await;
            hooks.fire(Builtin::TestStop, Map::new()).await;
        };
        tokio::pin!(stopping);
        tokio::select! {
            _ = &mut stopping => {}
            _ = hurry => {
                hurried.raise(StopLevel::Abort);
                hooks.abort();
                // Users and listeners are cancelled now: what is left ends at once, and a
                // cancelled listener is still recorded.
                stopping.await;
            }
        }
        // What the runner's own listeners recorded on this thread.
        if let Some(d) = context::take_shard() {
            if let Some(i) = &self.interval {
                i.lock().merge(d.clone());
            }
            self.stats.lock().merge(d);
        }
        let (now, st) = (now_unix(), self.stats.lock());
        if let Some(csv) = &mut self.csv {
            if let Err(e) = csv.write(&st, 0, now) {
                log::error!("writing the final CSV files: {e}");
                self.report_lost = true;
            }
        }
        if let Some(path) = &self.cfg.outputs.html {
            let meta = crate::report::html::ReportMeta {
                scenario: self.cfg.scenario_display(),
                host: self.status.borrow().host.clone(),
                start: self.status.borrow().started_at.unwrap_or(now),
                end: now,
            };
            if let Err(e) = crate::report::output::create_parent(path).and_then(|()| {
                std::fs::write(
                    path,
                    crate::report::html::render(&st, &self.history.lock(), &meta),
                )
            }) {
                log::error!("writing the HTML report {}: {e}", path.display());
                self.report_lost = true;
            }
        }
        drop(st);
        self.status.send_modify(|s| {
            s.state = RunState::Stopped;
            s.user_count = 0;
            s.user_classes_count.values_mut().for_each(|n| *n = 0);
        });
    }

    /// From the next test on, also keep the stats of each interval between two
    /// [`TestRun::take_interval`] calls (what a worker reports to its master).
    pub fn keep_intervals(&mut self) {
        self.interval
            .get_or_insert_with(|| Arc::new(Mutex::new(Stats::new(now_unix()))));
    }

    /// What was recorded since the previous call (or the test's start), leaving the interval
    /// empty; None unless [`TestRun::keep_intervals`] was called.
    pub fn take_interval(&self) -> Option<Stats> {
        let i = self.interval.as_ref()?;
        let fresh = Stats::new(now_unix());
        Some(std::mem::replace(&mut *i.lock(), fresh))
    }

    /// How long users may finish their task when the test stops (a master's `stop_timeout`).
    pub fn set_stop_timeout(&mut self, stop_timeout: Duration) {
        self.cfg.stop_timeout = stop_timeout;
        self.hooks.set_stop_timeout(stop_timeout);
    }

    /// Users running now per class (empty without a test).
    pub fn class_counts(&self) -> BTreeMap<String, usize> {
        self.test
            .as_ref()
            .map(|t| t.runner.class_counts())
            .unwrap_or_default()
    }

    /// A worker's `spawn`: reach these absolute per-class counts at once (the master ramps). The
    /// first spawn of a test starts it on `host` (stats reset, test_start fired); later ones only
    /// change the counts. Returns the users per class now.
    pub async fn spawn_counts(
        &mut self,
        counts: &BTreeMap<String, usize>,
        host: Option<String>,
    ) -> Result<BTreeMap<String, usize>, String> {
        let total: usize = counts.values().sum();
        if self.test.is_none() {
            let load = Load {
                users: total as u64,
                spawn_rate: total.max(1) as f64,
                host,
                run_time: None,
                user_classes: Vec::new(),
            };
            self.start(load).await?;
        }
        let Some(test) = &mut self.test else {
            return Ok(BTreeMap::new());
        };
        test.runner.set_class_counts(counts)?;
        let now = test.runner.class_counts();
        self.status.send_modify(|st| {
            st.state = RunState::Running;
            st.target_users = now.values().sum::<usize>() as u64;
        });
        Ok(now)
    }

    /// The master's `spawning_complete` on a worker: fire the local spawning_complete event.
    pub async fn spawning_completed(&self, user_count: u64) {
        let mut a = Map::new();
        a.insert("user_count".into(), Dynamic::from_int(user_count as i64));
        self.hooks.fire(Builtin::SpawningComplete, a).await;
    }

    /// A custom message from node `sender`: run the script's `on_message(kind, ..)` handlers in
    /// the runner's listener context (they may wait and use `client()`). False when the script
    /// has none.
    pub async fn deliver_message(&self, kind: &str, data: Dynamic, sender: &str) -> bool {
        if !self.scenario.handles_message(kind) {
            return false;
        }
        self.hooks.fire_message(kind, data, sender).await;
        true
    }

    /// Reset the statistics (Locust's "Reset stats": the rows stay, zeroed) and fire reset_stats.
    pub async fn reset_stats(&mut self) {
        self.clear_stats();
        self.hooks.fire(Builtin::ResetStats, Map::new()).await;
    }

    /// Zero the statistics and the charts' percentile windows.
    fn clear_stats(&self) {
        let now = now_unix();
        self.stats.lock().reset(now);
        // The windows only feed the charts' current percentiles: no rows to keep.
        for w in &self.window {
            w.lock().clear(now);
        }
    }

    /// The exit code the statistics call for; 2 when a report could not be written, whatever
    /// the statistics say.
    pub fn exit_code(&self) -> i32 {
        if self.report_lost {
            return EXIT_REPORT_LOST;
        }
        let st = self.stats.lock();
        if st.has_failures() || st.has_exceptions() {
            self.cfg.exit_code_on_error
        } else {
            0
        }
    }

    /// Fire `quitting` with the exit code; the last thing before the process exits. Returns the
    /// code to exit with: `--exit-code-on-error` instead of 0 when its listeners were cut short.
    pub async fn quit(self, code: i32) -> i32 {
        let mut q = Map::new();
        q.insert("exit_code".into(), Dynamic::from_int(code as i64));
        let cut = self.hooks.fire(Builtin::Quitting, q).await;
        if cut && code == 0 {
            self.cfg.exit_code_on_error
        } else {
            code
        }
    }
}

/// Exit code of a run whose CSV or HTML report could not be written at the end (as a usage
/// error: the paths were checked before the start, so something changed under the run).
pub const EXIT_REPORT_LOST: i32 = 2;

/// The first host a user class declares (shown when neither -H nor the form gives one).
pub fn default_host(sc: &Scenario) -> String {
    sc.classes
        .iter()
        .find_map(|c| c.host.clone())
        .unwrap_or_default()
}
