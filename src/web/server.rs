//! Serving the web app on its socket: plain HTTP, or HTTPS with `--tls-cert/--tls-key`, and under
//! `--web-base-path`. Everything that can be wrong with those options is found before the port is
//! bound, so a bad certificate or path is an error at start-up, never a server that fails later.
//!
//! HTTPS is a `Listener` for `axum::serve` that hands over connections once their TLS handshake is
//! done (tokio-rustls with the ring provider, as the HTTP client uses): no new dependency, and
//! axum's own connection handling and graceful shutdown stay the same for both schemes. Handshakes
//! run in tasks of their own, so a slow or silent client cannot hold up the others.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::WebOptions;

/// A client gets this long to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections whose handshake is done, waiting for the server to take them.
const READY_QUEUE: usize = 64;

/// Why the web UI cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "web base path '{path}': {why} (expected \"\" or a path like /locust or /tools/locust)"
    )]
    BasePath { path: String, why: &'static str },
    #[error("cannot read the TLS {what} '{path}': {source}")]
    TlsRead {
        what: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("the TLS {what} '{path}' holds no PEM {expected}")]
    TlsMissing {
        what: &'static str,
        path: String,
        expected: &'static str,
    },
    #[error("the TLS {what} '{path}' is not valid PEM: {message}")]
    TlsPem {
        what: &'static str,
        path: String,
        message: String,
    },
    #[error("the TLS certificate '{cert}' and key '{key}' cannot be used: {message}")]
    TlsConfig {
        cert: String,
        key: String,
        message: String,
    },
    #[error("binding the web UI to {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// `--web-base-path` as routes use it: "" (the root) or `/a/b` (a trailing slash is dropped).
/// Segments may hold letters, digits and `-._~`, so the path needs no escaping in URLs or HTML.
pub fn base_path(raw: &str) -> Result<String, WebError> {
    let bad = |why| WebError::BasePath {
        path: raw.to_owned(),
        why,
    };
    let trimmed = raw.strip_suffix('/').unwrap_or(raw);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let Some(rest) = trimmed.strip_prefix('/') else {
        return Err(bad("it must start with /"));
    };
    for seg in rest.split('/') {
        if seg.is_empty() {
            return Err(bad("it has an empty segment (//)"));
        }
        if seg == "." || seg == ".." {
            return Err(bad("it has a . or .. segment"));
        }
        if !seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        {
            return Err(bad("segments may hold only letters, digits, -, ., _ and ~"));
        }
    }
    Ok(trimmed.to_owned())
}

/// The TLS server configuration from a PEM certificate chain and its PEM private key.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, WebError> {
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|source| WebError::TlsRead {
            what,
            path: path.display().to_string(),
            source,
        })
    };
    let pem = |what, path: &Path, e: rustls::pki_types::pem::Error| match e {
        rustls::pki_types::pem::Error::NoItemsFound => WebError::TlsMissing {
            what,
            path: path.display().to_string(),
            expected: if what == "key" {
                "private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
            } else {
                "certificate (BEGIN CERTIFICATE)"
            },
        },
        other => WebError::TlsPem {
            what,
            path: path.display().to_string(),
            message: other.to_string(),
        },
    };
    let cert_pem = read("certificate", cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem("certificate", cert, e))?;
    if chain.is_empty() {
        return Err(pem(
            "certificate",
            cert,
            rustls::pki_types::pem::Error::NoItemsFound,
        ));
    }
    let key_pem = read("key", key)?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| pem("key", key, e))?;
    let unusable = |e: rustls::Error| WebError::TlsConfig {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        message: e.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(unusable)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(unusable)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The bound socket of the web UI, before it serves.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    addr: SocketAddr,
    base_path: String,
}

impl Server {
    /// Check the base path and the TLS files, then bind.
    pub async fn bind(opts: &WebOptions) -> Result<Server, WebError> {
        let base_path = base_path(&opts.base_path)?;
        let tls = match &opts.tls {
            Some((cert, key)) => Some(TlsAcceptor::from(tls_config(cert, key)?)),
            None => None,
        };
        let bind_err = |source| WebError::Bind {
            addr: opts.bind,
            source,
        };
        let listener = TcpListener::bind(opts.bind).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        Ok(Server {
            listener,
            tls,
            addr,
            base_path,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The UI's address, e.g. `https://127.0.0.1:8089/locust/`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{}/", self.addr, self.base_path)
    }

    /// Serve `app` until `shutdown` resolves (open connections are then drained, as
    /// `axum::serve` does).
    pub fn serve(
        self,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<io::Result<()>> {
        match self.tls {
            None => tokio::spawn(async move {
                axum::serve(self.listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }),
            Some(acceptor) => {
                let listener = TlsListener::start(self.listener, acceptor, self.addr);
                tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(shutdown)
                        .await
                })
            }
        }
    }
}

/// Connections after their TLS handshake, for `axum::serve`.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    fn start(tcp: TcpListener, acceptor: TlsAcceptor, addr: SocketAddr) -> TlsListener {
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        log::warn!("web UI: accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        // Plain HTTP on the HTTPS port, scanners, timeouts: not worth more.
                        Ok(Err(e)) => log::debug!("web UI: TLS handshake with {peer}: {e}"),
                        Err(_) => log::debug!("web UI: TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        TlsListener {
            ready,
            addr,
            accepting,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalised_or_refused() {
        let ok = |raw: &str| base_path(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(ok(""), "");
        assert_eq!(ok("/"), "");
        assert_eq!(ok("/locust"), "/locust");
        assert_eq!(ok("/tools/locust-1.2_x~/"), "/tools/locust-1.2_x~");
        for (raw, why) in [
            ("locust", "must start with /"),
            ("/a//b", "empty segment"),
            ("//", "empty segment"),
            ("/a/../b", ". or .. segment"),
            ("/a b", "only letters"),
            ("/a\"><script>", "only letters"),
            ("/caf\u{e9}", "only letters"),
        ] {
            let msg = base_path(raw)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                msg.starts_with(&format!("web base path '{raw}': ")),
                "{msg}"
            );
            assert!(msg.contains(why), "{raw}: {msg}");
        }
    }
}
