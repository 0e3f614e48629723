//! Scenario files in a temp dir, and the headless command lines that run them against a target.

use std::path::PathBuf;
use std::process::Command;

use super::csv_files::csv;
use super::process::bin;
use super::target::Target;

/// A temp dir holding a scenario file.
pub struct Scenario {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn scenario(src: &str) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.rhai");
    std::fs::write(&path, src).unwrap();
    Scenario { dir, path }
}

impl Scenario {
    /// The `--csv` prefix `headless` uses.
    pub fn prefix(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// `<prefix>_<kind>.csv` as rows of fields (e.g. `stats`, `failures`, `exceptions`).
    pub fn csv(&self, kind: &str) -> Vec<Vec<String>> {
        csv(&self.prefix(), kind)
    }

    /// The `_exceptions.csv` rows (without the header) whose message contains `needle`.
    pub fn exceptions_with(&self, needle: &str) -> Vec<Vec<String>> {
        let ex = self.csv("exceptions");
        assert_eq!(ex[0], ["Count", "Message", "Traceback", "Nodes"]);
        ex.into_iter()
            .skip(1)
            .filter(|r| r[1].contains(needle))
            .collect()
    }
}

/// `rustlocust <scenario> --headless --only-summary -H <target> <args>`.
pub fn cmd(sc: &Scenario, t: &Target, args: &[&str]) -> Command {
    let mut c = bin();
    c.arg(&sc.path)
        .args(["--headless", "--only-summary", "-H", &t.url()])
        .args(args);
    c
}

/// `rustlocust <scenario> --headless --only-summary -H <target> --csv <dir>/run <args>`.
pub fn headless(sc: &Scenario, t: &Target, args: &[&str]) -> Command {
    let mut c = cmd(sc, t, &["--csv"]);
    c.arg(sc.prefix()).args(args);
    c
}
