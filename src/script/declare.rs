//! The declaration API a scenario's top level uses: `user(name, #{...})`, `task(f, weight, tags)`,
//! `taskset(#{...})`, `sequence(#{...})` and the wait-time functions. Declarations are checked as
//! they are made (weights, wait bounds, unknown keys) and collected for the loader.

use std::sync::Arc;

use parking_lot::Mutex;
use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, NativeCallContext};

use super::error::runtime_error;
use super::model::{Callable, Task, TaskKind, TaskSet, UserClass, WaitTime};

type R<T> = Result<T, Box<EvalAltResult>>;

/// A task set value in scripts (what `taskset()` / `sequence()` return).
#[derive(Clone)]
pub struct TaskSetDecl(pub Arc<TaskSet>);

/// Declarations collected while the top level runs.
#[derive(Default)]
pub struct Declarations {
    pub classes: Vec<UserClass>,
}

/// Register the declaration API on the engine of scenario file `unit`: what it declares calls
/// that file's functions.
pub fn register(engine: &mut Engine, decls: Arc<Mutex<Declarations>>, unit: usize) {
    engine.register_type_with_name::<WaitTime>("WaitTime");
    engine.register_fn("to_string", |w: &mut WaitTime| w.describe());
    engine.register_fn("to_debug", |w: &mut WaitTime| w.describe());
    engine.register_type_with_name::<Task>("Task");
    engine.register_type_with_name::<TaskSetDecl>("TaskSet");

    engine.register_fn("between", |a: Dynamic, b: Dynamic| -> R<WaitTime> {
        let (a, b) = (seconds(&a, "between() min")?, seconds(&b, "between() max")?);
        if a > b {
            return Err(runtime_error(format!(
                "between({a}, {b}): min is greater than max"
            )));
        }
        Ok(WaitTime::Between(a, b))
    });
    engine.register_fn("constant", |s: Dynamic| -> R<WaitTime> {
        Ok(WaitTime::Constant(seconds(&s, "constant()")?))
    });
    engine.register_fn("constant_pacing", |s: Dynamic| -> R<WaitTime> {
        Ok(WaitTime::Pacing(seconds(&s, "constant_pacing()")?))
    });
    engine.register_fn("constant_throughput", |r: Dynamic| -> R<WaitTime> {
        let r = seconds(&r, "constant_throughput()")?;
        if r <= 0.0 {
            return Err(runtime_error(
                "constant_throughput(rate): rate must be greater than 0 (tasks per second)",
            ));
        }
        Ok(WaitTime::Pacing(1.0 / r))
    });

    engine.register_fn("task", move |f: Dynamic| task(f, 1, Array::new(), unit));
    engine.register_fn("task", move |f: Dynamic, w: Dynamic| {
        task(f, weight(&w)?, Array::new(), unit)
    });
    engine.register_fn("task", move |f: Dynamic, w: Dynamic, tags: Array| {
        task(f, weight(&w)?, tags, unit)
    });

    engine.register_fn("taskset", move |spec: Map| task_set(spec, false, unit));
    engine.register_fn("sequence", move |spec: Map| task_set(spec, true, unit));

    engine.register_fn(
        "user",
        move |ctx: NativeCallContext, name: ImmutableString, spec: Map| -> R<()> {
            let pos = ctx.call_position();
            let src = ctx.call_source().unwrap_or("scenario").to_string();
            let class = user_class(
                name.as_str(),
                spec,
                format!(
                    "{src}:{}:{}",
                    pos.line().unwrap_or(0),
                    pos.position().unwrap_or(0)
                ),
                unit,
            )?;
            let mut d = decls.lock();
            // The first declaration may be in another of the scenario's files: name where it is.
            if let Some(first) = d.classes.iter().find(|c| c.name == class.name) {
                return Err(runtime_error(format!(
                    "user class '{}' is declared twice (first at {}): class names must be unique across the scenario's files",
                    class.name, first.declared_at
                )));
            }
            d.classes.push(class);
            Ok(())
        },
    );
}

fn user_class(name: &str, spec: Map, declared_at: String, unit: usize) -> R<UserClass> {
    if name.trim().is_empty() {
        return Err(runtime_error(
            "user(name, spec): the class name must not be empty",
        ));
    }
    check_keys(
        &spec,
        &[
            "weight",
            "fixed_count",
            "host",
            "wait_time",
            "tasks",
            "on_start",
            "on_stop",
            "tags",
            "http",
        ],
        "user()",
    )?;
    let weight = match spec.get("weight") {
        None => 1.0,
        Some(w) => {
            let w = seconds(w, "weight")?;
            if w <= 0.0 {
                return Err(runtime_error(format!(
                    "user class '{name}': weight must be greater than 0, got {w}"
                )));
            }
            w
        }
    };
    let fixed_count = match spec.get("fixed_count") {
        None => 0,
        Some(v) => match v.as_int() {
            Ok(n) if n >= 0 => n as u64,
            _ => {
                return Err(runtime_error(format!(
                    "user class '{name}': fixed_count must be a whole number >= 0"
                )))
            }
        },
    };
    let host = match spec.get("host") {
        None => None,
        Some(h) => Some(
            h.clone()
                .into_immutable_string()
                .map_err(|t| {
                    runtime_error(format!(
                        "user class '{name}': host must be a string, got {t}"
                    ))
                })?
                .to_string(),
        ),
    };
    let http = match spec.get("http") {
        None => None,
        Some(m) => {
            let m = m.clone().try_cast::<rhai::Map>().ok_or_else(|| {
                runtime_error(format!(
                    "user class '{name}': http must be a map such as #{{ engine: \"reqwest\" }}"
                ))
            })?;
            let what = format!("user class '{name}'");
            Some(Arc::new(super::http_settings::request_defaults(m, &what)?))
        }
    };
    let wait = match spec.get("wait_time") {
        None => WaitTime::Constant(0.0),
        Some(w) => wait_time(w, name)?,
    };
    let tasks = match spec.get("tasks") {
        None => {
            return Err(runtime_error(format!(
                "user class '{name}' has no tasks: add `tasks: [...]`"
            )))
        }
        Some(t) => tasks(t, unit)?,
    };
    if tasks.is_empty() {
        return Err(runtime_error(format!(
            "user class '{name}' has no tasks: `tasks` is empty"
        )));
    }
    let mut root = TaskSet::new(name.to_string(), false, tasks);
    root.tags = tags(spec.get("tags"))?;
    Ok(UserClass {
        name: name.to_string(),
        weight,
        fixed_count,
        host,
        http,
        wait,
        on_start: spec
            .get("on_start")
            .map(|v| callable(v, unit))
            .transpose()?,
        on_stop: spec.get("on_stop").map(|v| callable(v, unit)).transpose()?,
        tasks: Arc::new(root),
        declared_at,
    })
}

fn task_set(spec: Map, sequential: bool, unit: usize) -> R<TaskSetDecl> {
    let what = if sequential {
        "sequence()"
    } else {
        "taskset()"
    };
    check_keys(
        &spec,
        &["name", "tasks", "wait_time", "on_start", "on_stop", "tags"],
        what,
    )?;
    let name = match spec.get("name") {
        Some(n) => n.to_string(),
        None => if sequential {
            "SequentialTaskSet"
        } else {
            "TaskSet"
        }
        .to_string(),
    };
    let tasks = match spec.get("tasks") {
        Some(t) => tasks(t, unit)?,
        None => Vec::new(),
    };
    if tasks.is_empty() {
        return Err(runtime_error(format!("{what} '{name}' has no tasks")));
    }
    let mut set = TaskSet::new(name.clone(), sequential, tasks);
    set.wait = spec
        .get("wait_time")
        .map(|w| wait_time(w, &name))
        .transpose()?;
    set.on_start = spec
        .get("on_start")
        .map(|v| callable(v, unit))
        .transpose()?;
    set.on_stop = spec.get("on_stop").map(|v| callable(v, unit)).transpose()?;
    set.tags = tags(spec.get("tags"))?;
    Ok(TaskSetDecl(Arc::new(set)))
}

fn task(f: Dynamic, weight: u32, tag_list: Array, unit: usize) -> R<Task> {
    let tags = tags(Some(&Dynamic::from_array(tag_list)))?;
    if let Some(set) = f.clone().try_cast::<TaskSetDecl>() {
        return Ok(Task {
            kind: TaskKind::Set(set.0),
            weight,
            tags,
        });
    }
    Ok(Task {
        kind: TaskKind::Fn(callable(&f, unit)?),
        weight,
        tags,
    })
}

/// `tasks:` as an array (of names, closures, `task(..)` and task sets) or a map `#{ name: weight }`.
fn tasks(v: &Dynamic, unit: usize) -> R<Vec<Task>> {
    if let Some(map) = v.clone().try_cast::<Map>() {
        return map
            .into_iter()
            .map(|(k, w)| {
                let weight = weight(&w).map_err(|_| {
                    runtime_error(format!(
                        "tasks: weight of '{k}' must be a whole number greater than 0, got {w}"
                    ))
                })?;
                Ok(Task {
                    kind: TaskKind::Fn(named(k.as_str(), unit)),
                    weight,
                    tags: vec![],
                })
            })
            .collect();
    }
    let Some(arr) = v.clone().try_cast::<Array>() else {
        return Err(runtime_error(format!(
            "tasks must be an array like [\"index\", task(\"about\", 3)] or a map like #{{index: 3}}, got {}",
            v.type_name()
        )));
    };
    arr.into_iter()
        .map(|item| {
            if let Some(t) = item.clone().try_cast::<Task>() {
                Ok(t)
            } else {
                task(item, 1, Array::new(), unit)
            }
        })
        .collect()
}

fn named(name: &str, unit: usize) -> Callable {
    Callable {
        fn_name: name.into(),
        curry: vec![],
        label: name.into(),
        unit,
    }
}

fn callable(v: &Dynamic, unit: usize) -> R<Callable> {
    if let Some(s) = v.clone().try_cast::<ImmutableString>() {
        if s.trim().is_empty() {
            return Err(runtime_error("a task/callback name must not be empty"));
        }
        return Ok(named(&s, unit));
    }
    if let Some(fp) = v.clone().try_cast::<FnPtr>() {
        let label: ImmutableString = if fp.fn_name().starts_with("anon$") {
            "<closure>".into()
        } else {
            fp.fn_name().into()
        };
        return Ok(Callable {
            fn_name: fp.fn_name().into(),
            curry: fp.curry().to_vec(),
            label,
            unit,
        });
    }
    Err(runtime_error(format!(
        "expected a function name (\"index\"), a function pointer (Fn(\"index\")), a closure (|| ...) or a task set, got {}",
        v.type_name()
    )))
}

fn wait_time(v: &Dynamic, owner: &str) -> R<WaitTime> {
    v.clone().try_cast::<WaitTime>().ok_or_else(|| {
        runtime_error(format!(
            "'{owner}': wait_time must be between(min, max), constant(s), constant_pacing(s) or constant_throughput(per_s), got {}",
            v.type_name()
        ))
    })
}

fn weight(v: &Dynamic) -> R<u32> {
    match v.as_int() {
        Ok(w) if w > 0 && w <= u32::MAX as i64 => Ok(w as u32),
        _ => Err(runtime_error(format!(
            "task weight must be a whole number greater than 0, got {v}"
        ))),
    }
}

fn tags(v: Option<&Dynamic>) -> R<Vec<String>> {
    let Some(v) = v else { return Ok(vec![]) };
    let Some(arr) = v.clone().try_cast::<Array>() else {
        return Err(runtime_error(format!(
            "tags must be an array of strings, got {}",
            v.type_name()
        )));
    };
    arr.into_iter()
        .map(|t| {
            t.into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|ty| runtime_error(format!("tags must be strings, got {ty}")))
        })
        .collect()
}

/// Seconds (or a weight) from an int or a float; finite and not negative.
fn seconds(v: &Dynamic, what: &str) -> R<f64> {
    let x = if let Ok(i) = v.as_int() {
        i as f64
    } else if let Ok(f) = v.as_float() {
        f
    } else {
        return Err(runtime_error(format!(
            "{what} must be a number, got {}",
            v.type_name()
        )));
    };
    if !x.is_finite() || x < 0.0 {
        return Err(runtime_error(format!(
            "{what} must be a finite number >= 0, got {x}"
        )));
    }
    Ok(x)
}

fn check_keys(spec: &Map, allowed: &[&str], what: &str) -> R<()> {
    for k in spec.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(runtime_error(format!(
                "{what}: unknown key '{k}' (expected one of: {})",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}
