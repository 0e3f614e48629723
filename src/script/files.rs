//! The files a scenario is made of (Locust's `-f a.py,b.py`): each is read with the directory its
//! `import`s resolve against. Directories are expanded by the options layer
//! (`options::spec::scenario_files`), before the loader sees the list.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::ScriptError;

/// The largest scenario file read: far more than any script (a 16 MiB one takes seconds to
/// compile), far less than what would hurt.
pub const MAX_SCENARIO_BYTES: u64 = 16 * 1024 * 1024;

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
    /// Read a scenario file, at most [`MAX_SCENARIO_BYTES`] of it: `/dev/zero` or a huge file
    /// given by mistake is an error, not a process that grows until memory runs out.
    pub fn read(path: &Path) -> Result<Source, ScriptError> {
        let file = path.display().to_string();
        let read_err = |e| ScriptError::Read {
            path: file.clone(),
            source: e,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_SCENARIO_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_SCENARIO_BYTES {
            return Err(ScriptError::TooLarge {
                path: file,
                limit_mib: MAX_SCENARIO_BYTES >> 20,
            });
        }
        let src = String::from_utf8(bytes).map_err(|e| {
            read_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            ))
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
