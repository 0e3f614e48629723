//! HTTP basic auth for every route when `--web-auth user:pass` is given: a missing or wrong
//! `Authorization` header gets 401 with `WWW-Authenticate: Basic realm="rustlocust"`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The credentials, kept as the base64 text a client sends.
pub(super) struct BasicAuth {
    expected: Vec<u8>,
}

impl BasicAuth {
    pub(super) fn new(user: &str, pass: &str) -> Self {
        Self {
            expected: base64(format!("{user}:{pass}").as_bytes()).into_bytes(),
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

/// Compares without stopping at the first difference, so timing does not reveal a prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

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
