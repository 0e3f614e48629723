//! The native part of the `feeder` stdlib module: test data read from CSV or JSON files beside the
//! scenario and handed out row by row to users on every thread.
//!
//! `feeder::csv(path, mode)` / `feeder::json(path, mode)` load a file once per process (the same
//! path and mode give back the same feeder, wherever it is called) and return a `Feeder`; each
//! `f.next()` returns one row as a map. Modes: `unique` (each row once across all users and
//! threads, then an error), `cycle` (round robin, shared by all users) and `random` (uniform, from
//! the user's own generator, so `--seed` reproduces it).
//!
//! Paths are confined to the scenario's folder: absolute paths and `..` escapes are refused, also
//! through symbolic links. Malformed files are refused with the file, row and column at fault.
//!
//! CSV is parsed by the `csv` crate as the file is read; what it leaves to us is choosing the
//! separator, dropping a byte order mark, and saying where a row is wrong (see `csv_rows`).

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::api_core::with_rng;
use super::error::runtime_error;

type R<T> = Result<T, Box<EvalAltResult>>;

/// How a feeder hands out its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Unique,
    Cycle,
    Random,
}

impl Mode {
    fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "unique" => Ok(Mode::Unique),
            "cycle" => Ok(Mode::Cycle),
            "random" => Ok(Mode::Random),
            other => Err(format!(
                "unknown feeder mode '{other}' (expected \"unique\", \"cycle\" or \"random\")"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Unique => "unique",
            Mode::Cycle => "cycle",
            Mode::Random => "random",
        })
    }
}

/// The file formats a feeder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Format {
    Csv,
    Json,
}

/// A loaded data file as scripts hold it. Cloning shares the rows and the position.
#[derive(Clone)]
pub struct Feeder(Arc<Inner>);

struct Inner {
    /// The path as the script wrote it (how errors name the file).
    file: String,
    mode: Mode,
    rows: Vec<Map>,
    /// Rows handed out so far (`unique`, `cycle`).
    taken: AtomicUsize,
}

impl Feeder {
    fn new(file: String, mode: Mode, rows: Vec<Map>) -> Feeder {
        Feeder(Arc::new(Inner {
            file,
            mode,
            rows,
            taken: AtomicUsize::new(0),
        }))
    }

    /// The next row, or `None` when a `unique` feeder has handed out every row.
    pub fn try_next(&self) -> Option<Map> {
        let n = self.0.rows.len();
        let i = match self.0.mode {
            Mode::Cycle => self.0.taken.fetch_add(1, Ordering::Relaxed) % n,
            Mode::Random => with_rng(|r| r.random_range(0..n)),
            // fetch_update rather than fetch_add: once exhausted the counter stays at `n`.
            Mode::Unique => self
                .0
                .taken
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    (t < n).then_some(t + 1)
                })
                .ok()?,
        };
        Some(self.0.rows[i].clone())
    }

    fn next(&self) -> R<Map> {
        self.try_next().ok_or_else(|| {
            runtime_error(format!(
                "feeder '{}' (unique): all {} rows have been used (use try_next() to get () instead of this error)",
                self.0.file,
                self.0.rows.len()
            ))
        })
    }

    fn remaining(&self) -> i64 {
        match self.0.mode {
            Mode::Unique => (self.0.rows.len() - self.0.taken.load(Ordering::Acquire)) as i64,
            _ => self.0.rows.len() as i64,
        }
    }
}

/// Feeders already loaded by this engine, by resolved path, format and mode.
type Cache = Arc<Mutex<HashMap<(PathBuf, Format, Mode), Feeder>>>;

/// Register the `Feeder` type and its methods globally, and return the `feeder` module (`csv`,
/// `json`) that reads files relative to `dir`.
pub fn register(engine: &mut Engine, dir: &Path) -> Module {
    engine.register_type_with_name::<Feeder>("Feeder");
    // By-value receivers: a feeder kept in a top-level `const` can still call them.
    engine.register_fn("next", |f: Feeder| f.next());
    engine.register_fn("try_next", |f: Feeder| {
        f.try_next().map_or(Dynamic::UNIT, Dynamic::from_map)
    });
    engine.register_get("len", |f: &mut Feeder| f.0.rows.len() as i64);
    engine.register_get("remaining", |f: &mut Feeder| f.remaining());
    engine.register_get("mode", |f: &mut Feeder| f.0.mode.to_string());
    engine.register_get("file", |f: &mut Feeder| f.0.file.clone());
    engine.register_fn("to_string", |f: &mut Feeder| {
        format!(
            "<Feeder {} ({}, {} rows)>",
            f.0.file,
            f.0.mode,
            f.0.rows.len()
        )
    });
    engine.register_fn("to_debug", |f: &mut Feeder| {
        format!(
            "<Feeder {} ({}, {} rows)>",
            f.0.file,
            f.0.mode,
            f.0.rows.len()
        )
    });

    let cache: Cache = Default::default();
    let mut m = Module::new();
    for (name, format) in [("csv", Format::Csv), ("json", Format::Json)] {
        let (d, c) = (dir.to_path_buf(), cache.clone());
        m.set_native_fn(
            name,
            move |ctx: NativeCallContext, path: &str, mode: &str| {
                open(&d, &c, format, path, mode).map_err(|e| at(e, &ctx))
            },
        );
        let (d, c) = (dir.to_path_buf(), cache.clone());
        m.set_native_fn(name, move |ctx: NativeCallContext, path: &str| {
            open(&d, &c, format, path, "cycle").map_err(|e| at(e, &ctx))
        });
    }
    m
}

/// The error at the script's call, so that a load error names the scenario's line and column.
fn at(mut e: Box<EvalAltResult>, ctx: &NativeCallContext) -> Box<EvalAltResult> {
    e.set_position(ctx.call_position());
    e
}

fn open(dir: &Path, cache: &Cache, format: Format, path: &str, mode: &str) -> R<Feeder> {
    let call = format!(
        "feeder::{}(\"{path}\")",
        if format == Format::Csv { "csv" } else { "json" }
    );
    let mode = Mode::parse(mode).map_err(|e| runtime_error(format!("{call}: {e}")))?;
    let full = confine(dir, path).map_err(|e| runtime_error(format!("{call}: {e}")))?;
    // Held while loading: two threads asking for the same file load it once.
    let mut cache = cache.lock();
    if let Some(f) = cache.get(&(full.clone(), format, mode)) {
        return Ok(f.clone());
    }
    let cannot_read = |e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "file not found: {} (feeder paths are relative to the scenario's folder {})",
                shown(&full).display(),
                shown(dir).display()
            ),
            _ => format!("cannot read {}: {e}", shown(&full).display()),
        };
        runtime_error(format!("{call}: {why}"))
    };
    let in_file = |e: &dyn fmt::Display| runtime_error(format!("{path}: {e}"));
    let rows = match format {
        Format::Csv => {
            let file = std::fs::File::open(&full).map_err(cannot_read)?;
            csv_rows(file).map_err(|e| match e {
                CsvError::Io(e) => cannot_read(e),
                e => in_file(&e),
            })?
        }
        Format::Json => {
            let text = std::fs::read_to_string(&full).map_err(cannot_read)?;
            json_rows(&text).map_err(|e| in_file(&e))?
        }
    };
    let f = Feeder::new(path.to_string(), mode, rows);
    cache.insert((full, format, mode), f.clone());
    Ok(f)
}

/// A path as error messages show it: absolute when possible (`./x.csv` says little).
fn shown(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `rel` resolved inside `dir`, or why it may not be read: absolute paths, `..` that leave the
/// folder, and symbolic links that point outside it are refused.
pub fn confine(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if rel.trim().is_empty() {
        return Err("the path is empty".into());
    }
    if p.is_absolute() || p.has_root() {
        return Err(format!(
            "'{rel}' is an absolute path: files must be given relative to the scenario's folder"
        ));
    }
    let mut depth = 0usize;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir if depth > 0 => depth -= 1,
            Component::ParentDir => {
                return Err(format!(
                    "'{rel}' leaves the scenario's folder: files must be inside it"
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("'{rel}' is an absolute path: files must be given relative to the scenario's folder"))
            }
        }
    }
    let full = dir.join(p);
    // Symbolic links: compare real paths when the file exists (a missing file is reported later).
    if let (Ok(real), Ok(root)) = (full.canonicalize(), dir.canonicalize()) {
        if !real.starts_with(&root) {
            return Err(format!(
                "'{rel}' resolves to {} (through a symbolic link), outside the scenario's folder",
                real.display()
            ));
        }
    }
    Ok(full)
}

/// Why a CSV feeder file was refused. Lines and columns are 1-based; a column is a field's number
/// in its row, as a spreadsheet shows it.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the file is empty: a CSV feeder needs a header row and at least one row")]
    Empty,
    #[error("no rows after the header: a feeder needs at least one row")]
    NoRows,
    #[error("header (line {line}), column {column}: the column name is empty")]
    EmptyName { line: u64, column: usize },
    #[error("header (line {line}), column {column}: the column name '{name}' is used twice")]
    DuplicateName {
        line: u64,
        column: usize,
        name: String,
    },
    #[error(
        "row {row} (line {line}), column {column}: the row has {got} field(s) but the header has {want}: {}",
        shape_detail(*got, *want, *column, missing)
    )]
    Shape {
        row: usize,
        line: u64,
        /// The first column that is missing or extra.
        column: usize,
        got: usize,
        want: usize,
        /// The header's name for `column` when the row is short.
        missing: String,
    },
    #[error("line {line}, column {column}: this quoted field is never closed")]
    Unclosed { line: u64, column: usize },
    #[error(
        "line {line}, column {column}: the text is not valid UTF-8 (feeder files must be UTF-8)"
    )]
    NotUtf8 { line: u64, column: usize },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Which column a row of the wrong length lacks, or that it has one too many.
fn shape_detail(got: usize, want: usize, column: usize, missing: &str) -> String {
    if got < want {
        format!("column {column} ('{missing}') is missing")
    } else {
        format!("column {column} has no header")
    }
}

/// Appended after the file (on a line of its own) to learn where the file ended: the CSV parser
/// reads an unclosed quoted field to the end of its input without saying so, and would then
/// swallow this marker into that field. NULs keep it from matching any real text.
const END_MARKER: &[u8] = b"\0rustlocust: end of the feeder file\0";

/// The UTF-8 byte order mark some editors (Excel among them) write first.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The separator a file uses, chosen from its header line: whichever of `,` `;` and tab occurs
/// most often outside double quotes; a tie or none at all is a comma.
fn detect_separator(header: &[u8]) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in header {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(c) = counts.iter_mut().find(|(sep, _)| *sep == b) {
                c.1 += 1;
            }
        }
    }
    // `max_by_key` keeps the last of equal counts; reversed, the earlier (comma first) wins.
    counts
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(sep, _)| *sep)
}

/// A CSV feeder file to one map per data row, keyed by the header row's names; values are strings.
///
/// RFC 4180, read as it streams in: fields in double quotes may hold separators, line breaks and
/// doubled quotes; LF or CRLF line ends; empty lines are skipped; a UTF-8 byte order mark is
/// dropped; the separator (`,` `;` or tab) is taken from the header line (see `detect_separator`).
pub fn csv_rows(source: impl Read) -> Result<Vec<Map>, CsvError> {
    let mut source = BufReader::new(source);
    // The header line is read ahead to choose the separator, then handed back to the parser.
    let head = read_head(&mut source)?;
    let header_line = head.strip_suffix(b"\n").unwrap_or(&head);
    let lines = LineCount {
        crlf: head.ends_with(b"\r\n"),
    };
    let separator = detect_separator(header_line);
    let end = [lines.line_end(), END_MARKER, lines.line_end()].concat();
    let input = Cursor::new(head).chain(source).chain(Cursor::new(end));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(separator)
        .from_reader(input);

    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(read_error)? {
        let after = reader.position().line();
        if record.len() == 1 && record.get(0) == Some(END_MARKER) {
            break;
        }
        if let Some(e) = lines.unclosed(&record, after) {
            return Err(e);
        }
        let line = lines.start(&record, after);
        let mut fields = Vec::with_capacity(record.len());
        let mut field_line = line;
        for (i, f) in record.iter().enumerate() {
            let text = std::str::from_utf8(f).map_err(|_| CsvError::NotUtf8 {
                line: field_line,
                column: i + 1,
            })?;
            field_line += newlines(f);
            fields.push(text);
        }
        match &header {
            None => header = Some(check_header(line, &fields)?),
            Some(names) => rows.push(row_map(names, &fields, rows.len() + 1, line)?),
        }
    }
    match header {
        None => Err(CsvError::Empty),
        Some(_) if rows.is_empty() => Err(CsvError::NoRows),
        Some(_) => Ok(rows),
    }
}

/// The file's text up to the end of its first non-empty line (the header), without a BOM.
fn read_head(source: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        if source.read_until(b'\n', &mut head)? == 0 {
            break;
        }
        if start == 0 && head.starts_with(BOM) {
            head.drain(..BOM.len());
        }
        if !matches!(&head[start..], b"\n" | b"\r\n") {
            break;
        }
    }
    Ok(head)
}

/// Lines where records start. The parser only tells the line it has read up to once a record is
/// read, which depends on how the record ended: a LF is read with its record, the LF of a CRLF
/// with the next one. The file's line end is taken from its header line.
struct LineCount {
    crlf: bool,
}

impl LineCount {
    fn line_end(&self) -> &'static [u8] {
        if self.crlf {
            b"\r\n"
        } else {
            b"\n"
        }
    }

    /// The line `record` starts on, the parser having read up to line `after`.
    fn start(&self, record: &csv::ByteRecord, after: u64) -> u64 {
        let own_line_end = u64::from(!self.crlf);
        after
            .saturating_sub(newlines(record.as_slice()) + own_line_end)
            .max(1)
    }

    /// The error when the record's last field opened a quote that is never closed: that field
    /// then holds the rest of the input, the end marker and its line end included.
    fn unclosed(&self, record: &csv::ByteRecord, after: u64) -> Option<CsvError> {
        let last = record.len().checked_sub(1)?;
        let swallowed = record
            .get(last)?
            .strip_suffix(self.line_end())?
            .ends_with(END_MARKER);
        if !swallowed {
            return None;
        }
        // The whole input was read, so `after` is past its last line end.
        let start = after.saturating_sub(newlines(record.as_slice())).max(1);
        let before_last: u64 = (0..last).filter_map(|i| record.get(i)).map(newlines).sum();
        Some(CsvError::Unclosed {
            line: start + before_last,
            column: last + 1,
        })
    }
}

/// Line breaks inside field text (a quoted field's own, or the CRLF form's LF).
fn newlines(text: &[u8]) -> u64 {
    text.iter().filter(|b| **b == b'\n').count() as u64
}

/// Only reading the file can fail in the parser: rows are read as bytes (UTF-8 is checked here)
/// and may have any length (the shape is checked here, to name the missing column).
fn read_error(e: csv::Error) -> CsvError {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => CsvError::Io(e),
        other => CsvError::Io(std::io::Error::other(format!("{other:?}"))),
    }
}

/// The header's column names, once none is empty or used twice.
fn check_header(line: u64, fields: &[&str]) -> Result<Vec<String>, CsvError> {
    for (i, name) in fields.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(CsvError::EmptyName {
                line,
                column: i + 1,
            });
        }
        if fields[..i].contains(name) {
            return Err(CsvError::DuplicateName {
                line,
                column: i + 1,
                name: name.to_string(),
            });
        }
    }
    Ok(fields.iter().map(|s| s.to_string()).collect())
}

/// Data row number `row` (1-based, starting on `line`) as a map, once it has one field per column.
fn row_map(names: &[String], fields: &[&str], row: usize, line: u64) -> Result<Map, CsvError> {
    let (got, want) = (fields.len(), names.len());
    if got != want {
        return Err(CsvError::Shape {
            row,
            line,
            column: got.min(want) + 1,
            got,
            want,
            missing: names.get(got).cloned().unwrap_or_default(),
        });
    }
    Ok(names
        .iter()
        .zip(fields)
        .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.to_string())))
        .collect())
}

/// JSON text (an array of objects) to one map per object.
pub fn json_rows(text: &str) -> Result<Vec<Map>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "invalid JSON at line {}, column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        )
    })?;
    let serde_json::Value::Array(items) = value else {
        return Err(format!(
            "expected a JSON array of objects, found {}",
            json_kind(&value)
        ));
    };
    if items.is_empty() {
        return Err("the array is empty: a feeder needs at least one row".into());
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            serde_json::Value::Object(_) => serde_json::from_value::<Dynamic>(item)
                .map_err(|e| format!("item {} (index {i}): {e}", i + 1))
                .map(|d| d.cast::<Map>()),
            other => Err(format!(
                "item {} (index {i}) is {}, expected an object (a feeder's JSON is an array of objects)",
                i + 1,
                json_kind(&other)
            )),
        })
        .collect()
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde_json's message without its trailing " at line L column C".
fn strip_position(s: &str) -> &str {
    s.rfind(" at line ").map_or(s, |i| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row's (column, value) pairs, in column-name order.
    fn rows(text: &str) -> Vec<Vec<(String, String)>> {
        csv_rows(text.as_bytes())
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .into_iter()
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    fn row(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn error(text: &[u8]) -> String {
        match csv_rows(text) {
            Ok(rows) => panic!("{text:?} was accepted: {rows:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn csv_plain_quoted_and_multiline_fields() {
        let one_two = [row(&[("a", "1"), ("b", "2")])];
        assert_eq!(rows("a,b\n1,2\n"), one_two);
        assert_eq!(rows("a,b\r\n1,2"), one_two);
        assert_eq!(
            rows("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n"),
            [row(&[("a", "x, y"), ("b", "say \"hi\"")])]
        );
        assert_eq!(
            rows("a\n\"line1\nline2\"\n"),
            [row(&[("a", "line1\nline2")])]
        );
        assert_eq!(
            rows("a,b\n,\n\"\",x\n"),
            [row(&[("a", ""), ("b", "")]), row(&[("a", ""), ("b", "x")])]
        );
        // Empty lines are skipped.
        assert_eq!(
            rows("\n\na\n\n\"1\n\"\n\r\n2\n"),
            [row(&[("a", "1\n")]), row(&[("a", "2")])]
        );
    }

    #[test]
    fn csv_byte_order_mark_is_dropped() {
        assert_eq!(
            rows("\u{feff}name,pw\nann,1\n"),
            [row(&[("name", "ann"), ("pw", "1")])]
        );
        assert_eq!(rows("\u{feff}\nname\nann\n"), [row(&[("name", "ann")])]);
        assert_eq!(
            rows("\u{feff}name;pw\r\nann;1\r\n"),
            [row(&[("name", "ann"), ("pw", "1")])]
        );
    }

    #[test]
    fn csv_separator_comes_from_the_header_line() {
        assert_eq!(
            rows("name;pw\nann;1\n"),
            [row(&[("name", "ann"), ("pw", "1")])]
        );
        assert_eq!(
            rows("name\tpw\r\nann\t\"a\tb\"\r\n"),
            [row(&[("name", "ann"), ("pw", "a\tb")])]
        );
        // Quoted separators, line breaks and quotes with `;` and tab.
        assert_eq!(
            rows("a;b\n\"1;2\";\"x\ny, \"\"z\"\"\"\n"),
            [row(&[("a", "1;2"), ("b", "x\ny, \"z\"")])]
        );
        assert_eq!(
            rows("a\tb\n\"1\t2\"\t\"x\r\ny\"\n"),
            [row(&[("a", "1\t2"), ("b", "x\r\ny")])]
        );
        // The most frequent one wins; a tie is a comma; separators inside quotes do not count.
        assert_eq!(
            rows("a;b;c,d\n1;2;3,4\n"),
            [row(&[("a", "1"), ("b", "2"), ("c,d", "3,4")])]
        );
        assert_eq!(rows("a;b,c\n1;2,3\n"), [row(&[("a;b", "1;2"), ("c", "3")])]);
        assert_eq!(
            rows("\"x,y,z\";w\n1;2\n"),
            [row(&[("w", "2"), ("x,y,z", "1")])]
        );
        // One column: no separator in the header, so a comma in a row is one field too many.
        assert!(error(b"id\n1,5\n").starts_with("row 1 (line 2), column 2:"));
    }

    #[test]
    fn csv_errors_name_the_line_and_column() {
        let e = error(b"a,b\n1,\"open\n2,3\n");
        assert_eq!(e, "line 2, column 2: this quoted field is never closed");
        // The line of the opening quote, after line breaks in earlier fields.
        let e = error(b"a,b,c\r\n\"x\r\ny\",2,\"open\r\n");
        assert_eq!(e, "line 3, column 3: this quoted field is never closed");
        let e = error(b"\"a,b\n1,2\n");
        assert_eq!(e, "line 1, column 1: this quoted field is never closed");
        let e = error(b"a;b\n\n\"1\n2\";x\n3;\xff\n");
        assert_eq!(
            e,
            "line 5, column 2: the text is not valid UTF-8 (feeder files must be UTF-8)"
        );
        // Malformed rows name the line they start on, after empty lines and quoted line breaks.
        for text in [
            "\u{feff}a,b\n\n\"1\n\",2\n\n3\n",
            "\u{feff}a,b\r\n\r\n\"1\r\n\",2\r\n\r\n3\r\n",
            "\u{feff}a,b\n\n\"1\n\",2\n\n3",
        ] {
            assert_eq!(
                error(text.as_bytes()),
                "row 2 (line 6), column 2: the row has 1 field(s) but the header has 2: column 2 ('b') is missing",
                "{text:?}"
            );
        }
    }

    #[test]
    fn csv_stray_quotes_are_read_as_python_reads_them() {
        // Like Python's csv module (and so a locustfile's DictReader): a quote inside an unquoted
        // field is kept, text after a closing quote is appended.
        assert_eq!(
            rows("a,b\nx,ab\"c\n\"x\"y,1\n"),
            [
                row(&[("a", "x"), ("b", "ab\"c")]),
                row(&[("a", "xy"), ("b", "1")])
            ]
        );
    }

    #[test]
    fn csv_rows_check_the_shape() {
        let rows = csv_rows("name,pw\nann,1\nbob,\"2,3\"\n".as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["pw"].to_string(), "2,3");
        let e = error(b"name,pw,role\nann,1,a\nbob,2\n");
        assert_eq!(
            e,
            "row 2 (line 3), column 3: the row has 2 field(s) but the header has 3: column 3 ('role') is missing"
        );
        let e = error(b"name\nann\nbob,2\n");
        assert!(
            e.starts_with("row 2 (line 3), column 2:") && e.ends_with("column 2 has no header"),
            "{e}"
        );
        assert!(error(b"").contains("empty"));
        assert!(error(b"\n\r\n").contains("empty"));
        assert!(error(b"a,b\n").contains("no rows"));
        assert!(error(b"a,a\n1,2\n").contains("used twice"));
        assert!(error(b"a,\n1,2\n").contains("column 2: the column name is empty"));
    }

    #[test]
    fn json_rows_need_an_array_of_objects() {
        let rows = json_rows(r#"[{"a": 1, "b": {"c": [true]}}, {"a": "x"}]"#).unwrap();
        assert_eq!(rows[0]["a"].as_int().unwrap(), 1);
        assert_eq!(rows[1]["a"].to_string(), "x");
        let e = json_rows("[\n  {\"a\": 1},\n  {\"a\" 2}\n]").unwrap_err();
        assert!(
            e.starts_with("invalid JSON at line 3, column 8: expected `:`"),
            "{e}"
        );
        assert_eq!(
            json_rows(r#"{"a": 1}"#).unwrap_err(),
            "expected a JSON array of objects, found an object"
        );
        assert!(json_rows(r#"[{"a": 1}, 2]"#)
            .unwrap_err()
            .starts_with("item 2 (index 1) is a number"));
        assert!(json_rows("[]").unwrap_err().contains("empty"));
    }

    #[test]
    fn paths_stay_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(confine(d, "users.csv").unwrap(), d.join("users.csv"));
        assert_eq!(
            confine(d, "data/../users.csv").unwrap(),
            d.join("data/../users.csv")
        );
        assert!(confine(d, "/etc/passwd")
            .unwrap_err()
            .contains("absolute path"));
        assert!(confine(d, "../x.csv")
            .unwrap_err()
            .contains("leaves the scenario's folder"));
        assert!(confine(d, "data/../../x.csv")
            .unwrap_err()
            .contains("leaves"));
        assert!(confine(d, "").is_err());
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            std::fs::write(outside.path().join("secret.csv"), "a\n1\n").unwrap();
            std::os::unix::fs::symlink(outside.path(), d.join("link")).unwrap();
            assert!(confine(d, "link/secret.csv")
                .unwrap_err()
                .contains("symbolic link"));
        }
    }

    #[test]
    fn modes_hand_out_rows() {
        let rows: Vec<Map> = (0..3)
            .map(|i| {
                let mut m = Map::new();
                m.insert("i".into(), Dynamic::from_int(i));
                m
            })
            .collect();
        let id = |m: Option<Map>| m.map(|m| m["i"].as_int().unwrap());
        let f = Feeder::new("f".into(), Mode::Cycle, rows.clone());
        let got: Vec<_> = (0..7).map(|_| id(f.try_next()).unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
        let f = Feeder::new("f".into(), Mode::Unique, rows.clone());
        let got: Vec<_> = (0..5).map(|_| id(f.try_next())).collect();
        assert_eq!(got, [Some(0), Some(1), Some(2), None, None]);
        assert_eq!(f.remaining(), 0);
        assert!(f
            .next()
            .unwrap_err()
            .to_string()
            .contains("all 3 rows have been used"));
        let f = Feeder::new("f".into(), Mode::Random, rows);
        assert!((0..50).all(|_| (0..3).contains(&id(f.try_next()).unwrap())));
    }

    #[test]
    fn unique_never_repeats_across_threads() {
        let rows: Vec<Map> = (0..1000)
            .map(|i| {
                let mut m = Map::new();
                m.insert("i".into(), Dynamic::from_int(i));
                m
            })
            .collect();
        let f = Feeder::new("f".into(), Mode::Unique, rows);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let f = f.clone();
                std::thread::spawn(move || {
                    std::iter::from_fn(|| f.try_next().map(|m| m["i"].as_int().unwrap()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<i64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }
}
