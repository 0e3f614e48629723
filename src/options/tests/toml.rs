//! rustlocust's own TOML file: typed values, its key names only, and the errors that name the
//! file, the key and the expected type.

use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;

use super::*;
use crate::options::files::{from_text, ConfigFile};

fn file_layer(text: &str) -> Result<Raw, OptionsError> {
    let file = ConfigFile::given(Path::new("/cfg/rustlocust.toml"));
    from_text(&file, text).map(|l| l.expect("a rustlocust TOML file").raw)
}

#[test]
fn toml_values_of_every_kind() {
    let r = file_layer(
        r#"
        scenario = "x.rhai"
        host = "https://example.com"
        users = 100
        spawn_rate = 2.5
        run-time = "1m"
        headless = true
        stop-timeout = 5
        tags = ["a", "b,c"]
        exclude-tags = "slow, flaky"
        csv = "out/run"
        csv-full-history = true
        json = true
        only_summary = true
        loglevel = "WARNING"
        list = false
        check = true
        exit-code-on-error = 3
        seed = 42
        threads = 2
        insecure = true
        max-coroutine-stacks = 7
        max-background-jobs = 250
        dry-run = true
        print_definitions = false
        user-classes = ["Api", "Web"]
        web-host = "::1"
        web_port = 0
        autostart = true
        autoquit = 30
        web-auth = "admin:s3:cret"
        html = "out/report_{u}.html"
        "#,
    )
    .expect("valid file");
    assert_eq!(v(&r.scenario), Some(vec![PathBuf::from("x.rhai")]));
    assert_eq!(v(&r.host).as_deref(), Some("https://example.com"));
    assert_eq!(v(&r.users), Some(100));
    assert_eq!(v(&r.spawn_rate), Some(2.5));
    assert_eq!(v(&r.run_time), Some(Duration::from_secs(60)));
    assert_eq!(v(&r.headless), Some(true));
    assert_eq!(v(&r.stop_timeout), Some(Duration::from_secs(5)));
    assert_eq!(
        v(&r.tags),
        Some(vec!["a".to_string(), "b".into(), "c".into()])
    );
    assert_eq!(
        v(&r.exclude_tags),
        Some(vec!["slow".to_string(), "flaky".into()])
    );
    assert_eq!(v(&r.csv), Some(PathBuf::from("out/run")));
    assert_eq!(v(&r.csv_full_history), Some(true));
    assert_eq!(v(&r.json), Some(true));
    assert_eq!(v(&r.only_summary), Some(true));
    assert_eq!(v(&r.loglevel), Some(LevelFilter::Warn));
    assert_eq!(v(&r.list), Some(false));
    assert_eq!(v(&r.check), Some(true));
    assert_eq!(v(&r.exit_code_on_error), Some(3));
    assert_eq!(v(&r.seed), Some(42));
    assert_eq!(v(&r.threads), Some(2));
    assert_eq!(v(&r.insecure), Some(true));
    assert_eq!(v(&r.max_coroutine_stacks), Some(7));
    assert_eq!(v(&r.max_background_jobs), Some(250));
    assert_eq!(v(&r.dry_run), Some(true));
    assert_eq!(v(&r.print_definitions), Some(false));
    assert_eq!(
        v(&r.user_classes),
        Some(vec!["Api".to_string(), "Web".into()])
    );
    assert_eq!(v(&r.web_host), Some("::1".parse().expect("ip")));
    assert_eq!(v(&r.web_port), Some(0));
    assert_eq!(v(&r.autostart), Some(true));
    assert_eq!(v(&r.autoquit), Some(Some(Duration::from_secs(30))));
    assert_eq!(
        v(&r.web_auth),
        Some(("admin".to_string(), "s3:cret".to_string()))
    );
    assert_eq!(v(&r.html), Some(PathBuf::from("out/report_{u}.html")));
    let source = r.users.as_ref().map(|g| g.source.to_string());
    assert_eq!(
        source.as_deref(),
        Some("`users` in /cfg/rustlocust.toml line 4")
    );
}

#[test]
fn toml_integer_spawn_rate_and_float_run_time() {
    let r = file_layer("spawn-rate = 10\nrun-time = 1.5").expect("valid");
    assert_eq!(v(&r.spawn_rate), Some(10.0));
    assert_eq!(v(&r.run_time), Some(Duration::from_millis(1500)));
}

#[test]
fn toml_unknown_key_names_file_and_key() {
    let e = file_layer("usres = 5").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("/cfg/rustlocust.toml"), "{msg}");
    assert!(msg.contains("unknown key `usres`"), "{msg}");
    assert!(msg.contains("did you mean `users`"), "{msg}");
    let msg = file_layer("locustfile = \"a.py\"").unwrap_err().to_string();
    assert!(msg.contains("did you mean `scenario`"), "{msg}");
    let msg = file_layer("zzzzzzzz = 1").unwrap_err().to_string();
    assert!(msg.contains("known keys: scenario, host"), "{msg}");
    // A table is not a way around the check.
    let msg = file_layer("[web]\nport = 1").unwrap_err().to_string();
    assert!(msg.contains("unknown key `web`"), "{msg}");
}

#[test]
fn toml_wrong_types_name_file_key_and_expected_type() {
    let cases = [
        (
            "users = \"100\"",
            "`users`",
            "must be an integer, not a string",
        ),
        ("users = 1.5", "`users`", "must be an integer, not a float"),
        (
            "headless = \"yes\"",
            "`headless`",
            "must be a boolean (true or false), not a string",
        ),
        (
            "spawn-rate = true",
            "`spawn-rate`",
            "must be a number, not a boolean",
        ),
        (
            "tags = [1, 2]",
            "`tags`",
            "must be an array of strings or a comma-separated string, not an array",
        ),
        ("host = 8080", "`host`", "must be a string, not an integer"),
        (
            "max-background-jobs = \"10\"",
            "`max-background-jobs`",
            "must be an integer, not a string",
        ),
        (
            "dry-run = 1",
            "`dry-run`",
            "must be a boolean (true or false), not an integer",
        ),
        (
            "print-definitions = \"yes\"",
            "`print-definitions`",
            "must be a boolean (true or false), not a string",
        ),
        ("run_time = [1]", "`run_time`", "must be a time span string"),
        (
            "web-port = \"8089\"",
            "`web-port`",
            "must be an integer, not a string",
        ),
        (
            "web-host = 127",
            "`web-host`",
            "must be a string, not an integer",
        ),
        (
            "autostart = \"yes\"",
            "`autostart`",
            "must be a boolean (true or false), not a string",
        ),
        (
            "autoquit = \"30s\"",
            "`autoquit`",
            "must be an integer, not a string",
        ),
        (
            "web-auth = [\"a\", \"b\"]",
            "`web-auth`",
            "must be a string, not an array",
        ),
        ("html = true", "`html`", "must be a string, not a boolean"),
    ];
    for (text, key, expected) in cases {
        let e = file_layer(text).unwrap_err();
        assert!(matches!(e, OptionsError::WrongType { .. }), "{text}: {e:?}");
        let msg = e.to_string();
        assert!(msg.contains("/cfg/rustlocust.toml"), "{msg}");
        assert!(msg.contains(key), "{text}: {msg}");
        assert!(msg.contains(expected), "{text}: {msg}");
    }
}

#[test]
fn toml_bad_values_name_where() {
    let cases = [
        ("users = -5", "cannot be negative"),
        ("spawn-rate = 0", "greater than 0"),
        ("spawn-rate = -1.5", "greater than 0"),
        ("spawn-rate = nan", "finite"),
        ("spawn-rate = inf", "finite"),
        ("run-time = \"1x\"", "unknown unit"),
        ("run-time = -3", "negative"),
        ("threads = 0", "at least 1 thread"),
        ("max-background-jobs = 0", "at least 1 background job"),
        (
            "max-background-jobs = -1",
            "whole number of background jobs",
        ),
        ("loglevel = \"loud\"", "expected one of error"),
        ("host = \"example.com\"", "base URL"),
        ("exit-code-on-error = 99999999999", "exit code"),
        ("scenario = \"\"", "empty"),
        ("web-port = 70000", "from 0 to 65535"),
        ("web-port = -1", "from 0 to 65535"),
        ("web-host = \"example.com\"", "not an IP address"),
        ("web-host = \"\"", "empty"),
        ("autoquit = -2", "-1 (never quit)"),
        ("web-auth = \"admin\"", "expected USER:PASS"),
        ("html = \" \"", "empty"),
    ];
    for (text, reason) in cases {
        let e = file_layer(text).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, OptionsError::InvalidValue { .. }),
            "{text}: {msg}"
        );
        assert!(msg.contains("in /cfg/rustlocust.toml"), "{msg}");
        assert!(msg.contains(reason), "{text}: {msg}");
    }
}

#[test]
fn toml_syntax_and_duplicate_keys() {
    let msg = file_layer("users = ").unwrap_err().to_string();
    assert!(
        msg.contains("/cfg/rustlocust.toml is not valid TOML"),
        "{msg}"
    );
    let msg = file_layer("spawn-rate = 1\nspawn_rate = 2")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`spawn-rate` and `spawn_rate`"), "{msg}");
}
