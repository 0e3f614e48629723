//! Script control beyond a single task: the node's role, stopping the whole test, custom messages
//! to the other nodes, time, more random helpers, timers that report a sample later, and
//! background jobs owned by the user.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rand::Rng;
use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, NativeCallContext};

use super::api_core::with_rng;
use super::api_http::Client;
use super::context::{self, JobHandle};
use super::error::runtime_error;
use super::model::Callable;
use super::run_control::{RoleKind, RunControl};
use crate::coro;

type R<T> = Result<T, Box<EvalAltResult>>;

/// `start_timer(type, name)`: report one sample later, timed from now.
#[derive(Clone)]
pub struct Timer {
    started: Instant,
    request_type: ImmutableString,
    name: ImmutableString,
    reported: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Timer {
    fn finish(&mut self, error: Option<String>, length: i64) -> R<()> {
        if self.reported.swap(true, Ordering::AcqRel) {
            return Err(runtime_error(format!(
                "timer '{}' was already reported",
                self.name
            )));
        }
        if length < 0 {
            return Err(runtime_error(format!(
                "timer '{}': length must be >= 0, got {length}",
                self.name
            )));
        }
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        context::sample(
            &self.request_type,
            &self.name,
            ms,
            length as u64,
            error.as_deref(),
            "",
        );
        Ok(())
    }
}

fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Registers the control functions on the engine of scenario file `unit` (background jobs call
/// that file's functions); role and stop_test() read and write `control`, the run state of the
/// test run this scenario is compiled for.
pub fn register(engine: &mut Engine, unit: usize, control: &Arc<RunControl>) {
    process_start();
    let c = control.clone();
    engine.register_fn("runner_role", move || c.role().kind.as_str().to_string());
    let c = control.clone();
    engine.register_fn("is_master", move || c.role().kind == RoleKind::Master);
    let c = control.clone();
    engine.register_fn("is_worker", move || c.role().kind == RoleKind::Worker);
    let c = control.clone();
    engine.register_fn("is_local", move || c.role().kind == RoleKind::Local);
    let c = control.clone();
    engine.register_fn("worker_index", move || c.role().worker_index);
    let c = control.clone();
    engine.register_fn("worker_count", move || c.role().worker_count);

    let c = control.clone();
    engine.register_fn("stop_test", move || {
        c.request_stop("stop_test() called".into())
    });
    let c = control.clone();
    engine.register_fn("stop_test", move |reason: Dynamic| {
        c.request_stop(reason.to_string())
    });

    let c = control.clone();
    engine.register_fn("send_message", move |kind: &str, data: Dynamic| -> R<()> {
        c.send_message(kind, message_data(kind, &data)?)
            .map_err(runtime_error)
    });
    let c = control.clone();
    engine.register_fn(
        "send_message",
        move |kind: &str, data: Dynamic, client_id: &str| -> R<()> {
            let data = message_data(kind, &data)?;
            c.send_message_to(kind, data, Some(client_id.to_owned()))
                .map_err(runtime_error)
        },
    );
    let c = control.clone();
    engine.register_fn("send_message", move |kind: &str| -> R<()> {
        c.send_message(kind, serde_json::Value::Null)
            .map_err(runtime_error)
    });

    engine.register_fn("now", crate::stats::unix_now);
    engine.register_fn("monotonic", || process_start().elapsed().as_secs_f64());

    engine.register_fn("random_choice", |items: Array| -> R<Dynamic> {
        if items.is_empty() {
            return Err(runtime_error("random_choice([]): the array is empty"));
        }
        let i = with_rng(|r| r.random_range(0..items.len()));
        Ok(items[i].clone())
    });
    engine.register_fn("weighted_choice", |items: Array, weights: Array| -> R<Dynamic> {
        if items.is_empty() || items.len() != weights.len() {
            return Err(runtime_error(format!(
                "weighted_choice(items, weights): needs as many weights as items (got {} items, {} weights)",
                items.len(),
                weights.len()
            )));
        }
        let ws = weights
            .iter()
            .map(|w| {
                let x = w.as_float().or_else(|_| w.as_int().map(|i| i as f64)).unwrap_or(-1.0);
                if x.is_finite() && x >= 0.0 {
                    Ok(x)
                } else {
                    Err(runtime_error(format!("weighted_choice: weights must be numbers >= 0, got {w}")))
                }
            })
            .collect::<R<Vec<f64>>>()?;
        let total: f64 = ws.iter().sum();
        if total <= 0.0 {
            return Err(runtime_error("weighted_choice: at least one weight must be > 0"));
        }
        let mut x = with_rng(|r| r.random_range(0.0..total));
        for (item, w) in items.iter().zip(&ws) {
            if x < *w {
                return Ok(item.clone());
            }
            x -= w;
        }
        Ok(items[ws.iter().rposition(|w| *w > 0.0).unwrap_or(0)].clone())
    });

    engine.register_type_with_name::<Timer>("Timer");
    engine.register_fn(
        "start_timer",
        |request_type: ImmutableString, name: ImmutableString| Timer {
            started: Instant::now(),
            request_type,
            name,
            reported: Default::default(),
        },
    );
    engine.register_fn("success", |t: &mut Timer| t.finish(None, 0));
    engine.register_fn("success", |t: &mut Timer, length: i64| {
        t.finish(None, length)
    });
    engine.register_fn("failure", |t: &mut Timer, msg: Dynamic| {
        t.finish(Some(msg.to_string()), 0)
    });
    engine.register_get("elapsed", |t: &mut Timer| {
        t.started.elapsed().as_secs_f64() * 1000.0
    });
    engine.register_fn("report", super::events::report);

    engine.register_type_with_name::<JobHandle>("Job");
    engine.register_fn(
        "background",
        move |ctx: NativeCallContext, f: FnPtr| -> R<JobHandle> {
            let user = coro::current_user().ok_or_else(|| {
                runtime_error(
                    "background() can only be called inside a user (a task, on_start or on_stop)",
                )
            })?;
            let host = context::host()
                .ok_or_else(|| runtime_error("background(): no runner on this thread"))?;
            // Name the job by where it was started: errors in it point there.
            let at = ctx.call_position();
            let label = format!(
                "background job started at {}:{}:{}",
                ctx.call_source().unwrap_or("scenario"),
                at.line().unwrap_or(0),
                at.position().unwrap_or(0)
            );
            let job = Callable {
                fn_name: fp_name(&f),
                curry: f.curry().to_vec(),
                label: label.into(),
                unit,
            };
            host.spawn_job(user, job).map_err(runtime_error)
        },
    );
    engine.register_fn("cancel", |j: &mut JobHandle| j.abort.abort());
    engine.register_get("done", |j: &mut JobHandle| j.done.load(Ordering::Acquire));

    // The running user's (or the runner's) HTTP client, for closures and listeners without `this`.
    engine.register_fn("client", Client::default);
    engine.register_fn("client", Client::with_settings);
    engine.register_fn(
        "set_header",
        |_: Client, name: &str, value: Dynamic| -> R<()> {
            with_user(|u| {
                let mut h = u.default_headers.borrow_mut();
                h.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                h.push((name.to_string(), value.to_string()));
            })
        },
    );
    engine.register_fn("remove_header", |_: Client, name: &str| -> R<()> {
        with_user(|u| {
            u.default_headers
                .borrow_mut()
                .retain(|(k, _)| !k.eq_ignore_ascii_case(name))
        })
    });
    engine.register_fn("cookie", |_: Client, name: &str| -> R<Dynamic> {
        with_user(|u| u.session.cookie(name).map_or(Dynamic::UNIT, Dynamic::from))
    });
    engine.register_fn("clear_cookies", |_: Client| -> R<()> {
        with_user(|u| u.session.clear_cookies())
    });
}

fn fp_name(f: &FnPtr) -> ImmutableString {
    f.fn_name().into()
}

fn with_user<T>(f: impl FnOnce(&context::UserCtx) -> T) -> R<T> {
    coro::with_current_user(|u| u.map(f)).ok_or_else(|| {
        runtime_error("the client is only available inside a user or an event listener")
    })
}

/// A message's data as plain JSON-like values, or a script error naming the message.
fn message_data(kind: &str, data: &Dynamic) -> R<serde_json::Value> {
    rhai::serde::from_dynamic::<serde_json::Value>(data).map_err(|e| {
        runtime_error(format!(
            "send_message(\"{kind}\", data): data must be plain values (maps, arrays, strings, numbers, booleans, ()): {e}"
        ))
    })
}
