//! Wiring: from parsed settings to a finished run, its reports and its exit code (0 ok, 1 when a
//! request failed or a task raised — `--exit-code-on-error` — and 2 for a usage or script error).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::{Command, DemoSettings, Settings};
use crate::http::HttpConfig;
use crate::logging::LogOptions;
use crate::report::{console, json};
use crate::run::{Load, Outputs, RunConfig, TestRun, Tick};
use crate::runner::RunnerConfig;
use crate::script::{LoadOptions, Scenario};
use crate::stats::unix_now as now_unix;
use crate::web::WebOptions;

/// The demo scenario, embedded so `rustlocust demo` works from any directory.
const QUICKSTART: &str = include_str!("../scripts/quickstart.rhai");

/// Exit code for usage, configuration and script errors.
pub const EXIT_USAGE: i32 = 2;

/// Run a parsed command; returns the process exit code. Errors are printed here.
pub fn run_command(cmd: Command) -> i32 {
    let result = match cmd {
        Command::Run(s) => run(&s, None),
        Command::Demo(d) => demo(d),
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

fn load_options(s: &Settings) -> LoadOptions {
    LoadOptions {
        tags: s.tags.clone(),
        exclude_tags: s.exclude_tags.clone(),
        user_classes: s.user_classes.clone(),
        equal_weights: false,
    }
}

/// How the settings ask the process to log.
fn log_options(s: &Settings) -> LogOptions {
    LogOptions::level(s.loglevel)
}

/// What the headless front end prints and writes besides the test run's own reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsoleOptions {
    /// No stats table every 2 s while the test runs, only the final summary (`--only-summary`).
    pub only_summary: bool,
    /// Print the final stats as Locust's JSON on stdout (`--json`); the tables go to stderr then.
    pub json: bool,
    /// `--json-file NAME`: write that JSON to `NAME.json` (Locust's naming) instead of printing the
    /// final tables, as Locust does. Checked before the test starts; a failed write exits non-zero.
    pub json_file: Option<PathBuf>,
}

/// What the settings ask of the console front end.
fn console_options(s: &Settings) -> ConsoleOptions {
    ConsoleOptions {
        only_summary: s.only_summary,
        json: s.json,
        json_file: None,
    }
}

/// What the settings ask of a test run on the scenario `files` (directories already expanded).
pub fn run_config(s: &Settings, files: Vec<PathBuf>) -> RunConfig {
    RunConfig {
        scenario_files: files,
        scenario_options: load_options(s),
        load: Load {
            users: s.users,
            spawn_rate: s.spawn_rate,
            host: s.host.clone(),
            run_time: s.run_time,
            user_classes: Vec::new(),
        },
        stop_timeout: s.stop_timeout,
        runner: RunnerConfig {
            threads: s.threads,
            http: HttpConfig {
                insecure: s.insecure,
                ..HttpConfig::default()
            },
            seed: s.seed,
            max_stacks: s.max_coroutine_stacks,
            host: s.host.clone(),
            max_jobs: s.max_background_jobs,
            user_classes: Vec::new(),
            stats: None,
            windows: Vec::new(),
        },
        outputs: Outputs {
            csv_prefix: s.csv_prefix.clone(),
            csv_full_history: s.csv_full_history,
            html: s.html_path(),
        },
        exit_code_on_error: s.exit_code_on_error,
        reset_stats_after_ramp: false,
    }
}

/// What the settings ask of the web front end.
pub fn web_options(s: &Settings) -> WebOptions {
    WebOptions {
        bind: std::net::SocketAddr::new(s.web_host, s.web_port),
        autostart: s.autostart,
        autoquit: s.autoquit,
        auth: s.web_auth.clone(),
        full_history_csv: s
            .csv_prefix
            .as_ref()
            .filter(|_| s.csv_full_history)
            .map(|p| std::path::PathBuf::from(format!("{}_stats_history.csv", p.display()))),
        ..WebOptions::default()
    }
}

/// Load the scenario (from `source` if given, else from the settings' path) and run it.
pub fn run(s: &Settings, source: Option<&str>) -> anyhow::Result<i32> {
    crate::logging::init(&log_options(s))?;
    if s.print_definitions {
        print!("{}", crate::script::definitions::definitions());
        return Ok(0);
    }
    let opts = load_options(s);
    let loaded = match source {
        Some(src) => {
            let dir = crate::script::files::dir_of(&s.scenario);
            Scenario::from_source(&s.scenario.display().to_string(), src, &dir, &opts)
                .map(|sc| (sc, vec![s.scenario.clone()]))
        }
        // A directory stands for the scenario files in it.
        None => crate::script::scenario_files(std::slice::from_ref(&s.scenario))
            .and_then(|files| Scenario::load_files(&files, &opts).map(|sc| (sc, files))),
    };
    let (scenario, files) = match loaded {
        Ok((sc, files)) => (Arc::new(sc), files),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let cfg = run_config(s, files);
    if s.list || s.check {
        print!("{}", scenario.describe());
        if s.check && s.dry_run {
            return dry_run(scenario, s, cfg);
        }
        if s.check {
            println!("{}: OK", scenario.file);
        }
        return Ok(0);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    if !s.headless {
        let serve = crate::web::control::serve(cfg, web_options(s), scenario);
        return tokio::task::LocalSet::new().block_on(&rt, serve);
    }
    // A LocalSet: the runner's event listeners run on this thread with their own HTTP session.
    let console = console_options(s);
    tokio::task::LocalSet::new().block_on(&rt, headless(scenario, cfg, console))
}

/// Run one test in the console: tables every 2 s, then the summary (and `--json`, `--json-file`).
pub async fn headless(
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    console: ConsoleOptions,
) -> anyhow::Result<i32> {
    let json_file = console.json_file.as_deref().map(json::json_file_path);
    if let Some(path) = &json_file {
        if let Err(e) = json::check_writable(path) {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    }
    let load = cfg.load.clone();
    let mut run = TestRun::new(cfg, scenario).await;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    if let Err(e) = run.start(load).await {
        eprintln!("error: {e}");
        return Ok(EXIT_USAGE);
    }
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let (mut last_second, mut last_console) = (Instant::now(), Instant::now());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = sigint.recv() => { log::info!("Got SIGINT signal, stopping the test"); break; }
            _ = sigterm.recv() => { log::info!("Got SIGTERM signal, stopping the test"); break; }
        }
        if let Some(Tick::End(why)) = run.tick().await {
            log::info!("{why}, shutting down");
            break;
        }
        if last_second.elapsed() >= Duration::from_secs(1) {
            last_second = Instant::now();
            run.every_second();
        }
        if !console.only_summary && last_console.elapsed() >= console::PRINT_EVERY {
            last_console = Instant::now();
            let table = console::current_table(&run.stats.lock(), now_unix());
            console::emit(&table, console.json);
        }
    }
    let hurry = async {
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
        }
        log::warn!("second signal: cancelling users now");
    };
    run.stop(hurry).await;

    // The final summary; the stats lock is released before the quitting listeners run.
    let mut code = run.exit_code();
    {
        let (now, st) = (now_unix(), run.stats.lock());
        if json_file.is_none() {
            let mut out = Vec::new();
            let _ = console::write_stats_table(&mut out, &st, now, false);
            let _ = writeln!(out);
            let _ = console::write_percentiles_table(&mut out, &st);
            let _ = writeln!(out);
            let _ = console::write_error_report(&mut out, &st);
            console::emit(&out, console.json);
        }
        if console.json {
            let mut o = std::io::stdout().lock();
            json::write_stats_json(&mut o, &st).context("writing --json")?;
            let _ = writeln!(o);
        }
        if let Some(path) = &json_file {
            if let Err(e) = json::save_stats_json(path, &st) {
                eprintln!("error: {e}");
                code = EXIT_USAGE;
            }
        }
    }
    run.quit(code).await;
    Ok(code)
}

/// `--check --dry-run`: every user class's on_start, each task once and on_stop against the
/// target, printing each request; exit 1 when anything failed.
fn dry_run(scenario: Arc<Scenario>, s: &Settings, cfg: RunConfig) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("dry run against the target:");
    let ok =
        tokio::task::LocalSet::new().block_on(&rt, crate::runner::dry_run(scenario, cfg.runner));
    match ok {
        Ok(true) => {
            println!("dry run: OK");
            Ok(0)
        }
        Ok(false) => {
            println!("dry run: some requests failed or a script raised (see above)");
            Ok(s.exit_code_on_error)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(EXIT_USAGE)
        }
    }
}

/// `rustlocust demo`: the demo target on a free port plus a headless run of the quickstart.
fn demo(d: DemoSettings) -> anyhow::Result<i32> {
    let (port, _server) = start_demo_target()?;
    let mut s = d.settings;
    s.host = Some(format!("http://127.0.0.1:{port}"));
    s.users = d.users;
    s.spawn_rate = d.spawn_rate;
    s.run_time = Some(d.run_time);
    s.headless = true;
    crate::logging::init(&log_options(&s))?;
    log::info!(
        "demo target listening on http://127.0.0.1:{port}; running {} for {:?}",
        s.scenario.display(),
        d.run_time
    );
    let from_disk = std::fs::read_to_string(&s.scenario).ok();
    let code = run(&s, Some(from_disk.as_deref().unwrap_or(QUICKSTART)))?;
    if code != 0 && code == s.exit_code_on_error {
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
    crate::logging::init(&LogOptions::default())?;
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
