//! `--processes N`: start N worker processes of this same binary on this machine and watch them.
//! Without `--worker` they work for this process's master; with `--worker` this process only
//! supervises them for a remote master (forwarding SIGINT/SIGTERM, exiting when they all did).
//!
//! Children never outlive their parent: each is its own process group (a terminal's Ctrl-C goes
//! to the parent only, which decides what the children get), asks the kernel for SIGKILL when
//! the parent dies (Linux `PR_SET_PDEATHSIG`, which also covers `kill -9` of the parent), and
//! the parent kills what is left by PID when it exits. The death signal is tied to the thread
//! that forked: children are started from the thread that runs the whole program (the
//! current-thread runtime on the main thread), never from a short-lived one.

use std::ffi::OsString;
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How often the parent reaps children that exited.
const POLL: Duration = Duration::from_millis(200);

/// How long children may take to exit by themselves once their work is done (they got `quit`
/// from the master, or the signal the parent forwarded), before SIGTERM, then SIGKILL.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// Set on every child: it then reads its command line only (see `options::sources`).
pub const PROCESSES_CHILD_ENV: &str = "RUSTLOCUST_PROCESSES_CHILD";

/// How long a master may go on once all its local workers have exited (see
/// [`LocalWorkers::alongside`]).
const ORPHAN_GRACE: Duration = Duration::from_secs(5);

/// The environment variable a child reads the shared secret from (never its command line,
/// which other local users can read).
const SECRET_ENV: &str = "RUSTLOCUST_MASTER_SECRET";

/// What `--processes` asks for, made by the options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalWorkersSpec {
    pub count: usize,
    /// A child's arguments except the master's address.
    pub worker_args: Vec<OsString>,
    /// `--master-secret`, passed to the children in their environment.
    pub secret: Option<super::secret::Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessesError {
    #[error("cannot find this program's executable to start worker processes: {0}")]
    CurrentExe(#[source] std::io::Error),
    #[error("cannot start local worker process {index} of {count}: {source}")]
    Spawn {
        index: usize,
        count: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("all {count} local worker processes exited (see the log above) and the master was still running: giving up")]
    AllExited { count: usize },
}

struct Slot {
    index: usize,
    child: Child,
    exit: Option<ExitStatus>,
}

/// The running children. Dropping it kills those still running (by PID) and reaps them.
pub struct LocalWorkers {
    slots: Vec<Slot>,
}

/// Where local workers reach a master bound on `bind_host`: loopback for the wildcard addresses.
pub fn local_master_host(bind_host: &str) -> String {
    match bind_host {
        "*" | "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "::1".to_owned(),
        other => other.to_owned(),
    }
}

impl LocalWorkers {
    /// Starts `spec.count` workers of the master at `master_host:master_port`. On an error the
    /// ones already started are killed.
    pub fn start(
        spec: &LocalWorkersSpec,
        master_host: &str,
        master_port: u16,
    ) -> Result<LocalWorkers, ProcessesError> {
        let exe = std::env::current_exe().map_err(ProcessesError::CurrentExe)?;
        let mut workers = LocalWorkers { slots: Vec::new() };
        for index in 1..=spec.count {
            let mut cmd = Command::new(&exe);
            cmd.args(&spec.worker_args)
                .arg(format!("--master-host={master_host}"))
                .arg(format!("--master-port={master_port}"))
                .env(PROCESSES_CHILD_ENV, "1");
            match &spec.secret {
                Some(secret) => cmd.env(SECRET_ENV, secret.expose()),
                None => cmd.env_remove(SECRET_ENV),
            };
            die_with_parent(&mut cmd);
            let child = cmd.spawn().map_err(|source| ProcessesError::Spawn {
                index,
                count: spec.count,
                source,
            })?;
            log::debug!("started local worker {index} (pid {})", child.id());
            workers.slots.push(Slot {
                index,
                child,
                exit: None,
            });
        }
        log::info!(
            "started {} local worker processes (pids {:?}) for the master at {master_host}:{master_port}",
            spec.count,
            workers.pids()
        );
        Ok(workers)
    }

    pub fn pids(&self) -> Vec<u32> {
        self.slots.iter().map(|s| s.child.id()).collect()
    }

    /// Reaps the children that exited, logging each once with its status; returns how many are
    /// still running.
    pub fn poll(&mut self) -> usize {
        for slot in self.slots.iter_mut().filter(|s| s.exit.is_none()) {
            match slot.child.try_wait() {
                Ok(Some(status)) => {
                    let (index, pid) = (slot.index, slot.child.id());
                    if status.success() {
                        log::info!("local worker {index} (pid {pid}) exited ({status})");
                    } else {
                        log::warn!("local worker {index} (pid {pid}) failed: {status}");
                    }
                    slot.exit = Some(status);
                }
                Ok(None) => {}
                Err(e) => log::warn!("local worker {}: cannot check its state: {e}", slot.index),
            }
        }
        self.running()
    }

    fn running(&self) -> usize {
        self.slots.iter().filter(|s| s.exit.is_none()).count()
    }

    /// Sends `signal` to every child still running, by PID.
    pub fn signal(&self, signal: libc::c_int) {
        for slot in self.slots.iter().filter(|s| s.exit.is_none()) {
            // Not reaped yet, so the PID is still this child's (a zombie at worst).
            unsafe {
                libc::kill(slot.child.id() as libc::pid_t, signal);
            }
        }
    }

    /// Runs `work` (the master) while reaping and logging children that exit meanwhile. When
    /// every child has exited and `work` still goes on after [`ORPHAN_GRACE`], it is given up:
    /// a master waiting for workers that are gone would otherwise wait forever. (After a
    /// normal end the children exit on the master's `quit`, which is its last step.)
    pub async fn alongside<F: Future>(&mut self, work: F) -> Result<F::Output, ProcessesError> {
        tokio::pin!(work);
        let mut all_gone: Option<Instant> = None;
        loop {
            tokio::select! {
                out = &mut work => return Ok(out),
                _ = tokio::time::sleep(POLL) => {
                    if self.poll() > 0 {
                        continue;
                    }
                    let since = *all_gone.get_or_insert_with(Instant::now);
                    if since.elapsed() >= ORPHAN_GRACE {
                        return Err(ProcessesError::AllExited {
                            count: self.slots.len(),
                        });
                    }
                }
            }
        }
    }

    /// Waits up to `limit` for every child to exit; true when none is left.
    pub async fn wait(&mut self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while self.poll() > 0 {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
        true
    }

    /// Ends the children: they get [`EXIT_GRACE`] to exit by themselves (a master's `quit` is
    /// on its way), then SIGTERM and the same grace again, then SIGKILL.
    pub async fn shutdown(&mut self) {
        if self.wait(EXIT_GRACE).await {
            return;
        }
        log::info!("{} local workers still running: SIGTERM", self.running());
        self.signal(libc::SIGTERM);
        if self.wait(EXIT_GRACE).await {
            return;
        }
        log::warn!("{} local workers still running: SIGKILL", self.running());
        self.kill_and_reap();
    }

    /// 0 when every child exited 0; else the largest exit code (1 for a child a signal ended).
    pub fn exit_code(&self) -> i32 {
        self.slots
            .iter()
            .filter_map(|s| s.exit)
            .map(|status| status.code().unwrap_or(1))
            .max()
            .unwrap_or(0)
    }

    fn kill_and_reap(&mut self) {
        self.signal(libc::SIGKILL);
        for slot in self.slots.iter_mut().filter(|s| s.exit.is_none()) {
            match slot.child.wait() {
                Ok(status) => slot.exit = Some(status),
                Err(e) => log::warn!("local worker {}: {e}", slot.index),
            }
        }
    }
}

impl Drop for LocalWorkers {
    fn drop(&mut self) {
        self.poll();
        if self.running() > 0 {
            self.kill_and_reap();
        }
    }
}

/// `--worker --processes N`: supervises the workers until they all exit. SIGINT and SIGTERM are
/// forwarded to them (the children are in their own process group, so a terminal's Ctrl-C
/// reaches them only this way); a third signal kills them. Returns 0, or the worst exit code.
pub async fn supervise(mut workers: LocalWorkers) -> anyhow::Result<i32> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut received = 0;
    loop {
        let forwarded = tokio::select! {
            _ = int.recv() => Some(libc::SIGINT),
            _ = term.recv() => Some(libc::SIGTERM),
            _ = tokio::time::sleep(POLL) => None,
        };
        if let Some(sig) = forwarded {
            received += 1;
            if received >= 3 {
                log::warn!("third signal: killing the local workers");
                workers.kill_and_reap();
            } else {
                log::info!("forwarding signal {sig} to the local workers");
                workers.signal(sig);
            }
        }
        if workers.poll() == 0 {
            return Ok(workers.exit_code());
        }
    }
}

/// Sets up `cmd` so that the child is its own process group and dies with this process.
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe functions
    // (setpgid, prctl, getppid, _exit) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before the death signal was armed.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
            }
            #[cfg(not(target_os = "linux"))]
            let _ = parent;
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_workers_reach_a_wildcard_master_on_loopback() {
        assert_eq!(local_master_host("*"), "127.0.0.1");
        assert_eq!(local_master_host("0.0.0.0"), "127.0.0.1");
        assert_eq!(local_master_host("::"), "::1");
        assert_eq!(local_master_host("10.1.2.3"), "10.1.2.3");
    }
}
