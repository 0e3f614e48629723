//! The command line: each option's parsing and messages, and where its value ends up.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use log::LevelFilter;

use super::*;

#[test]
fn defaults() {
    let s = spec(&["x.rhai"]).expect("valid");
    assert_eq!(s.run.scenario_files, [PathBuf::from("x.rhai")]);
    assert_eq!(s.run.load.users, 1);
    assert_eq!(s.run.load.spawn_rate, 1.0);
    assert_eq!(s.run.load.run_time, None);
    assert_eq!(s.run.load.host, None);
    assert_eq!(s.log.level, LevelFilter::Info);
    assert_eq!(s.run.exit_code_on_error, 1);
    assert!(s.run.runner.threads >= 1);
    assert_eq!(s.run.stop_timeout, Duration::ZERO);
    assert_eq!(s.run.runner.max_jobs, 100);
    assert_eq!(s.run.outputs.html, None);
    assert!(!s.run.reset_stats_after_ramp);
    assert!(!s.run.scenario_options.equal_weights);
    let w = web(&s);
    assert_eq!(w.bind.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(w.bind.port(), 8089);
    assert!(!w.autostart);
    assert_eq!(w.autoquit, None);
    assert_eq!(w.auth, None);
    assert_eq!((w.tls.as_ref(), w.base_path.as_str()), (None, ""));
    assert!(!w.print_stats && !w.class_picker);
}

/// Every option that takes a value, once (each test adds the modes and the front end's options).
const EVERY_VALUE: &[&str] = &[
    "x.rhai",
    "Api",
    "Web",
    "-H",
    "http://localhost:8080",
    "-u",
    "100",
    "-r",
    "10",
    "-t",
    "1h30m",
    "-s",
    "5s",
    "-T",
    "a,b",
    "-T",
    "c",
    "-E",
    "slow",
    "--csv",
    "out/run",
    "--csv-full-history",
    "-L",
    "debug",
    "--exit-code-on-error",
    "3",
    "--seed",
    "42",
    "--threads",
    "2",
    "--insecure",
    "--max-coroutine-stacks",
    "64",
    "--max-background-jobs",
    "7",
    "--html",
    "out/report.html",
];

/// The web UI's options that take a value.
const WEB_VALUES: &[&str] = &[
    "--web-host",
    "*",
    "-P",
    "9000",
    "--autostart",
    "--autoquit",
    "15",
    "--web-auth",
    "admin:pw",
];

/// Every option on the command line at once, as the sources give them (the modes --list,
/// --check and --print-definitions would each end in a different command).
#[test]
fn every_option_from_the_command_line() {
    let modes = [
        "--headless",
        "--json",
        "--only-summary",
        "--list",
        "--check",
        "--dry-run",
        "--print-definitions",
    ];
    let args = [EVERY_VALUE, WEB_VALUES, &modes].concat();
    let r = raw_in(&args, &[], empty_dir().path()).expect("valid");
    assert_eq!(v(&r.scenario), Some(vec![PathBuf::from("x.rhai")]));
    assert_eq!(v(&r.user_classes), Some(vec!["Api".into(), "Web".into()]));
    assert_eq!(v(&r.host).as_deref(), Some("http://localhost:8080"));
    assert_eq!(v(&r.users), Some(100));
    assert_eq!(v(&r.spawn_rate), Some(10.0));
    assert_eq!(v(&r.run_time), Some(Duration::from_secs(5400)));
    assert_eq!(v(&r.headless), Some(true));
    assert_eq!(v(&r.stop_timeout), Some(Duration::from_secs(5)));
    assert_eq!(v(&r.tags), Some(vec!["a".into(), "b".into(), "c".into()]));
    assert_eq!(v(&r.exclude_tags), Some(vec!["slow".into()]));
    assert_eq!(v(&r.csv), Some(PathBuf::from("out/run")));
    for flag in [
        &r.csv_full_history,
        &r.json,
        &r.only_summary,
        &r.list,
        &r.check,
    ] {
        assert_eq!(v(flag), Some(true));
    }
    assert_eq!(v(&r.loglevel), Some(LevelFilter::Debug));
    assert_eq!(v(&r.exit_code_on_error), Some(3));
    assert_eq!(v(&r.seed), Some(42));
    assert_eq!(v(&r.threads), Some(2));
    assert_eq!(v(&r.insecure), Some(true));
    assert_eq!(v(&r.max_coroutine_stacks), Some(64));
    assert_eq!(v(&r.max_background_jobs), Some(7));
    assert_eq!(
        (v(&r.dry_run), v(&r.print_definitions)),
        (Some(true), Some(true))
    );
    assert_eq!(v(&r.web_host), Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    assert_eq!(v(&r.web_port), Some(9000));
    assert_eq!(v(&r.autostart), Some(true));
    assert_eq!(v(&r.autoquit), Some(Some(Duration::from_secs(15))));
    assert_eq!(v(&r.web_auth), Some(("admin".into(), "pw".into())));
    assert_eq!(v(&r.html), Some(PathBuf::from("out/report.html")));
}

/// Where each option's value ends up in the command.
#[test]
fn every_value_reaches_its_place() {
    let headless = [
        "--headless",
        "--json",
        "--only-summary",
        "--json-file",
        "s.json",
        "--logfile",
        "run.log",
        "--skip-log-setup",
        "--reset-stats",
        "--equal-weights",
    ];
    let s = spec(&[EVERY_VALUE, &headless].concat()).expect("valid");
    let run = &s.run;
    assert_eq!(run.scenario_files, [PathBuf::from("x.rhai")]);
    assert_eq!(run.scenario_options.user_classes, ["Api", "Web"]);
    assert_eq!(run.scenario_options.tags, ["a", "b", "c"]);
    assert_eq!(run.scenario_options.exclude_tags, ["slow"]);
    assert!(run.scenario_options.equal_weights);
    assert_eq!(run.load.host.as_deref(), Some("http://localhost:8080"));
    assert_eq!(run.runner.host.as_deref(), Some("http://localhost:8080"));
    assert_eq!((run.load.users, run.load.spawn_rate), (100, 10.0));
    assert_eq!(run.load.run_time, Some(Duration::from_secs(5400)));
    assert_eq!(run.stop_timeout, Duration::from_secs(5));
    assert_eq!(run.outputs.csv_prefix, Some(PathBuf::from("out/run")));
    assert!(run.outputs.csv_full_history);
    assert_eq!(run.outputs.html, Some(PathBuf::from("out/report.html")));
    assert_eq!(run.exit_code_on_error, 3);
    assert_eq!(run.runner.seed, Some(42));
    assert_eq!(run.runner.threads, 2);
    assert!(run.runner.http.insecure);
    assert_eq!(run.runner.max_stacks, Some(64));
    assert_eq!(run.runner.max_jobs, 7);
    assert!(run.reset_stats_after_ramp);
    assert_eq!(s.log.level, LevelFilter::Debug);
    assert_eq!(s.log.file, Some(PathBuf::from("run.log")));
    assert!(s.log.skip_setup);
    let c = console(&s);
    assert!(c.json && c.only_summary);
    assert_eq!(c.json_file, Some(PathBuf::from("s.json")));

    let web_flags = [
        "--web-login",
        "--print-stats",
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
        "--web-base-path",
        "/locust/",
        "--class-picker",
    ];
    let s = spec(&[EVERY_VALUE, WEB_VALUES, &web_flags].concat()).expect("valid");
    let w = web(&s);
    assert_eq!(w.bind.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(w.bind.port(), 9000);
    assert!(w.autostart);
    assert_eq!(w.autoquit, Some(Duration::from_secs(15)));
    assert_eq!(w.auth, Some(("admin".into(), "pw".into())));
    assert_eq!(
        w.full_history_csv,
        Some(PathBuf::from("out/run_stats_history.csv"))
    );
    assert!(w.print_stats && w.class_picker);
    assert_eq!(
        w.tls,
        Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
    );
    assert_eq!(w.base_path, "/locust");
}

#[test]
fn long_forms_and_locust_style_scenario_option() {
    let s = spec(&[
        "--host=https://example.com",
        "--users=5",
        "--spawn-rate=0.5",
        "--run-time=20",
        "--stop-timeout=1m",
        "--tags=x",
        "--exclude-tags=y,z",
        "--loglevel=WARNING",
        "--web-host=::1",
        "--web-port=0",
        "--html=r.html",
        "-f",
        "s.rhai",
        "Api",
    ])
    .expect("valid");
    assert_eq!(s.run.scenario_files, [PathBuf::from("s.rhai")]);
    assert_eq!(s.run.scenario_options.user_classes, vec!["Api"]);
    assert_eq!(s.run.load.host.as_deref(), Some("https://example.com"));
    assert_eq!(s.run.load.users, 5);
    assert_eq!(s.run.load.spawn_rate, 0.5);
    assert_eq!(s.run.load.run_time, Some(Duration::from_secs(20)));
    assert_eq!(s.run.stop_timeout, Duration::from_secs(60));
    assert_eq!(s.run.scenario_options.tags, vec!["x"]);
    assert_eq!(s.run.scenario_options.exclude_tags, vec!["y", "z"]);
    assert_eq!(s.log.level, LevelFilter::Warn);
    assert_eq!(web(&s).bind.ip().to_string(), "::1");
    assert_eq!(web(&s).bind.port(), 0);
    assert_eq!(s.run.outputs.html, Some(PathBuf::from("r.html")));

    // Locust's spellings: --locustfile, --hatch-rate (hidden).
    let s = spec(&["--locustfile", "l.rhai", "--hatch-rate", "3", "A", "B"]).expect("valid");
    assert_eq!(s.run.scenario_files, [PathBuf::from("l.rhai")]);
    assert_eq!(s.run.load.spawn_rate, 3.0);
    assert_eq!(s.run.scenario_options.user_classes, ["A", "B"]);
}

#[test]
fn tags_take_space_separated_lists_as_in_locust() {
    // `-T a b` is Locust's nargs="*": `b` is a tag, not a user class.
    let s = spec(&["x.rhai", "-T", "a", "b", "-E", "c", "d,e"]).expect("valid");
    assert_eq!(s.run.scenario_options.tags, ["a", "b"]);
    assert_eq!(s.run.scenario_options.exclude_tags, ["c", "d", "e"]);
    assert!(s.run.scenario_options.user_classes.is_empty());
    let s = spec(&["x.rhai", "Api", "-T", "a"]).expect("valid");
    assert_eq!(s.run.scenario_options.user_classes, ["Api"]);
    // Taking the scenario as a tag is pointed out.
    let e = err(&["-T", "slow", "x.rhai"]);
    let msg = e.to_string();
    assert!(matches!(e, OptionsError::NoScenario { .. }), "{msg}");
    assert!(
        msg.contains("`x.rhai` was read as a tag: -T takes every word"),
        "{msg}"
    );
}

#[test]
fn several_scenario_files_or_a_directory() {
    let dir = empty_dir();
    std::fs::create_dir_all(dir.path().join("sc/sub")).expect("mkdir");
    for f in [
        "sc/b.rhai",
        "sc/sub/a.rhai",
        "sc/_helper.rhai",
        "sc/notes.txt",
    ] {
        std::fs::write(dir.path().join(f), "").expect("write");
    }
    let s = spec_in(&["-f", "a.rhai,b.rhai"], &[], dir.path()).expect("a list of files");
    assert_eq!(
        s.run.scenario_files,
        [PathBuf::from("a.rhai"), PathBuf::from("b.rhai")]
    );
    // A directory stands for its .rhai files, not those of its subdirectories (imported modules
    // live there), nor those whose names start with `_`.
    let s = spec_in(&["-f", "sc"], &[], dir.path()).expect("a directory");
    assert_eq!(s.run.scenario_files, [PathBuf::from("sc/b.rhai")]);
    let s = spec_in(&["sc/sub"], &[], dir.path()).expect("one file in the directory");
    assert_eq!(s.run.scenario_files, [PathBuf::from("sc/sub/a.rhai")]);
    std::fs::create_dir(dir.path().join("empty")).expect("mkdir");
    let msg = command_in(&["-f", "empty"], &[], dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("empty holds no .rhai files"), "{msg}");
}

#[test]
fn no_scenario() {
    let e = err(&[]);
    assert!(matches!(e, OptionsError::NoScenario { .. }));
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("no scenario given"), "{e}");
    let e = err(&["-u", "5", "--headless"]);
    assert!(matches!(e, OptionsError::NoScenario { .. }));
}

#[test]
fn bad_users() {
    let msg = usage_error(&["x.rhai", "-u", "-5"]);
    assert!(msg.contains("'-5'") && msg.contains("--users"), "{msg}");
    assert!(msg.contains("cannot be negative"), "{msg}");
    let msg = usage_error(&["x.rhai", "-u", "many"]);
    assert!(
        msg.contains("'many'") && msg.contains("whole number"),
        "{msg}"
    );
    let msg = usage_error(&["x.rhai", "--users=1.5"]);
    assert!(msg.contains("whole number"), "{msg}");
    let msg = spec_env(&["x.rhai"], &[("RUSTLOCUST_USERS", "-3")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("RUSTLOCUST_USERS") && msg.contains("negative"),
        "{msg}"
    );
}

#[test]
fn bad_spawn_rate() {
    for (value, reason) in [
        ("0", "greater than 0"),
        ("-2", "greater than 0"),
        ("-0.5", "greater than 0"),
        ("NaN", "finite"),
        ("inf", "finite"),
        ("fast", "expected a number"),
    ] {
        let msg = usage_error(&["x.rhai", "-r", value]);
        assert!(msg.contains(&format!("'{value}'")), "{value}: {msg}");
        assert!(msg.contains("--spawn-rate"), "{value}: {msg}");
        assert!(msg.contains(reason), "{value}: {msg}");
    }
}

#[test]
fn bad_time_spans() {
    let msg = usage_error(&["x.rhai", "-t", "10x"]);
    assert!(
        msg.contains("--run-time") && msg.contains("unknown unit"),
        "{msg}"
    );
    let msg = usage_error(&["x.rhai", "-t", "-5"]);
    assert!(msg.contains("negative"), "{msg}");
    let msg = usage_error(&["x.rhai", "--stop-timeout", "soon"]);
    assert!(
        msg.contains("--stop-timeout") && msg.contains("not a number"),
        "{msg}"
    );
    let msg = spec_env(&["x.rhai"], &[("RUSTLOCUST_RUN_TIME", "1m1h")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("RUSTLOCUST_RUN_TIME") && msg.contains("after"),
        "{msg}"
    );
}

#[test]
fn bad_threads_loglevel_host_and_unknown_option() {
    let msg = usage_error(&["x.rhai", "--threads", "0"]);
    assert!(
        msg.contains("--threads") && msg.contains("at least 1"),
        "{msg}"
    );
    let msg = usage_error(&["x.rhai", "-L", "loud"]);
    assert!(msg.contains("error, warn, info, debug, trace"), "{msg}");
    let msg = usage_error(&["x.rhai", "-H", "localhost:8080"]);
    assert!(msg.contains("--host") && msg.contains("http://"), "{msg}");
    usage_error(&["x.rhai", "--no-such-option"]);
    usage_error(&["x.rhai", "-u"]);
}

#[test]
fn max_background_jobs() {
    assert_eq!(spec(&["x.rhai"]).expect("valid").run.runner.max_jobs, 100);
    let s = spec(&["x.rhai", "--max-background-jobs", "1"]).expect("valid");
    assert_eq!(s.run.runner.max_jobs, 1);
    let msg = usage_error(&["x.rhai", "--max-background-jobs", "0"]);
    assert!(
        msg.contains("--max-background-jobs") && msg.contains("at least 1"),
        "{msg}"
    );
    for bad in ["-3", "many", "2.5"] {
        let msg = usage_error(&["x.rhai", "--max-background-jobs", bad]);
        assert!(msg.contains(&format!("'{bad}'")), "{bad}: {msg}");
        assert!(msg.contains("whole number"), "{bad}: {msg}");
    }
    let e = spec_env(&["x.rhai"], &[("RUSTLOCUST_MAX_BACKGROUND_JOBS", "0")]).unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.exit_code(), 2);
    assert!(
        msg.contains("RUSTLOCUST_MAX_BACKGROUND_JOBS") && msg.contains("at least 1"),
        "{msg}"
    );
    let dir = with_toml("max-background-jobs = 3");
    let s = spec_in(
        &["x.rhai"],
        &[("RUSTLOCUST_MAX_BACKGROUND_JOBS", "4")],
        dir.path(),
    )
    .expect("valid");
    assert_eq!(s.run.runner.max_jobs, 4, "env beats file");
    let s = spec_in(&["x.rhai", "--max-background-jobs=5"], &[], dir.path()).expect("valid");
    assert_eq!(s.run.runner.max_jobs, 5, "command line beats file");
}
