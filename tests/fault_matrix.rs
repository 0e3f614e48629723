//! The fault matrix (docs/RELIABILITY.md): each row runs the real binary for a few seconds against
//! a hostile server on 127.0.0.1 and checks the four promises the tool makes whatever the system
//! under test does: the run ends on time with the documented exit code, the fault is counted
//! with Locust's error text, peak memory stays bounded, and every report (stats, failures and
//! history CSVs, the HTML report) is complete. Signal rows stop a run whose users are all stuck
//! inside requests that never answer.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::hostile::{Behaviour, Hostile};
use common::{bin, count_of, csv, scenario, spawn, stats_row, wait_until, Proc, Run};

/// Peak RSS allowed for a 3-user run, whatever the server sends (a fresh run peaks near 20 MiB).
const RSS_BOUND_KIB: u64 = 200 * 1024;
/// How long a 3 s run may take to end on a busy machine before the row fails.
const LIMIT: Duration = Duration::from_secs(30);

/// A scenario whose users request `url` as `bad`, with `options` in the request.
fn scenario_for(url: &str, options: &str) -> common::Scenario {
    scenario(&format!(
        r#"user("U", #{{ host: "{url}", wait_time: constant(0.05), tasks: ["t"] }});
fn t() {{
    this.client.get("/bad", #{{ name: "bad"{options} }});
}}
"#
    ))
}

/// What one row observed.
struct Outcome {
    run: Run,
    peak_rss_kib: u64,
    took: Duration,
}

/// Peak resident memory of `pid` so far (VmHWM), in KiB; 0 once it is gone.
fn peak_rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Waits for `p` to exit within `LIMIT`, sampling its peak RSS on the way.
fn watch(mut p: Proc) -> Outcome {
    let pid = p.pid();
    let start = Instant::now();
    let mut peak = 0;
    while !p.exited() && start.elapsed() < LIMIT {
        peak = peak.max(peak_rss_kib(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = p.wait(Duration::from_secs(1));
    Outcome {
        run,
        peak_rss_kib: peak,
        took: start.elapsed(),
    }
}

fn command(sc: &common::Scenario, args: &[&str]) -> std::process::Command {
    let mut c = bin();
    c.arg(&sc.path)
        .args(["--headless", "--only-summary", "-u", "3", "-r", "100"])
        .arg("--csv")
        .arg(sc.prefix())
        .arg("--html")
        .arg(sc.dir.path().join("report.html"))
        .args(args);
    c
}

/// The reports are all there and agree: a `bad` row with `requests` samples, all failed as
/// `error`; an Aggregated row; a history row per second or so; an HTML report naming the row.
fn assert_reports_complete(dir: &Path, prefix: &Path, error: &str, at_least: u64) {
    let stats = csv(prefix, "stats");
    let row = stats_row(&stats, "GET", "bad").unwrap_or_else(|| panic!("no bad row: {stats:?}"));
    let (n, f) = (
        count_of(&row, "Request Count"),
        count_of(&row, "Failure Count"),
    );
    assert!(n >= at_least, "only {n} requests of bad");
    assert_eq!(f, n, "every request of bad failed");
    let agg = stats_row(&stats, "", "Aggregated").expect("an Aggregated row");
    assert_eq!(count_of(&agg, "Request Count"), n);

    let failures = csv(prefix, "failures");
    let texts: Vec<&str> = failures.iter().skip(1).map(|r| r[2].as_str()).collect();
    assert!(
        texts.iter().any(|t| t.contains(error)),
        "no failure with {error:?}: {texts:?}"
    );
    let counted: u64 = failures
        .iter()
        .skip(1)
        .map(|r| r[3].parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, f, "failure rows add up to the failure count");

    let history = csv(prefix, "stats_history");
    assert!(
        history.len() >= 3,
        "history has {} rows: {history:?}",
        history.len() - 1
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("the HTML report");
    assert!(html.contains("bad"), "the HTML report lists the row");
}

/// Runs one row: 3 users for 3 s against `behaviour`, each request failing with `error`.
fn row(behaviour: Behaviour, options: &str, error: &str, at_least: u64) {
    let server = Hostile::start(behaviour);
    let sc = scenario_for(&server.url(), options);
    let o = watch(spawn(command(&sc, &["-t", "3s"])));
    let what = format!("{behaviour:?}\n{}", o.run.all());
    assert_eq!(o.run.code, 1, "failures make the exit code 1: {what}");
    assert!(
        o.took < Duration::from_secs(20),
        "took {:?}: {what}",
        o.took
    );
    assert!(
        o.peak_rss_kib > 0 && o.peak_rss_kib < RSS_BOUND_KIB,
        "peak RSS {} KiB: {what}",
        o.peak_rss_kib
    );
    assert_reports_complete(sc.dir.path(), &sc.prefix(), error, at_least);
}

#[test]
fn connection_refused() {
    let port = common::free_port();
    let sc = scenario_for(&format!("http://127.0.0.1:{port}"), "");
    let o = watch(spawn(command(&sc, &["-t", "3s"])));
    assert_eq!(o.run.code, 1, "{}", o.run.all());
    assert!(o.peak_rss_kib < RSS_BOUND_KIB);
    assert_reports_complete(
        sc.dir.path(),
        &sc.prefix(),
        "ConnectionRefusedError(111, 'Connection refused')",
        10,
    );
}

#[test]
fn connection_reset() {
    row(
        Behaviour::Reset,
        "",
        "ConnectionResetError(104, 'Connection reset by peer')",
        10,
    );
}

#[test]
fn connection_closed_without_response() {
    row(
        Behaviour::Close,
        "",
        "RemoteDisconnected('Remote end closed connection without response')",
        10,
    );
}

#[test]
fn server_never_answers() {
    row(Behaviour::Hang, ", timeout: 0.5", "ReadTimeout(", 3);
}

#[test]
fn server_errors() {
    row(
        Behaviour::Status(503),
        "",
        "HTTPError('503 Server Error",
        10,
    );
}

#[test]
fn malformed_response() {
    row(Behaviour::Malformed, "", "ConnectionError(", 10);
}

#[test]
fn body_dripping_slower_than_the_timeout() {
    row(Behaviour::Drip, ", timeout: 0.5", "ReadTimeout(", 3);
}

#[test]
fn redirect_loop() {
    row(
        Behaviour::RedirectLoop,
        "",
        "TooManyRedirects('Exceeded 30 redirects.')",
        3,
    );
}

/// SIGINT or SIGTERM while every user is inside a request that will not be answered for a
/// minute: the process ends within seconds (interrupted requests are not samples) and the
/// reports are complete, with the requests that did finish.
fn signal_with_users_stuck_in_requests(sig: i32) {
    let good = Hostile::start(Behaviour::Status(200));
    let hang = Hostile::start(Behaviour::Hang);
    let sc = scenario(&format!(
        r#"user("U", #{{ host: "{}", wait_time: constant(0), tasks: ["t"] }});
fn t() {{
    this.client.get("{}/good", #{{ name: "good" }});
    this.client.get("{}/hang", #{{ name: "hang", timeout: 60 }});
}}
"#,
        good.url(),
        good.url(),
        hang.url()
    ));
    let p = spawn(command(&sc, &[]));
    let pid = p.pid();
    assert!(
        wait_until(Duration::from_secs(20), || hang
            .accepted
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 3),
        "the users never reached the hanging request"
    );
    std::thread::sleep(Duration::from_millis(1500));
    p.signal(sig);
    let signalled = Instant::now();
    let o = watch(p);
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "exit took {:?} after signal {sig}",
        o.took
    );
    assert_eq!(o.run.code, 0, "pid {pid}: {}", o.run.all());
    let stats = csv(&sc.prefix(), "stats");
    let good_row = stats_row(&stats, "GET", "good").expect("the good row");
    assert_eq!(count_of(&good_row, "Request Count"), 3, "{stats:?}");
    assert!(
        stats_row(&stats, "GET", "hang").is_none(),
        "interrupted requests are not samples: {stats:?}"
    );
    assert!(stats_row(&stats, "", "Aggregated").is_some());
    assert!(csv(&sc.prefix(), "stats_history").len() >= 2);
    assert!(sc.dir.path().join("report.html").is_file());
}

#[test]
fn sigint_with_users_stuck_in_requests() {
    signal_with_users_stuck_in_requests(libc::SIGINT);
}

#[test]
fn sigterm_with_users_stuck_in_requests() {
    signal_with_users_stuck_in_requests(libc::SIGTERM);
}
