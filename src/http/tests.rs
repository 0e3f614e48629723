//! In-process servers on 127.0.0.1:0; every test runs on a current_thread runtime inside a LocalSet.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, Method as AxMethod, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use axum::Router;
use bytes::Bytes;
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;

use super::*;

fn client() -> Client {
    Client::new(&HttpConfig::default()).unwrap()
}

/// Serves `app`; returns its address and a counter of accepted connections.
async fn serve(app: Router) -> (SocketAddr, Arc<AtomicUsize>) {
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

fn app() -> Router {
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

async fn local<F: std::future::Future>(f: F) -> F::Output {
    LocalSet::new().run_until(f).await
}

fn lines(r: &Response) -> std::collections::HashMap<String, String> {
    r.text()
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn get_and_post_with_body_and_headers() {
    local(async {
        let (addr, _) = serve(app()).await;
        let base = BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap();
        let s = client().session(Some(base));

        let r = s.send(Request::get("/hello")).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], b"hi");
        assert_eq!(r.url, format!("http://127.0.0.1:{}/hello", addr.port()));

        let r = s
            .send(Request::get("/echo?a=1&b=x%20y#frag").header("X-Custom", "v1"))
            .await
            .unwrap();
        let m = lines(&r);
        assert_eq!(m["method"], "GET");
        assert_eq!(m["uri"], "/echo?a=1&b=x%20y");
        assert_eq!(m["ua"], USER_AGENT);
        assert_eq!(m["accept"], "*/*");
        assert_eq!(m["cl"], "");
        assert_eq!(m["x"], "v1");
        assert_eq!(m["host"], format!("127.0.0.1:{}", addr.port()));
        assert_eq!(
            r.url,
            format!("http://127.0.0.1:{}/echo?a=1&b=x%20y", addr.port())
        );

        // user headers replace defaults case-insensitively; a repeated name is sent twice
        let req = Request::post("/echo", "payload=1")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("ACCEPT", "text/plain")
            .header("user-agent", "custom")
            .header("x-custom", "a")
            .header("X-Custom", "b");
        let r = s.send(req).await.unwrap();
        let m = lines(&r);
        assert_eq!(m["method"], "POST");
        assert_eq!(m["body"], "payload=1");
        assert_eq!(m["cl"], "9");
        assert_eq!(m["ct"], "application/x-www-form-urlencoded");
        assert_eq!(m["accept"], "text/plain");
        assert_eq!(m["ua"], "custom");
        assert_eq!(m["x"], "a,b");

        // empty POST sends Content-Length: 0 (like requests); other methods work
        let r = s.send(Request::new(Method::POST, "/echo")).await.unwrap();
        assert_eq!(lines(&r)["cl"], "0");
        let r = s
            .send(Request::new(Method::PUT, "/echo").body("x"))
            .await
            .unwrap();
        assert_eq!(lines(&r)["method"], "PUT");
        let r = s.send(Request::new(Method::DELETE, "/echo")).await.unwrap();
        assert_eq!(lines(&r)["method"], "DELETE");
        let r = s.send(Request::new(Method::HEAD, "/hello")).await.unwrap();
        assert_eq!(r.status, 200);
        assert!(r.body.is_empty());
        let r = s.send(Request::get("/nope")).await.unwrap();
        assert_eq!(r.status, 404);

        // spaces and non-ASCII are percent-encoded like requests
        let r = s.send(Request::get("/echo?q=a b&u=ü")).await.unwrap();
        assert_eq!(lines(&r)["uri"], "/echo?q=a%20b&u=%C3%BC");

        // invalid headers are named
        let e = s
            .send(Request::get("/echo").header("bad name", "v"))
            .await
            .unwrap_err();
        assert!(matches!(e, HttpError::InvalidHeader(_)));
        assert!(e.to_string().contains("bad name"), "{e}");
        let e = s
            .send(Request::get("/echo").header("x-ok", "a\nb"))
            .await
            .unwrap_err();
        assert!(matches!(e, HttpError::InvalidHeader(_)));
        assert!(e.to_string().contains("x-ok"), "{e}");
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn relative_absolute_and_prefixed_urls() {
    local(async {
        let (addr, _) = serve(app()).await;
        let c = client();
        // base with a path prefix
        let s = c.session(Some(BaseUrl::parse(&format!("http://127.0.0.1:{}/api/", addr.port())).unwrap()));
        let r = s.send(Request::get("/echo?x=1")).await.unwrap();
        assert_eq!(lines(&r)["uri"], "/api/echo?x=1");
        assert_eq!(r.url, format!("http://127.0.0.1:{}/api/echo?x=1", addr.port()));

        // absolute URL, no base
        let s = c.session(None);
        let url = format!("http://127.0.0.1:{}/echo?y=2", addr.port());
        let r = s.send(Request::get(url.clone())).await.unwrap();
        assert_eq!(lines(&r)["uri"], "/echo?y=2");
        assert_eq!(r.url, url);
        assert_eq!(path_url(&url), "/echo?y=2");

        // relative URL without base
        let e = s.send(Request::get("/x")).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "InvalidURL(\"relative URL '/x' but no host: pass -H/--host or set host on the user class\")"
        );
        assert!(e.is_request_error());
        let e = s.send(Request::get("ftp://127.0.0.1/x")).await.unwrap_err();
        assert!(matches!(e, HttpError::InvalidUrl(_)), "{e}");

        // basic auth from user:pass@ in the host
        let s = c.session(Some(BaseUrl::parse(&format!("http://u:pw@127.0.0.1:{}", addr.port())).unwrap()));
        let r = s.send(Request::get("/echo")).await.unwrap();
        assert_eq!(lines(&r)["auth"], "Basic dTpwdw==");
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn keep_alive_reuses_one_connection() {
    local(async {
        let (addr, accepted) = serve(app()).await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        for i in 0..20 {
            let r = s.send(Request::get(format!("/echo?i={i}"))).await.unwrap();
            assert_eq!(r.status, 200);
        }
        let r = s.send(Request::post("/echo", "x")).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(s.idle_connections(), 1);
        // an absolute URL to the same origin uses the same pool
        let r = s
            .send(Request::get(format!(
                "http://127.0.0.1:{}/hello",
                addr.port()
            )))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        s.close_connections();
        assert_eq!(s.idle_connections(), 0);
        s.send(Request::get("/hello")).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_sends_open_a_second_connection() {
    local(async {
        let (addr, accepted) = serve(app()).await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        let (a, b) = tokio::join!(s.send(Request::get("/slow")), s.send(Request::get("/slow")));
        assert_eq!(a.unwrap().status, 200);
        assert_eq!(b.unwrap().status, 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(s.idle_connections(), 2);
        for _ in 0..5 {
            s.send(Request::get("/hello")).await.unwrap();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // from spawned local tasks too
        let t1 = tokio::task::spawn_local(s.send(Request::get("/slow")));
        let t2 = tokio::task::spawn_local(s.send(Request::get("/slow")));
        let t3 = tokio::task::spawn_local(s.send(Request::get("/slow")));
        for t in [t1, t2, t3] {
            assert_eq!(t.await.unwrap().unwrap().status, 200);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn cookies_per_session() {
    local(async {
        let (addr, _) = serve(app()).await;
        let base = BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap();
        let c = client();
        let a = c.session(Some(base.clone()));
        let b = c.session(Some(base.clone()));
        assert_eq!(a.cookie("sid"), None);
        a.send(Request::get("/set")).await.unwrap();
        a.send(Request::get("/set2")).await.unwrap();
        assert_eq!(a.cookie("sid").as_deref(), Some("abc"));
        let r = a.send(Request::get("/echo")).await.unwrap();
        let cookie = lines(&r)["cookie"].clone();
        assert!(
            cookie.contains("sid=abc") && cookie.contains("other=1"),
            "{cookie}"
        );
        let r = b.send(Request::get("/echo")).await.unwrap();
        assert_eq!(lines(&r)["cookie"], "");
        assert_eq!(b.cookie("sid"), None);

        // an explicit Cookie header wins over the jar
        let r = a
            .send(Request::get("/echo").header("Cookie", "mine=1"))
            .await
            .unwrap();
        assert_eq!(lines(&r)["cookie"], "mine=1");

        // deletion via Max-Age=0
        a.send(Request::get("/del")).await.unwrap();
        assert_eq!(a.cookie("sid"), None);
        let r = a.send(Request::get("/echo")).await.unwrap();
        assert_eq!(lines(&r)["cookie"], "other=1");

        a.clear_cookies();
        let r = a.send(Request::get("/echo")).await.unwrap();
        assert_eq!(lines(&r)["cookie"], "");

        // cookies set on a redirect response are sent on the next hop
        let r = b.send(Request::post("/login", "user=x")).await.unwrap();
        let m = lines(&r);
        assert_eq!(m["method"], "GET");
        assert_eq!(m["cookie"], "sid=fromredirect");
        assert_eq!(b.cookie("sid").as_deref(), Some("fromredirect"));

        // set_cookie
        a.set_cookie("manual=7; Path=/", "/").unwrap();
        let r = a.send(Request::get("/echo")).await.unwrap();
        assert_eq!(lines(&r)["cookie"], "manual=7");
        assert_eq!(a.cookies(), vec![("manual".to_string(), "7".to_string())]);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn redirects() {
    local(async {
        let (addr, _) = serve(app()).await;
        let base = BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap();
        let s = client().session(Some(base.clone()));

        // 303: POST -> GET, body and content headers dropped
        let r = s
            .send(Request::post("/r303", "data").header("Content-Type", "text/plain"))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        let m = lines(&r);
        assert_eq!(
            (m["method"].as_str(), m["body"].as_str(), m["ct"].as_str()),
            ("GET", "", "")
        );
        assert_eq!(r.url, format!("http://127.0.0.1:{}/echo", addr.port()));

        // 307 keeps method, body and headers
        let r = s
            .send(Request::post("/r307", "data").header("Content-Type", "text/plain"))
            .await
            .unwrap();
        let m = lines(&r);
        assert_eq!(
            (m["method"].as_str(), m["body"].as_str(), m["ct"].as_str()),
            ("POST", "data", "text/plain")
        );
        assert_eq!(m["uri"], "/echo?from=307");
        assert_eq!(
            r.url,
            format!("http://127.0.0.1:{}/echo?from=307", addr.port())
        );

        // 301 with a relative Location; POST -> GET
        let r = s.send(Request::post("/r301", "data")).await.unwrap();
        assert_eq!(lines(&r)["method"], "GET");
        // 301 keeps PUT (requests only rewrites POST)
        let r = s
            .send(Request::new(Method::PUT, "/r301").body("d"))
            .await
            .unwrap();
        let m = lines(&r);
        assert_eq!((m["method"].as_str(), m["body"].as_str()), ("PUT", ""));

        // not followed
        let r = s
            .send(Request::get("/r303").follow_redirects(false))
            .await
            .unwrap();
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("/echo"));
        assert_eq!(r.url, format!("http://127.0.0.1:{}/r303", addr.port()));

        // too many (30 by default)
        let e = s.send(Request::get("/loop/0")).await.unwrap_err();
        assert_eq!(e.to_string(), "TooManyRedirects('Exceeded 30 redirects.')");

        // exactly max_redirects hops are fine, one more is not
        let c = Client::new(&HttpConfig {
            max_redirects: 3,
            ..HttpConfig::default()
        })
        .unwrap();
        let s = c.session(Some(base));
        let e = s.send(Request::get("/loop/0")).await.unwrap_err();
        assert!(matches!(e, HttpError::TooManyRedirects(3)));
        let r = s.send(Request::get("/r303")).await.unwrap();
        assert_eq!(r.status, 200);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn large_and_chunked_bodies() {
    local(async {
        let big = Bytes::from(vec![b'z'; 1 << 20]);
        let big2 = big.clone();
        let app = Router::new()
            .route("/big", get(move || async move { big2.clone() }))
            .route(
                "/upload",
                any(|body: Bytes| async move { body.len().to_string() }),
            );
        let (addr, accepted) = serve(app).await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        for _ in 0..3 {
            let r = s.send(Request::get("/big")).await.unwrap();
            assert_eq!(r.body, big);
            let r = s.send(Request::post("/upload", big.clone())).await.unwrap();
            assert_eq!(r.text(), (1 << 20).to_string());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        // chunked transfer-encoding, kept alive
        let (addr, accepted) = raw_server(|mut s| async move {
            while read_head(&mut s).await {
                let mut out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                for i in 0..50 {
                    let chunk = format!("chunk{i};");
                    out.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
                }
                out.extend_from_slice(b"0\r\n\r\n");
                s.write_all(&out).await.unwrap();
            }
        })
        .await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        for _ in 0..3 {
            let r = s.send(Request::get("/chunked")).await.unwrap();
            assert!(r.header("content-length").is_none());
            assert!(
                r.text().starts_with("chunk0;chunk1;") && r.text().ends_with("chunk49;"),
                "{}",
                r.text()
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn cross_origin_redirect() {
    local(async {
        let (other, other_accepted) = serve(app()).await;
        let target = format!("http://127.0.0.1:{}/echo?x=1", other.port());
        let app = app().route(
            "/away",
            get(move || {
                let t = target.clone();
                async move { (StatusCode::FOUND, [("location", t)], "") }
            }),
        );
        let (addr, _) = serve(app).await;
        let base = BaseUrl::parse(&format!("http://u:p@127.0.0.1:{}", addr.port())).unwrap();
        let s = client().session(Some(base));
        let r = s
            .send(Request::get("/away").header("Cookie", "mine=1"))
            .await
            .unwrap();
        let m = lines(&r);
        assert_eq!(m["uri"], "/echo?x=1");
        assert_eq!(m["host"], format!("127.0.0.1:{}", other.port()));
        assert_eq!(
            m["cookie"], "",
            "explicit Cookie header dropped on redirect"
        );
        assert_eq!(
            m["auth"], "",
            "port changed: credentials dropped like requests"
        );
        assert_eq!(r.url, format!("http://127.0.0.1:{}/echo?x=1", other.port()));
        assert_eq!(s.idle_connections(), 2);
        s.send(Request::get("/away")).await.unwrap();
        assert_eq!(other_accepted.load(Ordering::SeqCst), 1);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn read_timeout() {
    local(async {
        let (addr, _) = serve(app()).await;
        let s = client().session(Some(BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap()));
        let t = Instant::now();
        let e = s.send(Request::get("/never").timeout(Duration::from_millis(200))).await.unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(e.is_timeout());
        assert_eq!(
            e.to_string(),
            format!(
                "ReadTimeout(\"HTTPConnectionPool(host='127.0.0.1', port={}): Read timed out. (read timeout=0.2)\")",
                addr.port()
            )
        );
        assert_eq!(s.idle_connections(), 0);
        // the session still works afterwards; default timeout from the client config
        let c = Client::new(&HttpConfig { default_timeout: Duration::from_millis(100), ..HttpConfig::default() }).unwrap();
        let s = c.session(s.base().cloned());
        assert!(s.send(Request::get("/slow")).await.unwrap_err().is_timeout());
        assert_eq!(s.send(Request::get("/hello")).await.unwrap().status, 200);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn connect_timeout_on_full_backlog() {
    local(async {
        // A listener that never accepts, with its backlog filled: further SYNs are dropped.
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = sock.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => fillers.push(s),
                _ => break,
            }
        }
        let s = client().session(None);
        let e = s
            .send(Request::get(format!("http://127.0.0.1:{}/", addr.port())).timeout(Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "ConnectTimeout(\"HTTPConnectionPool(host='127.0.0.1', port={}): Connect timed out. (connect timeout=0.3)\")",
                addr.port()
            )
        );
        drop(listener);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn connection_refused() {
    local(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        ));
        let e = s.send(Request::get("/")).await.unwrap_err();
        assert!(matches!(e, HttpError::ConnectionRefused));
        assert_eq!(
            e.to_string(),
            "ConnectionRefusedError(111, 'Connection refused')"
        );
    })
    .await
}

/// Reads one request head (no body) from `s`; false on EOF.
async fn read_head(s: &mut TcpStream) -> bool {
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

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// A raw server; `handler` gets each accepted connection. Returns the address and accept count.
async fn raw_server<F, Fut>(handler: F) -> (SocketAddr, Arc<AtomicUsize>)
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

#[tokio::test(flavor = "current_thread")]
async fn connection_reset() {
    local(async {
        let (addr, accepted) = raw_server(|mut s| async move {
            read_head(&mut s).await;
            s.set_zero_linger().unwrap();
            drop(s);
        })
        .await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        let e = s.send(Request::get("/")).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "ConnectionResetError(104, 'Connection reset by peer')"
        );
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "a fresh connection is not retried"
        );
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn remote_disconnected_on_fresh_connection() {
    local(async {
        let (addr, accepted) = raw_server(|mut s| async move {
            read_head(&mut s).await;
            drop(s);
        })
        .await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        let e = s.send(Request::get("/")).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "RemoteDisconnected('Remote end closed connection without response')"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn truncated_body() {
    local(async {
        let (addr, _) = raw_server(|mut s| async move {
            read_head(&mut s).await;
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
                .await
                .unwrap();
            drop(s);
        })
        .await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        let e = s.send(Request::get("/")).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "ConnectionError('Connection broken: IncompleteRead')"
        );
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn idle_connection_closed_by_server_is_retried() {
    local(async {
        // Each connection answers one request, then receives the next one and closes without
        // answering: exactly the race of a server's idle-timeout close with a new request.
        let (addr, accepted) = raw_server(|mut s| async move {
            if read_head(&mut s).await {
                s.write_all(OK).await.unwrap();
                read_head(&mut s).await;
            }
            drop(s);
        })
        .await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        for _ in 0..5 {
            let r = s.send(Request::get("/")).await.unwrap();
            assert_eq!(&r.body[..], b"ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 5);

        // A server that closes right after each response (no "Connection: close"): the closed
        // idle connection is noticed or retried, never reported.
        let (addr, accepted) = raw_server(|mut s| async move {
            if read_head(&mut s).await {
                s.write_all(OK).await.unwrap();
            }
            drop(s);
        })
        .await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        for i in 0..10 {
            let r = s.send(Request::post("/", "x")).await.unwrap();
            assert_eq!(&r.body[..], b"ok");
            if i % 2 == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 10);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn connection_close_header_is_honoured() {
    local(async {
        let (addr, accepted) = raw_server(|mut s| async move {
            while read_head(&mut s).await {
                s.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .unwrap();
            }
        })
        .await;
        let s = client().session(Some(
            BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap(),
        ));
        for _ in 0..3 {
            assert_eq!(s.send(Request::get("/")).await.unwrap().status, 200);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        assert_eq!(s.idle_connections(), 0);
    })
    .await
}

async fn tls_server() -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
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
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let body = format!("secure {}", req.uri());
                        Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
                            Bytes::from(body),
                        )))
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

#[tokio::test(flavor = "current_thread")]
async fn https_self_signed() {
    local(async {
        let addr = tls_server().await;
        let base = BaseUrl::parse(&format!("https://127.0.0.1:{}", addr.port())).unwrap();
        assert!(base.is_https());

        let c = Client::new(&HttpConfig {
            insecure: true,
            ..HttpConfig::default()
        })
        .unwrap();
        let s = c.session(Some(base.clone()));
        for _ in 0..3 {
            let r = s.send(Request::get("/x?y=1")).await.unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.text(), "secure /x?y=1");
            assert_eq!(r.url, format!("https://127.0.0.1:{}/x?y=1", addr.port()));
        }
        assert_eq!(s.idle_connections(), 1);

        let s = client().session(Some(base));
        let e = s.send(Request::get("/")).await.unwrap_err();
        assert!(matches!(e, HttpError::Connection(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with("ConnectionError('invalid peer certificate"),
            "{text}"
        );
        assert!(text.contains("UnknownIssuer"), "{text}");
    })
    .await
}

#[test]
fn client_is_send_sync_and_session_is_small() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
    assert_send_sync::<BaseUrl>();
    assert_send_sync::<HttpError>();
    assert!(
        std::mem::size_of::<Session>() <= 96,
        "{}",
        std::mem::size_of::<Session>()
    );
    let _: Rc<Session> = client().session(None);
}

// ---------------------------------------------------------------------------------------------
// Measurements (ignored; run with `cargo test --release --lib http::tests::bench -- --ignored --nocapture`).

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// A minimal keep-alive HTTP server on its own thread (so it does not count in client CPU).
fn bench_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                s.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 512];
                    let mut have = 0usize;
                    loop {
                        match s.read(&mut buf[have..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => have += n,
                        }
                        while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n")
                        {
                            if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                                .await
                                .is_err()
                            {
                                return;
                            }
                            buf.copy_within(end + 4..have, 0);
                            have -= end + 4;
                        }
                        if have == buf.len() {
                            return;
                        }
                    }
                });
            }
        });
    });
    rx.recv().unwrap()
}

#[test]
#[ignore]
fn bench_cpu_per_request() {
    let addr = bench_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = 50_000u32;
    rt.block_on(LocalSet::new().run_until(async move {
        // raw hyper baseline: one SendRequest, prebuilt-ish requests
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (mut tx, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(8192)
            .handshake::<_, http_body_util::Full<Bytes>>(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::task::spawn_local(conn);
        for round in 0..2 {
            let (c0, t0) = (thread_cpu(), Instant::now());
            for _ in 0..n {
                tx.ready().await.unwrap();
                let req = http::Request::builder()
                    .uri("/x?a=1")
                    .header("host", "127.0.0.1")
                    .body(http_body_util::Full::new(Bytes::new()))
                    .unwrap();
                let resp = tx.send_request(req).await.unwrap();
                use http_body_util::BodyExt;
                let _ = resp.into_body().collect().await.unwrap().to_bytes();
            }
            let (cpu, wall) = (thread_cpu() - c0, t0.elapsed());
            println!(
                "raw hyper   round {round}: {:.2} us CPU/req, {:.2} us wall/req",
                cpu.as_secs_f64() * 1e6 / n as f64,
                wall.as_secs_f64() * 1e6 / n as f64
            );
        }
        let base = BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap();
        let c = client();
        let s = c.session(Some(base));
        for round in 0..2 {
            let (c0, t0) = (thread_cpu(), Instant::now());
            for _ in 0..n {
                let r = s.send(Request::get("/x?a=1")).await.unwrap();
                assert_eq!(r.status, 200);
            }
            let (cpu, wall) = (thread_cpu() - c0, t0.elapsed());
            println!(
                "Session GET round {round}: {:.2} us CPU/req, {:.2} us wall/req",
                cpu.as_secs_f64() * 1e6 / n as f64,
                wall.as_secs_f64() * 1e6 / n as f64
            );
        }
        s.set_cookie("sid=abcdef; Path=/", "/").unwrap();
        let (c0, t0) = (thread_cpu(), Instant::now());
        for _ in 0..n {
            let r = s
                .send(Request::get("/x?a=1").header("X-Custom", "1"))
                .await
                .unwrap();
            assert_eq!(r.status, 200);
        }
        let (cpu, wall) = (thread_cpu() - c0, t0.elapsed());
        println!(
            "Session GET + 1 cookie + 1 header: {:.2} us CPU/req, {:.2} us wall/req",
            cpu.as_secs_f64() * 1e6 / n as f64,
            wall.as_secs_f64() * 1e6 / n as f64
        );
    }));
}

#[test]
#[ignore]
fn bench_memory_per_idle_session() {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    let addr = bench_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n = 3_000usize;
    rt.block_on(LocalSet::new().run_until(async move {
        // server + socket cost alone: raw client sockets that did one request each
        let r0 = rss_kib();
        let mut raws = Vec::new();
        for _ in 0..n {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
            let mut b = [0u8; 64];
            let _ = s.read(&mut b).await.unwrap();
            raws.push(s);
        }
        let raw = rss_kib() - r0;
        // raw hyper connections (handshake + spawn_local + one request), no session layer
        // (RSS is order-dependent: freed memory is reused, so only one of the two per process)
        let raw_hyper = std::env::var("BENCH_RAW_HYPER").is_ok();
        let r0 = rss_kib();
        let n_hyper = if raw_hyper { n } else { 0 };
        let mut senders = Vec::new();
        for _ in 0..n_hyper {
            let tcp = TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut tx, conn) = hyper::client::conn::http1::Builder::new()
                .max_buf_size(8192)
                .handshake::<_, http_body_util::Full<Bytes>>(hyper_util::rt::TokioIo::new(tcp))
                .await
                .unwrap();
            tokio::task::spawn_local(conn);
            let req = http::Request::builder()
                .uri("/")
                .header("host", "127.0.0.1")
                .body(http_body_util::Full::new(Bytes::new()))
                .unwrap();
            let resp = tx.send_request(req).await.unwrap();
            use http_body_util::BodyExt;
            let _ = resp.into_body().collect().await.unwrap().to_bytes();
            senders.push(tx);
        }
        if raw_hyper {
            let hy = rss_kib() - r0;
            println!(
                "raw hyper conn: {:.2} KiB each incl. server side => client ~{:.2} KiB",
                hy as f64 / n as f64,
                (hy as f64 - raw as f64) / n as f64
            );
            return;
        }
        drop(senders);
        let c = client();
        let base = BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap();
        let r1 = rss_kib();
        let sessions: Vec<_> = (0..n).map(|_| c.session(Some(base.clone()))).collect();
        let empty = rss_kib() - r1;
        let r2 = rss_kib();
        for s in &sessions {
            s.send(Request::get("/")).await.unwrap();
        }
        let conns = rss_kib() - r2;
        println!(
            "per session: empty {:.2} KiB; +1 idle connection {:.2} KiB (incl. server side {:.2} KiB measured with raw sockets => client ~{:.2} KiB)",
            empty as f64 / n as f64,
            conns as f64 / n as f64,
            raw as f64 / n as f64,
            (conns as f64 - raw as f64) / n as f64
        );
        drop(sessions);
        drop(raws);
    }));
}
