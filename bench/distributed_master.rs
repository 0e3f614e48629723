//! The master's cost as the fleet grows: this process is a rustlocust master (library entry
//! points: `Master` + a `TestRun` on its users factory) and drives 1, 2, 4, 8, 16 real
//! `locust --worker` processes (`bench/locust_worker.py`, five request names per user, no
//! network) on this machine, or with `WORKERS=rustlocust` as many `rustlocust --worker`
//! processes (`bench/rustlocust_worker.rhai`, the same load, exact HDR rows). For each fleet size it reports, over a steady window after the ramp:
//! the master's CPU (this process's user+system time) per worker report and as a share of one
//! core, and how old each report's newest sample is once merged (at most ~0.1 s older than the
//! report, plus transport and merge; a sample also waits in its worker for the next report, up to
//! 3 s). The CPU includes the test run's own 20 Hz loop. Run via bench/distributed.sh:
//!
//!   MAX_WORKERS=16 WINDOW=15 USERS_PER_WORKER=2 cargo bench --bench distributed_master -- run

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustlocust::distributed::{Master, MasterConfig, ReportCounters};
use rustlocust::http::HttpConfig;
use rustlocust::run::{Load, Outputs, RunConfig, TestRun};
use rustlocust::runner::RunnerConfig;
use rustlocust::script::{LoadOptions, Scenario};

const USAGE: &str = "usage: cargo bench --bench distributed_master -- run   \
                     (env: MAX_WORKERS=16 WINDOW=15 USERS_PER_WORKER=2 WORKERS=locust|rustlocust)";

/// The master's scenario: the class the workers' locustfile declares.
const SCENARIO: &str = r#"
user("BenchUser", #{ wait_time: constant(1), tasks: [task("t", 1)] });
fn t() {}
"#;

fn main() {
    // `cargo bench` adds `--bench`; the one other argument says what to do.
    let asked = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    match asked.as_deref() {
        Some("run") => run(),
        // Nothing asked (as when `cargo test --benches` runs it): say how, and pass.
        None => eprintln!("{USAGE}"),
        Some(_) => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run() {
    let max = env_or("MAX_WORKERS", 16);
    let window = Duration::from_secs(env_or("WINDOW", 15));
    let per_worker = env_or("USERS_PER_WORKER", 2);
    println!(
        "| workers | users | reports | master CPU (share of one core) | CPU per report | report age once merged: window mean / run max |"
    );
    println!("|--:|--:|--:|--:|--:|--:|");
    let mut n = 1;
    while n <= max {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let row = tokio::task::LocalSet::new().block_on(&rt, one_fleet(n, per_worker, window));
        println!("{row}");
        n *= 2;
    }
}

/// The user+system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Worker processes, killed by PID when dropped.
struct Fleet(Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn config(users: u64) -> RunConfig {
    RunConfig {
        scenario_files: vec!["bench.rhai".into()],
        scenario_options: LoadOptions::default(),
        load: Load {
            users,
            spawn_rate: 100.0,
            host: None,
            run_time: None,
            user_classes: Vec::new(),
        },
        stop_timeout: Duration::ZERO,
        runner: RunnerConfig {
            threads: 1,
            http: HttpConfig::default(),
            seed: None,
            max_stacks: None,
            host: None,
            max_jobs: 10,
            user_classes: Vec::new(),
            stats: None,
            windows: Vec::new(),
        },
        outputs: Outputs::default(),
        exit_code_on_error: 1,
        reset_stats_after_ramp: false,
    }
}

/// One worker process of the kind `WORKERS` asks for: `locust` (default, Locust 2.47's) or
/// `rustlocust` (this package's binary, built by `cargo bench` along with the bench).
fn worker(port: &str) -> Child {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let mut cmd = match std::env::var("WORKERS").as_deref() {
        Ok("rustlocust") => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_rustlocust"));
            c.arg("-f").arg(dir.join("rustlocust_worker.rhai")).args([
                "--worker",
                "--threads",
                "1",
            ]);
            c
        }
        Ok("locust") | Err(_) => {
            let mut c = Command::new("locust");
            c.arg("-f")
                .arg(dir.join("locust_worker.py"))
                .arg("--worker");
            c
        }
        Ok(other) => panic!("WORKERS={other}: expected locust or rustlocust"),
    };
    cmd.args(["--master-host", "127.0.0.1", "--master-port", port])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the worker starts (for Locust's: pip install locust==2.47.0)")
}

async fn one_fleet(n: u64, per_worker: u64, window: Duration) -> String {
    let master = Master::bind("127.0.0.1", 0, MasterConfig::default())
        .await
        .expect("bind");
    let port = master.port().to_string();
    let _fleet = Fleet((0..n).map(|_| worker(&port)).collect());
    master
        .wait_for_workers(n as usize, Some(Duration::from_secs(180)))
        .await
        .expect("the workers connect");
    let users = n * per_worker;
    let cfg = config(users);
    let sc = Scenario::from_source(
        "bench.rhai",
        SCENARIO,
        Path::new("."),
        &cfg.scenario_options,
    )
    .expect("scenario");
    let load = cfg.load.clone();
    let mut run =
        TestRun::with_users(cfg, Arc::new(sc), master.users_factory(Duration::ZERO)).await;
    run.start(load).await.expect("start");
    // Ramp, then two report intervals so every worker reports at its steady size.
    let warm = Instant::now() + Duration::from_secs(7);
    let mut measuring: Option<(Instant, Duration, ReportCounters)> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = run.tick().await;
        match measuring {
            None if Instant::now() >= warm => {
                measuring = Some((Instant::now(), cpu_time(), master.report_counters()));
            }
            Some((t0, _, _)) if t0.elapsed() >= window => break,
            _ => {}
        }
    }
    let (t0, cpu0, c0) = measuring.expect("measured");
    let (wall, cpu, c1) = (t0.elapsed(), cpu_time() - cpu0, master.report_counters());
    run.stop(std::future::pending()).await;
    master.quit().await;
    let reports = c1.reports - c0.reports;
    let timed = (c1.timed - c0.timed).max(1);
    format!(
        "| {n} | {users} | {reports} | {:.2} % | {:.0} µs | {:.1} ms / {:.1} ms |",
        cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
        cpu.as_secs_f64() * 1e6 / reports.max(1) as f64,
        (c1.age_sum - c0.age_sum) / timed as f64 * 1e3,
        c1.age_max * 1e3,
    )
}
