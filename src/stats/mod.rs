//! (stub) stats
