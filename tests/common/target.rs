//! The counting target: an axum app on 127.0.0.1 that records every request it sees (per path, in
//! order, with arrival times) and answers the routes behaviour tests need: status codes, slow
//! answers, cookies, counters, header echo, a gzipped body, and the login endpoints of the stdlib's `auth` module.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use parking_lot::Mutex;

use super::server::ServerThread;

/// What the target saw.
#[derive(Default)]
pub struct Seen {
    pub total: AtomicU64,
    pub by_path: Mutex<HashMap<String, u64>>,
    /// Request paths in arrival order (bounded).
    pub log: Mutex<Vec<String>>,
    /// Cookie mismatches seen by /cookie/check.
    pub cookie_mismatches: AtomicU64,
    pub distinct_users: Mutex<std::collections::HashSet<String>>,
    /// Request paths with their arrival time, in arrival order (bounded like `log`).
    pub stamped: Mutex<Vec<(String, Instant)>>,
    /// Per-key counters behind `/counter/{key}` (each GET returns the next value, from 1).
    pub counters: Mutex<HashMap<String, u64>>,
}

impl Seen {
    pub fn count(&self, path: &str) -> u64 {
        self.by_path.lock().get(path).copied().unwrap_or(0)
    }
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }
}

impl Seen {
    /// Arrival times of the requests whose path starts with `prefix`, in arrival order.
    pub fn times(&self, prefix: &str) -> Vec<Instant> {
        self.stamped
            .lock()
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, t)| *t)
            .collect()
    }
    /// Arrival times grouped by exact path, for paths starting with `prefix`.
    pub fn times_by_path(&self, prefix: &str) -> HashMap<String, Vec<Instant>> {
        let mut m: HashMap<String, Vec<Instant>> = HashMap::new();
        for (p, t) in self
            .stamped
            .lock()
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
        {
            m.entry(p.clone()).or_default().push(*t);
        }
        m
    }
    /// A copy of the ordered path log.
    pub fn log_snapshot(&self) -> Vec<String> {
        self.log.lock().clone()
    }
    /// How many distinct ids `/user/{id}` has seen.
    pub fn distinct(&self) -> usize {
        self.distinct_users.lock().len()
    }
}

/// The counting target on its own thread and runtime; stopped on drop.
pub struct Target {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    server: ServerThread,
}

impl Target {
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Start the target on its own thread and runtime.
    pub fn start() -> Target {
        let seen = Arc::new(Seen::default());
        let server = ServerThread::start(router(seen.clone()), "target");
        Target {
            addr: server.addr,
            seen,
            server,
        }
    }
}

/// Paths of the target's ordered log that start with `prefix`.
pub fn log_of(t: &Target, prefix: &str) -> Vec<String> {
    t.seen
        .log_snapshot()
        .into_iter()
        .filter(|p| p.starts_with(prefix))
        .collect()
}

fn router(seen: Arc<Seen>) -> Router {
    Router::new()
        .route("/status/{code}", any(status))
        .route("/slow", get(slow))
        .route(
            "/json",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"status":"ERROR","n":3}"#,
                )
            }),
        )
        .route("/cookie/set", get(cookie_set))
        .route("/cookie/check", get(cookie_check))
        .route("/user/{id}", get(user_seen))
        .route("/counter/{key}", get(counter_next))
        .route("/login", axum::routing::post(login))
        .route("/whoami", get(whoami))
        .route("/echo/header/{name}", any(echo_header))
        .route("/gzip/json", get(gzip_json))
        .route(
            "/repeat",
            get(|| async {
                let mut h = HeaderMap::new();
                h.append("x-rep", "a".parse().unwrap());
                h.append("x-rep", "b".parse().unwrap());
                (h, "repeated")
            }),
        )
        .route("/multipart", axum::routing::post(multipart_parts))
        .fallback(any(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(seen.clone(), count))
        .with_state(seen)
}

async fn count(
    State(seen): State<Arc<Seen>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path().to_string();
    seen.total.fetch_add(1, Ordering::SeqCst);
    *seen.by_path.lock().entry(path.clone()).or_default() += 1;
    {
        let mut log = seen.log.lock();
        if log.len() < 100_000 {
            log.push(path.clone());
        }
    }
    {
        let mut stamped = seen.stamped.lock();
        if stamped.len() < 100_000 {
            stamped.push((path, Instant::now()));
        }
    }
    next.run(req).await
}

async fn status(AxPath(code): AxPath<u16>) -> impl IntoResponse {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        format!("status {code}"),
    )
}

async fn slow(Query(q): Query<HashMap<String, u64>>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(q.get("ms").copied().unwrap_or(1000))).await;
    "slow"
}

async fn cookie_set(Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    let v = q.get("v").cloned().unwrap_or_default();
    ([("set-cookie", format!("who={v}; Path=/"))], "set")
}

/// 200 when the `who` cookie equals ?v=, 409 otherwise (and counted).
async fn cookie_check(
    State(seen): State<Arc<Seen>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let want = q.get("v").cloned().unwrap_or_default();
    let got = headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("who=").map(str::to_string))
        .collect::<Vec<_>>();
    if got == vec![want.clone()] {
        (StatusCode::OK, "match".to_string())
    } else {
        seen.cookie_mismatches.fetch_add(1, Ordering::SeqCst);
        (StatusCode::CONFLICT, format!("want {want}, got {got:?}"))
    }
}

async fn user_seen(State(seen): State<Arc<Seen>>, AxPath(id): AxPath<String>) -> &'static str {
    seen.distinct_users.lock().insert(id);
    "hi"
}

/// `/counter/{key}`: returns "1", "2", ... for successive requests with the same key.
async fn counter_next(State(seen): State<Arc<Seen>>, AxPath(key): AxPath<String>) -> String {
    let mut c = seen.counters.lock();
    let n = c.entry(key).or_default();
    *n += 1;
    n.to_string()
}

/// `/echo/header/{name}`: the value of request header `name` as the body, or `none` without it.
async fn echo_header(headers: HeaderMap, AxPath(name): AxPath<String>) -> String {
    headers
        .get(name.as_str())
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_string()
}

/// A JSON document of [`GZIP_JSON_LEN`] bytes, gzipped: `{"n":1000,"pad":"xx…"}`.
async fn gzip_json() -> impl IntoResponse {
    use std::io::Write;
    let doc = gzip_json_doc();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(doc.as_bytes()).unwrap();
    (
        [
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        e.finish().unwrap(),
    )
}

/// Decoded length of `/gzip/json`.
pub const GZIP_JSON_LEN: usize = 10_000;

fn gzip_json_doc() -> String {
    let head = r#"{"n":1000,"pad":""#;
    let pad = GZIP_JSON_LEN - head.len() - 2;
    format!("{head}{}\"}}", "x".repeat(pad))
}

/// Parses a `multipart/form-data` body and answers one line per part:
/// `name|filename|content-type|length|body as lossy text` (empty for what the part lacks), or 400
/// with the reason.
async fn multipart_parts(headers: HeaderMap, body: axum::body::Bytes) -> (StatusCode, String) {
    match parse_multipart(&headers, &body) {
        Ok(lines) => (StatusCode::OK, lines.join("\n")),
        Err(e) => (StatusCode::BAD_REQUEST, e),
    }
}

fn parse_multipart(headers: &HeaderMap, body: &[u8]) -> Result<Vec<String>, String> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .ok_or("no content-type")?;
    let boundary = ct
        .strip_prefix("multipart/form-data; boundary=")
        .ok_or(format!("not multipart: {ct}"))?;
    let delim = format!("--{boundary}");
    let text = body;
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let mut at = find(text, delim.as_bytes(), 0).ok_or("no first boundary")?;
    let mut out = Vec::new();
    loop {
        at += delim.len();
        if text[at..].starts_with(b"--\r\n") {
            return Ok(out);
        }
        if !text[at..].starts_with(b"\r\n") {
            return Err("no CRLF after a boundary".into());
        }
        at += 2;
        let head_end = find(text, b"\r\n\r\n", at).ok_or("no end of part headers")?;
        let head = String::from_utf8_lossy(&text[at..head_end]).to_string();
        let data_start = head_end + 4;
        let next = find(text, format!("\r\n{delim}").as_bytes(), data_start)
            .ok_or("no closing boundary")?;
        let data = &text[data_start..next];
        let param = |key: &str| {
            head.split(';')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(&format!("{key}=\"")))
                .map(|v| {
                    v.trim_end_matches(['"', '\r'])
                        .split('"')
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .unwrap_or_default()
        };
        let ctype = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .unwrap_or("")
            .to_string();
        out.push(format!(
            "{}|{}|{}|{}|{}",
            param("name"),
            param("filename"),
            ctype,
            data.len(),
            String::from_utf8_lossy(data)
        ));
        at = next + 2;
    }
}

// ---- Login endpoints (the stdlib's `auth` module) ----

/// `POST /login` with a JSON or form body `username`, `password`: with password `secret`, 200
/// `{"data":{"token":"tok-<username>"}}` and a cookie `sid=<username>`; otherwise 401.
async fn login(headers: HeaderMap, body: axum::body::Bytes) -> axum::response::Response {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let fields: HashMap<String, String> = if is_json {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
            .collect()
    } else {
        form_urlencoded::parse(&body).into_owned().collect()
    };
    let user = fields.get("username").cloned().unwrap_or_default();
    if fields.get("password").map(String::as_str) != Some("secret") || user.is_empty() {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    }
    (
        [
            ("content-type", "application/json".to_string()),
            ("set-cookie", format!("sid={user}; Path=/")),
        ],
        format!(r#"{{"data":{{"token":"tok-{user}"}}}}"#),
    )
        .into_response()
}

/// `GET /whoami`: 200 with the user's name when `authorization: Bearer tok-<name>` or the cookie
/// `sid=<name>` is sent (the header wins), 401 otherwise.
async fn whoami(headers: HeaderMap) -> (StatusCode, String) {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer tok-"))
        .map(str::to_string);
    let cookie = headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("sid=").map(str::to_string));
    match bearer.or(cookie) {
        Some(name) => (StatusCode::OK, name),
        None => (StatusCode::UNAUTHORIZED, "who are you?".into()),
    }
}
