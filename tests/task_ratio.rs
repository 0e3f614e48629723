//! `Scenario::task_ratio_text` / `task_ratio_json` (Locust's `--show-task-ratio[-json]`) print
//! exactly what Locust 2.47 prints for the same classes and tasks: the expected files in
//! tests/fixtures/task_ratio/ are Locust's output for locustfile.py there, the twin of `SRC`.
//! Class shares follow Locust's user distribution, rounding included; the web UI's `/tasks`
//! builds on the same tree with the classes' weights.

use std::path::Path;

use rustlocust::script::{LoadOptions, Scenario};

const SRC: &str = r#"
user("WebUser", #{
    host: "http://x",
    weight: 3,
    wait_time: between(1, 2),
    tasks: [
        task(taskset(#{ name: "Browse", tasks: [task("page", 3), task("stop", 1)] }), 2),
        task(sequence(#{ name: "Seq", tasks: ["a", task("b", 2)] }), 1),
        task("index", 4),
    ],
});
user("Admin", #{ host: "http://x", tasks: ["admin"] });
user("Probe", #{ host: "http://x", fixed_count: 1, tasks: ["probe"] });
fn page() {} fn stop() { interrupt(); } fn a() {} fn b() {} fn index() {} fn admin() {} fn probe() {}
"#;

fn scenario() -> Scenario {
    Scenario::from_source("s.rhai", SRC, Path::new("."), &LoadOptions::default()).unwrap()
}

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/task_ratio")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn text_matches_locust() {
    let sc = scenario();
    assert_eq!(sc.task_ratio_text(None), fixture("default.txt"));
    assert_eq!(sc.task_ratio_text(Some(0)), fixture("default.txt"));
    // 6 weighted users split 4.5 : 1.5, rounded half to even: 4 and 2.
    assert_eq!(sc.task_ratio_text(Some(7)), fixture("users_7.txt"));
}

#[test]
fn json_matches_locust() {
    let sc = scenario();
    assert_eq!(sc.task_ratio_json(None), fixture("default.json"));
    assert_eq!(sc.task_ratio_json(Some(10)), fixture("users_10.json"));
}

#[test]
fn the_web_tree_shares_classes_by_weight() {
    let v = scenario().task_ratios_by_weight().to_json();
    assert_eq!(v["per_class"]["WebUser"]["ratio"], 0.6);
    assert_eq!(
        v["per_class"]["WebUser"]["tasks"]["Browse"]["tasks"]["page"]["ratio"],
        0.75
    );
    assert_eq!(v["total"]["Admin"]["tasks"]["admin"]["ratio"], 0.2);
    assert!(v["total"]["Admin"]["tasks"]["admin"].get("tasks").is_none());
}

#[test]
fn equal_weights_show_in_the_ratios() {
    let opts = LoadOptions {
        equal_weights: true,
        ..LoadOptions::default()
    };
    let sc = Scenario::from_source("s.rhai", SRC, Path::new("."), &opts).unwrap();
    let r = sc.task_ratios(Some(5));
    let (name, web) = &r.per_class[0];
    assert_eq!(name, "WebUser");
    // Two weighted classes share the 4 users not fixed: 2 each.
    assert_eq!(web.ratio, 0.4);
    let tasks = web.tasks.as_ref().unwrap();
    let browse = &tasks[0].1;
    assert!((browse.ratio - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(browse.tasks.as_ref().unwrap()[0].1.ratio, 0.5);
}
