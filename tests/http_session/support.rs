//! What both halves of the HTTP client tests share: a client with default settings, an axum app
//! that echoes what it received, raw TCP servers for misbehaving peers, and the LocalSet every
//! session needs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::http::{HeaderMap, Method as AxMethod, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use axum::Router;
use bytes::Bytes;
use rustlocust::http::{BaseUrl, Client, EngineKind, HttpConfig, Response, Session};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;

pub fn client() -> Client {
    Client::new(&HttpConfig::default()).unwrap()
}

/// A client with default settings whose requests go to `engine`.
pub fn client_on(engine: EngineKind) -> Client {
    Client::new(&HttpConfig {
        engine,
        ..HttpConfig::default()
    })
    .unwrap()
}

/// `on_both_engines!(a, b)`: each `async fn a(engine: EngineKind)` becomes two tests, `a::hyper`
/// and `a::reqwest`, so that one body checks that both engines behave the same.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "current_thread")]
            async fn hyper() {
                super::$name(rustlocust::http::EngineKind::Hyper).await
            }
            #[tokio::test(flavor = "current_thread")]
            async fn reqwest() {
                super::$name(rustlocust::http::EngineKind::Reqwest).await
            }
        }
    )*};
}

/// `http://127.0.0.1:<port of addr>` as a session's base URL.
pub fn base(addr: SocketAddr) -> BaseUrl {
    BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap()
}

/// A session of a default client, its base URL the server at `addr`.
pub fn session_to(addr: SocketAddr) -> Rc<Session> {
    client().session(Some(base(addr)))
}

/// [`session_to`] on `engine`.
pub fn session_on(engine: EngineKind, addr: SocketAddr) -> Rc<Session> {
    client_on(engine).session(Some(base(addr)))
}

/// Serves `app`; returns its address and a counter of accepted connections.
pub async fn serve(app: Router) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, accepted)
}

/// The request as `key=value` lines: method, target, body and the headers tests look at.
async fn echo(method: AxMethod, uri: Uri, headers: HeaderMap, body: Bytes) -> String {
    let h = |n: &str| {
        headers
            .get_all(n)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "method={method}\nuri={uri}\nbody={}\nua={}\naccept={}\ncl={}\nct={}\nx={}\ncookie={}\nhost={}\nauth={}",
        String::from_utf8_lossy(&body),
        h("user-agent"),
        h("accept"),
        h("content-length"),
        h("content-type"),
        h("x-custom"),
        h("cookie"),
        h("host"),
        h("authorization"),
    )
}

/// `/echo` (and `/api/echo`), `/hello`, slow answers, cookies set and deleted, redirects.
pub fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hi" }))
        .route("/echo", any(echo))
        .route("/api/echo", any(echo))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route(
            "/never",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/set",
            get(|| async { ([("set-cookie", "sid=abc; Path=/")], "set") }),
        )
        .route(
            "/set2",
            get(|| async { ([("set-cookie", "other=1; Path=/")], "set") }),
        )
        .route(
            "/del",
            get(|| async { ([("set-cookie", "sid=; Path=/; Max-Age=0")], "del") }),
        )
        .route(
            "/login",
            any(|| async {
                (
                    StatusCode::FOUND,
                    [
                        ("set-cookie", "sid=fromredirect; Path=/"),
                        ("location", "/echo"),
                    ],
                    "",
                )
            }),
        )
        .route(
            "/r303",
            any(|| async { (StatusCode::SEE_OTHER, [("location", "/echo")], "") }),
        )
        .route(
            "/r307",
            any(|| async {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [("location", "/echo?from=307")],
                    "",
                )
            }),
        )
        .route(
            "/r301",
            any(|| async { (StatusCode::MOVED_PERMANENTLY, [("location", "echo")], "") }),
        )
        .route(
            "/loop/{n}",
            get(|Path(n): Path<u32>| async move {
                (
                    StatusCode::FOUND,
                    [("location", format!("/loop/{}", n + 1))],
                    "",
                )
                    .into_response()
            }),
        )
}

/// A TLS server config with a fresh self-signed certificate for 127.0.0.1 (and localhost),
/// offering `alpn` (empty: no ALPN).
pub fn tls_server_config(alpn: &[&[u8]]) -> rustls::ServerConfig {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    cfg
}

/// Serves HTTP/1.1 over TLS with `cfg` on 127.0.0.1, each request answered `answer(uri)`.
pub async fn tls_http1_server(cfg: rustls::ServerConfig, answer: fn(&str) -> String) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    move |req: http::Request<hyper::body::Incoming>| async move {
                        let body = answer(&req.uri().to_string());
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(Bytes::from(body)),
                        ))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

/// Runs `f` inside a LocalSet: sessions are `!Send` and spawn their connections locally.
pub async fn local<F: std::future::Future>(f: F) -> F::Output {
    LocalSet::new().run_until(f).await
}

/// The `key=value` lines of an `/echo` answer.
pub fn lines(r: &Response) -> HashMap<String, String> {
    r.text()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect()
}

/// Reads one request head (no body) from `s`; false on EOF.
pub async fn read_head(s: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    true
}

pub const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// A raw server; `handler` gets each accepted connection. Returns the address and accept count.
pub async fn raw_server<F, Fut>(handler: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handler(s));
        }
    });
    (addr, accepted)
}
