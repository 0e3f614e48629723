//! The runner's own script context. Listeners of the events the runner fires (init, test_start,
//! spawning_complete, test_stopping, test_stop, quitting) and handlers of custom messages from
//! other nodes (`on_message`) run here, on the control thread, one after the other in a coroutine
//! with a process-wide HTTP session: they may `sleep` and make requests through `client()`, as
//! Locust's test_start hooks do (the seed's "get a token at test start").

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rhai::{Dynamic, Map};

use crate::coro::{self, StackPool, StopLevel, StopSignal};
use crate::http::{self, BaseUrl, HttpConfig};
use crate::script::context::{self, Host, JobHandle, UserCtx};
use crate::script::events::Builtin;
use crate::script::{Callable, RunControl, Scenario};

/// Listeners run one at a time: a few stacks are plenty.
const HOOK_STACKS: usize = 4;

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
}

impl Hooks {
    /// Must be created and used inside a `LocalSet` on the control thread.
    pub fn new(
        scenario: Arc<Scenario>,
        http_cfg: &HttpConfig,
        host: Option<&str>,
        seed: Option<u64>,
    ) -> Hooks {
        let base = host
            .map(str::to_string)
            .or_else(|| scenario.classes.iter().find_map(|c| c.host.clone()))
            .and_then(|h| BaseUrl::parse(&h).ok());
        let session = match http::Client::new(http_cfg) {
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
        };
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
        Hooks {
            scenario,
            pool: StackPool::new(HOOK_STACKS),
            ctx,
        }
    }

    /// Run the listeners of a runner event; returns when they are done.
    pub async fn fire(&self, event: Builtin, args: Map) {
        let name = event.as_str();
        if !self.scenario.events.has_listeners(name) {
            return;
        }
        let sc = self.scenario.clone();
        self.run(name, move || sc.fire(name, args)).await;
    }

    /// Run the script's handlers of a custom message (`on_message`); returns when they are done.
    pub async fn fire_message(&self, kind: &str, data: Dynamic, sender: &str) {
        let sc = self.scenario.clone();
        let (k, from) = (kind.to_owned(), sender.to_owned());
        self.run(kind, move || sc.fire_message(&k, data, &from))
            .await;
    }

    async fn run(&self, what: &str, listeners: impl FnOnce() + 'static) {
        let out = coro::run(
            &self.pool,
            Some(self.ctx.clone()),
            StopLevel::Kill,
            listeners,
        );
        if let Err(e) = out.await {
            log::error!("listeners of '{what}': {e}");
        }
    }

    /// Cancel listeners that are still waiting (a second Ctrl-C).
    pub fn abort(&self) {
        self.ctx.stop.raise(StopLevel::Abort);
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
