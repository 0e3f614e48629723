//! A scenario made of several files: a temp dir holding them, named by the directory (what
//! `-f DIR` passes), for the multi-file loader's behaviour tests.

use super::Scenario;

/// A temp dir with `files` (name, text) written into it; names may contain `/` for subdirectories.
/// The returned scenario's `path` is the directory itself.
pub fn scenario_dir(files: &[(&str, &str)]) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
    }
    let path = dir.path().to_path_buf();
    Scenario { dir, path }
}
