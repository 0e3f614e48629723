//! The value parsers of the option table: one function per kind of value, shared by every source
//! (the command line runs them as clap value parsers; the environment and config files through
//! the table). Each returns the reason a value is wrong as plain text; the caller adds where the
//! value came from.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use log::LevelFilter;

use crate::timespan::parse_timespan;

/// Default of `--web-host`: this machine only. Locust listens on all interfaces by default; an
/// unauthenticated UI that can start load tests should not be reachable from the network unless
/// asked for (`--web-host '*'`).
pub const DEFAULT_WEB_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The machine's available parallelism (1 if it cannot be determined): `--threads`' default.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Non-negative whole number of users.
pub fn parse_users(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.starts_with('-') && t[1..].parse::<f64>().is_ok() {
        return Err("the number of users cannot be negative".into());
    }
    t.parse::<u64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("more than {} users", u64::MAX),
        _ => "expected a whole number of users, e.g. 100".into(),
    })
}

/// The spawn rate divides time between user starts: zero, negative or non-finite would stall or
/// break the ramp-up.
pub fn parse_spawn_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of users per second, e.g. 10 or 0.5".to_string())?;
    if rate.is_nan() || rate.is_infinite() {
        Err("the spawn rate must be a finite number".into())
    } else if rate <= 0.0 {
        Err("the spawn rate must be greater than 0".into())
    } else {
        Ok(rate)
    }
}

pub fn parse_timespan_value(s: &str) -> Result<Duration, String> {
    parse_timespan(s).map_err(|e| e.kind.to_string() + " (expected e.g. 30s, 5m, 1h30m or 20)")
}

pub fn parse_threads(s: &str) -> Result<usize, String> {
    parse_at_least_one(
        s,
        "expected a whole number of threads, e.g. 4",
        "at least 1 thread is needed to run users",
    )
}

pub fn parse_max_background_jobs(s: &str) -> Result<usize, String> {
    parse_at_least_one(
        s,
        "expected a whole number of background jobs, e.g. 100",
        "at least 1 background job per user must be allowed",
    )
}

pub fn parse_max_stats_rows(s: &str) -> Result<usize, String> {
    parse_at_least_one(
        s,
        "expected a whole number of stats rows, e.g. 10000",
        "at least 1 stats row is needed",
    )
}

/// A whole number of at least 1, with the messages for "not a number" and "zero".
fn parse_at_least_one(s: &str, not_a_number: &str, zero: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err(zero.to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(not_a_number.to_string()),
    }
}

/// `--max-string-size`, `--max-array-size`, `--max-map-size`: 0 would switch Rhai's check off,
/// and with it the nesting-depth check that keeps deep data from crashing a user's stack.
pub fn parse_size_limit(s: &str) -> Result<usize, String> {
    parse_at_least_one(
        s,
        "expected a whole number, e.g. 1000000",
        "must be at least 1 (a limit cannot be switched off)",
    )
}

/// A size in bytes: a whole number, optionally with a unit (`k`/`KB`/`KiB`, `M`..., `G`...,
/// all binary: 1 KB = 1024 bytes); 0 means no limit.
pub fn parse_byte_size(s: &str) -> Result<Option<u64>, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err("expected a size such as 64MiB, 500KB or a number of bytes".into()),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| "expected a size such as 64MiB, 500KB or a number of bytes".to_string())?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{t} is more than any body can be"))?;
    Ok((bytes > 0).then_some(bytes))
}

pub fn parse_exit_code(s: &str) -> Result<i32, String> {
    s.trim()
        .parse::<i32>()
        .map_err(|_| "expected a whole number (an exit code)".to_string())
}

/// `--seed`, `--max-coroutine-stacks`: any non-negative whole number.
pub fn parse_count<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse::<T>()
        .map_err(|_| "expected a non-negative whole number".to_string())
}

pub fn parse_loglevel(s: &str) -> Result<LevelFilter, String> {
    // `warning` and `critical` are Python's names, which Locust users are used to.
    match s.trim().to_ascii_lowercase().as_str() {
        "error" | "critical" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        "trace" => Ok(LevelFilter::Trace),
        _ => Err("expected one of error, warn, info, debug, trace".into()),
    }
}

pub fn parse_host(s: &str) -> Result<String, String> {
    const HINT: &str = "expected a base URL such as http://localhost:8080 or https://example.com";
    let t = s.trim();
    let url = url::Url::parse(t).map_err(|e| format!("{e}; {HINT}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the scheme must be http or https; {HINT}"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("there is no host name; {HINT}"));
    }
    Ok(t.to_string())
}

pub fn parse_http_engine(s: &str) -> Result<crate::http::EngineKind, String> {
    s.trim().parse()
}

pub fn parse_resolve(s: &str) -> Result<Vec<String>, String> {
    let entries = split_list(s);
    for e in &entries {
        e.parse::<crate::http::Resolve>()?;
    }
    Ok(entries)
}

pub fn parse_accept_encoding(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(String::new());
    }
    if t.bytes().any(|b| b.is_ascii_control()) {
        return Err("expected codings such as \"gzip, br\" (no control characters)".into());
    }
    Ok(t.to_string())
}

pub fn parse_path(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        Err("the path is empty".into())
    } else {
        Ok(PathBuf::from(s))
    }
}

/// `-f a.rhai,b.rhai`: Locust's comma-separated list of scenario files (or directories).
pub fn parse_scenarios(s: &str) -> Result<Vec<PathBuf>, String> {
    let paths: Vec<PathBuf> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect();
    if paths.is_empty() {
        Err("the path is empty".into())
    } else {
        Ok(paths)
    }
}

/// `--web-host`: an IP address, `localhost`, or `*` for all interfaces. Host names are not
/// looked up: the address to listen on must be one of this machine's, and a name that resolves
/// elsewhere would only fail later, at bind time.
pub fn parse_web_host(s: &str) -> Result<IpAddr, String> {
    const HINT: &str = "expected an IP address of this machine such as 127.0.0.1 or ::1, \
                        localhost, or * (or 0.0.0.0) for all interfaces";
    let t = s.trim();
    if t.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if t == "*" {
        return Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    let bare = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(t);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    if t.is_empty() {
        Err(format!("the address is empty; {HINT}"))
    } else if let Ok(addr) = t.parse::<SocketAddr>() {
        Err(format!(
            "the port goes in --web-port: --web-host {} --web-port {}",
            addr.ip(),
            addr.port()
        ))
    } else if t.contains("://") {
        Err(format!("a URL is not an address to listen on; {HINT}"))
    } else {
        Err(format!(
            "not an IP address (host names other than localhost are not looked up); {HINT}"
        ))
    }
}

pub fn parse_web_port(s: &str) -> Result<u16, String> {
    let t = s.trim();
    t.parse::<u16>().map_err(|_| {
        if t.parse::<i128>().is_ok() {
            "a port must be from 0 to 65535 (0 picks any free port)".to_string()
        } else {
            "expected a port number, e.g. 8089 (0 picks any free port)".to_string()
        }
    })
}

/// `--master-host`: a host name or an address, not empty, no scheme or port.
pub fn parse_master_host(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("the master's host name or address must not be empty".to_string());
    }
    if t.contains("://") || t.contains('/') || t.contains(char::is_whitespace) {
        return Err(format!(
            "expected a host name or address such as 10.0.0.5 or master.local, not a URL: {t}"
        ));
    }
    Ok(t.to_string())
}

/// `--master-bind-host`: `*` (every interface, Locust's default) or an address to bind.
pub fn parse_bind_host(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t == "*" || t.parse::<IpAddr>().is_ok() || t == "localhost" {
        return Ok(t.to_string());
    }
    Err(format!(
        "expected * (every interface), localhost or an IP address of this machine, not {t:?}"
    ))
}

/// `--expect-workers`: at least 1.
pub fn parse_expect_workers(s: &str) -> Result<usize, String> {
    parse_at_least_one(
        s,
        "expected a whole number of workers, e.g. 3",
        "a master needs at least 1 worker",
    )
}

/// `--master-port`: a port from 1 to 65535 (a worker cannot connect to port 0).
pub fn parse_master_port(s: &str) -> Result<u16, String> {
    match parse_web_port(s)? {
        0 => Err("the master's port must be from 1 to 65535".to_string()),
        p => Ok(p),
    }
}

/// `--processes`: Locust's count, -1 meaning one per CPU (resolved here, as Locust does at
/// start). 0 is refused rather than read as "off" as Locust's falsy check would.
pub fn parse_processes(s: &str) -> Result<usize, String> {
    let n: i64 = s.trim().parse().map_err(|_| {
        "expected a whole number of worker processes, e.g. 4, or -1 for one per CPU".to_string()
    })?;
    match n {
        -1 => Ok(default_threads()),
        n if n >= 1 => usize::try_from(n).map_err(|_| "too many processes".to_string()),
        _ => Err("expected 1 or more worker processes, or -1 for one per CPU".to_string()),
    }
}

/// `--master-secret`: any non-empty text without surrounding blanks (they are easy to get
/// wrong in a file or a variable and would make the two ends disagree silently).
pub fn parse_master_secret(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("the secret is empty".to_string());
    }
    if s.trim() != s {
        return Err("the secret starts or ends with blanks; remove them".to_string());
    }
    Ok(s.to_string())
}

/// `--autoquit`: Locust's whole seconds, -1 meaning never (`None`). -1 is a value of its own, so
/// that it can override a config file's number.
pub fn parse_autoquit(s: &str) -> Result<Option<Duration>, String> {
    let n: i64 = s.trim().parse().map_err(|_| {
        "expected a whole number of seconds, e.g. 30, or -1 to never quit".to_string()
    })?;
    match n {
        -1 => Ok(None),
        n => u64::try_from(n)
            .map(|secs| Some(Duration::from_secs(secs)))
            .map_err(|_| "expected -1 (never quit) or a number of seconds, 0 or more".into()),
    }
}

/// `--web-auth USER:PASS`; the password may itself contain `:`. Error messages never repeat the
/// value, which may hold the password.
pub fn parse_web_auth(s: &str) -> Result<(String, String), String> {
    let Some((user, password)) = s.split_once(':') else {
        return Err("expected USER:PASS, a user name and a password separated by `:`".into());
    };
    if user.trim().is_empty() {
        return Err("the user name before the `:` is empty (expected USER:PASS)".into());
    }
    if password.is_empty() {
        // Most likely `--web-auth admin:$PASSWORD` with the variable unset: refuse rather than
        // protect the UI with an empty password.
        return Err("the password after the `:` is empty (expected USER:PASS)".into());
    }
    Ok((user.to_string(), password.to_string()))
}

/// `--web-base-path`: the UI's prefix behind a reverse proxy, normalised to "" (the root) or
/// `/a/b` (one leading slash, none trailing, no empty segments). Locust insists on the leading
/// slash; adding it is harmless, so `locust` is taken as `/locust`.
pub fn parse_base_path(s: &str) -> Result<String, String> {
    let t = s.trim();
    if let Some(c) = t
        .chars()
        .find(|c| matches!(c, '?' | '#') || c.is_whitespace())
    {
        return Err(format!(
            "a base path is a URL path such as /locust; {c:?} does not belong in one"
        ));
    }
    if t.contains("://") {
        return Err("a base path is a URL path such as /locust, not a whole URL".into());
    }
    let mut path = String::new();
    for segment in t.split('/').filter(|s| !s.is_empty()) {
        if matches!(segment, "." | "..") {
            return Err(format!(
                "`{segment}` segments are not allowed in a base path (e.g. /locust)"
            ));
        }
        path.push('/');
        path.push_str(segment);
    }
    Ok(path)
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// Splits `a,b c` into `["a", "b", "c"]`, dropping empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// [`split_list`] as a parser of the table (lists cannot be wrong).
pub fn parse_list(s: &str) -> Result<Vec<String>, String> {
    Ok(split_list(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("64MiB"), Ok(Some(64 << 20)));
        assert_eq!(parse_byte_size(" 500 kb "), Ok(Some(500 << 10)));
        assert_eq!(parse_byte_size("1G"), Ok(Some(1 << 30)));
        assert_eq!(parse_byte_size("1500"), Ok(Some(1500)));
        assert_eq!(parse_byte_size("0"), Ok(None));
        for bad in [
            "",
            "MiB",
            "-1",
            "1.5MiB",
            "12 parsecs",
            "99999999999999999999G",
        ] {
            assert!(parse_byte_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn web_option_parsers() {
        let v4 = |a, b, c, d| Ok(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        assert_eq!(parse_web_host("127.0.0.1"), v4(127, 0, 0, 1));
        assert_eq!(parse_web_host(" 192.168.1.10 "), v4(192, 168, 1, 10));
        assert_eq!(parse_web_host("localhost"), v4(127, 0, 0, 1));
        assert_eq!(parse_web_host("LocalHost"), v4(127, 0, 0, 1));
        assert_eq!(parse_web_host("*"), v4(0, 0, 0, 0));
        assert_eq!(parse_web_host("0.0.0.0"), v4(0, 0, 0, 0));
        assert_eq!(
            parse_web_host("::1").map(|ip| ip.to_string()),
            Ok("::1".into())
        );
        assert_eq!(
            parse_web_host("[::]").map(|ip| ip.to_string()),
            Ok("::".into())
        );
        for (bad, reason) in [
            ("example.com", "not an IP address"),
            (
                "my-laptop",
                "host names other than localhost are not looked up",
            ),
            ("", "empty"),
            ("  ", "empty"),
            ("127.0.0.1:8089", "--web-host 127.0.0.1 --web-port 8089"),
            ("[::1]:80", "--web-host ::1 --web-port 80"),
            ("http://127.0.0.1", "a URL is not an address"),
            ("256.0.0.1", "not an IP address"),
        ] {
            let msg = parse_web_host(bad).unwrap_err();
            assert!(msg.contains(reason), "{bad:?}: {msg}");
        }
        assert!(parse_web_host("x")
            .unwrap_err()
            .contains("* (or 0.0.0.0) for all"));

        assert_eq!(parse_web_port("8089"), Ok(8089));
        assert_eq!(parse_web_port("0"), Ok(0));
        assert_eq!(parse_web_port(" 65535 "), Ok(65535));
        for bad in ["65536", "-1", "99999999999999999999999"] {
            assert!(
                parse_web_port(bad).unwrap_err().contains("from 0 to 65535"),
                "{bad}"
            );
        }
        for bad in ["http", "80.5", ""] {
            assert!(
                parse_web_port(bad)
                    .unwrap_err()
                    .contains("expected a port number"),
                "{bad}"
            );
        }

        assert_eq!(parse_autoquit("-1"), Ok(None));
        assert_eq!(parse_autoquit("0"), Ok(Some(Duration::ZERO)));
        assert_eq!(parse_autoquit(" 30 "), Ok(Some(Duration::from_secs(30))));
        assert!(parse_autoquit("-2")
            .unwrap_err()
            .contains("-1 (never quit)"));
        for bad in ["30s", "1.5", "never", ""] {
            assert!(
                parse_autoquit(bad)
                    .unwrap_err()
                    .contains("whole number of seconds"),
                "{bad}"
            );
        }

        let auth = |u: &str, p: &str| Ok((u.to_string(), p.to_string()));
        assert_eq!(parse_web_auth("admin:secret"), auth("admin", "secret"));
        assert_eq!(parse_web_auth("admin:a:b"), auth("admin", "a:b"));
        assert_eq!(parse_web_auth("me: x "), auth("me", " x "));
        for (bad, reason) in [
            ("admin", "expected USER:PASS"),
            ("", "expected USER:PASS"),
            (":secret", "user name before the `:` is empty"),
            (" :secret", "user name before the `:` is empty"),
            ("admin:", "password after the `:` is empty"),
        ] {
            let msg = parse_web_auth(bad).unwrap_err();
            assert!(msg.contains(reason), "{bad:?}: {msg}");
            assert!(!msg.contains("secret"), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn base_path_is_normalised() {
        for (given, path) in [
            ("", ""),
            ("/", ""),
            ("/locust", "/locust"),
            ("locust", "/locust"),
            ("/locust/", "/locust"),
            (" /a//b/ ", "/a/b"),
        ] {
            assert_eq!(parse_base_path(given).as_deref(), Ok(path), "{given:?}");
        }
        for (bad, reason) in [
            ("/a b", "does not belong"),
            ("/a?x=1", "does not belong"),
            ("/a#x", "does not belong"),
            ("http://h/locust", "not a whole URL"),
            ("/a/../b", "`..` segments"),
        ] {
            let msg = parse_base_path(bad).unwrap_err();
            assert!(msg.contains(reason), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn scenario_lists() {
        assert_eq!(parse_scenarios("a.rhai"), Ok(vec![PathBuf::from("a.rhai")]));
        assert_eq!(
            parse_scenarios(" a.rhai, dir ,"),
            Ok(vec![PathBuf::from("a.rhai"), PathBuf::from("dir")])
        );
        assert!(parse_scenarios(" , ").unwrap_err().contains("empty"));
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_users("0"), Ok(0));
        assert!(parse_users("-5").unwrap_err().contains("negative"));
        assert!(parse_users("-0.5").unwrap_err().contains("negative"));
        assert!(parse_users("ten").unwrap_err().contains("whole number"));
        assert!(parse_users("1.5").unwrap_err().contains("whole number"));
        assert!(parse_users("99999999999999999999999")
            .unwrap_err()
            .contains("more than"));
        assert_eq!(parse_spawn_rate("0.5"), Ok(0.5));
        for bad in ["0", "-1", "NaN", "inf", "-inf", "x"] {
            assert!(parse_spawn_rate(bad).is_err(), "{bad}");
        }
        assert!(parse_host("http://localhost:8080").is_ok());
        assert!(parse_host("https://example.com/api").is_ok());
        assert!(parse_host("ftp://example.com")
            .unwrap_err()
            .contains("http or https"));
        assert!(parse_host("localhost:8080").is_err());
        assert!(parse_host("").is_err());
        assert_eq!(parse_loglevel("Debug"), Ok(LevelFilter::Debug));
        assert_eq!(parse_loglevel("critical"), Ok(LevelFilter::Error));
        assert_eq!(split_list(" a,,b  c, "), vec!["a", "b", "c"]);
        assert_eq!(parse_bool("off"), Ok(false));
        assert_eq!(parse_max_background_jobs(" 1 "), Ok(1));
        assert_eq!(parse_max_background_jobs("100"), Ok(100));
        assert!(parse_max_background_jobs("0")
            .unwrap_err()
            .contains("at least 1"));
        for bad in ["-1", "1.5", "many", ""] {
            assert!(
                parse_max_background_jobs(bad)
                    .unwrap_err()
                    .contains("whole number"),
                "{bad}"
            );
        }
    }
}
