//! The request settings a user class (`http: #{...}`), a client handle (`client(#{...})`) and a
//! request share: engine, http2, accept_encoding, proxy, auth. Checked where they are given (a
//! class's before the run).

use rhai::{Array, Dynamic, Map};

use super::api_http::bad;
use super::error::runtime_error;
use crate::http as h;

type R<T> = Result<T, Box<rhai::EvalAltResult>>;

/// The request settings a user class (`http: #{...}`), a client handle (`client(#{...})`) and a
/// request share.
pub const HTTP_SETTINGS: [&str; 5] = ["engine", "http2", "accept_encoding", "proxy", "auth"];

pub(super) fn http_setting(d: &mut h::RequestDefaults, key: &str, v: &Dynamic) -> R<()> {
    match key {
        "engine" => {
            d.engine = v
                .clone()
                .into_string()
                .map_err(|_| bad(key, "\"hyper\", \"reqwest\" or \"auto\"", v))?
                .parse()
                .map_err(runtime_error)?
        }
        "http2" => {
            d.http2 = Some(match (v.as_bool(), v.clone().into_string().as_deref()) {
                (Ok(true), _) => h::Http2::Alpn,
                (Ok(false), _) => h::Http2::Off,
                (_, Ok("prior_knowledge")) => h::Http2::PriorKnowledge,
                _ => return Err(bad(key, "true, false or \"prior_knowledge\"", v)),
            })
        }
        "auth" => {
            let pair = v
                .clone()
                .try_cast::<Array>()
                .filter(|a| a.len() == 2 && a.iter().all(|x| x.is_string()));
            let pair = pair.ok_or_else(|| bad(key, "[user, password] (two strings)", v))?;
            d.auth = Some((pair[0].to_string(), pair[1].to_string()));
        }
        "proxy" => {
            let p = match (v.as_bool(), v.clone().into_string()) {
                (Ok(false), _) => String::new(),
                (_, Ok(s)) => s,
                _ => return Err(bad(key, "a proxy URL, or false for none", v)),
            };
            h::check_proxy(&p).map_err(runtime_error)?;
            d.proxy = Some(p);
        }
        _ => {
            d.accept_encoding = Some(match (v.as_bool(), v.clone().into_string()) {
                (Ok(false), _) => String::new(),
                (_, Ok(s)) => s,
                _ => return Err(bad(key, "a string, or false for none", v)),
            })
        }
    }
    Ok(())
}

/// A map of [`HTTP_SETTINGS`] only; `what` names where it was given, for errors.
pub fn request_defaults(m: Map, what: &str) -> R<h::RequestDefaults> {
    let mut d = h::RequestDefaults::default();
    for (k, v) in m {
        if !HTTP_SETTINGS.contains(&k.as_str()) {
            return Err(runtime_error(format!(
                "{what}: unknown HTTP setting '{k}' (expected one of: {})",
                HTTP_SETTINGS.join(", ")
            )));
        }
        http_setting(&mut d, &k, &v)?;
    }
    Ok(d)
}
