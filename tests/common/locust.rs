//! The real Locust 2.47 CLI for interop tests: whether it is installed (a test skips with a
//! message when it is not, unless RUSTLOCUST_REQUIRE_LOCUST is set, as CI does), `locust`
//! processes stopped by their own PID, and a temp dir holding a locustfile.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the Locust CLI can run here; panics instead of skipping where CI requires it.
pub fn locust_available(test: &str) -> bool {
    let ok = Command::new("locust")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        // CI sets this: there the Locust tests must run, never skip quietly.
        let required =
            std::env::var("RUSTLOCUST_REQUIRE_LOCUST").is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(
            !required,
            "{test}: `locust` is not installed but RUSTLOCUST_REQUIRE_LOCUST is set"
        );
        eprintln!("SKIPPED {test}: `locust` is not installed (pip install locust==2.47.0)");
    }
    ok
}

/// A `locust` child process, killed by its own PID when dropped, however the test ends.
pub struct LocustProc(pub Child);

impl LocustProc {
    /// Runs `locust ARGS` in `dir`, stdout and stderr into `dir/log_name`.
    pub fn spawn(args: &[&str], dir: &Path, log_name: &str) -> LocustProc {
        let log = std::fs::File::create(dir.join(log_name)).expect("log file");
        let err = log.try_clone().expect("log file");
        let child = Command::new("locust")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("locust starts");
        LocustProc(child)
    }

    /// `locust -f stub.py --worker` for a master on 127.0.0.1:`port`, in `dir`.
    pub fn worker(dir: &Path, port: &str, log_name: &str) -> LocustProc {
        let args = ["-f", "stub.py", "--worker", "--master-host", "127.0.0.1"];
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--master-port", port]);
        LocustProc::spawn(&all, dir, log_name)
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// SIGKILL, by PID.
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for LocustProc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.kill9();
        }
    }
}

/// A temp dir holding `stub.py`, or None when the test is skipped.
pub fn locust_stub_dir(test: &str, stub: &str) -> Option<tempfile::TempDir> {
    if !locust_available(test) {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("stub.py"), stub).expect("stub");
    Some(dir)
}

/// A file of `dir` as text (empty when missing), for failure messages.
pub fn log_text(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}
