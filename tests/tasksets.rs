//! Task sets, seen from the target's ordered request log: entering a `taskset()` runs its
//! on_start, its tasks run until `interrupt()` (the set's on_stop runs, then the parent picks
//! again); `sequence()` runs tasks in order, each `weight` times; `interrupt()` outside a set is an
//! exception naming the task; `stop_user()` ends only that user, with its on_stop.

mod common;

use std::time::Duration;

use common::{cmd, csv, run, scenario, stats_row, Target};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn taskset_runs_on_start_tasks_and_interrupt_returns_to_parent() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{
    wait_time: constant(0.01),
    tasks: [
        taskset(#{
            name: "Inner",
            on_start: "set_start",
            on_stop: "set_stop",
            tasks: [task("inside", 3), "leave"],
        }),
    ],
});
fn set_start() { this.client.get("/set_start"); }
fn set_stop() { this.client.get("/set_stop"); }
fn inside() { this.client.get("/in"); }
fn leave() { this.client.get("/leave"); interrupt(); }
"#,
    );
    let r = run(cmd(&sc, &t, &["-u", "1", "-r", "1", "-t", "2s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let log = t.seen.log_snapshot();
    assert_eq!(
        log.first().map(String::as_str),
        Some("/set_start"),
        "log: {log:?}"
    );
    assert!(
        t.seen.count("/in") >= 10,
        "in-set task ran {} times",
        t.seen.count("/in")
    );
    let leaves = t.seen.count("/leave");
    assert!(leaves >= 3, "interrupt task ran {leaves} times: {log:?}");
    // After every interrupt: the set's on_stop, then the parent (whose only task is the set)
    // enters it again.
    for (i, p) in log.iter().enumerate() {
        if p == "/leave" && i + 2 < log.len() {
            assert_eq!(
                log[i + 1..i + 3],
                ["/set_stop", "/set_start"],
                "after /leave at {i}: {log:?}"
            );
        }
        if p == "/set_start" {
            // Inside the set: only its own tasks until it is left (or the test stops: then the
            // set's on_stop is the last request).
            let next = log[i + 1..].iter().take_while(|p| *p != "/leave");
            for (j, q) in next.enumerate() {
                let at_end = i + 1 + j == log.len() - 1;
                assert!(
                    q == "/in" || (at_end && q == "/set_stop"),
                    "unexpected {q} inside the set: {log:?}"
                );
            }
        }
    }
    // Stopping the user inside the set runs the set's on_stop too.
    assert_eq!(
        log.last().map(String::as_str),
        Some("/set_stop"),
        "log: {log:?}"
    );
    assert!(
        t.seen.count("/set_start") >= leaves,
        "set re-entered {} times after {leaves} interrupts",
        t.seen.count("/set_start")
    );
}

#[test]
fn sequence_runs_in_order_with_weights() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ tasks: [sequence(#{ tasks: ["a", "b", task("c", 2)] })] });
fn a() { this.client.get("/a"); }
fn b() { this.client.get("/b"); }
fn c() { this.client.get("/c"); }
"#,
    );
    let r = run(cmd(&sc, &t, &["-u", "1", "-r", "1", "-t", "1s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let log = t.seen.log_snapshot();
    assert!(log.len() >= 20, "only {} requests", log.len());
    let pattern = ["/a", "/b", "/c", "/c"];
    for (i, p) in log.iter().enumerate() {
        assert_eq!(
            p,
            pattern[i % 4],
            "request {i} out of order: {:?}",
            &log[..log.len().min(i + 4)]
        );
    }
}

#[test]
fn interrupt_outside_a_taskset_is_an_exception_naming_the_task() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), tasks: ["misplaced"] });
fn misplaced() { this.client.get("/bad"); interrupt(); }
"#,
    );
    let prefix = sc.dir.path().join("run");
    let r = run(
        cmd(
            &sc,
            &t,
            &[
                "-u",
                "1",
                "-r",
                "1",
                "-t",
                "1s",
                "--csv",
                prefix.to_str().unwrap(),
            ],
        ),
        LIMIT,
    );
    assert_eq!(r.code, 1, "an exception must give exit code 1: {}", r.all());
    assert!(
        t.seen.count("/bad") >= 3,
        "the user did not go on: {} /bad",
        t.seen.count("/bad")
    );
    let exc = csv(&prefix, "exceptions");
    assert_eq!(exc.len(), 2, "one exception entry expected: {exc:?}");
    let (count, msg) = (&exc[1][0], &exc[1][1]);
    assert!(
        msg.contains("interrupt()") && msg.contains("misplaced"),
        "message: {msg}"
    );
    let count: u64 = count.parse().unwrap();
    assert_eq!(count, t.seen.count("/bad"), "one exception per task run");
}

#[test]
fn stop_user_ends_that_user_only_and_runs_its_on_stop() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("Quitter", #{ fixed_count: 2, on_stop: "bye", tasks: ["quit"] });
user("Stayer", #{ fixed_count: 1, wait_time: constant(0.05), tasks: ["stay"] });
fn quit() { this.client.get("/q"); stop_user(); this.client.get("/never"); }
fn bye() { this.client.get("/bye"); }
fn stay() { this.client.get("/stay"); }
"#,
    );
    let prefix = sc.dir.path().join("run");
    let r = run(
        cmd(
            &sc,
            &t,
            &[
                "-u",
                "3",
                "-r",
                "10",
                "-t",
                "2s",
                "--csv",
                prefix.to_str().unwrap(),
            ],
        ),
        LIMIT,
    );
    assert_eq!(r.code, 0, "stop_user() is not an error: {}", r.all());
    assert_eq!(
        t.seen.count("/q"),
        2,
        "each quitter runs one task and is not respawned"
    );
    assert_eq!(t.seen.count("/never"), 0, "code after stop_user() ran");
    assert_eq!(t.seen.count("/bye"), 2, "on_stop once per stopped user");
    let log = t.seen.log_snapshot();
    let last_bye = log.iter().rposition(|p| p == "/bye").unwrap();
    let after = log[last_bye..].iter().filter(|p| *p == "/stay").count();
    assert!(
        after >= 10,
        "the other user did not go on after the stops ({after} /stay after): {log:?}"
    );
    let stats = csv(&prefix, "stats");
    assert!(stats_row(&stats, "GET", "/never").is_none());
    let exc = csv(&prefix, "exceptions");
    assert_eq!(exc.len(), 1, "stop_user() is not an exception: {exc:?}");
}

/// Seconds from each `/leave` to the next `/set_start`.
fn reentry_delays(t: &Target) -> Vec<f64> {
    let stamped = t.seen.stamped.lock().clone();
    let mut out = Vec::new();
    for (i, (p, at)) in stamped.iter().enumerate() {
        if p == "/leave" {
            if let Some((_, next)) = stamped[i + 1..].iter().find(|(q, _)| q == "/set_start") {
                out.push((*next - *at).as_secs_f64());
            }
        }
    }
    out
}

const WAITING_PARENT: &str = r#"
user("U", #{
    wait_time: constant(0.5),
    tasks: [taskset(#{ wait_time: constant(0), on_start: "set_start", tasks: ["leave"] })],
});
fn set_start() { this.client.get("/set_start"); }
"#;

#[test]
fn interrupt_reschedules_at_once_but_interrupt_false_waits_in_the_parent() {
    let now = Target::start();
    let sc = scenario(&format!(
        "{WAITING_PARENT}\nfn leave() {{ this.client.get(\"/leave\"); interrupt(); }}"
    ));
    let r = run(cmd(&sc, &now, &["-u", "1", "-r", "1", "-t", "2s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let d = reentry_delays(&now);
    assert!(d.len() >= 5, "re-entries: {d:?}");
    assert!(
        d.iter().all(|s| *s < 0.3),
        "interrupt() waited before re-entering: {d:?}"
    );

    let later = Target::start();
    let sc = scenario(&format!(
        "{WAITING_PARENT}\nfn leave() {{ this.client.get(\"/leave\"); interrupt(false); }}"
    ));
    let r = run(cmd(&sc, &later, &["-u", "1", "-r", "1", "-t", "3s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let d = reentry_delays(&later);
    assert!(d.len() >= 2, "re-entries: {d:?}");
    assert!(
        d.iter().all(|s| (0.45..1.0).contains(s)),
        "interrupt(false) should wait the parent's 0.5 s: {d:?}"
    );
}
