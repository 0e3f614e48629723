//! Events: Locust's built-in hooks (test_start, request, ...), custom events a script creates and
//! the handlers of custom messages from other nodes (`on_message`, Locust's `register_message`),
//! each a list of listeners called in order with one argument (a map of named arguments; a
//! message's data). A listener's error is logged and counted as an exception; it never stops the
//! run or the other listeners.
//!
//! Events are shared by all of a scenario's files; each listener runs in the file that added it
//! (its functions resolve there), whichever file fires the event.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::RwLock;
use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, NativeCallContext};

use super::context;
use super::error::{classify, runtime_error, Control};
use super::run_control::check_message_type;
use super::units::Units;

type R<T> = Result<T, Box<EvalAltResult>>;

/// Built-in events, fired by rustlocust itself (scripts may only fire `request`, which reports a
/// sample the way Locust's `events.request.fire` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Init,
    TestStart,
    TestStopping,
    TestStop,
    SpawningComplete,
    Request,
    UserError,
    ResetStats,
    Quitting,
}

impl Builtin {
    pub const ALL: [Builtin; 9] = [
        Builtin::Init,
        Builtin::TestStart,
        Builtin::TestStopping,
        Builtin::TestStop,
        Builtin::SpawningComplete,
        Builtin::Request,
        Builtin::UserError,
        Builtin::ResetStats,
        Builtin::Quitting,
    ];

    /// The name scripts use (`on("test_start", ...)`), Locust's.
    pub const fn as_str(self) -> &'static str {
        match self {
            Builtin::Init => "init",
            Builtin::TestStart => "test_start",
            Builtin::TestStopping => "test_stopping",
            Builtin::TestStop => "test_stop",
            Builtin::SpawningComplete => "spawning_complete",
            Builtin::Request => "request",
            Builtin::UserError => "user_error",
            Builtin::ResetStats => "reset_stats",
            Builtin::Quitting => "quitting",
        }
    }
}

/// The built-in events' names, for messages and lookups.
pub const BUILTIN: [&str; 9] = {
    let mut names = [""; 9];
    let mut i = 0;
    while i < 9 {
        names[i] = Builtin::ALL[i].as_str();
        i += 1;
    }
    names
};

/// `on_message(type, f)` handlers are the listeners of the event `message:<type>`; `event()`
/// refuses names with this prefix, so scripts cannot collide with them.
const MESSAGE_PREFIX: &str = "message:";

/// The event whose listeners handle custom messages of type `kind`.
pub fn message_event(kind: &str) -> String {
    format!("{MESSAGE_PREFIX}{kind}")
}

/// A listener: a function pointer, and the scenario file (unit) whose functions it calls.
#[derive(Clone)]
pub struct Listener {
    pub f: FnPtr,
    pub unit: usize,
}

pub struct Events {
    listeners: RwLock<HashMap<String, Vec<Listener>>>,
    /// Fast check for the hot path: does anyone listen to `request`?
    request: AtomicBool,
    /// The scenario's files, by unit: how a listener's errors name its file.
    files: Vec<String>,
    /// The compiled files, once all are loaded: a listener of one file fired from another runs
    /// there. Weak: the engines hold these events.
    units: OnceLock<Weak<Units>>,
}

/// A custom event as scripts hold it (`let e = event("name"); e.add(f); e.fire(#{...})`).
#[derive(Clone)]
pub struct EventHandle(ImmutableString);

impl Events {
    /// Events for a scenario made of `files` (in unit order).
    pub fn new(files: Vec<String>) -> Arc<Events> {
        let listeners = BUILTIN.iter().map(|n| (n.to_string(), Vec::new()));
        Arc::new(Events {
            listeners: RwLock::new(listeners.collect()),
            request: AtomicBool::new(false),
            files,
            units: OnceLock::new(),
        })
    }

    /// The scenario's files are all compiled: listeners may now run in any of them.
    pub(super) fn attach(&self, units: &Arc<Units>) {
        let _ = self.units.set(Arc::downgrade(units));
    }

    /// Call a listener in its own file.
    pub fn call(&self, l: &Listener, arg: Dynamic) -> R<Dynamic> {
        self.units()?
            .call(l.unit, l.f.fn_name(), l.f.curry(), None, vec![arg])
    }

    fn units(&self) -> R<Arc<Units>> {
        self.units.get().and_then(Weak::upgrade).ok_or_else(|| {
            runtime_error(
                "a listener added by another scenario file cannot run while the files are still loading",
            )
        })
    }

    /// Run `name`'s listeners (from Rust: the runner, a dropped response).
    pub fn fire(&self, name: &str, args: &Map) {
        self.fire_with(name, args, |l, a| self.call(l, Dynamic::from_map(a)));
    }

    /// Run the `on_message(kind, ..)` handlers with a message's data; a handler taking two
    /// parameters also gets `sender`, the message's node id (Locust's `msg.node_id`: on a master
    /// the worker that sent it, which `send_message(kind, data, id)` answers).
    pub fn fire_message(&self, kind: &str, data: &Dynamic, sender: &str) {
        self.fire_with(&message_event(kind), data, |l, d| {
            let units = self.units()?;
            let (name, curry) = (l.f.fn_name(), l.f.curry());
            let mut args = vec![d];
            if units.has_fn(l.unit, name, curry.len() + 2) {
                args.push(sender.into());
            }
            units.call(l.unit, name, curry, None, args)
        });
    }

    pub fn has_listeners(&self, name: &str) -> bool {
        if name == Builtin::Request.as_str() {
            return self.request.load(Ordering::Relaxed);
        }
        self.listeners
            .read()
            .get(name)
            .is_some_and(|l| !l.is_empty())
    }

    fn add(&self, name: &str, f: FnPtr, unit: usize) -> R<()> {
        let mut map = self.listeners.write();
        let Some(list) = map.get_mut(name) else {
            return Err(runtime_error(format!(
                "unknown event '{name}' (built-in events: {}; create your own with event(\"{name}\"))",
                BUILTIN.join(", ")
            )));
        };
        list.push(Listener { f, unit });
        if name == Builtin::Request.as_str() {
            self.request.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn create(&self, name: &str) -> R<EventHandle> {
        if name.trim().is_empty() {
            return Err(runtime_error("event(name): the name must not be empty"));
        }
        if name.starts_with(MESSAGE_PREFIX) {
            return Err(runtime_error(format!(
                "event(\"{name}\"): names starting with '{MESSAGE_PREFIX}' belong to on_message()"
            )));
        }
        let mut map = self.listeners.write();
        if BUILTIN.contains(&name) {
            return Err(runtime_error(format!(
                "'{name}' is a built-in event: listen to it with on(\"{name}\", |e| ...)"
            )));
        }
        map.entry(name.to_string()).or_default();
        Ok(EventHandle(name.into()))
    }

    /// `on_message(kind, f)`: `f(data)` (or `f(data, sender)`) runs for each custom message of
    /// type `kind`.
    fn add_message_handler(&self, kind: &str, f: FnPtr, unit: usize) -> R<()> {
        check_message_type(kind).map_err(|e| runtime_error(format!("on_message: {e}")))?;
        self.listeners
            .write()
            .entry(message_event(kind))
            .or_default()
            .push(Listener { f, unit });
        Ok(())
    }

    /// Run `name`'s listeners in order, each through `call` with its own copy of `args`. Errors
    /// are logged and counted.
    fn fire_with<A: Clone>(&self, name: &str, args: &A, call: impl Fn(&Listener, A) -> R<Dynamic>) {
        let listeners = match self.listeners.read().get(name) {
            Some(l) if !l.is_empty() => l.clone(),
            _ => return,
        };
        for l in &listeners {
            if let Err(e) = call(l, args.clone()) {
                let file = self.files.get(l.unit).map_or("scenario", String::as_str);
                match classify(&e, file, &format!("{name} listener")) {
                    Ok(Control::Cancelled) => return,
                    Ok(other) => {
                        log::warn!("{other:?} is not allowed in a listener of '{name}'; ignored")
                    }
                    Err(f) => {
                        let msg = format!("error in a listener of event '{name}': {}", f.message);
                        log::error!("{msg}\n{}", f.traceback);
                        context::record_exception(&msg, &f.traceback);
                    }
                }
            }
        }
    }
}

/// Register the event API on the engine of scenario file `unit`.
pub fn register(engine: &mut Engine, events: Arc<Events>, unit: usize) {
    engine.register_type_with_name::<EventHandle>("Event");
    let ev = events.clone();
    engine.register_fn("on", move |name: &str, f: FnPtr| ev.add(name, f, unit));
    let ev = events.clone();
    engine.register_fn("event", move |name: &str| ev.create(name));
    let ev = events.clone();
    engine.register_fn("add", move |h: &mut EventHandle, f: FnPtr| {
        ev.add(&h.0, f, unit)
    });
    let ev = events.clone();
    engine.register_fn("on_message", move |kind: &str, f: FnPtr| {
        ev.add_message_handler(kind, f, unit)
    });

    let fire = {
        let ev = events.clone();
        move |ctx: NativeCallContext, name: &str, args: Map| -> R<()> {
            if name == Builtin::Request.as_str() {
                return report(args);
            }
            if BUILTIN.contains(&name) {
                return Err(runtime_error(format!(
                    "the built-in event '{name}' is fired by rustlocust itself"
                )));
            }
            if !ev.listeners.read().contains_key(name) {
                return Err(runtime_error(format!(
                    "unknown event '{name}': create it first with event(\"{name}\")"
                )));
            }
            // A listener of this file runs in the caller's context (its call depth, its source);
            // one of another file runs in that file's engine.
            ev.fire_with(name, &args, |l, a| {
                if l.unit == unit {
                    l.f.call_within_context::<Dynamic>(&ctx, (a,))
                } else {
                    ev.call(l, Dynamic::from_map(a))
                }
            });
            Ok(())
        }
    };
    let f2 = fire.clone();
    engine.register_fn("fire", fire.clone());
    engine.register_fn("fire", move |ctx: NativeCallContext, name: &str| {
        f2(ctx, name, Map::new())
    });
    let f3 = fire.clone();
    engine.register_fn(
        "fire",
        move |ctx: NativeCallContext, h: &mut EventHandle, args: Map| f3(ctx, &h.0.clone(), args),
    );
    engine.register_fn(
        "fire",
        move |ctx: NativeCallContext, h: &mut EventHandle| fire(ctx, &h.0.clone(), Map::new()),
    );
    engine.register_fn("to_string", |h: &mut EventHandle| {
        format!("<Event {}>", h.0)
    });
}

/// `report(#{...})` and `fire("request", #{...})`: record a sample the script measured itself.
pub fn report(args: Map) -> R<()> {
    const KEYS: [&str; 6] = [
        "request_type",
        "name",
        "response_time",
        "response_length",
        "exception",
        "url",
    ];
    for k in args.keys() {
        if !KEYS.contains(&k.as_str()) {
            return Err(runtime_error(format!(
                "report: unknown key '{k}' (expected: {})",
                KEYS.join(", ")
            )));
        }
    }
    let text = |k: &str, default: &str| args.get(k).map_or(default.to_string(), |v| v.to_string());
    let name = args
        .get("name")
        .ok_or_else(|| runtime_error("report: `name` is required"))?
        .to_string();
    let rt = match args.get("response_time") {
        None => {
            return Err(runtime_error(
                "report: `response_time` (milliseconds) is required",
            ))
        }
        Some(v) => v
            .as_float()
            .or_else(|_| v.as_int().map(|i| i as f64))
            .map_err(|_| {
                runtime_error(format!(
                    "report: response_time must be a number of ms, got {v}"
                ))
            })?,
    };
    if !rt.is_finite() || rt < 0.0 {
        return Err(runtime_error(format!(
            "report: response_time must be a finite number >= 0, got {rt}"
        )));
    }
    let len = match args.get("response_length") {
        None => 0,
        Some(v) => v.as_int().ok().filter(|n| *n >= 0).ok_or_else(|| {
            runtime_error(format!(
                "report: response_length must be a whole number >= 0, got {v}"
            ))
        })? as u64,
    };
    let error = args
        .get("exception")
        .filter(|e| !e.is_unit())
        .map(|e| e.to_string());
    context::sample(
        &text("request_type", "CUSTOM"),
        &name,
        rt,
        len,
        error.as_deref(),
        &text("url", ""),
    );
    Ok(())
}
