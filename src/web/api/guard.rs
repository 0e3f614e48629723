//! The web UI's defences against other web pages: a page on another site must not start, stop
//! or change a test through the user's browser (cross-site request forgery), and a name that an
//! attacker's DNS points at 127.0.0.1 must not make the UI its own origin (DNS rebinding).
//!
//! - `Host` must be an IP address, `localhost` (or `*.localhost`), or a name given with
//!   `--web-allowed-hosts` (`*` allows any): a rebinding page reaches us under its own name.
//! - A state-changing request (any method but GET/HEAD/OPTIONS, and GET `/stats/reset`) whose
//!   `Origin` (or, without one, `Referer`) is not the UI's own origin is refused, as is one a
//!   browser marks `Sec-Fetch-Site: cross-site`/`same-site`. "Own" is the `Host` the request was
//!   sent to, the `X-Forwarded-Host` of a reverse proxy that rewrites `Host` (a cross-site form
//!   cannot set that header), or an allowed host name. Requests without any of these headers are
//!   not from a browser page (curl, scripts, Locust's clients) and pass.
//! - A state-changing body must be `application/x-www-form-urlencoded` (Locust's form) or JSON:
//!   `text/plain` and untyped bodies are what a cross-site form or `fetch` sends without asking
//!   the server first.
//!
//! No CORS header is sent: the API is not for other origins.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The host names the UI answers to besides IP addresses and `localhost` (lower case).
pub(super) struct Guard {
    allowed: Vec<String>,
    any_host: bool,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub(super) enum Refusal {
    #[error(
        "Host '{0}' is not served here (DNS rebinding?): use an IP address or localhost, or \
         allow the name with --web-allowed-hosts"
    )]
    Host(String),
    #[error(
        "cross-origin request refused: {0} is not this UI's origin (behind a reverse proxy, \
         allow its host name with --web-allowed-hosts or forward X-Forwarded-Host)"
    )]
    Origin(String),
    #[error("cross-site request refused (Sec-Fetch-Site: {0})")]
    Site(String),
    #[error(
        "unsupported content type {0}: send application/x-www-form-urlencoded or \
         application/json"
    )]
    ContentType(String),
}

impl Guard {
    pub(super) fn new(allowed_hosts: &[String]) -> Guard {
        Guard {
            any_host: allowed_hosts.iter().any(|h| h == "*"),
            allowed: allowed_hosts
                .iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.any_host
            || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
            || host == "localhost"
            || host.ends_with(".localhost")
            || self.allowed.contains(&host)
    }

    /// `Ok` when the request may go on.
    pub(super) fn verdict(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), Refusal> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let host = text(header::HOST.as_str());
        if let Some(host) = host {
            if !self.host_allowed(split_authority(host).0) {
                return Err(Refusal::Host(host.to_owned()));
            }
        }
        let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            || path.ends_with("/stats/reset");
        if !changes_state {
            return Ok(());
        }
        if let Some(site) = text("sec-fetch-site") {
            if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
                return Err(Refusal::Site(site.to_owned()));
            }
        }
        let origin = match text(header::ORIGIN.as_str()) {
            Some(o) => Some(o.to_owned()),
            None => text(header::REFERER.as_str()).map(referer_origin),
        };
        if let Some(origin) = origin {
            let own = |authority: Option<&str>| {
                authority.is_some_and(|a| same_authority(&origin, a.split(',').next().unwrap_or(a)))
            };
            let allowed_name = origin_authority(&origin)
                .map(|(_, a)| split_authority(a).0.to_ascii_lowercase())
                .is_some_and(|h| self.allowed.contains(&h));
            if !(own(host) || own(text("x-forwarded-host")) || allowed_name) {
                return Err(Refusal::Origin(origin));
            }
        }
        let has_body = text(header::TRANSFER_ENCODING.as_str()).is_some()
            || text(header::CONTENT_LENGTH.as_str()).is_some_and(|n| n.trim() != "0");
        if has_body {
            let ct = text(header::CONTENT_TYPE.as_str()).unwrap_or("");
            let mime = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let ok = mime == "application/x-www-form-urlencoded"
                || mime == "application/json"
                || mime.ends_with("+json");
            if !ok {
                let shown = if ct.is_empty() { "(none)" } else { ct };
                return Err(Refusal::ContentType(shown.to_owned()));
            }
        }
        Ok(())
    }
}

/// `scheme://authority` of a Referer URL (the path and query dropped).
fn referer_origin(referer: &str) -> String {
    match referer.find("://") {
        Some(i) => {
            let rest = &referer[i + 3..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{}{}", &referer[..i + 3], &rest[..end])
        }
        None => referer.to_owned(),
    }
}

/// The scheme and authority of an origin (`http://a:1` -> ("http", "a:1")); `None` for `null`
/// and anything else that is not one.
fn origin_authority(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    (!authority.is_empty() && !authority.contains(['/', '@'])).then_some((scheme, authority))
}

/// Host and port of an authority (`[::1]:80` -> ("[::1]", Some("80"))).
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    let authority = authority.trim();
    let port_at = match authority.rfind(']') {
        Some(close) => authority[close..].find(':').map(|i| close + i),
        None => authority.rfind(':'),
    };
    match port_at {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    }
}

/// Whether `origin` names the same host and port as a `Host`-style `authority` (ports default
/// by the origin's scheme).
fn same_authority(origin: &str, authority: &str) -> bool {
    let Some((scheme, origin_auth)) = origin_authority(origin) else {
        return false;
    };
    let default = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else {
        "80"
    };
    let (oh, op) = split_authority(origin_auth);
    let (h, p) = split_authority(authority);
    oh.eq_ignore_ascii_case(h) && op.unwrap_or(default) == p.unwrap_or(default)
}

pub(super) async fn check(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    match guard.verdict(req.method(), req.uri().path(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            let status = match refusal {
                Refusal::ContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => StatusCode::FORBIDDEN,
            };
            log::warn!("web UI: {} {}: {refusal}", req.method(), req.uri().path());
            let body = json!({"success": false, "message": refusal.to_string()});
            (status, Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("header value"));
        }
        h
    }

    fn verdict(method: Method, path: &str, pairs: &[(&'static str, &str)]) -> Result<(), Refusal> {
        Guard::new(&["proxy.example".to_string()]).verdict(&method, path, &headers(pairs))
    }

    const LOCAL: (&str, &str) = ("host", "127.0.0.1:8089");

    #[test]
    fn hosts() {
        for host in [
            "127.0.0.1:8089",
            "[::1]:8089",
            "localhost",
            "LOCALHOST:1",
            "a.localhost",
            "10.1.2.3",
            "proxy.example",
            "Proxy.Example.:443",
        ] {
            assert_eq!(
                verdict(Method::GET, "/", &[("host", host)]),
                Ok(()),
                "{host}"
            );
        }
        for host in [
            "evil.example:8089",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
        ] {
            assert!(
                matches!(
                    verdict(Method::GET, "/", &[("host", host)]),
                    Err(Refusal::Host(_))
                ),
                "{host}"
            );
        }
        let any = Guard::new(&["*".to_string()]);
        assert_eq!(
            any.verdict(&Method::GET, "/", &headers(&[("host", "evil.example")])),
            Ok(())
        );
    }

    #[test]
    fn origins() {
        let form = ("content-type", "application/x-www-form-urlencoded");
        let len = ("content-length", "10");
        let post = |extra: &[(&'static str, &str)]| {
            let mut all = vec![LOCAL, form, len];
            all.extend_from_slice(extra);
            verdict(Method::POST, "/swarm", &all)
        };
        // Browsers on our own origin, curl, a reverse proxy.
        assert_eq!(post(&[("origin", "http://127.0.0.1:8089")]), Ok(()));
        assert_eq!(
            post(&[("referer", "http://127.0.0.1:8089/ui/?x=1")]),
            Ok(())
        );
        assert_eq!(post(&[("sec-fetch-site", "same-origin")]), Ok(()));
        assert_eq!(post(&[]), Ok(()));
        assert_eq!(post(&[("origin", "https://proxy.example")]), Ok(()));
        assert_eq!(
            post(&[
                ("origin", "https://lb.example"),
                ("x-forwarded-host", "lb.example")
            ]),
            Ok(())
        );
        // Other pages.
        for bad in [
            [("origin", "http://evil.example")],
            [("origin", "null")],
            [("origin", "http://127.0.0.1:8090")],
            [("referer", "http://evil.example/page")],
        ] {
            assert!(matches!(post(&bad), Err(Refusal::Origin(_))), "{bad:?}");
        }
        assert!(matches!(
            post(&[("sec-fetch-site", "cross-site")]),
            Err(Refusal::Site(_))
        ));
        // GET /stats/reset changes state; other GETs do not care where they come from.
        let evil = ("origin", "http://evil.example");
        assert!(verdict(Method::GET, "/stats/reset", &[LOCAL, evil]).is_err());
        assert_eq!(
            verdict(Method::GET, "/stats/requests", &[LOCAL, evil]),
            Ok(())
        );
    }

    #[test]
    fn content_types() {
        let post = |ct: Option<&str>, len: &str| {
            let mut all = vec![LOCAL, ("content-length", len)];
            if let Some(ct) = ct {
                all.push(("content-type", ct));
            }
            verdict(Method::POST, "/swarm", &all)
        };
        assert_eq!(post(Some("application/json; charset=utf-8"), "2"), Ok(()));
        assert_eq!(post(Some("application/x-www-form-urlencoded"), "2"), Ok(()));
        assert_eq!(post(None, "0"), Ok(()));
        assert_eq!(post(Some("text/plain"), "0"), Ok(()));
        for ct in [
            Some("text/plain"),
            None,
            Some("multipart/form-data; boundary=x"),
        ] {
            assert!(
                matches!(post(ct, "5"), Err(Refusal::ContentType(_))),
                "{ct:?}"
            );
        }
    }

    #[test]
    fn authorities_split() {
        assert_eq!(split_authority("[::1]:80"), ("[::1]", Some("80")));
        assert_eq!(split_authority("[::1]"), ("[::1]", None));
        assert_eq!(split_authority("a:1"), ("a", Some("1")));
        assert!(same_authority("http://a", "a:80"));
        assert!(!same_authority("http://a@b", "b"));
        assert_eq!(referer_origin("http://a:1/x?y"), "http://a:1");
    }
}
