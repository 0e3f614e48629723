//! Reading a response body within its limits: `max_body` (or `--max-body-size`) bounds what is
//! read, `keep_body` what is kept, and the full length is counted either way for the stats.

use bytes::Bytes;
use http_body_util::BodyExt;

use super::error::HttpError;

/// How much of a response body is read and kept.
#[derive(Clone, Copy)]
pub(super) struct BodyLimits {
    /// Most bytes a body may have, and who set that limit (for the error text).
    pub max: Option<(u64, &'static str)>,
    /// Bytes kept; the rest is counted and dropped.
    pub keep: u64,
}

impl BodyLimits {
    /// The limits of a request: its own `max_body`, else none with `keep_body` (which reads
    /// any size), else the client's `--max-body-size`.
    pub fn new(max_body: Option<u64>, keep_body: Option<u64>, client_max: Option<u64>) -> Self {
        BodyLimits {
            max: match (max_body, keep_body) {
                (Some(n), _) => Some((n, "max_body")),
                (None, Some(_)) => None,
                (None, None) => client_max.map(|n| (n, "--max-body-size")),
            },
            keep: keep_body.unwrap_or(u64::MAX),
        }
    }

    /// The failure of a body past `max`, the same on both engines.
    pub fn too_large(&self) -> HttpError {
        let (limit, set_by) = self.max.unwrap_or((0, "max_body"));
        HttpError::BodyTooLarge { limit, set_by }
    }
}

/// Why one request/response exchange failed: the engine's error (`E`: hyper's on the fast path,
/// with its phase; reqwest's), or a body over its limit.
pub(super) enum ExchangeError<E> {
    Engine(E),
    TooLarge,
}

/// Reads a body frame by frame, on either engine: the limit is enforced as bytes arrive (and up
/// front when the length is announced), so an endless or huge body costs at most the limit in
/// memory. Returns the kept bytes and the full length.
pub(super) async fn read_body<B>(
    body: B,
    limits: BodyLimits,
) -> Result<(Bytes, u64), ExchangeError<B::Error>>
where
    B: hyper::body::Body<Data = Bytes>,
{
    let over = |n: u64| limits.max.is_some_and(|(max, _)| n > max);
    if over(body.size_hint().lower()) {
        return Err(ExchangeError::TooLarge);
    }
    let mut body = std::pin::pin!(body);
    let mut total = 0u64;
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ExchangeError::Engine)?;
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
