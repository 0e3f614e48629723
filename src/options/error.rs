//! Where a value came from ([`Source`]), the values that remember it ([`Given`]), and what can go
//! wrong while reading options: [`OptionsError`] (nothing is started; exit 2) and [`Warning`]
//! (printed, then the run goes on).

use std::fmt;
use std::path::PathBuf;

/// Where one value came from, so that an error can say which flag, variable or file line to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    CommandLine,
    /// An environment variable, by name.
    Env(String),
    /// A config file key. `path` is as the user would recognise it (`./locust.conf`,
    /// `~/.locust.conf`, a `--config` path as given); `line` counts from 1, 0 when unknown.
    File {
        path: String,
        line: usize,
        key: String,
    },
}

impl Source {
    /// Names `option` (a long name without `--`) as given by this source: `--users`,
    /// `--users from environment variable RUSTLOCUST_USERS`, `` `users` in ./locust.conf line 3``.
    pub fn naming(&self, option: &str) -> String {
        match self {
            Source::CommandLine => format!("--{option}"),
            Source::Env(var) => format!("--{option} from environment variable {var}"),
            Source::File { path, line, key } => format!("`{key}` in {}", at_line(path, *line)),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CommandLine => f.write_str("the command line"),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::File { path, line, key } => write!(f, "`{key}` in {}", at_line(path, *line)),
        }
    }
}

/// `path line N`, or only `path` when the line is unknown.
pub(crate) fn at_line(path: &str, line: usize) -> String {
    if line == 0 {
        path.to_string()
    } else {
        format!("{path} line {line}")
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Given<T> {
    pub value: T,
    pub source: Source,
}

/// Why no command could be produced. Everything but `--help`/`--version` exits 2.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// clap's own outcome: `--help` / `--version` (print it, exit 0) or a command-line usage
    /// error, including invalid option values (print it, exit 2).
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error("cannot read config file {path}: {source}")]
    ReadConfig {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    ConfigSyntax { path: String, message: String },
    #[error("config file {}: cannot read `{text}`: expected `key = value`, `key` alone (true), or a comment", at_line(path, *line))]
    LocustSyntax {
        path: String,
        line: usize,
        text: String,
    },
    /// Only in rustlocust's own TOML file, where rustlocust's names are the only ones (Locust's
    /// formats warn instead: see [`Warning::UnknownKey`]).
    #[error("config file {}: unknown key `{key}`{}", at_line(path, *line), suggestion_or_keys(suggestion.as_deref(), known))]
    UnknownKey {
        path: String,
        line: usize,
        key: String,
        suggestion: Option<String>,
        known: String,
    },
    #[error("config file {}: `{key}` must be {expected}, not {found}", at_line(path, *line))]
    WrongType {
        path: String,
        line: usize,
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error(transparent)]
    BadDefault(#[from] super::table::BadDefault),
    #[error("config file {path}: `{first}` and `{second}` are the same option; keep one")]
    DuplicateKey {
        path: String,
        first: String,
        second: String,
    },
    #[error("invalid value {value:?} for {}: {reason}", origin.naming(option))]
    InvalidValue {
        option: &'static str,
        origin: Source,
        /// As given, or `(not shown)` for a secret.
        value: String,
        reason: String,
    },
    #[error("{}", unsupported(option, origin, why))]
    Unsupported {
        option: &'static str,
        origin: Source,
        why: &'static str,
    },
    #[error("{message}{}", from_elsewhere(option, origin))]
    Needs {
        option: &'static str,
        origin: Source,
        message: &'static str,
    },
    #[error(
        "no scenario given: pass the scenario file (`rustlocust scenario.rhai`), set \
         RUSTLOCUST_SCENARIO, or put `scenario = \"scenario.rhai\"` in rustlocust.toml \
         (first time? try `rustlocust demo`){}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default()
    )]
    NoScenario { hint: Option<String> },
    #[error("cannot list the scenario directory {}: {source}", dir.display())]
    ReadScenarioDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("--master cannot be combined with --processes{}: remove --master, it is implied when --worker is not given", from_elsewhere("master", origin))]
    MasterAndProcesses { origin: Source },
    #[error("--master and --worker together: a process is one or the other (start the master and each worker separately)")]
    MasterAndWorker,
    #[error("the scenario directory {} holds no .rhai files (files whose names start with _ are left out, as in Locust)", dir.display())]
    EmptyScenarioDir { dir: PathBuf },
}

fn unsupported(option: &str, source: &Source, why: &str) -> String {
    let what = format!("--{option} is a Locust option rustlocust does not support ({why})");
    match source {
        Source::CommandLine => format!("{what}; remove it"),
        other => format!("{other}: {what}; remove it"),
    }
}

fn suggestion_or_keys(suggestion: Option<&str>, known: &str) -> String {
    match suggestion {
        Some(k) => format!(" (did you mean `{k}`?)"),
        None => format!(" (known keys: {known})"),
    }
}

/// ` (--autoquit is from environment variable X)` when the option did not come from the command
/// line, where the user would look first.
fn from_elsewhere(option: &str, source: &Source) -> String {
    match source {
        Source::CommandLine => String::new(),
        other => format!(" (--{option} is set by {other})"),
    }
}

impl OptionsError {
    /// Whether this is `--help` or `--version` output rather than an error.
    pub fn is_info(&self) -> bool {
        matches!(self, OptionsError::Clap(e) if e.exit_code() == 0)
    }

    /// 0 for `--help`/`--version`, 2 for every error: clap's convention for usage errors, and
    /// kept for our own checks so that a CI job can tell a misconfigured run (2) from a run whose
    /// requests failed (`--exit-code-on-error`, 1 by default).
    pub fn exit_code(&self) -> i32 {
        match self {
            OptionsError::Clap(e) => e.exit_code(),
            _ => 2,
        }
    }

    /// Prints the message the way the user expects: help and version to stdout, errors to stderr.
    pub fn print(&self) {
        match self {
            OptionsError::Clap(e) => {
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

/// Something worth saying that does not stop the run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// A key of a Locust-format file (`locust.conf`, `pyproject.toml`, `--config`) that no
    /// option has. Locust would refuse it, but such files may carry the keys of Locust plugins or
    /// of a locustfile's own arguments, which rustlocust cannot know: a typo still gets pointed
    /// out.
    #[error("`{key}` in {} is not an option rustlocust knows; ignored{}", at_line(path, *line), did_you_mean(suggestion.as_deref()))]
    UnknownKey {
        path: String,
        line: usize,
        key: String,
        suggestion: Option<String>,
    },
    /// A `LOCUST_*` or `RUSTLOCUST_*` variable that no option reads.
    #[error("environment variable {var} is not an option rustlocust knows; ignored{}", did_you_mean(suggestion.as_deref()))]
    UnknownEnv {
        var: String,
        suggestion: Option<String>,
    },
    /// `config = ...` inside a config file: files are found before they are read.
    #[error("`{key}` in {} has no effect in a config file (use --config FILE or RUSTLOCUST_CONFIG); ignored", at_line(path, *line))]
    NotInFile {
        path: String,
        line: usize,
        key: String,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

/// The candidate closest to `name` (at most two edits away), for "did you mean".
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|k| (edit_distance(name, k), k))
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
