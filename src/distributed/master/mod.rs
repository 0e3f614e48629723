//! The master of distributed mode: one [`Master`] per process, bound once and alive across tests.
//! A background task (the [`pump`]) receives every worker message and keeps the worker
//! registry (id, stable index, state, users, CPU, memory, heartbeat liveness); it answers
//! `client_ready` with `ack {index}` and heartbeats with heartbeats, merges `stats` reports and
//! `exception`s into the current test's statistics, marks silent workers missing and moves their
//! users to the others. The test run drives the workers' users through [`RemoteUsers`]
//! ([`users`]), which ramps them up like Locust 2.x's master; [`headless`] is the
//! `--master --headless` front end and [`web`] the master with the UI. Locust's semantics:
//! `../shared/reference/locust.md` §1 and `docs/distributed.md` ("Master"), which also lists
//! where this master differs.

pub mod headless;
mod mailbox;
mod pump;
mod users;
pub mod web;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmpv::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::payload::{Payload, WorkerState};
use super::protocol::timing::{HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS};
use super::transport::{MasterSender, MasterSocket, TransportError, TransportOptions};
use crate::script::{Role, RoleKind, RunControl};
use crate::stats::Stats;

pub use headless::{bind_from, run_master_headless, run_master_headless_on, MasterOptions};
pub use users::RemoteUsers;
pub use web::{run_master_web, run_master_web_on};

/// Silence after which a worker is marked missing: more than [`HEARTBEAT_LIVENESS`] heartbeats
/// missed. Checked every [`LIVENESS_CHECK`], so a worker is missing at most 4.25 s after its last
/// heartbeat (Locust: 4–5 s, checked once a second).
pub const MISSING_AFTER: Duration =
    Duration::from_secs(HEARTBEAT_INTERVAL.as_secs() * (HEARTBEAT_LIVENESS as u64 + 1));

/// How often the pump checks liveness.
const LIVENESS_CHECK: Duration = Duration::from_millis(250);

/// A missing worker is forgotten after this long (Locust's `HEARTBEAT_DEAD_INTERNAL`).
const FORGET_MISSING_AFTER: Duration = Duration::from_secs(60);

/// Custom messages queued for the scripts' handlers; more are dropped (logged once) so a chatty
/// worker cannot grow the master's memory while nobody reads them.
const CUSTOM_QUEUE_LEN: usize = 1000;

/// How long [`Master::quit`] waits for the workers' final reports and their `quit` (Locust sleeps
/// 0.5 s; this returns as soon as every worker answered).
const QUIT_GRACE: Duration = Duration::from_secs(1);

/// At most this many distinct once-per-worker warnings are remembered (garbage from anonymous
/// peers must not grow the set forever).
const MAX_LOGGED: usize = 10_000;

/// A worker as the master sees it (Locust's `WorkerNode`; the web UI's Workers tab).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerInfo {
    pub id: String,
    /// 0-based, in order of first `client_ready`; stable while the master lives (Locust's ack).
    pub index: usize,
    pub state: WorkerState,
    /// The users the worker reported running, per class.
    pub user_classes_count: BTreeMap<String, u64>,
    pub user_count: u64,
    /// Percent of one core, as the worker's heartbeat says.
    pub cpu_usage: f64,
    /// Resident set size in bytes.
    pub memory_usage: u64,
    /// Heartbeats left before the worker counts as missing (Locust's `heartbeat`; negative once
    /// missing).
    pub heartbeat_liveness: i32,
    /// Unix seconds of the last heartbeat received.
    pub last_heartbeat: Option<f64>,
}

/// A message of a type outside Locust's catalogue, as a worker sent it: a script's own
/// `send_message` type, for the handler a script registered for `kind`.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomMessage {
    pub worker_id: String,
    pub kind: String,
    pub data: Value,
}

/// What the master merged so far (benchmarks, metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReportCounters {
    /// `stats` reports merged.
    pub reports: u64,
    /// Reports that carried samples, and the sum and the largest of their age once merged
    /// (merge time minus the report's newest sample), in seconds. A sample also waits in its
    /// worker until the next report (up to 3 s).
    pub timed: u64,
    pub age_sum: f64,
    pub age_max: f64,
}

/// How the master runs.
#[derive(Clone, Debug, Default)]
pub struct MasterConfig {
    pub transport: TransportOptions,
    /// A worker joining after the ramp completed gets users at once (Locust's
    /// `--enable-rebalancing`); otherwise at the next re-target. Users of a worker that leaves
    /// or goes missing always move to the others, and a worker that comes back always gets its
    /// share again.
    pub enable_rebalancing: bool,
    /// `--master-secret`: workers must prove it before they count (see [`super::secret`]).
    pub secret: Option<super::secret::Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot start the master: {0}")]
    Bind(#[source] TransportError),
    #[error(
        "no worker is connected: a distributed test needs at least one (start `--worker` processes first)"
    )]
    NoWorkers,
    #[error("unknown user class '{0}'")]
    UnknownClass(String),
    #[error(
        "gave up waiting for workers: {connected} of {expected} connected after {}s (--expect-workers-max-wait)",
        waited.as_secs()
    )]
    NotEnoughWorkers {
        connected: usize,
        expected: usize,
        waited: Duration,
    },
    #[error("interrupted while waiting for workers")]
    Interrupted,
}

/// What a worker's stop is waiting for: its `client_stopped` and a report showing no users (its
/// last samples; Locust workers send no report with `client_stopped`).
#[derive(Clone, Copy, Debug, Default)]
struct StopProgress {
    stopped: bool,
    idle_report: bool,
}

struct Worker {
    info: WorkerInfo,
    last_seen: Instant,
    missing_since: Option<Instant>,
    cpu_warned: bool,
    /// Set when `stop` was sent, until the test ends.
    stop: Option<StopProgress>,
}

impl Worker {
    /// Connected and not stopped: it can run users (Locust's ready + spawning + running).
    fn is_active(&self) -> bool {
        !matches!(self.info.state, WorkerState::Missing | WorkerState::Stopped)
    }
}

/// Where reports of the current test go (kept after it ends, for late reports).
#[derive(Clone)]
struct Sink {
    stats: Arc<Mutex<Stats>>,
    windows: Vec<Arc<Mutex<Stats>>>,
}

struct State {
    workers: BTreeMap<String, Worker>,
    indexes: HashMap<String, usize>,
    test: Option<users::TestState>,
    generation: u64,
    sink: Option<Sink>,
    control: Option<Arc<RunControl>>,
    enable_rebalancing: bool,
    /// (worker, what) pairs already warned about.
    logged: HashSet<(String, &'static str)>,
    all_lost: bool,
    /// The last `spawn` timestamp: workers drop a spawn not newer than the previous one.
    last_spawn_ts: f64,
    counters: ReportCounters,
    /// With a secret: the workers whose last proof was right.
    authenticated: HashSet<String>,
}

impl State {
    fn active_ids(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter(|(_, w)| w.is_active())
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn active_count(&self) -> usize {
        self.workers.values().filter(|w| w.is_active()).count()
    }

    /// Users the active workers report.
    fn reported_users(&self) -> u64 {
        self.workers
            .values()
            .filter(|w| w.is_active())
            .map(|w| w.info.user_count)
            .sum()
    }

    /// Whether `what` about `worker` is new (and remembers it): warnings are logged once.
    fn first_time(&mut self, worker: &str, what: &'static str) -> bool {
        if self.logged.len() >= MAX_LOGGED {
            return false;
        }
        self.logged.insert((worker.to_owned(), what))
    }

    /// Scripts' `worker_count()` follows the active workers.
    fn sync_role(&self) {
        if let Some(c) = &self.control {
            c.set_role(Role {
                kind: RoleKind::Master,
                worker_index: 0,
                worker_count: self.active_count() as i64,
            });
        }
    }
}

/// The master: its socket's sending side, the registry and the current test. Shared as an
/// `Arc` by the pump, the users of each test and the front ends.
pub struct Master {
    state: Mutex<State>,
    sender: MasterSender,
    local_addr: SocketAddr,
    custom_tx: mpsc::Sender<CustomMessage>,
    custom_rx: Mutex<Option<mpsc::Receiver<CustomMessage>>>,
    pump: Mutex<Option<JoinHandle<()>>>,
    secret: Option<super::secret::Secret>,
}

impl Master {
    /// Binds `tcp://host:port` (`*`: every interface; port 0: any free port) and starts the pump
    /// on the current tokio runtime.
    pub async fn bind(
        host: &str,
        port: u16,
        config: MasterConfig,
    ) -> Result<Arc<Master>, MasterError> {
        let socket = MasterSocket::bind(host, port, config.transport)
            .await
            .map_err(MasterError::Bind)?;
        let (custom_tx, custom_rx) = mpsc::channel(CUSTOM_QUEUE_LEN);
        let master = Arc::new(Master {
            state: Mutex::new(State {
                workers: BTreeMap::new(),
                indexes: HashMap::new(),
                test: None,
                generation: 0,
                sink: None,
                control: None,
                enable_rebalancing: config.enable_rebalancing,
                logged: HashSet::new(),
                all_lost: false,
                last_spawn_ts: 0.0,
                counters: ReportCounters::default(),
                authenticated: HashSet::new(),
            }),
            secret: config.secret,
            sender: socket.sender(),
            local_addr: socket.local_addr(),
            custom_tx,
            custom_rx: Mutex::new(Some(custom_rx)),
            pump: Mutex::new(None),
        });
        let pump = tokio::spawn(pump::pump(Arc::downgrade(&master), socket));
        *master.pump.lock() = Some(pump);
        Ok(master)
    }

    /// The bound port (the chosen one when bound to port 0).
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every known worker, by index.
    pub fn workers(&self) -> Vec<WorkerInfo> {
        let st = self.state.lock();
        let mut v: Vec<WorkerInfo> = st.workers.values().map(|w| w.info.clone()).collect();
        v.sort_by_key(|w| w.index);
        v
    }

    /// Workers that can run users (connected, not missing, not stopped): Locust's
    /// `worker_count`.
    pub fn worker_count(&self) -> usize {
        self.state.lock().active_count()
    }

    /// The run control whose role scripts read (`is_master()`, `worker_count()`): set to master
    /// now and kept current as workers come and go. Each test's scenario replaces it.
    pub fn set_control(&self, control: Arc<RunControl>) {
        let mut st = self.state.lock();
        st.control = Some(control);
        st.sync_role();
    }

    /// Reports merged so far and how fresh they were.
    pub fn report_counters(&self) -> ReportCounters {
        self.state.lock().counters
    }

    /// True once a test lost its last worker (it was then asked to stop).
    pub fn all_workers_lost(&self) -> bool {
        self.state.lock().all_lost
    }

    /// The queue of [`CustomMessage`]s, for whoever wires them to the scripts' handlers; the
    /// first call takes it, later calls get None. Until taken, messages queue up to
    /// [`CUSTOM_QUEUE_LEN`] and then are dropped.
    pub fn take_custom_messages(&self) -> Option<mpsc::Receiver<CustomMessage>> {
        self.custom_rx.lock().take()
    }

    /// The scripts' custom messages to and from the workers, for the master's test run (takes
    /// the queue of [`Master::take_custom_messages`]; None once taken).
    pub fn mailbox(self: &Arc<Self>) -> Option<Box<dyn crate::run::Mailbox>> {
        let rx = self.take_custom_messages()?;
        Some(Box::new(mailbox::MasterMailbox {
            master: self.clone(),
            rx,
        }))
    }

    /// Sends a message of a script's own type to one worker, or to every connected one (None);
    /// returns how many it was queued for.
    pub fn send_custom(&self, worker: Option<&str>, kind: &str, data: Value) -> usize {
        let payload = Payload::Custom {
            kind: kind.to_owned(),
            data,
        };
        let targets: Vec<String> = match worker {
            Some(id) => vec![id.to_owned()],
            None => self.state.lock().workers.keys().cloned().collect(),
        };
        targets.iter().filter(|id| self.send(id, &payload)).count()
    }

    /// Waits until `expected` workers are connected, logging progress each second as Locust
    /// does; `max_wait` None waits until Ctrl-C.
    pub async fn wait_for_workers(
        &self,
        expected: usize,
        max_wait: Option<Duration>,
    ) -> Result<(), MasterError> {
        let started = Instant::now();
        let mut last_log: Option<(Instant, usize)> = None;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            let connected = self.worker_count();
            if connected >= expected {
                return Ok(());
            }
            let due =
                last_log.is_none_or(|(at, n)| n != connected || at.elapsed() >= HEARTBEAT_INTERVAL);
            if due {
                log::info!("Waiting for workers to be ready, {connected} of {expected} connected");
                last_log = Some((Instant::now(), connected));
            }
            if let Some(max) = max_wait {
                if started.elapsed() >= max {
                    return Err(MasterError::NotEnoughWorkers {
                        connected,
                        expected,
                        waited: started.elapsed(),
                    });
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = &mut ctrl_c => return Err(MasterError::Interrupted),
            }
        }
    }

    /// Sends `quit` to every worker and waits (at most [`QUIT_GRACE`]) for their final reports
    /// and `quit`, then stops the pump. The master takes no more messages after this.
    pub async fn quit(&self) {
        let ids: Vec<String> = {
            let st = self.state.lock();
            st.workers
                .iter()
                .filter(|(_, w)| w.info.state != WorkerState::Missing)
                .map(|(id, _)| id.clone())
                .collect()
        };
        let sent: Vec<String> = ids
            .into_iter()
            .filter(|id| self.send(id, &Payload::Quit))
            .collect();
        log::debug!("sent quit to {} worker(s)", sent.len());
        let deadline = Instant::now() + QUIT_GRACE;
        while Instant::now() < deadline {
            let waiting = {
                let st = self.state.lock();
                sent.iter()
                    .filter(|id| st.workers.contains_key(*id))
                    .count()
            };
            if waiting == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.close();
    }

    /// Stops the pump; the socket closes with it.
    pub fn close(&self) {
        if let Some(pump) = self.pump.lock().take() {
            pump.abort();
        }
    }

    /// Sends `payload` to worker `id`; false (logged) when it cannot be queued.
    fn send(&self, id: &str, payload: &Payload) -> bool {
        send_to(&self.sender, id, payload)
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        self.close();
    }
}

/// Sends `payload` to worker `id` through `sender`; false (logged) when it cannot be queued. A
/// worker that vanished is noticed by the liveness check, so this only logs.
fn send_to(sender: &MasterSender, id: &str, payload: &Payload) -> bool {
    let msg = match payload.to_message(id) {
        Ok(m) => m,
        Err(e) => {
            log::error!("cannot encode `{}` for {id}: {e}", payload.kind());
            return false;
        }
    };
    match sender.send(&msg) {
        Ok(()) => true,
        Err(e @ TransportError::QueueFull(_)) => {
            log::warn!("dropped `{}` for {id}: {e}", payload.kind());
            false
        }
        Err(e) => {
            log::debug!("cannot send `{}` to {id}: {e}", payload.kind());
            false
        }
    }
}
