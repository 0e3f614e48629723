//! A scenario made of several files (Locust's `-f a.py,b.py` and `-f dir/`): the classes of all
//! files are merged, each file's functions, constants and listeners resolve within that file, a
//! class declared in two files is refused naming both places, and `--equal-weights` flattens the
//! weights. Library-level checks first, then the real binary given a directory.

mod common;

use std::path::Path;
use std::time::Duration;

use common::scenario_dir::scenario_dir;
use common::{bin, headless, run, Target};
use rustlocust::script::{self, LoadOptions, Scenario, Source, TaskKind};

const LIMIT: Duration = Duration::from_secs(40);

fn source(file: &str, src: &str) -> Source {
    Source {
        file: file.into(),
        src: src.into(),
        dir: Path::new(".").to_path_buf(),
    }
}

fn load(files: &[(&str, &str)], opts: &LoadOptions) -> Result<Scenario, String> {
    let sources: Vec<Source> = files.iter().map(|(f, s)| source(f, s)).collect();
    Scenario::from_sources(&sources, opts).map_err(|e| e.to_string())
}

/// Call the first task of class `name` (a plain function that does not wait) and return its value.
fn first_task(sc: &Scenario, name: &str) -> String {
    let class = sc
        .classes
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no class {name}"));
    let TaskKind::Fn(cb) = &class.tasks.tasks[0].kind else {
        panic!("{name}'s first task is a set");
    };
    let mut this = script::new_this();
    let out = sc.call(cb, Some(&mut this), Vec::new());
    out.map(|v| v.to_string())
        .unwrap_or_else(|e| panic!("calling {name}'s task: {e}"))
}

const A: &str = r#"
const WHO = "a";
user("UserA", #{ tasks: ["index"], weight: 3 });
fn index() { helper() + "/" + global::WHO }
fn helper() { "index of a" }
"#;

const B: &str = r#"
const WHO = "b";
user("UserB", #{ tasks: [task("index", 5), "other"] });
fn index() { helper() + "/" + global::WHO }
fn helper() { "index of b" }
fn other() { "other" }
"#;

#[test]
fn classes_merge_and_each_file_resolves_its_own_functions_and_constants() {
    let sc = load(&[("a.rhai", A), ("b.rhai", B)], &LoadOptions::default()).unwrap();
    let names: Vec<&str> = sc.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["UserA", "UserB"]);
    assert_eq!(first_task(&sc, "UserA"), "index of a/a");
    assert_eq!(first_task(&sc, "UserB"), "index of b/b");
    assert_eq!(sc.file, "a.rhai,b.rhai");
    assert_eq!(sc.files().collect::<Vec<_>>(), ["a.rhai", "b.rhai"]);
}

#[test]
fn a_class_declared_in_two_files_is_refused_naming_both_places() {
    let err = load(
        &[
            ("a.rhai", A),
            (
                "b.rhai",
                "fn x() {}\nuser(\"UserA\", #{ tasks: [\"x\"] });\n",
            ),
        ],
        &LoadOptions::default(),
    )
    .err()
    .unwrap_or_default();
    assert!(err.starts_with("b.rhai:2:1:"), "{err}");
    assert!(err.contains("'UserA' is declared twice"), "{err}");
    assert!(err.contains("first at a.rhai:3:1"), "{err}");
}

#[test]
fn a_task_of_another_file_is_not_found() {
    // b's class names a function only a.rhai defines: files do not see each other's functions.
    let err = load(
        &[
            ("a.rhai", A),
            ("b.rhai", "user(\"UserB\", #{ tasks: [\"helper\"] });\n"),
        ],
        &LoadOptions::default(),
    )
    .err()
    .unwrap_or_default();
    assert!(err.starts_with("b.rhai:1:1:"), "{err}");
    assert!(
        err.contains("'helper' is not a function defined in the scenario"),
        "{err}"
    );
}

#[test]
fn errors_name_the_file_they_are_in() {
    let err = load(
        &[("a.rhai", A), ("b.rhai", "let x = ;")],
        &LoadOptions::default(),
    )
    .err()
    .unwrap_or_default();
    assert!(err.starts_with("b.rhai:1:9: Syntax error"), "{err}");
    let err = load(
        &[("a.rhai", "let x = 1;"), ("b.rhai", "fn f() {}")],
        &LoadOptions::default(),
    )
    .err()
    .unwrap_or_default();
    assert!(err.starts_with("a.rhai,b.rhai: no user classes"), "{err}");
    let err = Scenario::from_sources(&[], &LoadOptions::default())
        .err()
        .map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("no scenario file given"));
}

#[test]
fn equal_weights_give_every_class_and_task_weight_one() {
    let nested = r#"
user("N", #{ weight: 7, tasks: [task("x", 4), task(taskset(#{ name: "Inner", tasks: [task("y", 9), "z"] }), 2)] });
fn x() {} fn y() {} fn z() {}
"#;
    let files = [("a.rhai", A), ("b.rhai", B), ("n.rhai", nested)];
    let plain = load(&files, &LoadOptions::default()).unwrap();
    assert!(
        plain.describe().contains("weight 3 (27.3%)"),
        "{}",
        plain.describe()
    );
    let opts = LoadOptions {
        equal_weights: true,
        ..LoadOptions::default()
    };
    let sc = load(&files, &opts).unwrap();
    assert!(sc.classes.iter().all(|c| c.weight == 1.0));
    let list = sc.describe();
    assert!(list.contains("UserA  weight 1 (33.3%)"), "{list}");
    // Task lines: label, weight, share of the parent. Every set here has one or two tasks.
    for task in ["index", "other", "x", "Inner", "y", "z"] {
        let lines: Vec<&str> = list
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("{task} ")))
            .collect();
        assert!(!lines.is_empty(), "no line for {task} in\n{list}");
        for line in lines {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols[1], "1", "{line}");
            assert!(cols[2] == "50.0%" || cols[2] == "100.0%", "{line}");
        }
    }
}

#[test]
fn the_binary_runs_a_directory_with_listeners_across_files() {
    let t = Target::start();
    let a = r#"
const WHO = "a";
let ping = event("ping");
user("UserA", #{ host: "HOST", tasks: ["index"], wait_time: constant(0.05) });
fn index() { this.client.get("/a/" + global::WHO); fire("ping", #{ from: global::WHO }); }
on("ping", |e| client().get("/ping/" + e.from + "/heard-by-a"));
"#;
    let b = r#"
const WHO = "b";
user("UserB", #{ host: "HOST", tasks: ["index"], wait_time: constant(0.05) });
fn index() { this.client.get("/b/" + global::WHO); }
on("ping", |e| client().get("/ping/" + e.from + "/heard-by-" + WHO));
on("test_start", |e| client().get("/test_start/heard-by-b"));
"#;
    let (a, b) = (a.replace("HOST", &t.url()), b.replace("HOST", &t.url()));
    let sc = scenario_dir(&[
        ("a.rhai", &a),
        ("b.rhai", &b),
        ("_private.rhai", "this would not compile"),
        ("lib/nested.rhai", "neither would this"),
    ]);
    let r = run(
        headless(&sc, &t, &["-u", "2", "-r", "100", "-t", "2s"]),
        LIMIT,
    );
    assert_eq!(r.code, 0, "{}", r.all());
    for path in ["/a/a", "/b/b", "/ping/a/heard-by-a", "/ping/a/heard-by-b"] {
        assert!(t.seen.count(path) > 0, "{path} not requested:\n{}", r.all());
    }
    assert_eq!(t.seen.count("/test_start/heard-by-b"), 1);

    let mut check = bin();
    check.arg(&sc.path).arg("--check");
    let r = run(check, LIMIT);
    let files = format!(
        "{},{}",
        sc.path.join("a.rhai").display(),
        sc.path.join("b.rhai").display()
    );
    assert!(r.stdout.contains(&format!("{files}: OK")), "{}", r.all());
}

#[test]
fn the_binary_refuses_a_class_declared_in_two_files_and_an_empty_directory() {
    let one = "user(\"Same\", #{ tasks: [\"t\"] });\nfn t() {}\n";
    let sc = scenario_dir(&[("a.rhai", one), ("b.rhai", one)]);
    let mut cmd = bin();
    cmd.arg(&sc.path).arg("--check");
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 2, "{}", r.all());
    let (a, b) = (sc.path.join("a.rhai"), sc.path.join("b.rhai"));
    assert!(
        r.stderr.contains(&format!("{}:1:1:", b.display())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("first at {}:1:1", a.display())),
        "{}",
        r.stderr
    );

    let empty = scenario_dir(&[("_only.rhai", one), ("notes.txt", "")]);
    let mut cmd = bin();
    cmd.arg(&empty.path).arg("--check");
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "no .rhai scenario files in directory '{}'",
            empty.path.display()
        )),
        "{}",
        r.stderr
    );
}
