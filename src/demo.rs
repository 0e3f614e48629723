//! (stub) demo
