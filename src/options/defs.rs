//! Every option of `rustlocust`, declared once: its names (long, short, Locust's aliases), its
//! environment variables, its value's shape, parser and default, an example, and its help.
//! Everything else is derived from this table: the clap arguments (`cli.rs`), the environment
//! and config-file layers (`env.rs`, `files.rs`), the precedence (`sources.rs`), the provenance in
//! error messages, the README's option table (`docs.rs`) and the tests that set every option
//! from every source. `spec.rs` then turns the merged [`Values`] into a typed command.
//!
//! Why a `macro_rules!` table and not clap derive + serde + a layering crate such as figment:
//! - the sources are not all key-value maps of one format: Locust's `key = value` files (with
//!   line numbers for errors), `pyproject.toml`'s `[tool.locust]`, TOML, two variable prefixes,
//!   and a command line with positional arguments that depend on `-f`. figment would need a
//!   custom provider for most of them and still not know Locust's aliases or refusals;
//! - provenance: every value carries its [`Source`](super::error::Source), so an error says
//!   "`users` in ./locust.conf line 3" or "--users from environment variable LOCUST_USERS", and
//!   cross-option errors say where the offending option was set; figment's metadata names a
//!   provider, not a line;
//! - the messages users already see (clap's for the command line, ours for the others) stay
//!   exactly as they were, and no dependency is added;
//! - one declaration yields both a typed struct (`Raw`: each field `Option<Given<T>>`) and a
//!   table that the sources, the help, the README and the tests can iterate. Derives would need
//!   the names written again in serde attributes, env lists and the README.
//!
//! Each declaration reads: `/// help` then `field: Type = parser, default "text" { attributes }`;
//! see [`OptionDef`] for the attributes. The default is text parsed by the option's own parser,
//! so the value and what `--help` shows cannot drift apart.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use log::LevelFilter;

use crate::http::EngineKind;

use super::table::{Active, BadDefault, Needs, OptionDef, Shape, Unsupported};
use super::values::*;

options! {
    /// The scenario file (.rhai), or several separated by commas, or a directory of them (as
    /// Locust's -f). With -f every positional argument is a user class
    scenario: Vec<PathBuf> = parse_scenarios {
        key: "scenario", short: Some('f'), aliases: &["locustfile"],
        locust_env: &["LOCUST_LOCUSTFILE"], value_name: "SCENARIO", example: "x.rhai",
    }
    /// Base URL of the system under test, e.g. http://localhost:8080; overrides the user
    /// classes' hosts
    host: String = parse_host {
        key: "host", short: Some('H'), locust_env: &["LOCUST_HOST"], value_name: "URL",
        example: "http://localhost:8080",
    }
    /// Peak number of concurrent users
    users: u64 = parse_users, default "1" {
        key: "users", short: Some('u'), locust_env: &["LOCUST_USERS"], shape: Shape::Integer,
        value_name: "N", example: "100",
    }
    /// Users started per second (fractions allowed)
    spawn_rate: f64 = parse_spawn_rate, default "1" {
        key: "spawn-rate", short: Some('r'), hidden_aliases: &["hatch-rate"],
        locust_env: &["LOCUST_SPAWN_RATE"], shape: Shape::Number, value_name: "RATE",
        example: "2.5",
    }
    /// Stop after this long, e.g. 300s, 20m, 1h30m, or seconds
    run_time: Duration = parse_timespan_value {
        key: "run-time", short: Some('t'), locust_env: &["LOCUST_RUN_TIME"],
        shape: Shape::Span, value_name: "TIME", default_note: "run until stopped",
        example: "1h30m",
    }
    /// Run without the web UI: start the test at once and print stats to the terminal
    headless: bool = parse_bool, default "false" {
        key: "headless", locust_env: &["LOCUST_HEADLESS"], shape: Shape::Flag, example: "true",
    }
    /// Serve the web UI even when a config file or the environment says headless
    headful: bool = parse_bool, default "false" {
        key: "headful", locust_env: &["LOCUST_HEADFUL"], shape: Shape::Flag, example: "true",
    }
    /// Address the web UI listens on: an IP address, localhost, or * (or 0.0.0.0) for all
    /// interfaces (Locust's default is all interfaces)
    web_host: IpAddr = parse_web_host, default "127.0.0.1" {
        key: "web-host", locust_env: &["LOCUST_WEB_HOST"], value_name: "HOST",
        example: "0.0.0.0",
    }
    /// Port of the web UI; 0 picks any free port
    web_port: u16 = parse_web_port, default "8089" {
        key: "web-port", short: Some('P'), locust_env: &["LOCUST_WEB_PORT"],
        shape: Shape::Integer, value_name: "PORT", example: "9000",
    }
    /// Run as a master: workers (rustlocust's or Locust's) generate the load, the master
    /// dispatches users, merges their stats and writes the reports
    master: bool = parse_bool, default "false" {
        key: "master", locust_env: &["LOCUST_MODE_MASTER"], shape: Shape::Flag, example: "true",
    }
    /// With --master: the interface workers connect to; * is every interface (Locust's default)
    master_bind_host: String = parse_bind_host, default "*" {
        key: "master-bind-host", locust_env: &["LOCUST_MASTER_BIND_HOST"], value_name: "HOST",
        example: "127.0.0.1",
        needs: Some(Needs {
            option: "master",
            message: "--master-bind-host is where a master listens for workers: add --master",
        }),
    }
    /// With --master: the port workers connect to
    master_bind_port: u16 = parse_master_port, default "5557" {
        key: "master-bind-port", locust_env: &["LOCUST_MASTER_BIND_PORT"], shape: Shape::Integer,
        value_name: "PORT", example: "6000",
        needs: Some(Needs {
            option: "master",
            message: "--master-bind-port is where a master listens for workers: add --master",
        }),
    }
    /// With --master: start the test once this many workers are connected
    expect_workers: usize = parse_expect_workers, default "1" {
        key: "expect-workers", locust_env: &["LOCUST_EXPECT_WORKERS"], shape: Shape::Integer,
        value_name: "N", example: "3",
        needs: Some(Needs {
            option: "master",
            message: "--expect-workers is how many workers a master waits for: add --master",
        }),
    }
    /// With --master: give up (exit 1) when fewer workers than --expect-workers connected by then
    expect_workers_max_wait: Duration = parse_timespan_value {
        key: "expect-workers-max-wait", locust_env: &["LOCUST_EXPECT_WORKERS_MAX_WAIT"],
        value_name: "TIME", example: "30s",
        needs: Some(Needs {
            option: "master",
            message: "--expect-workers-max-wait bounds a master's wait for workers: add --master",
        }),
    }
    /// With --master: move users to workers that join or return during a test
    enable_rebalancing: bool = parse_bool, default "false" {
        key: "enable-rebalancing", locust_env: &["LOCUST_ENABLE_REBALANCING"], shape: Shape::Flag,
        example: "true",
        needs: Some(Needs {
            option: "master",
            message: "--enable-rebalancing is about a master's workers: add --master",
        }),
    }
    /// Run as a worker: take users and the load from a master (Locust's or ours) and report to it
    worker: bool = parse_bool, default "false" {
        key: "worker", locust_env: &["LOCUST_MODE_WORKER"], shape: Shape::Flag, example: "true",
    }
    /// With --worker: the master's host name or address
    master_host: String = parse_master_host, default "127.0.0.1" {
        key: "master-host", locust_env: &["LOCUST_MASTER_NODE_HOST"], value_name: "HOST",
        example: "10.0.0.5",
        needs: Some(Needs {
            option: "worker",
            message: "--master-host is where a worker finds its master: add --worker",
        }),
    }
    /// With --worker: the master's port
    master_port: u16 = parse_master_port, default "5557" {
        key: "master-port", locust_env: &["LOCUST_MASTER_NODE_PORT"], shape: Shape::Integer,
        value_name: "PORT", example: "6000",
        needs: Some(Needs {
            option: "worker",
            message: "--master-port is where a worker finds its master: add --worker",
        }),
    }
    /// Start N local worker processes (-1: one per CPU). Without --worker this process is their
    /// master (implied: do not add --master) and waits for them; with --worker it only
    /// supervises N workers of the master at --master-host
    processes: usize = parse_processes {
        key: "processes", locust_env: &["LOCUST_PROCESSES"], shape: Shape::Integer,
        value_name: "N", example: "4",
    }
    /// A shared secret workers must present to the master before it accepts them (both ends
    /// need the same). Not encryption: see docs/distributed.md. Prefer
    /// RUSTLOCUST_MASTER_SECRET to the command line, which other local users can read
    master_secret: String = parse_master_secret {
        key: "master-secret", value_name: "SECRET", secret: true, example: "s3cret-token",
    }
    /// Serve the web UI and start the test at once with -u, -r and -t
    autostart: bool = parse_bool, default "false" {
        key: "autostart", locust_env: &["LOCUST_AUTOSTART"], shape: Shape::Flag,
        example: "true",
    }
    /// With --autostart: quit this many seconds after the test ends; -1 keeps the UI running
    autoquit: Option<Duration> = parse_autoquit, default "-1" {
        key: "autoquit", locust_env: &["LOCUST_AUTOQUIT"], shape: Shape::Integer,
        value_name: "SECONDS", example: "30",
        needs: Some(Needs {
            option: "autostart",
            message: "--autoquit only works together with --autostart: it quits that many \
                      seconds after the automatically started test ends (a --headless run \
                      quits when its test ends anyway)",
        }),
    }
    /// Require HTTP basic auth for the web UI and API. A command line is visible to other local
    /// users: prefer RUSTLOCUST_WEB_AUTH or `web-auth` in a config file
    web_auth: (String, String) = parse_web_auth {
        key: "web-auth", locust_env: &["LOCUST_WEB_AUTH"], value_name: "USER:PASS",
        secret: true, example: "admin:s3cret",
    }
    /// Protect the web UI with a login (Locust's flag). rustlocust's login is HTTP basic auth
    /// with the user and password of --web-auth, which this requires
    web_login: bool = parse_bool, default "false" {
        key: "web-login", locust_env: &["LOCUST_WEB_LOGIN"], shape: Shape::Flag,
        example: "true",
        needs: Some(Needs {
            option: "web-auth",
            message: "--web-login protects the web UI with a login, and rustlocust's login is \
                      HTTP basic auth: give the user and password with --web-auth USER:PASS \
                      (or RUSTLOCUST_WEB_AUTH, or `web-auth` in a config file)",
        }),
    }
    /// Serve the web UI over HTTPS with this certificate (PEM; needs --tls-key)
    tls_cert: PathBuf = parse_path {
        key: "tls-cert", locust_env: &["LOCUST_TLS_CERT"], value_name: "FILE",
        example: "cert.pem",
        needs: Some(Needs {
            option: "tls-key",
            message: "--tls-cert needs --tls-key: HTTPS takes a certificate and its private key",
        }),
    }
    /// The private key of --tls-cert (PEM)
    tls_key: PathBuf = parse_path {
        key: "tls-key", locust_env: &["LOCUST_TLS_KEY"], value_name: "FILE",
        example: "key.pem",
        needs: Some(Needs {
            option: "tls-cert",
            message: "--tls-key needs --tls-cert: HTTPS takes a certificate and its private key",
        }),
    }
    /// Serve the web UI under this path, e.g. /locust behind a reverse proxy
    web_base_path: String = parse_base_path, default "" {
        key: "web-base-path", locust_env: &["LOCUST_WEB_BASE_PATH"], value_name: "PATH",
        example: "/locust",
    }
    /// Host names the web UI answers to besides IP addresses and localhost (comma-separated;
    /// * for any), e.g. a reverse proxy's public name. Other names are refused (DNS rebinding),
    /// and so are state-changing requests whose Origin is not the UI's own
    web_allowed_hosts: Vec<String> = parse_list, default "" {
        key: "web-allowed-hosts", shape: Shape::List, value_name: "HOST",
        example: "locust.example.com",
    }
    /// Let the web UI choose which user classes run
    class_picker: bool = parse_bool, default "false" {
        key: "class-picker", locust_env: &["LOCUST_USERCLASS_PICKER"], shape: Shape::Flag,
        example: "true",
    }
    /// Run only tasks with one of these tags (comma- or space-separated: -T a b, -T a,b)
    tags: Vec<String> = parse_list, default "" {
        key: "tags", short: Some('T'), locust_env: &["LOCUST_TAGS"], shape: Shape::List,
        value_name: "TAG", example: "a,b",
    }
    /// Skip tasks with one of these tags (comma- or space-separated)
    exclude_tags: Vec<String> = parse_list, default "" {
        key: "exclude-tags", short: Some('E'), locust_env: &["LOCUST_EXCLUDE_TAGS"],
        shape: Shape::List, value_name: "TAG", example: "slow",
    }
    /// Write stats to PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv and
    /// PREFIX_exceptions.csv (Locust's formats), refreshed every second; missing directories
    /// are created, and a path that cannot be written stops the run before it starts
    csv: PathBuf = parse_path {
        key: "csv", locust_env: &["LOCUST_CSV"], value_name: "PREFIX", example: "out/run",
    }
    /// One history row per entry in PREFIX_stats_history.csv, not only Aggregated (needs --csv)
    csv_full_history: bool = parse_bool, default "false" {
        key: "csv-full-history", locust_env: &["LOCUST_CSV_FULL_HISTORY"],
        shape: Shape::Flag, example: "true",
        needs: Some(Needs {
            option: "csv",
            message: "--csv-full-history requires --csv PREFIX (the history goes to \
                      PREFIX_stats_history.csv)",
        }),
    }
    /// Print the stats tables periodically in web UI runs too
    print_stats: bool = parse_bool, default "false" {
        key: "print-stats", locust_env: &["LOCUST_PRINT_STATS"], shape: Shape::Flag,
        example: "true",
    }
    /// Print only the final summary, not the periodic stats
    only_summary: bool = parse_bool, default "false" {
        key: "only-summary", locust_env: &["LOCUST_ONLY_SUMMARY"], shape: Shape::Flag,
        example: "true",
    }
    /// Reset the stats once all users have been started
    reset_stats: bool = parse_bool, default "false" {
        key: "reset-stats", locust_env: &["LOCUST_RESET_STATS"], shape: Shape::Flag,
        example: "true",
    }
    /// Write an HTML report when the run ends; {u}, {r} and {t} in the name become the users,
    /// spawn rate and run time in seconds; checked (and missing directories created) before
    /// the run starts
    html: PathBuf = parse_path {
        key: "html", locust_env: &["LOCUST_HTML"], value_name: "FILE",
        example: "out/report_{u}.html",
    }
    /// Print the final stats as Locust's JSON on stdout (the tables go to stderr)
    json: bool = parse_bool, default "false" {
        key: "json", shape: Shape::Flag, example: "true",
    }
    /// Write the final stats as Locust's JSON to this file (FILE.json); checked (and missing
    /// directories created) before the run starts
    json_file: PathBuf = parse_path {
        key: "json-file", value_name: "FILE", example: "out/stats.json",
    }
    /// error, warn, info, debug or trace (Python's WARNING and CRITICAL too)
    loglevel: LevelFilter = parse_loglevel, default "info" {
        key: "loglevel", short: Some('L'), locust_env: &["LOCUST_LOGLEVEL"], value_name: "LEVEL",
        example: "debug",
    }
    /// Write the log to this file instead of stderr
    logfile: PathBuf = parse_path {
        key: "logfile", locust_env: &["LOCUST_LOGFILE"], value_name: "FILE",
        example: "run.log",
    }
    /// Leave logging alone: install no logger
    skip_log_setup: bool = parse_bool, default "false" {
        key: "skip-log-setup", locust_env: &["LOCUST_SKIP_LOG_SETUP"], shape: Shape::Flag,
        example: "true",
    }
    /// List the scenario's user classes and task trees with weights and ratios, then exit
    list: bool = parse_bool, default "false" {
        key: "list", short: Some('l'), shape: Shape::Flag, example: "true",
    }
    /// Print the user classes' task ratios, then exit
    show_task_ratio: bool = parse_bool, default "false" {
        key: "show-task-ratio", shape: Shape::Flag, example: "true",
    }
    /// Print the user classes' task ratios as JSON, then exit
    show_task_ratio_json: bool = parse_bool, default "false" {
        key: "show-task-ratio-json", shape: Shape::Flag, example: "true",
    }
    /// Compile the scenario, report problems and exit without running it
    check: bool = parse_bool, default "false" {
        key: "check", shape: Shape::Flag, example: "true",
    }
    /// With --check: run each user class's on_start, every task once and on_stop against the
    /// target, printing each request (exit 1 if anything failed)
    dry_run: bool = parse_bool, default "false" {
        key: "dry-run", shape: Shape::Flag, example: "true",
        needs: Some(Needs {
            option: "check",
            message: "--dry-run only works together with --check \
                      (`rustlocust scenario.rhai --check --dry-run`)",
        }),
    }
    /// Print the Rhai definitions of the scripting API (for editors and the Rhai language
    /// server) and exit; needs no scenario
    print_definitions: bool = parse_bool, default "false" {
        key: "print-definitions", shape: Shape::Flag, example: "true",
    }
    /// Exit code when a request failed or a task raised
    exit_code_on_error: i32 = parse_exit_code, default "1" {
        key: "exit-code-on-error", locust_env: &["LOCUST_EXIT_CODE_ON_ERROR"],
        shape: Shape::Integer, value_name: "CODE", example: "3",
    }
    /// How long users may finish their current task when the test stops; also how long an event
    /// listener still running then may take before it is cancelled (10s when 0)
    stop_timeout: Duration = parse_timespan_value, default "0" {
        key: "stop-timeout", short: Some('s'), locust_env: &["LOCUST_STOP_TIMEOUT"],
        shape: Shape::Span, value_name: "TIME", example: "5s",
    }
    /// Give every task the same weight, whatever the scenario says
    equal_weights: bool = parse_bool, default "false" {
        key: "equal-weights", shape: Shape::Flag, example: "true",
    }
    /// Seed the random choices (tasks, wait times) for repeatable runs
    seed: u64 = parse_count::<u64> {
        key: "seed", shape: Shape::Integer, value_name: "N", default_note: "random",
        example: "42",
    }
    /// Worker threads that run users
    threads: usize = parse_threads {
        key: "threads", shape: Shape::Integer, value_name: "N",
        default_note: "the number of CPUs", example: "13",
    }
    /// Do not verify TLS certificates
    insecure: bool = parse_bool, default "false" {
        key: "insecure", shape: Shape::Flag, example: "true",
    }
    /// PEM file of the certificate authorities that servers' certificates must chain to,
    /// instead of the built-in roots
    ca_bundle: PathBuf = parse_path {
        key: "ca-bundle", value_name: "FILE", example: "ca.pem",
    }
    /// PEM client certificate offered to servers that ask for one (mTLS); its key may be in the
    /// same file
    client_cert: PathBuf = parse_path {
        key: "client-cert", value_name: "FILE", example: "client.pem",
    }
    /// PEM private key of --client-cert
    client_key: PathBuf = parse_path {
        key: "client-key", value_name: "FILE", example: "client.key",
        needs: Some(Needs {
            option: "client-cert",
            message: "--client-key only works together with --client-cert",
        }),
    }
    /// Connect to these addresses instead of asking DNS, as curl's --resolve: host:port:address
    /// entries (the URL, Host header and TLS name keep the host)
    resolve: Vec<String> = parse_resolve, default "" {
        key: "resolve", shape: Shape::List, value_name: "HOST:PORT:ADDR",
        example: "api.example.com:443:127.0.0.1",
    }
    /// HTTP engine of requests that choose none: hyper (the HTTP/1.1 fast path), reqwest
    /// (HTTP/2, proxies), or auto (hyper unless the request needs reqwest or a proxy is set in
    /// the environment)
    http_engine: EngineKind = parse_http_engine, default "auto" {
        key: "http-engine", value_name: "ENGINE", example: "reqwest",
    }
    /// Accept-Encoding sent by default (responses are decoded whatever it says); empty or
    /// "none" sends none
    accept_encoding: String = parse_accept_encoding, default "gzip, deflate, br, zstd" {
        key: "accept-encoding", value_name: "CODINGS", example: "gzip",
    }
    /// The largest response body a request reads into memory, e.g. 64MiB, 500KB, or bytes; 0
    /// for no limit. A longer body is a BodyTooLarge failure; a request's own `max_body` wins,
    /// and `keep_body: N` reads bodies of any size, keeping the first N bytes
    max_body_size: Option<u64> = parse_byte_size, default "64MiB" {
        key: "max-body-size", value_name: "SIZE", example: "1MiB",
    }
    /// Most distinct request names (stats rows); requests with names beyond it are counted in
    /// one "(other names)" row per method, with a warning (group URLs with the request option
    /// `name`)
    max_stats_rows: usize = parse_max_stats_rows, default "10000" {
        key: "max-stats-rows", shape: Shape::Integer, value_name: "N", example: "500",
    }
    /// Most background jobs (`background(...)`) one user may run at once
    max_background_jobs: usize = parse_max_background_jobs, default "100" {
        key: "max-background-jobs", shape: Shape::Integer, value_name: "N", example: "7",
    }
    /// Longest string a scenario may build, in bytes: a longer one is an exception at the
    /// operation that grows it (e.g. a runaway `s += s`)
    max_string_size: usize = parse_size_limit, default "67108864" {
        key: "max-string-size", shape: Shape::Integer, value_name: "BYTES", example: "1048576",
    }
    /// Most elements one array may hold, nested arrays' elements included: more is an
    /// exception at the operation that adds them
    max_array_size: usize = parse_size_limit, default "1000000" {
        key: "max-array-size", shape: Shape::Integer, value_name: "N", example: "5000",
    }
    /// Most entries one object map may hold, nested maps' entries included: more is an
    /// exception at the operation that adds them
    max_map_size: usize = parse_size_limit, default "1000000" {
        key: "max-map-size", shape: Shape::Integer, value_name: "N", example: "6000",
    }
    /// Bound of the coroutine stack pool (for tests)
    max_coroutine_stacks: usize = parse_count::<usize> {
        key: "max-coroutine-stacks", shape: Shape::Integer, value_name: "N", hidden: true,
        example: "64",
    }
    /// User classes to run, as positional arguments after the scenario
    user_classes: Vec<String> = parse_list, default "" {
        key: "user-classes", locust_env: &["LOCUST_USER_CLASSES"], shape: Shape::List,
        value_name: "USER_CLASS", flag: false, default_note: "all of them", example: "Api",
    }
    /// A config file read after the default ones (Locust's `key = value` format, or TOML when
    /// it ends in .toml)
    config: PathBuf = parse_path {
        key: "config", value_name: "FILE", in_files: false, example: "extra.conf",
    }
}

/// The options of `locust --help` (2.47) that rustlocust does not have. Each is refused, with
/// this reason, from the command line, the environment and config files alike.
pub static UNSUPPORTED: &[Unsupported] = &[
    Unsupported {
        key: "config-users",
        env: &["LOCUST_CONFIG_USERS"],
        flag: false,
        why: "per-class settings as JSON; set them in the scenario",
    },
    Unsupported {
        key: "profile",
        env: &[],
        flag: false,
        why: "Locust Cloud test-run grouping",
    },
    Unsupported {
        key: "otel",
        env: &["LOCUST_ENABLE_OPENTELEMETRY"],
        flag: true,
        why: "OpenTelemetry instrumentation",
    },
];

/// The declaration of `key`.
pub fn def(key: &str) -> Option<&'static OptionDef> {
    OPTIONS.iter().find(|d| d.key == key)
}
