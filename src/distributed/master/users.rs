//! The users of a test on the master's workers: [`RemoteUsers`] implements [`Users`] for the
//! test run. It ramps like Locust 2.x's master: each dispatch iteration adds (or removes)
//! `max(1, floor(rate))` users, the next one follows `that / rate` seconds later, and after each
//! one every worker gets `spawn` with its ABSOLUTE per-class counts. The ramp is complete once
//! the workers report the target (or 1 s after the last iteration, Locust's default wait), when
//! the workers also get `spawning_complete`. Stopping sends `stop` and waits for each worker's
//! `client_stopped` and for the report that carries its last samples.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmpv::Value;

use super::{send_to, Master, MasterError, Sink, State, StopProgress};
use crate::distributed::dispatch::{DispatchClass, Dispatcher};
use crate::distributed::payload::{Payload, Spawn, SpawningComplete, WorkerState};
use crate::distributed::protocol::timing::WORKER_REPORT_INTERVAL;
use crate::distributed::transport::MasterSender;
use crate::run::users::LocalBoxFuture;
use crate::run::{Users, UsersFactory};
use crate::runner::RunnerConfig;
use crate::script::Scenario;
use crate::stats::{unix_now, Stats};

/// After the last dispatch iteration, how long the ramp waits for the workers to report the
/// target (Locust's `LOCUST_WAIT_FOR_WORKERS_REPORT_AFTER_RAMP_UP` default).
const REPORT_WAIT_AFTER_RAMP: Duration = Duration::from_secs(1);

/// A stop waits at most `stop_timeout` + one report interval (the last samples) + this.
const STOP_SLACK: Duration = Duration::from_secs(2);

/// A ramp in progress (Locust's dispatch cycle).
struct Ramp {
    started: Instant,
    per_iteration: usize,
    wait: Duration,
    iterations: usize,
    /// When the last iteration was sent.
    settled_at: Option<Instant>,
}

/// The master's view of the test in progress.
pub(super) struct TestState {
    pub(super) generation: u64,
    pub(super) dispatcher: Dispatcher,
    host: Option<String>,
    stop_timeout: Option<f64>,
    ramp: Option<Ramp>,
    pub(super) stopping: bool,
}

impl TestState {
    /// A ramp whose iterations are not all sent yet.
    pub(super) fn is_ramping(&self) -> bool {
        self.ramp.as_ref().is_some_and(|r| r.settled_at.is_none())
    }

    /// Every worker of the dispatch gets its counts (Locust sends to all of them each
    /// iteration; a worker whose counts did not change does nothing).
    pub(super) fn send_spawns(&self, sender: &MasterSender, last_ts: &mut f64) {
        for id in self.dispatcher.workers() {
            self.send_spawn_to(sender, id, last_ts);
        }
    }

    pub(super) fn send_spawn_to(&self, sender: &MasterSender, id: &str, last_ts: &mut f64) {
        let Some(counts) = self.dispatcher.counts(id) else {
            return;
        };
        // Workers drop a spawn whose timestamp is not newer than the previous one.
        let timestamp = unix_now().max(*last_ts + 1e-6);
        *last_ts = timestamp;
        let spawn = Spawn {
            timestamp,
            user_classes_count: counts,
            host: self.host.clone(),
            stop_timeout: self.stop_timeout,
            parsed_options: Value::Map(Vec::new()),
        };
        send_to(sender, id, &Payload::Spawn(spawn));
    }

    /// Runs the dispatch iterations due by now and sends the result.
    fn advance(&mut self, sender: &MasterSender, last_ts: &mut f64) {
        let Some(ramp) = self.ramp.as_mut() else {
            return;
        };
        if ramp.settled_at.is_some() || self.dispatcher.workers().is_empty() {
            return;
        }
        let due = if ramp.wait.is_zero() {
            usize::MAX
        } else {
            (ramp.started.elapsed().as_secs_f64() / ramp.wait.as_secs_f64()) as usize + 1
        };
        let mut changed = false;
        while ramp.iterations < due && (ramp.iterations == 0 || !self.dispatcher.is_done()) {
            self.dispatcher.step(ramp.per_iteration);
            ramp.iterations += 1;
            changed = true;
        }
        if self.dispatcher.is_done() {
            ramp.settled_at = Some(Instant::now());
        }
        if changed {
            self.send_spawns(sender, last_ts);
        }
    }
}

impl State {
    /// Users per class the active workers report, every class of `classes` included.
    fn reported_classes(&self, classes: &[String]) -> BTreeMap<String, usize> {
        let mut m: BTreeMap<String, usize> = classes.iter().map(|c| (c.clone(), 0)).collect();
        for w in self.workers.values().filter(|w| w.is_active()) {
            for (class, n) in &w.info.user_classes_count {
                *m.entry(class.clone()).or_default() += *n as usize;
            }
        }
        m
    }
}

impl Master {
    /// Makes the users of each test on this master's workers; `stop_timeout` is what `spawn`
    /// tells the workers (`--stop-timeout`).
    pub fn users_factory(self: &Arc<Self>, stop_timeout: Duration) -> UsersFactory {
        let master = self.clone();
        Rc::new(move |scenario: Arc<Scenario>, cfg: RunnerConfig| {
            master
                .begin_test(&scenario, cfg, stop_timeout)
                .map(|u| Box::new(u) as Box<dyn Users>)
                .map_err(|e| e.to_string())
        })
    }

    fn begin_test(
        self: &Arc<Self>,
        scenario: &Scenario,
        cfg: RunnerConfig,
        stop_timeout: Duration,
    ) -> Result<RemoteUsers, MasterError> {
        if let Some(bad) = cfg
            .user_classes
            .iter()
            .find(|w| !scenario.classes.iter().any(|c| &c.name == *w))
        {
            return Err(MasterError::UnknownClass(bad.clone()));
        }
        let picked =
            |name: &str| cfg.user_classes.is_empty() || cfg.user_classes.iter().any(|c| c == name);
        let classes: Vec<DispatchClass> = scenario
            .classes
            .iter()
            .map(|c| DispatchClass {
                name: c.name.clone(),
                weight: if picked(&c.name) { c.weight } else { 0.0 },
                fixed_count: if picked(&c.name) { c.fixed_count } else { 0 },
            })
            .collect();
        let names = classes.iter().map(|c| c.name.clone()).collect();
        let mut st = self.state.lock();
        st.control = Some(scenario.control.clone());
        st.sync_role();
        let active = st.active_ids();
        if active.is_empty() {
            return Err(MasterError::NoWorkers);
        }
        st.generation += 1;
        st.all_lost = false;
        st.sink = Some(Sink {
            stats: cfg
                .stats
                .clone()
                .unwrap_or_else(|| Arc::new(Mutex::new(Stats::new(unix_now())))),
            windows: cfg.windows.clone(),
        });
        st.test = Some(TestState {
            generation: st.generation,
            dispatcher: Dispatcher::new(&active, classes),
            host: cfg.host.clone(),
            stop_timeout: Some(stop_timeout.as_secs_f64()),
            ramp: None,
            stopping: false,
        });
        for w in st.workers.values_mut() {
            w.stop = None;
        }
        Ok(RemoteUsers {
            master: self.clone(),
            generation: st.generation,
            classes: names,
        })
    }

    fn set_target(&self, generation: u64, users: usize, rate: f64) {
        let mut st = self.state.lock();
        let active = st.active_ids();
        let State {
            test,
            last_spawn_ts,
            ..
        } = &mut *st;
        let Some(test) = test
            .as_mut()
            .filter(|t| t.generation == generation && !t.stopping)
        else {
            return;
        };
        if active.is_empty() {
            log::warn!("You can't start a distributed test before at least one worker processes has connected");
            return;
        }
        // Workers that joined since the last dispatch (without rebalancing) get users now.
        let mut current: Vec<&String> = test.dispatcher.workers().iter().collect();
        current.sort();
        if current != active.iter().collect::<Vec<_>>() {
            test.dispatcher.set_workers(&active);
        }
        let n = active.len();
        log::info!(
            "Sending spawn jobs of {users} users at {rate:.2} spawn rate to {n} ready workers"
        );
        if rate / n as f64 > 100.0 {
            log::warn!("Your selected spawn rate is very high (>100/worker), and this is known to sometimes cause issues. Do you really need to ramp up that fast?");
        }
        // A rate that is not a positive number spawns everything at once.
        let (per_iteration, wait) = if rate.is_finite() && rate > 0.0 {
            let per = (rate.floor() as usize).max(1);
            (per, Duration::from_secs_f64(per as f64 / rate))
        } else {
            (usize::MAX, Duration::ZERO)
        };
        test.dispatcher.set_target(users);
        test.ramp = Some(Ramp {
            started: Instant::now(),
            per_iteration,
            wait,
            iterations: 0,
            settled_at: None,
        });
        test.advance(&self.sender, last_spawn_ts);
    }

    fn tick(&self, generation: u64, classes: &[String]) -> Option<usize> {
        let mut st = self.state.lock();
        let reported = st.reported_users();
        let active = st.active_ids();
        let shown = st.reported_classes(classes);
        let State {
            test,
            last_spawn_ts,
            ..
        } = &mut *st;
        let test = test
            .as_mut()
            .filter(|t| t.generation == generation && !t.stopping)?;
        test.advance(&self.sender, last_spawn_ts);
        let settled = test.ramp.as_ref()?.settled_at?;
        let target = test.dispatcher.current();
        let all_reported = reported == target as u64;
        if !all_reported && settled.elapsed() < REPORT_WAIT_AFTER_RAMP {
            return None;
        }
        test.ramp = None;
        let complete = Payload::SpawningComplete(SpawningComplete {
            user_classes_count: None,
            user_count: target as u64,
        });
        for id in &active {
            send_to(&self.sender, id, &complete);
        }
        let counts: Vec<String> = shown.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        let prefix = if all_reported {
            "All users spawned"
        } else {
            "Spawning is complete and report waittime is expired, but not all reports received from workers"
        };
        log::info!("{prefix}: {{{}}} ({target} total users)", counts.join(", "));
        Some(target)
    }

    /// Sends `stop` to every worker not missing; how many it went to.
    fn begin_stop(&self, generation: u64) -> usize {
        let mut st = self.state.lock();
        match st.test.as_mut().filter(|t| t.generation == generation) {
            Some(test) => {
                test.stopping = true;
                test.ramp = None;
            }
            None => return 0,
        }
        let mut sent = 0;
        for (id, w) in st.workers.iter_mut() {
            if w.info.state != WorkerState::Missing && send_to(&self.sender, id, &Payload::Stop) {
                w.stop = Some(StopProgress::default());
                sent += 1;
            }
        }
        sent
    }

    /// Workers told to stop that have not confirmed it and sent their last samples yet.
    fn stop_pending(&self) -> usize {
        let st = self.state.lock();
        st.workers
            .values()
            .filter(|w| w.info.state != WorkerState::Missing)
            .filter(|w| w.stop.is_some_and(|p| !(p.stopped && p.idle_report)))
            .count()
    }

    fn end_test(&self, generation: u64) {
        let mut st = self.state.lock();
        if st.test.as_ref().is_some_and(|t| t.generation == generation) {
            st.test = None;
        }
        for w in st.workers.values_mut() {
            w.stop = None;
        }
    }
}

/// The users of one test, run by the master's workers.
pub struct RemoteUsers {
    master: Arc<Master>,
    generation: u64,
    classes: Vec<String>,
}

impl Users for RemoteUsers {
    fn set_target(&mut self, users: usize, rate: f64) {
        self.master.set_target(self.generation, users, rate);
    }

    fn tick(&mut self) -> Option<usize> {
        self.master.tick(self.generation, &self.classes)
    }

    fn user_count(&self) -> usize {
        self.master.state.lock().reported_users() as usize
    }

    fn class_counts(&self) -> BTreeMap<String, usize> {
        self.master.state.lock().reported_classes(&self.classes)
    }

    fn stop<'a>(
        &'a mut self,
        stop_timeout: Duration,
        mut hurry: LocalBoxFuture<'a, ()>,
    ) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            let sent = self.master.begin_stop(self.generation);
            let deadline = Instant::now() + stop_timeout + WORKER_REPORT_INTERVAL + STOP_SLACK;
            // Bounded by the deadline (and cut short by a second Ctrl-C).
            let mut pending = if sent > 0 {
                self.master.stop_pending()
            } else {
                0
            };
            while pending > 0 {
                if Instant::now() >= deadline {
                    log::error!(
                        "Timeout waiting for all workers to stop ({pending} did not confirm)"
                    );
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    _ = &mut hurry => {
                        log::warn!("not waiting for {pending} worker(s) to stop");
                        break;
                    }
                }
                pending = self.master.stop_pending();
            }
            self.master.end_test(self.generation);
        })
    }

    /// Nothing to release: the workers stay connected for the next test (quit is separate).
    /// Workers report every 3 s on their own: there is nothing held here to ship earlier (as
    /// Locust's master, a reset counts from the reports that arrive after it).
    fn flush(&mut self) -> LocalBoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
    fn shutdown(self: Box<Self>) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
