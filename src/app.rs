//! (stub) app
