//! Thousands of users that sleep inside a task all make progress on a single worker thread: a
//! sleeping user holds no thread, so 5,000 of them interleave on `--threads 1`.

mod common;

use std::time::{Duration, Instant};

use common::{bin, raise_nofile_limit, run, scenario, Target};

const USERS: usize = 5_000;

#[test]
fn five_thousand_sleeping_users_on_one_thread() {
    // Every user keeps its own connection: the target (in this process) and rustlocust (which
    // inherits the limit) each hold ~5,000 sockets.
    let nofile = raise_nofile_limit();
    assert!(
        nofile >= 2 * USERS as u64,
        "open-file limit {nofile} is too low for this test"
    );
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ on_start: "hello", tasks: ["visit"] });
fn hello() { this.me = uuid(); }
fn visit() { this.client.get("/user/" + this.me, #{ name: "/user/[id]" }); sleep(1); }
"#,
    );
    let mut c = bin();
    c.arg(&sc.path).args([
        "--headless",
        "--only-summary",
        "-H",
        &t.url(),
        "--threads",
        "1",
        "-u",
        "5000",
        "-r",
        "5000",
        "-t",
        "8s",
    ]);
    let started = Instant::now();
    let r = run(c, Duration::from_secs(40));
    let took = started.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(took < Duration::from_secs(20), "the 8 s run took {took:?}");
    let distinct = t.seen.distinct();
    assert_eq!(distinct, USERS, "distinct users seen by the target");
    // Each user loops get + sleep(1): over ~7 s users came back (how often depends on how fast
    // this machine serves ~5,000 requests/s: be generous), most of them more than once.
    let per_user = t.seen.times_by_path("/user/");
    let total = t.seen.total();
    assert!(
        total >= 2 * USERS as u64,
        "only {total} requests from {USERS} users in 8 s"
    );
    let repeaters = per_user.values().filter(|v| v.len() >= 2).count();
    assert!(
        repeaters >= USERS / 2,
        "only {repeaters} of {USERS} users came back after sleep(1) (total {total})"
    );
    let most = per_user.values().map(Vec::len).max().unwrap();
    assert!(
        most <= 9,
        "a user made {most} requests in 8 s with sleep(1) per task"
    );
}
