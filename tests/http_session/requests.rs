//! What the client sends and what it gives back: methods, headers, URLs against the base URL,
//! bodies (large, chunked), each session's cookies, and redirects as python-requests follows them;
//! the same on both engines.

use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use http::Method;
use rustlocust::http::{
    path_url, BaseUrl, Client, EngineKind, HttpConfig, HttpError, Request, USER_AGENT,
};
use tokio::io::AsyncWriteExt;

use super::support::*;

on_both_engines!(
    basic_auth_per_request,
    get_and_post_with_body_and_headers,
    relative_absolute_and_prefixed_urls,
    cookies_per_session,
    redirects,
    large_and_chunked_bodies,
    cross_origin_redirect
);

async fn get_and_post_with_body_and_headers(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        let base = base(addr);
        let s = client_on(engine).session(Some(base));

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

async fn relative_absolute_and_prefixed_urls(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        let c = client_on(engine);
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

async fn cookies_per_session(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        let base = base(addr);
        let c = client_on(engine);
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

async fn redirects(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        let base = base(addr);
        let s = client_on(engine).session(Some(base.clone()));

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
            engine,
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

async fn large_and_chunked_bodies(engine: EngineKind) {
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
        let s = session_on(engine, addr);
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
        let s = session_on(engine, addr);
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

async fn cross_origin_redirect(engine: EngineKind) {
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
        let s = client_on(engine).session(Some(base));
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
        if engine == EngineKind::Hyper {
            assert_eq!(s.idle_connections(), 2);
        }
        s.send(Request::get("/away")).await.unwrap();
        assert_eq!(other_accepted.load(Ordering::SeqCst), 1);
    })
    .await
}

async fn basic_auth_per_request(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        let base = BaseUrl::parse(&format!("http://u:pw@127.0.0.1:{}", addr.port())).unwrap();
        let s = client_on(engine).session(Some(base));
        // the request's credentials replace the URL's, and survive a same-origin redirect
        let r = s
            .send(Request::get("/r303").basic_auth("user", "p@ss"))
            .await
            .unwrap();
        assert_eq!(lines(&r)["auth"], "Basic dXNlcjpwQHNz");
        let r = s.send(Request::get("/echo")).await.unwrap();
        assert_eq!(lines(&r)["auth"], "Basic dTpwdw==");
        // an explicit Authorization header wins
        let r = s
            .send(
                Request::get("/echo")
                    .basic_auth("a", "b")
                    .header("Authorization", "Bearer t"),
            )
            .await
            .unwrap();
        assert_eq!(lines(&r)["auth"], "Bearer t");
    })
    .await
}
