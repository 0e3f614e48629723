//! `GET /stats/stream`: server-sent events.
//!
//! Unnamed events carry the `/stats/requests` JSON: the current snapshot on connect, then one per
//! change of [`WebState::snapshot`] (about once a second), so a browser's `EventSource.onmessage`
//! receives them. The JSON stays exactly Locust's; the charts' points travel in named events
//! instead, as the same objects `/stats/history` returns (server unix `time` included), so a chart
//! drawn from the stream is the server's history to the point:
//!
//! - `history`: an array, the whole history of the current or last test. Sent on connect and
//!   whenever the server began a new history (a new test); the client replaces its points.
//! - `points`: an array, the points added since this stream's last one; the client appends them.
//!
//! A change's points are sent before its snapshot. A comment line is the keep-alive.

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
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::web::{HistoryPoint, WebState};

/// A comment line is sent after this long without a snapshot, so proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(super) async fn stream(State(state): State<Arc<WebState>>) -> Response {
    // Small: a slow client holds the sender back, and the watch channel then skips to the latest.
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let mut snapshots = state.snapshot.clone();
    let history = state.history.clone();
    drop(state);
    tokio::spawn(async move {
        let mut sent = Sent::Nothing;
        // The snapshot is taken out of the watch first: its lock is never held with the history's.
        let snapshot = snapshots.borrow_and_update().clone();
        let first = batch(&history, &mut sent, &snapshot);
        if tx.send(first).await.is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                changed = snapshots.changed() => match changed {
                    Ok(()) => {
                        let snapshot = snapshots.borrow_and_update().clone();
                        batch(&history, &mut sent, &snapshot)
                    }
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

/// What one snapshot sends: the history's news, then the snapshot itself (if any).
fn batch(history: &Mutex<Vec<HistoryPoint>>, sent: &mut Sent, snapshot: &str) -> Bytes {
    // The controller adds a second's point before it publishes that second's snapshot, so the
    // snapshot read first is never newer than the history read after it.
    let mut out = history_event(&history.lock(), sent).unwrap_or_default();
    if !snapshot.is_empty() {
        out.push_str(&event(None, snapshot));
    }
    Bytes::from(out)
}

/// What this stream has told its client about the history.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sent {
    /// Nothing yet (just connected).
    Nothing,
    /// Everything up to the point with this time (None: an empty history).
    UpTo(Option<f64>),
}

/// The points the client has not seen: `points` when the history still holds the last point sent
/// (only what came after it), `history` when it does not (a new test cleared it; also on connect).
/// None when there is nothing new.
fn history_event(history: &[HistoryPoint], sent: &mut Sent) -> Option<String> {
    // Found by equality, not order: a wall clock stepped back must not lose or repeat points.
    let (name, new) = match *sent {
        Sent::Nothing => ("history", history),
        Sent::UpTo(None) => ("points", history),
        Sent::UpTo(Some(t)) => match history.iter().rposition(|p| p.time == t) {
            Some(i) => ("points", &history[i + 1..]),
            None => ("history", history),
        },
    };
    if name == "points" && new.is_empty() {
        return None;
    }
    *sent = Sent::UpTo(history.last().map(|p| p.time));
    serde_json::to_string(new)
        .ok()
        .map(|json| event(Some(name), &json))
}

/// One event (`name`d, or unnamed for `onmessage`); a payload with line breaks becomes several
/// `data:` lines, as SSE requires.
fn event(name: Option<&str>, payload: &str) -> String {
    let mut out = String::with_capacity(payload.len() + 24);
    if let Some(name) = name {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    for line in payload.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    out
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
        assert_eq!(event(None, "{}"), "data: {}\n\n");
        assert_eq!(event(None, "a\r\nb"), "data: a\ndata: b\n\n");
        assert_eq!(event(Some("points"), "[]"), "event: points\ndata: []\n\n");
    }

    fn at(time: f64) -> HistoryPoint {
        HistoryPoint {
            time,
            user_count: 1,
            current_rps: 2.0,
            current_fail_per_sec: 0.0,
            response_time_percentile_50: 3.0,
            response_time_percentile_95: 4.0,
            total_requests: 5,
        }
    }

    /// (event name, the points' times) of one history event.
    fn parsed(e: Option<String>) -> Option<(String, Vec<f64>)> {
        let e = e?;
        let name = e.strip_prefix("event: ")?.split('\n').next()?.to_owned();
        let data = e.split("data: ").nth(1)?.trim();
        let points: Vec<serde_json::Value> = serde_json::from_str(data).ok()?;
        Some((
            name,
            points.iter().filter_map(|p| p["time"].as_f64()).collect(),
        ))
    }

    #[test]
    fn history_is_sent_whole_then_only_new_points() {
        let mut sent = Sent::Nothing;
        let mut h = vec![];
        assert_eq!(
            parsed(history_event(&h, &mut sent)),
            Some(("history".into(), vec![]))
        );
        assert_eq!(history_event(&h, &mut sent), None);
        h.push(at(10.5));
        assert_eq!(
            parsed(history_event(&h, &mut sent)),
            Some(("points".into(), vec![10.5]))
        );
        assert_eq!(history_event(&h, &mut sent), None);
        // Two seconds between looks (a slow client): both points, once.
        h.extend([at(11.5), at(12.5)]);
        assert_eq!(
            parsed(history_event(&h, &mut sent)),
            Some(("points".into(), vec![11.5, 12.5]))
        );
        assert_eq!(history_event(&h, &mut sent), None);
        let keys = history_event(&h, &mut Sent::Nothing).unwrap_or_default();
        for key in [
            "\"time\":10.5",
            "\"user_count\":1",
            "\"response_time_percentile_95\":4.0",
        ] {
            assert!(keys.contains(key), "{keys}");
        }
    }

    #[test]
    fn a_new_history_replaces_the_old_one() {
        let mut sent = Sent::Nothing;
        let mut h = vec![at(1.0), at(2.0)];
        assert_eq!(
            parsed(history_event(&h, &mut sent)),
            Some(("history".into(), vec![1.0, 2.0]))
        );
        // A new test: cleared, then its first point before the stream looked again.
        h = vec![at(30.0)];
        assert_eq!(
            parsed(history_event(&h, &mut sent)),
            Some(("history".into(), vec![30.0]))
        );
        // Cleared and still empty: the client empties its chart too.
        h.clear();
        assert_eq!(
            parsed(history_event(&h, &mut sent)),
            Some(("history".into(), vec![]))
        );
        h.push(at(31.0));
        assert_eq!(
            parsed(history_event(&h, &mut sent)),
            Some(("points".into(), vec![31.0]))
        );
    }
}
