//! Run state that scripts read and the test run writes: the node's role (Locust's runner type and
//! worker index) and a script's `stop_test()` request. One value per test run, captured by the
//! engine's functions when the scenario is compiled — no process-wide statics, so a worker that
//! reconnects, or two runs in one process (tests), never see each other's state.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

/// Which kind of node this process is, in Locust's terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoleKind {
    #[default]
    Local,
    Master,
    Worker,
}

impl RoleKind {
    /// The name scripts see (`runner_role()`).
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Local => "local",
            RoleKind::Master => "master",
            RoleKind::Worker => "worker",
        }
    }
}

/// The node's role as scripts see it. Local runs keep the default; distributed mode fills in
/// master/worker and the worker index when it connects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Role {
    pub kind: RoleKind,
    pub worker_index: i64,
    pub worker_count: i64,
}

/// The shared run state of one test run.
#[derive(Debug, Default)]
pub struct RunControl {
    role: RwLock<Role>,
    stop_request: Mutex<Option<String>>,
}

impl RunControl {
    pub fn new(role: Role) -> Arc<RunControl> {
        Arc::new(RunControl {
            role: RwLock::new(role),
            stop_request: Mutex::new(None),
        })
    }

    pub fn role(&self) -> Role {
        *self.role.read()
    }

    pub fn set_role(&self, role: Role) {
        *self.role.write() = role;
    }

    /// A script's `stop_test(reason)`; the first request wins until the run takes it.
    pub fn request_stop(&self, reason: String) {
        self.stop_request.lock().get_or_insert(reason);
    }

    /// The pending stop request, if any (the test run's control loop asks once per tick).
    pub fn take_stop_request(&self) -> Option<String> {
        self.stop_request.lock().take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_stop_request_wins_until_taken() {
        let c = RunControl::new(Role::default());
        assert_eq!(c.take_stop_request(), None);
        c.request_stop("a".into());
        c.request_stop("b".into());
        assert_eq!(c.take_stop_request().as_deref(), Some("a"));
        assert_eq!(c.take_stop_request(), None);
    }

    #[test]
    fn role_is_per_value() {
        let (a, b) = (RunControl::new(Role::default()), RunControl::default());
        a.set_role(Role {
            kind: RoleKind::Worker,
            worker_index: 3,
            worker_count: 4,
        });
        assert_eq!(a.role().kind.as_str(), "worker");
        assert_eq!(b.role(), Role::default());
    }
}
