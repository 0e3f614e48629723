//! What the process itself must survive (issue 9), each against the real binary: hostile response
//! bodies (endless chunked, a huge Content-Length) end as `BodyTooLarge` failures with bounded
//! memory, `keep_body` reads a large body without keeping it; names without bound are capped;
//! report paths are checked before the run and a lost report is a non-zero exit; a process out of
//! file descriptors keeps every history row.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bin, count_of, csv, run, scenario, spawn, stats_row, Target};

const LIMIT: Duration = Duration::from_secs(60);

/// A raw HTTP/1.1 server that answers by path: `/endless` a chunked body that never ends,
/// `/huge` a 100 GB Content-Length (streamed until the client goes), `/big` a real 3 MiB body.
/// Stops (and every connection's writer with it) when dropped; at most 2 minutes regardless.
struct HostileServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

const BIG: usize = 3 << 20;

impl HostileServer {
    fn start() -> HostileServer {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        let port = l.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !st.load(Ordering::SeqCst) && Instant::now() < deadline {
                match l.accept() {
                    Ok((sock, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || serve(sock, &st, deadline));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        HostileServer { port, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One connection: requests one after another (keep-alive) until the client goes.
fn serve(mut sock: TcpStream, stop: &AtomicBool, deadline: Instant) {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(30)));
    let chunk = vec![b'x'; 64 << 10];
    let live = || !stop.load(Ordering::SeqCst) && Instant::now() < deadline;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while live() {
        let Ok(n) = sock.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        head.extend_from_slice(&buf[..n]);
        let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let text = String::from_utf8_lossy(&head[..end]).into_owned();
        head.drain(..end + 4);
        let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
        let ok = match path.as_str() {
            "/endless" => {
                let mut r =
                    sock.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                while r.is_ok() && live() {
                    r = sock
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .and_then(|()| sock.write_all(&chunk))
                        .and_then(|()| sock.write_all(b"\r\n"));
                }
                false
            }
            "/huge" => {
                let mut r =
                    sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n");
                while r.is_ok() && live() {
                    r = sock.write_all(&chunk);
                }
                false
            }
            _ => {
                let mut r = sock.write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\n\r\n").as_bytes(),
                );
                let mut sent = 0;
                while r.is_ok() && sent < BIG {
                    let n = chunk.len().min(BIG - sent);
                    r = sock.write_all(&chunk[..n]);
                    sent += n;
                }
                r.is_ok()
            }
        };
        if !ok {
            return;
        }
    }
}

/// The largest resident set of `pid` seen while polling until it exits or `limit` passes (kB).
fn peak_rss_kb(proc_: &mut common::Proc, limit: Duration) -> u64 {
    let pid = proc_.pid();
    let mut peak = 0;
    let deadline = Instant::now() + limit;
    while !proc_.exited() && Instant::now() < deadline {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        // VmHWM: the peak so far, so short spikes between polls count too.
        if let Some(kb) = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
        {
            peak = peak.max(kb);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    peak
}

/// The failures CSV as (name, error, occurrences).
fn failures(prefix: &Path) -> Vec<(String, String, u64)> {
    csv(prefix, "failures")
        .into_iter()
        .skip(1)
        .map(|r| (r[1].clone(), r[2].clone(), r[3].parse().unwrap_or(0)))
        .collect()
}

/// `rustlocust <scenario> --headless --only-summary --csv <dir>/run <args>` for `src`; the
/// scenario (kept alive by the caller) and the CSV prefix.
fn headless_src(src: &str, args: &[&str]) -> (Command, common::Scenario, PathBuf) {
    let s = scenario(src);
    let prefix = s.dir.path().join("run");
    let mut c = bin();
    c.arg(&s.path)
        .args(["--headless", "--only-summary"])
        .args(args)
        .arg("--csv")
        .arg(&prefix);
    (c, s, prefix)
}

/// A user that GETs `/` from `t` every `wait` seconds.
fn one_get(t: &Target, wait: &str) -> String {
    format!(
        r#"user("U", #{{ host: "{}", wait_time: constant({wait}), tasks: ["t"] }});
fn t() {{ this.client.get("/"); }}
"#,
        t.url()
    )
}

/// The binary under `sh -c '<ulimit>; exec rustlocust ...'`, so only it has the lower limit.
fn with_ulimit(ulimit: &str, cmd: &Command) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("{ulimit} && exec \"$0\" \"$@\""))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

#[test]
fn hostile_bodies_are_bounded_and_large_ones_can_be_read_without_keeping_them() {
    hostile_bodies(&[]);
}

/// The same limits and texts on the reqwest engine, which reads bodies with the same reader.
#[test]
fn hostile_bodies_are_bounded_on_the_reqwest_engine_too() {
    hostile_bodies(&["--http-engine", "reqwest"]);
}

fn hostile_bodies(engine: &[&str]) {
    let server = HostileServer::start();
    let src = format!(
        r#"user("U", #{{ host: "{host}", wait_time: constant(0.05), tasks: ["t"] }});
fn t() {{
    this.client.get("/endless", #{{ name: "endless" }});
    this.client.get("/huge", #{{ name: "huge" }});
    this.client.get("/big", #{{ name: "big-limited", max_body: 1000 }});
    let r = this.client.get("/big", #{{ name: "big-kept", keep_body: 100 }});
    if r.content_length != {BIG} || r.body.len() != 100 {{
        throw `keep_body: content_length ${{r.content_length}}, kept ${{r.body.len()}}`;
    }}
}}
"#,
        host = server.url()
    );
    let args = [
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        "3s",
        "--max-body-size",
        "1MiB",
    ];
    let args = [&args[..], engine].concat();
    let (cmd, _s, prefix) = headless_src(&src, &args);
    let mut p = spawn(cmd);
    let peak = peak_rss_kb(&mut p, LIMIT);
    let started = p.started;
    let r = p.wait(LIMIT);
    assert_eq!(r.code, 1, "failures make exit 1:\n{}", r.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the run ends at -t: {:?}",
        started.elapsed()
    );
    // Unbounded, the endless body alone grows by gigabytes in these 3 s.
    assert!(peak < 200_000, "peak RSS {peak} kB");
    let fails = failures(&prefix);
    let limit = "BodyTooLarge('response body exceeds 1 MiB (set by --max-body-size)')";
    for name in ["endless", "huge"] {
        let mine: Vec<_> = fails.iter().filter(|f| f.0 == name).collect();
        assert_eq!(mine.len(), 1, "{name}: {fails:?}");
        assert_eq!(mine[0].1, limit);
        assert!(mine[0].2 >= 2, "{name}: {fails:?}");
    }
    let mine: Vec<_> = fails.iter().filter(|f| f.0 == "big-limited").collect();
    assert_eq!(
        mine.first().map(|f| f.1.as_str()),
        Some("BodyTooLarge('response body exceeds 1000 bytes (set by max_body)')")
    );
    assert!(fails.iter().all(|f| f.0 != "big-kept"), "{fails:?}");
    let rows = csv(&prefix, "stats");
    let kept = stats_row(&rows, "GET", "big-kept").expect("a big-kept row");
    assert!(count_of(&kept, "Request Count") >= 2);
    assert_eq!(count_of(&kept, "Failure Count"), 0);
    assert_eq!(common::num(&kept, "Average Content Size"), BIG as f64);
    assert_eq!(csv(&prefix, "exceptions").len(), 1, "no exceptions");
}

#[test]
fn bad_body_options_are_script_errors() {
    let t = Target::start();
    let src = format!(
        r#"user("U", #{{ host: "{}", wait_time: constant(1), tasks: ["t"] }});
fn t() {{ this.client.get("/", #{{ keep_body: -5 }}); }}
"#,
        t.url()
    );
    let (cmd, s, prefix) = headless_src(&src, &["-u", "1", "-t", "1s"]);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 1);
    let ex = s.exceptions_with("request option 'keep_body' must be a number of bytes >= 0");
    assert_eq!(ex.len(), 1, "{:?}", csv(&prefix, "exceptions"));
    let mut cmd = bin();
    cmd.arg(&s.path)
        .args(["--headless", "--max-body-size", "lots"]);
    let r = run(cmd, LIMIT);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("expected a size such as 64MiB"),
        "{}",
        r.stderr
    );
}

#[test]
fn unique_names_are_capped_with_one_warning() {
    // 20,000 names, recorded by the script itself (no HTTP), so the run is about rows only.
    let src = r#"user("U", #{ host: "http://127.0.0.1:9", wait_time: constant(0), tasks: ["t"] });
fn t() {
    for i in 0..20000 {
        report(#{ request_type: "GET", name: `/item/${i}?id=${uuid()}`, response_time: 1.0 });
    }
    report(#{ request_type: "POST", name: `/p/${uuid()}`, response_time: 1.0 });
    sleep(60);
}
"#;
    let args = ["-u", "1", "-t", "3s", "--max-stats-rows", "1000"];
    let (cmd, _s, prefix) = headless_src(src, &args);
    let mut p = spawn(cmd);
    let peak = peak_rss_kb(&mut p, LIMIT);
    let r = p.wait(LIMIT);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = csv(&prefix, "stats");
    // Header, 1000 rows, one overflow row per method, Aggregated.
    assert!(rows.len() <= 1 + 1000 + 2 + 1, "{} rows", rows.len());
    let get = stats_row(&rows, "GET", "(other names)").expect("a GET overflow row");
    let post = stats_row(&rows, "POST", "(other names)").expect("a POST overflow row");
    let named: u64 = rows
        .iter()
        .skip(1)
        .filter(|r| r[0] == "GET" && r[1] != "(other names)")
        .map(|r| r[2].parse::<u64>().unwrap_or(0))
        .sum();
    assert_eq!(
        named + count_of(&get, "Request Count"),
        20_000,
        "no sample lost"
    );
    assert_eq!(count_of(&post, "Request Count"), 1);
    let warnings = r
        .stderr
        .matches("distinct request names (--max-stats-rows)")
        .count();
    assert_eq!(warnings, 1, "{}", r.stderr);
    assert!(r.stderr.contains("request option `name`"), "{}", r.stderr);
    assert!(peak < 200_000, "peak RSS {peak} kB");
}

/// `rustlocust <scenario> --headless -u 1 -t <run_time> <args>` against `t`.
fn quick(t: &Target, run_time: &str, args: &[&str]) -> (Command, common::Scenario) {
    let s = scenario(&one_get(t, "0.1"));
    let mut c = bin();
    c.arg(&s.path)
        .args(["--headless", "--only-summary", "-u", "1", "-t", run_time])
        .args(args);
    (c, s)
}

#[test]
fn report_paths_are_checked_before_the_run() {
    let t = Target::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a_file");
    std::fs::write(&file, "x").expect("write");
    let under_file = file.join("out");
    let under = under_file.to_str().expect("utf-8");
    for (flag, shown) in [
        ("--html", format!("{under}.html")),
        ("--csv", format!("{under}_stats.csv")),
        ("--json-file", format!("{under}.json")),
    ] {
        let arg = if flag == "--html" {
            shown.clone()
        } else {
            under.to_owned()
        };
        let (c, _s) = quick(&t, "1s", &[flag, &arg]);
        let r = run(c, LIMIT);
        assert_eq!(r.code, 2, "{flag}: {}", r.all());
        assert!(
            r.stderr
                .contains(&format!("error: {flag}: cannot write '{shown}'")),
            "{flag}: {}",
            r.stderr
        );
        assert_eq!(t.seen.total(), 0, "{flag}: no test ran");
    }
    // Missing directories are created, for every report alike.
    let html = dir.path().join("new/dir/report.html");
    let prefix = dir.path().join("csv/dir/run");
    let json = dir.path().join("json/dir/stats");
    let (mut c, _s) = quick(&t, "1s", &["--html"]);
    c.arg(&html)
        .arg("--csv")
        .arg(&prefix)
        .arg("--json-file")
        .arg(&json);
    let r = run(c, LIMIT);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(std::fs::read_to_string(&html)
        .unwrap_or_default()
        .contains("<html"));
    assert!(dir.path().join("csv/dir/run_stats.csv").is_file());
    assert!(dir.path().join("json/dir/stats.json").is_file());
}

#[test]
fn a_report_lost_at_the_end_is_a_non_zero_exit() {
    let t = Target::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let report_dir = dir.path().join("reports");
    let (mut c, _s) = quick(&t, "3s", &["--html"]);
    c.arg(report_dir.join("r.html"));
    let p = spawn(c);
    // The check created the directory; while the test runs it becomes a file.
    assert!(common::wait_until(Duration::from_secs(20), || t
        .seen
        .total()
        > 0));
    assert!(report_dir.is_dir());
    std::fs::remove_dir_all(&report_dir).expect("rm");
    std::fs::write(&report_dir, "not a directory").expect("write");
    let r = p.wait(LIMIT);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("writing the HTML report"), "{}", r.stderr);
}

#[test]
fn out_of_file_descriptors_keeps_every_history_row() {
    let t = Target::start();
    let host = t.url();
    let args = ["-u", "300", "-r", "300", "-t", "5s", "-H", &host];
    let (cmd, _s, prefix) = headless_src(&one_get(&t, "0.2"), &args);
    // A hard limit of 200: not raisable, and below the 300 users' connections.
    let c = with_ulimit("ulimit -n 200", &cmd);
    let started = Instant::now();
    let r = run(c, LIMIT);
    let took = started.elapsed().as_secs_f64();
    assert!(r.code == 0 || r.code == 1, "{}", r.all());
    assert!(
        r.stderr.contains("300 users need about 428 open files")
            && r.stderr.contains("the open-file limit is 200"),
        "{}",
        r.stderr
    );
    let history = csv(&prefix, "stats_history");
    let rows = history.len() - 1;
    // One row a second while it ran, and the final one.
    assert!(
        rows + 1 >= 5 && rows as f64 <= took + 2.0,
        "{rows} history rows in {took:.1} s"
    );
}

#[test]
fn the_soft_file_limit_is_raised_to_the_hard_one() {
    let t = Target::start();
    let hard = common::raise_nofile_limit();
    if hard < 1000 {
        eprintln!("skipped: the hard open-file limit is {hard}");
        return;
    }
    let host = t.url();
    let args = ["-u", "300", "-r", "300", "-t", "2s", "-H", &host];
    let (cmd, _s, _prefix) = headless_src(&one_get(&t, "0.2"), &args);
    let c = with_ulimit("ulimit -Sn 200", &cmd);
    let r = run(c, LIMIT);
    assert_eq!(r.code, 0, "no request failed: {}", r.all());
    assert!(!r.stderr.contains("open-file limit"), "{}", r.stderr);
}
