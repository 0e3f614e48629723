//! The standard library shipped inside the binary: `poll`, `checks` and `auth` (Rhai source in
//! `stdlib/*.rhai`, embedded at build time) and `feeder` (native, see `feeder.rs`).
//!
//! Each module is compiled and evaluated once per engine and registered as a static module, so a
//! scenario calls `poll::until(...)` directly; `import "poll" as poll;` works too. `import` looks in
//! the scenario's folder first, so a scenario's own `auth.rhai` still wins over the shipped one.

use std::path::Path;

use rhai::module_resolvers::{FileModuleResolver, ModuleResolversCollection, StaticModuleResolver};
use rhai::{Engine, Module, Scope};

use super::feeder;

/// The Rhai modules, by name. `checks` comes first: `auth` uses `checks::json_path`.
pub const MODULES: [(&str, &str); 3] = [
    ("checks", include_str!("../../stdlib/checks.rhai")),
    ("poll", include_str!("../../stdlib/poll.rhai")),
    ("auth", include_str!("../../stdlib/auth.rhai")),
];

/// Register every stdlib module on `engine`; `dir` is the scenario's folder (feeder files and the
/// scenario's own modules are resolved from it).
pub fn register(engine: &mut Engine, dir: &Path) {
    let mut statics = StaticModuleResolver::new();
    let feeder = feeder::register(engine, dir);
    statics.insert("feeder", feeder.clone());
    engine.register_static_module("feeder", feeder.into());
    for (name, src) in MODULES {
        let module = compile(engine, name, src)
            .unwrap_or_else(|e| panic!("the shipped stdlib/{name}.rhai does not load: {e}"));
        statics.insert(name, module.clone());
        engine.register_static_module(name, module.into());
    }
    let mut resolvers = ModuleResolversCollection::new();
    resolvers.push(FileModuleResolver::new_with_path(dir));
    resolvers.push(statics);
    engine.set_module_resolver(resolvers);
}

fn compile(engine: &Engine, name: &str, src: &str) -> Result<Module, String> {
    let mut ast = engine.compile(src).map_err(|e| e.to_string())?;
    ast.set_source(format!("stdlib/{name}.rhai"));
    Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use rhai::Dynamic;

    use super::*;

    fn engine(dir: &Path) -> Engine {
        let mut e = Engine::new();
        e.set_max_expr_depths(64, 32); // as build_engine
        super::super::api_http::register(&mut e, dir);
        super::super::api_control::register(&mut e, 0, &Default::default());
        register(&mut e, dir);
        e
    }

    fn eval(src: &str) -> Result<Dynamic, String> {
        let dir = tempfile::tempdir().unwrap();
        engine(dir.path())
            .eval::<Dynamic>(src)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_module_loads_and_is_reachable_with_or_without_import() {
        for (name, src) in MODULES {
            assert!(
                src.starts_with("// "),
                "stdlib/{name}.rhai starts with a comment header"
            );
        }
        let v = eval(r#"checks::json_path(#{ a: 1 }, "a")"#).unwrap();
        assert_eq!(v.as_int().unwrap(), 1);
        let v = eval(r#"import "checks" as c; c::json_path(#{ a: 2 }, "a")"#).unwrap();
        assert_eq!(v.as_int().unwrap(), 2);
        let v = eval(r#"import "poll" as p; import "auth" as a; import "feeder" as f; 3"#).unwrap();
        assert_eq!(v.as_int().unwrap(), 3);
    }

    #[test]
    fn the_scenario_folder_wins_over_the_stdlib() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("auth.rhai"), "fn mine() { 42 }").unwrap();
        let e = engine(dir.path());
        assert_eq!(
            e.eval::<i64>(r#"import "auth" as a; a::mine()"#).unwrap(),
            42
        );
        assert!(e.eval::<Dynamic>(r#"import "nope" as n; 1"#).is_err());
    }

    #[test]
    fn rhai_semantics_the_modules_rely_on() {
        // checks::json compares with `==`: ints equal floats, other types differ; missing map
        // properties read as (); `??` picks the default.
        let v = eval(r#"[1 == 1.0, "1" == 1, () == false, #{}.x ?? 5, [200, 201].index_of(201)]"#);
        assert_eq!(v.unwrap().to_string(), "[true, false, false, 5, 1]");
    }

    #[test]
    fn json_paths() {
        let doc = r#"let d = #{ data: #{ items: [#{ id: 7 }, #{ id: 8, tags: ["x", "y"] }] }, n: (), top: [1, [2, 3]] };"#;
        let cases = [
            (r#""data.items[0].id""#, "7"),
            (r#""data.items[-1].id""#, "8"),
            (r#""data.items[1].tags[1]""#, "y"),
            (r#""top[1][0]""#, "2"),
            (r#""data.items[2].id""#, ""),
            (r#""data.nope.id""#, ""),
            (r#""n.x""#, ""),
            (r#""data.items.id""#, ""),
        ];
        for (path, want) in cases {
            let got = eval(&format!("{doc} checks::json_path(d, {path})")).unwrap();
            assert_eq!(got.to_string(), want, "{path}");
        }
        let v = eval(r#"checks::json_path([#{ a: 5 }], "[0].a")"#).unwrap();
        assert_eq!(v.as_int().unwrap(), 5);
        let e = eval(r#"checks::json_path(#{ a: [1] }, "a[x]")"#).unwrap_err();
        assert!(e.contains("is not a path like"), "{e}");
        let e = eval(r#"checks::json_path(#{ a: [1] }, "a[0")"#).unwrap_err();
        assert!(e.contains("is not a path like"), "{e}");
    }

    #[test]
    fn feeders_load_relative_to_the_folder_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("u.csv"), "name\nann\nbob\n").unwrap();
        let e = engine(dir.path());
        let v = e
            .eval::<Dynamic>(
                r#"const F = feeder::csv("u.csv", "cycle");
                fn take() { global::F.next().name }
                let again = feeder::csv("u.csv", "cycle");
                [take(), again.next().name, take(), F.len, F.remaining, F.mode]"#,
            )
            .unwrap();
        assert_eq!(v.to_string(), r#"["ann", "bob", "ann", 2, 2, "cycle"]"#);
        let v = e
            .eval::<Dynamic>(
                r#"let f = feeder::csv("u.csv", "unique");
                [f.next().name, f.try_next().name, f.try_next(), f.remaining]"#,
            )
            .unwrap();
        assert_eq!(v.to_string(), r#"["ann", "bob", (), 0]"#);
        let err = e
            .eval::<Dynamic>(r#"feeder::csv("u.csv", "unique").next()"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("all 2 rows have been used"), "{err}");
        let err = e
            .eval::<Dynamic>(r#"feeder::csv("u.csv", "shuffle")"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown feeder mode 'shuffle'"), "{err}");
        let err = e
            .eval::<Dynamic>(r#"feeder::json("../u.json")"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("leaves the scenario's folder"), "{err}");
    }
}
