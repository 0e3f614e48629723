//! `files:` request option: a `multipart/form-data` body as python-requests' `files=` (with
//! `data=` fields first), encoded whole so that both engines send it and a 307/308 redirect can
//! send it again. File paths are confined to the scenario's folder, as the feeders' are.

use std::path::Path;

use rhai::{Blob, Dynamic, Map};

use super::error::runtime_error;
use super::feeder::confine;

type R<T> = Result<T, Box<rhai::EvalAltResult>>;

/// The body and its `Content-Type` (with the boundary).
pub struct Multipart {
    pub body: Vec<u8>,
    pub content_type: String,
}

/// One part's data and headers.
struct Part {
    field: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// Encodes `fields` (the `data`/`form` map, if any) then `files`: each file is
/// `#{ data: string|blob }` or `#{ path: "relative/to/scenario" }`, with optional `name` (the file
/// name sent; default: the path's file name, else the field) and `content_type` (none by default,
/// as requests).
pub fn encode(fields: Option<&Map>, files: &Map, dir: &Path) -> R<Multipart> {
    let mut parts = Vec::new();
    for (k, v) in fields.into_iter().flatten() {
        let values = match v.clone().try_cast::<rhai::Array>() {
            Some(items) => items,
            None => vec![v.clone()],
        };
        for value in values {
            parts.push(Part {
                field: k.to_string(),
                filename: None,
                content_type: None,
                data: value.to_string().into_bytes(),
            });
        }
    }
    for (field, spec) in files {
        parts.push(file_part(field, spec, dir)?);
    }
    let boundary = boundary();
    let mut body = Vec::new();
    for p in &parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"",
            quote(&p.field)
        );
        if let Some(f) = &p.filename {
            disposition.push_str(&format!("; filename=\"{}\"", quote(f)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = &p.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(Multipart {
        body,
        content_type: format!("multipart/form-data; boundary={boundary}"),
    })
}

fn file_part(field: &str, spec: &Dynamic, dir: &Path) -> R<Part> {
    let what = format!("request option 'files', field '{field}'");
    let spec = spec.clone().try_cast::<Map>().ok_or_else(|| {
        runtime_error(format!(
            "{what}: expected a map such as #{{ path: \"upload.txt\" }} or #{{ data: \"...\", name: \"a.txt\" }}"
        ))
    })?;
    let text = |key: &str| -> R<Option<String>> {
        match spec.get(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.to_string())),
            Some(v) => Err(runtime_error(format!(
                "{what}: '{key}' must be a string, got {}",
                v.type_name()
            ))),
        }
    };
    for k in spec.keys() {
        if !["data", "path", "name", "content_type"].contains(&k.as_str()) {
            return Err(runtime_error(format!(
                "{what}: unknown key '{k}' (expected data or path, name, content_type)"
            )));
        }
    }
    let (data, from_path) = match (spec.get("data"), text("path")?) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(runtime_error(format!(
                "{what}: give exactly one of data or path"
            )))
        }
        (Some(d), None) if d.is_blob() => (d.clone().cast::<Blob>(), None),
        (Some(d), None) if d.is_string() => (d.to_string().into_bytes(), None),
        (Some(d), None) => {
            return Err(runtime_error(format!(
                "{what}: data must be a string or a blob, got {}",
                d.type_name()
            )))
        }
        (None, Some(rel)) => {
            let full = confine(dir, &rel).map_err(|e| runtime_error(format!("{what}: {e}")))?;
            let data = std::fs::read(&full).map_err(|e| {
                runtime_error(format!("{what}: cannot read {}: {e}", full.display()))
            })?;
            let name = full.file_name().map(|n| n.to_string_lossy().into_owned());
            (data, name)
        }
    };
    Ok(Part {
        field: field.to_string(),
        filename: Some(
            text("name")?
                .or(from_path)
                .unwrap_or_else(|| field.to_string()),
        ),
        content_type: text("content_type")?,
        data,
    })
}

/// A quoted-string's content as browsers and urllib3 write it (HTML5 form encoding).
fn quote(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// 32 random hex digits, as requests' `uuid4().hex`.
fn boundary() -> String {
    let n: u128 = rand::random();
    format!("{n:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect()
    }

    #[test]
    fn encodes_fields_then_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("up.txt"), "file bytes").unwrap();
        let fields = map(&[("a", "1".into())]);
        let files = map(&[
            ("doc", Dynamic::from(map(&[("path", "up.txt".into())]))),
            (
                "raw",
                Dynamic::from(map(&[
                    ("data", Dynamic::from_blob(vec![0, 1, 2])),
                    ("name", "x\"y.bin".into()),
                    ("content_type", "application/octet-stream".into()),
                ])),
            ),
        ]);
        let m = encode(Some(&fields), &files, dir.path()).unwrap();
        let b = m
            .content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8_lossy(&m.body);
        assert!(
            text.starts_with(&format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
            )),
            "{text}"
        );
        assert!(
            text.contains("name=\"doc\"; filename=\"up.txt\"\r\n\r\nfile bytes\r\n"),
            "{text}"
        );
        assert!(text.contains("name=\"raw\"; filename=\"x%22y.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\u{0}\u{1}\u{2}\r\n"), "{text}");
        assert!(text.ends_with(&format!("--{b}--\r\n")));
    }

    #[test]
    fn bad_specs_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = |spec: Dynamic| {
            encode(None, &map(&[("f", spec)]), dir.path())
                .err()
                .unwrap()
                .to_string()
        };
        assert!(
            err(map(&[("path", "../x".into())]).into()).contains("leaves the scenario's folder")
        );
        assert!(err(map(&[("path", "/etc/passwd".into())]).into()).contains("absolute path"));
        assert!(err(map(&[("path", "missing.txt".into())]).into()).contains("cannot read"));
        assert!(err(map(&[]).into()).contains("give exactly one of data or path"));
        assert!(
            err(map(&[("data", 1_i64.into())]).into()).contains("data must be a string or a blob")
        );
        assert!(
            err(map(&[("data", "x".into()), ("nmae", "y".into())]).into())
                .contains("unknown key 'nmae'")
        );
        assert!(err("x".into()).contains("expected a map"));
    }
}
