//! Locust's wire format without a network: a `stats` message captured from Locust itself
//! (tests/fixtures/locust_stats_report.py), report round trips, exact percentile merging across
//! rustlocust workers, the Locust-bucket fallback, and a seeded fuzz run of the decoders.

use rmpv::Value;
use rustlocust::distributed::protocol::{map_get, python_datetime};
use rustlocust::distributed::report::locust_error_key;
use rustlocust::distributed::zmtp::{self, Limits};
use rustlocust::distributed::{
    merge_report, Message, Payload, StatsReport, DEFAULT_MAX_FRAME_BYTES,
};
use rustlocust::stats::{LatencyHistogram, Shard, Stats, PERCENTILES_TO_REPORT};

const FIXTURE: &str = include_str!("fixtures/locust_stats_report.hex");

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Deterministic xorshift so a failure is reproducible from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn decode_report(bytes: &[u8]) -> StatsReport {
    let msg = Message::decode(bytes, DEFAULT_MAX_FRAME_BYTES).expect("fixture decodes");
    match Payload::from_message(msg) {
        Ok(Payload::Stats(report)) => *report,
        other => panic!("not a stats report: {other:?}"),
    }
}

/// What goes over the wire between two rustlocust nodes.
fn through_the_wire(report: StatsReport) -> StatsReport {
    let bytes = Payload::Stats(Box::new(report))
        .to_message("host_1")
        .and_then(|m| m.encode())
        .expect("report encodes");
    decode_report(&bytes)
}

#[test]
fn a_report_captured_from_locust_decodes_and_reencodes_byte_for_byte() {
    let bytes = unhex(FIXTURE);
    let msg = Message::decode(&bytes, DEFAULT_MAX_FRAME_BYTES).expect("decodes");
    assert_eq!(
        (msg.kind.as_str(), msg.node_id.as_str()),
        ("stats", "host_0123abcd")
    );
    // Same value, same bytes: our encoder writes what Python's msgpack.dumps wrote.
    assert_eq!(msg.encode().ok(), Some(bytes.clone()));

    let report = decode_report(&bytes);
    let rust = &report.stats[0];
    assert_eq!((rust.method.as_str(), rust.name.as_str()), ("GET", "/rust"));
    assert_eq!(
        (
            rust.num_requests,
            rust.num_failures,
            rust.total_content_length
        ),
        (6, 1, 510)
    );
    assert_eq!(rust.min_response_time, Some(3.0));
    assert_eq!(rust.max_response_time, 58760.0);
    assert_eq!(
        rust.response_times.get(&12),
        Some(&1),
        "Python rounds 12.5 half to even"
    );
    assert_eq!(rust.num_reqs_per_sec.get(&1_700_000_000), Some(&6));
    let none = &report.stats[1];
    assert_eq!((none.num_none_requests, none.min_response_time), (1, None));
    assert_eq!(report.stats_total.num_requests, 7);
    assert_eq!(report.user_count, Some(2));
    assert_eq!(report.exact_histograms, None);
    // Our error key is Locust's sha256 of the repr'd error.
    let (key, error) = &report.errors[0];
    assert_eq!(key, &locust_error_key("GET", "/rust", "HTTPError('500')"));
    assert_eq!(
        (error.occurrences, error.first_seen),
        (1, Some(1_700_000_000.25))
    );
    // Unknown keys are kept, Python datetimes readable.
    let when = report
        .extra
        .iter()
        .find(|(k, _)| k.as_str() == Some("when"))
        .and_then(|(_, v)| python_datetime(v))
        .map(|d| d.to_string());
    assert_eq!(when.as_deref(), Some("2024-01-02 03:04:05.678900"));

    let mut stats = Stats::new(1_700_000_000.0);
    merge_report(&mut stats, &report);
    let entry = stats.entry("GET", "/rust").expect("merged");
    assert!(
        entry.is_approximate(),
        "a Locust worker's row is bucket-based"
    );
    assert!(stats.total().is_approximate());
    // Locust's median of {3:2, 12:1, 150:1, 3400:1, 59000:1} is 150.
    assert!((entry.median_response_time() - 150.0).abs() < 0.2);
    assert_eq!(entry.max_response_time(), 58760.0);
    assert!(!stats
        .entry("POST", "/none")
        .expect("merged")
        .is_approximate());
    assert_eq!(stats.errors().map(|e| e.occurrences).sum::<u64>(), 1);
}

/// Records the same samples into one process and into two workers' interval stats.
fn one_and_two_workers(seed: u64, n: usize) -> (Stats, Stats, Stats) {
    let mut rng = Rng(seed);
    let (mut one, mut a, mut b) = (Shard::new(), Shard::new(), Shard::new());
    for i in 0..n {
        // Log-uniform over 0.05 ms .. 20 s: many HDR magnitudes and Locust bucket ranges.
        let ms = 0.05 * 400_000f64.powf(rng.unit());
        let name = ["/a", "/b", "/c"][rng.below(3) as usize];
        let error = (rng.below(10) == 0).then_some("HTTPError('503')");
        let at = 1_000.0 + i as f64 / 100.0;
        let len = rng.below(5000);
        one.record_at("GET", name, ms, len, error, at);
        let half = if rng.below(2) == 0 { &mut a } else { &mut b };
        half.record_at("GET", name, ms, len, error, at);
    }
    let stats = |shard: &mut Shard| {
        let mut s = Stats::new(1_000.0);
        s.merge(shard.take());
        s
    };
    (stats(&mut one), stats(&mut a), stats(&mut b))
}

#[test]
fn two_rustlocust_workers_merge_to_the_percentiles_of_one_process() {
    let (one, a, b) = one_and_two_workers(7, 20_000);
    let mut master = Stats::new(1_000.0);
    for worker in [&a, &b] {
        let report = StatsReport::from_stats(worker, true).expect("report");
        merge_report(&mut master, &through_the_wire(report));
    }
    let rows = |s: &Stats| -> Vec<_> {
        s.entries()
            .chain([s.total()])
            .map(|e| {
                (
                    e.name.clone(),
                    e.num_requests(),
                    e.num_failures(),
                    e.total_content_length(),
                    e.min_response_time(),
                    e.max_response_time(),
                    e.percentiles(&PERCENTILES_TO_REPORT),
                    e.locust_response_times(),
                    e.to_locust_dict().num_reqs_per_sec,
                    e.last_request_timestamp(),
                    e.start_time(),
                )
            })
            .collect()
    };
    assert_eq!(rows(&master), rows(&one));
    assert!(master
        .entries()
        .chain([master.total()])
        .all(|e| !e.is_approximate()));
    let avg_gap = (master.total().avg_response_time() - one.total().avg_response_time()).abs();
    assert!(avg_gap < 1e-6, "{avg_gap}");
    assert_eq!(
        master.errors().cloned().collect::<Vec<_>>(),
        one.errors().cloned().collect::<Vec<_>>()
    );
}

#[test]
fn without_histograms_rows_fall_back_to_locust_buckets() {
    let (_, a, _) = one_and_two_workers(11, 5_000);
    let mut master = Stats::new(1_000.0);
    // `a` alone, reported like a Locust worker would (no exact histograms).
    let report = StatsReport::from_stats(&a, false).expect("report");
    assert!(report.exact_histograms.is_none());
    merge_report(&mut master, &through_the_wire(report));
    let a_total = a.total();
    let m_total = master.total();
    assert!(m_total.is_approximate());
    assert_eq!(m_total.num_requests(), a_total.num_requests());
    assert_eq!(m_total.min_response_time(), a_total.min_response_time());
    // Percentiles now have Locust's 2-digit precision: within 5% (+1 ms rounding below 100 ms).
    for (got, want) in m_total
        .percentiles(&[0.5, 0.9, 0.99])
        .into_iter()
        .zip(a_total.percentiles(&[0.5, 0.9, 0.99]))
    {
        assert!((got - want).abs() <= want * 0.05 + 1.0, "{got} vs {want}");
    }
}

#[test]
fn an_exact_histogram_that_does_not_match_its_row_is_not_trusted() {
    let (_, a, _) = one_and_two_workers(3, 500);
    let mut report = StatsReport::from_stats(&a, true).expect("report");
    if let Some(rows) = report.exact_histograms.as_mut() {
        rows[0].compact = LatencyHistogram::new().to_compact();
        rows[1].compact = vec![0xff, 0x00];
    }
    let mut master = Stats::new(1_000.0);
    merge_report(&mut master, &through_the_wire(report));
    let approximate: Vec<bool> = master.entries().map(|e| e.is_approximate()).collect();
    assert_eq!(approximate, vec![true, true, false]);
}

fn valid_frames() -> Vec<Vec<u8>> {
    let (_, a, _) = one_and_two_workers(5, 300);
    let report = StatsReport::from_stats(&a, true).expect("report");
    let spawn = Message::new(
        "spawn",
        Value::Map(vec![
            (Value::from("timestamp"), Value::F64(1.5)),
            (
                Value::from("user_classes_count"),
                Value::Map(vec![(Value::from("MyUser"), Value::from(3))]),
            ),
            (Value::from("host"), Value::Nil),
        ]),
        "n_1",
    );
    [
        Payload::Stats(Box::new(report)).to_message("w"),
        Ok(spawn),
        Ok(Message::new("heartbeat", Value::Nil, "w")),
    ]
    .into_iter()
    .filter_map(|m| m.and_then(|m| m.encode()).ok())
    .chain([unhex(FIXTURE)])
    .collect()
}

/// Every input either decodes (then every later stage must cope with it) or is a typed error.
fn exercise(bytes: &[u8], max: usize) {
    if let Ok(msg) = Message::decode(bytes, max) {
        if let Ok(Payload::Stats(report)) = Payload::from_message(msg) {
            let mut stats = Stats::new(0.0);
            merge_report(&mut stats, &report);
            let _ = stats.total().percentiles(&PERCENTILES_TO_REPORT);
            let _ = StatsReport::from_stats(&stats, true);
        }
    }
    let _ = LatencyHistogram::from_compact(bytes);
}

#[test]
fn fuzzed_frames_never_panic() {
    let corpus = valid_frames();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut decoded = 0;
    for case in 0..20_000 {
        let base = &corpus[case % corpus.len()];
        let bytes: Vec<u8> = match case % 4 {
            // Random bytes, biased towards msgpack container markers.
            0 => (0..rng.below(300))
                .map(|_| match rng.below(4) {
                    0 => 0x90 | rng.below(16) as u8,
                    1 => 0x80 | rng.below(16) as u8,
                    _ => rng.next() as u8,
                })
                .collect(),
            // A valid frame cut short.
            1 => base[..rng.below(base.len() as u64) as usize].to_vec(),
            // A valid frame with a few bytes flipped.
            2 => {
                let mut b = base.clone();
                for _ in 0..=rng.below(4) {
                    let i = rng.below(b.len() as u64) as usize;
                    b[i] = rng.next() as u8;
                }
                b
            }
            // A valid frame against a limit it exceeds.
            _ => {
                let max = rng.below(base.len() as u64) as usize;
                assert!(matches!(
                    Message::decode(base, max),
                    Err(rustlocust::distributed::ProtocolError::TooLarge { .. })
                ));
                base.clone()
            }
        };
        decoded += usize::from(Message::decode(&bytes, DEFAULT_MAX_FRAME_BYTES).is_ok());
        exercise(&bytes, DEFAULT_MAX_FRAME_BYTES);
        // The same bytes as a ZMTP stream: a message, a drop, or an error, never a panic.
        let limits = Limits {
            max_message_bytes: 256,
            max_parts: 4,
        };
        let _ = runtime.block_on(zmtp::read_message(&mut bytes.as_slice(), limits));
    }
    // Untouched frames (every 4th case) decode, so the loop really reached the later stages.
    assert!(decoded >= 5_000, "{decoded}");
    assert!(map_get(&Value::Nil, "x").is_none());
}
