//! The UI's files from `web/`, embedded in the binary so a single file works offline: `/` is
//! `index.html`, `/assets/...` the script, styles and the vendored chart library (uPlot).
//!
//! The server adds to the page's `<head>` what only it knows, so that the UI's scripts need no
//! change: under `--web-base-path` a `<base href>` (the UI's URLs are all relative, so they then
//! resolve under the base path), and without `--class-picker` a style that hides the start form's
//! class choice (every class then runs, as the form sends no `user_classes`).
//!
//! Caching: `index.html` is revalidated on every load (`no-cache` plus an ETag) and links its
//! assets as `assets/x?v=<build hash>`; an asset asked for with the current hash is immutable for a
//! year, any other request for it is revalidated. A new binary therefore never serves stale files.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
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

const ASSETS: &[Asset] = &[
    Asset {
        path: "app.js",
        content_type: JS,
        body: include_bytes!("../../web/app.js"),
    },
    Asset {
        path: "charts.js",
        content_type: JS,
        body: include_bytes!("../../web/charts.js"),
    },
    Asset {
        path: "style.css",
        content_type: CSS,
        body: include_bytes!("../../web/style.css"),
    },
    Asset {
        path: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../web/favicon.svg"),
    },
    Asset {
        path: "vendor/uPlot.iife.min.js",
        content_type: JS,
        body: include_bytes!("../../web/vendor/uPlot.iife.min.js"),
    },
    Asset {
        path: "vendor/uPlot.min.css",
        content_type: CSS,
        body: include_bytes!("../../web/vendor/uPlot.min.css"),
    },
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

/// A hash of every embedded file: the `?v=` of asset links and every ETag.
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

async fn asset(
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such asset\n",
        )
            .into_response();
    };
    let current = query
        .as_deref()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "v"))
        .is_some_and(|(_, v)| v == version());
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
        let mut linked = 0;
        for part in html.split("\"assets/").skip(1) {
            let link = part.split('"').next().unwrap_or("");
            let (path, query) = link.split_once('?').unwrap_or((link, ""));
            assert!(
                ASSETS.iter().any(|a| a.path == path),
                "{path} is not embedded"
            );
            assert_eq!(query, format!("v={}", version()), "{link}");
            linked += 1;
        }
        assert_eq!(linked, ASSETS.len(), "every embedded asset is linked once");
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
        let get = |path: &str, query: Option<String>| {
            block_on(asset(
                Path(path.to_owned()),
                RawQuery(query),
                HeaderMap::new(),
            ))
        };
        let res = get("app.js", Some(format!("v={}", version())));
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header_of(&res, header::CONTENT_TYPE), JS);
        assert_eq!(
            header_of(&res, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        let res = get("vendor/uPlot.min.css", Some("v=stale".into()));
        assert_eq!(header_of(&res, header::CONTENT_TYPE), CSS);
        assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-cache");
        assert_eq!(get("favicon.svg", None).status(), StatusCode::OK);
        assert_eq!(get("../Cargo.toml", None).status(), StatusCode::NOT_FOUND);
        assert_eq!(get("nope.js", None).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn version_is_a_stable_hex_hash() {
        assert_eq!(version().len(), 16);
        assert!(version().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(fnv1a(0xcbf2_9ce4_8422_2325, b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
