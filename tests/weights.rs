//! Weights are honoured: task weights 3:1 (array form `task("a", 3)` and map form `#{ a: 3, b: 1 }`)
//! give a 3:1 ratio of requests at the target within 4 sigma over thousands of picks; user class
//! weights 3:1 over 40 users give exactly 30 and 10 users (Locust's deterministic distribution),
//! and `fixed_count` classes get exactly their count, before the weighted classes.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{bin, csv, run, scenario, stats_row, Target};

const LIMIT: Duration = Duration::from_secs(40);

/// Runs a two-task scenario (`/a` and `/b`, no wait) and checks `/a` gets 3/4 of the picks.
fn check_task_ratio(tasks: &str) {
    let t = Target::start();
    let s = scenario(&format!(
        r#"user("U", #{{
    host: "{}",
    tasks: {tasks},
}});
fn a() {{ this.client.get("/a"); }}
fn b() {{ this.client.get("/b"); }}
"#,
        t.url()
    ));
    let prefix = s.dir.path().join("run");
    let mut cmd = bin();
    cmd.arg(&s.path)
        .args(["--headless", "-u", "4", "-r", "50", "-t", "3s", "--csv"])
        .arg(&prefix);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let (a, b) = (t.seen.count("/a") as f64, t.seen.count("/b") as f64);
    let n = a + b;
    assert!(n >= 2000.0, "only {n} requests: too few for the statistics");
    let p = 0.75;
    let sigma = (p * (1.0 - p) / n).sqrt();
    let share = a / n;
    eprintln!("{tasks}: /a {a}, /b {b}, share {share:.4}, sigma {sigma:.4}");
    assert!(
        (share - p).abs() <= 4.0 * sigma,
        "{tasks}: /a {a}, /b {b}: share of /a {share:.4}, expected {p} +- {:.4}",
        4.0 * sigma
    );
    // The report agrees with the target.
    let rows = csv(&prefix, "stats");
    for (path, seen) in [("/a", a as u64), ("/b", b as u64)] {
        let reported: u64 = stats_row(&rows, "GET", path).unwrap()["Request Count"]
            .parse()
            .unwrap();
        assert!(
            reported <= seen && seen <= reported + 4,
            "{path}: reported {reported}, seen {seen}"
        );
    }
}

#[test]
fn task_weights_array_form() {
    check_task_ratio(r#"[task("a", 3), task("b", 1)]"#);
}

#[test]
fn task_weights_map_form() {
    check_task_ratio("#{ a: 3, b: 1 }");
}

/// Runs `classes` (declarations using `host`); every user registers `/user/{Class}-{uuid}` in
/// `on_start` (with the stats name `/user/{Class}`). Returns distinct users per class and the
/// classes in the order their users started.
fn users_per_class(classes: &[(&str, &str)], args: &[&str]) -> (HashMap<String, u64>, Vec<String>) {
    let t = Target::start();
    let mut src = String::new();
    for (name, extra) in classes {
        src.push_str(&format!(
            r#"user("{name}", #{{
    host: "{host}",
    {extra}
    wait_time: constant(0.2),
    on_start: "hello_{name}",
    tasks: ["idle"],
}});
fn hello_{name}() {{ this.client.get(`/user/{name}-${{uuid()}}`, #{{ name: "/user/{name}" }}); }}
"#,
            host = t.url()
        ));
    }
    src.push_str("fn idle() { this.client.get(\"/idle\"); }\n");
    let s = scenario(&src);
    let prefix = s.dir.path().join("run");
    let mut cmd = bin();
    cmd.arg(&s.path)
        .arg("--headless")
        .args(args)
        .arg("--csv")
        .arg(&prefix);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);

    let mut per_class: HashMap<String, u64> = HashMap::new();
    for id in t.seen.distinct_users.lock().iter() {
        *per_class
            .entry(id.split('-').next().unwrap().to_string())
            .or_default() += 1;
    }
    let order = t
        .seen
        .log
        .lock()
        .iter()
        .filter_map(|p| p.strip_prefix("/user/"))
        .map(|id| id.split('-').next().unwrap().to_string())
        .collect();
    // The report counts one on_start request per user, like the target.
    let rows = csv(&prefix, "stats");
    for (class, n) in &per_class {
        let row = stats_row(&rows, "GET", &format!("/user/{class}")).unwrap();
        assert_eq!(row["Request Count"], n.to_string(), "class {class}");
    }
    (per_class, order)
}

fn get(m: &HashMap<String, u64>, k: &str) -> u64 {
    m.get(k).copied().unwrap_or(0)
}

#[test]
fn user_class_weights_give_exact_counts() {
    let (per_class, _) = users_per_class(
        &[("Heavy", "weight: 3,"), ("Light", "weight: 1,")],
        &["-u", "40", "-r", "100", "-t", "2s"],
    );
    assert_eq!(get(&per_class, "Heavy"), 30, "{per_class:?}");
    assert_eq!(get(&per_class, "Light"), 10, "{per_class:?}");
}

#[test]
fn fixed_count_users_come_first_and_exactly() {
    let classes = [
        ("Fixed", "fixed_count: 2,"),
        ("Heavy", "weight: 3,"),
        ("Light", "weight: 1,"),
    ];
    // 10 users: 2 fixed, then 8 weighted 3:1. Spawned slowly so the start order is visible.
    let (per_class, order) = users_per_class(&classes, &["-u", "10", "-r", "20", "-t", "2s"]);
    assert_eq!(get(&per_class, "Fixed"), 2, "{per_class:?}");
    assert_eq!(get(&per_class, "Heavy"), 6, "{per_class:?}");
    assert_eq!(get(&per_class, "Light"), 2, "{per_class:?}");
    assert_eq!(order.len(), 10);
    assert_eq!(
        order[..2],
        ["Fixed", "Fixed"],
        "fixed_count users start first: {order:?}"
    );
}

#[test]
fn fixed_count_users_take_precedence_when_users_are_few() {
    let classes = [("Heavy", "weight: 3,"), ("Fixed", "fixed_count: 2,")];
    let (per_class, _) = users_per_class(&classes, &["-u", "2", "-r", "50", "-t", "1s"]);
    assert_eq!(get(&per_class, "Fixed"), 2, "{per_class:?}");
    assert_eq!(get(&per_class, "Heavy"), 0, "{per_class:?}");
}
