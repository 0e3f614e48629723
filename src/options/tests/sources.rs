//! The environment and the config files: each format's values and errors, and the precedence
//! between all sources.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;

use super::*;
use crate::options::defs::def;
use crate::options::env;
use crate::options::error::{Source, Warning};
use crate::options::files::{from_text, ConfigFile};
use crate::options::spec::html_path;

fn file_layer(text: &str) -> Result<Raw, OptionsError> {
    let file = ConfigFile::given(Path::new("/cfg/rustlocust.toml"));
    from_text(&file, text).map(|l| l.expect("a rustlocust TOML file").raw)
}

fn env_layer(pairs: &[(&str, &str)]) -> Result<Raw, OptionsError> {
    env::read(&super::env(pairs)).map(|l| l.ours)
}

/// A value as the command line would give it.
fn g<T>(value: T) -> Option<Given<T>> {
    Some(Given {
        value,
        source: Source::CommandLine,
    })
}

fn warnings_in(args: &[&str], vars: &[(&str, &str)], cwd: &Path) -> Vec<String> {
    let parsed = parse_in(args, vars, cwd).expect("valid");
    parsed.warnings.iter().map(ToString::to_string).collect()
}

/// Every option from the environment and from rustlocust.toml is in `table.rs`
/// (`every_option_from_every_source`); these are the spellings only those sources have.
#[test]
fn environment_spellings() {
    let s = spec_env(
        &["x.rhai", "--csv", "p"],
        &[
            ("RUSTLOCUST_HEADLESS", "on"),
            ("RUSTLOCUST_JSON", "yes"),
            ("RUSTLOCUST_ONLY_SUMMARY", "1"),
            ("RUSTLOCUST_CSV_FULL_HISTORY", "TRUE"),
            ("RUSTLOCUST_USERS", "12"),
            ("RUSTLOCUST_STOP_TIMEOUT", "10"),
            ("RUSTLOCUST_USER_CLASSES", "A B"),
            ("RUSTLOCUST_WEB_HOST", "localhost"),
            ("RUSTLOCUST_HTML", "env_{u}.html"),
        ],
    )
    .expect("valid");
    let c = console(&s);
    assert!(c.json && c.only_summary && s.run.outputs.csv_full_history);
    assert_eq!(s.run.stop_timeout, Duration::from_secs(10));
    assert_eq!(s.run.scenario_options.user_classes, ["A", "B"]);
    assert_eq!(s.run.outputs.html, Some(PathBuf::from("env_12.html")));
    let r = env_layer(&[
        ("RUSTLOCUST_AUTOQUIT", "0"),
        ("RUSTLOCUST_WEB_HOST", "localhost"),
    ])
    .expect("valid");
    assert_eq!(v(&r.autoquit), Some(Some(Duration::ZERO)));
    assert_eq!(v(&r.web_host), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
}

#[test]
fn precedence_file_then_env_then_command_line() {
    let dir = with_toml(
        "scenario = \"file.rhai\"\nusers = 1\nspawn-rate = 1\nrun-time = \"1m\"\n\
         tags = [\"f\"]\nheadless = true",
    );
    let vars = [
        ("RUSTLOCUST_USERS", "2"),
        ("RUSTLOCUST_SPAWN_RATE", "2"),
        ("RUSTLOCUST_HEADLESS", "false"),
    ];
    let s = spec_in(&["-u", "3"], &vars, dir.path()).expect("valid");
    assert_eq!(s.run.load.users, 3, "command line beats env and file");
    assert_eq!(s.run.load.spawn_rate, 2.0, "env beats file");
    assert!(
        matches!(s.ui, Ui::Web(_)),
        "an explicit false in env beats the file"
    );
    assert_eq!(
        s.run.load.run_time,
        Some(Duration::from_secs(60)),
        "file beats default"
    );
    assert_eq!(s.run.scenario_options.tags, vec!["f"]);
    assert_eq!(s.run.scenario_files, [PathBuf::from("file.rhai")]);

    let s = spec_in(
        &["cli.rhai", "-T", "c"],
        &[("RUSTLOCUST_SCENARIO", "env.rhai")],
        dir.path(),
    )
    .expect("valid");
    assert_eq!(s.run.scenario_files, [PathBuf::from("cli.rhai")]);
    assert_eq!(
        s.run.scenario_options.tags,
        vec!["c"],
        "lists are replaced, not merged"
    );

    let s = spec_in(&[], &[("RUSTLOCUST_SCENARIO", "env.rhai")], dir.path()).expect("valid");
    assert_eq!(s.run.scenario_files, [PathBuf::from("env.rhai")]);
}

/// Every file and variable prefix at once: each source sets `users` and one value of its own;
/// the users come from the highest, every other value from its source.
#[test]
fn precedence_of_all_sources_as_locust_documents_it() {
    let home = empty_dir();
    std::fs::write(
        home.path().join(".locust.conf"),
        "users = 1\nstop-timeout = 1\n",
    )
    .expect("w");
    let dir = empty_dir();
    let files = [
        ("locust.conf", "users = 2\nexit-code-on-error = 2\n"),
        (
            "pyproject.toml",
            "[tool.other]\nx = 1\n[tool.locust]\nusers = 3\nseed = 3\n",
        ),
        ("rustlocust.toml", "users = 4\nthreads = 4\n"),
        ("extra.conf", "users = 5\nmax-background-jobs = 5\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let home_var = home.path().to_str().expect("utf-8 temp dir");
    let mut vars = vec![
        ("HOME", home_var),
        ("LOCUST_USERS", "6"),
        ("LOCUST_RUN_TIME", "6s"),
        ("RUSTLOCUST_USERS", "7"),
        ("RUSTLOCUST_SPAWN_RATE", "7"),
    ];
    let users = |args: &[&str], vars: &[(&str, &str)]| {
        spec_in(args, vars, dir.path())
            .expect("valid")
            .run
            .load
            .users
    };
    let base = ["x.rhai", "--config", "extra.conf"];
    assert_eq!(users(&[&base[..], &["-u", "8"]].concat(), &vars), 8);
    let s = spec_in(&base, &vars, dir.path()).expect("valid");
    assert_eq!(s.run.load.users, 7);
    assert_eq!(s.run.stop_timeout, Duration::from_secs(1), "~/.locust.conf");
    assert_eq!(s.run.exit_code_on_error, 2, "./locust.conf");
    assert_eq!(s.run.runner.seed, Some(3), "pyproject.toml");
    assert_eq!(s.run.runner.threads, 4, "rustlocust.toml");
    assert_eq!(s.run.runner.max_jobs, 5, "--config");
    assert_eq!(
        s.run.load.run_time,
        Some(Duration::from_secs(6)),
        "LOCUST_*"
    );
    assert_eq!(s.run.load.spawn_rate, 7.0, "RUSTLOCUST_*");
    vars.retain(|(k, _)| *k != "RUSTLOCUST_USERS");
    assert_eq!(users(&base, &vars), 6);
    vars.retain(|(k, _)| *k != "LOCUST_USERS");
    assert_eq!(users(&base, &vars), 5);
    assert_eq!(users(&["x.rhai"], &vars), 4);
    std::fs::remove_file(dir.path().join("rustlocust.toml")).expect("rm");
    assert_eq!(users(&["x.rhai"], &vars), 3);
    std::fs::remove_file(dir.path().join("pyproject.toml")).expect("rm");
    assert_eq!(users(&["x.rhai"], &vars), 2);
    std::fs::remove_file(dir.path().join("locust.conf")).expect("rm");
    assert_eq!(users(&["x.rhai"], &vars), 1);
}

#[test]
fn explicit_config_file_from_option_or_env() {
    let dir = empty_dir();
    std::fs::create_dir(dir.path().join("cfg")).expect("mkdir");
    std::fs::write(dir.path().join("cfg/a.toml"), "scenario = \"a.rhai\"").expect("write");
    std::fs::write(
        dir.path().join("rustlocust.toml"),
        "scenario = \"default.rhai\"",
    )
    .expect("write");
    let scenario = |args: &[&str], vars: &[(&str, &str)]| {
        spec_in(args, vars, dir.path())
            .expect("valid")
            .run
            .scenario_files
            .remove(0)
    };
    assert_eq!(
        scenario(&["--config", "cfg/a.toml"], &[]),
        PathBuf::from("a.rhai")
    );
    let vars = [("RUSTLOCUST_CONFIG", "cfg/a.toml")];
    assert_eq!(scenario(&[], &vars), PathBuf::from("a.rhai"));
    assert_eq!(scenario(&[], &[]), PathBuf::from("default.rhai"));

    let e = spec_in(&["x.rhai", "--config", "missing.toml"], &[], dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, OptionsError::ReadConfig { .. }), "{msg}");
    assert!(msg.contains("missing.toml"), "{msg}");
}

#[test]
fn config_file_in_locust_formats() {
    let dir = empty_dir();
    std::fs::write(
        dir.path().join("run.conf"),
        "# Locust's master.conf\nlocustfile = a.rhai\nheadless\nusers: 50\n\
         spawn-rate 5\ntags = [x, y]\n--run-time=1m\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("locust.toml"),
        "[tool.locust]\nlocustfile = \"b.rhai\"\nusers = 7\nheadless = true\n\
         exclude-tags = [\"slow\"]\n",
    )
    .expect("write");
    let s = spec_in(&["--config", "run.conf"], &[], dir.path()).expect("valid");
    assert_eq!(s.run.scenario_files, [PathBuf::from("a.rhai")]);
    assert_eq!((s.run.load.users, s.run.load.spawn_rate), (50, 5.0));
    assert_eq!(s.run.scenario_options.tags, ["x", "y"]);
    assert_eq!(s.run.load.run_time, Some(Duration::from_secs(60)));
    console(&s);
    let s = spec_in(&["--config", "locust.toml"], &[], dir.path()).expect("valid");
    assert_eq!(s.run.scenario_files, [PathBuf::from("b.rhai")]);
    assert_eq!(s.run.load.users, 7);
    assert_eq!(s.run.scenario_options.exclude_tags, ["slow"]);
    console(&s);
}

#[test]
fn wrong_values_name_their_source() {
    let dir = dir_with("locust.conf", "# c\nhost = http://h\nusers = many\n");
    let msg = command_in(&["x.rhai"], &[], dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`users` in ./locust.conf line 3"), "{msg}");
    assert!(msg.contains("whole number"), "{msg}");
    let dir = dir_with("pyproject.toml", "[tool.locust]\n\nheadless = 3\n");
    let msg = command_in(&["x.rhai"], &[], dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`headless` in ./pyproject.toml line 3"),
        "{msg}"
    );
    assert!(msg.contains("true or false"), "{msg}");
    let e = command_in(&["x.rhai"], &[("LOCUST_USERS", "x")], empty_dir().path()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("--users from environment variable LOCUST_USERS"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), 2);
    let dir = with_toml("\n\nusers = \"x\"\n");
    let msg = command_in(&["x.rhai"], &[], dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("./rustlocust.toml line 3: `users` must be an integer"),
        "{msg}"
    );
}

#[test]
fn unknown_keys_and_variables_are_warned_about() {
    let dir = dir_with(
        "locust.conf",
        "usres = 5\nmy-plugin-option = 1\nconfig = x.conf\n",
    );
    let warnings = warnings_in(
        &["x.rhai"],
        &[
            ("LOCUST_USRES", "1"),
            ("RUSTLOCUST_SPAWNRATE", "1"),
            ("LOCUST_JSON", "true"),
            ("LOCUSTS_IGNORED", "1"),
            ("LOCUST_USERS", ""),
        ],
        dir.path(),
    );
    let expected = [
        "environment variable LOCUST_JSON is not an option rustlocust knows; ignored (did you mean RUSTLOCUST_JSON?)",
        "environment variable LOCUST_USRES is not an option rustlocust knows; ignored (did you mean LOCUST_USERS?)",
        "environment variable RUSTLOCUST_SPAWNRATE is not an option rustlocust knows; ignored (did you mean RUSTLOCUST_SPAWN_RATE?)",
        "`usres` in ./locust.conf line 1 is not an option rustlocust knows; ignored (did you mean `users`?)",
        "`my-plugin-option` in ./locust.conf line 2 is not an option rustlocust knows; ignored",
        "`config` in ./locust.conf line 3 has no effect in a config file (use --config FILE or RUSTLOCUST_CONFIG); ignored",
    ];
    assert_eq!(warnings, expected);
    // In rustlocust's own file an unknown key stays an error.
    let dir = with_toml("usres = 5");
    let e = command_in(&["x.rhai"], &[], dir.path()).unwrap_err();
    assert!(matches!(e, OptionsError::UnknownKey { .. }), "{e}");
}

#[test]
fn locust_options_rustlocust_lacks_are_refused_from_every_source() {
    let refused = |vars: &[(&str, &str)], dir: &Path| {
        let e = command_in(&["x.rhai"], vars, dir).unwrap_err();
        assert!(matches!(e, OptionsError::Unsupported { .. }), "{e:?}");
        assert_eq!(e.exit_code(), 2);
        e.to_string()
    };
    let msg = refused(&[("LOCUST_CONFIG_USERS", "[]")], empty_dir().path());
    assert_eq!(
        msg,
        "environment variable LOCUST_CONFIG_USERS: --config-users is a Locust option rustlocust \
         does not support (per-class settings as JSON; set them in the scenario); remove it"
    );
    let msg = refused(&[], dir_with("locust.conf", "\notel = true\n").path());
    assert!(
        msg.starts_with("`otel` in ./locust.conf line 2: --otel"),
        "{msg}"
    );
    let msg = refused(&[], with_toml("config-users = \"[]\"").path());
    assert!(msg.contains("--config-users is a Locust option"), "{msg}");
    let msg = refused(
        &[],
        dir_with("pyproject.toml", "[tool.locust]\notel = true\n").path(),
    );
    assert!(msg.contains("--otel is a Locust option"), "{msg}");
    // A flag set to false does not ask for the option.
    let dir = dir_with("locust.conf", "otel = false\n");
    assert!(command_in(&["x.rhai"], &[("LOCUST_MODE_WORKER", "false")], dir.path()).is_ok());
}

#[test]
fn config_file_errors_name_file_key_and_type() {
    let dir = with_toml("users = \"many\"");
    let msg = spec_in(&["x.rhai"], &[], dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("rustlocust.toml"), "{msg}");
    assert!(
        msg.contains("`users` must be an integer, not a string"),
        "{msg}"
    );
    let dir = with_toml("hatch-rate = 5");
    let msg = spec_in(&["x.rhai"], &[], dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("unknown key `hatch-rate`"), "{msg}");
    assert!(msg.contains("did you mean `spawn-rate`"), "{msg}");
}

#[test]
fn env_var_names() {
    let name = |key: &str| def(key).expect(key).env_var();
    assert_eq!(name("spawn-rate"), "RUSTLOCUST_SPAWN_RATE");
    assert_eq!(name("users"), "RUSTLOCUST_USERS");
    assert_eq!(
        name("max-coroutine-stacks"),
        "RUSTLOCUST_MAX_COROUTINE_STACKS"
    );
}

#[test]
fn env_values_and_errors() {
    let r = env_layer(&[
        ("RUSTLOCUST_USERS", "7"),
        ("RUSTLOCUST_HEADLESS", "TRUE"),
        ("RUSTLOCUST_TAGS", "a,b c"),
        ("RUSTLOCUST_USER_CLASSES", "Api Web"),
        ("RUSTLOCUST_HOST", ""),
    ])
    .expect("valid");
    assert_eq!(v(&r.users), Some(7));
    assert_eq!(v(&r.headless), Some(true));
    assert_eq!(v(&r.tags), Some(vec!["a".into(), "b".into(), "c".into()]));
    assert_eq!(v(&r.user_classes), Some(vec!["Api".into(), "Web".into()]));
    assert_eq!(v(&r.host), None, "empty variable counts as unset");

    let msg = env_layer(&[("RUSTLOCUST_SPAWN_RATE", "fast")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("\"fast\""), "{msg}");
    assert!(
        msg.contains("environment variable RUSTLOCUST_SPAWN_RATE"),
        "{msg}"
    );
    let msg = env_layer(&[("RUSTLOCUST_HEADLESS", "maybe")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("RUSTLOCUST_HEADLESS") && msg.contains("true or false"),
        "{msg}"
    );
    // Locust's names, below ours.
    let layers = env::read(&super::env(&[
        ("LOCUST_USERS", "1"),
        ("RUSTLOCUST_USERS", "2"),
        ("LOCUST_USERCLASS_PICKER", "true"),
    ]))
    .expect("valid");
    assert_eq!(v(&layers.locust.users), Some(1));
    assert_eq!(v(&layers.ours.users), Some(2));
    assert_eq!(v(&layers.locust.class_picker), Some(true));
    assert_eq!(v(&layers.ours.over(layers.locust).users), Some(2));
}

#[test]
fn layer_precedence_and_defaults() {
    let low = Raw {
        users: g(1),
        spawn_rate: g(2.0),
        scenario: g(vec![PathBuf::from("low.rhai")]),
        ..Raw::default()
    };
    let high = Raw {
        users: g(9),
        ..Raw::default()
    };
    let s = high.over(low).resolve().expect("valid");
    assert_eq!(s.users, 9);
    assert_eq!(s.spawn_rate, 2.0);
    assert_eq!(s.scenario, Some(vec![PathBuf::from("low.rhai")]));
    assert_eq!(s.loglevel, LevelFilter::Info);
    assert_eq!(s.exit_code_on_error, 1);
    assert_eq!(s.threads, None, "the number of CPUs, decided in the spec");
    assert_eq!(s.stop_timeout, Duration::ZERO);
    assert_eq!(s.max_background_jobs, 100);
    assert!(!s.dry_run && !s.print_definitions);
    assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(s.web_port, 8089);
    assert!(!s.autostart);
    assert_eq!(s.autoquit, None);
    assert_eq!(s.web_auth, None);
    assert_eq!(s.html, None);
    assert_eq!(s.web_base_path, "");
}

#[test]
fn cross_option_checks() {
    let cwd = empty_dir();
    let build = |raw: Raw| crate::options::spec::command(raw, cwd.path());
    assert!(matches!(
        build(Raw::default()),
        Err(OptionsError::NoScenario { .. })
    ));
    let scenario = || g(vec![PathBuf::from("s.rhai")]);
    let raw = Raw {
        scenario: scenario(),
        csv_full_history: g(true),
        ..Raw::default()
    };
    let msg = build(raw).unwrap_err().to_string();
    assert!(msg.contains("--csv-full-history requires --csv"), "{msg}");

    let dry = |check: Option<bool>| Raw {
        scenario: scenario(),
        dry_run: g(true),
        check: check.and_then(g),
        ..Raw::default()
    };
    for check in [None, Some(false)] {
        let e = build(dry(check)).unwrap_err();
        assert!(needs(&e) == Some("dry-run"), "{e:?}");
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("--dry-run only works together with --check"),
            "{e}"
        );
    }
    assert!(matches!(
        build(dry(Some(true))),
        Ok(Command::Describe {
            what: crate::options::Describe::DryRun,
            ..
        })
    ));
    let not_dry = Raw {
        dry_run: g(false),
        ..dry(None)
    };
    assert!(
        matches!(build(not_dry), Ok(Command::Run(_))),
        "an explicit false"
    );

    // `--print-definitions` needs no scenario.
    let defs = Raw {
        print_definitions: g(true),
        ..Raw::default()
    };
    assert!(matches!(build(defs), Ok(Command::PrintDefinitions)));
    let no_defs = Raw {
        print_definitions: g(false),
        ..Raw::default()
    };
    assert!(matches!(
        build(no_defs),
        Err(OptionsError::NoScenario { .. })
    ));

    // `--autoquit` needs `--autostart` (as in Locust), but -1, "never", is always fine.
    let quit = |autoquit: Option<u64>, autostart: Option<bool>| Raw {
        scenario: scenario(),
        autoquit: g(autoquit.map(Duration::from_secs)),
        autostart: autostart.and_then(g),
        ..Raw::default()
    };
    let web_autoquit = |raw: Raw| match build(raw) {
        Ok(Command::Run(s)) => (web(&s).autostart, web(&s).autoquit),
        other => panic!("{other:?}"),
    };
    for autostart in [None, Some(false)] {
        let e = build(quit(Some(10), autostart)).unwrap_err();
        assert!(needs(&e) == Some("autoquit"), "{e:?}");
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(
            msg.contains("--autoquit only works together with --autostart"),
            "{msg}"
        );
        assert_eq!(web_autoquit(quit(None, autostart)).1, None, "-1 = never");
    }
    assert_eq!(
        web_autoquit(quit(Some(0), Some(true))),
        (true, Some(Duration::ZERO))
    );
    assert_eq!(
        web_autoquit(quit(Some(90), Some(true))),
        (true, Some(Duration::from_secs(90)))
    );
    assert_eq!(web_autoquit(quit(None, Some(true))), (true, None));
}

#[test]
fn web_auth_errors_do_not_show_the_value() {
    let e = env_layer(&[("RUSTLOCUST_WEB_AUTH", ":hunter2")]).unwrap_err();
    assert!(matches!(e, OptionsError::InvalidValue { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("RUSTLOCUST_WEB_AUTH"), "{msg}");
    assert!(msg.contains("user name before the `:` is empty"), "{msg}");
    assert!(msg.contains("not shown"), "{msg}");
    let e = file_layer("web-auth = \"hunter2\"").unwrap_err();
    let msg = e.to_string();
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(
        msg.contains("`web-auth` in /cfg/rustlocust.toml") && msg.contains("USER:PASS"),
        "{msg}"
    );
}

#[test]
fn html_path_substitutes_users_rate_and_run_time() {
    let path = |t: &str, u, r, rt| html_path(Path::new(t), u, r, rt);
    let ninety = Some(Duration::from_secs(90));
    assert_eq!(
        path("out/r_{u}u_{r}r_{t}s.html", 100, 10.0, ninety),
        PathBuf::from("out/r_100u_10r_90s.html")
    );
    // Every occurrence; fractional rates as they are; sub-second run time truncated.
    let t = Some(Duration::from_millis(1500));
    assert_eq!(
        path("{u}-{u}-{r}-{t}.html", 100, 0.5, t),
        PathBuf::from("100-100-0.5-1.html")
    );
    // No run time: `{t}` stays, as in Locust.
    assert_eq!(
        path("{u}-{u}-{r}-{t}.html", 100, 0.5, None),
        PathBuf::from("100-100-0.5-{t}.html")
    );
    assert_eq!(
        path("report.html", 1, 1.0, None),
        PathBuf::from("report.html")
    );
}

#[test]
fn exit_codes() {
    assert_eq!(OptionsError::NoScenario { hint: None }.exit_code(), 2);
    let needs = OptionsError::Needs {
        option: "dry-run",
        origin: Source::CommandLine,
        message: "",
    };
    assert_eq!(needs.exit_code(), 2);
    assert!(!OptionsError::NoScenario { hint: None }.is_info());
    let w = Warning::UnknownEnv {
        var: "LOCUST_X".into(),
        suggestion: None,
    };
    assert_eq!(
        w.to_string(),
        "environment variable LOCUST_X is not an option rustlocust knows; ignored"
    );
}
