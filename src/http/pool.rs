//! Connections: TCP (+ TLS) + hyper http1 handshake, the connection task, and a small DNS cache.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use super::error::HttpError;
use super::url::Origin;
use super::Resolve;

pub(crate) type ReqBody = Full<Bytes>;

/// Most idle connections kept per (session, origin).
pub(crate) const MAX_IDLE_PER_ORIGIN: usize = 4;

/// How long resolved addresses are reused.
const DNS_TTL: Duration = Duration::from_secs(30);

/// One http1 connection: the request handle plus the task that drives the socket. Dropping it
/// aborts the task, which closes the socket at once (also when a request is in flight, e.g. after
/// a timeout), so nothing outlives its session.
pub(crate) struct Conn {
    pub sender: http1::SendRequest<ReqBody>,
    task: AbortHandle,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type DnsKey = (Box<str>, u16);
type DnsEntry = (Arc<[SocketAddr]>, Instant);

/// Per-process DNS cache (per `Client`), so that thousands of users starting at once resolve a host
/// once instead of once per connection; `--resolve` entries answer first.
#[derive(Default)]
pub(crate) struct DnsCache {
    map: Mutex<HashMap<DnsKey, DnsEntry>>,
    overrides: Vec<Resolve>,
}

impl DnsCache {
    async fn resolve(&self, host: &str, port: u16) -> Result<Arc<[SocketAddr]>, HttpError> {
        if let Some(r) = self
            .overrides
            .iter()
            .find(|r| r.port == port && r.host.eq_ignore_ascii_case(host))
        {
            return Ok(Arc::new([r.addr]));
        }
        let key = (Box::<str>::from(host), port);
        if let Some((addrs, at)) = self.map.lock().unwrap().get(&key) {
            if at.elapsed() < DNS_TTL {
                return Ok(addrs.clone());
            }
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| HttpError::Connection(format!("Failed to resolve '{host}' ({e})")))?
            .collect();
        if addrs.is_empty() {
            return Err(HttpError::Connection(format!(
                "Failed to resolve '{host}' (no addresses)"
            )));
        }
        let addrs: Arc<[SocketAddr]> = addrs.into();
        let mut map = self.map.lock().unwrap();
        if map.len() > 1024 {
            map.retain(|_, (_, at)| at.elapsed() < DNS_TTL);
        }
        map.insert(key, (addrs.clone(), Instant::now()));
        Ok(addrs)
    }
}

/// What a connection needs from the client.
pub(crate) struct Connector {
    pub tls: Arc<rustls::ClientConfig>,
    pub builder: http1::Builder,
    pub dns: DnsCache,
}

impl Connector {
    pub fn new(tls: Arc<rustls::ClientConfig>, overrides: Vec<Resolve>) -> Connector {
        let mut builder = http1::Builder::new();
        builder.max_buf_size(8192);
        Connector {
            tls,
            builder,
            dns: DnsCache {
                overrides,
                ..DnsCache::default()
            },
        }
    }

    /// HTTP/1 handshake over any stream; the connection is driven by a local task that dies with
    /// the `Conn`.
    async fn handshake<S>(&self, io: S) -> Result<Conn, HttpError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    {
        let (sender, conn) = self
            .builder
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| HttpError::from_hyper(&e, false))?;
        let task = tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            task: task.abort_handle(),
        })
    }

    /// Opens a connection (no timeout here: the caller bounds it). Must run inside a `LocalSet`.
    pub async fn connect(&self, origin: &Origin) -> Result<Conn, HttpError> {
        let tcp = self.connect_tcp(origin).await?;
        if origin.https {
            let name = match origin.ip {
                Some(ip) => ServerName::IpAddress(ip.into()),
                None => ServerName::try_from(origin.host.to_string()).map_err(|e| {
                    HttpError::Connection(format!("invalid TLS server name '{}': {e}", origin.host))
                })?,
            };
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::from_io(&e))?;
            self.handshake(tls).await
        } else {
            self.handshake(tcp).await
        }
    }

    async fn connect_tcp(&self, origin: &Origin) -> Result<TcpStream, HttpError> {
        let single;
        let resolved;
        let addrs: &[SocketAddr] = match origin.ip {
            Some(ip) => {
                single = [SocketAddr::new(ip, origin.port)];
                &single
            }
            None => {
                resolved = self.dns.resolve(&origin.host, origin.port).await?;
                &resolved
            }
        };
        let mut last: Option<io::Error> = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(HttpError::from_io(&last.unwrap_or_else(|| {
            io::Error::other("no address to connect to")
        })))
    }
}
