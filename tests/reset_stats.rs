//! `RunConfig.reset_stats_after_ramp` (Locust's `--reset-stats`): once the ramp-up completes the
//! statistics start from zero, so what users and `spawning_complete` listeners requested during the
//! ramp is not counted; without it everything is.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::test_run::{block_on_local, run_config};
use common::Target;
use rustlocust::run::{TestRun, Tick};
use rustlocust::script::{LoadOptions, Scenario};

const SRC: &str = r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() { this.client.get("/t"); }
on("spawning_complete", |e| client().get("/marker"));
"#;

/// Requests to `/t` seen by the target when the ramp completed and at the end, and the counts of
/// `/t` and `/marker` in the run's statistics.
struct Counts {
    seen_in_ramp: u64,
    seen: u64,
    counted: u64,
    marker_seen: u64,
    marker_counted: u64,
}

fn run(reset: bool) -> Counts {
    let target = Target::start();
    let sc = Scenario::from_source("s.rhai", SRC, Path::new("."), &LoadOptions::default());
    let sc = Arc::new(sc.unwrap());
    let mut cfg = run_config(&target.url(), 3, 3.0);
    cfg.reset_stats_after_ramp = reset;
    // Users finish the request they are in when the test stops: every request sent is recorded.
    cfg.stop_timeout = Duration::from_secs(5);
    block_on_local(async move {
        let load = cfg.load.clone();
        let mut run = TestRun::new(cfg, sc).await;
        run.start(load).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let seen_in_ramp = loop {
            assert!(Instant::now() < deadline, "the ramp never completed");
            if let Some(Tick::SpawningComplete(_)) = run.tick().await {
                break target.seen.count("/t");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let until = Instant::now() + Duration::from_millis(700);
        while Instant::now() < until {
            run.tick().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        run.stop(std::future::pending()).await;
        let st = run.stats.lock();
        let count = |name: &str| st.entry("GET", name).map_or(0, |e| e.num_requests());
        Counts {
            seen_in_ramp,
            seen: target.seen.count("/t"),
            counted: count("/t"),
            marker_seen: target.seen.count("/marker"),
            marker_counted: count("/marker"),
        }
    })
}

#[test]
fn reset_after_ramp_drops_what_the_ramp_requested() {
    let c = run(true);
    assert_eq!(c.marker_seen, 1, "the spawning_complete listener ran");
    assert_eq!(
        c.marker_counted, 0,
        "the listener's request came before the reset"
    );
    assert!(
        c.seen_in_ramp >= 5,
        "the ramp sent only {} requests",
        c.seen_in_ramp
    );
    assert!(c.counted > 0, "nothing counted after the ramp");
    // A request in flight when the stats were reset (one per user at most) is still counted.
    assert!(
        c.counted <= c.seen - c.seen_in_ramp + 3,
        "counted {} of {} requests, {} of them made during the ramp",
        c.counted,
        c.seen,
        c.seen_in_ramp
    );
}

#[test]
fn without_it_everything_is_counted() {
    let c = run(false);
    assert_eq!(c.marker_counted, 1);
    assert_eq!(c.counted, c.seen);
}
