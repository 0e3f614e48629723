//! The options of `rustlocust`: one table (`defs.rs`) from which the command line, the
//! environment (`RUSTLOCUST_*`, Locust's `LOCUST_*`), the config files (Locust's `locust.conf`,
//! `pyproject.toml`, `--config`; rustlocust's `rustlocust.toml`), their precedence, the help and
//! the README's option table are derived, and the typed [`Command`] they produce.
//!
//! Nothing below `app` and `web` imports this module: they get the parts of the command made
//! for them (`run::RunConfig`, `web::WebOptions`, `console::ConsoleOptions`,
//! `logging::LogOptions`).

#[macro_use]
mod table;
mod cli;
pub mod defs;
pub mod docs;
mod env;
pub mod error;
mod files;
mod sources;
pub mod spec;
pub mod values;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use error::{Given, OptionsError, Source, Warning};
pub use sources::{Env, PROCESSES_CHILD_ENV};
pub use spec::{html_path, Command, Describe, RunSpec, Ui, DEMO_SCENARIO};

/// What the options ask for, and what is worth a warning on the way.
#[derive(Debug)]
pub struct Parsed {
    pub command: Command,
    /// Unknown config keys and variables, ignored: print them before running.
    pub warnings: Vec<Warning>,
}

/// Parses `args` (including the program name), the environment `env` and the config files
/// (Locust's and rustlocust's defaults in `cwd` and `$HOME`, then `--config`). Relative paths of
/// config files are resolved against `cwd`; scenario and report paths are kept as given.
pub fn parse_from<I, T>(args: I, env: &Env, cwd: &Path) -> Result<Parsed, OptionsError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match sources::gather(args, env, cwd)? {
        sources::Gathered::Run { raw, warnings } => Ok(Parsed {
            command: spec::command(raw, cwd)?,
            warnings,
        }),
        sources::Gathered::Demo(raw) => Ok(Parsed {
            command: spec::demo(raw, cwd)?,
            warnings: Vec::new(),
        }),
        sources::Gathered::DemoTarget { bind, port } => Ok(Parsed {
            command: Command::DemoTarget { bind, port },
            warnings: Vec::new(),
        }),
    }
}

/// [`parse_from`] with the real arguments, environment and current directory.
pub fn parse() -> Result<Parsed, OptionsError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    parse_from(std::env::args_os(), &Env::from_process(), &cwd)
}
