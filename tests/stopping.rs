//! How a test stops: a runaway loop is cancelled (also once `--stop-timeout` expires), running
//! tasks may finish within `--stop-timeout` and are cancelled without it, every user's on_stop runs,
//! and no request reaches the target once the run is over.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{cmd, csv, scenario, spawn, stats_row, Target};

/// Run to the end; returns the run and the instant its exit was seen.
fn run_until_exit(c: Command, limit: Duration) -> (common::Run, Instant) {
    let p = spawn(c);
    let r = p.wait(limit);
    (r, Instant::now())
}

fn seconds(a: Instant, b: Instant) -> f64 {
    if b >= a {
        (b - a).as_secs_f64()
    } else {
        -(a - b).as_secs_f64()
    }
}

const SPIN: &str = r#"
user("U", #{ tasks: ["spin"] });
fn spin() { this.client.get("/spin"); let x = 0; loop { x += 1; } }
"#;

#[test]
fn runaway_loop_ends_when_the_test_stops() {
    let t = Target::start();
    let sc = scenario(SPIN);
    let prefix = sc.dir.path().join("run");
    let started = Instant::now();
    let (r, exited) = run_until_exit(
        cmd(
            &sc,
            &t,
            &[
                "--threads",
                "1",
                "-u",
                "1",
                "-t",
                "2s",
                "--csv",
                prefix.to_str().unwrap(),
            ],
        ),
        Duration::from_secs(30),
    );
    let took = seconds(started, exited);
    assert!(
        took < 6.5,
        "a 2 s run with a runaway loop took {took:.1} s: {}",
        r.stderr
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.seen.count("/spin"), 1);
    let stats = csv(&prefix, "stats");
    let row = stats_row(&stats, "GET", "/spin").expect("GET /spin row");
    assert_eq!(row["Request Count"], "1");
    let agg = stats_row(&stats, "", "Aggregated").expect("Aggregated row");
    assert_eq!(agg["Request Count"], "1");
    let hist = csv(&prefix, "stats_history");
    assert!(
        hist.len() >= 3,
        "history was not written while the worker spun: {hist:?}"
    );
}

#[test]
fn runaway_loop_is_cancelled_when_the_stop_timeout_expires() {
    let t = Target::start();
    let sc = scenario(SPIN);
    let started = Instant::now();
    let (r, exited) = run_until_exit(
        cmd(
            &sc,
            &t,
            &[
                "--threads",
                "1",
                "-u",
                "1",
                "-t",
                "1s",
                "--stop-timeout",
                "2s",
            ],
        ),
        Duration::from_secs(30),
    );
    let took = seconds(started, exited);
    // 1 s of run time, then the whole 2 s stop timeout (the loop never finishes), then cancelled.
    assert!((2.8..8.0).contains(&took), "took {took:.1} s: {}", r.stderr);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.seen.count("/spin"), 1);
}

const START_SLEEP_END: &str = r#"
user("U", #{ tasks: ["work"] });
fn work() { this.client.get("/start"); sleep(global::NAP); this.client.get("/end"); }
"#;

#[test]
fn stop_timeout_lets_running_tasks_finish() {
    let t = Target::start();
    let sc = scenario(&format!("const NAP = 1.5;\n{START_SLEEP_END}"));
    let (r, exited) = run_until_exit(
        cmd(
            &sc,
            &t,
            &["-u", "3", "-r", "100", "-t", "1s", "--stop-timeout", "3s"],
        ),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let (starts, ends) = (t.seen.times("/start"), t.seen.times("/end"));
    assert_eq!(starts.len(), 3, "one task per user before the stop");
    assert_eq!(ends.len(), starts.len(), "every started task finished");
    // The tasks ran past the 1 s stop, and the process left as soon as they were done, without
    // waiting out the 3 s stop timeout.
    let last_end = *ends.iter().max().unwrap();
    assert!(seconds(starts[0], last_end) >= 1.4, "tasks ended early");
    let lag = seconds(last_end, exited);
    assert!(
        lag < 1.5,
        "exit came {lag:.2} s after the last task finished"
    );
}

#[test]
fn without_stop_timeout_running_tasks_are_cancelled() {
    let t = Target::start();
    let sc = scenario(&format!("const NAP = 3;\n{START_SLEEP_END}"));
    let (r, exited) = run_until_exit(
        cmd(&sc, &t, &["-u", "3", "-r", "100", "-t", "1s"]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let starts = t.seen.times("/start");
    assert_eq!(starts.len(), 3, "one task per user before the stop");
    let took = seconds(starts[0], exited);
    assert!(
        took < 2.5,
        "exit {took:.2} s after the tasks started: they were not cancelled"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(t.seen.count("/end"), 0, "a cancelled task went on");
}

#[test]
fn on_stop_runs_once_per_user_at_the_end() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), on_stop: "bye", tasks: ["work"] });
fn work() { this.client.get("/t"); sleep(0.3); }
fn bye() { this.client.get("/bye"); }
"#,
    );
    let (r, _) = run_until_exit(
        cmd(&sc, &t, &["-u", "4", "-r", "100", "-t", "2s"]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        t.seen.count("/t") >= 8,
        "users did not run: {} /t",
        t.seen.count("/t")
    );
    assert_eq!(t.seen.count("/bye"), 4, "on_stop once per user");
}

#[test]
fn no_request_reaches_the_target_after_the_run() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ tasks: ["hit"] });
fn hit() { this.client.get("/h"); }
"#,
    );
    let (r, _) = run_until_exit(
        cmd(&sc, &t, &["-u", "5", "-r", "100", "-t", "2s"]),
        Duration::from_secs(30),
    );
    let at_exit = t.seen.total();
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(at_exit >= 100, "only {at_exit} requests");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        t.seen.total(),
        at_exit,
        "requests arrived after the process exited"
    );
    let h = t.seen.times("/h");
    let span = seconds(h[0], *h.last().unwrap());
    assert!(
        span < 3.0,
        "requests went on {span:.2} s after the first one in a 2 s run"
    );
}

#[test]
fn stop_timeout_lets_an_in_flight_request_finish() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ tasks: ["work"] });
fn work() { this.client.get("/slow?ms=2000"); this.client.get("/after"); }
"#,
    );
    let prefix = sc.dir.path().join("run");
    let (r, _) = run_until_exit(
        cmd(
            &sc,
            &t,
            &[
                "-u",
                "2",
                "-r",
                "100",
                "-t",
                "1s",
                "--stop-timeout",
                "5s",
                "--csv",
                prefix.to_str().unwrap(),
            ],
        ),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.seen.count("/slow"), 2);
    assert_eq!(t.seen.count("/after"), 2, "the tasks did not finish");
    let stats = csv(&prefix, "stats");
    let slow = stats_row(&stats, "GET", "/slow?ms=2000").expect("GET /slow?ms=2000 row");
    assert_eq!(slow["Request Count"], "2");
    let median: f64 = slow["Median Response Time"].parse().unwrap();
    assert!(median >= 1900.0, "median {median} ms for a 2 s response");
}
