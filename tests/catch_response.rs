//! `catch_response: true` lets the script decide: a 404 marked `success()` is a success (no failure
//! row, exit 0); a 200 marked `failure("bad body")` is a failure reported as
//! `CatchResponseError('bad body')` in `_failures.csv`; the last verdict wins; without a verdict the
//! status decides; and `success()` without `catch_response` is an exception (in `_exceptions.csv`)
//! naming the script line, while the request itself still counts.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{bin, count_of, csv, run, scenario, stats_row, Run, Target};

/// Runs `tasks_src` (function bodies; the class runs task `t`) with 2 users for 2 s.
fn run_scenario(t: &Target, tasks_src: &str) -> (Run, PathBuf, common::Scenario) {
    let s = scenario(&format!(
        r#"user("U", #{{
    host: "{}",
    wait_time: constant(0.01),
    tasks: ["t"],
}});
{tasks_src}
"#,
        t.url()
    ));
    let prefix = s.dir.path().join("run");
    let mut cmd = bin();
    cmd.arg(&s.path)
        .args(["--headless", "-u", "2", "-r", "50", "-t", "2s", "--csv"])
        .arg(&prefix);
    (run(cmd, Duration::from_secs(40)), prefix, s)
}

/// (requests, failures) of a `_stats.csv` row, checked against what the target saw.
fn counts(t: &Target, prefix: &Path, method: &str, name: &str, path: &str) -> (u64, u64) {
    let rows = csv(prefix, "stats");
    let row = stats_row(&rows, method, name)
        .unwrap_or_else(|| panic!("no row {method} {name}: {rows:?}"));
    let (n, f) = (
        count_of(&row, "Request Count"),
        count_of(&row, "Failure Count"),
    );
    let seen = t.seen.count(path);
    assert!(
        n <= seen && seen <= n + 2,
        "{name}: reported {n}, target saw {seen}"
    );
    assert!(n >= 20, "{name}: only {n} requests");
    (n, f)
}

#[test]
fn not_found_marked_success_is_a_success() {
    let t = Target::start();
    let (r, prefix, _s) = run_scenario(
        &t,
        r#"fn t() {
    let r = this.client.get("/status/404", #{ catch_response: true });
    if r.status_code == 404 { r.success(); }
}"#,
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let (_, f) = counts(&t, &prefix, "GET", "/status/404", "/status/404");
    assert_eq!(f, 0);
    let failures = csv(&prefix, "failures");
    assert_eq!(failures.len(), 1, "no failure rows: {failures:?}");
    assert_eq!(csv(&prefix, "exceptions").len(), 1, "no exceptions");
}

#[test]
fn ok_marked_failure_is_a_failure_with_its_message() {
    let t = Target::start();
    let (r, prefix, _s) = run_scenario(
        &t,
        r#"fn t() {
    let r = this.client.get("/json", #{ catch_response: true });
    if r.json().status == "ERROR" { r.failure("bad body"); }
}"#,
    );
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let (n, f) = counts(&t, &prefix, "GET", "/json", "/json");
    assert_eq!(f, n, "every sample was marked a failure");
    let failures = csv(&prefix, "failures");
    assert_eq!(failures.len(), 2, "one failure row: {failures:?}");
    assert_eq!(failures[0][..4], ["Method", "Name", "Error", "Occurrences"]);
    assert_eq!(
        failures[1][..3],
        ["GET", "/json", "CatchResponseError('bad body')"]
    );
    assert_eq!(failures[1][3].parse::<u64>().unwrap(), n);
}

#[test]
fn last_verdict_wins() {
    let t = Target::start();
    let (r, prefix, _s) = run_scenario(
        &t,
        r#"fn t() {
    let a = this.client.get("/a", #{ catch_response: true });
    a.failure("first");
    a.success();
    let b = this.client.get("/status/404", #{ catch_response: true });
    b.success();
    b.failure("second");
}"#,
    );
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let (_, fa) = counts(&t, &prefix, "GET", "/a", "/a");
    assert_eq!(fa, 0, "/a ended with success()");
    let (nb, fb) = counts(&t, &prefix, "GET", "/status/404", "/status/404");
    assert_eq!(fb, nb, "/status/404 ended with failure()");
    let failures = csv(&prefix, "failures");
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(failures[1][2], "CatchResponseError('second')");
}

#[test]
fn without_verdict_the_status_decides() {
    let t = Target::start();
    let (r, prefix, _s) = run_scenario(
        &t,
        r#"fn t() {
    let good = this.client.get("/fine", #{ catch_response: true });
    let bad = this.client.get("/status/500", #{ catch_response: true });
}"#,
    );
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let (_, f_good) = counts(&t, &prefix, "GET", "/fine", "/fine");
    assert_eq!(f_good, 0);
    let (n_bad, f_bad) = counts(&t, &prefix, "GET", "/status/500", "/status/500");
    assert_eq!(f_bad, n_bad);
    let failures = csv(&prefix, "failures");
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(
        failures[1][..3],
        [
            "GET",
            "/status/500",
            "HTTPError('500 Server Error: Internal Server Error for url: /status/500')"
        ]
    );
}

#[test]
fn success_without_catch_response_is_an_exception_naming_the_line() {
    let t = Target::start();
    let (r, prefix, _s) = run_scenario(
        &t,
        r#"fn t() {
    let r = this.client.get("/plain");
    r.success();
    this.client.get("/after");
}"#,
    );
    assert_eq!(
        r.code, 1,
        "an exception makes the exit code 1\nstderr:\n{}",
        r.stderr
    );
    // The request itself was a plain success; the task stopped at the error.
    let (n, f) = counts(&t, &prefix, "GET", "/plain", "/plain");
    assert_eq!(f, 0);
    assert_eq!(t.seen.count("/after"), 0, "the task stops at the error");
    let ex = csv(&prefix, "exceptions");
    assert_eq!(ex[0], ["Count", "Message", "Traceback", "Nodes"]);
    assert_eq!(ex.len(), 2, "one exception row: {ex:?}");
    let count: u64 = ex[1][0].parse().unwrap();
    // One exception per task run; the last run may have been cancelled at its request.
    assert!(
        count + 2 >= n && count <= n,
        "exceptions {count}, requests {n}"
    );
    let msg = &ex[1][1];
    assert!(msg.contains("catch_response"), "message: {msg}");
    // `r.success()` is on line 8 of the file (the user() declaration takes 5 lines).
    assert!(
        msg.contains("scenario.rhai:8:"),
        "message should name scenario.rhai:8: {msg}"
    );
    let failures = csv(&prefix, "failures");
    assert_eq!(failures.len(), 1, "no failure rows: {failures:?}");
}
