//! `POST /swarm`: start a test or re-target the running one. The body is form-urlencoded (as the
//! UI and Locust's clients send it) or a JSON object; values are read the way Locust's Python
//! reads them (`int()`, `float()`, its timespan parser) and rejected with Locust's messages,
//! before any command reaches the controller.

use crate::pyfmt::py_repr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::ask;
use crate::web::{Command, Load, WebState};

/// The most users one `/swarm` may ask for (Locust has no limit; this guards the process).
pub const MAX_USERS: u64 = 10_000_000;

/// Why a `/swarm` request was refused; the messages are Locust's where Locust has one.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SwarmError {
    #[error("Invalid user_count value: {0} (must be an integer)")]
    InvalidUserCount(String),
    #[error("Invalid user_count value: {0} (must be at most {MAX_USERS})")]
    TooManyUsers(String),
    #[error("Invalid spawn_rate value: {0} (must be a number)")]
    InvalidSpawnRate(String),
    #[error("Missing or invalid user_count or spawn_rate from /swarm request")]
    MissingOrInvalid,
    #[error("Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.")]
    InvalidRunTime,
    #[error("Invalid {field} value: {value} (must be a string)")]
    NotText { field: String, value: String },
    #[error("Invalid /swarm request body: {0}")]
    BadBody(String),
}

/// One submitted value: text (every form value, JSON strings and numbers) or another JSON value,
/// kept as its JSON text for the error message.
enum Field {
    Text(String),
    Other(String),
}

/// Parses and validates a `/swarm` body. `content_type` picks JSON (`application/json`, `+json`,
/// or no type and a body starting with `{`) or form-urlencoded.
pub fn parse_swarm(content_type: Option<&str>, body: &[u8]) -> Result<Load, SwarmError> {
    let fields = if is_json(content_type, body) {
        json_fields(body)?
    } else {
        form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Field::Text(v.into_owned())))
            .collect()
    };
    validate(fields)
}

fn is_json(content_type: Option<&str>, body: &[u8]) -> bool {
    match content_type {
        Some(ct) => {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        }
        None => body.trim_ascii_start().starts_with(b"{"),
    }
}

fn json_fields(body: &[u8]) -> Result<Vec<(String, Field)>, SwarmError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| SwarmError::BadBody(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(SwarmError::BadBody("expected a JSON object".to_owned()));
    };
    let mut fields = Vec::new();
    for (key, value) in map {
        match value {
            Value::Null => {}
            Value::Array(items) if key == "user_classes" => {
                for item in items {
                    fields.push((key.clone(), json_field(item)));
                }
            }
            other => fields.push((key, json_field(other))),
        }
    }
    Ok(fields)
}

fn json_field(value: Value) -> Field {
    match value {
        Value::String(s) => Field::Text(s),
        Value::Number(n) => Field::Text(n.to_string()),
        other => Field::Other(other.to_string()),
    }
}

/// Locust's loop over the form: the first occurrence of each key counts (`user_classes` collects
/// all), a value that does not parse is reported at once, the ranges are checked at the end.
fn validate(fields: Vec<(String, Field)>) -> Result<Load, SwarmError> {
    // The parsed count and its text (a range error quotes it).
    let mut users: Option<(Users, String)> = None;
    let mut spawn_rate: Option<f64> = None;
    let mut host = None;
    let mut run_time = None;
    let mut user_classes = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (key, field) in fields {
        if key != "user_classes" {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key.clone());
        }
        match key.as_str() {
            "user_count" | "locust_count" => {
                let text = text(&key, field)?;
                match parse_users(&text) {
                    Some(n) => users = Some((n, text)),
                    None => return Err(SwarmError::InvalidUserCount(py_repr(&text))),
                }
            }
            "spawn_rate" | "hatch_rate" => {
                let text = text(&key, field)?;
                spawn_rate =
                    Some(py_float(&text).ok_or(SwarmError::InvalidSpawnRate(py_repr(&text)))?);
            }
            "host" => {
                let text = text(&key, field)?;
                // Locust strips angle brackets to guard the UI against XSS.
                let clean: String = text.chars().filter(|c| !matches!(c, '<' | '>')).collect();
                host = Some(clean).filter(|h| !h.is_empty());
            }
            "run_time" => {
                let text = text(&key, field)?;
                if text.trim().is_empty() {
                    continue;
                }
                let span = crate::timespan::parse_timespan(text.trim())
                    .map_err(|_| SwarmError::InvalidRunTime)?;
                run_time = Some(span).filter(|d| !d.is_zero());
            }
            "user_classes" => {
                let text = text(&key, field)?;
                if !text.is_empty() {
                    user_classes.push(text);
                }
            }
            _ => {}
        }
    }
    let (Some(users), Some(spawn_rate)) = (users, spawn_rate) else {
        return Err(SwarmError::MissingOrInvalid);
    };
    if !spawn_rate.is_finite() || spawn_rate <= 0.0 {
        return Err(SwarmError::MissingOrInvalid);
    }
    let users = match users {
        (Users::Count(n), _) => n,
        (Users::Negative, _) => return Err(SwarmError::MissingOrInvalid),
        (Users::TooMany, text) => return Err(SwarmError::TooManyUsers(py_repr(&text))),
    };
    Ok(Load {
        users,
        spawn_rate,
        host,
        run_time,
        user_classes,
    })
}

fn text(key: &str, field: Field) -> Result<String, SwarmError> {
    match field {
        Field::Text(s) => Ok(s),
        Field::Other(json) => Err(SwarmError::NotText {
            field: key.to_owned(),
            value: json,
        }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Users {
    Count(u64),
    Negative,
    TooMany,
}

/// Python's `int(s)`: surrounding whitespace, a sign, digits with single underscores between
/// them. `None` if that is not what `s` is.
fn parse_users(s: &str) -> Option<Users> {
    let s = s.trim();
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = strip_underscores(digits)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    });
    Some(match magnitude {
        Some(0) => Users::Count(0),
        _ if negative => Users::Negative,
        Some(n) if n <= MAX_USERS => Users::Count(n),
        _ => Users::TooMany,
    })
}

/// Python's `float(s)`: also accepts `nan`, `inf`, exponents and digit underscores (range checks
/// come later, as in Locust).
fn py_float(s: &str) -> Option<f64> {
    let s = strip_underscores(s.trim())?;
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Removes underscores that sit between two digits; `None` if any other underscore is present.
fn strip_underscores(s: &str) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        if c == '_' {
            let before = i.checked_sub(1).and_then(|j| bytes.get(j));
            let after = bytes.get(i + 1);
            if !(before.is_some_and(u8::is_ascii_digit) && after.is_some_and(u8::is_ascii_digit)) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The handler: validate, send [`Command::Swarm`], answer once the controller applied it.
pub(super) async fn swarm(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let req = match parse_swarm(content_type, &body) {
        Ok(req) => req,
        Err(e) => {
            log::warn!("/swarm: {e}");
            return rejected(&state, e.to_string());
        }
    };
    let mut classes = req.user_classes.clone();
    classes.sort();
    classes.dedup();
    let run_time = req.run_time;
    let answer = ask(&state, |reply| Command::Swarm { load: req, reply }).await;
    match answer {
        Err(e) => e.into_response(),
        Ok(Err(message)) => {
            log::warn!("/swarm: {message}");
            rejected(&state, message)
        }
        Ok(Ok(())) => {
            let mut body = json!({
                "success": true,
                "message": "Swarming started",
                "host": state.run_status().host,
            });
            if let Some(t) = run_time {
                body["run_time"] = seconds(t);
            }
            if !classes.is_empty() {
                body["user_classes"] = json!(classes);
            }
            Json(body).into_response()
        }
    }
}

/// A refused start, answered as Locust answers it: HTTP 200 with `"success": false`. Locust's own
/// app and scripts written for Locust read the body of a 2xx answer only, so another status would
/// lose the message.
fn rejected(state: &WebState, message: String) -> Response {
    let host = state.run_status().host;
    Json(json!({"success": false, "message": message, "host": host})).into_response()
}

/// Whole seconds as an integer (Locust's `parse_timespan` returns an int), otherwise a float.
fn seconds(d: Duration) -> Value {
    if d.subsec_nanos() == 0 {
        json!(d.as_secs())
    } else {
        json!(d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<Load, SwarmError> {
        parse_swarm(Some("application/x-www-form-urlencoded"), body.as_bytes())
    }

    #[test]
    fn accepts_locust_forms() {
        let r = form("user_count=10&spawn_rate=2.5&host=http%3A%2F%2Fx&run_time=1h30m&user_classes=A&user_classes=B");
        assert_eq!(
            r,
            Ok(Load {
                users: 10,
                spawn_rate: 2.5,
                host: Some("http://x".into()),
                run_time: Some(Duration::from_secs(5400)),
                user_classes: vec!["A".into(), "B".into()],
            })
        );
        let legacy = form("locust_count=3&hatch_rate=1");
        assert_eq!(legacy.map(|r| (r.users, r.spawn_rate)), Ok((3, 1.0)));
        // `+` is a space in form encoding; Python's int() trims it.
        assert_eq!(
            form("user_count=%2B1_000%20&spawn_rate=1e1").map(|r| r.users),
            Ok(1000)
        );
        assert_eq!(
            form("user_count=+1_000&spawn_rate=1e1").map(|r| (r.users, r.spawn_rate)),
            Ok((1000, 10.0))
        );
        assert_eq!(
            form("user_count=0&spawn_rate=1&run_time=").map(|r| r.run_time),
            Ok(None)
        );
        assert_eq!(
            form("user_count=1&spawn_rate=1&host=%3Cb%3E").map(|r| r.host),
            Ok(Some("b".into()))
        );
    }

    #[test]
    fn rejects_bad_values_with_locust_messages() {
        let msg = |b: &str| form(b).map_err(|e| e.to_string()).err().unwrap_or_default();
        assert_eq!(
            msg("user_count=abc&spawn_rate=1"),
            "Invalid user_count value: 'abc' (must be an integer)"
        );
        assert_eq!(
            msg("user_count=2.5&spawn_rate=1"),
            "Invalid user_count value: '2.5' (must be an integer)"
        );
        assert_eq!(
            msg("user_count=1&spawn_rate=fast"),
            "Invalid spawn_rate value: 'fast' (must be a number)"
        );
        let missing = "Missing or invalid user_count or spawn_rate from /swarm request";
        for b in [
            "user_count=-1&spawn_rate=1",
            "user_count=1&spawn_rate=0",
            "user_count=1&spawn_rate=-2",
            "user_count=1&spawn_rate=nan",
            "user_count=1&spawn_rate=inf",
            "user_count=1",
            "spawn_rate=1",
            "",
            "user_count=-99999999999999999999999&spawn_rate=1",
        ] {
            assert_eq!(msg(b), missing, "{b}");
        }
        assert_eq!(
            msg("user_count=10000001&spawn_rate=1"),
            "Invalid user_count value: '10000001' (must be at most 10000000)"
        );
        assert_eq!(
            msg("user_count=99999999999999999999999&spawn_rate=1"),
            "Invalid user_count value: '99999999999999999999999' (must be at most 10000000)"
        );
        assert_eq!(
            msg("user_count=1&spawn_rate=1&run_time=soon"),
            "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc."
        );
        assert_eq!(
            msg("user_count=it's&spawn_rate=1"),
            "Invalid user_count value: \"it's\" (must be an integer)"
        );
        assert_eq!(
            msg("user_count=1__0&spawn_rate=1"),
            "Invalid user_count value: '1__0' (must be an integer)"
        );
    }

    #[test]
    fn json_bodies() {
        let json = |b: &str| parse_swarm(Some("application/json; charset=utf-8"), b.as_bytes());
        assert_eq!(
            json(r#"{"user_count": 5, "spawn_rate": 0.5, "run_time": 20, "user_classes": ["A"]}"#)
                .map(|r| (r.users, r.spawn_rate, r.run_time, r.user_classes)),
            Ok((5, 0.5, Some(Duration::from_secs(20)), vec!["A".to_owned()]))
        );
        assert_eq!(
            json(r#"{"user_count": "7", "spawn_rate": "2", "host": null}"#)
                .map(|r| (r.users, r.host)),
            Ok((7, None))
        );
        assert_eq!(
            json(r#"{"user_count": 2.5, "spawn_rate": 1}"#),
            Err(SwarmError::InvalidUserCount("'2.5'".into()))
        );
        assert!(matches!(
            json(r#"{"user_count": true, "spawn_rate": 1}"#),
            Err(SwarmError::NotText { .. })
        ));
        assert!(matches!(json("[1]"), Err(SwarmError::BadBody(_))));
        assert!(matches!(json("{"), Err(SwarmError::BadBody(_))));
        assert_eq!(
            parse_swarm(None, br#" {"user_count":1,"spawn_rate":1}"#).map(|r| r.users),
            Ok(1)
        );
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("a\nb\\"), "'a\\nb\\\\'");
        assert_eq!(py_repr("\u{1}"), "'\\x01'");
    }
}
