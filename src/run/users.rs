//! The users of a test, wherever they run: on this process (`runner::LocalRunner`) or on remote
//! workers (the master's users). The test run drives them through this trait only, so the same
//! loop, events, run time, history and reports serve a local run and a master.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::runner::{LocalRunner, RunnerConfig};
use crate::script::Scenario;

/// A boxed future that stays on the control thread.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

pub trait Users {
    /// Move towards `users` at `rate` users per second (up or down), in Locust's class mix.
    fn set_target(&mut self, users: usize, rate: f64);
    /// Spawn or stop what is due now and collect stats; `Some(n)` once a ramp reached its target.
    fn tick(&mut self) -> Option<usize>;
    /// Reach absolute per-class counts at once (a distributed worker's `spawn`; unknown class
    /// names are logged and skipped). The default, for users that cannot (a master's remote
    /// users), is an error.
    fn set_class_counts(&mut self, _counts: &BTreeMap<String, usize>) -> Result<(), String> {
        Err("these users cannot be set to per-class counts".into())
    }
    /// Users running now.
    fn user_count(&self) -> usize;
    /// Users running now per class name.
    fn class_counts(&self) -> BTreeMap<String, usize>;
    /// Stop every user, honouring `stop_timeout`; `hurry` cuts it short.
    fn stop<'a>(
        &'a mut self,
        stop_timeout: Duration,
        hurry: LocalBoxFuture<'a, ()>,
    ) -> LocalBoxFuture<'a, ()>;
    /// Ship what the users recorded so far into the stats now (before a reset, so nothing from
    /// before it is counted after it).
    fn flush(&mut self) -> LocalBoxFuture<'_, ()>;
    /// Release what the users held (threads, connections) once they are stopped.
    fn shutdown(self: Box<Self>) -> LocalBoxFuture<'static, ()>;
}

/// Makes the users of each new test. The runner config carries the stats the users record into.
pub type UsersFactory = Rc<dyn Fn(Arc<Scenario>, RunnerConfig) -> Result<Box<dyn Users>, String>>;

/// Users on this process's worker threads.
pub fn local() -> UsersFactory {
    Rc::new(|scenario, cfg| {
        LocalRunner::new(scenario, cfg)
            .map(|r| Box::new(r) as Box<dyn Users>)
            .map_err(|e| e.to_string())
    })
}

impl Users for LocalRunner {
    fn set_target(&mut self, users: usize, rate: f64) {
        super::fd_limit::warn_if_short(users as u64);
        LocalRunner::set_target(self, users, rate)
    }
    fn tick(&mut self) -> Option<usize> {
        LocalRunner::tick(self)
    }
    fn set_class_counts(&mut self, counts: &BTreeMap<String, usize>) -> Result<(), String> {
        super::fd_limit::warn_if_short(counts.values().map(|n| *n as u64).sum());
        LocalRunner::set_class_counts(self, counts);
        Ok(())
    }
    fn user_count(&self) -> usize {
        LocalRunner::user_count(self)
    }
    fn class_counts(&self) -> BTreeMap<String, usize> {
        LocalRunner::class_counts(self)
    }
    fn stop<'a>(
        &'a mut self,
        stop_timeout: Duration,
        hurry: LocalBoxFuture<'a, ()>,
    ) -> LocalBoxFuture<'a, ()> {
        Box::pin(LocalRunner::stop(self, stop_timeout, hurry))
    }
    fn flush(&mut self) -> LocalBoxFuture<'_, ()> {
        Box::pin(LocalRunner::flush(self))
    }
    fn shutdown(self: Box<Self>) -> LocalBoxFuture<'static, ()> {
        Box::pin(LocalRunner::shutdown(*self))
    }
}
