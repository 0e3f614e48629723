//! Run state that scripts read and the test run writes: the node's role (Locust's runner type and
//! worker index), a script's `stop_test()` request and the custom messages it sent
//! (`send_message`) until the front end ships them. One value per test run, captured by the
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

/// Most custom messages waiting to be shipped: the front end drains them every 50 ms, so more
/// means a script sending in a loop; refusing beats growing without bound.
pub const MAX_PENDING_MESSAGES: usize = 10_000;

/// A custom message a script sent: its type, its data (JSON-like, so this layer needs no wire
/// format; the front end encodes it) and, on a master, the one worker it is for (None: all).
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingMessage {
    pub kind: String,
    pub data: serde_json::Value,
    pub to: Option<String>,
}

/// The shared run state of one test run.
#[derive(Debug, Default)]
pub struct RunControl {
    role: RwLock<Role>,
    stop_request: Mutex<Option<String>>,
    outbox: Mutex<Vec<OutgoingMessage>>,
}

impl RunControl {
    pub fn new(role: Role) -> Arc<RunControl> {
        Arc::new(RunControl {
            role: RwLock::new(role),
            stop_request: Mutex::new(None),
            outbox: Mutex::new(Vec::new()),
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

    /// A script's `send_message(kind, data)` (Locust's `runner.send_message`): queued for the
    /// front end, which sends it to the master (on a worker) or to every worker (on a master).
    pub fn send_message(&self, kind: &str, data: serde_json::Value) -> Result<(), String> {
        self.send_message_to(kind, data, None)
    }

    /// `send_message(kind, data, client_id)`: as [`RunControl::send_message`], to the one worker
    /// `to` names (Locust's `client_id`); only a master has workers to choose from.
    pub fn send_message_to(
        &self,
        kind: &str,
        data: serde_json::Value,
        to: Option<String>,
    ) -> Result<(), String> {
        let role = self.role().kind;
        if role == RoleKind::Local {
            return Err(format!(
                "send_message(\"{kind}\", ..) needs a master or a worker: this run is local (start it with --master or --worker)"
            ));
        }
        if let Some(id) = &to {
            if role != RoleKind::Master {
                return Err(format!(
                    "send_message(\"{kind}\", data, \"{id}\"): only a master sends to one worker; a worker's messages go to its master (drop the third argument)"
                ));
            }
        }
        check_message_type(kind)?;
        let mut out = self.outbox.lock();
        if out.len() >= MAX_PENDING_MESSAGES {
            return Err(format!(
                "send_message: {MAX_PENDING_MESSAGES} messages are already waiting to be sent; send fewer"
            ));
        }
        out.push(OutgoingMessage {
            kind: kind.to_owned(),
            data,
            to,
        });
        Ok(())
    }

    /// The messages sent since the last call, oldest first (the front end ships them).
    pub fn take_outbox(&self) -> Vec<OutgoingMessage> {
        std::mem::take(&mut *self.outbox.lock())
    }
}

/// A custom message type must be non-empty and not one of Locust's own (`spawn`, `quit`, ...):
/// sending those would drive the other node, and handlers for them would never run.
pub fn check_message_type(kind: &str) -> Result<(), String> {
    if kind.trim().is_empty() {
        return Err("a message type must not be empty".into());
    }
    if crate::distributed::payload::PROTOCOL_TYPES.contains(&kind) {
        return Err(format!(
            "'{kind}' is a message type of Locust's protocol; pick another name for your own messages"
        ));
    }
    Ok(())
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
    fn messages_need_a_distributed_role_and_a_free_type() {
        let c = RunControl::new(Role::default());
        let err = c.send_message("x", serde_json::Value::Null).unwrap_err();
        assert!(err.contains("needs a master or a worker"), "{err}");
        c.set_role(Role {
            kind: RoleKind::Worker,
            ..Role::default()
        });
        assert!(c.send_message("quit", serde_json::Value::Null).is_err());
        assert!(c.send_message(" ", serde_json::Value::Null).is_err());
        c.send_message("a", 1.into()).unwrap();
        c.send_message("b", 2.into()).unwrap();
        let to_one = c.send_message_to("a", 1.into(), Some("w1".into()));
        assert!(to_one.unwrap_err().contains("only a master"));
        let kinds =
            |out: Vec<OutgoingMessage>| -> Vec<(String, serde_json::Value, Option<String>)> {
                out.into_iter().map(|m| (m.kind, m.data, m.to)).collect()
            };
        assert_eq!(
            kinds(c.take_outbox()),
            vec![("a".into(), 1.into(), None), ("b".into(), 2.into(), None)]
        );
        assert!(c.take_outbox().is_empty());
        c.set_role(Role {
            kind: RoleKind::Master,
            ..Role::default()
        });
        c.send_message_to("c", 3.into(), Some("w1".into())).unwrap();
        assert_eq!(
            kinds(c.take_outbox()),
            vec![("c".into(), 3.into(), Some("w1".into()))]
        );
        for _ in 0..MAX_PENDING_MESSAGES {
            c.send_message("a", serde_json::Value::Null).unwrap();
        }
        assert!(c.send_message("a", serde_json::Value::Null).is_err());
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
