//! Rows of the failure and exception reports: request failures grouped by (method, name, error)
//! like Locust's `StatsError`, and script exceptions grouped by (message, traceback).

/// One distinct request failure (Locust's `StatsError`, including the 2.44 first/last seen).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorRow {
    pub method: String,
    pub name: String,
    pub error: String,
    pub occurrences: u64,
    /// Unix seconds of the first and latest occurrence.
    pub first_seen: f64,
    pub last_seen: f64,
}

impl ErrorRow {
    /// The console label `"METHOD name: error"`.
    ///
    /// Locust unwraps `CatchResponseError('...')` here so `response.failure("x")` reads as `'x'`;
    /// we do the same for callers that mimic Locust's error strings.
    pub fn to_name(&self) -> String {
        let error = self
            .error
            .strip_prefix("CatchResponseError(")
            .and_then(|rest| rest.strip_suffix(')'))
            .unwrap_or(&self.error);
        format!("{} {}: {}", self.method, self.name, error)
    }

    pub(crate) fn absorb(&mut self, occurrences: u64, first_seen: f64, last_seen: f64) {
        self.occurrences = self.occurrences.saturating_add(occurrences);
        self.first_seen = self.first_seen.min(first_seen);
        self.last_seen = self.last_seen.max(last_seen);
    }
}

/// One distinct script error (Locust's `runner.exceptions` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionRow {
    pub count: u64,
    pub msg: String,
    pub traceback: String,
    /// Comma-joined node names; `"local"` when running standalone.
    pub nodes: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(error: &str) -> ErrorRow {
        ErrorRow {
            method: "GET".into(),
            name: "/x".into(),
            error: error.into(),
            occurrences: 1,
            first_seen: 10.0,
            last_seen: 10.0,
        }
    }

    #[test]
    fn to_name_formats_like_locust() {
        assert_eq!(
            row("HTTPError('500')").to_name(),
            "GET /x: HTTPError('500')"
        );
        assert_eq!(
            row("CatchResponseError('bad body')").to_name(),
            "GET /x: 'bad body'"
        );
    }

    #[test]
    fn absorb_tracks_first_and_last_seen() {
        let mut r = row("e");
        r.absorb(2, 12.0, 15.0);
        r.absorb(1, 5.0, 6.0);
        assert_eq!((r.occurrences, r.first_seen, r.last_seen), (4, 5.0, 15.0));
    }
}
