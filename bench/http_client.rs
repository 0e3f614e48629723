//! Measurements of the HTTP client (`rustlocust::http`): CPU per request and memory per idle
//! session, each beside raw hyper doing the same, against a minimal keep-alive server on another
//! thread. Run with the bench profile (optimised like a release):
//!
//!   cargo bench --bench http_client -- cpu
//!   cargo bench --bench http_client -- memory
//!   cargo bench --bench http_client -- memory-raw-hyper
//!
//! One measurement per process: RSS depends on what was allocated and freed before.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustlocust::http::{BaseUrl, Client, HttpConfig, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;

const USAGE: &str = "usage: cargo bench --bench http_client -- cpu|memory|memory-raw-hyper";

fn main() {
    // `cargo bench` adds `--bench`; the measurement is the one other argument.
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match which.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["cpu"] => cpu_per_request(),
        ["memory"] => memory_per_idle_session(false),
        ["memory-raw-hyper"] => memory_per_idle_session(true),
        // Nothing asked (as when `cargo test --benches` runs it): say how, and pass.
        [] => eprintln!("{USAGE}"),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Resident memory of this process.
fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Prints CPU and wall time per request of `n` requests since (`c0`, `t0`).
fn per_request(label: &str, n: u32, c0: Duration, t0: Instant) {
    let (cpu, wall) = (thread_cpu() - c0, t0.elapsed());
    println!(
        "{label}: {:.2} us CPU/req, {:.2} us wall/req",
        cpu.as_secs_f64() * 1e6 / f64::from(n),
        wall.as_secs_f64() * 1e6 / f64::from(n)
    );
}

type RawHyper = hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>;

/// A hyper HTTP/1 connection without the session layer, set up as the client sets up its own
/// (TCP_NODELAY, 8 KiB buffer): the baseline.
async fn raw_hyper_connection(addr: SocketAddr) -> RawHyper {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (tx, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(8192)
        .handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::task::spawn_local(conn);
    tx
}

/// One GET on a raw hyper connection, its body read whole.
async fn raw_hyper_get(tx: &mut RawHyper, uri: &str) {
    use http_body_util::BodyExt;
    tx.ready().await.unwrap();
    let req = http::Request::builder()
        .uri(uri)
        .header("host", "127.0.0.1")
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let resp = tx.send_request(req).await.unwrap();
    let _ = resp.into_body().collect().await.unwrap().to_bytes();
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

/// CPU per request on one thread: raw hyper, a session, a session with a cookie and a header.
fn cpu_per_request() {
    let addr = bench_server();
    let rt = runtime();
    let n = 50_000u32;
    rt.block_on(LocalSet::new().run_until(async move {
        // raw hyper baseline: one SendRequest, prebuilt-ish requests
        let mut tx = raw_hyper_connection(addr).await;
        for round in 0..2 {
            let (c0, t0) = (thread_cpu(), Instant::now());
            for _ in 0..n {
                raw_hyper_get(&mut tx, "/x?a=1").await;
            }
            per_request(&format!("raw hyper   round {round}"), n, c0, t0);
        }
        let base = BaseUrl::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap();
        let c = Client::new(&HttpConfig::default()).unwrap();
        let s = c.session(Some(base));
        for round in 0..2 {
            let (c0, t0) = (thread_cpu(), Instant::now());
            for _ in 0..n {
                let r = s.send(Request::get("/x?a=1")).await.unwrap();
                assert_eq!(r.status, 200);
            }
            per_request(&format!("Session GET round {round}"), n, c0, t0);
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
        per_request("Session GET + 1 cookie + 1 header", n, c0, t0);
    }));
}

/// Memory per idle session, with and without its kept-alive connection, against raw sockets (or
/// raw hyper connections with `raw_hyper`) for the share of the server side.
fn memory_per_idle_session(raw_hyper: bool) {
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
    let rt = runtime();
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
        let r0 = rss_kib();
        let n_hyper = if raw_hyper { n } else { 0 };
        let mut senders = Vec::new();
        for _ in 0..n_hyper {
            let mut tx = raw_hyper_connection(addr).await;
            raw_hyper_get(&mut tx, "/").await;
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
        let c = Client::new(&HttpConfig::default()).unwrap();
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
