//! The user's HTTP client as scripts see it: `this.client.get(url, #{...})` and friends returning a
//! `Response`. Every request suspends only the calling user and is recorded in the stats, Locust
//! style: status >= 400 or a connection error is a failure, unless `catch_response: true` hands
//! the verdict to the script (`resp.success()` / `resp.failure(msg)`), reported when the response
//! is dropped (the end of Locust's `with` block).

use crate::pyfmt::py_repr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use parking_lot::Mutex;
use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, Map};

use super::api_core::suspend_error;
use super::context;
use super::error::runtime_error;
use super::http_settings;
use crate::coro;
use crate::http as h;

type R<T> = Result<T, Box<EvalAltResult>>;

/// `this.client`: a handle on the running user's session (the session itself stays in Rust).
/// `client(#{ engine, http2, accept_encoding, proxy, auth })` makes one whose requests get those
/// settings.
#[derive(Clone, Default)]
pub struct Client(Option<Arc<h::RequestDefaults>>);

impl Client {
    /// A handle whose requests get `settings` (a map of [`http_settings::HTTP_SETTINGS`]).
    pub fn with_settings(settings: Map) -> R<Client> {
        Ok(Client(Some(Arc::new(http_settings::request_defaults(
            settings, "client()",
        )?))))
    }
}

#[derive(Clone)]
pub struct Response(Arc<ResponseData>);

pub struct ResponseData {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
    /// The body's full length, kept or not (`keep_body`).
    body_len: u64,
    url: String,
    version: http::Version,
    elapsed_ms: f64,
    error: Option<String>,
    /// With catch_response: the sample, reported on drop with the script's verdict.
    pending: Option<Mutex<Sample>>,
}

struct Sample {
    method: Method,
    name: String,
    error: Option<String>,
}

impl Drop for ResponseData {
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            let s = p.into_inner();
            let len = self.body_len;
            context::sample(
                s.method.as_str(),
                &s.name,
                self.elapsed_ms,
                len,
                s.error.as_deref(),
                &self.url,
            );
        }
    }
}

const METHODS: [(&str, Method); 7] = [
    ("get", Method::GET),
    ("post", Method::POST),
    ("put", Method::PUT),
    ("patch", Method::PATCH),
    ("delete", Method::DELETE),
    ("head", Method::HEAD),
    ("options", Method::OPTIONS),
];

/// `dir`: the scenario's folder (`files:` paths are relative to it).
pub fn register(engine: &mut Engine, dir: &Path) {
    let dir: Arc<Path> = dir.into();
    engine.register_type_with_name::<Client>("Client");
    engine.register_fn("to_string", |_: &mut Client| "<Client>".to_string());
    for (name, method) in METHODS {
        let (m, d) = (method.clone(), dir.clone());
        engine.register_fn(name, move |c: Client, url: &str| {
            request(m.clone(), url, None, &c, &d)
        });
        let d = dir.clone();
        engine.register_fn(name, move |c: Client, url: &str, opts: Map| {
            request(method.clone(), url, Some(opts), &c, &d)
        });
    }
    let d = dir.clone();
    engine.register_fn("request", move |c: Client, method: &str, url: &str| {
        request(parse_method(method)?, url, None, &c, &d)
    });
    engine.register_fn(
        "request",
        move |c: Client, method: &str, url: &str, opts: Map| {
            request(parse_method(method)?, url, Some(opts), &c, &dir)
        },
    );

    engine.register_type_with_name::<Response>("Response");
    engine.register_get("status", |r: &mut Response| r.0.status as i64);
    engine.register_get("status_code", |r: &mut Response| r.0.status as i64);
    engine.register_get("ok", |r: &mut Response| {
        r.0.error.is_none() && (1..400).contains(&r.0.status)
    });
    engine.register_get("text", |r: &mut Response| {
        String::from_utf8_lossy(&r.0.body).into_owned()
    });
    engine.register_get("body", |r: &mut Response| -> Blob { r.0.body.to_vec() });
    engine.register_get("content_length", |r: &mut Response| {
        i64::try_from(r.0.body_len).unwrap_or(i64::MAX)
    });
    // Whether the script decides this response's verdict (checks need it).
    engine.register_get("catch_response", |r: &mut Response| r.0.pending.is_some());
    engine.register_get("elapsed", |r: &mut Response| r.0.elapsed_ms);
    engine.register_get("url", |r: &mut Response| r.0.url.clone());
    // "HTTP/1.1" or "HTTP/2.0" (what the engine spoke; empty for a failed request).
    engine.register_get("http_version", |r: &mut Response| {
        if r.0.status == 0 {
            String::new()
        } else {
            format!("{:?}", r.0.version)
        }
    });
    engine.register_get("error", |r: &mut Response| match &r.0.error {
        Some(e) => Dynamic::from(e.clone()),
        None => Dynamic::UNIT,
    });
    // A repeated header's values joined with ", " (python-requests' `r.headers`); every value
    // apart with `headers_all(name)`.
    engine.register_get("headers", |r: &mut Response| {
        let mut m = Map::new();
        for k in r.0.headers.keys() {
            let joined =
                r.0.headers
                    .get_all(k)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()))
                    .collect::<Vec<_>>()
                    .join(", ");
            m.insert(k.as_str().into(), joined.into());
        }
        m
    });
    engine.register_fn("headers_all", |r: &mut Response, name: &str| -> Array {
        r.0.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
            .collect()
    });
    engine.register_fn("header", |r: &mut Response, name: &str| {
        match r.0.headers.get(name) {
            Some(v) => Dynamic::from(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            None => Dynamic::UNIT,
        }
    });
    engine.register_fn("json", |r: &mut Response| -> R<Dynamic> {
        serde_json::from_slice::<Dynamic>(&r.0.body)
            .map_err(|e| runtime_error(format!("response from {} is not valid JSON: {e}", r.0.url)))
    });
    engine.register_fn("success", |r: &mut Response| verdict(r, None));
    engine.register_fn("failure", |r: &mut Response, msg: Dynamic| {
        verdict(
            r,
            Some(format!("CatchResponseError({})", py_repr(&msg.to_string()))),
        )
    });
    engine.register_fn("to_string", |r: &mut Response| {
        format!("<Response [{}]>", r.0.status)
    });
    engine.register_fn("to_debug", |r: &mut Response| {
        format!("<Response [{}] {}>", r.0.status, r.0.url)
    });
}

fn verdict(r: &mut Response, error: Option<String>) -> R<()> {
    match &r.0.pending {
        Some(p) => {
            p.lock().error = error;
            Ok(())
        }
        None => Err(runtime_error(
            "success()/failure() need the request to be made with `catch_response: true` in its options",
        )),
    }
}

fn parse_method(m: &str) -> R<Method> {
    Method::from_bytes(m.to_ascii_uppercase().as_bytes())
        .map_err(|_| runtime_error(format!("request(): '{m}' is not a valid HTTP method")))
}

/// Request options, checked before anything is sent.
struct Options {
    name: Option<String>,
    catch: bool,
    headers: Vec<(String, String)>,
    body: Bytes,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    follow_redirects: bool,
    max_body: Option<u64>,
    keep_body: Option<u64>,
    url: String,
    http: h::RequestDefaults,
}

const OPTION_KEYS: &str = "headers, params, json, form, data, body, files, timeout, \
     allow_redirects (or redirects), name, catch_response, max_body, keep_body, engine, http2, \
     accept_encoding, proxy, auth";

fn options(url: &str, opts: Option<Map>, dir: &Path) -> R<Options> {
    let mut o = Options {
        name: None,
        catch: false,
        headers: Vec::new(),
        body: Bytes::new(),
        timeout: None,
        connect_timeout: None,
        follow_redirects: true,
        max_body: None,
        keep_body: None,
        url: url.to_string(),
        http: h::RequestDefaults::default(),
    };
    let Some(opts) = opts else { return Ok(o) };
    let mut content_type: Option<String> = None;
    let mut bodies = 0;
    let mut form: Option<Map> = None;
    let mut files: Option<Map> = None;
    for (k, v) in opts {
        match k.as_str() {
            "name" => o.name = Some(v.to_string()),
            "catch_response" => o.catch = v.as_bool().map_err(|_| bad(&k, "true or false", &v))?,
            "allow_redirects" | "redirects" => {
                o.follow_redirects = v.as_bool().map_err(|_| bad(&k, "true or false", &v))?
            }
            _ if http_settings::HTTP_SETTINGS.contains(&k.as_str()) => {
                http_settings::http_setting(&mut o.http, &k, &v)?
            }
            "timeout" => match v.clone().try_cast::<Array>() {
                // python-requests' (connect, read)
                Some(pair) if pair.len() == 2 => {
                    o.connect_timeout = Some(seconds(&k, &pair[0])?);
                    o.timeout = Some(seconds(&k, &pair[1])?);
                }
                Some(_) => return Err(bad(&k, "seconds or [connect, read] seconds", &v)),
                None => o.timeout = Some(seconds(&k, &v)?),
            },
            "max_body" => o.max_body = Some(byte_count(&k, &v)?),
            "keep_body" => o.keep_body = Some(byte_count(&k, &v)?),
            "headers" => {
                let m = v
                    .clone()
                    .try_cast::<Map>()
                    .ok_or_else(|| bad(&k, "a map", &v))?;
                o.headers.extend(
                    m.into_iter()
                        .map(|(hk, hv)| (hk.to_string(), hv.to_string())),
                );
            }
            "params" => {
                let m = v
                    .clone()
                    .try_cast::<Map>()
                    .ok_or_else(|| bad(&k, "a map", &v))?;
                let q = urlencode(m);
                if !q.is_empty() {
                    o.url.push(if o.url.contains('?') { '&' } else { '?' });
                    o.url.push_str(&q);
                }
            }
            "json" => {
                bodies += 1;
                o.body = serde_json::to_vec(&v)
                    .map_err(|e| runtime_error(format!("json: cannot encode: {e}")))?
                    .into();
                content_type = Some("application/json".into());
            }
            "form" | "data" if v.is_map() => {
                bodies += 1;
                let m = v.cast::<Map>();
                o.body = urlencode(m.clone()).into_bytes().into();
                form = Some(m);
                content_type = Some("application/x-www-form-urlencoded".into());
            }
            "files" => {
                files = Some(v.clone().try_cast::<Map>().ok_or_else(|| {
                    bad(
                        &k,
                        "a map of field to #{ path | data, name, content_type }",
                        &v,
                    )
                })?)
            }
            "body" | "data" => {
                bodies += 1;
                o.body = if v.is_blob() {
                    v.cast::<Blob>().into()
                } else if v.is_string() {
                    v.to_string().into_bytes().into()
                } else {
                    return Err(bad(&k, "a string or a blob", &v));
                };
            }
            other => {
                return Err(runtime_error(format!(
                    "unknown request option '{other}' (expected one of: {OPTION_KEYS})"
                )))
            }
        }
    }
    if bodies > 1 {
        return Err(runtime_error("give only one of json, form, data or body"));
    }
    if let Some(files) = files {
        if bodies > 0 && form.is_none() {
            return Err(runtime_error(
                "files can go with form fields (form, or data as a map) but not with json, body or data as a string",
            ));
        }
        let m = super::multipart::encode(form.as_ref(), &files, dir)?;
        o.body = m.body.into();
        content_type = Some(m.content_type);
    }
    if let Some(ct) = content_type {
        if !o
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            o.headers.push(("content-type".into(), ct));
        }
    }
    Ok(o)
}

/// A timeout in seconds, > 0.
fn seconds(key: &str, v: &Dynamic) -> R<Duration> {
    let s = v
        .as_float()
        .or_else(|_| v.as_int().map(|i| i as f64))
        .map_err(|_| bad(key, "seconds or [connect, read] seconds", v))?;
    if !s.is_finite() || s <= 0.0 || s > 1e9 {
        return Err(bad(key, "seconds > 0", v));
    }
    Ok(Duration::from_secs_f64(s))
}

fn byte_count(key: &str, v: &Dynamic) -> R<u64> {
    v.as_int()
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| bad(key, "a number of bytes >= 0", v))
}

pub(super) fn bad(key: &str, expected: &str, v: &Dynamic) -> Box<EvalAltResult> {
    runtime_error(format!(
        "request option '{key}' must be {expected}, got {} ({v})",
        v.type_name()
    ))
}

fn urlencode(m: Map) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in m {
        match v.clone().try_cast::<Array>() {
            Some(items) => items.iter().for_each(|i| {
                s.append_pair(&k, &i.to_string());
            }),
            None => {
                s.append_pair(&k, &v.to_string());
            }
        }
    }
    s.finish()
}

fn request(
    method: Method,
    url: &str,
    opts: Option<Map>,
    client: &Client,
    dir: &Path,
) -> R<Response> {
    let mut o = options(url, opts, dir)?;
    let mut headers = std::mem::take(&mut o.headers);
    let session = coro::with_current_user(|u| {
        u.map(|u| {
            // Per-request headers win over the user's defaults (set_header, the auth module).
            let defaults = u.default_headers.borrow();
            if !defaults.is_empty() {
                let own = headers.len();
                for (k, v) in defaults.iter() {
                    if !headers[..own].iter().any(|(ok, _)| ok.eq_ignore_ascii_case(k)) {
                        headers.push((k.clone(), v.clone()));
                    }
                }
            }
            u.session.clone()
        })
    })
    .ok_or_else(|| {
        runtime_error(
            "HTTP requests can only be made inside a user (a task, on_start or on_stop) or an event listener, \
             not at the top level",
        )
    })?;
    let name = o.name.unwrap_or_else(|| h::path_url(&o.url).to_string());
    let mut req = h::Request {
        method: method.clone(),
        url: o.url,
        headers,
        body: o.body,
        timeout: o.timeout,
        connect_timeout: o.connect_timeout,
        follow_redirects: o.follow_redirects,
        engine: h::EngineKind::Auto,
        http2: h::Http2::Off,
        accept_encoding: None,
        proxy: None,
        auth: None,
        max_body: o.max_body,
        keep_body: o.keep_body,
    };
    // The request's own settings, then the client handle's, then the user class's.
    let mut http = o.http;
    if let Some(c) = &client.0 {
        http = http.or(c);
    }
    if let Some(class) = session.defaults() {
        http = http.or(class);
    }
    http.apply(&mut req);
    let started = Instant::now();
    let result = coro::block_on(session.send(req)).map_err(|e| suspend_error(e, "HTTP request"))?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let data = match result {
        Ok(r) => {
            let error = status_error(r.status, &name);
            ResponseData {
                status: r.status,
                headers: r.headers,
                body: r.body,
                body_len: r.body_len,
                url: r.url,
                version: r.version,
                elapsed_ms,
                error,
                pending: None,
            }
        }
        // A bad URL or header is the script's mistake (Locust raises too), not a failed request.
        Err(e) if e.is_request_error() => return Err(runtime_error(e.to_string())),
        Err(e) => ResponseData {
            status: 0,
            headers: Default::default(),
            body: Bytes::new(),
            body_len: 0,
            url: String::new(),
            version: http::Version::HTTP_11,
            elapsed_ms,
            error: Some(e.to_string()),
            pending: None,
        },
    };
    let mut data = data;
    if o.catch {
        data.pending = Some(Mutex::new(Sample {
            method,
            name,
            error: data.error.clone(),
        }));
    } else {
        let len = data.body_len;
        context::sample(
            method.as_str(),
            &name,
            elapsed_ms,
            len,
            data.error.as_deref(),
            &data.url,
        );
    }
    Ok(Response(Arc::new(data)))
}

/// Locust's (requests') failure text for an error status; the URL part is the stats name so that
/// errors group.
fn status_error(status: u16, name: &str) -> Option<String> {
    if status < 400 {
        return None;
    }
    let kind = if status < 500 { "Client" } else { "Server" };
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    Some(format!(
        "HTTPError({})",
        py_repr(&format!("{status} {kind} Error: {reason} for url: {name}"))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_look_like_locust() {
        assert_eq!(status_error(200, "/x"), None);
        assert_eq!(
            status_error(404, "/x").unwrap(),
            "HTTPError('404 Client Error: Not Found for url: /x')"
        );
        assert_eq!(
            status_error(503, "/a").unwrap(),
            "HTTPError('503 Server Error: Service Unavailable for url: /a')"
        );
    }

    #[test]
    fn options_are_checked() {
        let mut m = Map::new();
        m.insert("nmae".into(), "x".into());
        assert!(options("/", Some(m), Path::new("."))
            .err()
            .unwrap()
            .to_string()
            .contains("unknown request option 'nmae'"));
        for bad in [
            Dynamic::from(-1.0),
            Dynamic::from(1e30),
            Dynamic::from(vec![Dynamic::from(1_i64)]),
            Dynamic::from(vec![Dynamic::from(1_i64), Dynamic::from("x")]),
        ] {
            let mut m = Map::new();
            m.insert("timeout".into(), bad);
            assert!(options("/", Some(m), Path::new(".")).is_err());
        }
        let mut m = Map::new();
        let pair = vec![Dynamic::from(2_i64), Dynamic::from(0.5)];
        m.insert("timeout".into(), Dynamic::from(pair));
        let o = options("/", Some(m), Path::new(".")).unwrap();
        assert_eq!(o.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!(o.timeout, Some(Duration::from_millis(500)));
        for bad in [
            Dynamic::from(-1_i64),
            Dynamic::from(1.5),
            Dynamic::from("1k"),
        ] {
            let mut m = Map::new();
            m.insert("keep_body".into(), bad);
            let e = options("/", Some(m), Path::new("."))
                .err()
                .map(|e| e.to_string());
            assert!(
                e.as_deref()
                    .unwrap_or_default()
                    .contains("'keep_body' must be a number of bytes"),
                "{e:?}"
            );
        }
        let mut m = Map::new();
        m.insert("max_body".into(), Dynamic::from(10_i64));
        m.insert("keep_body".into(), Dynamic::from(0_i64));
        let o = options("/", Some(m), Path::new(".")).ok();
        assert_eq!(
            o.map(|o| (o.max_body, o.keep_body)),
            Some((Some(10), Some(0)))
        );
        let mut m = Map::new();
        let mut p = Map::new();
        p.insert("q".into(), "a b".into());
        m.insert("params".into(), p.into());
        assert_eq!(
            options("/s?x=1", Some(m), Path::new(".")).unwrap().url,
            "/s?x=1&q=a+b"
        );
    }

    #[test]
    fn json_body_sets_content_type_once() {
        let mut m = Map::new();
        let mut j = Map::new();
        j.insert("a".into(), Dynamic::from(1_i64));
        m.insert("json".into(), j.into());
        let o = options("/", Some(m), Path::new(".")).unwrap();
        assert_eq!(&o.body[..], br#"{"a":1}"#);
        assert_eq!(
            o.headers,
            vec![("content-type".to_string(), "application/json".to_string())]
        );
    }
}
