//! Background jobs (`background(f)`, Locust's `gevent.spawn`): they run concurrently with their
//! user's tasks and report through timers; they die with their user (end of test, `stop_user()`,
//! `job.cancel()`), so no request reaches the target after the test stops; errors in jobs are
//! exceptions naming the script line; a busy job does not keep the run going; a user may run at
//! most `--max-background-jobs` jobs; `stop_test()` works from a job.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{headless, num, scenario, spawn, stats_row, Run, Scenario, Target};

/// Run to the end; returns the run, how long it took, and the instant its exit was seen.
fn go(sc: &Scenario, t: &Target, args: &[&str]) -> (Run, f64, Instant) {
    let p = spawn(headless(sc, t, args));
    let started = p.started;
    let r = p.wait(Duration::from_secs(40));
    let exited = Instant::now();
    (r, (exited - started).as_secs_f64(), exited)
}

#[test]
fn jobs_run_concurrently_with_the_tasks() {
    let t = Target::start();
    // Three jobs poll with 1 s sleeps and time each round; the task itself keeps a 20/s pace.
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), on_start: "start_jobs", tasks: ["t"] });
fn start_jobs() {
    for i in 0..3 {
        background(|| {
            loop {
                let tm = start_timer("JOB", "poll");
                sleep(1.0);
                client().get("/bg");
                tm.success(2);
            }
        });
    }
}
fn t() { this.client.get("/task"); }
"#,
    );
    let (r, _, _) = go(&sc, &t, &["-u", "1", "-t", "3s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let bg = t.seen.times("/bg");
    assert!(
        (3..=9).contains(&bg.len()),
        "three jobs of 1 s rounds in 3 s: {} /bg",
        bg.len()
    );
    let tasks = t.seen.times("/task");
    assert!(tasks.len() >= 25, "the task ran only {} times", tasks.len());
    let gap = tasks
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .fold(0.0, f64::max);
    assert!(
        gap < 0.5,
        "the task paused {gap:.2} s while the jobs slept 1 s"
    );
    // The jobs ran side by side: the first round of each ended together, about 1 s in.
    let first_round = (bg[2] - bg[0]).as_secs_f64();
    assert!(
        first_round < 0.5,
        "the jobs' first rounds ended {first_round:.2} s apart"
    );
    let rows = sc.csv("stats");
    let job = stats_row(&rows, "JOB", "poll").expect("JOB poll row");
    assert_eq!(num(&job, "Request Count") as usize, bg.len());
    assert_eq!(job["Failure Count"], "0");
    assert!(
        num(&job, "Min Response Time") >= 990.0,
        "a round slept 1 s: {job:?}"
    );
    assert_eq!(num(&job, "Average Content Size"), 2.0);
}

#[test]
fn no_job_request_reaches_the_target_after_the_test_stops() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.2), on_start: "start_jobs", tasks: ["t"] });
fn start_jobs() {
    for i in 0..2 {
        background(|| { loop { client().get("/bg"); sleep(0.05); } });
    }
}
fn t() { this.client.get("/task"); }
on("test_stop", |e| client().get("/test_stop"));
"#,
    );
    let (r, took, _) = go(&sc, &t, &["-u", "3", "-r", "100", "-t", "2s"]);
    let at_exit = t.seen.count("/bg");
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(took < 6.0, "a 2 s run took {took:.1} s");
    assert!(at_exit >= 40, "only {at_exit} job requests");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        t.seen.count("/bg"),
        at_exit,
        "job requests arrived after the process exited"
    );
    // `test_stop` fires once the users (and their jobs) stopped: nothing from a job after it.
    let log = t.seen.log_snapshot();
    let stop = log
        .iter()
        .position(|p| p == "/test_stop")
        .expect("test_stop ran");
    let late = log[stop..].iter().filter(|p| *p == "/bg").count();
    assert_eq!(late, 0, "{late} job requests after the users stopped");
}

#[test]
fn an_error_in_a_job_is_an_exception_naming_the_line() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), on_start: "start_job", tasks: ["t"] });
fn start_job() {
    background(|| {
        sleep(0.1);
        throw "job boom";
    });
}
fn t() { this.client.get("/task"); }
"#,
    );
    let (r, _, _) = go(&sc, &t, &["-u", "2", "-r", "100", "-t", "2s"]);
    assert_eq!(r.code, 1, "an exception makes the exit code 1\n{}", r.all());
    let rows = sc.exceptions_with("job boom");
    assert_eq!(rows.len(), 1, "{:?}", sc.csv("exceptions"));
    assert_eq!(rows[0][0], "2", "one per user's job: {:?}", rows[0]);
    assert!(rows[0][1].contains("scenario.rhai:6:"), "{:?}", rows[0]);
    assert!(rows[0][2].contains("line 6"), "traceback: {:?}", rows[0][2]);
    assert!(r.stderr.contains("job boom"), "not logged: {}", r.stderr);
    // The users went on.
    assert!(
        t.seen.count("/task") >= 20,
        "{} tasks",
        t.seen.count("/task")
    );
}

#[test]
fn a_job_that_never_waits_does_not_keep_the_run_going() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() {
    if !("started" in this) {
        this.started = true;
        this.client.get("/start");
        background(|| { let x = 0; loop { x += 1; } });
    }
}
"#,
    );
    let (r, took, _) = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert!(took < 6.5, "a 2 s run with a spinning job took {took:.1} s");
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.seen.count("/start"), 1);
}

#[test]
fn starting_more_jobs_than_allowed_is_an_exception() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() {
    if !("started" in this) {
        this.started = true;
            for i in 0..5 {
            let id = i;
            background(|| { loop { client().get(`/job/${id}`); sleep(0.1); } });
        }
    }
    this.client.get("/task");
}
"#,
    );
    let (r, _, _) = go(
        &sc,
        &t,
        &["--max-background-jobs", "3", "-u", "1", "-t", "2s"],
    );
    assert_eq!(r.code, 1, "an exception makes the exit code 1\n{}", r.all());
    let rows = sc.exceptions_with("the most allowed");
    assert_eq!(rows.len(), 1, "{:?}", sc.csv("exceptions"));
    assert_eq!(rows[0][0], "1", "{:?}", rows[0]);
    assert!(rows[0][1].contains('3'), "{:?}", rows[0]);
    assert!(rows[0][1].contains("scenario.rhai:8:"), "{:?}", rows[0]);
    let ids: BTreeSet<String> = t
        .seen
        .log_snapshot()
        .into_iter()
        .filter(|p| p.starts_with("/job/"))
        .collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        ["/job/0", "/job/1", "/job/2"],
        "the first three jobs ran"
    );
    for id in 0..3 {
        let n = t.seen.count(&format!("/job/{id}"));
        assert!(n >= 8, "job {id} ran {n} rounds in 2 s");
    }
    // The task raised at the fourth job; its later runs went on.
    assert!(t.seen.count("/task") >= 8, "{}", t.seen.count("/task"));
}

#[test]
fn stop_test_from_a_job_stops_the_run() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), on_start: "start_job", tasks: ["t"] });
fn start_job() {
    background(|| { sleep(0.5); client().get("/bye"); stop_test("the job has seen enough"); });
}
fn t() { this.client.get("/task"); }
"#,
    );
    let (r, took, _) = go(&sc, &t, &["-u", "1", "-t", "30s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(took < 6.0, "the run went on for {took:.1} s");
    assert_eq!(t.seen.count("/bye"), 1);
    assert!(
        r.stderr.contains("the job has seen enough"),
        "the reason is not logged: {}",
        r.stderr
    );
}

#[test]
fn a_user_that_stops_cancels_its_jobs() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ on_start: "start_job", tasks: ["t"] });
fn start_job() {
    background(|| { loop { client().get("/bg"); sleep(0.05); } });
}
fn t() {
    sleep(1.0);
    this.client.get("/stopping");
    stop_user();
}
"#,
    );
    let (r, _, _) = go(&sc, &t, &["-u", "1", "-t", "3s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let stopping = t.seen.times("/stopping");
    assert_eq!(stopping.len(), 1, "stop_user() stops the user");
    let bg = t.seen.times("/bg");
    let before = bg.iter().filter(|at| **at < stopping[0]).count();
    assert!(before >= 8, "the job ran {before} rounds in 1 s");
    let late: Vec<f64> = bg
        .iter()
        .filter(|at| **at > stopping[0])
        .map(|at| (*at - stopping[0]).as_secs_f64())
        .collect();
    assert!(
        late.iter().all(|s| *s < 0.3),
        "job requests {late:?} s after the user stopped"
    );
}

#[test]
fn a_job_can_be_cancelled_and_tells_when_it_is_done() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() {
    if "started" in this { this.client.get("/again"); return; }
    this.started = true;
    let quick = background(|| client().get("/quick"));
    let forever = background(|| { loop { client().get("/bg"); sleep(0.05); } });
    sleep(0.5);
    let running = forever.done;
    forever.cancel();
    sleep(0.3);
    this.client.get(`/state/${quick.done}/${running}/${forever.done}`);
}
"#,
    );
    let (r, _, _) = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.seen.count("/quick"), 1);
    assert_eq!(
        t.seen.count("/state/true/false/true"),
        1,
        "done is true for a finished and a cancelled job, false before: {:?}",
        t.seen
            .log_snapshot()
            .into_iter()
            .filter(|p| p.starts_with("/state"))
            .collect::<Vec<_>>()
    );
    let state = t.seen.times("/state")[0];
    let bg = t.seen.times("/bg");
    assert!(bg.len() >= 6, "the job ran {} rounds", bg.len());
    assert!(
        bg.iter().all(|at| *at < state),
        "the job went on after cancel()"
    );
    assert!(t.seen.count("/again") >= 5, "the user went on");
}

#[test]
fn jobs_using_client_run_side_by_side() {
    let t = Target::start();
    // The documented pattern: `background(|| client().get(...))`, with three jobs waiting in
    // `get` at the same time, each capturing a plain value.
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), on_start: "start_jobs", tasks: ["t"] });
fn start_jobs() {
    for i in 0..3 {
        let n = i;
        background(|| { loop { client().get(`/slow?ms=100&job=${n}`); sleep(0.05); } });
    }
}
fn t() { this.client.get("/task"); }
"#,
    );
    let (r, _, _) = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(
        sc.csv("exceptions").len(),
        1,
        "exceptions: {:?}",
        sc.csv("exceptions")
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let n = t.seen.count("/slow");
    assert!(
        n >= 3 * 8,
        "three jobs of 150 ms rounds sent {n} requests in 2 s"
    );
}

#[test]
fn jobs_sharing_a_captured_client_get_a_clear_error_at_the_call_site() {
    let t = Target::start();
    // Rhai shares captured variables and locks one during a method call that waits: a second job
    // cannot use the same captured client meanwhile. The error says why and where the job started.
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), on_start: "start_jobs", tasks: ["t"] });
fn start_jobs() {
    let c = this.client;
    for i in 0..2 {
        background(|| { loop { c.get("/slow?ms=100"); sleep(0.05); } });
    }
}
fn t() { this.client.get("/task"); }
"#,
    );
    let (r, _, _) = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    let ex = sc.csv("exceptions");
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(ex.len(), 2, "exceptions: {ex:?}");
    let msg = &ex[1][1];
    assert!(
        msg.contains("Data race") && msg.contains("use client()"),
        "{msg}"
    );
    assert!(
        msg.contains("background job started at") && msg.contains(":6:"),
        "{msg}"
    );
    assert!(t.seen.count("/task") >= 5, "the user went on");
}
