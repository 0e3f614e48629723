//! `logging::init` with `LogOptions`: `--logfile` appends Locust-style lines to the file (creating
//! it; an existing file keeps its content) instead of stderr, a missing directory or an unwritable
//! path is refused naming the path and leaves logging as it was, and `--skip-log-setup` leaves our
//! logger silent. One test: the logger is process-wide, so the steps must not interleave.

use log::LevelFilter;
use rustlocust::logging::{self, LogOptions};

fn to_file(path: &std::path::Path, level: LevelFilter) -> LogOptions {
    LogOptions {
        level,
        file: Some(path.to_path_buf()),
        skip_setup: false,
    }
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn logfile_appends_bad_paths_are_refused_and_skip_setup_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    std::fs::write(&path, "earlier line\n").unwrap();

    logging::init(&to_file(&path, LevelFilter::Info)).unwrap();
    log::info!("to the file");
    log::debug!("below the level");
    let text = read(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "earlier line");
    assert!(lines[1].starts_with('['), "{text}");
    assert!(lines[1].ends_with("] INFO/logging: to the file"), "{text}");
    // The web UI's Logs tab still sees the lines.
    assert!(logging::recent_lines()
        .iter()
        .any(|l| l.ends_with("to the file")));

    // A log file that cannot be opened: an error naming it, and the old file keeps logging.
    let missing = dir.path().join("no/such/dir/run.log");
    let err = logging::init(&to_file(&missing, LevelFilter::Debug)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open the log file '{}': the directory '{}' does not exist",
            missing.display(),
            dir.path().join("no/such/dir").display()
        )
    );
    let is_dir = dir.path().to_path_buf();
    let err = logging::init(&to_file(&is_dir, LevelFilter::Debug)).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot open the log file '{}': ",
            is_dir.display()
        )),
        "{err}"
    );
    assert_eq!(log::max_level(), LevelFilter::Info);
    log::info!("still to the file");
    assert!(read(&path).ends_with("still to the file\n"));

    // --skip-log-setup: nothing of ours is written any more.
    let before = read(&path);
    let skip = LogOptions {
        skip_setup: true,
        ..to_file(&path, LevelFilter::Info)
    };
    logging::init(&skip).unwrap();
    log::warn!("nobody hears this");
    assert_eq!(read(&path), before);
    assert_eq!(log::max_level(), LevelFilter::Off);
}
