//! The rustlocust worker (`distributed::run_worker`, on a thread of its own) against a scripted
//! master on our own socket (always runs: the message sequence of Locust's worker, role, stale
//! spawns, deltas, custom messages, exceptions, exit code) and against the real Locust 2.47
//! master (skipped without `locust` unless RUSTLOCUST_REQUIRE_LOCUST is set): its CSV counts our
//! requests, custom messages go both ways, and a killed master stops the load within 5 s while
//! the worker waits for the next master and runs its test. Everything on 127.0.0.1; every wait
//! is bounded; Locust processes are stopped by PID.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rmpv::Value;
use rustlocust::distributed::{
    run_worker, Ack, ClientReady, Heartbeat, MasterSocket, Payload, Spawn, SpawningComplete,
    StatsReport, TransportOptions, WorkerOptions, WorkerState,
};
use rustlocust::script::{LoadOptions, Scenario};
use rustlocust::stats::unix_now;

use common::{csv_row, free_port, locust_master, stub_dir, text_of, Target};

/// What a worker runs in the Locust tests: one class named like the stub's.
const PLAIN: &str = r#"
user("MyUser", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() { this.client.get("/w"); }
"#;

/// `run_worker` on its own thread and runtime, as `main` would run it; joins 127.0.0.1:`port`.
fn start_worker(src: &'static str, host: String, port: u16) -> JoinHandle<Result<i32, String>> {
    common::on_own_thread(move || async move {
        let cfg = common::run_config(&host, 1);
        let sc = Scenario::from_source("worker.rhai", src, Path::new("."), &cfg.scenario_options)
            .expect("the scenario compiles");
        let opts = WorkerOptions {
            master_host: "127.0.0.1".into(),
            master_port: port,
            secret: None,
        };
        run_worker(Arc::new(sc), cfg, opts)
            .await
            .map_err(|e| format!("{e:#}"))
    })
}

/// The worker's result once it ended, waiting at most `limit`.
fn join_within(worker: JoinHandle<Result<i32, String>>, limit: Duration) -> Result<i32, String> {
    let deadline = Instant::now() + limit;
    while !worker.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the worker did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    worker.join().expect("the worker thread did not panic")
}

/// Polls `cond` every 50 ms for at most `limit`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// A master on our own ROUTER, scripted by the test. It answers heartbeats (a master that does
/// not is "lost" after 4 s) and records everything else in arrival order.
struct ScriptedMaster {
    socket: MasterSocket,
    worker: String,
    beats: Vec<Heartbeat>,
    seen: Vec<Payload>,
}

impl ScriptedMaster {
    /// The next message that is not a heartbeat, within 15 s.
    async fn next(&mut self) -> Payload {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        for _ in 0..10_000 {
            let got = tokio::time::timeout_at(deadline, self.socket.recv()).await;
            let (peer, msg) = got
                .unwrap_or_else(|_| panic!("no message within 15 s; so far {:?}", self.kinds()))
                .expect("a readable message");
            self.worker = peer;
            let payload = Payload::from_message(msg).expect("a catalogue payload");
            if let Payload::Heartbeat(Some(beat)) = payload {
                self.beats.push(beat);
                self.send(Payload::Heartbeat(None));
                continue;
            }
            self.seen.push(payload.clone());
            return payload;
        }
        panic!("only heartbeats arrived");
    }

    /// The next message that is neither a heartbeat nor a periodic `stats` report.
    async fn next_command(&mut self) -> Payload {
        loop {
            let p = self.next().await;
            if !matches!(p, Payload::Stats(_)) {
                return p;
            }
        }
    }

    fn send(&self, p: Payload) {
        let msg = p.to_message(&self.worker).expect("encodes");
        self.socket.send(&msg).expect("sent");
    }

    fn kinds(&self) -> Vec<String> {
        self.seen.iter().map(|p| p.kind().to_owned()).collect()
    }

    /// GET /w requests in every report so far.
    fn reported(&self, name: &str) -> u64 {
        self.reports()
            .flat_map(|r| &r.stats)
            .filter(|e| e.method == "GET" && e.name == name)
            .map(|e| e.num_requests)
            .sum()
    }

    fn reports(&self) -> impl Iterator<Item = &StatsReport> {
        self.seen.iter().filter_map(|p| match p {
            Payload::Stats(r) => Some(&**r),
            _ => None,
        })
    }
}

fn spawn_msg(timestamp: f64, counts: &[(&str, u64)]) -> Payload {
    Payload::Spawn(Spawn {
        timestamp,
        user_classes_count: counts.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        host: None,
        stop_timeout: None,
        parsed_options: Value::Map(Vec::new()),
    })
}

const SCRIPTED: &str = r#"
user("MyUser", #{ wait_time: constant(0.1), tasks: ["t"] });
fn t() { this.client.get("/w"); }
on("test_start", |e| client().get(`/test-start/${e.role}/${e.worker_index}`));
on("spawning_complete", |e| client().get(`/spawning-complete/${e.user_count}`));
on_message("ping", |data| send_message("pong", #{ got: data.n, key: data["1"], index: worker_index() }));
on_message("boom", |data| throw `boom from the master: ${data}`);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaks_locusts_worker_protocol_message_for_message() {
    let target = Target::start();
    let socket = MasterSocket::bind("127.0.0.1", 0, TransportOptions::default())
        .await
        .expect("bind");
    let worker = start_worker(SCRIPTED, target.url(), socket.port());
    let mut m = ScriptedMaster {
        socket,
        worker: String::new(),
        beats: Vec::new(),
        seen: Vec::new(),
    };

    // client_ready with -1 (third-party workers skip the version check), then ack.
    assert_eq!(
        m.next().await,
        Payload::ClientReady(ClientReady::AnyVersion)
    );
    m.send(Payload::Ack(Ack { index: Some(3) }));
    // Idle: heartbeats say "ready", with this process's CPU and memory; reports come anyway.
    let idle = m.next().await;
    let Payload::Stats(idle) = idle else {
        panic!("expected an idle report, got {idle:?}")
    };
    assert_eq!(idle.user_count, Some(0));
    assert!(idle.stats.is_empty(), "{:?}", idle.stats);
    assert!(m.beats.len() >= 2, "{} heartbeats in 3 s", m.beats.len());
    assert!(m.beats.iter().all(|b| b.state == WorkerState::Ready));
    assert!(m.beats.iter().all(|b| b.current_memory_usage > 1 << 20));

    // spawn: `spawning` at once, the absolute counts (an unknown class skipped), completion.
    let t0 = unix_now();
    m.send(spawn_msg(t0, &[("MyUser", 2), ("Ghost", 1)]));
    assert_eq!(m.next_command().await, Payload::Spawning);
    let two = SpawningComplete {
        user_classes_count: Some([("MyUser".to_owned(), 2)].into()),
        user_count: 2,
    };
    assert_eq!(
        m.next_command().await,
        Payload::SpawningComplete(two.clone())
    );
    // test_start fired once, with the role and the index from the ack.
    assert!(wait_for(Duration::from_secs(5), || target
        .seen
        .count("/test-start/worker/3")
        == 1));
    // A stale spawn is answered with `spawning` and otherwise dropped.
    m.send(spawn_msg(t0 - 1.0, &[("MyUser", 5)]));
    assert_eq!(m.next_command().await, Payload::Spawning);
    m.send(spawn_msg(t0 + 1.0, &[("MyUser", 3)]));
    assert_eq!(m.next_command().await, Payload::Spawning);
    let Payload::SpawningComplete(three) = m.next_command().await else {
        panic!("no spawning_complete; saw {:?}", m.kinds())
    };
    assert_eq!(three.user_count, 3, "the stale spawn of 5 was not applied");
    // The master's spawning_complete fires the local event, once.
    m.send(Payload::SpawningComplete(SpawningComplete {
        user_classes_count: None,
        user_count: 3,
    }));
    m.send(Payload::SpawningComplete(SpawningComplete {
        user_classes_count: None,
        user_count: 3,
    }));

    // Custom messages both ways, and a handler's error as an `exception` message.
    let ping = Value::Map(vec![
        (Value::from("n"), Value::from(5)),
        (Value::from(1), Value::from("int key")),
    ]);
    m.send(Payload::Custom {
        kind: "ping".into(),
        data: ping,
    });
    let pong = m.next_command().await;
    let Payload::Custom { kind, data } = pong else {
        panic!("expected pong, got {pong:?}")
    };
    assert_eq!(kind, "pong");
    let field = |k: &str| rustlocust::distributed::protocol::map_get(&data, k).cloned();
    assert_eq!(field("got"), Some(Value::from(5)));
    assert_eq!(field("key"), Some(Value::from("int key")));
    assert_eq!(field("index"), Some(Value::from(3)));
    m.send(Payload::Custom {
        kind: "boom".into(),
        data: Value::from(7),
    });
    let exc = m.next_command().await;
    let Payload::Exception(exc) = exc else {
        panic!("expected an exception, got {exc:?}")
    };
    assert!(exc.msg.contains("boom from the master: 7"), "{exc:?}");
    assert_eq!(target.seen.count("/spawning-complete/3"), 1);
    assert!(m.beats.iter().any(|b| b.state == WorkerState::Running));

    // stop: the users' last report, client_stopped, then client_ready again.
    m.send(Payload::Stop);
    let mut tail = Vec::new();
    while !matches!(tail.last(), Some(Payload::ClientReady(_))) {
        tail.push(m.next().await);
    }
    let n = tail.len();
    assert!(n >= 3, "{tail:?}");
    assert!(matches!(&tail[n - 3], Payload::Stats(r) if r.user_count == Some(0)));
    assert_eq!(tail[n - 2], Payload::ClientStopped);
    // Every request the users made was reported: the deltas add up to what the target saw.
    let reported = m.reported("/w");
    assert!(reported > 10, "{reported}");
    assert!(
        target.seen.count("/w").abs_diff(reported) <= 3,
        "target saw {}, reports say {reported}",
        target.seen.count("/w")
    );
    m.send(Payload::Ack(Ack { index: Some(3) }));

    // quit: a final report, then quit; the exit code says a script raised.
    m.send(Payload::Quit);
    let mut tail = Vec::new();
    while !matches!(tail.last(), Some(Payload::Quit)) {
        tail.push(m.next().await);
    }
    assert!(
        matches!(&tail[tail.len() - 2], Payload::Stats(_)),
        "{tail:?}"
    );
    let code = tokio::task::spawn_blocking(move || join_within(worker, Duration::from_secs(10)))
        .await
        .expect("joined");
    assert_eq!(
        code,
        Ok(1),
        "--exit-code-on-error after the handler's error"
    );
    assert_eq!(target.seen.count("/test-start/worker/3"), 1);
}

/// The stub on the Locust master: the class name our workers run, a custom message to each
/// worker at test start, and a handler that writes what workers send to `from_worker.jsonl`.
const MASTER_STUB: &str = r#"
import json
from locust import User, task, constant, events
from locust.runners import MasterRunner

class MyUser(User):
    wait_time = constant(1)

    @task
    def nothing(self):
        pass

def from_worker(environment, msg, **kw):
    with open("from_worker.jsonl", "a") as f:
        f.write(json.dumps({"node": msg.node_id, "data": msg.data}) + "\n")

@events.init.add_listener
def on_init(environment, **kw):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("from_worker", from_worker)

@events.test_start.add_listener
def on_test_start(environment, **kw):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message("to_worker", {"path": "/from-master", "n": 7, "keys": {1: "one"}})
"#;

/// Our worker running `src` under a headless Locust master (`users` users for `run_time`, CSV
/// at `dir/<csv>`) until both exit; the master's log. The worker must exit 0 after `quit`.
fn run_under_locust(
    dir: &Path,
    target: &Target,
    src: &'static str,
    users: &str,
    run_time: &str,
    csv: &str,
) -> String {
    let port = free_port();
    let mut master = locust_master(dir, port, users, run_time, csv);
    let worker = start_worker(src, target.url(), port);
    let status = master.wait_exit(Duration::from_secs(60));
    let log = text_of(dir, &format!("master-{port}.log"));
    assert!(status.is_some(), "the master did not exit; its log:\n{log}");
    assert!(!log.contains("Traceback"), "the master raised:\n{log}");
    assert_eq!(
        join_within(worker, Duration::from_secs(10)),
        Ok(0),
        "the worker exits 0 after quit; master log:\n{log}"
    );
    log
}

#[test]
fn a_worker_runs_under_a_locust_master_and_its_csv_counts_our_requests() {
    let Some(dir) = stub_dir("worker_under_a_locust_master", MASTER_STUB) else {
        return;
    };
    let target = Target::start();
    let log = run_under_locust(dir.path(), &target, PLAIN, "6", "8s", "m");
    let stats = text_of(dir.path(), "m_stats.csv");
    let row = csv_row(&stats, "GET", "/w");
    let counted: u64 = row.get(2).and_then(|n| n.parse().ok()).unwrap_or(0);
    let seen = target.seen.count("/w");
    // 6 users for ~8 s at 10 requests/s each; the final report arrives before the master exits.
    assert!(seen > 100, "the target saw only {seen}");
    assert!(
        seen.abs_diff(counted) <= 6,
        "master counted {counted}, target saw {seen} (6 users may have one request in flight)\n{stats}\n{log}"
    );
    assert!(
        log.contains("\"MyUser\": 6"),
        "6 MyUser users reported:\n{log}"
    );
}

/// The real binary with `--worker --master-port` (Locust's flags) under a real Locust master.
#[test]
fn the_binary_runs_as_a_worker_with_locusts_flags() {
    let Some(dir) = stub_dir("binary_worker_under_a_locust_master", MASTER_STUB) else {
        return;
    };
    let target = Target::start();
    let sc = common::scenario(PLAIN);
    let port = free_port();
    let mut master = locust_master(dir.path(), port, "4", "6s", "b");
    let mut cmd = common::bin();
    cmd.arg(&sc.path)
        .args(["--worker", "--master-host", "127.0.0.1", "--master-port"])
        .arg(port.to_string())
        .args(["-H", &target.url()]);
    let worker = common::spawn(cmd);
    let status = master.wait_exit(Duration::from_secs(60));
    let log = text_of(dir.path(), &format!("master-{port}.log"));
    assert!(status.is_some(), "the master did not exit; its log:\n{log}");
    let r = worker.wait(Duration::from_secs(15));
    assert_eq!(
        r.code,
        0,
        "the worker exits 0 after quit:\n{}\n{log}",
        r.all()
    );
    let stats = text_of(dir.path(), "b_stats.csv");
    let counted: u64 = csv_row(&stats, "GET", "/w")
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let seen = target.seen.count("/w");
    assert!(seen > 50, "the target saw only {seen}");
    assert!(
        seen.abs_diff(counted) <= 4,
        "master counted {counted}, target saw {seen}\n{stats}\n{log}"
    );
}

/// What the worker does with the master's message, and what it sends back.
const MESSAGING: &str = r#"
user("MyUser", #{ wait_time: constant(0.2), tasks: ["t"], on_start: "hello" });
fn hello() { send_message("from_worker", #{ hello: "master", index: worker_index() }); }
fn t() { this.client.get("/w"); }
on_message("to_worker", |data| client().get(`${data.path}/${data.n}/${data.keys["1"]}`));
on("spawning_complete", |e| client().get(`/spawning-complete/${e.user_count}`));
"#;

#[test]
fn custom_messages_go_both_ways_with_a_locust_master() {
    let Some(dir) = stub_dir("custom_messages_with_a_locust_master", MASTER_STUB) else {
        return;
    };
    let target = Target::start();
    let log = run_under_locust(dir.path(), &target, MESSAGING, "2", "5s", "m");
    // Master -> worker: the test_start message reached on_message, whose request the target saw.
    assert_eq!(
        target.seen.count("/from-master/7/one"),
        1,
        "paths seen: {:?}\nmaster log:\n{log}",
        common::log_of(&target, "/from")
    );
    // The Locust master's own spawning_complete fired the event here, once.
    assert_eq!(target.seen.count("/spawning-complete/2"), 1, "{log}");
    // Worker -> master: one message per user's on_start, handled by register_message.
    let got = text_of(dir.path(), "from_worker.jsonl");
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 2, "{got}\nmaster log:\n{log}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        assert_eq!(
            v["data"],
            serde_json::json!({"hello": "master", "index": 0}),
            "{l}"
        );
    }
}

#[test]
fn a_killed_master_stops_the_load_and_the_worker_rejoins_the_next_one() {
    let Some(dir) = stub_dir("killed_master_and_rejoin", MASTER_STUB) else {
        return;
    };
    let target = Target::start();
    let port = free_port();
    let mut first = locust_master(dir.path(), port, "4", "120s", "m1");
    let worker = start_worker(PLAIN, target.url(), port);
    let first_log = || text_of(dir.path(), &format!("master-{port}.log"));
    assert!(
        wait_for(Duration::from_secs(40), || target.seen.count("/w") >= 40),
        "the first test never got going; master log:\n{}",
        first_log()
    );

    first.kill_9();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let at_5s = target.seen.count("/w");
    std::thread::sleep(Duration::from_secs(2));
    let at_7s = target.seen.count("/w");
    assert_eq!(
        at_5s,
        at_7s,
        "requests went on more than 5 s after the master died ({:?} ago)",
        killed.elapsed()
    );
    assert!(
        !worker.is_finished(),
        "the worker stays up, waiting for a master"
    );

    // A new master on the same port: the worker rejoins (client_ready -> ack) and runs its test.
    let mut second = locust_master(dir.path(), port, "2", "6s", "m2");
    let status = second.wait_exit(Duration::from_secs(60));
    let log = first_log();
    assert!(
        status.is_some(),
        "the second master did not exit; its log:\n{log}"
    );
    assert_eq!(
        join_within(worker, Duration::from_secs(10)),
        Ok(0),
        "the worker quits with the second master; its log:\n{log}"
    );
    let stats = text_of(dir.path(), "m2_stats.csv");
    let counted: u64 = csv_row(&stats, "GET", "/w")
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let second_test = target.seen.count("/w") - at_7s;
    assert!(second_test > 20, "the second test sent {second_test}");
    assert!(
        second_test.abs_diff(counted) <= 2,
        "second master counted {counted}, target saw {second_test} since the rejoin\n{stats}\n{log}"
    );
}

/// `send_message` needs a master or a worker; Locust's own message types are not scripts' to use.
#[test]
fn custom_messages_are_refused_where_they_cannot_work() {
    let opts = LoadOptions::default();
    for (src, why) in [
        (
            r#"on_message("spawn", |d| ()); user("U", #{ tasks: ["t"] }); fn t() {}"#,
            "message type of Locust's protocol",
        ),
        (
            r#"event("message:x"); user("U", #{ tasks: ["t"] }); fn t() {}"#,
            "belong to on_message()",
        ),
    ] {
        let err = Scenario::from_source("s.rhai", src, Path::new("."), &opts)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains(why), "{err}");
    }

    let target = Target::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = r#"
        user("MyUser", #{ wait_time: constant(0.05), tasks: ["t"] });
        fn t() { send_message("hello", #{ n: 1 }); }
    "#;
    let message = tokio::task::LocalSet::new().block_on(&rt, async {
        let cfg = common::run_config(&target.url(), 1);
        let sc = Scenario::from_source("local.rhai", local, Path::new("."), &cfg.scenario_options)
            .expect("compiles");
        let load = cfg.load.clone();
        let mut run = rustlocust::run::TestRun::new(cfg, Arc::new(sc)).await;
        run.start(load).await.expect("starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut message = None;
        while message.is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            run.tick().await;
            message = run.stats.lock().exceptions().next().map(|e| e.msg.clone());
        }
        run.stop(std::future::pending()).await;
        message
    });
    let message = message.expect("the task's send_message raised");
    assert!(message.contains("needs a master or a worker"), "{message}");
}
