//! Where options come from and which source wins. Lowest precedence first:
//!
//! 1. `~/.locust.conf`, 2. `./locust.conf`, 3. `./pyproject.toml` `[tool.locust]` (Locust's
//!    default files, in Locust's order);
//! 4. `./rustlocust.toml`;
//! 5. `--config FILE` (or `RUSTLOCUST_CONFIG`), read after the default files as Locust reads it;
//! 6. `LOCUST_*` variables, 7. `RUSTLOCUST_*` variables;
//! 8. the command line.
//!
//! Locust documents "config files -> env vars -> cmd args" with later files overriding earlier
//! ones; rustlocust's own file and variables sit just above Locust's, so that a project can keep
//! a Locust setup and override it for rustlocust. Each source is read into its own [`Raw`]
//! layer, where "not given" stays distinguishable from "given as the default"; an explicit
//! `false` or `--autoquit -1` therefore overrides a lower source.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::cli;
use super::defs::Raw;
use super::defs::OPTIONS;
use super::env;
use super::error::{OptionsError, Source, Warning};
use super::files;
use super::table::OptionDef;

/// The environment as the options see it (a map, so that tests can pass their own and unknown
/// `LOCUST_*` / `RUSTLOCUST_*` variables can be found).
#[derive(Clone, Debug, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The process environment. Lossy, so that a non-UTF-8 value is reported as invalid instead
    /// of silently ignored.
    pub fn from_process() -> Env {
        std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    /// A variable's value; an empty one counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Env(iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect())
    }
}

/// What the sources together ask for, before it is checked and typed.
pub(super) enum Gathered {
    Run {
        raw: Raw,
        warnings: Vec<Warning>,
    },
    /// `rustlocust demo` reads no environment and no config file: a first-time user's demo must
    /// not depend on what lies around.
    Demo(Raw),
    DemoTarget {
        bind: std::net::IpAddr,
        port: u16,
    },
}

/// Reads every source and merges them by precedence.
pub(super) fn gather(args: Vec<OsString>, env: &Env, cwd: &Path) -> Result<Gathered, OptionsError> {
    let command_line = match cli::parse(args)? {
        cli::Parsed::Run(raw) => raw,
        cli::Parsed::Demo(raw) => return Ok(Gathered::Demo(raw)),
        cli::Parsed::DemoTarget { bind, port } => return Ok(Gathered::DemoTarget { bind, port }),
    };
    if env.get(PROCESSES_CHILD_ENV).is_some() {
        return Ok(Gathered::Run {
            raw: child_layer(command_line, env)?,
            warnings: Vec::new(),
        });
    }
    let env_layers = env::read(env)?;
    let mut warnings = env_layers.warnings;
    let mut merged = Raw::default();
    for file in default_files(env, cwd) {
        if let Some(layer) = files::read(&file, cwd, false)? {
            merged = layer.raw.over(merged);
            warnings.extend(layer.warnings);
        }
    }
    let config = [&command_line, &env_layers.ours, &env_layers.locust]
        .into_iter()
        .find_map(|raw| raw.config.as_ref());
    if let Some(config) = config {
        let file = files::ConfigFile::given(&config.value);
        // Name where the path came from: `RUSTLOCUST_CONFIG` in a CI job is easy to forget.
        let read = files::read(&file, cwd, true).map_err(|e| match e {
            OptionsError::ReadConfig { path, source } => OptionsError::ReadConfig {
                path: format!("{path} ({})", config.source.naming("config")),
                source,
            },
            e => e,
        });
        if let Some(layer) = read? {
            merged = layer.raw.over(merged);
            warnings.extend(layer.warnings);
        }
    }
    let raw = command_line.over(env_layers.ours.over(env_layers.locust.over(merged)));
    Ok(Gathered::Run { raw, warnings })
}

/// Set by a `--processes` parent on its children. A child then reads its command line only (the
/// parent resolved every source and wrote the result there): the config files and variables the
/// child inherits could otherwise make it a master or fork again (`processes = 4` in
/// locust.conf). The one exception is the secret options, which travel in the environment
/// because a command line is visible to every local user.
pub use crate::distributed::processes::PROCESSES_CHILD_ENV;

fn child_layer(mut raw: Raw, env: &Env) -> Result<Raw, OptionsError> {
    for def in OPTIONS.iter().filter(|d| d.secret) {
        if (def.active)(&raw) {
            continue;
        }
        let var = def.env_var();
        if let Some(value) = env.get(&var) {
            set(&mut raw, def, value, Source::Env(var.clone()))?;
        }
    }
    Ok(raw)
}

/// The files read without being asked for, lowest precedence first (those that exist are read).
fn default_files(env: &Env, cwd: &Path) -> Vec<files::ConfigFile> {
    let mut found = Vec::new();
    if let Some(home) = env.get("HOME") {
        found.push(files::ConfigFile::locust(
            "~/.locust.conf",
            PathBuf::from(home).join(".locust.conf"),
        ));
    }
    found.push(files::ConfigFile::locust(
        "./locust.conf",
        cwd.join("locust.conf"),
    ));
    found.push(files::ConfigFile::pyproject(cwd.join("pyproject.toml")));
    found.push(files::ConfigFile::rustlocust(cwd.join("rustlocust.toml")));
    found
}

/// Parses `text` as `def`'s value from `source` into `raw`; the error names the option and the
/// source (and leaves a secret's value out).
pub(super) fn set(
    raw: &mut Raw,
    def: &OptionDef,
    text: &str,
    source: Source,
) -> Result<(), OptionsError> {
    (def.set)(raw, text, source.clone()).map_err(|reason| OptionsError::InvalidValue {
        option: def.key,
        origin: source,
        value: if def.secret {
            "(not shown)".into()
        } else {
            text.to_string()
        },
        reason,
    })
}
