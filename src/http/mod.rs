//! HTTP client: Locust's `HttpSession` on raw `hyper::client::conn::http1`.
//!
//! * [`Client`]: one per worker thread (cheap to clone, `Send + Sync`): settings, the shared
//!   `rustls::ClientConfig`, a DNS cache.
//! * [`Session`]: one per simulated user (`Rc`, `!Send`, runs inside a `LocalSet`): its own cookie
//!   jar and its own small pools of kept-alive connections, like a per-user `requests.Session`.
//! * [`BaseUrl`]: the user's host (`-H/--host`), parsed once; relative request URLs are appended.
//! * [`HttpError`]: Locust-style error texts (`ConnectionRefusedError(111, 'Connection refused')`).
//!
//! Two engines serve the same [`Session`] (cookies, redirects, per-hop handling and error texts
//! are the session's, whatever the engine): the hyper fast path for plain HTTP/1.1, and reqwest
//! ([`engine`]) for HTTP/2 and proxies. [`EngineKind`] picks one per request.
//!
//! Hot-path notes: the base URL is never re-parsed; a relative URL without prefix is borrowed, not
//! copied; no cookie work at all while the jar is empty; TCP_NODELAY; `max_buf_size(8192)`.

mod body;
mod decode;
mod engine;
mod error;
mod pool;
mod session;
mod tls;
mod url;

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;

pub use self::decode::{DEFAULT_ACCEPT_ENCODING, DEFAULT_MAX_DECODED};
pub use self::engine::{check_proxy, EngineKind, Http2, PROXY_VARS};
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
    /// Engine of requests that do not choose one (`auto`: the fast path unless the request needs
    /// reqwest or a proxy is set in the environment).
    pub engine: EngineKind,
    /// `Accept-Encoding` sent unless a request says otherwise; empty: none.
    pub accept_encoding: String,
    /// Largest decoded (decompressed) body; past it the request fails.
    pub max_decoded: usize,
    /// PEM file of the CAs that server certificates must chain to, instead of the built-in roots.
    pub ca_bundle: Option<std::path::PathBuf>,
    /// PEM client certificate (chain) offered to servers that ask; its key in `client_key`, or
    /// in the same file.
    pub client_cert: Option<std::path::PathBuf>,
    pub client_key: Option<std::path::PathBuf>,
    /// curl's `--resolve`: `host:port:address` entries that replace DNS for that host and port.
    pub resolve: Vec<String>,
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
            engine: EngineKind::Auto,
            accept_encoding: DEFAULT_ACCEPT_ENCODING.to_string(),
            max_decoded: DEFAULT_MAX_DECODED,
            ca_bundle: None,
            client_cert: None,
            client_key: None,
            resolve: Vec::new(),
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
    /// `None`: the client's default timeout. With `connect_timeout`, the time for everything after
    /// connecting (python-requests' read timeout of `timeout=(connect, read)`).
    pub timeout: Option<Duration>,
    /// Bound of connecting (TCP + TLS) alone; `None`: within `timeout`. On the reqwest engine the
    /// two add up to one bound of the whole request.
    pub connect_timeout: Option<Duration>,
    /// Follow 301/302/303/307/308 (python-requests' default: true).
    pub follow_redirects: bool,
    /// `Auto`: the client's engine (see [`HttpConfig::engine`]).
    pub engine: EngineKind,
    /// HTTP/2 wanted (served by reqwest).
    pub http2: Http2,
    /// `None`: the client's `Accept-Encoding`; `Some("")`: none sent.
    pub accept_encoding: Option<String>,
    /// `None`: proxies from the environment (reqwest engine); `Some("")`: none; else this proxy
    /// URL (served by reqwest).
    pub proxy: Option<String>,
    /// HTTP basic credentials (python-requests' `auth=(user, pass)`): they replace the URL's and
    /// are dropped on a redirect to another host, as requests does.
    pub auth: Option<(String, String)>,
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
            connect_timeout: None,
            follow_redirects: true,
            engine: EngineKind::Auto,
            http2: Http2::Off,
            accept_encoding: None,
            proxy: None,
            auth: None,
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

    /// python-requests' `timeout=(connect, read)`.
    pub fn timeouts(mut self, connect: Duration, read: Duration) -> Request {
        self.connect_timeout = Some(connect);
        self.timeout = Some(read);
        self
    }

    pub fn follow_redirects(mut self, follow: bool) -> Request {
        self.follow_redirects = follow;
        self
    }

    pub fn engine(mut self, engine: EngineKind) -> Request {
        self.engine = engine;
        self
    }

    pub fn http2(mut self, http2: Http2) -> Request {
        self.http2 = http2;
        self
    }

    pub fn accept_encoding(mut self, value: impl Into<String>) -> Request {
        self.accept_encoding = Some(value.into());
        self
    }

    pub fn basic_auth(mut self, user: impl Into<String>, pass: impl Into<String>) -> Request {
        self.auth = Some((user.into(), pass.into()));
        self
    }

    pub fn proxy(mut self, url: impl Into<String>) -> Request {
        self.proxy = Some(url.into());
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

/// One `--resolve` entry: connections to `host:port` go to `addr` (the URL, `Host` and TLS name
/// keep `host`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub addr: std::net::SocketAddr,
}

impl std::str::FromStr for Resolve {
    type Err = String;

    /// `host:port:address`, the address an IP (IPv6 in brackets or not), as curl's `--resolve`.
    fn from_str(s: &str) -> Result<Resolve, String> {
        let bad = |why: &str| {
            format!("invalid resolve entry '{s}': {why} (expected host:port:address, e.g. api.example.com:443:127.0.0.1)")
        };
        let mut it = s.trim().splitn(3, ':');
        let (host, port, addr) = match (it.next(), it.next(), it.next()) {
            (Some(h), Some(p), Some(a)) => (h, p, a),
            _ => return Err(bad("three parts are needed")),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port is not a number 0-65535"))?;
        let ip: std::net::IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| bad("the address is not an IP address"))?;
        Ok(Resolve {
            host: host.to_ascii_lowercase(),
            port,
            addr: std::net::SocketAddr::new(ip, port),
        })
    }
}

/// Request settings that a user class (`http: #{...}`) or a client handle (`client(#{...})`)
/// gives its requests; what a request sets itself wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestDefaults {
    pub engine: EngineKind,
    pub http2: Option<Http2>,
    /// `Some("")`: no `Accept-Encoding`.
    pub accept_encoding: Option<String>,
    /// `Some("")`: no proxy, not even the environment's.
    pub proxy: Option<String>,
    /// Basic credentials of every request (a request's own win).
    pub auth: Option<(String, String)>,
}

impl RequestDefaults {
    /// These settings, with `other`'s where these have none.
    pub fn or(self, other: &RequestDefaults) -> RequestDefaults {
        RequestDefaults {
            engine: match self.engine {
                EngineKind::Auto => other.engine,
                e => e,
            },
            http2: self.http2.or(other.http2),
            accept_encoding: self
                .accept_encoding
                .or_else(|| other.accept_encoding.clone()),
            proxy: self.proxy.or_else(|| other.proxy.clone()),
            auth: self.auth.or_else(|| other.auth.clone()),
        }
    }

    /// Applied to a request.
    pub fn apply(self, req: &mut Request) {
        req.engine = self.engine;
        req.http2 = self.http2.unwrap_or_default();
        req.accept_encoding = self.accept_encoding;
        req.proxy = self.proxy;
        req.auth = self.auth;
    }
}

/// A complete response (body fully read and decoded).
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// Decoded as its `Content-Encoding` says; with `keep_body`, its first bytes, not decoded.
    pub body: Bytes,
    /// Bytes the body had, kept or not (what the stats count).
    pub body_len: u64,
    /// Final absolute URL, after redirects.
    pub url: String,
    /// HTTP/1.1 on the fast path; HTTP/2 when reqwest negotiated it.
    pub version: http::Version,
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
