//! Compressed responses on both engines: the default `Accept-Encoding` (and turning it off or
//! changing it per request and per client), gzip/deflate/br/zstd bodies decoded, a zip bomb and a
//! corrupt body failing with a clear text instead of eating memory.

use std::io::Write;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use rustlocust::http::{
    Client, EngineKind, HttpConfig, HttpError, Request, DEFAULT_ACCEPT_ENCODING,
};

use super::support::*;

on_both_engines!(
    decodes_every_coding,
    accept_encoding_default_and_overrides,
    bombs_and_corrupt_bodies_fail
);

const PLAIN: &str = "the quick brown fox jumps over the lazy dog; ";

fn plain() -> Vec<u8> {
    PLAIN.repeat(200).into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn encoded(coding: &str, data: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => gzip(data),
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            w.write_all(data).unwrap();
            drop(w);
            out
        }
        "zstd" => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
        other => panic!("no encoder for {other}"),
    }
}

/// `/enc/{coding}`: `plain()` in that coding; `/ae`: the Accept-Encoding received; `/bomb`: 8 MiB
/// of zeros gzipped (a few KiB); `/corrupt`: "gzip" that is not.
fn app() -> Router {
    Router::new()
        .route(
            "/enc/{coding}",
            get(
                |axum::extract::Path(coding): axum::extract::Path<String>| async move {
                    let body = encoded(&coding, &plain());
                    ([("content-encoding", coding)], body)
                },
            ),
        )
        .route(
            "/ae",
            get(|h: HeaderMap| async move {
                let v = h.get_all("accept-encoding").iter().count();
                let ae = h
                    .get("accept-encoding")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_else(|| "<none>".into());
                format!("{v}:{ae}")
            }),
        )
        .route(
            "/bomb",
            get(|| async { ([("content-encoding", "gzip")], gzip(&vec![0u8; 8 << 20])) }),
        )
        .route(
            "/corrupt",
            get(|| async { ([("content-encoding", "gzip")], "not gzip at all") }),
        )
}

async fn decodes_every_coding(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        let s = session_on(engine, addr);
        for coding in ["gzip", "deflate", "br", "zstd"] {
            let r = s
                .send(Request::get(format!("/enc/{coding}")))
                .await
                .unwrap();
            assert_eq!(r.status, 200);
            assert!(
                (r.header("content-length")
                    .unwrap()
                    .parse::<usize>()
                    .unwrap())
                    < plain().len() / 4,
                "{coding}: the body on the wire is compressed"
            );
            assert_eq!(r.header("content-encoding"), Some(coding));
            assert_eq!(r.body.len(), plain().len(), "{coding}: decoded length");
            assert_eq!(&r.body[..], &plain()[..], "{coding}");
        }
    })
    .await
}

async fn accept_encoding_default_and_overrides(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        let s = session_on(engine, addr);
        let r = s.send(Request::get("/ae")).await.unwrap();
        assert_eq!(r.text(), format!("1:{DEFAULT_ACCEPT_ENCODING}"));
        // per request: another value, none, or a header of the same name (which wins)
        let r = s
            .send(Request::get("/ae").accept_encoding("gzip"))
            .await
            .unwrap();
        assert_eq!(r.text(), "1:gzip");
        let r = s
            .send(Request::get("/ae").accept_encoding(""))
            .await
            .unwrap();
        assert_eq!(r.text(), "0:<none>");
        let r = s
            .send(Request::get("/ae").header("Accept-Encoding", "identity"))
            .await
            .unwrap();
        assert_eq!(r.text(), "1:identity");
        let e = s
            .send(Request::get("/ae").accept_encoding("gz\nip"))
            .await
            .unwrap_err();
        assert!(e.is_request_error(), "{e}");
        assert!(e.to_string().contains("Accept-Encoding"), "{e}");

        // per client (--accept-encoding)
        for (value, seen) in [("", "0:<none>"), ("br", "1:br")] {
            let c = Client::new(&HttpConfig {
                engine,
                accept_encoding: value.into(),
                ..HttpConfig::default()
            })
            .unwrap();
            let s = c.session(Some(base(addr)));
            assert_eq!(s.send(Request::get("/ae")).await.unwrap().text(), seen);
        }
        let e = Client::new(&HttpConfig {
            accept_encoding: "a\u{1}b".into(),
            ..HttpConfig::default()
        })
        .err()
        .unwrap();
        assert!(
            e.to_string().contains("invalid Accept-Encoding value"),
            "{e}"
        );
    })
    .await
}

async fn bombs_and_corrupt_bodies_fail(engine: EngineKind) {
    local(async {
        let (addr, _) = serve(app()).await;
        // The body limit bounds the decoded body: a bomb past it fails as the limit does.
        let c = Client::new(&HttpConfig {
            engine,
            max_body: Some(1 << 20),
            ..HttpConfig::default()
        })
        .unwrap();
        let s = c.session(Some(base(addr)));
        let e = s.send(Request::get("/bomb")).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "BodyTooLarge('response body exceeds 1 MiB (set by --max-body-size)')"
        );
        let e = s
            .send(Request::get("/bomb").max_body(1000))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "BodyTooLarge('response body exceeds 1000 bytes (set by max_body)')"
        );
        // Without a body limit, the decoded-size cap still holds.
        let c = Client::new(&HttpConfig {
            engine,
            max_decoded: 1 << 20,
            max_body: None,
            ..HttpConfig::default()
        })
        .unwrap();
        let s = c.session(Some(base(addr)));
        let e = s.send(Request::get("/bomb")).await.unwrap_err();
        assert!(matches!(e, HttpError::ContentDecoding(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "ContentDecodingError('Received response with content-encoding: gzip, but its decoded \
             body exceeds the limit of 1048576 bytes.')"
        );
        assert!(!e.is_request_error(), "a failed request, not a script error");
        let e = s.send(Request::get("/corrupt")).await.unwrap_err();
        assert!(
            e.to_string().starts_with(
                "ContentDecodingError('Received response with content-encoding: gzip, but failed to \
                 decode it."
            ),
            "{e}"
        );
        // the session goes on
        let r = s.send(Request::get("/enc/gzip")).await.unwrap();
        assert_eq!(r.body.len(), plain().len());
    })
    .await
}
