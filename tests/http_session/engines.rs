//! The engine choice and what only the reqwest engine does: HTTP/2 over TLS by ALPN against an
//! h2-only server, h2c by prior knowledge, TLS errors read as on the fast path, and the choices
//! that are refused; `resolve` (curl's `--resolve`) on both engines.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rustlocust::http::{BaseUrl, Client, EngineKind, Http2, HttpConfig, HttpError, Request};
use tokio::net::TcpListener;

use super::support::*;

on_both_engines!(resolve_reaches_a_named_host);

/// Answers `<version> <path>`; refuses (500) anything but HTTP/2. Counts requests.
async fn h2_service(
    req: http::Request<hyper::body::Incoming>,
    count: Arc<AtomicUsize>,
) -> Result<http::Response<http_body_util::Full<Bytes>>, Infallible> {
    count.fetch_add(1, Ordering::SeqCst);
    let v = req.version();
    let mut resp = http::Response::new(http_body_util::Full::new(Bytes::from(format!(
        "{v:?} {}",
        req.uri().path()
    ))));
    if v != http::Version::HTTP_2 {
        *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    }
    Ok(resp)
}

/// An h2-only server: over TLS (ALPN offers only h2) or, `tls: false`, h2c.
async fn h2_server(tls: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let cfg = tls_server_config(&[b"h2"]);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| h2_service(req, counter.clone()));
                let builder =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
                if tls {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                } else {
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                        .await;
                }
            });
        }
    });
    (addr, count)
}

#[tokio::test(flavor = "current_thread")]
async fn http2_over_tls_by_alpn() {
    local(async {
        let (addr, count) = h2_server(true).await;
        let base = BaseUrl::parse(&format!("https://127.0.0.1:{}", addr.port())).unwrap();
        let c = Client::new(&HttpConfig {
            insecure: true,
            ..HttpConfig::default()
        })
        .unwrap();
        let s = c.session(Some(base.clone()));
        // `auto` picks reqwest for an http2 request
        for i in 0..3 {
            let r = s
                .send(Request::get(format!("/h2/{i}")).http2(Http2::Alpn))
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.version, http::Version::HTTP_2);
            assert_eq!(r.text(), format!("HTTP/2.0 /h2/{i}"));
        }
        assert_eq!(count.load(Ordering::SeqCst), 3);

        // without http2 the h2-only server cannot be spoken to: ALPN fails, on either engine
        for engine in [EngineKind::Hyper, EngineKind::Reqwest] {
            let e = s
                .send(Request::get("/h1").engine(engine))
                .await
                .unwrap_err();
            assert!(matches!(e, HttpError::Connection(_)), "{engine}: {e:?}");
        }
        assert_eq!(count.load(Ordering::SeqCst), 3);

        // the certificate is checked as on the fast path, with the same text
        let strict = client().session(Some(base));
        let e = strict
            .send(Request::get("/").http2(Http2::Alpn))
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("ConnectionError('invalid peer certificate")
                && text.contains("UnknownIssuer"),
            "{text}"
        );
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn h2c_by_prior_knowledge() {
    local(async {
        let (addr, count) = h2_server(false).await;
        let s = session_to(addr);
        let r = s
            .send(Request::get("/c").http2(Http2::PriorKnowledge))
            .await
            .unwrap();
        assert_eq!((r.status, r.version), (200, http::Version::HTTP_2));
        assert_eq!(r.text(), "HTTP/2.0 /c");
        // Alpn over plain TCP is HTTP/1.1, which this server does not speak
        let e = s
            .send(Request::get("/c").http2(Http2::Alpn))
            .await
            .unwrap_err();
        assert!(!e.is_request_error(), "{e}");
        assert_eq!(count.load(Ordering::SeqCst), 1);
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn engine_choice() {
    local(async {
        let (addr, _) = serve(app()).await;
        let s = session_to(addr);
        // the fast path cannot do http2: a clear error, nothing sent
        let e = s
            .send(
                Request::get("/hello")
                    .engine(EngineKind::Hyper)
                    .http2(Http2::Alpn),
            )
            .await
            .unwrap_err();
        assert!(e.is_request_error());
        assert_eq!(
            e.to_string(),
            "http2 needs the reqwest engine, but the hyper engine was chosen"
        );
        // both engines, one session: the cookie jar is the session's
        s.send(Request::get("/set").engine(EngineKind::Reqwest))
            .await
            .unwrap();
        let r = s.send(Request::get("/echo")).await.unwrap();
        assert_eq!(lines(&r)["cookie"], "sid=abc");
        let r = s
            .send(Request::get("/echo").engine(EngineKind::Reqwest))
            .await
            .unwrap();
        assert_eq!(r.version, http::Version::HTTP_11);
        assert_eq!(lines(&r)["cookie"], "sid=abc");
        assert_eq!(
            "h3".parse::<EngineKind>().unwrap_err(),
            "unknown HTTP engine 'h3' (expected hyper, reqwest or auto)"
        );
    })
    .await
}

async fn resolve_reaches_a_named_host(engine: EngineKind) {
    local(async {
        let (addr, accepted) = serve(app()).await;
        let port = addr.port();
        let c = Client::new(&HttpConfig {
            engine,
            resolve: vec![format!("API.rustlocust.test:{port}:[127.0.0.1]")],
            ..HttpConfig::default()
        })
        .unwrap();
        let s = c.session(None);
        for _ in 0..2 {
            let r = s
                .send(Request::get(format!(
                    "http://api.rustlocust.test:{port}/echo"
                )))
                .await
                .unwrap();
            assert_eq!(lines(&r)["host"], format!("api.rustlocust.test:{port}"));
        }
        assert!(accepted.load(Ordering::SeqCst) >= 1);

        for (entry, why) in [
            ("api.test:80", "three parts are needed"),
            (":80:127.0.0.1", "no host"),
            ("api.test:http:127.0.0.1", "the port is not a number"),
            ("api.test:80:localhost", "the address is not an IP address"),
        ] {
            let e = Client::new(&HttpConfig {
                resolve: vec![entry.to_string()],
                ..HttpConfig::default()
            })
            .err()
            .unwrap()
            .to_string();
            assert!(
                e.starts_with(&format!("invalid resolve entry '{entry}': {why}")),
                "{e}"
            );
        }
    })
    .await
}
