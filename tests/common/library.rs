//! Building blocks for tests that drive the library directly (runner, test run, worker) rather
//! than the binary.

use std::future::Future;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use rustlocust::http::HttpConfig;
use rustlocust::run::{Load, Outputs, RunConfig};
use rustlocust::runner::RunnerConfig;
use rustlocust::script::LoadOptions;

/// A runner on `threads` threads whose users all hit `host`, seeded, with fresh stats.
pub fn runner_config(host: &str, threads: usize) -> RunnerConfig {
    RunnerConfig {
        threads,
        http: HttpConfig::default(),
        seed: Some(1),
        max_stacks: Some(64),
        host: Some(host.to_string()),
        max_jobs: 100,
        user_classes: Vec::new(),
        stats: None,
        windows: Vec::new(),
    }
}

/// A test run of `users` users (all at once) on one thread against `host`: no run time, no
/// stop timeout, no reports, exit code 1 on errors.
pub fn run_config(host: &str, users: u64) -> RunConfig {
    RunConfig {
        scenario_file: PathBuf::from("scenario.rhai"),
        scenario_options: LoadOptions::default(),
        load: Load {
            users,
            spawn_rate: 1000.0,
            host: None,
            run_time: None,
            user_classes: Vec::new(),
        },
        stop_timeout: Duration::ZERO,
        runner: runner_config(host, 1),
        outputs: Outputs::default(),
        exit_code_on_error: 1,
    }
}

/// Runs `f`'s future on a thread of its own, in a `LocalSet` on a current-thread runtime (as
/// `main` runs a test run), and hands back its result on join.
pub fn on_own_thread<F, Fut, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        tokio::task::LocalSet::new().block_on(&rt, f())
    })
}
