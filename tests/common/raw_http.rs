//! A minimal HTTP/1.0 client (std only) for the web UI's API in tests: a request with an optional
//! form body, answered with (status, body).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `method path` on 127.0.0.1:`port`, with `form` as an urlencoded body: (status, body), or None
/// when nothing answered.
pub fn http(port: u16, method: &str, path: &str, form: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let body = form.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}
