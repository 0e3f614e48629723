//! The scenario: Rhai scripts (one or more files) compiled once, their top level run once per
//! process, their user classes validated, then shared read-only by every worker thread.
//!
//! Rhai is built with `sync` so one compiled scenario (engines, functions, top-level constants and
//! imports) serves all threads; the top level therefore runs exactly once, as a locustfile's module
//! scope does. Each file is compiled in its own engine (see `units.rs`): the classes of all files
//! are merged, and each file's functions resolve within that file.

pub mod api_control;
pub mod api_core;
pub mod api_http;
pub mod context;
pub mod declare;
pub mod definitions;
pub mod error;
pub mod events;
pub mod feeder;
pub mod files;
pub mod http_settings;
pub mod limits;
pub mod model;
mod multipart;
pub mod ratio;
pub mod run_control;
pub mod stdlib;
pub mod units;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rhai::module_resolvers::FileModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Module, Scope};

pub use error::{Control, Failure, ScriptError};
pub use files::Source;
pub use limits::Limits;
pub use model::{Callable, Task, TaskKind, TaskSet, UserClass, WaitTime};
pub use run_control::{Role, RoleKind, RunControl};

use declare::Declarations;
use events::Events;
use units::{Unit, Units};

/// Rhai call depth allowed: each level takes ~8 KiB of coroutine stack (see `coro::STACK_SIZE`).
const MAX_CALL_LEVELS: usize = 32;
/// Rhai operations between two checks of the stop signal (a runaway loop still ends on stop).
const CANCEL_CHECK_EVERY: u64 = 256;

/// What narrows the scenario down before a run.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub tags: Vec<String>,
    pub exclude_tags: Vec<String>,
    /// Only these classes (empty: all).
    pub user_classes: Vec<String>,
    /// The run state the script's functions read and write (role, stop_test).
    pub control: Arc<RunControl>,
    /// Locust's `--equal-weights`: every class and every task (nested ones too) gets weight 1.
    pub equal_weights: bool,
    /// The size limits of the scenario's values.
    pub limits: Limits,
}

/// Cloning is cheap and shares the compiled script, listeners and run control: a clone differs
/// only in the classes it is given (a class changed before a test, `POST /user`).
#[derive(Clone)]
pub struct Scenario {
    units: Arc<Units>,
    pub classes: Vec<Arc<UserClass>>,
    /// How messages name the scenario: its files, joined by ",".
    pub file: String,
    pub events: Arc<Events>,
    /// The run state this scenario's functions were compiled against.
    pub control: Arc<RunControl>,
}

impl Scenario {
    /// Load one scenario file.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Scenario, ScriptError> {
        Self::load_files(&[path.to_path_buf()], opts)
    }

    /// Load a scenario made of several files (directories already expanded by the options layer).
    pub fn load_files(paths: &[PathBuf], opts: &LoadOptions) -> Result<Scenario, ScriptError> {
        let sources = paths
            .iter()
            .map(|p| Source::read(p))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_sources(&sources, opts)
    }

    /// Load from text; `dir` is where `import "x"` looks for `x.rhai`.
    pub fn from_source(
        file: &str,
        src: &str,
        dir: &Path,
        opts: &LoadOptions,
    ) -> Result<Scenario, ScriptError> {
        let source = Source {
            file: file.into(),
            src: src.into(),
            dir: dir.to_path_buf(),
        };
        Self::from_sources(&[source], opts)
    }

    /// Compile each file in turn (its top level runs once, in its own engine), then merge the user
    /// classes of all of them.
    pub fn from_sources(sources: &[Source], opts: &LoadOptions) -> Result<Scenario, ScriptError> {
        if sources.is_empty() {
            return Err(ScriptError::NoFiles);
        }
        let files: Vec<String> = sources.iter().map(|s| s.file.clone()).collect();
        let decls = Arc::new(Mutex::new(Declarations::default()));
        let events = Events::new(files.clone());
        let units = sources
            .iter()
            .enumerate()
            .map(|(unit, s)| compile(unit, s, &decls, &events, opts))
            .collect::<Result<Vec<_>, _>>()?;
        let display = files.join(",");
        let declared = std::mem::take(&mut decls.lock().classes);
        let classes = select(declared, opts).map_err(|m| ScriptError::Invalid {
            file: display.clone(),
            message: m,
        })?;
        let units = Arc::new(Units::new(units));
        events.attach(&units);
        Ok(Scenario {
            units,
            classes,
            file: display,
            events,
            control: opts.control.clone(),
        })
    }

    /// The file `unit` (a [`Callable`]'s) was loaded from, as errors name it.
    pub fn file_of(&self, unit: usize) -> &str {
        self.units.file(unit)
    }

    /// The scenario's files, in the order they were loaded.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.units.files()
    }

    /// Call a task or callback, with `this` bound to the user's state when given. Runs on a
    /// coroutine when it may wait.
    pub fn call(
        &self,
        cb: &Callable,
        this: Option<&mut Dynamic>,
        args: Vec<Dynamic>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        self.units.call(cb.unit, &cb.fn_name, &cb.curry, this, args)
    }

    /// Run the listeners of event `name` with `args` (from Rust: the runner, a dropped response).
    pub fn fire(&self, name: &str, args: Map) {
        self.events.fire(name, &args);
    }

    /// Run the `on_message(kind, ..)` handlers with the message's data.
    pub fn fire_message(&self, kind: &str, data: Dynamic, sender: &str) {
        self.events.fire_message(kind, &data, sender);
    }

    /// Whether the script handles custom messages of type `kind`.
    pub fn handles_message(&self, kind: &str) -> bool {
        self.events.has_listeners(&events::message_event(kind))
    }

    /// The summed weight of the classes without a `fixed_count` (they share what fixed ones leave).
    pub fn weight_of_weighted_classes(&self) -> f64 {
        self.classes
            .iter()
            .filter(|c| c.fixed_count == 0)
            .map(|c| c.weight)
            .sum()
    }

    /// `--list`: classes with weights and ratios, and their task trees with weights and ratios.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let total = self.weight_of_weighted_classes();
        let _ = writeln!(
            out,
            "User classes ({}), tasks with weight and share of the parent:",
            self.classes.len()
        );
        for c in &self.classes {
            let share = if c.fixed_count > 0 {
                format!("fixed_count {}", c.fixed_count)
            } else {
                format!("weight {} ({:.1}%)", c.weight, 100.0 * c.weight / total)
            };
            let host = c.host.as_deref().unwrap_or("(host from -H)");
            let _ = writeln!(
                out,
                "  {}  {share}  wait {}  host {host}",
                c.name,
                c.wait.describe()
            );
            describe_set(&mut out, &c.tasks, 2);
        }
        out
    }
}

fn describe_set(out: &mut String, set: &TaskSet, depth: usize) {
    let total = set.total_weight().max(1) as f64;
    for t in &set.tasks {
        let pad = "  ".repeat(depth);
        let tags = if t.tags.is_empty() {
            String::new()
        } else {
            format!("  tags [{}]", t.tags.join(", "))
        };
        match &t.kind {
            TaskKind::Fn(_) => {
                let _ = writeln!(
                    out,
                    "{pad}{:<28} {:>5} {:>6.1}%{tags}",
                    t.label(),
                    t.weight,
                    100.0 * t.weight as f64 / total
                );
            }
            TaskKind::Set(s) => {
                let kind = if s.sequential { "sequence" } else { "taskset" };
                let _ = writeln!(
                    out,
                    "{pad}{:<28} {:>5} {:>6.1}%  ({kind}{}){tags}",
                    s.name,
                    t.weight,
                    100.0 * t.weight as f64 / total,
                    s.wait
                        .as_ref()
                        .map(|w| format!(", wait {}", w.describe()))
                        .unwrap_or_default()
                );
                describe_set(out, s, depth + 1);
            }
        }
    }
}

/// An engine with the full scripting API registered but no scenario: what `--print-definitions`
/// describes.
pub fn api_engine() -> Engine {
    build_engine(
        Arc::new(Mutex::new(Declarations::default())),
        Events::new(vec!["<api>".into()]),
        0,
        &Arc::new(RunControl::default()),
        Path::new("."),
        &Limits::default(),
    )
}

/// Compile scenario file `unit` and run its top level in an engine of its own; check the classes
/// it declared against its functions.
fn compile(
    unit: usize,
    s: &Source,
    decls: &Arc<Mutex<Declarations>>,
    events: &Arc<Events>,
    opts: &LoadOptions,
) -> Result<Unit, ScriptError> {
    let mut engine = build_engine(
        decls.clone(),
        events.clone(),
        unit,
        &opts.control,
        &s.dir,
        &opts.limits,
    );
    let mut ast = engine.compile(&s.src).map_err(|e| {
        ScriptError::at(
            &s.file,
            e.position(),
            format!("Syntax error: {}", e.err_type()),
        )
    })?;
    ast.set_source(s.file.as_str());
    let before = decls.lock().classes.len();
    let module = Module::eval_ast_as_new(Scope::new(), &ast, &engine)
        .map_err(|e| ScriptError::from_eval(&error_file(s, &e), &e))?;
    let fns: HashSet<(String, usize)> = ast
        .iter_functions()
        .map(|f| (f.name.to_string(), f.params.len()))
        .collect();
    for c in &decls.lock().classes[before..] {
        check_class(c, &fns).map_err(|m| ScriptError::Invalid {
            file: c.declared_at.clone(),
            message: m,
        })?;
    }
    engine.register_global_module(module.into());
    Ok(Unit::new(s.file.clone(), engine, fns))
}

/// The file an error of `s`'s top level happened in: the innermost imported module's (its
/// position is in that file), else `s`'s own.
fn error_file(s: &Source, err: &EvalAltResult) -> String {
    let mut module = None;
    let mut e = err;
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(.., inner, _) => e = inner,
            EvalAltResult::ErrorInModule(name, inner, _) => {
                module = Some(name);
                e = inner;
            }
            _ => break,
        }
    }
    match module {
        // As the module resolver finds it: relative to the scenario's folder, with `.rhai`.
        Some(name) => {
            let mut path = PathBuf::from(name.as_str());
            path.set_extension("rhai");
            s.dir.join(path).display().to_string()
        }
        None => s.file.clone(),
    }
}

fn build_engine(
    decls: Arc<Mutex<Declarations>>,
    events: Arc<Events>,
    unit: usize,
    control: &Arc<RunControl>,
    dir: &Path,
    limits: &Limits,
) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(64, 32);
    engine.on_progress(|ops| {
        (ops % CANCEL_CHECK_EVERY == 0 && crate::coro::should_cancel())
            .then(|| Dynamic::from(Control::Cancelled))
    });
    engine.set_module_resolver(FileModuleResolver::new_with_path(dir));
    engine.register_type_with_name::<Control>("Control");
    declare::register(&mut engine, decls, unit);
    api_core::register(&mut engine);
    api_http::register(&mut engine, dir);
    api_control::register(&mut engine, unit, control);
    events::register(&mut engine, events, unit);
    stdlib::register(&mut engine, dir);
    // After the shipped stdlib compiled: Rhai also holds its string literals to the limit.
    limits.apply(&mut engine);
    engine
}

/// A user's `this`: its own map, with `client` (its HTTP session).
pub fn new_this() -> Dynamic {
    let mut m = rhai::Map::new();
    m.insert("client".into(), Dynamic::from(api_http::Client::default()));
    Dynamic::from_map(m)
}

fn check_class(c: &UserClass, fns: &HashSet<(String, usize)>) -> Result<(), String> {
    let check = |cb: &Callable, what: &str| -> Result<(), String> {
        if cb.is_closure() || fns.contains(&(cb.fn_name.to_string(), cb.curry.len())) {
            return Ok(());
        }
        if let Some((_, n)) = fns.iter().find(|(f, _)| f == cb.fn_name.as_str()) {
            return Err(format!(
                "user class '{}': {what} '{}' takes {n} parameter(s) but is called with none (use `this` for the user's state)",
                c.name, cb.fn_name
            ));
        }
        let hint = fns
            .iter()
            .filter(|(f, _)| similar(f, &cb.fn_name))
            .map(|(f, _)| format!(" (did you mean '{f}'?)"))
            .next()
            .unwrap_or_default();
        Err(format!(
            "user class '{}': {what} '{}' is not a function defined in the scenario{hint}",
            c.name, cb.fn_name
        ))
    };
    fn walk(
        set: &TaskSet,
        check: &dyn Fn(&Callable, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        for cb in set.on_start.iter() {
            check(cb, "on_start")?;
        }
        for cb in set.on_stop.iter() {
            check(cb, "on_stop")?;
        }
        for t in &set.tasks {
            match &t.kind {
                TaskKind::Fn(cb) => check(cb, "task")?,
                TaskKind::Set(s) => walk(s, check)?,
            }
        }
        Ok(())
    }
    if let Some(cb) = &c.on_start {
        check(cb, "on_start")?;
    }
    if let Some(cb) = &c.on_stop {
        check(cb, "on_stop")?;
    }
    walk(&c.tasks, &check)
}

fn similar(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    a.contains(&b) || b.contains(&a) || {
        let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
        common >= 3
    }
}

/// Apply the class filter and tags; fail when nothing runnable is left.
fn select(declared: Vec<UserClass>, opts: &LoadOptions) -> Result<Vec<Arc<UserClass>>, String> {
    if declared.is_empty() {
        return Err("no user classes: declare one with user(\"Name\", #{ tasks: [...] })".into());
    }
    for wanted in &opts.user_classes {
        if !declared.iter().any(|c| &c.name == wanted) {
            let names: Vec<_> = declared.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "unknown user class '{wanted}' on the command line (the scenario has: {})",
                names.join(", ")
            ));
        }
    }
    let mut out = Vec::new();
    for mut c in declared {
        if !opts.user_classes.is_empty() && !opts.user_classes.contains(&c.name) {
            continue;
        }
        if opts.equal_weights {
            c.weight = 1.0;
            c.tasks = Arc::new(c.tasks.with_equal_weights());
        }
        if opts.tags.is_empty() && opts.exclude_tags.is_empty() {
            out.push(Arc::new(c));
            continue;
        }
        match c.tasks.filtered(&opts.tags, &opts.exclude_tags, &[]) {
            Some(set) => {
                c.tasks = Arc::new(set);
                out.push(Arc::new(c));
            }
            None => log::warn!(
                "user class '{}' has no tasks left after tag filtering; it will not run",
                c.name
            ),
        }
    }
    if out.is_empty() {
        return Err("no user class has tasks left after applying --tags/--exclude-tags".into());
    }
    Ok(out)
}
