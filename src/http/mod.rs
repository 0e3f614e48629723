//! HTTP client: Locust's `HttpSession` on raw `hyper::client::conn::http1`.
//!
//! * [`Client`]: one per worker thread (cheap to clone, `Send + Sync`): settings, the shared
//!   `rustls::ClientConfig`, a DNS cache.
//! * [`Session`]: one per simulated user (`Rc`, `!Send`, runs inside a `LocalSet`): its own cookie
//!   jar and its own small pools of kept-alive connections, like a per-user `requests.Session`.
//! * [`BaseUrl`]: the user's host (`-H/--host`), parsed once; relative request URLs are appended.
//! * [`HttpError`]: Locust-style error texts (`ConnectionRefusedError(111, 'Connection refused')`).
//!
//! Hot-path notes: the base URL is never re-parsed; a relative URL without prefix is borrowed, not
//! copied; no cookie work at all while the jar is empty; TCP_NODELAY; `max_buf_size(8192)`.

mod body;
mod error;
mod pool;
mod session;
mod tls;
mod url;

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;

pub use self::error::{HttpError, InvalidHost};
pub use self::session::{Client, Session};
pub use self::url::{path_url, BaseUrl};

/// `User-Agent` sent unless the request sets one.
pub const USER_AGENT: &str = concat!("rustlocust/", env!("CARGO_PKG_VERSION"));

/// Client settings (per process; each worker thread builds its [`Client`] from them).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// Timeout of a request when it sets none: connect + send + full body read, per redirect hop.
    pub default_timeout: Duration,
    /// Redirects followed before `TooManyRedirects` (30, like python-requests).
    pub max_redirects: u32,
    /// The largest response body kept in memory (`--max-body-size`); `None`: no limit. A longer
    /// body is a `BodyTooLarge` failure, found out before reading it when Content-Length says so.
    pub max_body: Option<u64>,
}

/// The default of [`HttpConfig::max_body`]: far above any API or page response, yet one user
/// reading an endless body stops long before the machine runs out of memory. Downloads of any
/// size are read with [`Request::keep_body`], which keeps only a prefix.
pub const DEFAULT_MAX_BODY: u64 = 64 << 20;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            insecure: false,
            default_timeout: Duration::from_secs(60),
            max_redirects: 30,
            max_body: Some(DEFAULT_MAX_BODY),
        }
    }
}

/// One request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: http::Method,
    /// Relative (`/x?a=1`, appended to the session's base URL) or absolute `http(s)://` URL.
    pub url: String,
    /// Extra headers; they replace the defaults (`User-Agent`, `Accept`, ...) of the same name,
    /// case-insensitively. A name given twice is sent twice.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// `None`: the client's default timeout.
    pub timeout: Option<Duration>,
    /// Follow 301/302/303/307/308 (python-requests' default: true).
    pub follow_redirects: bool,
    /// The body limit of this request; `None`: the client's ([`HttpConfig::max_body`]) unless
    /// `keep_body` is set, which reads any size.
    pub max_body: Option<u64>,
    /// Keep only the first N bytes of the body; the rest is read, counted and dropped.
    pub keep_body: Option<u64>,
}

impl Request {
    pub fn new(method: http::Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            timeout: None,
            follow_redirects: true,
            max_body: None,
            keep_body: None,
        }
    }

    pub fn get(url: impl Into<String>) -> Request {
        Request::new(http::Method::GET, url)
    }

    pub fn post(url: impl Into<String>, body: impl Into<Bytes>) -> Request {
        Request::new(http::Method::POST, url).body(body)
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Request {
        self.body = body.into();
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    pub fn follow_redirects(mut self, follow: bool) -> Request {
        self.follow_redirects = follow;
        self
    }

    pub fn max_body(mut self, bytes: u64) -> Request {
        self.max_body = Some(bytes);
        self
    }

    pub fn keep_body(mut self, bytes: u64) -> Request {
        self.keep_body = Some(bytes);
        self
    }
}

/// A complete response (body fully read).
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// The body, or its first `keep_body` bytes.
    pub body: Bytes,
    /// Bytes the body had, kept or not (what the stats count).
    pub body_len: u64,
    /// Final absolute URL, after redirects.
    pub url: String,
}

impl Response {
    /// First value of a header, if it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}
