//! Every user has its own cookie jar: 24 users on 2 worker threads each set their own `who` cookie
//! (a `uuid()`) in `on_start` through `/cookie/set`, now and then replace it, and check it in a loop
//! through `/cookie/check` (409 unless the request carries exactly that one cookie). The target sees
//! no mismatch, the report no failure, and many checks are done.

mod common;

use std::time::Duration;

use common::{bin, csv, run, scenario, stats_row, Target};

const USERS: u64 = 24;

#[test]
fn each_user_keeps_its_own_cookie() {
    let t = Target::start();
    let s = scenario(&format!(
        r#"user("CookieUser", #{{
    host: "{}",
    wait_time: constant(0.005),
    on_start: "login",
    tasks: [task("check", 9), task("rotate", 1)],
}});
fn login() {{
    this.v = uuid();
    this.client.get(`/user/${{this.v}}`);
    this.client.get(`/cookie/set?v=${{this.v}}`, #{{ name: "/cookie/set" }});
}}
fn check() {{
    this.client.get(`/cookie/check?v=${{this.v}}`, #{{ name: "/cookie/check" }});
}}
fn rotate() {{
    this.v = uuid();
    this.client.get(`/cookie/set?v=${{this.v}}`, #{{ name: "/cookie/set" }});
    this.client.get(`/cookie/check?v=${{this.v}}`, #{{ name: "/cookie/check" }});
}}
"#,
        t.url()
    ));
    let prefix = s.dir.path().join("run");
    let mut cmd = bin();
    cmd.arg(&s.path)
        .args([
            "--headless",
            "-u",
            &USERS.to_string(),
            "-r",
            "100",
            "-t",
            "3s",
            "--threads",
            "2",
            "--csv",
        ])
        .arg(&prefix);
    let r = run(cmd, Duration::from_secs(40));

    let mismatches = t
        .seen
        .cookie_mismatches
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        mismatches, 0,
        "the target saw wrong or shared cookies\nstderr:\n{}",
        r.stderr
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert_eq!(
        t.seen.distinct_users.lock().len() as u64,
        USERS,
        "each user started with its own value"
    );

    let rows = csv(&prefix, "stats");
    let check = stats_row(&rows, "GET", "/cookie/check").expect("row /cookie/check");
    let checks: u64 = check["Request Count"].parse().unwrap();
    assert_eq!(check["Failure Count"], "0");
    let seen_checks = t.seen.count("/cookie/check");
    assert!(
        checks <= seen_checks && seen_checks <= checks + USERS,
        "reported {checks}, target saw {seen_checks}"
    );
    eprintln!("{checks} checks, target saw {seen_checks}");
    assert!(checks >= 500, "only {checks} checks in 3 s");
    let sets = stats_row(&rows, "GET", "/cookie/set").expect("row /cookie/set");
    let sets: u64 = sets["Request Count"].parse().unwrap();
    assert!(
        sets >= USERS + 10,
        "the rotate task ran too rarely: {sets} sets"
    );
    let agg = stats_row(&rows, "", "Aggregated").unwrap();
    assert_eq!(agg["Failure Count"], "0");
    let failures = csv(&prefix, "failures");
    assert_eq!(failures.len(), 1, "no failure rows: {failures:?}");
}
