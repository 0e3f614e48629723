//! Locust-style console tables: the request stats table, the percentile table and the error
//! report, laid out with the same column widths as Locust 2.47 (as printed when stdout is not a
//! terminal, i.e. an 80-character name column).

use std::io::{self, Write};
use std::time::Duration;

use super::format::{format_ms, readable_percentile};
use crate::stats::{Entry, Stats, PERCENTILES_TO_REPORT};

const TYPE_WIDTH: usize = 8;
/// Locust's `STATS_NAME_WIDTH` outside a terminal.
const NAME_WIDTH: usize = 80;
/// The stats table gives the name column the space saved by its compact numeric columns.
const STATS_NAME_COLUMN: usize = NAME_WIDTH - TYPE_WIDTH + 4;
const OCCURRENCES_WIDTH: usize = 18;

/// The `Type Name # reqs # fails | Avg Min Max Med | req/s failures/s` table, one row per entry
/// and the Aggregated row last, followed by a blank line.
///
/// `current` shows the rates of roughly the last 10 s (while running); otherwise the rates over
/// the whole run (the final summary). Latencies below 100 ms keep 3 significant digits where
/// Locust truncates to whole milliseconds.
pub fn write_stats_table(
    w: &mut impl Write,
    stats: &Stats,
    now: f64,
    current: bool,
) -> io::Result<()> {
    writeln!(
        w,
        "{:<TYPE_WIDTH$} {:<STATS_NAME_COLUMN$} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7} {:>11}",
        "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s"
    )?;
    let separator = [TYPE_WIDTH, STATS_NAME_COLUMN, 7, 13, 7, 7, 7, 7, 8, 11]
        .iter()
        .map(|n| "-".repeat(*n))
        .collect::<Vec<_>>()
        .join("|");
    writeln!(w, "{separator}")?;
    for entry in stats.entries() {
        write_stats_row(w, entry, now, current)?;
    }
    writeln!(w, "{separator}")?;
    write_stats_row(w, stats.total(), now, current)?;
    writeln!(w)
}

fn write_stats_row(w: &mut impl Write, e: &Entry, now: f64, current: bool) -> io::Result<()> {
    let (rps, fail_per_sec) = if current {
        (e.current_rps(now), e.current_fail_per_sec(now))
    } else {
        (e.total_rps(), e.total_fail_per_sec())
    };
    let kind = if e.method.is_empty() {
        String::new()
    } else {
        format!("{} ", e.method)
    };
    let fails = format!("{}({:.2}%)", e.num_failures(), e.fail_ratio() * 100.0);
    writeln!(
        w,
        "{:<TYPE_WIDTH$} {:<STATS_NAME_COLUMN$} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7.2} {:>11.2}",
        kind,
        e.name,
        e.num_requests(),
        fails,
        format_ms(e.avg_response_time()),
        format_ms(e.min_response_time().unwrap_or(0.0)),
        format_ms(e.max_response_time()),
        format_ms(e.median_response_time()),
        rps,
        fail_per_sec,
    )
}

/// "Response time percentiles (approximated)": 50% … 100% and `# reqs` for every entry with timed
/// requests, then the Aggregated row, then a blank line.
pub fn write_percentiles_table(w: &mut impl Write, stats: &Stats) -> io::Result<()> {
    writeln!(w, "Response time percentiles (approximated)")?;
    let mut headers: Vec<String> = PERCENTILES_TO_REPORT
        .iter()
        .map(|q| readable_percentile(*q))
        .collect();
    headers.push("# reqs".to_owned());
    write_percentile_line(w, "Type", "Name", &headers)?;
    let mut separator = format!(
        "{}|{}|{}",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(NAME_WIDTH),
        "-".repeat(8)
    );
    for _ in 0..PERCENTILES_TO_REPORT.len() {
        separator.push('|');
        separator.push_str(&"-".repeat(6));
    }
    writeln!(w, "{separator}")?;
    for entry in stats.entries().filter(|e| e.has_response_times()) {
        write_percentile_row(w, entry)?;
    }
    writeln!(w, "{separator}")?;
    if stats.total().has_response_times() {
        write_percentile_row(w, stats.total())?;
    }
    writeln!(w)
}

fn write_percentile_row(w: &mut impl Write, e: &Entry) -> io::Result<()> {
    let mut cells: Vec<String> = e
        .percentiles(&PERCENTILES_TO_REPORT)
        .into_iter()
        .map(format_ms)
        .collect();
    cells.push(e.num_requests().to_string());
    write_percentile_line(w, &e.method, &e.name, &cells)
}

/// Locust's layout: the first value gets 8 characters, every later one 6.
fn write_percentile_line(
    w: &mut impl Write,
    kind: &str,
    name: &str,
    cells: &[String],
) -> io::Result<()> {
    write!(w, "{kind:<TYPE_WIDTH$} {name:<NAME_WIDTH$}")?;
    for (i, cell) in cells.iter().enumerate() {
        let width = if i == 0 { 8 } else { 6 };
        write!(w, " {cell:>width$}")?;
    }
    writeln!(w)
}

/// The "Error report" (`# occurrences`, `METHOD name: error`), most frequent first, then the
/// script exceptions with their tracebacks. Writes nothing when there are neither.
pub fn write_error_report(w: &mut impl Write, stats: &Stats) -> io::Result<()> {
    let separator = format!(
        "{}|{}",
        "-".repeat(OCCURRENCES_WIDTH),
        "-".repeat(NAME_WIDTH + 80 - OCCURRENCES_WIDTH - 1)
    );
    if stats.errors().next().is_some() {
        writeln!(w, "Error report")?;
        writeln!(
            w,
            "{:<OCCURRENCES_WIDTH$} {:<100}",
            "# occurrences", "Error"
        )?;
        writeln!(w, "{separator}")?;
        for error in stats.errors() {
            writeln!(
                w,
                "{:<OCCURRENCES_WIDTH$} {:<100}",
                error.occurrences,
                error.to_name()
            )?;
        }
        writeln!(w, "{separator}")?;
        writeln!(w)?;
    }
    if stats.has_exceptions() {
        writeln!(w, "Exception report")?;
        writeln!(
            w,
            "{:<OCCURRENCES_WIDTH$} {:<100}",
            "# occurrences", "Exception"
        )?;
        writeln!(w, "{separator}")?;
        let indent = " ".repeat(OCCURRENCES_WIDTH + 1);
        for exc in stats.exceptions() {
            writeln!(w, "{:<OCCURRENCES_WIDTH$} {}", exc.count, exc.msg)?;
            for line in exc.traceback.lines() {
                writeln!(w, "{indent}{line}")?;
            }
        }
        writeln!(w, "{separator}")?;
        writeln!(w)?;
    }
    Ok(())
}

/// How often a running test's table is printed (Locust's stats printer).
pub const PRINT_EVERY: Duration = Duration::from_secs(2);

/// The running test's table, with the current rates: what headless mode prints every
/// [`PRINT_EVERY`], and web mode with `--print-stats`. Rendered apart from printing so that the
/// caller can let go of the stats before writing to a terminal that may block.
pub fn current_table(stats: &Stats, now: f64) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = write_stats_table(&mut out, stats, now, true);
    out
}

/// Print console tables: to stdout, or to stderr when stdout carries the `--json` output. A closed
/// stream must not stop the test, so write errors are ignored.
pub fn emit(bytes: &[u8], to_stderr: bool) {
    if to_stderr {
        let _ = std::io::stderr().write_all(bytes);
    } else {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(bytes);
        let _ = o.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Shard;

    fn sample_stats() -> Stats {
        let mut shard = Shard::new();
        for i in 0..10 {
            shard.record_at("GET", "/x", 10.0 + i as f64, 5, None, 100.0 + i as f64);
        }
        shard.record_at("POST", "/y", 0.412, 0, Some("Exception('nope')"), 105.0);
        shard.record_exception(
            "ZeroDivisionError: division by zero",
            "Traceback:\n  line 1\n  line 2",
        );
        let mut stats = Stats::new(100.0);
        stats.merge(shard.take());
        stats
    }

    fn render(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut buf = Vec::new();
        assert!(f(&mut buf).is_ok());
        String::from_utf8(buf).unwrap_or_default()
    }

    #[test]
    fn stats_table_rows_and_alignment() {
        let stats = sample_stats();
        let out = render(|w| write_stats_table(w, &stats, 112.5, false));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 7, "{out}");
        assert!(lines[0].starts_with("Type     Name "));
        assert!(lines[2].starts_with("GET      /x "));
        assert!(lines[3].starts_with("POST     /y "));
        assert!(lines[5].starts_with("         Aggregated "));
        assert_eq!(lines[6], "");
        // Header, rows and separators share one width; header and rows share the `|` columns.
        let bars = |l: &str| l.match_indices('|').map(|(i, _)| i).collect::<Vec<_>>();
        for row in [lines[2], lines[3], lines[5]] {
            assert_eq!(bars(lines[0]), bars(row));
            assert_eq!(lines[0].len(), row.len(), "{out}");
        }
        assert_eq!(lines[1].len(), lines[0].len());
        assert!(lines[3].contains("1(100.00%)"));
        assert!(lines[3].contains("0.412"));
        assert!(lines[5].contains(" 11 "));
        // total rps: 11 requests over 9 s.
        assert!(
            lines[5].trim_end().ends_with("1.22        0.11"),
            "{}",
            lines[5]
        );
    }

    #[test]
    fn percentile_table_layout() {
        let stats = sample_stats();
        let out = render(|w| write_percentiles_table(w, &stats));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Response time percentiles (approximated)");
        assert!(lines[1].starts_with("Type     Name"));
        assert!(
            lines[1].trim_end().ends_with("99.9% 99.99%   100% # reqs"),
            "{}",
            lines[1]
        );
        assert!(lines[3].starts_with("GET      /x"));
        assert!(lines[3].trim_end().ends_with("19     10"), "{}", lines[3]);
        assert!(lines[4].starts_with("POST     /y"));
        assert!(lines[6].starts_with("         Aggregated"));
        assert!(
            lines[1..7].iter().all(|l| l.len() == lines[1].len()),
            "{out}"
        );
    }

    #[test]
    fn error_report_lists_errors_and_exceptions() {
        let stats = sample_stats();
        let out = render(|w| write_error_report(w, &stats));
        assert!(out.starts_with("Error report\n# occurrences      Error"));
        assert!(out.contains("\n1                  POST /y: Exception('nope')"));
        assert!(out.contains("Exception report"));
        assert!(out.contains("\n1                  ZeroDivisionError: division by zero\n"));
        assert!(out.contains("\n                     line 2\n"));
    }

    #[test]
    fn empty_stats_render_without_panicking() {
        let stats = Stats::new(0.0);
        let table = render(|w| write_stats_table(w, &stats, 0.0, true));
        assert!(table.contains("Aggregated"));
        assert_eq!(render(|w| write_error_report(w, &stats)), "");
        let pct = render(|w| write_percentiles_table(w, &stats));
        assert_eq!(pct.lines().count(), 5);
    }
}
