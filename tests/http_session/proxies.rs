//! A request's own `proxy`: plain HTTP forwarded in absolute form, HTTPS through a CONNECT
//! tunnel, SOCKS5; `""` going direct; and the refusals (a malformed URL, a proxy on the fast
//! path). The environment's proxies (and `NO_PROXY`) are tested through the binary
//! (tests/http_engines.rs), where the variables belong to one process.

use rustlocust::http::{BaseUrl, Client, EngineKind, HttpConfig, HttpError, Request};

use super::connections::tls_server;
use super::proxy::TestProxy;
use super::support::*;

#[tokio::test(flavor = "current_thread")]
async fn requests_go_through_their_proxy() {
    local(async {
        let proxy = TestProxy::start();
        let (addr, accepted) = serve(app()).await;
        let s = session_to(addr);
        let port = addr.port();

        // plain HTTP: forwarded in absolute form; cookies and redirects are still the session's
        s.send(Request::get("/set").proxy(proxy.url()))
            .await
            .unwrap();
        let r = s
            .send(Request::post("/r303", "x").proxy(proxy.url()))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        let m = lines(&r);
        assert_eq!(
            (m["method"].as_str(), m["cookie"].as_str()),
            ("GET", "sid=abc")
        );
        assert_eq!(proxy.seen(), [format!("GET http://127.0.0.1:{port}/set")]);

        // SOCKS5
        let socks = format!("socks5://{}", proxy.addr);
        let r = s.send(Request::get("/hello").proxy(socks)).await.unwrap();
        assert_eq!(&r.body[..], b"hi");
        assert_eq!(proxy.seen()[1], format!("SOCKS5 127.0.0.1:{port}"));

        // "": direct, whatever the environment says
        let before = accepted.load(std::sync::atomic::Ordering::SeqCst);
        let r = s.send(Request::get("/hello").proxy("")).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(proxy.seen().len(), 2);
        assert_eq!(
            accepted.load(std::sync::atomic::Ordering::SeqCst),
            before + 1,
            "a direct connection of the fast path"
        );

        // HTTPS: a CONNECT tunnel, TLS end to end
        let tls = tls_server().await;
        let c = Client::new(&HttpConfig {
            insecure: true,
            ..HttpConfig::default()
        })
        .unwrap();
        let base = BaseUrl::parse(&format!("https://127.0.0.1:{}", tls.port())).unwrap();
        let r = c
            .session(Some(base))
            .send(Request::get("/t").proxy(proxy.url()))
            .await
            .unwrap();
        assert_eq!(r.text(), "secure /t");
        assert_eq!(proxy.seen()[2], format!("CONNECT 127.0.0.1:{}", tls.port()));
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn bad_proxies_are_refused() {
    local(async {
        let (addr, accepted) = serve(app()).await;
        let s = session_to(addr);
        for (url, want) in [
            ("proxy:3128", "unsupported scheme 'proxy'"),
            ("http//p", "relative URL without a base"),
            ("ftp://p", "unsupported scheme 'ftp'"),
        ] {
            let e = s.send(Request::get("/hello").proxy(url)).await.unwrap_err();
            assert!(e.is_request_error(), "{url}: {e}");
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("invalid proxy URL '{url}': {want}")),
                "{text}"
            );
        }
        let e = s
            .send(
                Request::get("/hello")
                    .proxy("http://127.0.0.1:1")
                    .engine(EngineKind::Hyper),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, HttpError::Config(_)));
        assert_eq!(
            e.to_string(),
            "a proxy needs the reqwest engine, but the hyper engine was chosen"
        );
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);

        // a proxy that refuses connections: the request fails as a connection error
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let e = s
            .send(Request::get("/hello").proxy(dead))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "ConnectionRefusedError(111, 'Connection refused')"
        );
    })
    .await
}
