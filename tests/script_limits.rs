//! Scripts cannot crash or exhaust the process (issue 9, defects 1 and 4): data nested too deeply
//! and strings, arrays or maps grown without bound become exception entries at the operation that
//! builds them, and the run goes on to write its reports.
//!
//! Before the fix each deep-data case here killed the process with SIGSEGV (exit 139) on the
//! user's coroutine stack, and the doubling string grew to gigabytes past `-t`.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Builds data 3,000 levels deep (enough to overflow a 256 KiB coroutine stack in every
/// recursion below before the fix), then uses it.
const DEEP: &str = r#"
fn nested_arrays() { let a = []; for i in 0..3000 { a = [a]; } a }
fn nested_maps() { let m = #{}; for i in 0..3000 { m = #{ x: m }; } m }
fn formats() { let a = nested_arrays(); let s = `${a}`; }
fn clones() { let a = nested_arrays(); let b = a; b.push(1); }
fn compares() { let a = nested_arrays(); let c = a == a; }
fn to_json_text() { let m = nested_maps(); let s = m.to_json(); }
fn json_body() { client().post("/json", #{ json: nested_maps() }); }
fn drops() { let m = nested_maps(); }
fn in_on_start() { let a = nested_arrays(); let s = `${a}`; }
fn idle() { sleep(0.05); }
on("test_start", |e| { let m = nested_maps(); let s = m.to_json(); });
user("Format", #{ fixed_count: 1, tasks: [formats], wait_time: constant(0.2) });
user("Clone", #{ fixed_count: 1, tasks: [clones], wait_time: constant(0.2) });
user("Compare", #{ fixed_count: 1, tasks: [compares], wait_time: constant(0.2) });
user("ToJson", #{ fixed_count: 1, tasks: [to_json_text], wait_time: constant(0.2) });
user("JsonBody", #{ fixed_count: 1, tasks: [json_body], wait_time: constant(0.2) });
user("Drop", #{ fixed_count: 1, tasks: [drops], wait_time: constant(0.2) });
user("OnStart", #{ fixed_count: 1, on_start: in_on_start, tasks: [idle], wait_time: constant(0.2) });
"#;

#[test]
fn deep_data_is_an_exception_not_a_crash() {
    let t = Target::start();
    let sc = scenario(DEEP);
    let html = sc.dir.path().join("report.html");
    let mut c = headless(&sc, &t, &["-u", "7", "-r", "7", "-t", "2", "--html"]);
    c.arg(&html);
    let r = run(c, Duration::from_secs(60));
    assert_eq!(r.code, 1, "exit code (139: crashed)\n{}", r.all());
    assert!(r.stdout.contains("Aggregated"), "summary\n{}", r.all());
    assert!(html.exists(), "the HTML report was written");
    let rows = sc.exceptions_with("Nesting of arrays/maps (deeper than 64 levels)");
    let all: String = rows.iter().map(|r| format!("{}\n", r[1])).collect();
    // The line that built the value too deep (in a task, on_start or a listener).
    for place in ["scenario.rhai:2:", "scenario.rhai:3:"] {
        assert!(all.contains(place), "no exception names {place}:\n{all}");
    }
    assert!(all.contains("listener of event 'test_start'"), "{all}");
    // Every user kept running: each deep value was refused once per task run.
    let count: u64 = rows.iter().map(|r| r[0].parse::<u64>().unwrap()).sum();
    assert!(count >= 7, "{count} exceptions:\n{all}");
    // The request with the too-deep JSON body was never sent.
    assert_eq!(t.seen.count("/json"), 0);
}

/// The deepest data allowed, formatted, compared, serialised, cloned and dropped at the deepest
/// call level allowed: the coroutine stack is sized for this worst case.
#[test]
fn the_deepest_allowed_data_fits_the_stack_at_the_deepest_call() {
    let t = Target::start();
    let sc = scenario(
        r#"
fn deep() { let a = #{}; for i in 0..31 { a = #{ x: [a] }; } a }
fn use_it(n, a) {
    if n > 0 { return use_it(n - 1, a); }
    let s = `${a}`;
    let d = a.to_debug();
    let c = a == a;
    let j = a.to_json();
    let b = a;
    client().post("/deep", #{ json: b });
}
fn t() { use_it(28, deep()); }
user("U", #{ tasks: [t], wait_time: constant(0.2) });
"#,
    );
    let r = run(
        headless(&sc, &t, &["-u", "2", "-r", "2", "-t", "2"]),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(t.seen.count("/deep") >= 2, "{}", r.all());
}

/// `s += s` used to double in one operation each time, past the progress check: it now stops at
/// `--max-string-size` with the line, the run ends at -t, and memory stays bounded.
#[test]
fn a_doubling_string_is_an_exception_and_memory_stays_bounded() {
    let t = Target::start();
    let sc = scenario(
        "fn t() {\n    let s = \"ab\";\n    loop {\n        s += s;\n    }\n}\n\
         user(\"U\", #{ tasks: [t], wait_time: constant(0.1) });\n",
    );
    let started = Instant::now();
    let mut p = spawn(headless(&sc, &t, &["-u", "1", "-r", "1", "-t", "2"]));
    let status = format!("/proc/{}/status", p.pid());
    let mut peak_kib = 0u64;
    wait_until(Duration::from_secs(30), || {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kib) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        p.exited()
    });
    let r = p.wait(Duration::from_secs(5));
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(started.elapsed() < Duration::from_secs(20), "outlived -t");
    let rows = sc.exceptions_with("Length of string too large");
    assert!(!rows.is_empty(), "{:?}", sc.csv("exceptions"));
    assert!(
        rows[0][1].contains(":4:"),
        "names the line of s += s: {}",
        rows[0][1]
    );
    // 64 MiB strings, a copy or two: far below the gigabytes of before.
    assert!(peak_kib < 1024 * 1024, "peak RSS {peak_kib} KiB");
}

/// The limits are options: a smaller one bites sooner, and 0 (which would switch Rhai's checks,
/// and with them the depth check, off) is refused.
#[test]
fn size_limits_are_options() {
    let t = Target::start();
    let sc = scenario(
        "fn t() {\n    let a = [];\n    for i in 0..100 { a.push(i); }\n    let m = #{};\n    \
         for i in 0..40 { m = #{ a: m, b: i }; }\n    let s = \"\";\n    for i in 0..100 { s += \"x\"; }\n}\n\
         user(\"U\", #{ tasks: [t], wait_time: constant(0.2) });\n",
    );
    for (opt, needle) in [
        ("--max-array-size", "Size of array/BLOB too large"),
        ("--max-map-size", "Size of object map too large"),
        ("--max-string-size", "Length of string too large"),
    ] {
        let r = run(
            headless(&sc, &t, &["-u", "1", "-r", "1", "-t", "1", opt, "50"]),
            Duration::from_secs(30),
        );
        assert_eq!(r.code, 1, "{opt}: {}", r.all());
        assert!(
            !sc.exceptions_with(needle).is_empty(),
            "{opt}: {:?}",
            sc.csv("exceptions")
        );
        let r = run(
            cmd(&sc, &t, &["-u", "1", opt, "0"]),
            Duration::from_secs(30),
        );
        assert_eq!(r.code, 2, "{opt} 0: {}", r.all());
        assert!(
            r.stderr.contains("must be at least 1"),
            "{opt} 0: {}",
            r.all()
        );
    }
}
