//! `POST /user` (Locust 2.47, with `--class-picker`): change one user class's settings before a
//! test. The body is the JSON Locust's own app sends, `{"user_class_name": "A", "host": "",
//! "weight": 2, "fixed_count": 0, "tasks": ["a", "b"]}` (every key but the class name optional;
//! a `host` of `""` or `null` means no host of its own), plus our `wait_time`: `"constant(1)"`,
//! `"between(1, 2)"`, `"constant_pacing(2)"`, `"constant_throughput(0.5)"` or a number of
//! seconds. A change answers 201 `{}`, as Locust does.
//!
//! Locust takes any change: without the class picker, while a test runs (the running users' class
//! changes under them), with tasks it does not have (the class is left with none) or keys that
//! are no setting; a body that is not JSON or an unknown class is an HTML 500. Here each of those
//! is refused with `{"success": false, "message": ...}`: 403 without `--class-picker`, 409 while
//! a test runs, 400 for the rest.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{ask, ApiError};
use crate::http::{BaseUrl, InvalidHost};
use crate::run::{ClassUpdate, ClassUpdateError};
use crate::script::WaitTime;
use crate::web::{Command, WebState};

/// Why a `/user` request was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum UserError {
    #[error(
        "POST /user changes user classes only with --class-picker (LOCUST_USERCLASS_PICKER=true)"
    )]
    PickerOff,
    #[error("Invalid /user request body: {0}")]
    BadBody(String),
    #[error("Missing user_class_name in /user request")]
    MissingClass,
    #[error("Unknown /user key '{0}' (the keys are user_class_name, host, weight, fixed_count, wait_time and tasks)")]
    UnknownKey(String),
    #[error("Invalid {field} value: {value} (must be {expected})")]
    BadValue {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("Invalid host value: {0}")]
    BadHost(InvalidHost),
    #[error(transparent)]
    Class(#[from] ClassUpdateError),
}

impl UserError {
    fn status(&self) -> StatusCode {
        match self {
            UserError::PickerOff => StatusCode::FORBIDDEN,
            UserError::Class(ClassUpdateError::Running) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for UserError {
    fn into_response(self) -> Response {
        let body = json!({"success": false, "message": self.to_string()});
        (self.status(), Json(body)).into_response()
    }
}

pub(super) async fn user(State(state): State<Arc<WebState>>, body: Bytes) -> Response {
    match change(&state, &body).await {
        Ok(Ok(())) => (StatusCode::CREATED, Json(json!({}))).into_response(),
        Ok(Err(e)) => {
            log::warn!("/user: {e}");
            e.into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The class change asked for, applied by the controller (`Err` only when it cannot answer).
async fn change(state: &WebState, body: &[u8]) -> Result<Result<(), UserError>, ApiError> {
    if !state.options.class_picker {
        return Ok(Err(UserError::PickerOff));
    }
    let update = match parse_user(body) {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    let answer = ask(state, |reply| Command::UpdateUserClass { update, reply }).await?;
    Ok(answer.map_err(UserError::from))
}

/// Parses and checks a `/user` body (the class and its tasks are checked by the test run).
pub fn parse_user(body: &[u8]) -> Result<ClassUpdate, UserError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| UserError::BadBody(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(UserError::BadBody("expected a JSON object".to_owned()));
    };
    let mut update = ClassUpdate::default();
    let mut class = None;
    for (key, value) in fields {
        match key.as_str() {
            "user_class_name" => class = Some(text(&value, "user_class_name")?),
            "host" => update.host = Some(host(&value)?),
            "weight" => update.weight = Some(weight(&value)?),
            "fixed_count" => update.fixed_count = Some(fixed_count(&value)?),
            "wait_time" => update.wait = Some(wait_time(&value)?),
            "tasks" => update.tasks = Some(tasks(&value)?),
            _ => return Err(UserError::UnknownKey(key)),
        }
    }
    update.class = class
        .filter(|c| !c.is_empty())
        .ok_or(UserError::MissingClass)?;
    Ok(update)
}

fn bad(field: &'static str, value: &Value, expected: &'static str) -> UserError {
    UserError::BadValue {
        field,
        value: value.to_string(),
        expected,
    }
}

fn text(value: &Value, field: &'static str) -> Result<String, UserError> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad(field, value, "a string"))
}

/// `""` or `null`: no host of its own, as Locust's app sends for a class without one.
fn host(value: &Value) -> Result<Option<String>, UserError> {
    const EXPECTED: &str = "an http(s) URL, \"\" or null";
    let host = match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim(),
        _ => return Err(bad("host", value, EXPECTED)),
    };
    // Checked now, so a bad host is refused here rather than when the test starts.
    BaseUrl::parse(host).map_err(UserError::BadHost)?;
    Ok(Some(host.to_owned()))
}

/// Greater than 0, as `user()` in a script requires.
fn weight(value: &Value) -> Result<f64, UserError> {
    value
        .as_f64()
        .filter(|w| w.is_finite() && *w > 0.0)
        .ok_or_else(|| bad("weight", value, "a number greater than 0"))
}

fn fixed_count(value: &Value) -> Result<u64, UserError> {
    value
        .as_u64()
        .ok_or_else(|| bad("fixed_count", value, "a whole number >= 0"))
}

fn tasks(value: &Value) -> Result<Vec<String>, UserError> {
    let expected = "a list of task names";
    let items = value
        .as_array()
        .ok_or_else(|| bad("tasks", value, expected))?;
    items
        .iter()
        .map(|t| t.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("tasks", value, expected))
}

/// The script's wait-time functions as text, with their rules (seconds finite and not negative,
/// `between`'s min not above its max, a throughput above 0), or a number of seconds.
fn wait_time(value: &Value) -> Result<WaitTime, UserError> {
    let parsed = match value {
        Value::Number(_) => value
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(WaitTime::Constant),
        Value::String(s) => wait_time_text(s),
        _ => None,
    };
    parsed.ok_or_else(|| {
        bad(
            "wait_time",
            value,
            "constant(s), between(min, max), constant_pacing(s), constant_throughput(per_s) or seconds",
        )
    })
}

fn wait_time_text(text: &str) -> Option<WaitTime> {
    let (name, rest) = text.trim().split_once('(')?;
    let args = rest.trim_end().strip_suffix(')')?;
    let nums = args
        .split(',')
        .map(|a| {
            a.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
        })
        .collect::<Option<Vec<f64>>>()?;
    match (name.trim(), nums.as_slice()) {
        ("constant", [s]) => Some(WaitTime::Constant(*s)),
        ("between", [a, b]) if a <= b => Some(WaitTime::Between(*a, *b)),
        ("constant_pacing", [s]) => Some(WaitTime::Pacing(*s)),
        ("constant_throughput", [r]) if *r > 0.0 => Some(WaitTime::Pacing(1.0 / r)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ClassUpdate, UserError> {
        parse_user(body.as_bytes())
    }

    #[test]
    fn takes_what_locusts_app_sends() {
        let u = parse(
            r#"{"host": "", "weight": 2, "fixed_count": 0, "tasks": ["a", "b"], "user_class_name": "A"}"#,
        );
        assert_eq!(
            u,
            Ok(ClassUpdate {
                class: "A".into(),
                host: Some(None),
                weight: Some(2.0),
                fixed_count: Some(0),
                wait: None,
                tasks: Some(vec!["a".into(), "b".into()]),
            })
        );
        let u = parse(
            r#"{"user_class_name": "B", "host": "http://h.example:8080", "wait_time": "between(0.5, 2)"}"#,
        );
        assert_eq!(
            u.as_ref()
                .map(|u| (u.host.clone(), u.wait.clone(), u.weight)),
            Ok((
                Some(Some("http://h.example:8080".into())),
                Some(WaitTime::Between(0.5, 2.0)),
                None
            ))
        );
    }

    #[test]
    fn wait_times() {
        for (given, want) in [
            (json!("constant(1)"), WaitTime::Constant(1.0)),
            (json!(" between( 1 , 1 ) "), WaitTime::Between(1.0, 1.0)),
            (json!("constant_pacing(2.5)"), WaitTime::Pacing(2.5)),
            (json!("constant_throughput(4)"), WaitTime::Pacing(0.25)),
            (json!(0), WaitTime::Constant(0.0)),
            (json!(0.5), WaitTime::Constant(0.5)),
        ] {
            assert_eq!(wait_time(&given), Ok(want), "{given}");
        }
        for bad in [
            json!("between(2, 1)"),
            json!("constant(-1)"),
            json!("constant_throughput(0)"),
            json!("constant(1, 2)"),
            json!("soon(1)"),
            json!("constant(1"),
            json!("constant(nan)"),
            json!(-1),
            json!(true),
            json!([1]),
        ] {
            assert!(wait_time(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_bodies_and_types_are_named() {
        let msg = |b: &str| parse(b).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg("weight=1").starts_with("Invalid /user request body: "));
        assert_eq!(
            msg("[1]"),
            "Invalid /user request body: expected a JSON object"
        );
        assert_eq!(
            msg(r#"{"weight": 1}"#),
            "Missing user_class_name in /user request"
        );
        assert_eq!(
            msg(r#"{"user_class_name": ""}"#),
            "Missing user_class_name in /user request"
        );
        assert_eq!(
            msg(r#"{"user_class_name": 3}"#),
            "Invalid user_class_name value: 3 (must be a string)"
        );
        assert_eq!(
            msg(r#"{"user_class_name": "A", "weight": "2"}"#),
            "Invalid weight value: \"2\" (must be a number greater than 0)"
        );
        let bad_values: [(&str, &[&str]); 4] = [
            ("weight", &["0", "-1", "null"]),
            ("fixed_count", &["-1", "1.5", "\"1\""]),
            ("tasks", &["\"a\"", "[1]", "{}"]),
            ("host", &["\"ftp://x\"", "\"not a url\"", "3"]),
        ];
        for (field, values) in bad_values {
            for v in values {
                let body = format!(r#"{{"user_class_name": "A", "{field}": {v}}}"#);
                let want = format!("Invalid {field} value");
                assert!(msg(&body).starts_with(&want), "{body}: {}", msg(&body));
            }
        }
        assert_eq!(
            msg(r#"{"user_class_name": "A", "host": "ftp://x"}"#),
            "Invalid host value: invalid host 'ftp://x': unsupported scheme 'ftp': only http and https are supported"
        );
        assert_eq!(
            msg(r#"{"user_class_name": "A", "wieght": 1}"#),
            "Unknown /user key 'wieght' (the keys are user_class_name, host, weight, fixed_count, wait_time and tasks)"
        );
        // Not a panic, whatever the bytes.
        assert!(parse_user(&[0xff, 0xfe]).is_err());
    }
}
