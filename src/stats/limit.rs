//! The cap on distinct stats rows. A URL with an id or a query string in it (`/item/123`,
//! `?id=<uuid>`) makes a row per request unless the script groups them with `name:`; left
//! unbounded that grew to hundreds of thousands of rows and gigabytes in seconds. Past the cap,
//! requests with a new name are counted in one [`OVERFLOW_NAME`] row per method, in every
//! thread's shard and in the merged stats alike (a master merging workers' rows too), and one
//! warning says why and what to do.
//!
//! The cap is a process-wide setting (`--max-stats-rows`) rather than a field of [`Stats`]:
//! the shards are thread-locals that exist before any test's configuration reaches them.
//!
//! [`Stats`]: super::Stats

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The default cap: far more endpoints than a real service has, few enough that the rows stay
/// within tens of megabytes.
pub const DEFAULT_MAX_ROWS: usize = 10_000;

/// The name of the row that counts every request whose name came after the cap.
pub const OVERFLOW_NAME: &str = "(other names)";

/// The error text of the one failure row per method (named [`OVERFLOW_NAME`]) that counts
/// failures whose (method, name, error) came after the cap.
pub const OVERFLOW_ERROR: &str = "(other errors)";

static MAX_ROWS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_ROWS);
static WARNED: AtomicBool = AtomicBool::new(false);

/// Sets the cap (at least 1) for every stats row from now on.
pub fn set_max_rows(n: usize) {
    MAX_ROWS.store(n.max(1), Ordering::Relaxed);
}

/// The cap on distinct (name, method) rows, and on distinct failure rows.
pub fn max_rows() -> usize {
    MAX_ROWS.load(Ordering::Relaxed)
}

/// Where a new row named `name` goes when `rows` rows exist already: `name`, or the overflow
/// row (warning once per process the first time).
pub(crate) fn admit(name: &str, rows: usize) -> &str {
    if rows < max_rows() || name == OVERFLOW_NAME {
        return name;
    }
    if !WARNED.swap(true, Ordering::Relaxed) {
        log::warn!(
            "more than {} distinct request names (--max-stats-rows): requests with new names are \
             now counted in one '{OVERFLOW_NAME}' row per method. The first one was '{name}'. \
             URLs with ids or query strings make a row each: group them with the request option \
             `name`, e.g. this.client.get(`/item/${{id}}`, #{{ name: \"/item/[id]\" }})",
            max_rows()
        );
    }
    OVERFLOW_NAME
}
