//! The console front end (headless mode): starts the configured test, prints Locust's stats table
//! every 2 s while it runs, and at the end the summary tables and, with `--json`, the final stats
//! as JSON on stdout (the tables then go to stderr); `--json-file NAME` writes them to `NAME.json`
//! instead of the final tables, as Locust does.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::report::{console, json};
use crate::run::{drive, users, FrontEnd, Mailbox, RunConfig, TestRun, UsersFactory};
use crate::script::Scenario;
use crate::stats::unix_now;

/// Exit code when the configured test cannot start (e.g. a class without a host), or a report
/// asked for cannot be written.
const EXIT_USAGE: i32 = 2;

/// What the console shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsoleOptions {
    /// No periodic tables, only the final summary.
    pub only_summary: bool,
    /// The final stats as Locust's JSON list on stdout (tables go to stderr).
    pub json: bool,
    /// `--json-file NAME`: the final stats as Locust's JSON in `NAME.json` (Locust's naming), in
    /// place of the final tables. Checked before the test starts; a failed write exits non-zero.
    pub json_file: Option<PathBuf>,
}

struct Console {
    opts: ConsoleOptions,
    last_table: Instant,
}

impl FrontEnd for Console {
    fn every_second(&mut self, run: &TestRun) {
        if self.opts.only_summary || self.last_table.elapsed() < console::PRINT_EVERY {
            return;
        }
        self.last_table = Instant::now();
        console::emit(
            &console::current_table(&run.stats.lock(), unix_now()),
            self.opts.json,
        );
    }

    /// Headless mode ends with its test.
    fn test_ended(&mut self, _run: &TestRun) -> bool {
        true
    }
}

impl Console {
    /// The final tables (or the JSON file) and `--json`; returns the exit code it calls for.
    fn summary(&self, run: &TestRun, json_file: Option<&PathBuf>) -> anyhow::Result<i32> {
        // The stats lock is released before the quitting listeners run.
        let (now, st) = (unix_now(), run.stats.lock());
        if json_file.is_none() {
            let mut out = Vec::new();
            let _ = console::write_stats_table(&mut out, &st, now, false);
            let _ = writeln!(out);
            let _ = console::write_percentiles_table(&mut out, &st);
            let _ = writeln!(out);
            let _ = console::write_error_report(&mut out, &st);
            console::emit(&out, self.opts.json);
        }
        if self.opts.json {
            let mut o = std::io::stdout().lock();
            json::write_stats_json(&mut o, &st).context("writing --json")?;
            let _ = writeln!(o);
        }
        if let Some(path) = json_file {
            if let Err(e) = json::save_stats_json(path, &st) {
                eprintln!("error: {e}");
                return Ok(EXIT_USAGE);
            }
        }
        Ok(0)
    }
}

/// Run the configured test headless until its run time, `stop_test()` or Ctrl-C; returns the
/// exit code.
pub async fn run(
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    opts: ConsoleOptions,
) -> anyhow::Result<i32> {
    run_with_users(scenario, cfg, opts, users::local(), None, |code| code).await
}

/// [`run`] with the users `users` makes (a master's workers) and the scripts' custom messages
/// through `mailbox`; `exit_code` may change the code
/// the statistics call for (a master that lost every worker exits non-zero).
pub async fn run_with_users(
    scenario: Arc<Scenario>,
    cfg: RunConfig,
    opts: ConsoleOptions,
    users: UsersFactory,
    mailbox: Option<Box<dyn Mailbox>>,
    exit_code: impl Fn(i32) -> i32,
) -> anyhow::Result<i32> {
    let json_file = opts.json_file.as_deref().map(json::json_file_path);
    // `app` checked these already for the binary; a library caller gets the same check.
    let out = &cfg.outputs;
    let (csv, html) = (out.csv_prefix.as_deref(), out.html.as_deref());
    if let Err(e) = crate::report::output::check_outputs(csv, html, json_file.as_deref()) {
        eprintln!("error: {e}");
        return Ok(EXIT_USAGE);
    }
    let load = cfg.load.clone();
    let mut run = TestRun::with_users(cfg, scenario, users).await;
    if let Some(m) = mailbox {
        run.set_mailbox(m);
    }
    if let Err(e) = run.start(load).await {
        eprintln!("error: {e}");
        return Ok(EXIT_USAGE);
    }
    let mut console = Console {
        opts,
        last_table: Instant::now(),
    };
    drive(&mut run, &mut console, None).await?;
    let mut code = console.summary(&run, json_file.as_ref())?;
    if code == 0 {
        code = exit_code(run.exit_code());
    }
    Ok(run.quit(code).await)
}
