//! Failures are counted with Locust's error text and the run goes on, without a crash: a port with
//! no listener (`ConnectionRefusedError`), request timeouts, 5xx responses (`HTTPError`), a server
//! that closes or resets every connection, a runtime error inside a task (an exception entry with
//! count, message, `scenario.rhai:LINE:COL` and traceback; the user keeps going) and an error in
//! `on_start` (only that user stops; the others keep sending).

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::hostile::{Behaviour, Hostile};
use common::{bin, count_of, csv, run, scenario, stats_row, Run, Target};

const LIMIT: Duration = Duration::from_secs(40);

/// Runs the scenario source with `args` and `--csv`; returns the run and the CSV prefix.
fn run_src(src: &str, args: &[&str]) -> (Run, PathBuf, common::Scenario) {
    let s = scenario(src);
    let prefix = s.dir.path().join("run");
    let mut cmd = bin();
    cmd.arg(&s.path)
        .arg("--headless")
        .args(args)
        .arg("--csv")
        .arg(&prefix);
    (run(cmd, LIMIT), prefix, s)
}

/// The one `_failures.csv` row for `name`: (error, occurrences).
fn failure_row(prefix: &Path, name: &str) -> (String, u64) {
    let rows = csv(prefix, "failures");
    let mine: Vec<_> = rows.iter().skip(1).filter(|r| r[1] == name).collect();
    assert_eq!(mine.len(), 1, "one failure row for {name}: {rows:?}");
    (mine[0][2].clone(), mine[0][3].parse().unwrap())
}

/// (requests, failures) of a `_stats.csv` row.
fn stat(prefix: &Path, method: &str, name: &str) -> (u64, u64) {
    let rows = csv(prefix, "stats");
    let row = stats_row(&rows, method, name)
        .unwrap_or_else(|| panic!("no row {method} {name}: {rows:?}"));
    (
        count_of(&row, "Request Count"),
        count_of(&row, "Failure Count"),
    )
}

/// A port on 127.0.0.1 with no listener.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// A scenario whose task requests `bad_url` (absolute) and then reports to the target what it got:
/// `/after/{status}/{ok}`. The second request shows the task goes on after a failure.
fn failing_then_reporting(target: &Target, bad_url: &str, options: &str) -> String {
    format!(
        r#"user("U", #{{
    host: "{host}",
    wait_time: constant(0.01),
    tasks: ["t"],
}});
fn t() {{
    let r = this.client.get("{bad_url}", #{{ name: "bad"{options} }});
    this.client.get(`/after/${{r.status}}/${{r.ok}}`);
}}
"#,
        host = target.url()
    )
}

/// Failures of `bad` == requests of `bad`; `/after/0/false` was reached about as often.
fn assert_all_failed_and_went_on(t: &Target, prefix: &Path, min: u64, after_path: &str) -> u64 {
    let (n, f) = stat(prefix, "GET", "bad");
    assert!(n >= min, "only {n} requests");
    assert_eq!(f, n, "every request failed");
    let after = t.seen.count(after_path);
    assert!(
        after + 2 >= n && after <= n,
        "{after_path}: {after} after {n} failures"
    );
    let agg = stats_row(&csv(prefix, "stats"), "", "Aggregated").unwrap();
    assert_eq!(count_of(&agg, "Failure Count"), f);
    n
}

#[test]
fn connection_refused() {
    let t = Target::start();
    let port = closed_port();
    let src = failing_then_reporting(&t, &format!("http://127.0.0.1:{port}/x"), "");
    let (r, prefix, _s) = run_src(&src, &["-u", "2", "-r", "50", "-t", "2s"]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let n = assert_all_failed_and_went_on(&t, &prefix, 20, "/after/0/false");
    let (error, occurrences) = failure_row(&prefix, "bad");
    assert_eq!(error, "ConnectionRefusedError(111, 'Connection refused')");
    assert_eq!(occurrences, n);
}

#[test]
fn request_timeout() {
    let t = Target::start();
    let src = failing_then_reporting(&t, &format!("{}/slow?ms=2000", t.url()), ", timeout: 0.2");
    let (r, prefix, _s) = run_src(&src, &["-u", "2", "-r", "50", "-t", "3s"]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    // Waiting out the 2 s responses would allow at most 4 requests in 3 s.
    let n = assert_all_failed_and_went_on(&t, &prefix, 10, "/after/0/false");
    let (error, occurrences) = failure_row(&prefix, "bad");
    assert!(
        error.starts_with("ReadTimeout(") && error.contains("timeout=0.2"),
        "error: {error}"
    );
    assert_eq!(occurrences, n);
    let rows = csv(&prefix, "stats");
    let avg: f64 = stats_row(&rows, "GET", "bad").unwrap()["Average Response Time"]
        .parse()
        .unwrap();
    assert!(
        (150.0..1000.0).contains(&avg),
        "a timed-out request takes about 200 ms, average {avg}"
    );
}

#[test]
fn server_errors() {
    let t = Target::start();
    let src = failing_then_reporting(&t, &format!("{}/status/503", t.url()), "");
    let (r, prefix, _s) = run_src(&src, &["-u", "2", "-r", "50", "-t", "2s"]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let n = assert_all_failed_and_went_on(&t, &prefix, 20, "/after/503/false");
    let seen = t.seen.count("/status/503");
    assert!(
        n <= seen && seen <= n + 2,
        "reported {n}, target saw {seen}"
    );
    let (error, occurrences) = failure_row(&prefix, "bad");
    assert_eq!(
        error,
        "HTTPError('503 Server Error: Service Unavailable for url: bad')"
    );
    assert_eq!(occurrences, n);
}

#[test]
fn server_errors_default_name() {
    let t = Target::start();
    let src = format!(
        r#"user("U", #{{ host: "{}", wait_time: constant(0.01), tasks: ["t"] }});
fn t() {{ this.client.get("/status/503"); }}
"#,
        t.url()
    );
    let (r, prefix, _s) = run_src(&src, &["-u", "1", "-t", "1s"]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let (n, f) = stat(&prefix, "GET", "/status/503");
    assert!(n >= 10 && f == n, "{n} requests, {f} failures");
    let (error, occurrences) = failure_row(&prefix, "/status/503");
    assert_eq!(
        error,
        "HTTPError('503 Server Error: Service Unavailable for url: /status/503')"
    );
    assert_eq!(occurrences, n);
}

const CONNECTION_ERRORS: [&str; 5] = [
    "ConnectionResetError(104, 'Connection reset by peer')",
    "RemoteDisconnected('Remote end closed connection without response')",
    "BrokenPipeError(32, 'Broken pipe')",
    "ConnectionAbortedError(103, 'Software caused connection abort')",
    "ConnectionError(",
];

fn closing_server(reset: bool) -> Vec<String> {
    let t = Target::start();
    let srv = Hostile::start(Behaviour::Drop { reset });
    let src = failing_then_reporting(&t, &format!("http://127.0.0.1:{}/x", srv.port), "");
    let (r, prefix, _s) = run_src(&src, &["-u", "2", "-r", "50", "-t", "2s"]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let n = assert_all_failed_and_went_on(&t, &prefix, 20, "/after/0/false");
    let accepted = srv.accepted.load(Ordering::SeqCst);
    assert!(
        accepted >= n,
        "{n} requests reported over {accepted} connections"
    );
    let rows = csv(&prefix, "failures");
    let errors: Vec<String> = rows.iter().skip(1).map(|r| r[2].clone()).collect();
    let total: u64 = rows
        .iter()
        .skip(1)
        .map(|r| r[3].parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, n, "failure occurrences add up: {rows:?}");
    for e in &errors {
        assert!(
            CONNECTION_ERRORS.iter().any(|c| e.starts_with(c)),
            "not a connection error: {e}"
        );
    }
    errors
}

#[test]
fn server_closing_connections() {
    let errors = closing_server(false);
    eprintln!("close: {errors:?}");
}

#[test]
fn server_resetting_connections() {
    let errors = closing_server(true);
    eprintln!("reset: {errors:?}");
}

#[test]
fn runtime_error_in_task_is_an_exception_and_the_user_goes_on() {
    let t = Target::start();
    let src = format!(
        r#"user("U", #{{
    host: "{}",
    wait_time: constant(0.01),
    tasks: [task("bad", 1), task("good", 1)],
}});
fn bad() {{
    this.client.get("/before");
    explode();
    this.client.get("/never");
}}
fn explode() {{
    throw "boom";
}}
fn good() {{ this.client.get("/good"); }}
"#,
        t.url()
    );
    let (r, prefix, _s) = run_src(&src, &["-u", "1", "-t", "2s"]);
    assert_eq!(
        r.code, 1,
        "an exception makes the exit code 1\nstderr:\n{}",
        r.stderr
    );
    assert_eq!(t.seen.count("/never"), 0);
    let before = t.seen.count("/before");
    assert!(
        before >= 20,
        "the user stopped after the error: /before {before}"
    );
    assert!(
        t.seen.count("/good") >= 20,
        "/good {}",
        t.seen.count("/good")
    );
    // Requests go on arriving after the first error: /before is spread over the whole log.
    let log = t.seen.log.lock().clone();
    let first = log.iter().position(|p| p == "/before").unwrap();
    let after_first = log[first + 1..]
        .iter()
        .filter(|p| *p == "/good" || *p == "/before")
        .count();
    assert!(
        after_first >= 20,
        "only {after_first} requests after the first error"
    );

    let ex = csv(&prefix, "exceptions");
    assert_eq!(ex.len(), 2, "one exception row: {ex:?}");
    let count: u64 = ex[1][0].parse().unwrap();
    assert!(
        count <= before && count + 1 >= before,
        "{count} exceptions for {before} runs of bad()"
    );
    let (msg, traceback) = (&ex[1][1], &ex[1][2]);
    assert!(msg.contains("boom"), "message: {msg}");
    // `throw` is at line 12, column 5.
    assert!(
        msg.contains("scenario.rhai:12:5"),
        "message should name scenario.rhai:12:5: {msg}"
    );
    assert!(
        traceback.contains("explode") && traceback.contains("bad"),
        "traceback: {traceback}"
    );
    // The failing task did not produce failure rows: its request succeeded.
    assert_eq!(csv(&prefix, "failures").len(), 1);
    let (nb, fb) = stat(&prefix, "GET", "/before");
    assert!(
        fb == 0 && nb <= before && before <= nb + 1,
        "/before reported {nb} ({fb} failed), seen {before}"
    );
}

#[test]
fn error_in_on_start_stops_only_that_user() {
    let t = Target::start();
    let src = format!(
        r#"user("U", #{{
    host: "{}",
    wait_time: constant(0.02),
    on_start: "start",
    tasks: ["work"],
}});
fn start() {{
    let n = this.client.get("/counter/start", #{{ name: "/counter/start" }}).text.parse_int();
    if n == 1 {{ throw "start failed"; }}
    this.n = n;
}}
fn work() {{ this.client.get(`/w/${{this.n}}`); }}
"#,
        t.url()
    );
    let (r, prefix, _s) = run_src(&src, &["-u", "4", "-r", "50", "-t", "2s"]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    assert_eq!(t.seen.count("/counter/start"), 4, "four users started");
    let by_path = t.seen.by_path.lock().clone();
    let w_paths: HashMap<_, _> = by_path
        .into_iter()
        .filter(|(p, _)| p.starts_with("/w/"))
        .collect();
    for n in 2..=4 {
        let c = w_paths.get(&format!("/w/{n}")).copied().unwrap_or(0);
        assert!(c >= 20, "user {n} sent only {c} requests: {w_paths:?}");
    }
    assert_eq!(w_paths.len(), 3, "only users 2..4 run tasks: {w_paths:?}");
    let ex = csv(&prefix, "exceptions");
    assert_eq!(ex.len(), 2, "one exception row: {ex:?}");
    assert_eq!(ex[1][0], "1", "on_start failed once: {ex:?}");
    assert!(
        ex[1][1].contains("start failed") && ex[1][1].contains("scenario.rhai:9:"),
        "{:?}",
        ex[1]
    );
}
