//! Editor support: the Rhai definition file (`.d.rhai`) of everything rustlocust adds to the
//! scripting language, for the Rhai language server and editor plugins (autocompletion, hover,
//! signature help).
//!
//! The text is generated from the real engine ([`super::api_engine`]), so it cannot drift from
//! what is registered; `stdlib/rustlocust.d.rhai` is a committed copy, and `tests/definitions.rs`
//! fails when the two differ.
//!
//! It is written from the engine's function metadata (`Engine::gen_fn_metadata_to_json`, the
//! `metadata` feature) rather than with `Engine::definitions().single_file()`: Rhai 1.27's writer
//! turns the return type of every native function that can fail (`Result<T, Box<EvalAltResult>>`,
//! most of our API) into `EvalAltResult>>` and writes functions returning `()` as `-> ;`. The
//! format is the same (`module static;`, `fn name(param: Type) -> Type;`, `fn get prop(..)`,
//! `module name { .. }`), constants of static modules are taken from `Engine::definitions()`
//! (which writes those correctly), and, as the Rhai book recommends for an application's API,
//! Rhai's standard packages are left out: the language server knows the language's own functions.

use std::any::type_name;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use rhai::Engine;
use serde_json::Value;

/// The first lines of the file: what it is and how to regenerate it.
const HEADER: &str = "\
// Rhai definitions of the rustlocust scripting API: every function, property and type that
// rustlocust adds to Rhai (Rhai's own standard library is not repeated here). Point the Rhai
// language server or editor plugin at this file for autocompletion.
//
// Generated from the engine; do not edit. Regenerate with:
//     rustlocust --print-definitions > stdlib/rustlocust.d.rhai
";

/// The definition file of the rustlocust API (what `rustlocust --print-definitions` prints and
/// `stdlib/rustlocust.d.rhai` contains): a header comment, then `module static;` with every
/// function, property getter/setter and custom type the engine registers.
pub fn definitions() -> String {
    render(&super::api_engine())
}

/// The definition file of whatever `engine` registers beyond Rhai's standard packages.
pub fn render(engine: &Engine) -> String {
    let json = engine
        .gen_fn_metadata_to_json(false)
        .expect("Rhai's function metadata serializes to JSON");
    let meta: Value = serde_json::from_str(&json).expect("Rhai's metadata JSON parses");

    let mut types = TypeNames::default();
    types.collect(&meta);

    let mut out = String::from(HEADER);
    out.push_str("\nmodule static;\n");
    if !types.display.is_empty() {
        let names: Vec<&str> = types.display.values().map(String::as_str).collect();
        let mut names = names;
        names.sort_unstable();
        names.dedup();
        let _ = write!(out, "\n// Types: {}.\n", names.join(", "));
    }
    let defs = engine.definitions().include_standard_packages(false);
    let consts = top_level_consts(&defs.static_module());
    write_module(&mut out, &meta, &types, consts);

    let module_consts: BTreeMap<String, Vec<String>> = defs
        .modules()
        .map(|(name, text)| (name, top_level_consts(&text)))
        .collect();
    if let Some(Value::Object(modules)) = meta.get("modules") {
        for (name, m) in modules {
            let consts = module_consts.get(name).cloned().unwrap_or_default();
            write_submodule(&mut out, name, m, &types, consts, "");
        }
    }
    out
}

fn write_submodule(
    out: &mut String,
    name: &str,
    m: &Value,
    types: &TypeNames,
    consts: Vec<String>,
    indent: &str,
) {
    let _ = write!(out, "\n{indent}module {name} {{\n");
    let inner = format!("{indent}    ");
    let mut first = true;
    for item in module_items(m, types, consts) {
        if !first {
            out.push('\n');
        }
        first = false;
        for line in item.lines() {
            let _ = writeln!(out, "{inner}{line}");
        }
    }
    if let Some(Value::Object(modules)) = m.get("modules") {
        for (name, sub) in modules {
            // Constants of nested modules are not in the metadata; their functions are.
            write_submodule(out, name, sub, types, Vec::new(), &inner);
        }
    }
    let _ = writeln!(out, "{indent}}}");
}

/// Top-level items: each after a blank line.
fn write_module(out: &mut String, m: &Value, types: &TypeNames, consts: Vec<String>) {
    for item in module_items(m, types, consts) {
        out.push('\n');
        out.push_str(&item);
        out.push('\n');
    }
}

/// A module's constants, then its functions sorted by name, arity and signature.
fn module_items(m: &Value, types: &TypeNames, consts: Vec<String>) -> Vec<String> {
    let mut items: Vec<(String, usize, String)> =
        consts.into_iter().map(|c| (String::new(), 0, c)).collect();
    for f in m
        .get("functions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(text) = function(f, types) {
            let name = f["name"].as_str().unwrap_or_default().to_string();
            let arity = f["numParams"].as_u64().unwrap_or(0) as usize;
            items.push((name, arity, text));
        }
    }
    items.sort();
    items.dedup();
    items.into_iter().map(|(_, _, text)| text).collect()
}

/// One function's definition (doc comments first), or `None` for what scripts cannot call.
fn function(f: &Value, types: &TypeNames) -> Option<String> {
    let name = f["name"].as_str()?;
    if f["access"].as_str() == Some("private") || f["isAnonymous"].as_bool() == Some(true) {
        return None;
    }
    let mut out = String::new();
    for c in f
        .get("docComments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let _ = writeln!(out, "{c}");
    }
    let operator = !name.contains('$') && !is_identifier(name);
    let shown = if let Some(p) = name.strip_prefix("get$") {
        format!("get {p}")
    } else if let Some(p) = name.strip_prefix("set$") {
        format!("set {p}")
    } else {
        name.to_string()
    };
    let known: &[Value] = f
        .get("params")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    // Functions registered without metadata (`Module::set_native_fn`) list no parameters.
    let arity = f["numParams"]
        .as_u64()
        .map_or(known.len(), |n| n as usize)
        .max(known.len());
    let params: Vec<String> = (0..arity)
        .map(|i| {
            let p = known.get(i);
            let ty = types.script(
                p.and_then(|p| p.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("?"),
            );
            match p.and_then(|p| p.get("name")).and_then(Value::as_str) {
                _ if operator => ty,
                Some(n) => format!("{n}: {ty}"),
                None => format!("_: {ty}"),
            }
        })
        .collect();
    let keyword = if operator { "op" } else { "fn" };
    let _ = write!(out, "{keyword} {shown}({})", params.join(", "));
    let ret = match f.get("returnType").and_then(Value::as_str) {
        // The result type of a script function, or of a native one registered without metadata
        // (no parameter types either), is unknown, not `()`.
        None if f["type"].as_str() == Some("script") || known.len() < arity => "?".to_string(),
        raw => types.script(raw.unwrap_or("")),
    };
    if ret != "()" {
        let _ = write!(out, " -> {ret}");
    }
    out.push(';');
    Some(out)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The `const NAME: Type;` lines at the top level of one of Rhai's definition texts.
fn top_level_consts(text: &str) -> Vec<String> {
    let mut depth = 0usize;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if depth == 0 && t.starts_with("const ") {
            out.push(t.to_string());
        }
        depth += t.matches('{').count();
        depth = depth.saturating_sub(t.matches('}').count());
    }
    out
}

/// Rust type names in the metadata, as scripts (and Rhai's own `.d.rhai` files) name them.
#[derive(Default)]
struct TypeNames {
    /// Rust path of each registered custom type -> its script name.
    display: BTreeMap<String, String>,
}

impl TypeNames {
    fn collect(&mut self, m: &Value) {
        for t in m
            .get("customTypes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(rust), Some(shown)) = (t["typeName"].as_str(), t["displayName"].as_str()) {
                self.display.insert(despace(rust), shown.to_string());
            }
        }
        if let Some(Value::Object(modules)) = m.get("modules") {
            for sub in modules.values() {
                self.collect(sub);
            }
        }
    }

    /// `core::result::Result<my::Response, Box<EvalAltResult>>` -> `Response`, `i64` -> `int`,
    /// `Dynamic` -> `?`, `()` -> `()`, ...
    fn script(&self, raw: &str) -> String {
        let t = despace(raw);
        let t = t.strip_prefix("&mut").unwrap_or(&t);
        if let Some(ok) = result_ok_type(t) {
            return self.script(ok);
        }
        if let Some(known) = std_name(t) {
            return known.to_string();
        }
        if let Some(shown) = self.display.get(t) {
            return shown.clone();
        }
        if self.display.values().any(|v| v == t) {
            return t.to_string();
        }
        // Anything else (a generic, an unregistered type): each path by its registered name or
        // its last segment.
        let mut out = String::new();
        let mut path = String::new();
        for c in t.chars().chain(std::iter::once('\0')) {
            if c.is_alphanumeric() || c == '_' || c == ':' {
                path.push(c);
                continue;
            }
            if !path.is_empty() {
                let name = std_name(&path)
                    .map(str::to_string)
                    .or_else(|| self.display.get(&path).cloned())
                    .unwrap_or_else(|| path.rsplit("::").next().unwrap_or(&path).to_string());
                out.push_str(&name);
                path.clear();
            }
            if c != '\0' {
                out.push(c);
            }
        }
        out
    }
}

fn despace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `T` of `Result<T, E>` (any path to `Result`).
fn result_ok_type(t: &str) -> Option<&str> {
    let open = t.find('<')?;
    let head = &t[..open];
    if head != "Result" && !head.ends_with("::Result") && head != "RhaiResultOf" {
        return None;
    }
    let inner = t[open + 1..].strip_suffix('>')?;
    if head == "RhaiResultOf" {
        return Some(inner);
    }
    let mut depth = 0i32;
    for (i, c) in inner.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => return Some(&inner[..i]),
            _ => {}
        }
    }
    None
}

/// The names Rhai's own definition files use for the standard types.
fn std_name(t: &str) -> Option<&'static str> {
    let is = |rust: &str| despace(rust) == t;
    Some(match t {
        "" | "()" => "()",
        "?" | "Dynamic" => "?",
        "int" | "INT" | "i64" | "i32" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => "int",
        "float" | "FLOAT" | "f64" | "f32" => "float",
        "bool" => "bool",
        "char" => "char",
        "string" | "String" | "str" | "&str" | "ImmutableString" => "String",
        "array" | "Array" => "Array",
        "map" | "Map" => "Map",
        "blob" | "Blob" => "Blob",
        "Fn" | "FnPtr" => "FnPtr",
        "timestamp" | "Instant" => "Instant",
        "range" => "Range<int>",
        "range=" => "RangeInclusive<int>",
        _ if is(type_name::<rhai::Dynamic>()) || t.ends_with("::Dynamic") => "?",
        _ if is(type_name::<rhai::ImmutableString>()) || is(type_name::<String>()) => "String",
        _ if is(type_name::<rhai::Array>()) => "Array",
        _ if is(type_name::<rhai::Map>()) => "Map",
        _ if is(type_name::<rhai::Blob>()) => "Blob",
        _ if is(type_name::<rhai::FnPtr>()) => "FnPtr",
        _ if is(type_name::<rhai::Instant>()) => "Instant",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> TypeNames {
        let mut t = TypeNames::default();
        t.display
            .insert("my::api::ResponseImpl".into(), "Response".into());
        t
    }

    #[test]
    fn script_type_names() {
        let t = names();
        let cases = [
            ("core::result::Result<my::api::ResponseImpl, alloc::boxed::Box<rhai::types::error::EvalAltResult>>", "Response"),
            ("core::result::Result<(),alloc::boxed::Box<rhai::types::error::EvalAltResult>>", "()"),
            ("core::result::Result<rhai::types::dynamic::Dynamic,alloc::boxed::Box<rhai::types::error::EvalAltResult>>", "?"),
            ("RhaiResultOf<i64>", "int"),
            ("&mut Response", "Response"),
            ("&mut my::api::ResponseImpl", "Response"),
            ("types::dynamic::Dynamic", "?"),
            ("f64", "float"),
            ("string", "String"),
            ("map", "Map"),
            ("Fn", "FnPtr"),
            ("", "()"),
            (type_name::<rhai::Array>(), "Array"),
            (type_name::<rhai::Map>(), "Map"),
            (type_name::<rhai::Blob>(), "Blob"),
            ("core::option::Option<my::api::ResponseImpl>", "Option<Response>"),
            ("other::Thing", "Thing"),
        ];
        for (raw, want) in cases {
            assert_eq!(t.script(raw), want, "{raw}");
        }
    }

    #[test]
    fn functions_getters_operators_and_doc_comments() {
        let t = names();
        let f: Value = serde_json::json!({
            "name": "get", "access": "public", "numParams": 3,
            "params": [{"type": "&mut Client"}, {"name": "url", "type": "string"}, {"type": "map"}],
            "returnType": "core::result::Result<my::api::ResponseImpl,alloc::boxed::Box<rhai::types::error::EvalAltResult>>",
            "docComments": ["/// Send a GET request."]
        });
        assert_eq!(
            function(&f, &t).unwrap(),
            "/// Send a GET request.\nfn get(_: Client, url: String, _: Map) -> Response;"
        );
        let g: Value = serde_json::json!({
            "name": "get$status", "access": "public", "numParams": 1,
            "params": [{"type": "&mut Response"}], "returnType": "i64"
        });
        assert_eq!(
            function(&g, &t).unwrap(),
            "fn get status(_: Response) -> int;"
        );
        let op: Value = serde_json::json!({
            "name": "==", "access": "public", "numParams": 2,
            "params": [{"type": "&mut Response"}, {"type": "Response"}], "returnType": "bool"
        });
        assert_eq!(
            function(&op, &t).unwrap(),
            "op ==(Response, Response) -> bool;"
        );
        let unit: Value = serde_json::json!({
            "name": "cancel", "access": "public", "numParams": 1,
            "params": [{"type": "&mut Job"}]
        });
        assert_eq!(function(&unit, &t).unwrap(), "fn cancel(_: Job);");
        let script: Value = serde_json::json!({
            "name": "until", "access": "public", "type": "script", "numParams": 2,
            "params": [{"name": "f"}, {"name": "timeout"}],
            "docComments": ["/// Poll `f` until it returns true."]
        });
        assert_eq!(
            function(&script, &t).unwrap(),
            "/// Poll `f` until it returns true.\nfn until(f: ?, timeout: ?) -> ?;"
        );
        let private: Value = serde_json::json!({"name": "x", "access": "private", "numParams": 0});
        assert_eq!(function(&private, &t), None);
    }

    #[test]
    fn consts_at_top_level_only() {
        let text = "const A: int;\n\nmodule inner {\nconst B: int;\n}\nfn f();\nconst C: String;";
        assert_eq!(
            top_level_consts(text),
            vec!["const A: int;", "const C: String;"]
        );
    }

    #[test]
    fn static_modules_and_custom_types_are_included() {
        #[derive(Clone)]
        struct Widget;
        let mut engine = Engine::new();
        engine.register_type_with_name::<Widget>("Widget");
        engine.register_fn("widget", || Widget);
        engine.register_get("size", |_: &mut Widget| 3_i64);
        let mut m = rhai::Module::new();
        m.set_var("VERSION", 2_i64);
        m.set_native_fn("double", |x: i64| Ok(x * 2));
        engine.register_static_module("util", m.into());
        let text = render(&engine);
        assert!(text.starts_with(HEADER), "{text}");
        assert!(text.contains("\nmodule static;\n"), "{text}");
        assert!(text.contains("// Types: Widget."), "{text}");
        assert!(text.contains("\nfn widget() -> Widget;\n"), "{text}");
        assert!(
            text.contains("\nfn get size(_: Widget) -> int;\n"),
            "{text}"
        );
        assert!(
            text.contains("\nmodule util {\n    const VERSION: int;\n\n"),
            "{text}"
        );
        assert!(text.contains("\n    fn double(_: ?) -> ?;\n}\n"), "{text}");
        assert!(
            !text.contains("fn abs("),
            "standard package included: {text}"
        );
        assert_eq!(text, render(&engine), "output is not deterministic");
    }
}
