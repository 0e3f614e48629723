//! The test-run layer: one load test from start to stop, whatever drives it (the console front end,
//! the web controller). It sits above the runner, the scenario and the reporters and below the
//! front ends; it knows nothing of the command line: the front end hands it a [`RunConfig`].

pub mod class_update;
pub mod driver;
pub mod fd_limit;
pub mod mailbox;
pub mod status;
pub mod test_run;
pub mod users;

use std::path::PathBuf;
use std::time::Duration;

use crate::runner::RunnerConfig;
use crate::script::LoadOptions;

pub use class_update::{ClassUpdate, ClassUpdateError};
pub use driver::{drive, Command, FrontEnd};
pub use mailbox::{IncomingMessage, Mailbox};
pub use status::{RunState, RunStatus};
pub use test_run::{default_host, TestRun, Tick};
pub use users::{Users, UsersFactory};

/// The load a test is asked for (the command line, or the UI's /swarm form).
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    pub users: u64,
    pub spawn_rate: f64,
    /// None: the configured host, else the classes' own hosts.
    pub host: Option<String>,
    pub run_time: Option<Duration>,
    /// Empty: all classes.
    pub user_classes: Vec<String>,
}

/// Where the test run writes its reports. Paths are final (placeholders already filled in).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs {
    /// `PREFIX_stats.csv`, `PREFIX_failures.csv`, ... refreshed every second.
    pub csv_prefix: Option<PathBuf>,
    /// One history row per entry, not only Aggregated.
    pub csv_full_history: bool,
    /// The HTML report, written when a test ends.
    pub html: Option<PathBuf>,
}

/// Everything a test run needs from outside, decided before it starts.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The scenario's files, directories expanded (reports, status, reload).
    pub scenario_files: Vec<PathBuf>,
    /// Tags and classes the scenario is loaded with (again on reload).
    pub scenario_options: LoadOptions,
    /// The first test's load (headless, `--autostart`); the web UI may ask for others.
    pub load: Load,
    /// How long users may finish their current task once a test stops.
    pub stop_timeout: Duration,
    /// Threads, HTTP, seed, stacks, jobs and the host override of the users' runner.
    pub runner: RunnerConfig,
    pub outputs: Outputs,
    /// The exit code when a request failed or a task raised.
    pub exit_code_on_error: i32,
    /// Locust's `--reset-stats`: reset the statistics once the ramp-up completes.
    pub reset_stats_after_ramp: bool,
}

impl RunConfig {
    /// How reports and the UI name the scenario: its files, joined by "," (as Locust joins them).
    pub fn scenario_display(&self) -> String {
        let names: Vec<String> = self
            .scenario_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        names.join(",")
    }
}
