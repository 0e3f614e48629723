//! Per-thread recording. Each worker thread owns a [`Shard`] (no locks, no sharing); once a second
//! the caller moves its contents out as a [`Delta`] and sends that to the thread owning
//! [`Stats`](super::Stats), which merges it.

use rustc_hash::FxHashMap;

use super::accumulator::{Accumulator, SecondCounts};
use super::histogram::sanitize_response_time;
use super::unix_now;

/// Statistics recorded by one thread since the previous [`Shard::take`].
#[derive(Clone, Debug, Default)]
pub struct Shard {
    /// name → (method, entry): a `&str` lookup and a short scan (a name rarely has more than
    /// one method) find an existing entry without allocating.
    entries: FxHashMap<String, Vec<(String, ShardEntry)>>,
    /// message → traceback → count.
    exceptions: FxHashMap<String, FxHashMap<String, ShardException>>,
    /// Orders exceptions by first sight, which the exceptions report preserves.
    exception_seq: u64,
    pending: u64,
    /// Distinct (name, method) entries, overflow rows not counted (see `limit.rs`).
    rows: usize,
}

#[derive(Clone, Debug, Default)]
struct ShardEntry {
    acc: Accumulator,
    /// Per-second counts; rarely more than two seconds between takes.
    seconds: Vec<(u64, SecondCounts)>,
    errors: FxHashMap<String, ErrorTally>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ErrorTally {
    pub occurrences: u64,
    pub first_seen: f64,
    pub last_seen: f64,
}

impl ErrorTally {
    fn hit(&mut self, now: f64) {
        if self.occurrences == 0 {
            self.first_seen = now;
            self.last_seen = now;
        }
        self.occurrences += 1;
        self.first_seen = self.first_seen.min(now);
        self.last_seen = self.last_seen.max(now);
    }
}

#[derive(Clone, Debug)]
struct ShardException {
    count: u64,
    seq: u64,
}

/// Everything one shard recorded during one interval. Owned data only, so it can cross threads.
#[derive(Clone, Debug, Default)]
pub struct Delta {
    pub(crate) entries: Vec<DeltaEntry>,
    pub(crate) exceptions: Vec<DeltaException>,
}

#[derive(Clone, Debug)]
pub(crate) struct DeltaEntry {
    pub method: String,
    pub name: String,
    pub acc: Accumulator,
    pub seconds: Vec<(u64, SecondCounts)>,
    pub errors: Vec<(String, ErrorTally)>,
}

#[derive(Clone, Debug)]
pub(crate) struct DeltaException {
    pub msg: String,
    pub traceback: String,
    pub count: u64,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.exceptions.is_empty()
    }

    /// Requests in this delta (all entries).
    pub fn num_requests(&self) -> u64 {
        self.entries.iter().map(|e| e.acc.num_requests).sum()
    }
}

fn sanitize_timestamp(t: f64) -> f64 {
    if t.is_finite() && t > 0.0 {
        t
    } else {
        0.0
    }
}

impl Shard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one request at the current wall-clock time. `error: None` is a success.
    ///
    /// `response_time_ms` is sanitized: `NaN` counts the request without a timing (Locust's
    /// `None`), negatives become 0, values above 24 h are clamped to 24 h.
    pub fn record(
        &mut self,
        method: &str,
        name: &str,
        response_time_ms: f64,
        content_length: u64,
        error: Option<&str>,
    ) {
        self.record_at(
            method,
            name,
            response_time_ms,
            content_length,
            error,
            unix_now(),
        );
    }

    /// [`Shard::record`] with an explicit timestamp (unix seconds), for callers that already read
    /// the clock and for deterministic tests.
    pub fn record_at(
        &mut self,
        method: &str,
        name: &str,
        response_time_ms: f64,
        content_length: u64,
        error: Option<&str>,
        now_unix: f64,
    ) {
        let now = sanitize_timestamp(now_unix);
        let response_time = sanitize_response_time(response_time_ms);
        self.pending += 1;
        if let Some(by_method) = self.entries.get_mut(name) {
            if let Some((_, entry)) = by_method.iter_mut().find(|(m, _)| m == method) {
                entry.record(response_time, content_length, error, now);
                return;
            }
        }
        self.insert_entry(method, name)
            .record(response_time, content_length, error, now);
    }

    /// Drops the entries that recorded nothing since the previous take, and recounts the rows.
    fn evict_idle(&mut self) {
        self.entries.retain(|_, by_method| {
            by_method.retain(|(_, e)| !e.acc.is_empty());
            !by_method.is_empty()
        });
        // A table sized for a burst of one-off names would otherwise stay that size.
        if self.entries.capacity() > 4 * self.entries.len() + 64 {
            self.entries.shrink_to_fit();
        }
        self.rows = self
            .entries
            .iter()
            .filter(|(name, _)| name.as_str() != super::limit::OVERFLOW_NAME)
            .map(|(_, by_method)| by_method.len())
            .sum();
    }

    #[cold]
    fn insert_entry(&mut self, method: &str, name: &str) -> &mut ShardEntry {
        let name = super::limit::admit(name, self.rows);
        let by_method = self.entries.entry(name.to_owned()).or_default();
        let i = match by_method.iter().position(|(m, _)| m == method) {
            Some(i) => i,
            None => {
                if name != super::limit::OVERFLOW_NAME {
                    self.rows += 1;
                }
                if by_method.capacity() == 0 {
                    by_method.reserve_exact(1); // one method per name, nearly always
                }
                by_method.push((method.to_owned(), ShardEntry::default()));
                by_method.len() - 1
            }
        };
        &mut by_method[i].1
    }

    /// A script error raised in a task / on_start, grouped by (message, traceback).
    pub fn record_exception(&mut self, message: &str, traceback: &str) {
        self.pending += 1;
        if let Some(by_tb) = self.exceptions.get_mut(message) {
            if let Some(exc) = by_tb.get_mut(traceback) {
                if exc.count == 0 {
                    exc.seq = self.exception_seq;
                    self.exception_seq += 1;
                }
                exc.count += 1;
                return;
            }
        }
        let seq = self.exception_seq;
        self.exception_seq += 1;
        self.exceptions
            .entry(message.to_owned())
            .or_default()
            .insert(traceback.to_owned(), ShardException { count: 1, seq });
    }

    pub fn is_empty(&self) -> bool {
        self.pending == 0
    }

    /// Everything recorded since the previous take; leaves the shard empty.
    ///
    /// Entries busy during the interval stay allocated (the hot path stays allocation-free for
    /// the names in use); entries, error and exception keys that saw nothing during it are
    /// dropped, so one-off names and messages (ids in URLs) do not accumulate in every thread.
    pub fn take(&mut self) -> Delta {
        let mut delta = Delta::default();
        if self.pending == 0 {
            self.evict_idle();
            return delta;
        }
        self.pending = 0;
        self.evict_idle();
        for (name, by_method) in &mut self.entries {
            for (method, entry) in by_method.iter_mut() {
                if entry.acc.is_empty() {
                    continue;
                }
                let mut errors = Vec::new();
                entry.errors.retain(|error, tally| {
                    if tally.occurrences == 0 {
                        return false;
                    }
                    errors.push((error.clone(), *tally));
                    tally.occurrences = 0;
                    true
                });
                let seconds = entry.seconds.clone();
                entry.seconds.clear();
                delta.entries.push(DeltaEntry {
                    method: method.clone(),
                    name: name.clone(),
                    acc: entry.acc.take(),
                    seconds,
                    errors,
                });
            }
        }
        let mut exceptions: Vec<(u64, DeltaException)> = Vec::new();
        self.exceptions.retain(|msg, by_tb| {
            by_tb.retain(|traceback, exc| {
                if exc.count == 0 {
                    return false;
                }
                exceptions.push((
                    exc.seq,
                    DeltaException {
                        msg: msg.clone(),
                        traceback: traceback.clone(),
                        count: exc.count,
                    },
                ));
                exc.count = 0;
                true
            });
            !by_tb.is_empty()
        });
        exceptions.sort_by_key(|(seq, _)| *seq);
        delta.exceptions = exceptions.into_iter().map(|(_, e)| e).collect();
        delta
    }
}

impl ShardEntry {
    fn record(
        &mut self,
        response_time: Option<f64>,
        content_length: u64,
        error: Option<&str>,
        now: f64,
    ) {
        let failed = error.is_some();
        self.acc.record(response_time, content_length, failed, now);
        let second = now as u64;
        let failures = u64::from(failed);
        if self.seconds.capacity() == 0 {
            self.seconds.reserve_exact(1); // cleared, not freed, by take: once per entry
        }
        match self.seconds.iter_mut().rev().find(|(s, _)| *s == second) {
            Some((_, counts)) => {
                counts.requests += 1;
                counts.failures += failures;
            }
            None => self.seconds.push((
                second,
                SecondCounts {
                    requests: 1,
                    failures,
                },
            )),
        }
        if let Some(error) = error {
            match self.errors.get_mut(error) {
                Some(tally) => tally.hit(now),
                None => {
                    let mut tally = ErrorTally::default();
                    tally.hit(now);
                    self.errors.insert(error.to_owned(), tally);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_static<T: Send + 'static>() {}

    #[test]
    fn delta_can_cross_threads() {
        assert_send_static::<Delta>();
        let mut shard = Shard::new();
        shard.record("GET", "/", 1.0, 0, None);
        let delta = shard.take();
        let n = std::thread::spawn(move || delta.num_requests())
            .join()
            .unwrap_or(0);
        assert_eq!(n, 1);
    }

    #[test]
    fn take_empties_the_shard() {
        let mut shard = Shard::new();
        assert!(shard.is_empty());
        shard.record_at("GET", "/a", 5.0, 10, None, 100.2);
        shard.record_at("GET", "/a", 7.0, 10, Some("boom"), 100.7);
        shard.record_exception("ValueError", "tb");
        assert!(!shard.is_empty());

        let delta = shard.take();
        assert!(shard.is_empty());
        assert_eq!(delta.entries.len(), 1);
        let e = &delta.entries[0];
        assert_eq!((e.acc.num_requests, e.acc.num_failures), (2, 1));
        assert_eq!(
            e.seconds,
            vec![(
                100,
                SecondCounts {
                    requests: 2,
                    failures: 1
                }
            )]
        );
        assert_eq!(e.errors.len(), 1);
        assert_eq!(delta.exceptions.len(), 1);

        let again = shard.take();
        assert!(again.is_empty());
    }

    #[test]
    fn errors_and_exceptions_restart_after_take() {
        let mut shard = Shard::new();
        shard.record_at("GET", "/a", 1.0, 0, Some("e"), 10.0);
        shard.record_at("GET", "/a", 1.0, 0, Some("e"), 12.0);
        let first = shard.take();
        assert_eq!(
            first.entries[0].errors[0].1,
            ErrorTally {
                occurrences: 2,
                first_seen: 10.0,
                last_seen: 12.0
            }
        );
        shard.record_at("GET", "/a", 1.0, 0, Some("e"), 20.0);
        let second = shard.take();
        assert_eq!(
            second.entries[0].errors[0].1,
            ErrorTally {
                occurrences: 1,
                first_seen: 20.0,
                last_seen: 20.0
            }
        );
    }

    #[test]
    fn exceptions_keep_first_seen_order() {
        let mut shard = Shard::new();
        for msg in ["c", "a", "b", "a"] {
            shard.record_exception(msg, "tb");
        }
        shard.record_exception("a", "other tb");
        let delta = shard.take();
        let got: Vec<(&str, &str, u64)> = delta
            .exceptions
            .iter()
            .map(|e| (e.msg.as_str(), e.traceback.as_str(), e.count))
            .collect();
        assert_eq!(
            got,
            vec![
                ("c", "tb", 1),
                ("a", "tb", 2),
                ("b", "tb", 1),
                ("a", "other tb", 1)
            ]
        );
    }

    #[test]
    fn weird_inputs_do_not_panic() {
        let mut shard = Shard::new();
        for rt in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, 1e300, 0.0] {
            shard.record_at("", "", rt, u64::MAX, Some(""), f64::NAN);
        }
        shard.record_at("GET", "/", 1.0, u64::MAX, None, -5.0);
        let delta = shard.take();
        let total: u64 = delta.entries.iter().map(|e| e.acc.num_requests).sum();
        assert_eq!(total, 7);
        let e = delta
            .entries
            .iter()
            .find(|e| e.name.is_empty())
            .map(|e| &e.acc);
        assert_eq!(e.map(|a| a.num_none_requests), Some(1));
        assert_eq!(e.map(|a| a.total_content_length), Some(u64::MAX));
    }
}
