//! Errors of the HTTP client, rendered the way Locust shows them (the Python exception repr), so
//! failure tables group and read like Locust's.

use crate::pyfmt::py_repr;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

/// Everything that can go wrong with one request. `Display` is the Locust-style text that ends up in
/// the failures table (e.g. `ConnectionRefusedError(111, 'Connection refused')`).
#[derive(thiserror::Error, Debug)]
pub enum HttpError {
    /// The URL cannot be requested (relative without a base, unsupported scheme, unparsable).
    #[error("InvalidURL({})", py_repr(.0))]
    InvalidUrl(String),
    /// A header name or value the user supplied is not valid HTTP.
    #[error("InvalidHeader({})", py_repr(.0))]
    InvalidHeader(String),
    #[error("ConnectionRefusedError(111, 'Connection refused')")]
    ConnectionRefused,
    #[error("ConnectionResetError(104, 'Connection reset by peer')")]
    ConnectionReset,
    #[error("ConnectionAbortedError(103, 'Software caused connection abort')")]
    ConnectionAborted,
    #[error("BrokenPipeError(32, 'Broken pipe')")]
    BrokenPipe,
    /// Connecting (TCP + TLS handshake) did not finish within the timeout. Holds the message.
    #[error("ConnectTimeout({})", py_repr(.0))]
    ConnectTimeout(String),
    /// Sending the request or reading the full response did not finish within the timeout.
    #[error("ReadTimeout({})", py_repr(.0))]
    ReadTimeout(String),
    /// The server closed the connection before sending any response.
    #[error("RemoteDisconnected('Remote end closed connection without response')")]
    RemoteDisconnected,
    /// More than `max_redirects` redirects.
    #[error("TooManyRedirects('Exceeded {0} redirects.')")]
    TooManyRedirects(u32),
    /// The response body is longer than the limit (`max_body` or `--max-body-size`).
    #[error("BodyTooLarge({})", py_repr(&format!("response body exceeds {} (set by {})", human_bytes(*.limit), .set_by)))]
    BodyTooLarge { limit: u64, set_by: &'static str },
    /// DNS failure, TLS error, protocol error, other I/O error: holds the root cause.
    #[error("ConnectionError({})", py_repr(.0))]
    Connection(String),
    /// The body's `Content-Encoding` could not be undone, or decoded past the size limit
    /// (python-requests' `ContentDecodingError`).
    #[error("ContentDecodingError({})", py_repr(.0))]
    ContentDecoding(String),
    /// The client could not be set up (e.g. TLS configuration).
    #[error("{0}")]
    Config(String),
}

impl HttpError {
    /// A timeout (connect or read).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            HttpError::ConnectTimeout(_) | HttpError::ReadTimeout(_)
        )
    }

    /// An error of the request itself (bad URL / header), as opposed to a network failure. Locust
    /// raises these in the user's code instead of recording a failed sample.
    pub fn is_request_error(&self) -> bool {
        matches!(
            self,
            HttpError::InvalidUrl(_) | HttpError::InvalidHeader(_) | HttpError::Config(_)
        )
    }

    /// Errors that, on a kept-alive connection and before any response byte, mean the server had
    /// closed the idle connection: the request is retried once on a fresh connection.
    pub(crate) fn is_stale_connection(&self) -> bool {
        matches!(
            self,
            HttpError::RemoteDisconnected
                | HttpError::ConnectionReset
                | HttpError::ConnectionAborted
                | HttpError::BrokenPipe
        )
    }

    pub(crate) fn connect_timeout(
        https: bool,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> HttpError {
        HttpError::ConnectTimeout(format!(
            "{}(host={}, port={port}): Connect timed out. (connect timeout={})",
            pool_name(https),
            py_repr(host),
            py_float(timeout)
        ))
    }

    pub(crate) fn read_timeout(https: bool, host: &str, port: u16, timeout: Duration) -> HttpError {
        HttpError::ReadTimeout(format!(
            "{}(host={}, port={port}): Read timed out. (read timeout={})",
            pool_name(https),
            py_repr(host),
            py_float(timeout)
        ))
    }

    /// Maps an I/O error (connect, TLS handshake, read/write) by errno / kind.
    pub(crate) fn from_io(e: &io::Error) -> HttpError {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => return HttpError::ConnectionRefused,
            Some(libc::ECONNRESET) => return HttpError::ConnectionReset,
            Some(libc::ECONNABORTED) => return HttpError::ConnectionAborted,
            Some(libc::EPIPE) => return HttpError::BrokenPipe,
            Some(n) => {
                let msg = e.to_string();
                let suffix = format!(" (os error {n})");
                let msg = msg.strip_suffix(&suffix).unwrap_or(&msg);
                return HttpError::Connection(format!("[Errno {n}] {msg}"));
            }
            None => {}
        }
        match e.kind() {
            io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
            io::ErrorKind::ConnectionReset => HttpError::ConnectionReset,
            io::ErrorKind::ConnectionAborted => HttpError::ConnectionAborted,
            io::ErrorKind::BrokenPipe => HttpError::BrokenPipe,
            _ => HttpError::Connection(root_cause(e)),
        }
    }

    /// An I/O error found inside an engine's error: an early end of the body is python-requests'
    /// IncompleteRead.
    fn from_io_while(io: &io::Error, in_body: bool) -> HttpError {
        if in_body && io.kind() == io::ErrorKind::UnexpectedEof {
            return HttpError::Connection("Connection broken: IncompleteRead".into());
        }
        HttpError::from_io(io)
    }

    /// Maps a hyper error. `in_body`: the response head had been received already.
    pub(crate) fn from_hyper(e: &hyper::Error, in_body: bool) -> HttpError {
        if let Some(io) = find_io(e) {
            return HttpError::from_io_while(io, in_body);
        }
        if e.is_incomplete_message() || e.is_canceled() {
            return if in_body {
                HttpError::Connection("Connection broken: IncompleteRead".into())
            } else {
                HttpError::RemoteDisconnected
            };
        }
        if e.is_parse() || e.is_parse_status() {
            return HttpError::Connection(format!("Connection aborted: {}", chain(e)));
        }
        HttpError::Connection(chain(e))
    }
}

impl HttpError {
    /// Maps a reqwest error (the reqwest engine) to the same texts as the fast path: hyper and
    /// I/O errors inside it are mapped as [`HttpError::from_hyper`] maps them. `in_body`: the
    /// response head had been received already.
    pub(crate) fn from_reqwest(e: &reqwest::Error, in_body: bool) -> HttpError {
        if let Some(h) = find::<hyper::Error>(e) {
            return HttpError::from_hyper(h, in_body);
        }
        if let Some(io) = find_io(e) {
            return HttpError::from_io_while(io, in_body);
        }
        if e.is_builder() {
            return HttpError::InvalidUrl(chain(e));
        }
        HttpError::Connection(chain(e))
    }
}

/// The first error of type `T` in `e`'s source chain.
fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// `64 MiB`, `1 KiB`, or `1500 bytes`: whole binary units when the limit is one.
fn human_bytes(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n % (1 << shift) == 0 {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

fn pool_name(https: bool) -> &'static str {
    if https {
        "HTTPSConnectionPool"
    } else {
        "HTTPConnectionPool"
    }
}

/// Python's `repr(float)` for a duration in seconds: `5.0`, `0.25`, `60.0`.
fn py_float(d: Duration) -> String {
    format!("{:?}", d.as_secs_f64())
}

fn find_io<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            // An io::Error wrapping another io::Error (e.g. from a TLS stream): take the innermost.
            if let Some(inner) = io.get_ref().and_then(|i| find_io(i)) {
                return Some(inner);
            }
            return Some(io);
        }
        cur = err.source();
    }
    None
}

/// The deepest error's message (what Locust shows after unwrapping).
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// "outer: inner: innermost" without repeating identical messages.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if !out.ends_with(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = err.source();
    }
    out
}

/// A host string (`-H/--host`, a user class' `host`) that cannot be used as the base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHost {
    /// The host string as given.
    pub host: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for InvalidHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid host '{}': {}", self.host, self.reason)
    }
}

impl StdError for InvalidHost {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_quotes_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("x\ny"), "'x\\ny'");
    }

    #[test]
    fn body_too_large_names_the_limit_and_its_source() {
        let e = HttpError::BodyTooLarge {
            limit: 64 << 20,
            set_by: "--max-body-size",
        };
        assert_eq!(
            e.to_string(),
            "BodyTooLarge('response body exceeds 64 MiB (set by --max-body-size)')"
        );
        assert_eq!(human_bytes(1500), "1500 bytes");
        assert_eq!(human_bytes(2048), "2 KiB");
        assert_eq!(human_bytes(0), "0 bytes");
    }

    #[test]
    fn io_errors_map_to_python_names() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(
            HttpError::from_io(&e).to_string(),
            "ConnectionRefusedError(111, 'Connection refused')"
        );
        let e = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(
            HttpError::from_io(&e).to_string(),
            "ConnectionResetError(104, 'Connection reset by peer')"
        );
        let e = io::Error::from_raw_os_error(libc::EHOSTUNREACH);
        assert_eq!(
            HttpError::from_io(&e).to_string(),
            "ConnectionError('[Errno 113] No route to host')"
        );
        let e = io::Error::other("boom");
        assert_eq!(
            HttpError::from_io(&e).to_string(),
            "ConnectionError('boom')"
        );
        assert_eq!(
            HttpError::read_timeout(false, "127.0.0.1", 8080, Duration::from_millis(5000)).to_string(),
            "ReadTimeout(\"HTTPConnectionPool(host='127.0.0.1', port=8080): Read timed out. (read timeout=5.0)\")"
        );
        assert_eq!(
            HttpError::connect_timeout(true, "x", 443, Duration::from_millis(250)).to_string(),
            "ConnectTimeout(\"HTTPSConnectionPool(host='x', port=443): Connect timed out. (connect timeout=0.25)\")"
        );
        assert_eq!(
            HttpError::TooManyRedirects(30).to_string(),
            "TooManyRedirects('Exceeded 30 redirects.')"
        );
    }
}
