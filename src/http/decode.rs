//! Response body decoding (`Content-Encoding: gzip | deflate | br | zstd`), shared by both engines
//! and applied to a body already read, so the engines' body reading stays as it is. The decoded
//! size is capped: a small compressed body (a "zip bomb") must fail the request, not the process.

use std::io::Read;

use bytes::Bytes;
use http::header::{self, HeaderMap};

use super::body::BodyLimits;
use super::error::HttpError;

/// `Accept-Encoding` sent unless the request, the user class or `--accept-encoding` says otherwise
/// (FastHttpUser's list plus zstd, which urllib3 decodes too).
pub const DEFAULT_ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// Largest decoded body when the configuration gives no other limit.
pub const DEFAULT_MAX_DECODED: usize = 256 * 1024 * 1024;

/// Decodes a response body as read within `limits` ([`read_body`](super::body::read_body)), and
/// gives the length the stats count: the decoded one, as Locust's `len(response.content)`.
pub(super) fn decode_body(
    headers: &HeaderMap,
    body: Bytes,
    len: u64,
    limits: &BodyLimits,
    max_decoded: usize,
) -> Result<(Bytes, u64), HttpError> {
    if (body.len() as u64) < len {
        // keep_body cut the body short: a compressed stream's prefix does not decode whole, so
        // the prefix is kept as received and the full (encoded) length counted.
        return Ok((body, len));
    }
    // The decoded body is what stays in memory, so the body limit (the request's max_body or
    // --max-body-size) bounds it too, failing as that limit does; a small compressed body may
    // not slip past it. Without a limit (0, or keep_body alone) a zip bomb must still fail the
    // request, not the process: the decoded-size default caps it then.
    let (cap, set_by) = match limits.max {
        Some((n, set_by)) => (usize::try_from(n).unwrap_or(usize::MAX), Some(set_by)),
        None => (max_decoded, None),
    };
    let mut decoded = decode(headers, body, cap, set_by)?;
    let n = decoded.len() as u64;
    if n > limits.keep {
        decoded.truncate(limits.keep as usize);
    }
    Ok((decoded, n))
}

/// Decodes `body` as its `Content-Encoding` says (several codings are undone last first). An
/// unknown coding, or none, leaves the body as it is (urllib3 does the same); a body that does not
/// decode, or decodes past `max`, is an error: `BodyTooLarge` when `max` is the body limit set by
/// `set_by`.
pub(crate) fn decode(
    headers: &HeaderMap,
    body: Bytes,
    max: usize,
    set_by: Option<&'static str>,
) -> Result<Bytes, HttpError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(body);
    };
    if body.is_empty() {
        return Ok(body);
    }
    let Ok(value) = value.to_str() else {
        return Ok(body);
    };
    let mut body = body;
    for coding in value.rsplit(',').map(str::trim) {
        let coding = coding.to_ascii_lowercase();
        body = match coding.as_str() {
            "gzip" | "x-gzip" => read_capped(flate2::read::MultiGzDecoder::new(&body[..]), max),
            // Servers send both zlib-wrapped and raw deflate under this name; try zlib first.
            "deflate" => {
                read_capped(flate2::read::ZlibDecoder::new(&body[..]), max).or_else(|e| match e {
                    Failure::TooBig => Err(Failure::TooBig),
                    Failure::Corrupt(_) => {
                        read_capped(flate2::read::DeflateDecoder::new(&body[..]), max)
                    }
                })
            }
            "br" => read_capped(brotli_decompressor::Decompressor::new(&body[..], 8192), max),
            "zstd" => match ruzstd::decoding::StreamingDecoder::new(&body[..]) {
                Ok(d) => read_capped(d, max),
                Err(e) => Err(Failure::Corrupt(e.to_string())),
            },
            "identity" | "" => Ok(body.to_vec()),
            _ => return Ok(body),
        }
        .map(Bytes::from)
        .map_err(|f| match (f, set_by) {
            (Failure::TooBig, Some(set_by)) => HttpError::BodyTooLarge {
                limit: max as u64,
                set_by,
            },
            (Failure::TooBig, None) => HttpError::ContentDecoding(format!(
                "Received response with content-encoding: {value}, but its decoded body exceeds \
                 the limit of {max} bytes."
            )),
            (Failure::Corrupt(e), _) => HttpError::ContentDecoding(format!(
                "Received response with content-encoding: {value}, but failed to decode it. ({e})"
            )),
        })?;
    }
    Ok(body)
}

enum Failure {
    TooBig,
    Corrupt(String),
}

/// Reads everything `r` decodes, failing as soon as it passes `max` bytes.
fn read_capped(r: impl Read, max: usize) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    r.take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Failure::Corrupt(e.to_string()))?;
    if out.len() > max {
        return Err(Failure::TooBig);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn headers(ce: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, ce.parse().unwrap());
        h
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_each_coding_and_stacks() {
        let plain = b"hello hello hello hello".repeat(10);
        let g = gzip(&plain);
        assert_eq!(
            decode(&headers("gzip"), g.clone().into(), 1 << 20, None).unwrap(),
            plain
        );
        assert_eq!(
            decode(&headers("GZIP"), g.into(), 1 << 20, None).unwrap(),
            plain
        );

        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&plain).unwrap();
        let z = z.finish().unwrap();
        assert_eq!(
            decode(&headers("deflate"), z.into(), 1 << 20, None).unwrap(),
            plain
        );
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        d.write_all(&plain).unwrap();
        let d = d.finish().unwrap();
        assert_eq!(
            decode(&headers("deflate"), d.into(), 1 << 20, None).unwrap(),
            plain
        );

        let zs = ruzstd::encoding::compress_to_vec(
            &plain[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(
            decode(&headers("zstd"), zs.into(), 1 << 20, None).unwrap(),
            plain
        );

        // "gzip, gzip": undone last first
        let twice = gzip(&gzip(&plain));
        assert_eq!(
            decode(&headers("gzip, gzip"), twice.into(), 1 << 20, None).unwrap(),
            plain
        );
        // unknown coding and no coding: untouched
        assert_eq!(
            &decode(&headers("snappy"), "x".into(), 10, None).unwrap()[..],
            b"x"
        );
        assert_eq!(
            &decode(&HeaderMap::new(), "x".into(), 10, None).unwrap()[..],
            b"x"
        );
    }

    #[test]
    fn bombs_and_garbage_fail_with_a_clear_text() {
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 100_000);
        let e = decode(&headers("gzip"), bomb.into(), 1 << 20, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ContentDecodingError('Received response with content-encoding: gzip, but its decoded \
             body exceeds the limit of 1048576 bytes.')"
        );
        // a cap that is the body limit fails as that limit does
        let bomb = gzip(&vec![0u8; 2 << 20]);
        let e = decode(&headers("gzip"), bomb.into(), 1 << 20, Some("max_body")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "BodyTooLarge('response body exceeds 1 MiB (set by max_body)')"
        );
        let e = decode(&headers("gzip"), "not gzip".into(), 1 << 20, None).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "ContentDecodingError('Received response with content-encoding: gzip, but failed \
                 to decode it."
            ),
            "{e}"
        );
        for ce in ["br", "zstd", "deflate"] {
            let e = decode(&headers(ce), "\u{1}\u{2}garbage".into(), 1 << 20, None).unwrap_err();
            assert!(e.to_string().contains("failed to decode it"), "{ce}: {e}");
        }
    }
}
