//! (stub) report
