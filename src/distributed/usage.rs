//! This process's CPU and memory use, for a worker's heartbeat: `current_cpu_usage` is psutil's
//! process `cpu_percent()` (percent of one core since the previous reading, so 100 = one busy
//! core) and `current_memory_usage` the resident set size in bytes. Read from `/proc/self/stat`
//! and `/proc/self/statm`; elsewhere (no /proc) both are 0.

use std::time::Instant;

/// Successive CPU readings of this process.
pub struct ProcessUsage {
    last: Option<(Instant, u64)>,
    ticks_per_second: f64,
    page_bytes: u64,
}

impl Default for ProcessUsage {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessUsage {
    pub fn new() -> ProcessUsage {
        // SAFETY: sysconf only reads a configuration value.
        let (tck, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        ProcessUsage {
            last: None,
            ticks_per_second: if tck > 0 { tck as f64 } else { 100.0 },
            page_bytes: if page > 0 { page as u64 } else { 4096 },
        }
    }

    /// Percent of one core used since the previous call; 0 on the first call (as psutil).
    pub fn cpu_percent(&mut self) -> f64 {
        let Some(ticks) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| cpu_ticks(&s))
        else {
            return 0.0;
        };
        let now = Instant::now();
        let pct = match self.last {
            Some((then, before)) => {
                let wall = now.duration_since(then).as_secs_f64();
                let cpu = ticks.saturating_sub(before) as f64 / self.ticks_per_second;
                if wall > 0.0 {
                    100.0 * cpu / wall
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, ticks));
        pct
    }

    /// Resident set size in bytes.
    pub fn rss_bytes(&self) -> u64 {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |pages| pages.saturating_mul(self.page_bytes))
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ticks_after_the_command_name() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_ticks(line), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn measures_this_process() {
        let mut u = ProcessUsage::new();
        assert_eq!(u.cpu_percent(), 0.0);
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed().as_millis() < 200 {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let pct = u.cpu_percent();
        if std::path::Path::new("/proc/self/stat").exists() {
            // Other processes share the cores: only "clearly busy" is certain.
            assert!(pct > 5.0 && pct < 400.0, "{pct}");
            assert!(u.rss_bytes() > 1 << 20);
        }
    }
}
