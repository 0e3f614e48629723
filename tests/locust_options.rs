//! Locust's ways of passing options, against the real binary: a Locust-style `locust.conf`,
//! `pyproject.toml`'s `[tool.locust]`, `LOCUST_*` variables and flags together, with Locust's
//! precedence (a short headless run counts the users the target saw); warnings for unknown keys
//! and variables; refusals (exit 2) for Locust options rustlocust does not have and for wrong
//! values, naming where they came from.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{bin, run, scenario, Run, Target};

const LIMIT: Duration = Duration::from_secs(40);

/// Each user fetches `/user/<its id>` once, so the target counts the users.
fn one_request_per_user() -> common::Scenario {
    scenario(
        "user(\"U\", #{ wait_time: constant(1), on_start: \"hello\", tasks: [\"idle\"] });\n\
         fn hello() { this.client.get(`/user/${uuid()}`); }\nfn idle() {}\n",
    )
}

fn in_dir(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut cmd = bin();
    cmd.current_dir(dir).args(args).envs(vars.iter().copied());
    run(cmd, LIMIT)
}

#[test]
fn locust_conf_then_locust_env_then_flags() {
    let t = Target::start();
    let s = one_request_per_user();
    std::fs::write(
        s.dir.path().join("locust.conf"),
        format!(
            "# a Locust user's file\nlocustfile = scenario.rhai\nheadless = true\nusers = 9\n\
             spawn-rate = 50\nrun-time = 1s\nhost = {}\nonly-summary\n",
            t.url()
        ),
    )
    .unwrap();
    let users_seen = |args: &[&str], vars: &[(&str, &str)]| {
        t.seen.distinct_users.lock().clear();
        let r = in_dir(s.dir.path(), args, vars);
        assert_eq!(r.code, 0, "{args:?} {vars:?}: stderr:\n{}", r.stderr);
        t.seen.distinct_users.lock().len()
    };
    assert_eq!(users_seen(&[], &[]), 9, "users = 9 from locust.conf");
    assert_eq!(
        users_seen(&[], &[("LOCUST_USERS", "3")]),
        3,
        "LOCUST_USERS beats the file"
    );
    let both = [("LOCUST_USERS", "3"), ("RUSTLOCUST_USERS", "4")];
    assert_eq!(
        users_seen(&[], &both),
        4,
        "RUSTLOCUST_USERS beats LOCUST_USERS"
    );
    assert_eq!(
        users_seen(&["-u", "2"], &both),
        2,
        "the command line beats both"
    );
}

#[test]
fn pyproject_and_locustfile_variable_choose_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    for (file, class) in [("a.rhai", "FromPyproject"), ("b.rhai", "FromVariable")] {
        let src = format!("user(\"{class}\", #{{ tasks: [\"t\"] }});\nfn t() {{}}\n");
        std::fs::write(dir.path().join(file), src).unwrap();
    }
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n\n[tool.locust]\nlocustfile = \"a.rhai\"\n",
    )
    .unwrap();
    let r = in_dir(dir.path(), &["--list"], &[]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(r.stdout.contains("FromPyproject"), "{}", r.stdout);
    let r = in_dir(dir.path(), &["--list"], &[("LOCUST_LOCUSTFILE", "b.rhai")]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(r.stdout.contains("FromVariable"), "{}", r.stdout);
}

#[test]
fn unknown_keys_and_variables_are_warnings() {
    let s = one_request_per_user();
    std::fs::write(s.dir.path().join("locust.conf"), "usres = 5\n").unwrap();
    let r = in_dir(
        s.dir.path(),
        &["scenario.rhai", "--check"],
        &[("LOCUST_SPAWN_RATTE", "2")],
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(r.stdout.contains("scenario.rhai: OK"), "{}", r.stdout);
    for warning in [
        "warning: `usres` in ./locust.conf line 1 is not an option rustlocust knows; ignored (did you mean `users`?)",
        "warning: environment variable LOCUST_SPAWN_RATTE is not an option rustlocust knows; ignored (did you mean LOCUST_SPAWN_RATE?)",
    ] {
        assert!(r.stderr.contains(warning), "{warning}\nstderr:\n{}", r.stderr);
    }
}

/// Extra arguments, variables, and the message expected on stderr.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn refusals_exit_2_and_name_the_source() {
    let t = Target::start();
    let s = one_request_per_user();
    let path = s.path.to_str().unwrap();
    let host = t.url();
    let base = [path, "--headless", "-t", "1s", "-H", host.as_str()];
    let cases: [Case; 4] = [
        (
            &["--profile", "p"],
            &[],
            "error: --profile is a Locust option rustlocust does not support",
        ),
        (
            &[],
            &[("LOCUST_ENABLE_OPENTELEMETRY", "true")],
            "error: environment variable LOCUST_ENABLE_OPENTELEMETRY: --otel is a Locust option rustlocust does not support",
        ),
        (
            &[],
            &[("LOCUST_USERS", "many")],
            "error: invalid value \"many\" for --users from environment variable LOCUST_USERS",
        ),
        (
            &["--config", "bad.conf"],
            &[],
            "error: invalid value \"soon\" for `run-time` in bad.conf line 2",
        ),
    ];
    std::fs::write(
        s.dir.path().join("bad.conf"),
        "users = 1\nrun-time = soon\n",
    )
    .unwrap();
    for (args, vars, message) in cases {
        let r = in_dir(s.dir.path(), &[&base[..], args].concat(), vars);
        assert_eq!(r.code, 2, "{args:?} {vars:?}: stderr:\n{}", r.stderr);
        assert!(
            r.stderr.contains(message),
            "{message}\nstderr:\n{}",
            r.stderr
        );
    }
    assert_eq!(t.seen.total(), 0, "nothing was started");
}
