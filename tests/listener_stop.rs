//! The runner's own listeners obey the stop levels users do (issue 9, defect 2): a test_start,
//! test_stopping, test_stop or quitting listener that sleeps for an hour or loops forever is
//! cancelled once the test should stop and its grace (`--stop-timeout`) is over, or at once by a
//! second Ctrl-C/SIGTERM (or the first, while the test is stopping). The reports are still
//! written, the cut is an exception entry, and the exit code is `--exit-code-on-error`.
//!
//! Before the fix every case here hung until the test's own time limit killed the process.

mod common;

use std::time::{Duration, Instant};

use common::{bin, free_port, headless, http, scenario, spawn, wait_until, Scenario, Target};

const EVENTS: [&str; 4] = ["test_start", "test_stopping", "test_stop", "quitting"];
const BODIES: [&str; 2] = ["sleep(3600);", "let x = 0; loop { x += 1; }"];

fn hanging(event: &str, body: &str) -> Scenario {
    scenario(&format!(
        "on(\"{event}\", |e| {{ {body} }});\n\
         fn t() {{ this.client.get(\"/t\"); }}\n\
         user(\"U\", #{{ tasks: [t], wait_time: constant(0.1) }});\n"
    ))
}

/// Every event with both bodies, headless with `-t 1 -s 1`: each run ends within a few seconds
/// (the 1 s run, 1 s of grace, the reports), and says it was cut.
#[test]
fn a_hanging_listener_is_cut_after_the_stop_timeout() {
    let t = Target::start();
    let cases: Vec<_> = EVENTS
        .iter()
        .flat_map(|e| BODIES.iter().map(move |b| (*e, *b)))
        .map(|(e, b)| {
            let sc = hanging(e, b);
            let html = sc.dir.path().join("report.html");
            let mut c = headless(
                &sc,
                &t,
                &["-u", "1", "-r", "1", "-t", "1", "-s", "1", "--html"],
            );
            c.arg(&html);
            (e, b, sc, html, Instant::now(), spawn(c))
        })
        .collect();
    for (event, body, sc, html, started, p) in cases {
        let r = p.wait(Duration::from_secs(60));
        let took = started.elapsed();
        let what = format!("{event} {{ {body} }}");
        assert!(took < Duration::from_secs(30), "{what} took {took:?}");
        assert_eq!(r.code, 1, "{what}: exit code\n{}", r.all());
        let said = format!("listeners of event '{event}' cancelled");
        assert!(r.stderr.contains(&said), "{what}: {}", r.all());
        assert!(
            r.stdout.contains("Aggregated"),
            "{what}: no summary\n{}",
            r.all()
        );
        assert!(html.exists(), "{what}: no HTML report");
        let stats = sc.csv("stats");
        assert!(stats.len() >= 2, "{what}: {stats:?}");
        if event != "quitting" {
            // quitting runs after the reports: its cut is in the log and the exit code only.
            assert_eq!(sc.exceptions_with(&said).len(), 1, "{what}");
        }
    }
}

/// Without a run time: a first Ctrl-C starts the stop and test_stop hangs (a long grace), the
/// second cancels it at once; SIGTERM likewise. A hanging test_start is cut by its grace after
/// the first signal, and the buffered signal then stops the test.
#[test]
fn signals_cut_hanging_listeners() {
    let t = Target::start();
    for (event, body, sig) in [
        ("test_stop", BODIES[0], libc::SIGINT),
        ("test_stop", BODIES[1], libc::SIGTERM),
        ("test_start", BODIES[1], libc::SIGINT),
    ] {
        let what = format!("{event} {{ {body} }} with signal {sig}");
        let sc = hanging(event, body);
        let grace = if event == "test_start" { "1" } else { "600" };
        let p = spawn(headless(&sc, &t, &["-u", "1", "-r", "1", "-s", grace]));
        assert!(
            wait_until(Duration::from_secs(20), || event == "test_start"
                || t.seen.count("/t") > 0),
            "{what}: the test never ran"
        );
        std::thread::sleep(Duration::from_millis(300));
        p.signal(sig);
        if event == "test_stop" {
            // The first signal stopped the test; test_stop now hangs with 600 s of grace.
            std::thread::sleep(Duration::from_millis(1500));
            p.signal(sig);
        }
        let sent = Instant::now();
        let r = p.wait(Duration::from_secs(30));
        assert!(
            sent.elapsed() < Duration::from_secs(15),
            "{what}: {:?}",
            sent.elapsed()
        );
        assert_eq!(r.code, 1, "{what}\n{}", r.all());
        assert!(r.stderr.contains("cancelled"), "{what}\n{}", r.all());
        assert!(r.stdout.contains("Aggregated"), "{what}\n{}", r.all());
        assert!(sc.csv("stats").len() >= 2, "{what}");
    }
}

/// Web mode: POST /stop returns once a looping test_stop listener is cut (`-s 1`), the state is
/// "stopped", and the UI starts the next test.
#[test]
fn post_stop_returns_when_a_hanging_test_stop_is_cut() {
    let t = Target::start();
    let sc = hanging("test_stop", BODIES[1]);
    let port = free_port();
    let mut c = bin();
    c.arg(&sc.path)
        .args(["-H", &t.url(), "--web-port", &port.to_string(), "-s", "1"]);
    let p = spawn(c);
    assert!(wait_until(Duration::from_secs(15), || http(
        port, "GET", "/status", None
    )
    .is_some()));
    for round in 0..2 {
        let (code, body) =
            http(port, "POST", "/swarm", Some("user_count=1&spawn_rate=10")).unwrap();
        assert_eq!(code, 200, "round {round}: {body}");
        let before = t.seen.count("/t");
        assert!(wait_until(Duration::from_secs(10), || t.seen.count("/t") > before));
        let sent = Instant::now();
        let (code, _) = http(port, "POST", "/stop", None).expect("/stop answered");
        assert_eq!(code, 200);
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "round {round}: {:?}",
            sent.elapsed()
        );
        let (_, status) = http(port, "GET", "/status", None).unwrap();
        assert!(status.contains("\"stopped\""), "round {round}: {status}");
    }
    p.signal(libc::SIGTERM);
    let r = p.wait(Duration::from_secs(30));
    assert!(
        r.stderr
            .contains("listeners of event 'test_stop' cancelled"),
        "{}",
        r.all()
    );
}
