//! Config files, each read into one [`Raw`] layer:
//! - Locust's format (`~/.locust.conf`, `./locust.conf`, `--config FILE`), configargparse's
//!   `key = value` (also `key: value`, `key value`, `--key value`; `key` alone is `true`;
//!   `[a, b]` is a list; `#` and `;` start comments; `[section]` lines are skipped);
//! - `pyproject.toml`'s `[tool.locust]` table, read the way Locust reads it (values as text);
//! - rustlocust's own `rustlocust.toml` (and a `--config` file ending in `.toml` without a
//!   `[tool.locust]` table): typed TOML with rustlocust's key names only.
//!
//! An unknown key is an error in rustlocust's TOML (as it always was: the file is ours, a typo
//! should not pass) and a warning in Locust's formats, which may hold keys of Locust plugins or
//! of a locustfile's own arguments. Locust's options that rustlocust does not have are refused
//! in every format.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::defs::{Raw, OPTIONS, UNSUPPORTED};
use super::error::{closest, OptionsError, Source, Warning};
use super::sources::set;
use super::table::OptionDef;
use super::values::parse_bool;

/// A config file to read, and how.
pub(super) struct ConfigFile {
    /// As the user would name it in a message (`./locust.conf`, `~/.locust.conf`, a `--config`
    /// path as given).
    shown: String,
    /// Relative paths are taken from the working directory.
    path: PathBuf,
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Locust,
    /// `[tool.locust]` only; a file without that table is not a config file.
    Pyproject,
    Rustlocust,
    /// `--config FILE`: TOML when it ends in `.toml` (Locust's `[tool.locust]` if it has one,
    /// else rustlocust's keys), Locust's format otherwise.
    Given,
}

impl ConfigFile {
    pub fn locust(shown: &str, path: PathBuf) -> ConfigFile {
        ConfigFile {
            shown: shown.to_string(),
            path,
            format: Format::Locust,
        }
    }

    pub fn pyproject(path: PathBuf) -> ConfigFile {
        ConfigFile {
            shown: "./pyproject.toml".into(),
            path,
            format: Format::Pyproject,
        }
    }

    pub fn rustlocust(path: PathBuf) -> ConfigFile {
        ConfigFile {
            shown: "./rustlocust.toml".into(),
            path,
            format: Format::Rustlocust,
        }
    }

    pub fn given(path: &Path) -> ConfigFile {
        ConfigFile {
            shown: path.display().to_string(),
            path: path.to_path_buf(),
            format: Format::Given,
        }
    }
}

pub(super) struct FileLayer {
    pub raw: Raw,
    pub warnings: Vec<Warning>,
}

/// Reads `file` (relative to `cwd`). A default file that does not exist is `None`; a `required`
/// one (`--config`) that cannot be read is an error.
pub(super) fn read(
    file: &ConfigFile,
    cwd: &Path,
    required: bool,
) -> Result<Option<FileLayer>, OptionsError> {
    let path = cwd.join(&file.path);
    if !required && !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|source| OptionsError::ReadConfig {
        path: file.shown.clone(),
        source,
    })?;
    from_text(file, &text)
}

/// [`read`] once the file's text is there.
pub(super) fn from_text(file: &ConfigFile, text: &str) -> Result<Option<FileLayer>, OptionsError> {
    let is_toml = file.path.extension().is_some_and(|e| e == "toml");
    match file.format {
        Format::Given if !is_toml => locust_layer(&file.shown, text).map(Some),
        Format::Locust => locust_layer(&file.shown, text).map(Some),
        Format::Pyproject | Format::Rustlocust | Format::Given => {
            toml_layer(&file.shown, text, file.format)
        }
    }
}

/// A value as a Locust-format file writes it.
#[derive(Debug, PartialEq)]
enum Value {
    Text(String),
    List(Vec<String>),
}

#[derive(Debug, PartialEq)]
struct Entry {
    line: usize,
    key: String,
    value: Value,
}

/// configargparse's `DefaultConfigFileParser`, line by line.
fn parse_locust(shown: &str, text: &str) -> Result<Vec<Entry>, OptionsError> {
    let mut entries = Vec::new();
    for (i, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with(['#', ';', '[']) || line.starts_with("---") {
            continue;
        }
        let key_end = line
            .find(|c: char| matches!(c, ':' | '=' | ';' | '#') || c.is_whitespace())
            .unwrap_or(line.len());
        if key_end == 0 {
            return Err(OptionsError::LocustSyntax {
                path: shown.to_string(),
                line: i + 1,
                text: line.to_string(),
            });
        }
        let key = &line[..key_end];
        let rest = line[key_end..].trim_start();
        let (separated, rest) = match rest.strip_prefix([':', '=']) {
            Some(after) => (true, after.trim_start()),
            None => (false, rest),
        };
        let value = strip_comment(rest);
        let value = match value {
            // `key` alone sets a flag; `key =` is an empty value (then ignored, as unset).
            "" if !separated => "true".to_string(),
            v => unquote(v).to_string(),
        };
        let value = if value.starts_with('[') && value.ends_with(']') {
            Value::List(list_items(&value))
        } else {
            Value::Text(value)
        };
        entries.push(Entry {
            line: i + 1,
            key: key.to_string(),
            value,
        });
    }
    Ok(entries)
}

/// Drops a trailing ` # comment` or ` ; comment` (a comment sign after whitespace, outside a
/// quoted value).
fn strip_comment(value: &str) -> &str {
    if let Some(q) = value.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        if let Some(end) = value[1..].find(q) {
            let after = value[end + 2..].trim_start();
            if after.is_empty() || after.starts_with(['#', ';']) {
                return &value[..end + 2];
            }
        }
    }
    let bytes = value.as_bytes();
    let cut = (1..bytes.len())
        .find(|&i| matches!(bytes[i], b'#' | b';') && bytes[i - 1].is_ascii_whitespace());
    value[..cut.unwrap_or(value.len())].trim_end()
}

fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

/// `[a, b]`: a JSON array if it is one, else configargparse's legacy comma split.
fn list_items(value: &str) -> Vec<String> {
    if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(value) {
        return items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect();
    }
    value[1..value.len() - 1]
        .split(',')
        .map(|s| s.trim().to_string())
        .collect()
}

fn locust_layer(shown: &str, text: &str) -> Result<FileLayer, OptionsError> {
    let entries = parse_locust(shown, text)?;
    apply_locust(shown, entries)
}

/// The option a Locust-format key names: Locust's long option, optionally with its dashes, in
/// either `-` or `_` spelling.
fn locust_key(key: &str) -> String {
    key.trim_start_matches('-').replace('_', "-")
}

fn apply_locust(shown: &str, entries: Vec<Entry>) -> Result<FileLayer, OptionsError> {
    let mut layer = FileLayer {
        raw: Raw::default(),
        warnings: Vec::new(),
    };
    for Entry { line, key, value } in entries {
        let name = locust_key(&key);
        let text = match value {
            Value::Text(t) => t,
            Value::List(items) => items.join(","),
        };
        let source = Source::File {
            path: shown.to_string(),
            line,
            key: key.clone(),
        };
        refuse_unsupported(&name, &text, &source)?;
        match OPTIONS.iter().find(|d| d.names().any(|n| n == name)) {
            Some(def) if !def.in_files => layer.warnings.push(Warning::NotInFile {
                path: shown.to_string(),
                line,
                key,
            }),
            // An empty value is no value, as an empty variable is.
            Some(_) if text.trim().is_empty() => {}
            Some(def) => set(&mut layer.raw, def, &text, source)?,
            None => {
                let names = OPTIONS
                    .iter()
                    .filter(|d| d.in_files)
                    .flat_map(|d| d.names());
                layer.warnings.push(Warning::UnknownKey {
                    path: shown.to_string(),
                    line,
                    suggestion: closest(&name, names).map(|k| format!("`{k}`")),
                    key,
                });
            }
        }
    }
    Ok(layer)
}

/// A refused Locust option used in a file (`master = false` does not use it).
fn refuse_unsupported(name: &str, text: &str, source: &Source) -> Result<(), OptionsError> {
    match UNSUPPORTED.iter().find(|u| u.key == name) {
        Some(u) if !u.flag || parse_bool(text) != Ok(false) => Err(OptionsError::Unsupported {
            option: u.key,
            origin: source.clone(),
            why: u.why,
        }),
        _ => Ok(()),
    }
}

/// A TOML file: Locust's `[tool.locust]` table (pyproject.toml, or a `--config` file that has
/// one) or rustlocust's keys. `None`: a pyproject.toml without that table.
fn toml_layer(shown: &str, text: &str, format: Format) -> Result<Option<FileLayer>, OptionsError> {
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| OptionsError::ConfigSyntax {
                path: shown.to_string(),
                message: e.to_string().trim_end().to_string(),
            })?;
    let tool_locust = table
        .get("tool")
        .and_then(|t| t.get("locust"))
        .and_then(toml::Value::as_table)
        .filter(|_| format != Format::Rustlocust);
    match (tool_locust, format) {
        (Some(locust), _) => {
            let lines = key_lines(text, &["tool", "locust"]);
            let entries = pyproject_entries(shown, locust, &lines)?;
            apply_locust(shown, entries).map(Some)
        }
        (None, Format::Pyproject) => Ok(None),
        (None, _) => apply_toml(shown, &table, &key_lines(text, &[])).map(Some),
    }
}

/// Locust stringifies `[tool.locust]` values (`true` -> "True", `5` -> "5") and keeps lists.
fn pyproject_entries(
    shown: &str,
    table: &toml::Table,
    lines: &HashMap<String, usize>,
) -> Result<Vec<Entry>, OptionsError> {
    let text = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Table(_) | toml::Value::Array(_) => None,
        other => Some(other.to_string()),
    };
    let mut entries = Vec::new();
    for (key, value) in table {
        let line = lines.get(key).copied().unwrap_or(0);
        let value = match value {
            toml::Value::Array(items) => items
                .iter()
                .map(text)
                .collect::<Option<_>>()
                .map(Value::List),
            other => text(other).map(Value::Text),
        };
        let Some(value) = value else {
            return Err(OptionsError::WrongType {
                path: shown.to_string(),
                line,
                key: key.clone(),
                expected: "a string, number, boolean or array",
                found: "a table",
            });
        };
        entries.push(Entry {
            line,
            key: key.clone(),
            value,
        });
    }
    entries.sort_by_key(|e| e.line);
    Ok(entries)
}

/// rustlocust's TOML: typed values, rustlocust's key names (`-` or `_`), unknown keys refused.
fn apply_toml(
    shown: &str,
    table: &toml::Table,
    lines: &HashMap<String, usize>,
) -> Result<FileLayer, OptionsError> {
    let mut layer = FileLayer {
        raw: Raw::default(),
        warnings: Vec::new(),
    };
    let mut keys: Vec<(&String, &toml::Value)> = table.iter().collect();
    keys.sort_by_key(|(k, _)| lines.get(*k).copied().unwrap_or(0));
    let mut seen: Vec<(&'static str, &str)> = Vec::new();
    for (key, value) in keys {
        let line = lines.get(key).copied().unwrap_or(0);
        let name = key.replace('_', "-");
        let source = Source::File {
            path: shown.to_string(),
            line,
            key: key.clone(),
        };
        if UNSUPPORTED.iter().any(|u| u.key == name) {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            refuse_unsupported(&name, &text, &source)?;
            continue;
        }
        let Some(def) = OPTIONS.iter().find(|d| d.key == name) else {
            return Err(unknown_toml_key(shown, line, key, &name));
        };
        if !def.in_files {
            layer.warnings.push(Warning::NotInFile {
                path: shown.to_string(),
                line,
                key: key.clone(),
            });
            continue;
        }
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == def.key) {
            return Err(OptionsError::DuplicateKey {
                path: shown.to_string(),
                first: first.to_string(),
                second: key.clone(),
            });
        }
        seen.push((def.key, key));
        let text = def
            .shape
            .toml_text(value)
            .map_err(|found| OptionsError::WrongType {
                path: shown.to_string(),
                line,
                key: key.clone(),
                expected: def.shape.expected(),
                found,
            })?;
        set(&mut layer.raw, def, &text, source)?;
    }
    Ok(layer)
}

fn unknown_toml_key(shown: &str, line: usize, key: &str, name: &str) -> OptionsError {
    let files: Vec<&OptionDef> = OPTIONS.iter().filter(|d| d.in_files).collect();
    // Locust's name for one of ours (`locustfile`, `hatch-rate`), else the closest key.
    let suggestion = files
        .iter()
        .find(|d| d.names().any(|n| n == name))
        .map(|d| d.key)
        .or_else(|| closest(name, files.iter().map(|d| d.key)));
    OptionsError::UnknownKey {
        path: shown.to_string(),
        line,
        key: key.to_string(),
        suggestion: suggestion.map(str::to_string),
        known: files.iter().map(|d| d.key).collect::<Vec<_>>().join(", "),
    }
}

/// The line (from 1) of each key of the table at `section` (`[]`: the top level), for messages.
fn key_lines(text: &str, section: &[&str]) -> HashMap<String, usize> {
    let Ok(doc) = toml::de::DeTable::parse(text) else {
        return HashMap::new();
    };
    let mut table = doc.get_ref();
    for name in section {
        match table.get(*name).map(|v| v.get_ref()) {
            Some(toml::de::DeValue::Table(t)) => table = t,
            _ => return HashMap::new(),
        }
    }
    table
        .iter()
        .map(|(k, _)| {
            let line = text[..k.span().start].matches('\n').count() + 1;
            (k.get_ref().to_string(), line)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(usize, String, Value)> {
        parse_locust("f.conf", text)
            .expect("valid")
            .into_iter()
            .map(|e| (e.line, e.key, e.value))
            .collect()
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    #[test]
    fn locust_format_lines() {
        let parsed = entries(
            "# comment\n; also a comment\n[section]\n---\n\
             users = 10\nspawn-rate: 2\nrun-time 1m\n--host=http://h\nheadless\n\
             tags = [a, b]\nexclude-tags = [\"x\", \"y\"]\nhtml = 'r.html'  # the report\n\
             csv =\nloglevel = debug ; why\nweb-auth = \"a:b # c\"\n",
        );
        assert_eq!(
            parsed,
            vec![
                (5, "users".into(), text("10")),
                (6, "spawn-rate".into(), text("2")),
                (7, "run-time".into(), text("1m")),
                (8, "--host".into(), text("http://h")),
                (9, "headless".into(), text("true")),
                (10, "tags".into(), Value::List(vec!["a".into(), "b".into()])),
                (
                    11,
                    "exclude-tags".into(),
                    Value::List(vec!["x".into(), "y".into()])
                ),
                (12, "html".into(), text("r.html")),
                (13, "csv".into(), text("")),
                (14, "loglevel".into(), text("debug")),
                (15, "web-auth".into(), text("a:b # c")),
            ]
        );
        let e = parse_locust("f.conf", "users = 1\n= 5\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("f.conf line 2") && msg.contains("`= 5`"),
            "{msg}"
        );
    }

    #[test]
    fn toml_key_lines() {
        let text = "users = 1\n\n# x\nspawn_rate = 2\n[tool.locust]\nhost = \"h\"\n";
        let top = key_lines(text, &[]);
        assert_eq!(top.get("users"), Some(&1));
        assert_eq!(top.get("spawn_rate"), Some(&4));
        assert_eq!(key_lines(text, &["tool", "locust"]).get("host"), Some(&6));
        assert!(key_lines(text, &["nope"]).is_empty());
    }
}
