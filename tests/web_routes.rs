//! Every route of the web API, once, against the real binary in web mode with a running test:
//! status codes, content types, and `/stats/requests` keys compared with Locust 2.47's captured
//! shape (shared/reference/locust.md §2).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{
    bin, scenario, spawn, wait_until, Target, LOCUST_CURRENT_PERCENTILE_KEYS, LOCUST_ERROR_KEYS,
    LOCUST_ROW_KEYS, LOCUST_TOP_KEYS,
};

/// (status, headers, body) over HTTP/1.0 with std only.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String, String)> {
    http_with(port, method, path, body, "Host: 127.0.0.1\r\n")
}

/// [`http`] with these header lines (each ending in CRLF) instead of the `Host` line.
fn http_with(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    headers: &str,
) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.0\r\n{headers}Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    // SSE never ends: read what arrives within the timeout.
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Some((status, head.to_lowercase(), body.to_string()))
}

fn get(port: u16, path: &str) -> (u16, String, String) {
    http(port, "GET", path, "").unwrap_or_else(|| panic!("GET {path} failed"))
}

#[test]
fn every_route_answers_like_locust() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("Api", #{ wait_time: constant(0.05), tasks: ["ok", "bad"] });
fn ok() { this.client.get("/ok"); }
fn bad() { this.client.get("/status/500"); if random_int(1, 20) == 1 { throw "boom"; } }
"#,
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = bin();
    cmd.arg(&sc.path)
        .args(["-H", &t.url(), "--web-port", &port.to_string()]);
    let p = spawn(cmd);
    assert!(
        wait_until(Duration::from_secs(15), || http(port, "GET", "/status", "")
            .is_some()),
        "UI never came up"
    );

    // The page and its assets, from this binary only.
    let (code, head, page) = get(port, "/");
    assert_eq!(code, 200);
    assert!(head.contains("text/html") && page.contains("rustlocust"));
    for asset in page
        .split("assets/")
        .skip(1)
        .filter_map(|s| s.split(['"', '?']).next())
    {
        let (code, _, _) = get(port, &format!("/assets/{asset}"));
        assert_eq!(code, 200, "/assets/{asset}");
    }

    let (code, _, body) = http(port, "POST", "/swarm", "user_count=3&spawn_rate=100").unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["success"].as_bool(), v["message"].as_str()),
        (Some(true), Some("Swarming started"))
    );
    assert!(wait_until(Duration::from_secs(10), || t
        .seen
        .count("/status/500")
        >= 5));
    std::thread::sleep(Duration::from_millis(1500));

    // /stats/requests: Locust 2.47's keys (captured shape), rows then Aggregated last.
    let (code, head, body) = get(port, "/stats/requests");
    assert!(code == 200 && head.contains("application/json"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys = |o: &serde_json::Value| {
        let mut k: Vec<String> = o
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    let sorted = |l: &[&str]| {
        let mut k: Vec<String> = l.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    };
    assert_eq!(keys(&v), sorted(&LOCUST_TOP_KEYS), "{v}");
    let rows = v["stats"].as_array().unwrap();
    assert_eq!(rows.last().unwrap()["name"], "Aggregated");
    for row in rows {
        assert_eq!(keys(row), sorted(&LOCUST_ROW_KEYS), "{row}");
    }
    assert_eq!(
        keys(&v["current_response_time_percentiles"]),
        sorted(&LOCUST_CURRENT_PERCENTILE_KEYS)
    );
    assert_eq!(
        keys(&v["errors"][0]),
        sorted(&LOCUST_ERROR_KEYS),
        "{}",
        v["errors"]
    );

    for (path, header) in [
        (
            "/stats/requests/csv",
            "Type,Name,Request Count,Failure Count",
        ),
        ("/stats/failures/csv", "Method,Name,Error,Occurrences"),
        ("/exceptions/csv", "Count,Message,Traceback,Nodes"),
    ] {
        let (code, head, body) = get(port, path);
        assert_eq!(code, 200, "{path}");
        assert!(
            head.contains("text/csv") && head.contains("attachment"),
            "{path}: {head}"
        );
        assert!(body.starts_with(header), "{path}: {body}");
    }
    let (code, _, body) = get(port, "/stats/requests_full_history/csv");
    assert_eq!(code, 404);
    assert!(body.contains("full history"), "{body}");

    let (code, _, body) = get(port, "/exceptions");
    assert_eq!(code, 200);
    let ex: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(ex["exceptions"].is_array());
    let (code, _, body) = get(port, "/tasks");
    assert_eq!(code, 200);
    let tasks: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        tasks["per_class"]["Api"]["tasks"]["ok"]["ratio"]
            .as_f64()
            .is_some(),
        "{tasks}"
    );
    assert!(tasks["total"]["Api"]["ratio"].as_f64().is_some(), "{tasks}");
    let (code, _, body) = get(port, "/logs");
    assert_eq!(code, 200);
    let logs: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        logs["master"].as_array().is_some_and(|l| !l.is_empty()) && logs["workers"].is_object()
    );
    let (code, _, body) = get(port, "/worker-count");
    assert_eq!(
        (code, body.contains("\"worker_count\":0")),
        (200, true),
        "{body}"
    );

    let (code, head, body) = get(port, "/stats/report");
    assert!(code == 200 && head.contains("text/html") && body.contains("/ok"));
    let (code, head, _) = get(port, "/stats/report?download=1");
    assert!(
        code == 200 && head.contains("attachment") && head.contains(".html"),
        "{head}"
    );

    let (code, head, body) = get(port, "/metrics");
    assert!(code == 200 && head.contains("text/plain"));
    assert!(
        body.contains("rustlocust_requests_total{") && body.contains("rustlocust_users "),
        "{body}"
    );

    // SSE: at least one event with the stats JSON (the read times out after the first events).
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(2500)))
        .unwrap();
    s.write_all(b"GET /stats/stream HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let mut got = String::new();
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
        if got.contains("data:") && got.contains("\"user_count\"") {
            break;
        }
    }
    assert!(
        got.contains("text/event-stream") && got.contains("data:"),
        "{got}"
    );

    let (code, _, body) = get(port, "/no/such/route");
    assert_eq!(code, 404, "{body}");
    let big = "x".repeat(2 * 1024 * 1024);
    let code = http(port, "POST", "/swarm", &big).map(|r| r.0);
    assert!(
        code == Some(413) || code.is_none(),
        "oversized body: {code:?}"
    );

    let (code, _, body) = http(port, "POST", "/stats/reset", "").unwrap();
    assert_eq!((code, body.as_str()), (200, "ok"));
    let (code, _, body) = http(port, "POST", "/stop", "").unwrap();
    assert!(code == 200 && body.contains("Test stopped"), "{body}");
    let (code, _, _) = get(port, "/stop");
    assert_eq!(code, 405, "GET /stop is not allowed in 2.47");

    p.signal(libc::SIGINT);
    let r = p.wait(Duration::from_secs(15));
    assert!(r.code == 0 || r.code == 1, "{}", r.all());
}

/// Issue 9: another web page cannot start a test through the user's browser (CSRF), a name
/// rebound to 127.0.0.1 is not served (DNS rebinding), and no wildcard CORS header is sent.
#[test]
fn other_origins_and_unknown_hosts_are_refused() {
    let t = Target::start();
    let sc = scenario(
        r#"user("Api", #{ wait_time: constant(0.05), tasks: ["ok"] });
fn ok() { this.client.get("/ok"); }
"#,
    );
    let port = common::free_port();
    let mut cmd = bin();
    cmd.arg(&sc.path)
        .args(["-H", &t.url(), "--web-port", &port.to_string()]);
    cmd.args(["--web-allowed-hosts", "locust.example.com"]);
    let p = spawn(cmd);
    assert!(
        wait_until(Duration::from_secs(15), || http(port, "GET", "/status", "")
            .is_some()),
        "UI never came up"
    );
    let own = format!("Host: 127.0.0.1:{port}\r\n");
    // Aimed at the target, so a test that started anyway would show in its count.
    let form = format!("user_count=2&spawn_rate=100&host={}", t.url());
    let evil = format!("{own}Origin: http://evil.example\r\n");
    let (code, head, body) = http_with(port, "POST", "/swarm", &form, &evil).unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    assert!(body.contains("cross-origin request refused"), "{body}");
    let rebound = "Host: evil.example:8089\r\n";
    let (code, _, body) = http_with(port, "GET", "/stats/requests", "", rebound).unwrap();
    assert_eq!(code, 403, "{body}");
    let (_, _, status) = get(port, "/status");
    assert!(
        status.contains(r#""state":"ready""#),
        "no test started: {status}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(t.seen.total(), 0);

    // Our own page, a reverse proxy's configured name, and curl (no Origin) are served.
    let same = format!("{own}Origin: http://127.0.0.1:{port}\r\nSec-Fetch-Site: same-origin\r\n");
    let (code, head, body) = http_with(port, "POST", "/swarm", &form, &same).unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    assert!(wait_until(Duration::from_secs(15), || t.seen.total() > 0));
    let proxied = "Host: locust.example.com\r\nOrigin: https://locust.example.com\r\n";
    let (code, _, body) = http_with(port, "POST", "/stop", "", proxied).unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, _, body) = http(port, "POST", "/stats/reset", "").unwrap();
    assert_eq!(code, 200, "{body}");
    drop(p);
}
