//! The open-file limit: every simulated user holds at least one connection, so a few thousand
//! users can exhaust a default soft limit of 1024 and requests then fail with EMFILE. As Locust
//! does, the soft limit is raised to the hard limit at start; a test asking for more users than
//! the limit can carry gets a warning before it starts.

// rlim_t is u64 on Linux but not everywhere.
#![allow(clippy::unnecessary_cast)]

use std::sync::atomic::{AtomicU64, Ordering};

/// Descriptors the process needs besides its users' connections: stdio, the report files
/// (kept open or rewritten every second), the web UI's listener and clients, the runtime's
/// epoll and event fds per worker thread, a master's sockets.
pub const RESERVED_FDS: u64 = 128;

/// The soft and hard `RLIMIT_NOFILE` (`None` where there is no such limit).
pub fn limits() -> Option<(u64, u64)> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return None;
    }
    Some((rl.rlim_cur as u64, rl.rlim_max as u64))
}

/// Raises the soft open-file limit to the hard one; returns the soft limit in force afterwards.
/// A hard limit of "unlimited" is not a value Linux accepts for the soft one, so the kernel's own
/// ceiling is tried then; the old limit stays if that fails.
pub fn raise_to_hard() -> Option<u64> {
    let (soft, hard) = limits()?;
    if soft >= hard {
        return Some(soft);
    }
    let target = if hard == libc::RLIM_INFINITY as u64 {
        nr_open().unwrap_or(1 << 20)
    } else {
        hard
    };
    let rl = libc::rlimit {
        rlim_cur: target as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) } == 0 {
        log::debug!("raised the open-file limit from {soft} to {target}");
        return Some(target);
    }
    Some(soft)
}

fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The warning for a test of `users` users under a soft limit of `limit` open files, if they
/// may not fit: each user keeps at least one connection open.
pub fn users_warning(users: u64, limit: u64) -> Option<String> {
    let need = users.saturating_add(RESERVED_FDS);
    (need > limit).then(|| {
        format!(
            "{users} users need about {need} open files (a connection each, plus {RESERVED_FDS} \
             for the process) but the open-file limit is {limit}: requests will fail with \
             'Too many open files'. Raise the limit (`ulimit -n`, or the hard limit in \
             /etc/security/limits.conf or systemd's LimitNOFILE) or run fewer users per process \
             (--master with workers)"
        )
    })
}

/// The largest user count warned about: the limit is the process's, so one warning per new
/// high is enough (a worker gets its counts again with every spawn message).
static WARNED_USERS: AtomicU64 = AtomicU64::new(0);

/// Logs [`users_warning`] before users are started on this process, once per new high.
pub fn warn_if_short(users: u64) {
    let Some((soft, _)) = limits() else { return };
    if let Some(w) = users_warning(users, soft) {
        if WARNED_USERS.fetch_max(users, Ordering::Relaxed) < users {
            log::warn!("{w}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_when_users_do_not_fit() {
        assert_eq!(users_warning(100, 1024), None);
        assert_eq!(users_warning(1024 - RESERVED_FDS, 1024), None);
        let w = users_warning(3000, 1024).unwrap_or_default();
        assert!(w.contains("3000 users need about 3128 open files"), "{w}");
        assert!(w.contains("limit is 1024"), "{w}");
        assert!(users_warning(u64::MAX, u64::MAX - 1).is_some());
    }

    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let raised = raise_to_hard();
        if let (Some(now), Some((soft, hard))) = (raised, limits()) {
            assert_eq!(now, soft);
            assert!(
                soft == hard || hard == libc::RLIM_INFINITY as u64,
                "{soft} {hard}"
            );
        }
    }
}
