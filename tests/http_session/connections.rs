//! How the client holds connections and reports failures: one kept-alive connection per session
//! and origin (more only for concurrent requests), stale ones retried, Locust's texts for refused,
//! reset, closed and truncated connections and for timeouts, and TLS.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rustlocust::http::{BaseUrl, Client, EngineKind, HttpConfig, HttpError, Request, Session};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::support::*;

// Failures read the same whatever the engine.
on_both_engines!(
    read_timeout,
    connection_refused,
    connection_reset,
    remote_disconnected_on_fresh_connection,
    truncated_body
);

#[tokio::test(flavor = "current_thread")]
async fn keep_alive_reuses_one_connection() {
    local(async {
        let (addr, accepted) = serve(app()).await;
        let s = session_to(addr);
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
        let s = session_to(addr);
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

async fn read_timeout(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        let s = session_on(engine, addr);
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
        let c = Client::new(&HttpConfig { default_timeout: Duration::from_millis(100), engine, ..HttpConfig::default() }).unwrap();
        let s = c.session(s.base().cloned());
        assert!(s.send(Request::get("/slow")).await.unwrap_err().is_timeout());
        assert_eq!(s.send(Request::get("/hello")).await.unwrap().status, 200);
    })
    .await
}

/// A listener that never accepts, with its backlog filled (the fillers must live): further SYNs
/// are dropped, so connecting to it hangs.
async fn full_backlog() -> (TcpListener, Vec<TcpStream>) {
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
    (listener, fillers)
}

#[tokio::test(flavor = "current_thread")]
async fn connect_timeout_on_full_backlog() {
    local(async {
        let (listener, _fillers) = full_backlog().await;
        let addr = listener.local_addr().unwrap();
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

/// python-requests' `timeout=(connect, read)` on the fast path: each bound reported as itself.
#[tokio::test(flavor = "current_thread")]
async fn connect_and_read_timeouts_apart() {
    local(async {
        let (listener, _fillers) = full_backlog().await;
        let full = listener.local_addr().unwrap();
        let s = client().session(None);
        let t = Instant::now();
        let e = s
            .send(
                Request::get(format!("http://127.0.0.1:{}/", full.port()))
                    .timeouts(Duration::from_millis(300), Duration::from_secs(20)),
            )
            .await
            .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert!(
            e.to_string()
                .ends_with("Connect timed out. (connect timeout=0.3)\")"),
            "{e}"
        );

        // connecting fast, the read bound starts after it
        let (addr, _) = serve(app()).await;
        let s = session_to(addr);
        let e = s
            .send(
                Request::get("/never")
                    .timeouts(Duration::from_secs(20), Duration::from_millis(200)),
            )
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .ends_with("Read timed out. (read timeout=0.2)\")"),
            "{e}"
        );
        let r = s
            .send(
                Request::get("/slow").timeouts(Duration::from_millis(200), Duration::from_secs(5)),
            )
            .await
            .unwrap();
        assert_eq!(
            r.status, 200,
            "the connect bound does not cut a slow answer"
        );
        drop(listener);
    })
    .await
}

async fn connection_refused(engine: EngineKind) {
    local(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let s = client_on(engine).session(Some(
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

async fn connection_reset(engine: EngineKind) {
    local(async {
        let (addr, accepted) = raw_server(|mut s| async move {
            read_head(&mut s).await;
            s.set_zero_linger().unwrap();
            drop(s);
        })
        .await;
        let s = session_on(engine, addr);
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

async fn remote_disconnected_on_fresh_connection(engine: EngineKind) {
    local(async {
        let (addr, accepted) = raw_server(|mut s| async move {
            read_head(&mut s).await;
            drop(s);
        })
        .await;
        let s = session_on(engine, addr);
        let e = s.send(Request::get("/")).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "RemoteDisconnected('Remote end closed connection without response')"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    })
    .await
}

async fn truncated_body(engine: EngineKind) {
    local(async {
        let (addr, _) = raw_server(|mut s| async move {
            read_head(&mut s).await;
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
                .await
                .unwrap();
            drop(s);
        })
        .await;
        let s = session_on(engine, addr);
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
        let s = session_to(addr);
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
        let s = session_to(addr);
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
        let s = session_to(addr);
        for _ in 0..3 {
            assert_eq!(s.send(Request::get("/")).await.unwrap().status, 200);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        assert_eq!(s.idle_connections(), 0);
    })
    .await
}

/// An HTTP/1.1 TLS server with a self-signed certificate answering `secure <path>`.
pub async fn tls_server() -> SocketAddr {
    tls_http1_server(tls_server_config(&[]), |uri| format!("secure {uri}")).await
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
