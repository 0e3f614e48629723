//! Running the real `rustlocust` binary: to completion with a hard time limit, or in the
//! background (signals, polling while it runs), always killed if a test fails first.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `rustlocust` binary built for these tests, without any `RUSTLOCUST_*` environment.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rustlocust"));
    // Tests choose their own options; keep the environment (and ~/.locust.conf) from leaking
    // into them.
    for (k, _) in std::env::vars() {
        if k.starts_with("RUSTLOCUST_") || k.starts_with("LOCUST_") {
            c.env_remove(k);
        }
    }
    c.env("HOME", env!("CARGO_TARGET_TMPDIR"));
    c
}

/// A finished run: its exit code (-1 when killed by a signal) and its output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Run to completion, killing the process if it outlives `limit` (the test then fails).
pub fn run(cmd: Command, limit: Duration) -> Run {
    spawn(cmd).wait(limit)
}

/// A `rustlocust` process running in the background; its output is drained as it comes. Killed on
/// drop if still running (a failing test leaves nothing behind).
pub struct Proc {
    child: Option<Child>,
    out_t: Option<std::thread::JoinHandle<Vec<u8>>>,
    err_t: Option<std::thread::JoinHandle<Vec<u8>>>,
    /// When the process was spawned.
    pub started: Instant,
}

/// Reads `r` to its end on a thread of its own, so a full pipe never blocks the process.
fn drain(r: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut b);
        }
        b
    })
}

pub fn spawn(mut cmd: Command) -> Proc {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rustlocust");
    let out_t = drain(child.stdout.take());
    let err_t = drain(child.stderr.take());
    Proc {
        child: Some(child),
        out_t: Some(out_t),
        err_t: Some(err_t),
        started: Instant::now(),
    }
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Send `sig` (e.g. `libc::SIGINT`) to the process, and only to it.
    pub fn signal(&self, sig: i32) {
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// True once the process has exited.
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .expect("running")
            .try_wait()
            .unwrap()
            .is_some()
    }

    /// Wait for the exit; kill it and fail the test if that takes longer than `limit` (from now).
    pub fn wait(mut self, limit: Duration) -> Run {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let o = self.out_t.take().unwrap().join().unwrap();
        let e = self.err_t.take().unwrap().join().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&o).into_owned(),
            String::from_utf8_lossy(&e).into_owned(),
        );
        match status {
            Some(st) => Run {
                code: st.code().unwrap_or(-1),
                stdout,
                stderr,
            },
            None => panic!(
                "rustlocust did not finish within {limit:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            ),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Poll `f` every 20 ms until it is true or `limit` passes; returns its last value.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Raise this process's open-file soft limit to its hard limit (children inherit it).
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn raise_nofile_limit() -> u64 {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur as u64
    }
}

/// A port on 127.0.0.1 that was free a moment ago (the process under test binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
