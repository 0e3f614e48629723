//! Wiring: from a parsed [`Command`] to a finished run, its reports and its exit code (0 ok, 1 when
//! a request failed or a task raised — `--exit-code-on-error` — and 2 for a usage or script error).

use std::sync::Arc;

use anyhow::Context;

use crate::logging::LogOptions;
use crate::options::{Command, Describe, RunSpec, Ui};
use crate::report::json::json_file_path;
use crate::run::RunConfig;
use crate::script::Scenario;

/// The demo scenario, embedded so `rustlocust demo` works from any directory.
const QUICKSTART: &str = include_str!("../scripts/quickstart.rhai");

/// Exit code for usage, configuration and script errors.
pub const EXIT_USAGE: i32 = 2;

/// Run a parsed command; returns the process exit code. Errors are printed here.
pub fn run_command(cmd: Command) -> i32 {
    let result = match cmd {
        Command::PrintDefinitions => {
            print!("{}", crate::script::definitions::definitions());
            Ok(0)
        }
        Command::Describe {
            run,
            what,
            log,
            users,
        } => describe(&run, what, &log, users),
        Command::Run(spec) => run(spec, None),
        Command::Demo(spec) => demo(spec),
        Command::DemoTarget { bind, port } => demo_target(bind, port),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_USAGE
        }
    }
}

/// Loads the scenario (from `source` if given, else from its file); a script error is printed.
/// It is compiled against the run's own control (role, stop_test) in the run's options.
fn load(run: &RunConfig, source: Option<&str>) -> Option<Arc<Scenario>> {
    let (files, opts) = (&run.scenario_files, &run.scenario_options);
    let loaded = match (source, files.as_slice()) {
        (Some(src), [file]) => {
            let dir = crate::script::files::dir_of(file);
            Scenario::from_source(&file.display().to_string(), src, &dir, opts)
        }
        _ => Scenario::load_files(files, opts),
    };
    match loaded {
        Ok(sc) => Some(Arc::new(sc)),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// `--list`, `--check` (`--dry-run`), `--show-task-ratio(-json)`: describe the scenario, exit.
fn describe(
    run: &RunConfig,
    what: Describe,
    log: &LogOptions,
    users: Option<u64>,
) -> anyhow::Result<i32> {
    crate::logging::init(log)?;
    let Some(scenario) = load(run, None) else {
        return Ok(EXIT_USAGE);
    };
    match what {
        Describe::TaskRatio => print!("{}", scenario.task_ratio_text(users)),
        Describe::TaskRatioJson => print!("{}", scenario.task_ratio_json(users)),
        Describe::List => print!("{}", scenario.describe()),
        Describe::Check => {
            print!("{}", scenario.describe());
            println!("{}: OK", scenario.file);
        }
        Describe::DryRun => {
            print!("{}", scenario.describe());
            return dry_run(scenario, run);
        }
    }
    Ok(0)
}

/// Load the scenario (from `source` if given, else from the run's file) and run it.
pub fn run(spec: RunSpec, source: Option<&str>) -> anyhow::Result<i32> {
    crate::logging::init(&spec.log)?;
    crate::run::fd_limit::raise_to_hard();
    crate::stats::set_max_rows(spec.max_stats_rows);
    if let Err(e) = check_outputs(&spec) {
        eprintln!("error: {e}");
        return Ok(EXIT_USAGE);
    }
    let Some(scenario) = load(&spec.run, source) else {
        return Ok(EXIT_USAGE);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    if let Some(master) = spec.master {
        let run = master_with_local_workers(scenario, spec.run, master, spec.ui, spec.processes);
        return tokio::task::LocalSet::new().block_on(&rt, run);
    }
    if let (Ui::Worker(worker), Some(local)) = (&spec.ui, &spec.processes) {
        use crate::distributed::processes::{supervise, LocalWorkers};
        // Started here, on the main thread, which lives as long as the process: the children's
        // death signal is tied to the thread that forked them.
        let workers = LocalWorkers::start(local, &worker.master_host, worker.master_port)?;
        return rt.block_on(supervise(workers));
    }
    match spec.ui {
        Ui::Web(web) => {
            let serve = crate::web::control::serve(spec.run, web, scenario);
            tokio::task::LocalSet::new().block_on(&rt, serve)
        }
        // A LocalSet: the runner's event listeners run on this thread with their own HTTP
        // session.
        Ui::Headless(console) => {
            let run = crate::console::run(scenario, spec.run, console);
            tokio::task::LocalSet::new().block_on(&rt, run)
        }
        Ui::Worker(worker) => {
            let run = crate::distributed::worker::run_worker(scenario, spec.run, worker);
            tokio::task::LocalSet::new().block_on(&rt, run)
        }
    }
}

/// A master (`--master`, or `--processes` without `--worker`): binds, starts the local workers
/// `--processes` asks for (after binding, so that they cannot join another master on a busy
/// port), runs the UI or the headless test, then lets the workers exit.
async fn master_with_local_workers(
    scenario: Arc<Scenario>,
    run: RunConfig,
    master_opts: crate::distributed::MasterOptions,
    ui: Ui,
    local: Option<crate::distributed::processes::LocalWorkersSpec>,
) -> anyhow::Result<i32> {
    use crate::distributed::master::{bind_from, run_master_headless_on, run_master_web_on};
    use crate::distributed::processes::{local_master_host, LocalWorkers};
    let master = bind_from(&master_opts).await?;
    let mut workers = match &local {
        Some(local) => {
            let host = local_master_host(&master_opts.bind_host);
            Some(LocalWorkers::start(
                local,
                &host,
                master.local_addr().port(),
            )?)
        }
        None => None,
    };
    let serve = async {
        match ui {
            Ui::Web(web) => run_master_web_on(master, scenario, run, master_opts, web).await,
            Ui::Headless(console) => {
                run_master_headless_on(master, scenario, run, master_opts, console).await
            }
            // The options refuse --master with --worker; say so again rather than guess.
            Ui::Worker(_) => {
                eprintln!("error: --master and --worker together: a process is one or the other");
                Ok(EXIT_USAGE)
            }
        }
    };
    let Some(workers) = workers.as_mut() else {
        return serve.await;
    };
    let code = match workers.alongside(serve).await {
        Ok(code) => code,
        Err(e) => {
            log::error!("{e}");
            Ok(1)
        }
    };
    workers.shutdown().await;
    code
}

/// Every report path, before anything runs (a worker writes no reports).
fn check_outputs(spec: &RunSpec) -> Result<(), crate::report::output::OutputError> {
    let json_file = match &spec.ui {
        Ui::Headless(console) => console.json_file.as_deref().map(json_file_path),
        Ui::Web(_) => None,
        Ui::Worker(_) => return Ok(()),
    };
    let out = &spec.run.outputs;
    crate::report::output::check_outputs(
        out.csv_prefix.as_deref(),
        out.html.as_deref(),
        json_file.as_deref(),
    )
}

/// `--check --dry-run`: every user class's on_start, each task once and on_stop against the
/// target, printing each request; exit 1 when anything failed.
fn dry_run(scenario: Arc<Scenario>, run: &RunConfig) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("dry run against the target:");
    let ok = tokio::task::LocalSet::new()
        .block_on(&rt, crate::runner::dry_run(scenario, run.runner.clone()));
    match ok {
        Ok(true) => {
            println!("dry run: OK");
            Ok(0)
        }
        Ok(false) => {
            println!("dry run: some requests failed or a script raised (see above)");
            Ok(run.exit_code_on_error)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(EXIT_USAGE)
        }
    }
}

/// `rustlocust demo`: the demo target on a free port plus a headless run of the quickstart.
fn demo(mut spec: RunSpec) -> anyhow::Result<i32> {
    let (port, _server) = start_demo_target()?;
    let host = format!("http://127.0.0.1:{port}");
    spec.run.load.host = Some(host.clone());
    spec.run.runner.host = Some(host);
    crate::logging::init(&spec.log)?;
    let scenario_file = spec.run.scenario_display();
    log::info!(
        "demo target listening on http://127.0.0.1:{port}; running {scenario_file} for {:?}",
        spec.run.load.run_time.unwrap_or_default()
    );
    let exit_code_on_error = spec.run.exit_code_on_error;
    let from_disk = std::fs::read_to_string(&scenario_file).ok();
    let code = run(spec, Some(from_disk.as_deref().unwrap_or(QUICKSTART)))?;
    if code != 0 && code == exit_code_on_error {
        // The failures are the demo's own doing; a first run should not end in "error".
        println!(
            "\nThe demo target fails some requests on purpose (/flaky, things that end in ERROR) to fill the \
             failure report. A normal run exits {code} when requests fail (--exit-code-on-error); the demo exits 0."
        );
        return Ok(0);
    }
    Ok(code)
}

/// Serve the demo target on its own thread; returns the port.
fn start_demo_target() -> anyhow::Result<(u16, std::thread::JoinHandle<()>)> {
    let std_listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("binding the demo target")?;
    std_listener.set_nonblocking(true)?;
    let port = std_listener.local_addr()?.port();
    let handle = std::thread::Builder::new()
        .name("demo-target".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return log::error!("demo target: {e}"),
            };
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => {
                        if let Err(e) = crate::demo::serve(l).await {
                            log::error!("demo target stopped: {e}");
                        }
                    }
                    Err(e) => log::error!("demo target: {e}"),
                }
            });
        })?;
    Ok((port, handle))
}

fn demo_target(bind: std::net::IpAddr, port: u16) -> anyhow::Result<i32> {
    crate::logging::init(&crate::logging::LogOptions::default())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind((bind, port))
            .await
            .with_context(|| format!("binding {bind}:{port}"))?;
        log::info!("demo target listening on http://{}", listener.local_addr()?);
        crate::demo::serve_until(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        Ok(0)
    })
}
