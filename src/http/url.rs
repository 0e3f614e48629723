//! Base URL (`--host`), parsed once; resolution of request URLs without re-parsing the base; the
//! default stats name (`path_url`).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderValue;

use super::error::{HttpError, InvalidHost};
use crate::encoding::basic_credentials;

/// One (scheme, host, port): the key of a connection pool. Shared (`Arc`) between the base URL and
/// the pools of every session using it.
pub(crate) struct Origin {
    pub https: bool,
    /// Lower-case host name, or IP literal (IPv6 without brackets).
    pub host: Box<str>,
    pub port: u16,
    /// The host as an IP address, when it is one (skips DNS).
    pub ip: Option<IpAddr>,
    /// `http://host[:port]` (port only when not the scheme default): absolute URLs are this + path.
    pub url_prefix: Box<str>,
    /// Value of the `Host` header.
    pub host_header: HeaderValue,
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url_prefix)
    }
}

impl Origin {
    /// `host` must already be lower-case (IPv6 without brackets).
    pub fn new(https: bool, host: &str, port: u16) -> Result<Origin, HttpError> {
        let ip = host.parse::<IpAddr>().ok();
        let host_part: Cow<'_, str> = match ip {
            Some(IpAddr::V6(_)) => Cow::Owned(format!("[{host}]")),
            _ => Cow::Borrowed(host),
        };
        let default_port = if https { 443 } else { 80 };
        let authority: Cow<'_, str> = if port == default_port {
            host_part
        } else {
            Cow::Owned(format!("{host_part}:{port}"))
        };
        let host_header = HeaderValue::from_str(&authority)
            .map_err(|_| HttpError::InvalidUrl(format!("invalid host '{host}'")))?;
        let scheme = if https { "https://" } else { "http://" };
        Ok(Origin {
            https,
            host: host.into(),
            port,
            ip,
            url_prefix: format!("{scheme}{authority}").into(),
            host_header,
        })
    }

    #[inline]
    pub fn matches(&self, https: bool, host: &str, port: u16) -> bool {
        self.https == https && self.port == port && *self.host == *host
    }

    #[inline]
    pub fn same(&self, other: &Origin) -> bool {
        std::ptr::eq(self, other) || self.matches(other.https, &other.host, other.port)
    }
}

/// The base URL of a user (`-H/--host` or the class' `host`): `http(s)://host[:port][/prefix]`,
/// parsed once. Relative request URLs are appended to it (Locust concatenates `base + path`).
#[derive(Clone, Debug)]
pub struct BaseUrl {
    inner: Arc<BaseInner>,
}

#[derive(Debug)]
struct BaseInner {
    input: Box<str>,
    origin: Arc<Origin>,
    /// Path prefix without trailing `/` ("" for none), already percent-encoded.
    prefix: Box<str>,
    /// `Authorization: Basic ...` from `user:pass@` in the host.
    auth: Option<HeaderValue>,
}

impl BaseUrl {
    /// Parses `http(s)://host[:port][/prefix]`. `user:pass@host` enables basic auth like Locust.
    pub fn parse(s: &str) -> Result<BaseUrl, InvalidHost> {
        let input = s.trim();
        let fail = |reason: String| InvalidHost {
            host: s.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(fail(
                "the host is empty; expected something like http://localhost:8080".into(),
            ));
        }
        let Some(sep) = input.find("://") else {
            let lower = input.to_ascii_lowercase();
            if lower.starts_with("http:") || lower.starts_with("https:") {
                return Err(fail(
                    "malformed scheme: expected 'http://' or 'https://' before the host name"
                        .into(),
                ));
            }
            return Err(fail(format!(
                "missing scheme: expected http:// or https:// before the host name, e.g. http://{input}"
            )));
        };
        let scheme = input[..sep].to_ascii_lowercase();
        let https = match scheme.as_str() {
            "http" => false,
            "https" => true,
            "" => {
                return Err(fail(
                    "missing scheme before '://': expected http:// or https://".into(),
                ))
            }
            other => {
                return Err(fail(format!(
                    "unsupported scheme '{other}': only http and https are supported"
                )))
            }
        };
        let rest = &input[sep + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if rest[..authority_end]
            .rsplit('@')
            .next()
            .unwrap_or("")
            .is_empty()
            || rest[..authority_end].starts_with(':')
        {
            return Err(fail(format!("no host name after '{scheme}://'")));
        }
        let url = url::Url::parse(input).map_err(|e| {
            fail(match e {
                url::ParseError::EmptyHost => format!("no host name after '{scheme}://'"),
                url::ParseError::InvalidPort => "invalid port number (expected 1-65535)".into(),
                url::ParseError::InvalidIpv6Address => "invalid IPv6 address".into(),
                url::ParseError::InvalidIpv4Address => "invalid IPv4 address".into(),
                url::ParseError::InvalidDomainCharacter => {
                    "invalid character in the host name".into()
                }
                other => other.to_string(),
            })
        })?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(fail(
                "a host must not contain a query ('?...') or fragment ('#...')".into(),
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(fail(format!("no host name after '{scheme}://'"))),
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        if port == 0 {
            return Err(fail("invalid port number 0".into()));
        }
        let auth = if !url.username().is_empty() || url.password().is_some() {
            let user = percent_encoding::percent_decode_str(url.username()).decode_utf8_lossy();
            let pass = percent_encoding::percent_decode_str(url.password().unwrap_or(""))
                .decode_utf8_lossy();
            Some(basic_auth(&user, &pass))
        } else {
            None
        };
        let origin =
            Origin::new(https, &host, port).map_err(|_| fail("invalid host name".into()))?;
        let prefix = url.path().trim_end_matches('/');
        Ok(BaseUrl {
            inner: Arc::new(BaseInner {
                input: input.into(),
                origin: Arc::new(origin),
                prefix: prefix.into(),
                auth,
            }),
        })
    }

    /// The host string as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.inner.input
    }

    /// `http(s)://host[:port][/prefix]`, normalised, without credentials and trailing `/`.
    pub fn normalized(&self) -> String {
        format!("{}{}", self.inner.origin.url_prefix, self.inner.prefix)
    }

    /// The host name (or IP literal).
    pub fn host(&self) -> &str {
        &self.inner.origin.host
    }

    pub fn port(&self) -> u16 {
        self.inner.origin.port
    }

    pub fn is_https(&self) -> bool {
        self.inner.origin.https
    }

    pub(crate) fn origin(&self) -> &Arc<Origin> {
        &self.inner.origin
    }

    pub(crate) fn auth(&self) -> Option<&HeaderValue> {
        self.inner.auth.as_ref()
    }

    /// Path + query for a relative URL: prefix + url, percent-encoding what HTTP does not allow.
    /// Borrows `rel` when there is no prefix and nothing to encode (the hot path).
    pub(crate) fn join<'a>(&self, rel: &'a str) -> Cow<'a, str> {
        let prefix = &*self.inner.prefix;
        if prefix.is_empty() && rel.starts_with('/') {
            return encode_path(rel);
        }
        let mut s = String::with_capacity(prefix.len() + rel.len() + 1);
        s.push_str(prefix);
        if rel.is_empty() {
            if s.is_empty() {
                s.push('/');
            }
        } else if rel.starts_with('/') {
            s.push_str(rel);
        } else if rel.starts_with('?') {
            if s.is_empty() {
                s.push('/');
            }
            s.push_str(rel);
        } else {
            s.push('/');
            s.push_str(rel);
        }
        match encode_path(&s) {
            Cow::Borrowed(_) => Cow::Owned(s),
            Cow::Owned(o) => Cow::Owned(o),
        }
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BaseUrl {
    type Err = InvalidHost;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BaseUrl::parse(s)
    }
}

pub(crate) fn basic_auth(user: &str, pass: &str) -> HeaderValue {
    let v = format!("Basic {}", basic_credentials(user, pass));
    let mut hv = HeaderValue::from_str(&v).expect("base64 is a valid header value");
    hv.set_sensitive(true);
    hv
}

/// Is this byte allowed as is in a request target? Everything else is percent-encoded like
/// python-requests' `requote_uri` (space, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`,
/// controls, non-ASCII). `%` is kept (the URL is taken as already encoded).
#[inline]
fn target_byte_ok(b: u8) -> bool {
    matches!(b, b'!' | b'$'..=b';' | b'=' | b'?'..=b'[' | b']' | b'_' | b'a'..=b'z' | b'~')
}

/// Percent-encodes bytes not allowed in a request target; borrows when nothing needs encoding.
pub(crate) fn encode_path(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let Some(first_bad) = bytes.iter().position(|&b| !target_byte_ok(b)) else {
        return Cow::Borrowed(s);
    };
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first_bad]);
    for &b in &bytes[first_bad..] {
        if target_byte_ok(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    Cow::Owned(out)
}

/// `http://` or `https://` (any case) prefix: returns (https, rest after `://`).
#[inline]
pub(crate) fn split_absolute(url: &str) -> Option<(bool, &str)> {
    let b = url.as_bytes();
    if b.len() >= 7 && b[..7].eq_ignore_ascii_case(b"http://") {
        Some((false, &url[7..]))
    } else if b.len() >= 8 && b[..8].eq_ignore_ascii_case(b"https://") {
        Some((true, &url[8..]))
    } else {
        None
    }
}

/// Strips a `#fragment`.
#[inline]
pub(crate) fn strip_fragment(url: &str) -> &str {
    match url.find('#') {
        Some(i) => &url[..i],
        None => url,
    }
}

/// An absolute URL split into its parts.
pub(crate) struct AbsoluteUrl<'a> {
    pub https: bool,
    pub host: Cow<'a, str>,
    pub port: u16,
    pub path: Cow<'a, str>,
    pub auth: Option<HeaderValue>,
}

/// Parses an absolute http(s) URL (fragment already stripped). Fast path for plain
/// `scheme://host[:port]/path` (lower-case ASCII host); anything else goes through the `url` crate.
pub(crate) fn parse_absolute(url: &str) -> Result<AbsoluteUrl<'_>, HttpError> {
    let Some((https, rest)) = split_absolute(url) else {
        return Err(unsupported(url));
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let simple_host = |h: &str| {
        !h.is_empty()
            && h.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
    };
    let fast = match authority.split_once(':') {
        None if simple_host(authority) => Some((authority, if https { 443 } else { 80 })),
        Some((h, p))
            if simple_host(h)
                && !p.is_empty()
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            match p.parse::<u16>() {
                Ok(port) if port != 0 => Some((h, port)),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some((host, port)) = fast {
        if !host.starts_with(['.', '-']) && !host.ends_with('-') {
            let p = &rest[end..];
            let path = if p.is_empty() {
                Cow::Borrowed("/")
            } else if p.starts_with('?') {
                Cow::Owned(format!("/{}", encode_path(p)))
            } else {
                encode_path(p)
            };
            return Ok(AbsoluteUrl {
                https,
                host: Cow::Borrowed(host),
                port,
                path,
                auth: None,
            });
        }
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| HttpError::InvalidUrl(format!("invalid URL '{url}': {e}")))?;
    from_url(&parsed).map(|a| AbsoluteUrl {
        host: Cow::Owned(a.host.into_owned()),
        path: Cow::Owned(a.path.into_owned()),
        ..a
    })
}

/// Splits a parsed `url::Url` (slow path; also used for redirects).
pub(crate) fn from_url(u: &url::Url) -> Result<AbsoluteUrl<'static>, HttpError> {
    let https = match u.scheme() {
        "http" => false,
        "https" => true,
        _ => return Err(unsupported(u.as_str())),
    };
    let host = match u.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(HttpError::InvalidUrl(format!("invalid URL '{u}': no host"))),
    };
    let port = u
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });
    let mut path = String::with_capacity(u.path().len() + u.query().map_or(0, |q| q.len() + 1));
    path.push_str(u.path());
    if path.is_empty() {
        path.push('/');
    }
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    let path = match encode_path(&path) {
        Cow::Borrowed(_) => path,
        Cow::Owned(o) => o,
    };
    let auth = if !u.username().is_empty() || u.password().is_some() {
        let user = percent_encoding::percent_decode_str(u.username()).decode_utf8_lossy();
        let pass =
            percent_encoding::percent_decode_str(u.password().unwrap_or("")).decode_utf8_lossy();
        Some(basic_auth(&user, &pass))
    } else {
        None
    };
    Ok(AbsoluteUrl {
        https,
        host: Cow::Owned(host),
        port,
        path: Cow::Owned(path),
        auth,
    })
}

fn unsupported(url: &str) -> HttpError {
    HttpError::InvalidUrl(format!(
        "unsupported URL '{url}': only http:// and https:// URLs can be requested"
    ))
}

/// The name Locust gives a request by default: path + query of the URL (python-requests'
/// `PreparedRequest.path_url`). A relative URL is returned as is.
pub fn path_url(url: &str) -> &str {
    let Some((_, rest)) = split_absolute(url) else {
        return url;
    };
    let rest = strip_fragment(rest);
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
        Some(i) => &rest[i..],
        None => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_ok() {
        let b = BaseUrl::parse("http://localhost:8080").unwrap();
        assert_eq!(b.as_str(), "http://localhost:8080");
        assert_eq!(b.host(), "localhost");
        assert_eq!(b.port(), 8080);
        assert!(!b.is_https());
        assert_eq!(b.join("/x?a=1"), "/x?a=1");
        assert!(matches!(b.join("/x?a=1"), Cow::Borrowed(_)));
        assert_eq!(b.origin().host_header, "localhost:8080");

        let b = BaseUrl::parse(" HTTPS://Example.COM/api/ ").unwrap();
        assert_eq!(b.host(), "example.com");
        assert_eq!(b.port(), 443);
        assert_eq!(b.normalized(), "https://example.com/api");
        assert_eq!(b.origin().host_header, "example.com");
        assert_eq!(b.join("/x"), "/api/x");
        assert_eq!(b.join("x"), "/api/x");
        assert_eq!(b.join(""), "/api");
        assert_eq!(b.join("?q=1"), "/api?q=1");

        let b = BaseUrl::parse("http://[::1]:9000").unwrap();
        assert_eq!(b.host(), "::1");
        assert_eq!(b.origin().host_header, "[::1]:9000");
        assert_eq!(b.normalized(), "http://[::1]:9000");

        let b = BaseUrl::parse("http://user:p%40ss@127.0.0.1:80/").unwrap();
        assert_eq!(b.port(), 80);
        assert_eq!(b.origin().host_header, "127.0.0.1");
        // "user:p@ss"
        assert_eq!(b.auth().unwrap(), "Basic dXNlcjpwQHNz");
    }

    #[test]
    fn base_url_errors() {
        let msg = |s: &str| BaseUrl::parse(s).unwrap_err().to_string();
        assert_eq!(
            msg(""),
            "invalid host '': the host is empty; expected something like http://localhost:8080"
        );
        assert_eq!(
            msg("localhost:8080"),
            "invalid host 'localhost:8080': missing scheme: expected http:// or https:// before the host name, e.g. http://localhost:8080"
        );
        assert_eq!(
            msg("ftp://x"),
            "invalid host 'ftp://x': unsupported scheme 'ftp': only http and https are supported"
        );
        assert_eq!(
            msg("http://"),
            "invalid host 'http://': no host name after 'http://'"
        );
        assert_eq!(
            msg("http:///x"),
            "invalid host 'http:///x': no host name after 'http://'"
        );
        assert_eq!(
            msg("http://:80"),
            "invalid host 'http://:80': no host name after 'http://'"
        );
        assert!(
            msg("http://host:99999").contains("invalid port"),
            "{}",
            msg("http://host:99999")
        );
        assert!(msg("http://host:0").contains("invalid port"));
        assert!(msg("http://host/?a=1").contains("query"));
        assert!(msg("http:/host").contains("malformed scheme"));
        assert!(msg("://host").contains("missing scheme"));
    }

    #[test]
    fn encoding() {
        assert!(matches!(encode_path("/a/b?c=d&e=%20f"), Cow::Borrowed(_)));
        assert_eq!(
            encode_path("/a b/ü?x=\"{}\""),
            "/a%20b/%C3%BC?x=%22%7B%7D%22"
        );
        assert_eq!(
            encode_path("/[x]:@!$&'()*+,;=~-._"),
            "/[x]:@!$&'()*+,;=~-._"
        );
    }

    #[test]
    fn absolute() {
        let a = parse_absolute("http://127.0.0.1:8080/x?y=1").unwrap();
        assert!(!a.https);
        assert_eq!((&*a.host, a.port, &*a.path), ("127.0.0.1", 8080, "/x?y=1"));
        assert!(matches!(a.host, Cow::Borrowed(_)));
        let a = parse_absolute("https://h").unwrap();
        assert_eq!((&*a.host, a.port, &*a.path), ("h", 443, "/"));
        let a = parse_absolute("HTTP://H.example:81?q").unwrap();
        assert_eq!((&*a.host, a.port, &*a.path), ("h.example", 81, "/?q"));
        let a = parse_absolute("http://u:p@[::1]/z").unwrap();
        assert_eq!((&*a.host, a.port, &*a.path), ("::1", 80, "/z"));
        assert!(a.auth.is_some());
        assert!(parse_absolute("http://").is_err());
        assert!(parse_absolute("http://h:99999/").is_err());
    }

    #[test]
    fn path_url_like_requests() {
        assert_eq!(path_url("/x?a=1"), "/x?a=1");
        assert_eq!(path_url("x"), "x");
        assert_eq!(path_url("http://h:1/a/b?c=1#frag"), "/a/b?c=1");
        assert_eq!(path_url("https://h"), "/");
        assert_eq!(path_url("https://h#f"), "/");
        assert_eq!(path_url("HTTP://h/p"), "/p");
        assert_eq!(path_url("http://h?q=1"), "?q=1");
    }
}
