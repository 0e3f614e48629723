//! The `rustlocust` binary: a thin shell over the library (see `app.rs`).
fn main() {}
