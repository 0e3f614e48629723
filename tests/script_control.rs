//! Script control beyond one task: the node's role (top level, listeners, tasks), `stop_test()`
//! from a task or a listener, `now()` and `monotonic()`, `random_choice` / `weighted_choice` (their
//! distributions and bad inputs), `--seed` reproducibility, `report()` and timer misuse, and default
//! headers set through `client()`.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{headless, log_of, scenario, spawn, stats_row, Run, Scenario, Target};

/// Run to the end; returns the run and how long it took.
fn go(sc: &Scenario, t: &Target, args: &[&str]) -> (Run, f64) {
    let p = spawn(headless(sc, t, args));
    let started = p.started;
    let r = p.wait(Duration::from_secs(40));
    (r, started.elapsed().as_secs_f64())
}

/// The numbers in the path segments after `prefix` (`/w/1/2` -> [1, 2]).
fn numbers(path: &str, prefix: &str) -> Vec<i64> {
    path.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{path} does not start with {prefix}"))
        .split('/')
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{s} in {path}: {e}")))
        .collect()
}

#[test]
fn roles_are_visible_at_the_top_level_in_listeners_and_in_tasks() {
    let t = Target::start();
    let sc = scenario(
        r#"
const TOP = `${runner_role()}/${is_local()}/${is_master()}/${is_worker()}/${worker_index()}/${worker_count()}`;
fn role() { `${runner_role()}/${is_local()}/${is_master()}/${is_worker()}/${worker_index()}/${worker_count()}` }
user("U", #{ wait_time: constant(0.2), tasks: ["t"] });
fn t() {
    this.client.get(`/top/${global::TOP}`);
    this.client.get(`/task/${role()}`);
}
on("init", |e| client().get(`/init/${role()}`));
on("test_start", |e| client().get(`/test_start/${role()}`));
on("test_stop", |e| client().get(`/test_stop/${role()}`));
"#,
    );
    let (r, _) = go(&sc, &t, &["-u", "1", "-t", "1s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let want = "local/true/false/false/0/0";
    for p in ["/init/", "/test_start/", "/test_stop/"] {
        assert_eq!(log_of(&t, p), [format!("{p}{want}")]);
    }
    for p in ["/top/", "/task/"] {
        let log = log_of(&t, p);
        assert!(!log.is_empty(), "no {p} request");
        assert!(
            log.iter().all(|l| *l == format!("{p}{want}")),
            "{p}: {log:?}"
        );
    }
}

#[test]
fn stop_test_from_a_task_ends_the_run_early_and_logs_the_reason() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), on_start: "init_n", tasks: ["t"] });
fn init_n() { this.n = 0; }
fn t() {
    this.n += 1;
    this.client.get("/t");
    if this.n == 5 { stop_test("enough requests seen"); }
}
"#,
    );
    let (r, took) = go(&sc, &t, &["-u", "1", "-t", "30s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(took < 6.0, "a stopped 30 s run took {took:.1} s");
    let n = t.seen.count("/t");
    assert!((5..=15).contains(&n), "{n} tasks ran");
    assert!(
        r.stderr.contains("enough requests seen"),
        "the reason is not logged: {}",
        r.stderr
    );
}

#[test]
fn stop_test_from_a_listener_ends_the_run_early() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() { this.client.get("/t"); }
on("spawning_complete", |e| { client().get("/spawned"); stop_test(); });
"#,
    );
    let (r, took) = go(&sc, &t, &["-u", "2", "-r", "100", "-t", "30s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(took < 6.0, "a stopped 30 s run took {took:.1} s");
    assert_eq!(t.seen.count("/spawned"), 1);
    assert!(
        r.stderr.contains("stop_test"),
        "the stop is not logged: {}",
        r.stderr
    );
}

#[test]
fn now_follows_the_system_clock_and_monotonic_increases() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn ms(s) { (s * 1000.0).to_int() }
fn t() {
    let a = monotonic();
    sleep(0.2);
    let b = monotonic();
    this.client.get(`/clock/${ms(now())}/${ms(a)}/${ms(b)}`);
}
"#,
    );
    let wall0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let inst0 = Instant::now();
    let (r, _) = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let stamped: Vec<(String, Instant)> = t
        .seen
        .stamped
        .lock()
        .iter()
        .filter(|(p, _)| p.starts_with("/clock/"))
        .cloned()
        .collect();
    assert!(stamped.len() >= 4, "only {} tasks", stamped.len());
    let mut last_b = 0;
    for (path, at) in &stamped {
        let v = numbers(path, "/clock/");
        let (now_ms, a, b) = (v[0], v[1], v[2]);
        let wall_at = wall0 + (*at - inst0).as_secs_f64();
        let off = now_ms as f64 / 1000.0 - wall_at;
        assert!(
            off.abs() < 0.25,
            "now() is {off:.3} s off the system clock ({path})"
        );
        assert!(
            (195..1000).contains(&(b - a)),
            "monotonic() advanced {} ms over sleep(0.2)",
            b - a
        );
        assert!(a >= last_b, "monotonic() went back: {path} after {last_b}");
        // Seconds since the process started: never more than since it was spawned.
        let since_spawn = (*at - inst0).as_secs_f64() * 1000.0;
        assert!(
            (b as f64) <= since_spawn + 50.0 && a >= 0,
            "monotonic() {b} ms at {since_spawn:.0} ms after spawn"
        );
        last_b = b;
    }
}

/// Whether `got` out of `n` picks is within 4 standard deviations of probability `p`.
fn within_4_sigma(got: i64, n: i64, p: f64) -> bool {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (got as f64 - mean).abs() <= 4.0 * sd
}

#[test]
fn random_and_weighted_choice_follow_their_distributions() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() {
    if "done" in this { return; }
    this.done = true;
    let w = [0, 0, 0, 0];
    for i in 0..4000 { w[weighted_choice([0, 1, 2, 3], [1, 2.5, 0, 6.5])] += 1; }
    let r = [0, 0, 0];
    for i in 0..3000 { r[random_choice([0, 1, 2])] += 1; }
    let s = #{ a: 0, b: 0 };
    for i in 0..2000 { s[random_choice(["a", "b"])] += 1; }
    this.client.get(`/w/${w[0]}/${w[1]}/${w[2]}/${w[3]}`);
    this.client.get(`/r/${r[0]}/${r[1]}/${r[2]}`);
    this.client.get(`/s/${s.a}/${s.b}`);
}
"#,
    );
    let (r, _) = go(&sc, &t, &["-u", "1", "-t", "2s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let w = log_of(&t, "/w/");
    assert_eq!(w.len(), 1, "the picks did not finish: {w:?}");
    let w = numbers(&w[0], "/w/");
    assert_eq!(w.iter().sum::<i64>(), 4000);
    assert_eq!(w[2], 0, "a zero weight was picked: {w:?}");
    for (got, p) in [(w[0], 0.1), (w[1], 0.25), (w[3], 0.65)] {
        assert!(within_4_sigma(got, 4000, p), "weighted_choice {w:?}");
    }
    let rc = numbers(&log_of(&t, "/r/")[0], "/r/");
    assert_eq!(rc.iter().sum::<i64>(), 3000);
    assert!(
        rc.iter().all(|n| within_4_sigma(*n, 3000, 1.0 / 3.0)),
        "random_choice {rc:?}"
    );
    let s = numbers(&log_of(&t, "/s/")[0], "/s/");
    assert!(
        s.iter().all(|n| within_4_sigma(*n, 2000, 0.5)),
        "random_choice of strings {s:?}"
    );
}

/// Runs one user class per case: `c<i>` hits `/alive/<i>`, then runs the case's body, which must
/// raise an exception (a row of `_exceptions.csv`) whose message contains the case's text and
/// names its line. Returns the scenario (for more checks).
fn each_is_an_exception(cases: &[(&str, &str)]) -> Scenario {
    let t = Target::start();
    let mut src = String::from("\n");
    for (i, (body, _)) in cases.iter().enumerate() {
        src += &format!("fn c{i}() {{ this.client.get(\"/alive/{i}\"); {body} }}\n");
    }
    for i in 0..cases.len() {
        src += &format!(
            "user(\"U{i}\", #{{ fixed_count: 1, wait_time: constant(0.1), tasks: [\"c{i}\"] }});\n"
        );
    }
    let sc = scenario(&src);
    let users = cases.len().to_string();
    let (r, _) = go(&sc, &t, &["-u", &users, "-r", "100", "-t", "2s"]);
    assert_eq!(r.code, 1, "exceptions make the exit code 1\n{}", r.all());
    let ex = sc.csv("exceptions");
    for (i, (body, text)) in cases.iter().enumerate() {
        let alive = t.seen.count(&format!("/alive/{i}"));
        assert!(alive >= 3, "{body}: the user ran {alive} tasks");
        let line = format!("scenario.rhai:{}:", i + 2);
        let rows: Vec<_> = ex.iter().filter(|r| r[1].contains(&line)).collect();
        assert_eq!(rows.len(), 1, "{body}: no exception naming {line}: {ex:?}");
        assert!(
            rows[0][1].contains(text),
            "{body}: the message does not say {text:?}: {:?}",
            rows[0][1]
        );
        let n: u64 = rows[0][0].parse().unwrap();
        assert!(
            n + 1 >= alive && n <= alive,
            "{body}: {n} exceptions in {alive} tasks"
        );
    }
    assert_eq!(ex.len(), cases.len() + 1, "{ex:?}");
    sc
}

#[test]
fn bad_choices_are_exceptions() {
    each_is_an_exception(&[
        ("random_choice([]);", "empty"),
        ("weighted_choice([1, 2], [1]);", "as many weights as items"),
        ("weighted_choice([], []);", "weighted_choice"),
        ("weighted_choice([1, 2], [0, 0.0]);", "at least one weight"),
        ("weighted_choice([1, 2], [1, -1]);", ">= 0"),
        ("weighted_choice([1, 2], [1, \"x\"]);", "weights"),
    ]);
}

#[test]
fn bad_reports_and_a_timer_reported_twice_are_exceptions() {
    let sc = each_is_an_exception(&[
        ("report(#{ response_time: 1 });", "name"),
        ("report(#{ name: \"bad\" });", "response_time"),
        (
            "report(#{ name: \"bad\", response_time: -1 });",
            "response_time",
        ),
        (
            "report(#{ name: \"bad\", response_time: \"fast\" });",
            "response_time",
        ),
        (
            "report(#{ name: \"bad\", response_time: 1, colour: \"red\" });",
            "unknown key 'colour'",
        ),
        (
            "let tm = start_timer(\"T\", \"twice\"); tm.success(); tm.failure(\"again\");",
            "already reported",
        ),
    ]);
    let rows = sc.csv("stats");
    assert!(
        rows.iter()
            .all(|r| r.get(1).map(String::as_str) != Some("bad")),
        "a bad report recorded a sample: {rows:?}"
    );
    // The timer's first report counts, the second does not.
    let twice = stats_row(&rows, "T", "twice").expect("T twice row");
    assert_eq!(twice["Failure Count"], "0", "{twice:?}");
    assert_ne!(twice["Request Count"], "0");
}

/// The first 20 values a seeded user draws, as the target saw them.
fn draws(seed: &str) -> Vec<String> {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() {
    for i in 0..20 {
        this.client.get(`/r/${random_int(0, 1000000)}/${random_choice(["a", "b", "c", "d"])}`);
    }
}
"#,
    );
    let (r, _) = go(&sc, &t, &["--seed", seed, "-u", "1", "-t", "1s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let log = log_of(&t, "/r/");
    assert!(log.len() >= 20, "only {} draws", log.len());
    log[..20].to_vec()
}

#[test]
fn the_same_seed_gives_the_same_random_values() {
    let (a, b, c) = (draws("42"), draws("42"), draws("43"));
    assert_eq!(a, b, "two runs with --seed 42 drew different values");
    assert_ne!(a, c, "--seed 42 and --seed 43 drew the same values");
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert!(distinct.len() >= 15, "hardly random: {a:?}");
}

#[test]
fn default_headers_go_with_later_requests_and_request_headers_win() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["t"] });
fn echo(opts) { client().get("/echo/header/x-a", opts).text }
fn t() {
    if "done" in this { return; }
    this.done = true;
    let before = echo(#{});
    client().set_header("x-a", "1");
    let after = echo(#{});
    let own = echo(#{ headers: #{ "x-a": "2" } });
    let again = this.client.get("/echo/header/x-a").text;
    this.client.set_header("X-A", "3");
    let replaced = echo(#{});
    client().remove_header("x-a");
    let removed = echo(#{});
    let b = this.client.get("/echo/header/x-b").text;
    this.client.get(`/saw/${before}/${after}/${own}/${again}/${replaced}/${removed}/${b}`);
}
on("test_start", |e| {
    client().set_header("x-b", "runner");
    client().get(`/runner_saw/${client().get("/echo/header/x-b").text}`);
});
"#,
    );
    let (r, _) = go(&sc, &t, &["-u", "1", "-t", "1s"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(log_of(&t, "/runner_saw/"), ["/runner_saw/runner"]);
    assert_eq!(
        log_of(&t, "/saw/"),
        ["/saw/none/1/2/1/3/none/none"],
        "before set_header / after / per-request header / through this.client / replaced / \
         removed / the runner's header"
    );
}
