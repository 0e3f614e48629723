//! The distributed worker (`--worker`): joins a master — Locust 2.47's or rustlocust's — and runs
//! the users it is told to, message for message like Locust's `WorkerRunner`: `client_ready`
//! until `ack`, a heartbeat every second, `spawn` → `spawning`, absolute per-class counts at
//! once, `spawning_complete`; a delta `stats` report every 3 s; `stop` → `client_stopped` and
//! `client_ready`; `quit` → a final report and `quit`; custom messages both ways.
//!
//! Where it differs from Locust (see docs/distributed.md, "Worker"): a worker that hears nothing
//! from its master for [`MASTER_SILENCE`] stops its users (Locust's go on for 60 s) and looks for
//! a master again without limit; the report of the stopped test is kept for the next master.
//! The worker writes no reports and serves no UI: the master does.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmpv::Value;

use super::custom::{json_to_msgpack, msgpack_to_dynamic};
use super::link::{Incoming, Link};
use super::payload::{
    Ack, ClientReady, ExceptionReport, Payload, Spawn, SpawningComplete, WorkerState,
};
use super::protocol::{new_node_id, timing};
use super::report::StatsReport;
use super::secret::{proof_value, AUTH_MESSAGE};
use crate::run::driver::Signals;
use crate::run::{Outputs, RunConfig, TestRun, Tick};
use crate::script::{Role, RoleKind, Scenario};

/// A worker that hears nothing from its master for this long stops its users. Masters answer
/// every heartbeat (1 s), so this is three missed answers and then some; being under 5 s, the
/// load stops within 5 s of the master's death, as project issue 8 asks.
pub const MASTER_SILENCE: Duration = Duration::from_secs(4);

/// How often the loop merges stats, ships script messages and checks its timers.
const TICK: Duration = Duration::from_millis(50);

/// More users than this in one `spawn` is not a load test but a broken or hostile master.
const MAX_USERS: u64 = 1_000_000;

/// `exception` messages per distinct exception and report. Locust sends one per occurrence,
/// which a task failing in a tight loop turns into a flood; past this the master's count is low.
const MAX_EXCEPTION_MESSAGES: u64 = 100;

/// How long the final messages may take to reach the master when the worker quits.
const QUIT_LINGER: Duration = Duration::from_secs(2);

/// Distinct "logged once" notes kept; past this, repeats of new ones are logged at debug.
const MAX_LOG_ONCE: usize = 1000;

/// Where the master is (`--master-host`, `--master-port`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerOptions {
    pub master_host: String,
    pub master_port: u16,
    /// `--master-secret`: proven to the master before each `client_ready`.
    pub secret: Option<super::secret::Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("no master answered at {host}:{port}: {tries} client_ready messages {secs} s apart got no ack (is `--master` running there, and can this machine reach that port?)")]
    NoMaster {
        host: String,
        port: u16,
        tries: u32,
        secs: u64,
    },
    #[error("cannot watch for Ctrl-C/SIGTERM: {0}")]
    Signals(std::io::Error),
    #[error("the connection to the master stopped working")]
    LinkDown,
}

enum Phase {
    /// Sending `client_ready` every CONNECT_TIMEOUT until an `ack`. `lost`: after a lost master,
    /// without a bound (the first connection gives up like Locust's).
    Connecting {
        last_try: Option<Instant>,
        tries: u32,
        lost: bool,
    },
    Connected,
}

struct Worker {
    run: TestRun,
    link: Link,
    opts: WorkerOptions,
    node_id: String,
    signals: Signals,
    phase: Phase,
    /// Locust's `last_received_spawn_timestamp`: older spawns are dropped.
    last_spawn: f64,
    /// The master's `spawning_complete` fires the local event once per ramp.
    completion_fired: bool,
    last_report: Instant,
    /// The last report of a test stopped because the master was lost, for the next master.
    kept: Vec<Payload>,
    logged: HashSet<String>,
}

/// Run a worker until its master says `quit` (or Ctrl-C/SIGTERM); returns the exit code: 0, or
/// `--exit-code-on-error` when a script raised during the last test (Locust's rule for workers).
/// Must run inside a `LocalSet` on a current-thread runtime, like `console::run`.
pub async fn run_worker(
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    opts: WorkerOptions,
) -> anyhow::Result<i32> {
    let node_id = new_node_id();
    // Locust's worker index is -1 until the master's ack gives one.
    scenario.control.set_role(Role {
        kind: RoleKind::Worker,
        worker_index: -1,
        worker_count: 0,
    });
    let signals = Signals::new().map_err(WorkerError::Signals)?;
    // The master writes the reports; -t and -u belong to it too.
    let cfg = RunConfig {
        outputs: Outputs::default(),
        ..cfg
    };
    let mut run = TestRun::new(cfg, scenario).await;
    run.keep_intervals();
    log::info!(
        "Starting worker {node_id}, master at {}:{}",
        opts.master_host,
        opts.master_port
    );
    let link = Link::connect(&opts.master_host, opts.master_port, &node_id);
    let mut w = Worker {
        run,
        link,
        opts,
        node_id,
        signals,
        phase: Phase::Connecting {
            last_try: None,
            tries: 0,
            lost: false,
        },
        last_spawn: f64::NEG_INFINITY,
        completion_fired: false,
        last_report: Instant::now(),
        kept: Vec::new(),
        logged: HashSet::new(),
    };
    let served = w.serve().await;
    let Worker { run, link, .. } = w;
    match served {
        Ok(code) => {
            link.close(QUIT_LINGER).await;
            Ok(run.quit(code).await)
        }
        Err(e) => {
            drop(link);
            let _ = run.quit(1).await;
            Err(e.into())
        }
    }
}

impl Worker {
    async fn serve(&mut self) -> Result<i32, WorkerError> {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let got = tokio::select! {
                which = self.signals.next() => {
                    log::info!("Got {which} signal, shutting down");
                    return Ok(self.quit().await);
                }
                got = self.link.recv() => Some(got.ok_or(WorkerError::LinkDown)?),
                _ = tick.tick() => None,
            };
            if let Some(got) = got {
                if let Some(code) = self.handle(got).await {
                    return Ok(code);
                }
            }
            self.periodic().await?;
        }
    }

    /// One message from the master; Some(exit code) when it was `quit`.
    async fn handle(&mut self, got: Incoming) -> Option<i32> {
        let msg = match got {
            Ok(msg) => msg,
            Err(e) => {
                self.log_once(
                    "transport",
                    &format!("dropped a message from the master: {e}"),
                );
                return None;
            }
        };
        let kind = msg.kind.clone();
        let payload = match Payload::from_message(msg) {
            Ok(p) => p,
            Err(e) => {
                let note = format!("dropped a malformed `{kind}` message from the master: {e}");
                self.log_once(&format!("malformed {kind}"), &note);
                return None;
            }
        };
        match payload {
            Payload::Ack(ack) => self.acked(ack),
            // The link noted the time; nothing else to do (Locust fires heartbeat_received).
            Payload::Heartbeat(_) => {}
            Payload::Spawn(spawn) => self.spawn(spawn).await,
            Payload::SpawningComplete(c) => {
                if !self.completion_fired {
                    self.completion_fired = true;
                    self.run.spawning_completed(c.user_count).await;
                }
            }
            Payload::Stop => self.stop_test().await,
            Payload::Quit => {
                log::info!("Got quit message from master, shutting down...");
                return Some(self.quit().await);
            }
            Payload::Reconnect => {
                log::warn!("Received reconnect message from master. Resetting the connection.");
                self.link.reconnect();
            }
            Payload::Custom { kind, data } => self.custom(kind, data).await,
            Payload::UpdateUserClass(u) => self.log_once(
                "update_user_class",
                &format!(
                    "ignored update_user_class for '{}': changing user classes from the master's UI is not supported",
                    u.user_class_name
                ),
            ),
            other => {
                let kind = other.kind().to_owned();
                self.log_once(
                    &format!("unexpected {kind}"),
                    &format!("ignored a `{kind}` message: masters do not send it"),
                );
            }
        }
        None
    }

    fn acked(&mut self, ack: Ack) {
        let control = &self.run.scenario().control;
        let role = control.role();
        let index = ack.index.unwrap_or(role.worker_index);
        control.set_role(Role {
            worker_index: index,
            ..role
        });
        if let Phase::Connecting { .. } = self.phase {
            log::info!(
                "Connected to master {}:{} as {} (worker index {index})",
                self.opts.master_host,
                self.opts.master_port,
                self.node_id
            );
            self.phase = Phase::Connected;
            self.link.heard_now();
            self.link.set_beating(true);
            self.last_report = Instant::now();
            for p in std::mem::take(&mut self.kept) {
                self.link.send(&p);
            }
        }
    }

    async fn spawn(&mut self, spawn: Spawn) {
        self.link.send(&Payload::Spawning);
        if spawn.timestamp <= self.last_spawn {
            log::info!("Discard spawn message with older or equal timestamp than timestamp of previous spawn message");
            return;
        }
        self.last_spawn = spawn.timestamp;
        let total = spawn
            .user_classes_count
            .values()
            .fold(0u64, |a, &n| a.saturating_add(n));
        if total > MAX_USERS {
            log::error!("ignored a spawn of {total} users: more than {MAX_USERS} on one worker");
            return;
        }
        // None, negative or not a number: no time to finish (Locust's `or 0.0`).
        let stop_timeout = spawn
            .stop_timeout
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or_default();
        self.run.set_stop_timeout(stop_timeout);
        self.link.set_state(WorkerState::Spawning);
        self.completion_fired = false;
        let counts: BTreeMap<String, usize> = spawn
            .user_classes_count
            .into_iter()
            .map(|(k, n)| (k, n as usize))
            .collect();
        let host = spawn.host.filter(|h| !h.trim().is_empty());
        match self.run.spawn_counts(&counts, host).await {
            Ok(now) => {
                let n: usize = now.values().sum();
                log::info!("Spawned {now:?} ({n} total users)");
                self.link.send(&Payload::SpawningComplete(SpawningComplete {
                    user_classes_count: Some(as_u64(&now)),
                    user_count: n as u64,
                }));
                self.link.set_state(WorkerState::Running);
            }
            Err(e) => {
                log::error!("cannot run the users the master asked for: {e}");
                self.link.send(&Payload::Exception(ExceptionReport {
                    msg: e,
                    traceback: String::new(),
                }));
                let state = if self.run.is_running() {
                    WorkerState::Running
                } else {
                    WorkerState::Ready
                };
                self.link.set_state(state);
            }
        }
    }

    /// `client_ready`, after the secret's proof when there is one (see [`super::secret`]).
    fn ready(&self) {
        if let Some(secret) = &self.opts.secret {
            self.link.send(&Payload::Custom {
                kind: AUTH_MESSAGE.to_owned(),
                data: proof_value(secret, &self.node_id),
            });
        }
        self.link
            .send(&Payload::ClientReady(ClientReady::AnyVersion));
    }

    /// The master's `stop` (or a script's `stop_test()` here): stop the users, report what they
    /// did last, and tell the master this worker is ready for the next test.
    async fn stop_test(&mut self) {
        self.run.stop(self.signals.hurry()).await;
        self.send_report();
        self.link.send(&Payload::ClientStopped);
        self.ready();
        self.link.set_state(WorkerState::Ready);
    }

    /// Stop, send the final report and `quit`; the exit code.
    async fn quit(&mut self) -> i32 {
        self.run.stop(self.signals.hurry()).await;
        for p in std::mem::take(&mut self.kept) {
            self.link.send(&p);
        }
        self.send_report();
        self.link.send(&Payload::Quit);
        if self.run.stats.lock().has_exceptions() {
            self.run.config().exit_code_on_error
        } else {
            0
        }
    }

    async fn custom(&mut self, kind: String, data: Value) {
        log::debug!("Received {kind} message from master");
        if !self
            .run
            .deliver_message(&kind, msgpack_to_dynamic(&data), &self.node_id)
            .await
        {
            self.log_once(
                &format!("message {kind}"),
                &format!("Unknown message type received from master: {kind} (the scenario has no on_message(\"{kind}\", ..))"),
            );
        }
    }

    /// Every tick: stats merging and the script's stop_test, the script's messages, connecting,
    /// the master's silence and the report timer.
    async fn periodic(&mut self) -> Result<(), WorkerError> {
        if let Some(Tick::End(why)) = self.run.tick().await {
            log::info!("{why}: stopping this worker's users");
            self.stop_test().await;
        }
        for m in self.run.scenario().control.take_outbox() {
            let kind = m.kind;
            log::debug!("Sending {kind} message to master");
            let data = json_to_msgpack(&m.data);
            self.link.send(&Payload::Custom { kind, data });
        }
        match self.phase {
            Phase::Connecting {
                last_try,
                tries,
                lost,
            } => {
                if last_try.is_some_and(|t| t.elapsed() < timing::CONNECT_TIMEOUT) {
                    return Ok(());
                }
                if !lost && tries > timing::CONNECT_RETRY_COUNT {
                    return Err(WorkerError::NoMaster {
                        host: self.opts.master_host.clone(),
                        port: self.opts.master_port,
                        tries,
                        secs: timing::CONNECT_TIMEOUT.as_secs(),
                    });
                }
                if tries > 0 {
                    let note = format!(
                        "Failed to connect to master {}:{}, retry {tries}",
                        self.opts.master_host, self.opts.master_port
                    );
                    // Like Locust: quiet for the first 30 s.
                    if timing::CONNECT_TIMEOUT * tries < Duration::from_secs(30) {
                        log::debug!("{note}");
                    } else {
                        log::info!("{note}");
                    }
                }
                // A fresh connection each time, so no stale client_ready or heartbeat queued for
                // an absent master reaches the next one.
                if tries > 0 || lost {
                    self.link.reconnect();
                }
                self.ready();
                self.phase = Phase::Connecting {
                    last_try: Some(Instant::now()),
                    tries: tries + 1,
                    lost,
                };
            }
            Phase::Connected => {
                if self.link.silent_for() >= MASTER_SILENCE {
                    self.master_lost().await;
                } else if self.last_report.elapsed() >= timing::WORKER_REPORT_INTERVAL {
                    self.send_report();
                }
            }
        }
        Ok(())
    }

    /// No word from the master: stop generating load now, keep the last report for the next
    /// master, and look for one.
    async fn master_lost(&mut self) {
        log::error!(
            "No message from the master for {} s: stopping this worker's users and reconnecting",
            MASTER_SILENCE.as_secs()
        );
        self.link.set_beating(false);
        if self.run.is_running() {
            self.run.set_stop_timeout(Duration::ZERO);
            self.run.stop(self.signals.hurry()).await;
        }
        let last = self.report();
        self.kept.extend(last);
        self.link.set_state(WorkerState::Ready);
        self.phase = Phase::Connecting {
            last_try: None,
            tries: 0,
            lost: true,
        };
    }

    fn send_report(&mut self) {
        for p in self.report() {
            self.link.send(&p);
        }
        self.last_report = Instant::now();
    }

    /// What happened since the last report: its script exceptions (as `exception` messages) and
    /// the `stats` report with the users running now.
    fn report(&mut self) -> Vec<Payload> {
        let Some(interval) = self.run.take_interval() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut capped = false;
        for e in interval.exceptions() {
            capped |= e.count > MAX_EXCEPTION_MESSAGES;
            for _ in 0..e.count.min(MAX_EXCEPTION_MESSAGES) {
                out.push(Payload::Exception(ExceptionReport {
                    msg: e.msg.clone(),
                    traceback: e.traceback.clone(),
                }));
            }
        }
        if capped {
            self.log_once(
                "exceptions capped",
                &format!("a script error repeats more than {MAX_EXCEPTION_MESSAGES} times per report; the master counts at most that many"),
            );
        }
        match StatsReport::from_stats(&interval, true) {
            Ok(mut report) => {
                let counts = self.run.class_counts();
                report.user_count = Some(counts.values().sum::<usize>() as u64);
                report.user_classes_count = Some(as_u64(&counts));
                out.push(Payload::Stats(Box::new(report)));
            }
            Err(e) => log::error!("cannot build the stats report: {e}"),
        }
        out
    }

    /// Log `text` as a warning the first time `key` comes up, at debug level after.
    fn log_once(&mut self, key: &str, text: &str) {
        if self.logged.len() < MAX_LOG_ONCE && self.logged.insert(key.to_owned()) {
            log::warn!("{text}");
        } else {
            log::debug!("{text}");
        }
    }
}

fn as_u64(counts: &BTreeMap<String, usize>) -> BTreeMap<String, u64> {
    counts.iter().map(|(k, &n)| (k.clone(), n as u64)).collect()
}
