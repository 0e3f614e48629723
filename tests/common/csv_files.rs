//! Reading the CSV reports a run writes (`--csv PREFIX`): whole files as rows of fields, one
//! `_stats.csv` row as a header -> value map, and numbers out of such a row.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `<prefix>_<kind>.csv`, the file `--csv <prefix>` writes for `kind` (`stats`, `failures`, ...).
pub fn csv_path(prefix: &Path, kind: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(format!("_{kind}.csv"));
    PathBuf::from(s)
}

/// `<prefix>_<kind>.csv` as rows of fields.
pub fn csv(prefix: &Path, kind: &str) -> Vec<Vec<String>> {
    read_csv(&csv_path(prefix, kind))
}

/// A CSV file as rows of fields (the header row first).
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    reader
        .records()
        .map(|r| {
            r.unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// The `_stats.csv` row for (method, name) as a header→value map.
pub fn stats_row(
    rows: &[Vec<String>],
    method: &str,
    name: &str,
) -> Option<HashMap<String, String>> {
    let header = rows.first()?;
    rows.iter()
        .skip(1)
        .find(|r| {
            r.first().map(String::as_str) == Some(method)
                && r.get(1).map(String::as_str) == Some(name)
        })
        .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
}

/// A number from a CSV row (as a header -> value map).
pub fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|e| panic!("{col} in {row:?}: {e}"))
}

/// A count (a whole number) from a CSV row.
pub fn count_of(row: &HashMap<String, String>, col: &str) -> u64 {
    row[col]
        .parse()
        .unwrap_or_else(|e| panic!("{col} in {row:?}: {e}"))
}
