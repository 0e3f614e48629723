//! `--csv PREFIX` output: `PREFIX_stats.csv`, `PREFIX_stats_history.csv`, `PREFIX_failures.csv`
//! and `PREFIX_exceptions.csv` with Locust's exact headers, row order and number formats.
//!
//! Locust rewrites three of the files in place, so a reader can catch a half-written file; we
//! write a temporary file next to each and rename it over the old one instead. The history file
//! is appended to, one batch of rows per call.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::format::{format_ms, format_utc, readable_percentile};
use crate::pyfmt::py_float_repr;
use crate::stats::{Entry, Stats, PERCENTILES_TO_REPORT};

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot create directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

const STATS_COLUMNS: [&str; 11] = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
];
const HISTORY_LEADING_COLUMNS: [&str; 6] = [
    "Timestamp",
    "User Count",
    "Type",
    "Name",
    "Requests/s",
    "Failures/s",
];
const HISTORY_TRAILING_COLUMNS: [&str; 7] = [
    "Total Request Count",
    "Total Failure Count",
    "Total Median Response Time",
    "Total Average Response Time",
    "Total Min Response Time",
    "Total Max Response Time",
    "Total Average Content Size",
];
const FAILURES_COLUMNS: [&str; 6] = [
    "Method",
    "Name",
    "Error",
    "Occurrences",
    "First Seen",
    "Last Seen",
];
const EXCEPTIONS_COLUMNS: [&str; 4] = ["Count", "Message", "Traceback", "Nodes"];

pub struct CsvWriter {
    stats_path: PathBuf,
    history_path: PathBuf,
    failures_path: PathBuf,
    exceptions_path: PathBuf,
    history: File,
    full_history: bool,
}

impl CsvWriter {
    /// Creates the prefix's directories and the four files with their header rows (truncating
    /// any previous run's files, as Locust does).
    ///
    /// With `full_history` every history tick writes one row per entry before the Aggregated row.
    /// History percentiles are always cumulative: Locust's full-history rows use a ~10 s window
    /// instead, which would need per-second histogram snapshots we do not keep.
    pub fn new(prefix: &Path, full_history: bool) -> Result<Self, CsvError> {
        let [stats_path, history_path, failures_path, exceptions_path] = file_paths(prefix);
        super::output::create_parent(&stats_path).map_err(|source| CsvError::CreateDir {
            path: stats_path.parent().unwrap_or(Path::new("")).to_path_buf(),
            source,
        })?;
        let mut header = String::new();
        push_row(&mut header, history_columns());
        let history = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&history_path)
            .and_then(|mut f| f.write_all(header.as_bytes()).map(|()| f))
            .map_err(|source| CsvError::Write {
                path: history_path.clone(),
                source,
            })?;
        let writer = Self {
            stats_path,
            history_path,
            failures_path,
            exceptions_path,
            history,
            full_history,
        };
        let headers_only = Stats::new(0.0);
        let mut stats_header = String::new();
        push_row(&mut stats_header, stats_columns());
        write_atomically(&writer.stats_path, &stats_header)?;
        write_atomically(&writer.failures_path, &failures_csv(&headers_only))?;
        write_atomically(&writer.exceptions_path, &exceptions_csv(&headers_only))?;
        Ok(writer)
    }

    /// Rewrites the stats, failures and exceptions files and appends one history batch.
    /// Called every second and once at the end; `now` is unix seconds.
    ///
    /// The history goes first, into the file kept open since the start: rewriting the other
    /// files needs new file descriptors, and when those run out (users' connections took them)
    /// the history row must not be lost with them; the other files catch up on the next call.
    pub fn write(&mut self, stats: &Stats, user_count: u64, now: f64) -> Result<(), CsvError> {
        let rows = self.history_rows(stats, user_count, now);
        self.history
            .write_all(rows.as_bytes())
            .and_then(|()| self.history.flush())
            .map_err(|source| CsvError::Write {
                path: self.history_path.clone(),
                source,
            })?;
        self.rewrite_all(stats)
    }

    fn rewrite_all(&self, stats: &Stats) -> Result<(), CsvError> {
        write_atomically(&self.stats_path, &stats_csv(stats))?;
        write_atomically(&self.failures_path, &failures_csv(stats))?;
        write_atomically(&self.exceptions_path, &exceptions_csv(stats))
    }

    fn history_rows(&self, stats: &Stats, user_count: u64, now: f64) -> String {
        let mut out = String::new();
        let entries: Vec<&Entry> = if self.full_history {
            stats.entries().collect()
        } else {
            Vec::new()
        };
        // `as` truncates like Python's int(now).
        let timestamp = (now as i64).to_string();
        let user_count = user_count.to_string();
        for e in entries.into_iter().chain(std::iter::once(stats.total())) {
            let mut fields = vec![
                timestamp.clone(),
                user_count.clone(),
                e.method.clone(),
                e.name.clone(),
                format!("{:.6}", e.current_rps(now)),
                format!("{:.6}", e.current_fail_per_sec(now)),
            ];
            fields.extend(percentile_fields(e));
            fields.extend([
                e.num_requests().to_string(),
                e.num_failures().to_string(),
                format_ms(e.median_response_time()),
                py_float_repr(e.avg_response_time()),
                min_field(e),
                max_field(e),
                avg_content_field(e),
            ]);
            push_row(&mut out, fields);
        }
        out
    }
}

/// The four files of `--csv PREFIX`: stats, history, failures, exceptions.
pub fn file_paths(prefix: &Path) -> [PathBuf; 4] {
    [
        "_stats.csv",
        "_stats_history.csv",
        "_failures.csv",
        "_exceptions.csv",
    ]
    .map(|suffix| {
        let mut s = OsString::from(prefix.as_os_str());
        s.push(suffix);
        PathBuf::from(s)
    })
}

fn history_columns() -> Vec<String> {
    HISTORY_LEADING_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .chain(percentile_headers())
        .chain(HISTORY_TRAILING_COLUMNS.iter().map(|s| s.to_string()))
        .collect()
}

fn stats_columns() -> Vec<String> {
    STATS_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .chain(percentile_headers())
        .collect()
}

fn percentile_headers() -> impl Iterator<Item = String> {
    PERCENTILES_TO_REPORT
        .iter()
        .map(|q| readable_percentile(*q))
}

/// `N/A` for an entry without requests, like Locust.
fn percentile_fields(e: &Entry) -> Vec<String> {
    if e.num_requests() == 0 {
        vec!["N/A".to_owned(); PERCENTILES_TO_REPORT.len()]
    } else {
        e.percentiles(&PERCENTILES_TO_REPORT)
            .into_iter()
            .map(format_ms)
            .collect()
    }
}

/// Locust prints `min_response_time or 0`: an int 0 when there is no (or a zero) minimum.
fn min_field(e: &Entry) -> String {
    match e.min_response_time() {
        Some(ms) if ms != 0.0 => py_float_repr(ms),
        _ => "0".to_owned(),
    }
}

fn max_field(e: &Entry) -> String {
    if e.max_response_time() == 0.0 {
        "0".to_owned()
    } else {
        py_float_repr(e.max_response_time())
    }
}

/// Locust's `avg_content_length` is the int 0 without requests, a float otherwise.
fn avg_content_field(e: &Entry) -> String {
    if e.num_requests() == 0 {
        "0".to_owned()
    } else {
        py_float_repr(e.avg_content_length())
    }
}

/// The `_stats.csv` file (and Locust's `/stats/requests/csv` download) as a string.
pub fn stats_csv(stats: &Stats) -> String {
    let mut out = String::new();
    push_row(&mut out, stats_columns());
    for e in stats.entries().chain(std::iter::once(stats.total())) {
        let mut fields = vec![
            e.method.clone(),
            e.name.clone(),
            e.num_requests().to_string(),
            e.num_failures().to_string(),
            format_ms(e.median_response_time()),
            py_float_repr(e.avg_response_time()),
            min_field(e),
            max_field(e),
            avg_content_field(e),
            py_float_repr(e.total_rps()),
            py_float_repr(e.total_fail_per_sec()),
        ];
        fields.extend(percentile_fields(e));
        push_row(&mut out, fields);
    }
    out
}

/// The `_failures.csv` file (and `/stats/failures/csv`) as a string.
pub fn failures_csv(stats: &Stats) -> String {
    let mut out = String::new();
    push_row(&mut out, FAILURES_COLUMNS);
    for err in stats.errors() {
        push_row(
            &mut out,
            [
                err.method.clone(),
                err.name.clone(),
                err.error.clone(),
                err.occurrences.to_string(),
                format_utc(err.first_seen),
                format_utc(err.last_seen),
            ],
        );
    }
    out
}

/// The `_exceptions.csv` file (and `/exceptions/csv`) as a string.
pub fn exceptions_csv(stats: &Stats) -> String {
    let mut out = String::new();
    push_row(&mut out, EXCEPTIONS_COLUMNS);
    for exc in stats.exceptions() {
        push_row(
            &mut out,
            [
                exc.count.to_string(),
                exc.msg.clone(),
                exc.traceback.clone(),
                exc.nodes.clone(),
            ],
        );
    }
    out
}

/// One CSV record the way Python's `csv.writer` writes it: fields quoted only when they contain
/// a comma, quote or line break, quotes doubled, `\r\n` line endings.
fn push_row<S: AsRef<str>>(out: &mut String, fields: impl IntoIterator<Item = S>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let field = field.as_ref();
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

/// Replaces `path` with `contents` via a temporary file in the same directory, so readers see
/// either the old or the new file, never a partial one.
fn write_atomically(path: &Path, contents: &str) -> Result<(), CsvError> {
    let mut tmp_name = OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or(path.as_os_str()));
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = File::create(&tmp)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .and_then(|()| fs::rename(&tmp, path));
    result.map_err(|source| {
        // Best effort: the error we report is the write failure, not the cleanup.
        let _ = fs::remove_file(&tmp);
        CsvError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Shard;

    /// A minimal RFC 4180 reader (quoted fields, doubled quotes, embedded newlines).
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut chars = text.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\r') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        rows
    }

    fn read(path: &Path) -> Vec<Vec<String>> {
        parse_csv(&fs::read_to_string(path).unwrap_or_default())
    }

    fn sample_stats() -> Stats {
        let mut shard = Shard::new();
        for i in 0..35 {
            shard.record_at(
                "GET",
                "/x",
                100.0 + i as f64,
                10,
                None,
                1000.0 + i as f64 / 10.0,
            );
        }
        for i in 0..4 {
            let err = "HTTPError('500, \"bad\"')";
            shard.record_at("POST", "/y", 0.412, 0, Some(err), 1001.0 + i as f64);
        }
        shard.record_at("GET", "/a", 5.0, 0, None, 1002.0);
        shard.record_exception(
            "ZeroDivisionError: division by zero",
            "Traceback:\n  File \"x\", line 1\n",
        );
        let mut stats = Stats::new(1000.0);
        stats.merge(shard.take());
        stats
    }

    fn tmp_dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
    }

    #[test]
    fn stats_csv_headers_order_and_values() {
        let dir = tmp_dir();
        let prefix = dir.path().join("nested/deeper/run");
        let stats = sample_stats();
        let mut writer = CsvWriter::new(&prefix, false).unwrap_or_else(|e| panic!("{e}"));
        assert!(writer.write(&stats, 4, 1010.0).is_ok());

        let rows = read(&dir.path().join("nested/deeper/run_stats.csv"));
        assert_eq!(
            rows[0].join(","),
            "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
             Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,\
             50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
        );
        let keys: Vec<(&str, &str)> = rows[1..]
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("GET", "/a"),
                ("GET", "/x"),
                ("POST", "/y"),
                ("", "Aggregated")
            ]
        );

        let x = &rows[2];
        let e = stats.entry("GET", "/x").unwrap_or_else(|| panic!("no /x"));
        assert_eq!(x[2], "35");
        assert_eq!(x[3], "0");
        assert_eq!(x[4], format_ms(e.median_response_time()));
        assert_eq!(x[5].parse::<f64>().ok(), Some(e.avg_response_time()));
        assert_eq!(x[6], "100.0");
        assert_eq!(x[7], "134.0");
        assert_eq!(x[8], "10.0");
        assert_eq!(x[9].parse::<f64>().ok(), Some(e.total_rps()));
        assert_eq!(x[10], "0.0");
        assert_eq!(x[11], "117");
        assert_eq!(x[21], "134");

        let y = &rows[3];
        assert_eq!(
            (y[3].as_str(), y[4].as_str(), y[6].as_str(), y[8].as_str()),
            ("4", "0.412", "0.412", "0.0")
        );
        let total = &rows[4];
        assert_eq!((total[2].as_str(), total[3].as_str()), ("40", "4"));
    }

    #[test]
    fn history_appends_aggregated_only_unless_full() {
        let dir = tmp_dir();
        let stats = sample_stats();
        let mut short =
            CsvWriter::new(&dir.path().join("s"), false).unwrap_or_else(|e| panic!("{e}"));
        let mut full =
            CsvWriter::new(&dir.path().join("f"), true).unwrap_or_else(|e| panic!("{e}"));
        for now in [1010.0, 1011.0] {
            assert!(short.write(&stats, 4, now).is_ok());
            assert!(full.write(&stats, 4, now).is_ok());
        }
        let rows = read(&dir.path().join("s_stats_history.csv"));
        assert_eq!(
            rows[0].join(","),
            "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,\
             99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,\
             Total Average Response Time,Total Min Response Time,Total Max Response Time,\
             Total Average Content Size"
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(&rows[1][..4], ["1010", "4", "", "Aggregated"]);
        assert_eq!(rows[2][0], "1011");
        let expected_rps = format!("{:.6}", stats.total().current_rps(1010.0));
        assert_eq!(rows[1][4], expected_rps);
        assert_eq!(rows[1][17], "40");

        let rows = read(&dir.path().join("f_stats_history.csv"));
        assert_eq!(rows.len(), 1 + 2 * 4);
        let names: Vec<&str> = rows[1..5].iter().map(|r| r[3].as_str()).collect();
        assert_eq!(names, ["/a", "/x", "/y", "Aggregated"]);
    }

    #[test]
    fn failures_and_exceptions_are_quoted() {
        let dir = tmp_dir();
        let stats = sample_stats();
        let mut writer =
            CsvWriter::new(&dir.path().join("q"), false).unwrap_or_else(|e| panic!("{e}"));
        assert!(writer.write(&stats, 1, 1010.0).is_ok());

        let raw = fs::read_to_string(dir.path().join("q_failures.csv")).unwrap_or_default();
        assert!(raw.contains("\"HTTPError('500, \"\"bad\"\"')\""), "{raw}");
        let rows = parse_csv(&raw);
        assert_eq!(
            rows[0].join(","),
            "Method,Name,Error,Occurrences,First Seen,Last Seen"
        );
        assert_eq!(
            rows[1],
            [
                "POST",
                "/y",
                "HTTPError('500, \"bad\"')",
                "4",
                "1970-01-01T00:16:41Z",
                "1970-01-01T00:16:44Z"
            ]
        );

        let rows = read(&dir.path().join("q_exceptions.csv"));
        assert_eq!(rows[0].join(","), "Count,Message,Traceback,Nodes");
        assert_eq!(
            rows[1],
            [
                "1",
                "ZeroDivisionError: division by zero",
                "Traceback:\n  File \"x\", line 1\n",
                "local"
            ]
        );
    }

    #[test]
    fn new_writes_headers_and_rewrites_leave_no_temp_files() {
        let dir = tmp_dir();
        let prefix = dir.path().join("run");
        let mut writer = CsvWriter::new(&prefix, false).unwrap_or_else(|e| panic!("{e}"));
        for name in [
            "run_stats.csv",
            "run_failures.csv",
            "run_exceptions.csv",
            "run_stats_history.csv",
        ] {
            assert_eq!(read(&dir.path().join(name)).len(), 1, "{name}");
        }
        let stats = Stats::new(5.0);
        assert!(writer.write(&stats, 0, 6.0).is_ok());
        let rows = read(&dir.path().join("run_stats.csv"));
        assert_eq!(rows.len(), 2, "header plus the empty Aggregated row");
        assert_eq!(&rows[1][..4], ["", "Aggregated", "0", "0"]);
        assert_eq!(rows[1][11], "N/A");
        let stats = sample_stats();
        for now in 0..5 {
            assert!(writer.write(&stats, 1, 1010.0 + now as f64).is_ok());
        }
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .map(|it| {
                it.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        assert_eq!(
            names,
            [
                "run_exceptions.csv",
                "run_failures.csv",
                "run_stats.csv",
                "run_stats_history.csv"
            ]
        );
    }

    #[test]
    fn unwritable_prefix_is_an_error_not_a_panic() {
        let dir = tmp_dir();
        let blocker = dir.path().join("file");
        assert!(fs::write(&blocker, "x").is_ok());
        let err = CsvWriter::new(&blocker.join("run"), false).err();
        assert!(matches!(err, Some(CsvError::CreateDir { .. })), "{err:?}");
    }
}
