//! Typed payloads of Locust's message catalogue (locust.md §1.3) and [`Payload`], the decoded form
//! of a [`Message`]. Field names and order are Locust's, so serializing a payload gives the dict
//! Python would send; fields Locust may omit or send as `None` are `Option`s or defaulted.

use std::collections::BTreeMap;

use rmpv::Value;
use serde::{Deserialize, Serialize};

use super::protocol::{describe, from_value, to_value, Message, ProtocolError};
use super::report::StatsReport;

/// A worker's state as its heartbeat reports it. A worker says `ready` until its first spawn:
/// a master waiting for workers counts only those.
// Through strings: msgpack-rust's value deserializer has no string-to-enum path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum WorkerState {
    Ready,
    Spawning,
    Running,
    Cleanup,
    Stopping,
    Stopped,
    Missing,
    /// Any state this version does not know; kept so a newer peer does not break decoding.
    Unknown,
}

const WORKER_STATES: [(WorkerState, &str); 8] = [
    (WorkerState::Ready, "ready"),
    (WorkerState::Spawning, "spawning"),
    (WorkerState::Running, "running"),
    (WorkerState::Cleanup, "cleanup"),
    (WorkerState::Stopping, "stopping"),
    (WorkerState::Stopped, "stopped"),
    (WorkerState::Missing, "missing"),
    (WorkerState::Unknown, "unknown"),
];

impl WorkerState {
    /// Locust's name of the state.
    pub fn as_str(self) -> &'static str {
        WORKER_STATES
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("unknown", |(_, name)| name)
    }
}

impl From<String> for WorkerState {
    fn from(name: String) -> Self {
        WORKER_STATES
            .iter()
            .find(|(_, n)| *n == name)
            .map_or(WorkerState::Unknown, |(s, _)| *s)
    }
}

impl From<WorkerState> for String {
    fn from(state: WorkerState) -> Self {
        state.as_str().to_owned()
    }
}

/// `heartbeat` data from a worker (the master answers with `None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub state: WorkerState,
    /// Percent of one core (psutil's process `cpu_percent()`).
    #[serde(default)]
    pub current_cpu_usage: f64,
    /// Resident set size in bytes.
    #[serde(default)]
    pub current_memory_usage: u64,
}

/// `client_ready` data: Locust's `__version__`, or `-1` to skip the master's version check (what
/// third-party workers send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientReady {
    Version(String),
    AnyVersion,
}

/// `ack` data; masters up to 2.10.2 sent no index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    #[serde(default)]
    pub index: Option<i64>,
}

/// `spawn` data: the absolute number of users of each class this worker should run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spawn {
    pub timestamp: f64,
    pub user_classes_count: BTreeMap<String, u64>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub stop_timeout: Option<f64>,
    /// `vars(options)` of the master: every option, whatever its type.
    #[serde(default = "nil")]
    pub parsed_options: Value,
}

fn nil() -> Value {
    Value::Nil
}

/// `spawning_complete`: a worker sends both fields, a master only `user_count`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawningComplete {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_classes_count: Option<BTreeMap<String, u64>>,
    pub user_count: u64,
}

/// `exception`: an error raised in a user's task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionReport {
    pub msg: String,
    pub traceback: String,
}

/// `logs`: the worker's whole log buffer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logs {
    pub worker_id: String,
    pub logs: Vec<String>,
}

/// `update_user_class`: new attribute values for one user class (from the web UI).
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateUserClass {
    pub user_class_name: String,
    /// Every other key (`tasks`, `wait_time`-like attributes...), in the order sent.
    pub attributes: Vec<(String, Value)>,
}

/// The message types of Locust's own protocol (including the `locustfile` request, which
/// rustlocust does not serve): a script can neither send nor handle them as custom messages.
pub const PROTOCOL_TYPES: [&str; 15] = [
    "client_ready",
    "ack",
    "heartbeat",
    "spawn",
    "spawning",
    "spawning_complete",
    "stats",
    "exception",
    "client_stopped",
    "stop",
    "quit",
    "reconnect",
    "update_user_class",
    "logs",
    "locustfile",
];

/// A decoded message of the catalogue; unknown types are [`Payload::Custom`].
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    ClientReady(ClientReady),
    Ack(Ack),
    /// `Some` from a worker, `None` from a master.
    Heartbeat(Option<Heartbeat>),
    Spawn(Spawn),
    Spawning,
    SpawningComplete(SpawningComplete),
    Stats(Box<StatsReport>),
    Exception(ExceptionReport),
    ClientStopped,
    Stop,
    Quit,
    Reconnect,
    UpdateUserClass(UpdateUserClass),
    Logs(Logs),
    /// Any other type (`register_message` on either side): data as sent.
    Custom {
        kind: String,
        data: Value,
    },
}

impl Payload {
    /// Locust's `type` string of this payload.
    pub fn kind(&self) -> &str {
        match self {
            Payload::ClientReady(_) => "client_ready",
            Payload::Ack(_) => "ack",
            Payload::Heartbeat(_) => "heartbeat",
            Payload::Spawn(_) => "spawn",
            Payload::Spawning => "spawning",
            Payload::SpawningComplete(_) => "spawning_complete",
            Payload::Stats(_) => "stats",
            Payload::Exception(_) => "exception",
            Payload::ClientStopped => "client_stopped",
            Payload::Stop => "stop",
            Payload::Quit => "quit",
            Payload::Reconnect => "reconnect",
            Payload::UpdateUserClass(_) => "update_user_class",
            Payload::Logs(_) => "logs",
            Payload::Custom { kind, .. } => kind,
        }
    }

    /// The message carrying this payload (`node_id`: see [`Message::node_id`]).
    pub fn to_message(&self, node_id: &str) -> Result<Message, ProtocolError> {
        let kind = self.kind();
        let encode = |reason: String| ProtocolError::Encode {
            kind: kind.to_owned(),
            reason,
        };
        let data = match self {
            Payload::ClientReady(ClientReady::Version(v)) => Value::from(v.as_str()),
            Payload::ClientReady(ClientReady::AnyVersion) => Value::from(-1),
            Payload::Ack(a) => to_value(a).map_err(encode)?,
            Payload::Heartbeat(Some(h)) => to_value(h).map_err(encode)?,
            Payload::Spawn(s) => to_value(s).map_err(encode)?,
            Payload::SpawningComplete(s) => to_value(s).map_err(encode)?,
            Payload::Stats(r) => r.to_value().map_err(encode)?,
            Payload::Exception(e) => to_value(e).map_err(encode)?,
            Payload::Logs(l) => to_value(l).map_err(encode)?,
            Payload::UpdateUserClass(u) => {
                let mut map = vec![(
                    Value::from("user_class_name"),
                    Value::from(u.user_class_name.as_str()),
                )];
                map.extend(
                    u.attributes
                        .iter()
                        .map(|(k, v)| (Value::from(k.as_str()), v.clone())),
                );
                Value::Map(map)
            }
            Payload::Custom { data, .. } => data.clone(),
            Payload::Heartbeat(None)
            | Payload::Spawning
            | Payload::ClientStopped
            | Payload::Stop
            | Payload::Quit
            | Payload::Reconnect => Value::Nil,
        };
        Ok(Message::new(kind, data, node_id))
    }

    /// Decodes a message's data by its type. A known type with the wrong data is an error (the
    /// caller still has the raw message); an unknown type is [`Payload::Custom`].
    pub fn from_message(msg: Message) -> Result<Payload, ProtocolError> {
        let Message { kind, data, .. } = msg;
        let payload = match kind.as_str() {
            "client_ready" => Payload::ClientReady(match &data {
                Value::Integer(i) if i.as_i64() == Some(-1) => ClientReady::AnyVersion,
                Value::String(s) if s.as_str().is_some_and(|s| !s.is_empty()) => {
                    ClientReady::Version(s.as_str().unwrap_or_default().to_owned())
                }
                other => return Err(wrong(&kind, "a version string or -1", other)),
            }),
            "ack" if data.is_nil() => Payload::Ack(Ack::default()),
            "ack" => Payload::Ack(from_value(&kind, data)?),
            "heartbeat" if data.is_nil() => Payload::Heartbeat(None),
            "heartbeat" => Payload::Heartbeat(Some(from_value(&kind, data)?)),
            "spawn" => Payload::Spawn(from_value(&kind, data)?),
            "spawning" => Payload::Spawning,
            "spawning_complete" => Payload::SpawningComplete(from_value(&kind, data)?),
            "stats" => Payload::Stats(Box::new(StatsReport::from_value(data)?)),
            "exception" => Payload::Exception(from_value(&kind, data)?),
            "client_stopped" => Payload::ClientStopped,
            "stop" => Payload::Stop,
            "quit" => Payload::Quit,
            "reconnect" => Payload::Reconnect,
            "logs" => Payload::Logs(from_value(&kind, data)?),
            "update_user_class" => {
                let Value::Map(entries) = data else {
                    return Err(wrong(&kind, "a map", &data));
                };
                let mut name = None;
                let mut attributes = Vec::new();
                for (k, v) in entries {
                    match (k.as_str(), v) {
                        (Some("user_class_name"), Value::String(s)) => name = s.into_str(),
                        (Some(k), v) => attributes.push((k.to_owned(), v)),
                        (None, _) => return Err(wrong(&kind, "string keys", &k)),
                    }
                }
                Payload::UpdateUserClass(UpdateUserClass {
                    user_class_name: name
                        .ok_or_else(|| wrong(&kind, "user_class_name", &Value::Nil))?,
                    attributes,
                })
            }
            _ => Payload::Custom { kind, data },
        };
        Ok(payload)
    }
}

fn wrong(kind: &str, expected: &str, got: &Value) -> ProtocolError {
    ProtocolError::Payload {
        kind: kind.to_owned(),
        reason: format!("expected {expected}, got {}", describe(got)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::protocol::DEFAULT_MAX_FRAME_BYTES;

    fn round_trip(p: Payload) -> Result<Payload, ProtocolError> {
        let bytes = p.to_message("node_1")?.encode()?;
        Payload::from_message(Message::decode(&bytes, DEFAULT_MAX_FRAME_BYTES)?)
    }

    #[test]
    fn every_catalogue_type_round_trips() {
        let classes: BTreeMap<String, u64> = [("MyUser".to_owned(), 2)].into();
        let cases = vec![
            Payload::ClientReady(ClientReady::Version("2.47.0".into())),
            Payload::ClientReady(ClientReady::AnyVersion),
            Payload::Ack(Ack { index: Some(3) }),
            Payload::Heartbeat(None),
            Payload::Heartbeat(Some(Heartbeat {
                state: WorkerState::Ready,
                current_cpu_usage: 12.5,
                current_memory_usage: 1 << 30,
            })),
            Payload::Spawn(Spawn {
                timestamp: 1_700_000_000.25,
                user_classes_count: classes.clone(),
                host: None,
                stop_timeout: Some(1.5),
                parsed_options: Value::Map(vec![(Value::from("tags"), Value::Nil)]),
            }),
            Payload::Spawning,
            Payload::SpawningComplete(SpawningComplete {
                user_classes_count: Some(classes),
                user_count: 2,
            }),
            Payload::SpawningComplete(SpawningComplete {
                user_classes_count: None,
                user_count: 9,
            }),
            Payload::Exception(ExceptionReport {
                msg: "boom".into(),
                traceback: "tb".into(),
            }),
            Payload::ClientStopped,
            Payload::Stop,
            Payload::Quit,
            Payload::Reconnect,
            Payload::UpdateUserClass(UpdateUserClass {
                user_class_name: "MyUser".into(),
                attributes: vec![("tasks".into(), Value::Array(vec![Value::from("t")]))],
            }),
            Payload::Logs(Logs {
                worker_id: "w".into(),
                logs: vec!["a".into()],
            }),
            Payload::Custom {
                kind: "my_type".into(),
                data: Value::Map(vec![(Value::from(7), Value::F64(0.5))]),
            },
        ];
        for p in cases {
            let custom = matches!(p, Payload::Custom { .. });
            assert_eq!(PROTOCOL_TYPES.contains(&p.kind()), !custom, "{}", p.kind());
            assert_eq!(round_trip(p.clone()), Ok(p));
        }
    }

    #[test]
    fn tolerant_of_what_locust_sends() {
        let unknown_state = Message::new(
            "heartbeat",
            Value::Map(vec![(Value::from("state"), Value::from("hatching"))]),
            "n",
        );
        let p = Payload::from_message(unknown_state);
        assert!(matches!(
            p,
            Ok(Payload::Heartbeat(Some(Heartbeat {
                state: WorkerState::Unknown,
                ..
            })))
        ));
        assert_eq!(
            Payload::from_message(Message::new("ack", Value::Nil, "n")),
            Ok(Payload::Ack(Ack { index: None }))
        );
        let bad = Payload::from_message(Message::new("spawn", Value::from(1), "n"));
        assert!(matches!(bad, Err(ProtocolError::Payload { .. })));
        let old = Payload::from_message(Message::new("client_ready", Value::Nil, "n"));
        assert!(matches!(old, Err(ProtocolError::Payload { .. })));
    }
}
