//! The compiled files of a scenario. Each file is compiled, and its top level run, in an engine of
//! its own that then holds the file's functions, constants and imports as its global module, so a
//! name resolves within the file that declared it: two files may both define `fn index()`.
//!
//! One engine per file rather than one shared engine: Rhai runs a function with its file's
//! constants and imports only when it is found through a registered module, and an engine has one
//! global namespace. What the files share — the user classes they declare and the events they
//! listen to — lives outside the engines (`Declarations`, `Events`).

use std::collections::HashSet;

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Scope, AST};

use super::error::runtime_error;

/// One compiled scenario file.
pub struct Unit {
    /// How errors and tracebacks name the file.
    pub file: String,
    engine: Engine,
    /// The file's script functions (closures included) by name and number of parameters.
    fns: HashSet<(String, usize)>,
}

impl Unit {
    /// `engine` must have the file's module registered as its global module; `fns` lists the
    /// file's functions by (name, parameter count).
    pub(super) fn new(file: String, engine: Engine, fns: HashSet<(String, usize)>) -> Unit {
        Unit { file, engine, fns }
    }
}

/// All of a scenario's files, by unit index (the order the files were given in).
pub struct Units {
    units: Vec<Unit>,
    /// Calls name a function of the engine's global module; they need no script of their own.
    empty: AST,
}

impl Units {
    pub(super) fn new(units: Vec<Unit>) -> Units {
        Units {
            units,
            empty: AST::empty(),
        }
    }

    /// The file of `unit`, as errors name it.
    pub fn file(&self, unit: usize) -> &str {
        self.units.get(unit).map_or("scenario", |u| u.file.as_str())
    }

    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.units.iter().map(|u| u.file.as_str())
    }

    /// Whether file `unit` defines a script function `fn_name` taking `params` parameters
    /// (a closure's captured variables count).
    pub fn has_fn(&self, unit: usize, fn_name: &str, params: usize) -> bool {
        self.units
            .get(unit)
            .is_some_and(|u| u.fns.contains(&(fn_name.to_owned(), params)))
    }

    /// Call `fn_name` of file `unit` with `curry` then `args`, with `this` bound when given.
    pub fn call(
        &self,
        unit: usize,
        fn_name: &str,
        curry: &[Dynamic],
        this: Option<&mut Dynamic>,
        args: Vec<Dynamic>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        let Some(u) = self.units.get(unit) else {
            return Err(runtime_error(format!(
                "internal error: '{fn_name}' belongs to scenario file #{unit}, which is not loaded"
            )));
        };
        let mut opts = CallFnOptions::new().eval_ast(false).in_all_namespaces(true);
        if let Some(this) = this {
            opts = opts.bind_this_ptr(this);
        }
        let mut all = curry.to_vec();
        all.extend(args);
        u.engine
            .call_fn_with_options::<Dynamic>(opts, &mut Scope::new(), &self.empty, fn_name, all)
    }
}
