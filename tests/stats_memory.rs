//! What a stats row costs in memory (issue 9, defect 5; issue 12's budget): a name seen once must
//! cost at most 2 KiB across the recording shard and the merged stats, so 10,000 unique names
//! stay well under 40 MB. Measured with a counting allocator: bytes live after minus before.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rustlocust::stats::{
    set_max_rows, LatencyHistogram, RemoteEntry, RemoteError, Shard, Stats, StatsEntryDict,
    OVERFLOW_ERROR, OVERFLOW_NAME,
};

/// Counts the bytes allocated and freed on the current thread only, so tests running on other
/// threads of this binary do not blur the measurement.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the thread-local counter
// is const-initialised and has no destructor, so touching it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|l| l.set(l.get() + layout.size() as isize));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|l| l.set(l.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LIVE.try_with(|l| l.set(l.get() + new_size as isize - layout.size() as isize));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

const NAMES: usize = 10_000;

/// One test, in order: the row cap is a process-wide setting, which a test running beside the
/// measurement would change under it.
#[test]
fn row_memory_and_the_row_cap() {
    a_rarely_hit_row_costs_at_most_1_kib();
    rows_are_capped_in_shards_and_in_every_merge();
}

fn a_rarely_hit_row_costs_at_most_1_kib() {
    let before = live();
    let mut shard = Shard::new();
    let mut stats = Stats::new(1_000.0);
    // Two intervals, each name seen once in one of them with a failure now and then, as with
    // `/item/<id>` URLs: the shard keeps its entries, the stats their rows.
    for round in 0..2 {
        for i in 0..NAMES / 2 {
            let name = format!("/item/{}?id=0123456789abcdef", round * NAMES / 2 + i);
            let error = (i % 10 == 0).then_some("HTTPError('404 Client Error')");
            shard.record_at("GET", &name, 12.5, 512, error, 1_000.0 + round as f64);
        }
        stats.merge(shard.take());
    }
    let with_shard = live();
    let per_row = (with_shard - before) / NAMES as isize;
    // Half of issue 12's 2 KiB budget: other threads' shards hold a name too, but only for
    // the interval it is hit in.
    assert!(per_row <= 1024, "{per_row} bytes per row");
    // An interval in which the names are not seen again: the shard lets them go.
    shard.record_at("GET", "/busy", 1.0, 0, None, 1_003.0);
    stats.merge(shard.take());
    shard.record_at("GET", "/busy", 1.0, 0, None, 1_004.0);
    stats.merge(shard.take());
    let idle = live();
    drop(shard);
    let shard_left = idle - live();
    assert!(
        shard_left < 4096,
        "the shard still holds {shard_left} bytes"
    );
    assert_eq!(stats.entries().count(), NAMES + 1);
    eprintln!("{per_row} bytes per row (shard + stats)");
}

fn remote_row(name: &str) -> RemoteEntry {
    let mut histogram = LatencyHistogram::new();
    histogram.record_ms(5.0);
    RemoteEntry {
        row: StatsEntryDict {
            name: name.into(),
            method: "GET".into(),
            last_request_timestamp: Some(10.0),
            start_time: 10.0,
            num_requests: 1,
            num_none_requests: 0,
            num_failures: 1,
            total_response_time: 5.0,
            max_response_time: 5.0,
            min_response_time: Some(5.0),
            total_content_length: 0,
            response_times: [(5, 1)].into(),
            num_reqs_per_sec: [(10, 1)].into(),
            num_fail_per_sec: [(10, 1)].into(),
        },
        histogram,
        approximate: false,
    }
}

fn rows_are_capped_in_shards_and_in_every_merge() {
    set_max_rows(5);
    // One shard: 5 rows, then the overflow row of each method.
    let mut shard = Shard::new();
    for i in 0..8 {
        shard.record_at(
            "GET",
            &format!("/a/{i}"),
            1.0,
            0,
            Some(&format!("E{i}")),
            10.0,
        );
    }
    shard.record_at("POST", "/p", 1.0, 0, None, 10.0);
    shard.record_at("GET", "/a/0", 1.0, 0, None, 10.0);
    let mut stats = Stats::new(10.0);
    stats.merge(shard.take());
    let rows: Vec<(String, String, u64)> = stats
        .entries()
        .map(|e| (e.method.clone(), e.name.clone(), e.num_requests()))
        .collect();
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert!(
        rows.contains(&("GET".into(), OVERFLOW_NAME.into(), 3)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("POST".into(), OVERFLOW_NAME.into(), 1)),
        "{rows:?}"
    );
    assert!(rows.contains(&("GET".into(), "/a/0".into(), 2)), "{rows:?}");
    assert_eq!(stats.total().num_requests(), 10);
    // Two shards under the cap each, over it together; and a master merging a worker's rows.
    let mut other = Shard::new();
    for i in 0..4 {
        other.record_at("GET", &format!("/b/{i}"), 1.0, 0, None, 11.0);
    }
    stats.merge(other.take());
    let errors: Vec<_> = (0..6)
        .map(|i| RemoteError {
            method: "GET".into(),
            name: format!("/c/{i}"),
            error: format!("boom {i}"),
            occurrences: 1,
            first_seen: Some(10.0),
            last_seen: Some(10.0),
        })
        .collect();
    stats.merge_remote(
        (0..6).map(|i| remote_row(&format!("/c/{i}"))).collect(),
        errors,
    );
    assert_eq!(stats.entries().count(), 7, "no new rows past the cap");
    let overflow = stats.entry("GET", OVERFLOW_NAME).map(|e| e.num_requests());
    assert_eq!(overflow, Some(3 + 4 + 6));
    assert_eq!(stats.total().num_requests(), 20);
    assert!(stats.errors().count() <= 5 + 1);
    assert!(stats.errors().any(|e| e.error == OVERFLOW_ERROR));
    let failures: u64 = stats.errors().map(|e| e.occurrences).sum();
    assert_eq!(failures, 8 + 6, "no failure lost");
    set_max_rows(rustlocust::stats::DEFAULT_MAX_ROWS);
}
