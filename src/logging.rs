//! (stub) logging
