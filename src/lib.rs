//! rustlocust: Locust rebuilt in Rust. Data flows one way:
//! options → scenario (compiled once) → test run → runner → users → HTTP → stats → reporters.
//!
//! The binary (`main.rs`) is a thin shell over these modules; everything is testable as a library.

pub mod app;
pub mod console;
pub mod coro;
pub mod demo;
pub mod distributed;
mod encoding;
pub mod http;
pub mod logging;
pub mod options;
pub mod pyfmt;
pub mod report;
pub mod run;
pub mod runner;
pub mod script;
pub mod stats;
pub mod timespan;
pub mod uuid;
pub mod web;
