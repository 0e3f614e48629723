//! The UI's files from `web/`, embedded in the binary so a single file works offline: `/` is
//! `index.html`, `/assets/...` the ES modules of the UI, the styles, and the charts script and
//! chart library (uPlot) that the HTML report shares, as classic scripts.
//!
//! The server adds to the page's `<head>` what only it knows, so that the UI's scripts need no
//! change: under `--web-base-path` a `<base href>` (the UI's URLs are all relative, so they then
//! resolve under the base path), and without `--class-picker` a style that hides the start form's
//! class choice (every class then runs, as the form sends no `user_classes`).
//!
//! Caching: `index.html` is revalidated on every load (`no-cache` plus an ETag) and links its
//! assets as `assets/<build hash>/x`. The hash is a path segment, not a query, so the modules'
//! relative imports (`./state.js`) carry it too. An asset asked for under the current hash is
//! immutable for a year, any other request for it (no hash, an old one) is revalidated. A new
//! binary therefore never serves stale files.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::WebState;

/// One embedded file under `/assets/`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// `web/<path>`, embedded.
macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../../web/", $path)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("ui/main.js", JS),
    asset!("ui/state.js", JS),
    asset!("ui/api.js", JS),
    asset!("ui/dom.js", JS),
    asset!("ui/views/tabs.js", JS),
    asset!("ui/views/header.js", JS),
    asset!("ui/views/start.js", JS),
    asset!("ui/views/stats.js", JS),
    asset!("ui/views/charts.js", JS),
    asset!("ui/views/panels.js", JS),
    asset!("ui/views/workers.js", JS),
    asset!("charts.js", JS),
    asset!("style.css", CSS),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("vendor/uPlot.iife.min.js", JS),
    asset!("vendor/uPlot.min.css", CSS),
];

const INDEX_TEMPLATE: &str = include_str!("../../web/index.html");

/// The page may talk to its own origin only: no CDN, no third-party requests, even by mistake.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; \
                   base-uri 'self'; form-action 'self'";

/// 64-bit FNV-1a: stable across builds and platforms (unlike `DefaultHasher`).
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A hash of every embedded file: the path prefix of asset links and every ETag.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = fnv1a(0xcbf2_9ce4_8422_2325, INDEX_TEMPLATE.as_bytes());
        for a in ASSETS {
            h = fnv1a(h, a.path.as_bytes());
            h = fnv1a(h, a.body);
        }
        format!("{h:016x}")
    })
}

fn etag() -> String {
    format!("\"{}\"", version())
}

/// The page as this server sends it, and its own ETag (what the server adds to it changes it).
struct Page {
    html: Bytes,
    etag: String,
}

impl Page {
    /// `base`: a checked base path ("" or `/a/b`).
    fn new(base: &str, class_picker: bool) -> Page {
        let mut head = String::from("<head>\n");
        if !base.is_empty() {
            head.push_str(&format!("<base href=\"{base}/\">\n"));
        }
        if !class_picker {
            head.push_str("<style>#f-classes-box{display:none!important}</style>\n");
        }
        let html = INDEX_TEMPLATE
            .replace("{{version}}", version())
            .replacen("<head>\n", &head, 1);
        let etag = format!("\"{:016x}\"", fnv1a(0xcbf2_9ce4_8422_2325, html.as_bytes()));
        Page {
            html: Bytes::from(html),
            etag,
        }
    }
}

/// The page without base path or class picker (what the tests read).
#[cfg(test)]
fn index_html() -> &'static str {
    static INDEX: OnceLock<String> = OnceLock::new();
    INDEX.get_or_init(|| String::from_utf8_lossy(&Page::new("", true).html).into_owned())
}

/// Whether `If-None-Match` names `want` (or `*`).
fn not_modified(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == want || t == "*")
}

fn respond(
    headers: &HeaderMap,
    etag: &str,
    content_type: &'static str,
    cache: &'static str,
    body: Bytes,
) -> Response {
    let mut res = if not_modified(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(tag) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, tag);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

async fn index(page: Arc<Page>, headers: HeaderMap) -> Response {
    let mut res = respond(
        &headers,
        &page.etag,
        "text/html; charset=utf-8",
        "no-cache",
        page.html.clone(),
    );
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// `path` without its leading build hash, and whether that hash is this build's.
fn unversioned(path: &str) -> (&str, bool) {
    match path.split_once('/') {
        Some((hash, rest)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (rest, hash == version())
        }
        _ => (path, false),
    }
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (path, current) = unversioned(&path);
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such asset\n",
        )
            .into_response();
    };
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let body = Bytes::from_static(a.body);
    respond(&headers, &etag(), a.content_type, cache, body)
}

/// `/` and `/assets/...`; `base` is the checked base path the app is nested under ("" for none).
pub fn routes(base: &str, class_picker: bool) -> Router<Arc<WebState>> {
    let page = Arc::new(Page::new(base, class_picker));
    Router::new()
        .route(
            "/",
            get(move |headers: HeaderMap| index(page.clone(), headers)),
        )
        .route("/assets/{*path}", get(asset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(res: &Response, name: header::HeaderName) -> &str {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn index_links_only_embedded_assets_of_this_build() {
        let html = index_html();
        assert!(!html.contains("{{version}}"));
        let prefix = format!("\"assets/{}/", version());
        assert_eq!(
            html.matches("\"assets/").count(),
            html.matches(&prefix).count(),
            "every asset link carries this build's hash"
        );
        let mut linked = 0;
        for part in html.split(&prefix).skip(1) {
            let path = part.split('"').next().unwrap_or("");
            assert!(
                ASSETS.iter().any(|a| a.path == path),
                "{path} is not embedded"
            );
            linked += 1;
        }
        // The modules main.js imports are linked as modulepreload.
        assert_eq!(linked, ASSETS.len(), "every embedded asset is linked once");
    }

    /// The paths a module imports (`import ... from './x.js'`), resolved against its folder.
    fn imports_of(module: &Asset) -> Vec<String> {
        let dir = module.path.rsplit_once('/').map_or("", |(d, _)| d);
        String::from_utf8_lossy(module.body)
            .split(" from '")
            .skip(1)
            .map(|rest| {
                let spec = rest.split('\'').next().unwrap_or("");
                let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        _ => parts.push(seg),
                    }
                }
                assert!(
                    spec.starts_with("./") || spec.starts_with("../"),
                    "{} imports {spec}: only relative imports stay on this server",
                    module.path
                );
                parts.join("/")
            })
            .collect()
    }

    #[test]
    fn every_module_import_is_embedded() {
        let modules: Vec<&Asset> = ASSETS
            .iter()
            .filter(|a| a.path.starts_with("ui/"))
            .collect();
        assert!(modules.len() > 1);
        let mut imported = 0;
        for m in &modules {
            assert_eq!(m.content_type, JS, "{}", m.path);
            for path in imports_of(m) {
                assert!(
                    modules.iter().any(|a| a.path == path),
                    "{} imports {path}, which is not embedded",
                    m.path
                );
                imported += 1;
            }
        }
        assert!(
            imported >= modules.len() - 1,
            "the modules import each other"
        );
    }

    #[test]
    fn page_loads_nothing_from_other_hosts() {
        let html = index_html();
        for attr in ["src=", "href="] {
            for part in html.split(attr).skip(1) {
                let value = part.trim_start_matches(['"', '\'']);
                assert!(
                    !value.starts_with("http:")
                        && !value.starts_with("https:")
                        && !value.starts_with("//"),
                    "external {attr}{value:.60}"
                );
            }
        }
        for a in ASSETS
            .iter()
            .filter(|a| a.path.ends_with(".js") || a.path.ends_with(".css"))
        {
            let text = String::from_utf8_lossy(a.body);
            for needle in [
                "import(",
                "@import",
                "fetch(\"http",
                "fetch('http",
                "url(http",
                "url(\"http",
            ] {
                assert!(!text.contains(needle), "{} contains {needle}", a.path);
            }
        }
    }

    #[test]
    fn index_is_revalidated_and_locked_to_its_origin() {
        let page = Arc::new(Page::new("", true));
        let index = |headers| block_on(index(page.clone(), headers));
        let res = index(HeaderMap::new());
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            header_of(&res, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-cache");
        assert!(header_of(&res, header::CONTENT_SECURITY_POLICY).starts_with("default-src 'self'"));
        let mut again = HeaderMap::new();
        again.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(header_of(&res, header::ETAG))
                .unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(index(again).status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn the_page_gets_the_base_path_and_hides_the_class_choice_without_the_picker() {
        let plain = Page::new("", true);
        assert_eq!(plain.html, index_html().as_bytes());
        assert!(!index_html().contains("<base") && !index_html().contains("f-classes-box{"));
        let page = Page::new("/tools/locust", false);
        let html = String::from_utf8_lossy(&page.html);
        let head = html.split("<head>\n").nth(1).unwrap_or("");
        assert!(head.starts_with("<base href=\"/tools/locust/\">\n<style>#f-classes-box{display:none!important}</style>\n<meta charset"), "{head:.200}");
        assert_ne!(page.etag, plain.etag, "another page, another ETag");
        assert_ne!(page.etag, Page::new("/tools/locust", true).etag);
    }

    #[test]
    fn assets_have_types_and_versioned_caching() {
        let get = |path: &str| block_on(asset(Path(path.to_owned()), HeaderMap::new()));
        let res = get(&format!("{}/ui/main.js", version()));
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header_of(&res, header::CONTENT_TYPE), JS);
        assert_eq!(
            header_of(&res, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        // An old page's hash, or none: served, but revalidated.
        for path in [
            "0123456789abcdef/vendor/uPlot.min.css",
            "vendor/uPlot.min.css",
        ] {
            let res = get(path);
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&res, header::CONTENT_TYPE), CSS);
            assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-cache");
        }
        assert_eq!(get("favicon.svg").status(), StatusCode::OK);
        for missing in [
            "../Cargo.toml".to_owned(),
            format!("{}/../Cargo.toml", version()),
            format!("{}/app.js", version()),
            "nope.js".to_owned(),
        ] {
            assert_eq!(get(&missing).status(), StatusCode::NOT_FOUND, "{missing}");
        }
    }

    #[test]
    fn version_is_a_stable_hex_hash() {
        assert_eq!(version().len(), 16);
        assert!(version().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(fnv1a(0xcbf2_9ce4_8422_2325, b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
