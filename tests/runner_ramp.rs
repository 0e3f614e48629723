//! The runner as a library: ramping up follows Locust's class order, lowering the user count stops
//! the most recent users (so the survivors keep Locust's mix), and stopped users stop sending.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A counting target, the scenario `src` and a runtime for the runner.
fn setup(src: &str) -> (common::Target, Arc<Scenario>, tokio::runtime::Runtime) {
    let target = common::Target::start();
    let scenario = Arc::new(
        Scenario::from_source("s.rhai", src, Path::new("."), &LoadOptions::default()).unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    (target, scenario, rt)
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn ramp_down_stops_the_most_recent_users() {
    let (target, scenario, rt) = setup(SRC);
    rt.block_on(async {
        let cfg = common::runner_config(&target.url(), 2);
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
    let (target, scenario, rt) = setup(SRC);
    rt.block_on(async {
        let cfg = RunnerConfig {
            seed: None,
            ..common::runner_config(&target.url(), 1)
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

/// Each user takes a number from the target's counter at on_start and sends it in every request,
/// so the test can tell which users of a class are still running.
const NUMBERED: &str = r#"
user("A", #{ wait_time: constant(0.05), tasks: ["a"], on_start: "take_a" });
user("B", #{ wait_time: constant(0.05), tasks: ["b"], on_start: "take_b" });
fn take_a() { this.n = this.client.get("/counter/a").text; }
fn take_b() { this.n = this.client.get("/counter/b").text; }
fn a() { this.client.get(`/a/${this.n}`); }
fn b() { this.client.get(`/b/${this.n}`); }
"#;

#[test]
fn class_counts_are_reached_at_once_and_lowered_most_recent_first() {
    let (target, scenario, rt) = setup(NUMBERED);
    rt.block_on(async {
        let cfg = common::runner_config(&target.url(), 2);
        let mut r = LocalRunner::new(scenario, cfg).unwrap();
        // A class this scenario lacks (a Locust master's extra class) is skipped.
        r.set_class_counts(&counts(&[("A", 1), ("B", 2), ("Ghost", 4)]));
        assert!(!r.is_spawning(), "absolute counts are not a ramp");
        settle(&mut r, 3).await;
        assert_eq!(r.class_counts(), counts(&[("A", 1), ("B", 2)]));
        // A's users one at a time, so A user n is the n-th spawned and took number n.
        for n in 1..=3 {
            r.set_class_counts(&counts(&[("A", n)]));
            let deadline = Instant::now() + Duration::from_secs(10);
            while target.seen.count(&format!("/a/{n}")) == 0 {
                assert!(Instant::now() < deadline, "A user {n} never ran");
                r.tick();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        assert_eq!(r.class_counts(), counts(&[("A", 3), ("B", 2)]));

        // Lowering A stops its two most recent users; B is not named and keeps its users.
        r.set_class_counts(&counts(&[("A", 1)]));
        settle(&mut r, 3).await;
        assert_eq!(r.class_counts(), counts(&[("A", 1), ("B", 2)]));
        let paths = ["/a/1", "/a/2", "/a/3", "/b/1", "/b/2"];
        let before: Vec<u64> = paths.iter().map(|p| target.seen.count(p)).collect();
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            r.tick();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let grew: Vec<bool> = paths
            .iter()
            .zip(&before)
            .map(|(p, b)| target.seen.count(p) > *b)
            .collect();
        assert_eq!(
            grew,
            [true, false, false, true, true],
            "{paths:?} still sending"
        );

        // Raising again starts only the missing users.
        r.set_class_counts(&counts(&[("A", 2), ("B", 2)]));
        settle(&mut r, 4).await;
        assert_eq!(r.class_counts(), counts(&[("A", 2), ("B", 2)]));
        r.stop(Duration::ZERO, std::future::pending()).await;
        r.shutdown().await;
    });
}
