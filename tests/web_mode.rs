//! Web mode with the real binary: the UI's API starts a test, re-targets it, stops it; the
//! scenario reloads from disk between runs and a compile error leaves the loaded one running;
//! --autostart/--autoquit run unattended; a non-loopback --web-host without --web-auth warns.

mod common;

use std::time::Duration;

use common::{bin, free_port, http, scenario, spawn, wait_until, Target};

fn json(port: u16, path: &str) -> serde_json::Value {
    let (code, body) = http(port, "GET", path, None).expect("request");
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

const SRC: &str = r#"
user("Web", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() { this.client.get("/from-web"); }
"#;

#[test]
fn the_api_starts_retargets_and_stops_a_test_and_reload_keeps_a_good_scenario() {
    let t = Target::start();
    let sc = scenario(SRC);
    let port = free_port();
    let mut cmd = bin();
    cmd.arg(&sc.path)
        .args(["-H", &t.url(), "--web-port", &port.to_string()]);
    let p = spawn(cmd);
    assert!(
        wait_until(Duration::from_secs(15), || http(
            port, "GET", "/status", None
        )
        .is_some()),
        "UI never came up"
    );
    let status = json(port, "/status");
    assert_eq!(status["state"], "ready");
    assert_eq!(status["classes"][0]["name"], "Web");

    // Start.
    let (code, body) = http(port, "POST", "/swarm", Some("user_count=4&spawn_rate=100")).unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"success\":true"), "{body}");
    assert!(
        wait_until(Duration::from_secs(10), || json(port, "/stats/requests")
            ["user_count"]
            == 4),
        "never 4 users"
    );
    assert!(
        wait_until(Duration::from_secs(10), || t.seen.count("/from-web") > 20),
        "no load"
    );
    assert_eq!(json(port, "/stats/requests")["state"], "running");
    // The charts' history covers the run so far (a page opened mid-run shows it all).
    assert!(wait_until(Duration::from_secs(5), || json(
        port,
        "/stats/history"
    )
    .as_array()
    .is_some_and(|h| h.len() >= 2)));
    let h = json(port, "/stats/history");
    let last = h.as_array().unwrap().last().unwrap().clone();
    for k in [
        "time",
        "user_count",
        "current_rps",
        "response_time_percentile_50",
        "response_time_percentile_95",
    ] {
        assert!(last.get(k).is_some(), "history point without {k}: {last}");
    }

    // Re-target while running.
    let (code, _) = http(port, "POST", "/swarm", Some("user_count=1&spawn_rate=100")).unwrap();
    assert_eq!(code, 200);
    assert!(
        wait_until(Duration::from_secs(10), || json(port, "/stats/requests")
            ["user_count"]
            == 1),
        "never 1 user"
    );

    // A broken scenario on disk: reload fails with file:line:col, the test keeps running.
    std::fs::write(&sc.path, "user(\"Web\", #{ tasks: [\"t\"] \n").unwrap();
    let (code, body) = http(port, "POST", "/reload", None).unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("scenario.rhai:2:"), "{body}");
    assert!(json(port, "/status")["reload_error"]
        .as_str()
        .unwrap_or("")
        .contains("scenario.rhai:2:"));
    let before = t.seen.count("/from-web");
    assert!(
        wait_until(Duration::from_secs(5), || t.seen.count("/from-web")
            > before + 5),
        "the test stopped"
    );

    // Stop: the load stops, stopping again is harmless.
    let (code, body) = http(port, "POST", "/stop", None).unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(wait_until(Duration::from_secs(10), || json(
        port,
        "/stats/requests"
    )["state"]
        == "stopped"));
    let after = t.seen.count("/from-web");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(t.seen.count("/from-web"), after, "requests after stop");
    assert_eq!(http(port, "POST", "/stop", None).unwrap().0, 200);

    // Fix the scenario (a new class), reload, start again: the new one runs.
    std::fs::write(
        &sc.path,
        SRC.replace("\"Web\"", "\"Web2\"")
            .replace("/from-web", "/from-reloaded"),
    )
    .unwrap();
    let (code, body) = http(port, "POST", "/reload", None).unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(port, "/status")["classes"][0]["name"], "Web2");
    assert!(json(port, "/status")["reload_error"].is_null());
    let (code, _) = http(port, "POST", "/swarm", Some("user_count=2&spawn_rate=100")).unwrap();
    assert_eq!(code, 200);
    assert!(
        wait_until(Duration::from_secs(10), || t.seen.count("/from-reloaded")
            > 5),
        "reloaded scenario not running"
    );

    p.signal(libc::SIGINT);
    let r = p.wait(Duration::from_secs(15));
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn autostart_and_autoquit_run_unattended_and_write_the_reports() {
    let t = Target::start();
    let sc = scenario(SRC);
    let prefix = sc.dir.path().join("run");
    let html = sc.dir.path().join("report.html");
    let mut cmd = bin();
    cmd.arg(&sc.path)
        .args(["-H", &t.url(), "--web-port", &free_port().to_string()]);
    cmd.args([
        "--autostart",
        "-u",
        "3",
        "-r",
        "100",
        "-t",
        "2s",
        "--autoquit",
        "1",
    ]);
    cmd.arg("--csv").arg(&prefix).arg("--html").arg(&html);
    let r = spawn(cmd).wait(Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.all());
    let stats = sc.csv("stats");
    let row = common::stats_row(&stats, "GET", "/from-web").expect("a stats row");
    let n: u64 = row["Request Count"].parse().unwrap();
    let seen = t.seen.count("/from-web");
    assert!(
        n > 10 && seen >= n && seen - n <= 3,
        "csv {n}, server {seen}"
    );
    let report = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(report.contains("/from-web"));
}

#[test]
fn a_non_loopback_web_host_without_auth_warns() {
    let sc = scenario(SRC);
    let mut cmd = bin();
    cmd.arg(&sc.path).args([
        "-H",
        "http://127.0.0.1:9",
        "--web-host",
        "0.0.0.0",
        "--web-port",
        &free_port().to_string(),
    ]);
    cmd.args(["--autostart", "-u", "0", "-t", "1s", "--autoquit", "0"]);
    let r = spawn(cmd).wait(Duration::from_secs(20));
    assert!(
        r.stderr.contains("not a loopback address") && r.stderr.contains("--web-auth"),
        "{}",
        r.stderr
    );
}
