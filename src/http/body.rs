//! Reading a response body within its limits: `max_body` (or `--max-body-size`) bounds what is
//! read, `keep_body` what is kept, and the full length is counted either way for the stats.

use bytes::Bytes;
use http_body_util::BodyExt;

use super::session::Phase;

/// How much of a response body is read and kept.
#[derive(Clone, Copy)]
pub(super) struct BodyLimits {
    /// Most bytes a body may have, and who set that limit (for the error text).
    pub max: Option<(u64, &'static str)>,
    /// Bytes kept; the rest is counted and dropped.
    pub keep: u64,
}

/// Why one request/response exchange failed: hyper, in a phase, or a body over its limit.
pub(super) enum ExchangeError {
    Hyper(Phase, hyper::Error),
    TooLarge,
}

/// Reads a body frame by frame: the limit is enforced as bytes arrive (and up front when the
/// length is announced), so an endless or huge body costs at most the limit in memory.
pub(super) async fn read_body(
    mut body: hyper::body::Incoming,
    limits: BodyLimits,
) -> Result<(Bytes, u64), ExchangeError> {
    use hyper::body::Body as _;
    let over = |n: u64| limits.max.is_some_and(|(max, _)| n > max);
    if over(body.size_hint().lower()) {
        return Err(ExchangeError::TooLarge);
    }
    let mut total = 0u64;
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ExchangeError::Hyper(Phase::Body, e))?;
        let Ok(mut data) = frame.into_data() else {
            continue; // trailers
        };
        let kept = total.min(limits.keep);
        total = total.saturating_add(data.len() as u64);
        if over(total) {
            return Err(ExchangeError::TooLarge);
        }
        let room = (limits.keep - kept).min(data.len() as u64) as usize;
        if room < data.len() {
            data.truncate(room);
        }
        if data.is_empty() {
            continue;
        }
        // The usual body is one frame: keep it without copying.
        match &first {
            None => first = Some(data),
            Some(f) => {
                if rest.is_empty() {
                    rest.extend_from_slice(f);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    let bytes = if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(rest)
    };
    Ok((bytes, total))
}
