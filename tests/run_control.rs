//! Two test runs in one process: each scenario is compiled against its own run control, so roles
//! and `stop_test()` requests never leak from one run to the other (no process-wide statics).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustlocust::run::{RunConfig, TestRun, Tick};
use rustlocust::script::{Role, RoleKind, RunControl, Scenario};

const SCENARIO: &str = r#"
user("U", #{
    wait_time: constant(0.05),
    tasks: [task("t", 1)],
});
fn t() {
    this.client.get(`/role/${runner_role()}/${worker_index()}`);
    if is_worker() { stop_test("the worker stops its own run"); }
}
"#;

fn config(host: &str, control: Arc<RunControl>) -> RunConfig {
    let mut cfg = common::test_run_config(2, 100.0, None, None);
    cfg.scenario_file = PathBuf::from("two_runs.rhai");
    cfg.scenario_options.control = control;
    cfg.load.host = Some(host.to_string());
    cfg.runner.host = Some(host.to_string());
    cfg
}

/// Runs one test on its own thread until it ends by itself or `limit` passes; returns why it
/// ended (None: the limit) and the stats row names it recorded.
fn run_on_thread(
    cfg: RunConfig,
    limit: Duration,
) -> std::thread::JoinHandle<(Option<String>, Vec<String>)> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        tokio::task::LocalSet::new().block_on(&rt, async move {
            let sc = Scenario::from_source(
                "two_runs.rhai",
                SCENARIO,
                std::path::Path::new("."),
                &cfg.scenario_options,
            )
            .expect("scenario compiles");
            let load = cfg.load.clone();
            let mut run = TestRun::new(cfg, Arc::new(sc)).await;
            run.start(load).await.expect("start");
            let deadline = Instant::now() + limit;
            let mut ended = None;
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if let Some(Tick::End(why)) = run.tick().await {
                    ended = Some(why);
                    break;
                }
            }
            run.stop(std::future::pending()).await;
            let names = run.stats.lock().entries().map(|e| e.name.clone()).collect();
            (ended, names)
        })
    })
}

#[test]
fn two_runs_keep_their_own_role_and_stop_request() {
    let target = common::Target::start();
    let worker = RunControl::new(Role {
        kind: RoleKind::Worker,
        worker_index: 2,
        worker_count: 3,
    });
    let local = RunControl::new(Role::default());
    let a = run_on_thread(
        config(&target.url(), worker.clone()),
        Duration::from_secs(20),
    );
    let b = run_on_thread(config(&target.url(), local.clone()), Duration::from_secs(2));
    let (a_end, a_names) = a.join().expect("worker run");
    let (b_end, b_names) = b.join().expect("local run");

    assert_eq!(
        a_end.as_deref(),
        Some("stop_test: the worker stops its own run"),
        "the worker run ends on its own stop_test()"
    );
    assert_eq!(
        b_end, None,
        "the local run never saw the other run's stop_test()"
    );
    assert!(a_names.iter().all(|n| n == "/role/worker/2"), "{a_names:?}");
    assert!(b_names.iter().all(|n| n == "/role/local/0"), "{b_names:?}");
    assert!(!a_names.is_empty() && !b_names.is_empty());
    assert!(target.seen.count("/role/local/0") > 0);
    assert!(target.seen.count("/role/worker/2") > 0);
    assert_eq!(worker.role().kind, RoleKind::Worker);
    assert_eq!(local.role().kind, RoleKind::Local);
}
