//! Ctrl-C (SIGINT) and SIGTERM during a run without `-t` stop it cleanly: the process exits by
//! itself within seconds, with code 0, and the four CSV files are complete (the final Aggregated
//! row agrees with what the target saw). A second SIGINT cuts a long `--stop-timeout` short and the
//! reports are still written.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, csv, csv_path, scenario, spawn, stats_row, wait_until, Target};

fn count_of(row: &std::collections::HashMap<String, String>) -> u64 {
    row["Request Count"].parse().unwrap()
}

/// Run 3 busy users until `sig`, then check the exit and the reports.
fn stops_cleanly_on(sig: i32) {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: #{ x: 2, y: 1 } });
fn x() { this.client.get("/x"); }
fn y() { this.client.get("/y"); }
"#,
    );
    let prefix = sc.dir.path().join("out").join("run");
    let mut p = spawn(cmd(
        &sc,
        &t,
        &["--csv", prefix.to_str().unwrap(), "-u", "3", "-r", "100"],
    ));
    assert!(
        wait_until(Duration::from_secs(20), || t.seen.total() >= 30),
        "the run did not get going: {} requests",
        t.seen.total()
    );
    // Long enough for a few periodic history rows.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!p.exited(), "the run ended before the signal");
    p.signal(sig);
    let signalled = Instant::now();
    let r = p.wait(Duration::from_secs(15));
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "exit took {took:?} after the signal"
    );
    assert_eq!(r.code, 0, "{}", r.all());

    let stats = csv(&prefix, "stats");
    assert_eq!(
        stats[0][..4],
        ["Type", "Name", "Request Count", "Failure Count"],
        "stats header: {:?}",
        stats[0]
    );
    let last = stats.last().unwrap();
    assert_eq!(last[..2], ["", "Aggregated"], "last stats row: {last:?}");
    let agg = stats_row(&stats, "", "Aggregated").unwrap();
    let (csv_total, server_total) = (count_of(&agg), t.seen.total());
    // Each of the 3 users may have had one request in flight when it was cancelled.
    assert!(
        csv_total <= server_total && server_total - csv_total <= 3,
        "CSV Aggregated count {csv_total}, target saw {server_total}"
    );
    for path in ["/x", "/y"] {
        let row = stats_row(&stats, "GET", path)
            .unwrap_or_else(|| panic!("no GET {path} row: {stats:?}"));
        let (c, s) = (count_of(&row), t.seen.count(path));
        assert!(c <= s && s - c <= 3, "GET {path}: CSV {c}, target {s}");
        assert_eq!(row["Failure Count"], "0");
    }

    let hist = csv(&prefix, "stats_history");
    assert_eq!(hist[0][..2], ["Timestamp", "User Count"]);
    assert!(hist.len() >= 3, "history has {} data rows", hist.len() - 1);
    let final_total: u64 = hist.last().unwrap()[hist[0]
        .iter()
        .position(|h| h == "Total Request Count")
        .unwrap()]
    .parse()
    .unwrap();
    assert_eq!(final_total, csv_total, "last history row vs _stats.csv");

    let failures = csv(&prefix, "failures");
    assert_eq!(
        failures,
        vec![vec![
            "Method",
            "Name",
            "Error",
            "Occurrences",
            "First Seen",
            "Last Seen"
        ]]
    );
    let exceptions = csv(&prefix, "exceptions");
    assert_eq!(
        exceptions,
        vec![vec!["Count", "Message", "Traceback", "Nodes"]]
    );
}

#[test]
fn sigint_writes_complete_reports_and_exits_0() {
    stops_cleanly_on(libc::SIGINT);
}

#[test]
fn sigterm_writes_complete_reports_and_exits_0() {
    stops_cleanly_on(libc::SIGTERM);
}

#[test]
fn second_sigint_cuts_the_stop_timeout_short() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ tasks: ["long"] });
fn long() { this.client.get("/start"); sleep(20); this.client.get("/end"); }
"#,
    );
    let prefix = sc.dir.path().join("run");
    let mut p = spawn(cmd(
        &sc,
        &t,
        &[
            "--csv",
            prefix.to_str().unwrap(),
            "-u",
            "3",
            "-r",
            "100",
            "--stop-timeout",
            "30s",
        ],
    ));
    assert!(
        wait_until(Duration::from_secs(20), || t.seen.count("/start") >= 3),
        "users did not start their tasks: {} /start",
        t.seen.count("/start")
    );
    std::thread::sleep(Duration::from_millis(300));
    p.signal(libc::SIGINT);
    // The first Ctrl-C lets the running tasks finish (up to 30 s): the process stays.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !p.exited(),
        "the first SIGINT did not honour --stop-timeout 30s"
    );
    p.signal(libc::SIGINT);
    let second = Instant::now();
    let r = p.wait(Duration::from_secs(15));
    let took = second.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "exit took {took:?} after the second SIGINT"
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.seen.count("/end"), 0, "cancelled tasks went on");

    let stats = csv(&prefix, "stats");
    let start = stats_row(&stats, "GET", "/start").expect("GET /start row");
    assert_eq!(count_of(&start), 3);
    let agg = stats_row(&stats, "", "Aggregated").expect("Aggregated row");
    assert_eq!(count_of(&agg), 3);
    let hist = csv(&prefix, "stats_history");
    assert!(hist.len() >= 2, "no history rows");
    for kind in ["failures", "exceptions"] {
        assert!(csv_path(&prefix, kind).exists(), "_{kind}.csv missing");
    }
}

#[test]
fn sigint_during_ramp_up_cancels_in_flight_requests() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ tasks: ["wait_long"] });
fn wait_long() { this.client.get("/slow?ms=20000"); this.client.get("/after"); }
"#,
    );
    let prefix = sc.dir.path().join("run");
    // 2 users/s towards 50: the signal comes mid-ramp, with every user inside a 20 s request.
    let p = spawn(cmd(
        &sc,
        &t,
        &["--csv", prefix.to_str().unwrap(), "-u", "50", "-r", "2"],
    ));
    assert!(
        wait_until(Duration::from_secs(20), || t.seen.count("/slow") >= 4),
        "users did not start: {} /slow",
        t.seen.count("/slow")
    );
    p.signal(libc::SIGINT);
    let signalled = Instant::now();
    let r = p.wait(Duration::from_secs(15));
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "exit took {took:?} after the signal"
    );
    assert_eq!(
        r.code,
        0,
        "cancelled requests are not failures: {}",
        r.all()
    );
    let started = t.seen.count("/slow");
    assert!(
        started < 15,
        "the ramp did not stop at the signal: {started} users started"
    );
    assert_eq!(t.seen.count("/after"), 0);
    let stats = csv(&prefix, "stats");
    let agg = stats_row(&stats, "", "Aggregated").expect("Aggregated row");
    assert_eq!(
        count_of(&agg),
        0,
        "cancelled requests were counted: {stats:?}"
    );
    let failures = csv(&prefix, "failures");
    assert_eq!(
        failures.len(),
        1,
        "cancelled requests were reported as failures: {failures:?}"
    );
}

/// A listener still running when the second Ctrl-C arrives is cancelled too, and the reports are
/// still written; the cut is recorded as an exception.
#[test]
fn second_sigint_cancels_a_waiting_test_stop_listener() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["x"] });
fn x() { this.client.get("/x"); }
on("test_stop", |e| { client().get("/listener-start"); sleep(3600); client().get("/listener-end"); });
"#,
    );
    let prefix = sc.dir.path().join("run");
    let mut p = spawn(cmd(
        &sc,
        &t,
        &["--csv", prefix.to_str().unwrap(), "-u", "2", "-r", "100"],
    ));
    assert!(
        wait_until(Duration::from_secs(20), || t.seen.count("/x") >= 5),
        "the run did not get going"
    );
    p.signal(libc::SIGINT);
    assert!(
        wait_until(Duration::from_secs(20), || t.seen.count("/listener-start")
            == 1),
        "the test_stop listener did not start"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!p.exited(), "the process did not wait for the listener");
    p.signal(libc::SIGINT);
    let second = Instant::now();
    let r = p.wait(Duration::from_secs(15));
    assert!(
        second.elapsed() < Duration::from_secs(5),
        "exit took {:?} after the second SIGINT",
        second.elapsed()
    );
    // The cut listener is an exception entry (issue 9): the exit code says the run was cut.
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("listeners of event 'test_stop' cancelled"),
        "{}",
        r.all()
    );
    assert_eq!(t.seen.count("/listener-end"), 0, "the listener went on");
    let stats = csv(&prefix, "stats");
    let agg = stats_row(&stats, "", "Aggregated").expect("Aggregated row");
    assert!(count_of(&agg) >= 5);
}
