//! Behaviour tests of the HTTP client (`rustlocust::http`) through the library's public API,
//! against in-process servers on 127.0.0.1:0. Every test runs on a current_thread runtime inside a
//! LocalSet, as on a worker thread. One test binary, so the library is linked once for all of them.

mod connections;
mod requests;
mod support;
