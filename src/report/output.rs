//! The report files (`--csv`, `--html`, `--json-file`): checked before a test starts, so that a
//! long run never ends with its report lost. Like Locust, missing directories are created (for
//! every report the same way); a path that still cannot be written stops the run before it starts.

use std::io;
use std::path::{Path, PathBuf};

/// A report file that cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: cannot write '{}': {source}", path.display())]
pub struct OutputError {
    /// The option that named the file, e.g. `--html`.
    pub flag: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

/// Makes sure `path` can be written, creating its directory. A file that did not exist is
/// removed again, so a run that never ends leaves nothing behind.
pub fn check_writable(flag: &'static str, path: &Path) -> Result<(), OutputError> {
    let err = |source| OutputError {
        flag,
        path: path.to_path_buf(),
        source,
    };
    create_parent(path).map_err(err)?;
    if path.is_dir() {
        return Err(err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(err)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Creates the directory `path` goes into, if it has one.
pub fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir),
        None => Ok(()),
    }
}

/// Every report file of a run, checked at once: `csv_prefix`'s four files, the HTML report and
/// the JSON file.
pub fn check_outputs(
    csv_prefix: Option<&Path>,
    html: Option<&Path>,
    json_file: Option<&Path>,
) -> Result<(), OutputError> {
    if let Some(prefix) = csv_prefix {
        for path in super::csv::file_paths(prefix) {
            check_writable("--csv", &path)?;
        }
    }
    if let Some(path) = html {
        check_writable("--html", path)?;
    }
    if let Some(path) = json_file {
        check_writable("--json-file", path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_directories_are_created_and_no_file_is_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/report.html");
        check_outputs(None, Some(&path), None).expect("writable");
        assert!(dir.path().join("a/b").is_dir());
        assert!(!path.exists());
    }

    #[test]
    fn unwritable_paths_name_the_option_and_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").expect("write");
        // A directory where a file is, and a file where a directory should be.
        let e = check_outputs(None, Some(dir.path()), None).unwrap_err();
        assert_eq!(e.flag, "--html");
        let e = check_outputs(None, None, Some(&file.join("s.json"))).unwrap_err();
        assert!(
            e.to_string().starts_with("--json-file: cannot write '"),
            "{e}"
        );
        let e = check_outputs(Some(&file.join("run")), None, None).unwrap_err();
        assert!(e.to_string().contains("f/run_stats.csv"), "{e}");
    }
}
