//! Basic runs end to end: request counts in `_stats.csv` agree with what the target saw; `name`
//! groups dynamic URLs into one row and the default name is path + query; the Aggregated row is last,
//! has an empty Type and sums the rows; exit codes 0 / 1 / `--exit-code-on-error`; `--list` and
//! `--check` (which send nothing); options from the environment and from `rustlocust.toml` (and
//! their precedence); the positional user class filter; `--json` on stdout; `-T` / `-E` tags.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, csv, run, scenario, stats_row, Run, Target};

const LIMIT: Duration = Duration::from_secs(40);

/// `rustlocust <scenario> --headless --csv <dir>/run <args>`; returns the run and the CSV prefix.
fn run_csv(scenario_path: &Path, args: &[&str]) -> (Run, std::path::PathBuf) {
    let prefix = scenario_path.parent().unwrap().join("run");
    let mut cmd = bin();
    cmd.arg(scenario_path)
        .arg("--headless")
        .arg("--csv")
        .arg(&prefix)
        .args(args);
    (run(cmd, LIMIT), prefix)
}

fn stats(prefix: &Path) -> Vec<Vec<String>> {
    csv(prefix, "stats")
}

fn num(row: &HashMap<String, String>, col: &str) -> u64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col} in {row:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("column {col} of {row:?}: {e}"))
}

/// `reported <= seen <= reported + in_flight`: the tool records a request only once its response
/// arrived, and at stop at most one request per user can be in flight (seen but not reported).
fn assert_counts(what: &str, reported: u64, seen: u64, in_flight: u64) {
    assert!(
        reported <= seen && seen <= reported + in_flight,
        "{what}: reported {reported}, target saw {seen} (at most {in_flight} may be in flight)"
    );
}

#[test]
fn stats_counts_match_target_and_aggregated_row_sums() {
    let t = Target::start();
    let s = scenario(&format!(
        r#"user("U", #{{
    host: "{}",
    wait_time: constant(0.005),
    tasks: [task("a", 2), task("b", 1)],
}});
fn a() {{ this.client.get("/a"); }}
fn b() {{
    this.client.get("/b");
    this.client.post("/status/404");
}}
"#,
        t.url()
    ));
    let (r, prefix) = run_csv(&s.path, &["-u", "3", "-r", "50", "-t", "3s"]);
    // A 404 failed: exit code 1.
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    let rows = stats(&prefix);
    let a = stats_row(&rows, "GET", "/a").expect("row GET /a");
    let b = stats_row(&rows, "GET", "/b").expect("row GET /b");
    let f = stats_row(&rows, "POST", "/status/404").expect("row POST /status/404");
    let (na, nb, nf) = (
        num(&a, "Request Count"),
        num(&b, "Request Count"),
        num(&f, "Request Count"),
    );
    assert!(na >= 100 && nb >= 50, "too few requests: /a {na}, /b {nb}");
    assert_counts("/a", na, t.seen.count("/a"), 3);
    assert_counts("/b", nb, t.seen.count("/b"), 3);
    assert_counts("/status/404", nf, t.seen.count("/status/404"), 3);
    assert_eq!(num(&a, "Failure Count"), 0);
    assert_eq!(num(&b, "Failure Count"), 0);
    assert_eq!(num(&f, "Failure Count"), nf, "every 404 is a failure");

    // Header, three rows, then Aggregated last with an empty Type and the sums.
    assert_eq!(rows.len(), 5, "rows: {rows:?}");
    let header = &rows[0];
    assert_eq!(
        &header[..4],
        ["Type", "Name", "Request Count", "Failure Count"]
    );
    let last = rows.last().unwrap();
    assert_eq!(last[0], "", "Aggregated row has an empty Type: {last:?}");
    assert_eq!(last[1], "Aggregated");
    let agg = stats_row(&rows, "", "Aggregated").unwrap();
    assert_eq!(num(&agg, "Request Count"), na + nb + nf);
    assert_eq!(num(&agg, "Failure Count"), nf);
    // The target saw nothing the report does not know about (beyond in-flight requests).
    assert_counts("all", na + nb + nf, t.seen.total(), 3);
}

#[test]
fn name_groups_dynamic_urls_and_default_name_is_path_and_query() {
    let t = Target::start();
    let s = scenario(&format!(
        r#"user("U", #{{
    host: "{}",
    wait_time: constant(0.005),
    tasks: ["item"],
}});
fn item() {{
    let id = random_int(1, 1000000);
    this.client.get(`/items/${{id}}`, #{{ name: "/items/[id]" }});
    this.client.get("/search?q=rust&page=2");
}}
"#,
        t.url()
    ));
    let (r, prefix) = run_csv(&s.path, &["-u", "2", "-r", "50", "-t", "2s"]);
    assert_eq!(
        r.code, 0,
        "all requests succeeded: exit 0\nstderr:\n{}",
        r.stderr
    );
    let rows = stats(&prefix);
    let item_rows: Vec<_> = rows
        .iter()
        .skip(1)
        .filter(|r| r[1].starts_with("/items"))
        .collect();
    assert_eq!(item_rows.len(), 1, "one row for all ids: {item_rows:?}");
    assert_eq!(item_rows[0][1], "/items/[id]");
    let items = num(
        &stats_row(&rows, "GET", "/items/[id]").unwrap(),
        "Request Count",
    );
    let by_path = t.seen.by_path.lock().clone();
    let distinct_ids = by_path.keys().filter(|p| p.starts_with("/items/")).count() as u64;
    let seen_items: u64 = by_path
        .iter()
        .filter(|(p, _)| p.starts_with("/items/"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        distinct_ids >= 50,
        "the target saw only {distinct_ids} distinct item URLs"
    );
    assert_counts("/items/[id]", items, seen_items, 2);
    // Without `name`, the row is the path with its query.
    let search =
        stats_row(&rows, "GET", "/search?q=rust&page=2").expect("row named by path and query");
    assert_counts(
        "/search",
        num(&search, "Request Count"),
        t.seen.count("/search"),
        2,
    );
    assert_eq!(rows.len(), 4, "header, 2 rows, Aggregated: {rows:?}");
}

fn exit_code_scenario(host: &str, path: &str) -> common::Scenario {
    scenario(&format!(
        r#"user("U", #{{
    host: "{host}",
    wait_time: constant(0.05),
    tasks: ["t"],
}});
fn t() {{ this.client.get("{path}"); }}
"#
    ))
}

#[test]
fn exit_code_zero_when_all_good() {
    let t = Target::start();
    let s = exit_code_scenario(&t.url(), "/fine");
    let (r, prefix) = run_csv(&s.path, &["-u", "1", "-t", "1s"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(t.seen.count("/fine") >= 5);
    let failures = csv(&prefix, "failures");
    assert_eq!(failures.len(), 1, "only the header: {failures:?}");
}

#[test]
fn exit_code_one_when_a_request_failed() {
    let t = Target::start();
    let s = exit_code_scenario(&t.url(), "/status/500");
    let (r, prefix) = run_csv(&s.path, &["-u", "1", "-t", "1s"]);
    assert_eq!(r.code, 1, "stderr:\n{}", r.stderr);
    assert!(t.seen.count("/status/500") >= 5);
    let row = stats_row(&stats(&prefix), "GET", "/status/500").unwrap();
    assert!(num(&row, "Failure Count") >= 5);
}

#[test]
fn exit_code_on_error_option() {
    let t = Target::start();
    let s = exit_code_scenario(&t.url(), "/status/500");
    let (r, _) = run_csv(
        &s.path,
        &["-u", "1", "-t", "1s", "--exit-code-on-error", "3"],
    );
    assert_eq!(r.code, 3, "stderr:\n{}", r.stderr);
    assert!(t.seen.count("/status/500") >= 5);
    // And it does not apply to a clean run.
    let good = exit_code_scenario(&t.url(), "/fine");
    let (r, _) = run_csv(
        &good.path,
        &["-u", "1", "-t", "1s", "--exit-code-on-error", "3"],
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
}

fn two_class_scenario(host: &str) -> common::Scenario {
    scenario(&format!(
        r#"user("Shopper", #{{
    host: "{host}",
    weight: 3,
    wait_time: constant(0.01),
    tasks: [task("browse", 3), task("buy", 1, ["checkout"])],
}});
user("Admin", #{{
    host: "{host}",
    weight: 1,
    wait_time: constant(0.01),
    tasks: #{{ report: 1, audit: 1 }},
}});
fn browse() {{ this.client.get("/browse"); }}
fn buy() {{ this.client.get("/buy"); }}
fn report() {{ this.client.get("/report"); }}
fn audit() {{ this.client.get("/audit"); }}
"#
    ))
}

#[test]
fn list_prints_classes_tasks_weights_and_ratios() {
    let t = Target::start();
    let s = two_class_scenario(&t.url());
    let mut cmd = bin();
    cmd.arg("--list").arg(&s.path);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let out = r.all();
    let line = |needle: &str| -> String {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(needle))
            .unwrap_or_else(|| panic!("no line for {needle} in:\n{out}"))
            .to_string()
    };
    let shopper = line("Shopper");
    assert!(
        shopper.contains('3') && shopper.contains("75.0%"),
        "{shopper}"
    );
    let admin = line("Admin");
    assert!(admin.contains("25.0%"), "{admin}");
    let browse = line("browse");
    assert!(browse.contains('3') && browse.contains("75.0%"), "{browse}");
    let buy = line("buy");
    assert!(buy.contains("25.0%") && buy.contains("checkout"), "{buy}");
    assert!(line("report").contains("50.0%"));
    assert!(line("audit").contains("50.0%"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(t.seen.total(), 0, "--list sends nothing");
}

#[test]
fn check_validates_without_sending_requests() {
    let t = Target::start();
    let s = two_class_scenario(&t.url());
    let mut cmd = bin();
    cmd.arg("--check").arg(&s.path).args(["-u", "5", "-r", "5"]);
    let start = Instant::now();
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(
        r.all().contains("Shopper") && r.all().contains("Admin"),
        "{}",
        r.all()
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "--check should not run a test"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(t.seen.total(), 0, "--check sends nothing");

    // And --check does fail on a broken scenario (exit 2).
    let broken = scenario("user(\"U\", #{ host: \"http://127.0.0.1:1\", tasks: [\"nope\"] });\n");
    let mut cmd = bin();
    cmd.arg("--check").arg(&broken.path);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 2, "stderr:\n{}", r.stderr);
}

/// A scenario whose users each register a distinct id at the target in `on_start`.
fn counting_users(host: Option<&str>) -> common::Scenario {
    let host = host.map(|h| format!("host: \"{h}\",")).unwrap_or_default();
    scenario(&format!(
        r#"user("U", #{{
    {host}
    wait_time: constant(0.05),
    on_start: "hello",
    tasks: ["t"],
}});
fn hello() {{ this.client.get(`/user/${{uuid()}}`); }}
fn t() {{ this.client.get("/t"); }}
"#
    ))
}

fn users_seen(t: &Target) -> usize {
    t.seen.distinct_users.lock().len()
}

#[test]
fn options_from_environment() {
    let t = Target::start();
    let s = counting_users(Some(&t.url()));
    let mut cmd = bin();
    cmd.arg(&s.path)
        .args(["--headless", "-r", "50"])
        .env("RUSTLOCUST_USERS", "3")
        .env("RUSTLOCUST_RUN_TIME", "2s");
    let start = Instant::now();
    let r = run(cmd, LIMIT);
    let took = start.elapsed();
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert_eq!(users_seen(&t), 3, "RUSTLOCUST_USERS=3");
    assert!(
        took >= Duration::from_millis(1800),
        "RUSTLOCUST_RUN_TIME=2s, but the run took {took:?}"
    );
    assert!(
        took < Duration::from_secs(20),
        "RUSTLOCUST_RUN_TIME=2s, but the run took {took:?}"
    );
    assert!(t.seen.count("/t") >= 10);
}

#[test]
fn options_from_rustlocust_toml_in_working_dir() {
    let t = Target::start();
    let s = counting_users(None);
    std::fs::write(
        s.dir.path().join("rustlocust.toml"),
        format!(
            "users = 2\nspawn-rate = 50\nrun-time = \"2s\"\nhost = \"{}\"\n",
            t.url()
        ),
    )
    .unwrap();
    let mut cmd = bin();
    cmd.current_dir(s.dir.path())
        .args(["scenario.rhai", "--headless"]);
    let start = Instant::now();
    let r = run(cmd, LIMIT);
    let took = start.elapsed();
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert_eq!(users_seen(&t), 2, "users = 2 from rustlocust.toml");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(20),
        "run took {took:?}"
    );
    assert!(t.seen.count("/t") >= 10, "host from rustlocust.toml");
}

#[test]
fn command_line_beats_environment_beats_file() {
    let t = Target::start();
    let s = counting_users(Some(&t.url()));
    std::fs::write(
        s.dir.path().join("rustlocust.toml"),
        "users = 6\nspawn-rate = 50\nrun-time = \"1s\"\n",
    )
    .unwrap();
    let cmd = |cli_users: Option<&str>| -> Command {
        let mut c = bin();
        c.current_dir(s.dir.path())
            .args(["scenario.rhai", "--headless"])
            .env("RUSTLOCUST_USERS", "4");
        if let Some(u) = cli_users {
            c.args(["-u", u]);
        }
        c
    };
    let r = run(cmd(None), LIMIT);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert_eq!(users_seen(&t), 4, "the environment wins over the file");
    t.seen.distinct_users.lock().clear();
    let r = run(cmd(Some("3")), LIMIT);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert_eq!(
        users_seen(&t),
        3,
        "the command line wins over the environment"
    );
}

#[test]
fn positional_user_class_runs_only_that_class() {
    let t = Target::start();
    let s = two_class_scenario(&t.url());
    let (r, prefix) = run_csv(&s.path, &["Admin", "-u", "4", "-r", "50", "-t", "2s"]);
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(t.seen.count("/report") >= 20 && t.seen.count("/audit") >= 20);
    assert_eq!(
        t.seen.count("/browse") + t.seen.count("/buy"),
        0,
        "Shopper must not run"
    );
    let rows = stats(&prefix);
    let names: Vec<&str> = rows.iter().skip(1).map(|r| r[1].as_str()).collect();
    assert_eq!(names, ["/audit", "/report", "Aggregated"], "rows: {rows:?}");
}

#[test]
fn json_prints_locust_stats_list_on_stdout() {
    let t = Target::start();
    let s = scenario(&format!(
        r#"user("U", #{{
    host: "{}",
    wait_time: constant(0.01),
    tasks: ["t"],
}});
fn t() {{
    this.client.get("/j");
    this.client.get("/status/418", #{{ name: "teapot" }});
}}
"#,
        t.url()
    ));
    let mut cmd = bin();
    cmd.arg(&s.path)
        .args(["--headless", "--json", "-u", "2", "-r", "50", "-t", "2s"]);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 1, "the 418s failed\nstderr:\n{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", r.stdout));
    let list = v.as_array().expect("a JSON list");
    let entry = |name: &str| {
        list.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no entry {name} in {v}"))
            .clone()
    };
    let j = entry("/j");
    assert_eq!(j["method"], "GET");
    let nj = j["num_requests"]
        .as_u64()
        .expect("num_requests is a number");
    assert!(nj >= 20, "{j}");
    assert_counts("/j", nj, t.seen.count("/j"), 2);
    assert_eq!(j["num_failures"].as_u64(), Some(0));
    let teapot = entry("teapot");
    let nt = teapot["num_requests"].as_u64().unwrap();
    assert_counts("teapot", nt, t.seen.count("/status/418"), 2);
    assert_eq!(teapot["num_failures"].as_u64(), Some(nt));
}

fn tagged_scenario(host: &str) -> common::Scenario {
    scenario(&format!(
        r#"user("U", #{{
    host: "{host}",
    wait_time: constant(0.01),
    tasks: [task("t1", 1, ["x"]), task("t2", 1, ["y"]), "t3"],
}});
fn t1() {{ this.client.get("/t1"); }}
fn t2() {{ this.client.get("/t2"); }}
fn t3() {{ this.client.get("/t3"); }}
"#
    ))
}

fn run_tags(args: &[&str]) -> [u64; 3] {
    let t = Target::start();
    let s = tagged_scenario(&t.url());
    let (r, _) = run_csv(
        &s.path,
        &[&["-u", "2", "-r", "50", "-t", "2s"], args].concat(),
    );
    assert_eq!(r.code, 0, "{args:?}: stderr:\n{}", r.stderr);
    [
        t.seen.count("/t1"),
        t.seen.count("/t2"),
        t.seen.count("/t3"),
    ]
}

#[test]
fn tags_select_tasks() {
    let [t1, t2, t3] = run_tags(&["-T", "x"]);
    assert!(
        t1 >= 20 && t2 == 0 && t3 == 0,
        "-T x: /t1 {t1}, /t2 {t2}, /t3 {t3}"
    );
}

#[test]
fn several_tags_select_tasks() {
    let [t1, t2, t3] = run_tags(&["-T", "x,y"]);
    assert!(
        t1 >= 10 && t2 >= 10 && t3 == 0,
        "-T x,y: /t1 {t1}, /t2 {t2}, /t3 {t3}"
    );
}

#[test]
fn exclude_tags_skip_tasks() {
    let [t1, t2, t3] = run_tags(&["-E", "x"]);
    assert!(
        t1 == 0 && t2 >= 10 && t3 >= 10,
        "-E x: /t1 {t1}, /t2 {t2}, /t3 {t3}"
    );
}
