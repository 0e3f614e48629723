//! `Client` (per worker thread) and `Session` (per user): pools, cookies, redirects, timeouts,
//! decoding. The hyper fast path's exchange lives here; the reqwest engine's in `engine.rs`, both
//! fed by the same `build` and read by the same redirect loop.
//!
//! Past 600 lines on purpose: the redirect loop, request building, the fast path's exchange, the
//! per-user pools and the cookie jar all work on `Session`'s private state in one hot path;
//! splitting them would widen that state's visibility for no reader's gain.

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cookie_store::{CookieStore, RawCookie};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};
use http_body_util::Full;

use super::body::{read_body, BodyLimits, ExchangeError};
use super::engine::{self, EngineKind, Head, Http2};
use super::error::HttpError;
use super::pool::{Conn, Connector, ReqBody, MAX_IDLE_PER_ORIGIN};
use super::url::{self as urls, BaseUrl, Origin};
use super::{HttpConfig, Request, RequestDefaults, Resolve, Response};

/// Per worker thread: settings, shared TLS config, DNS cache. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    connector: Connector,
    reqwest: engine::Reqwest,
    default_timeout: Duration,
    max_redirects: u32,
    engine: EngineKind,
    proxy_in_env: bool,
    /// `None`: no `Accept-Encoding` by default.
    accept_encoding: Option<HeaderValue>,
    max_decoded: usize,
    max_body: Option<u64>,
}

impl Client {
    pub fn new(cfg: &HttpConfig) -> Result<Client, HttpError> {
        let tls = super::tls::client_config(cfg)?;
        let resolve = cfg
            .resolve
            .iter()
            .map(|r| r.parse::<Resolve>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(HttpError::Config)?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                reqwest: engine::Reqwest::new(tls.clone(), resolve.clone()),
                connector: Connector::new(tls, resolve),
                default_timeout: cfg.default_timeout,
                max_redirects: cfg.max_redirects,
                engine: cfg.engine,
                proxy_in_env: engine::proxy_in_env(),
                accept_encoding: accept_encoding(&cfg.accept_encoding)?,
                max_decoded: cfg.max_decoded,
                max_body: cfg.max_body,
            }),
        })
    }

    /// A new user session: empty cookie jar, no connections yet.
    pub fn session(&self, base: Option<BaseUrl>) -> Rc<Session> {
        self.session_with(base, None)
    }

    /// A new user session whose requests get `defaults` (a user class's `http:` settings).
    pub fn session_with(
        &self,
        base: Option<BaseUrl>,
        defaults: Option<Arc<RequestDefaults>>,
    ) -> Rc<Session> {
        Rc::new(Session {
            client: self.inner.clone(),
            defaults,
            base,
            pools: RefCell::new(Vec::new()),
            jar: RefCell::new(None),
        })
    }

    pub fn default_timeout(&self) -> Duration {
        self.inner.default_timeout
    }

    pub fn max_redirects(&self) -> u32 {
        self.inner.max_redirects
    }
}

/// One simulated user's HTTP state (python-requests' `Session`): cookies and kept-alive
/// connections, never shared with other users. `!Send`: lives on its worker thread's `LocalSet`.
pub struct Session {
    client: Arc<ClientInner>,
    /// The user class's request settings (engine, http2, Accept-Encoding), if it has any.
    defaults: Option<Arc<RequestDefaults>>,
    base: Option<BaseUrl>,
    /// Idle connections per origin (usually exactly one origin).
    pools: RefCell<Vec<Pool>>,
    /// `None` while empty: the hot path does no cookie work.
    jar: RefCell<Option<Box<CookieStore>>>,
}

struct Pool {
    origin: Arc<Origin>,
    idle: Vec<Conn>,
}

/// Where a request goes.
struct Target<'a> {
    origin: Arc<Origin>,
    /// Request target: path + query, percent-encoded, starting with `/`.
    path: Cow<'a, str>,
    /// Basic auth from the base URL or the URL's userinfo.
    auth: Option<HeaderValue>,
}

impl Target<'_> {
    fn full_url(&self) -> String {
        let mut s = String::with_capacity(self.origin.url_prefix.len() + self.path.len());
        s.push_str(&self.origin.url_prefix);
        s.push_str(&self.path);
        s
    }
}

/// An `Accept-Encoding` value; empty: none.
fn accept_encoding(value: &str) -> Result<Option<HeaderValue>, HttpError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    HeaderValue::from_str(value)
        .map(Some)
        .map_err(|_| HttpError::InvalidHeader(format!("invalid Accept-Encoding value {value:?}")))
}

/// What one request keeps across its redirect hops.
struct Hops {
    engine: EngineKind,
    http2: Http2,
    proxy: Option<String>,
    accept_encoding: Option<HeaderValue>,
    timeout: Duration,
    connect_timeout: Option<Duration>,
    limits: BodyLimits,
}

/// User headers dropped when following a redirect (python-requests' `resolve_redirects`).
#[derive(Clone, Copy, Default)]
struct Strip {
    cookie: bool,
    content: bool,
    auth: bool,
}

/// Where an exchange was when hyper failed: a reused connection not ready, the head, the body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Ready,
    Head,
    Body,
}

impl Session {
    /// Sends a request: connects or reuses a kept-alive connection, follows redirects, reads the
    /// whole body. The future owns what it needs (`'static`) but is `!Send`.
    pub fn send(
        self: &Rc<Self>,
        req: Request,
    ) -> impl Future<Output = Result<Response, HttpError>> + 'static {
        let this = self.clone();
        async move { this.send_inner(req).await }
    }

    pub fn base(&self) -> Option<&BaseUrl> {
        self.base.as_ref()
    }

    /// The user class's request settings (the script layer merges them into each request).
    pub fn defaults(&self) -> Option<&RequestDefaults> {
        self.defaults.as_deref()
    }

    /// Value of a cookie in the jar (any domain/path), unexpired.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let jar = self.jar.borrow();
        let jar = jar.as_ref()?;
        let v = jar
            .iter_unexpired()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string());
        v
    }

    /// All unexpired cookies as (name, value).
    pub fn cookies(&self) -> Vec<(String, String)> {
        match &*self.jar.borrow() {
            Some(jar) => jar
                .iter_unexpired()
                .map(|c| (c.name().to_string(), c.value().to_string()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Stores a cookie as if `url` (relative to the base, or absolute) had answered with this
    /// `Set-Cookie` header value, e.g. `("sid=abc; Path=/", "/")`.
    pub fn set_cookie(&self, set_cookie: &str, url: &str) -> Result<(), HttpError> {
        let target = self.resolve(url)?;
        let cookie = RawCookie::parse(set_cookie.to_string())
            .map_err(|e| HttpError::InvalidHeader(format!("invalid cookie '{set_cookie}': {e}")))?;
        self.store_cookies(&target, std::iter::once(cookie));
        Ok(())
    }

    pub fn clear_cookies(&self) {
        *self.jar.borrow_mut() = None;
    }

    /// Closes all idle connections.
    pub fn close_connections(&self) {
        let pools = std::mem::take(&mut *self.pools.borrow_mut());
        drop(pools);
    }

    /// Number of idle kept-alive connections.
    pub fn idle_connections(&self) -> usize {
        self.pools.borrow().iter().map(|p| p.idle.len()).sum()
    }

    async fn send_inner(&self, req: Request) -> Result<Response, HttpError> {
        let Request {
            method,
            url,
            headers,
            body,
            timeout,
            connect_timeout,
            follow_redirects,
            engine,
            http2,
            accept_encoding: ae,
            proxy,
            auth,
            max_body,
            keep_body,
        } = req;
        let c = &self.client;
        let hops = Hops {
            engine: engine::choose(engine, c.engine, http2, proxy.as_deref(), c.proxy_in_env)?,
            http2,
            proxy,
            accept_encoding: match ae {
                None => c.accept_encoding.clone(),
                Some(v) => accept_encoding(&v)?,
            },
            timeout: timeout.unwrap_or(c.default_timeout),
            connect_timeout,
            limits: BodyLimits::new(max_body, keep_body, c.max_body),
        };
        let mut target = self.resolve(&url)?;
        if let Some((user, pass)) = &auth {
            target.auth = Some(urls::basic_auth(user, pass));
        }
        let mut method = method;
        let mut body = body;
        let mut strip = Strip::default();
        let mut redirects = 0u32;
        loop {
            let (parts, resp_body, body_len) = match hops.engine {
                EngineKind::Reqwest => {
                    let mut request =
                        self.build(&method, &target, &headers, strip, &body, &hops)?;
                    *request.uri_mut() = absolute_uri(&target)?;
                    let request = request.map(|_| body.clone());
                    let origin = &target.origin;
                    let timeout = hops.timeout + hops.connect_timeout.unwrap_or_default();
                    let proxy = hops.proxy.as_deref();
                    c.reqwest
                        .exchange(hops.http2, proxy, request, origin, timeout, hops.limits)
                        .await?
                }
                _ => {
                    self.exchange(&method, &target, &headers, strip, &body, &hops)
                        .await?
                }
            };
            if parts.headers.contains_key(header::SET_COOKIE) {
                let cookies = parts
                    .headers
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
                    .filter_map(|s| RawCookie::parse(s.to_string()).ok());
                self.store_cookies(&target, cookies);
            }
            let status = parts.status.as_u16();
            if follow_redirects && matches!(status, 301 | 302 | 303 | 307 | 308) {
                if let Some(location) = parts.headers.get(header::LOCATION) {
                    if redirects >= self.client.max_redirects {
                        return Err(HttpError::TooManyRedirects(self.client.max_redirects));
                    }
                    redirects += 1;
                    let next = self.redirect_target(&target, location)?;
                    // python-requests' rebuild_method
                    if (matches!(status, 302 | 303) && method != Method::HEAD)
                        || (status == 301 && method == Method::POST)
                    {
                        method = Method::GET;
                    }
                    if status != 307 && status != 308 {
                        body = Bytes::new();
                        strip.content = true;
                    }
                    strip.cookie = true;
                    if !keep_auth(&target.origin, &next.origin) {
                        strip.auth = true;
                    }
                    target = next;
                    continue;
                }
            }
            let (body, body_len) = super::decode::decode_body(
                &parts.headers,
                resp_body,
                body_len,
                &hops.limits,
                c.max_decoded,
            )?;
            return Ok(Response {
                status,
                headers: parts.headers,
                body,
                body_len,
                url: target.full_url(),
                version: parts.version,
            });
        }
    }

    fn resolve<'a>(&self, url: &'a str) -> Result<Target<'a>, HttpError> {
        let url = urls::strip_fragment(url);
        if urls::split_absolute(url).is_some() {
            let a = urls::parse_absolute(url)?;
            let origin = self.find_origin(a.https, &a.host, a.port)?;
            let auth = match a.auth {
                Some(auth) => Some(auth),
                None => self
                    .base
                    .as_ref()
                    .filter(|b| b.origin().same(&origin))
                    .and_then(|b| b.auth().cloned()),
            };
            return Ok(Target {
                origin,
                path: a.path,
                auth,
            });
        }
        if let Some(i) = url.find("://") {
            let scheme = &url[..i];
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            {
                return Err(HttpError::InvalidUrl(format!(
                    "unsupported URL '{url}': only http:// and https:// URLs can be requested"
                )));
            }
        }
        let Some(base) = &self.base else {
            return Err(HttpError::InvalidUrl(format!(
                "relative URL '{url}' but no host: pass -H/--host or set host on the user class"
            )));
        };
        Ok(Target {
            origin: base.origin().clone(),
            path: base.join(url),
            auth: base.auth().cloned(),
        })
    }

    fn find_origin(&self, https: bool, host: &str, port: u16) -> Result<Arc<Origin>, HttpError> {
        if let Some(b) = &self.base {
            if b.origin().matches(https, host, port) {
                return Ok(b.origin().clone());
            }
        }
        if let Some(p) = self
            .pools
            .borrow()
            .iter()
            .find(|p| p.origin.matches(https, host, port))
        {
            return Ok(p.origin.clone());
        }
        Ok(Arc::new(Origin::new(https, host, port)?))
    }

    fn redirect_target(
        &self,
        current: &Target<'_>,
        location: &HeaderValue,
    ) -> Result<Target<'static>, HttpError> {
        let loc = String::from_utf8_lossy(location.as_bytes());
        let loc = loc.trim();
        let base = url::Url::parse(&current.full_url()).map_err(|e| {
            HttpError::InvalidUrl(format!("invalid URL '{}': {e}", current.full_url()))
        })?;
        let mut next = base.join(loc).map_err(|e| {
            HttpError::InvalidUrl(format!("invalid redirect location '{loc}': {e}"))
        })?;
        next.set_fragment(None);
        let a = urls::from_url(&next)?;
        let origin = if current.origin.matches(a.https, &a.host, a.port) {
            current.origin.clone()
        } else {
            self.find_origin(a.https, &a.host, a.port)?
        };
        let auth = match a.auth {
            Some(auth) => Some(auth),
            None if keep_auth(&current.origin, &origin) => current.auth.clone(),
            None => None,
        };
        Ok(Target {
            origin,
            path: Cow::Owned(a.path.into_owned()),
            auth,
        })
    }

    /// One request/response on one connection, with the transparent retry of a kept-alive
    /// connection that the server had closed while idle.
    #[allow(clippy::too_many_arguments)] // one private call site; a struct would only rename them
    async fn exchange(
        &self,
        method: &Method,
        target: &Target<'_>,
        headers: &[(String, String)],
        strip: Strip,
        body: &Bytes,
        hops: &Hops,
    ) -> Result<(Head, Bytes, u64), HttpError> {
        let timeout = hops.timeout;
        let far = |d: Duration| {
            let now = tokio::time::Instant::now();
            now.checked_add(d)
                .unwrap_or_else(|| now + Duration::from_secs(86400 * 365))
        };
        let mut deadline = far(timeout);
        let connect_deadline = hops.connect_timeout.map_or(deadline, far);
        let mut fresh_only = false;
        loop {
            let request = self.build(method, target, headers, strip, body, hops)?;
            let pooled = if fresh_only {
                None
            } else {
                self.checkout(&target.origin)
            };
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(c) => c,
                None => {
                    let origin = &target.origin;
                    let connect = self.client.connector.connect(origin);
                    match tokio::time::timeout_at(connect_deadline, connect).await {
                        Ok(c) => {
                            if hops.connect_timeout.is_some() {
                                // `timeout` is the read timeout now, from here on
                                deadline = far(timeout);
                            }
                            c?
                        }
                        Err(_) => {
                            return Err(HttpError::connect_timeout(
                                origin.https,
                                &origin.host,
                                origin.port,
                                hops.connect_timeout.unwrap_or(timeout),
                            ))
                        }
                    }
                }
            };
            let result = tokio::time::timeout_at(deadline, async {
                if reused && !conn.sender.is_ready() {
                    conn.sender
                        .ready()
                        .await
                        .map_err(|e| ExchangeError::Engine((Phase::Ready, e)))?;
                }
                let resp = conn
                    .sender
                    .send_request(request)
                    .await
                    .map_err(|e| ExchangeError::Engine((Phase::Head, e)))?;
                let (parts, body) = resp.into_parts();
                let (bytes, len) = read_body(body, hops.limits).await.map_err(|e| match e {
                    ExchangeError::Engine(e) => ExchangeError::Engine((Phase::Body, e)),
                    ExchangeError::TooLarge => ExchangeError::TooLarge,
                })?;
                Ok((parts, bytes, len))
            })
            .await;
            match result {
                Ok(Ok((parts, bytes, len))) => {
                    let close = parts
                        .headers
                        .get(header::CONNECTION)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                    if !close {
                        self.checkin(&target.origin, conn);
                    }
                    let head = Head {
                        status: parts.status,
                        headers: parts.headers,
                        version: parts.version,
                    };
                    return Ok((head, bytes, len));
                }
                Ok(Err(ExchangeError::TooLarge)) => {
                    // The rest of the body is never read: the connection cannot be reused.
                    drop(conn);
                    return Err(hops.limits.too_large());
                }
                Ok(Err(ExchangeError::Engine((phase, e)))) => {
                    drop(conn);
                    if phase == Phase::Ready {
                        // A stale idle connection noticed before sending: just take another one.
                        continue;
                    }
                    let err = HttpError::from_hyper(&e, phase == Phase::Body);
                    if reused && !fresh_only && phase == Phase::Head && err.is_stale_connection() {
                        fresh_only = true;
                        continue;
                    }
                    return Err(err);
                }
                Err(_) => {
                    let o = &target.origin;
                    return Err(HttpError::read_timeout(o.https, &o.host, o.port, timeout));
                }
            }
        }
    }

    fn build(
        &self,
        method: &Method,
        target: &Target<'_>,
        user: &[(String, String)],
        strip: Strip,
        body: &Bytes,
        hops: &Hops,
    ) -> Result<http::Request<ReqBody>, HttpError> {
        let uri = Uri::from_maybe_shared(Bytes::copy_from_slice(target.path.as_bytes())).map_err(
            |e| HttpError::InvalidUrl(format!("invalid URL path '{}': {e}", target.path)),
        )?;
        let mut h = HeaderMap::with_capacity(6 + user.len());
        h.insert(header::HOST, target.origin.host_header.clone());
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_static(super::USER_AGENT),
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        if let Some(ae) = &hops.accept_encoding {
            h.insert(header::ACCEPT_ENCODING, ae.clone());
        }
        if body.is_empty() && *method != Method::GET && *method != Method::HEAD {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        }
        if let Some(auth) = &target.auth {
            h.insert(header::AUTHORIZATION, auth.clone());
        }
        for (i, (name, value)) in user.iter().enumerate() {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::InvalidHeader(format!("invalid header name {name:?}")))?;
            if (strip.cookie && n == header::COOKIE)
                || (strip.auth && n == header::AUTHORIZATION)
                || (strip.content
                    && (n == header::CONTENT_LENGTH
                        || n == header::CONTENT_TYPE
                        || n == header::TRANSFER_ENCODING))
            {
                continue;
            }
            let v = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
                HttpError::InvalidHeader(format!("invalid value for header '{name}': {value:?}"))
            })?;
            if user[..i]
                .iter()
                .any(|(prev, _)| prev.eq_ignore_ascii_case(name))
            {
                h.append(n, v);
            } else {
                h.insert(n, v);
            }
        }
        if self.jar.borrow().is_some() && !h.contains_key(header::COOKIE) {
            if let Some(cookie) = self.cookie_header(target) {
                h.insert(header::COOKIE, cookie);
            }
        }
        let mut req = http::Request::new(Full::new(body.clone()));
        *req.method_mut() = method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = h;
        Ok(req)
    }

    fn cookie_header(&self, target: &Target<'_>) -> Option<HeaderValue> {
        let jar = self.jar.borrow();
        let jar = jar.as_ref()?;
        let url = url::Url::parse(&target.full_url()).ok()?;
        let mut s = String::new();
        for (name, value) in jar.get_request_values(&url) {
            if !s.is_empty() {
                s.push_str("; ");
            }
            s.push_str(name);
            s.push('=');
            s.push_str(value);
        }
        if s.is_empty() {
            None
        } else {
            HeaderValue::from_str(&s).ok()
        }
    }

    fn store_cookies(
        &self,
        target: &Target<'_>,
        cookies: impl Iterator<Item = RawCookie<'static>>,
    ) {
        let Ok(url) = url::Url::parse(&target.full_url()) else {
            return;
        };
        let mut jar = self.jar.borrow_mut();
        let store = jar.get_or_insert_with(Default::default);
        store.store_response_cookies(cookies, &url);
        if store.iter_any().next().is_none() {
            *jar = None;
        }
    }

    fn checkout(&self, origin: &Origin) -> Option<Conn> {
        let mut pools = self.pools.borrow_mut();
        let pool = pools.iter_mut().find(|p| p.origin.same(origin))?;
        while let Some(conn) = pool.idle.pop() {
            if !conn.sender.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    fn checkin(&self, origin: &Arc<Origin>, conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        let mut pools = self.pools.borrow_mut();
        if let Some(pool) = pools.iter_mut().find(|p| p.origin.same(origin)) {
            if pool.idle.len() < MAX_IDLE_PER_ORIGIN {
                pool.idle.push(conn);
            }
            return;
        }
        if pools.len() >= 8 {
            pools.retain(|p| !p.idle.is_empty());
        }
        if pools.capacity() == 0 {
            pools.reserve_exact(1); // the usual case: one origin per user
        }
        pools.push(Pool {
            origin: origin.clone(),
            idle: vec![conn],
        });
    }
}

/// The target as an absolute URI (the reqwest engine wants one; the fast path sends the path).
fn absolute_uri(target: &Target<'_>) -> Result<Uri, HttpError> {
    let url = target.full_url();
    Uri::try_from(url.as_str())
        .map_err(|e| HttpError::InvalidUrl(format!("invalid URL '{url}': {e}")))
}

/// python-requests' `should_strip_auth`, inverted: credentials survive a redirect only to the same
/// host, scheme and port, or from http:80 to https:443 on the same host.
fn keep_auth(old: &Origin, new: &Origin) -> bool {
    old.host == new.host
        && ((old.https == new.https && old.port == new.port)
            || (!old.https && old.port == 80 && new.https && new.port == 443))
}
