//! The validated run configuration ([`Settings`], [`Command`]) and the two non-CLI sources it
//! can come from: `RUSTLOCUST_<NAME>` environment variables and a TOML file (`rustlocust.toml` or
//! `--config FILE`). Precedence is file < environment < command line; `cli.rs` does the command
//! line and the merge.
//!
//! Each source is read into a [`Layer`] (every field optional) so that "not given" can be told
//! apart from "given as the default", which precedence needs.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;

use crate::timespan::parse_timespan;

pub use crate::cli::{parse, parse_from};

/// Read from the current directory when no `--config` / `RUSTLOCUST_CONFIG` is given.
pub const DEFAULT_CONFIG_FILE: &str = "rustlocust.toml";
/// Prefix of the environment variables: `RUSTLOCUST_USERS`, `RUSTLOCUST_SPAWN_RATE`, ...
pub const ENV_PREFIX: &str = "RUSTLOCUST_";
/// The scenario `rustlocust demo` runs against the built-in demo target.
pub const DEMO_SCENARIO: &str = "scripts/quickstart.rhai";
/// Default of `--max-background-jobs`: background jobs one user may run at once.
pub const DEFAULT_MAX_BACKGROUND_JOBS: usize = 100;
/// Default of `--web-host`: this machine only. Locust listens on all interfaces by default; an
/// unauthenticated UI that can start load tests should not be reachable from the network unless
/// asked for (`--web-host '*'`).
pub const DEFAULT_WEB_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Default of `-P/--web-port`, Locust's.
pub const DEFAULT_WEB_PORT: u16 = 8089;

/// What the program was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run (or `--list` / `--check`) a scenario.
    Run(Settings),
    /// Start the demo target and run the quickstart scenario against it, headless.
    Demo(DemoSettings),
    /// Serve only the demo target until Ctrl-C.
    DemoTarget { bind: IpAddr, port: u16 },
}

/// Everything a run needs, validated: once this exists, no option can still be invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Empty only with `print_definitions` (which needs no scenario).
    pub scenario: PathBuf,
    /// Base URL (`http://` or `https://`); `None` leaves it to the scenario.
    pub host: Option<String>,
    pub users: u64,
    /// Users started per second; always finite and > 0.
    pub spawn_rate: f64,
    /// `None` runs until stopped.
    pub run_time: Option<Duration>,
    pub headless: bool,
    /// How long users may finish their current task once the test stops.
    pub stop_timeout: Duration,
    pub tags: Vec<String>,
    pub exclude_tags: Vec<String>,
    pub csv_prefix: Option<PathBuf>,
    pub csv_full_history: bool,
    pub json: bool,
    pub only_summary: bool,
    pub loglevel: LevelFilter,
    pub list: bool,
    pub check: bool,
    pub exit_code_on_error: i32,
    pub seed: Option<u64>,
    /// Worker threads that run users; always >= 1.
    pub threads: usize,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// Overrides the coroutine stack-pool bound (hidden option, for tests).
    pub max_coroutine_stacks: Option<usize>,
    /// Most background jobs one user may run at once; always >= 1.
    pub max_background_jobs: usize,
    /// `--check --dry-run`; never set without `check`.
    pub dry_run: bool,
    /// Print the editor definitions of the scripting API and exit (no scenario needed).
    pub print_definitions: bool,
    /// User classes to run; empty means all.
    pub user_classes: Vec<String>,
    /// Address the web UI listens on (`0.0.0.0` = all interfaces). Unused with `headless`.
    pub web_host: IpAddr,
    /// Port of the web UI; 0 lets the system pick a free one. Unused with `headless`.
    pub web_port: u16,
    /// Serve the web UI and start the test at once with `users`, `spawn_rate` and `run_time`.
    pub autostart: bool,
    /// Quit this long after an automatically started test ends; `None` (`--autoquit -1`, the
    /// default) keeps the UI running. Never set without `autostart`.
    pub autoquit: Option<Duration>,
    /// HTTP basic auth credentials (user, password) for the web UI and API. The user is never
    /// empty, nor is the password.
    pub web_auth: Option<(String, String)>,
    /// `--html FILE` as given, with its `{u}`/`{r}`/`{t}` placeholders; write to
    /// [`html_path`](Settings::html_path).
    pub html: Option<PathBuf>,
}

impl Settings {
    /// The settings of a plain `rustlocust <scenario>`: every option at its default.
    pub fn new(scenario: impl Into<PathBuf>) -> Self {
        Settings {
            scenario: scenario.into(),
            host: None,
            users: 1,
            spawn_rate: 1.0,
            run_time: None,
            headless: false,
            stop_timeout: Duration::ZERO,
            tags: Vec::new(),
            exclude_tags: Vec::new(),
            csv_prefix: None,
            csv_full_history: false,
            json: false,
            only_summary: false,
            loglevel: LevelFilter::Info,
            list: false,
            check: false,
            exit_code_on_error: 1,
            seed: None,
            threads: default_threads(),
            insecure: false,
            max_coroutine_stacks: None,
            max_background_jobs: DEFAULT_MAX_BACKGROUND_JOBS,
            dry_run: false,
            print_definitions: false,
            user_classes: Vec::new(),
            web_host: DEFAULT_WEB_HOST,
            web_port: DEFAULT_WEB_PORT,
            autostart: false,
            autoquit: None,
            web_auth: None,
            html: None,
        }
    }

    /// Where to write the HTML report: `--html` with Locust's placeholders filled in, `{u}` by
    /// the number of users, `{r}` by the spawn rate and `{t}` by the run time in whole seconds
    /// (`report_{u}u_{t}s.html` -> `report_100u_60s.html`). A fractional spawn rate is written as
    /// is (`0.5`) where Locust would truncate it to `0`. Without a run time `{t}` stays, as in
    /// Locust. A path that is not valid UTF-8 is returned unchanged.
    pub fn html_path(&self) -> Option<PathBuf> {
        let path = self.html.as_ref()?;
        let Some(text) = path.to_str() else {
            return Some(path.clone());
        };
        // f64's Display writes 10.0 as `10` and 0.5 as `0.5`.
        let mut name = text
            .replace("{u}", &self.users.to_string())
            .replace("{r}", &self.spawn_rate.to_string());
        if let Some(run_time) = self.run_time {
            name = name.replace("{t}", &run_time.as_secs().to_string());
        }
        Some(PathBuf::from(name))
    }
}

/// `rustlocust demo`: the quickstart scenario, headless, against the built-in target.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSettings {
    pub run_time: Duration,
    pub users: u64,
    pub spawn_rate: f64,
    /// The rest, with `scenario` = [`DEMO_SCENARIO`], `headless`, and `users`, `spawn_rate`,
    /// `run_time` copied from above. `host` is `None`: the demo target's port is only known once
    /// it is bound.
    pub settings: Settings,
}

/// The machine's available parallelism (1 if it cannot be determined).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Env(String),
    File { path: PathBuf, key: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::File { path, key } => write!(f, "`{key}` in {}", path.display()),
        }
    }
}

/// Why no [`Command`] could be produced.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// clap's own outcome: `--help` / `--version` (print it, exit 0) or a command-line usage
    /// error, including invalid option values (print it, exit 2). See [`ConfigError::exit_code`].
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("cannot read config file {}: {source}", path.display())]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {} is not valid TOML: {message}", path.display())]
    ConfigSyntax { path: PathBuf, message: String },
    #[error("config file {}: unknown key `{key}`{}", path.display(), suggestion_text(suggestion))]
    UnknownKey {
        path: PathBuf,
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("config file {}: `{key}` must be {expected}, not {found}", path.display())]
    WrongType {
        path: PathBuf,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("config file {}: `{first}` and `{second}` are the same option; keep one", path.display())]
    DuplicateKey {
        path: PathBuf,
        first: String,
        second: String,
    },
    #[error("invalid value {value:?} for {origin}: {reason}")]
    InvalidValue {
        origin: Origin,
        value: String,
        reason: String,
    },
    #[error(
        "no scenario given: pass the scenario file (`rustlocust scenario.rhai`), set \
         RUSTLOCUST_SCENARIO, or put `scenario = \"scenario.rhai\"` in rustlocust.toml \
         (first time? try `rustlocust demo`)"
    )]
    NoScenario,
    #[error(
        "--csv-full-history requires --csv PREFIX (the history goes to PREFIX_stats_history.csv)"
    )]
    CsvFullHistoryWithoutCsv,
    #[error(
        "--dry-run only works together with --check (`rustlocust scenario.rhai --check --dry-run`)"
    )]
    DryRunWithoutCheck,
    #[error(
        "--autoquit only works together with --autostart: it quits that many seconds after the \
         automatically started test ends (a --headless run quits when its test ends anyway)"
    )]
    AutoquitWithoutAutostart,
}

fn suggestion_text(s: &Option<&'static str>) -> String {
    match s {
        Some(k) => format!(" (did you mean `{k}`?)"),
        None => format!(" (known keys: {})", KEYS.join(", ")),
    }
}

impl ConfigError {
    /// Whether this is `--help` or `--version` output rather than an error.
    pub fn is_info(&self) -> bool {
        matches!(self, ConfigError::Clap(e) if e.exit_code() == 0)
    }

    /// 0 for `--help`/`--version`, 2 for every error: clap's convention for usage errors, and
    /// kept for our own checks so that a CI job can tell a misconfigured run (2) from a run whose
    /// requests failed (`--exit-code-on-error`, 1 by default).
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Clap(e) => e.exit_code(),
            _ => 2,
        }
    }

    /// Prints the message the way the user expects: help and version to stdout, errors to stderr.
    pub fn print(&self) {
        match self {
            ConfigError::Clap(e) => {
                let _ = e.print();
            }
            other => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr().lock(), "error: {other}");
            }
        }
    }

    /// [`print`](Self::print), then the exit code to use.
    pub fn report(&self) -> i32 {
        self.print();
        self.exit_code()
    }
}

// ----- value parsers, shared by the command line (as clap value parsers) and the other sources.

/// Non-negative whole number of users.
pub(crate) fn parse_users(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.starts_with('-') && t[1..].parse::<f64>().is_ok() {
        return Err("the number of users cannot be negative".into());
    }
    t.parse::<u64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("more than {} users", u64::MAX),
        _ => "expected a whole number of users, e.g. 100".into(),
    })
}

pub(crate) fn parse_spawn_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of users per second, e.g. 10 or 0.5".to_string())?;
    check_spawn_rate(rate)
}

/// The spawn rate divides time between user starts: zero, negative or non-finite would stall or
/// break the ramp-up.
pub(crate) fn check_spawn_rate(rate: f64) -> Result<f64, String> {
    if rate.is_nan() || rate.is_infinite() {
        Err("the spawn rate must be a finite number".into())
    } else if rate <= 0.0 {
        Err("the spawn rate must be greater than 0".into())
    } else {
        Ok(rate)
    }
}

pub(crate) fn parse_timespan_value(s: &str) -> Result<Duration, String> {
    parse_timespan(s).map_err(|e| e.kind.to_string() + " (expected e.g. 30s, 5m, 1h30m or 20)")
}

pub(crate) fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| "expected a whole number of threads, e.g. 4".to_string())?;
    check_threads(n)
}

pub(crate) fn check_threads(n: usize) -> Result<usize, String> {
    if n == 0 {
        Err("at least 1 thread is needed to run users".into())
    } else {
        Ok(n)
    }
}

pub(crate) fn parse_max_background_jobs(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| "expected a whole number of background jobs, e.g. 100".to_string())?;
    check_max_background_jobs(n)
}

pub(crate) fn check_max_background_jobs(n: usize) -> Result<usize, String> {
    if n == 0 {
        Err("at least 1 background job per user must be allowed".into())
    } else {
        Ok(n)
    }
}

pub(crate) fn parse_loglevel(s: &str) -> Result<LevelFilter, String> {
    // `warning` and `critical` are Python's names, which Locust users are used to.
    match s.trim().to_ascii_lowercase().as_str() {
        "error" | "critical" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err("expected one of error, warn, info, debug, trace".into()),
    }
}

pub(crate) fn parse_host(s: &str) -> Result<String, String> {
    const HINT: &str = "expected a base URL such as http://localhost:8080 or https://example.com";
    let t = s.trim();
    let url = url::Url::parse(t).map_err(|e| format!("{e}; {HINT}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the scheme must be http or https; {HINT}"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("there is no host name; {HINT}"));
    }
    Ok(t.to_string())
}

pub(crate) fn parse_path(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        Err("the path is empty".into())
    } else {
        Ok(PathBuf::from(s))
    }
}

/// `--web-host`: an IP address, `localhost`, or `*` for all interfaces. Host names are not
/// looked up: the address to listen on must be one of this machine's, and a name that resolves
/// elsewhere would only fail later, at bind time.
pub(crate) fn parse_web_host(s: &str) -> Result<IpAddr, String> {
    const HINT: &str = "expected an IP address of this machine such as 127.0.0.1 or ::1, \
                        localhost, or * (or 0.0.0.0) for all interfaces";
    let t = s.trim();
    if t.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if t == "*" {
        return Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    let bare = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(t);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    if t.is_empty() {
        Err(format!("the address is empty; {HINT}"))
    } else if let Ok(addr) = t.parse::<SocketAddr>() {
        Err(format!(
            "the port goes in --web-port: --web-host {} --web-port {}",
            addr.ip(),
            addr.port()
        ))
    } else if t.contains("://") {
        Err(format!("a URL is not an address to listen on; {HINT}"))
    } else {
        Err(format!(
            "not an IP address (host names other than localhost are not looked up); {HINT}"
        ))
    }
}

pub(crate) fn parse_web_port(s: &str) -> Result<u16, String> {
    let t = s.trim();
    t.parse::<u16>().map_err(|_| {
        if t.parse::<i128>().is_ok() {
            "a port must be from 0 to 65535 (0 picks any free port)".to_string()
        } else {
            "expected a port number, e.g. 8089 (0 picks any free port)".to_string()
        }
    })
}

/// `--autoquit`: Locust's whole seconds, -1 meaning never.
pub(crate) fn parse_autoquit(s: &str) -> Result<i64, String> {
    let n: i64 = s.trim().parse().map_err(|_| {
        "expected a whole number of seconds, e.g. 30, or -1 to never quit".to_string()
    })?;
    if n < -1 {
        Err("expected -1 (never quit) or a number of seconds, 0 or more".into())
    } else {
        Ok(n)
    }
}

/// `--web-auth USER:PASS`; the password may itself contain `:`. Error messages never repeat the
/// value, which may hold the password.
pub(crate) fn parse_web_auth(s: &str) -> Result<(String, String), String> {
    let Some((user, password)) = s.split_once(':') else {
        return Err("expected USER:PASS, a user name and a password separated by `:`".into());
    };
    if user.trim().is_empty() {
        return Err("the user name before the `:` is empty (expected USER:PASS)".into());
    }
    if password.is_empty() {
        // Most likely `--web-auth admin:$PASSWORD` with the variable unset: refuse rather than
        // protect the UI with an empty password.
        return Err("the password after the `:` is empty (expected USER:PASS)".into());
    }
    Ok((user.to_string(), password.to_string()))
}

pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// Splits `a,b c` into `["a", "b", "c"]`, dropping empty items.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

// ----- layers

/// One source's values; `None` = not given by this source.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Layer {
    pub scenario: Option<PathBuf>,
    pub host: Option<String>,
    pub users: Option<u64>,
    pub spawn_rate: Option<f64>,
    pub run_time: Option<Duration>,
    pub headless: Option<bool>,
    pub stop_timeout: Option<Duration>,
    pub tags: Option<Vec<String>>,
    pub exclude_tags: Option<Vec<String>>,
    pub csv_prefix: Option<PathBuf>,
    pub csv_full_history: Option<bool>,
    pub json: Option<bool>,
    pub only_summary: Option<bool>,
    pub loglevel: Option<LevelFilter>,
    pub list: Option<bool>,
    pub check: Option<bool>,
    pub exit_code_on_error: Option<i32>,
    pub seed: Option<u64>,
    pub threads: Option<usize>,
    pub insecure: Option<bool>,
    pub max_coroutine_stacks: Option<usize>,
    pub max_background_jobs: Option<usize>,
    pub dry_run: Option<bool>,
    pub print_definitions: Option<bool>,
    pub user_classes: Option<Vec<String>>,
    pub web_host: Option<IpAddr>,
    pub web_port: Option<u16>,
    pub autostart: Option<bool>,
    /// As given: -1 (never) is kept, so that it can override a lower layer's value.
    pub autoquit: Option<i64>,
    pub web_auth: Option<(String, String)>,
    pub html: Option<PathBuf>,
}

/// The config-file keys (long option names); the environment variable of each is
/// `RUSTLOCUST_` + the key in upper case with `-` as `_`.
pub(crate) const KEYS: &[&str] = &[
    "scenario",
    "host",
    "users",
    "spawn-rate",
    "run-time",
    "headless",
    "stop-timeout",
    "tags",
    "exclude-tags",
    "csv",
    "csv-full-history",
    "json",
    "only-summary",
    "loglevel",
    "list",
    "check",
    "exit-code-on-error",
    "seed",
    "threads",
    "insecure",
    "max-coroutine-stacks",
    "max-background-jobs",
    "dry-run",
    "print-definitions",
    "user-classes",
    "web-host",
    "web-port",
    "autostart",
    "autoquit",
    "web-auth",
    "html",
];

/// Locust's names for our keys, so a pasted `locust.conf` line gets a useful hint.
const ALIASES: &[(&str, &str)] = &[
    ("locustfile", "scenario"),
    ("f", "scenario"),
    ("hatch-rate", "spawn-rate"),
    ("clients", "users"),
    ("num-users", "users"),
    ("log-level", "loglevel"),
    ("csv-prefix", "csv"),
    ("user-class", "user-classes"),
    ("html-file", "html"),
    ("port", "web-port"),
];

pub(crate) fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('-', "_").to_ascii_uppercase())
}

impl Layer {
    /// `self` where given, else `lower`.
    pub fn over(self, lower: Layer) -> Layer {
        macro_rules! pick {
            ($($f:ident),*) => { Layer { $($f: self.$f.or(lower.$f)),* } };
        }
        pick!(
            scenario,
            host,
            users,
            spawn_rate,
            run_time,
            headless,
            stop_timeout,
            tags,
            exclude_tags,
            csv_prefix,
            csv_full_history,
            json,
            only_summary,
            loglevel,
            list,
            check,
            exit_code_on_error,
            seed,
            threads,
            insecure,
            max_coroutine_stacks,
            max_background_jobs,
            dry_run,
            print_definitions,
            user_classes,
            web_host,
            web_port,
            autostart,
            autoquit,
            web_auth,
            html
        )
    }

    /// Reads every `RUSTLOCUST_<KEY>`; an empty variable counts as unset.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
        let mut layer = Layer::default();
        for key in KEYS {
            let var = env_var_name(key);
            let Some(value) = env(&var) else { continue };
            if value.trim().is_empty() {
                continue;
            }
            layer.set(key, Raw::Env(&value), &Origin::Env(var))?;
        }
        Ok(layer)
    }

    /// Reads a TOML config file; unknown keys and wrong types are errors.
    pub fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        Layer::from_toml(path, &text)
    }

    pub fn from_toml(path: &Path, text: &str) -> Result<Layer, ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::ConfigSyntax {
                    path: path.to_path_buf(),
                    message: e.to_string().trim_end().to_string(),
                })?;
        let mut layer = Layer::default();
        let mut seen: Vec<(&'static str, &str)> = Vec::new();
        for (key, value) in &table {
            let normalized = key.replace('_', "-");
            let Some(&canonical) = KEYS.iter().find(|k| **k == normalized) else {
                return Err(ConfigError::UnknownKey {
                    path: path.to_path_buf(),
                    key: key.clone(),
                    suggestion: suggest_key(&normalized),
                });
            };
            if let Some((_, first)) = seen.iter().find(|(c, _)| *c == canonical) {
                return Err(ConfigError::DuplicateKey {
                    path: path.to_path_buf(),
                    first: first.to_string(),
                    second: key.clone(),
                });
            }
            seen.push((canonical, key));
            let origin = Origin::File {
                path: path.to_path_buf(),
                key: key.clone(),
            };
            layer.set(canonical, Raw::Toml(value), &origin)?;
        }
        Ok(layer)
    }

    fn set(&mut self, key: &str, raw: Raw<'_>, origin: &Origin) -> Result<(), ConfigError> {
        match key {
            "scenario" => self.scenario = Some(raw.string(origin, parse_path)?),
            "host" => self.host = Some(raw.string(origin, parse_host)?),
            "users" => self.users = Some(raw.integer(origin, parse_users)?),
            "spawn-rate" => self.spawn_rate = Some(raw.spawn_rate(origin)?),
            "run-time" => self.run_time = Some(raw.timespan(origin)?),
            "headless" => self.headless = Some(raw.boolean(origin)?),
            "stop-timeout" => self.stop_timeout = Some(raw.timespan(origin)?),
            "tags" => self.tags = Some(raw.list(origin)?),
            "exclude-tags" => self.exclude_tags = Some(raw.list(origin)?),
            "csv" => self.csv_prefix = Some(raw.string(origin, parse_path)?),
            "csv-full-history" => self.csv_full_history = Some(raw.boolean(origin)?),
            "json" => self.json = Some(raw.boolean(origin)?),
            "only-summary" => self.only_summary = Some(raw.boolean(origin)?),
            "loglevel" => self.loglevel = Some(raw.string(origin, parse_loglevel)?),
            "list" => self.list = Some(raw.boolean(origin)?),
            "check" => self.check = Some(raw.boolean(origin)?),
            "exit-code-on-error" => {
                self.exit_code_on_error = Some(raw.integer(origin, |s| {
                    s.trim()
                        .parse::<i32>()
                        .map_err(|_| "expected a whole number (an exit code)".to_string())
                })?)
            }
            "seed" => {
                self.seed = Some(raw.integer(origin, |s| {
                    s.trim()
                        .parse::<u64>()
                        .map_err(|_| "expected a non-negative whole number".to_string())
                })?)
            }
            "threads" => self.threads = Some(raw.integer(origin, parse_threads)?),
            "insecure" => self.insecure = Some(raw.boolean(origin)?),
            "max-coroutine-stacks" => {
                self.max_coroutine_stacks = Some(raw.integer(origin, |s| {
                    s.trim()
                        .parse::<usize>()
                        .map_err(|_| "expected a non-negative whole number".to_string())
                })?)
            }
            "max-background-jobs" => {
                self.max_background_jobs = Some(raw.integer(origin, parse_max_background_jobs)?)
            }
            "dry-run" => self.dry_run = Some(raw.boolean(origin)?),
            "print-definitions" => self.print_definitions = Some(raw.boolean(origin)?),
            "user-classes" => self.user_classes = Some(raw.list(origin)?),
            "web-host" => self.web_host = Some(raw.string(origin, parse_web_host)?),
            "web-port" => self.web_port = Some(raw.integer(origin, parse_web_port)?),
            "autostart" => self.autostart = Some(raw.boolean(origin)?),
            "autoquit" => self.autoquit = Some(raw.integer(origin, parse_autoquit)?),
            "web-auth" => {
                self.web_auth = Some(raw.string(origin, parse_web_auth).map_err(hide_value)?)
            }
            "html" => self.html = Some(raw.string(origin, parse_path)?),
            // KEYS and this match are kept in step by the `every_key_is_settable` test.
            _ => unreachable!("config key {key} missing from Layer::set"),
        }
        Ok(())
    }

    /// Applies defaults and the checks that involve more than one option.
    pub fn into_settings(self) -> Result<Settings, ConfigError> {
        let print_definitions = self.print_definitions.unwrap_or(false);
        let scenario = match self.scenario {
            Some(s) => s,
            // `--print-definitions` describes the API, not a scenario.
            None if print_definitions => PathBuf::new(),
            None => return Err(ConfigError::NoScenario),
        };
        let csv_full_history = self.csv_full_history.unwrap_or(false);
        if csv_full_history && self.csv_prefix.is_none() {
            return Err(ConfigError::CsvFullHistoryWithoutCsv);
        }
        let check = self.check.unwrap_or(false);
        let dry_run = self.dry_run.unwrap_or(false);
        if dry_run && !check {
            return Err(ConfigError::DryRunWithoutCheck);
        }
        let autostart = self.autostart.unwrap_or(false);
        let autoquit = self.autoquit.unwrap_or(-1);
        if autoquit != -1 && !autostart {
            return Err(ConfigError::AutoquitWithoutAutostart);
        }
        let d = Settings::new(scenario);
        Ok(Settings {
            host: self.host.or(d.host),
            users: self.users.unwrap_or(d.users),
            spawn_rate: self.spawn_rate.unwrap_or(d.spawn_rate),
            run_time: self.run_time.or(d.run_time),
            headless: self.headless.unwrap_or(d.headless),
            stop_timeout: self.stop_timeout.unwrap_or(d.stop_timeout),
            tags: self.tags.unwrap_or(d.tags),
            exclude_tags: self.exclude_tags.unwrap_or(d.exclude_tags),
            csv_prefix: self.csv_prefix.or(d.csv_prefix),
            csv_full_history,
            json: self.json.unwrap_or(d.json),
            only_summary: self.only_summary.unwrap_or(d.only_summary),
            loglevel: self.loglevel.unwrap_or(d.loglevel),
            list: self.list.unwrap_or(d.list),
            check,
            exit_code_on_error: self.exit_code_on_error.unwrap_or(d.exit_code_on_error),
            seed: self.seed.or(d.seed),
            threads: self.threads.unwrap_or(d.threads),
            insecure: self.insecure.unwrap_or(d.insecure),
            max_coroutine_stacks: self.max_coroutine_stacks.or(d.max_coroutine_stacks),
            max_background_jobs: self.max_background_jobs.unwrap_or(d.max_background_jobs),
            dry_run,
            print_definitions,
            user_classes: self.user_classes.unwrap_or(d.user_classes),
            web_host: self.web_host.unwrap_or(d.web_host),
            web_port: self.web_port.unwrap_or(d.web_port),
            autostart,
            // parse_autoquit lets nothing below -1 through.
            autoquit: u64::try_from(autoquit).ok().map(Duration::from_secs),
            web_auth: self.web_auth.or(d.web_auth),
            html: self.html.or(d.html),
            scenario: d.scenario,
        })
    }
}

/// For values that may hold a secret (`web-auth`): the error names where the value came from and
/// why it is wrong, but does not repeat it.
fn hide_value(e: ConfigError) -> ConfigError {
    match e {
        ConfigError::InvalidValue { origin, reason, .. } => ConfigError::InvalidValue {
            origin,
            value: "(not shown)".into(),
            reason,
        },
        other => other,
    }
}

fn suggest_key(key: &str) -> Option<&'static str> {
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == key) {
        return Some(to);
    }
    KEYS.iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A value as one source gives it: environment variables are always text, TOML is typed.
enum Raw<'a> {
    Env(&'a str),
    Toml(&'a toml::Value),
}

fn toml_type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

impl Raw<'_> {
    fn wrong_type(&self, origin: &Origin, expected: &'static str) -> ConfigError {
        match (self, origin) {
            (Raw::Toml(v), Origin::File { path, key }) => ConfigError::WrongType {
                path: path.clone(),
                key: key.clone(),
                expected,
                found: toml_type_name(v),
            },
            // Only TOML values have types; keep a sensible error should that ever change.
            _ => ConfigError::InvalidValue {
                origin: origin.clone(),
                value: self.text(),
                reason: format!("expected {expected}"),
            },
        }
    }

    fn text(&self) -> String {
        match self {
            Raw::Env(s) => s.to_string(),
            Raw::Toml(toml::Value::String(s)) => s.clone(),
            Raw::Toml(v) => v.to_string(),
        }
    }

    fn invalid(&self, origin: &Origin, reason: String) -> ConfigError {
        ConfigError::InvalidValue {
            origin: origin.clone(),
            value: self.text(),
            reason,
        }
    }

    fn string<T>(
        &self,
        origin: &Origin,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let s = match self {
            Raw::Env(s) => s,
            Raw::Toml(toml::Value::String(s)) => s.as_str(),
            Raw::Toml(_) => return Err(self.wrong_type(origin, "a string")),
        };
        parse(s).map_err(|reason| self.invalid(origin, reason))
    }

    /// TOML integers are re-parsed as text so ranges and messages match the command line's.
    fn integer<T>(
        &self,
        origin: &Origin,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let s = match self {
            Raw::Env(s) => s.to_string(),
            Raw::Toml(toml::Value::Integer(i)) => i.to_string(),
            Raw::Toml(_) => return Err(self.wrong_type(origin, "an integer")),
        };
        parse(&s).map_err(|reason| self.invalid(origin, reason))
    }

    fn spawn_rate(&self, origin: &Origin) -> Result<f64, ConfigError> {
        match self {
            Raw::Env(s) => parse_spawn_rate(s).map_err(|reason| self.invalid(origin, reason)),
            Raw::Toml(toml::Value::Integer(i)) => {
                check_spawn_rate(*i as f64).map_err(|reason| self.invalid(origin, reason))
            }
            Raw::Toml(toml::Value::Float(f)) => {
                check_spawn_rate(*f).map_err(|reason| self.invalid(origin, reason))
            }
            Raw::Toml(_) => Err(self.wrong_type(origin, "a number")),
        }
    }

    /// A string span (`"1m"`) or a number of seconds (`60`, `1.5`).
    fn timespan(&self, origin: &Origin) -> Result<Duration, ConfigError> {
        let s = match self {
            Raw::Env(s) => s.to_string(),
            Raw::Toml(toml::Value::String(s)) => s.clone(),
            Raw::Toml(toml::Value::Integer(i)) => i.to_string(),
            Raw::Toml(toml::Value::Float(f)) => f.to_string(),
            Raw::Toml(_) => {
                return Err(self.wrong_type(origin, "a time span string like \"1m\" or seconds"))
            }
        };
        parse_timespan_value(&s).map_err(|reason| self.invalid(origin, reason))
    }

    fn boolean(&self, origin: &Origin) -> Result<bool, ConfigError> {
        match self {
            Raw::Env(s) => parse_bool(s).map_err(|reason| self.invalid(origin, reason)),
            Raw::Toml(toml::Value::Boolean(b)) => Ok(*b),
            Raw::Toml(_) => Err(self.wrong_type(origin, "a boolean (true or false)")),
        }
    }

    /// An array of strings, or one string of comma- or space-separated items.
    fn list(&self, origin: &Origin) -> Result<Vec<String>, ConfigError> {
        const EXPECTED: &str = "an array of strings or a comma-separated string";
        match self {
            Raw::Env(s) => Ok(split_list(s)),
            Raw::Toml(toml::Value::String(s)) => Ok(split_list(s)),
            Raw::Toml(toml::Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => out.extend(split_list(s)),
                        _ => return Err(self.wrong_type(origin, EXPECTED)),
                    }
                }
                Ok(out)
            }
            Raw::Toml(_) => Err(self.wrong_type(origin, EXPECTED)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_layer(text: &str) -> Result<Layer, ConfigError> {
        Layer::from_toml(Path::new("/cfg/rustlocust.toml"), text)
    }

    fn env_layer(pairs: &[(&str, &str)]) -> Result<Layer, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Layer::from_env(&move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn every_key_is_settable_from_env() {
        // Fails (via the unreachable! in `set`) if KEYS gains a key that `set` does not handle.
        for key in KEYS {
            let value = match *key {
                "host" => "http://h",
                "web-host" => "0.0.0.0",
                "web-auth" => "u:p",
                "loglevel" => "debug",
                "run-time" | "stop-timeout" => "1m",
                "headless" | "csv-full-history" | "json" | "only-summary" | "list" | "check"
                | "insecure" | "dry-run" | "print-definitions" | "autostart" => "true",
                "scenario" | "csv" | "tags" | "exclude-tags" | "user-classes" | "html" => "x",
                _ => "3",
            };
            let var = env_var_name(key);
            let layer = env_layer(&[(var.as_str(), value)]).expect(key);
            assert_ne!(layer, Layer::default(), "{key} had no effect");
        }
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var_name("spawn-rate"), "RUSTLOCUST_SPAWN_RATE");
        assert_eq!(env_var_name("users"), "RUSTLOCUST_USERS");
        assert_eq!(
            env_var_name("max-coroutine-stacks"),
            "RUSTLOCUST_MAX_COROUTINE_STACKS"
        );
    }

    #[test]
    fn toml_values_of_every_kind() {
        let layer = file_layer(
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
        assert_eq!(layer.scenario, Some(PathBuf::from("x.rhai")));
        assert_eq!(layer.host.as_deref(), Some("https://example.com"));
        assert_eq!(layer.users, Some(100));
        assert_eq!(layer.spawn_rate, Some(2.5));
        assert_eq!(layer.run_time, Some(Duration::from_secs(60)));
        assert_eq!(layer.headless, Some(true));
        assert_eq!(layer.stop_timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            layer.tags,
            Some(vec!["a".to_string(), "b".into(), "c".into()])
        );
        assert_eq!(
            layer.exclude_tags,
            Some(vec!["slow".to_string(), "flaky".into()])
        );
        assert_eq!(layer.csv_prefix, Some(PathBuf::from("out/run")));
        assert_eq!(layer.csv_full_history, Some(true));
        assert_eq!(layer.json, Some(true));
        assert_eq!(layer.only_summary, Some(true));
        assert_eq!(layer.loglevel, Some(LevelFilter::Warn));
        assert_eq!(layer.list, Some(false));
        assert_eq!(layer.check, Some(true));
        assert_eq!(layer.exit_code_on_error, Some(3));
        assert_eq!(layer.seed, Some(42));
        assert_eq!(layer.threads, Some(2));
        assert_eq!(layer.insecure, Some(true));
        assert_eq!(layer.max_coroutine_stacks, Some(7));
        assert_eq!(layer.max_background_jobs, Some(250));
        assert_eq!(layer.dry_run, Some(true));
        assert_eq!(layer.print_definitions, Some(false));
        assert_eq!(
            layer.user_classes,
            Some(vec!["Api".to_string(), "Web".into()])
        );
        assert_eq!(layer.web_host, Some("::1".parse().expect("ip")));
        assert_eq!(layer.web_port, Some(0));
        assert_eq!(layer.autostart, Some(true));
        assert_eq!(layer.autoquit, Some(30));
        assert_eq!(
            layer.web_auth,
            Some(("admin".to_string(), "s3:cret".to_string()))
        );
        assert_eq!(layer.html, Some(PathBuf::from("out/report_{u}.html")));
    }

    #[test]
    fn toml_integer_spawn_rate_and_float_run_time() {
        let layer = file_layer("spawn-rate = 10\nrun-time = 1.5").expect("valid");
        assert_eq!(layer.spawn_rate, Some(10.0));
        assert_eq!(layer.run_time, Some(Duration::from_millis(1500)));
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
            assert!(matches!(e, ConfigError::WrongType { .. }), "{text}: {e:?}");
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
                matches!(e, ConfigError::InvalidValue { .. }),
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

    #[test]
    fn env_values_and_errors() {
        let layer = env_layer(&[
            ("RUSTLOCUST_USERS", "7"),
            ("RUSTLOCUST_HEADLESS", "TRUE"),
            ("RUSTLOCUST_TAGS", "a,b c"),
            ("RUSTLOCUST_USER_CLASSES", "Api Web"),
            ("RUSTLOCUST_HOST", ""),
        ])
        .expect("valid");
        assert_eq!(layer.users, Some(7));
        assert_eq!(layer.headless, Some(true));
        assert_eq!(layer.tags, Some(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(layer.user_classes, Some(vec!["Api".into(), "Web".into()]));
        assert_eq!(layer.host, None, "empty variable counts as unset");

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
    }

    #[test]
    fn layer_precedence_and_defaults() {
        let low = Layer {
            users: Some(1),
            spawn_rate: Some(2.0),
            scenario: Some("low.rhai".into()),
            ..Layer::default()
        };
        let high = Layer {
            users: Some(9),
            ..Layer::default()
        };
        let s = high.over(low).into_settings().expect("valid");
        assert_eq!(s.users, 9);
        assert_eq!(s.spawn_rate, 2.0);
        assert_eq!(s.scenario, PathBuf::from("low.rhai"));
        assert_eq!(s.loglevel, LevelFilter::Info);
        assert_eq!(s.exit_code_on_error, 1);
        assert_eq!(s.threads, default_threads());
        assert_eq!(s.stop_timeout, Duration::ZERO);
        assert_eq!(s.max_background_jobs, DEFAULT_MAX_BACKGROUND_JOBS);
        assert!(!s.dry_run && !s.print_definitions);
        assert_eq!(s.web_host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.web_port, 8089);
        assert!(!s.autostart);
        assert_eq!(s.autoquit, None);
        assert_eq!(s.web_auth, None);
        assert_eq!(s.html, None);
    }

    #[test]
    fn cross_option_checks() {
        assert!(matches!(
            Layer::default().into_settings(),
            Err(ConfigError::NoScenario)
        ));
        let layer = Layer {
            scenario: Some("s.rhai".into()),
            csv_full_history: Some(true),
            ..Layer::default()
        };
        let msg = layer.into_settings().unwrap_err().to_string();
        assert!(msg.contains("--csv-full-history requires --csv"), "{msg}");

        let dry = |check: Option<bool>| Layer {
            scenario: Some("s.rhai".into()),
            dry_run: Some(true),
            check,
            ..Layer::default()
        };
        for check in [None, Some(false)] {
            let e = dry(check).into_settings().unwrap_err();
            assert!(matches!(e, ConfigError::DryRunWithoutCheck), "{e:?}");
            assert_eq!(e.exit_code(), 2);
            assert!(
                e.to_string()
                    .contains("--dry-run only works together with --check"),
                "{e}"
            );
        }
        let s = dry(Some(true)).into_settings().expect("--check --dry-run");
        assert!(s.check && s.dry_run);
        let not_dry = Layer {
            dry_run: Some(false),
            ..dry(None)
        };
        assert!(!not_dry.into_settings().expect("an explicit false").dry_run);

        // `--print-definitions` needs no scenario; with one, the scenario is kept.
        let defs = Layer {
            print_definitions: Some(true),
            ..Layer::default()
        };
        let s = defs.clone().into_settings().expect("no scenario needed");
        assert!(s.print_definitions);
        assert_eq!(s.scenario, PathBuf::new());
        let s = Layer {
            scenario: Some("s.rhai".into()),
            ..defs
        }
        .into_settings()
        .expect("valid");
        assert_eq!(s.scenario, PathBuf::from("s.rhai"));
        let no_defs = Layer {
            print_definitions: Some(false),
            ..Layer::default()
        };
        assert!(matches!(
            no_defs.into_settings(),
            Err(ConfigError::NoScenario)
        ));

        // `--autoquit` needs `--autostart` (as in Locust), but -1, "never", is always fine.
        let quit = |autoquit: i64, autostart: Option<bool>| Layer {
            scenario: Some("s.rhai".into()),
            autoquit: Some(autoquit),
            autostart,
            ..Layer::default()
        };
        for autostart in [None, Some(false)] {
            let e = quit(10, autostart).into_settings().unwrap_err();
            assert!(matches!(e, ConfigError::AutoquitWithoutAutostart), "{e:?}");
            assert_eq!(e.exit_code(), 2);
            let msg = e.to_string();
            assert!(
                msg.contains("--autoquit only works together with --autostart"),
                "{msg}"
            );
            let s = quit(-1, autostart).into_settings().expect("-1 = never");
            assert_eq!(s.autoquit, None);
        }
        let s = quit(0, Some(true)).into_settings().expect("valid");
        assert!(s.autostart);
        assert_eq!(s.autoquit, Some(Duration::ZERO));
        let s = quit(90, Some(true)).into_settings().expect("valid");
        assert_eq!(s.autoquit, Some(Duration::from_secs(90)));
        let s = quit(-1, Some(true)).into_settings().expect("valid");
        assert!(s.autostart);
        assert_eq!(s.autoquit, None);
    }

    #[test]
    fn web_option_parsers() {
        let v4 = |a, b, c, d| Ok(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        assert_eq!(parse_web_host("127.0.0.1"), v4(127, 0, 0, 1));
        assert_eq!(parse_web_host(" 192.168.1.10 "), v4(192, 168, 1, 10));
        assert_eq!(parse_web_host("localhost"), v4(127, 0, 0, 1));
        assert_eq!(parse_web_host("LocalHost"), v4(127, 0, 0, 1));
        assert_eq!(parse_web_host("*"), v4(0, 0, 0, 0));
        assert_eq!(parse_web_host("0.0.0.0"), v4(0, 0, 0, 0));
        assert_eq!(
            parse_web_host("::1").map(|ip| ip.to_string()),
            Ok("::1".into())
        );
        assert_eq!(
            parse_web_host("[::]").map(|ip| ip.to_string()),
            Ok("::".into())
        );
        for (bad, reason) in [
            ("example.com", "not an IP address"),
            (
                "my-laptop",
                "host names other than localhost are not looked up",
            ),
            ("", "empty"),
            ("  ", "empty"),
            ("127.0.0.1:8089", "--web-host 127.0.0.1 --web-port 8089"),
            ("[::1]:80", "--web-host ::1 --web-port 80"),
            ("http://127.0.0.1", "a URL is not an address"),
            ("256.0.0.1", "not an IP address"),
        ] {
            let msg = parse_web_host(bad).unwrap_err();
            assert!(msg.contains(reason), "{bad:?}: {msg}");
        }
        assert!(parse_web_host("x")
            .unwrap_err()
            .contains("* (or 0.0.0.0) for all"));

        assert_eq!(parse_web_port("8089"), Ok(8089));
        assert_eq!(parse_web_port("0"), Ok(0));
        assert_eq!(parse_web_port(" 65535 "), Ok(65535));
        for bad in ["65536", "-1", "99999999999999999999999"] {
            assert!(
                parse_web_port(bad).unwrap_err().contains("from 0 to 65535"),
                "{bad}"
            );
        }
        for bad in ["http", "80.5", ""] {
            assert!(
                parse_web_port(bad)
                    .unwrap_err()
                    .contains("expected a port number"),
                "{bad}"
            );
        }

        assert_eq!(parse_autoquit("-1"), Ok(-1));
        assert_eq!(parse_autoquit("0"), Ok(0));
        assert_eq!(parse_autoquit(" 30 "), Ok(30));
        assert!(parse_autoquit("-2")
            .unwrap_err()
            .contains("-1 (never quit)"));
        for bad in ["30s", "1.5", "never", ""] {
            assert!(
                parse_autoquit(bad)
                    .unwrap_err()
                    .contains("whole number of seconds"),
                "{bad}"
            );
        }

        let auth = |u: &str, p: &str| Ok((u.to_string(), p.to_string()));
        assert_eq!(parse_web_auth("admin:secret"), auth("admin", "secret"));
        assert_eq!(parse_web_auth("admin:a:b"), auth("admin", "a:b"));
        assert_eq!(parse_web_auth("me: x "), auth("me", " x "));
        for (bad, reason) in [
            ("admin", "expected USER:PASS"),
            ("", "expected USER:PASS"),
            (":secret", "user name before the `:` is empty"),
            (" :secret", "user name before the `:` is empty"),
            ("admin:", "password after the `:` is empty"),
        ] {
            let msg = parse_web_auth(bad).unwrap_err();
            assert!(msg.contains(reason), "{bad:?}: {msg}");
            assert!(!msg.contains("secret"), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn web_auth_errors_do_not_show_the_value() {
        let e = env_layer(&[("RUSTLOCUST_WEB_AUTH", ":hunter2")]).unwrap_err();
        assert!(matches!(e, ConfigError::InvalidValue { .. }), "{e:?}");
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
        let mut s = Settings::new("s.rhai");
        assert_eq!(s.html_path(), None);
        s.users = 100;
        s.spawn_rate = 10.0;
        s.run_time = Some(Duration::from_secs(90));
        s.html = Some(PathBuf::from("out/r_{u}u_{r}r_{t}s.html"));
        assert_eq!(
            s.html_path(),
            Some(PathBuf::from("out/r_100u_10r_90s.html"))
        );
        // Every occurrence; fractional rates as they are; sub-second run time truncated.
        s.html = Some(PathBuf::from("{u}-{u}-{r}-{t}.html"));
        s.spawn_rate = 0.5;
        s.run_time = Some(Duration::from_millis(1500));
        assert_eq!(s.html_path(), Some(PathBuf::from("100-100-0.5-1.html")));
        // No run time: `{t}` stays, as in Locust.
        s.run_time = None;
        assert_eq!(s.html_path(), Some(PathBuf::from("100-100-0.5-{t}.html")));
        s.html = Some(PathBuf::from("report.html"));
        assert_eq!(s.html_path(), Some(PathBuf::from("report.html")));
        assert_eq!(s.html, Some(PathBuf::from("report.html")), "not changed");
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_users("0"), Ok(0));
        assert!(parse_users("-5").unwrap_err().contains("negative"));
        assert!(parse_users("-0.5").unwrap_err().contains("negative"));
        assert!(parse_users("ten").unwrap_err().contains("whole number"));
        assert!(parse_users("1.5").unwrap_err().contains("whole number"));
        assert!(parse_users("99999999999999999999999")
            .unwrap_err()
            .contains("more than"));
        assert_eq!(parse_spawn_rate("0.5"), Ok(0.5));
        for bad in ["0", "-1", "NaN", "inf", "-inf", "x"] {
            assert!(parse_spawn_rate(bad).is_err(), "{bad}");
        }
        assert!(parse_host("http://localhost:8080").is_ok());
        assert!(parse_host("https://example.com/api").is_ok());
        assert!(parse_host("ftp://example.com")
            .unwrap_err()
            .contains("http or https"));
        assert!(parse_host("localhost:8080").is_err());
        assert!(parse_host("").is_err());
        assert_eq!(parse_loglevel("Debug"), Ok(LevelFilter::Debug));
        assert_eq!(parse_loglevel("critical"), Ok(LevelFilter::Error));
        assert_eq!(split_list(" a,,b  c, "), vec!["a", "b", "c"]);
        assert_eq!(parse_bool("off"), Ok(false));
        assert_eq!(parse_max_background_jobs(" 1 "), Ok(1));
        assert_eq!(parse_max_background_jobs("100"), Ok(100));
        assert!(parse_max_background_jobs("0")
            .unwrap_err()
            .contains("at least 1"));
        for bad in ["-1", "1.5", "many", ""] {
            assert!(
                parse_max_background_jobs(bad)
                    .unwrap_err()
                    .contains("whole number"),
                "{bad}"
            );
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(ConfigError::NoScenario.exit_code(), 2);
        assert_eq!(ConfigError::DryRunWithoutCheck.exit_code(), 2);
        assert_eq!(ConfigError::AutoquitWithoutAutostart.exit_code(), 2);
        assert!(!ConfigError::NoScenario.is_info());
    }
}
