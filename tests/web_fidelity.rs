//! The web API against Locust 2.47's own answers (issue 13), with the real binary in web mode. The
//! expected answers were captured once from real Locust by `tests/fixtures/locust_api/capture.py`
//! (its docstring says how) and are checked in as `locust_2_47.json`; the scenario here mirrors
//! that capture's locustfile (class A weight 3 with a task `home` and a task set `Browse`, class B
//! weight 1 with a task `other`) so the answers can be compared value for value.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{bin, scenario, spawn, wait_until, Target};
use serde_json::Value;

const FORM: &str = "application/x-www-form-urlencoded";

/// The capture's locustfile, in Rhai.
const SCENARIO: &str = r#"
user("A", #{
    weight: 3,
    wait_time: constant(0.05),
    tasks: [
        taskset(#{ name: "Browse", tasks: [task("page", 3), task("done", 1)] }),
        "home",
    ],
});
user("B", #{ weight: 1, wait_time: constant(0.05), tasks: ["other"] });
fn home() { this.client.get("/home"); }
fn page() { this.client.get("/page"); }
fn done() { interrupt(); }
fn other() { this.client.get("/other"); }
"#;

/// Locust's captured answer `name`, with the capture's target URL replaced by `host`.
fn locust(name: &str, host: &str) -> Value {
    let text = include_str!("fixtures/locust_api/locust_2_47.json").replace("{HOST}", host);
    let all: Value = serde_json::from_str(&text).expect("the fixture is JSON");
    let answer = all["answers"][name].clone();
    assert!(answer.is_object(), "no captured answer {name}");
    answer
}

/// One answer of ours: status, content type and body (JSON when it parses, else the text).
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

/// A request over HTTP/1.0 with std only.
fn call(port: u16, method: &str, path: &str, content_type: &str, body: &str) -> Option<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let (head, text) = out.split_once("\r\n\r\n")?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    let body = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    Some(Answer {
        status,
        content_type,
        body,
    })
}

fn get(port: u16, path: &str) -> Answer {
    call(port, "GET", path, FORM, "").unwrap_or_else(|| panic!("GET {path} failed"))
}

fn post(port: u16, path: &str, content_type: &str, body: &str) -> Answer {
    call(port, "POST", path, content_type, body).unwrap_or_else(|| panic!("POST {path} failed"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A target, and the binary in web mode on a free port running `src` (with `-H` the target when
/// `dash_h`), once its API answers.
struct Web {
    t: Target,
    _sc: common::Scenario,
    p: common::Proc,
    port: u16,
}

impl Web {
    fn start(src: &str, dash_h: bool, envs: &[(&str, &str)]) -> Web {
        let t = Target::start();
        let sc = scenario(&src.replace("TARGET", &t.url()));
        let port = free_port();
        let mut cmd = bin();
        cmd.arg(&sc.path)
            .args(["--web-port", &port.to_string()])
            .envs(envs.iter().copied());
        if dash_h {
            cmd.args(["-H", &t.url()]);
        }
        let p = spawn(cmd);
        assert!(
            wait_until(Duration::from_secs(15), || call(
                port, "GET", "/status", FORM, ""
            )
            .is_some()),
            "UI never came up"
        );
        Web {
            t,
            _sc: sc,
            p,
            port,
        }
    }

    fn host(&self) -> String {
        self.t.url()
    }

    fn quit(self) {
        self.p.signal(libc::SIGINT);
        let r = self.p.wait(Duration::from_secs(15));
        assert!(r.code == 0 || r.code == 1, "{}", r.all());
    }
}

#[test]
fn refused_swarm_and_route_statuses_answer_like_locust() {
    let web = Web::start(SCENARIO, true, &[]);
    let (port, host) = (web.port, web.host());

    // A refused start: Locust's status and body, message included.
    for (name, body) in [
        (
            "swarm_bad_run_time",
            "user_count=1&spawn_rate=1&run_time=abc",
        ),
        ("swarm_bad_user_count", "user_count=abc&spawn_rate=1"),
        ("swarm_missing", ""),
    ] {
        let want = locust(name, &host);
        let ours = post(port, "/swarm", FORM, body);
        assert_eq!(u64::from(ours.status), want["status"], "{name}");
        assert_eq!(ours.content_type, want["content_type"], "{name}");
        assert_eq!(ours.body, want["body"], "{name}");
    }
    // Nothing started.
    assert_eq!(get(port, "/stats/requests").body["state"], "ready");

    // Same status as Locust (the bodies are Flask's HTML pages, ours are JSON or empty).
    for (name, method, path) in [
        ("get_stop", "GET", "/stop"),
        ("get_swarm", "GET", "/swarm"),
        ("unknown_route", "GET", "/no/such/route"),
        (
            "full_history_csv_disabled",
            "GET",
            "/stats/requests_full_history/csv",
        ),
    ] {
        let want = locust(name, &host);
        let ours = call(port, method, path, FORM, "").expect("an answer");
        assert_eq!(u64::from(ours.status), want["status"], "{name}");
    }
    let full = get(port, "/stats/requests_full_history/csv");
    assert_eq!(
        full.body,
        locust("full_history_csv_disabled", &host)["body"]
    );

    // The one status difference left on purpose (README): GET /stats/reset still works here,
    // Locust 2.47 answers 405.
    assert_eq!(locust("get_stats_reset", &host)["status"], 405);
    assert_eq!(get(port, "/stats/reset").status, 200);

    web.quit();
}

/// (method, name, num_requests) of each `/stats/requests` row.
fn rows(v: &Value) -> Vec<(String, String, u64)> {
    v["stats"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                    (
                        text("method"),
                        text("name"),
                        r["num_requests"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn reset_keeps_every_row_zeroed_and_they_count_again() {
    let web = Web::start(SCENARIO, true, &[]);
    let (port, host) = (web.port, web.host());
    let swarm = post(port, "/swarm", FORM, "user_count=4&spawn_rate=100");
    assert_eq!(swarm.body["success"], true, "{}", swarm.body);
    assert!(
        wait_until(Duration::from_secs(15), || {
            let v = get(port, "/stats/requests").body;
            rows(&v).iter().filter(|r| r.2 > 0).count() == 4
        }),
        "never a row for each of /home, /page, /other"
    );
    let names = |v: &Value| -> Vec<(String, String)> {
        rows(v).into_iter().map(|(m, n, _)| (m, n)).collect()
    };
    let before = get(port, "/stats/requests").body;

    // While running: the rows stay and count again from zero.
    let reset = post(port, "/stats/reset", FORM, "");
    assert_eq!((reset.status, reset.body.as_str()), (200, Some("ok")));
    let after = get(port, "/stats/requests").body;
    assert_eq!(names(&after), names(&before));
    let total = |v: &Value| rows(v).last().map_or(0, |r| r.2);
    assert!(total(&after) < total(&before), "{after}");
    assert!(
        wait_until(Duration::from_secs(10), || {
            let v = get(port, "/stats/requests").body;
            let r = rows(&v);
            r.len() == 4 && r.iter().all(|r| r.2 > 0)
        }),
        "the kept rows never counted again"
    );

    // Stopped, then reset: Locust's rows, all zero, in /stats/requests and the CSV download.
    assert_eq!(post(port, "/stop", FORM, "").status, 200);
    assert_eq!(post(port, "/stats/reset", FORM, "").status, 200);
    let want = locust("stats_after_reset", &host);
    let ours = get(port, "/stats/requests").body;
    assert_eq!(names(&ours), names(&want["body"]));
    let (ours_rows, want_rows) = (
        ours["stats"].as_array().cloned().unwrap_or_default(),
        want["body"]["stats"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    for (o, w) in ours_rows.iter().zip(&want_rows) {
        let keys = w.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>());
        for k in keys.unwrap_or_default() {
            match w[&k].as_f64() {
                // Numbers compare as numbers (Locust mixes 0 and 0.0).
                Some(n) => assert_eq!(o[&k].as_f64(), Some(n), "{k}: {o}"),
                None => assert_eq!(o[&k], w[&k], "{k}"),
            }
        }
    }
    assert_eq!(ours["errors"], want["body"]["errors"]);
    let csv = get(port, "/stats/requests/csv");
    assert_eq!(csv.body, locust("csv_after_reset", &host)["body"]);

    web.quit();
}

/// Asserts two `/tasks` trees (`{name: {"ratio": r, "tasks": {...}}}`) have the same names and
/// ratios, `depth` levels deep.
fn same_ratios(ours: &Value, want: &Value, depth: usize, at: &str) {
    let names = |v: &Value| {
        let mut k: Vec<String> = v
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    assert_eq!(names(ours), names(want), "{at}: {ours} vs {want}");
    for name in names(want) {
        let (o, w) = (&ours[&name], &want[&name]);
        let (a, b) = (o["ratio"].as_f64(), w["ratio"].as_f64());
        assert!(
            matches!((a, b), (Some(a), Some(b)) if (a - b).abs() < 1e-12),
            "{at}/{name}: {a:?}, Locust {b:?}"
        );
        if depth > 1 && w.get("tasks").is_some() {
            same_ratios(&o["tasks"], &w["tasks"], depth - 1, &format!("{at}/{name}"));
        }
    }
}

/// Our `/tasks` against Locust's: the whole `total` tree, and under `per_class` the classes and
/// their own tasks (how that tree nests a task set's tasks is the static ratios' business).
fn same_tasks(ours: &Value, want: &Value) {
    same_ratios(&ours["total"], &want["total"], usize::MAX, "total");
    same_ratios(&ours["per_class"], &want["per_class"], 2, "per_class");
}

#[test]
fn task_ratios_follow_the_running_users_like_locust() {
    let web = Web::start(SCENARIO, true, &[]);
    let (port, host) = (web.port, web.host());
    same_tasks(
        &get(port, "/tasks").body,
        &locust("tasks_idle", &host)["body"],
    );

    let swarm = post(port, "/swarm", FORM, "user_count=4&spawn_rate=100");
    assert_eq!(swarm.body["success"], true, "{}", swarm.body);
    assert!(
        wait_until(Duration::from_secs(10), || get(port, "/tasks").body
            ["per_class"]["A"]["ratio"]
            == 0.75),
        "never 3 A and 1 B: {}",
        get(port, "/tasks").body
    );
    same_tasks(
        &get(port, "/tasks").body,
        &locust("tasks_running", &host)["body"],
    );

    assert_eq!(post(port, "/stop", FORM, "").status, 200);
    same_tasks(
        &get(port, "/tasks").body,
        &locust("tasks_stopped", &host)["body"],
    );
    web.quit();
}
