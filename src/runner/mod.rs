//! The local runner: starts worker threads, spawns users at the spawn rate in Locust's class order,
//! lowers the count by stopping the most recent users, stops everyone (honouring
//! `--stop-timeout`), and merges the workers' stats shards into one `Stats`.

pub mod dispatch;
pub mod hooks;
pub mod user;
pub mod watchdog;
pub mod worker;

use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::coro::{StackPool, StopLevel, StopSignal};
use crate::http::{BaseUrl, HttpConfig};
use crate::script::Scenario;
use crate::stats::{unix_now, Delta, Stats};
use dispatch::{ClassOrder, ClassWeight};
use worker::{Cmd, UserSpec, WorkerHandle, WorkerSetup};

/// How long on_stop may run after users were killed before it is cancelled too.
const ON_STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("user class '{class}' has no host: set `host: \"http://...\"` in its user() declaration or pass -H/--host")]
    NoHost { class: String },
    #[error("invalid host for user class '{class}': {message}")]
    BadHost { class: String, message: String },
    #[error("unknown user class '{0}'")]
    UnknownClass(String),
    #[error("cannot set up HTTP: {0}")]
    Http(String),
    #[error("cannot start worker thread: {0}")]
    Thread(#[from] std::io::Error),
}

#[derive(Clone, Debug)]
pub struct RunnerConfig {
    pub threads: usize,
    pub http: HttpConfig,
    pub seed: Option<u64>,
    pub max_stacks: Option<usize>,
    /// -H/--host: overrides every class's host.
    pub host: Option<String>,
    /// Most background jobs one user may run at once.
    pub max_jobs: usize,
    /// Only these classes (empty: all), e.g. from the web UI's class picker.
    pub user_classes: Vec<String>,
    /// Record into this `Stats` (the web UI keeps one across tests); None: a fresh one.
    pub stats: Option<Arc<Mutex<Stats>>>,
    /// Also merge every delta into these: windows the caller resets, for "current" percentiles.
    pub windows: Vec<Arc<Mutex<Stats>>>,
}

struct UserHandle {
    class: usize,
    stop: Arc<StopSignal>,
    done: Arc<AtomicBool>,
}

/// A ramp towards a target user count at a spawn rate.
struct Ramp {
    from: usize,
    to: usize,
    rate: f64,
    started: Instant,
    announced: bool,
}

pub struct LocalRunner {
    scenario: Arc<Scenario>,
    workers: Vec<WorkerHandle>,
    order: ClassOrder,
    users: Vec<UserHandle>,
    next_id: u64,
    ramp: Option<Ramp>,
    stats: Arc<Mutex<Stats>>,
    deltas: mpsc::UnboundedReceiver<Delta>,
    live: Arc<AtomicUsize>,
    windows: Vec<Arc<Mutex<Stats>>>,
    /// Class names a master asked for that the scenario lacks (each is logged once).
    unknown_classes: HashSet<String>,
}

impl LocalRunner {
    pub fn new(scenario: Arc<Scenario>, cfg: RunnerConfig) -> Result<Self, RunnerError> {
        let bases = class_bases(&scenario, cfg.host.as_deref())?;
        // Unreadable certificate files are refused here, before the run, not in each thread.
        crate::http::Client::new(&cfg.http).map_err(|e| RunnerError::Http(e.to_string()))?;
        let threads = cfg.threads.max(1);
        let stacks = cfg
            .max_stacks
            .unwrap_or_else(StackPool::process_cap)
            .div_ceil(threads)
            .max(1);
        let (dtx, drx) = mpsc::unbounded_channel();
        let live = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for i in 0..threads {
            workers.push(worker::spawn(
                i,
                WorkerSetup {
                    scenario: scenario.clone(),
                    http: cfg.http.clone(),
                    bases: bases.clone(),
                    seed: cfg.seed,
                    stacks,
                    max_jobs: cfg.max_jobs,
                    deltas: dtx.clone(),
                    live: live.clone(),
                },
            )?);
        }
        for wanted in &cfg.user_classes {
            if !scenario.classes.iter().any(|c| &c.name == wanted) {
                return Err(RunnerError::UnknownClass(wanted.clone()));
            }
        }
        // Classes left out get no users: weight 0 and no fixed count.
        let picked = |c: &crate::script::UserClass| {
            cfg.user_classes.is_empty() || cfg.user_classes.contains(&c.name)
        };
        let order = ClassOrder::new(
            &scenario
                .classes
                .iter()
                .map(|c| ClassWeight {
                    name: c.name.clone(),
                    weight: if picked(c) { c.weight } else { 0.0 },
                    fixed_count: if picked(c) { c.fixed_count } else { 0 },
                })
                .collect::<Vec<_>>(),
        );
        Ok(LocalRunner {
            scenario,
            workers,
            order,
            users: Vec::new(),
            next_id: 0,
            ramp: None,
            stats: cfg
                .stats
                .unwrap_or_else(|| Arc::new(Mutex::new(Stats::new(unix_now())))),
            deltas: drx,
            live,
            windows: cfg.windows,
            unknown_classes: HashSet::new(),
        })
    }

    pub fn stats(&self) -> Arc<Mutex<Stats>> {
        self.stats.clone()
    }

    /// Users currently running.
    pub fn user_count(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Running users per class name.
    pub fn class_counts(&self) -> BTreeMap<String, usize> {
        let mut m: BTreeMap<String, usize> = self
            .scenario
            .classes
            .iter()
            .map(|c| (c.name.clone(), 0))
            .collect();
        for u in self
            .users
            .iter()
            .filter(|u| !u.done.load(Ordering::Acquire))
        {
            *m.entry(self.scenario.classes[u.class].name.clone())
                .or_default() += 1;
        }
        m
    }

    /// Move towards `users` at `rate` users per second (up or down).
    pub fn set_target(&mut self, users: usize, rate: f64) {
        self.ramp = Some(Ramp {
            from: self.users.len(),
            to: users,
            rate,
            started: Instant::now(),
            announced: false,
        });
    }

    pub fn is_spawning(&self) -> bool {
        self.ramp.as_ref().is_some_and(|r| !r.announced)
    }

    /// Spawn or stop the users due by now, and merge the stats that arrived. Call often (≥ 10 Hz).
    /// Returns the user count on the tick where a ramp reached its target (Locust's
    /// spawning_complete).
    pub fn tick(&mut self) -> Option<usize> {
        self.collect();
        let Some(r) = &mut self.ramp else {
            return None;
        };
        let steps = (r.started.elapsed().as_secs_f64() * r.rate).floor() as usize + 1;
        let due = if r.to >= r.from {
            (r.from + steps).min(r.to)
        } else {
            r.from.saturating_sub(steps).max(r.to)
        };
        let (to, done) = (r.to, due == r.to);
        while self.users.len() < due {
            if !self.spawn_one() {
                break;
            }
        }
        while self.users.len() > due {
            if let Some(u) = self.users.pop() {
                u.stop.raise(StopLevel::Kill);
            }
        }
        if done {
            if let Some(r) = &mut self.ramp {
                if !r.announced {
                    r.announced = true;
                    let counts: Vec<String> = self
                        .spawned_counts()
                        .iter()
                        .map(|(k, v)| format!("\"{k}\": {v}"))
                        .collect();
                    log::info!(
                        "All users spawned: {{{}}} ({to} total users)",
                        counts.join(", ")
                    );
                    return Some(to);
                }
            }
        }
        None
    }

    fn spawned_counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for u in &self.users {
            *m.entry(self.scenario.classes[u.class].name.clone())
                .or_default() += 1;
        }
        m
    }

    fn spawn_one(&mut self) -> bool {
        let Some(class) = self.order.class_of(self.users.len()) else {
            if let Some(r) = &mut self.ramp {
                log::warn!(
                    "only fixed_count classes are declared; capping at {} users instead of {}",
                    self.order.fixed_total(),
                    r.to
                );
                r.to = self.users.len();
            }
            return false;
        };
        self.spawn_class(class);
        true
    }

    fn spawn_class(&mut self, class: usize) {
        let id = self.next_id;
        self.next_id += 1;
        let (stop, done) = (StopSignal::new(), Arc::new(AtomicBool::new(false)));
        let w = &self.workers[(id as usize) % self.workers.len()];
        let _ = w.tx.send(Cmd::Spawn(UserSpec {
            id,
            class,
            stop: stop.clone(),
            done: done.clone(),
        }));
        self.users.push(UserHandle { class, stop, done });
    }

    /// Reach these absolute per-class counts at once, as a Locust worker does on `spawn` (its
    /// master does the ramping): missing users start now, surplus ones stop, each class's most
    /// recent first. Classes not named keep their users; a name the scenario does not declare (a
    /// master whose locustfile has more classes) is logged once and skipped. Ends any ramp.
    pub fn set_class_counts(&mut self, counts: &BTreeMap<String, usize>) {
        self.ramp = None;
        // Users that ended by themselves (stop_user(), a failed on_start) no longer count, as in
        // Locust, where a dead greenlet leaves the group: the next spawn replaces them.
        self.users.retain(|u| !u.done.load(Ordering::Acquire));
        for (name, &want) in counts {
            let Some(class) = self.scenario.classes.iter().position(|c| &c.name == name) else {
                if self.unknown_classes.insert(name.clone()) {
                    log::warn!(
                        "the master asked for {want} user(s) of class '{name}', which this scenario does not declare; ignored"
                    );
                }
                continue;
            };
            let have = self.users.iter().filter(|u| u.class == class).count();
            for _ in have..want {
                self.spawn_class(class);
            }
            let mut surplus = have.saturating_sub(want);
            let mut i = self.users.len();
            while surplus > 0 && i > 0 {
                i -= 1;
                if self.users[i].class == class {
                    self.users.remove(i).stop.raise(StopLevel::Kill);
                    surplus -= 1;
                }
            }
        }
    }

    /// Merge whatever the workers shipped, and what the runner's own listeners recorded here.
    pub fn collect(&mut self) {
        let own = crate::script::context::take_shard();
        let mut stats = None;
        for d in own
            .into_iter()
            .chain(std::iter::from_fn(|| self.deltas.try_recv().ok()))
        {
            for w in &self.windows {
                w.lock().merge(d.clone());
            }
            stats.get_or_insert_with(|| self.stats.lock()).merge(d);
        }
    }

    /// Ask every worker to ship its shard now, and merge it.
    pub async fn flush(&mut self) {
        let mut acks = Vec::new();
        for w in &self.workers {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if w.tx.send(Cmd::Flush(tx)).is_ok() {
                acks.push(rx);
            }
        }
        for a in acks {
            // A worker stuck in a runaway loop answers late; its data arrives with the next merge.
            let _ = tokio::time::timeout(Duration::from_secs(2), a).await;
        }
        self.collect();
    }

    /// Stop all users: with a stop timeout, let running tasks finish first (waiting users stop at
    /// once); then kill what is left; on_stop gets a short grace. `hurry` resolves on a second
    /// Ctrl-C and cuts everything short.
    pub async fn stop(
        &mut self,
        stop_timeout: Duration,
        hurry: impl std::future::Future<Output = ()>,
    ) {
        self.ramp = None;
        let first = if stop_timeout.is_zero() {
            StopLevel::Kill
        } else {
            StopLevel::Stopping
        };
        for u in &self.users {
            u.stop.raise(first);
        }
        tokio::pin!(hurry);
        let mut hurried = false;
        if !stop_timeout.is_zero() && !self.wait_done(stop_timeout, &mut hurry, &mut hurried).await
        {
            log::info!(
                "Not all users finished their tasks & terminated in {} seconds. Stopping them...",
                stop_timeout.as_secs_f64()
            );
        }
        for u in &self.users {
            u.stop.raise(if hurried {
                StopLevel::Abort
            } else {
                StopLevel::Kill
            });
        }
        if !self
            .wait_done(ON_STOP_GRACE, &mut hurry, &mut hurried)
            .await
        {
            log::warn!(
                "some users' on_stop did not finish in {} s; cancelling them",
                ON_STOP_GRACE.as_secs()
            );
        }
        for u in &self.users {
            u.stop.raise(StopLevel::Abort);
        }
        self.wait_done(Duration::from_secs(2), &mut hurry, &mut hurried)
            .await;
        self.flush().await;
    }

    async fn wait_done(
        &mut self,
        limit: Duration,
        hurry: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
        hurried: &mut bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            self.collect();
            if self.users.iter().all(|u| u.done.load(Ordering::Acquire)) {
                return true;
            }
            if *hurried {
                if tokio::time::Instant::now() >= deadline {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return false,
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = hurry.as_mut() => {
                    *hurried = true;
                    for u in &self.users {
                        u.stop.raise(StopLevel::Abort);
                    }
                }
            }
        }
    }

    /// Stop the worker threads (users must have been stopped) and merge their last data.
    pub async fn shutdown(mut self) {
        for w in &self.workers {
            let _ = w.tx.send(Cmd::Shutdown);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for w in std::mem::take(&mut self.workers) {
            while !w.join.is_finished() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if w.join.is_finished() {
                let _ = w.join.join();
            } else {
                log::warn!("a worker thread did not stop in time; leaving it");
            }
        }
        self.collect();
    }
}

/// Each class's base URL, parsed once: `-H` wins over the class's own host.
fn class_bases(
    scenario: &Scenario,
    host: Option<&str>,
) -> Result<Arc<Vec<Option<BaseUrl>>>, RunnerError> {
    let mut bases = Vec::new();
    for c in &scenario.classes {
        let host = host
            .map(str::to_string)
            .or_else(|| c.host.clone())
            .ok_or_else(|| RunnerError::NoHost {
                class: c.name.clone(),
            })?;
        let base = BaseUrl::parse(&host).map_err(|e| RunnerError::BadHost {
            class: c.name.clone(),
            message: e.to_string(),
        })?;
        bases.push(Some(base));
    }
    Ok(Arc::new(bases))
}

/// `--check --dry-run`: one user of each class, on this thread (inside a `LocalSet`), runs every
/// task once while each request is printed. True when nothing failed or raised.
pub async fn dry_run(scenario: Arc<Scenario>, cfg: RunnerConfig) -> Result<bool, RunnerError> {
    use crate::script::context;
    let w = Rc::new(worker::Worker {
        bases: class_bases(&scenario, cfg.host.as_deref())?,
        scenario: scenario.clone(),
        pool: StackPool::new(16),
        http: crate::http::Client::new(&cfg.http).map_err(|e| RunnerError::Http(e.to_string()))?,
        seed: cfg.seed,
        max_jobs: cfg.max_jobs,
    });
    context::set_host(Some(w.clone() as Rc<dyn context::Host>));
    context::echo_samples(true);
    for i in 0..scenario.classes.len() {
        user::dry_run(w.clone(), i, i as u64).await;
    }
    context::echo_samples(false);
    context::set_host(None);
    let mut stats = Stats::new(unix_now());
    if let Some(d) = context::take_shard() {
        stats.merge(d);
    }
    Ok(!stats.has_failures() && !stats.has_exceptions())
}
