//! The engine choice and the reqwest engine: what the hyper fast path does not do (HTTP/2 by ALPN
//! or prior knowledge, proxies from the environment or per client, incl. SOCKS5). One reqwest
//! `Client` per worker thread, HTTP/2 mode and proxy, built on first use with our rustls config;
//! its cookie store, redirects and decompression are off, so the session does those the same way
//! for both engines.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{StatusCode, Version};

use super::body::{read_body, BodyLimits, ExchangeError};
use super::error::HttpError;
use super::url::Origin;

/// Which engine serves a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// The fast path, unless the request needs reqwest (HTTP/2) or a proxy is set in the
    /// environment.
    #[default]
    Auto,
    Hyper,
    Reqwest,
}

impl FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<EngineKind, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(EngineKind::Auto),
            "hyper" => Ok(EngineKind::Hyper),
            "reqwest" => Ok(EngineKind::Reqwest),
            _ => Err(format!(
                "unknown HTTP engine '{s}' (expected hyper, reqwest or auto)"
            )),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Auto => "auto",
            EngineKind::Hyper => "hyper",
            EngineKind::Reqwest => "reqwest",
        })
    }
}

/// HTTP/2 use of a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Http2 {
    /// HTTP/1.1 only.
    #[default]
    Off,
    /// Offered by ALPN over TLS (the server chooses); HTTP/1.1 over plain TCP.
    Alpn,
    /// h2 without negotiation, also over plain TCP (h2c).
    PriorKnowledge,
}

/// Proxy variables that reqwest honours (as curl and python-requests do), `NO_PROXY` aside.
pub const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Whether the environment names a proxy: then `auto` requests go through reqwest, which honours
/// it (and `NO_PROXY`); the fast path connects directly.
pub(crate) fn proxy_in_env() -> bool {
    PROXY_VARS
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// Checks a `proxy` setting: empty (no proxy, not even the environment's) or an absolute
/// `http`, `https`, `socks4(a)` or `socks5(h)` URL with a host.
pub fn check_proxy(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    const HINT: &str =
        "expected a URL such as http://proxy:3128 or socks5://proxy:1080, or \"\" for none";
    let u = url::Url::parse(url).map_err(|e| format!("invalid proxy URL '{url}': {e} ({HINT})"))?;
    if !matches!(
        u.scheme(),
        "http" | "https" | "socks4" | "socks4a" | "socks5" | "socks5h"
    ) {
        return Err(format!(
            "invalid proxy URL '{url}': unsupported scheme '{}' ({HINT})",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid proxy URL '{url}': no host ({HINT})"));
    }
    Ok(())
}

/// The engine that serves a request, `auto` resolved. `proxy`: the request's own proxy setting.
pub(crate) fn choose(
    request: EngineKind,
    configured: EngineKind,
    http2: Http2,
    proxy: Option<&str>,
    proxy_in_env: bool,
) -> Result<EngineKind, HttpError> {
    let kind = match (request, configured) {
        (EngineKind::Auto, c) => c,
        (r, _) => r,
    };
    let own_proxy = proxy.is_some_and(|p| !p.is_empty());
    let env_proxy = proxy_in_env && proxy.is_none();
    match kind {
        EngineKind::Hyper if http2 != Http2::Off => Err(HttpError::Config(
            "http2 needs the reqwest engine, but the hyper engine was chosen".into(),
        )),
        EngineKind::Hyper if own_proxy => Err(HttpError::Config(
            "a proxy needs the reqwest engine, but the hyper engine was chosen".into(),
        )),
        EngineKind::Auto if http2 != Http2::Off || own_proxy || env_proxy => {
            Ok(EngineKind::Reqwest)
        }
        EngineKind::Auto => Ok(EngineKind::Hyper),
        k => Ok(k),
    }
}

/// The reqwest clients of one worker thread, one per HTTP/2 mode and proxy setting, each built
/// on first use.
pub(crate) struct Reqwest {
    tls: Arc<rustls::ClientConfig>,
    /// `--resolve`; reqwest overrides a host name for every port, so the first entry of a host
    /// wins.
    resolve: Vec<super::Resolve>,
    /// Proxies from the environment (the usual case: no lock).
    clients: [OnceLock<Result<reqwest::Client, String>>; 3],
    /// With a `proxy` setting ("" for none at all).
    proxied: Mutex<Vec<ProxiedClient>>,
}

type ProxiedClient = (Http2, Box<str>, reqwest::Client);

/// What the session needs of a response.
pub(crate) struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub version: Version,
}

impl Reqwest {
    pub fn new(tls: Arc<rustls::ClientConfig>, resolve: Vec<super::Resolve>) -> Reqwest {
        Reqwest {
            tls,
            resolve,
            clients: Default::default(),
            proxied: Mutex::new(Vec::new()),
        }
    }

    fn client(&self, http2: Http2, proxy: Option<&str>) -> Result<reqwest::Client, HttpError> {
        let failed = |e: &dyn fmt::Display| {
            HttpError::Config(format!("cannot build the reqwest client: {e}"))
        };
        let Some(proxy) = proxy else {
            let slot = &self.clients[http2 as usize];
            return slot
                .get_or_init(|| self.build(http2, None).map_err(|e| e.to_string()))
                .clone()
                .map_err(|e| failed(&e));
        };
        check_proxy(proxy).map_err(HttpError::Config)?;
        let mut proxied = self.proxied.lock().unwrap();
        if let Some((_, _, c)) = proxied
            .iter()
            .find(|(h, p, _)| *h == http2 && &**p == proxy)
        {
            return Ok(c.clone());
        }
        let c = self.build(http2, Some(proxy)).map_err(|e| failed(&e))?;
        proxied.push((http2, proxy.into(), c.clone()));
        Ok(c)
    }

    /// `proxy`: `None`, the environment's (and `NO_PROXY`); `""`, none; else that one for every
    /// scheme, `NO_PROXY` still honoured (as curl).
    fn build(&self, http2: Http2, proxy: Option<&str>) -> Result<reqwest::Client, reqwest::Error> {
        let mut tls = (*self.tls).clone();
        tls.alpn_protocols = match http2 {
            Http2::Off => vec![b"http/1.1".to_vec()],
            Http2::Alpn => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Http2::PriorKnowledge => vec![b"h2".to_vec()],
        };
        let mut b = reqwest::Client::builder();
        for r in self.resolve.iter().rev() {
            b = b.resolve(&r.host, r.addr);
        }
        let b = b
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90));
        let b = match http2 {
            Http2::Off => b.http1_only(),
            Http2::Alpn => b,
            Http2::PriorKnowledge => b.http2_prior_knowledge(),
        };
        let b = match proxy {
            None => b,
            Some("") => b.no_proxy(),
            Some(url) => b.proxy(reqwest::Proxy::all(url)?.no_proxy(reqwest::NoProxy::from_env())),
        };
        b.build()
    }

    /// One request/response; the session builds the request (headers, cookies) and follows
    /// redirects. The body is read within `timeout` like the fast path's, and within `limits` by
    /// the fast path's own reader: the kept bytes and the full length.
    pub async fn exchange(
        &self,
        http2: Http2,
        proxy: Option<&str>,
        mut request: http::Request<Bytes>,
        origin: &Origin,
        timeout: Duration,
        limits: BodyLimits,
    ) -> Result<(Head, Bytes, u64), HttpError> {
        let client = self.client(http2, proxy)?;
        // reqwest derives Host (or :authority) from the URL.
        request.headers_mut().remove(header::HOST);
        let request = reqwest::Request::try_from(request)
            .map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
        let exchange = async {
            let resp = client
                .execute(request)
                .await
                .map_err(|e| HttpError::from_reqwest(&e, false))?;
            let head = Head {
                status: resp.status(),
                version: resp.version(),
                headers: resp.headers().clone(),
            };
            let body = http::Response::<reqwest::Body>::from(resp).into_body();
            // Dropping the body unread closes its connection (HTTP/1) or resets the stream
            // (HTTP/2): nothing more of it is read.
            let (body, len) = read_body(body, limits).await.map_err(|e| match e {
                ExchangeError::Engine(e) => HttpError::from_reqwest(&e, true),
                ExchangeError::TooLarge => limits.too_large(),
            })?;
            Ok((head, body, len))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::read_timeout(
                origin.https,
                &origin.host,
                origin.port,
                timeout,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_and_choice() {
        assert_eq!("Reqwest".parse::<EngineKind>(), Ok(EngineKind::Reqwest));
        assert_eq!(
            "curl".parse::<EngineKind>().unwrap_err(),
            "unknown HTTP engine 'curl' (expected hyper, reqwest or auto)"
        );
        use EngineKind::*;
        let off = Http2::Off;
        assert_eq!(choose(Auto, Auto, off, None, false).unwrap(), Hyper);
        assert_eq!(
            choose(Auto, Auto, Http2::Alpn, None, false).unwrap(),
            Reqwest
        );
        assert_eq!(choose(Auto, Auto, off, None, true).unwrap(), Reqwest);
        assert_eq!(choose(Auto, Auto, off, Some(""), true).unwrap(), Hyper);
        assert_eq!(
            choose(Auto, Auto, off, Some("http://p:1"), false).unwrap(),
            Reqwest
        );
        assert_eq!(choose(Auto, Reqwest, off, None, false).unwrap(), Reqwest);
        assert_eq!(choose(Hyper, Reqwest, off, None, true).unwrap(), Hyper);
        assert!(choose(Hyper, Auto, Http2::Alpn, None, false)
            .unwrap_err()
            .to_string()
            .contains("http2 needs the reqwest engine"));
        assert!(choose(Hyper, Auto, off, Some("http://p:1"), false)
            .unwrap_err()
            .to_string()
            .contains("a proxy needs the reqwest engine"));
    }

    #[test]
    fn proxy_urls_are_checked() {
        for ok in [
            "",
            "http://p:3128",
            "https://u:pw@p",
            "socks5://127.0.0.1:1080",
            "socks5h://p",
        ] {
            assert_eq!(check_proxy(ok), Ok(()), "{ok}");
        }
        let e = check_proxy("proxy:3128").unwrap_err();
        assert!(
            e.starts_with("invalid proxy URL 'proxy:3128': unsupported scheme 'proxy'"),
            "{e}"
        );
        let e = check_proxy("http//nope").unwrap_err();
        assert!(
            e.starts_with("invalid proxy URL 'http//nope': relative URL without a base"),
            "{e}"
        );
        assert!(check_proxy("ftp://p")
            .unwrap_err()
            .contains("unsupported scheme 'ftp'"));
        assert!(check_proxy("http://")
            .unwrap_err()
            .starts_with("invalid proxy URL 'http://'"));
    }
}
