//! Distributed mode against the real Locust 2.47, both ways round, on 127.0.0.1:
//! a rustlocust worker (our DEALER + protocol) joins a headless `locust --master`, whose CSV must
//! show our requests; and a rustlocust master (our ROUTER) drives a `locust --worker`, whose
//! reports must merge into our [`Stats`]. Skips when `locust` is missing, unless
//! RUSTLOCUST_REQUIRE_LOCUST is set (CI), where a missing Locust fails the test.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{locust_stub_dir, log_text, LocustProc};
use rmpv::Value;
use rustlocust::distributed::{
    merge_report, new_node_id, Ack, ClientReady, Heartbeat, MasterSocket, Payload, Spawn,
    SpawningComplete, StatsReport, TransportOptions, WorkerSocket, WorkerState,
};
use rustlocust::stats::{unix_now, Shard, Stats};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

const MASTER_STUB: &str = "\
from locust import User, task, constant

class MyUser(User):
    wait_time = constant(1)

    @task
    def nothing(self):
        pass
";

const WORKER_STUB: &str = "\
from locust import User, task, constant

class MyUser(User):
    wait_time = constant(0.1)

    @task
    def fake_request(self):
        self.environment.events.request.fire(
            request_type=\"GET\", name=\"/py\", response_time=12.5, response_length=10,
            exception=None, context={},
        )
";

/// Samples per synthetic report, reports sent, and failures among all samples.
const SAMPLES: u64 = 50;
const REPORTS: u64 = 2;
const FAILURES: u64 = 5;

/// One interval's report of synthetic `GET /rust` samples, as a worker running `users` sends it.
fn synthetic_report(batch: u64, users: &BTreeMap<String, u64>) -> StatsReport {
    let mut shard = Shard::new();
    let now = unix_now();
    for i in 0..SAMPLES {
        let n = batch * SAMPLES + i;
        let error = (n < FAILURES).then_some("HTTPError('500')");
        shard.record_at("GET", "/rust", 1.0 + (n % 40) as f64 * 2.5, 100, error, now);
    }
    let mut interval = Stats::new(now);
    interval.merge(shard.take());
    // `exact`: a Locust master must ignore rustlocust's extra key.
    let mut report = StatsReport::from_stats(&interval, true).expect("report");
    report.user_classes_count = Some(users.clone());
    report.user_count = Some(users.values().sum());
    report
}

/// A minimal worker on our transport: ready → ack → heartbeats → spawn → reports → quit.
/// Returns the kinds of message it received, in order.
async fn rust_worker(port: u16) -> Vec<String> {
    let node_id = new_node_id();
    let mut socket =
        WorkerSocket::connect("127.0.0.1", port, &node_id, TransportOptions::default());
    let send = |socket: &WorkerSocket, p: Payload| {
        let msg = p.to_message(&node_id).expect("encodes");
        socket.send(&msg).expect("queued");
    };
    send(&socket, Payload::ClientReady(ClientReady::AnyVersion));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut state, mut users, mut reports) = (WorkerState::Ready, BTreeMap::new(), 0);
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let next = tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tick.tick() => None,
            m = socket.recv() => Some(m),
        };
        let Some(msg) = next else {
            // Locust's cadence, compressed: a heartbeat and (once running) a report each second.
            let beat = Heartbeat {
                state,
                current_cpu_usage: 1.0,
                current_memory_usage: 50 << 20,
            };
            send(&socket, Payload::Heartbeat(Some(beat)));
            if state == WorkerState::Running && reports < REPORTS {
                send(
                    &socket,
                    Payload::Stats(Box::new(synthetic_report(reports, &users))),
                );
                reports += 1;
            }
            continue;
        };
        let payload = Payload::from_message(msg.expect("a message")).expect("a catalogue payload");
        seen.push(payload.kind().to_owned());
        match payload {
            Payload::Spawn(spawn) => {
                send(&socket, Payload::Spawning);
                users = spawn.user_classes_count;
                state = WorkerState::Running;
                let complete = SpawningComplete {
                    user_classes_count: Some(users.clone()),
                    user_count: users.values().sum(),
                };
                send(&socket, Payload::SpawningComplete(complete));
            }
            Payload::Quit => {
                send(&socket, Payload::Quit);
                socket.close(Duration::from_secs(2)).await;
                return seen;
            }
            _ => {}
        }
    }
    seen
}

fn csv_row(csv: &str, method: &str, name: &str) -> Vec<String> {
    csv.lines()
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols.len() > 3 && cols[0] == method && cols[1] == name)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rustlocust_worker_reports_to_a_locust_master() {
    let Some(dir) = locust_stub_dir(
        "a_rustlocust_worker_reports_to_a_locust_master",
        MASTER_STUB,
    ) else {
        return;
    };
    let port = free_port().to_string();
    let csv = dir.path().join("m");
    let csv = csv.to_str().expect("utf-8 path");
    let mut master = LocustProc::spawn(
        &[
            "-f",
            "stub.py",
            "--master",
            "--headless",
            "--expect-workers",
            "1",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "6s",
            "--csv",
            csv,
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            &port,
        ],
        dir.path(),
        "master.log",
    );
    let seen = rust_worker(port.parse().unwrap_or_default()).await;
    let status = master.wait_exit(Duration::from_secs(30));
    let log = log_text(dir.path(), "master.log");
    assert!(status.is_some(), "the master did not exit; its log:\n{log}");
    assert!(!log.contains("Traceback"), "the master raised:\n{log}");
    for kind in ["ack", "spawn", "quit"] {
        assert!(
            seen.iter().any(|k| k == kind),
            "no {kind} in {seen:?}; master log:\n{log}"
        );
    }
    let stats = std::fs::read_to_string(dir.path().join("m_stats.csv")).unwrap_or_default();
    let row = csv_row(&stats, "GET", "/rust");
    let total = SAMPLES * REPORTS;
    assert_eq!(
        row.get(2..4),
        Some(&[total.to_string(), FAILURES.to_string()][..]),
        "GET /rust row (request count, failure count) in:\n{stats}\nmaster log:\n{log}"
    );
    let failures = std::fs::read_to_string(dir.path().join("m_failures.csv")).unwrap_or_default();
    assert!(
        failures.contains(&format!("GET,/rust,\"HTTPError('500')\",{FAILURES}"))
            || failures.contains(&format!("GET,/rust,HTTPError('500'),{FAILURES}")),
        "failures CSV:\n{failures}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rustlocust_master_drives_a_locust_worker() {
    let Some(dir) = locust_stub_dir("a_rustlocust_master_drives_a_locust_worker", WORKER_STUB)
    else {
        return;
    };
    let mut master = MasterSocket::bind("127.0.0.1", 0, TransportOptions::default())
        .await
        .expect("bind");
    let port = master.port().to_string();
    let mut worker = LocustProc::worker(dir.path(), &port, "worker.log");
    let mut stats = Stats::new(unix_now());
    let mut seen: Vec<String> = Vec::new();
    let mut worker_id = None;
    let mut complete = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for _ in 0..10_000 {
        let Ok(received) = tokio::time::timeout_at(deadline, master.recv()).await else {
            break;
        };
        let (peer, msg) = received.expect("a message");
        let node = msg.node_id.clone();
        let payload = Payload::from_message(msg).expect("a catalogue payload");
        seen.push(payload.kind().to_owned());
        let reply = match payload {
            Payload::ClientReady(ClientReady::Version(v)) => {
                assert_eq!(v, rustlocust::distributed::LOCUST_VERSION);
                assert_eq!(peer, node, "the DEALER's identity is its node id");
                worker_id = Some(node.clone());
                master
                    .send(
                        &Payload::Ack(Ack { index: Some(0) })
                            .to_message(&node)
                            .expect("ack"),
                    )
                    .expect("ack sent");
                Some(Payload::Spawn(Spawn {
                    timestamp: unix_now(),
                    user_classes_count: [("MyUser".to_owned(), 2)].into(),
                    host: None,
                    stop_timeout: None,
                    parsed_options: Value::Map(Vec::new()),
                }))
            }
            Payload::Heartbeat(Some(_)) => Some(Payload::Heartbeat(None)),
            Payload::SpawningComplete(c) => {
                complete = Some(c);
                None
            }
            Payload::Stats(report) => {
                merge_report(&mut stats, &report);
                let enough = stats
                    .entry("GET", "/py")
                    .is_some_and(|e| e.num_requests() >= 10);
                (enough && complete.is_some()).then_some(Payload::Quit)
            }
            Payload::Quit => break,
            _ => None,
        };
        if let Some(reply) = reply {
            let _ = master.send(&reply.to_message(&node).expect("encodes"));
        }
    }
    let log = log_text(dir.path(), "worker.log");
    assert!(!log.contains("Traceback"), "the worker raised:\n{log}");
    assert!(
        worker_id.is_some(),
        "no client_ready; saw {seen:?}; worker log:\n{log}"
    );
    for kind in [
        "heartbeat",
        "spawning",
        "spawning_complete",
        "stats",
        "quit",
    ] {
        assert!(
            seen.iter().any(|k| k == kind),
            "no {kind} in {seen:?}; worker log:\n{log}"
        );
    }
    let complete = complete.expect("spawning_complete");
    assert_eq!(complete.user_count, 2);
    assert_eq!(
        complete.user_classes_count,
        Some([("MyUser".to_owned(), 2)].into())
    );
    let py = stats
        .entry("GET", "/py")
        .expect("the stub's requests were merged");
    assert!(py.num_requests() >= 10, "{}", py.num_requests());
    assert_eq!(py.num_failures(), 0);
    assert_eq!(
        (py.min_response_time(), py.max_response_time()),
        (Some(12.5), 12.5)
    );
    assert!(
        py.is_approximate(),
        "a Locust worker's percentiles come from its buckets"
    );
    assert_eq!(stats.total().num_requests(), py.num_requests());
    assert!(
        worker.wait_exit(Duration::from_secs(20)).is_some(),
        "the worker did not exit after quit; its log:\n{log}"
    );
}
