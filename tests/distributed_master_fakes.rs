//! The rustlocust master against protocol-level workers built from [`WorkerSocket`] on
//! 127.0.0.1: exact HDR reports from three workers merge into the percentiles one process seeing
//! every sample computes (and a worker's last report, sent with its stop, is counted); garbage,
//! oversized frames, bad payloads, unknown message types, a refused version and a second worker
//! with the same id are dropped or handled while the master keeps serving.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{csv, master_scenario, stats_row, test_run_config};
use rmpv::Value;
use rustlocust::console::ConsoleOptions;
use rustlocust::distributed::zmtp::{self, SocketType};
use rustlocust::distributed::{
    run_master_headless_on, run_master_web_on, Ack, ClientReady, ExceptionReport, Heartbeat,
    Master, MasterConfig, MasterOptions, Message, Payload, SpawningComplete, StatsReport,
    TransportOptions, WorkerSocket, WorkerState,
};
use rustlocust::run::{Load, TestRun, Tick};
use rustlocust::script::RoleKind;
use rustlocust::stats::{unix_now, Shard, Stats};
use rustlocust::web::WebOptions;
use tokio::io::AsyncWriteExt;

/// Every wait in these tests is bounded.
async fn within<T>(limit: Duration, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut).await.expect("timed out")
}

fn local_runtime() -> (tokio::runtime::Runtime, tokio::task::LocalSet) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    (rt, tokio::task::LocalSet::new())
}

const WORKERS: u64 = 3;
const REPORTS: u64 = 3;
const SAMPLES: u64 = 200;
/// Samples in the report a worker sends with its stop.
const LAST_SAMPLES: u64 = 50;

/// A deterministic latency with a long tail (0.5 ms .. 3 s), unique per (worker, batch, i).
fn latency(worker: u64, batch: u64, i: u64) -> f64 {
    let seed = (worker * 1_000_003 + batch * 10_007 + i).wrapping_mul(6_364_136_223_846_793_005);
    let x = ((seed.wrapping_add(1_442_695_040_888_963_407) >> 33) as f64) / (1u64 << 31) as f64;
    0.5 + x * x * x * 3000.0
}

fn samples(worker: u64, batch: u64, n: u64) -> Vec<f64> {
    (0..n).map(|i| latency(worker, batch, i)).collect()
}

/// One worker's interval report of `GET /rust` samples; `exact` adds the HDR histograms.
fn report(latencies: &[f64], exact: bool) -> StatsReport {
    let mut shard = Shard::new();
    let now = unix_now();
    for &ms in latencies {
        shard.record_at("GET", "/rust", ms, 100, None, now);
    }
    let mut interval = Stats::new(now);
    interval.merge(shard.take());
    StatsReport::from_stats(&interval, exact).expect("report")
}

fn send(socket: &WorkerSocket, p: Payload) {
    let msg = p.to_message(socket.identity()).expect("encodes");
    socket.send(&msg).expect("queued");
}

/// A worker on our transport: ready, heartbeats each second; on its first spawn it sends
/// `REPORTS` exact reports and an exception (with `vanish`: no exception, then silence for
/// good), on stop one more report (`LAST_SAMPLES`) then `client_stopped`, on quit it answers
/// quit. Returns the kinds it received.
async fn fake_worker(port: u16, n: u64, vanish: bool) -> Vec<String> {
    let id = format!("fakehost_{n:032x}");
    let mut socket = WorkerSocket::connect("127.0.0.1", port, &id, TransportOptions::default());
    send(&socket, Payload::ClientReady(ClientReady::AnyVersion));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut state, mut users, mut reported) = (WorkerState::Ready, BTreeMap::new(), false);
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let msg = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tick.tick() => {
                let beat = Heartbeat { state, current_cpu_usage: 1.0, current_memory_usage: 1 << 20 };
                send(&socket, Payload::Heartbeat(Some(beat)));
                continue;
            }
            m = socket.recv() => m.expect("a message"),
        };
        let payload = Payload::from_message(msg).expect("a catalogue payload");
        seen.push(payload.kind().to_owned());
        let total = |u: &BTreeMap<String, u64>| u.values().sum::<u64>();
        match payload {
            Payload::Spawn(s) => {
                send(&socket, Payload::Spawning);
                users = s.user_classes_count;
                state = WorkerState::Running;
                let complete = SpawningComplete {
                    user_classes_count: Some(users.clone()),
                    user_count: total(&users),
                };
                send(&socket, Payload::SpawningComplete(complete));
                for batch in (0..REPORTS).filter(|_| !reported) {
                    let mut r = report(&samples(n, batch, SAMPLES), true);
                    r.user_classes_count = Some(users.clone());
                    r.user_count = Some(total(&users));
                    send(&socket, Payload::Stats(Box::new(r)));
                }
                // A vanishing worker sends none, so only the loss can fail its run.
                if !reported && !vanish {
                    let e = ExceptionReport {
                        msg: format!("boom {n}"),
                        traceback: "  File \"task.rhai\", line 1\n".into(),
                    };
                    send(&socket, Payload::Exception(e));
                }
                reported = true;
                if vanish {
                    socket.close(Duration::from_secs(2)).await;
                    return seen;
                }
            }
            Payload::Stop => {
                users.values_mut().for_each(|c| *c = 0);
                let mut last = report(&samples(n, REPORTS, LAST_SAMPLES), true);
                last.user_classes_count = Some(users.clone());
                last.user_count = Some(0);
                send(&socket, Payload::Stats(Box::new(last)));
                send(&socket, Payload::ClientStopped);
                state = WorkerState::Ready;
                send(&socket, Payload::ClientReady(ClientReady::AnyVersion));
            }
            Payload::Quit => break,
            _ => {}
        }
    }
    if seen.last().is_some_and(|k| k == "quit") {
        send(&socket, Payload::Quit);
        socket.close(Duration::from_secs(2)).await;
    }
    seen
}

#[test]
fn exact_reports_merge_into_the_percentiles_of_one_process() {
    let (rt, local) = local_runtime();
    local.block_on(&rt, async {
        let master = Master::bind("127.0.0.1", 0, MasterConfig::default())
            .await
            .expect("bind");
        let workers: Vec<_> = (0..WORKERS)
            .map(|n| tokio::spawn(fake_worker(master.port(), n, false)))
            .collect();
        within(
            Duration::from_secs(20),
            master.wait_for_workers(WORKERS as usize, None),
        )
        .await
        .expect("workers connect");

        let cfg = test_run_config(6, 100.0, None, None);
        let sc = master_scenario(&cfg);
        let control = sc.control.clone();
        let mut run = TestRun::with_users(cfg, sc, master.users_factory(Duration::ZERO)).await;
        let load = Load {
            users: 6,
            spawn_rate: 100.0,
            host: None,
            run_time: None,
            user_classes: Vec::new(),
        };
        run.start(load).await.expect("start");
        let started = Instant::now();
        let mut complete = None;
        while complete.is_none() && started.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(Tick::SpawningComplete(n)) = run.tick().await {
                complete = Some(n);
            }
        }
        assert_eq!(complete, Some(6));
        let role = control.role();
        assert_eq!((role.kind, role.worker_count), (RoleKind::Master, 3));
        let per_worker: Vec<u64> = master.workers().iter().map(|w| w.user_count).collect();
        assert_eq!(per_worker, vec![2, 2, 2]);
        let reported = WORKERS * REPORTS * SAMPLES;
        let arrived = async {
            while run.stats.lock().total().num_requests() < reported {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        within(Duration::from_secs(20), arrived).await;
        // Stop waits for each worker's client_stopped and the report sent with it.
        within(Duration::from_secs(20), run.stop(std::future::pending())).await;
        master.quit().await;
        for w in workers {
            let seen = within(Duration::from_secs(10), w)
                .await
                .expect("worker task");
            for kind in ["ack", "spawn", "spawning_complete", "stop", "quit"] {
                assert!(seen.iter().any(|k| k == kind), "no {kind} in {seen:?}");
            }
        }

        let all: Vec<f64> = (0..WORKERS)
            .flat_map(|w| {
                (0..REPORTS)
                    .flat_map(move |b| samples(w, b, SAMPLES))
                    .chain(samples(w, REPORTS, LAST_SAMPLES))
            })
            .collect();
        let one_process = report(&all, true);
        let mut single = Stats::new(unix_now());
        rustlocust::distributed::merge_report(&mut single, &one_process);
        let mut shard = Shard::new();
        for &ms in &all {
            shard.record_at("GET", "/rust", ms, 100, None, unix_now());
        }
        let mut direct = Stats::new(unix_now());
        direct.merge(shard.take());

        let merged = run.stats.lock();
        let entry = merged.entry("GET", "/rust").expect("merged row");
        assert_eq!(
            entry.num_requests(),
            all.len() as u64,
            "the last reports count too"
        );
        assert!(!entry.is_approximate(), "rustlocust rows are exact");
        let exceptions: Vec<(String, u64, String)> = merged
            .exceptions()
            .map(|e| (e.msg.clone(), e.count, e.nodes.clone()))
            .collect();
        assert_eq!(exceptions.len(), WORKERS as usize, "{exceptions:?}");
        assert!(
            exceptions.iter().all(|(msg, count, node)| *count == 1
                && node.starts_with("fakehost_")
                && msg.starts_with("boom")),
            "exceptions keep their worker as node: {exceptions:?}"
        );
        let want = direct.entry("GET", "/rust").expect("row");
        for q in [0.5, 0.9, 0.99, 0.999] {
            assert_eq!(entry.percentile(q), want.percentile(q), "p{q}");
        }
        assert_eq!(merged.total().percentile(0.99), want.percentile(0.99));
        // The HDR answer is within its 3 significant digits of the exact nearest-rank p99...
        let mut sorted = all.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = sorted[((sorted.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)];
        let p99 = entry.percentile(0.99);
        assert!(
            (p99 - rank).abs() <= rank * 0.01 + 1.0,
            "p99 {p99} vs samples' {rank}"
        );
        // ...while Locust's 2-digit buckets would not give the same figure.
        let mut buckets = Stats::new(unix_now());
        rustlocust::distributed::merge_report(&mut buckets, &report(&all, false));
        let approx = buckets.entry("GET", "/rust").map(|e| e.percentile(0.99));
        assert_ne!(approx, Some(p99), "the test must tell exact from bucketed");
    });
}

/// Reads messages until one of `kind` arrives.
async fn expect_kind(socket: &mut WorkerSocket, kind: &str) -> Message {
    for _ in 0..100 {
        let msg = socket.recv().await.expect("a message");
        if msg.kind == kind {
            return msg;
        }
    }
    panic!("no {kind}");
}

fn ack_index(msg: Message) -> Option<i64> {
    match Payload::from_message(msg) {
        Ok(Payload::Ack(Ack { index })) => index,
        other => panic!("not an ack: {other:?}"),
    }
}

#[test]
fn garbage_is_dropped_and_the_master_keeps_serving() {
    let (rt, local) = local_runtime();
    local.block_on(&rt, async {
        let limit = Duration::from_secs(10);
        let transport = TransportOptions {
            max_frame_bytes: 64 * 1024,
            ..TransportOptions::default()
        };
        let master = Master::bind(
            "127.0.0.1",
            0,
            MasterConfig {
                transport: transport.clone(),
                enable_rebalancing: false,
                secret: None,
            },
        )
        .await
        .expect("bind");
        let mut customs = master.take_custom_messages().expect("the queue");
        let port = master.port();
        let mut a = WorkerSocket::connect("127.0.0.1", port, "hosta_1", transport.clone());
        send(
            &a,
            Payload::ClientReady(ClientReady::Version("2.47.0".into())),
        );
        assert_eq!(
            ack_index(within(limit, expect_kind(&mut a, "ack")).await),
            Some(0)
        );

        // Not msgpack, truncated msgpack, a wrong shape: from a raw ZeroMQ peer.
        let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        within(
            limit,
            zmtp::handshake(&mut raw, SocketType::Dealer, b"hostraw_1"),
        )
        .await
        .expect("handshake");
        for garbage in [
            &b"\xc1\xc1\xc1"[..],
            b"\x93\xa1x",
            b"\x92\x01\x02",
            &[0xdd; 40],
        ] {
            let mut bytes = Vec::new();
            zmtp::encode_message(&[garbage], &mut bytes);
            raw.write_all(&bytes).await.expect("write");
        }
        // From the registered worker: oversized, a bad payload, a master-only type, a custom one.
        let big = Message::new("logs", Value::Binary(vec![7; 1 << 20]), "hosta_1");
        a.send(&big).expect("queued");
        a.send(&Message::new(
            "spawning_complete",
            Value::from(1),
            "hosta_1",
        ))
        .expect("queued");
        a.send(&Message::new("ack", Value::Nil, "hosta_1"))
            .expect("queued");
        let custom = Value::Map(vec![(Value::from("rows"), Value::from(3))]);
        a.send(&Message::new("my_custom", custom.clone(), "hosta_1"))
            .expect("queued");
        // A pre-2.0 worker (falsy version) is refused: no ack, not registered.
        let mut old = WorkerSocket::connect("127.0.0.1", port, "hostold_1", transport.clone());
        old.send(&Message::new("client_ready", Value::Nil, "hostold_1"))
            .expect("queued");

        // The master still answers heartbeats and hands the custom message on.
        let beat = Heartbeat {
            state: WorkerState::Ready,
            current_cpu_usage: 1.0,
            current_memory_usage: 1,
        };
        send(&a, Payload::Heartbeat(Some(beat)));
        within(limit, expect_kind(&mut a, "heartbeat")).await;
        let got = within(limit, customs.recv())
            .await
            .expect("a custom message");
        assert_eq!(
            (got.worker_id.as_str(), got.kind.as_str(), &got.data),
            ("hosta_1", "my_custom", &custom)
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(300), old.recv())
                .await
                .is_err(),
            "a falsy version gets no ack"
        );

        // A new worker joins with the next index; the same id again keeps its index.
        let mut b = WorkerSocket::connect("127.0.0.1", port, "hostb_1", transport.clone());
        send(&b, Payload::ClientReady(ClientReady::AnyVersion));
        assert_eq!(
            ack_index(within(limit, expect_kind(&mut b, "ack")).await),
            Some(1)
        );
        let mut a2 = WorkerSocket::connect("127.0.0.1", port, "hosta_1", transport);
        send(&a2, Payload::ClientReady(ClientReady::AnyVersion));
        assert_eq!(
            ack_index(within(limit, expect_kind(&mut a2, "ack")).await),
            Some(0)
        );
        let ids: Vec<(String, usize)> = master
            .workers()
            .into_iter()
            .map(|w| (w.id, w.index))
            .collect();
        assert_eq!(ids, vec![("hosta_1".into(), 0), ("hostb_1".into(), 1)]);
        master.quit().await;
    });
}

#[test]
fn a_headless_master_that_loses_every_worker_writes_its_reports_and_fails() {
    let (rt, local) = local_runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("m");
    let cfg = test_run_config(
        2,
        100.0,
        Some(Duration::from_secs(60)),
        Some(prefix.clone()),
    );
    let started = Instant::now();
    let code = local.block_on(&rt, async {
        let master = Master::bind("127.0.0.1", 0, MasterConfig::default())
            .await
            .expect("bind");
        let worker = tokio::spawn(fake_worker(master.port(), 0, true));
        let opts = MasterOptions {
            expect_workers: 1,
            expect_workers_max_wait: Some(Duration::from_secs(20)),
            ..MasterOptions::default()
        };
        let sc = master_scenario(&cfg);
        let run = run_master_headless_on(master, sc, cfg, opts, ConsoleOptions::default());
        let code = within(Duration::from_secs(40), run)
            .await
            .expect("the master runs");
        let _ = within(Duration::from_secs(5), worker).await;
        code
    });
    assert_eq!(code, 1, "losing every worker is a failure");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the test stopped early"
    );
    let rows = csv(&prefix, "stats");
    let row = stats_row(&rows, "GET", "/rust").unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(row["Request Count"], (REPORTS * SAMPLES).to_string());
}

#[test]
fn too_few_workers_within_the_max_wait_is_an_error() {
    let (rt, local) = local_runtime();
    let cfg = test_run_config(2, 100.0, Some(Duration::from_secs(5)), None);
    let result = local.block_on(&rt, async {
        let master = Master::bind("127.0.0.1", 0, MasterConfig::default())
            .await
            .expect("bind");
        let opts = MasterOptions {
            expect_workers: 2,
            expect_workers_max_wait: Some(Duration::from_millis(500)),
            ..MasterOptions::default()
        };
        let sc = master_scenario(&cfg);
        let run = run_master_headless_on(master, sc, cfg, opts, ConsoleOptions::default());
        within(Duration::from_secs(10), run).await
    });
    let err = result.expect_err("not enough workers");
    assert!(err.to_string().contains("0 of 2 connected"), "{err}");
}

/// GET `path` from 127.0.0.1:`port` as JSON (None until the server answers with JSON).
fn get_json(port: u16, path: &str) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
}

#[test]
fn the_web_api_of_a_master_lists_its_workers() {
    let web_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let thread = std::thread::spawn(move || {
        let (rt, local) = local_runtime();
        local.block_on(&rt, async move {
            let master = Master::bind("127.0.0.1", 0, MasterConfig::default())
                .await
                .expect("bind");
            for n in 0..2 {
                tokio::spawn(fake_worker(master.port(), n, false));
            }
            let cfg = test_run_config(4, 100.0, Some(Duration::from_secs(4)), None);
            let opts = MasterOptions {
                expect_workers: 2,
                expect_workers_max_wait: Some(Duration::from_secs(20)),
                ..MasterOptions::default()
            };
            let web = WebOptions {
                bind: std::net::SocketAddr::from(([127, 0, 0, 1], web_port)),
                autostart: true,
                autoquit: Some(Duration::from_secs(1)),
                ..WebOptions::default()
            };
            let sc = master_scenario(&cfg);
            run_master_web_on(master, sc, cfg, opts, web).await
        })
    });
    let mut last = None;
    let listed = common::wait_until(Duration::from_secs(30), || {
        last = get_json(web_port, "/stats/requests");
        let workers = last.as_ref().and_then(|v| v["workers"].as_array().cloned());
        workers.is_some_and(|ws| {
            ws.len() == 2
                && ws.iter().all(|w| {
                    w["user_count"] == 2
                        && w["state"] == "running"
                        && w["id"]
                            .as_str()
                            .is_some_and(|id| id.starts_with("fakehost_"))
                        && w["cpu_usage"] == 1.0
                        && w["memory_usage"] == 1 << 20
                        && w["last_heartbeat"].as_f64().is_some_and(|t| t > 0.0)
                })
        }) && last.as_ref().is_some_and(|v| v["worker_count"] == 2)
    });
    assert!(listed, "/stats/requests: {last:?}");
    assert_eq!(
        get_json(web_port, "/worker-count"),
        Some(serde_json::json!({"worker_count": 2}))
    );
    assert!(
        common::wait_until(Duration::from_secs(30), || thread.is_finished()),
        "the web master did not quit after --autoquit"
    );
    let code = thread
        .join()
        .expect("master thread")
        .expect("the master runs");
    assert_eq!(
        code, 1,
        "the workers' exceptions fail the run, as local ones do"
    );
}
