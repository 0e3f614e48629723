//! Script errors with the place they come from: load-time errors as `file:line:col: message`, and
//! runtime errors turned into Locust-style exception entries (message plus a traceback of script
//! frames), or into the control-flow signals our native functions raise.

use rhai::{EvalAltResult, Position};

/// A scenario that cannot be loaded. Always names the file, and the line and column when known.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read scenario '{path}': {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read scenario '{path}': larger than {limit_mib} MiB (is it a scenario file?)")]
    TooLarge { path: String, limit_mib: u64 },
    #[error("{file}:{line}:{col}: {message}")]
    At {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("no scenario file given")]
    NoFiles,
}

impl ScriptError {
    pub fn at(file: &str, pos: Position, message: impl Into<String>) -> Self {
        match (pos.line(), pos.position()) {
            (Some(line), col) => ScriptError::At {
                file: file.into(),
                line,
                col: col.unwrap_or(1),
                message: message.into(),
            },
            _ => ScriptError::Invalid {
                file: file.into(),
                message: message.into(),
            },
        }
    }

    /// A Rhai error from compiling or running the top level, at its innermost position.
    pub fn from_eval(file: &str, err: &EvalAltResult) -> Self {
        let inner = err.unwrap_inner();
        let mut message = message_of(inner);
        if !std::ptr::eq(inner, err) {
            // Say which function it happened in: the innermost named frame.
            if let Some(f) = frames(err).last() {
                message = format!("{message} (in function '{}')", display_fn(&f.0));
            }
        }
        ScriptError::at(file, inner.position(), message)
    }
}

/// Signals raised (as uncatchable `ErrorTerminated`) by native functions to steer the user loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// `interrupt()` / `interrupt(false)`: leave the current task set.
    Interrupt { reschedule: bool },
    /// `stop_user()`: this user stops (Locust's StopUser).
    StopUser,
    /// The runner is stopping this user.
    Cancelled,
}

/// A script error, as an exception entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The error and where it happened, e.g. `boom (scenario.rhai:12:5)`.
    pub message: String,
    /// One line per script frame, Python-style, outermost first.
    pub traceback: String,
}

pub fn control_error(c: Control) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(rhai::Dynamic::from(c), Position::NONE).into()
}

pub fn runtime_error(msg: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(msg.into().into(), Position::NONE).into()
}

/// Split a task's error into a control signal or an exception entry. `entry` names the task.
pub fn classify(err: &EvalAltResult, file: &str, entry: &str) -> Result<Control, Failure> {
    let inner = err.unwrap_inner();
    if let EvalAltResult::ErrorTerminated(token, _) = inner {
        if let Some(c) = token.clone().try_cast::<Control>() {
            return Ok(c);
        }
    }
    let fs = frames(err);
    let mut callers: Vec<String> = vec![entry.to_string()];
    let mut sites: Vec<(String, Position)> = Vec::new();
    let mut src = file.to_string();
    for (name, fsrc, pos) in &fs {
        sites.push((src.clone(), *pos));
        callers.push(display_fn(name));
        if !fsrc.is_empty() {
            src = fsrc.clone();
        }
    }
    sites.push((src.clone(), inner.position()));
    let traceback = callers
        .iter()
        .zip(&sites)
        .filter(|(_, (_, p))| !p.is_none())
        .map(|(caller, (s, p))| {
            format!(
                "  File \"{s}\", line {}, column {}, in {caller}",
                p.line().unwrap_or(0),
                p.position().unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let pos = inner.position();
    let mut text = message_of(inner);
    if let EvalAltResult::ErrorDataRace(..) = inner {
        text.push_str(
            ": a variable captured by a closure is shared, and a method call that waits on it (such as \
             `c.get()` on a captured client) keeps it locked; inside background jobs use client() \
             instead of capturing this.client",
        );
    }
    let message = match pos.line() {
        Some(l) => format!("{text} ({src}:{l}:{})", pos.position().unwrap_or(1)),
        None => format!("{text} (in {entry})"),
    };
    Err(Failure { message, traceback })
}

/// The message of an error without Rhai's " (line x, position y)" suffix.
pub fn message_of(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => match v.clone().into_immutable_string() {
            Ok(s) => s.to_string(),
            Err(_) => v.to_string(),
        },
        EvalAltResult::ErrorTerminated(..) => "script terminated (the test is stopping)".into(),
        other => {
            let s = other.to_string();
            match s.rfind(" (line ") {
                Some(i) if s.ends_with(')') => s[..i].to_string(),
                _ => s,
            }
        }
    }
}

/// (function name, source, call position) from the outermost call inwards.
fn frames(err: &EvalAltResult) -> Vec<(String, String, Position)> {
    let mut out = Vec::new();
    let mut e = err;
    loop {
        match e {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                out.push((name.clone(), src.clone(), *pos));
                e = inner;
            }
            EvalAltResult::ErrorInModule(name, inner, pos) => {
                out.push((format!("module {name}"), String::new(), *pos));
                e = inner;
            }
            _ => return out,
        }
    }
}

fn display_fn(name: &str) -> String {
    if name.starts_with("anon$") {
        "<closure>".into()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_errors_name_file_line_col() {
        let e = ScriptError::at("s.rhai", Position::new(3, 7), "Syntax error: bad");
        assert_eq!(e.to_string(), "s.rhai:3:7: Syntax error: bad");
        let e = ScriptError::at("s.rhai", Position::NONE, "no classes");
        assert_eq!(e.to_string(), "s.rhai: no classes");
    }

    #[test]
    fn runtime_errors_become_exceptions_with_a_traceback() {
        let engine = rhai::Engine::new();
        let ast = engine
            .compile("fn inner() { throw \"boom\"; }\nfn task() {\n  inner();\n}")
            .unwrap();
        let err = engine
            .call_fn::<()>(&mut rhai::Scope::new(), &ast, "task", ())
            .unwrap_err();
        let f = classify(&err, "s.rhai", "task").unwrap_err();
        assert_eq!(f.message, "boom (s.rhai:1:14)");
        assert!(
            f.traceback.contains("line 3, column 3, in task"),
            "{}",
            f.traceback
        );
        assert!(
            f.traceback.contains("line 1, column 14, in inner"),
            "{}",
            f.traceback
        );
    }

    #[test]
    fn control_signals_are_not_exceptions() {
        let err = control_error(Control::StopUser);
        assert_eq!(classify(&err, "s.rhai", "t"), Ok(Control::StopUser));
    }
}
