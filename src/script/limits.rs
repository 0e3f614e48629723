//! The bounds a scenario's values live within: Rhai's size limits (string, array, map) that options
//! can change, and the nesting depth that keeps Rhai's recursive code inside a coroutine stack.
//!
//! Rhai checks the sizes at every operation that builds a value, so a runaway `s += s` fails at the
//! growing operation (an exception entry with its line) instead of growing to gigabytes inside one
//! operation that never reaches the progress check. The depth is checked by the same walk (our
//! patch of Rhai, `vendor/rhai/RUSTLOCUST-PATCH.md`): cloning, dropping, formatting, comparing and
//! serialising a value recurse once per level on the native stack, and a coroutine stack is small
//! (`coro::STACK_SIZE`), so without it deep data crashed the process.
//!
//! The cost: with any limit set, Rhai walks the whole value at each such operation, so building a
//! large collection one `push` at a time is quadratic (40,000 pushes: 0.5 s before, 2.2 s after,
//! debug build). Building with native functions (feeders, `json()`) or literals is not affected.
//!
//! No limit on Rhai's operation count: a task may legitimately loop for long, and a loop is already
//! cancelled on stop through the progress check; only single huge operations needed a bound.

use rhai::Engine;

/// Deepest nesting of arrays and maps a value may have. Python's `json` and serde_json stop at 128;
/// 64 levels cover real payloads, and with `MAX_CALL_LEVELS` they fit `coro::STACK_SIZE` (measured
/// in tests/script_limits.rs with the slowest recursion, `==` on nested arrays, in a debug build).
pub const MAX_DATA_DEPTH: usize = 64;

/// The size limits of one scenario's engines (`--max-string-size`, `--max-array-size`,
/// `--max-map-size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one string.
    pub string: usize,
    /// Elements in one array, nested arrays' elements included (Rhai counts them together).
    pub array: usize,
    /// Entries in one object map, nested maps' entries included.
    pub map: usize,
}

impl Default for Limits {
    /// Generous: a 64 MiB string holds any response body a load test reads as text; a million
    /// elements is ~16 MiB of values. Each stops a runaway loop long before memory runs out.
    fn default() -> Self {
        Limits {
            string: 64 * 1024 * 1024,
            array: 1_000_000,
            map: 1_000_000,
        }
    }
}

impl Limits {
    pub(super) fn apply(&self, engine: &mut Engine) {
        engine.set_max_string_size(self.string);
        engine.set_max_array_size(self.array);
        engine.set_max_map_size(self.map);
        // Process-wide in the patched Rhai; only ever set to this one value.
        rhai::set_max_data_depth(MAX_DATA_DEPTH);
    }
}
