//! The runner as a library: ramping up follows Locust's class order, lowering the user count stops
//! the most recent users (so the survivors keep Locust's mix), and stopped users stop sending.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustlocust::http::HttpConfig;
use rustlocust::runner::{LocalRunner, RunnerConfig};
use rustlocust::script::{LoadOptions, Scenario};

const SRC: &str = r#"
user("A", #{ weight: 3, wait_time: constant(0.05), tasks: ["a"] });
user("B", #{ weight: 1, wait_time: constant(0.05), tasks: ["b"] });
fn a() { this.client.get("/a"); }
fn b() { this.client.get("/b"); }
"#;

async fn settle(r: &mut LocalRunner, users: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.user_count() != users || r.is_spawning() {
        assert!(
            Instant::now() < deadline,
            "never reached {users} users (at {})",
            r.user_count()
        );
        r.tick();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn ramp_down_stops_the_most_recent_users() {
    let target = common::Target::start();
    let scenario = Arc::new(
        Scenario::from_source("s.rhai", SRC, Path::new("."), &LoadOptions::default()).unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cfg = RunnerConfig {
            threads: 2,
            http: HttpConfig::default(),
            seed: Some(1),
            max_stacks: None,
            host: Some(target.url()),
            max_jobs: 100,
            user_classes: Vec::new(),
            stats: None,
            windows: Vec::new(),
        };
        let mut r = LocalRunner::new(scenario, cfg).unwrap();
        r.set_target(8, 1000.0);
        settle(&mut r, 8).await;
        // Locust's order for weights 3:1 is ABAAABAA: 6 A, 2 B.
        assert_eq!(r.class_counts(), counts(&[("A", 6), ("B", 2)]));

        r.set_target(3, 1000.0);
        settle(&mut r, 3).await;
        // The survivors are the first three spawned: A B A.
        assert_eq!(r.class_counts(), counts(&[("A", 2), ("B", 1)]));

        // Both classes keep running after the ramp-down.
        let (a0, b0) = (target.seen.count("/a"), target.seen.count("/b"));
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            r.tick();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(target.seen.count("/a") > a0 && target.seen.count("/b") > b0);

        r.stop(Duration::ZERO, std::future::pending()).await;
        r.shutdown().await;
        // Nothing is sent once every user has stopped.
        let after = target.seen.total();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(target.seen.total(), after);
    });
}

#[test]
fn fractional_spawn_rate_spaces_users_out() {
    let target = common::Target::start();
    let scenario = Arc::new(
        Scenario::from_source("s.rhai", SRC, Path::new("."), &LoadOptions::default()).unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cfg = RunnerConfig {
            threads: 1,
            http: HttpConfig::default(),
            seed: None,
            max_stacks: None,
            host: Some(target.url()),
            max_jobs: 100,
            user_classes: Vec::new(),
            stats: None,
            windows: Vec::new(),
        };
        let mut r = LocalRunner::new(scenario, cfg).unwrap();
        let started = Instant::now();
        r.set_target(3, 2.5); // one at once, then one every 0.4 s
        settle(&mut r, 3).await;
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(700),
            "3 users at 2.5/s took only {took:?}"
        );
        assert!(
            took < Duration::from_secs(3),
            "3 users at 2.5/s took {took:?}"
        );
        r.stop(Duration::ZERO, std::future::pending()).await;
        r.shutdown().await;
    });
}
