//! HTTP basic auth for every route when `--web-auth user:pass` is given: a missing or wrong
//! `Authorization` header gets 401 with `WWW-Authenticate: Basic realm="rustlocust"`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::encoding::{basic_credentials, constant_time_eq};

/// The credentials, kept as the base64 text a client sends.
pub(super) struct BasicAuth {
    expected: Vec<u8>,
}

impl BasicAuth {
    pub(super) fn new(user: &str, pass: &str) -> Self {
        Self {
            expected: basic_credentials(user, pass).into_bytes(),
        }
    }

    fn accepts(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(value) = authorization.map(HeaderValue::as_bytes) else {
            return false;
        };
        let Some(scheme_end) = value.iter().position(|b| *b == b' ') else {
            return false;
        };
        let (scheme, rest) = value.split_at(scheme_end);
        scheme.eq_ignore_ascii_case(b"basic") && constant_time_eq(rest.trim_ascii(), &self.expected)
    }
}

pub(super) async fn require(
    State(auth): State<Arc<BasicAuth>>,
    req: Request,
    next: Next,
) -> Response {
    if auth.accepts(req.headers().get(header::AUTHORIZATION)) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"rustlocust\""),
        )],
        Json(json!({"error": "authentication required"})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_scheme_and_credentials() {
        let auth = BasicAuth::new("Aladdin", "open sesame");
        let ok = HeaderValue::from_static("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        let lower = HeaderValue::from_static("basic  QWxhZGRpbjpvcGVuIHNlc2FtZQ== ");
        let wrong = HeaderValue::from_static("Basic QWxhZGRpbjpvcGVuIHNlc2FtZR==");
        let bearer = HeaderValue::from_static("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(auth.accepts(Some(&ok)));
        assert!(auth.accepts(Some(&lower)));
        assert!(!auth.accepts(Some(&wrong)));
        assert!(!auth.accepts(Some(&bearer)));
        assert!(!auth.accepts(None));
    }
}
