//! Behaviour tests of the HTTP client (`rustlocust::http`) through the library's public API,
//! against in-process servers on 127.0.0.1:0. Every test runs on a current_thread runtime inside a
//! LocalSet, as on a worker thread. Tests of behaviour both engines share run once per engine
//! (`on_both_engines!`). One test binary, so the library is linked once for all of them.

#[macro_use]
mod support;
mod compression;
mod connections;
mod engines;
mod mtls;
mod proxies;
#[path = "../common/proxy.rs"]
mod proxy;
mod requests;
