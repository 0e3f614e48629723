//! (stub) runner
