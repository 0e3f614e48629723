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

use std::collections::HashMap;
use std::fmt;
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
    let text = std::fs::read_to_string(&full).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "file not found: {} (feeder paths are relative to the scenario's folder {})",
                shown(&full).display(),
                shown(dir).display()
            ),
            _ => format!("cannot read {}: {e}", shown(&full).display()),
        };
        runtime_error(format!("{call}: {why}"))
    })?;
    let rows = match format {
        Format::Csv => csv_rows(&text),
        Format::Json => json_rows(&text),
    }
    .map_err(|e| runtime_error(format!("{path}: {e}")))?;
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
            "'{rel}' is an absolute path: feeder files must be given relative to the scenario's folder"
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
                    "'{rel}' leaves the scenario's folder: feeder files must be inside it"
                ))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("'{rel}' is an absolute path: feeder files must be given relative to the scenario's folder"))
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

/// A CSV syntax error at a 1-based line and column.
#[derive(Debug, PartialEq, Eq)]
pub struct CsvError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.col, self.message
        )
    }
}

/// One CSV record and the line it starts on.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Parse CSV (RFC 4180): comma-separated fields; a field in double quotes may hold commas, line
/// breaks and doubled quotes (`""`). Lines end with LF or CRLF; empty lines are skipped.
pub fn parse_csv(text: &str) -> Result<Vec<Record>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let (mut line, mut col) = (1usize, 0usize);
    let mut record_line = 1;
    // Where the open quote was, while inside a quoted field.
    let mut open_quote: Option<(usize, usize)> = None;
    // Just after a closing quote: only a comma or a line end may follow.
    let mut after_quote = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        col += 1;
        if open_quote.is_some() {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    col += 1;
                    field.push('"');
                }
                '"' => {
                    open_quote = None;
                    after_quote = true;
                }
                '\n' => {
                    field.push('\n');
                    line += 1;
                    col = 0;
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut field));
                after_quote = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                fields.push(std::mem::take(&mut field));
                // An empty line is one empty field: skip it.
                if !(fields.len() == 1 && fields[0].is_empty() && !after_quote) {
                    records.push(Record {
                        line: record_line,
                        fields: std::mem::take(&mut fields),
                    });
                }
                fields.clear();
                after_quote = false;
                line += 1;
                col = 0;
                record_line = line;
            }
            _ if after_quote => {
                return Err(CsvError {
                    line,
                    col,
                    message: format!("unexpected {c:?} after a closing quote (expected a comma or the end of the line)"),
                })
            }
            '"' if field.is_empty() => open_quote = Some((line, col)),
            '"' => {
                return Err(CsvError {
                    line,
                    col,
                    message: "a quote inside an unquoted field (quote the whole field and double the quote: \"a\"\"b\")".into(),
                })
            }
            c => field.push(c),
        }
    }
    if let Some((line, col)) = open_quote {
        return Err(CsvError {
            line,
            col,
            message: "this quoted field is never closed".into(),
        });
    }
    if !field.is_empty() || !fields.is_empty() || after_quote {
        fields.push(field);
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

/// CSV text to one map per data row, keyed by the header row's names. Values are strings.
pub fn csv_rows(text: &str) -> Result<Vec<Map>, String> {
    let records = parse_csv(text).map_err(|e| e.to_string())?;
    let Some((header, data)) = records.split_first() else {
        return Err(
            "the file is empty: a CSV feeder needs a header row and at least one row".into(),
        );
    };
    for (i, name) in header.fields.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(format!(
                "header (line {}), column {}: the column name is empty",
                header.line,
                i + 1
            ));
        }
        if header.fields[..i].contains(name) {
            return Err(format!(
                "header (line {}), column {}: the column name '{name}' is used twice",
                header.line,
                i + 1
            ));
        }
    }
    if data.is_empty() {
        return Err("no rows after the header: a feeder needs at least one row".into());
    }
    let want = header.fields.len();
    let mut rows = Vec::with_capacity(data.len());
    for (i, r) in data.iter().enumerate() {
        let got = r.fields.len();
        if got != want {
            let which = if got < want {
                format!("column {} ('{}') is missing", got + 1, header.fields[got])
            } else {
                format!("column {} has no header", want + 1)
            };
            return Err(format!(
                "row {} (line {}), column {}: the row has {got} field(s) but the header has {want}: {which}",
                i + 1,
                r.line,
                got.min(want) + 1
            ));
        }
        rows.push(
            header
                .fields
                .iter()
                .zip(&r.fields)
                .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
                .collect(),
        );
    }
    Ok(rows)
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

    fn fields(text: &str) -> Vec<Vec<String>> {
        parse_csv(text)
            .unwrap()
            .into_iter()
            .map(|r| r.fields)
            .collect()
    }

    #[test]
    fn csv_plain_quoted_and_multiline_fields() {
        assert_eq!(fields("a,b\n1,2\n"), [["a", "b"], ["1", "2"]]);
        assert_eq!(fields("a,b\r\n1,2"), [["a", "b"], ["1", "2"]]);
        assert_eq!(
            fields("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n"),
            [["a", "b"], ["x, y", "say \"hi\""]]
        );
        assert_eq!(fields("a\n\"line1\nline2\"\n"), [["a"], ["line1\nline2"]]);
        assert_eq!(
            fields("a,b\n,\n\"\",x\n"),
            [["a", "b"], ["", ""], ["", "x"]]
        );
        // Empty lines are skipped, a BOM is ignored, and a record keeps the line it starts on.
        let r = parse_csv("\u{feff}a\n\n\"1\n\"\n2\n").unwrap();
        assert_eq!(r.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 3, 5]);
        assert_eq!(r[0].fields, ["a"]);
    }

    #[test]
    fn csv_syntax_errors_have_line_and_column() {
        let e = parse_csv("a,b\n1,\"open\n2,3\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
        assert!(e.message.contains("never closed"), "{e}");
        let e = parse_csv("a,b\nx,ab\"c\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 5));
        let e = parse_csv("a,b\n\"x\"y,1\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 4));
        assert!(e.message.contains("after a closing quote"), "{e}");
    }

    #[test]
    fn csv_rows_check_the_shape() {
        let rows = csv_rows("name,pw\nann,1\nbob,\"2,3\"\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["pw"].to_string(), "2,3");
        let e = csv_rows("name,pw,role\nann,1,a\nbob,2\n").unwrap_err();
        assert_eq!(
            e,
            "row 2 (line 3), column 3: the row has 2 field(s) but the header has 3: column 3 ('role') is missing"
        );
        let e = csv_rows("name\nann\nbob,2\n").unwrap_err();
        assert!(
            e.starts_with("row 2 (line 3), column 2:") && e.ends_with("column 2 has no header"),
            "{e}"
        );
        assert!(csv_rows("").unwrap_err().contains("empty"));
        assert!(csv_rows("a,b\n").unwrap_err().contains("no rows"));
        assert!(csv_rows("a,a\n1,2\n").unwrap_err().contains("used twice"));
        assert!(csv_rows("a,\n1,2\n")
            .unwrap_err()
            .contains("column 2: the column name is empty"));
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
