//! Shared harness for behaviour tests, one file per concern:
//! - `process`: the real `rustlocust` binary, run to completion with a hard time limit or in the
//!   background;
//! - `scenario`: scenario files in a temp dir and the headless command lines that run them;
//! - `target`: the in-process axum target on 127.0.0.1 that counts what it sees;
//! - `demo_target`: the built-in demo target, in-process; `server` runs either on its own thread;
//! - `csv_files`: the CSV reports a run writes;
//! - `raw_http`: a minimal HTTP client for the web UI's API;
//! - `hostile`: raw TCP servers that misbehave (reset, hang, drip, garbage, redirect loops);
//! - `proxy`: a forward proxy (HTTP CONNECT, absolute-form, SOCKS5) that records what it served;
//! - `library`: configurations for tests that drive the library (runner, test run) directly;
//! - `locust_keys`: the shapes of Locust's web API answers;
//! - `locust`: the real Locust as a test peer (skipped when missing unless CI requires it), its
//!   processes and locustfiles;
//! - `master`: in-process run configs, and a distributed master's scenario.
//!
//! Each test file uses only part of it, hence the allowances: what one test crate leaves unused
//! another needs.
#![allow(dead_code, unused_imports)]

pub mod child;
mod csv_files;
mod demo_target;
pub mod hostile;
mod library;
mod locust;
mod locust_keys;
mod master;
mod process;
pub mod proxy;
mod raw_http;
mod scenario;
pub mod scenario_dir;
mod server;
mod target;
pub mod test_run;

pub use csv_files::*;
pub use demo_target::*;
pub use library::*;
pub use locust::*;
pub use locust_keys::*;
pub use master::*;
pub use process::*;
pub use raw_http::*;
pub use scenario::*;
pub use target::*;
