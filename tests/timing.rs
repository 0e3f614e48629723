//! Wait times and spawn rates are honoured, measured at the target: `constant`, `constant_pacing`,
//! `constant_throughput`, `between`, `sleep()` suspending only its own user, and `-r` (whole and
//! fractional) spacing out user starts, also in `_stats_history.csv`'s User Count column.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, csv, run, scenario, Target};

/// Seconds between consecutive arrivals.
fn gaps(times: &[Instant]) -> Vec<f64> {
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect()
}

fn median(v: &[f64]) -> f64 {
    assert!(!v.is_empty(), "no intervals to take a median of");
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Offsets (s) of each distinct user's first `/user/{id}` request from the first user's.
fn first_seen_offsets(t: &Target) -> Vec<f64> {
    let mut firsts: Vec<Instant> = t
        .seen
        .times_by_path("/user/")
        .values()
        .map(|v| v[0])
        .collect();
    firsts.sort();
    let t0 = firsts[0];
    firsts.iter().map(|t| (*t - t0).as_secs_f64()).collect()
}

/// Arrival times of requests for exactly `path`.
fn at(t: &Target, path: &str) -> Vec<Instant> {
    t.seen.times_by_path(path).remove(path).unwrap_or_default()
}

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn constant_wait_spaces_requests() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.2), tasks: ["t"] });
fn t() { this.client.get("/c"); }
"#,
    );
    let r = run(cmd(&sc, &t, &["-u", "1", "-r", "1", "-t", "3s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let n = t.seen.count("/c");
    assert!(
        (10..=17).contains(&n),
        "constant(0.2) over 3 s: {n} requests, expected ~15"
    );
    let g = gaps(&at(&t, "/c"));
    let min = g.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        min >= 0.18,
        "a gap of {min:.3} s is shorter than constant(0.2): {g:?}"
    );
    let med = median(&g);
    assert!(
        (0.19..0.3).contains(&med),
        "median gap {med:.3} s, expected ~0.2: {g:?}"
    );
}

#[test]
fn constant_pacing_counts_the_task_time() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant_pacing(0.5), tasks: ["t"] });
fn t() { this.client.get("/p"); sleep(0.3); }
"#,
    );
    let r = run(cmd(&sc, &t, &["-u", "1", "-r", "1", "-t", "4s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    // Start to start is 0.5 s (2/s); waiting 0.5 s after a 0.3 s task would give 0.8 s (1.25/s).
    let n = t.seen.count("/p");
    assert!(
        (7..=9).contains(&n),
        "constant_pacing(0.5) over 4 s: {n} task starts, expected ~8"
    );
    let med = median(&gaps(&at(&t, "/p")));
    assert!(
        (0.45..0.62).contains(&med),
        "median start-to-start {med:.3} s, expected 0.5"
    );
}

#[test]
fn constant_throughput_per_user() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant_throughput(4), on_start: "hello", tasks: ["t"] });
fn hello() { this.me = uuid(); }
fn t() { this.client.get("/user/" + this.me); }
"#,
    );
    let r = run(cmd(&sc, &t, &["-u", "2", "-r", "20", "-t", "3s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let by_user = t.seen.times_by_path("/user/");
    assert_eq!(
        by_user.len(),
        2,
        "expected 2 users, saw {:?}",
        by_user.keys()
    );
    for (user, times) in &by_user {
        let n = times.len();
        assert!(
            (9..=14).contains(&n),
            "{user}: {n} tasks in 3 s at 4/s, expected ~12"
        );
        let med = median(&gaps(times));
        assert!(
            (0.22..0.31).contains(&med),
            "{user}: median gap {med:.3} s, expected 0.25"
        );
    }
}

#[test]
fn between_stays_in_range_and_varies() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: between(0.1, 0.3), tasks: ["t"] });
fn t() { this.client.get("/bw"); }
"#,
    );
    let r = run(cmd(&sc, &t, &["-u", "1", "-r", "1", "-t", "3s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let n = t.seen.count("/bw");
    assert!(
        (9..=25).contains(&n),
        "between(0.1, 0.3) over 3 s: {n} requests, expected ~15"
    );
    let g = gaps(&at(&t, "/bw"));
    let min = g.iter().copied().fold(f64::MAX, f64::min);
    let max = g.iter().copied().fold(0.0, f64::max);
    let mean = g.iter().sum::<f64>() / g.len() as f64;
    assert!(min >= 0.09, "gap {min:.3} s below the 0.1 s minimum: {g:?}");
    assert!(
        max <= 0.45,
        "gap {max:.3} s far above the 0.3 s maximum: {g:?}"
    );
    assert!(
        (0.15..0.27).contains(&mean),
        "mean gap {mean:.3} s, expected ~0.2: {g:?}"
    );
    assert!(
        max - min >= 0.05,
        "gaps do not vary (min {min:.3}, max {max:.3}): {g:?}"
    );
}

#[test]
fn sleep_suspends_only_the_calling_user() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("Sleeper", #{ fixed_count: 1, tasks: ["nap"] });
user("Busy", #{ fixed_count: 1, tasks: ["busy"] });
fn nap() { this.client.get("/a"); sleep(1); this.client.get("/a2"); sleep(0.5); }
fn busy() { this.client.get("/b"); }
"#,
    );
    let r = run(
        cmd(
            &sc,
            &t,
            &["--threads", "1", "-u", "2", "-r", "20", "-t", "3s"],
        ),
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let (a, a2) = (at(&t, "/a"), at(&t, "/a2"));
    assert!(
        !a.is_empty() && !a2.is_empty(),
        "sleeper: /a {a:?}, /a2 {a2:?}"
    );
    let slept = (a2[0] - a[0]).as_secs_f64();
    assert!((0.95..1.5).contains(&slept), "sleep(1) took {slept:.3} s");
    if a.len() > 1 {
        let slept = (a[1] - a2[0]).as_secs_f64();
        assert!((0.45..1.0).contains(&slept), "sleep(0.5) took {slept:.3} s");
    }
    let b = at(&t, "/b");
    assert!(
        b.len() >= 200,
        "busy user made only {} requests in 3 s",
        b.len()
    );
    let during = b.iter().filter(|x| **x > a[0] && **x < a2[0]).count();
    assert!(
        during >= 100,
        "busy user made only {during} requests while the sleeper slept 1 s on the same thread"
    );
}

#[test]
fn spawn_rate_spaces_user_starts() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.1), on_start: "hello", tasks: ["t"] });
fn hello() { this.me = uuid(); }
fn t() { this.client.get("/user/" + this.me); }
"#,
    );
    let prefix = sc.dir.path().join("run");
    let r = run(
        cmd(
            &sc,
            &t,
            &[
                "-u",
                "10",
                "-r",
                "5",
                "-t",
                "4s",
                "--csv",
                prefix.to_str().unwrap(),
            ],
        ),
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let off = first_seen_offsets(&t);
    assert_eq!(off.len(), 10, "distinct users seen: {off:?}");
    // User k starts at k / 5 s: the 5th at 0.8 s, the 10th at 1.8 s.
    assert!(
        (0.5..1.3).contains(&off[4]),
        "5th user started at {:.2} s: {off:?}",
        off[4]
    );
    assert!(
        (1.4..2.6).contains(&off[9]),
        "10th user started at {:.2} s: {off:?}",
        off[9]
    );

    let hist = csv(&prefix, "stats_history");
    let col = hist[0]
        .iter()
        .position(|h| h == "User Count")
        .expect("User Count column");
    let counts: Vec<u64> = hist[1..].iter().map(|r| r[col].parse().unwrap()).collect();
    assert!(counts.len() >= 3, "history rows: {counts:?}");
    assert!((3..=8).contains(&counts[0]), "users after ~1 s: {counts:?}");
    assert_eq!(
        counts.iter().max(),
        Some(&10),
        "never reached 10 users: {counts:?}"
    );
    let running = &counts[..counts.len() - 1];
    assert!(
        running.windows(2).all(|w| w[0] <= w[1]),
        "user count went down while ramping: {counts:?}"
    );
}

#[test]
fn fractional_spawn_rate() {
    let t = Target::start();
    let sc = scenario(
        r#"
user("U", #{ wait_time: constant(0.2), on_start: "hello", tasks: ["t"] });
fn hello() { this.me = uuid(); }
fn t() { this.client.get("/user/" + this.me); }
"#,
    );
    let r = run(cmd(&sc, &t, &["-u", "3", "-r", "0.5", "-t", "6s"]), LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    let off = first_seen_offsets(&t);
    assert_eq!(off.len(), 3, "distinct users seen: {off:?}");
    // One user every 2 s.
    assert!(
        (1.6..2.7).contains(&off[1]),
        "2nd user started at {:.2} s: {off:?}",
        off[1]
    );
    assert!(
        (3.6..4.8).contains(&off[2]),
        "3rd user started at {:.2} s: {off:?}",
        off[2]
    );
}
