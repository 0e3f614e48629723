//! The typed result of the options: a [`Command`] that says what to do, built from the merged
//! [`Values`] after the checks that involve more than one option. The front ends get exactly
//! their part (`RunConfig` for the test run, `WebOptions` or `ConsoleOptions` for the UI,
//! `LogOptions` for logging) and never see the command line.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::console::ConsoleOptions;
use crate::distributed::master::MasterOptions;
use crate::distributed::processes::LocalWorkersSpec;
use crate::distributed::secret::Secret;
use crate::distributed::worker::WorkerOptions;
use crate::http::HttpConfig;
use crate::logging::LogOptions;
use crate::run::{Load, Outputs, RunConfig};
use crate::runner::RunnerConfig;
use crate::script::LoadOptions;
use crate::web::WebOptions;

use super::defs::{def, Raw, Values, OPTIONS};
use super::error::{Given, OptionsError, Source};
use super::sources::set;
use super::values::default_threads;

/// The scenario `rustlocust demo` runs against the built-in demo target (embedded in the binary
/// when the file is not there).
pub const DEMO_SCENARIO: &str = "scripts/quickstart.rhai";

/// What the program was asked to do.
#[derive(Debug)]
pub enum Command {
    /// `--print-definitions`: the scripting API's Rhai definitions; needs no scenario.
    PrintDefinitions,
    /// Load the scenario, describe it in some way, exit.
    Describe {
        run: RunConfig,
        what: Describe,
        log: LogOptions,
        /// `-u` when it was given: Locust's `--show-task-ratio` class shares depend on it.
        users: Option<u64>,
    },
    /// Run a load test.
    Run(RunSpec),
    /// Start the demo target and run the quickstart scenario against it, headless. The run's
    /// host is left to fill in once the target is bound.
    Demo(RunSpec),
    /// Serve only the demo target until Ctrl-C.
    DemoTarget { bind: IpAddr, port: u16 },
}

/// The ways of describing a scenario without running a test, by priority when several are
/// asked for (Locust also lists before it shows task ratios).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Describe {
    /// `--check --dry-run`: also run every task once against the target.
    DryRun,
    /// `--check`: compile, validate and describe.
    Check,
    /// `--list`: the classes and task trees.
    List,
    /// `--show-task-ratio-json`.
    TaskRatioJson,
    /// `--show-task-ratio`.
    TaskRatio,
}

/// A load test: what the test run needs, which front end drives it, and the log.
#[derive(Debug)]
pub struct RunSpec {
    pub run: RunConfig,
    pub ui: Ui,
    pub log: LogOptions,
    /// `--master`: the users run on workers; the UI (or the console) is the master's.
    pub master: Option<MasterOptions>,
    /// `--processes`: local worker processes to start (for the master, or alone with `--worker`).
    pub processes: Option<LocalWorkersSpec>,
    /// `--max-stats-rows`: the cap on distinct stats rows (a process-wide setting).
    pub max_stats_rows: usize,
}

/// The front end of a run.
#[derive(Debug)]
pub enum Ui {
    /// `--headless`: start at once, print stats to the terminal.
    Headless(ConsoleOptions),
    /// The web UI and API.
    Web(WebOptions),
    /// `--worker`: no UI and no reports; a master gives the load and gets the stats.
    Worker(WorkerOptions),
}

/// Checks the merged options and types them.
pub(super) fn command(mut raw: Raw, cwd: &Path) -> Result<Command, OptionsError> {
    imply_master(&mut raw)?;
    check_needs(&raw)?;
    // Locust's task ratios depend on -u only when it is given.
    let users_given = raw.users.is_some();
    let v = raw.resolve().map_err(OptionsError::from)?;
    if v.print_definitions {
        return Ok(Command::PrintDefinitions);
    }
    let describe = [
        (v.check && v.dry_run, Describe::DryRun),
        (v.check, Describe::Check),
        (v.list, Describe::List),
        (v.show_task_ratio_json, Describe::TaskRatioJson),
        (v.show_task_ratio, Describe::TaskRatio),
    ]
    .into_iter()
    .find_map(|(asked, what)| asked.then_some(what));
    let spec = run_spec(v, cwd)?;
    Ok(match describe {
        Some(what) => Command::Describe {
            users: users_given.then_some(spec.run.load.users),
            run: spec.run,
            what,
            log: spec.log,
        },
        None => Command::Run(spec),
    })
}

/// `rustlocust demo`: the demo's options (users, rate, run time, log level), headless, on the
/// quickstart scenario.
pub(super) fn demo(mut raw: Raw, cwd: &Path) -> Result<Command, OptionsError> {
    for (key, value) in [("scenario", DEMO_SCENARIO), ("headless", "true")] {
        if let Some(def) = def(key) {
            set(&mut raw, def, value, Source::CommandLine)?;
        }
    }
    let v = raw.resolve().map_err(OptionsError::from)?;
    run_spec(v, cwd).map(Command::Demo)
}

/// `--processes N` without `--worker` makes this process the master of its N local workers, as
/// in Locust: `--master` is implied (and refused when given, with Locust's reason), and
/// `--expect-workers` defaults to N so that a headless run waits for all of them.
fn imply_master(raw: &mut Raw) -> Result<(), OptionsError> {
    let Some(processes) = raw.processes.clone() else {
        return Ok(());
    };
    let active = |key| def(key).is_some_and(|d| (d.active)(raw));
    if active("worker") {
        return Ok(());
    }
    if let Some(master) = raw.master.as_ref().filter(|m| m.value) {
        return Err(OptionsError::MasterAndProcesses {
            origin: master.source.clone(),
        });
    }
    raw.master = Some(Given {
        value: true,
        source: processes.source.clone(),
    });
    if raw.expect_workers.is_none() {
        raw.expect_workers = Some(Given {
            value: processes.value,
            source: processes.source,
        });
    }
    Ok(())
}

/// An option that needs another one, given without it (an explicit `false` does not count).
fn check_needs(raw: &Raw) -> Result<(), OptionsError> {
    for option in OPTIONS {
        let (Some(needs), true) = (&option.needs, (option.active)(raw)) else {
            continue;
        };
        let present = def(needs.option).is_some_and(|other| (other.active)(raw));
        if !present {
            return Err(OptionsError::Needs {
                option: option.key,
                origin: (option.source)(raw).cloned().unwrap_or(Source::CommandLine),
                message: needs.message,
            });
        }
    }
    Ok(())
}

fn run_spec(v: Values, cwd: &Path) -> Result<RunSpec, OptionsError> {
    let scenario_files = scenario_files(&v, cwd)?;
    let processes = v.processes.map(|count| LocalWorkersSpec {
        count,
        worker_args: worker_args(&v, &scenario_files, count),
        secret: v.master_secret.clone().map(Secret::new),
    });
    let html = v
        .html
        .as_deref()
        .map(|t| html_path(t, v.users, v.spawn_rate, v.run_time));
    let full_history_csv = v
        .csv
        .as_ref()
        .filter(|_| v.csv_full_history)
        .map(|p| PathBuf::from(format!("{}_stats_history.csv", p.display())));
    let run = RunConfig {
        scenario_files,
        scenario_options: LoadOptions {
            tags: v.tags,
            exclude_tags: v.exclude_tags,
            user_classes: v.user_classes,
            equal_weights: v.equal_weights,
            limits: crate::script::Limits {
                string: v.max_string_size,
                array: v.max_array_size,
                map: v.max_map_size,
            },
            // Each run has its own role and stop_test state.
            control: Default::default(),
        },
        load: Load {
            users: v.users,
            spawn_rate: v.spawn_rate,
            host: v.host.clone(),
            run_time: v.run_time,
            user_classes: Vec::new(),
        },
        stop_timeout: v.stop_timeout,
        runner: RunnerConfig {
            threads: v.threads.unwrap_or_else(default_threads),
            http: HttpConfig {
                insecure: v.insecure,
                engine: v.http_engine,
                accept_encoding: v.accept_encoding,
                ca_bundle: v.ca_bundle,
                client_cert: v.client_cert,
                client_key: v.client_key,
                resolve: v.resolve,
                max_body: v.max_body_size,
                ..HttpConfig::default()
            },
            seed: v.seed,
            max_stacks: v.max_coroutine_stacks,
            host: v.host,
            max_jobs: v.max_background_jobs,
            user_classes: Vec::new(),
            stats: None,
            windows: Vec::new(),
        },
        outputs: Outputs {
            csv_prefix: v.csv,
            csv_full_history: v.csv_full_history,
            html,
        },
        exit_code_on_error: v.exit_code_on_error,
        reset_stats_after_ramp: v.reset_stats,
    };
    // `--headful` undoes a `headless = true` from a file or the environment, as in Locust.
    if v.master && v.worker {
        return Err(OptionsError::MasterAndWorker);
    }
    let master = v.master.then(|| MasterOptions {
        bind_host: v.master_bind_host.clone(),
        bind_port: v.master_bind_port,
        expect_workers: v.expect_workers,
        expect_workers_max_wait: v.expect_workers_max_wait,
        enable_rebalancing: v.enable_rebalancing,
        secret: v.master_secret.clone().map(Secret::new),
    });
    let ui = if v.worker {
        Ui::Worker(WorkerOptions {
            master_host: v.master_host,
            master_port: v.master_port,
            secret: v.master_secret.map(Secret::new),
        })
    } else if v.headless && !v.headful {
        Ui::Headless(ConsoleOptions {
            only_summary: v.only_summary,
            json: v.json,
            json_file: v.json_file,
        })
    } else {
        Ui::Web(WebOptions {
            bind: SocketAddr::new(v.web_host, v.web_port),
            autostart: v.autostart,
            autoquit: v.autoquit,
            auth: v.web_auth,
            full_history_csv,
            print_stats: v.print_stats,
            tls: v.tls_cert.zip(v.tls_key),
            base_path: v.web_base_path,
            class_picker: v.class_picker,
            allowed_hosts: v.web_allowed_hosts,
        })
    };
    let log = LogOptions {
        level: v.loglevel,
        file: v.logfile,
        skip_setup: v.skip_log_setup,
    };
    Ok(RunSpec {
        run,
        ui,
        log,
        master,
        processes,
        max_stats_rows: v.max_stats_rows,
    })
}

/// The command line of a `--processes` child: a worker with this run's scenario and the options
/// a worker reads (the master's address and the secret are added by whoever starts it). A child
/// reads nothing but its command line (see [`super::sources::PROCESSES_CHILD_ENV`]), so every
/// value comes from here, whatever source gave it to the parent. Without `--threads`, the CPUs
/// are shared among the children rather than each taking all of them.
fn worker_args(v: &Values, files: &[PathBuf], count: usize) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--worker".into(), "-f".into()];
    let joined = files
        .iter()
        .map(|f| f.as_os_str().to_owned())
        .collect::<Vec<_>>()
        .join(std::ffi::OsStr::new(","));
    args.push(joined);
    args.extend(v.user_classes.iter().map(OsString::from));
    let threads = v
        .threads
        .unwrap_or_else(|| (default_threads() / count.max(1)).max(1));
    let mut valued = vec![
        ("threads", threads.to_string()),
        ("max-background-jobs", v.max_background_jobs.to_string()),
        ("loglevel", v.loglevel.to_string()),
        ("exit-code-on-error", v.exit_code_on_error.to_string()),
        // In bytes; 0 is "no limit" (None).
        ("max-body-size", v.max_body_size.unwrap_or(0).to_string()),
        ("max-stats-rows", v.max_stats_rows.to_string()),
    ];
    let lists = [("tags", &v.tags), ("exclude-tags", &v.exclude_tags)];
    valued.extend(
        lists
            .into_iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(key, list)| (key, list.join(","))),
    );
    valued.extend(v.host.clone().map(|h| ("host", h)));
    valued.extend(v.seed.map(|s| ("seed", s.to_string())));
    valued.extend(
        v.max_coroutine_stacks
            .map(|n| ("max-coroutine-stacks", n.to_string())),
    );
    for (key, value) in valued {
        args.push(format!("--{key}={value}").into());
    }
    if let Some(file) = &v.logfile {
        let mut arg = OsString::from("--logfile=");
        arg.push(file);
        args.push(arg);
    }
    let flags = [
        ("equal-weights", v.equal_weights),
        ("insecure", v.insecure),
        ("skip-log-setup", v.skip_log_setup),
    ];
    args.extend(
        flags
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(key, _)| OsString::from(format!("--{key}"))),
    );
    args
}

/// The scenario files: the given paths, each directory replaced by the `.rhai` files in it
/// (sorted; names starting with `_` left out, as Locust leaves out `_*.py`). Not recursive, unlike
/// Locust: subdirectories hold the modules scenarios `import`.
fn scenario_files(v: &Values, cwd: &Path) -> Result<Vec<PathBuf>, OptionsError> {
    let Some(given) = &v.scenario else {
        return Err(OptionsError::NoScenario {
            hint: swallowed_scenario(v),
        });
    };
    let mut files = Vec::new();
    for path in given {
        let dir = cwd.join(path);
        if !dir.is_dir() {
            files.push(path.clone());
            continue;
        }
        let before = files.len();
        collect_rhai(&dir, path, &mut files)?;
        if files.len() == before {
            return Err(OptionsError::EmptyScenarioDir { dir: path.clone() });
        }
    }
    Ok(files)
}

/// `rustlocust -T slow x.rhai`: `-T` took the scenario as a tag (it takes every word after it,
/// as Locust's does).
fn swallowed_scenario(v: &Values) -> Option<String> {
    let lists = [("-T", &v.tags), ("-E", &v.exclude_tags)];
    lists.iter().find_map(|(flag, items)| {
        items.iter().find(|t| t.ends_with(".rhai")).map(|t| {
            format!(
                "`{t}` was read as a tag: {flag} takes every word after it, as in Locust; \
                 put the scenario first or use -f {t}"
            )
        })
    })
}

/// Appends the `.rhai` files in `dir` (read from disk), named under `shown`.
fn collect_rhai(dir: &Path, shown: &Path, out: &mut Vec<PathBuf>) -> Result<(), OptionsError> {
    let read_error = |source| OptionsError::ReadScenarioDir {
        dir: shown.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('_') {
            continue;
        }
        let path = entry.path();
        if !path.is_dir() && path.extension().is_some_and(|e| e == "rhai") {
            out.push(shown.join(&name));
        }
    }
    Ok(())
}

/// Where to write the HTML report: `--html` with Locust's placeholders filled in, `{u}` by the
/// number of users, `{r}` by the spawn rate and `{t}` by the run time in whole seconds
/// (`report_{u}u_{t}s.html` -> `report_100u_60s.html`). A fractional spawn rate is written as
/// is (`0.5`) where Locust would truncate it to `0`. Without a run time `{t}` stays, as in
/// Locust. A path that is not valid UTF-8 is returned unchanged.
pub fn html_path(
    template: &Path,
    users: u64,
    spawn_rate: f64,
    run_time: Option<Duration>,
) -> PathBuf {
    let Some(text) = template.to_str() else {
        return template.to_path_buf();
    };
    // f64's Display writes 10.0 as `10` and 0.5 as `0.5`.
    let mut name = text
        .replace("{u}", &users.to_string())
        .replace("{r}", &spawn_rate.to_string());
    if let Some(run_time) = run_time {
        name = name.replace("{t}", &run_time.as_secs().to_string());
    }
    PathBuf::from(name)
}
