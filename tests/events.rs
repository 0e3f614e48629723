//! Events seen from scripts: the runner fires `init`, `test_start`, `spawning_complete`,
//! `test_stopping`, `test_stop` and `quitting` once each (listeners may use `client()` and sleep, and
//! a slow `test_start` delays the first task); `request` sees every sample the stats see, also
//! when its listener waits; listeners run in the order they were added; custom events carry named
//! arguments; and bad uses (unknown events, firing built-ins, throwing listeners) are reported
//! without stopping the run.

mod common;

use std::time::{Duration, Instant};

use common::{count_of, headless, log_of, run, scenario, stats_row, Run, Scenario, Target};

fn go(sc: &Scenario, t: &Target, args: &[&str]) -> Run {
    run(headless(sc, t, args), Duration::from_secs(40))
}

#[test]
fn test_start_fires_once_per_test_with_100_users() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ tasks: ["t"] });
fn t() { sleep(0.5); }
on("init", |e| client().get(`/init/${e.role}/${e.worker_index}/${e.worker_count}`));
on("test_start", |e| client().get(`/test_start/${e.role}/${e.host != ""}`));
on("spawning_complete", |e| client().get(`/spawning_complete/${e.user_count}`));
on("test_stopping", |e| client().get("/test_stopping"));
on("test_stop", |e| client().get("/test_stop"));
on("quitting", |e| client().get(`/quitting/${e.exit_code}`));
"#,
    );
    let r = go(&sc, &t, &["-u", "100", "-r", "100", "-t", "3s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let events = t.seen.log_snapshot();
    assert_eq!(
        events,
        [
            "/init/local/0/0",
            "/test_start/local/true",
            "/spawning_complete/100",
            "/test_stopping",
            "/test_stop",
            "/quitting/0",
        ],
        "each runner event once, in life-cycle order"
    );
}

#[test]
fn a_slow_test_start_listener_delays_the_first_task() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() { this.client.get("/task"); }
on("test_start", |e| { client().get("/ts_begin"); sleep(0.5); client().get("/ts_end"); });
"#,
    );
    let r = go(&sc, &t, &["-u", "3", "-r", "100", "-t", "2s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (begin, end, tasks) = (
        t.seen.times("/ts_begin"),
        t.seen.times("/ts_end"),
        t.seen.times("/task"),
    );
    assert_eq!((begin.len(), end.len()), (1, 1), "test_start ran once");
    assert!(tasks.len() >= 6, "only {} tasks ran", tasks.len());
    let first = tasks[0];
    assert!(first > end[0], "a task ran before test_start finished");
    let delay = (first - begin[0]).as_secs_f64();
    assert!(
        delay >= 0.48,
        "first task {delay:.3} s after test_start began sleeping 0.5 s"
    );
}

/// Tasks producing every kind of sample: plain successes and failures, catch_response verdicts
/// (reported when the response is dropped), and samples reported by the script.
const SAMPLES: &str = r#"
fn t() {
    this.client.get("/ok");
    this.client.get("/status/500");
    let a = this.client.get("/status/404", #{ catch_response: true, name: "cr_success" });
    a.success();
    let b = this.client.get("/json", #{ catch_response: true, name: "cr_failure" });
    b.failure("bad body");
    report(#{ name: "reported", response_time: 3 });
    report(#{ request_type: "JOB", name: "reported_failure", response_time: 4, exception: "nope" });
    let tm = start_timer("TIMER", "timed");
    tm.success();
}
"#;

/// The `SEEN` rows recorded by the `request` listener match the other rows one for one, failures
/// included. `slack`: how many listener calls the end of the test may cut short (a listener that
/// waits is cancelled at its wait like a task).
fn check_seen_matches_stats(sc: &Scenario, slack: u64) {
    let rows = sc.csv("stats");
    let cases = [
        ("GET", "/ok"),
        ("GET", "/status/500"),
        ("GET", "cr_success"),
        ("GET", "cr_failure"),
        ("CUSTOM", "reported"),
        ("JOB", "reported_failure"),
        ("TIMER", "timed"),
    ];
    let (mut total, mut missed) = (0, 0);
    for (method, name) in cases {
        let row = stats_row(&rows, method, name)
            .unwrap_or_else(|| panic!("no {method} {name}: {rows:?}"));
        let seen =
            stats_row(&rows, "SEEN", name).unwrap_or_else(|| panic!("no SEEN {name}: {rows:?}"));
        let (n, f) = (
            count_of(&row, "Request Count"),
            count_of(&row, "Failure Count"),
        );
        let (sn, sf) = (
            count_of(&seen, "Request Count"),
            count_of(&seen, "Failure Count"),
        );
        let msg = format!(
            "{method} {name}: the request event saw {sn} samples ({sf} failures), the stats {n} ({f} failures)"
        );
        assert!(sn <= n && sf <= f && sn - sf <= n - f, "{msg}");
        assert!(n - sn <= slack, "{msg}");
        total += n;
        missed += n - sn;
    }
    assert!(
        missed <= slack,
        "the request event missed {missed} of {total} samples"
    );
    for name in ["/status/500", "cr_failure", "reported_failure"] {
        let seen = stats_row(&rows, "SEEN", name).unwrap();
        assert_eq!(
            seen["Failure Count"], seen["Request Count"],
            "{name} always fails"
        );
    }
    for name in ["/ok", "cr_success", "reported", "timed"] {
        assert_eq!(
            stats_row(&rows, "SEEN", name).unwrap()["Failure Count"],
            "0"
        );
    }
    assert!(total >= 7 * 20, "only {total} samples");
}

#[test]
fn the_request_event_sees_every_sample_the_stats_see() {
    let t = Target::start();
    let sc = scenario(&format!(
        r#"
user("U", #{{ wait_time: constant(0.02), tasks: ["t"] }});
on("request", |e| {{
    if e.request_type != "SEEN" {{
        report(#{{ request_type: "SEEN", name: e.name, response_time: 0, exception: e.exception }});
    }}
}});
{SAMPLES}"#
    ));
    let r = go(&sc, &t, &["-u", "4", "-r", "100", "-t", "2s"]);
    assert_eq!(r.code, 1, "failures make the exit code 1\n{}", r.all());
    assert_eq!(
        sc.csv("exceptions").len(),
        1,
        "no exceptions: {:?}",
        sc.csv("exceptions")
    );
    check_seen_matches_stats(&sc, 0);
}

#[test]
fn a_request_listener_that_waits_still_sees_every_sample() {
    let t = Target::start();
    // The listener sleeps before it records: while it waits, the other users of the same thread
    // record samples of their own, and each must reach the listener too.
    let sc = scenario(&format!(
        r#"
user("U", #{{ wait_time: constant(0.02), tasks: ["t"] }});
on("request", |e| {{
    if e.request_type != "SEEN" {{
        sleep(0.002);
        report(#{{ request_type: "SEEN", name: e.name, response_time: 0, exception: e.exception }});
    }}
}});
{SAMPLES}"#
    ));
    let r = go(
        &sc,
        &t,
        &["--threads", "1", "-u", "8", "-r", "100", "-t", "2s"],
    );
    assert_eq!(r.code, 1, "failures make the exit code 1\n{}", r.all());
    // At stop, each of the 8 users may be cut short in one listener, and its task then unwinds,
    // reporting its two pending catch_response verdicts, whose listeners can no longer wait.
    check_seen_matches_stats(&sc, 8 * 3);
}

#[test]
fn listeners_run_in_the_order_they_were_added() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), on_start: "init_n", tasks: ["t"] });
fn init_n() { this.n = 0; }
fn t() { this.n += 1; fire("x", #{ n: this.n }); }
let x = event("x");
on("x", |e| client().get(`/l1/${e.n}`));
x.add(|e| client().get(`/l2/${e.n}`));
on("x", |e| client().get(`/l3/${e.n}`));
on("test_start", |e| client().get("/s1"));
on("test_start", |e| client().get("/s2"));
"#,
    );
    let r = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(log_of(&t, "/s"), ["/s1", "/s2"]);
    let log = log_of(&t, "/l");
    let fires = t.seen.count("/l1/1") as usize;
    assert_eq!(fires, 1);
    // The run may stop in the middle of the last fire: compare whole fires only.
    let whole = log.len() / 3;
    assert!(whole >= 10, "only {} listener calls: {log:?}", log.len());
    let want: Vec<String> = (1..=whole)
        .flat_map(|n| [format!("/l1/{n}"), format!("/l2/{n}"), format!("/l3/{n}")])
        .collect();
    assert_eq!(log[..whole * 3], want[..]);
}

#[test]
fn custom_events_carry_named_arguments() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
const DONE = event("order_done");
let ping = event("ping");
on("order_done", |e| client().get(`/on/${e.id}/${e.ms}`));
DONE.add(|e| client().get(`/add/${e.id}/${e.ms}`));
ping.add(|e| client().get(`/ping/${e.len()}`));
fn t() {
    fire("order_done", #{ id: 7, ms: 120 });
    global::DONE.fire(#{ id: 8, ms: 5 });
    fire("ping");
    this.client.get("/task_end");
}
"#,
    );
    let r = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let ends = t.seen.count("/task_end");
    assert!(ends >= 10, "only {ends} tasks");
    for p in ["/on/7/120", "/add/7/120", "/on/8/5", "/add/8/5", "/ping/0"] {
        let n = t.seen.count(p);
        assert!(n == ends || n == ends + 1, "{p}: {n} times in {ends} tasks");
    }
    assert_eq!(
        log_of(&t, "/")[..6],
        [
            "/on/7/120",
            "/add/7/120",
            "/on/8/5",
            "/add/8/5",
            "/ping/0",
            "/task_end"
        ]
    );
}

#[test]
fn firing_an_unknown_event_is_an_exception_and_the_run_goes_on() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() {
    this.client.get("/before");
    fire("never_created", #{ a: 1 });
    this.client.get("/after");
}
"#,
    );
    let r = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(r.code, 1, "an exception makes the exit code 1\n{}", r.all());
    let before = t.seen.count("/before");
    assert!(before >= 10, "the run did not go on: {before} tasks");
    assert_eq!(t.seen.count("/after"), 0, "the task stops at the error");
    let rows = sc.exceptions_with("never_created");
    assert_eq!(rows.len(), 1, "{:?}", sc.csv("exceptions"));
    let count: u64 = rows[0][0].parse().unwrap();
    assert!(
        count + 1 >= before && count <= before,
        "{count} exceptions in {before} tasks"
    );
    assert!(rows[0][1].contains("unknown event"), "{:?}", rows[0]);
    assert!(rows[0][1].contains("scenario.rhai:5:"), "{:?}", rows[0]);
}

#[test]
fn listening_to_an_unknown_event_at_the_top_level_is_a_usage_error() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ tasks: ["t"] });
fn t() { this.client.get("/t"); }
  on("nope", |e| print(e));
"#,
    );
    let started = Instant::now();
    let r = go(&sc, &t, &["-u", "1", "-t", "5s"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the run started anyway"
    );
    let all = r.all();
    assert!(all.contains("scenario.rhai:4:3"), "no file:line:col: {all}");
    assert!(all.contains("unknown event 'nope'"), "{all}");
    assert_eq!(t.seen.total(), 0, "no request was sent");
}

#[test]
fn a_throwing_listener_is_counted_and_the_others_go_on() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() {
    this.client.get("/task");
    fire("x", #{ n: 1 });
    this.client.get("/after_fire");
}
event("x");
on("x", |e| throw "x boom");
on("x", |e| client().get("/second"));
on("test_start", |e| throw "ts boom");
on("test_start", |e| client().get("/ts2"));
"#,
    );
    let r = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(r.code, 1, "an exception makes the exit code 1\n{}", r.all());
    assert_eq!(t.seen.count("/ts2"), 1, "the next test_start listener ran");
    let tasks = t.seen.count("/task");
    assert!(tasks >= 10, "the run did not go on: {tasks} tasks");
    let second = t.seen.count("/second");
    let after = t.seen.count("/after_fire");
    assert!(
        second + 1 >= tasks && after + 1 >= tasks,
        "{tasks} tasks, /second {second}, /after_fire {after}"
    );
    let x = sc.exceptions_with("error in a listener of event 'x'");
    assert_eq!(x.len(), 1, "{:?}", sc.csv("exceptions"));
    assert!(x[0][1].contains("x boom"), "{:?}", x[0]);
    assert!(x[0][1].contains("scenario.rhai:9:"), "{:?}", x[0]);
    let n: u64 = x[0][0].parse().unwrap();
    assert!(
        n + 1 >= tasks && n <= tasks,
        "{n} listener errors in {tasks} fires"
    );
    let ts = sc.exceptions_with("error in a listener of event 'test_start'");
    assert_eq!(ts.len(), 1, "{:?}", sc.csv("exceptions"));
    assert_eq!(ts[0][0], "1");
    assert!(ts[0][1].contains("ts boom"), "{:?}", ts[0]);
    assert!(
        r.stderr
            .contains("error in a listener of event 'test_start'"),
        "not logged: {}",
        r.stderr
    );
}

#[test]
fn scripts_cannot_fire_built_in_events() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
on("test_start", |e| client().get("/test_start"));
fn t() {
    this.client.get("/before");
    fire("test_start");
    this.client.get("/after");
}
"#,
    );
    let r = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(t.seen.count("/test_start"), 1, "only rustlocust fired it");
    assert_eq!(t.seen.count("/after"), 0, "fire() raised");
    assert!(t.seen.count("/before") >= 10);
    let rows = sc.exceptions_with("test_start");
    assert_eq!(rows.len(), 1, "{:?}", sc.csv("exceptions"));
    assert!(rows[0][1].contains("built-in"), "{:?}", rows[0]);
    assert!(rows[0][1].contains("scenario.rhai:6:"), "{:?}", rows[0]);
}

#[test]
fn firing_request_records_a_sample() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() {
    this.client.get("/tick");
    fire("request", #{ request_type: "FIRED", name: "good", response_time: 12, response_length: 3 });
    fire("request", #{ request_type: "FIRED", name: "bad", response_time: 7, exception: "it broke" });
}
"#,
    );
    let r = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(
        r.code,
        1,
        "the failure sample makes the exit code 1\n{}",
        r.all()
    );
    let ticks = t.seen.count("/tick");
    assert!(ticks >= 10, "only {ticks} tasks");
    let rows = sc.csv("stats");
    let good = stats_row(&rows, "FIRED", "good").expect("FIRED good row");
    let bad = stats_row(&rows, "FIRED", "bad").expect("FIRED bad row");
    for row in [&good, &bad] {
        let n = count_of(row, "Request Count");
        assert!(n + 1 >= ticks && n <= ticks, "{n} samples in {ticks} tasks");
    }
    assert_eq!(good["Failure Count"], "0");
    for col in [
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
    ] {
        let v: f64 = good[col].parse().unwrap();
        let want = if col == "Average Content Size" {
            3.0
        } else {
            12.0
        };
        assert_eq!(v, want, "{col} of {good:?}");
    }
    assert_eq!(bad["Failure Count"], bad["Request Count"]);
    let failures = sc.csv("failures");
    assert!(
        failures
            .iter()
            .any(|f| f[..3] == ["FIRED", "bad", "it broke"]),
        "{failures:?}"
    );
    assert_eq!(sc.csv("exceptions").len(), 1, "no exceptions");
}

#[test]
fn user_error_listeners_get_class_message_and_traceback() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("Shopper", #{ wait_time: constant(0.1), tasks: ["t"] });
on("user_error", |e| print(`UE|${e.user_class}|${e.message}|${e.traceback}|`));
on("user_error", |e| sleep(0.1));
fn t() {
    this.client.get("/t");
    throw "task boom";
}
"#,
    );
    let r = go(&sc, &t, &["-u", "1", "-t", "1s"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let tasks = t.seen.count("/t") as usize;
    assert!(tasks >= 3, "only {tasks} tasks");
    let lines: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("UE|")).collect();
    assert!(
        lines.len() + 1 >= tasks && lines.len() <= tasks,
        "{} user_error calls for {tasks} failed tasks:\n{}",
        lines.len(),
        r.stdout
    );
    let f: Vec<&str> = lines[0].split('|').collect();
    assert_eq!(f[1], "Shopper", "{}", lines[0]);
    assert!(
        f[2].contains("task boom") && f[2].contains("scenario.rhai:7:"),
        "message: {}",
        f[2]
    );
    assert!(
        f[3].contains("scenario.rhai\", line 7") && f[3].contains("in t"),
        "traceback: {}",
        f[3]
    );
    // The task's own exception, and the sleeping listener's error (it may not wait).
    assert_eq!(sc.exceptions_with("task boom").len(), 1);
    let sleeper = sc.exceptions_with("error in a listener of event 'user_error'");
    assert_eq!(sleeper.len(), 1, "{:?}", sc.csv("exceptions"));
    assert!(
        sleeper[0][1].contains("scenario.rhai:4:"),
        "{:?}",
        sleeper[0]
    );
}
