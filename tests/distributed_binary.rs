//! The real binary in every role: a rustlocust master (`--master --headless`) with three
//! rustlocust workers (`--worker`), all on 127.0.0.1, started and stopped by PID. The master's
//! CSV counts what the target saw, and every process exits 0 after the master's quit.

mod common;

use std::time::Duration;

use common::{bin, count_of, csv, free_port, scenario, spawn, stats_row, Target};

const SCENARIO: &str = r#"
user("MyUser", #{ wait_time: constant(0.2), tasks: ["t"] });
fn t() { this.client.get("/d"); }
"#;

#[test]
fn a_master_and_three_workers_all_rustlocust() {
    let target = Target::start();
    let sc = scenario(SCENARIO);
    let port = free_port().to_string();
    let prefix = sc.dir.path().join("m");
    let mut master = bin();
    master
        .arg(&sc.path)
        .args(["--master", "--headless", "--only-summary"])
        .args([
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
        ])
        .args(["--expect-workers", "3", "--expect-workers-max-wait", "60s"])
        .args([
            "-u",
            "30",
            "-r",
            "30",
            "-t",
            "6s",
            "-H",
            &target.url(),
            "--csv",
        ])
        .arg(&prefix);
    let master = spawn(master);
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let mut w = bin();
            w.arg(&sc.path)
                .args(["--worker", "--master-port", &port, "--threads", "1"]);
            spawn(w)
        })
        .collect();
    let m = master.wait(Duration::from_secs(90));
    assert_eq!(m.code, 0, "master:\n{}", m.all());
    for w in workers {
        let r = w.wait(Duration::from_secs(20));
        assert_eq!(
            r.code,
            0,
            "a worker did not exit 0 after quit:\n{}",
            r.all()
        );
    }
    let stats = csv(&prefix, "stats");
    let row = stats_row(&stats, "GET", "/d").expect("a GET /d row in the master's CSV");
    let counted = count_of(&row, "Request Count");
    let seen = target.seen.count("/d");
    // 30 users at ~5 requests/s for ~6 s; users stopped mid-request (no stop timeout) are the
    // only samples the target can see and the workers never record.
    assert!(seen > 300, "the target saw only {seen}");
    assert!(
        counted <= seen && seen - counted <= 30,
        "master counted {counted}, target saw {seen}\n{}",
        m.all()
    );
}
