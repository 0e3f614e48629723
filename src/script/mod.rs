//! (stub) script
