//! Reporters that read a [`Stats`](crate::stats::Stats) and print what Locust prints: console
//! tables, the `--csv` files and the `--json` list; [`output`] checks their paths before a run.

pub mod console;
pub mod csv;
pub mod format;
pub mod html;
pub mod json;
pub mod output;

pub use console::{write_error_report, write_percentiles_table, write_stats_table};
pub use csv::{CsvError, CsvWriter};
pub use json::{stats_json, write_stats_json};
