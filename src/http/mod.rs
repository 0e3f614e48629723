//! (stub) http
