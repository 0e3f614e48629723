//! The headless front end's `ConsoleOptions.json_file` (Locust's `--json-file NAME`): the final
//! stats JSON, the same list `--json` prints, goes to `NAME.json`; a path that cannot be written
//! is refused before the test starts, and a write that fails at the end exits non-zero.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::test_run::{block_on_local, run_config};
use common::Target;
use rustlocust::app::EXIT_USAGE;
use rustlocust::console::{run as headless, ConsoleOptions};
use rustlocust::script::{LoadOptions, Scenario};

const SRC: &str = r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() { this.client.get("/t"); }
"#;

/// A headless run of 2 users for `run_time` writing the JSON to `json_file`; its exit code.
fn run(t: &Target, json_file: PathBuf, run_time: Duration) -> i32 {
    let sc = Scenario::from_source("s.rhai", SRC, Path::new("."), &LoadOptions::default());
    let mut cfg = run_config(&t.url(), 2, 100.0);
    cfg.load.run_time = Some(run_time);
    // Users finish the request they are in: every request the target saw is counted.
    cfg.stop_timeout = Duration::from_secs(5);
    let console = ConsoleOptions {
        only_summary: true,
        json: false,
        json_file: Some(json_file),
    };
    block_on_local(headless(Arc::new(sc.unwrap()), cfg, console)).unwrap()
}

#[test]
fn the_json_file_gets_the_final_stats() {
    let t = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let code = run(&t, dir.path().join("reports/out"), Duration::from_secs(1));
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(dir.path().join("reports/out.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entry = &v.as_array().unwrap()[0];
    assert_eq!(entry["name"], "/t");
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["num_requests"].as_u64(), Some(t.seen.count("/t")));
}

#[test]
fn an_unwritable_json_file_is_refused_before_the_test() {
    let t = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a_file");
    std::fs::write(&file, "").unwrap();
    let code = run(&t, file.join("out"), Duration::from_secs(30));
    assert_eq!(code, EXIT_USAGE);
    assert_eq!(t.seen.total(), 0, "no test ran");
}

#[test]
fn a_write_failing_at_the_end_exits_non_zero() {
    let t = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("out.json");
    // Writable when the test starts; a directory by the time the stats are written.
    let blocker = std::thread::spawn({
        let taken = taken.clone();
        move || {
            std::thread::sleep(Duration::from_millis(300));
            std::fs::create_dir(&taken).unwrap();
        }
    });
    let code = run(&t, dir.path().join("out"), Duration::from_millis(1500));
    blocker.join().unwrap();
    assert_eq!(code, EXIT_USAGE);
    assert!(t.seen.count("/t") > 0);
}
