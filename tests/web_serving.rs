//! How the web UI is served (`WebOptions`): over HTTPS with a PEM certificate and key (`tls`),
//! under a base path for a reverse proxy (`base_path`: every route and asset under it, the bare
//! path redirected to the one with a slash, the page told its base), with or without the start
//! form's class choice (`class_picker`), and with the console stats table while a test runs
//! (`print_stats`). The server runs as a process of its own (the web controller as the binary runs
//! it, stopped by SIGINT); bad TLS files and base paths are refused before anything is served.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::child::{child_spec, spawn_child};
use common::free_port;
use common::test_run::{block_on_local, run_config};
use common::{wait_until, Proc, Target};
use reqwest::StatusCode;
use rustlocust::script::{LoadOptions, Scenario};
use rustlocust::web::server::Server;
use rustlocust::web::WebOptions;
use serde_json::{json, Value};

const SRC: &str = r#"
user("Web", #{ wait_time: constant(0.05), tasks: ["t"] });
user("Admin", #{ wait_time: constant(0.05), tasks: ["t"] });
fn t() { this.client.get("/from-web"); }
"#;

/// The child: serve the web UI as the spec says until SIGINT, then exit with the run's code.
#[test]
fn web_child() {
    let Some(spec) = child_spec() else { return };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    rustlocust::logging::init(&rustlocust::logging::LogOptions::default()).unwrap();
    let text = |k: &str| spec[k].as_str().unwrap_or_default().to_owned();
    let sc = Scenario::from_source("s.rhai", SRC, Path::new("."), &LoadOptions::default());
    let web = WebOptions {
        bind: ([127, 0, 0, 1], spec["port"].as_u64().unwrap_or(0) as u16).into(),
        tls: spec["tls"].as_array().map(|p| {
            (
                PathBuf::from(p[0].as_str().unwrap_or("")),
                PathBuf::from(p[1].as_str().unwrap_or("")),
            )
        }),
        base_path: text("base_path"),
        print_stats: spec["print_stats"].as_bool().unwrap_or(false),
        class_picker: spec["class_picker"].as_bool().unwrap_or(false),
        ..WebOptions::default()
    };
    let cfg = run_config(&text("host"), 1, 1.0);
    let served = block_on_local(rustlocust::web::control::serve(
        cfg,
        web,
        Arc::new(sc.unwrap()),
    ));
    std::process::exit(match served {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    })
}

/// A self-signed certificate for 127.0.0.1 and localhost: (cert PEM, key PEM).
fn certificate() -> (String, String) {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let ck = rcgen::generate_simple_self_signed(names).unwrap();
    (ck.cert.pem(), ck.key_pair.serialize_pem())
}

struct Served {
    proc: Proc,
    port: u16,
    _target: Target,
}

fn serve(spec: Value) -> Served {
    let target = Target::start();
    let port = free_port();
    let mut spec = spec;
    spec["port"] = json!(port);
    spec["host"] = json!(target.url());
    let proc = spawn_child("web_child", &spec.to_string());
    let up = wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the web UI never listened on {port}");
    Served {
        proc,
        port,
        _target: target,
    }
}

fn client(root: Option<&str>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = root {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

async fn get(http: &reqwest::Client, url: &str) -> reqwest::Response {
    http.get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let res = get(http, url).await;
    res.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

async fn start_and_wait_for_requests(http: &reqwest::Client, base: &str) {
    let res = http
        .post(format!("{base}swarm"))
        .form(&[("user_count", "2"), ("spawn_rate", "100")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = get_json(http, &format!("{base}stats/requests")).await;
        if v["total_rps"].as_f64().unwrap_or(0.0) > 0.0
            || v["stats"].as_array().is_some_and(|s| s.len() > 1)
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no requests counted: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn https_under_a_base_path_serves_the_page_and_api_and_prints_stats() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let s = serve(json!({
        "tls": [cert_path, key_path],
        "base_path": "/tools/locust/",
        "print_stats": true,
        "class_picker": true,
    }));
    let base = format!("https://127.0.0.1:{}/tools/locust/", s.port);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = client(Some(&cert));
        let page = get(&http, &base).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("<base href=\"/tools/locust/\">"),
            "{html:.300}"
        );
        assert!(
            !html.contains("f-classes-box{display:none"),
            "the class picker is on"
        );
        let asset = get(&http, &format!("{base}assets/style.css")).await;
        assert_eq!(asset.status(), StatusCode::OK);
        let status = get_json(&http, &format!("{base}status")).await;
        assert_eq!(status["classes"][1]["name"], "Admin");
        // The bare base path redirects to the one with a slash; nothing is served outside it.
        let bare = get(&http, &format!("https://127.0.0.1:{}/tools/locust", s.port)).await;
        assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(bare.headers()["location"], "/tools/locust/");
        for outside in ["/", "/status", "/assets/style.css", "/tools/status"] {
            let res = get(&http, &format!("https://127.0.0.1:{}{outside}", s.port)).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{outside}");
        }
        // Only TLS is spoken, and only with a certificate the client trusts.
        let plain = client(None)
            .get(format!("http://127.0.0.1:{}/tools/locust/", s.port))
            .send()
            .await;
        assert!(plain.is_err(), "plain HTTP got an answer");
        let untrusted = client(None).get(&base).send().await;
        assert!(
            untrusted.is_err(),
            "a client without our certificate connected"
        );

        start_and_wait_for_requests(&http, &base).await;
        // Two console tables at least (one every 2 s).
        tokio::time::sleep(Duration::from_millis(4500)).await;
    });
    s.proc.signal(libc::SIGINT);
    let r = s.proc.wait(Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr
            .contains(&format!("Starting web interface at {base}")),
        "{}",
        r.stderr
    );
    let tables = r.stdout.matches("Aggregated").count();
    assert!(tables >= 2, "{tables} console tables:\n{}", r.stdout);
    assert!(r.stdout.contains("GET      /from-web"), "{}", r.stdout);
}

#[test]
fn without_the_class_picker_the_form_hides_the_choice_and_no_table_is_printed() {
    let s = serve(json!({ "base_path": "/locust" }));
    let base = format!("http://127.0.0.1:{}/locust/", s.port);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = client(None);
        let html = get(&http, &base).await.text().await.unwrap();
        assert!(html.contains("<base href=\"/locust/\">"));
        assert!(html.contains("<style>#f-classes-box{display:none!important}</style>"));
        let tasks = get_json(&http, &format!("{base}tasks")).await;
        // Locust's /tasks: each class's share of the users running now, 0 while idle.
        assert_eq!(tasks["per_class"]["Web"]["ratio"], 0.0);
        start_and_wait_for_requests(&http, &base).await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
    });
    s.proc.signal(libc::SIGINT);
    let r = s.proc.wait(Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stdout.contains("Aggregated"), "{}", r.stdout);
}

fn options(tls: Option<(&Path, &Path)>, base_path: &str) -> WebOptions {
    WebOptions {
        bind: ([127, 0, 0, 1], 0).into(),
        tls: tls.map(|(c, k)| (c.to_path_buf(), k.to_path_buf())),
        base_path: base_path.to_owned(),
        ..WebOptions::default()
    }
}

fn refusal(opts: WebOptions) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match rt.block_on(Server::bind(&opts)) {
        Ok(s) => panic!("served at {}", s.url()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_tls_files_and_base_paths_are_refused_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate();
    let (_, other_key) = certificate();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (cert_p, key_p) = (file("cert.pem", &cert), file("key.pem", &key));
    let missing = dir.path().join("missing.pem");
    let garbage = file("garbage.pem", "not a certificate\n");
    let broken = file(
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let other_key_p = file("other_key.pem", &other_key);
    let d = |p: &PathBuf| p.display().to_string();

    // (certificate, key, the start of the error; {c} and {k} stand for the two paths)
    let cases = [
        (&missing, &key_p, "cannot read the TLS certificate '{c}': "),
        (&cert_p, &missing, "cannot read the TLS key '{k}': "),
        (
            &garbage,
            &key_p,
            "the TLS certificate '{c}' holds no PEM certificate (BEGIN",
        ),
        (
            &cert_p,
            &cert_p,
            "the TLS key '{k}' holds no PEM private key",
        ),
        (
            &broken,
            &key_p,
            "the TLS certificate '{c}' is not valid PEM: ",
        ),
        (
            &cert_p,
            &other_key_p,
            "the TLS certificate '{c}' and key '{k}' cannot be used: ",
        ),
    ];
    for (c, k, want) in cases {
        let want = want.replace("{c}", &d(c)).replace("{k}", &d(k));
        let got = refusal(options(Some((c, k)), ""));
        assert!(
            got.starts_with(&want),
            "expected {want:?}\n     got {got:?}"
        );
    }
    let got = refusal(options(None, "locust"));
    assert_eq!(got, "web base path 'locust': it must start with / (expected \"\" or a path like /locust or /tools/locust)");

    // Through the web front end: the same message, and nothing listens.
    let port = free_port();
    let spec = json!({ "port": port, "host": "http://127.0.0.1:1", "tls": [missing, key_p] });
    let r = spawn_child("web_child", &spec.to_string()).wait(Duration::from_secs(30));
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "error: cannot read the TLS certificate '{}'",
            d(&missing)
        )),
        "{}",
        r.stderr
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
