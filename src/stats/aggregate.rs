//! The run's aggregate statistics (Locust's `RequestStats` plus the runner's exceptions), owned by
//! the control thread and fed by merging [`Delta`]s from the worker shards.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::entry::Entry;
use super::errors::{ErrorRow, ExceptionRow};
use super::remote::{RemoteEntry, RemoteError};
use super::shard::Delta;

/// Name and method of the row that totals every request.
pub const AGGREGATED_NAME: &str = "Aggregated";
const AGGREGATED_METHOD: &str = "";
const LOCAL_NODE: &str = "local";

/// Every request, failure and script exception of the run (since the last reset).
#[derive(Clone, Debug)]
pub struct Stats {
    start_time: f64,
    /// Keyed (name, method) so iteration order is Locust's `sorted(entries)`.
    entries: BTreeMap<(String, String), Entry>,
    total: Entry,
    errors: FxHashMap<(String, String, String), ErrorRow>,
    /// First-seen order, which Locust's exceptions report keeps.
    exceptions: Vec<ExceptionRow>,
    exception_index: FxHashMap<(String, String), usize>,
    /// Keep only the "Aggregated" row (see [`Stats::totals_only`]).
    totals_only: bool,
    /// Rows other than the overflow rows, which the row cap counts.
    named_rows: usize,
}

impl Stats {
    pub fn new(now_unix: f64) -> Self {
        Self {
            start_time: now_unix,
            entries: BTreeMap::new(),
            total: Entry::new(AGGREGATED_METHOD, AGGREGATED_NAME, now_unix),
            errors: FxHashMap::default(),
            exceptions: Vec::new(),
            exception_index: FxHashMap::default(),
            totals_only: false,
            named_rows: 0,
        }
    }

    /// Stats that keep only the "Aggregated" row, errors and exceptions aside: the charts'
    /// percentile windows need no per-name rows, and would otherwise hold a copy of every row.
    pub fn totals_only(now_unix: f64) -> Self {
        Self {
            totals_only: true,
            ..Self::new(now_unix)
        }
    }

    /// Adds one shard's interval; deltas may arrive in any order. A delta recorded before a
    /// [`Stats::reset`] but merged after it lands in the new period, as Locust's worker reports do.
    pub fn merge(&mut self, delta: Delta) {
        if self.totals_only {
            for de in &delta.entries {
                self.total.absorb(&de.acc, &de.seconds);
            }
            self.refresh_run_last_request_timestamp();
            return;
        }
        for de in delta.entries {
            let name = self.admit(de.name, &de.method);
            for (error, tally) in de.errors {
                let key = (de.method.clone(), name.clone(), error);
                self.absorb_error(key, tally.occurrences, tally.first_seen, tally.last_seen);
            }
            self.entry_mut(name, de.method).absorb(&de.acc, &de.seconds);
            self.total.absorb(&de.acc, &de.seconds);
        }
        for exc in delta.exceptions {
            self.absorb_exception(exc.msg, exc.traceback, exc.count, LOCAL_NODE);
        }
        self.refresh_run_last_request_timestamp();
    }

    /// Adds rows and errors reported by another node (see [`RemoteEntry`]); the master's merge of
    /// a worker's `stats` message.
    pub fn merge_remote(&mut self, entries: Vec<RemoteEntry>, errors: Vec<RemoteError>) {
        for remote in entries {
            let (start, approximate) = (remote.row.start_time, remote.approximate);
            let method = remote.row.method.clone();
            let name = self.admit(remote.row.name.clone(), &method);
            let (acc, seconds) = remote.into_parts();
            let entry = self.entry_mut(name, method);
            entry.absorb(&acc, &seconds);
            entry.absorb_remote_meta(start, approximate);
            self.total.absorb(&acc, &seconds);
            self.total.absorb_remote_meta(start, approximate);
        }
        for e in errors {
            // Locust before 2.44 sent no first/last seen; the other one, or the run start, stands in.
            let first = e.first_seen.or(e.last_seen).unwrap_or(self.start_time);
            let last = e.last_seen.unwrap_or(first);
            let name = self.admit(e.name, &e.method);
            self.absorb_error((e.method, name, e.error), e.occurrences, first, last);
        }
        self.refresh_run_last_request_timestamp();
    }

    /// One script exception reported by worker `node` (Locust's `exception` message).
    pub fn record_remote_exception(&mut self, node: &str, msg: &str, traceback: &str) {
        self.absorb_exception(msg.to_owned(), traceback.to_owned(), 1, node);
    }

    /// The row a (name, method) sample goes to: its own, or past the row cap the overflow row.
    fn admit(&self, name: String, method: &str) -> String {
        if self.named_rows < super::limit::max_rows() {
            return name;
        }
        let key = (name, method.to_owned());
        if self.entries.contains_key(&key) {
            return key.0;
        }
        super::limit::admit(&key.0, self.named_rows).to_owned()
    }

    fn entry_mut(&mut self, name: String, method: String) -> &mut Entry {
        let start_time = self.start_time;
        let named = &mut self.named_rows;
        self.entries
            .entry((name, method))
            .or_insert_with_key(|(name, method)| {
                if name != super::limit::OVERFLOW_NAME {
                    *named += 1;
                }
                Entry::new(method, name, start_time)
            })
    }

    fn absorb_error(&mut self, key: (String, String, String), n: u64, first: f64, last: f64) {
        let key = if self.errors.len() < super::limit::max_rows() || self.errors.contains_key(&key)
        {
            key
        } else {
            // One row per method past the cap, however many names and texts come.
            let (method, _, _) = key;
            let (name, error) = (super::limit::OVERFLOW_NAME, super::limit::OVERFLOW_ERROR);
            (method, name.to_owned(), error.to_owned())
        };
        match self.errors.get_mut(&key) {
            Some(row) => row.absorb(n, first, last),
            None => {
                let (method, name, error) = key.clone();
                let row = ErrorRow {
                    method,
                    name,
                    error,
                    occurrences: n,
                    first_seen: first,
                    last_seen: last,
                };
                self.errors.insert(key, row);
            }
        }
    }

    fn absorb_exception(&mut self, msg: String, traceback: String, count: u64, node: &str) {
        let key = (msg, traceback);
        match self.exception_index.get(&key) {
            Some(&i) => {
                if let Some(row) = self.exceptions.get_mut(i) {
                    row.count = row.count.saturating_add(count);
                    if !row.nodes.split(", ").any(|n| n == node) {
                        row.nodes = format!("{}, {node}", row.nodes);
                    }
                }
            }
            None => {
                self.exception_index
                    .insert(key.clone(), self.exceptions.len());
                self.exceptions.push(ExceptionRow {
                    count,
                    msg: key.0,
                    traceback: key.1,
                    nodes: node.to_owned(),
                });
            }
        }
    }

    fn refresh_run_last_request_timestamp(&mut self) {
        let last = self.total.last_request_timestamp();
        self.total.set_run_last_request_timestamp(last);
        for entry in self.entries.values_mut() {
            entry.set_run_last_request_timestamp(last);
        }
    }

    /// Locust's "Reset stats" (`reset_all`, plus the runner's exceptions): every (method, name) row
    /// stays, zeroed, so tables and CSV keep listing the endpoints with zero counts until they
    /// count again; errors and exceptions are forgotten; the stats restart now.
    pub fn reset(&mut self, now_unix: f64) {
        let rows = std::mem::take(&mut self.entries);
        let named_rows = self.named_rows;
        self.clear(now_unix);
        self.named_rows = named_rows;
        self.entries = rows
            .into_keys()
            .map(|(name, method)| {
                let row = Entry::new(&method, &name, now_unix);
                ((name, method), row)
            })
            .collect();
    }

    /// Locust's `clear_all` (a new test): forget every row, error and exception.
    pub fn clear(&mut self, now_unix: f64) {
        let totals_only = self.totals_only;
        *self = Stats::new(now_unix);
        self.totals_only = totals_only;
    }

    /// Entries sorted by (name, method), like Locust.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub fn entry(&self, method: &str, name: &str) -> Option<&Entry> {
        self.entries.get(&(name.to_owned(), method.to_owned()))
    }

    /// The "Aggregated" row (method `""`), counting every request.
    pub fn total(&self) -> &Entry {
        &self.total
    }

    /// Failures, most frequent first (ties by method, name, error so output is stable).
    pub fn errors(&self) -> impl Iterator<Item = &ErrorRow> {
        let mut rows: Vec<&ErrorRow> = self.errors.values().collect();
        rows.sort_by(|a, b| {
            b.occurrences
                .cmp(&a.occurrences)
                .then_with(|| (&a.method, &a.name, &a.error).cmp(&(&b.method, &b.name, &b.error)))
        });
        rows.into_iter()
    }

    /// Script exceptions in first-seen order.
    pub fn exceptions(&self) -> impl Iterator<Item = &ExceptionRow> {
        self.exceptions.iter()
    }

    pub fn start_time(&self) -> f64 {
        self.start_time
    }

    pub fn has_failures(&self) -> bool {
        self.total.num_failures() > 0
    }

    pub fn has_exceptions(&self) -> bool {
        !self.exceptions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Shard;

    /// Deterministic pseudo-random numbers (xorshift) so failures are reproducible.
    struct Rng(u64);
    impl Rng {
        fn next_f64(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Locust's percentile over raw samples: sorted[min(int(n*q), n-1)].
    fn brute_force(sorted: &[f64], q: f64) -> f64 {
        let rank = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
        sorted[rank]
    }

    fn within_hdr_precision(got: f64, want: f64) -> bool {
        // 0.1% from 3 significant digits, plus half a microsecond of quantization.
        (got - want).abs() <= want * 0.001 + 0.0005
    }

    #[test]
    fn percentiles_match_brute_force() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut shard = Shard::new();
        let mut samples = Vec::new();
        for i in 0..20_000 {
            // Log-uniform from 0.05 ms to 20 s, to cover several HDR magnitudes.
            let ms = 0.05 * (400_000f64).powf(rng.next_f64());
            let ms = (ms * 1000.0).round() / 1000.0;
            samples.push(ms);
            shard.record_at("GET", "/p", ms, 0, None, 1_000.0 + i as f64 / 1000.0);
        }
        let mut stats = Stats::new(1_000.0);
        stats.merge(shard.take());
        samples.sort_by(f64::total_cmp);
        assert!(stats.entry("GET", "/p").is_some());
        for q in [
            0.0, 0.01, 0.25, 0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
        ] {
            let want = brute_force(&samples, q);
            for e in [stats.entry("GET", "/p"), Some(stats.total())]
                .into_iter()
                .flatten()
            {
                let got = e.percentile(q);
                assert!(
                    within_hdr_precision(got, want),
                    "q={q}: got {got}, want {want}"
                );
            }
        }
        assert_eq!(stats.total().min_response_time(), samples.first().copied());
        assert_eq!(
            stats.total().max_response_time(),
            samples.last().copied().unwrap_or(0.0)
        );
    }

    #[test]
    fn merging_two_shards_equals_one_shard() {
        let mut rng = Rng(42);
        let (mut a, mut b, mut one) = (Shard::new(), Shard::new(), Shard::new());
        for i in 0..5_000 {
            let ms = rng.next_f64() * 900.0;
            let name = if i % 3 == 0 { "/a" } else { "/b" };
            let error = (i % 7 == 0).then_some("boom");
            let at = 50.0 + i as f64 / 100.0;
            one.record_at("GET", name, ms, i, error, at);
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.record_at("GET", name, ms, i, error, at);
        }
        a.record_exception("E", "tb");
        one.record_exception("E", "tb");

        let mut split = Stats::new(50.0);
        split.merge(b.take());
        split.merge(a.take());
        let mut single = Stats::new(50.0);
        single.merge(one.take());

        let qs = [0.5, 0.9, 0.99, 1.0];
        let rows = |s: &Stats| -> Vec<String> {
            s.entries()
                .chain(std::iter::once(s.total()))
                .map(|e| {
                    format!(
                        "{} {} {} {} {:.6} {:?} {} {} {:?} {:?} {:?} {:?}",
                        e.method,
                        e.name,
                        e.num_requests(),
                        e.num_failures(),
                        e.total_response_time(),
                        e.min_response_time(),
                        e.max_response_time(),
                        e.total_content_length(),
                        e.percentiles(&qs),
                        e.locust_response_times(),
                        e.to_locust_dict().num_reqs_per_sec,
                        e.last_request_timestamp(),
                    )
                })
                .collect()
        };
        assert_eq!(rows(&split), rows(&single));
        assert_eq!(
            split.errors().collect::<Vec<_>>(),
            single.errors().collect::<Vec<_>>()
        );
        assert_eq!(
            split.exceptions().collect::<Vec<_>>(),
            single.exceptions().collect::<Vec<_>>()
        );
        assert_eq!(split.total().num_requests(), 5_000);
    }

    #[test]
    fn min_and_max_are_exact() {
        let mut shard = Shard::new();
        for ms in [12.3456, 7.5687988251471605, 194.43815219720392, 50.0] {
            shard.record_at("GET", "/x", ms, 0, None, 10.0);
        }
        let mut stats = Stats::new(10.0);
        stats.merge(shard.take());
        let e = stats.entry("GET", "/x");
        assert_eq!(
            e.and_then(|e| e.min_response_time()),
            Some(7.5687988251471605)
        );
        assert_eq!(e.map(|e| e.max_response_time()), Some(194.43815219720392));
        assert_eq!(e.map(|e| e.percentile(1.0)), Some(194.43815219720392));
        assert_eq!(e.map(|e| e.percentile(0.0)), Some(7.5687988251471605));
    }

    #[test]
    fn entries_sorted_by_name_then_method_and_total_counts_all() {
        let mut shard = Shard::new();
        for (m, n) in [
            ("POST", "/b"),
            ("GET", "/b"),
            ("GET", "/a"),
            ("DELETE", "/c"),
        ] {
            shard.record_at(m, n, 1.0, 0, None, 1.0);
        }
        let mut stats = Stats::new(1.0);
        stats.merge(shard.take());
        let order: Vec<(&str, &str)> = stats
            .entries()
            .map(|e| (e.name.as_str(), e.method.as_str()))
            .collect();
        assert_eq!(
            order,
            vec![
                ("/a", "GET"),
                ("/b", "GET"),
                ("/b", "POST"),
                ("/c", "DELETE")
            ]
        );
        assert_eq!(stats.total().num_requests(), 4);
        assert_eq!(
            (stats.total().name.as_str(), stats.total().method.as_str()),
            ("Aggregated", "")
        );
    }

    #[test]
    fn errors_grouped_with_first_and_last_seen() {
        let mut s1 = Shard::new();
        let mut s2 = Shard::new();
        s1.record_at("GET", "/a", 1.0, 0, Some("500"), 20.0);
        s1.record_at("GET", "/a", 1.0, 0, Some("500"), 25.0);
        s2.record_at("GET", "/a", 1.0, 0, Some("500"), 15.0);
        s2.record_at("POST", "/a", 1.0, 0, Some("500"), 16.0);
        s2.record_at("GET", "/a", 1.0, 0, Some("timeout"), 17.0);
        s2.record_at("GET", "/a", 1.0, 0, None, 17.0);
        let mut stats = Stats::new(10.0);
        stats.merge(s1.take());
        stats.merge(s2.take());
        let rows: Vec<_> = stats.errors().collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            *rows[0],
            ErrorRow {
                method: "GET".into(),
                name: "/a".into(),
                error: "500".into(),
                occurrences: 3,
                first_seen: 15.0,
                last_seen: 25.0
            }
        );
        assert!(rows[1..].iter().all(|r| r.occurrences == 1));
        assert!(stats.has_failures());
        assert_eq!(stats.total().num_failures(), 5);
        assert_eq!(stats.total().num_requests(), 6);
    }

    #[test]
    fn reset_keeps_the_rows_zeroed() {
        let mut shard = Shard::new();
        shard.record_at("GET", "/a", 1.0, 0, Some("x"), 20.0);
        shard.record_at("POST", "/b", 2.0, 10, None, 21.0);
        shard.record_exception("E", "tb");
        let mut stats = Stats::new(10.0);
        stats.merge(shard.take());
        stats.reset(30.0);
        let rows: Vec<_> = stats
            .entries()
            .map(|e| (e.method.as_str(), e.name.as_str(), e.num_requests()))
            .collect();
        assert_eq!(rows, [("GET", "/a", 0), ("POST", "/b", 0)]);
        for e in stats.entries().chain([stats.total()]) {
            assert_eq!(e.start_time(), 30.0);
            assert_eq!((e.num_failures(), e.min_response_time()), (0, None));
            assert_eq!((e.total_content_length(), e.max_response_time()), (0, 0.0));
            assert!(!e.has_response_times() && e.last_request_timestamp().is_none());
        }
        assert_eq!(stats.errors().count(), 0);
        assert!(!stats.has_failures() && !stats.has_exceptions());

        // The kept rows count again.
        shard.record_at("GET", "/a", 3.0, 0, None, 31.0);
        stats.merge(shard.take());
        assert_eq!(stats.entry("GET", "/a").map(Entry::num_requests), Some(1));
        assert_eq!(stats.entry("POST", "/b").map(Entry::num_requests), Some(0));
        assert_eq!(stats.total().num_requests(), 1);
    }

    #[test]
    fn clear_forgets_everything() {
        let mut shard = Shard::new();
        shard.record_at("GET", "/a", 1.0, 0, Some("x"), 20.0);
        shard.record_exception("E", "tb");
        let mut stats = Stats::new(10.0);
        stats.merge(shard.take());
        assert!(stats.has_failures() && stats.has_exceptions());
        stats.clear(30.0);
        assert_eq!(stats.entries().count(), 0);
        assert_eq!(stats.errors().count(), 0);
        assert!(!stats.has_failures() && !stats.has_exceptions());
        assert_eq!(stats.total().num_requests(), 0);
        assert_eq!(stats.start_time(), 30.0);
        assert_eq!(stats.total().start_time(), 30.0);

        shard.record_at("GET", "/a", 1.0, 0, None, 31.0);
        stats.merge(shard.take());
        assert_eq!(stats.entry("GET", "/a").map(|e| e.start_time()), Some(30.0));
        assert_eq!(stats.total().num_requests(), 1);
    }

    #[test]
    fn total_rps_divides_by_run_duration_for_every_row() {
        let mut shard = Shard::new();
        shard.record_at("GET", "/early", 1.0, 0, None, 101.0);
        shard.record_at("GET", "/late", 1.0, 0, None, 110.0);
        let mut stats = Stats::new(100.0);
        stats.merge(shard.take());
        assert_eq!(
            stats.entry("GET", "/early").map(|e| e.total_rps()),
            Some(0.1)
        );
        assert_eq!(stats.total().total_rps(), 0.2);
    }

    #[test]
    fn exceptions_accumulate_in_first_seen_order() {
        let mut a = Shard::new();
        let mut b = Shard::new();
        a.record_exception("B", "tb");
        b.record_exception("A", "tb");
        b.record_exception("B", "tb");
        let mut stats = Stats::new(0.0);
        stats.merge(a.take());
        stats.merge(b.take());
        let rows: Vec<(&str, u64, &str)> = stats
            .exceptions()
            .map(|e| (e.msg.as_str(), e.count, e.nodes.as_str()))
            .collect();
        assert_eq!(rows, vec![("B", 2, "local"), ("A", 1, "local")]);
    }

    #[test]
    fn remote_exceptions_list_their_nodes_once() {
        let mut stats = Stats::new(0.0);
        for node in ["w1", "w2", "w1"] {
            stats.record_remote_exception(node, "E", "tb");
        }
        let rows: Vec<(u64, &str)> = stats
            .exceptions()
            .map(|e| (e.count, e.nodes.as_str()))
            .collect();
        assert_eq!(rows, vec![(3, "w1, w2")]);
    }

    #[test]
    fn no_panic_on_nan_negative_huge() {
        let mut shard = Shard::new();
        for rt in [f64::NAN, -5.0, 1e300, f64::INFINITY, 3.0] {
            shard.record_at("GET", "/w", rt, 1, None, 10.0);
        }
        let mut stats = Stats::new(10.0);
        stats.merge(shard.take());
        let e = stats.total();
        assert_eq!(e.num_requests(), 5);
        assert_eq!(e.num_none_requests(), 1);
        assert_eq!(e.min_response_time(), Some(0.0));
        assert_eq!(e.max_response_time(), crate::stats::MAX_RESPONSE_TIME_MS);
        assert!(e.avg_response_time().is_finite());
        assert!(e.percentile(0.99) <= crate::stats::MAX_RESPONSE_TIME_MS);
        assert!(e.to_locust_json().is_object());
    }
}
