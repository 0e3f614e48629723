//! Which files make up a scenario (Locust's `-f a.py,b.py` and `-f dir/`): directories expand to
//! the `.rhai` files directly inside them, and each file is read with the directory its `import`s
//! resolve against.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::ScriptError;

/// One scenario file's text.
#[derive(Clone, Debug)]
pub struct Source {
    /// How errors name the file (the path as given).
    pub file: String,
    pub src: String,
    /// Where `import "x"` looks for `x.rhai`.
    pub dir: PathBuf,
}

impl Source {
    pub fn read(path: &Path) -> Result<Source, ScriptError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| ScriptError::Read {
            path: file.clone(),
            source: e,
        })?;
        Ok(Source {
            file,
            src,
            dir: dir_of(path),
        })
    }
}

/// The directory a scenario file's imports resolve against ("." for a bare file name).
pub fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// The scenario files `paths` name, in order: a directory stands for the `.rhai` files directly in
/// it (sorted by name; not its subdirectories, which hold modules for `import`; names starting with
/// `_` skipped, as Locust skips `_*.py`). A file named twice counts once. Files are not checked
/// here: loading them says what is wrong with each.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScriptError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut keep = |p: PathBuf| {
        let key = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
        if seen.insert(key) {
            out.push(p);
        }
    };
    for path in paths {
        if !path.is_dir() {
            keep(path.clone());
            continue;
        }
        let dir = path.display().to_string();
        let entries = std::fs::read_dir(path).map_err(|e| ScriptError::ReadDir {
            dir: dir.clone(),
            source: e,
        })?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ScriptError::ReadDir {
                dir: dir.clone(),
                source: e,
            })?;
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if p.is_file() && name.ends_with(".rhai") && !name.starts_with('_') {
                found.push(p);
            }
        }
        if found.is_empty() {
            return Err(ScriptError::EmptyDir { dir });
        }
        found.sort();
        found.into_iter().for_each(&mut keep);
    }
    if out.is_empty() {
        return Err(ScriptError::NoFiles);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "").unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
        p
    }

    #[test]
    fn a_directory_expands_to_its_rhai_files_sorted_without_underscored_or_nested_ones() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let b = touch(d.path(), "b.rhai");
        let a = touch(d.path(), "a.rhai");
        touch(d.path(), "_helpers.rhai");
        touch(d.path(), "notes.txt");
        std::fs::create_dir(d.path().join("lib")).unwrap_or_else(|e| panic!("{e}"));
        touch(&d.path().join("lib"), "c.rhai");
        std::fs::create_dir(d.path().join("x.rhai")).unwrap_or_else(|e| panic!("{e}"));
        let got = scenario_files(&[d.path().to_path_buf()]).unwrap_or_default();
        assert_eq!(got, [a, b]);
    }

    #[test]
    fn files_keep_their_order_and_count_once() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let z = touch(d.path(), "z.rhai");
        let a = touch(d.path(), "a.rhai");
        let missing = d.path().join("missing.rhai");
        let got = scenario_files(&[
            z.clone(),
            missing.clone(),
            d.path().to_path_buf(),
            z.clone(),
        ])
        .unwrap_or_default();
        assert_eq!(got, [z, missing, a]);
    }

    #[test]
    fn a_directory_without_scenarios_and_no_paths_are_errors() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        touch(d.path(), "_only_private.rhai");
        let err = scenario_files(&[d.path().to_path_buf()]).map(|_| ());
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains(&d.path().display().to_string()), "{msg}");
        assert!(msg.contains("no .rhai scenario files"), "{msg}");
        let none = scenario_files(&[]).err().map(|e| e.to_string());
        assert_eq!(none.as_deref(), Some("no scenario file given"));
    }
}
