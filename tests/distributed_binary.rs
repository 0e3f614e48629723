//! The real binary in every role, all on 127.0.0.1, every process started and stopped by PID: a
//! rustlocust master (`--master --headless`) with three rustlocust workers at 300 users (balance,
//! counts, exact merged percentiles), scripts' custom messages both ways between a master and two
//! workers, and a mixed fleet of one rustlocust worker and one real Locust worker.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{
    bin, count_of, csv, free_port, num, scenario, spawn, stats_row, stub_dir, LocustProc, Proc,
    Run, Scenario, Target,
};
use rustlocust::stats::{unix_now, Shard, Stats};

/// A target, a scenario and a free master port on 127.0.0.1.
struct Fleet {
    target: Target,
    sc: Scenario,
    port: String,
}

impl Fleet {
    fn new(src: &str) -> Fleet {
        Fleet {
            target: Target::start(),
            sc: scenario(src),
            port: free_port().to_string(),
        }
    }

    /// Where the master writes its CSV.
    fn prefix(&self) -> PathBuf {
        self.sc.dir.path().join("m")
    }

    /// `rustlocust <scenario> --master --headless`, waiting for `workers`, then
    /// `-u users -r rate -t run_time` against the target, with `--csv` and `extra`.
    fn master(&self, workers: &str, load: [&str; 3], extra: &[&str]) -> Proc {
        let [users, rate, run_time] = load;
        let mut m = bin();
        m.arg(&self.sc.path)
            .args(["--master", "--headless", "--only-summary"])
            .args([
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                &self.port,
            ])
            .args([
                "--expect-workers",
                workers,
                "--expect-workers-max-wait",
                "60s",
            ])
            .args([
                "-u",
                users,
                "-r",
                rate,
                "-t",
                run_time,
                "-H",
                &self.target.url(),
            ])
            .arg("--csv")
            .arg(self.prefix())
            .args(extra);
        spawn(m)
    }

    /// `rustlocust <scenario> --worker` for the master, with `extra`.
    fn worker(&self, extra: &[&str]) -> Proc {
        let mut w: Command = bin();
        w.arg(&self.sc.path)
            .args(["--worker", "--master-port", &self.port, "--threads", "1"])
            .args(extra);
        spawn(w)
    }

    /// A master and `n` rustlocust workers to the end: the master's output (it must exit 0, and
    /// every worker after its quit).
    fn run(&self, n: usize, load: [&str; 3], master: &[&str], worker: &[&str]) -> Run {
        let m = self.master(&n.to_string(), load, master);
        let workers: Vec<_> = (0..n).map(|_| self.worker(worker)).collect();
        let m = m.wait(Duration::from_secs(120));
        assert_eq!(m.code, 0, "master:\n{}", m.all());
        wait_workers(workers);
        m
    }
}

/// Every worker must exit 0 after the master's quit.
fn wait_workers(workers: Vec<Proc>) {
    for w in workers {
        let r = w.wait(Duration::from_secs(20));
        assert_eq!(
            r.code,
            0,
            "a worker did not exit 0 after quit:\n{}",
            r.all()
        );
    }
}

/// Each user says hello once with its worker's index (how the users per worker are counted);
/// each task draws a latency, sends it to the target in the path (the target's log is the
/// independent record of every sample) and then reports it as a sample of its own.
const BALANCE: &str = r#"
user("MyUser", #{ wait_time: constant(1.0), tasks: ["t"], on_start: "hello" });
fn hello() { this.client.get(`/hello/${worker_index()}`); }
on("test_start", |e| if is_worker() { client().get("/worker_start") });
fn t() {
    let ms = random_int(100, 999);
    this.client.get(`/rt/${ms}`, #{ name: "/rt" });
    report(#{ request_type: "SAMPLE", name: "/sample", response_time: ms, response_length: 0 });
}
"#;

/// Issue 8's fleet: 300 users at 100/s over three workers.
///
/// - Balance: users are never restarted during a ramp up, so the `/hello/<index>` requests of
///   the users' `on_start` count the users each worker started: 100 each (±1, Locust's
///   round-robin).
/// - Counts: with `--stop-timeout` every task in progress finishes, so nothing is in flight when
///   the users stop and the master's `GET /rt` count equals the target's exactly; `Aggregated`
///   is the target's total plus the synthetic samples.
/// - Percentiles: the synthetic `/sample` latencies are chosen by the scripts and each one is
///   also in the path of the request before it, so the target's log holds every sample,
///   whichever worker took it. Fed into one `Stats` in this process (what one process measuring
///   every sample would report), its p50/p99 equal the master's merged ones; wall-clock
///   latencies could not be compared exactly, chosen ones can. 100–999 ms: the CSV prints
///   whole milliseconds there.
#[test]
fn three_workers_share_300_users_evenly_and_merge_exact_percentiles() {
    let fleet = Fleet::new(BALANCE);
    fleet.run(3, ["300", "100", "8s"], &["--stop-timeout", "10s"], &[]);
    let (target, prefix) = (&fleet.target, fleet.prefix());
    // Workers started without -H: their listeners' client() uses the master's host.
    assert_eq!(
        target.seen.count("/worker_start"),
        3,
        "one test_start per worker"
    );

    let hellos: Vec<u64> = (0..3)
        .map(|i| target.seen.count(&format!("/hello/{i}")))
        .collect();
    assert_eq!(
        hellos.iter().sum::<u64>(),
        300,
        "users per worker: {hellos:?}"
    );
    assert!(
        hellos.iter().all(|&n| n.abs_diff(100) <= 1),
        "users per worker not balanced: {hellos:?}"
    );

    let rts: Vec<f64> = target
        .seen
        .log_snapshot()
        .iter()
        .filter_map(|p| p.strip_prefix("/rt/")?.parse().ok())
        .collect();
    let stats = csv(&prefix, "stats");
    let row = |method: &str, name: &str| {
        stats_row(&stats, method, name).unwrap_or_else(|| panic!("no {method} {name} row"))
    };
    // 300 users, one task a second, ~5 s at full load.
    assert!(
        rts.len() > 1000,
        "the target saw only {} samples",
        rts.len()
    );
    assert_eq!(
        count_of(&row("GET", "/rt"), "Request Count"),
        rts.len() as u64
    );
    let sample = row("SAMPLE", "/sample");
    assert_eq!(count_of(&sample, "Request Count"), rts.len() as u64);
    assert_eq!(
        count_of(&row("", "Aggregated"), "Request Count"),
        target.seen.total() + rts.len() as u64
    );

    let mut shard = Shard::new();
    for &ms in &rts {
        shard.record_at("SAMPLE", "/sample", ms, 0, None, unix_now());
    }
    let mut one = Stats::new(unix_now());
    one.merge(shard.take());
    let want = one.entry("SAMPLE", "/sample").expect("row");
    for (col, q) in [("50%", 0.5), ("99%", 0.99)] {
        assert_eq!(num(&sample, col), want.percentile(q).round(), "{col}");
    }
}

/// Locust's `send_message` / `register_message` between the binary's master and workers: the
/// master's `test_start` hands the workers their data, each worker answers, and the master's
/// handler (given the sender's id) answers that one worker alone; the worker's handler, given
/// the message's node id (Locust's `msg.node_id`: its own), puts it in its request. Bad input:
/// a type the master has no handler for, and an id no worker has.
const MESSAGES: &str = r#"
user("MyUser", #{ wait_time: constant(0.5), tasks: ["t"] });
fn t() { this.client.get("/d"); }
on("test_start", |e| if is_master() { send_message("slice", #{ first: 100, per_worker: 5 }) });
on_message("slice", |data| {
    let first = data.first + worker_index() * data.per_worker;
    client().get(`/slice/${worker_index()}/${first}`);
    send_message("took", #{ index: worker_index(), first: first });
    send_message("unheard", #{});
});
on_message("took", |data, worker| {
    print(`master: ${worker} took the slice from ${data.first}`);
    send_message("thanks", #{ index: data.index }, worker);
    send_message("thanks", #{ index: -1 }, "vm_nobody");
});
on_message("thanks", |data, me| client().get(`/thanks/${data.index}/${worker_index()}/${me}`));
"#;

#[test]
fn custom_messages_go_both_ways_between_the_binary_master_and_workers() {
    let fleet = Fleet::new(MESSAGES);
    // A message may arrive before the `spawn` that carries the master's host: the workers' own
    // -H gives the handlers a host from the start.
    let host = fleet.target.url();
    let m = fleet.run(2, ["2", "2", "4s"], &[], &["-H", &host]);
    let target = &fleet.target;
    let paths = || {
        let mut p = common::log_of(target, "/slice");
        p.extend(common::log_of(target, "/thanks"));
        p.join(" ")
    };
    // Master -> every worker: each took its own slice, once.
    for (i, first) in [(0, 100), (1, 105)] {
        assert_eq!(
            target.seen.count(&format!("/slice/{i}/{first}")),
            1,
            "{}\n{}",
            paths(),
            m.all()
        );
    }
    // Worker -> master: the handler saw both, with two different senders.
    let senders: std::collections::BTreeSet<String> = m
        .all()
        .lines()
        .filter_map(|l| Some(l.strip_prefix("master: ")?.split(' ').next()?.to_owned()))
        .collect();
    assert_eq!(senders.len(), 2, "{senders:?}\n{}", m.all());
    // Master -> one worker: each answer reached the worker it was for, and only that one; the
    // id its handler got is the one the master saw.
    let thanks = common::log_of(target, "/thanks");
    assert_eq!(thanks.len(), 2, "{}", paths());
    let ids: std::collections::BTreeSet<String> = thanks
        .iter()
        .filter_map(|p| {
            let [i, me, id] = p
                .strip_prefix("/thanks/")?
                .splitn(3, '/')
                .collect::<Vec<_>>()[..]
            else {
                return None;
            };
            (i == me).then(|| id.to_owned())
        })
        .collect();
    assert_eq!(ids, senders, "{}", paths());
    // Bad input is logged, once per type, and dropped.
    let log = m.all();
    assert_eq!(
        log.matches("Unknown message type received from").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("(the scenario has no on_message(\"unheard\""),
        "{log}"
    );
    assert!(
        log.contains("send_message(\"thanks\", .., \"vm_nobody\"): no connected worker"),
        "{log}"
    );
}

/// A Locust worker that requests `/py` from the master's host.
const LOCUST_STUB: &str = "\
from locust import HttpUser, task, constant

class MyUser(HttpUser):
    wait_time = constant(0.2)

    @task
    def t(self):
        self.client.get('/py')
";

const MIXED: &str = r#"
user("MyUser", #{ wait_time: constant(0.2), tasks: ["t"] });
fn t() { this.client.get("/d"); }
"#;

/// One rustlocust master, one rustlocust worker and one real Locust worker: both workers run
/// users, the master's CSV counts what the target saw of each (within the requests in flight
/// when the users stopped), and its HTML report marks the Locust worker's row (and so
/// Aggregated) as approximate, not ours. The CSV keeps Locust's columns and cannot say.
#[test]
fn a_mixed_fleet_of_a_rustlocust_and_a_locust_worker() {
    let Some(dir) = stub_dir(
        "a_mixed_fleet_of_a_rustlocust_and_a_locust_worker",
        LOCUST_STUB,
    ) else {
        return;
    };
    let fleet = Fleet::new(MIXED);
    let (target, prefix) = (&fleet.target, fleet.prefix());
    let html = fleet.sc.dir.path().join("m.html");
    let html_arg = html.to_str().expect("utf-8 path");
    let m = fleet.master("2", ["4", "4", "6s"], &["--html", html_arg]);
    let rust = fleet.worker(&[]);
    let mut py = LocustProc::worker(dir.path(), &fleet.port, "w.log");
    let m = m.wait(Duration::from_secs(90));
    let py_log = || common::text_of(dir.path(), "w.log");
    assert_eq!(
        m.code,
        0,
        "master:\n{}\nlocust worker:\n{}",
        m.all(),
        py_log()
    );
    wait_workers(vec![rust]);
    assert!(
        py.wait_exit(Duration::from_secs(20)).is_some(),
        "the Locust worker did not exit after quit:\n{}",
        py_log()
    );
    let stats = csv(&prefix, "stats");
    for name in ["/d", "/py"] {
        let row = stats_row(&stats, "GET", name)
            .unwrap_or_else(|| panic!("no GET {name} row:\n{}", m.all()));
        let counted = count_of(&row, "Request Count");
        let seen = target.seen.count(name);
        // 2 users per worker at 5 requests/s each for ~6 s; a stopped user's request in flight
        // is seen by the target and recorded by nobody.
        assert!(seen > 20, "the target saw only {seen} {name}");
        assert!(
            counted <= seen && seen - counted <= 2,
            "{name}: master counted {counted}, target saw {seen}\n{}",
            m.all()
        );
    }
    let report = std::fs::read_to_string(&html).expect("the master's HTML report");
    let marked = |name: &str| report.contains(&format!(">{name} <span class=\"approx\""));
    assert!(
        marked("/py"),
        "the Locust worker's row is not marked approximate"
    );
    assert!(
        marked("Aggregated"),
        "Aggregated includes it and is not marked"
    );
    assert!(
        !marked("/d"),
        "our worker's row is exact but marked approximate"
    );
}
