//! The worker's `stats` report (locust.md §1.6) in both directions: built from a worker's interval
//! [`Stats`] (delta semantics: only what happened since the previous report) and merged into the
//! master's [`Stats`]. Between rustlocust nodes the report also carries each row's exact HDR
//! histogram under [`EXACT_HISTOGRAMS_KEY`], so merged percentiles equal those of one process that
//! saw every sample; rows from Locust workers fall back to Locust's 2-digit buckets and the merged
//! entries say they are approximate.

use std::collections::{BTreeMap, HashMap};

use rmpv::Value;
use serde::{Deserialize, Serialize};

use crate::pyfmt::py_repr;

use super::protocol::{describe, from_value, to_value, ProtocolError};
pub use crate::stats::StatsEntryDict;
use crate::stats::{LatencyHistogram, RemoteEntry, RemoteError, Stats, AGGREGATED_NAME};

/// The extra report key holding `[[name, method, compact histogram bytes], ...]`. Locust masters
/// ignore keys they do not know.
pub const EXACT_HISTOGRAMS_KEY: &str = "rustlocust_hdr";

/// Locust's serialized `StatsError`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsErrorDict {
    pub name: String,
    pub method: String,
    pub error: String,
    pub occurrences: u64,
    #[serde(default)]
    pub first_seen: Option<f64>,
    #[serde(default)]
    pub last_seen: Option<f64>,
}

/// One row's exact latency histogram (see [`LatencyHistogram::to_compact`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactHistogram {
    pub name: String,
    pub method: String,
    pub compact: Vec<u8>,
}

/// The data of a `stats` message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsReport {
    pub stats: Vec<StatsEntryDict>,
    pub stats_total: StatsEntryDict,
    /// Locust's error key (see [`locust_error_key`]) and row, in the order sent.
    pub errors: Vec<(String, StatsErrorDict)>,
    pub user_classes_count: Option<BTreeMap<String, u64>>,
    pub user_count: Option<u64>,
    /// Present when the sender is rustlocust.
    pub exact_histograms: Option<Vec<ExactHistogram>>,
    /// Any other keys (Locust lets `report_to_master` listeners add their own).
    pub extra: Vec<(Value, Value)>,
}

impl StatsReport {
    /// The report of everything `interval` holds; a worker then resets `interval`, which gives
    /// Locust's delta semantics. `exact` adds the HDR histograms for a rustlocust master.
    pub fn from_stats(interval: &Stats, exact: bool) -> Result<StatsReport, ProtocolError> {
        let dict = |e: &crate::stats::Entry| -> Result<StatsEntryDict, ProtocolError> {
            let v = to_value(&e.to_locust_dict()).map_err(|reason| ProtocolError::Encode {
                kind: "stats".into(),
                reason,
            })?;
            from_value("stats", v)
        };
        let stats = interval
            .entries()
            .filter(|e| e.num_requests() > 0 || e.num_failures() > 0)
            .map(dict)
            .collect::<Result<Vec<_>, _>>()?;
        let errors = interval
            .errors()
            .map(|r| {
                let key = locust_error_key(&r.method, &r.name, &r.error);
                let row = StatsErrorDict {
                    name: r.name.clone(),
                    method: r.method.clone(),
                    error: r.error.clone(),
                    occurrences: r.occurrences,
                    first_seen: Some(r.first_seen),
                    last_seen: Some(r.last_seen),
                };
                (key, row)
            })
            .collect();
        let exact_histograms = exact.then(|| {
            interval
                .entries()
                .filter(|e| e.has_response_times())
                .map(|e| ExactHistogram {
                    name: e.name.clone(),
                    method: e.method.clone(),
                    compact: e.histogram().to_compact(),
                })
                .collect()
        });
        Ok(StatsReport {
            stats,
            stats_total: dict(interval.total())?,
            errors,
            exact_histograms,
            ..StatsReport::default()
        })
    }

    /// The msgpack map Locust's master expects.
    pub fn to_value(&self) -> Result<Value, String> {
        let key = |k: &str| Value::from(k);
        let mut map = vec![
            (
                key("stats"),
                Value::Array(self.stats.iter().map(to_value).collect::<Result<_, _>>()?),
            ),
            (key("stats_total"), to_value(&self.stats_total)?),
        ];
        let errors = self
            .errors
            .iter()
            .map(|(k, e)| Ok((key(k), to_value(e)?)))
            .collect::<Result<Vec<_>, String>>()?;
        map.push((key("errors"), Value::Map(errors)));
        if let Some(c) = &self.user_classes_count {
            map.push((key("user_classes_count"), to_value(c)?));
        }
        if let Some(n) = self.user_count {
            map.push((key("user_count"), Value::from(n)));
        }
        if let Some(rows) = &self.exact_histograms {
            let rows = rows
                .iter()
                .map(|h| {
                    Value::Array(vec![
                        key(&h.name),
                        key(&h.method),
                        Value::Binary(h.compact.clone()),
                    ])
                })
                .collect();
            map.push((key(EXACT_HISTOGRAMS_KEY), Value::Array(rows)));
        }
        map.extend(self.extra.iter().cloned());
        Ok(Value::Map(map))
    }

    /// Decodes a `stats` message's data. Missing reserved keys are empty, as a report with no
    /// traffic would be; a reserved key with the wrong shape is an error.
    pub fn from_value(data: Value) -> Result<StatsReport, ProtocolError> {
        let Value::Map(entries) = data else {
            return Err(bad(format!("expected a map, got {}", describe(&data))));
        };
        let mut report = StatsReport {
            stats_total: StatsEntryDict {
                name: AGGREGATED_NAME.to_owned(),
                ..StatsEntryDict::default()
            },
            ..StatsReport::default()
        };
        for (k, v) in entries {
            match k.as_str() {
                Some("stats") => report.stats = from_value("stats", v)?,
                Some("stats_total") => report.stats_total = from_value("stats", v)?,
                Some("errors") => report.errors = decode_errors(v)?,
                Some("user_classes_count") => {
                    report.user_classes_count = from_value("stats", v)?;
                }
                Some("user_count") => report.user_count = from_value("stats", v)?,
                Some(EXACT_HISTOGRAMS_KEY) => {
                    report.exact_histograms = Some(decode_exact(v)?);
                }
                _ => report.extra.push((k, v)),
            }
        }
        Ok(report)
    }

    /// The rows and errors to fold into a master's [`Stats`] (see [`merge_report`]). A row's
    /// exact histogram is used only when it decodes and holds exactly the row's timed requests;
    /// otherwise Locust's buckets stand in and the row is marked approximate.
    pub fn remote_rows(&self) -> (Vec<RemoteEntry>, Vec<RemoteError>) {
        let mut exact: HashMap<(&str, &str), &[u8]> = HashMap::new();
        for h in self.exact_histograms.iter().flatten() {
            exact.insert((&h.name, &h.method), &h.compact);
        }
        let entries = self
            .stats
            .iter()
            .map(|e| {
                let timed = e.num_requests.saturating_sub(e.num_none_requests);
                let hdr = exact
                    .get(&(e.name.as_str(), e.method.as_str()))
                    .and_then(|bytes| LatencyHistogram::from_compact(bytes).ok())
                    .filter(|h| h.len() == timed);
                let approximate = hdr.is_none() && timed > 0;
                let histogram =
                    hdr.unwrap_or_else(|| LatencyHistogram::from_locust_buckets(&e.response_times));
                RemoteEntry {
                    row: e.clone(),
                    histogram,
                    approximate,
                }
            })
            .collect();
        let errors = self
            .errors
            .iter()
            .map(|(_, e)| RemoteError {
                method: e.method.clone(),
                name: e.name.clone(),
                error: e.error.clone(),
                occurrences: e.occurrences,
                first_seen: e.first_seen,
                last_seen: e.last_seen,
            })
            .collect();
        (entries, errors)
    }
}

/// Folds a worker's report into the master's statistics. The "Aggregated" row is rebuilt from the
/// rows (so it is exact too), rather than summing the worker's `stats_total`.
pub fn merge_report(stats: &mut Stats, report: &StatsReport) {
    let (entries, errors) = report.remote_rows();
    stats.merge_remote(entries, errors);
}

fn bad(reason: String) -> ProtocolError {
    ProtocolError::Payload {
        kind: "stats".into(),
        reason,
    }
}

fn decode_errors(v: Value) -> Result<Vec<(String, StatsErrorDict)>, ProtocolError> {
    let Value::Map(rows) = v else {
        return Err(bad(format!("errors is {}, not a map", describe(&v))));
    };
    rows.into_iter()
        .map(|(k, v)| {
            let key = match k {
                Value::String(s) => s.into_str().unwrap_or_default(),
                other => other.to_string(),
            };
            Ok((key, from_value("stats", v)?))
        })
        .collect()
}

fn decode_exact(v: Value) -> Result<Vec<ExactHistogram>, ProtocolError> {
    let Value::Array(rows) = v else {
        return Err(bad(format!("{EXACT_HISTOGRAMS_KEY} is not an array")));
    };
    rows.into_iter()
        .map(
            |row| match <[Value; 3]>::try_from(row.as_array().cloned().unwrap_or_default()) {
                Ok([Value::String(name), Value::String(method), Value::Binary(compact)]) => {
                    Ok(ExactHistogram {
                        name: name.into_str().unwrap_or_default(),
                        method: method.into_str().unwrap_or_default(),
                        compact,
                    })
                }
                _ => Err(bad(format!(
                    "{EXACT_HISTOGRAMS_KEY} rows are [name, method, bytes]"
                ))),
            },
        )
        .collect()
}

/// Locust's `StatsError.create_key`: `sha256(f"{method}.{name}.{error!r}")` in hex, so a Locust
/// master merges our errors with the same errors from Python workers.
pub fn locust_error_key(method: &str, name: &str, error: &str) -> String {
    let text = format!("{method}.{name}.{}", py_repr(error));
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_key_matches_python() {
        // Both from Python 3.11: hashlib.sha256(f"{method}.{name}.{error!r}".encode()).hexdigest()
        assert_eq!(
            locust_error_key("GET", "/x", "HTTPError(500)"),
            "f526947258e5abdab900977f6d0646240b9eeddb70e4d10d8a1b769bfa8a4bf0"
        );
        assert_eq!(
            locust_error_key("POST", "/y", "it's \"é\"\n"),
            "58fe6294aeb9611889d6be3462498438c3f28cb29c5e6675cd9c7c5d320ecea9"
        );
    }
}
