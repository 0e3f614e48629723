//! The command line (`rustlocust [OPTIONS] [SCENARIO] [USER_CLASS]...`, `rustlocust demo`,
//! `rustlocust demo-target`) and the merge of command line, environment and config file into one
//! validated [`Command`].
//!
//! clap's `env` feature is deliberately not used: it reads the process environment directly,
//! which would make [`parse_from`] untestable and would bypass the config-file precedence.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Args, CommandFactory, Parser, Subcommand};
use log::LevelFilter;

use crate::config::{
    env_var_name, parse_autoquit, parse_host, parse_loglevel, parse_max_background_jobs,
    parse_path, parse_spawn_rate, parse_threads, parse_timespan_value, parse_users, parse_web_auth,
    parse_web_host, parse_web_port, split_list, Layer, DEFAULT_CONFIG_FILE, DEMO_SCENARIO,
};
pub use crate::config::{Command, ConfigError, DemoSettings, Settings};

const AFTER_HELP: &str = "\
Every option can also be set in the environment as RUSTLOCUST_<OPTION> (RUSTLOCUST_USERS=100, \
RUSTLOCUST_SPAWN_RATE=10, RUSTLOCUST_HEADLESS=true, RUSTLOCUST_SCENARIO=x.rhai, \
RUSTLOCUST_USER_CLASSES=\"A B\") or in rustlocust.toml in the current directory (users = 100, \
spawn-rate = 10, run-time = \"1m\", tags = [\"a\", \"b\"]). The command line wins over the \
environment, which wins over the file.

Examples:
  rustlocust scenario.rhai --headless -u 100 -r 10 -t 1m -H http://localhost:8080
  rustlocust demo          (a first load test against a built-in server)";

#[derive(Debug, Parser)]
#[command(
    name = "rustlocust",
    version,
    about = "Load testing in the style of Locust: write the users' behaviour in a Rhai scenario, \
             then swarm a system with them",
    args_conflicts_with_subcommands = true,
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Start the built-in demo server and run scripts/quickstart.rhai against it, headless
    Demo(DemoArgs),
    /// Serve only the built-in demo server, until Ctrl-C
    DemoTarget(DemoTargetArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The scenario file (.rhai)
    #[arg(value_name = "SCENARIO", value_parser = parse_path)]
    scenario: Option<PathBuf>,

    /// User classes to run (default: all of them)
    #[arg(value_name = "USER_CLASS")]
    user_classes: Vec<String>,

    /// The scenario file, Locust style (`-f x.rhai`); then every positional argument is a user
    /// class
    #[arg(short = 'f', long = "scenario", value_name = "SCENARIO", value_parser = parse_path)]
    scenario_opt: Option<PathBuf>,

    /// Base URL of the system under test, e.g. http://localhost:8080
    #[arg(short = 'H', long, value_name = "URL", value_parser = parse_host)]
    host: Option<String>,

    /// Peak number of concurrent users [default: 1]
    #[arg(short = 'u', long, value_name = "N", allow_negative_numbers = true, value_parser = parse_users)]
    users: Option<u64>,

    /// Users started per second [default: 1]
    #[arg(short = 'r', long, value_name = "RATE", allow_negative_numbers = true, value_parser = parse_spawn_rate)]
    spawn_rate: Option<f64>,

    /// Stop after this long, e.g. 300s, 20m, 1h30m, or seconds [default: run until stopped]
    #[arg(short = 't', long, value_name = "TIME", allow_negative_numbers = true, value_parser = parse_timespan_value)]
    run_time: Option<Duration>,

    /// Run without the web UI: start the test immediately and print stats to the terminal
    #[arg(long)]
    headless: bool,

    /// Address the web UI listens on: an IP address, localhost, or * (or 0.0.0.0) for all
    /// interfaces [default: 127.0.0.1]
    #[arg(long, value_name = "HOST", value_parser = parse_web_host)]
    web_host: Option<IpAddr>,

    /// Port of the web UI; 0 picks any free port [default: 8089]
    #[arg(short = 'P', long, value_name = "PORT", allow_negative_numbers = true, value_parser = parse_web_port)]
    web_port: Option<u16>,

    /// Serve the web UI and start the test at once with -u, -r and -t
    #[arg(long)]
    autostart: bool,

    /// With --autostart: quit this many seconds after the test ends; -1 keeps the UI running
    /// [default: -1]
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = parse_autoquit)]
    autoquit: Option<i64>,

    /// Require HTTP basic auth for the web UI and API. A command line is visible to other local
    /// users: prefer RUSTLOCUST_WEB_AUTH or `web-auth` in the config file
    #[arg(long, value_name = "USER:PASS", value_parser = WebAuthParser)]
    web_auth: Option<(String, String)>,

    /// Write an HTML report when the run ends; {u}, {r} and {t} in the name become the users,
    /// spawn rate and run time in seconds
    #[arg(long, value_name = "FILE", value_parser = parse_path)]
    html: Option<PathBuf>,

    /// How long users may finish their current task when the test stops [default: 0]
    #[arg(short = 's', long, value_name = "TIME", allow_negative_numbers = true, value_parser = parse_timespan_value)]
    stop_timeout: Option<Duration>,

    /// Run only tasks with one of these tags (repeatable, comma-separated)
    #[arg(short = 'T', long, value_name = "TAG[,TAG]")]
    tags: Option<Vec<String>>,

    /// Skip tasks with one of these tags (repeatable, comma-separated)
    #[arg(short = 'E', long, value_name = "TAG[,TAG]")]
    exclude_tags: Option<Vec<String>>,

    /// Write stats to PREFIX_stats.csv, PREFIX_failures.csv, PREFIX_exceptions.csv
    #[arg(long = "csv", value_name = "PREFIX", value_parser = parse_path)]
    csv_prefix: Option<PathBuf>,

    /// Also write PREFIX_stats_history.csv (needs --csv)
    #[arg(long)]
    csv_full_history: bool,

    /// Print the final stats as JSON on stdout
    #[arg(long)]
    json: bool,

    /// Print only the final summary, not the periodic stats
    #[arg(long)]
    only_summary: bool,

    /// error, warn, info, debug or trace [default: info]
    #[arg(short = 'L', long, value_name = "LEVEL", value_parser = parse_loglevel)]
    loglevel: Option<LevelFilter>,

    /// List the scenario's user classes and exit
    #[arg(short = 'l', long)]
    list: bool,

    /// Compile the scenario, report problems and exit without running it
    #[arg(long)]
    check: bool,

    /// With --check: run each user class's on_start, every task once and on_stop against the
    /// target, printing each request (only valid together with --check)
    #[arg(long)]
    dry_run: bool,

    /// Print the Rhai definitions of the scripting API (for editors and the Rhai language
    /// server) and exit; needs no scenario
    #[arg(long)]
    print_definitions: bool,

    /// Exit code when there were failures [default: 1]
    #[arg(long, value_name = "CODE", allow_negative_numbers = true)]
    exit_code_on_error: Option<i32>,

    /// Seed the random choices (tasks, wait times) for repeatable runs
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Worker threads that run users [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    threads: Option<usize>,

    /// Do not verify TLS certificates
    #[arg(long)]
    insecure: bool,

    /// Most background jobs (`background(...)`) one user may run at once [default: 100]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_max_background_jobs)]
    max_background_jobs: Option<usize>,

    /// Config file [default: rustlocust.toml, if present]
    #[arg(long, value_name = "FILE", value_parser = parse_path)]
    config: Option<PathBuf>,

    /// Bound of the coroutine stack pool (for tests)
    #[arg(long, value_name = "N", hide = true)]
    max_coroutine_stacks: Option<usize>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// How long the demo test runs
    #[arg(short = 't', long, value_name = "TIME", default_value = "20s", allow_negative_numbers = true, value_parser = parse_timespan_value)]
    run_time: Duration,

    /// Peak number of concurrent users
    #[arg(short = 'u', long, value_name = "N", default_value = "20", allow_negative_numbers = true, value_parser = parse_users)]
    users: u64,

    /// Users started per second
    #[arg(short = 'r', long, value_name = "RATE", default_value = "10", allow_negative_numbers = true, value_parser = parse_spawn_rate)]
    spawn_rate: f64,

    /// error, warn, info, debug or trace
    #[arg(short = 'L', long, value_name = "LEVEL", default_value = "info", value_parser = parse_loglevel)]
    loglevel: LevelFilter,
}

#[derive(Debug, Args)]
struct DemoTargetArgs {
    /// Port to listen on
    #[arg(long, default_value_t = 8080)]
    port: u16,

    /// Address to listen on (the demo server is meant for this machine only)
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
}

/// [`parse_web_auth`] for clap, whose own message for a rejected value quotes it: this one does
/// not, since the value may be a password.
#[derive(Debug, Clone, Copy)]
struct WebAuthParser;

impl TypedValueParser for WebAuthParser {
    type Value = (String, String);

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let reason = match value.to_str() {
            Some(text) => match parse_web_auth(text) {
                Ok(credentials) => return Ok(credentials),
                Err(reason) => reason,
            },
            None => "the value is not valid UTF-8".to_string(),
        };
        let name = arg.map_or_else(|| "--web-auth".to_string(), |a| a.to_string());
        // Unlike clap's own value errors this one shows the usage; it cannot leave the value out
        // otherwise.
        Err(cmd.clone().error(
            clap::error::ErrorKind::ValueValidation,
            format!("invalid value (not shown) for '{name}': {reason}"),
        ))
    }
}

fn flag(given: bool) -> Option<bool> {
    given.then_some(true)
}

/// `-T a,b -T c` -> `[a, b, c]`.
fn flatten_list(items: Option<Vec<String>>) -> Option<Vec<String>> {
    items.map(|v| v.iter().flat_map(|s| split_list(s)).collect())
}

impl RunArgs {
    fn into_layer(self) -> Layer {
        let mut user_classes = self.user_classes;
        let scenario = match (self.scenario_opt, self.scenario) {
            // With `-f`, Locust users write the user classes right after it (`-f x.rhai Api`),
            // so the first positional is a user class, not a second scenario.
            (Some(opt), Some(first)) => {
                user_classes.insert(0, first.to_string_lossy().into_owned());
                Some(opt)
            }
            (opt, positional) => opt.or(positional),
        };
        Layer {
            scenario,
            host: self.host,
            users: self.users,
            spawn_rate: self.spawn_rate,
            run_time: self.run_time,
            headless: flag(self.headless),
            stop_timeout: self.stop_timeout,
            tags: flatten_list(self.tags),
            exclude_tags: flatten_list(self.exclude_tags),
            csv_prefix: self.csv_prefix,
            csv_full_history: flag(self.csv_full_history),
            json: flag(self.json),
            only_summary: flag(self.only_summary),
            loglevel: self.loglevel,
            list: flag(self.list),
            check: flag(self.check),
            exit_code_on_error: self.exit_code_on_error,
            seed: self.seed,
            threads: self.threads,
            insecure: flag(self.insecure),
            max_coroutine_stacks: self.max_coroutine_stacks,
            max_background_jobs: self.max_background_jobs,
            dry_run: flag(self.dry_run),
            print_definitions: flag(self.print_definitions),
            user_classes: (!user_classes.is_empty()).then_some(user_classes),
            web_host: self.web_host,
            web_port: self.web_port,
            autostart: flag(self.autostart),
            autoquit: self.autoquit,
            web_auth: self.web_auth,
            html: self.html,
        }
    }
}

/// `rustlocust -u 5 demo` parses as a run of a scenario file named `demo`; clap cannot tell, but
/// the user almost certainly meant the subcommand, and "cannot read demo" would not help them.
fn reject_misplaced_subcommand(run: &RunArgs) -> Result<(), ConfigError> {
    let Some(name) = run.scenario.as_deref().and_then(Path::to_str) else {
        return Ok(());
    };
    if !matches!(name, "demo" | "demo-target") {
        return Ok(());
    }
    Err(Cli::command()
        .error(
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "`{name}` is a subcommand, so its options go after it \
                 (`rustlocust {name} --help` lists them); to run a scenario file named \
                 {name}, write ./{name}"
            ),
        )
        .into())
}

/// Parses `args` (including the program name), the environment as seen through `env`, and the
/// config file (`--config`, `RUSTLOCUST_CONFIG`, or `rustlocust.toml` in `cwd` if it exists).
/// Relative `--config` paths are resolved against `cwd`; the scenario and CSV paths are kept
/// as given.
pub fn parse_from<I, T>(
    args: I,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Command, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    match cli.command {
        Some(Sub::Demo(a)) => {
            let mut settings = Settings::new(DEMO_SCENARIO);
            settings.users = a.users;
            settings.spawn_rate = a.spawn_rate;
            settings.run_time = Some(a.run_time);
            settings.headless = true;
            settings.loglevel = a.loglevel;
            Ok(Command::Demo(DemoSettings {
                run_time: a.run_time,
                users: a.users,
                spawn_rate: a.spawn_rate,
                settings,
            }))
        }
        Some(Sub::DemoTarget(a)) => Ok(Command::DemoTarget {
            bind: a.bind,
            port: a.port,
        }),
        None => {
            reject_misplaced_subcommand(&cli.run)?;
            let config = cli.run.config.clone().or_else(|| {
                env(&env_var_name("config"))
                    .filter(|v| !v.trim().is_empty())
                    .map(PathBuf::from)
            });
            let file = match config {
                Some(path) => Layer::from_file(&cwd.join(path))?,
                None => {
                    let default = cwd.join(DEFAULT_CONFIG_FILE);
                    if default.is_file() {
                        Layer::from_file(&default)?
                    } else {
                        Layer::default()
                    }
                }
            };
            let env = Layer::from_env(env)?;
            let settings = cli.run.into_layer().over(env.over(file)).into_settings()?;
            Ok(Command::Run(settings))
        }
    }
}

/// [`parse_from`] with the real arguments, environment and current directory.
pub fn parse() -> Result<Command, ConfigError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    // Lossy, so that a non-UTF-8 value is reported as invalid instead of silently ignored.
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    parse_from(std::env::args_os(), &env, &cwd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn empty_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    fn run_in(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let argv = std::iter::once("rustlocust").chain(args.iter().copied());
        match parse_from(argv, &|k| env.get(k).cloned(), cwd)? {
            Command::Run(s) => Ok(s),
            other => panic!("expected Command::Run, got {other:?}"),
        }
    }

    fn run(args: &[&str]) -> Result<Settings, ConfigError> {
        run_in(args, &[], empty_dir().path())
    }

    fn run_env(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        run_in(args, env, empty_dir().path())
    }

    fn err(args: &[&str]) -> ConfigError {
        match run(args) {
            Ok(s) => panic!("{args:?} was accepted: {s:?}"),
            Err(e) => e,
        }
    }

    fn with_toml(text: &str) -> tempfile::TempDir {
        let dir = empty_dir();
        std::fs::write(dir.path().join("rustlocust.toml"), text).expect("write config");
        dir
    }

    #[test]
    fn defaults() {
        let s = run(&["x.rhai"]).expect("valid");
        assert_eq!(s, Settings::new("x.rhai"));
        assert_eq!(s.users, 1);
        assert_eq!(s.spawn_rate, 1.0);
        assert_eq!(s.run_time, None);
        assert!(!s.headless);
        assert_eq!(s.loglevel, LevelFilter::Info);
        assert_eq!(s.exit_code_on_error, 1);
        assert!(s.threads >= 1);
        assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.web_port, 8089);
        assert!(!s.autostart);
        assert_eq!(s.autoquit, None);
        assert_eq!(s.web_auth, None);
        assert_eq!(s.html, None);
        assert_eq!(s.html_path(), None);
    }

    #[test]
    fn every_option_from_the_command_line() {
        let s = run(&[
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
            "--headless",
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
            "--json",
            "--only-summary",
            "-L",
            "debug",
            "--list",
            "--check",
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
            "--dry-run",
            "--print-definitions",
            "--web-host",
            "*",
            "-P",
            "9000",
            "--autostart",
            "--autoquit",
            "15",
            "--web-auth",
            "admin:pw",
            "--html",
            "out/report.html",
        ])
        .expect("valid");
        assert_eq!(s.scenario, PathBuf::from("x.rhai"));
        assert_eq!(s.user_classes, vec!["Api", "Web"]);
        assert_eq!(s.host.as_deref(), Some("http://localhost:8080"));
        assert_eq!(s.users, 100);
        assert_eq!(s.spawn_rate, 10.0);
        assert_eq!(s.run_time, Some(Duration::from_secs(5400)));
        assert!(s.headless);
        assert_eq!(s.stop_timeout, Duration::from_secs(5));
        assert_eq!(s.tags, vec!["a", "b", "c"]);
        assert_eq!(s.exclude_tags, vec!["slow"]);
        assert_eq!(s.csv_prefix, Some(PathBuf::from("out/run")));
        assert!(s.csv_full_history && s.json && s.only_summary && s.list && s.check);
        assert_eq!(s.loglevel, LevelFilter::Debug);
        assert_eq!(s.exit_code_on_error, 3);
        assert_eq!(s.seed, Some(42));
        assert_eq!(s.threads, 2);
        assert!(s.insecure);
        assert_eq!(s.max_coroutine_stacks, Some(64));
        assert_eq!(s.max_background_jobs, 7);
        assert!(s.dry_run && s.print_definitions);
        assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(s.web_port, 9000);
        assert!(s.autostart);
        assert_eq!(s.autoquit, Some(Duration::from_secs(15)));
        assert_eq!(s.web_auth, Some(("admin".into(), "pw".into())));
        assert_eq!(s.html, Some(PathBuf::from("out/report.html")));
    }

    #[test]
    fn long_forms_and_locust_style_scenario_option() {
        let s = run(&[
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
        assert_eq!(s.scenario, PathBuf::from("s.rhai"));
        assert_eq!(s.user_classes, vec!["Api"]);
        assert_eq!(s.host.as_deref(), Some("https://example.com"));
        assert_eq!(s.users, 5);
        assert_eq!(s.spawn_rate, 0.5);
        assert_eq!(s.run_time, Some(Duration::from_secs(20)));
        assert_eq!(s.stop_timeout, Duration::from_secs(60));
        assert_eq!(s.tags, vec!["x"]);
        assert_eq!(s.exclude_tags, vec!["y", "z"]);
        assert_eq!(s.loglevel, LevelFilter::Warn);
        assert_eq!(s.web_host.to_string(), "::1");
        assert_eq!(s.web_port, 0);
        assert_eq!(s.html, Some(PathBuf::from("r.html")));
    }

    #[test]
    fn every_option_from_the_environment() {
        let s = run_env(
            &[],
            &[
                ("RUSTLOCUST_SCENARIO", "env.rhai"),
                ("RUSTLOCUST_HOST", "http://env:1"),
                ("RUSTLOCUST_USERS", "12"),
                ("RUSTLOCUST_SPAWN_RATE", "3.5"),
                ("RUSTLOCUST_RUN_TIME", "2m"),
                ("RUSTLOCUST_HEADLESS", "true"),
                ("RUSTLOCUST_STOP_TIMEOUT", "10"),
                ("RUSTLOCUST_TAGS", "a,b"),
                ("RUSTLOCUST_EXCLUDE_TAGS", "c"),
                ("RUSTLOCUST_CSV", "envcsv"),
                ("RUSTLOCUST_CSV_FULL_HISTORY", "1"),
                ("RUSTLOCUST_JSON", "yes"),
                ("RUSTLOCUST_ONLY_SUMMARY", "on"),
                ("RUSTLOCUST_LOGLEVEL", "trace"),
                ("RUSTLOCUST_LIST", "true"),
                ("RUSTLOCUST_CHECK", "true"),
                ("RUSTLOCUST_EXIT_CODE_ON_ERROR", "4"),
                ("RUSTLOCUST_SEED", "9"),
                ("RUSTLOCUST_THREADS", "3"),
                ("RUSTLOCUST_INSECURE", "true"),
                ("RUSTLOCUST_MAX_COROUTINE_STACKS", "5"),
                ("RUSTLOCUST_MAX_BACKGROUND_JOBS", "6"),
                ("RUSTLOCUST_DRY_RUN", "true"),
                ("RUSTLOCUST_PRINT_DEFINITIONS", "yes"),
                ("RUSTLOCUST_USER_CLASSES", "A B"),
                ("RUSTLOCUST_WEB_HOST", "localhost"),
                ("RUSTLOCUST_WEB_PORT", "8090"),
                ("RUSTLOCUST_AUTOSTART", "true"),
                ("RUSTLOCUST_AUTOQUIT", "0"),
                ("RUSTLOCUST_WEB_AUTH", "env:pass"),
                ("RUSTLOCUST_HTML", "env_{u}.html"),
            ],
        )
        .expect("valid");
        assert_eq!(s.scenario, PathBuf::from("env.rhai"));
        assert_eq!(s.host.as_deref(), Some("http://env:1"));
        assert_eq!(s.users, 12);
        assert_eq!(s.spawn_rate, 3.5);
        assert_eq!(s.run_time, Some(Duration::from_secs(120)));
        assert!(s.headless);
        assert_eq!(s.stop_timeout, Duration::from_secs(10));
        assert_eq!(s.tags, vec!["a", "b"]);
        assert_eq!(s.exclude_tags, vec!["c"]);
        assert_eq!(s.csv_prefix, Some(PathBuf::from("envcsv")));
        assert!(s.csv_full_history && s.json && s.only_summary && s.list && s.check);
        assert_eq!(s.loglevel, LevelFilter::Trace);
        assert_eq!(s.exit_code_on_error, 4);
        assert_eq!(s.seed, Some(9));
        assert_eq!(s.threads, 3);
        assert!(s.insecure);
        assert_eq!(s.max_coroutine_stacks, Some(5));
        assert_eq!(s.max_background_jobs, 6);
        assert!(s.dry_run && s.print_definitions);
        assert_eq!(s.user_classes, vec!["A", "B"]);
        assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.web_port, 8090);
        assert!(s.autostart);
        assert_eq!(s.autoquit, Some(Duration::ZERO));
        assert_eq!(s.web_auth, Some(("env".into(), "pass".into())));
        assert_eq!(s.html_path(), Some(PathBuf::from("env_12.html")));
    }

    #[test]
    fn every_option_from_the_config_file() {
        let dir = with_toml(
            r#"
            scenario = "file.rhai"
            host = "http://file:2"
            users = 100
            spawn-rate = 10
            run-time = "1m"
            headless = true
            stop_timeout = "3s"
            tags = ["a", "b"]
            exclude-tags = ["c"]
            csv = "filecsv"
            csv-full-history = true
            json = true
            only-summary = true
            loglevel = "error"
            list = true
            check = true
            exit-code-on-error = 0
            seed = 1
            threads = 4
            insecure = true
            max-coroutine-stacks = 8
            max_background_jobs = 9
            dry-run = true
            print-definitions = true
            user_classes = ["U"]
            web-host = "0.0.0.0"
            web-port = 8091
            autostart = true
            autoquit = 60
            web_auth = "file:pw"
            html = "file.html"
            "#,
        );
        let s = run_in(&[], &[], dir.path()).expect("valid");
        assert_eq!(s.scenario, PathBuf::from("file.rhai"));
        assert_eq!(s.host.as_deref(), Some("http://file:2"));
        assert_eq!(s.users, 100);
        assert_eq!(s.spawn_rate, 10.0);
        assert_eq!(s.run_time, Some(Duration::from_secs(60)));
        assert!(s.headless);
        assert_eq!(s.stop_timeout, Duration::from_secs(3));
        assert_eq!(s.tags, vec!["a", "b"]);
        assert_eq!(s.exclude_tags, vec!["c"]);
        assert_eq!(s.csv_prefix, Some(PathBuf::from("filecsv")));
        assert!(s.csv_full_history && s.json && s.only_summary && s.list && s.check);
        assert_eq!(s.loglevel, LevelFilter::Error);
        assert_eq!(s.exit_code_on_error, 0);
        assert_eq!(s.seed, Some(1));
        assert_eq!(s.threads, 4);
        assert!(s.insecure);
        assert_eq!(s.max_coroutine_stacks, Some(8));
        assert_eq!(s.max_background_jobs, 9);
        assert!(s.dry_run && s.print_definitions);
        assert_eq!(s.user_classes, vec!["U"]);
        assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(s.web_port, 8091);
        assert!(s.autostart);
        assert_eq!(s.autoquit, Some(Duration::from_secs(60)));
        assert_eq!(s.web_auth, Some(("file".into(), "pw".into())));
        assert_eq!(s.html, Some(PathBuf::from("file.html")));
    }

    #[test]
    fn precedence_file_then_env_then_command_line() {
        let dir = with_toml("scenario = \"file.rhai\"\nusers = 1\nspawn-rate = 1\nrun-time = \"1m\"\ntags = [\"f\"]\nheadless = true");
        let env = [
            ("RUSTLOCUST_USERS", "2"),
            ("RUSTLOCUST_SPAWN_RATE", "2"),
            ("RUSTLOCUST_HEADLESS", "false"),
        ];
        let s = run_in(&["-u", "3"], &env, dir.path()).expect("valid");
        assert_eq!(s.users, 3, "command line beats env and file");
        assert_eq!(s.spawn_rate, 2.0, "env beats file");
        assert!(!s.headless, "an explicit false in env beats the file");
        assert_eq!(
            s.run_time,
            Some(Duration::from_secs(60)),
            "file beats default"
        );
        assert_eq!(s.tags, vec!["f"]);
        assert_eq!(s.scenario, PathBuf::from("file.rhai"));

        let s = run_in(
            &["cli.rhai", "-T", "c"],
            &[("RUSTLOCUST_SCENARIO", "env.rhai")],
            dir.path(),
        )
        .expect("valid");
        assert_eq!(s.scenario, PathBuf::from("cli.rhai"));
        assert_eq!(s.tags, vec!["c"], "lists are replaced, not merged");

        let s = run_in(&[], &[("RUSTLOCUST_SCENARIO", "env.rhai")], dir.path()).expect("valid");
        assert_eq!(s.scenario, PathBuf::from("env.rhai"));
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
        let s = run_in(&["--config", "cfg/a.toml"], &[], dir.path()).expect("valid");
        assert_eq!(s.scenario, PathBuf::from("a.rhai"));
        let s = run_in(&[], &[("RUSTLOCUST_CONFIG", "cfg/a.toml")], dir.path()).expect("valid");
        assert_eq!(s.scenario, PathBuf::from("a.rhai"));
        let s = run_in(&[], &[], dir.path()).expect("valid");
        assert_eq!(s.scenario, PathBuf::from("default.rhai"));

        let e = run_in(&["x.rhai", "--config", "missing.toml"], &[], dir.path()).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::ReadConfig { .. }), "{msg}");
        assert!(msg.contains("missing.toml"), "{msg}");
    }

    #[test]
    fn config_file_errors_name_file_key_and_type() {
        let dir = with_toml("users = \"many\"");
        let msg = run_in(&["x.rhai"], &[], dir.path())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("rustlocust.toml"), "{msg}");
        assert!(
            msg.contains("`users` must be an integer, not a string"),
            "{msg}"
        );
        let dir = with_toml("hatch-rate = 5");
        let msg = run_in(&["x.rhai"], &[], dir.path())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unknown key `hatch-rate`"), "{msg}");
        assert!(msg.contains("did you mean `spawn-rate`"), "{msg}");
    }

    #[test]
    fn no_scenario() {
        let e = err(&[]);
        assert!(matches!(e, ConfigError::NoScenario));
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("no scenario given"), "{e}");
        let e = err(&["-u", "5", "--headless"]);
        assert!(matches!(e, ConfigError::NoScenario));
    }

    /// A command-line error from clap, with the message it would print.
    fn usage_error(args: &[&str]) -> String {
        let e = err(args);
        assert!(matches!(e, ConfigError::Clap(_)), "{args:?}: {e:?}");
        assert_eq!(e.exit_code(), 2, "{args:?}");
        assert!(!e.is_info());
        e.to_string()
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
        let msg = run_env(&["x.rhai"], &[("RUSTLOCUST_USERS", "-3")])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("RUSTLOCUST_USERS") && msg.contains("negative"),
            "{msg}"
        );
    }

    #[test]
    fn bad_spawn_rate() {
        for (v, reason) in [
            ("0", "greater than 0"),
            ("-2", "greater than 0"),
            ("-0.5", "greater than 0"),
            ("NaN", "finite"),
            ("inf", "finite"),
            ("fast", "expected a number"),
        ] {
            let msg = usage_error(&["x.rhai", "-r", v]);
            assert!(msg.contains(&format!("'{v}'")), "{v}: {msg}");
            assert!(msg.contains("--spawn-rate"), "{v}: {msg}");
            assert!(msg.contains(reason), "{v}: {msg}");
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
        let msg = run_env(&["x.rhai"], &[("RUSTLOCUST_RUN_TIME", "1m1h")])
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
        assert_eq!(run(&["x.rhai"]).expect("valid").max_background_jobs, 100);
        let s = run(&["x.rhai", "--max-background-jobs", "1"]).expect("valid");
        assert_eq!(s.max_background_jobs, 1);
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
        let e = run_env(&["x.rhai"], &[("RUSTLOCUST_MAX_BACKGROUND_JOBS", "0")]).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.exit_code(), 2);
        assert!(
            msg.contains("RUSTLOCUST_MAX_BACKGROUND_JOBS") && msg.contains("at least 1"),
            "{msg}"
        );
        let dir = with_toml("max-background-jobs = 3");
        let s = run_in(
            &["x.rhai"],
            &[("RUSTLOCUST_MAX_BACKGROUND_JOBS", "4")],
            dir.path(),
        )
        .expect("valid");
        assert_eq!(s.max_background_jobs, 4, "env beats file");
        let s = run_in(&["x.rhai", "--max-background-jobs=5"], &[], dir.path()).expect("valid");
        assert_eq!(s.max_background_jobs, 5, "command line beats file");
    }

    #[test]
    fn web_ui_options() {
        let s = run(&["x.rhai", "--web-host", "localhost"]).expect("valid");
        assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let s = run(&["x.rhai", "--web-host", "0.0.0.0", "-P", "0"]).expect("valid");
        assert_eq!(
            (s.web_host, s.web_port),
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
        let msg = run_env(&["x.rhai"], &[("RUSTLOCUST_WEB_PORT", "70000")])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("RUSTLOCUST_WEB_PORT") && msg.contains("from 0 to 65535"),
            "{msg}"
        );
        let msg = run_env(&["x.rhai"], &[("RUSTLOCUST_WEB_HOST", "*.example")])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("RUSTLOCUST_WEB_HOST"), "{msg}");

        // The command line beats env and file, also back to the defaults' values.
        let dir = with_toml("web-host = \"0.0.0.0\"\nweb-port = 1\nautostart = true");
        let env = [("RUSTLOCUST_WEB_PORT", "2")];
        let s = run_in(&["x.rhai"], &env, dir.path()).expect("valid");
        assert_eq!(s.web_port, 2, "env beats file");
        assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let s = run_in(
            &["x.rhai", "-P", "8089", "--web-host", "127.0.0.1"],
            &env,
            dir.path(),
        )
        .expect("valid");
        assert_eq!(s.web_port, 8089);
        assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(s.autostart, "from the file");
    }

    #[test]
    fn autostart_and_autoquit() {
        let s = run(&["x.rhai", "--autostart", "-u", "5", "-t", "1m"]).expect("valid");
        assert!(s.autostart && !s.headless);
        assert_eq!(s.autoquit, None, "-1 (never) by default");
        let s = run(&["x.rhai", "--autostart", "--autoquit", "0"]).expect("valid");
        assert_eq!(s.autoquit, Some(Duration::ZERO));
        let s = run(&["x.rhai", "--autostart", "--autoquit=-1"]).expect("valid");
        assert_eq!(s.autoquit, None);
        // Locust accepts (and ignores) --autostart with --headless.
        assert!(run(&["x.rhai", "--autostart", "--headless"]).is_ok());
        assert!(run(&["x.rhai", "--autoquit", "-1"]).is_ok(), "-1 is never");

        for args in [
            &["x.rhai", "--autoquit", "10"][..],
            &["x.rhai", "--headless", "--autoquit", "10"],
        ] {
            let e = err(args);
            assert!(
                matches!(e, ConfigError::AutoquitWithoutAutostart),
                "{args:?}: {e:?}"
            );
            assert_eq!(e.exit_code(), 2);
        }
        let e = run_env(&["x.rhai"], &[("RUSTLOCUST_AUTOQUIT", "5")]).unwrap_err();
        assert!(matches!(e, ConfigError::AutoquitWithoutAutostart), "{e:?}");
        let s = run_env(
            &["x.rhai", "--autoquit", "5"],
            &[("RUSTLOCUST_AUTOSTART", "1")],
        )
        .expect("--autostart from the environment counts");
        assert_eq!(s.autoquit, Some(Duration::from_secs(5)));
        // An explicit -1 on the command line overrides the file's value.
        let dir = with_toml("autoquit = 30");
        assert!(run_in(&["x.rhai"], &[], dir.path()).is_err());
        let s = run_in(&["x.rhai", "--autoquit", "-1"], &[], dir.path()).expect("valid");
        assert_eq!(s.autoquit, None);

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
        let s = run(&["x.rhai", "--web-auth", "admin:p:w"]).expect("valid");
        assert_eq!(s.web_auth, Some(("admin".into(), "p:w".into())));
        let s = run(&["x.rhai", "--web-auth=me:x"]).expect("valid");
        assert_eq!(s.web_auth, Some(("me".into(), "x".into())));
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
        let e = run_env(&["x.rhai"], &[("RUSTLOCUST_WEB_AUTH", "hunter2")]).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::InvalidValue { .. }), "{msg}");
        assert!(msg.contains("RUSTLOCUST_WEB_AUTH"), "{msg}");
        assert!(!msg.contains("hunter2"), "the value is shown: {msg}");
        let dir = with_toml("web-auth = \"file:pw\"");
        let s = run_in(&["x.rhai", "--web-auth", "cli:pw"], &[], dir.path()).expect("valid");
        assert_eq!(s.web_auth, Some(("cli".into(), "pw".into())));
    }

    #[test]
    fn html_report_path() {
        let s = run(&[
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
        assert_eq!(s.html, Some(PathBuf::from("out/{u}u_{r}r_{t}s.html")));
        assert_eq!(s.html_path(), Some(PathBuf::from("out/50u_2.5r_120s.html")));
        let s = run(&["x.rhai", "--html", "{u}_{t}.html"]).expect("valid");
        assert_eq!(s.html_path(), Some(PathBuf::from("1_{t}.html")));
        let msg = usage_error(&["x.rhai", "--html", ""]);
        assert!(msg.contains("--html") && msg.contains("empty"), "{msg}");
        let s = run_env(&["x.rhai"], &[("RUSTLOCUST_HTML", "env.html")]).expect("valid");
        assert_eq!(s.html_path(), Some(PathBuf::from("env.html")));
    }

    #[test]
    fn dry_run_needs_check() {
        let e = err(&["x.rhai", "--dry-run"]);
        assert!(matches!(e, ConfigError::DryRunWithoutCheck), "{e:?}");
        assert_eq!(e.exit_code(), 2);
        assert!(!e.is_info());
        assert!(
            e.to_string().contains("only works together with --check"),
            "{e}"
        );
        let s = run(&["x.rhai", "--check", "--dry-run"]).expect("valid");
        assert!(s.check && s.dry_run);
        assert!(!run(&["x.rhai", "--check"]).expect("valid").dry_run);
        // --check may come from elsewhere; an explicit false does not count.
        let s = run_env(&["x.rhai", "--dry-run"], &[("RUSTLOCUST_CHECK", "true")]).expect("valid");
        assert!(s.check && s.dry_run);
        let e = run_env(&["x.rhai", "--dry-run"], &[("RUSTLOCUST_CHECK", "false")]).unwrap_err();
        assert!(matches!(e, ConfigError::DryRunWithoutCheck), "{e:?}");
        let e = run_env(&["x.rhai"], &[("RUSTLOCUST_DRY_RUN", "1")]).unwrap_err();
        assert!(matches!(e, ConfigError::DryRunWithoutCheck), "{e:?}");
    }

    #[test]
    fn print_definitions_needs_no_scenario() {
        let s = run(&["--print-definitions"]).expect("parses alone");
        assert!(s.print_definitions);
        assert_eq!(s.scenario, PathBuf::new());
        let s = run(&["x.rhai", "--print-definitions"]).expect("valid");
        assert!(s.print_definitions);
        assert_eq!(s.scenario, PathBuf::from("x.rhai"));
        let s = run_env(&[], &[("RUSTLOCUST_PRINT_DEFINITIONS", "true")]).expect("valid");
        assert!(s.print_definitions);
        let dir = with_toml("print-definitions = true");
        assert!(
            run_in(&[], &[], dir.path())
                .expect("valid")
                .print_definitions
        );
        assert!(!run(&["x.rhai"]).expect("valid").print_definitions);
        // Other options are still checked.
        usage_error(&["--print-definitions", "-u", "-1"]);
    }

    #[test]
    fn csv_full_history_needs_csv() {
        let e = err(&["x.rhai", "--csv-full-history"]);
        assert!(matches!(e, ConfigError::CsvFullHistoryWithoutCsv));
        assert!(e.to_string().contains("requires --csv"), "{e}");
        assert!(run(&["x.rhai", "--csv-full-history", "--csv", "p"]).is_ok());
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
        ] {
            assert!(help.contains(option), "{option} missing: {help}");
        }
        assert!(
            !help.contains("max-coroutine-stacks"),
            "hidden option shown: {help}"
        );
    }

    fn command(args: &[&str]) -> Result<Command, ConfigError> {
        let argv = std::iter::once("rustlocust").chain(args.iter().copied());
        parse_from(argv, &no_env, empty_dir().path())
    }

    #[test]
    fn demo_subcommand() {
        let Ok(Command::Demo(d)) = command(&["demo"]) else {
            panic!("not a demo command");
        };
        assert_eq!(d.run_time, Duration::from_secs(20));
        assert_eq!(d.users, 20);
        assert_eq!(d.spawn_rate, 10.0);
        assert_eq!(d.settings.scenario, PathBuf::from(DEMO_SCENARIO));
        assert!(d.settings.headless);
        assert_eq!(d.settings.users, 20);
        assert_eq!(d.settings.run_time, Some(Duration::from_secs(20)));

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
            (d.run_time, d.users, d.spawn_rate),
            (Duration::from_secs(5), 3, 1.5)
        );
        assert_eq!(d.settings.spawn_rate, 1.5);

        let msg = command(&["demo", "-r", "0"]).unwrap_err().to_string();
        assert!(msg.contains("greater than 0"), "{msg}");
    }

    #[test]
    fn demo_ignores_broken_config_file() {
        // A first-time user's demo must not depend on whatever rustlocust.toml lies around.
        let dir = with_toml("nonsense = 1");
        let argv = ["rustlocust", "demo"];
        assert!(matches!(
            parse_from(argv, &no_env, dir.path()),
            Ok(Command::Demo(_))
        ));
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
            Err(ConfigError::Clap(_))
        ));
    }

    #[test]
    fn scenario_and_subcommands_do_not_clash() {
        // A run option with a subcommand is a usage error, not a silently ignored option.
        let msg = usage_error(&["-u", "5", "demo"]);
        assert!(msg.contains("`demo` is a subcommand"), "{msg}");
        let msg = usage_error(&["--headless", "demo-target"]);
        assert!(msg.contains("`demo-target` is a subcommand"), "{msg}");
        assert!(run(&["./demo", "-u", "5"]).is_ok());
        let s = run(&["demo.rhai"]).expect("a scenario path that starts like a subcommand");
        assert_eq!(s.scenario, PathBuf::from("demo.rhai"));
    }
}
