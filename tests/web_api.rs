//! The web mode's HTTP API (Locust 2.47's routes plus `/stats/stream` and `/metrics`), served by
//! `rustlocust::web::router` on 127.0.0.1 with a fake controller that answers every `Command`
//! and records what it was asked, so each test can tell whether a request reached it.

mod common;

use common::{LOCUST_CURRENT_PERCENTILE_KEYS, LOCUST_ERROR_KEYS, LOCUST_ROW_KEYS, LOCUST_TOP_KEYS};

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use reqwest::StatusCode;
use rustlocust::run::ClassUpdateError;
use rustlocust::stats::{Shard, Stats};
use rustlocust::web::{self, Command, RunState, RunStatus, ScenarioInfo, WebOptions, WebState};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

const HOST: &str = "http://target.example";
const FORM: &str = "application/x-www-form-urlencoded";

struct Fake {
    state: Arc<WebState>,
    base: String,
    /// What the fake controller was asked, in order.
    commands: Arc<Mutex<Vec<String>>>,
    snapshot: watch::Sender<Arc<str>>,
    /// The run status, as the test run would publish it.
    run: Arc<watch::Sender<RunStatus>>,
    http: reqwest::Client,
}

impl Fake {
    async fn start() -> Fake {
        Fake::start_with(WebOptions::default()).await
    }

    async fn start_with(options: WebOptions) -> Fake {
        Fake::launch(options, true).await
    }

    /// Without `controller`, the command channel is closed, as after the controller exited.
    async fn launch(options: WebOptions, controller: bool) -> Fake {
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel();
        if !controller {
            cmd_rx.close();
        }
        let (snap_tx, snap_rx) = watch::channel(Arc::<str>::from("{}"));
        let now = rustlocust::stats::unix_now();
        // The fake controller is the only writer of the run status, as the test run is.
        let (run_tx, run_rx) = watch::channel(RunStatus {
            state: RunState::Ready,
            user_count: 0,
            user_classes_count: Default::default(),
            target_users: 0,
            spawn_rate: 1.0,
            host: HOST.to_owned(),
            started_at: None,
            run_time: None,
        });
        let run_tx = Arc::new(run_tx);
        let state = Arc::new(WebState {
            cmd: cmd_tx,
            stats: Arc::new(Mutex::new(sample_stats(now))),
            run: run_rx,
            scenario: RwLock::new(ScenarioInfo {
                scenario_file: "scenarios/demo.rhai".to_owned(),
                classes: Vec::new(),
                tasks: json!({"per_class": {"A": {"ratio": 1.0, "tasks": {"home": {"ratio": 1.0}}}},
                              "total": {"A": {"ratio": 1.0, "tasks": {"home": {"ratio": 1.0}}}}}),
                reload_error: None,
            }),
            history: Arc::new(Mutex::new(Vec::new())),
            snapshot: snap_rx,
            options,
            workers: None,
        });
        let commands = Arc::new(Mutex::new(Vec::new()));
        let (st, log, run) = (state.clone(), commands.clone(), run_tx.clone());
        tokio::spawn(async move {
            while let Some(cmd) = cmd_rx.recv().await {
                match cmd {
                    Command::Swarm { load, reply } => {
                        let rustlocust::web::Load {
                            users,
                            spawn_rate,
                            host,
                            run_time,
                            user_classes,
                        } = load;
                        if user_classes.iter().any(|c| c == "Nope") {
                            log.lock().push("swarm refused".to_owned());
                            let _ = reply.send(Err("unknown user class 'Nope'".to_owned()));
                            continue;
                        }
                        log.lock().push(format!(
                            "swarm {users} {spawn_rate} {host:?} {run_time:?} {user_classes:?}"
                        ));
                        run.send_modify(|s| {
                            s.state = RunState::Running;
                            s.user_count = users;
                            s.target_users = users;
                            if let Some(h) = host {
                                s.host = h;
                            }
                        });
                        let _ = reply.send(Ok(()));
                    }
                    Command::Stop { reply } => {
                        log.lock().push("stop".to_owned());
                        run.send_modify(|s| {
                            s.state = RunState::Stopped;
                            s.user_count = 0;
                        });
                        let _ = reply.send(());
                    }
                    Command::ResetStats { reply } => {
                        log.lock().push("reset".to_owned());
                        st.stats.lock().reset(rustlocust::stats::unix_now());
                        let _ = reply.send(());
                    }
                    Command::Reload { reply } => {
                        log.lock().push("reload".to_owned());
                        let _ = reply.send(Ok("reloaded".to_owned()));
                    }
                    Command::UpdateUserClass { update, reply } => {
                        log.lock().push(format!("user {update:?}"));
                        let answer = match update.class.as_str() {
                            "Busy" => Err(ClassUpdateError::Running),
                            _ => Ok(()),
                        };
                        let _ = reply.send(answer);
                    }
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        let app = web::router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Fake {
            state,
            base: format!("http://{addr}"),
            commands,
            snapshot: snap_tx,
            run: run_tx,
            http,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    async fn post(&self, path: &str, content_type: &str, body: &str) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    async fn json(&self, path: &str) -> Value {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.json()
            .await
            .unwrap_or_else(|e| panic!("GET {path} JSON: {e}"))
    }

    fn commands(&self) -> Vec<String> {
        self.commands.lock().clone()
    }
}

/// Two endpoints (one failing), an exception and a label value that needs escaping.
fn sample_stats(now: f64) -> Stats {
    let mut shard = Shard::new();
    for i in 0..40 {
        let at = now - 8.0 + i as f64 / 10.0;
        shard.record_at("GET", "/x", 100.0 + i as f64, 10, None, at);
        shard.record_at("POST", "/y", 12.5, 0, Some("Exception('nope')"), at);
    }
    shard.record_at("GET", "/a\"b\\c", 0.4, 3, None, now - 5.0);
    shard.record_exception(
        "ZeroDivisionError: division by zero",
        "Traceback:\n  line 1\n",
    );
    let mut stats = Stats::new(now - 10.0);
    stats.merge(shard.take());
    stats
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

#[tokio::test]
async fn stats_requests_has_locust_247_shape() {
    let fake = Fake::start().await;
    let v = fake.json("/stats/requests").await;
    assert_eq!(keys(&v), sorted(&LOCUST_TOP_KEYS), "{v:#}");
    assert_eq!(
        keys(&v["current_response_time_percentiles"]),
        sorted(&LOCUST_CURRENT_PERCENTILE_KEYS)
    );
    let rows = v["stats"].as_array().cloned().unwrap_or_default();
    let order: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("?"),
                r["method"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("/a\"b\\c", "GET"),
            ("/x", "GET"),
            ("/y", "POST"),
            ("Aggregated", "")
        ]
    );
    for row in &rows {
        assert_eq!(keys(row), sorted(&LOCUST_ROW_KEYS), "{row:#}");
        for k in LOCUST_ROW_KEYS.iter().skip(2) {
            assert!(row[k].is_number(), "{k} in {row}");
        }
        // Locust's proper_round() gives floats for min/max.
        assert!(row["min_response_time"].is_f64() && row["max_response_time"].is_f64());
    }
    let x = &rows[1];
    assert_eq!(
        (x["num_requests"].as_u64(), x["num_failures"].as_u64()),
        (Some(40), Some(0))
    );
    assert_eq!(x["min_response_time"], 100.0);
    assert_eq!(x["max_response_time"], 139.0);
    assert_eq!(x["avg_content_length"], 10.0);
    assert!(x["median_response_time"].is_u64(), "{x}");
    assert!(x["current_rps"].as_f64().unwrap_or(0.0) > 0.0, "{x}");
    let total = &rows[3];
    assert_eq!(total["num_requests"], 81);
    assert_eq!(total["num_failures"], 40);

    let errors = v["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert_eq!(keys(&errors[0]), sorted(&LOCUST_ERROR_KEYS));
    assert_eq!(errors[0]["error"], "Exception('nope')");
    assert_eq!(errors[0]["occurrences"], 40);
    assert_eq!(v["state"], "ready");
    assert_eq!(v["user_count"], 0);
    assert_eq!(v["fail_ratio"].as_f64(), Some(40.0 / 81.0));
    assert_eq!(v["total_rps"], total["total_rps"]);

    // The library function the controller publishes every second gives the same document.
    let direct = web::api::stats_requests_json(&fake.state, rustlocust::stats::unix_now());
    assert_eq!(keys(&direct), keys(&v));
    assert_eq!(direct["stats"][1]["num_requests"], 40);
}

#[tokio::test]
async fn swarm_form_and_json_start_a_test() {
    let fake = Fake::start().await;
    let res = fake
        .post(
            "/swarm",
            FORM,
            "user_count=10&spawn_rate=2.5&host=http%3A%2F%2Fnew.example&run_time=1m30s&user_classes=B&user_classes=A",
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap_or_default();
    assert_eq!(
        body,
        json!({"success": true, "message": "Swarming started", "host": "http://new.example",
               "run_time": 90, "user_classes": ["A", "B"]})
    );
    assert_eq!(
        fake.commands(),
        ["swarm 10 2.5 Some(\"http://new.example\") Some(90s) [\"B\", \"A\"]"]
    );
    let v = fake.json("/stats/requests").await;
    assert_eq!(
        (v["state"].as_str(), v["user_count"].as_u64()),
        (Some("running"), Some(10))
    );

    let res = fake
        .post(
            "/swarm",
            "application/json",
            r#"{"user_count": 3, "spawn_rate": 1}"#,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap_or_default();
    assert_eq!(
        body,
        json!({"success": true, "message": "Swarming started", "host": "http://new.example"})
    );
    assert_eq!(fake.commands()[1], "swarm 3 1 None None []");
}

#[tokio::test]
async fn swarm_accepts_legacy_field_names() {
    let fake = Fake::start().await;
    let res = fake
        .post("/swarm", FORM, "locust_count=4&hatch_rate=2")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap_or_default();
    assert_eq!(body["success"], true);
    assert_eq!(fake.commands(), ["swarm 4 2 None None []"]);
}

#[tokio::test]
async fn swarm_rejects_bad_input_without_touching_the_test() {
    let fake = Fake::start().await;
    let missing = "Missing or invalid user_count or spawn_rate from /swarm request";
    let cases: [(&str, &str, &str); 14] = [
        (FORM, "user_count=-1&spawn_rate=1", missing),
        (FORM, "user_count=5&spawn_rate=0", missing),
        (FORM, "user_count=5&spawn_rate=-1", missing),
        (
            FORM,
            "user_count=2.5&spawn_rate=1",
            "Invalid user_count value: '2.5' (must be an integer)",
        ),
        (
            FORM,
            "user_count=10000001&spawn_rate=1",
            "Invalid user_count value: '10000001' (must be at most 10000000)",
        ),
        (FORM, "user_count=5&spawn_rate=NaN", missing),
        (FORM, "user_count=5&spawn_rate=inf", missing),
        (
            FORM,
            "user_count=abc&spawn_rate=1",
            "Invalid user_count value: 'abc' (must be an integer)",
        ),
        (
            FORM,
            "user_count=5&spawn_rate=fast",
            "Invalid spawn_rate value: 'fast' (must be a number)",
        ),
        (FORM, "spawn_rate=1", missing),
        (FORM, "user_count=5", missing),
        (FORM, "", missing),
        (
            FORM,
            "user_count=5&spawn_rate=1&run_time=soon",
            "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.",
        ),
        (
            "application/json",
            r#"{"user_count": -3, "spawn_rate": 1}"#,
            missing,
        ),
    ];
    // Refusals are HTTP 200 with `success: false`, as Locust answers them (issue 13; was 400).
    for (content_type, body, message) in cases {
        let res = fake.post("/swarm", content_type, body).await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!(
            v,
            json!({"success": false, "message": message, "host": HOST}),
            "{body}"
        );
    }
    for body in [
        "{not json",
        "[1, 2]",
        r#"{"user_count": [1], "spawn_rate": 1}"#,
    ] {
        let res = fake.post("/swarm", "application/json", body).await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!(v["success"], false, "{body}");
    }
    assert!(fake.commands().is_empty(), "{:?}", fake.commands());
    let v = fake.json("/stats/requests").await;
    assert_eq!(v["state"], "ready");
}

#[tokio::test]
async fn swarm_reports_controller_errors() {
    let fake = Fake::start().await;
    let res = fake
        .post(
            "/swarm",
            FORM,
            "user_count=1&spawn_rate=1&user_classes=Nope",
        )
        .await;
    // Locust's status for a refused start (issue 13; was 400).
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap_or_default();
    assert_eq!(
        v,
        json!({"success": false, "message": "unknown user class 'Nope'", "host": HOST})
    );
    assert_eq!(fake.commands(), ["swarm refused"]);
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let fake = Fake::start().await;
    let body = format!(
        "user_count=1&spawn_rate=1&pad={}",
        "x".repeat(1024 * 1024 + 1)
    );
    let res = fake.post("/swarm", FORM, &body).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(fake.commands().is_empty());
}

#[tokio::test]
async fn stop_twice_and_get_is_not_allowed() {
    let fake = Fake::start().await;
    for _ in 0..2 {
        let res = fake.post("/stop", FORM, "").await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!(v, json!({"success": true, "message": "Test stopped"}));
    }
    assert_eq!(
        fake.get("/stop").await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(fake.commands(), ["stop", "stop"]);
    assert_eq!(fake.json("/stats/requests").await["state"], "stopped");
}

#[tokio::test]
async fn reset_by_post_and_get() {
    let fake = Fake::start().await;
    let res = fake.post("/stats/reset", FORM, "").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap_or_default(), "ok");
    // Every row stays, zeroed, as in Locust (issue 13; only Aggregated was left before).
    let v = fake.json("/stats/requests").await;
    let rows = v["stats"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["/a\"b\\c", "/x", "/y", "Aggregated"]);
    for row in &rows {
        assert_eq!(
            (row["num_requests"].as_u64(), row["num_failures"].as_u64()),
            (Some(0), Some(0)),
            "{row}"
        );
    }
    assert_eq!(v["errors"], json!([]));
    let res = fake.get("/stats/reset").await;
    assert_eq!(res.text().await.unwrap_or_default(), "ok");
    assert_eq!(fake.commands(), ["reset", "reset"]);
}

fn disposition(res: &reqwest::Response) -> String {
    res.headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn csv_downloads() {
    let fake = Fake::start().await;
    let res = fake.get("/stats/requests/csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv")
    );
    let d = disposition(&res);
    assert!(d.starts_with("attachment;filename=Locust_"), "{d}");
    assert!(
        d.ends_with("_demo.rhai_http___target.example_requests.csv"),
        "{d}"
    );
    let text = res.text().await.unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Type,Name,Request Count,Failure Count,Median Response Time"));
    assert!(lines[2].starts_with("GET,/x,40,0,"), "{text}");
    assert!(lines[4].starts_with(",Aggregated,81,40,"), "{text}");

    let res = fake.get("/stats/failures/csv").await;
    assert!(disposition(&res).ends_with("_failures.csv"));
    let text = res.text().await.unwrap_or_default();
    assert!(text.starts_with("Method,Name,Error,Occurrences,First Seen,Last Seen\r\n"));
    assert!(text.contains("POST,/y,Exception('nope'),40,"), "{text}");

    let res = fake.get("/exceptions/csv").await;
    assert!(disposition(&res).ends_with("_exceptions.csv"));
    let text = res.text().await.unwrap_or_default();
    assert!(text.starts_with("Count,Message,Traceback,Nodes\r\n"));
    assert!(
        text.contains("1,ZeroDivisionError: division by zero,\"Traceback:\n  line 1\n\",local"),
        "{text}"
    );

    let res = fake.get("/stats/requests_full_history/csv").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.text().await.unwrap_or_default(),
        "Error: Server was not started with option to generate full history."
    );
}

#[tokio::test]
async fn full_history_csv_is_served_when_enabled() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("run_stats_history.csv");
    let content = "Timestamp,User Count,Type,Name\r\n1,2,,Aggregated\r\n";
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("write: {e}"));
    let fake = Fake::start_with(WebOptions {
        full_history_csv: Some(path),
        ..WebOptions::default()
    })
    .await;
    let res = fake.get("/stats/requests_full_history/csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(disposition(&res).ends_with("_requests_full_history.csv"));
    assert_eq!(res.text().await.unwrap_or_default(), content);
}

#[tokio::test]
async fn exceptions_tasks_logs_and_worker_count() {
    let fake = Fake::start().await;
    let v = fake.json("/exceptions").await;
    assert_eq!(
        v,
        json!({"exceptions": [{"count": 1, "msg": "ZeroDivisionError: division by zero",
                               "traceback": "Traceback:\n  line 1\n", "nodes": "local"}]})
    );
    let v = fake.json("/tasks").await;
    assert_eq!(v["per_class"]["A"]["tasks"]["home"]["ratio"], 1.0);
    assert!(v["total"].is_object());
    let v = fake.json("/logs").await;
    assert_eq!(keys(&v), ["master", "workers"]);
    assert!(v["master"].is_array());
    assert_eq!(v["workers"], json!({}));
    assert_eq!(fake.json("/worker-count").await, json!({"worker_count": 0}));
}

#[tokio::test]
async fn unknown_route_is_json_404_without_cors() {
    let fake = Fake::start().await;
    let res = fake.get("/no/such/route").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Issue 9: no `access-control-allow-origin: *` (Locust sends one); no route sends any.
    assert_eq!(res.headers().get("access-control-allow-origin"), None);
    let read = fake.get("/stats/requests").await;
    assert_eq!(read.headers().get("access-control-allow-origin"), None);
    let v: Value = res.json().await.unwrap_or_default();
    assert_eq!(v, json!({"error": "not found"}));
}

#[tokio::test]
async fn basic_auth_guards_every_route() {
    let fake = Fake::start_with(WebOptions {
        auth: Some(("admin".to_owned(), "s3cret:x".to_owned())),
        ..WebOptions::default()
    })
    .await;
    for path in [
        "/stats/requests",
        "/metrics",
        "/no/such/route",
        "/stats/stream",
    ] {
        let res = fake.get(path).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            res.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Basic realm=\"rustlocust\""),
            "{path}"
        );
    }
    let res = fake
        .http
        .post(fake.url("/swarm"))
        .basic_auth("admin", Some("wrong"))
        .header("content-type", FORM)
        .body("user_count=1&spawn_rate=1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(fake.commands().is_empty());
    let res = fake
        .http
        .get(fake.url("/stats/requests"))
        .basic_auth("admin", Some("s3cret:x"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), StatusCode::OK);
    let res = fake
        .http
        .post(fake.url("/swarm"))
        .basic_auth("admin", Some("s3cret:x"))
        .header("content-type", FORM)
        .body("user_count=1&spawn_rate=1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(fake.commands().len(), 1);
}

/// Reads from the event stream until `want` appears (or 10 s pass).
async fn read_until(res: &mut reqwest::Response, buf: &mut String, want: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !buf.contains(want) {
        match tokio::time::timeout_at(deadline, res.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return false,
        }
    }
    true
}

#[tokio::test]
async fn sse_stream_delivers_snapshots() {
    let fake = Fake::start().await;
    let _ = fake.snapshot.send(Arc::from(r#"{"n":1}"#));
    let mut res = fake.get("/stats/stream").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut buf = String::new();
    assert!(
        read_until(&mut res, &mut buf, "data: {\"n\":1}\n\n").await,
        "{buf:?}"
    );
    let doc = web::api::stats_requests_json(&fake.state, rustlocust::stats::unix_now()).to_string();
    let _ = fake.snapshot.send(Arc::from(doc.as_str()));
    let want = format!("data: {doc}\n\n");
    assert!(read_until(&mut res, &mut buf, &want).await, "{buf:?}");
    let event = buf.rsplit("data: ").next().unwrap_or_default();
    let v: Value = serde_json::from_str(event.trim()).unwrap_or_default();
    assert_eq!(keys(&v), sorted(&LOCUST_TOP_KEYS));
}

/// A parsed sample: metric name, labels (unescaped) and value.
type Sample = (String, Vec<(String, String)>, f64);

/// One exposition sample line: `name{label="value",...} number`, labels optional.
fn parse_sample(line: &str) -> Option<Sample> {
    let c: Vec<char> = line.chars().collect();
    let name_char = |ch: char, first: bool| {
        ch.is_ascii_alphabetic() || ch == '_' || ch == ':' || (!first && ch.is_ascii_digit())
    };
    let mut i = 0;
    while i < c.len() && name_char(c[i], i == 0) {
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let name: String = c[..i].iter().collect();
    let mut labels = Vec::new();
    if c.get(i) == Some(&'{') {
        i += 1;
        while c.get(i) != Some(&'}') {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            if i == start || c.get(i) != Some(&'=') || c.get(i + 1) != Some(&'"') {
                return None;
            }
            let label: String = c[start..i].iter().collect();
            i += 2;
            let mut value = String::new();
            loop {
                match *c.get(i)? {
                    '\\' => {
                        i += 1;
                        value.push(match *c.get(i)? {
                            'n' => '\n',
                            '\\' => '\\',
                            '"' => '"',
                            _ => return None,
                        });
                    }
                    '"' => break,
                    ch => value.push(ch),
                }
                i += 1;
            }
            i += 1;
            labels.push((label, value));
            match c.get(i) {
                Some(',') => i += 1,
                Some('}') => {}
                _ => return None,
            }
        }
        i += 1;
    }
    if c.get(i) != Some(&' ') {
        return None;
    }
    let value: String = c[i + 1..].iter().collect();
    let number = match value.as_str() {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some((name, labels, number))
}

#[tokio::test]
async fn metrics_is_prometheus_text() {
    let fake = Fake::start().await;
    let res = fake.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap_or_default();
    let mut samples = Vec::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.split_whitespace();
            match parts.next() {
                Some("TYPE") => typed.push(parts.next().unwrap_or_default().to_owned()),
                Some("HELP") => {}
                other => panic!("unexpected comment {other:?} in {line}"),
            }
            continue;
        }
        let sample = parse_sample(line).unwrap_or_else(|| panic!("not a sample: {line:?}"));
        assert!(sample.0.starts_with("rustlocust_"), "{line}");
        samples.push(sample);
    }
    let find = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.2)
    };
    for family in [
        "rustlocust_requests_total",
        "rustlocust_failures_total",
        "rustlocust_response_time_milliseconds",
        "rustlocust_current_rps",
        "rustlocust_users",
        "rustlocust_state",
    ] {
        assert!(typed.iter().any(|t| t == family), "no TYPE for {family}");
    }
    let x = [("method", "GET"), ("name", "/x")];
    assert_eq!(find("rustlocust_requests_total", &x), Some(40.0));
    assert_eq!(
        find("rustlocust_failures_total", &[("name", "/y")]),
        Some(40.0)
    );
    assert_eq!(
        find("rustlocust_response_time_milliseconds_count", &x),
        Some(40.0)
    );
    assert!(find("rustlocust_response_time_milliseconds_sum", &x).is_some_and(|s| s > 4000.0));
    for q in ["0.5", "0.95", "0.99"] {
        let v = find(
            "rustlocust_response_time_milliseconds",
            &[("name", "/x"), ("quantile", q)],
        );
        assert!(v.is_some_and(|v| (100.0..140.0).contains(&v)), "{q}: {v:?}");
    }
    // The escaped label value reads back as the original name.
    assert_eq!(
        find("rustlocust_requests_total", &[("name", "/a\"b\\c")]),
        Some(1.0)
    );
    assert_eq!(find("rustlocust_state", &[("state", "ready")]), Some(1.0));
    assert_eq!(find("rustlocust_state", &[("state", "running")]), Some(0.0));
    assert_eq!(find("rustlocust_users", &[]), Some(0.0));
}

#[tokio::test]
async fn html_report_inline_and_download() {
    let fake = Fake::start().await;
    let res = fake.get("/stats/report").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(res.headers().get("content-disposition").is_none());
    let html = res.text().await.unwrap_or_default();
    assert!(
        html.starts_with("<!doctype html>"),
        "{}",
        &html[..html.len().min(200)]
    );
    assert!(html.contains("/x"));

    let res = fake.get("/stats/report?download=1&theme=dark").await;
    assert_eq!(res.status(), StatusCode::OK);
    let d = disposition(&res);
    assert!(d.starts_with("attachment;filename=Locust_"), "{d}");
    assert!(d.ends_with("_demo.rhai_http___target.example.html"), "{d}");
}

#[tokio::test]
async fn current_percentiles_come_from_the_chart_window_while_running() {
    let fake = Fake::start().await;
    fake.state.history.lock().push(web::HistoryPoint {
        time: rustlocust::stats::unix_now(),
        user_count: 2,
        current_rps: 1.0,
        current_fail_per_sec: 0.0,
        response_time_percentile_50: 7.5,
        response_time_percentile_95: 250.4,
        total_requests: 81,
    });
    let current = |v: &Value| {
        let c = &v["current_response_time_percentiles"];
        (
            c["response_time_percentile_0.5"].clone(),
            c["response_time_percentile_0.95"].clone(),
        )
    };
    // Ready: the cumulative percentiles of the sample (/y at 12.5 ms is the median).
    let v = fake.json("/stats/requests").await;
    assert_eq!(
        current(&v),
        (
            json!(12.5),
            json!(v["stats"][3]["response_time_percentile_0.95"])
        )
    );
    fake.run.send_modify(|s| s.state = RunState::Running);
    let v = fake.json("/stats/requests").await;
    assert_eq!(current(&v), (json!(7.5), json!(250)));
}

#[tokio::test]
async fn a_missing_controller_is_503_not_a_hang() {
    let fake = Fake::launch(WebOptions::default(), false).await;
    for (path, body) in [
        ("/swarm", "user_count=1&spawn_rate=1"),
        ("/stop", ""),
        ("/stats/reset", ""),
    ] {
        let res = fake.post(path, FORM, body).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!(v["success"], false, "{path}");
    }
    assert_eq!(fake.get("/stats/requests").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn user_changes_a_class_only_with_the_class_picker() {
    // (status, JSON body) of a POST /user.
    async fn user(fake: &Fake, body: &str) -> (StatusCode, Value) {
        let res = fake.post("/user", "application/json", body).await;
        (res.status(), res.json().await.unwrap_or_default())
    }
    let body =
        r#"{"user_class_name": "A", "host": "", "weight": 2, "fixed_count": 1, "tasks": ["home"]}"#;
    // Off: refused before the controller hears of it.
    let fake = Fake::start().await;
    let (status, v) = user(&fake, body).await;
    assert_eq!(
        (status, &v["success"]),
        (StatusCode::FORBIDDEN, &json!(false))
    );
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("--class-picker")),
        "{v}"
    );
    assert!(fake.commands().is_empty());

    let fake = Fake::start_with(WebOptions {
        class_picker: true,
        ..WebOptions::default()
    })
    .await;
    assert_eq!(user(&fake, body).await, (StatusCode::CREATED, json!({})));
    // What the test run is asked: only what was given, typed.
    assert_eq!(
        fake.commands(),
        [
            r#"user ClassUpdate { class: "A", host: Some(None), weight: Some(2.0), fixed_count: Some(1), wait: None, tasks: Some(["home"]) }"#
        ]
    );
    // A running test: the test run's refusal is a 409.
    let (status, v) = user(&fake, r#"{"user_class_name": "Busy"}"#).await;
    assert_eq!(
        (status, &v["success"]),
        (StatusCode::CONFLICT, &json!(false))
    );
    // Bad bodies never reach it.
    for bad in [
        "not json",
        r#"{"weight": 1}"#,
        r#"{"user_class_name": "A", "weight": "x"}"#,
    ] {
        assert_eq!(user(&fake, bad).await.0, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(fake.commands().len(), 2);
    assert_eq!(
        fake.get("/user").await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

/// A refused request: content type, extra headers, the status and part of the message.
type Refused = (
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
    StatusCode,
    &'static str,
);

/// POST `path` with extra headers (reqwest sets `Host` from the URL unless one is given).
async fn post_with(
    fake: &Fake,
    path: &str,
    ct: Option<&str>,
    body: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = fake.http.post(fake.url(path)).body(body.to_owned());
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

#[tokio::test]
async fn other_pages_cannot_start_or_stop_a_test() {
    let fake = Fake::start().await;
    let form = "user_count=3&spawn_rate=1&host=http://victim.example";
    let own = fake.base.clone();
    // A cross-origin form post (CSRF), its Referer-only variant, a sandboxed page, a browser
    // that says cross-site, a rebinding name, JSON smuggled as text/plain, an untyped body.
    let refused: [Refused; 7] = [
        (
            Some(FORM),
            &[("origin", "http://evil.example")],
            StatusCode::FORBIDDEN,
            "cross-origin request refused: http://evil.example",
        ),
        (
            Some(FORM),
            &[("referer", "http://evil.example/x.html")],
            StatusCode::FORBIDDEN,
            "cross-origin",
        ),
        (
            Some(FORM),
            &[("origin", "null")],
            StatusCode::FORBIDDEN,
            "cross-origin",
        ),
        (
            Some(FORM),
            &[("sec-fetch-site", "cross-site")],
            StatusCode::FORBIDDEN,
            "Sec-Fetch-Site: cross-site",
        ),
        (
            Some(FORM),
            &[("host", "evil.example:8089")],
            StatusCode::FORBIDDEN,
            "Host 'evil.example:8089' is not served here",
        ),
        (
            Some("text/plain"),
            &[],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type text/plain",
        ),
        (
            None,
            &[],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type (none)",
        ),
    ];
    for (ct, headers, status, message) in refused {
        let res = post_with(&fake, "/swarm", ct, form, headers).await;
        assert_eq!(res.status(), status, "{headers:?} {ct:?}");
        assert!(res.headers().get("access-control-allow-origin").is_none());
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!(v["success"], json!(false));
        let got = v["message"].as_str().unwrap_or_default();
        assert!(got.contains(message), "{headers:?}: {got}");
    }
    for path in ["/stop", "/stats/reset", "/reload", "/user"] {
        let res = post_with(
            &fake,
            path,
            Some(FORM),
            "",
            &[("origin", "http://evil.example")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let res = fake
        .http
        .get(fake.url("/stats/reset"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(fake.commands().is_empty(), "{:?}", fake.commands());
    // Reads from anywhere still work (no state changes), only not under a foreign Host.
    let res = fake
        .http
        .get(fake.url("/stats/requests"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), StatusCode::OK);
    let res = fake
        .http
        .get(fake.url("/stats/requests"))
        .header("host", "rebound.example")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Our own page, curl and scripts (no Origin), a JSON client: all start tests.
    let same = [("origin", own.as_str()), ("sec-fetch-site", "same-origin")];
    let res = post_with(&fake, "/swarm", Some(FORM), form, &same).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = post_with(
        &fake,
        "/swarm",
        Some(FORM),
        form,
        &[("referer", &format!("{own}/"))],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = post_with(&fake, "/swarm", Some(FORM), form, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = post_with(
        &fake,
        "/swarm",
        Some("application/json"),
        r#"{"user_count": 1, "spawn_rate": 1}"#,
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = post_with(&fake, "/stop", None, "", &[("origin", own.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(fake.commands().len(), 5, "{:?}", fake.commands());
}

#[tokio::test]
async fn a_reverse_proxys_name_is_allowed_when_configured() {
    let fake = Fake::start_with(WebOptions {
        allowed_hosts: vec!["locust.example.com".into()],
        ..WebOptions::default()
    })
    .await;
    let proxied = [
        ("host", "locust.example.com"),
        ("origin", "https://locust.example.com"),
    ];
    let res = post_with(&fake, "/stop", None, "", &proxied).await;
    assert_eq!(res.status(), StatusCode::OK);
    let other = [("host", "other.example.com")];
    let res = post_with(&fake, "/stop", None, "", &other).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
