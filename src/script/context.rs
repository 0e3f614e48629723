//! What native script functions can reach while a user runs: the user itself (session, RNG, stop
//! signal) through the coroutine's thread-local, and this thread's lock-free stats shard.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use rand::rngs::SmallRng;

use crate::coro::StopSignal;
use crate::http::Session;
use crate::script::events::Builtin;
use crate::stats::{Delta, Shard};

/// One simulated user, as seen from script functions.
pub struct UserCtx {
    /// Process-unique, in spawn order.
    pub id: u64,
    pub class_name: Arc<str>,
    pub session: Rc<Session>,
    pub rng: RefCell<SmallRng>,
    pub stop: Arc<StopSignal>,
    /// The user's background jobs (finished ones are pruned as new ones start).
    pub jobs: RefCell<Vec<JobHandle>>,
    /// Headers added to every request of this user (`client.set_header`, the auth module).
    pub default_headers: RefCell<Vec<(String, String)>>,
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

/// What native functions need from the thread they run on: the scenario (to call listeners) and,
/// on worker threads, a way to start a user's background jobs.
pub trait Host {
    fn scenario(&self) -> &Arc<crate::script::Scenario>;
    /// Start `job` concurrently for `user`; the job is owned by the user and cancelled with it.
    fn spawn_job(
        self: Rc<Self>,
        user: Rc<UserCtx>,
        job: crate::script::Callable,
    ) -> Result<JobHandle, String>;
}

/// A background job as scripts hold it.
#[derive(Clone)]
pub struct JobHandle {
    pub abort: tokio::task::AbortHandle,
    pub done: Arc<std::sync::atomic::AtomicBool>,
}

thread_local! {
    /// `--dry-run`: print every sample as it is recorded.
    static ECHO: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static HOST: RefCell<Option<Rc<dyn Host>>> = const { RefCell::new(None) };
}

pub fn set_host(host: Option<Rc<dyn Host>>) {
    HOST.with(|h| *h.borrow_mut() = host);
}

pub fn host() -> Option<Rc<dyn Host>> {
    HOST.try_with(|h| h.borrow().clone()).ok().flatten()
}

/// Record a sample and run the `request` event's listeners, if any (the path every sample takes:
/// HTTP calls, catch_response verdicts, script reports).
pub fn sample(
    method: &str,
    name: &str,
    response_time_ms: f64,
    content_length: u64,
    error: Option<&str>,
    url: &str,
) {
    record(method, name, response_time_ms, content_length, error);
    if ECHO.with(|e| e.get()) {
        match error {
            None => println!("    {method} {name}  {response_time_ms:.1} ms  ok"),
            Some(e) => println!("    {method} {name}  {response_time_ms:.1} ms  FAILED {e}"),
        }
    }
    if let Some(h) = host() {
        let sc = h.scenario();
        // A listener's own requests do not fire `request` again: that would recurse without end.
        if sc.events.has_listeners(Builtin::Request.as_str()) && !in_request_listener(true) {
            let mut m = rhai::Map::new();
            m.insert("request_type".into(), method.into());
            m.insert("name".into(), name.into());
            m.insert(
                "response_time".into(),
                rhai::Dynamic::from_float(response_time_ms),
            );
            m.insert(
                "response_length".into(),
                rhai::Dynamic::from_int(content_length as i64),
            );
            m.insert(
                "exception".into(),
                error.map_or(rhai::Dynamic::UNIT, |e| e.into()),
            );
            m.insert("url".into(), url.into());
            sc.fire(Builtin::Request.as_str(), m);
            in_request_listener(false);
        }
    }
}

/// Print every sample recorded on this thread (`--check --dry-run`).
pub fn echo_samples(on: bool) {
    ECHO.with(|e| e.set(on));
}

/// Mark that the running coroutine (or, outside coroutines, this thread) is inside `request`
/// listeners; returns the previous mark. Per coroutine, because a listener that waits lets other
/// users and the same user's background jobs run meanwhile.
fn in_request_listener(on: bool) -> bool {
    crate::coro::swap_in_listener(on)
}
