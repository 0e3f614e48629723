//! `rustlocust demo` (the README's first command): the built-in demo target plus a headless run of
//! the embedded quickstart scenario, ending with the stats tables and exit code 0 even though the
//! demo target fails some requests on purpose.

mod common;

use std::time::Duration;

use common::{bin, run};

#[test]
fn demo_runs_a_real_load_test_end_to_end() {
    let mut cmd = bin();
    // From an empty directory: the quickstart scenario is embedded in the binary.
    let dir = tempfile::tempdir().unwrap();
    cmd.current_dir(dir.path()).args([
        "demo",
        "--run-time",
        "4s",
        "--users",
        "8",
        "--spawn-rate",
        "20",
    ]);
    let r = run(cmd, Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}", r.all());
    let agg = r
        .stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("Aggregated") && l.contains('|'))
        .unwrap_or_else(|| panic!("no final Aggregated row:\n{}", r.stdout));
    let requests: u64 = agg
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(requests >= 20, "only {requests} requests: {agg}");
    for row in [
        "POST     /login",
        "/resources/[id]",
        "Response time percentiles",
    ] {
        assert!(r.stdout.contains(row), "missing {row:?}:\n{}", r.stdout);
    }
    assert!(r.stderr.contains("All users spawned"), "{}", r.stderr);
}
