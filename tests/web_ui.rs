//! The control UI in a real browser: runs the Node browser tests in `tests/e2e/` (headless
//! Chromium driven by playwright-core) against this build's binary.
//!
//! Needs Node.js ≥ 20, `/usr/bin/chromium` and `npm ci` (for `node_modules/playwright-core`).
//! Without them the test prints why and what to install, and passes, unless
//! `RUSTLOCUST_REQUIRE_BROWSER=1` (set by CI, which installs them) makes that a failure.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The e2e suite bounds each of its own waits; this is the backstop for the whole run.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// Why the browser tests cannot run here, if they cannot.
fn missing_prerequisite(root: &Path) -> Option<String> {
    let version = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    let major = match version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok()),
        _ => return Some("`node` is not on PATH".into()),
    };
    if major.is_none_or(|m| m < 20) {
        return Some(format!(
            "Node.js ≥ 20 is needed (playwright-core), found {major:?}"
        ));
    }
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} does not exist"));
    }
    if !root
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Some("node_modules/playwright-core is missing (run `npm ci`)".into());
    }
    None
}

fn e2e_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("tests/e2e"))
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Reads a pipe to the end on its own thread, so neither pipe can fill up and block node.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[test]
fn control_ui_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(why) = missing_prerequisite(root) {
        // CI sets this: there the browser tests must run, never skip quietly.
        let required =
            std::env::var("RUSTLOCUST_REQUIRE_BROWSER").is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(
            !required,
            "RUSTLOCUST_REQUIRE_BROWSER is set but the browser tests cannot run: {why}"
        );
        println!(
            "SKIPPED control_ui_in_headless_chromium: {why}.\n  To run it: apt-get install -y chromium \
             (and Node.js ≥ 20 with npm), then `npm ci` in {}",
            root.display()
        );
        eprintln!("SKIPPED control_ui_in_headless_chromium: {why}");
        return;
    }
    let files = e2e_files(root);
    assert!(!files.is_empty(), "no tests/e2e/*.test.mjs");

    // The files are named explicitly: `node --test DIR` means different things across versions.
    let mut child = Command::new("node")
        .arg("--test")
        .args(&files)
        .current_dir(root)
        .env("RUSTLOCUST_BIN", env!("CARGO_BIN_EXE_rustlocust"))
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting node: {e}"));
    let pid = child.id();
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > SUITE_TIMEOUT => {
                // SIGTERM first: the suite then stops the processes it started, by PID.
                if let Ok(pid) = libc::pid_t::try_from(pid) {
                    // SAFETY: signalling our own child, which has not been reaped yet.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
                let grace = Instant::now();
                while grace.elapsed() < Duration::from_secs(10) {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => panic!("waiting for node (pid {pid}): {e}"),
        }
    };
    let collect = |h: Option<std::thread::JoinHandle<String>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let stdout = collect(out);
    let stderr = collect(err);
    println!("{stdout}");
    eprintln!("{stderr}");
    let Some(status) = status else {
        panic!(
            "the browser tests did not finish within {} s",
            SUITE_TIMEOUT.as_secs()
        );
    };
    assert!(
        status.success(),
        "browser tests failed ({status}); screenshots in target/e2e-screenshots/"
    );
    assert!(
        stdout.contains("# pass ") && !stdout.contains("# pass 0"),
        "no browser test ran:\n{stdout}"
    );
}
