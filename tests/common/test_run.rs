//! The test-run layer as a library: a `RunConfig` for an in-process `TestRun` against a target,
//! and a current-thread runtime with a `LocalSet` to drive it (the runner's listeners need one).

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use rustlocust::http::HttpConfig;
use rustlocust::run::{Load, Outputs, RunConfig};
use rustlocust::runner::RunnerConfig;
use rustlocust::script::LoadOptions;

/// A run of `users` at `spawn_rate` against `host`, one worker thread, no outputs.
pub fn run_config(host: &str, users: u64, spawn_rate: f64) -> RunConfig {
    RunConfig {
        scenario_files: vec![PathBuf::from("s.rhai")],
        scenario_options: LoadOptions::default(),
        load: Load {
            users,
            spawn_rate,
            host: Some(host.to_owned()),
            run_time: None,
            user_classes: Vec::new(),
        },
        stop_timeout: Duration::ZERO,
        runner: RunnerConfig {
            threads: 1,
            http: HttpConfig::default(),
            seed: Some(1),
            max_stacks: None,
            host: Some(host.to_owned()),
            max_jobs: 100,
            user_classes: Vec::new(),
            stats: None,
            windows: Vec::new(),
        },
        outputs: Outputs::default(),
        exit_code_on_error: 1,
        reset_stats_after_ramp: false,
    }
}

/// Run `f` to completion on a current-thread runtime inside a `LocalSet`.
pub fn block_on_local<F: Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}
