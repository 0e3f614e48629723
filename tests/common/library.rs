//! Building blocks for tests that drive the library directly (runner, test run, worker) rather
//! than the binary.

use std::future::Future;
use std::thread::JoinHandle;

use rustlocust::http::HttpConfig;
use rustlocust::run::RunConfig;
use rustlocust::runner::RunnerConfig;

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
/// stop timeout, no reports, exit code 1 on errors. The load names no host: a worker gets its
/// host from the master's spawn, and without one the runner's (`host`) applies.
pub fn run_config(host: &str, users: u64) -> RunConfig {
    let mut cfg = super::test_run::run_config(host, users, 1000.0);
    cfg.load.host = None;
    cfg.runner = runner_config(host, 1);
    cfg
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
