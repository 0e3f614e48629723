//! Options that only mean something together (web UI, `--autoquit`, `--dry-run`, TLS), the
//! modes that describe instead of run, help and version, refusals, and the subcommands.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use log::LevelFilter;

use super::*;
use crate::options::spec::{Describe, DEMO_SCENARIO};

#[test]
fn web_ui_options() {
    let s = spec(&["x.rhai", "--web-host", "localhost"]).expect("valid");
    assert_eq!(web(&s).bind.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    let s = spec(&["x.rhai", "--web-host", "0.0.0.0", "-P", "0"]).expect("valid");
    assert_eq!(
        (web(&s).bind.ip(), web(&s).bind.port()),
        (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    );
    let msg = usage_error(&["x.rhai", "--web-host", "example.com"]);
    assert!(
        msg.contains("--web-host") && msg.contains("not an IP address"),
        "{msg}"
    );
    let msg = usage_error(&["x.rhai", "--web-host", "127.0.0.1:8089"]);
    assert!(msg.contains("the port goes in --web-port"), "{msg}");
    for bad in ["-1", "65536", "http"] {
        let msg = usage_error(&["x.rhai", "-P", bad]);
        assert!(msg.contains(&format!("'{bad}'")), "{bad}: {msg}");
        assert!(msg.contains("--web-port"), "{bad}: {msg}");
    }
    let msg = spec_env(&["x.rhai"], &[("RUSTLOCUST_WEB_PORT", "70000")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("RUSTLOCUST_WEB_PORT") && msg.contains("from 0 to 65535"),
        "{msg}"
    );
    let msg = spec_env(&["x.rhai"], &[("RUSTLOCUST_WEB_HOST", "*.example")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("RUSTLOCUST_WEB_HOST"), "{msg}");

    // The command line beats env and file, also back to the defaults' values.
    let dir = with_toml("web-host = \"0.0.0.0\"\nweb-port = 1\nautostart = true");
    let vars = [("RUSTLOCUST_WEB_PORT", "2")];
    let s = spec_in(&["x.rhai"], &vars, dir.path()).expect("valid");
    assert_eq!(web(&s).bind.port(), 2, "env beats file");
    assert_eq!(web(&s).bind.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let s = spec_in(
        &["x.rhai", "-P", "8089", "--web-host", "127.0.0.1"],
        &vars,
        dir.path(),
    )
    .expect("valid");
    assert_eq!(web(&s).bind.port(), 8089);
    assert_eq!(web(&s).bind.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert!(web(&s).autostart, "from the file");
}

#[test]
fn autostart_and_autoquit() {
    let s = spec(&["x.rhai", "--autostart", "-u", "5", "-t", "1m"]).expect("valid");
    assert!(web(&s).autostart, "and not headless");
    assert_eq!(web(&s).autoquit, None, "-1 (never) by default");
    let s = spec(&["x.rhai", "--autostart", "--autoquit", "0"]).expect("valid");
    assert_eq!(web(&s).autoquit, Some(Duration::ZERO));
    let s = spec(&["x.rhai", "--autostart", "--autoquit=-1"]).expect("valid");
    assert_eq!(web(&s).autoquit, None);
    // Locust accepts (and ignores) --autostart with --headless.
    assert!(spec(&["x.rhai", "--autostart", "--headless"]).is_ok());
    assert!(spec(&["x.rhai", "--autoquit", "-1"]).is_ok(), "-1 is never");

    for args in [
        &["x.rhai", "--autoquit", "10"][..],
        &["x.rhai", "--headless", "--autoquit", "10"],
    ] {
        let e = err(args);
        assert!(needs(&e) == Some("autoquit"), "{args:?}: {e:?}");
        assert_eq!(e.exit_code(), 2);
    }
    let e = spec_env(&["x.rhai"], &[("RUSTLOCUST_AUTOQUIT", "5")]).unwrap_err();
    assert!(needs(&e) == Some("autoquit"), "{e:?}");
    assert!(
        e.to_string()
            .contains("(--autoquit is set by environment variable RUSTLOCUST_AUTOQUIT)"),
        "{e}"
    );
    let s = spec_env(
        &["x.rhai", "--autoquit", "5"],
        &[("RUSTLOCUST_AUTOSTART", "1")],
    )
    .expect("--autostart from the environment counts");
    assert_eq!(web(&s).autoquit, Some(Duration::from_secs(5)));
    // An explicit -1 on the command line overrides the file's value.
    let dir = with_toml("autoquit = 30");
    assert!(spec_in(&["x.rhai"], &[], dir.path()).is_err());
    let s = spec_in(&["x.rhai", "--autoquit", "-1"], &[], dir.path()).expect("valid");
    assert_eq!(web(&s).autoquit, None);

    let msg = usage_error(&["x.rhai", "--autostart", "--autoquit", "-5"]);
    assert!(
        msg.contains("--autoquit") && msg.contains("-1 (never quit)"),
        "{msg}"
    );
    let msg = usage_error(&["x.rhai", "--autostart", "--autoquit", "30s"]);
    assert!(msg.contains("whole number of seconds"), "{msg}");
}

#[test]
fn web_auth() {
    let s = spec(&["x.rhai", "--web-auth", "admin:p:w"]).expect("valid");
    assert_eq!(web(&s).auth, Some(("admin".into(), "p:w".into())));
    let s = spec(&["x.rhai", "--web-auth=me:x"]).expect("valid");
    assert_eq!(web(&s).auth, Some(("me".into(), "x".into())));
    for (bad, reason) in [
        ("hunter2", "expected USER:PASS"),
        (":hunter2", "user name before the `:` is empty"),
        ("hunter2:", "password after the `:` is empty"),
    ] {
        let msg = usage_error(&["x.rhai", "--web-auth", bad]);
        assert!(msg.contains("--web-auth"), "{bad}: {msg}");
        assert!(msg.contains(reason), "{bad}: {msg}");
        assert!(!msg.contains("hunter2"), "the value is shown: {msg}");
    }
    let e = spec_env(&["x.rhai"], &[("RUSTLOCUST_WEB_AUTH", "hunter2")]).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, OptionsError::InvalidValue { .. }), "{msg}");
    assert!(msg.contains("RUSTLOCUST_WEB_AUTH"), "{msg}");
    assert!(!msg.contains("hunter2"), "the value is shown: {msg}");
    let dir = with_toml("web-auth = \"file:pw\"");
    let s = spec_in(&["x.rhai", "--web-auth", "cli:pw"], &[], dir.path()).expect("valid");
    assert_eq!(web(&s).auth, Some(("cli".into(), "pw".into())));
}

#[test]
fn web_login_uses_the_web_auth_credentials() {
    let e = err(&["x.rhai", "--web-login"]);
    let msg = e.to_string();
    assert!(needs(&e) == Some("web-login"), "{msg}");
    assert!(msg.contains("--web-auth USER:PASS"), "{msg}");
    let s = spec_env(&["x.rhai", "--web-login"], &[("LOCUST_WEB_AUTH", "a:b")]).expect("valid");
    assert_eq!(web(&s).auth, Some(("a".into(), "b".into())));
}

#[test]
fn tls_cert_and_key_go_together() {
    for (args, option) in [
        (&["x.rhai", "--tls-cert", "c.pem"][..], "tls-cert"),
        (&["x.rhai", "--tls-key", "k.pem"], "tls-key"),
    ] {
        let e = err(args);
        assert!(needs(&e) == Some(option), "{e:?}");
        assert!(
            e.to_string().contains("a certificate and its private key"),
            "{e}"
        );
    }
}

#[test]
fn headful_overrides_headless_from_a_file() {
    let dir = dir_with("locust.conf", "headless = true\n");
    let s = spec_in(&["x.rhai"], &[], dir.path()).expect("valid");
    console(&s);
    let s = spec_in(&["x.rhai", "--headful"], &[], dir.path()).expect("valid");
    web(&s);
}

#[test]
fn html_report_path() {
    let s = spec(&[
        "x.rhai",
        "--html",
        "out/{u}u_{r}r_{t}s.html",
        "-u",
        "50",
        "-r",
        "2.5",
        "-t",
        "2m",
    ])
    .expect("valid");
    assert_eq!(
        s.run.outputs.html,
        Some(PathBuf::from("out/50u_2.5r_120s.html"))
    );
    let s = spec(&["x.rhai", "--html", "{u}_{t}.html"]).expect("valid");
    assert_eq!(s.run.outputs.html, Some(PathBuf::from("1_{t}.html")));
    let msg = usage_error(&["x.rhai", "--html", ""]);
    assert!(msg.contains("--html") && msg.contains("empty"), "{msg}");
    let s = spec_env(&["x.rhai"], &[("RUSTLOCUST_HTML", "env.html")]).expect("valid");
    assert_eq!(s.run.outputs.html, Some(PathBuf::from("env.html")));
}

fn describe(args: &[&str], vars: &[(&str, &str)]) -> Result<Describe, OptionsError> {
    match command_in(args, vars, empty_dir().path())? {
        Command::Describe { what, .. } => Ok(what),
        other => panic!("not a description: {other:?}"),
    }
}

#[test]
fn describe_modes() {
    assert_eq!(
        describe(&["x.rhai", "--list"], &[]).ok(),
        Some(Describe::List)
    );
    assert_eq!(
        describe(&["x.rhai", "-l", "--check"], &[]).ok(),
        Some(Describe::Check)
    );
    assert_eq!(
        describe(&["x.rhai", "--show-task-ratio"], &[]).ok(),
        Some(Describe::TaskRatio)
    );
    assert_eq!(
        describe(
            &["x.rhai", "--show-task-ratio-json", "--show-task-ratio"],
            &[]
        )
        .ok(),
        Some(Describe::TaskRatioJson)
    );
    assert_eq!(
        describe(&["x.rhai", "--show-task-ratio", "--list"], &[]).ok(),
        Some(Describe::List),
        "Locust lists first too"
    );
}

#[test]
fn dry_run_needs_check() {
    let e = err(&["x.rhai", "--dry-run"]);
    assert!(needs(&e) == Some("dry-run"), "{e:?}");
    assert_eq!(e.exit_code(), 2);
    assert!(!e.is_info());
    assert!(
        e.to_string().contains("only works together with --check"),
        "{e}"
    );
    assert_eq!(
        describe(&["x.rhai", "--check", "--dry-run"], &[]).ok(),
        Some(Describe::DryRun)
    );
    assert_eq!(
        describe(&["x.rhai", "--check"], &[]).ok(),
        Some(Describe::Check)
    );
    // --check may come from elsewhere; an explicit false does not count.
    let what = describe(&["x.rhai", "--dry-run"], &[("RUSTLOCUST_CHECK", "true")]);
    assert_eq!(what.ok(), Some(Describe::DryRun));
    let e = spec_env(&["x.rhai", "--dry-run"], &[("RUSTLOCUST_CHECK", "false")]).unwrap_err();
    assert!(needs(&e) == Some("dry-run"), "{e:?}");
    let e = spec_env(&["x.rhai"], &[("RUSTLOCUST_DRY_RUN", "1")]).unwrap_err();
    assert!(needs(&e) == Some("dry-run"), "{e:?}");
}

#[test]
fn print_definitions_needs_no_scenario() {
    let defs = |c: Result<Command, OptionsError>| matches!(c, Ok(Command::PrintDefinitions));
    assert!(defs(command(&["--print-definitions"])), "parses alone");
    assert!(defs(command(&["x.rhai", "--print-definitions"])));
    let vars = [("RUSTLOCUST_PRINT_DEFINITIONS", "true")];
    assert!(defs(command_in(&[], &vars, empty_dir().path())));
    let dir = with_toml("print-definitions = true");
    assert!(defs(command_in(&[], &[], dir.path())));
    assert!(!defs(command(&["x.rhai"])));
    // Other options are still checked.
    usage_error(&["--print-definitions", "-u", "-1"]);
}

#[test]
fn csv_full_history_needs_csv() {
    let e = err(&["x.rhai", "--csv-full-history"]);
    assert!(needs(&e) == Some("csv-full-history"));
    assert!(e.to_string().contains("requires --csv"), "{e}");
    assert!(spec(&["x.rhai", "--csv-full-history", "--csv", "p"]).is_ok());
}

#[test]
fn help_and_version_are_info_with_exit_0() {
    let e = err(&["--version"]);
    assert!(e.is_info());
    assert_eq!(e.exit_code(), 0);
    assert_eq!(
        e.to_string().trim(),
        format!("rustlocust {}", env!("CARGO_PKG_VERSION"))
    );
    let e = err(&["-V"]);
    assert!(e.is_info());
    let e = err(&["--help"]);
    assert!(e.is_info());
    assert_eq!(e.exit_code(), 0);
    let help = e.to_string();
    assert!(help.contains("--spawn-rate"), "{help}");
    assert!(help.contains("RUSTLOCUST_"), "{help}");
    for option in [
        "--max-background-jobs",
        "--dry-run",
        "--print-definitions",
        "--web-host",
        "-P, --web-port",
        "--autostart",
        "--autoquit",
        "--web-auth",
        "--html",
        "-f, --scenario",
        "--locustfile",
    ] {
        assert!(help.contains(option), "{option} missing: {help}");
    }
    assert!(
        !help.contains("max-coroutine-stacks"),
        "hidden option shown: {help}"
    );
    assert!(!help.contains("hatch-rate"), "hidden alias shown: {help}");
}

#[test]
fn locust_options_rustlocust_lacks_are_refused() {
    for args in [
        &["x.rhai", "--config-users", "[]"][..],
        &["x.rhai", "--otel"],
        &["x.rhai", "--profile", "p"],
    ] {
        let e = err(args);
        let msg = e.to_string();
        assert!(
            matches!(e, OptionsError::Unsupported { .. }),
            "{args:?}: {msg}"
        );
        assert_eq!(e.exit_code(), 2);
        assert!(
            msg.contains("is a Locust option rustlocust does not support"),
            "{msg}"
        );
    }
    // After `--` it is a positional argument.
    assert!(spec(&["x.rhai", "--", "--otel"]).is_ok());
}

#[test]
fn master_and_its_options() {
    let s = spec(&[
        "x.rhai",
        "--master",
        "--headless",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        "6000",
        "--expect-workers",
        "3",
        "--expect-workers-max-wait",
        "30s",
        "--enable-rebalancing",
    ])
    .expect("a master");
    let m = s.master.expect("master options");
    assert_eq!((m.bind_host.as_str(), m.bind_port), ("127.0.0.1", 6000));
    assert_eq!(m.expect_workers, 3);
    assert_eq!(m.expect_workers_max_wait, Some(Duration::from_secs(30)));
    assert!(m.enable_rebalancing);
    let m = spec(&["x.rhai", "--master"])
        .expect("a master")
        .master
        .expect("master");
    assert_eq!(
        (m.bind_host.as_str(), m.bind_port, m.expect_workers),
        ("*", 5557, 1)
    );
    assert!(spec(&["x.rhai"]).expect("local").master.is_none());
    let msg = err(&["x.rhai", "--expect-workers", "2"]).to_string();
    assert!(msg.contains("add --master"), "{msg}");
    let msg = err(&["x.rhai", "--master", "--worker"]).to_string();
    assert!(msg.contains("one or the other"), "{msg}");
    for (flag, bad) in [
        ("--expect-workers", "0"),
        ("--master-bind-port", "0"),
        ("--master-bind-host", "example.com"),
        ("--expect-workers-max-wait", "soon"),
    ] {
        let msg = err(&["x.rhai", "--master", flag, bad]).to_string();
        assert!(
            msg.contains(flag.trim_start_matches('-')),
            "{flag} {bad}: {msg}"
        );
    }
}

#[test]
fn worker_and_its_master() {
    let s = spec(&[
        "x.rhai",
        "--worker",
        "--master-host",
        "10.0.0.5",
        "--master-port",
        "6000",
    ])
    .expect("a worker");
    let Ui::Worker(w) = &s.ui else {
        panic!("not a worker: {:?}", s.ui);
    };
    assert_eq!((w.master_host.as_str(), w.master_port), ("10.0.0.5", 6000));
    let s = spec(&["x.rhai", "--worker"]).expect("a worker with Locust's defaults");
    let Ui::Worker(w) = &s.ui else {
        panic!("not a worker");
    };
    assert_eq!((w.master_host.as_str(), w.master_port), ("127.0.0.1", 5557));
    let msg = err(&["x.rhai", "--master-host", "m"]).to_string();
    assert!(msg.contains("add --worker"), "{msg}");
    for bad in ["0", "70000", "x"] {
        let msg = err(&["x.rhai", "--worker", "--master-port", bad]).to_string();
        assert!(msg.contains("master-port"), "{bad}: {msg}");
    }
    let msg = err(&["x.rhai", "--worker", "--master-host", "http://m:5557"]).to_string();
    assert!(msg.contains("not a URL"), "{msg}");
}

#[test]
fn demo_subcommand() {
    let Ok(Command::Demo(d)) = command(&["demo"]) else {
        panic!("not a demo command");
    };
    assert_eq!(d.run.load.run_time, Some(Duration::from_secs(20)));
    assert_eq!(d.run.load.users, 20);
    assert_eq!(d.run.load.spawn_rate, 10.0);
    assert_eq!(d.run.scenario_files, [PathBuf::from(DEMO_SCENARIO)]);
    assert!(matches!(d.ui, Ui::Headless(_)));
    assert_eq!(d.log.level, LevelFilter::Info);

    let Ok(Command::Demo(d)) = command(&[
        "demo",
        "--run-time",
        "5s",
        "--users",
        "3",
        "--spawn-rate",
        "1.5",
    ]) else {
        panic!("not a demo command");
    };
    assert_eq!(
        (d.run.load.run_time, d.run.load.users, d.run.load.spawn_rate),
        (Some(Duration::from_secs(5)), 3, 1.5)
    );

    let msg = command(&["demo", "-r", "0"]).unwrap_err().to_string();
    assert!(msg.contains("greater than 0"), "{msg}");
}

#[test]
fn demo_ignores_broken_config_file() {
    // A first-time user's demo must not depend on whatever rustlocust.toml lies around.
    let dir = with_toml("nonsense = 1");
    let c = command_in(&["demo"], &[("RUSTLOCUST_USERS", "x")], dir.path());
    assert!(matches!(c, Ok(Command::Demo(_))));
}

#[test]
fn demo_target_subcommand() {
    assert!(matches!(
        command(&["demo-target"]),
        Ok(Command::DemoTarget { bind, port: 8080 }) if bind == IpAddr::V4(Ipv4Addr::LOCALHOST)
    ));
    assert!(matches!(
        command(&["demo-target", "--port", "9999", "--bind", "::1"]),
        Ok(Command::DemoTarget { bind, port: 9999 }) if bind.to_string() == "::1"
    ));
    assert!(matches!(
        command(&["demo-target", "--port", "70000"]),
        Err(OptionsError::Clap(_))
    ));
}

#[test]
fn scenario_and_subcommands_do_not_clash() {
    // A run option with a subcommand is a usage error, not a silently ignored option.
    let msg = usage_error(&["-u", "5", "demo"]);
    assert!(msg.contains("`demo` is a subcommand"), "{msg}");
    let msg = usage_error(&["--headless", "demo-target"]);
    assert!(msg.contains("`demo-target` is a subcommand"), "{msg}");
    assert!(spec(&["./demo", "-u", "5"]).is_ok());
    let s = spec(&["demo.rhai"]).expect("a scenario path that starts like a subcommand");
    assert_eq!(s.run.scenario_files, [PathBuf::from("demo.rhai")]);
}

#[test]
fn processes_make_a_master_of_their_workers() {
    let s = spec(&["x.rhai", "--processes", "3", "--headless"]).expect("a master");
    let m = s.master.expect("--processes implies --master");
    assert_eq!((m.bind_host.as_str(), m.bind_port), ("*", 5557));
    assert_eq!(m.expect_workers, 3, "waits for its own workers");
    let p = s.processes.expect("local workers");
    assert_eq!(p.count, 3);
    assert!(matches!(s.ui, Ui::Headless(_)));
    let s = spec(&["x.rhai", "--processes", "3", "--expect-workers", "5"]).expect("a master");
    assert_eq!(s.master.expect("master").expect_workers, 5, "given wins");
    let s = spec_env(
        &["x.rhai", "--master-bind-port", "6000"],
        &[("LOCUST_PROCESSES", "-1")],
    )
    .expect("a master with --master-bind-port");
    assert_eq!(s.master.expect("master").bind_port, 6000);
    assert_eq!(
        s.processes.expect("local workers").count,
        crate::options::values::default_threads(),
        "-1 is one per CPU"
    );
    let msg = err(&["x.rhai", "--processes", "2", "--master"]).to_string();
    assert!(
        msg.contains("--master cannot be combined with --processes"),
        "{msg}"
    );
    // With --worker: no master here, N workers of the given one.
    let s = spec(&[
        "x.rhai",
        "--worker",
        "--processes",
        "2",
        "--master-port",
        "6000",
    ])
    .expect("a supervisor");
    assert!(s.master.is_none());
    assert!(matches!(&s.ui, Ui::Worker(w) if w.master_port == 6000));
    assert_eq!(s.processes.expect("local workers").count, 2);
}

#[test]
fn a_processes_child_gets_everything_a_worker_needs_on_its_command_line() {
    let s = spec(&[
        "x.rhai",
        "Api",
        "--processes",
        "2",
        "-T",
        "a",
        "b",
        "--host",
        "http://h:1",
        "--seed",
        "7",
        "--equal-weights",
        "--loglevel",
        "debug",
        "--max-body-size",
        "1KiB",
        "--max-stats-rows",
        "50",
        "--master-secret",
        "s3cret",
        "--csv",
        "out",
        "-u",
        "9",
    ])
    .expect("a master");
    let p = s.processes.expect("local workers");
    let args: Vec<String> = p
        .worker_args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for want in [
        "--worker",
        "x.rhai",
        "Api",
        "--tags=a,b",
        "--host=http://h:1",
        "--seed=7",
        "--equal-weights",
        "--loglevel=DEBUG",
        "--max-body-size=1024",
        "--max-stats-rows=50",
    ] {
        assert!(args.iter().any(|a| a == want), "{want} missing: {args:?}");
    }
    // Reports, -u and the secret (sent in the environment) are not a worker's business.
    assert!(
        !args
            .iter()
            .any(|a| a.contains("csv") || a.contains("s3cret") || a == "-u"),
        "{args:?}"
    );
    assert_eq!(p.secret.as_ref().map(|s| s.expose()), Some("s3cret"));
    // The child reads its command line only: a config file asking for processes (which would
    // fork again) or a master is not read; the secret comes from the environment.
    let dir = dir_with("locust.conf", "processes = 4\nmaster = true\nusers = 50\n");
    let child_args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vars = [
        (crate::options::PROCESSES_CHILD_ENV, "1"),
        ("RUSTLOCUST_MASTER_SECRET", "s3cret"),
        ("LOCUST_USERS", "70"),
    ];
    let child = spec_in(&child_args, &vars, dir.path()).expect("a child worker");
    assert!(child.processes.is_none() && child.master.is_none());
    assert_eq!(
        child.run.load.users, 1,
        "neither the file nor LOCUST_USERS was read"
    );
    let Ui::Worker(w) = &child.ui else {
        panic!("not a worker: {:?}", child.ui);
    };
    assert_eq!(w.secret.as_ref().map(|s| s.expose()), Some("s3cret"));
    assert_eq!(child.run.scenario_options.user_classes, ["Api"]);
    assert_eq!(child.run.scenario_options.tags, ["a", "b"]);
    assert_eq!(child.run.runner.http.max_body, Some(1024));
    assert_eq!(child.max_stats_rows, 50);
}
