//! The real Locust (2.47, `pip install locust==2.47.0`) as a test peer: whether it is installed
//! (skip with a message, or fail where RUSTLOCUST_REQUIRE_LOCUST is set, as CI does), a `locust`
//! process stopped by its own PID, a temp dir holding a stub locustfile, and its CSV rows.

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

/// A `locust` process stopped by its own PID when the test ends, however it ends.
pub struct LocustProc(pub Child);

impl LocustProc {
    /// `locust <args>` in `dir`, its output in `dir/<log_name>`.
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

    /// Waits up to `limit` for the process to exit on its own.
    /// `locust -f stub.py --worker` for a master on 127.0.0.1:`port`, in `dir`.
    pub fn worker(dir: &Path, port: &str, log_name: &str) -> LocustProc {
        let args = ["-f", "stub.py", "--worker", "--master-host", "127.0.0.1"];
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--master-port", port]);
        LocustProc::spawn(&all, dir, log_name)
    }

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

    /// SIGKILL, by this process's PID.
    pub fn kill_9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for LocustProc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.kill_9();
        }
    }
}

/// `locust -f stub.py --master --headless` in `dir` on 127.0.0.1:`port`, waiting for one worker,
/// then `users` users at `users`/s for `run_time`, with `--csv dir/<csv>`; its log in
/// `dir/master-<port>.log`.
pub fn locust_master(dir: &Path, port: u16, users: &str, run_time: &str, csv: &str) -> LocustProc {
    let port = port.to_string();
    let csv = dir.join(csv);
    let args = [
        "-f",
        "stub.py",
        "--master",
        "--headless",
        "--expect-workers",
        "1",
        "-u",
        users,
        "-r",
        users,
        "-t",
        run_time,
        "--csv",
        csv.to_str().expect("utf-8 path"),
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        &port,
    ];
    LocustProc::spawn(&args, dir, &format!("master-{port}.log"))
}

/// A temp dir holding `stub.py`, or None when the test is skipped.
pub fn stub_dir(test: &str, stub: &str) -> Option<tempfile::TempDir> {
    if !locust_available(test) {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("stub.py"), stub).expect("stub");
    Some(dir)
}

/// A file in `dir` as text, empty when missing.
pub fn text_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// The fields of the row of a Locust CSV whose first two fields are `method` and `name`.
pub fn csv_row(csv: &str, method: &str, name: &str) -> Vec<String> {
    csv.lines()
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols.len() > 3 && cols[0] == method && cols[1] == name)
        .unwrap_or_default()
}
