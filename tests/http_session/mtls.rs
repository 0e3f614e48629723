//! Certificates on both engines: a CA bundle that replaces the built-in roots, a client
//! certificate a server requires (mTLS: accepted with it, refused without), and unreadable or
//! wrong files refused when the client is built.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustlocust::http::{BaseUrl, Client, EngineKind, HttpConfig, Request};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use super::support::*;

on_both_engines!(client_certificate_and_ca_bundle);

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it, as PEM
/// files in `dir`: ca.pem, client.pem, client.key, both.pem (certificate and key together).
struct Pki {
    ca: rcgen::Certificate,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
}

fn pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        (cert, key)
    };
    let (server, server_key) = leaf("127.0.0.1");
    let (client, client_key) = leaf("client.test");
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("client.pem"), client.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).unwrap();
    std::fs::write(
        dir.join("both.pem"),
        format!("{}{}", client.pem(), client_key.serialize_pem()),
    )
    .unwrap();
    Pki {
        server: (
            server.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        ),
        ca,
    }
}

/// An HTTPS server that requires a client certificate signed by the CA; answers `hello`.
async fn mtls_server(p: &Pki) -> std::net::SocketAddr {
    let mut roots = RootCertStore::empty();
    roots.add(p.ca.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![p.server.0.clone()], p.server.1.clone_key())
        .unwrap();
    tls_http1_server(cfg, |_| "hello".into()).await
}

async fn client_certificate_and_ca_bundle(engine: EngineKind) {
    local(async {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = pki(d);
        let addr = mtls_server(&p).await;
        let base = BaseUrl::parse(&format!("https://127.0.0.1:{}", addr.port())).unwrap();
        let get = |cfg: HttpConfig| {
            let base = base.clone();
            async move {
                let c = Client::new(&HttpConfig { engine, ..cfg }).unwrap();
                c.session(Some(base)).send(Request::get("/")).await
            }
        };
        let ca = Some(d.join("ca.pem"));

        // the CA bundle verifies the server; the certificate and key, in two files or one
        for (cert, key) in [("client.pem", Some("client.key")), ("both.pem", None)] {
            let r = get(HttpConfig {
                ca_bundle: ca.clone(),
                client_cert: Some(d.join(cert)),
                client_key: key.map(|k| d.join(k)),
                ..HttpConfig::default()
            })
            .await
            .unwrap();
            assert_eq!(r.text(), "hello", "{cert}");
        }

        // without a client certificate the server refuses
        let e = get(HttpConfig {
            ca_bundle: ca.clone(),
            ..HttpConfig::default()
        })
        .await
        .unwrap_err();
        assert!(!e.is_request_error(), "{e}");
        assert!(e.to_string().starts_with("ConnectionError("), "{e}");

        // without the CA bundle the server's certificate is unknown
        let e = get(HttpConfig {
            client_cert: Some(d.join("both.pem")),
            ..HttpConfig::default()
        })
        .await
        .unwrap_err();
        assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    })
    .await
}

#[test]
fn unreadable_or_wrong_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pki(d);
    std::fs::write(d.join("junk.pem"), "not a pem file").unwrap();
    let err = |cfg: HttpConfig| Client::new(&cfg).err().unwrap().to_string();
    let missing = d.join("missing.pem");
    assert_eq!(
        err(HttpConfig {
            ca_bundle: Some(missing.clone()),
            ..HttpConfig::default()
        }),
        format!(
            "CA bundle {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    assert_eq!(
        err(HttpConfig {
            ca_bundle: Some(d.join("junk.pem")),
            ..HttpConfig::default()
        }),
        format!(
            "CA bundle {}: no PEM certificate in it",
            d.join("junk.pem").display()
        )
    );
    assert_eq!(
        err(HttpConfig {
            client_cert: Some(d.join("client.pem")),
            ..HttpConfig::default()
        }),
        format!(
            "client key {}: no PEM item of that kind in it (expected a PEM private key)",
            d.join("client.pem").display()
        )
    );
    let e = err(HttpConfig {
        client_cert: Some(d.join("client.pem")),
        client_key: Some(missing.clone()),
        ..HttpConfig::default()
    });
    assert!(
        e.starts_with(&format!("client key {}: No such file", missing.display())),
        "{e}"
    );
    // a key that is not the certificate's
    let other = KeyPair::generate().unwrap();
    std::fs::write(d.join("other.key"), other.serialize_pem()).unwrap();
    let e = err(HttpConfig {
        client_cert: Some(d.join("client.pem")),
        client_key: Some(d.join("other.key")),
        ..HttpConfig::default()
    });
    assert!(
        e.starts_with(&format!(
            "client certificate {} and its key:",
            d.join("client.pem").display()
        )),
        "{e}"
    );
}
