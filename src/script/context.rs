//! What native script functions can reach while a user runs: the user itself (session, RNG, stop
//! signal) through the coroutine's thread-local, and this thread's lock-free stats shard.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use rand::rngs::SmallRng;

use crate::coro::StopSignal;
use crate::http::Session;
use crate::stats::{Delta, Shard};

/// One simulated user, as seen from script functions.
pub struct UserCtx {
    /// Process-unique, in spawn order.
    pub id: u64,
    pub class_name: Arc<str>,
    pub session: Rc<Session>,
    pub rng: RefCell<SmallRng>,
    pub stop: Arc<StopSignal>,
}

thread_local! {
    static SHARD: RefCell<Shard> = RefCell::new(Shard::new());
}

/// Record one request sample on this thread (hot path: no lock).
pub fn record(
    method: &str,
    name: &str,
    response_time_ms: f64,
    content_length: u64,
    error: Option<&str>,
) {
    // try_with: a response dropped during thread teardown must not panic.
    let _ = SHARD.try_with(|s| {
        s.borrow_mut()
            .record(method, name, response_time_ms, content_length, error)
    });
}

/// Record a script error raised by a task, on_start or on_stop.
pub fn record_exception(message: &str, traceback: &str) {
    let _ = SHARD.try_with(|s| s.borrow_mut().record_exception(message, traceback));
}

/// Everything this thread recorded since the last call.
pub fn take_shard() -> Option<Delta> {
    SHARD.with(|s| {
        let mut s = s.borrow_mut();
        (!s.is_empty()).then(|| s.take())
    })
}
