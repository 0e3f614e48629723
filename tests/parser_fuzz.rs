//! Property tests for the parsers a user's input reaches before any load starts: time spans
//! (`-t`, `--stop-timeout`, config values), `POST /swarm` and `POST /user` bodies, and every option
//! from every source (command line, `LOCUST_*`/`RUSTLOCUST_*` variables, `locust.conf`). Seeded
//! random and mutated inputs (so a failure reproduces from its case number) must give a value or a
//! clear error, never a panic; accepted values must respect the parsers' own bounds.

use std::path::Path;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustlocust::options::defs::OPTIONS;
use rustlocust::options::{self, Env};
use rustlocust::timespan::{format_timespan, parse_timespan, MAX_TIMESPAN};
use rustlocust::web::api::{parse_swarm, parse_user, MAX_USERS};

/// Pieces hostile or careless input is made of: digits, units, separators, signs, huge and
/// special numbers, quoting, control and multi-byte characters.
const PIECES: &[&str] = &[
    "0",
    "1",
    "9",
    "10",
    "99999999999999999999",
    "1e308",
    "-",
    "+",
    ".",
    "..",
    " ",
    "\t",
    "\n",
    "h",
    "m",
    "s",
    "ms",
    "H",
    "M",
    "S",
    "d",
    "1h",
    "30m",
    "15s",
    "NaN",
    "inf",
    "-1",
    "=",
    "&",
    "%",
    "%00",
    "%ZZ",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "false",
    "é",
    "🦀",
    "\u{0}",
    "\u{202e}",
    "user_count",
    "spawn_rate",
    "host",
    "run_time",
    "user_classes",
    "http://",
    "127.0.0.1:1",
    "\\",
    "/",
    "#",
    ";",
    "[tool.locust]",
];

fn junk(rng: &mut SmallRng, max_pieces: usize) -> String {
    let n = rng.random_range(0..=max_pieces);
    (0..n)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

/// A valid value, sometimes damaged: a character dropped, doubled or replaced by junk.
fn mutate(rng: &mut SmallRng, valid: &str) -> String {
    let mut chars: Vec<char> = valid.chars().collect();
    match rng.random_range(0..5) {
        0 => valid.to_owned(),
        1 if !chars.is_empty() => {
            chars.remove(rng.random_range(0..chars.len()));
            chars.into_iter().collect()
        }
        2 if !chars.is_empty() => {
            let i = rng.random_range(0..chars.len());
            chars.insert(i, chars[i]);
            chars.into_iter().collect()
        }
        3 => format!("{valid}{}", junk(rng, 2)),
        _ => junk(rng, 4),
    }
}

#[test]
fn time_spans_parse_or_explain_and_round_trip() {
    let mut rng = SmallRng::seed_from_u64(0x7153);
    for case in 0..20_000 {
        let input = junk(&mut rng, 6);
        match parse_timespan(&input) {
            Ok(d) => assert!(d <= MAX_TIMESPAN, "case {case}: {input:?} gave {d:?}"),
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains("invalid time span") && text.contains(&format!("{input:?}")),
                    "case {case}: {text}"
                );
            }
        }
    }
    // Every span we print parses back to itself (whole seconds: the notation has no fractions).
    for case in 0..5_000 {
        let d = Duration::from_secs(rng.random_range(0..=MAX_TIMESPAN.as_secs()));
        let shown = format_timespan(d);
        assert_eq!(parse_timespan(&shown), Ok(d), "case {case}: {shown}");
    }
}

#[test]
fn swarm_bodies_give_a_load_or_a_refusal() {
    let mut rng = SmallRng::seed_from_u64(0x5a4);
    let valid = [
        "user_count=10&spawn_rate=2&host=http%3A%2F%2F127.0.0.1%3A1&run_time=1m",
        r#"{"user_count": 10, "spawn_rate": 2.5, "user_classes": ["A"]}"#,
    ];
    let types = [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        Some("multipart/form-data"),
        Some("\u{0}"),
    ];
    for case in 0..20_000 {
        let body = mutate(&mut rng, valid[case % valid.len()]);
        let ct = types[rng.random_range(0..types.len())];
        match parse_swarm(ct, body.as_bytes()) {
            Ok(load) => {
                assert!(load.users <= MAX_USERS, "case {case}: {body:?}");
                assert!(
                    load.spawn_rate.is_finite() && load.spawn_rate > 0.0,
                    "case {case}: {body:?} gave spawn rate {}",
                    load.spawn_rate
                );
                if let Some(t) = load.run_time {
                    assert!(t <= MAX_TIMESPAN, "case {case}: {body:?}");
                }
            }
            Err(e) => assert!(!e.to_string().is_empty(), "case {case}"),
        }
    }
}

#[test]
fn user_class_bodies_give_an_update_or_a_refusal() {
    let mut rng = SmallRng::seed_from_u64(0x05e2);
    let valid = r#"{"user_class_name": "A", "weight": 2, "fixed_count": 0, "host": "http://127.0.0.1:1", "tasks": ["t"], "wait_time": "constant(1)"}"#;
    for case in 0..10_000 {
        let body = mutate(&mut rng, valid);
        if let Err(e) = parse_user(body.as_bytes()) {
            assert!(!e.to_string().is_empty(), "case {case}");
        }
    }
}

/// One option set from one source; `None` for the command line.
enum Place {
    Cli,
    Env(String),
    File,
}

#[test]
fn every_option_from_every_source_parses_or_names_its_source() {
    let mut rng = SmallRng::seed_from_u64(0x0b7);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let scenario = dir.path().join("s.rhai");
    std::fs::write(&scenario, "user(\"A\", #{ tasks: [\"t\"] }); fn t() {}\n").unwrap();
    let settable: Vec<_> = OPTIONS.iter().filter(|d| d.flag).collect();
    let conf = dir.path().join("locust.conf");
    for case in 0..1_500 {
        let mut args = vec!["rustlocust".to_owned(), scenario.display().to_string()];
        let mut env: Vec<(String, String)> = vec![("HOME".into(), home.display().to_string())];
        let mut file = String::new();
        for _ in 0..rng.random_range(1..=3) {
            let def = settable[rng.random_range(0..settable.len())];
            let value = mutate(&mut rng, def.example);
            let place = match rng.random_range(0..3) {
                0 => Place::Cli,
                1 => Place::Env(def.env_vars().last().unwrap()),
                _ if def.in_files => Place::File,
                _ => Place::Cli,
            };
            match place {
                Place::Cli => args.push(format!("--{}={value}", def.key)),
                Place::Env(var) => env.push((var, value)),
                Place::File => file.push_str(&format!("{} = {value}\n", def.key)),
            }
        }
        std::fs::write(&conf, &file).unwrap();
        let env: Env = env.into_iter().collect();
        let outcome = std::panic::catch_unwind(|| options::parse_from(&args, &env, dir.path()));
        let Ok(result) = outcome else {
            panic!("case {case}: parsing panicked: {args:?} env {env:?} file {file:?}");
        };
        if let Err(e) = result {
            assert_source_named(case, &e.to_string(), &args, &env, &file, &conf);
        }
    }
}

/// A refusal says where the bad value came from: a flag, a variable or the config file (or it is
/// clap's own usage error, which quotes the argument).
fn assert_source_named(
    case: usize,
    text: &str,
    args: &[String],
    env: &Env,
    file: &str,
    conf: &Path,
) {
    assert!(!text.trim().is_empty(), "case {case}: empty error");
    let names_flag = args.iter().skip(2).any(|a| {
        let flag = a.split('=').next().unwrap();
        text.contains(flag)
    });
    let names_var = env.iter().any(|(k, _)| k != "HOME" && text.contains(k));
    let names_file = !file.is_empty() && text.contains("locust.conf");
    assert!(
        names_flag || names_var || names_file,
        "case {case}: error names no source:\n{text}\nargs {args:?}\nenv {env:?}\n{} = {file:?}",
        conf.display()
    );
}
