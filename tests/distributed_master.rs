//! The rustlocust master (library entry points) on 127.0.0.1: driving real `locust --worker`
//! processes headless (balanced users, the stub's rows in the master's CSV, workers quit at the
//! end), surviving a kill -9 of one of them (marked missing within 5 s, its users moved),
//! and quitting them at the end. They skip when `locust` is missing, unless
//! RUSTLOCUST_REQUIRE_LOCUST is set. Protocol-level workers: `distributed_master_fakes.rs`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{
    csv, master_scenario, stats_row, stub_dir, test_run_config as run_config, text_of, wait_until,
    LocustProc,
};
use rustlocust::console::ConsoleOptions;
use rustlocust::distributed::{
    run_master_headless_on, Master, MasterConfig, MasterOptions, WorkerInfo, WorkerState,
};
use rustlocust::run::RunConfig;

/// A Locust worker whose user records a fake request every 0.1 s (no network); at exit it writes
/// how many it recorded to `sent_<pid>.txt`.
const WORKER_STUB: &str = "\
import os
from locust import User, task, constant, events

SENT = [0]

class MyUser(User):
    wait_time = constant(0.1)

    @task
    def fake_request(self):
        SENT[0] += 1
        self.environment.events.request.fire(
            request_type=\"GET\", name=\"/py\", response_time=12.5, response_length=10,
            exception=None, context={},
        )

@events.quitting.add_listener
def _count(environment, **kw):
    with open(f\"sent_{os.getpid()}.txt\", \"w\") as f:
        f.write(str(SENT[0]))
";

/// A headless master on its own thread (its own runtime, as the binary runs it).
struct MasterThread {
    master: Arc<Master>,
    thread: JoinHandle<anyhow::Result<i32>>,
}

impl MasterThread {
    fn start(cfg: RunConfig, expect_workers: usize) -> MasterThread {
        // The master's log (stderr) is what explains a failure here.
        let _ = rustlocust::logging::init(&rustlocust::logging::LogOptions::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            tokio::task::LocalSet::new().block_on(&rt, async move {
                let master = Master::bind("127.0.0.1", 0, MasterConfig::default())
                    .await
                    .expect("bind");
                let _ = tx.send(master.clone());
                let opts = MasterOptions {
                    expect_workers,
                    expect_workers_max_wait: Some(Duration::from_secs(90)),
                    ..MasterOptions::default()
                };
                let console = ConsoleOptions {
                    only_summary: true,
                    ..ConsoleOptions::default()
                };
                let sc = master_scenario(&cfg);
                run_master_headless_on(master, sc, cfg, opts, console).await
            })
        });
        let master = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the master binds");
        MasterThread { master, thread }
    }

    fn port(&self) -> String {
        self.master.port().to_string()
    }

    /// The exit code, waiting at most `limit` for the master to finish.
    fn join(self, limit: Duration) -> i32 {
        let done = wait_until(limit, || self.thread.is_finished());
        assert!(done, "the master did not finish within {limit:?}");
        self.thread
            .join()
            .expect("the master thread")
            .expect("the master runs")
    }
}

fn users_of(workers: &[WorkerInfo]) -> Vec<u64> {
    workers.iter().map(|w| w.user_count).collect()
}

fn logs(dir: &Path) -> String {
    format!(
        "w1.log:\n{}\nw2.log:\n{}",
        text_of(dir, "w1.log"),
        text_of(dir, "w2.log")
    )
}

#[test]
fn a_headless_master_drives_two_locust_workers() {
    let Some(dir) = stub_dir("a_headless_master_drives_two_locust_workers", WORKER_STUB) else {
        return;
    };
    let prefix = dir.path().join("m");
    let cfg = run_config(6, 6.0, Some(Duration::from_secs(6)), Some(prefix.clone()));
    let m = MasterThread::start(cfg, 2);
    let mut w1 = LocustProc::worker(dir.path(), &m.port(), "w1.log");
    let mut w2 = LocustProc::worker(dir.path(), &m.port(), "w2.log");
    let mut seen = Vec::new();
    let balanced = wait_until(Duration::from_secs(60), || {
        let ws = m.master.workers();
        seen = users_of(&ws);
        ws.len() == 2
            && ws.iter().all(|w| {
                w.user_count == 3 && w.user_classes_count == BTreeMap::from([("MyUser".into(), 3)])
            })
    });
    assert!(balanced, "users per worker: {seen:?}\n{}", logs(dir.path()));
    let code = m.join(Duration::from_secs(60));
    assert_eq!(code, 0, "{}", logs(dir.path()));
    let rows = csv(&prefix, "stats");
    let py = stats_row(&rows, "GET", "/py").unwrap_or_else(|| panic!("no GET /py row in {rows:?}"));
    let count: u64 = py["Request Count"].parse().unwrap_or(0);
    // 6 users at 10 requests/s for ~6 s: far more than one report's worth.
    assert!(count >= 100, "{count} requests in {py:?}");
    for (w, name) in [(&mut w1, "w1"), (&mut w2, "w2")] {
        assert!(
            w.wait_exit(Duration::from_secs(20)).is_some(),
            "{name} did not exit after quit\n{}",
            logs(dir.path())
        );
    }
    // No report lost, the last one included: the master counted what the workers recorded.
    let sent: Vec<u64> = [&w1, &w2]
        .iter()
        .map(|w| {
            text_of(dir.path(), &format!("sent_{}.txt", w.0.id()))
                .parse()
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(count, sent.iter().sum::<u64>(), "sent per worker: {sent:?}");
    assert!(
        !logs(dir.path()).contains("Traceback"),
        "{}",
        logs(dir.path())
    );
}

#[test]
fn a_killed_worker_is_marked_missing_and_its_users_move() {
    let Some(dir) = stub_dir(
        "a_killed_worker_is_marked_missing_and_its_users_move",
        WORKER_STUB,
    ) else {
        return;
    };
    let prefix = dir.path().join("m");
    let cfg = run_config(6, 6.0, Some(Duration::from_secs(16)), Some(prefix.clone()));
    let m = MasterThread::start(cfg, 2);
    // One at a time, so the registry tells which id is which process.
    let mut w1 = LocustProc::worker(dir.path(), &m.port(), "w1.log");
    assert!(
        wait_until(Duration::from_secs(60), || m.master.workers().len() == 1),
        "w1 never connected\n{}",
        logs(dir.path())
    );
    let first = m.master.workers()[0].id.clone();
    let mut w2 = LocustProc::worker(dir.path(), &m.port(), "w2.log");
    assert!(
        wait_until(Duration::from_secs(60), || users_of(&m.master.workers())
            == [3, 3]),
        "users per worker: {:?}\n{}",
        users_of(&m.master.workers()),
        logs(dir.path())
    );
    w1.kill_9();
    let killed = Instant::now();
    let state_of = |id: &str| {
        m.master
            .workers()
            .into_iter()
            .find(|w| w.id == id)
            .map(|w| w.state)
    };
    assert!(
        wait_until(Duration::from_secs(10), || state_of(&first)
            == Some(WorkerState::Missing)),
        "never marked missing: {:?}",
        m.master.workers()
    );
    let missing_after = killed.elapsed();
    assert!(
        missing_after <= Duration::from_secs(5),
        "missing after {missing_after:?}"
    );
    assert_eq!(m.master.worker_count(), 1);
    let moved = wait_until(Duration::from_secs(10), || {
        m.master
            .workers()
            .iter()
            .any(|w| w.id != first && w.user_count == 6)
    });
    assert!(
        moved,
        "users not moved: {:?}\n{}",
        m.master.workers(),
        logs(dir.path())
    );
    let code = m.join(Duration::from_secs(60));
    assert_eq!(
        code,
        0,
        "the test goes on and ends normally\n{}",
        logs(dir.path())
    );
    let rows = csv(&prefix, "stats");
    assert!(stats_row(&rows, "GET", "/py").is_some(), "{rows:?}");
    assert!(
        w2.wait_exit(Duration::from_secs(20)).is_some(),
        "w2 did not exit after quit\n{}",
        logs(dir.path())
    );
}
