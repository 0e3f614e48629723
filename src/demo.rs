//! The built-in demo target (`rustlocust demo`, `rustlocust demo-target`): a small HTTP API on
//! 127.0.0.1 so that a first-time user can run a real load test without any other server.
//!
//! It mimics what load tests usually meet: latency (a random 5–40 ms on most endpoints),
//! resources by id, asynchronous jobs to poll (`/things`), bearer-token login, cookie sessions,
//! occasional server errors and slow endpoints. All state is bounded (oldest entries evicted), so
//! an hours-long load test cannot grow its memory without limit.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::json;

/// Longest sleep `/slow?ms=N` agrees to, so a typo cannot park a connection for hours.
pub const MAX_SLOW_MS: u64 = 10_000;
/// `/slow` without `ms`.
const DEFAULT_SLOW_MS: u64 = 1_000;

/// Tunables of the demo target; [`Default`] is what `rustlocust demo` serves.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Inclusive range of the artificial latency, in milliseconds.
    pub latency_ms: (u64, u64),
    /// How long a new thing stays PENDING.
    pub pending_for: Duration,
    /// Share of things that end in ERROR rather than ACTIVE (0..=1).
    pub thing_error_ratio: f64,
    /// Share of `/flaky` requests answered with 500 (0..=1).
    pub flaky_ratio: f64,
    pub max_things: usize,
    pub max_sessions: usize,
    pub max_tokens: usize,
    pub max_cart_items: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            latency_ms: (5, 40),
            pending_for: Duration::from_secs(3),
            thing_error_ratio: 0.1,
            flaky_ratio: 0.1,
            max_things: 100_000,
            max_sessions: 100_000,
            max_tokens: 100_000,
            max_cart_items: 100,
        }
    }
}

/// A map that forgets its oldest entries beyond `cap`.
#[derive(Debug)]
struct BoundedMap<V> {
    cap: usize,
    map: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V> BoundedMap<V> {
    fn new(cap: usize) -> Self {
        BoundedMap {
            cap: cap.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn insert(&mut self, key: String, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

#[derive(Debug)]
struct Thing {
    created: Instant,
    /// Decided at creation so that every poll of the same thing sees the same outcome.
    fails: bool,
}

#[derive(Debug)]
struct Inner {
    things: BoundedMap<Thing>,
    /// token -> username
    tokens: BoundedMap<String>,
    /// session id -> cart items
    carts: BoundedMap<Vec<String>>,
}

#[derive(Clone)]
struct AppState {
    config: Arc<DemoConfig>,
    inner: Arc<Mutex<Inner>>,
}

impl AppState {
    /// Never blocks the worker thread: the whole point is many concurrent connections.
    async fn latency(&self) {
        let (a, b) = self.config.latency_ms;
        let ms = if a == b {
            a
        } else {
            rand::random_range(a.min(b)..=a.max(b))
        };
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

/// `rand::random_bool` panics outside 0..=1; a misconfigured ratio must not take the server down.
fn chance(p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        false
    } else if p >= 1.0 {
        true
    } else {
        rand::random_bool(p)
    }
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// A random (version 4) UUID, as real APIs hand out.
fn uuid_v4() -> String {
    crate::uuid::v4(rand::random())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The demo target with default settings.
pub fn router() -> Router {
    router_with(DemoConfig::default())
}

/// The demo target with custom latency, ratios and bounds (tests use no latency).
pub fn router_with(config: DemoConfig) -> Router {
    let inner = Inner {
        things: BoundedMap::new(config.max_things),
        tokens: BoundedMap::new(config.max_tokens),
        carts: BoundedMap::new(config.max_sessions),
    };
    let state = AppState {
        config: Arc::new(config),
        inner: Arc::new(Mutex::new(inner)),
    };
    Router::new()
        .route("/", get(index))
        .route("/fast", get(fast))
        .route("/resources/{id}", get(get_resource))
        .route("/things", post(create_thing))
        .route("/things/{id}", get(get_thing))
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/cart/items", post(add_cart_item))
        .route("/cart", get(get_cart))
        .route("/flaky", get(flaky))
        .route("/slow", get(slow))
        .fallback(not_found)
        .with_state(state)
}

/// Serves the demo target on `listener` until the returned future is dropped.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router()).await
}

/// Serves the demo target until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve_until<F>(listener: tokio::net::TcpListener, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, router())
        .with_graceful_shutdown(shutdown)
        .await
}

const INDEX_HTML: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>rustlocust demo target</title></head>
<body>
<h1>rustlocust demo target</h1>
<p>A small API to load test. Most endpoints answer after a random 5&ndash;40 ms.</p>
<ul>
<li><code>GET /fast</code> &ndash; <code>ok</code>, immediately</li>
<li><code>GET /resources/{id}</code> &ndash; a resource; 404 unless id is a positive integer</li>
<li><code>POST /things</code> &ndash; starts a job (201, PENDING); <code>GET /things/{id}</code> &ndash; PENDING for ~3 s, then ACTIVE (90%) or ERROR (10%)</li>
<li><code>POST /login</code> &ndash; JSON or form <code>username</code>, <code>password</code> (&quot;secret&quot;) &rarr; token; <code>GET /me</code> with <code>Authorization: Bearer &lt;token&gt;</code></li>
<li><code>POST /cart/items</code> &ndash; JSON <code>{"item": "x"}</code>, kept in the <code>session</code> cookie's cart; <code>GET /cart</code> &ndash; the cart's items</li>
<li><code>GET /flaky</code> &ndash; 500 about 10% of the time</li>
<li><code>GET /slow?ms=N</code> &ndash; answers after N ms (at most 10000)</li>
</ul>
</body></html>
"#;

async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

async fn fast() -> &'static str {
    "ok\n"
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {method} {}; GET / lists them",
            uri.path()
        ),
    )
}

async fn get_resource(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    state.latency().await;
    // Digits only: `str::parse::<u64>` would also take "+5".
    let parsed = if id.bytes().all(|b| b.is_ascii_digit()) {
        id.parse::<u64>().ok().filter(|n| *n > 0)
    } else {
        None
    };
    match parsed {
        Some(n) => Json(json!({ "id": n, "name": format!("resource {n}") })).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no resource {id:?}: ids are positive integers"),
        ),
    }
}

async fn create_thing(State(state): State<AppState>) -> Response {
    state.latency().await;
    let id = uuid_v4();
    let thing = Thing {
        created: Instant::now(),
        fails: chance(state.config.thing_error_ratio),
    };
    state.inner.lock().things.insert(id.clone(), thing);
    let mut response = (
        StatusCode::CREATED,
        Json(json!({ "id": id, "status": "PENDING" })),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/things/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn get_thing(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    state.latency().await;
    let status = {
        let inner = state.inner.lock();
        inner.things.get(&id).map(|t| {
            if t.created.elapsed() < state.config.pending_for {
                "PENDING"
            } else if t.fails {
                "ERROR"
            } else {
                "ACTIVE"
            }
        })
    };
    match status {
        Some(status) => Json(json!({ "id": id, "status": status })).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no thing {id:?}")),
    }
}

#[derive(serde::Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// JSON or form body; which one is decided by Content-Type, JSON when there is none.
fn parse_credentials(headers: &HeaderMap, body: &[u8]) -> Option<Credentials> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if is_form {
        let mut username = None;
        let mut password = None;
        for (k, v) in form_urlencoded::parse(body) {
            match k.as_ref() {
                "username" => username = Some(v.into_owned()),
                "password" => password = Some(v.into_owned()),
                _ => {}
            }
        }
        Some(Credentials {
            username: username?,
            password: password?,
        })
    } else {
        serde_json::from_slice(body).ok()
    }
}

async fn login(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    state.latency().await;
    let Some(creds) = parse_credentials(&headers, &body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected a JSON or form body with username and password",
        );
    };
    if creds.username.is_empty() {
        return error(StatusCode::UNAUTHORIZED, "username must not be empty");
    }
    if creds.password != "secret" {
        return error(
            StatusCode::UNAUTHORIZED,
            "wrong password (it is \"secret\")",
        );
    }
    let token = random_hex(16);
    state
        .inner
        .lock()
        .tokens
        .insert(token.clone(), creds.username);
    Json(json!({ "token": token })).into_response()
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state.latency().await;
    let username = bearer_token(&headers).and_then(|t| state.inner.lock().tokens.get(t).cloned());
    match username {
        Some(username) => Json(json!({ "username": username })).into_response(),
        None => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "missing or unknown token: send Authorization: Bearer <token from POST /login>",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    }
}

const SESSION_COOKIE: &str = "session";

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

#[derive(serde::Deserialize)]
struct CartItem {
    item: String,
}

async fn add_cart_item(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    state.latency().await;
    let Ok(CartItem { item }) = serde_json::from_slice::<CartItem>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected a JSON body like {\"item\": \"apple\"}",
        );
    };
    let max_items = state.config.max_cart_items.max(1);
    let (session, items) = {
        let mut inner = state.inner.lock();
        // An unknown (expired or made-up) session gets a fresh one: ids are only ever minted
        // here, so one client can never read or write another's cart.
        let known = session_id(&headers).filter(|id| inner.carts.get(id).is_some());
        let session = known.unwrap_or_else(|| {
            let id = random_hex(16);
            inner.carts.insert(id.clone(), Vec::new());
            id
        });
        let items = match inner.carts.get_mut(&session) {
            Some(cart) => {
                cart.push(item);
                if cart.len() > max_items {
                    let excess = cart.len() - max_items;
                    cart.drain(..excess);
                }
                cart.clone()
            }
            None => vec![item],
        };
        (session, items)
    };
    let mut response = Json(json!({ "items": items })).into_response();
    let cookie = format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn get_cart(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state.latency().await;
    let items = session_id(&headers)
        .and_then(|id| state.inner.lock().carts.get(&id).cloned())
        .unwrap_or_default();
    Json(json!({ "items": items })).into_response()
}

async fn flaky(State(state): State<AppState>) -> Response {
    state.latency().await;
    if chance(state.config.flaky_ratio) {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "flaky failure (on purpose)",
        )
    } else {
        Json(json!({ "status": "ok" })).into_response()
    }
}

fn slow_ms(param: Option<&str>) -> Result<u64, String> {
    match param {
        None => Ok(DEFAULT_SLOW_MS),
        Some(s) => s
            .trim()
            .parse::<u64>()
            .map(|ms| ms.min(MAX_SLOW_MS))
            .map_err(|_| format!("ms must be a whole number of milliseconds, not {s:?}")),
    }
}

async fn slow(Query(params): Query<HashMap<String, String>>) -> Response {
    match slow_ms(params.get("ms").map(String::as_str)) {
        Ok(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Json(json!({ "slept_ms": ms })).into_response()
        }
        Err(message) => error(StatusCode::BAD_REQUEST, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn quick() -> DemoConfig {
        DemoConfig {
            latency_ms: (0, 0),
            pending_for: Duration::from_millis(300),
            ..DemoConfig::default()
        }
    }

    /// Serves `app` on an ephemeral 127.0.0.1 port; returns its base URL.
    async fn start(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .cookie_store(true)
            .build()
            .expect("client")
    }

    async fn json_of(r: reqwest::Response) -> (u16, Value) {
        let status = r.status().as_u16();
        let body = r.json::<Value>().await.expect("JSON body");
        (status, body)
    }

    #[tokio::test]
    async fn index_and_fast() {
        let base = start(router_with(quick())).await;
        let c = client();
        let r = c.get(format!("{base}/")).send().await.expect("GET /");
        assert_eq!(r.status(), 200);
        assert!(r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html")));
        let html = r.text().await.expect("body");
        for path in [
            "/fast",
            "/resources/",
            "/things",
            "/login",
            "/me",
            "/cart",
            "/flaky",
            "/slow",
        ] {
            assert!(html.contains(path), "index does not mention {path}");
        }
        let r = c
            .get(format!("{base}/fast"))
            .send()
            .await
            .expect("GET /fast");
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.expect("body"), "ok\n");
    }

    #[tokio::test]
    async fn resources() {
        let base = start(router_with(quick())).await;
        let c = client();
        let (status, body) = json_of(
            c.get(format!("{base}/resources/42"))
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({ "id": 42, "name": "resource 42" }));
        for bad in ["0", "-1", "abc", "+5", "1.5", "99999999999999999999999"] {
            let (status, body) = json_of(
                c.get(format!("{base}/resources/{bad}"))
                    .send()
                    .await
                    .expect("get"),
            )
            .await;
            assert_eq!(status, 404, "{bad}");
            assert!(body["error"].is_string(), "{bad}: {body}");
        }
        let (status, body) =
            json_of(c.get(format!("{base}/nope")).send().await.expect("get")).await;
        assert_eq!(status, 404);
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("/nope")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn things_go_from_pending_to_active() {
        let base = start(router_with(DemoConfig {
            thing_error_ratio: 0.0,
            ..quick()
        }))
        .await;
        let c = client();
        let r = c.post(format!("{base}/things")).send().await.expect("post");
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (status, body) = json_of(r).await;
        assert_eq!(status, 201);
        assert_eq!(body["status"], "PENDING");
        let id = body["id"].as_str().expect("string id").to_string();
        assert_eq!(id.len(), 36, "uuid-shaped id: {id}");
        assert_eq!(location, Some(format!("/things/{id}")));

        let (status, body) = json_of(
            c.get(format!("{base}/things/{id}"))
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!((status, body["status"].as_str()), (200, Some("PENDING")));
        assert_eq!(body["id"], id.as_str());
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (_, body) = json_of(
            c.get(format!("{base}/things/{id}"))
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!(body["status"], "ACTIVE");

        let (status, _) = json_of(
            c.get(format!("{base}/things/unknown"))
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn things_can_end_in_error() {
        let base = start(router_with(DemoConfig {
            thing_error_ratio: 1.0,
            pending_for: Duration::ZERO,
            ..quick()
        }))
        .await;
        let c = client();
        let (_, body) = json_of(c.post(format!("{base}/things")).send().await.expect("post")).await;
        let id = body["id"].as_str().expect("id");
        let (_, body) = json_of(
            c.get(format!("{base}/things/{id}"))
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!(body["status"], "ERROR");
    }

    #[tokio::test]
    async fn things_are_bounded() {
        let base = start(router_with(DemoConfig {
            max_things: 2,
            ..quick()
        }))
        .await;
        let c = client();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let (_, body) =
                json_of(c.post(format!("{base}/things")).send().await.expect("post")).await;
            ids.push(body["id"].as_str().expect("id").to_string());
        }
        let status_of = |id: String| {
            let c = c.clone();
            let url = format!("{base}/things/{id}");
            async move { c.get(url).send().await.expect("get").status().as_u16() }
        };
        assert_eq!(status_of(ids[0].clone()).await, 404, "oldest evicted");
        assert_eq!(status_of(ids[1].clone()).await, 200);
        assert_eq!(status_of(ids[2].clone()).await, 200);
    }

    #[tokio::test]
    async fn login_and_me() {
        let base = start(router_with(quick())).await;
        let c = client();
        let (status, body) = json_of(
            c.post(format!("{base}/login"))
                .json(&json!({ "username": "ann", "password": "secret" }))
                .send()
                .await
                .expect("login"),
        )
        .await;
        assert_eq!(status, 200);
        let token = body["token"].as_str().expect("token").to_string();

        let (status, body) = json_of(
            c.get(format!("{base}/me"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("me"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({ "username": "ann" }));

        // Form login works too, and gives a different token for a different user.
        let r = c
            .post(format!("{base}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=bob+b&password=secret")
            .send()
            .await
            .expect("form login");
        let (status, body) = json_of(r).await;
        assert_eq!(status, 200);
        let bob = body["token"].as_str().expect("token").to_string();
        assert_ne!(bob, token);
        let (_, body) = json_of(
            c.get(format!("{base}/me"))
                .bearer_auth(&bob)
                .send()
                .await
                .expect("me"),
        )
        .await;
        assert_eq!(body["username"], "bob b");

        let wrong = json!({ "username": "ann", "password": "nope" });
        let r = c
            .post(format!("{base}/login"))
            .json(&wrong)
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 401);
        let empty = json!({ "username": "", "password": "secret" });
        let r = c
            .post(format!("{base}/login"))
            .json(&empty)
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 401);
        let r = c
            .post(format!("{base}/login"))
            .body("{not json")
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 400);

        let r = c.get(format!("{base}/me")).send().await.expect("me");
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
        let r = c
            .get(format!("{base}/me"))
            .bearer_auth("forged")
            .send()
            .await
            .expect("me");
        assert_eq!(r.status(), 401);
        let r = c
            .get(format!("{base}/me"))
            .header("authorization", format!("Basic {token}"))
            .send()
            .await
            .expect("me");
        assert_eq!(r.status(), 401);
    }

    #[tokio::test]
    async fn carts_follow_the_cookie_and_do_not_leak() {
        let base = start(router_with(quick())).await;
        let (alice, bob) = (client(), client());
        let add = |c: &reqwest::Client, item: &str| {
            c.post(format!("{base}/cart/items"))
                .json(&json!({ "item": item }))
                .send()
        };
        let r = add(&alice, "apple").await.expect("add");
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(cookie.starts_with("session="), "{cookie}");
        assert_eq!(json_of(r).await.1, json!({ "items": ["apple"] }));
        add(&alice, "pear").await.expect("add");
        add(&bob, "plum").await.expect("add");

        let cart = |c: &reqwest::Client| c.get(format!("{base}/cart")).send();
        assert_eq!(
            json_of(cart(&alice).await.expect("cart")).await.1["items"],
            json!(["apple", "pear"])
        );
        assert_eq!(
            json_of(cart(&bob).await.expect("cart")).await.1["items"],
            json!(["plum"])
        );
        let anonymous = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        assert_eq!(
            json_of(cart(&anonymous).await.expect("cart")).await.1["items"],
            json!([])
        );
        // A made-up session id sees nothing and cannot write into anyone's cart.
        let forged = anonymous
            .get(format!("{base}/cart"))
            .header("cookie", "session=0123")
            .send()
            .await
            .expect("cart");
        assert_eq!(json_of(forged).await.1["items"], json!([]));

        let r = alice
            .post(format!("{base}/cart/items"))
            .body("nope")
            .send()
            .await
            .expect("add");
        assert_eq!(r.status(), 400);
    }

    #[tokio::test]
    async fn sessions_and_cart_items_are_bounded() {
        let base = start(router_with(DemoConfig {
            max_sessions: 1,
            max_cart_items: 2,
            ..quick()
        }))
        .await;
        let (first, second) = (client(), client());
        for item in ["a", "b", "c"] {
            first
                .post(format!("{base}/cart/items"))
                .json(&json!({ "item": item }))
                .send()
                .await
                .expect("add");
        }
        let (_, body) = json_of(
            first
                .get(format!("{base}/cart"))
                .send()
                .await
                .expect("cart"),
        )
        .await;
        assert_eq!(body["items"], json!(["b", "c"]), "oldest item dropped");
        second
            .post(format!("{base}/cart/items"))
            .json(&json!({ "item": "x" }))
            .send()
            .await
            .expect("add");
        let (_, body) = json_of(
            first
                .get(format!("{base}/cart"))
                .send()
                .await
                .expect("cart"),
        )
        .await;
        assert_eq!(body["items"], json!([]), "oldest session evicted");
    }

    #[tokio::test]
    async fn flaky_fails_at_its_ratio() {
        let always = start(router_with(DemoConfig {
            flaky_ratio: 1.0,
            ..quick()
        }))
        .await;
        let never = start(router_with(DemoConfig {
            flaky_ratio: 0.0,
            ..quick()
        }))
        .await;
        let default = start(router_with(quick())).await;
        let c = client();
        for _ in 0..5 {
            assert_eq!(
                c.get(format!("{always}/flaky"))
                    .send()
                    .await
                    .expect("get")
                    .status(),
                500
            );
            assert_eq!(
                c.get(format!("{never}/flaky"))
                    .send()
                    .await
                    .expect("get")
                    .status(),
                200
            );
        }
        let mut failures = 0;
        for _ in 0..400 {
            let status = c
                .get(format!("{default}/flaky"))
                .send()
                .await
                .expect("get")
                .status();
            assert!(status == 200 || status == 500, "{status}");
            failures += usize::from(status == 500);
        }
        // Binomial(400, 0.1): mean 40, sd 6; these bounds are ~4 sd out.
        assert!((15..=65).contains(&failures), "{failures} failures of 400");
    }

    #[tokio::test]
    async fn slow_sleeps_and_default_latency_applies() {
        let base = start(router_with(quick())).await;
        let c = client();
        let t = Instant::now();
        let (status, body) = json_of(
            c.get(format!("{base}/slow?ms=120"))
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert!(
            t.elapsed() >= Duration::from_millis(120),
            "{:?}",
            t.elapsed()
        );
        assert_eq!((status, body), (200, json!({ "slept_ms": 120 })));
        let r = c
            .get(format!("{base}/slow?ms=soon"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 400);

        let realistic = start(router()).await;
        let t = Instant::now();
        let r = c
            .get(format!("{realistic}/resources/1"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200);
        assert!(t.elapsed() >= Duration::from_millis(5), "{:?}", t.elapsed());
    }

    #[test]
    fn slow_parameter() {
        assert_eq!(slow_ms(None), Ok(DEFAULT_SLOW_MS));
        assert_eq!(slow_ms(Some("0")), Ok(0));
        assert_eq!(slow_ms(Some("250")), Ok(250));
        assert_eq!(slow_ms(Some("99999999")), Ok(MAX_SLOW_MS));
        assert!(slow_ms(Some("-1")).is_err());
        assert!(slow_ms(Some("1.5")).unwrap_err().contains("\"1.5\""));
    }

    #[test]
    fn bounded_map_evicts_oldest_and_updates_in_place() {
        let mut m = BoundedMap::new(2);
        m.insert("a".into(), 1);
        m.insert("b".into(), 2);
        m.insert("a".into(), 10);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get("a"), Some(&10));
        m.insert("c".into(), 3);
        assert_eq!(
            m.get("a"),
            None,
            "a is the oldest even though it was updated"
        );
        assert_eq!(m.get("b"), Some(&2));
        assert_eq!(m.get("c"), Some(&3));
        assert_eq!(m.len(), 2);
        let mut zero = BoundedMap::new(0);
        zero.insert("x".into(), ());
        assert_eq!(zero.len(), 1, "a cap of 0 is treated as 1");
    }

    #[test]
    fn ids_tokens_and_chance() {
        let id = uuid_v4();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert_ne!(uuid_v4(), uuid_v4());
        assert_eq!(random_hex(16).len(), 32);
        assert!(!chance(0.0) && !chance(-1.0) && !chance(f64::NAN));
        assert!(chance(1.0) && chance(2.0));
    }

    #[test]
    fn cookie_and_bearer_parsing() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; session=abc ; b=2"),
        );
        assert_eq!(session_id(&h).as_deref(), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("mysession=zzz"));
        assert_eq!(session_id(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  t0k "),
        );
        assert_eq!(bearer_token(&h), Some("t0k"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer_token(&h), None);
    }

    #[tokio::test]
    async fn serve_until_stops_on_signal() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_until(listener, async {
            let _ = rx.await;
        }));
        let r = client()
            .get(format!("http://{addr}/fast"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.text().await.expect("body"), "ok\n");
        let _ = tx.send(());
        let result = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("server stopped within 5 s")
            .expect("server task did not panic");
        assert!(result.is_ok(), "{result:?}");
    }
}
