//! Shared harness for behaviour tests: an in-process axum target on 127.0.0.1 that counts what it
//! sees, scenario files in a temp dir, and the real `rustlocust` binary run with a hard time limit.
#![allow(dead_code)]

pub mod child;
pub mod scenario_dir;
pub mod test_run;

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use parking_lot::Mutex;

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

pub struct Target {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Target {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Start the target on its own thread and runtime.
    pub fn start() -> Target {
        let seen = Arc::new(Seen::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let s2 = seen.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, router(s2))
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("target did not start");
        Target {
            addr,
            seen,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
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

/// A temp dir holding a scenario file.
pub struct Scenario {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn scenario(src: &str) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.rhai");
    std::fs::write(&path, src).unwrap();
    Scenario { dir, path }
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rustlocust"));
    // Tests choose their own options; keep the environment from leaking into them.
    for (k, _) in std::env::vars() {
        if k.starts_with("RUSTLOCUST_") {
            c.env_remove(k);
        }
    }
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Run to completion, killing the process if it outlives `limit` (the test then fails).
pub fn run(mut cmd: Command, limit: Duration) -> Run {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rustlocust");
    let out = wait_with_limit(child, limit);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn wait_with_limit(mut child: Child, limit: Duration) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let (o, e) = (out_t.join().unwrap(), err_t.join().unwrap());
            panic!(
                "rustlocust did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// Parse a CSV file (simple quoting) into rows of fields.
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    parse_csv(&text)
}

pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            ('\r', false) => {}
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The `_stats.csv` row for (method, name) as a header→value map.
pub fn stats_row(
    rows: &[Vec<String>],
    method: &str,
    name: &str,
) -> Option<HashMap<String, String>> {
    let header = rows.first()?;
    rows.iter()
        .skip(1)
        .find(|r| {
            r.first().map(String::as_str) == Some(method)
                && r.get(1).map(String::as_str) == Some(name)
        })
        .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
}

// ---- Running the binary in the background (signals, polling while it runs) ----

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

/// A `rustlocust` process running in the background; its output is drained as it comes. Killed on
/// drop if still running (a failing test leaves nothing behind).
pub struct Proc {
    child: Option<Child>,
    out_t: Option<std::thread::JoinHandle<Vec<u8>>>,
    err_t: Option<std::thread::JoinHandle<Vec<u8>>>,
    /// When the process was spawned.
    pub started: Instant,
}

fn drain(r: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut b);
        }
        b
    })
}

pub fn spawn(mut cmd: Command) -> Proc {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rustlocust");
    let out_t = drain(child.stdout.take());
    let err_t = drain(child.stderr.take());
    Proc {
        child: Some(child),
        out_t: Some(out_t),
        err_t: Some(err_t),
        started: Instant::now(),
    }
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Send `sig` (e.g. `libc::SIGINT`) to the process, and only to it.
    pub fn signal(&self, sig: i32) {
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// True once the process has exited.
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .expect("running")
            .try_wait()
            .unwrap()
            .is_some()
    }

    /// Wait for the exit; kill it and fail the test if that takes longer than `limit` (from now).
    pub fn wait(mut self, limit: Duration) -> Run {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let o = self.out_t.take().unwrap().join().unwrap();
        let e = self.err_t.take().unwrap().join().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o).into_owned(),
            String::from_utf8_lossy(&e).into_owned(),
        );
        match status {
            Some(st) => Run {
                code: st.code().unwrap_or(-1),
                stdout,
                stderr,
            },
            None => panic!(
                "rustlocust did not finish within {limit:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            ),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Poll `f` every 20 ms until it is true or `limit` passes; returns its last value.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Raise this process's open-file soft limit to its hard limit (children inherit it).
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn raise_nofile_limit() -> u64 {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur as u64
    }
}

// ---- The built-in demo target, in-process ----

/// `rustlocust::demo` (what `rustlocust demo-target` serves) on 127.0.0.1, on its own thread and
/// runtime; stopped (in-flight requests finished) on drop.
pub struct DemoTarget {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DemoTarget {
    /// The demo target exactly as `rustlocust demo-target` serves it.
    pub fn start() -> DemoTarget {
        Self::start_with(rustlocust::demo::DemoConfig::default())
    }

    /// The demo target with other latency, ratios or pending time.
    pub fn start_with(config: rustlocust::demo::DemoConfig) -> DemoTarget {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, rustlocust::demo::router_with(config))
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("demo target did not start");
        DemoTarget {
            addr,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for DemoTarget {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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

// Locust 2.47's `/stats/requests` shape, written from the captured output in
// shared/reference/locust.md §2 (not from our own output), for the web API tests.
/// The keys of one `/stats/requests` row, from the captured Locust 2.47 output
/// (shared/reference/locust.md §2), not from our own output.
pub const LOCUST_ROW_KEYS: [&str; 15] = [
    "method",
    "name",
    "num_requests",
    "num_failures",
    "min_response_time",
    "max_response_time",
    "current_rps",
    "current_fail_per_sec",
    "avg_response_time",
    "median_response_time",
    "total_rps",
    "total_fail_per_sec",
    "response_time_percentile_0.95",
    "response_time_percentile_0.99",
    "avg_content_length",
];
pub const LOCUST_ERROR_KEYS: [&str; 6] = [
    "method",
    "name",
    "error",
    "occurrences",
    "first_seen",
    "last_seen",
];
/// Top-level keys of a local (non-master) runner's report.
pub const LOCUST_TOP_KEYS: [&str; 10] = [
    "stats",
    "errors",
    "current_rps",
    "current_fail_per_sec",
    "total_rps",
    "total_fail_per_sec",
    "fail_ratio",
    "current_response_time_percentiles",
    "state",
    "user_count",
];
pub const LOCUST_CURRENT_PERCENTILE_KEYS: [&str; 2] = [
    "response_time_percentile_0.5",
    "response_time_percentile_0.95",
];

/// `rustlocust <scenario> --headless --only-summary -H <target> --csv <dir>/run <args>`.
pub fn headless(sc: &Scenario, t: &Target, args: &[&str]) -> Command {
    let mut c = bin();
    c.arg(&sc.path)
        .args(["--headless", "--only-summary", "-H", &t.url(), "--csv"])
        .arg(sc.prefix())
        .args(args);
    c
}

impl Scenario {
    /// The `--csv` prefix `headless` uses.
    pub fn prefix(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `<prefix>_<suffix>.csv` as rows of fields (e.g. `stats`, `failures`, `exceptions`).
    pub fn csv(&self, suffix: &str) -> Vec<Vec<String>> {
        read_csv(&self.dir.path().join(format!("run_{suffix}.csv")))
    }

    /// The `_exceptions.csv` rows (without the header) whose message contains `needle`.
    pub fn exceptions_with(&self, needle: &str) -> Vec<Vec<String>> {
        let ex = self.csv("exceptions");
        assert_eq!(ex[0], ["Count", "Message", "Traceback", "Nodes"]);
        ex.into_iter()
            .skip(1)
            .filter(|r| r[1].contains(needle))
            .collect()
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

/// A number from a CSV row (as a header -> value map).
pub fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|e| panic!("{col} in {row:?}: {e}"))
}

/// A count (a whole number) from a CSV row.
pub fn count_of(row: &HashMap<String, String>, col: &str) -> u64 {
    row[col]
        .parse()
        .unwrap_or_else(|e| panic!("{col} in {row:?}: {e}"))
}
