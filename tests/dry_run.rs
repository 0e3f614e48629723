//! `rustlocust --check --dry-run`: one user of each class runs on_start, every task once (task sets
//! included) and on_stop against the target, printing each request and its result; the exit code
//! says whether anything failed; `--dry-run` alone is a usage error.

mod common;

use std::time::Duration;

use common::{bin, run, scenario, Target};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn every_task_runs_once_and_each_request_is_printed() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("Shopper", #{ on_start: "hello", on_stop: "bye", tasks: [task("browse", 5), task("cart", 1), task(taskset(#{
    name: "Checkout", on_start: "enter", tasks: ["pay", "interrupting"] }), 1)] });
user("Admin", #{ tasks: ["audit"] });
fn hello() { this.client.get("/hello"); }
fn bye() { this.client.get("/bye"); }
fn browse() { this.client.get("/browse"); }
fn cart() { this.client.get("/cart/items", #{ name: "/cart/[items]" }); }
fn enter() { this.client.get("/enter"); }
fn pay() { this.client.post("/pay"); }
fn interrupting() { interrupt(); }
fn audit() { this.client.get("/audit"); }
"#,
    );
    let mut cmd = bin();
    cmd.arg("--check")
        .arg("--dry-run")
        .arg(&sc.path)
        .args(["-H", &t.url()]);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    // Each task once, whatever its weight; on_start/on_stop once per class.
    for p in [
        "/hello",
        "/bye",
        "/browse",
        "/cart/items",
        "/enter",
        "/pay",
        "/audit",
    ] {
        assert_eq!(t.seen.count(p), 1, "{p} in {:?}", t.seen.log_snapshot());
    }
    assert_eq!(t.seen.total(), 7);
    for line in [
        "Shopper:",
        "Admin:",
        "task browse",
        "Checkout.on_start",
        "GET /browse",
        "POST /pay",
        "GET /cart/[items]",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?} in\n{}", r.stdout);
    }
    assert!(r.stdout.contains("dry run: OK"), "{}", r.stdout);
}

#[test]
fn failures_and_script_errors_show_and_set_the_exit_code() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ tasks: ["bad_status", "boom", "fine"] });
fn bad_status() { this.client.get("/status/503"); }
fn boom() { let x = #{}; x.missing.call(); }
fn fine() { this.client.get("/fine"); }
"#,
    );
    let mut cmd = bin();
    cmd.arg("--check")
        .arg("--dry-run")
        .arg(&sc.path)
        .args(["-H", &t.url()]);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout.contains("GET /status/503") && r.stdout.contains("FAILED HTTPError('503"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("raised an error"), "{}", r.stdout);
    assert!(
        r.stderr.contains("scenario.rhai:4:"),
        "the error names the script line: {}",
        r.stderr
    );
    assert_eq!(
        t.seen.count("/fine"),
        1,
        "the dry run goes on after a failure"
    );
}

#[test]
fn dry_run_needs_check_and_reports_an_unreachable_target() {
    let sc = scenario("user(\"U\", #{ tasks: [\"t\"] });\nfn t() { this.client.get(\"/\"); }\n");
    let mut cmd = bin();
    cmd.arg("--dry-run")
        .arg(&sc.path)
        .args(["-H", "http://127.0.0.1:9"]);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("--check"), "{}", r.stderr);

    // Nothing listens on port 9: every request fails, the dry run still ends and says so.
    let mut cmd = bin();
    cmd.arg("--check")
        .arg("--dry-run")
        .arg(&sc.path)
        .args(["-H", "http://127.0.0.1:9"]);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.contains("ConnectionRefusedError"), "{}", r.stdout);
}
