//! Test runs built in-process: a run config (load, CSV prefix; one thread, seeded) and, for the
//! distributed tests, a master's scenario declaring the class the workers run (`MyUser`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustlocust::http::HttpConfig;
use rustlocust::run::{Load, Outputs, RunConfig};
use rustlocust::runner::RunnerConfig;
use rustlocust::script::{LoadOptions, Scenario};

/// The master's scenario: the class names the workers' locustfile declares.
pub const MASTER_SCENARIO: &str = r#"
user("MyUser", #{
    wait_time: constant(0.1),
    tasks: [task("t", 1)],
});
fn t() {}
"#;

/// `-u users -r rate [-t run_time] [--csv prefix]`, `--stop-timeout 0`, no host, one thread.
pub fn test_run_config(
    users: u64,
    rate: f64,
    run_time: Option<Duration>,
    csv: Option<PathBuf>,
) -> RunConfig {
    RunConfig {
        scenario_file: PathBuf::from("master.rhai"),
        scenario_options: LoadOptions::default(),
        load: Load {
            users,
            spawn_rate: rate,
            host: None,
            run_time,
            user_classes: Vec::new(),
        },
        stop_timeout: Duration::ZERO,
        runner: RunnerConfig {
            threads: 1,
            http: HttpConfig::default(),
            seed: Some(1),
            max_stacks: Some(16),
            host: None,
            max_jobs: 10,
            user_classes: Vec::new(),
            stats: None,
            windows: Vec::new(),
        },
        outputs: Outputs {
            csv_prefix: csv,
            ..Outputs::default()
        },
        exit_code_on_error: 1,
    }
}

/// [`MASTER_SCENARIO`], compiled against `cfg`'s run control.
pub fn master_scenario(cfg: &RunConfig) -> Arc<Scenario> {
    let sc = Scenario::from_source(
        "master.rhai",
        MASTER_SCENARIO,
        Path::new("."),
        &cfg.scenario_options,
    )
    .expect("scenario compiles");
    Arc::new(sc)
}
