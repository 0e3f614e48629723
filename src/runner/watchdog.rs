//! Bounds on the runner's own listeners (test_start, test_stopping, test_stop, quitting, ...),
//! enforced from a thread of their own.
//!
//! Listeners run on the control thread, so one that never returns stops everything there: a
//! `loop {}` never yields, and the thread can then neither see a signal nor a timer. This
//! watchdog thread can: it raises the listener context's [`StopSignal`], which cancels a waiting
//! listener at once and a busy one at its next progress check (`script::build_engine`). It counts
//! Ctrl-C/SIGTERM itself (a handler chained with tokio's through `signal-hook-registry`), since
//! tokio's own only reaches the control thread.
//!
//! The rules, the same stop levels users have:
//! - while the test stops (test_stopping, test_stop, quitting) a listener has `grace` to finish;
//!   a new signal cancels it at once;
//! - otherwise (init, test_start, spawning_complete, reset_stats, messages) a listener may run as
//!   long as it likes until the test should stop: the run time is up or a signal came; it then has
//!   `grace`, and a second signal cancels it at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::coro::{StopLevel, StopSignal};

/// How often an armed watchdog looks at the clock and the signal count.
const POLL: Duration = Duration::from_millis(20);

static SIGNALS: AtomicU64 = AtomicU64::new(0);

/// Ctrl-C and SIGTERM received by this process so far (once [`install`] ran).
fn signals() -> u64 {
    SIGNALS.load(Ordering::Relaxed)
}

/// Why a batch of listeners was cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Its time ran out.
    Timeout(Duration),
    /// A signal asked for it.
    Signal,
}

/// One batch of listeners being watched.
pub struct Batch {
    signal: Arc<StopSignal>,
    stopping: bool,
    grace: Duration,
    signals_at_start: u64,
    deadline: Mutex<Option<Instant>>,
    cut: Mutex<Option<Cut>>,
}

impl Batch {
    /// Whether (and why) the watchdog cancelled it.
    pub fn cut(&self) -> Option<Cut> {
        *self.cut.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Check the clock and the signals; true once the batch is cancelled.
    fn check(&self, now: Instant) -> bool {
        let new_signals = signals().saturating_sub(self.signals_at_start);
        let mut deadline = self.deadline.lock().unwrap_or_else(|e| e.into_inner());
        if !self.stopping && new_signals == 1 {
            // The first signal starts the stop: the listener gets its grace from now.
            let by = now + self.grace;
            if deadline.is_none_or(|d| d > by) {
                *deadline = Some(by);
            }
        }
        let why = if (self.stopping && new_signals >= 1) || new_signals >= 2 {
            Some(Cut::Signal)
        } else if deadline.is_some_and(|d| now >= d) {
            Some(Cut::Timeout(self.grace))
        } else {
            None
        };
        let Some(why) = why else { return false };
        self.cut
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(why);
        self.signal.raise(StopLevel::Abort);
        true
    }
}

#[derive(Default)]
struct Shared {
    batches: Mutex<Vec<Arc<Batch>>>,
    wake: Condvar,
}

static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();

/// Count Ctrl-C/SIGTERM from now on and start the watchdog thread (once per process).
pub fn install() {
    SHARED.get_or_init(|| {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: the action only increments an atomic, which is async-signal-safe.
            let r = unsafe {
                signal_hook_registry::register(sig, || {
                    SIGNALS.fetch_add(1, Ordering::Relaxed);
                })
            };
            if let Err(e) = r {
                log::warn!("listeners cannot be cancelled by signal {sig}: {e}");
            }
        }
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("listener-watchdog".into())
            .spawn(move || watch(&s));
        if let Err(e) = spawned {
            log::warn!("no watchdog for event listeners (they cannot be cut short): {e}");
        }
        shared
    });
}

fn watch(s: &Shared) {
    let mut batches = s.batches.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if batches.is_empty() {
            batches = s.wake.wait(batches).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        let now = Instant::now();
        batches.retain(|b| !b.check(now));
        batches = s
            .wake
            .wait_timeout(batches, POLL)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Watch a batch of listeners that runs with `signal` (reset to running first): `stopping` when
/// the test is stopping, `deadline` when it should end by then (its run time), `grace` how long
/// it has once it should stop. Unwatched when the returned batch's guard drops.
pub fn arm(
    signal: Arc<StopSignal>,
    stopping: bool,
    deadline: Option<Instant>,
    grace: Duration,
) -> Armed {
    install();
    signal.reset();
    let now = Instant::now();
    let batch = Arc::new(Batch {
        signal,
        stopping,
        grace,
        signals_at_start: signals(),
        deadline: Mutex::new(if stopping {
            Some(now + grace)
        } else {
            deadline.map(|d| d.max(now) + grace)
        }),
        cut: Mutex::new(None),
    });
    if let Some(s) = SHARED.get() {
        s.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(batch.clone());
        s.wake.notify_one();
    }
    Armed(batch)
}

/// A watched batch; dropping it stops the watch.
pub struct Armed(Arc<Batch>);

impl std::ops::Deref for Armed {
    type Target = Batch;
    fn deref(&self) -> &Batch {
        &self.0
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(s) = SHARED.get() {
            s.batches
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|b| !Arc::ptr_eq(b, &self.0));
        }
    }
}
