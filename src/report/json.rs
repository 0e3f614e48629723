//! Locust's `--json` output: a list of the entries' `StatsEntry` dicts (no Aggregated entry).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::stats::{Entry, Stats};

/// Locust serializes only entries that saw a request or a failure.
fn reported(stats: &Stats) -> impl Iterator<Item = &Entry> {
    stats
        .entries()
        .filter(|e| e.num_requests() > 0 || e.num_failures() > 0)
}

/// The `--json` list as a value. Object keys follow `serde_json::Map` ordering; use
/// [`write_stats_json`] for Locust's key order.
pub fn stats_json(stats: &Stats) -> serde_json::Value {
    serde_json::Value::Array(reported(stats).map(Entry::to_locust_json).collect())
}

/// Writes the `--json` list as Locust prints it: `json.dumps(..., indent=4)` in Locust's key
/// order, followed by a newline.
pub fn write_stats_json(w: &mut impl Write, stats: &Stats) -> io::Result<()> {
    let dicts: Vec<_> = reported(stats).map(Entry::to_locust_dict).collect();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut *w, formatter);
    dicts.serialize(&mut serializer).map_err(io::Error::other)?;
    writeln!(w)
}

/// `--json-file NAME` cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the JSON stats file '{}': {source}", path.display())]
pub struct JsonFileError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// Where `--json-file NAME` writes: `NAME.json`, as Locust names it.
pub fn json_file_path(name: &Path) -> PathBuf {
    let mut s = name.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// Write the `--json` list to `path` (replacing what was there).
pub fn save_stats_json(path: &Path, stats: &Stats) -> Result<(), JsonFileError> {
    let mut text = Vec::new();
    write_stats_json(&mut text, stats)
        .and_then(|()| std::fs::write(path, text))
        .map_err(|source| JsonFileError {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Shard;

    fn sample() -> Stats {
        let mut shard = Shard::new();
        shard.record_at("GET", "/b", 147.0, 10, None, 100.5);
        shard.record_at("GET", "/a", 3.0, 0, Some("boom"), 101.5);
        let mut stats = Stats::new(100.0);
        stats.merge(shard.take());
        stats
    }

    #[test]
    fn lists_entries_without_aggregated() {
        let v = stats_json(&sample());
        let list = v.as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = list.iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(names, ["/a", "/b"]);
        assert_eq!(list[0]["num_failures"], 1);
        assert_eq!(list[1]["response_times"]["150"], 1);
        assert_eq!(list[1]["num_reqs_per_sec"]["100"], 1);
        assert_eq!(list[1]["start_time"], 100.0);
    }

    #[test]
    fn written_json_parses_back_and_keeps_key_order() {
        let mut buf = Vec::new();
        assert!(write_stats_json(&mut buf, &sample()).is_ok());
        let text = String::from_utf8(buf).unwrap_or_default();
        assert!(
            text.starts_with("[\n    {\n        \"name\": \"/a\",\n        \"method\": \"GET\",\n"),
            "{text}"
        );
        assert!(text.ends_with("]\n"));
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(parsed, stats_json(&sample()));
    }

    #[test]
    fn the_json_file_gets_what_json_prints_and_bad_paths_are_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = json_file_path(&dir.path().join("sub/out"));
        assert!(path.ends_with("sub/out.json"));
        assert!(crate::report::output::create_parent(&path).is_ok());
        assert!(save_stats_json(&path, &sample()).is_ok());
        let mut printed = Vec::new();
        assert!(write_stats_json(&mut printed, &sample()).is_ok());
        assert_eq!(std::fs::read(&path).unwrap_or_default(), printed);

        let taken = dir.path().join("a_file");
        assert!(std::fs::write(&taken, "x").is_ok());
        let bad = taken.join("out.json");
        let msg = save_stats_json(&bad, &sample())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.starts_with(&format!(
                "cannot write the JSON stats file '{}': ",
                bad.display()
            )),
            "{msg}"
        );
    }

    #[test]
    fn empty_stats_give_an_empty_list() {
        let stats = Stats::new(0.0);
        assert_eq!(stats_json(&stats), serde_json::json!([]));
        let mut buf = Vec::new();
        assert!(write_stats_json(&mut buf, &stats).is_ok());
        assert_eq!(buf, b"[]\n");
    }
}
