//! (stub) coro
