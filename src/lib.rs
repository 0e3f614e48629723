//! rustlocust: Locust rebuilt in Rust. Data flows one way:
//! CLI/config → scenario (compiled once) → runner → users → HTTP → stats → reporters.
//!
//! The binary (`main.rs`) is a thin shell over these modules; everything is testable as a library.

pub mod app;
pub mod cli;
pub mod config;
pub mod coro;
pub mod demo;
mod encoding;
pub mod http;
pub mod logging;
pub mod report;
pub mod runner;
pub mod script;
pub mod stats;
pub mod timespan;
pub mod uuid;
pub mod web;
