//! One simulated user's life, Locust's `User.run`: on_start, then pick a task (by weight, or in
//! order in a sequence), run it on a coroutine, wait, repeat; task sets nest on a stack of frames
//! and `interrupt()` pops back to the parent; on stop, on_stop runs (task sets' first).
//!
//! The coroutine (and its stack) is held only while script code runs; waiting between tasks is
//! plain async Rust.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use rhai::Dynamic;

use super::worker::Worker;
use crate::coro::{self, StopLevel, StopSignal};
use crate::script::context::{self, JobHandle, UserCtx};
use crate::script::events::Builtin;
use crate::script::{self, error, Callable, Control, TaskKind, TaskSet, WaitTime};

/// How a piece of script code ended.
enum Step {
    Done,
    Failed,
    Interrupt { reschedule: bool },
    StopUser,
    Cancelled,
}

/// An active task set: the user's root set, or a nested one entered through a task.
struct Frame {
    set: Arc<TaskSet>,
    wait: WaitTime,
    /// Next step of a sequential set.
    seq: u64,
}

struct User {
    w: Rc<Worker>,
    ctx: Rc<UserCtx>,
    this: Dynamic,
}

pub async fn run(w: Rc<Worker>, class_idx: usize, id: u64, stop: Arc<StopSignal>) {
    let class = w.scenario.classes[class_idx].clone();
    let rng = match w.seed {
        Some(seed) => SmallRng::seed_from_u64(seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        None => SmallRng::from_rng(&mut rand::rng()),
    };
    let ctx = Rc::new(UserCtx {
        id,
        class_name: Arc::from(class.name.as_str()),
        session: w
            .http
            .session_with(w.bases[class_idx].clone(), class.http.clone()),
        rng: RefCell::new(rng),
        stop: stop.clone(),
        jobs: RefCell::new(Vec::new()),
        default_headers: RefCell::new(Vec::new()),
    });
    live(w, class, ctx.clone(), stop).await;
    cancel_jobs(&ctx).await;
}

/// The user's life from on_start to on_stop.
async fn live(
    w: Rc<Worker>,
    class: Arc<script::UserClass>,
    ctx: Rc<UserCtx>,
    stop: Arc<StopSignal>,
) {
    let mut u = User {
        w,
        ctx,
        this: script::new_this(),
    };

    if let Some(cb) = &class.on_start {
        match u.call(cb, "on_start", StopLevel::Kill).await {
            Step::Done => {}
            // Locust: a failing on_start ends only this user, without on_stop.
            Step::Failed => return,
            Step::Interrupt { .. } => {
                u.misplaced_interrupt("on_start");
                return;
            }
            Step::StopUser | Step::Cancelled => {
                u.finish(&class.on_stop, &[]).await;
                return;
            }
        }
    }

    let mut frames = vec![Frame {
        set: class.tasks.clone(),
        wait: class.wait.clone(),
        seq: 0,
    }];
    loop {
        if stop.level() >= StopLevel::Stopping {
            break;
        }
        let frame = frames.last_mut().expect("the root frame is never popped");
        let picked = if frame.set.sequential {
            frame.seq += 1;
            frame.set.sequential_at(frame.seq - 1)
        } else {
            frame.set.pick(&mut *u.ctx.rng.borrow_mut())
        };
        let Some(task) = picked.cloned() else { break };
        let wait = frame.wait.clone();
        let started = Instant::now();
        let step = match &task.kind {
            TaskKind::Set(set) => {
                frames.push(Frame {
                    set: set.clone(),
                    wait: set.wait.clone().unwrap_or_else(|| wait.clone()),
                    seq: 0,
                });
                match &set.on_start {
                    Some(cb) => match u
                        .call(cb, &format!("{}.on_start", set.name), StopLevel::Kill)
                        .await
                    {
                        Step::Done => continue,
                        Step::Failed => {
                            frames.pop();
                            Step::Failed
                        }
                        other => other,
                    },
                    None => continue,
                }
            }
            TaskKind::Fn(cb) => u.call(cb, task.label(), StopLevel::Kill).await,
        };
        let mut wait = wait;
        match step {
            Step::Done | Step::Failed => {}
            Step::StopUser | Step::Cancelled => break,
            Step::Interrupt { reschedule } => {
                if frames.len() == 1 {
                    u.misplaced_interrupt(task.label());
                } else {
                    let left = frames.pop().expect("checked above");
                    if let Some(cb) = &left.set.on_stop {
                        // Like every on_stop, it runs even when the user is being stopped right
                        // now (only ABORT cancels it): the set was left, its clean-up is due.
                        if let Step::StopUser | Step::Cancelled = u
                            .call(cb, &format!("{}.on_stop", left.set.name), StopLevel::Abort)
                            .await
                        {
                            break;
                        }
                    }
                    if reschedule {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    wait = frames.last().expect("root remains").wait.clone();
                }
            }
        }
        let secs = wait.seconds(
            &mut *u.ctx.rng.borrow_mut(),
            started.elapsed().as_secs_f64(),
        );
        if secs > 0.0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => {}
                _ = stop.reached(StopLevel::Stopping) => break,
            }
        } else {
            // A task that never waits must not starve the other users on this thread.
            tokio::task::yield_now().await;
        }
    }
    let sets: Vec<Arc<TaskSet>> = frames.into_iter().skip(1).rev().map(|f| f.set).collect();
    u.finish(&class.on_stop, &sets).await;
}

/// How long a stopped user's background jobs get to notice the cancellation before they are dropped.
const JOB_CANCEL_GRACE: Duration = Duration::from_secs(2);

/// A user's jobs die with it: cancel them (at their next wait, or within a few hundred operations
/// of a busy loop), then drop whatever is left.
async fn cancel_jobs(ctx: &UserCtx) {
    ctx.stop.raise(StopLevel::Abort);
    let deadline = tokio::time::Instant::now() + JOB_CANCEL_GRACE;
    while ctx
        .jobs
        .borrow()
        .iter()
        .any(|j| !j.done.load(Ordering::Acquire))
    {
        if tokio::time::Instant::now() >= deadline {
            ctx.jobs.borrow().iter().for_each(|j| j.abort.abort());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Marks a job finished however its task ends (completion, cancellation, abort).
struct JobDone(Arc<AtomicBool>);

impl Drop for JobDone {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Start a background job for `user` (the script's `background(f)`): it runs concurrently with the
/// user's tasks, on its own coroutine, with the user's session and stop signal.
pub fn spawn_job(w: Rc<Worker>, user: Rc<UserCtx>, job: Callable) -> Result<JobHandle, String> {
    {
        let mut jobs = user.jobs.borrow_mut();
        jobs.retain(|j| !j.done.load(Ordering::Acquire));
        if jobs.len() >= w.max_jobs {
            return Err(format!(
                "this user already runs {} background jobs, the most allowed (--max-background-jobs)",
                w.max_jobs
            ));
        }
    }
    if user.stop.level() >= StopLevel::Kill {
        return Err("the user is stopping: no new background jobs".into());
    }
    let done = Arc::new(AtomicBool::new(false));
    let mark = JobDone(done.clone());
    let ctx = user.clone();
    let task = tokio::task::spawn_local(async move {
        let _mark = mark;
        let scenario = w.scenario.clone();
        let j = job.clone();
        let out = coro::run(&w.pool, Some(ctx.clone()), StopLevel::Kill, move || {
            scenario.call(&j, None, Vec::new())
        })
        .await;
        let err = match out {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => e,
            Err(msg) => return exception(&w, &ctx, &msg, &format!("  in {}", job.label)),
        };
        match error::classify(&err, w.scenario.file_of(job.unit), &job.label) {
            Ok(Control::Cancelled) => {}
            Ok(Control::StopUser) => ctx.stop.raise(StopLevel::Stopping),
            Ok(Control::Interrupt { .. }) => exception(
                &w,
                &ctx,
                "interrupt() called in a background job, which is not inside a task set",
                &format!("  in {}", job.label),
            ),
            Err(f) => exception(&w, &ctx, &f.message, &f.traceback),
        }
    });
    let handle = JobHandle {
        abort: task.abort_handle(),
        done,
    };
    user.jobs.borrow_mut().push(handle.clone());
    Ok(handle)
}

/// Record a script error as an exception entry, log it (once per distinct message and thread:
/// repeats would flood the console), and tell `user_error` listeners (they run outside the
/// coroutine, so they cannot wait).
fn exception(w: &Worker, ctx: &UserCtx, message: &str, traceback: &str) {
    context::record_exception(message, traceback);
    thread_local!(static SEEN: RefCell<HashSet<String>> = RefCell::new(HashSet::new()));
    let first = SEEN.with(|s| s.borrow_mut().insert(message.to_string()));
    if first {
        log::error!(
            "{} (user {}): {message}\n{traceback}",
            ctx.class_name,
            ctx.id
        );
    } else {
        log::debug!("{} (user {}): {message}", ctx.class_name, ctx.id);
    }
    if w.scenario.events.has_listeners(Builtin::UserError.as_str()) {
        let mut m = rhai::Map::new();
        m.insert("user_class".into(), ctx.class_name.to_string().into());
        m.insert("message".into(), message.into());
        m.insert("traceback".into(), traceback.into());
        w.scenario.fire(Builtin::UserError.as_str(), m);
    }
}

impl User {
    /// Run a callback on a coroutine with `this` bound to the user's map.
    async fn call(&mut self, cb: &Callable, label: &str, cancel_at: StopLevel) -> Step {
        let scenario = self.w.scenario.clone();
        let cb2 = cb.clone();
        let mut this = std::mem::take(&mut self.this);
        let out = coro::run(&self.w.pool, Some(self.ctx.clone()), cancel_at, move || {
            let r = scenario.call(&cb2, Some(&mut this), Vec::new());
            (r, this)
        })
        .await;
        let result = match out {
            Ok((r, this)) => {
                self.this = this;
                r
            }
            Err(msg) => {
                // No stack could be had, or an internal panic: the user's state is gone with it.
                self.this = script::new_this();
                self.exception(&msg, &format!("  in {label}"));
                return Step::Failed;
            }
        };
        match result {
            Ok(_) => Step::Done,
            Err(e) => match error::classify(&e, self.w.scenario.file_of(cb.unit), label) {
                Ok(Control::Cancelled) => Step::Cancelled,
                Ok(Control::StopUser) => Step::StopUser,
                Ok(Control::Interrupt { reschedule }) => Step::Interrupt { reschedule },
                Err(f) => {
                    self.exception(&f.message, &f.traceback);
                    Step::Failed
                }
            },
        }
    }

    fn exception(&self, message: &str, traceback: &str) {
        exception(&self.w, &self.ctx, message, traceback);
    }

    fn misplaced_interrupt(&self, label: &str) {
        self.exception(
            &format!("interrupt() called in '{label}', which is not inside a task set (use it in a taskset()'s task)"),
            &format!("  in {label}"),
        );
    }

    /// on_stop of the open task sets (innermost first), then the user's.
    async fn finish(&mut self, on_stop: &Option<Callable>, sets: &[Arc<TaskSet>]) {
        for s in sets {
            if let Some(cb) = &s.on_stop {
                self.call(cb, &format!("{}.on_stop", s.name), StopLevel::Abort)
                    .await;
            }
        }
        if let Some(cb) = on_stop {
            self.call(cb, "on_stop", StopLevel::Abort).await;
        }
    }
}

/// `--check --dry-run`: one user of class `class_idx` runs on_start, every task once (task sets:
/// their on_start, each of their tasks once, their on_stop), then on_stop, so a script author sees
/// each request and mistake in seconds. Samples are echoed by the caller.
pub async fn dry_run(w: Rc<Worker>, class_idx: usize, id: u64) {
    let class = w.scenario.classes[class_idx].clone();
    let ctx = Rc::new(UserCtx {
        id,
        class_name: Arc::from(class.name.as_str()),
        session: w
            .http
            .session_with(w.bases[class_idx].clone(), class.http.clone()),
        rng: RefCell::new(SmallRng::seed_from_u64(w.seed.unwrap_or(0) ^ id)),
        stop: StopSignal::new(),
        jobs: RefCell::new(Vec::new()),
        default_headers: RefCell::new(Vec::new()),
    });
    let mut u = User {
        w,
        ctx: ctx.clone(),
        this: script::new_this(),
    };
    println!("{}:", class.name);
    if let Some(cb) = &class.on_start {
        u.dry_step(cb, "on_start").await;
    }
    u.dry_set(&class.tasks).await;
    if let Some(cb) = &class.on_stop {
        u.dry_step(cb, "on_stop").await;
    }
    cancel_jobs(&ctx).await;
}

impl User {
    async fn dry_step(&mut self, cb: &Callable, label: &str) {
        println!("  {label}");
        match self.call(cb, label, StopLevel::Kill).await {
            Step::Failed => println!("    ! raised an error (see the log above)"),
            Step::Interrupt { .. } | Step::Done => {}
            Step::StopUser => println!("    (stop_user() called)"),
            Step::Cancelled => println!("    (cancelled)"),
        }
    }

    fn dry_set<'a>(
        &'a mut self,
        set: &'a TaskSet,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>> {
        Box::pin(async move {
            for t in &set.tasks {
                match &t.kind {
                    TaskKind::Fn(cb) => self.dry_step(cb, &format!("task {}", t.label())).await,
                    TaskKind::Set(s) => {
                        if let Some(cb) = &s.on_start {
                            self.dry_step(cb, &format!("{}.on_start", s.name)).await;
                        }
                        self.dry_set(s).await;
                        if let Some(cb) = &s.on_stop {
                            self.dry_step(cb, &format!("{}.on_stop", s.name)).await;
                        }
                    }
                }
            }
        })
    }
}
