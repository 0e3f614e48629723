//! The files a scenario is made of (Locust's `-f a.py,b.py`): each is read with the directory its
//! `import`s resolve against. Directories are expanded by the options layer
//! (`options::spec::scenario_files`), before the loader sees the list.

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
