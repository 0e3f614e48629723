//! `GET /stats/stream`: server-sent events carrying the `/stats/requests` JSON. The current
//! snapshot is sent on connect, then one event per change of [`WebState::snapshot`] (about once a
//! second), with a comment line as keep-alive when nothing changes. Events are unnamed, so a
//! browser's `EventSource.onmessage` receives them; `data` is the JSON text.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use tokio::sync::mpsc;

use crate::web::WebState;

/// A comment line is sent after this long without a snapshot, so proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(super) async fn stream(State(state): State<Arc<WebState>>) -> Response {
    // Small: a slow client holds the sender back, and the watch channel then skips to the latest.
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let mut snapshots = state.snapshot.clone();
    drop(state);
    tokio::spawn(async move {
        let first = snapshots.borrow_and_update().clone();
        if !first.is_empty() && tx.send(event(&first)).await.is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                changed = snapshots.changed() => match changed {
                    Ok(()) => event(&snapshots.borrow_and_update().clone()),
                    // The controller is gone: end the stream.
                    Err(_) => return,
                },
                () = tokio::time::sleep(KEEP_ALIVE) => Bytes::from_static(b": keep-alive\n\n"),
                () = tx.closed() => return,
            };
            if tx.send(next).await.is_err() {
                return;
            }
        }
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::new(EventBody { rx }),
    )
        .into_response()
}

/// One `data:` event; a payload with line breaks becomes several `data:` lines, as SSE requires.
fn event(payload: &str) -> Bytes {
    let mut out = String::with_capacity(payload.len() + 8);
    for line in payload.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// The response body: whatever the feeding task sends, until it stops.
struct EventBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.get_mut()
            .rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed() {
        assert_eq!(event("{}"), Bytes::from_static(b"data: {}\n\n"));
        assert_eq!(event("a\r\nb"), Bytes::from_static(b"data: a\ndata: b\n\n"));
    }
}
