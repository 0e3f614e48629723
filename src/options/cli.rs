//! The command line: a clap command built from the option table, plus the positional scenario
//! and user classes and the `demo` / `demo-target` subcommands, read into a [`Raw`] layer.
//!
//! clap's `env` feature is deliberately not used: it reads the process environment directly,
//! which would make the parser untestable and bypass the config-file precedence. clap still
//! validates each value with the option's own parser, so its usage errors read as before.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv4Addr};

use clap::builder::TypedValueParser;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};

use super::defs::{def, Raw, OPTIONS, UNSUPPORTED};
use super::error::{OptionsError, Source};
use super::sources::set;
use super::table::{OptionDef, Shape};

const AFTER_HELP: &str = "\
Options also come from the environment (RUSTLOCUST_<OPTION>, e.g. RUSTLOCUST_USERS=100, and \
Locust's LOCUST_<OPTION>, e.g. LOCUST_USERS=100) and from config files: ~/.locust.conf, \
./locust.conf and --config FILE in Locust's `key = value` format, [tool.locust] in \
./pyproject.toml, and ./rustlocust.toml (users = 100, spawn-rate = 10, run-time = \"1m\", \
tags = [\"a\", \"b\"]). The command line wins over RUSTLOCUST_*, which wins over LOCUST_*, which \
wins over --config FILE, then rustlocust.toml, pyproject.toml, locust.conf and ~/.locust.conf.

Examples:
  rustlocust scenario.rhai --headless -u 100 -r 10 -t 1m -H http://localhost:8080
  rustlocust demo          (a first load test against a built-in server)";

/// The positional arguments' ids (they are not options of the table by themselves).
const SCENARIO_ARG: &str = "scenario-positional";
const CLASSES_ARG: &str = "user-classes-positional";

/// `rustlocust demo`'s options: the table's, with the demo's own defaults and help.
const DEMO_ARGS: &[(&str, &str, &str)] = &[
    ("run-time", "20s", "How long the demo test runs"),
    ("users", "20", "Peak number of concurrent users"),
    ("spawn-rate", "10", "Users started per second"),
    ("loglevel", "info", "error, warn, info, debug or trace"),
];

/// What the command line asks for.
pub(super) enum Parsed {
    /// A run (or a check, a listing, ...): the command line's layer.
    Run(Raw),
    /// `rustlocust demo`: its options, defaults included.
    Demo(Raw),
    DemoTarget {
        bind: IpAddr,
        port: u16,
    },
}

/// The whole clap command: `--help` and `--version` come from here too.
pub(super) fn command() -> clap::Command {
    let scenario = def("scenario").map(|d| d as &'static OptionDef);
    let mut cmd = clap::Command::new("rustlocust")
        .version(env!("CARGO_PKG_VERSION"))
        .about(
            "Load testing in the style of Locust: write the users' behaviour in a Rhai scenario, \
             then swarm a system with them",
        )
        .after_help(AFTER_HELP)
        .args_conflicts_with_subcommands(true)
        .subcommand(demo_command())
        .subcommand(demo_target_command())
        .arg(
            Arg::new(SCENARIO_ARG)
                .value_name("SCENARIO")
                .help("The scenario file (.rhai)")
                .value_parser(Checked(scenario)),
        )
        .arg(
            Arg::new(CLASSES_ARG)
                .value_name("USER_CLASS")
                .help("User classes to run (default: all of them)")
                .num_args(0..),
        );
    for def in OPTIONS.iter().filter(|d| d.flag) {
        cmd = cmd.arg(arg(def));
    }
    cmd
}

fn arg(def: &'static OptionDef) -> Arg {
    let mut arg = Arg::new(def.key)
        .long(def.key)
        .visible_aliases(def.aliases)
        .aliases(def.hidden_aliases)
        .help(def.help_text())
        .hide(def.hidden);
    if let Some(short) = def.short {
        arg = arg.short(short);
    }
    match def.shape {
        Shape::Flag => arg.action(ArgAction::SetTrue),
        // `-T a b`, `-T a,b -T c`: Locust's `nargs="*"`; the values are joined and split again.
        Shape::List => arg
            .action(ArgAction::Append)
            .num_args(1..)
            .value_name(def.value_name)
            .value_parser(Checked(Some(def))),
        Shape::Integer | Shape::Number | Shape::Span => arg
            .value_name(def.value_name)
            .allow_negative_numbers(true)
            .value_parser(Checked(Some(def))),
        Shape::Text => arg
            .value_name(def.value_name)
            .value_parser(Checked(Some(def))),
    }
}

fn demo_command() -> clap::Command {
    let mut cmd = clap::Command::new("demo").about(
        "Start the built-in demo server and run scripts/quickstart.rhai against it, headless",
    );
    for (key, default, help) in DEMO_ARGS {
        if let Some(def) = def(key) {
            cmd = cmd.arg(arg(def).default_value(*default).help(*help));
        }
    }
    cmd
}

fn demo_target_command() -> clap::Command {
    clap::Command::new("demo-target")
        .about("Serve only the built-in demo server, until Ctrl-C")
        .arg(
            Arg::new("port")
                .long("port")
                .help("Port to listen on")
                .default_value("8080")
                .value_parser(clap::value_parser!(u16)),
        )
        .arg(
            Arg::new("bind")
                .long("bind")
                .help("Address to listen on (the demo server is meant for this machine only)")
                .default_value("127.0.0.1")
                .value_parser(clap::value_parser!(IpAddr)),
        )
}

/// Validates a value with its option's parser and keeps the text: the value is parsed again,
/// like every other source's, when the layer is built. A secret's value is left out of the
/// message, which clap's own would quote.
#[derive(Clone, Copy)]
struct Checked(Option<&'static OptionDef>);

impl TypedValueParser for Checked {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let Some(def) = self.0 else {
            return clap::builder::StringValueParser::new().parse_ref(cmd, arg, value);
        };
        if !def.secret {
            let check = move |text: &str| (def.check)(text).map(|()| text.to_string());
            return check.parse_ref(cmd, arg, value);
        }
        let reason = match value.to_str() {
            Some(text) => match (def.check)(text) {
                Ok(()) => return Ok(text.to_string()),
                Err(reason) => reason,
            },
            None => "the value is not valid UTF-8".to_string(),
        };
        let name = arg.map_or_else(|| format!("--{}", def.key), |a| a.to_string());
        // Unlike clap's own value errors this one shows the usage; it cannot leave the value out
        // otherwise.
        Err(cmd.clone().error(
            clap::error::ErrorKind::ValueValidation,
            format!("invalid value (not shown) for '{name}': {reason}"),
        ))
    }
}

/// Parses the command line (program name first).
pub(super) fn parse(args: Vec<OsString>) -> Result<Parsed, OptionsError> {
    refuse_unsupported(&args)?;
    let matches = command().try_get_matches_from(args)?;
    match matches.subcommand() {
        Some(("demo", m)) => {
            let demo_defs = DEMO_ARGS.iter().filter_map(|(key, _, _)| def(key));
            Ok(Parsed::Demo(layer(m, demo_defs, true)?))
        }
        Some(("demo-target", m)) => Ok(Parsed::DemoTarget {
            bind: m
                .get_one::<IpAddr>("bind")
                .copied()
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            port: m.get_one::<u16>("port").copied().unwrap_or(8080),
        }),
        _ => {
            let mut raw = layer(&matches, OPTIONS.iter().filter(|d| d.flag), false)?;
            positionals(&matches, &mut raw)?;
            Ok(Parsed::Run(raw))
        }
    }
}

/// Each option's values as given (with `with_defaults`, also clap's defaults: the demo's).
fn layer<'a>(
    m: &ArgMatches,
    defs: impl Iterator<Item = &'a OptionDef>,
    with_defaults: bool,
) -> Result<Raw, OptionsError> {
    let mut raw = Raw::default();
    for def in defs {
        let given = with_defaults || m.value_source(def.key) == Some(ValueSource::CommandLine);
        if !given {
            continue;
        }
        let text = match def.shape {
            Shape::Flag => m.get_flag(def.key).to_string(),
            _ => match m.get_many::<String>(def.key) {
                Some(values) => values.cloned().collect::<Vec<_>>().join(","),
                None => continue,
            },
        };
        set(&mut raw, def, &text, Source::CommandLine)?;
    }
    Ok(raw)
}

/// `rustlocust x.rhai A B` or, Locust style, `rustlocust -f x.rhai A B`: with `-f` the first
/// positional argument is a user class too.
fn positionals(m: &ArgMatches, raw: &mut Raw) -> Result<(), OptionsError> {
    let first = m.get_one::<String>(SCENARIO_ARG);
    if let Some(name) = first.filter(|n| matches!(n.as_str(), "demo" | "demo-target")) {
        // `rustlocust -u 5 demo` parses as a run of a scenario file named `demo`; clap cannot
        // tell, but the user almost certainly meant the subcommand.
        return Err(command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "`{name}` is a subcommand, so its options go after it \
                     (`rustlocust {name} --help` lists them); to run a scenario file named \
                     {name}, write ./{name}"
                ),
            )
            .into());
    }
    let mut classes: Vec<String> = m
        .get_many::<String>(CLASSES_ARG)
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    if let Some(first) = first {
        if raw.scenario.is_some() {
            classes.insert(0, first.clone());
        } else if let Some(def) = def("scenario") {
            set(raw, def, first, Source::CommandLine)?;
        }
    }
    if let (false, Some(def)) = (classes.is_empty(), def("user-classes")) {
        set(raw, def, &classes.join(","), Source::CommandLine)?;
    }
    Ok(())
}

/// Locust's options that rustlocust does not have, refused by name before clap would call them
/// merely unexpected.
fn refuse_unsupported(args: &[OsString]) -> Result<(), OptionsError> {
    let words = args.iter().skip(1).filter_map(|a| a.to_str());
    for word in words.take_while(|w| *w != "--") {
        let Some(name) = word.strip_prefix("--") else {
            continue;
        };
        let name = name.split('=').next().unwrap_or(name);
        if let Some(u) = UNSUPPORTED.iter().find(|u| u.key == name) {
            return Err(OptionsError::Unsupported {
                option: u.key,
                origin: Source::CommandLine,
                why: u.why,
            });
        }
    }
    Ok(())
}
