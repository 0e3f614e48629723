//! The example scenarios in `scripts/`, one per tip of the seed document
//! (`../shared/seed/how-do-i-locust.md`): each one runs against the built-in demo target and does
//! what its tip promises; each passes `--check`; each is no longer (non-blank, non-comment lines)
//! than the seed's Python for the same tip.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{bin, csv, run, stats_row, DemoTarget, Run};
use rustlocust::demo::DemoConfig;

const LIMIT: Duration = Duration::from_secs(60);

/// Script (in `scripts/`) -> text found in each seed Python block for the same tip. Each text
/// must occur in exactly one block; the script may be as long as those blocks together.
const SEED_PYTHON: [(&str, &[&str]); 9] = [
    (
        "basic_user",
        &[
            "class MyTaskSet(locust.TaskSet):",
            "class MyLocust(locust.HttpLocust):",
        ],
    ),
    ("name_grouping", &["name='/resources/UUID'"]),
    ("catch_response", &["catch_response=True"]),
    (
        "setup_hooks",
        &[
            "CONF = get_config()",
            "def do_thing():",
            "def on_start(self):",
        ],
    ),
    ("custom_events", &["EventHook()"]),
    ("roles", &["def is_master():"]),
    (
        "precise_rates",
        &["def do_sleep(self):", "def _do_async_thing_handler(self):"],
    ),
    ("non_blocking_sleep", &["def do_sleep(self):"]),
    (
        "async_polling",
        &[
            "def async_success(",
            "def _do_async_thing_handler(self, timeout=600):",
        ],
    ),
];

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

fn script(name: &str) -> PathBuf {
    scripts_dir().join(format!("{name}.rhai"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The `--csv` output of one run, in its own temp dir.
struct Csv {
    _dir: tempfile::TempDir,
    prefix: PathBuf,
}

impl Csv {
    fn stats(&self) -> Vec<Vec<String>> {
        csv(&self.prefix, "stats")
    }
    /// (method, name) -> (requests, failures), without the Aggregated row.
    fn counts(&self) -> HashMap<(String, String), (u64, u64)> {
        let rows = self.stats();
        rows.iter()
            .skip(1)
            .filter(|r| r[1] != "Aggregated")
            .map(|r| {
                let row = stats_row(&rows, &r[0], &r[1]).unwrap();
                (
                    (r[0].clone(), r[1].clone()),
                    (num(&row, "Request Count"), num(&row, "Failure Count")),
                )
            })
            .collect()
    }
    /// Requests and failures of one row; (0, 0) when there is no such row.
    fn count(&self, method: &str, name: &str) -> (u64, u64) {
        self.counts()
            .get(&(method.to_string(), name.to_string()))
            .copied()
            .unwrap_or((0, 0))
    }
    /// `_failures.csv` rows as (method, name, error, occurrences).
    fn failures(&self) -> Vec<(String, String, String, u64)> {
        csv(&self.prefix, "failures")
            .into_iter()
            .skip(1)
            .map(|r| {
                (
                    r[0].clone(),
                    r[1].clone(),
                    r[2].clone(),
                    r[3].parse().unwrap(),
                )
            })
            .collect()
    }
    /// `_exceptions.csv` without its header.
    fn exceptions(&self) -> Vec<Vec<String>> {
        csv(&self.prefix, "exceptions")
            .into_iter()
            .skip(1)
            .collect()
    }
}

fn num(row: &HashMap<String, String>, col: &str) -> u64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col} in {row:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("column {col} of {row:?}: {e}"))
}

/// `rustlocust scripts/<name>.rhai --headless -H <demo> --csv <tmp>/run <args>`.
fn run_script(name: &str, target: &DemoTarget, args: &[&str]) -> (Run, Csv) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let mut cmd = bin();
    cmd.arg(script(name))
        .args(["--headless", "--only-summary", "-H", &target.url(), "--csv"])
        .arg(&prefix)
        .args(args);
    let r = run(cmd, LIMIT);
    (r, Csv { _dir: dir, prefix })
}

fn lines_starting<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(prefix)).collect()
}

fn no_exceptions(csv: &Csv, r: &Run) {
    let exceptions = csv.exceptions();
    assert!(
        exceptions.is_empty(),
        "script errors: {exceptions:?}\nstderr:\n{}",
        r.stderr
    );
}

// ---- Every script: --check, header, length ----

#[test]
fn every_script_passes_check() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(scripts_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rhai") {
            continue;
        }
        let mut cmd = bin();
        cmd.arg("--check").arg(&path);
        let r = run(cmd, LIMIT);
        assert_eq!(r.code, 0, "--check {}:\n{}", path.display(), r.all());
        names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
    }
    for name in ["quickstart"]
        .into_iter()
        .chain(SEED_PYTHON.iter().map(|(n, _)| *n))
    {
        assert!(
            names.iter().any(|n| n == name),
            "scripts/{name}.rhai is missing"
        );
    }
}

#[test]
fn every_seed_script_says_which_tip_and_how_to_run_it() {
    for (name, _) in SEED_PYTHON {
        let text = read(&script(name));
        let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("//")).collect();
        let header = header.join("\n");
        assert!(
            header.contains(&format!("{name}.rhai: seed tip \"")),
            "{name}: the first comment names the seed tip:\n{header}"
        );
        assert!(
            header.contains("rustlocust demo-target --port 8080 &")
                && header.contains(&format!(
                    "rustlocust scripts/{name}.rhai --headless -H http://127.0.0.1:8080"
                )),
            "{name}: the first comment says how to run it:\n{header}"
        );
    }
}

/// Non-blank lines that are not only a `//` comment.
fn code_lines(rhai: &str) -> usize {
    rhai.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

/// The ```python blocks of a markdown text.
fn python_blocks(md: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in md.lines() {
        let fence = line.trim_start().starts_with("```");
        match current.as_mut() {
            None if fence && line.trim() == "```python" => current = Some(Vec::new()),
            Some(_) if fence => blocks.push(current.take().unwrap()),
            Some(block) => block.push(line),
            None => {}
        }
    }
    blocks
}

#[test]
fn scripts_are_no_longer_than_the_seed_python() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/how-do-i-locust.md");
    let Ok(md) = std::fs::read_to_string(&seed) else {
        println!(
            "note: {} is absent: script lengths not compared with the seed's Python",
            seed.display()
        );
        return;
    };
    let blocks = python_blocks(&md);
    assert!(
        blocks.len() >= 10,
        "found only {} python blocks",
        blocks.len()
    );
    let mut report = Vec::new();
    for (name, needles) in SEED_PYTHON {
        let python: usize = needles
            .iter()
            .map(|needle| {
                let found: Vec<_> = blocks
                    .iter()
                    .filter(|b| b.iter().any(|l| l.contains(needle)))
                    .collect();
                assert_eq!(found.len(), 1, "{name}: blocks with {needle:?}: {found:?}");
                found[0].iter().filter(|l| !l.trim().is_empty()).count()
            })
            .sum();
        let rhai = code_lines(&read(&script(name)));
        report.push(format!("{name}: {rhai} lines (seed Python: {python})"));
        assert!(
            rhai <= python,
            "scripts/{name}.rhai has {rhai} code lines, the seed's Python {python}"
        );
    }
    println!("{}", report.join("\n"));
}

// ---- What each tip promises ----

#[test]
fn basic_user_runs_a_task_then_waits_about_a_second() {
    let t = DemoTarget::start();
    let (r, csv) = run_script("basic_user", &t, &["-u", "2", "-r", "10", "-t", "3s"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    no_exceptions(&csv, &r);
    let counts = csv.counts();
    let (n, fails) = csv.count("GET", "/resources/42");
    assert_eq!(counts.len(), 1, "one row: {counts:?}");
    assert_eq!(fails, 0);
    // Each user: a task at once, then one about every second (between(0.9, 1.1)).
    assert!((2..=10).contains(&n), "2 users for 3 s made {n} requests");
}

#[test]
fn name_grouping_gives_one_row_for_all_ids() {
    let t = DemoTarget::start();
    let (r, csv) = run_script("name_grouping", &t, &["-u", "3", "-r", "10", "-t", "3s"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    no_exceptions(&csv, &r);
    let counts = csv.counts();
    let names: Vec<_> = counts.keys().collect();
    assert_eq!(
        names,
        [&("GET".to_string(), "/resources/[id]".to_string())],
        "one row for every id"
    );
    let (n, fails) = csv.count("GET", "/resources/[id]");
    assert!(n >= 3 && fails == 0, "{n} requests, {fails} failures");
}

#[test]
fn catch_response_marks_error_things_as_failures_with_the_scripts_text() {
    // Half the things end in ERROR (default: 10%), so that both verdicts surely occur.
    let t = DemoTarget::start_with(DemoConfig {
        thing_error_ratio: 0.5,
        ..DemoConfig::default()
    });
    let (r, csv) = run_script("catch_response", &t, &["-u", "20", "-r", "20", "-t", "8s"]);
    assert_eq!(
        r.code, 1,
        "ERROR things failed: exit 1\nstderr:\n{}",
        r.stderr
    );
    no_exceptions(&csv, &r);
    let (n, fails) = csv.count("GET", "/things/[id]");
    assert!(n >= 10, "only {n} things checked");
    assert!(
        fails >= 1 && fails < n,
        "{fails} of {n} checks failed: some ERROR, some ACTIVE expected"
    );
    let (posts, post_fails) = csv.count("POST", "/things");
    assert!(
        posts >= n && post_fails == 0,
        "POST /things: {posts}, {post_fails}"
    );
    let failures = csv.failures();
    assert!(
        failures.iter().all(|(m, name, error, _)| m == "GET"
            && name == "/things/[id]"
            && error.contains("Saw ERROR status")),
        "every failure is an ERROR thing, with the script's text: {failures:?}"
    );
    let total: u64 = failures.iter().map(|f| f.3).sum();
    assert_eq!(total, fails, "{failures:?}");
}

#[test]
fn setup_hooks_run_once_per_process_once_per_test_and_once_per_user() {
    let t = DemoTarget::start();
    let (r, csv) = run_script("setup_hooks", &t, &["-u", "4", "-r", "20", "-t", "3s"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    no_exceptions(&csv, &r);
    let out = &r.stdout;
    assert_eq!(
        lines_starting(out, "process setup: once per process").len(),
        1,
        "stdout:\n{out}"
    );
    let test_setup = lines_starting(out, "test setup: once per test");
    assert_eq!(test_setup.len(), 1, "stdout:\n{out}");
    assert!(
        test_setup[0].ends_with(&t.url()),
        "test_start sees the host: {}",
        test_setup[0]
    );
    let tokens: std::collections::HashSet<&str> = lines_starting(out, "user setup: token ")
        .iter()
        .map(|l| &l["user setup: token ".len()..])
        .collect();
    assert_eq!(
        lines_starting(out, "user setup: ").len(),
        4,
        "on_start once per user:\n{out}"
    );
    assert_eq!(tokens.len(), 4, "each user its own token: {tokens:?}");
    assert_eq!(
        csv.count("POST", "/login"),
        (4, 0),
        "one login per user, in on_start"
    );
    // Each user sends its own token: /me accepts it (401 otherwise).
    let (n, fails) = csv.count("GET", "/me");
    assert!(n >= 4 && fails == 0, "/me: {n} requests, {fails} failures");
}

#[test]
fn custom_event_handlers_get_the_named_arguments_in_order() {
    let t = DemoTarget::start();
    let (r, csv) = run_script("custom_events", &t, &["-u", "2", "-r", "10", "-t", "3s"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    no_exceptions(&csv, &r);
    let out = &r.stdout;
    let mut handled: Vec<i64> = Vec::new();
    for line in lines_starting(out, "handled ") {
        let args: Vec<i64> = line["handled ".len()..]
            .split(' ')
            .map(|x| x.parse().unwrap_or_else(|_| panic!("bad line {line:?}")))
            .collect();
        assert!(
            args.len() == 2 && (1..=9).contains(&args[0]) && args[1] == 200,
            "a = random_int(1, 9), b = the status: {line:?}"
        );
        handled.push(args[0] + args[1]);
    }
    let mut sums: Vec<i64> = lines_starting(out, "sum ")
        .iter()
        .map(|l| l["sum ".len()..].parse().unwrap())
        .collect();
    assert!(
        handled.len() >= 4,
        "the event fired {} times",
        handled.len()
    );
    let first = |p: &str| out.find(p).unwrap();
    assert!(
        first("handled ") < first("sum "),
        "handlers run in the order they were added:\n{out}"
    );
    handled.sort_unstable();
    sums.sort_unstable();
    assert_eq!(
        handled, sums,
        "both handlers, for every fire, same arguments"
    );
    let (n, _) = csv.count("GET", "/fast");
    assert!(
        n.abs_diff(handled.len() as u64) <= 2,
        "one fire per request: {n} requests, {} fires",
        handled.len()
    );
}

#[test]
fn roles_take_the_local_branch() {
    let t = DemoTarget::start();
    let (r, csv) = run_script("roles", &t, &["-u", "2", "-r", "10", "-t", "2s"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    no_exceptions(&csv, &r);
    let out = &r.stdout;
    assert_eq!(
        lines_starting(out, "local: preparing data").len(),
        1,
        "{out}"
    );
    assert_eq!(
        lines_starting(out, "local: saving the report").len(),
        1,
        "{out}"
    );
    assert!(
        !out.contains("master:") && !out.contains("worker:"),
        "{out}"
    );
    let counts = csv.counts();
    assert_eq!(counts.len(), 1, "{counts:?}");
    let (n, fails) = csv.count("GET", "/fast (local)");
    assert!(n >= 2 && fails == 0, "{n} requests, {fails} failures");
}

#[test]
fn constant_throughput_gives_the_computed_rate() {
    let t = DemoTarget::start();
    // 2 users x 2 tasks/s x 4 s = 16 runs of a 0.2 s task (without pacing: about 40).
    let (r, csv) = run_script(
        "precise_rates",
        &t,
        &["ThroughputUser", "-u", "2", "-r", "10", "-t", "4s"],
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    no_exceptions(&csv, &r);
    let (n, fails) = csv.count("GET", "/slow");
    assert!(
        (10..=18).contains(&n) && fails == 0,
        "constant_throughput(2), 2 users, 4 s: {n} task runs ({fails} failures), about 16 expected"
    );
    assert_eq!(csv.counts().len(), 1, "only ThroughputUser ran");
}

#[test]
fn constant_pacing_holds_while_background_jobs_run() {
    let t = DemoTarget::start();
    // One task start per second; each task leaves a 2 s request in the background.
    let (r, csv) = run_script(
        "precise_rates",
        &t,
        &["PacingUser", "-u", "1", "-r", "10", "-t", "5s"],
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    no_exceptions(&csv, &r);
    let (tasks, _) = csv.count("GET", "/fast");
    assert!(
        (4..=6).contains(&tasks),
        "constant_pacing(1) for 5 s: {tasks} task runs (a task held up by its 2 s job: about 3)"
    );
    let (jobs, fails) = csv.count("GET", "/slow (background)");
    assert!(
        (1..tasks).contains(&jobs) && fails == 0,
        "{jobs} background requests done ({fails} failures) for {tasks} tasks"
    );
}

#[test]
fn sleeping_user_does_not_slow_another_user() {
    let t = DemoTarget::start();
    let (r, csv) = run_script(
        "non_blocking_sleep",
        &t,
        &["-u", "2", "-r", "10", "-t", "3s"],
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    no_exceptions(&csv, &r);
    let (slept, _) = csv.count("GET", "/fast after sleep(1)");
    assert!(
        (1..=3).contains(&slept),
        "the sleeper slept 1 s per task: {slept} tasks in 3 s"
    );
    // Every 0.1 s for 3 s: about 30. Had the sleeper blocked the busy user too: about 3.
    let (busy, fails) = csv.count("GET", "/fast");
    assert!(
        busy >= 12 && fails == 0,
        "the busy user made only {busy} requests ({fails} failures)"
    );
}

#[test]
fn async_polling_reports_the_whole_wait_as_one_sample() {
    let t = DemoTarget::start();
    let start = Instant::now();
    // Things stay PENDING for 3 s: jobs started in the first 4 s are done before the stop.
    let (r, csv) = run_script("async_polling", &t, &["-u", "3", "-r", "10", "-t", "8s"]);
    let took = start.elapsed();
    assert!(
        r.code == 0 || r.code == 1,
        "exit 1 only for ERROR things\nstderr:\n{}",
        r.stderr
    );
    no_exceptions(&csv, &r);
    let (n, fails) = csv.count("POST", "/things/[id] - async");
    assert!(
        n >= 3 && n > fails,
        "async row: {n} samples, {fails} failures; successes expected"
    );
    let failures = csv.failures();
    assert!(
        failures
            .iter()
            .all(|(_, name, error, _)| name == "/things/[id] - async"
                && error == "Failed - saw ERROR status"),
        "only ERROR things fail: {failures:?}"
    );
    assert_eq!(r.code == 1, fails > 0, "exit code and failures agree");
    // Each async sample waited for the PENDING time (3 s): the row's times are the whole waits.
    let rows = csv.stats();
    let row = stats_row(&rows, "POST", "/things/[id] - async").unwrap();
    let min: f64 = row["Min Response Time"].parse().unwrap();
    assert!(min >= 2900.0, "an async sample took only {min} ms");
    // The polls are grouped in one row; the tasks kept their pace (1 per second per user).
    let gets: Vec<_> = csv
        .counts()
        .into_keys()
        .filter(|(m, _)| m == "GET")
        .collect();
    assert_eq!(
        gets,
        [("GET".to_string(), "/things/[id]".to_string())],
        "polls in one row"
    );
    let (posts, _) = csv.count("POST", "/things");
    assert!(
        posts >= 15,
        "3 users x 1 task/s for 8 s: only {posts} things created"
    );
    // Jobs polling for up to 600 s do not keep the process alive after the stop.
    assert!(
        took < Duration::from_secs(25),
        "the run took {took:?} for -t 8s"
    );
}
