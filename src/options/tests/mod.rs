//! Tests of the options as a whole: the command line (`command_line.rs`), options that go
//! together, modes and subcommands (`modes.rs`), the environment and the config files with their
//! precedence (`sources.rs`), rustlocust's TOML file (`toml.rs`), and the table-driven tests that
//! set every option from every source (`table.rs`). Helpers shared by them are here.

mod command_line;
mod modes;
mod sources;
mod table;
mod toml;

use std::path::Path;

use super::defs::Raw;
use super::error::{Given, OptionsError};
use super::sources::{gather, Env, Gathered};
use super::spec::{Command, RunSpec, Ui};
use super::Parsed;
use crate::console::ConsoleOptions;
use crate::web::WebOptions;

/// An environment with these variables only (no HOME: no `~/.locust.conf`).
fn env(pairs: &[(&str, &str)]) -> Env {
    pairs.iter().copied().collect()
}

fn empty_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn argv<'a>(args: &'a [&'a str]) -> impl Iterator<Item = &'a str> {
    std::iter::once("rustlocust").chain(args.iter().copied())
}

fn parse_in(args: &[&str], vars: &[(&str, &str)], cwd: &Path) -> Result<Parsed, OptionsError> {
    super::parse_from(argv(args), &env(vars), cwd)
}

fn command_in(args: &[&str], vars: &[(&str, &str)], cwd: &Path) -> Result<Command, OptionsError> {
    parse_in(args, vars, cwd).map(|p| p.command)
}

fn command(args: &[&str]) -> Result<Command, OptionsError> {
    command_in(args, &[], empty_dir().path())
}

/// The run a command line asks for (a `Command::Run`).
fn spec_in(args: &[&str], vars: &[(&str, &str)], cwd: &Path) -> Result<RunSpec, OptionsError> {
    match command_in(args, vars, cwd)? {
        Command::Run(spec) => Ok(spec),
        other => panic!("expected Command::Run, got {other:?}"),
    }
}

fn spec(args: &[&str]) -> Result<RunSpec, OptionsError> {
    spec_in(args, &[], empty_dir().path())
}

fn spec_env(args: &[&str], vars: &[(&str, &str)]) -> Result<RunSpec, OptionsError> {
    spec_in(args, vars, empty_dir().path())
}

/// The merged values of every source, before the cross-option checks and typing.
fn raw_in(args: &[&str], vars: &[(&str, &str)], cwd: &Path) -> Result<Raw, OptionsError> {
    let args = argv(args).map(Into::into).collect();
    match gather(args, &env(vars), cwd)? {
        Gathered::Run { raw, .. } => Ok(raw),
        _ => panic!("not a run"),
    }
}

/// The error a command line (in an empty directory, without variables) ends in.
fn err(args: &[&str]) -> OptionsError {
    match command(args) {
        Ok(c) => panic!("{args:?} was accepted: {c:?}"),
        Err(e) => e,
    }
}

/// A command-line error from clap, with the message it would print.
fn usage_error(args: &[&str]) -> String {
    let e = err(args);
    assert!(matches!(e, OptionsError::Clap(_)), "{args:?}: {e:?}");
    assert_eq!(e.exit_code(), 2, "{args:?}");
    assert!(!e.is_info());
    e.to_string()
}

/// The option a "needs another option" error is about.
fn needs(e: &OptionsError) -> Option<&'static str> {
    match e {
        OptionsError::Needs { option, .. } => Some(option),
        _ => None,
    }
}

/// A directory with `name` holding `text`.
fn dir_with(name: &str, text: &str) -> tempfile::TempDir {
    let dir = empty_dir();
    std::fs::write(dir.path().join(name), text).expect("write config");
    dir
}

fn with_toml(text: &str) -> tempfile::TempDir {
    dir_with("rustlocust.toml", text)
}

/// A given value, without its source.
fn v<T: Clone>(given: &Option<Given<T>>) -> Option<T> {
    given.as_ref().map(|g| g.value.clone())
}

fn web(spec: &RunSpec) -> &WebOptions {
    match &spec.ui {
        Ui::Web(w) => w,
        other => panic!("not a web UI run: {other:?}"),
    }
}

fn console(spec: &RunSpec) -> &ConsoleOptions {
    match &spec.ui {
        Ui::Headless(c) => c,
        other => panic!("not a headless run: {other:?}"),
    }
}
