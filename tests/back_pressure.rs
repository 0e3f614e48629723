//! When the coroutine stack pool is exhausted (hidden `--max-coroutine-stacks`, standing in for
//! the kernel's `vm.max_map_count`), users queue for a stack instead of failing: every user makes
//! progress, at most the pool's size are inside a task at once, one warning is logged, exit code 0.

mod common;

use std::time::Duration;

use common::{bin, run, scenario, Target};

const SCENARIO: &str = r#"
user("U", #{ on_start: "hello", tasks: ["work"] });
fn hello() { this.me = uuid(); }
fn work() { this.client.get("/user/" + this.me, #{ name: "/user/[id]" }); sleep(0.2); }
"#;

/// 40 users on `threads` threads with a pool of 4 stacks for 4 s; returns the requests seen.
fn queued_users_all_progress(threads: &str) -> u64 {
    let t = Target::start();
    let sc = scenario(SCENARIO);
    let mut c = bin();
    c.arg(&sc.path).args([
        "--headless",
        "--only-summary",
        "-H",
        &t.url(),
        "--threads",
        threads,
        "--max-coroutine-stacks",
        "4",
        "-u",
        "40",
        "-r",
        "1000",
        "-t",
        "4s",
    ]);
    let r = run(c, Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.seen.distinct(), 40, "users that made a request");
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("vm.max_map_count"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "expected one warning, got: {warnings:#?}\nstderr:\n{}",
        r.stderr
    );
    assert!(
        warnings[0].contains("WARN"),
        "not a warning: {}",
        warnings[0]
    );
    t.seen.total()
}

#[test]
fn users_wait_for_a_stack_on_one_thread() {
    let total = queued_users_all_progress("1");
    // 4 stacks, tasks of 0.2 s: at most ~20 tasks/s, so ~80 in 4 s; 40 free users would make ~800.
    assert!(
        (40..=110).contains(&total),
        "{total} tasks: the pool bound did not hold"
    );
}

#[test]
fn one_warning_for_the_whole_process_on_two_threads() {
    // 2 stacks per thread: still everybody progresses, and the warning is logged once.
    let total = queued_users_all_progress("2");
    assert!(
        (40..=110).contains(&total),
        "{total} tasks: the pool bound did not hold"
    );
}
