//! The engine choice and the reqwest engine: what the hyper fast path does not do (HTTP/2 by ALPN
//! or prior knowledge, proxies from the environment incl. SOCKS5). One reqwest `Client` per worker
//! thread and HTTP/2 mode, built on first use with our rustls config; its cookie store,
//! redirects and decompression are off, so the session does those the same way for both engines.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{StatusCode, Version};

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

/// Proxy variables that reqwest honours (as curl and python-requests do).
const PROXY_VARS: [&str; 6] = [
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

/// The engine that serves a request, `auto` resolved.
pub(crate) fn choose(
    request: EngineKind,
    configured: EngineKind,
    http2: Http2,
    proxy_in_env: bool,
) -> Result<EngineKind, HttpError> {
    let kind = match (request, configured) {
        (EngineKind::Auto, c) => c,
        (r, _) => r,
    };
    match kind {
        EngineKind::Hyper if http2 != Http2::Off => Err(HttpError::Config(
            "http2 needs the reqwest engine, but the hyper engine was chosen".into(),
        )),
        EngineKind::Auto if http2 != Http2::Off || proxy_in_env => Ok(EngineKind::Reqwest),
        EngineKind::Auto => Ok(EngineKind::Hyper),
        k => Ok(k),
    }
}

/// The reqwest clients of one worker thread, one per HTTP/2 mode, each built on first use.
pub(crate) struct Reqwest {
    tls: Arc<rustls::ClientConfig>,
    clients: [OnceLock<Result<reqwest::Client, String>>; 3],
}

/// What the session needs of a response.
pub(crate) struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub version: Version,
}

impl Reqwest {
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Reqwest {
        Reqwest {
            tls,
            clients: Default::default(),
        }
    }

    fn client(&self, http2: Http2) -> Result<&reqwest::Client, HttpError> {
        let slot = &self.clients[http2 as usize];
        slot.get_or_init(|| self.build(http2).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| HttpError::Config(format!("cannot build the reqwest client: {e}")))
    }

    fn build(&self, http2: Http2) -> Result<reqwest::Client, reqwest::Error> {
        let mut tls = (*self.tls).clone();
        tls.alpn_protocols = match http2 {
            Http2::Off => vec![b"http/1.1".to_vec()],
            Http2::Alpn => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Http2::PriorKnowledge => vec![b"h2".to_vec()],
        };
        let b = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90));
        let b = match http2 {
            Http2::Off => b.http1_only(),
            Http2::Alpn => b,
            Http2::PriorKnowledge => b.http2_prior_knowledge(),
        };
        b.build()
    }

    /// One request/response; the session builds the request (headers, cookies) and follows
    /// redirects. The body is read whole, within `timeout` like the fast path's.
    pub async fn exchange(
        &self,
        http2: Http2,
        mut request: http::Request<Bytes>,
        origin: &Origin,
        timeout: Duration,
    ) -> Result<(Head, Bytes), HttpError> {
        let client = self.client(http2)?;
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
            let body = resp
                .bytes()
                .await
                .map_err(|e| HttpError::from_reqwest(&e, true))?;
            Ok((head, body))
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
        assert_eq!(choose(Auto, Auto, Http2::Off, false).unwrap(), Hyper);
        assert_eq!(choose(Auto, Auto, Http2::Alpn, false).unwrap(), Reqwest);
        assert_eq!(choose(Auto, Auto, Http2::Off, true).unwrap(), Reqwest);
        assert_eq!(choose(Auto, Reqwest, Http2::Off, false).unwrap(), Reqwest);
        assert_eq!(choose(Hyper, Reqwest, Http2::Off, true).unwrap(), Hyper);
        assert!(choose(Hyper, Auto, Http2::Alpn, false)
            .unwrap_err()
            .to_string()
            .contains("http2 needs the reqwest engine"));
    }
}
