//! Editor support: the Rhai definition file (`.d.rhai`) of everything rustlocust adds to the
//! scripting language, for the Rhai language server and editor plugins (autocompletion, hover,
//! signature help).
//!
//! The text is generated from the real engine ([`super::api_engine`]) with Rhai's
//! `Engine::definitions()`, so it cannot drift from what is registered; `stdlib/rustlocust.d.rhai`
//! is a committed copy, and `tests/definitions.rs` fails when the two differ.
//!
//! Rhai's standard packages are left out, as the Rhai book's example does: the language server
//! knows the language's own functions, and with them the file would be thousands of lines of
//! `Array`/`String`/math functions that are not ours.

/// The first lines of the file: what it is and how to regenerate it.
const HEADER: &str = "\
// Rhai definitions of the rustlocust scripting API: every function, property and type that
// rustlocust adds to Rhai (Rhai's own standard library is not repeated here). Point the Rhai
// language server / editor plugin at this file for autocompletion.
//
// Generated from the engine; do not edit. Regenerate with:
//     rustlocust --print-definitions > stdlib/rustlocust.d.rhai
";

/// The definition file text: a header comment, then Rhai's `module static;` definitions of the
/// rustlocust API (functions, property getters and setters, and the custom types they use).
pub fn definitions() -> String {
    let engine = super::api_engine();
    let body = engine
        .definitions()
        .include_standard_packages(false)
        .single_file();
    let mut out = String::with_capacity(HEADER.len() + body.len() + 1);
    out.push_str(HEADER);
    out.push('\n');
    out.push_str(body.trim_end());
    out.push('\n');
    out
}
