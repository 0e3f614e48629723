//! Worker threads: one OS thread per core, each with a current-thread tokio runtime and a
//! `LocalSet` where its users live as tasks. A worker owns its stack pool, its HTTP client (shared
//! TLS config) and its stats shard, which it ships to the control thread every second.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::coro::{StackPool, StopSignal};
use crate::http::{self, BaseUrl, HttpConfig};
use crate::script::context::{take_shard, Host, JobHandle, UserCtx};
use crate::script::{Callable, Scenario};
use crate::stats::Delta;

/// What a worker thread's users share.
pub struct Worker {
    pub scenario: Arc<Scenario>,
    pub pool: StackPool,
    pub http: http::Client,
    /// Each class's base URL, parsed once.
    pub bases: Arc<Vec<Option<BaseUrl>>>,
    pub seed: Option<u64>,
    /// Most background jobs one user may run at once.
    pub max_jobs: usize,
}

impl Host for Worker {
    fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }
    fn spawn_job(self: Rc<Self>, user: Rc<UserCtx>, job: Callable) -> Result<JobHandle, String> {
        super::user::spawn_job(self, user, job)
    }
}

pub struct UserSpec {
    pub id: u64,
    pub class: usize,
    pub stop: Arc<StopSignal>,
    pub done: Arc<AtomicBool>,
}

pub enum Cmd {
    Spawn(UserSpec),
    /// Ship the shard now and answer when it is on its way.
    Flush(oneshot::Sender<()>),
    Shutdown,
}

pub struct WorkerHandle {
    pub tx: mpsc::UnboundedSender<Cmd>,
    pub join: JoinHandle<()>,
}

pub struct WorkerSetup {
    pub scenario: Arc<Scenario>,
    pub http: HttpConfig,
    pub bases: Arc<Vec<Option<BaseUrl>>>,
    pub seed: Option<u64>,
    pub stacks: usize,
    pub max_jobs: usize,
    pub deltas: mpsc::UnboundedSender<Delta>,
    pub live: Arc<AtomicUsize>,
}

pub fn spawn(index: usize, setup: WorkerSetup) -> std::io::Result<WorkerHandle> {
    let (tx, rx) = mpsc::unbounded_channel();
    let join = std::thread::Builder::new()
        .name(format!("rustlocust-worker-{index}"))
        .spawn(move || body(setup, rx))?;
    Ok(WorkerHandle { tx, join })
}

fn body(setup: WorkerSetup, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log::error!("worker thread could not start its runtime: {e}");
            return;
        }
    };
    let http_client = match http::Client::new(&setup.http) {
        Ok(c) => c,
        Err(e) => {
            log::error!("worker thread could not set up HTTP: {e}");
            return;
        }
    };
    let deltas = setup.deltas.clone();
    let live = setup.live.clone();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let w = Rc::new(Worker {
            scenario: setup.scenario,
            pool: StackPool::new(setup.stacks),
            http: http_client,
            bases: setup.bases,
            seed: setup.seed,
            max_jobs: setup.max_jobs,
        });
        crate::script::context::set_host(Some(w.clone() as Rc<dyn Host>));
        let flush_to = deltas.clone();
        let flusher = tokio::task::spawn_local(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                if let Some(d) = take_shard() {
                    let _ = flush_to.send(d);
                }
            }
        });
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Cmd::Spawn(u) => {
                    let w = w.clone();
                    let live = live.clone();
                    live.fetch_add(1, Ordering::AcqRel);
                    tokio::task::spawn_local(async move {
                        super::user::run(w, u.class, u.id, u.stop).await;
                        u.done.store(true, Ordering::Release);
                        live.fetch_sub(1, Ordering::AcqRel);
                    });
                }
                Cmd::Flush(ack) => {
                    if let Some(d) = take_shard() {
                        let _ = deltas.send(d);
                    }
                    let _ = ack.send(());
                }
                Cmd::Shutdown => break,
            }
        }
        flusher.abort();
        crate::script::context::set_host(None);
    });
    // Users still alive are dropped with the LocalSet (their coroutines unwind); what they recorded
    // on the way out is shipped after.
    drop(local);
    if let Some(d) = take_shard() {
        let _ = setup.deltas.send(d);
    }
}
