//! (stub) timespan
