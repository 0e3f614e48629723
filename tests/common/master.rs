//! Test runs built in-process: a run config (load, CSV prefix; one thread, seeded) and, for the
//! distributed tests, a master's scenario declaring the class the workers run (`MyUser`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustlocust::run::RunConfig;
use rustlocust::script::Scenario;

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
    let mut cfg = super::test_run::run_config("", users, rate);
    cfg.scenario_files = vec![PathBuf::from("master.rhai")];
    cfg.load.host = None;
    cfg.load.run_time = run_time;
    cfg.runner.host = None;
    cfg.runner.max_stacks = Some(16);
    cfg.runner.max_jobs = 10;
    cfg.outputs.csv_prefix = csv;
    cfg
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
