//! A tiny `log` backend writing Locust-style lines to stderr, or to a `--logfile`:
//! `[2026-11-26 12:00:00,123] INFO/runner: message`. `--skip-log-setup` installs nothing (as
//! Locust leaves Python's logging alone then).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone};
use log::{Level, LevelFilter, Log, Metadata, Record};

/// Dependencies that log per connection or per handshake: at `-L debug` they would drown our own
/// messages during a load test, so they only get through at `-L trace`.
const NOISY_TARGETS: &[&str] = &[
    "rustls",
    "tokio_rustls",
    "hyper",
    "hyper_util",
    "reqwest",
    "h2",
    "axum",
    "tower",
    "tower_http",
    "mio",
    "cookie_store",
];

/// How the process logs (`-L`, `--logfile`, `--skip-log-setup`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogOptions {
    pub level: LevelFilter,
    /// Append the lines to this file (created if missing; its directory must exist) instead of
    /// writing them to stderr, as Locust's `--logfile` does.
    pub file: Option<PathBuf>,
    /// Install no logger: nothing is logged by us (Locust's `--skip-log-setup`).
    pub skip_setup: bool,
}

impl LogOptions {
    /// Lines of `level` and above, to stderr.
    pub fn level(level: LevelFilter) -> LogOptions {
        LogOptions {
            level,
            file: None,
            skip_setup: false,
        }
    }
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions::level(LevelFilter::Info)
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot open the log file '{path}': the directory '{dir}' does not exist")]
    NoDirectory { path: String, dir: String },
    #[error("cannot open the log file '{path}': {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

struct StderrLogger {
    /// A `LevelFilter` as usize, so that a second `init` can change the level of the logger
    /// already installed (the `log` crate allows installing only one per process).
    level: AtomicUsize,
    /// `--logfile`: where lines go instead of stderr.
    file: parking_lot::Mutex<Option<File>>,
}

static LOGGER: OnceLock<&'static StderrLogger> = OnceLock::new();

/// Installs the logger as `opts` say, or reconfigures the one already installed. If some other
/// logger was installed first, that one stays and only the global level changes. The log file is
/// opened before anything changes, so a bad path leaves logging as it was.
pub fn init(opts: &LogOptions) -> Result<(), LogError> {
    if opts.skip_setup {
        // Ours may be installed already (a second run in this process): silence it.
        if let Some(logger) = LOGGER.get() {
            logger
                .level
                .store(LevelFilter::Off as usize, Ordering::Relaxed);
            log::set_max_level(LevelFilter::Off);
        }
        return Ok(());
    }
    let file = opts.file.as_deref().map(open_log_file).transpose()?;
    let level = opts.level;
    let logger = *LOGGER.get_or_init(|| {
        let logger: &'static StderrLogger = Box::leak(Box::new(StderrLogger {
            level: AtomicUsize::new(level as usize),
            file: parking_lot::Mutex::new(None),
        }));
        // Err means another logger won the race (e.g. a test harness's); nothing to do then.
        let _ = log::set_logger(logger);
        logger
    });
    *logger.file.lock() = file;
    logger.level.store(level as usize, Ordering::Relaxed);
    log::set_max_level(level);
    Ok(())
}

fn open_log_file(path: &Path) -> Result<File, LogError> {
    let shown = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(LogError::NoDirectory {
                path: shown,
                dir: dir.display().to_string(),
            });
        }
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LogError::Open {
            path: shown,
            source,
        })
}

fn level_filter_from_usize(n: usize) -> LevelFilter {
    LevelFilter::iter()
        .find(|l| *l as usize == n)
        .unwrap_or(LevelFilter::Info)
}

/// Whether a record with this target and level passes `max`.
fn enabled_for(target: &str, level: Level, max: LevelFilter) -> bool {
    if level > max {
        return false;
    }
    let crate_name = target.split("::").next().unwrap_or(target);
    if NOISY_TARGETS.contains(&crate_name) {
        return level <= Level::Info || max == LevelFilter::Trace;
    }
    true
}

/// Python's level names, as Locust prints them (`WARNING`, not `WARN`), so grep patterns written
/// for Locust logs keep working.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

/// The last path segment of a module target: `rustlocust::runner::spawn` -> `spawn`.
fn short_target(target: &str) -> &str {
    target.rsplit("::").next().unwrap_or(target)
}

/// One log line, without the trailing newline.
pub fn format_line<Tz: TimeZone>(
    time: &DateTime<Tz>,
    level: Level,
    target: &str,
    message: &std::fmt::Arguments<'_>,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!(
        "[{}] {}/{}: {}",
        time.format("%Y-%m-%d %H:%M:%S,%3f"),
        level_name(level),
        short_target(target),
        message
    )
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let max = level_filter_from_usize(self.level.load(Ordering::Relaxed));
        enabled_for(metadata.target(), metadata.level(), max)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(
            &chrono::Local::now(),
            record.level(),
            record.target(),
            record.args(),
        );
        // One write per line keeps lines from different threads whole; a closed stderr or a full
        // disk must not take the load test down, so write errors are ignored (eprintln! would
        // panic).
        let text = format!("{line}\n");
        match self.file.lock().as_mut() {
            Some(f) => {
                let _ = f.write_all(text.as_bytes());
            }
            None => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
        remember(line);
    }

    fn flush(&self) {
        match self.file.lock().as_mut() {
            Some(f) => {
                let _ = f.flush();
            }
            None => {
                let _ = std::io::stderr().flush();
            }
        }
    }
}

/// How many recent log lines the web UI's Logs tab (`/logs`) can show.
const RECENT_LINES: usize = 500;

static RECENT: parking_lot::Mutex<std::collections::VecDeque<String>> =
    parking_lot::const_mutex(std::collections::VecDeque::new());

fn remember(line: String) {
    let mut r = RECENT.lock();
    if r.len() == RECENT_LINES {
        r.pop_front();
    }
    r.push_back(line);
}

/// The most recent log lines, oldest first (at most 500).
pub fn recent_lines() -> Vec<String> {
    RECENT.lock().iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};

    fn at(ms: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 11, 26)
            .and_then(|d| d.and_hms_milli_opt(12, 0, 0, ms))
            .map(|t| t.and_utc())
            .expect("valid test date")
    }

    #[test]
    fn formats_like_locust() {
        let line = format_line(
            &at(123),
            Level::Info,
            "rustlocust::runner",
            &format_args!("Ramping to {} users", 100),
        );
        assert_eq!(
            line,
            "[2026-11-26 12:00:00,123] INFO/runner: Ramping to 100 users"
        );
    }

    #[test]
    fn pads_milliseconds_and_names_levels_like_python() {
        let line = format_line(&at(7), Level::Warn, "rustlocust", &format_args!("x"));
        assert_eq!(line, "[2026-11-26 12:00:00,007] WARNING/rustlocust: x");
        let line = format_line(&at(0), Level::Error, "a::b::c", &format_args!("boom"));
        assert_eq!(line, "[2026-11-26 12:00:00,000] ERROR/c: boom");
    }

    #[test]
    fn filters_by_level_and_quiets_noisy_dependencies() {
        assert!(enabled_for(
            "rustlocust::app",
            Level::Info,
            LevelFilter::Info
        ));
        assert!(!enabled_for(
            "rustlocust::app",
            Level::Debug,
            LevelFilter::Info
        ));
        assert!(enabled_for(
            "rustlocust::app",
            Level::Debug,
            LevelFilter::Debug
        ));
        assert!(enabled_for("scenario", Level::Debug, LevelFilter::Debug));
        assert!(!enabled_for(
            "rustls::client",
            Level::Debug,
            LevelFilter::Debug
        ));
        assert!(enabled_for(
            "rustls::client",
            Level::Debug,
            LevelFilter::Trace
        ));
        assert!(enabled_for(
            "rustls::client",
            Level::Warn,
            LevelFilter::Debug
        ));
        assert!(!enabled_for("anything", Level::Error, LevelFilter::Off));
    }

    #[test]
    fn init_is_idempotent_and_updates_the_level() {
        let init = |level| assert!(super::init(&LogOptions::level(level)).is_ok());
        init(LevelFilter::Warn);
        assert_eq!(log::max_level(), LevelFilter::Warn);
        init(LevelFilter::Debug);
        assert_eq!(log::max_level(), LevelFilter::Debug);
        let logger = LOGGER.get().expect("installed");
        assert_eq!(
            level_filter_from_usize(logger.level.load(Ordering::Relaxed)),
            LevelFilter::Debug
        );
        // Keep other tests' debug logging out of the test output.
        init(LevelFilter::Error);
        assert_eq!(log::max_level(), LevelFilter::Error);
    }
}
