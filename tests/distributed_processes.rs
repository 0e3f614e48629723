//! `--processes N` (local worker processes of the same binary) and `--master-secret`, with the
//! real binary on 127.0.0.1: the master's CSV counts what the target saw and every child ran
//! users; children die with a `kill -9`'d parent; `--worker --processes` supervises and forwards
//! signals; bad values are refused; a master with a secret admits only workers that know it.

mod common;

use std::time::{Duration, Instant};

use std::process::Command;

use common::{
    bin, count_of, csv, csv_row, free_port, locust_master, run, scenario, spawn, stats_row,
    stub_dir, text_of, wait_until, Scenario, Target,
};

/// Each worker requests its own path, so the target tells which workers ran users.
const SCENARIO: &str = r#"
user("MyUser", #{ wait_time: constant(0.2), tasks: ["t"] });
fn t() { this.client.get("/w" + worker_index()); }
"#;

/// The direct children of `pid`, from /proc (every thread's list).
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut kids: Vec<i32> = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    kids.sort_unstable();
    kids.dedup();
    kids
}

/// Running: a /proc entry that is not a zombie (an orphan zombie waits for init, which in a
/// container may never reap it; it runs nothing).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// `rustlocust <scenario> --headless --only-summary -H <target>`, a master on 127.0.0.1:`port`
/// (`--master` itself, or implied by `--processes`, is in `args`).
fn master_cmd(sc: &Scenario, port: &str, target: &Target, args: &[&str]) -> Command {
    let mut c = bin();
    c.arg(&sc.path)
        .args(["--headless", "--only-summary", "-H", &target.url()])
        .args([
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            port,
        ])
        .args(args);
    c
}

/// `rustlocust <scenario> --worker --master-port <port>` with `args`.
fn worker_cmd(sc: &Scenario, port: &str, args: &[&str]) -> Command {
    let mut c = bin();
    c.arg(&sc.path)
        .args(["--worker", "--master-port", port])
        .args(args);
    c
}

#[test]
fn a_headless_run_with_two_local_worker_processes() {
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port().to_string();
    let prefix = sc.dir.path().join("p");
    let mut cmd = master_cmd(&sc, &port, &target, &["--processes", "2"]);
    cmd.args(["-u", "20", "-r", "20", "-t", "4s", "--csv"])
        .arg(&prefix);
    let r = run(cmd, Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}", r.all());
    let stats = csv(&prefix, "stats");
    let mut total_seen = 0;
    for w in ["/w0", "/w1"] {
        let seen = target.seen.count(w);
        // 10 users per worker at ~5 requests/s for ~4 s.
        assert!(seen > 50, "worker {w} ran no users: the target saw {seen}");
        let row = stats_row(&stats, "GET", w).expect("a row per worker's path");
        let counted = count_of(&row, "Request Count");
        // Users stopped mid-request (no stop timeout) are seen by the target, never recorded.
        assert!(
            counted <= seen && seen - counted <= 10,
            "{w}: master counted {counted}, target saw {seen}\n{}",
            r.all()
        );
        total_seen += seen;
    }
    let agg = stats_row(&stats, "", "Aggregated").expect("an Aggregated row");
    let counted = count_of(&agg, "Request Count");
    assert!(
        counted <= total_seen && total_seen - counted <= 20,
        "Aggregated {counted}, target saw {total_seen}"
    );
    assert_eq!(
        target.seen.total(),
        total_seen,
        "requests from outside the two workers"
    );
}

#[test]
fn children_die_with_a_killed_parent() {
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port().to_string();
    let args = ["--processes", "2", "-u", "4", "-r", "4", "-t", "120s"];
    let parent = spawn(master_cmd(&sc, &port, &target, &args));
    let pid = parent.pid();
    let started = wait_until(Duration::from_secs(40), || {
        target.seen.count("/w0") > 0 && target.seen.count("/w1") > 0
    });
    assert!(started, "the local workers never sent load");
    let kids = children_of(pid);
    assert_eq!(kids.len(), 2, "children of {pid}: {kids:?}");
    assert!(kids.iter().all(|&k| alive(k)));
    parent.signal(libc::SIGKILL);
    let killed = Instant::now();
    let gone = wait_until(Duration::from_secs(5), || kids.iter().all(|&k| !alive(k)));
    assert!(
        gone,
        "children {kids:?} still alive {:?} after their parent's kill -9",
        killed.elapsed()
    );
    // And the load stops: nothing new reaches the target a moment later.
    std::thread::sleep(Duration::from_millis(300));
    let before = target.seen.total();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        target.seen.total(),
        before,
        "load goes on without the parent"
    );
}

#[test]
fn worker_processes_under_a_separate_master() {
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port().to_string();
    let args = [
        "--master",
        "--expect-workers",
        "2",
        "--expect-workers-max-wait",
        "40s",
    ];
    let mut master = master_cmd(&sc, &port, &target, &args);
    master.args(["-u", "6", "-r", "6", "-t", "3s"]);
    let master = spawn(master);
    let workers = spawn(worker_cmd(&sc, &port, &["--processes", "2"]));
    let m = master.wait(Duration::from_secs(60));
    assert_eq!(m.code, 0, "master:\n{}", m.all());
    let w = workers.wait(Duration::from_secs(20));
    assert_eq!(w.code, 0, "the supervisor after quit:\n{}", w.all());
    assert!(target.seen.count("/w0") > 0 && target.seen.count("/w1") > 0);
}

#[test]
fn a_supervisor_forwards_sigterm_and_its_children_exit() {
    let sc = scenario(SCENARIO);
    // No master: the workers keep looking for one until told to stop.
    let port = free_port().to_string();
    let sup = spawn(worker_cmd(&sc, &port, &["--processes", "2"]));
    let pid = sup.pid();
    let both = wait_until(Duration::from_secs(20), || children_of(pid).len() == 2);
    assert!(both, "children of {pid}: {:?}", children_of(pid));
    let kids = children_of(pid);
    // Give the children time to install their signal handlers.
    std::thread::sleep(Duration::from_secs(1));
    sup.signal(libc::SIGTERM);
    let r = sup.wait(Duration::from_secs(20));
    assert!(
        r.stderr.contains("forwarding signal"),
        "exit {}: {}",
        r.code,
        r.all()
    );
    assert!(kids.iter().all(|&k| !alive(k)), "children {kids:?} left");
}

#[test]
fn bad_process_counts_are_refused() {
    let sc = scenario(SCENARIO);
    let refused = |vars: &[(&str, &str)], args: &[&str], message: &str| {
        let mut cmd = bin();
        cmd.envs(vars.iter().copied())
            .arg(&sc.path)
            .args(["--headless", "-t", "1s"])
            .args(args);
        let r = run(cmd, Duration::from_secs(20));
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    };
    let many = "expected 1 or more worker processes";
    refused(&[], &["--processes", "0"], many);
    refused(&[], &["--processes", "-2"], many);
    let number = "expected a whole number of worker processes";
    refused(&[], &["--processes", "two"], number);
    let master = "--master cannot be combined with --processes";
    refused(&[], &["--processes", "2", "--master"], master);
    refused(
        &[],
        &["--processes", "2", "--master-secret", " "],
        "the secret is empty",
    );
    let from_env = "for --processes from environment variable LOCUST_PROCESSES";
    refused(&[("LOCUST_PROCESSES", "-5")], &[], from_env);
}

#[test]
fn local_workers_get_the_secret_and_join_a_master_that_has_one() {
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port().to_string();
    let args = ["--processes", "1", "--expect-workers-max-wait", "30s"];
    let mut cmd = master_cmd(&sc, &port, &target, &args);
    cmd.env("RUSTLOCUST_MASTER_SECRET", "s3cret")
        .args(["-u", "2", "-r", "2", "-t", "2s"]);
    let r = run(cmd, Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(target.seen.count("/w0") > 0, "{}", r.all());
    assert!(!r.all().contains("s3cret"), "the secret was printed");
}

#[test]
fn a_master_with_a_secret_refuses_workers_without_it() {
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port().to_string();
    let args = ["--master", "--expect-workers-max-wait", "5s"];
    let mut master = master_cmd(&sc, &port, &target, &args);
    master.args(["--master-secret", "right", "-u", "2", "-t", "2s"]);
    let master = spawn(master);
    let mut wrong = worker_cmd(&sc, &port, &[]);
    wrong.env("RUSTLOCUST_MASTER_SECRET", "wrong");
    let workers = [spawn(wrong), spawn(worker_cmd(&sc, &port, &[]))];
    let m = master.wait(Duration::from_secs(40));
    // Too few workers within --expect-workers-max-wait is an error (exit 2).
    assert_eq!(m.code, 2, "{}", m.all());
    assert!(
        m.stderr.contains("0 of 1 connected"),
        "the master counted a worker:\n{}",
        m.stderr
    );
    assert!(
        m.stderr.contains("presented a wrong master secret"),
        "{}",
        m.stderr
    );
    assert!(m.stderr.contains("has not proven it"), "{}", m.stderr);
    assert!(!m.stderr.contains("panicked"), "{}", m.stderr);
    assert_eq!(target.seen.total(), 0);
    drop(workers);
}

#[test]
fn a_master_without_a_secret_ignores_a_workers_proof() {
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port().to_string();
    let args = ["--master", "--expect-workers-max-wait", "30s"];
    let mut master = master_cmd(&sc, &port, &target, &args);
    master.args(["-u", "2", "-r", "2", "-t", "2s"]);
    let master = spawn(master);
    let mut w = worker_cmd(&sc, &port, &[]);
    w.env("RUSTLOCUST_MASTER_SECRET", "unneeded");
    let w = spawn(w);
    let m = master.wait(Duration::from_secs(40));
    assert_eq!(m.code, 0, "{}", m.all());
    assert!(target.seen.count("/w0") > 0);
    assert_eq!(w.wait(Duration::from_secs(20)).code, 0);
}

/// The class a Locust master dispatches: the scenario's name, nothing else.
const LOCUST_STUB: &str = r#"
from locust import User, task, constant

class MyUser(User):
    wait_time = constant(1)

    @task
    def nothing(self):
        pass
"#;

#[test]
fn a_locust_master_tolerates_a_worker_with_a_secret() {
    let Some(dir) = stub_dir(
        "a_locust_master_tolerates_a_worker_with_a_secret",
        LOCUST_STUB,
    ) else {
        return;
    };
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port();
    let mut master = locust_master(dir.path(), port, "2", "4s", "s");
    let mut w = worker_cmd(&sc, &port.to_string(), &["-H", &target.url()]);
    w.env("RUSTLOCUST_MASTER_SECRET", "s3cret");
    let worker = spawn(w);
    let status = master.wait_exit(Duration::from_secs(60));
    let log = text_of(dir.path(), &format!("master-{port}.log"));
    assert!(status.is_some(), "the master did not exit; its log:\n{log}");
    let r = worker.wait(Duration::from_secs(15));
    assert_eq!(r.code, 0, "the worker after quit:\n{}\n{log}", r.all());
    // The proof was an unknown message to it, nothing worse; the test ran.
    assert!(log.contains("rustlocust_auth"), "{log}");
    assert!(!log.contains("Traceback"), "{log}");
    let stats = text_of(dir.path(), "s_stats.csv");
    let counted: u64 = csv_row(&stats, "GET", "/w0")
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let seen = target.seen.count("/w0");
    assert!(seen > 10, "the target saw only {seen}\n{log}");
    assert!(
        seen.abs_diff(counted) <= 2,
        "master counted {counted}, target saw {seen}"
    );
}

#[test]
fn a_master_whose_local_workers_all_died_gives_up() {
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port().to_string();
    // It waits for 2 workers and starts only 1: killing that one leaves it nothing to wait for.
    let args = [
        "--processes",
        "1",
        "--expect-workers",
        "2",
        "-u",
        "2",
        "-t",
        "5s",
    ];
    let parent = spawn(master_cmd(&sc, &port, &target, &args));
    let pid = parent.pid();
    let started = wait_until(Duration::from_secs(20), || children_of(pid).len() == 1);
    assert!(started, "children of {pid}: {:?}", children_of(pid));
    let child = children_of(pid)[0];
    assert_eq!(unsafe { libc::kill(child, libc::SIGKILL) }, 0);
    let r = parent.wait(Duration::from_secs(30));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("failed: signal: 9"), "{}", r.stderr);
    assert!(
        r.stderr.contains("all 1 local worker processes exited"),
        "{}",
        r.stderr
    );
}
