//! Table-driven tests: every option, from every source, ends up in the command; the declarations
//! themselves are consistent.

use std::collections::HashSet;

use super::*;
use crate::options::defs::{OPTIONS, UNSUPPORTED};
use crate::options::error::Source;
use crate::options::table::{OptionDef, Shape};

/// One way of giving an option, and the files it needs.
struct Setup {
    what: String,
    args: Vec<String>,
    vars: Vec<(String, String)>,
    files: Vec<(&'static str, String)>,
}

/// A TOML literal of the option's example.
fn toml_literal(def: &OptionDef) -> String {
    match def.shape {
        Shape::Flag | Shape::Integer | Shape::Number => def.example.to_string(),
        Shape::Text | Shape::Span | Shape::List => format!("{:?}", def.example),
    }
}

/// Every way of setting `def` to its example: each command-line spelling, each variable, each
/// config file format under each name the format accepts.
fn setups(def: &OptionDef) -> Vec<Setup> {
    let setup = |what: String, args: Vec<String>, vars, files| Setup {
        what,
        args,
        vars,
        files,
    };
    let mut all = Vec::new();
    let mut spellings: Vec<String> = def.names().map(|n| format!("--{n}")).collect();
    spellings.extend(def.short.map(|c| format!("-{c}")));
    for flag in spellings.into_iter().filter(|_| def.flag) {
        let mut args = vec![flag.clone()];
        if def.shape != Shape::Flag {
            args.push(def.example.to_string());
        }
        all.push(setup(flag, args, vec![], vec![]));
    }
    if !def.flag {
        let args = vec!["x.rhai".into(), def.example.to_string()];
        all.push(setup("positional".into(), args, vec![], vec![]));
    }
    for var in def.env_vars() {
        let vars = vec![(var.clone(), def.example.to_string())];
        all.push(setup(var, vec![], vars, vec![]));
    }
    if !def.in_files {
        return all;
    }
    let toml = format!("{} = {}\n", def.key, toml_literal(def));
    all.push(setup(
        "rustlocust.toml".into(),
        vec![],
        vec![],
        vec![("rustlocust.toml", toml.clone())],
    ));
    let args = vec!["--config".to_string(), "given.toml".into()];
    all.push(setup(
        "--config given.toml".into(),
        args,
        vec![],
        vec![("given.toml", toml)],
    ));
    for name in def.names() {
        let conf = format!("# {name}\n{name} = {}\n", def.example);
        let pyproject = format!("[tool.locust]\n{name} = {}\n", toml_literal(def));
        for (file, text) in [
            ("locust.conf", conf.clone()),
            ("home/.locust.conf", conf.clone()),
            ("given.conf", conf),
            ("pyproject.toml", pyproject),
        ] {
            let args = match file {
                "given.conf" => vec!["--config".to_string(), file.into()],
                _ => vec![],
            };
            all.push(setup(
                format!("`{name}` in {file}"),
                args,
                vec![],
                vec![(file, text)],
            ));
        }
    }
    all
}

/// The table's own example for `config` must exist to be read.
fn prepare(dir: &Path, files: &[(&str, String)]) {
    std::fs::create_dir_all(dir.join("home")).expect("mkdir");
    std::fs::write(dir.join("extra.conf"), "").expect("write");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
}

#[test]
fn every_option_from_every_source() {
    for def in OPTIONS {
        let mut expected = None;
        for s in setups(def) {
            let dir = empty_dir();
            prepare(dir.path(), &s.files);
            let home = dir.path().join("home");
            let mut vars: Vec<(&str, &str)> = s
                .vars
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            vars.push(("HOME", home.to_str().expect("utf-8 temp dir")));
            let args: Vec<&str> = s.args.iter().map(String::as_str).collect();
            let raw = raw_in(&args, &vars, dir.path())
                .unwrap_or_else(|e| panic!("--{} from {}: {e}", def.key, s.what));
            let value = (def.debug)(&raw);
            assert!(value.is_some(), "--{} from {}: not set", def.key, s.what);
            // The first way (the long option) is the reference for all others.
            let expected = expected.get_or_insert_with(|| value.clone());
            assert_eq!(&value, expected, "--{} from {}", def.key, s.what);
            let source = (def.source)(&raw).expect("a source");
            let right_kind = match source {
                Source::CommandLine => s.args.iter().any(|a| !a.starts_with("--config")),
                Source::Env(var) => s.vars.iter().any(|(k, _)| k == var),
                Source::File { path, line, .. } => {
                    *line > 0
                        && s.files
                            .iter()
                            .any(|(f, _)| path.ends_with(f.trim_start_matches("home/")))
                }
            };
            assert!(
                right_kind,
                "--{} from {}: source {source:?}",
                def.key, s.what
            );
        }
    }
}

/// Options that change nothing on their own: `--config` names a file to read, and
/// `--web-login` only insists on `--web-auth`, which already protects the UI.
const NO_EFFECT_OF_THEIR_OWN: &[&str] = &["config", "web-login"];

/// Options that act in distributed mode only, without needing one mode (`--master-secret` is for
/// masters and workers alike, and harmless in the environment of a local run): tested with it.
const IN_MODE: &[(&str, &str)] = &[("master-secret", "--master")];

fn outcome(args: &[String], dir: &Path) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    format!("{:?}", command_in(&args, &[], dir))
}

fn command_line(def: &OptionDef) -> Vec<String> {
    let mut args = Vec::new();
    if def.flag {
        args.push(format!("--{}", def.key));
        if def.shape != Shape::Flag {
            args.push(def.example.to_string());
        }
    } else {
        args.push(def.example.to_string());
    }
    args
}

#[test]
fn every_option_reaches_the_command() {
    let dir = empty_dir();
    prepare(dir.path(), &[]);
    for def in OPTIONS
        .iter()
        .filter(|d| !NO_EFFECT_OF_THEIR_OWN.contains(&d.key))
    {
        let mut base: Vec<String> = match def.key {
            "scenario" => vec![],
            _ => vec!["base.rhai".into()],
        };
        if let Some(needs) = &def.needs {
            let other = crate::options::defs::def(needs.option).expect("declared");
            base.extend(command_line(other));
        }
        base.extend(
            IN_MODE
                .iter()
                .filter(|(key, _)| *key == def.key)
                .map(|(_, mode)| mode.to_string()),
        );
        let with = [base.clone(), command_line(def)].concat();
        let changed = [vec![], vec!["--headless".to_string()]].iter().any(|mode| {
            let (before, after) = ([&base[..], mode].concat(), [&with[..], mode].concat());
            let after = outcome(&after, dir.path());
            assert!(after.starts_with("Ok("), "--{}: {after}", def.key);
            outcome(&before, dir.path()) != after
        });
        assert!(changed, "--{} {} changes nothing", def.key, def.example);
    }
}

#[test]
fn declarations_are_consistent() {
    assert!(Raw::default().resolve().is_ok(), "every default parses");
    let (mut names, mut shorts, mut vars) = (HashSet::new(), HashSet::new(), HashSet::new());
    for def in OPTIONS {
        assert!(!def.help.trim().is_empty(), "--{} has no help", def.key);
        let example = (def.check)(def.example);
        assert!(example.is_ok(), "--{} example: {example:?}", def.key);
        assert_ne!(
            def.example, def.default,
            "--{}: the example is the default",
            def.key
        );
        assert!(
            def.shape == Shape::Flag || !def.value_name.is_empty(),
            "--{}",
            def.key
        );
        for name in def.names() {
            assert!(names.insert(name), "--{name} declared twice");
        }
        if let Some(c) = def.short {
            assert!(shorts.insert(c), "-{c} declared twice");
        }
        for var in def.env_vars() {
            assert!(vars.insert(var.clone()), "{var} declared twice");
        }
        if let Some(needs) = &def.needs {
            assert!(
                crate::options::defs::def(needs.option).is_some(),
                "--{}",
                def.key
            );
        }
    }
    for u in UNSUPPORTED {
        assert!(
            names.insert(u.key),
            "--{} is both supported and refused",
            u.key
        );
        for var in u.env {
            assert!(vars.insert(var.to_string()), "{var} declared twice");
        }
    }
}
