//! The runner's own script context. Listeners of the events the runner fires (init, test_start,
//! spawning_complete, test_stopping, test_stop, quitting) and handlers of custom messages from
//! other nodes (`on_message`) run here, on the control thread, one after the other in a coroutine
//! with a process-wide HTTP session: they may `sleep` and make requests through `client()`, as
//! Locust's test_start hooks do (the seed's "get a token at test start").
//!
//! A listener obeys the stop levels users do (see `watchdog.rs`): once the test should stop it has
//! a grace period (`--stop-timeout`, [`DEFAULT_GRACE`] when that is 0), then it is cancelled, and
//! the cut is recorded as an exception (so the run's exit code is `--exit-code-on-error`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rhai::{Dynamic, Map};

use crate::coro::{self, StackPool, StopLevel, StopSignal};
use crate::http::{self, BaseUrl, HttpConfig, Session};
use crate::script::context::{self, Host, JobHandle, UserCtx};
use crate::script::events::Builtin;
use crate::script::{Callable, RunControl, Scenario};

use super::watchdog::{self, Cut};

/// Listeners run one at a time: a few stacks are plenty.
const HOOK_STACKS: usize = 4;

/// How long a listener may still run once the test should stop, when `--stop-timeout` is 0: a
/// test_stop that logs out or cleans up needs a moment, and 0 would cancel it outright.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

struct ProcessHost {
    scenario: Arc<Scenario>,
}

impl Host for ProcessHost {
    fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }
    fn spawn_job(self: Rc<Self>, _: Rc<UserCtx>, _: Callable) -> Result<JobHandle, String> {
        Err("background() needs a user: call it in a task, on_start or on_stop".into())
    }
}

pub struct Hooks {
    scenario: Arc<Scenario>,
    pool: StackPool,
    ctx: Rc<UserCtx>,
    grace: Cell<Duration>,
    /// When the running test should end (its run time): listeners still running then get their
    /// grace.
    stop_at: Cell<Option<Instant>>,
    /// A second Ctrl-C/SIGTERM hurried the stop: what is left of it runs no more listeners.
    hurried: Cell<bool>,
}

/// The base URL listeners' `client()` uses: the test's host, else the first class's host.
fn listener_base(scenario: &Scenario, host: Option<&str>) -> Option<BaseUrl> {
    host.map(str::to_string)
        .or_else(|| scenario.classes.iter().find_map(|c| c.host.clone()))
        .and_then(|h| BaseUrl::parse(&h).ok())
}

fn listener_session(scenario: &Scenario, http_cfg: &HttpConfig, host: Option<&str>) -> Rc<Session> {
    let base = listener_base(scenario, host);
    match http::Client::new(http_cfg) {
        Ok(c) => c.session(base),
        Err(e) => {
            log::warn!("event listeners get no HTTP client: {e}");
            http::Client::new(&HttpConfig {
                insecure: true,
                ..HttpConfig::default()
            })
            .expect("a client without certificate checks always builds")
            .session(None)
        }
    }
}

impl Hooks {
    /// Points the listeners' `client()` at the host of the test about to start (Locust's
    /// `environment.host`, which the UI's form and a master's `spawn` set): on a worker started
    /// without `-H` it is the master's host. A new session only when the host changes, so the
    /// cookies `init` listeners collected survive every test that keeps its host.
    pub fn set_host(&mut self, http_cfg: &HttpConfig, host: Option<&str>) {
        let base = listener_base(&self.scenario, host);
        let current = self.ctx.session.base().map(|b| b.to_string());
        if base.as_ref().map(|b| b.to_string()) == current {
            return;
        }
        let session = listener_session(&self.scenario, http_cfg, host);
        let old = &self.ctx;
        let ctx = Rc::new(UserCtx {
            id: old.id,
            class_name: old.class_name.clone(),
            session,
            rng: RefCell::new(old.rng.borrow().clone()),
            stop: old.stop.clone(),
            jobs: RefCell::new(Vec::new()),
            default_headers: RefCell::new(old.default_headers.borrow().clone()),
        });
        self.ctx = ctx;
    }

    /// Must be created and used inside a `LocalSet` on the control thread.
    pub fn new(
        scenario: Arc<Scenario>,
        http_cfg: &HttpConfig,
        host: Option<&str>,
        seed: Option<u64>,
        stop_timeout: Duration,
    ) -> Hooks {
        let session = listener_session(&scenario, http_cfg, host);
        let rng = match seed {
            Some(s) => SmallRng::seed_from_u64(s ^ 0xA5A5_5A5A),
            None => SmallRng::from_rng(&mut rand::rng()),
        };
        let ctx = Rc::new(UserCtx {
            id: u64::MAX,
            class_name: Arc::from("runner"),
            session,
            rng: RefCell::new(rng),
            stop: StopSignal::new(),
            jobs: RefCell::new(Vec::new()),
            default_headers: RefCell::new(Vec::new()),
        });
        context::set_host(Some(Rc::new(ProcessHost {
            scenario: scenario.clone(),
        })));
        watchdog::install();
        let hooks = Hooks {
            scenario,
            pool: StackPool::new(HOOK_STACKS),
            ctx,
            grace: Cell::new(DEFAULT_GRACE),
            stop_at: Cell::new(None),
            hurried: Cell::new(false),
        };
        hooks.set_stop_timeout(stop_timeout);
        hooks
    }

    /// Listeners get `--stop-timeout` to finish once the test should stop ([`DEFAULT_GRACE`]
    /// when 0).
    pub fn set_stop_timeout(&self, stop_timeout: Duration) {
        self.grace.set(if stop_timeout.is_zero() {
            DEFAULT_GRACE
        } else {
            stop_timeout
        });
    }

    /// When the running test should end (None: no run time, or no test).
    pub fn set_stop_at(&self, at: Option<Instant>) {
        self.stop_at.set(at);
    }

    /// Run the listeners of a runner event; returns when they are done, or were cut short (true).
    pub async fn fire(&self, event: Builtin, args: Map) -> bool {
        let name = event.as_str();
        if !self.scenario.events.has_listeners(name) {
            return false;
        }
        let stopping = matches!(
            event,
            Builtin::TestStopping | Builtin::TestStop | Builtin::Quitting
        );
        let sc = self.scenario.clone();
        self.run(name, stopping, move || sc.fire(name, args)).await
    }

    /// Run the script's handlers of a custom message (`on_message`); returns when they are done.
    pub async fn fire_message(&self, kind: &str, data: Dynamic, sender: &str) {
        let sc = self.scenario.clone();
        let (k, from) = (kind.to_owned(), sender.to_owned());
        self.run(kind, false, move || sc.fire_message(&k, data, &from))
            .await;
    }

    async fn run(&self, what: &str, stopping: bool, listeners: impl FnOnce() + 'static) -> bool {
        if stopping && self.hurried.get() {
            log::warn!(
                "listeners of event '{what}' not run: the stop was hurried (Ctrl-C/SIGTERM twice)"
            );
            return false;
        }
        let grace = self.grace.get();
        let batch = watchdog::arm(self.ctx.stop.clone(), stopping, self.stop_at.get(), grace);
        let out = coro::run(
            &self.pool,
            Some(self.ctx.clone()),
            StopLevel::Kill,
            listeners,
        );
        if let Err(e) = out.await {
            log::error!("listeners of '{what}': {e}");
        }
        // Cut by the watchdog, or by `abort` (a second signal seen by the driver).
        let cut = batch
            .cut()
            .or_else(|| (self.ctx.stop.level() >= StopLevel::Abort).then_some(Cut::Signal));
        if let Some(why) = cut {
            let why = match why {
                Cut::Timeout(t) => format!(
                    "still running {} s after the test began to stop (--stop-timeout, {} s when 0)",
                    t.as_secs_f64(),
                    DEFAULT_GRACE.as_secs()
                ),
                Cut::Signal => "Ctrl-C/SIGTERM while the test was stopping".to_string(),
            };
            let msg = format!("listeners of event '{what}' cancelled: {why}");
            log::error!("{msg}");
            crate::script::context::record_exception(&msg, "");
        }
        cut.is_some()
    }

    /// Cancel listeners that are still running (a second Ctrl-C); the rest of this stop runs
    /// none.
    pub fn abort(&self) {
        self.hurried.set(true);
        self.ctx.stop.raise(StopLevel::Abort);
    }

    /// A new test: its stop runs its listeners again.
    pub fn new_test(&self) {
        self.hurried.set(false);
    }
}

/// The role arguments every runner event carries.
pub fn role_args(control: &RunControl) -> Map {
    let r = control.role();
    let mut m = Map::new();
    m.insert("role".into(), r.kind.as_str().into());
    m.insert("worker_index".into(), Dynamic::from_int(r.worker_index));
    m.insert("worker_count".into(), Dynamic::from_int(r.worker_count));
    m
}
