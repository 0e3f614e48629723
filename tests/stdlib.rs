//! The shipped standard library (`poll`, `feeder`, `auth`, `checks`), run through the real binary
//! against the in-process target: a poll is one sample (success, the check's failure text, or a
//! timeout named as such, within its bounds, and it just ends when the test stops); feeders hand
//! out CSV/JSON rows in cycle, unique (never twice, across threads) and random order and refuse
//! files outside the scenario's folder, missing files and malformed ones with file, row and
//! column; `auth` logs in with a bearer token or a cookie; `checks` mark requests failed with
//! readable reasons, and say so when the request was not made with `catch_response`.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{bin, csv, num, run, scenario, stats_row, Run, Scenario, Target};

const LIMIT: Duration = Duration::from_secs(60);

/// Write `files` (name, content) beside the scenario, then run it headless for `secs` seconds.
fn run_with(
    s: &Scenario,
    files: &[(&str, &str)],
    users: u32,
    secs: u32,
    extra: &[&str],
) -> (Run, PathBuf) {
    for (name, content) in files {
        let p = s.dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let prefix = s.dir.path().join("run");
    let mut cmd = bin();
    cmd.arg(&s.path)
        .args([
            "--headless",
            "-u",
            &users.to_string(),
            "-r",
            "100",
            "-t",
            &format!("{secs}s"),
            "--csv",
        ])
        .arg(&prefix)
        .args(extra);
    (run(cmd, LIMIT), prefix)
}

/// A scenario with one class `U` running task `t` (plus `on_start: "login"` when `login` is true).
fn user_scenario(t: &Target, wait: f64, login: bool, body: &str) -> Scenario {
    let on_start = if login { r#"on_start: "login","# } else { "" };
    scenario(&format!(
        "user(\"U\", #{{ host: \"{}\", wait_time: constant({wait}), {on_start} tasks: [\"t\"] }});\n{body}\n",
        t.url()
    ))
}

/// (Request Count, Failure Count, the whole row) of a `_stats.csv` row.
fn stat(prefix: &Path, kind: &str, name: &str) -> (u64, u64, HashMap<String, String>) {
    let rows = csv(prefix, "stats");
    let row =
        stats_row(&rows, kind, name).unwrap_or_else(|| panic!("no row {kind} {name}: {rows:?}"));
    (
        num(&row, "Request Count") as u64,
        num(&row, "Failure Count") as u64,
        row,
    )
}

/// `_failures.csv` rows without the header: [Method, Name, Error, Occurrences, ...].
fn failures(prefix: &Path) -> Vec<Vec<String>> {
    let rows = csv(prefix, "failures");
    assert_eq!(rows[0][..4], ["Method", "Name", "Error", "Occurrences"]);
    rows[1..].to_vec()
}

/// `_exceptions.csv` messages.
fn exceptions(prefix: &Path) -> Vec<String> {
    csv(prefix, "exceptions")[1..]
        .iter()
        .map(|r| r[1].clone())
        .collect()
}

/// The path suffixes the target saw under `/feed/`, in arrival order.
fn fed(t: &Target) -> Vec<String> {
    t.seen
        .log_snapshot()
        .into_iter()
        .filter_map(|p| p.strip_prefix("/feed/").map(str::to_string))
        .collect()
}

// ---- poll ----

#[test]
fn poll_url_waits_until_ready_and_reports_one_success() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.02,
        false,
        r#"fn t() {
    let key = uuid();
    let ok = poll::url(this.client, `/counter/${key}`, |r| parse_int(r.text) >= 3,
        #{ every: 0.05, timeout: 20, name: "job ready", request: #{ name: "/counter/[key]" } });
    if !ok { throw "the poll failed"; }
    this.client.get("/after");
}"#,
    );
    let (r, prefix) = run_with(&s, &[], 2, 2, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (n, f, row) = stat(&prefix, "POLL", "job ready");
    assert_eq!(f, 0);
    assert!(n >= 3, "only {n} polls");
    // Three GETs per poll (the third sees 3), each a normal request; the last poll may be cut short.
    let (gets, gf, _) = stat(&prefix, "GET", "/counter/[key]");
    assert_eq!(gf, 0);
    assert!(
        gets >= 3 * n && gets <= 3 * n + 4,
        "{gets} GETs for {n} polls"
    );
    let after = t.seen.count("/after");
    assert!(after <= n && after + 2 >= n, "{after} /after for {n} polls");
    // Two waits of 50 ms between the three checks.
    assert!(num(&row, "Min Response Time") >= 95.0, "{row:?}");
}

#[test]
fn poll_wait_reports_the_checks_failure_text() {
    let t = Target::start();
    // `import` works as well as the built-in `poll::` name; closures reach the client with client().
    let s = user_scenario(
        &t,
        0.02,
        false,
        r#"import "poll" as p;
fn t() {
    let key = uuid();
    p::wait("job done", || {
        let n = parse_int(client().get(`/counter/${key}`, #{ name: "/counter/[key]" }).text);
        if n >= 2 { "job failed: state ERROR" } else { false }
    }, #{ every: 0.02, timeout: 20, request_type: "JOB" });
}"#,
    );
    let (r, prefix) = run_with(&s, &[], 2, 2, &[]);
    assert_eq!(r.code, 1, "a failed poll is a failure\n{}", r.all());
    let (n, f, _) = stat(&prefix, "JOB", "job done");
    assert!(n >= 3 && f == n, "{f} failures of {n}");
    let fails = failures(&prefix);
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert_eq!(
        fails[0][..3],
        ["JOB", "job done", "job failed: state ERROR"]
    );
    assert_eq!(fails[0][3].parse::<u64>().unwrap(), n);
}

#[test]
fn poll_timeout_is_one_failure_naming_the_timeout_within_bounds() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.0,
        false,
        r#"fn t() {
    poll::wait("never", || { client().get("/tick"); false }, #{ every: 0.1, timeout: 0.5 });
    this.client.get("/after-poll");
}"#,
    );
    let (r, prefix) = run_with(&s, &[], 1, 3, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    let (n, f, row) = stat(&prefix, "POLL", "never");
    assert!(n >= 2 && f == n, "{f} failures of {n}");
    // Reported once per wait: one sample per completed task.
    let after = t.seen.count("/after-poll");
    assert!(
        after == n || after + 1 == n,
        "{after} tasks finished, {n} samples"
    );
    // About six checks per wait (now, then every 0.1 s up to 0.5 s), never many more.
    let ticks = t.seen.count("/tick");
    assert!(
        ticks >= 3 * n && ticks <= 8 * (n + 1),
        "{ticks} checks for {n} waits"
    );
    let (min, max) = (
        num(&row, "Min Response Time"),
        num(&row, "Max Response Time"),
    );
    assert!(min >= 495.0 && max <= 1500.0, "waits took {min}..{max} ms");
    let fails = failures(&prefix);
    assert_eq!(fails.len(), 1, "{fails:?}");
    assert_eq!(fails[0][..3], ["POLL", "never", "timed out after 0.5 s"]);
}

#[test]
fn poll_ends_when_the_test_stops() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.0,
        false,
        r#"fn t() { poll::wait("forever", || false, #{ every: 0.2, timeout: 600 }); }"#,
    );
    let started = Instant::now();
    let (r, prefix) = run_with(&s, &[], 2, 1, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(r.code, 0, "a cancelled poll is not a failure\n{}", r.all());
    assert!(
        stats_row(&csv(&prefix, "stats"), "POLL", "forever").is_none(),
        "nothing reported"
    );
}

#[test]
fn poll_options_are_checked() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.05,
        false,
        r#"fn t() { poll::wait("x", || true, #{ evry: 1 }); }"#,
    );
    let (r, prefix) = run_with(&s, &[], 1, 1, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    let ex = exceptions(&prefix);
    assert!(
        ex.iter().any(|m| m.contains("poll: unknown option 'evry'")),
        "{ex:?}"
    );
}

// ---- feeder ----

const USERS_CSV: &str = "name,password,note\r\nann,a1,\"hello, world\"\r\nbob,b2,\"say \"\"hi\"\"\"\r\ncy,c3,\"two\nlines\"\r\n";

#[test]
fn feeder_cycle_hands_out_rows_in_order() {
    let t = Target::start();
    // The note's length shows the quoted fields were read whole: 12, 8 and 9 characters.
    let s = user_scenario(
        &t,
        0.01,
        false,
        r#"const USERS = feeder::csv("users.csv", "cycle");
fn t() {
    let row = global::USERS.next();
    this.client.get(`/feed/${row.name}-${row.note.len()}`, #{ name: "/feed" });
}"#,
    );
    let (r, _) = run_with(&s, &[("users.csv", USERS_CSV)], 1, 1, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let seen = fed(&t);
    assert!(seen.len() >= 7, "{seen:?}");
    let want = ["ann-12", "bob-8", "cy-9"];
    for (i, v) in seen.iter().enumerate() {
        assert_eq!(v, want[i % 3], "request {i}: {seen:?}");
    }
}

#[test]
fn feeder_cycle_is_shared_by_users_on_all_threads() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.01,
        false,
        r#"fn t() {
    // Asking again for the same file and mode gives the same feeder (loaded once).
    let row = feeder::csv("users.csv", "cycle").next();
    this.client.get(`/feed/${row.name}`, #{ name: "/feed" });
}"#,
    );
    let (r, _) = run_with(&s, &[("users.csv", USERS_CSV)], 4, 2, &["--threads", "2"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let mut counts: HashMap<String, i64> = HashMap::new();
    for v in fed(&t) {
        *counts.entry(v).or_default() += 1;
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    let (lo, hi) = (
        *counts.values().min().unwrap(),
        *counts.values().max().unwrap(),
    );
    // Round robin: equal shares, give or take the rows taken by requests cut at the stop.
    assert!(lo >= 10 && hi - lo <= 5, "{counts:?}");
}

#[test]
fn feeder_unique_never_repeats_across_threads_then_says_it_is_exhausted() {
    let t = Target::start();
    let mut ids = String::from("id\n");
    for i in 1..=60 {
        ids.push_str(&format!("{i}\n"));
    }
    let s = user_scenario(
        &t,
        0.01,
        false,
        r#"const IDS = feeder::csv("ids.csv", "unique");
fn t() {
    let row = global::IDS.next();
    this.client.get(`/feed/${row.id}`, #{ name: "/feed" });
}"#,
    );
    let (r, prefix) = run_with(&s, &[("ids.csv", &ids)], 4, 3, &["--threads", "2"]);
    assert_eq!(r.code, 1, "running out of rows is an error\n{}", r.all());
    let seen = fed(&t);
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        distinct.len(),
        seen.len(),
        "a row was handed out twice: {seen:?}"
    );
    // Every row was used (a request cut at the stop may be missing).
    assert!(
        seen.len() >= 56 && seen.len() <= 60,
        "{} rows used",
        seen.len()
    );
    let ex = exceptions(&prefix);
    assert!(
        ex.iter()
            .any(|m| m.contains("feeder 'ids.csv' (unique): all 60 rows have been used")),
        "{ex:?}"
    );
}

#[test]
fn feeder_random_from_json_in_a_subfolder() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.01,
        false,
        r#"fn t() {
    let row = feeder::json("data/values.json", "random").next();
    this.client.get(`/feed/${row.v}-${row.n}`, #{ name: "/feed" });
}"#,
    );
    let json = r#"[{"v": "x", "n": 1}, {"v": "y", "n": 2}, {"v": "z", "n": 3}]"#;
    let (r, _) = run_with(&s, &[("data/values.json", json)], 2, 2, &["--seed", "7"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let seen = fed(&t);
    assert!(seen.len() >= 20, "{seen:?}");
    let valid = ["x-1", "y-2", "z-3"];
    assert!(seen.iter().all(|v| valid.contains(&v.as_str())), "{seen:?}");
    let distinct: HashSet<&String> = seen.iter().collect();
    assert!(distinct.len() >= 2, "random picked only {distinct:?}");
    // Not round robin: some row comes twice in a row.
    assert!(seen.windows(2).any(|w| w[0] == w[1]), "{seen:?}");
}

#[test]
fn feeder_csv_takes_semicolons_tabs_and_a_byte_order_mark() {
    let t = Target::start();
    // Spreadsheet exports: a BOM and `;` (CRLF), tabs (LF); quoted fields hold separators and
    // line breaks. The path shows the fields were split right: name, then the note's length.
    let s = user_scenario(
        &t,
        0.01,
        false,
        r#"const SEMI = feeder::csv("semi.csv", "cycle");
const TABS = feeder::csv("tabs.tsv", "cycle");
fn t() {
    let a = global::SEMI.next();
    let b = global::TABS.next();
    this.client.get(`/feed/${a.name}-${a.note.len()}-${b.name}-${b.note.len()}`, #{ name: "/feed" });
}"#,
    );
    let semi = "\u{feff}name;note\r\nann;\"a;b\"\r\nbob;\"x\r\ny;z\"\r\n";
    let tabs = "name\tnote\ncy\t\"1\t2\n3\"\ndee\tplain\n";
    let (r, _) = run_with(&s, &[("semi.csv", semi), ("tabs.tsv", tabs)], 1, 1, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let seen = fed(&t);
    assert!(seen.len() >= 4, "{seen:?}");
    let want = ["ann-3-cy-5", "bob-6-dee-5"];
    for (i, v) in seen.iter().enumerate() {
        assert_eq!(v, want[i % 2], "request {i}: {seen:?}");
    }
}

/// (the feeder call, files beside the scenario, texts the error must contain)
type BadFile<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn feeder_refuses_bad_files_with_clear_errors() {
    let cases: [BadFile; 10] = [
        (r#"feeder::csv("/etc/passwd")"#, &[], &["absolute path"]),
        (
            r#"feeder::csv("../outside.csv")"#,
            &[],
            &["leaves the scenario's folder"],
        ),
        (
            r#"feeder::csv("data/../../outside.csv")"#,
            &[],
            &["leaves the scenario's folder"],
        ),
        (
            r#"feeder::csv("missing.csv")"#,
            &[],
            &["file not found", "missing.csv"],
        ),
        (
            r#"feeder::csv("bad.csv", "unique")"#,
            &[("bad.csv", "name,pw\nann,1\nbob\n")],
            &[
                "bad.csv: row 2 (line 3), column 2",
                "column 2 ('pw') is missing",
            ],
        ),
        (
            r#"feeder::csv("semi.csv")"#,
            &[("semi.csv", "\u{feff}a;b\r\n1;2\r\n\r\n3;4;5\r\n")],
            &[
                "semi.csv: row 2 (line 4), column 3",
                "the row has 3 field(s) but the header has 2: column 3 has no header",
            ],
        ),
        (
            r#"feeder::csv("open.csv")"#,
            &[("open.csv", "a,b\n1,\"never\n2,3\n")],
            &["open.csv: line 2, column 2: this quoted field is never closed"],
        ),
        (
            r#"feeder::json("bad.json")"#,
            &[("bad.json", "[\n  {\"a\": 1},\n  {\"a\" 2}\n]\n")],
            &["bad.json: invalid JSON at line 3, column 8"],
        ),
        (
            r#"feeder::json("obj.json")"#,
            &[("obj.json", r#"{"a": 1}"#)],
            &["obj.json: expected a JSON array of objects, found an object"],
        ),
        (
            r#"feeder::csv("ok.csv", "shuffle")"#,
            &[("ok.csv", "a\n1\n")],
            &["unknown feeder mode 'shuffle'"],
        ),
    ];
    for (call, files, wants) in cases {
        let s = scenario(&format!(
            "const F = {call};\nuser(\"U\", #{{ host: \"http://127.0.0.1:9\", tasks: [\"t\"] }});\nfn t() {{ }}\n"
        ));
        let (r, _) = run_with(&s, files, 1, 1, &[]);
        assert_eq!(r.code, 2, "{call}: a load error\n{}", r.all());
        // The scenario's line and column, then the feeder's own message.
        assert!(
            r.stderr.contains("scenario.rhai:1:"),
            "{call}:\n{}",
            r.stderr
        );
        for want in wants {
            assert!(
                r.stderr.contains(want),
                "{call}: wanted {want:?} in:\n{}",
                r.stderr
            );
        }
    }
}

// ---- auth ----

#[test]
fn auth_bearer_sends_the_token_on_later_requests() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.02,
        true,
        r#"fn login() {
    let token = auth::bearer(this.client, "/login", #{ json: #{ username: "alice", password: "secret" } }, "data.token");
    if token != "tok-alice" { throw `token ${token}`; }
}
fn t() {
    // /whoami answers 401 (a failure) without the token, and echoes who the server saw.
    let r = this.client.get("/whoami");
    if r.text != "alice" { throw `the server saw ${r.status} ${r.text}`; }
}"#,
    );
    let (r, prefix) = run_with(&s, &[], 2, 2, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.seen.count("/login"), 2, "one login per user");
    let (n, f, _) = stat(&prefix, "GET", "/whoami");
    assert!(n >= 10 && f == 0, "{f} failures of {n}");
}

#[test]
fn auth_form_login_keeps_the_cookie_and_logout_forgets_it() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.02,
        true,
        r#"fn login() {
    auth::form_login(this.client, "/login", #{ username: "bob", password: "secret" }, "sid");
}
fn t() {
    let r = this.client.get("/whoami", #{ name: "in" });
    if r.text != "bob" { throw `logged in: the server saw ${r.status} ${r.text}`; }
    auth::logout(this.client);
    let r = this.client.get("/whoami", #{ name: "out", catch_response: true });
    if r.status == 401 { r.success() } else { r.failure(`still logged in as ${r.text}`) }
    auth::form_login(this.client, "/login", #{ username: "bob", password: "secret" }, "sid");
}"#,
    );
    let (r, prefix) = run_with(&s, &[], 1, 2, &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (n_in, f_in, _) = stat(&prefix, "GET", "in");
    let (n_out, f_out, _) = stat(&prefix, "GET", "out");
    assert!(
        n_in >= 5 && f_in == 0 && f_out == 0 && n_out + 1 >= n_in,
        "in {n_in}/{f_in}, out {n_out}/{f_out}"
    );
}

#[test]
fn auth_failures_say_why() {
    let t = Target::start();
    let s = scenario(&format!(
        r#"user("WrongPassword", #{{ host: "{url}", on_start: "bad_password", tasks: ["t"] }});
user("NoSuchField", #{{ host: "{url}", on_start: "bad_field", tasks: ["t"] }});
user("NoCookie", #{{ host: "{url}", on_start: "bad_cookie", tasks: ["t"] }});
fn bad_password() {{ auth::bearer(this.client, "/login", #{{ json: #{{ username: "a", password: "nope" }} }}); }}
fn bad_field() {{ auth::bearer(this.client, "/login", #{{ json: #{{ username: "a", password: "secret" }} }}, "data.access"); }}
fn bad_cookie() {{ auth::form_login(this.client, "/login", #{{ username: "a", password: "secret" }}, "session"); }}
fn t() {{ this.client.get("/task-ran"); }}
"#,
        url = t.url()
    ));
    let (r, prefix) = run_with(&s, &[], 3, 1, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(
        t.seen.count("/task-ran"),
        0,
        "a failed on_start stops the user"
    );
    let ex = exceptions(&prefix);
    let wants = [
        "auth::bearer: the login at /login failed with status 401: bad credentials",
        r#"auth::bearer: the login response from /login has no field 'data.access': {"data":{"token":"tok-a"}}"#,
        "auth::form_login: the login at /login did not set the cookie 'session' (status 200)",
    ];
    for want in wants {
        assert!(
            ex.iter().any(|m| m.contains(want)),
            "wanted {want:?} in {ex:?}"
        );
    }
}

// ---- checks ----

#[test]
fn checks_mark_failures_with_readable_reasons() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.02,
        false,
        r#"fn t() {
    let r = this.client.get("/status/503", #{ catch_response: true, name: "status" });
    checks::status(r, 200);
    let r = this.client.get("/json", #{ catch_response: true, name: "json" });
    if !checks::status(r, [200, 201]) || !checks::json(r, "n", 3) { throw "these checks hold"; }
    checks::json(r, "status", "ACTIVE");
    let r = this.client.get("/json", #{ catch_response: true, name: "header" });
    checks::header(r, "content-type", "text/html");
    let r = this.client.get("/plain", #{ catch_response: true, name: "contains" });
    checks::contains(r, "nope");
    let r = this.client.get("/json", #{ catch_response: true, name: "missing" });
    checks::json(r, "data.items[0].id", 7);
    let r = this.client.get("/json", #{ catch_response: true, name: "good" });
    let all = checks::status(r, 200) && checks::json(r, "status", "ERROR") && checks::json(r, "n")
        && checks::has_header(r, "content-type") && checks::header(r, "content-type", "application/json")
        && checks::contains(r, "ERROR");
    if !all { throw "the good checks failed"; }
}"#,
    );
    let (r, prefix) = run_with(&s, &[], 2, 2, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(exceptions(&prefix).is_empty(), "{:?}", exceptions(&prefix));
    let (n, f, _) = stat(&prefix, "GET", "good");
    assert!(n >= 5 && f == 0, "{f} failures of {n}");
    let mut got: Vec<(String, String)> = failures(&prefix)
        .into_iter()
        .map(|r| (r[1].clone(), r[2].clone()))
        .collect();
    got.sort();
    let want = [
        (
            "contains",
            r#"CatchResponseError('body does not contain "nope"')"#,
        ),
        (
            "header",
            r#"CatchResponseError('header content-type is "application/json", expected "text/html"')"#,
        ),
        (
            "json",
            r#"CatchResponseError('json status is "ERROR", expected "ACTIVE"')"#,
        ),
        (
            "missing",
            "CatchResponseError('json data.items[0].id is missing, expected 7')",
        ),
        ("status", "CatchResponseError('status 503, expected 200')"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn checks_without_catch_response_are_an_exception() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.02,
        false,
        r#"fn t() {
    let r = this.client.get("/status/500", #{ name: "plain" });
    checks::status(r, 200);
    this.client.get("/after");
}"#,
    );
    let (r, prefix) = run_with(&s, &[], 1, 1, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(t.seen.count("/after"), 0, "the task stops at the error");
    let ex = exceptions(&prefix);
    assert_eq!(ex.len(), 1, "{ex:?}");
    assert!(
        ex[0].contains("checks::status needs the request")
            && ex[0].contains("catch_response: true"),
        "{ex:?}"
    );
    // The request itself is still a plain HTTP failure.
    let fails = failures(&prefix);
    assert!(
        fails[0][2].starts_with("HTTPError('500 Server Error"),
        "{fails:?}"
    );
}

#[test]
fn a_passing_check_without_catch_response_is_an_exception_too() {
    let t = Target::start();
    let s = user_scenario(
        &t,
        0.02,
        false,
        r#"fn t() {
    let r = this.client.get("/ok", #{ name: "plain" });
    checks::status(r, 200);
    this.client.get("/after");
}"#,
    );
    let (r, prefix) = run_with(&s, &[], 1, 1, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(t.seen.count("/after"), 0, "the task stops at the error");
    let ex = exceptions(&prefix);
    assert!(
        ex.len() == 1 && ex[0].contains("checks::status needs the request"),
        "{ex:?}"
    );
}
