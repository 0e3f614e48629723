//! Bad input is refused before anything starts: a missing or unreadable scenario, script errors
//! (syntax, no user classes, bad task weights, bad wait times, unknown functions and keys), a missing
//! or invalid host, an unknown user class on the command line and invalid option values. Each gives
//! exit code 2, a message on stderr naming what is wrong and where (`scenario.rhai:LINE:COL` for
//! script errors), and the target sees no request at all.

mod common;

use std::time::Duration;

use common::{bin, run, scenario, Target};

/// A valid scenario against `host` (two tasks, so a started run would send requests at once).
fn good(host: &str) -> String {
    format!(
        r#"user("U", #{{
    host: "{host}",
    tasks: ["a"],
}});
fn a() {{ this.client.get("/a"); }}
"#
    )
}

/// Runs `rustlocust <scenario> <args> --headless` (with `-u 2 -r 10 -t 2s` unless `args` sets
/// them) and checks the refusal: exit
/// code 2, every `needles` in stderr, and no request at the target. Returns stderr.
fn refused(
    target: &Target,
    scenario_path: &std::path::Path,
    args: &[&str],
    needles: &[&str],
) -> String {
    let mut cmd = bin();
    cmd.arg(scenario_path).args(args).arg("--headless");
    // Defaults for the options the case does not set itself.
    for (flag, value) in [("-u", "2"), ("-r", "10"), ("-t", "2s")] {
        if !args.contains(&flag) {
            cmd.args([flag, value]);
        }
    }
    let r = run(cmd, Duration::from_secs(20));
    assert_eq!(
        r.code, 2,
        "exit code for {args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    for n in needles {
        assert!(
            r.stderr.contains(n),
            "stderr should contain {n:?} for {args:?}; stderr:\n{}",
            r.stderr
        );
    }
    // Give a (wrongly) started run a moment to reach the target before counting.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        target.seen.total(),
        0,
        "the target saw requests for {args:?}; stderr:\n{}",
        r.stderr
    );
    r.stderr
}

/// A script error: the scenario source is `src` with `HOST` replaced by the target's URL.
fn script_error(src: &str, args: &[&str], needles: &[&str]) -> String {
    let t = Target::start();
    let s = scenario(&src.replace("HOST", &t.url()));
    refused(&t, &s.path, args, needles)
}

/// An option error on an otherwise good scenario.
fn option_error(args: &[&str], needles: &[&str]) -> String {
    let t = Target::start();
    let s = scenario(&good(&t.url()));
    refused(&t, &s.path, args, needles)
}

#[test]
fn missing_scenario_file() {
    let t = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_such_scenario.rhai");
    refused(&t, &path, &[], &["no_such_scenario.rhai"]);
}

#[test]
fn scenario_path_is_a_directory() {
    let t = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adir.rhai");
    std::fs::create_dir(&path).unwrap();
    refused(&t, &path, &[], &["adir.rhai"]);
}

#[test]
fn syntax_error_has_file_line_col() {
    let err = script_error(
        r#"user("U", #{ host: "HOST", tasks: ["a"] });

fn a() { let x = ; }
"#,
        &[],
        &["scenario.rhai:3:"],
    );
    // The position is the offending `;` on line 3, column 18.
    assert!(
        err.contains("scenario.rhai:3:18"),
        "expected scenario.rhai:3:18 in:\n{err}"
    );
}

#[test]
fn no_user_classes() {
    let err = script_error("let x = 1;\nfn a() { }\n", &[], &["scenario.rhai"]);
    assert!(
        err.to_lowercase().contains("no user class"),
        "stderr:\n{err}"
    );
}

#[test]
fn task_weight_zero() {
    script_error(
        r#"user("U", #{
    host: "HOST",
    tasks: [task("a", 0)],
});
fn a() { this.client.get("/a"); }
"#,
        &[],
        &["scenario.rhai:3:", "weight", "0"],
    );
}

#[test]
fn task_weight_negative() {
    script_error(
        r#"user("U", #{
    host: "HOST",
    tasks: [task("a", 2), task("b", -1)],
});
fn a() { this.client.get("/a"); }
fn b() { this.client.get("/b"); }
"#,
        &[],
        &["scenario.rhai:3:", "weight", "-1"],
    );
}

#[test]
fn task_weight_zero_in_map_form() {
    script_error(
        r#"user("U", #{
    host: "HOST",
    tasks: #{ a: 1, b: 0 },
});
fn a() { this.client.get("/a"); }
fn b() { this.client.get("/b"); }
"#,
        &[],
        &["scenario.rhai:", "weight", "'b'"],
    );
}

#[test]
fn between_min_greater_than_max() {
    script_error(
        r#"user("U", #{
    host: "HOST",
    wait_time: between(5, 1),
    tasks: ["a"],
});
fn a() { this.client.get("/a"); }
"#,
        &[],
        &["scenario.rhai:3:", "between"],
    );
}

#[test]
fn unknown_wait_function() {
    script_error(
        r#"user("U", #{
    host: "HOST",
    wait_time: poisson(1),
    tasks: ["a"],
});
fn a() { this.client.get("/a"); }
"#,
        &[],
        &["scenario.rhai:3:", "poisson"],
    );
}

#[test]
fn task_name_that_is_not_a_function() {
    script_error(
        r#"user("U", #{
    host: "HOST",
    tasks: ["a", "no_such_task"],
});
fn a() { this.client.get("/a"); }
"#,
        &[],
        &["scenario.rhai:", "no_such_task"],
    );
}

#[test]
fn unknown_key_in_user() {
    script_error(
        r#"user("U", #{
    host: "HOST",
    tasks: ["a"],
    colour: "blue",
});
fn a() { this.client.get("/a"); }
"#,
        &[],
        &["scenario.rhai:", "colour"],
    );
}

#[test]
fn no_host_and_no_dash_h() {
    // The target exists but nobody tells the scenario about it.
    let err = script_error(
        r#"user("Hostless", #{ tasks: ["a"] });
fn a() { this.client.get("/a"); }
"#,
        &[],
        &["Hostless", "host"],
    );
    assert!(
        err.contains("-H") || err.contains("--host"),
        "should point at -H/--host:\n{err}"
    );
}

#[test]
fn invalid_host_option_without_scheme() {
    option_error(&["-H", "localhost:8080"], &["localhost:8080", "--host"]);
}

#[test]
fn unknown_user_class_on_command_line() {
    option_error(&["NoSuchClass"], &["NoSuchClass"]);
}

#[test]
fn negative_users() {
    option_error(&["-u", "-5"], &["-5", "--users"]);
}

#[test]
fn zero_spawn_rate() {
    option_error(&["-r", "0"], &["'0'", "--spawn-rate"]);
}

#[test]
fn nan_spawn_rate() {
    option_error(&["-r", "NaN"], &["NaN", "--spawn-rate"]);
}

#[test]
fn bad_run_time_unit() {
    option_error(&["-t", "5x"], &["5x", "--run-time"]);
}

#[test]
fn csv_full_history_without_csv() {
    option_error(&["--csv-full-history"], &["--csv-full-history", "--csv"]);
}

/// A syntax error inside an imported module names the module's file, line and column (it used
/// to name the importing file with the module's line).
#[test]
fn syntax_error_in_an_imported_module_names_the_module() {
    let t = Target::start();
    let s = scenario(&format!("import \"helpers\" as h;\n{}", good(&t.url())));
    std::fs::write(
        s.dir.path().join("helpers.rhai"),
        "fn ok() { 1 }\n\nfn broken() { let x = ; }\n",
    )
    .unwrap();
    let err = refused(&t, &s.path, &[], &["helpers.rhai:3:23"]);
    assert!(!err.contains("scenario.rhai"), "{err}");
}

/// An endless (`/dev/zero`) or huge file given as the scenario is refused after 16 MiB, not read
/// until memory runs out.
#[test]
fn an_endless_or_huge_scenario_file_is_refused() {
    let t = Target::start();
    refused(
        &t,
        std::path::Path::new("/dev/zero"),
        &[],
        &["/dev/zero", "larger than 16 MiB"],
    );
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.rhai");
    let line = "// padding padding padding padding padding padding padding padding\n";
    std::fs::write(&big, line.repeat((17 << 20) / line.len())).unwrap();
    refused(&t, &big, &[], &["big.rhai", "larger than 16 MiB"]);
}

/// `--check` of a scenario with 20,000 functions that have parameters: Rhai's parser scanned every
/// function at every variable access (quadratic, 300 s in a debug build); now about 2 s.
#[test]
fn check_of_many_functions_is_fast() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.rhai");
    let mut src: String = (0..20_000)
        .map(|i| format!("fn f{i}(a, b) {{ let x = a + b; x * {i} }}\n"))
        .collect();
    src.push_str("fn t() {}\nuser(\"U\", #{ tasks: [t] });\n");
    std::fs::write(&path, src).unwrap();
    let started = std::time::Instant::now();
    let mut cmd = bin();
    cmd.arg(&path).arg("--check");
    let r = run(cmd, Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "--check took {took:?}");
}
