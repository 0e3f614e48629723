//! Stackful coroutines that let a Rhai script "block" on async Rust without blocking its thread.
//!
//! Rhai cannot await, so every script call that waits (HTTP, `sleep`) runs on a corosensei coroutine:
//! the native function hands a future to [`block_on`], which suspends the coroutine; the driver
//! ([`run`]) awaits that future on the thread's tokio runtime and resumes the coroutine with the
//! result. Other users on the same thread run meanwhile. Coroutines never leave their thread.
//!
//! Stacks are held only while a task body runs and come from a per-thread [`StackPool`] bounded by
//! the kernel's `vm.max_map_count` (two mappings per guarded stack): when the bound bites, users
//! wait for a stack instead of the process failing.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use tokio::sync::{Notify, Semaphore};

use crate::script::context::UserCtx;

/// Virtual size of one coroutine stack. Only touched pages cost memory (typically 8–16 KiB).
///
/// Sized for the worst a script may reach: Rhai's deepest call (`MAX_CALL_LEVELS`, ~7 KiB a level
/// in a debug build) plus the deepest value (`script::limits::MAX_DATA_DEPTH`) formatted or
/// compared (~2.5 KiB a level, the costliest recursions); about 400 KiB in a debug build, less in
/// release. 256 KiB overflowed (SIGSEGV, the whole process) with 64-deep data 20 calls down.
/// Proved by tests/script_limits.rs. Virtual only: an idle user holds no stack at all.
pub const STACK_SIZE: usize = 1024 * 1024;

type Suspended = Pin<Box<dyn Future<Output = ()>>>;
type Y = Yielder<Resume, Suspended>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    Ready,
    Cancelled,
}

/// Why a script could not wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SuspendError {
    #[error(
        "this function waits, so it can only run inside a user (a task, on_start, on_stop, a background job) or in a \
         listener the runner fires; not at the top level of the scenario, and not in a user_error listener"
    )]
    NotInCoroutine,
    #[error("cancelled: the user is being stopped")]
    Cancelled,
}

/// How far a user has been asked to stop. Shared with the control thread, which may set it while the
/// user's thread is busy (a runaway loop sees it through Rhai's progress callback).
pub struct StopSignal {
    level: AtomicU8,
    changed: Notify,
}

/// Levels of [`StopSignal`], in increasing severity (ordered, so "at least" comparisons read
/// naturally).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    /// Keep going.
    Running = 0,
    /// Finish the current task, then stop (Locust's `stopping` flag, used with `--stop-timeout`).
    Stopping = 1,
    /// Cancel the running task now; on_stop still runs.
    Kill = 2,
    /// Cancel everything, on_stop included.
    Abort = 3,
}

impl StopLevel {
    fn from_u8(v: u8) -> StopLevel {
        match v {
            0 => StopLevel::Running,
            1 => StopLevel::Stopping,
            2 => StopLevel::Kill,
            _ => StopLevel::Abort,
        }
    }
}

impl StopSignal {
    pub fn new() -> Arc<Self> {
        Arc::new(StopSignal {
            level: AtomicU8::new(StopLevel::Running as u8),
            changed: Notify::new(),
        })
    }
    pub fn level(&self) -> StopLevel {
        StopLevel::from_u8(self.level.load(Ordering::Acquire))
    }
    /// Raise the level (never lowers it) and wake whoever waits on it.
    pub fn raise(&self, to: StopLevel) {
        if self.level.fetch_max(to as u8, Ordering::AcqRel) < to as u8 {
            self.changed.notify_waiters();
        }
    }
    /// Back to running, for a context that is reused after a stop (the runner's listeners,
    /// between two events). Only while nothing runs with it.
    pub fn reset(&self) {
        self.level
            .store(StopLevel::Running as u8, Ordering::Release);
    }
    /// Resolves once the level is at least `at`.
    pub async fn reached(&self, at: StopLevel) {
        loop {
            let notified = self.changed.notified();
            if self.level() >= at {
                return;
            }
            notified.await;
        }
    }
}

/// What the running coroutine may consult: its yielder, its user, and the level that cancels it.
struct Current {
    yielder: Cell<*const Y>,
    /// A per-coroutine mark (saved and restored across each suspension): set while the coroutine
    /// runs `request` listeners, whose own samples must not fire `request` again.
    in_listener: Cell<bool>,
    user: RefCell<Option<Rc<UserCtx>>>,
    cancel_at: Cell<StopLevel>,
}

thread_local! {
    static CURRENT: Current = const {
        Current {
            yielder: Cell::new(ptr::null()),
            in_listener: Cell::new(false),
            user: RefCell::new(None),
            cancel_at: Cell::new(StopLevel::Kill),
        }
    };
}

/// The user whose coroutine is running on this thread, if any.
pub fn current_user() -> Option<Rc<UserCtx>> {
    CURRENT.with(|c| c.user.borrow().clone())
}

/// Run `f` with the current user without cloning its `Rc` (hot path).
pub fn with_current_user<R>(f: impl FnOnce(Option<&UserCtx>) -> R) -> R {
    CURRENT.with(|c| f(c.user.borrow().as_deref()))
}

/// True when the running coroutine's user has been asked to stop at the level that cancels it.
/// Cheap enough for Rhai's progress callback.
pub fn should_cancel() -> bool {
    CURRENT.with(|c| match c.user.borrow().as_deref() {
        Some(u) => u.stop.level() >= c.cancel_at.get(),
        None => false,
    })
}

/// Set the running coroutine's (or, outside coroutines, this thread's) `request`-listener mark;
/// returns the previous value.
pub fn swap_in_listener(on: bool) -> bool {
    CURRENT.with(|c| c.in_listener.replace(on))
}

/// Suspend the running coroutine until `fut` completes and return its output.
///
/// Called by native functions (HTTP, sleep) on the coroutine's stack.
pub fn block_on<T: 'static>(fut: impl Future<Output = T> + 'static) -> Result<T, SuspendError> {
    let y = CURRENT.with(|c| c.yielder.get());
    if y.is_null() {
        return Err(SuspendError::NotInCoroutine);
    }
    if should_cancel() {
        return Err(SuspendError::Cancelled);
    }
    let mut out: Option<T> = None;
    let slot: *mut Option<T> = &mut out;
    // SAFETY: the driver polls this future only between our suspend and the matching resume, and
    // drops it before resuming (see `run`), so `out` on this suspended stack outlives every write.
    let fut: Suspended = Box::pin(async move {
        let v = fut.await;
        unsafe { *slot = Some(v) };
    });
    let mark = CURRENT.with(|c| c.in_listener.get());
    // SAFETY: `y` was set by the driver for the coroutine that is running right now.
    let resumed = unsafe { &*y }.suspend(fut);
    // Other coroutines ran while we were parked and overwrote the slots: restore ours.
    CURRENT.with(|c| {
        c.yielder.set(y);
        c.in_listener.set(mark);
    });
    match (resumed, out) {
        (Resume::Ready, Some(v)) => Ok(v),
        _ => Err(SuspendError::Cancelled),
    }
}

/// A bounded per-thread pool of coroutine stacks.
pub struct StackPool {
    free: RefCell<Vec<DefaultStack>>,
    permits: Semaphore,
    cap: usize,
}

/// Free stacks kept for reuse beyond this are unmapped, so a burst does not pin memory forever.
const MAX_IDLE_STACKS: usize = 512;

static POOL_WARNED: AtomicBool = AtomicBool::new(false);

impl StackPool {
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        StackPool {
            free: RefCell::new(Vec::new()),
            permits: Semaphore::new(cap),
            cap,
        }
    }

    async fn acquire(&self) -> Result<DefaultStack, String> {
        let permit = match self.permits.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                if !POOL_WARNED.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "{} users are inside a task on one thread, the most coroutine stacks this process may map \
                         (bounded by the kernel's vm.max_map_count); further users wait for a free stack. \
                         Raise the limit with `sysctl -w vm.max_map_count=1048576` or run more processes.",
                        self.cap
                    );
                }
                self.permits.acquire().await.map_err(|e| e.to_string())?
            }
        };
        permit.forget();
        if let Some(s) = self.free.borrow_mut().pop() {
            return Ok(s);
        }
        DefaultStack::new(STACK_SIZE).map_err(|e| {
            self.permits.add_permits(1);
            format!("could not map a coroutine stack: {e} (see vm.max_map_count)")
        })
    }

    fn release(&self, stack: DefaultStack) {
        let mut free = self.free.borrow_mut();
        if free.len() < MAX_IDLE_STACKS {
            free.push(stack);
        }
        drop(free);
        self.permits.add_permits(1);
    }

    /// The process-wide number of stacks we may map: two mappings each, headroom for everything else.
    pub fn process_cap() -> usize {
        let max_maps = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(65_530);
        max_maps.saturating_sub(8_192) / 2
    }
}

/// Run `f` on a coroutine for `user`, driving every future it waits on. `cancel_at` is the stop
/// level that cancels it (KILL for tasks, ABORT for on_stop). Returns `Err` with a message when no
/// stack could be had or `f` panicked.
pub async fn run<R: 'static>(
    pool: &StackPool,
    user: Option<Rc<UserCtx>>,
    cancel_at: StopLevel,
    f: impl FnOnce() -> R + 'static,
) -> Result<R, String> {
    let stack = pool.acquire().await?;
    let mut co: Coroutine<Resume, Suspended, R, DefaultStack> =
        Coroutine::with_stack(stack, move |y: &Y, _| {
            CURRENT.with(|c| c.yielder.set(y));
            f()
        });
    let signal = user.as_ref().map(|u| u.stop.clone());
    let mut input = Resume::Ready;
    let out = loop {
        CURRENT.with(|c| {
            *c.user.borrow_mut() = user.clone();
            c.cancel_at.set(cancel_at);
        });
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.resume(input)));
        // Never leave a dangling yielder or a stale user behind for code that runs outside us.
        CURRENT.with(|c| {
            c.yielder.set(ptr::null());
            c.in_listener.set(false);
            *c.user.borrow_mut() = None;
        });
        match step {
            Ok(CoroutineResult::Yield(fut)) => {
                input = match &signal {
                    None => {
                        fut.await;
                        Resume::Ready
                    }
                    Some(s) if s.level() >= cancel_at => Resume::Cancelled,
                    Some(s) => {
                        tokio::select! {
                            biased;
                            _ = s.reached(cancel_at) => Resume::Cancelled,
                            _ = fut => Resume::Ready,
                        }
                    }
                };
            }
            Ok(CoroutineResult::Return(r)) => break Ok(r),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                break Err(format!("internal error (panic): {msg}"));
            }
        }
    };
    if co.done() {
        pool.release(co.into_stack());
    } else {
        // Only after a panic; dropping unwinds it, the permit comes back.
        drop(co);
        pool.permits.add_permits(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn local<F: Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    #[test]
    fn block_on_outside_a_coroutine_is_an_error() {
        assert_eq!(
            block_on(async { 1 }).unwrap_err(),
            SuspendError::NotInCoroutine
        );
    }

    #[test]
    fn suspended_coroutines_interleave_on_one_thread() {
        local(async {
            let pool = Rc::new(StackPool::new(64));
            let log = Rc::new(RefCell::new(Vec::new()));
            let mut joins = Vec::new();
            for i in 0..3u64 {
                let (pool, log) = (pool.clone(), log.clone());
                joins.push(tokio::task::spawn_local(async move {
                    run(&pool, None, StopLevel::Kill, move || {
                        log.borrow_mut().push((i, 0));
                        block_on(tokio::time::sleep(Duration::from_millis(10 * (3 - i)))).unwrap();
                        log.borrow_mut().push((i, 1));
                        i * 10
                    })
                    .await
                }));
            }
            let mut outs = Vec::new();
            for j in joins {
                outs.push(j.await.unwrap().unwrap());
            }
            assert_eq!(outs, vec![0, 10, 20]);
            let log = log.borrow();
            // All three started before any finished, and the shortest sleep finished first.
            assert_eq!(&log[..3], &[(0, 0), (1, 0), (2, 0)]);
            assert_eq!(log[3], (2, 1));
        });
    }

    #[test]
    fn pool_applies_back_pressure_instead_of_failing() {
        local(async {
            let pool = Rc::new(StackPool::new(2));
            let running = Rc::new(Cell::new(0usize));
            let peak = Rc::new(Cell::new(0usize));
            let mut joins = Vec::new();
            for _ in 0..6 {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                joins.push(tokio::task::spawn_local(async move {
                    run(&pool, None, StopLevel::Kill, move || {
                        running.set(running.get() + 1);
                        peak.set(peak.get().max(running.get()));
                        block_on(tokio::time::sleep(Duration::from_millis(5))).unwrap();
                        running.set(running.get() - 1);
                    })
                    .await
                }));
            }
            for j in joins {
                j.await.unwrap().unwrap();
            }
            assert_eq!(peak.get(), 2);
            assert!(POOL_WARNED.load(Ordering::Relaxed));
        });
    }
}
