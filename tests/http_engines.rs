//! The HTTP engines and compression as scripts see them, through the binary: a gzipped answer is
//! decoded for `r.json()` and counted decompressed in the stats (as Locust does); the engine and
//! `Accept-Encoding` are set per request, per client handle (`client(#{...})`), per user class
//! (`http: #{...}`) and per run (`--http-engine`, `--accept-encoding`); bad settings are clear
//! errors before the run (class, command line) or script errors naming the request option.
//! `files:` uploads reach the server as multipart parts with the right fields and bytes, on both
//! engines; a path outside the scenario's folder is a script error and nothing is sent.

mod common;

use std::time::Duration;

use common::{bin, count_of, csv, num, run, scenario, stats_row, Target, GZIP_JSON_LEN};

const LIMIT: Duration = Duration::from_secs(40);

/// Runs `src` headless with one user for 2 s against `t`, CSV under the scenario's dir.
fn run_src(t: &Target, src: &str, extra: &[&str]) -> (common::Run, common::Scenario) {
    let s = scenario(src);
    (run_in(&s, t, extra), s)
}

/// [`run_src`] for a scenario already written (with files beside it).
fn run_in(s: &common::Scenario, t: &Target, extra: &[&str]) -> common::Run {
    let mut cmd = bin();
    cmd.arg(&s.path)
        .args([
            "--headless",
            "-u",
            "1",
            "-r",
            "10",
            "-t",
            "2s",
            "-H",
            &t.url(),
            "--csv",
        ])
        .arg(s.prefix())
        .args(extra);
    run(cmd, LIMIT)
}

#[test]
fn gzip_decoded_and_sized_and_settings_layered() {
    let t = Target::start();
    let (r, s) = run_src(
        &t,
        r#"
user("U", #{
    http: #{ accept_encoding: "gzip" },
    wait_time: constant(0.05),
    tasks: ["t"],
});
fn t() {
    for engine in ["hyper", "reqwest"] {
        let r = this.client.get("/gzip/json", #{ engine: engine, name: "gz-" + engine });
        if r.json().n != 1000 { throw "not decoded on " + engine + ": " + r.text; }
        if r.content_length != 10000 { throw "content_length " + r.content_length; }
    }
    // the class's setting, a client handle's, the request's own
    let a = this.client.get("/echo/header/accept-encoding", #{ name: "ae-class" }).text;
    if a != "gzip" { throw "class: " + a; }
    let c = client(#{ engine: "reqwest", accept_encoding: false });
    let b = c.get("/echo/header/accept-encoding", #{ name: "ae-client" }).text;
    if b != "none" { throw "client: " + b; }
    let d = c.get("/echo/header/accept-encoding", #{ name: "ae-req", accept_encoding: "br" }).text;
    if d != "br" { throw "request: " + d; }
}
"#,
        &[],
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let rows = csv(&s.prefix(), "stats");
    for name in ["gz-hyper", "gz-reqwest"] {
        let row = stats_row(&rows, "GET", name).unwrap_or_else(|| panic!("no {name}: {rows:?}"));
        assert!(count_of(&row, "Request Count") >= 3, "{row:?}");
        assert_eq!(count_of(&row, "Failure Count"), 0);
        assert_eq!(
            num(&row, "Average Content Size"),
            GZIP_JSON_LEN as f64,
            "the decompressed size, as Locust's"
        );
    }
    assert_eq!(csv(&s.prefix(), "exceptions").len(), 1, "no exceptions");
}

/// The body limits hold for decoded bodies on both engines: a small compressed body that decodes
/// past `max_body` is `BodyTooLarge`, a body cut short by `keep_body` is kept as received (not
/// decoded) with its full length, and one read whole is decoded and then cut.
#[test]
fn decoded_bodies_obey_max_body_and_keep_body() {
    let t = Target::start();
    let (r, s) = run_src(
        &t,
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() {
    for engine in ["hyper", "reqwest"] {
        let o = #{ engine: engine, name: "cap-" + engine, max_body: 1000 };
        let r = this.client.get("/gzip/json", o);
        if r.error != "BodyTooLarge('response body exceeds 1000 bytes (set by max_body)')" {
            throw engine + " cap: " + r.error;
        }
        let o = #{ engine: engine, name: "cut-" + engine, keep_body: 5 };
        let r = this.client.get("/gzip/json", o);
        if r.body.len() != 5 || r.content_length <= 5 || r.content_length >= 10000 {
            throw engine + " cut: " + r.body.len() + " " + r.content_length;
        }
        let o = #{ engine: engine, name: "whole-" + engine, keep_body: 3000 };
        let r = this.client.get("/gzip/json", o);
        if r.body.len() != 3000 || r.content_length != 10000 || !r.text.starts_with("{\"n\":1000") {
            throw engine + " whole: " + r.body.len() + " " + r.content_length;
        }
    }
}
"#,
        &[],
    );
    assert_eq!(r.code, 1, "the cap- failures make exit 1:\n{}", r.stderr);
    assert_eq!(csv(&s.prefix(), "exceptions").len(), 1, "no exceptions");
    let failures = csv(&s.prefix(), "failures");
    let names: Vec<&str> = failures.iter().skip(1).map(|f| f[1].as_str()).collect();
    assert_eq!(names.len(), 2, "{failures:?}");
    for engine in ["hyper", "reqwest"] {
        assert!(
            names.contains(&format!("cap-{engine}").as_str()),
            "{names:?}"
        );
    }
    let rows = csv(&s.prefix(), "stats");
    let whole = stats_row(&rows, "GET", "whole-reqwest").expect("a whole-reqwest row");
    assert_eq!(num(&whole, "Average Content Size"), GZIP_JSON_LEN as f64);
}

#[test]
fn run_wide_engine_and_accept_encoding() {
    let t = Target::start();
    let (r, _s) = run_src(
        &t,
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() {
    let a = this.client.get("/echo/header/accept-encoding").text;
    if a != "none" { throw "accept-encoding: " + a; }
    if this.client.get("/gzip/json").json().n != 1000 { throw "not decoded"; }
    stop_test();
}
"#,
        &["--http-engine", "reqwest", "--accept-encoding", "none"],
    );
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let r = run(
        {
            let mut c = bin();
            c.args(["--http-engine", "curl", "--headless", "-H", &t.url()]);
            c
        },
        LIMIT,
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr
            .contains("unknown HTTP engine 'curl' (expected hyper, reqwest or auto)"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_settings_are_clear_errors() {
    let t = Target::start();
    // in a class: refused before the run
    refused_before_run(&t, r#"engine: "curl""#, "unknown HTTP engine 'curl'");
    refused_before_run(
        &t,
        r#"auth: "u:p""#,
        "request option 'auth' must be [user, password] (two strings)",
    );
    refused_before_run(
        &t,
        "proxy_typo: 1",
        "user class 'U': unknown HTTP setting 'proxy_typo'",
    );
    // in a request: a script error naming it, nothing sent
    let (r, s) = run_src(
        &t,
        r#"
user("U", #{ wait_time: constant(0.01), tasks: ["a", "b", "c"] });
fn a() { this.client.get("/never-a", #{ engine: "h3" }); }
fn b() { this.client.get("/never-b", #{ http2: "yes" }); }
fn c() { this.client.get("/never-c", #{ engine: "hyper", http2: true }); }
"#,
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    for needle in [
        "unknown HTTP engine 'h3'",
        "request option 'http2' must be true, false or \"prior_knowledge\"",
        "http2 needs the reqwest engine, but the hyper engine was chosen",
    ] {
        assert_eq!(
            s.exceptions_with(needle).len(),
            1,
            "{needle}: {:?}",
            s.csv("exceptions")
        );
    }
    assert_eq!(t.seen.total(), 0, "nothing was sent");
}

#[test]
fn multipart_uploads_on_both_engines() {
    let t = Target::start();
    let s = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() {
    for engine in ["hyper", "reqwest"] {
        let r = this.client.post("/multipart", #{
            name: "up-" + engine,
            engine: engine,
            data: #{ note: "hello", tags: ["a", "b"] },
            files: #{
                doc: #{ path: "data/up.txt" },
                raw: #{ data: blob(3, 7), name: "r.bin", content_type: "application/octet-stream" },
            },
        });
        let want = "note|||5|hello\ntags|||1|a\ntags|||1|b\n"
            + "doc|up.txt||11|file\r\nbytes\n"
            + "raw|r.bin|application/octet-stream|3|\u0007\u0007\u0007";
        if r.text != want { throw engine + ": " + r.status + " " + r.text; }
    }
    stop_test();
}
"#,
    );
    std::fs::create_dir(s.dir.path().join("data")).unwrap();
    std::fs::write(s.dir.path().join("data/up.txt"), "file\r\nbytes").unwrap();
    let r = run_in(&s, &t, &[]);
    assert_eq!(
        r.code,
        0,
        "stderr:\n{}\n{:?}",
        r.stderr,
        s.csv("exceptions")
    );
    assert!(t.seen.count("/multipart") >= 2);

    // outside the folder, or no such file: a script error naming the option, nothing sent
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "no").unwrap();
    let s = scenario(&format!(
        r#"
user("U", #{{ wait_time: constant(0.01), tasks: ["a", "b", "c"] }});
fn a() {{ this.client.post("/multipart", #{{ files: #{{ f: #{{ path: "../secret.txt" }} }} }}); }}
fn b() {{ this.client.post("/multipart", #{{ files: #{{ f: #{{ path: "{}" }} }} }}); }}
fn c() {{ this.client.post("/multipart", #{{ json: 1, files: #{{ f: #{{ data: "x" }} }} }}); }}
"#,
        outside.path().join("secret.txt").display()
    ));
    let before = t.seen.count("/multipart");
    let r = run_in(&s, &t, &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    for needle in [
        "request option 'files', field 'f': '../secret.txt' leaves the scenario's folder",
        "is an absolute path",
        "files can go with form fields",
    ] {
        assert_eq!(
            s.exceptions_with(needle).len(),
            1,
            "{needle}: {:?}",
            s.csv("exceptions")
        );
    }
    assert_eq!(t.seen.count("/multipart"), before, "nothing was sent");
}

/// One case of the environment test: variables, extra arguments, whether the proxy is used.
type EnvCase<'a> = (&'a [(&'a str, String)], &'a [&'a str], bool);

#[test]
fn proxies_from_the_environment_and_no_proxy() {
    let t = Target::start();
    let proxy = common::proxy::TestProxy::start();
    let s = scenario(
        r#"
user("U", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() {
    let r = this.client.get("/hello", #{ name: "via-env" });
    if !r.ok { throw r.error; }
    stop_test();
}
"#,
    );
    // Each case: the environment, and whether the request goes through the proxy.
    let target = format!("127.0.0.1:{}", t.addr.port());
    let cases: [EnvCase; 5] = [
        (&[("HTTP_PROXY", proxy.url())], &[], true),
        (&[("http_proxy", proxy.url())], &[], true),
        (&[("ALL_PROXY", proxy.url())], &[], true),
        (
            &[
                ("HTTP_PROXY", proxy.url()),
                ("NO_PROXY", "127.0.0.1".into()),
            ],
            &[],
            false,
        ),
        // the fast path, chosen explicitly, goes direct
        (
            &[("HTTP_PROXY", proxy.url())],
            &["--http-engine", "hyper"],
            false,
        ),
    ];
    for (i, (env, args, proxied)) in cases.iter().enumerate() {
        let before = proxy.seen().len();
        let mut cmd = bin();
        for v in rustlocust::http::PROXY_VARS
            .iter()
            .chain(&["NO_PROXY", "no_proxy"])
        {
            cmd.env_remove(v);
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.arg(&s.path)
            .args(["--headless", "-u", "1", "-t", "5s", "-H", &t.url()])
            .args(*args);
        let r = run(cmd, LIMIT);
        assert_eq!(r.code, 0, "case {i}: {}", r.all());
        let seen = proxy.seen();
        if *proxied {
            assert!(seen.len() > before, "case {i}: not proxied");
            assert_eq!(
                seen[before],
                format!("GET http://{target}/hello"),
                "case {i}"
            );
        } else {
            assert_eq!(seen.len(), before, "case {i}: proxied: {seen:?}");
        }
    }
    assert!(t.seen.count("/hello") >= 5);

    // a malformed proxy in a class: refused before the run
    refused_before_run(
        &t,
        r#"proxy: "proxy:3128""#,
        "invalid proxy URL 'proxy:3128': unsupported scheme 'proxy'",
    );
}

/// A class with `http: #{ <settings> }` is refused before the run, with `needle` in the error.
fn refused_before_run(t: &Target, settings: &str, needle: &str) {
    let src = format!(r#"user("U", #{{ http: #{{ {settings} }}, tasks: ["t"] }}); fn t() {{}}"#);
    let (r, _s) = run_src(t, &src, &[]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    assert_eq!(t.seen.count("/"), 0);
}

#[test]
fn basic_auth_and_repeated_headers() {
    let t = Target::start();
    let (r, s) = run_src(
        &t,
        r#"
user("U", #{ http: #{ auth: ["user", "pw"] }, wait_time: constant(0.05), tasks: ["t"] });
fn t() {
    let a = this.client.get("/echo/header/authorization").text;
    if a != "Basic dXNlcjpwdw==" { throw "class auth: " + a; }
    let b = this.client.get("/echo/header/authorization", #{ auth: ["x", "y"], engine: "reqwest" }).text;
    if b != "Basic eDp5" { throw "request auth: " + b; }
    let r = this.client.get("/repeat");
    if r.headers["x-rep"] != "a, b" { throw "joined: " + r.headers["x-rep"]; }
    let all = r.headers_all("X-Rep");
    if all.len() != 2 || all[0] != "a" || all[1] != "b" { throw "all: " + all; }
    if r.headers_all("x-none").len() != 0 { throw "none"; }
    stop_test();
}
"#,
        &[],
    );
    assert_eq!(
        r.code,
        0,
        "stderr:\n{}\n{:?}",
        r.stderr,
        s.csv("exceptions")
    );
    assert_eq!(t.seen.count("/repeat"), 1);
}

#[test]
fn unreadable_certificates_are_refused_before_the_run() {
    let t = Target::start();
    let s = scenario(r#"user("U", #{ tasks: ["t"] }); fn t() { this.client.get("/"); }"#);
    let missing = s.dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--client-cert", missing],
            format!("client certificate {missing}: No such file or directory"),
        ),
        (
            vec!["--ca-bundle", missing],
            format!("CA bundle {missing}: No such file or directory"),
        ),
        (
            vec!["--client-key", missing],
            "--client-key only works together with --client-cert".to_string(),
        ),
    ] {
        let r = run_in(&s, &t, &args);
        assert_ne!(r.code, 0, "{args:?}");
        assert!(r.stderr.contains(&needle), "{needle}: {}", r.stderr);
    }
    assert_eq!(t.seen.total(), 0, "nothing was sent");
}
