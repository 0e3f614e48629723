//! Locust's wire message: `msgpack.dumps((type, data, node_id))`, a msgpack array of three, with
//! `data` any msgpack value (Python `None`, int map keys, the `__datetime__` map). Decoding is the
//! one place bytes from the network become values, so it is bounded (frame size, nesting depth)
//! and every malformed input is a [`ProtocolError`], never a panic.

use rmpv::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The Locust release whose protocol this module speaks (`client_ready` compares against it).
pub const LOCUST_VERSION: &str = "2.47.0";

/// Locust's default `--master-port` / `--master-bind-port`.
pub const DEFAULT_MASTER_PORT: u16 = 5557;

/// Locust's timers (runners.py), for the run layer that drives these messages.
pub mod timing {
    use std::time::Duration;

    /// A worker's heartbeat cadence; the master answers each one.
    pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
    /// Missed master-side heartbeat checks (1 s apart) before a worker counts as missing.
    pub const HEARTBEAT_LIVENESS: i32 = 3;
    /// A worker quits after this long without a heartbeat from its master.
    pub const MASTER_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(60);
    /// A worker's `stats` report cadence.
    pub const WORKER_REPORT_INTERVAL: Duration = Duration::from_secs(3);
    /// A worker's `logs` cadence.
    pub const WORKER_LOG_REPORT_INTERVAL: Duration = Duration::from_secs(10);
    /// How long a worker waits for `ack` before sending `client_ready` again...
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// ...and how many times before it gives up.
    pub const CONNECT_RETRY_COUNT: u32 = 60;
}

/// Default largest frame accepted. A report of a few thousand busy rows is a few MiB; this leaves
/// room while bounding the memory one message can claim.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Locust's messages nest about five levels (report → stats → entry → dict); anything far deeper
/// is hostile, and the decoder recurses once per level.
const MAX_DEPTH: usize = 64;

/// Why bytes or a value are not a usable Locust message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    #[error("frame of {size} bytes exceeds the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("truncated msgpack")]
    Truncated,
    #[error("msgpack nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("malformed msgpack: {0}")]
    Malformed(String),
    #[error("{0} bytes after the message (Locust's ExtraData)")]
    TrailingBytes(usize),
    #[error("not a Locust message: {0}")]
    Shape(String),
    #[error("bad `{kind}` payload: {reason}")]
    Payload { kind: String, reason: String },
    #[error("cannot encode `{kind}`: {reason}")]
    Encode { kind: String, reason: String },
}

/// One message: `kind` is Locust's `type` ("heartbeat", "stats", or any custom name), `node_id`
/// is the worker's id in both directions (the sender's own on a worker, the target's on a master).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: String,
    pub data: Value,
    pub node_id: String,
}

impl Message {
    pub fn new(kind: impl Into<String>, data: Value, node_id: impl Into<String>) -> Self {
        Message {
            kind: kind.into(),
            data,
            node_id: node_id.into(),
        }
    }

    /// The bytes Locust's `Message.serialize()` produces for the same message.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let fail = |e: &dyn std::fmt::Display| ProtocolError::Encode {
            kind: self.kind.clone(),
            reason: e.to_string(),
        };
        let mut out = Vec::with_capacity(64);
        rmp::encode::write_array_len(&mut out, 3).map_err(|e| fail(&e))?;
        rmp::encode::write_str(&mut out, &self.kind).map_err(|e| fail(&e))?;
        rmpv::encode::write_value(&mut out, &self.data).map_err(|e| fail(&e))?;
        rmp::encode::write_str(&mut out, &self.node_id).map_err(|e| fail(&e))?;
        Ok(out)
    }

    /// Reads one frame. Like Locust's `unserialize`, any map key type is accepted and trailing
    /// bytes are an error; unlike it, size and depth are bounded.
    pub fn decode(bytes: &[u8], max_frame_bytes: usize) -> Result<Message, ProtocolError> {
        if bytes.len() > max_frame_bytes {
            return Err(ProtocolError::TooLarge {
                size: bytes.len(),
                max: max_frame_bytes,
            });
        }
        let mut rest = bytes;
        let value =
            rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH).map_err(decode_error)?;
        if !rest.is_empty() {
            return Err(ProtocolError::TrailingBytes(rest.len()));
        }
        let Value::Array(items) = value else {
            return Err(ProtocolError::Shape(format!(
                "expected [type, data, node_id], got {}",
                describe(&value)
            )));
        };
        let Ok([kind, data, node_id]) = <[Value; 3]>::try_from(items) else {
            return Err(ProtocolError::Shape("expected an array of 3".into()));
        };
        Ok(Message {
            kind: text(kind, "type")?,
            data,
            node_id: text(node_id, "node_id")?,
        })
    }

    /// A message whose data is `payload` serialized the way Python would (structs as maps).
    pub fn with<T: Serialize>(
        kind: impl Into<String>,
        payload: &T,
        node_id: impl Into<String>,
    ) -> Result<Message, ProtocolError> {
        let kind = kind.into();
        let data = to_value(payload).map_err(|reason| ProtocolError::Encode {
            kind: kind.clone(),
            reason,
        })?;
        Ok(Message::new(kind, data, node_id))
    }

    /// The data as a typed payload.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ProtocolError> {
        from_value(&self.kind, self.data.clone())
    }
}

fn decode_error(e: rmpv::decode::Error) -> ProtocolError {
    match e {
        rmpv::decode::Error::DepthLimitExceeded => ProtocolError::TooDeep,
        e if e.kind() == std::io::ErrorKind::UnexpectedEof => ProtocolError::Truncated,
        e => ProtocolError::Malformed(e.to_string()),
    }
}

fn text(v: Value, what: &str) -> Result<String, ProtocolError> {
    match v {
        Value::String(s) => s
            .into_str()
            .ok_or_else(|| ProtocolError::Shape(format!("{what} is not valid UTF-8"))),
        other => Err(ProtocolError::Shape(format!(
            "{what} is {}, not a string",
            describe(&other)
        ))),
    }
}

/// A short name of a value's msgpack type, for error messages.
pub(crate) fn describe(v: &Value) -> &'static str {
    match v {
        Value::Nil => "None",
        Value::Boolean(_) => "a bool",
        Value::Integer(_) => "an integer",
        Value::F32(_) | Value::F64(_) => "a float",
        Value::String(_) => "a string",
        Value::Binary(_) => "bytes",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Ext(..) => "an extension",
    }
}

/// Serializes like Python's msgpack would: structs become maps keyed by field name (not arrays,
/// which is what `rmp_serde::to_vec` and `rmpv::ext::to_value` produce).
pub(crate) fn to_value<T: Serialize>(payload: &T) -> Result<Value, String> {
    let bytes = rmp_serde::to_vec_named(payload).map_err(|e| e.to_string())?;
    rmpv::decode::read_value(&mut bytes.as_slice()).map_err(|e| e.to_string())
}

pub(crate) fn from_value<T: DeserializeOwned>(kind: &str, v: Value) -> Result<T, ProtocolError> {
    rmpv::ext::from_value(v).map_err(|e| ProtocolError::Payload {
        kind: kind.to_owned(),
        reason: e.to_string(),
    })
}

/// Looks a string key up in a msgpack map.
pub fn map_get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Python's `datetime` as Locust encodes it: `{"__datetime__": True, "as_str": "%Y%m%dT%H:%M:%S.%f"}`.
pub fn python_datetime(v: &Value) -> Option<chrono::NaiveDateTime> {
    map_get(v, "__datetime__")?.as_bool().filter(|&b| b)?;
    let text = map_get(v, "as_str")?.as_str()?;
    chrono::NaiveDateTime::parse_from_str(text, "%Y%m%dT%H:%M:%S%.f").ok()
}

/// The map Locust decodes back into a Python `datetime`.
pub fn python_datetime_value(dt: chrono::NaiveDateTime) -> Value {
    Value::Map(vec![
        (Value::from("__datetime__"), Value::Boolean(true)),
        (
            Value::from("as_str"),
            Value::from(dt.format("%Y%m%dT%H:%M:%S%.6f").to_string()),
        ),
    ])
}

/// What a master makes of a worker's `client_ready` data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionCheck {
    /// The same version, or `-1` (third-party workers skip the check).
    Accepted,
    /// Same major.minor, another patch: Locust logs this at debug level.
    PatchDiffers(String),
    /// Another major.minor: Locust warns but still accepts the worker.
    Differs(String),
    /// A falsy version (pre-2.0 workers sent None): Locust refuses the worker.
    Refused,
}

/// Locust's `client_ready` rule against `master_version` (e.g. [`LOCUST_VERSION`]).
pub fn check_client_version(data: &Value, master_version: &str) -> VersionCheck {
    let major_minor = |v: &str| -> String { v.split('.').take(2).collect::<Vec<_>>().join(".") };
    match data {
        Value::Integer(i) if i.as_i64() == Some(-1) => VersionCheck::Accepted,
        Value::String(s) => match s.as_str() {
            None | Some("") => VersionCheck::Refused,
            Some(v) if v == master_version => VersionCheck::Accepted,
            Some(v) if major_minor(v) == major_minor(master_version) => {
                VersionCheck::PatchDiffers(v.to_owned())
            }
            Some(v) => VersionCheck::Differs(v.to_owned()),
        },
        // Python truthiness: None, False, 0, 0.0 and empty containers are falsy.
        Value::Nil | Value::Boolean(false) => VersionCheck::Refused,
        Value::Integer(i) if i.as_i64() == Some(0) => VersionCheck::Refused,
        Value::F32(f) if *f == 0.0 => VersionCheck::Refused,
        Value::F64(f) if *f == 0.0 => VersionCheck::Refused,
        Value::Array(a) if a.is_empty() => VersionCheck::Refused,
        Value::Map(m) if m.is_empty() => VersionCheck::Refused,
        Value::Binary(b) if b.is_empty() => VersionCheck::Refused,
        other => VersionCheck::Differs(other.to_string()),
    }
}

/// A node id like Locust's: `hostname + "_" + uuid4().hex`. The master treats the part before
/// the first `_` as the host name when spreading users over hosts.
pub fn new_node_id() -> String {
    let hex = crate::uuid::v4(rand::random()).replace('-', "");
    format!("{}_{hex}", hostname())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match (rc, std::str::from_utf8(&buf[..end])) {
        (0, Ok(name)) if !name.is_empty() => name.to_owned(),
        _ => "localhost".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_bytes_match_locust_capture() {
        // locust.md 1.2: 93 a9"heartbeat" 83{state:"running", current_cpu_usage:1.5, current_memory_usage:123} a5"h_abc"
        let data = Value::Map(vec![
            (Value::from("state"), Value::from("running")),
            (Value::from("current_cpu_usage"), Value::F64(1.5)),
            (Value::from("current_memory_usage"), Value::from(123)),
        ]);
        let bytes = Message::new("heartbeat", data, "h_abc").encode();
        let mut want = vec![0x93, 0xa9];
        want.extend_from_slice(b"heartbeat");
        want.extend_from_slice(&[0x83, 0xa5]);
        want.extend_from_slice(b"state");
        want.push(0xa7);
        want.extend_from_slice(b"running");
        want.push(0xb1);
        want.extend_from_slice(b"current_cpu_usage");
        want.push(0xcb);
        want.extend_from_slice(&1.5f64.to_be_bytes());
        want.push(0xb4);
        want.extend_from_slice(b"current_memory_usage");
        want.extend_from_slice(&[0x7b, 0xa5]);
        want.extend_from_slice(b"h_abc");
        assert_eq!(bytes.as_ref(), Ok(&want));
        let back = Message::decode(&want, DEFAULT_MAX_FRAME_BYTES);
        assert_eq!(back.map(|m| m.kind), Ok("heartbeat".to_owned()));
    }

    #[test]
    fn decode_rejects_wrong_shapes_with_typed_errors() {
        let enc = |v: &Value| {
            let mut out = Vec::new();
            let _ = rmpv::encode::write_value(&mut out, v);
            out
        };
        let max = DEFAULT_MAX_FRAME_BYTES;
        let two = enc(&Value::Array(vec![Value::from("a"), Value::Nil]));
        assert!(matches!(
            Message::decode(&two, max),
            Err(ProtocolError::Shape(_))
        ));
        let int_kind = enc(&Value::Array(vec![
            Value::from(1),
            Value::Nil,
            Value::from("n"),
        ]));
        assert!(matches!(
            Message::decode(&int_kind, max),
            Err(ProtocolError::Shape(_))
        ));
        let ok = enc(&Value::Array(vec![
            Value::from("a"),
            Value::Nil,
            Value::from("n"),
        ]));
        let mut extra = ok.clone();
        extra.push(0xc0);
        assert_eq!(
            Message::decode(&extra, max),
            Err(ProtocolError::TrailingBytes(1))
        );
        assert_eq!(
            Message::decode(&ok[..ok.len() - 1], max),
            Err(ProtocolError::Truncated)
        );
        assert_eq!(
            Message::decode(&ok, 3),
            Err(ProtocolError::TooLarge {
                size: ok.len(),
                max: 3
            })
        );
        let deep = vec![0x91; 10_000];
        assert_eq!(Message::decode(&deep, max), Err(ProtocolError::TooDeep));
    }

    #[test]
    fn datetime_maps_round_trip() {
        let dt = chrono::NaiveDate::from_ymd_opt(2024, 2, 29)
            .and_then(|d| d.and_hms_micro_opt(13, 5, 7, 123_456));
        let v = dt.map(python_datetime_value);
        assert_eq!(
            v.as_ref()
                .and_then(|v| map_get(v, "as_str"))
                .and_then(|s| s.as_str()),
            Some("20240229T13:05:07.123456")
        );
        assert_eq!(v.as_ref().and_then(python_datetime), dt);
        assert_eq!(python_datetime(&Value::from("x")), None);
    }

    #[test]
    fn version_check_follows_locust() {
        let check = |v: Value| check_client_version(&v, "2.47.0");
        assert_eq!(check(Value::from("2.47.0")), VersionCheck::Accepted);
        assert_eq!(check(Value::from(-1)), VersionCheck::Accepted);
        assert_eq!(
            check(Value::from("2.47.3")),
            VersionCheck::PatchDiffers("2.47.3".into())
        );
        assert_eq!(
            check(Value::from("2.4.1")),
            VersionCheck::Differs("2.4.1".into())
        );
        for falsy in [
            Value::Nil,
            Value::from(""),
            Value::from(0),
            Value::Boolean(false),
        ] {
            assert_eq!(check(falsy), VersionCheck::Refused);
        }
    }

    #[test]
    fn node_id_looks_like_locusts() {
        let id = new_node_id();
        let (host, hex) = id.rsplit_once('_').unwrap_or_default();
        assert!(!host.is_empty());
        assert_eq!(hex.len(), 32);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
