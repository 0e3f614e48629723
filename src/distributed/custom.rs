//! Custom messages (Locust's `send_message` / `register_message`): a script's data on the way out
//! (JSON-like, as `RunControl`'s outbox holds it) becomes msgpack, and msgpack from the other
//! node becomes the script value its `on_message` handler gets. Python sends what msgpack can
//! carry: `None`, integer map keys, bytes, the `__datetime__` map; each has a script form here.

use rhai::{Array, Blob, Dynamic, Map};
use rmpv::Value;

/// A script's message data as msgpack (what Python's `msgpack.loads` reads back as the same
/// dicts, lists, strings and numbers).
pub fn json_to_msgpack(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::Array(items.iter().map(json_to_msgpack).collect())
        }
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), json_to_msgpack(v)))
                .collect(),
        ),
    }
}

/// Message data from the other node as a script value: maps keep their entries with keys as
/// strings (Python's integer keys become `"7"`), bytes become a blob, integers beyond `i64`
/// become floats, and msgpack extension values (which Locust never sends) become `()`.
/// Depth is bounded by the decoder (see `protocol`), so the recursion is too.
pub fn msgpack_to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Nil | Value::Ext(..) => Dynamic::UNIT,
        Value::Boolean(b) => Dynamic::from_bool(*b),
        Value::Integer(i) => match i.as_i64() {
            Some(n) => Dynamic::from_int(n),
            None => Dynamic::from_float(i.as_f64().unwrap_or(0.0)),
        },
        Value::F32(f) => Dynamic::from_float(f64::from(*f)),
        Value::F64(f) => Dynamic::from_float(*f),
        Value::String(s) => Dynamic::from(text(s)),
        Value::Binary(b) => Dynamic::from_blob(Blob::from(b.as_slice())),
        Value::Array(items) => {
            Dynamic::from_array(items.iter().map(msgpack_to_dynamic).collect::<Array>())
        }
        Value::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                let key = match k {
                    Value::String(s) => text(s),
                    other => other.to_string(),
                };
                m.insert(key.into(), msgpack_to_dynamic(v));
            }
            Dynamic::from_map(m)
        }
    }
}

/// A msgpack string as text, invalid UTF-8 replaced rather than refused.
fn text(s: &rmpv::Utf8String) -> String {
    match s.as_str() {
        Some(t) => t.to_owned(),
        None => String::from_utf8_lossy(s.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_data_becomes_msgpack() {
        let json =
            serde_json::json!({"n": 3, "big": u64::MAX, "x": 0.5, "s": "t", "l": [true, null]});
        let v = json_to_msgpack(&json);
        let get = |k: &str| crate::distributed::protocol::map_get(&v, k).cloned();
        assert_eq!(get("n"), Some(Value::from(3)));
        assert_eq!(get("big"), Some(Value::from(u64::MAX)));
        assert_eq!(get("x"), Some(Value::F64(0.5)));
        assert_eq!(get("s"), Some(Value::from("t")));
        assert_eq!(
            get("l"),
            Some(Value::Array(vec![Value::Boolean(true), Value::Nil]))
        );
    }

    #[test]
    fn msgpack_becomes_script_values() {
        // A msgpack str holding "f" and a byte that is not UTF-8.
        let invalid_utf8 = rmpv::decode::read_value(&mut &[0xa2, 0x66, 0xff][..]).unwrap();
        let v = Value::Map(vec![
            (Value::from(7), Value::from("seven")),
            (Value::from("none"), Value::Nil),
            (Value::from("bin"), Value::Binary(vec![1, 2])),
            (Value::from("huge"), Value::from(u64::MAX)),
            (Value::from("list"), Value::Array(vec![Value::F32(1.5)])),
            (Value::from("bad"), invalid_utf8),
        ]);
        let d = msgpack_to_dynamic(&v);
        let m = d.cast::<Map>();
        assert_eq!(m["7"].clone().into_string().unwrap(), "seven");
        assert!(m["none"].is_unit());
        assert_eq!(m["bin"].clone().cast::<Blob>(), vec![1, 2]);
        assert_eq!(m["huge"].as_float().unwrap(), u64::MAX as f64);
        assert_eq!(
            m["list"].clone().cast::<Array>()[0].as_float().unwrap(),
            1.5
        );
        assert_eq!(m["bad"].clone().into_string().unwrap(), "f\u{fffd}");
    }
}
