//! Core script functions: non-blocking `sleep`, task-set and user control (`interrupt`,
//! `stop_user`) and random helpers on the user's own RNG.
//!
//! Rhai ships a `sleep` that blocks the OS thread (freezing every user on it); both of its
//! overloads are replaced here by one that suspends only the calling user.

use std::time::Duration;

use rand::{Rng, RngCore};
use rhai::{Engine, EvalAltResult};

use super::error::{control_error, runtime_error, Control};
use crate::coro::{self, SuspendError};

type R<T> = Result<T, Box<EvalAltResult>>;

pub fn register(engine: &mut Engine) {
    engine.register_fn("sleep", |s: i64| sleep(s as f64));
    engine.register_fn("sleep", sleep);
    engine.register_fn("interrupt", || -> R<()> {
        Err(control_error(Control::Interrupt { reschedule: true }))
    });
    engine.register_fn("interrupt", |reschedule: bool| -> R<()> {
        Err(control_error(Control::Interrupt { reschedule }))
    });
    engine.register_fn("stop_user", || -> R<()> {
        Err(control_error(Control::StopUser))
    });
    engine.register_fn("random_int", |a: i64, b: i64| -> R<i64> {
        if a > b {
            return Err(runtime_error(format!(
                "random_int({a}, {b}): min is greater than max"
            )));
        }
        Ok(with_rng(|r| r.random_range(a..=b)))
    });
    engine.register_fn("random_float", || with_rng(|r| r.random::<f64>()));
    engine.register_fn("random_float", |a: f64, b: f64| -> R<f64> {
        if !(a.is_finite() && b.is_finite()) || a > b {
            return Err(runtime_error(format!(
                "random_float({a}, {b}): needs finite min <= max"
            )));
        }
        Ok(if a == b {
            a
        } else {
            with_rng(|r| r.random_range(a..b))
        })
    });
    engine.register_fn("uuid", || {
        let mut b = [0u8; 16];
        with_rng(|r| r.fill_bytes(&mut b));
        crate::uuid::v4(b)
    });
}

/// Map a failed suspension to the script error it becomes.
pub fn suspend_error(e: SuspendError, what: &str) -> Box<EvalAltResult> {
    match e {
        SuspendError::Cancelled => control_error(Control::Cancelled),
        SuspendError::NotInCoroutine => runtime_error(format!("{what}: {e}")),
    }
}

fn sleep(s: f64) -> R<()> {
    if !s.is_finite() || s < 0.0 {
        return Err(runtime_error(format!(
            "sleep({s}): seconds must be a finite number >= 0"
        )));
    }
    coro::block_on(tokio::time::sleep(Duration::from_secs_f64(s)))
        .map_err(|e| suspend_error(e, "sleep()"))
}

/// The running user's RNG (seedable with --seed), or the thread's outside users.
pub(super) fn with_rng<T>(f: impl FnOnce(&mut dyn RngCore) -> T) -> T {
    coro::with_current_user(|u| match u {
        Some(u) => f(&mut *u.rng.borrow_mut()),
        None => f(&mut rand::rng()),
    })
}
