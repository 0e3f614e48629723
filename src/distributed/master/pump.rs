//! The master's pump: one task that receives every worker message and checks liveness, following
//! Locust's `MasterRunner.handle_message` and `heartbeat_worker` (runners.py). Bad input (an
//! undecodable frame, a payload of the wrong shape, a message a worker should not send) is logged
//! once per worker and dropped; nothing a worker sends ends the pump.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Instant;

use super::{
    CustomMessage, Master, State, StopProgress, Worker, WorkerInfo, FORGET_MISSING_AFTER,
    LIVENESS_CHECK, MISSING_AFTER,
};
use crate::distributed::payload::{ExceptionReport, Heartbeat, Payload, WorkerState};
use crate::distributed::protocol::timing::{HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS};
use crate::distributed::protocol::{check_client_version, Message, VersionCheck, LOCUST_VERSION};
use crate::distributed::report::StatsReport;
use crate::distributed::secret::{self, AUTH_MESSAGE};
use crate::distributed::transport::{MasterSocket, TransportError};
use crate::distributed::Ack;
use crate::stats::unix_now;

/// Locust warns once per worker above this CPU use (percent of one core).
const CPU_WARNING_THRESHOLD: f64 = 90.0;

/// Receives and handles messages until the master is dropped or closed.
pub(super) async fn pump(master: Weak<Master>, mut socket: MasterSocket) {
    let mut check = tokio::time::interval(LIVENESS_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = socket.recv() => {
                let Some(m) = master.upgrade() else { return };
                match received {
                    Ok((peer, msg)) => m.handle(peer, msg),
                    Err(e) if e.is_fatal() => {
                        log::error!("the master's socket failed: {e}");
                        return;
                    }
                    Err(e) => m.bad_frame(e),
                }
            }
            _ = check.tick() => {
                let Some(m) = master.upgrade() else { return };
                m.check_liveness();
            }
        }
    }
}

impl Master {
    /// An undecodable or oversized frame: logged once per worker, dropped.
    fn bad_frame(&self, e: TransportError) {
        let peer = match &e {
            TransportError::Malformed { peer, .. } => peer.clone(),
            _ => String::new(),
        };
        if self.state.lock().first_time(&peer, "malformed") {
            log::warn!(
                "dropped a message: {e} (further bad messages from this worker are not logged)"
            );
        }
    }

    /// One message from worker `peer` (the connection's identity, which Locust workers set to
    /// their node id).
    fn handle(&self, peer: String, msg: Message) {
        let kind = msg.kind.clone();
        if !self.admits(&peer, &msg) {
            return;
        }
        // The version check needs the raw data: a falsy version is refused, not malformed.
        if kind == "client_ready" {
            return self.client_ready(peer, &msg.data);
        }
        let payload = match Payload::from_message(msg) {
            Ok(p) => p,
            Err(e) => {
                if self.state.lock().first_time(&peer, "payload") {
                    log::warn!(
                        "dropped `{kind}` from {peer}: {e} (further bad messages from this worker are not logged)"
                    );
                }
                return;
            }
        };
        match payload {
            Payload::Heartbeat(Some(h)) => self.heartbeat(&peer, h),
            Payload::Stats(report) => self.report(&peer, &report),
            Payload::Spawning => self.spawning(&peer, None),
            Payload::SpawningComplete(c) => {
                let counts = c.user_classes_count.unwrap_or_default();
                self.spawning(&peer, Some((counts, c.user_count)));
            }
            Payload::ClientStopped => self.client_stopped(&peer),
            Payload::Quit => self.worker_quit(&peer),
            Payload::Exception(e) => self.exception(&peer, &e),
            Payload::Logs(l) => log::debug!("{peer} sent {} log lines", l.logs.len()),
            Payload::Custom { kind, data } => self.custom(peer, kind, data),
            other => {
                if self.state.lock().first_time(&peer, "unexpected") {
                    log::warn!(
                        "dropped `{}` from worker {peer}: only a master sends it (further ones are not logged)",
                        other.kind()
                    );
                }
            }
        }
    }

    /// The shared secret's gate: whether `msg` from `peer` goes on to be handled. With a
    /// secret, a proof (`rustlocust_auth`) admits or shuts out its sender, and anything from a
    /// worker without a right proof is dropped, logged once per worker. Without one, proofs are
    /// ignored.
    fn admits(&self, peer: &str, msg: &Message) -> bool {
        let Some(secret) = &self.secret else {
            if msg.kind == AUTH_MESSAGE {
                log::debug!("{peer} sent a master secret; this master has none: ignored");
                return false;
            }
            return true;
        };
        let mut st = self.state.lock();
        if msg.kind == AUTH_MESSAGE {
            if secret::verify(secret, peer, &msg.data) {
                st.authenticated.insert(peer.to_owned());
            } else {
                st.authenticated.remove(peer);
                if st.first_time(peer, "wrong secret") {
                    log::warn!("{peer} presented a wrong master secret: its messages are dropped (logged once per worker)");
                }
            }
            return false;
        }
        if st.authenticated.contains(peer) {
            return true;
        }
        if st.first_time(peer, "no secret") {
            log::warn!("dropped `{}` from {peer}: this master has a secret (--master-secret) and the worker has not proven it; Locust workers cannot (logged once per worker)", msg.kind);
        }
        false
    }

    fn client_ready(&self, peer: String, version: &rmpv::Value) {
        let mut st = self.state.lock();
        match check_client_version(version, LOCUST_VERSION) {
            VersionCheck::Refused => {
                if st.first_time(&peer, "version") {
                    log::error!("An old (pre 2.0) worker tried to connect ({peer}). That's not going to work.");
                }
                return;
            }
            VersionCheck::PatchDiffers(v) => log::debug!(
                "A worker ({peer}) running a different patch version ({v}) connected, master version is {LOCUST_VERSION}"
            ),
            VersionCheck::Differs(v) => {
                if st.first_time(&peer, "version") {
                    log::warn!("A worker ({peer}) running a different version ({v}) connected, master version is {LOCUST_VERSION}");
                }
            }
            VersionCheck::Accepted => {}
        }
        let next = st.indexes.len();
        let index = *st.indexes.entry(peer.clone()).or_insert(next);
        self.send(
            &peer,
            &Payload::Ack(Ack {
                index: Some(index as i64),
            }),
        );
        let previous = st.workers.get(&peer).map(|w| w.info.state);
        // A client_ready from a worker that is running users means a second process with the
        // same id, or a restart: the new one replaces the old one and gets its users.
        if previous.is_some_and(|s| {
            !matches!(
                s,
                WorkerState::Stopped | WorkerState::Missing | WorkerState::Ready
            )
        }) && st.first_time(&peer, "replaced")
        {
            log::warn!("{peer} (index {index}) sent client_ready while running: another process with the same id, or a restart; it replaces the old one");
        }
        let mut fresh = new_worker(&peer, index);
        // A worker sends client_ready right after client_stopped: a stop in progress still waits
        // for the report that carries its last samples.
        fresh.stop = st.workers.get(&peer).and_then(|w| w.stop);
        st.workers.insert(peer.clone(), fresh);
        let n = st.active_count();
        log::info!("{peer} (index {index}) reported as ready. {n} workers connected.");
        self.worker_joined(&mut st, &peer, previous == Some(WorkerState::Missing));
        st.sync_role();
    }

    fn heartbeat(&self, peer: &str, h: Heartbeat) {
        let mut st = self.state.lock();
        let Some(w) = st.workers.get_mut(peer) else {
            log::debug!("Got heartbeat message from unknown worker {peer}");
            return;
        };
        w.last_seen = Instant::now();
        w.info.heartbeat_liveness = HEARTBEAT_LIVENESS;
        w.info.last_heartbeat = Some(unix_now());
        w.info.cpu_usage = h.current_cpu_usage;
        w.info.memory_usage = h.current_memory_usage;
        let was = w.info.state;
        // A stopped worker stays stopped until its client_ready.
        if was != WorkerState::Stopped {
            w.info.state = h.state;
        }
        let hot = !w.cpu_warned && h.current_cpu_usage > CPU_WARNING_THRESHOLD;
        w.cpu_warned |= hot;
        let index = w.info.index;
        if hot {
            log::warn!("Worker {peer} (index {index}) exceeded cpu threshold (will only log this once per worker)");
        }
        if was == WorkerState::Missing {
            w.missing_since = None;
            log::info!(
                "Worker {peer} self-healed with heartbeat, setting state to {}.",
                h.state.as_str()
            );
            self.worker_joined(&mut st, peer, true);
            st.sync_role();
        }
        self.send(peer, &Payload::Heartbeat(None));
    }

    fn report(&self, peer: &str, report: &StatsReport) {
        let sink = {
            let mut st = self.state.lock();
            match st.workers.get_mut(peer) {
                Some(w) => {
                    if let Some(counts) = &report.user_classes_count {
                        w.info.user_count =
                            report.user_count.unwrap_or_else(|| counts.values().sum());
                        w.info.user_classes_count = counts.clone();
                    }
                    if let Some(stop) = &mut w.stop {
                        stop.idle_report |= report.user_count.unwrap_or(0) == 0;
                    }
                }
                None => {
                    if st.first_time(peer, "unknown report") {
                        log::info!(
                            "Discarded report from unrecognized worker {peer} (its stats are kept)"
                        );
                    }
                }
            }
            st.sink.clone()
        };
        // Stats are merged even from unknown workers, as Locust does; outside the registry lock.
        if let Some(sink) = sink {
            let (entries, errors) = report.remote_rows();
            for w in &sink.windows {
                w.lock().merge_remote(entries.clone(), errors.clone());
            }
            sink.stats.lock().merge_remote(entries, errors);
        }
        // How fresh the report was once merged: now minus its newest sample.
        let age = report
            .stats_total
            .last_request_timestamp
            .map(|newest| unix_now() - newest)
            .filter(|a| a.is_finite() && *a >= 0.0);
        let mut st = self.state.lock();
        let c = &mut st.counters;
        c.reports += 1;
        if let Some(age) = age {
            c.timed += 1;
            c.age_sum += age;
            c.age_max = c.age_max.max(age);
        }
    }

    /// `spawning` (counts None) or `spawning_complete`.
    fn spawning(&self, peer: &str, complete: Option<(BTreeMap<String, u64>, u64)>) {
        let mut st = self.state.lock();
        let Some(w) = st.workers.get_mut(peer) else {
            log::warn!("Got spawning message from unknown worker {peer}. Asking worker to quit.");
            drop(st);
            self.send(peer, &Payload::Quit);
            return;
        };
        if w.info.state == WorkerState::Missing {
            return;
        }
        match complete {
            None => w.info.state = WorkerState::Spawning,
            Some((counts, total)) => {
                w.info.state = WorkerState::Running;
                w.info.user_classes_count = counts;
                w.info.user_count = total;
            }
        }
    }

    fn client_stopped(&self, peer: &str) {
        let mut st = self.state.lock();
        let Some(w) = st.workers.get_mut(peer) else {
            log::warn!("Received client_stopped message from an unknown worker: {peer}.");
            return;
        };
        w.info.state = WorkerState::Stopped;
        w.info.user_count = 0;
        w.info.user_classes_count.values_mut().for_each(|n| *n = 0);
        if let Some(stop) = &mut w.stop {
            stop.stopped = true;
        }
        log::info!(
            "{peer} (index {}) reported that it has stopped",
            w.info.index
        );
        self.worker_left(&mut st, peer, "stopped");
        st.sync_role();
    }

    fn worker_quit(&self, peer: &str) {
        let mut st = self.state.lock();
        let Some(w) = st.workers.remove(peer) else {
            return;
        };
        let ready = st.active_count();
        log::info!(
            "Worker '{peer}' (index {}) quit. {ready} workers ready.",
            w.info.index
        );
        self.worker_left(&mut st, peer, "quit");
        st.sync_role();
    }

    fn exception(&self, peer: &str, e: &ExceptionReport) {
        let sink = self.state.lock().sink.clone();
        if let Some(sink) = sink {
            sink.stats
                .lock()
                .record_remote_exception(peer, &e.msg, &e.traceback);
        }
    }

    fn custom(&self, peer: String, kind: String, data: rmpv::Value) {
        let msg = CustomMessage {
            worker_id: peer.clone(),
            kind,
            data,
        };
        if let Err(e) = self.custom_tx.try_send(msg) {
            let kind = match &e {
                tokio::sync::mpsc::error::TrySendError::Full(m)
                | tokio::sync::mpsc::error::TrySendError::Closed(m) => m.kind.clone(),
            };
            if self.state.lock().first_time("", "custom queue") {
                log::warn!("dropped a `{kind}` message from {peer}: no handler reads custom messages, or they come faster than handled (further drops are not logged)");
            }
        }
    }

    /// Marks silent workers missing (their users go to the others) and forgets long-missing ones.
    pub(super) fn check_liveness(&self) {
        let mut st = self.state.lock();
        let mut lost = Vec::new();
        let mut forget = Vec::new();
        for (id, w) in st.workers.iter_mut() {
            let silent = w.last_seen.elapsed();
            w.info.heartbeat_liveness = HEARTBEAT_LIVENESS
                - (silent.as_secs_f64() / HEARTBEAT_INTERVAL.as_secs_f64()) as i32;
            if w.info.state == WorkerState::Missing {
                if w.missing_since
                    .is_some_and(|t| t.elapsed() >= FORGET_MISSING_AFTER)
                {
                    forget.push(id.clone());
                }
            } else if silent > MISSING_AFTER {
                log::info!("Worker {id} failed to send heartbeat, setting state to missing.");
                w.info.state = WorkerState::Missing;
                w.info.user_count = 0;
                w.info.user_classes_count.clear();
                w.missing_since = Some(Instant::now());
                lost.push(id.clone());
            }
        }
        for id in forget {
            log::info!(
                "Worker {id} has been missing for {}s: forgetting it",
                FORGET_MISSING_AFTER.as_secs()
            );
            st.workers.remove(&id);
        }
        for id in &lost {
            self.worker_left(&mut st, id, "went missing");
        }
        if !lost.is_empty() {
            st.sync_role();
        }
    }

    /// A worker is available for users: with a test running, give it users now if it is
    /// returning (`rejoin`), the ramp is still in progress, or rebalancing is enabled.
    fn worker_joined(&self, st: &mut State, id: &str, rejoin: bool) {
        let rebalance = st.enable_rebalancing;
        let State {
            test,
            last_spawn_ts,
            ..
        } = st;
        let Some(test) = test.as_mut().filter(|t| !t.stopping) else {
            return;
        };
        if test.dispatcher.has_worker(id) {
            // The same id again (a replacement): it starts from no users, so resend its share.
            test.send_spawn_to(&self.sender, id, last_spawn_ts);
        } else if rejoin || rebalance || test.is_ramping() {
            test.dispatcher.add_worker(id);
            test.send_spawns(&self.sender, last_spawn_ts);
        }
    }

    /// A worker stopped, quit or went missing: with a test running, its users move to the
    /// others; with none left, the test is asked to stop.
    fn worker_left(&self, st: &mut State, id: &str, how: &str) {
        let active = st.active_count();
        let State {
            test,
            last_spawn_ts,
            control,
            all_lost,
            ..
        } = st;
        let Some(test) = test.as_mut().filter(|t| !t.stopping) else {
            return;
        };
        if test.dispatcher.has_worker(id) {
            test.dispatcher.remove_worker(id);
            test.send_spawns(&self.sender, last_spawn_ts);
        }
        if active == 0 && !*all_lost {
            *all_lost = true;
            log::error!("The last worker {how}, stopping test.");
            if let Some(c) = control {
                c.request_stop(format!("the last worker {how}"));
            }
        }
    }
}

fn new_worker(id: &str, index: usize) -> Worker {
    Worker {
        info: WorkerInfo {
            id: id.to_owned(),
            index,
            state: WorkerState::Ready,
            user_classes_count: BTreeMap::new(),
            user_count: 0,
            cpu_usage: 0.0,
            memory_usage: 0,
            heartbeat_liveness: HEARTBEAT_LIVENESS,
            last_heartbeat: None,
        },
        last_seen: Instant::now(),
        missing_since: None,
        cpu_warned: false,
        stop: None::<StopProgress>,
    }
}
