//! TLS client configuration: built once per `Client` and shared by all its sessions and by the
//! reqwest engine (root-store loading is the expensive part; the session-resumption cache is
//! shared too). A CA bundle replaces the built-in roots (as curl's `--cacert` and requests'
//! `verify=path`); a client certificate (PEM, key beside it or in its own file) is offered to
//! servers that ask (mTLS).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::HttpError;

/// `insecure`: accept any server certificate (like Locust's FastHttpUser default / `verify=False`).
pub(crate) fn client_config(cfg: &super::HttpConfig) -> Result<Arc<ClientConfig>, HttpError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Config(format!("TLS configuration: {e}")))?;
    let builder = if cfg.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
    } else {
        let roots = match &cfg.ca_bundle {
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(path, "CA bundle")? {
                    roots.add(cert).map_err(|e| {
                        HttpError::Config(format!("CA bundle {}: {e}", path.display()))
                    })?;
                }
                roots
            }
        };
        builder.with_root_certificates(roots)
    };
    let mut cfg = match &cfg.client_cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let chain = certificates(cert, "client certificate")?;
            let key_file = cfg.client_key.as_deref().unwrap_or(cert);
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
                HttpError::Config(format!(
                    "client key {}: {} (expected a PEM private key)",
                    key_file.display(),
                    pem_error(e)
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                HttpError::Config(format!(
                    "client certificate {} and its key: {e}",
                    cert.display()
                ))
            })?
        }
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Every certificate of a PEM file; none is an error. `what` names the file's role for errors.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    let bad = |e: String| HttpError::Config(format!("{what} {}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(pem_error(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(pem_error(e)))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// A PEM error as a sentence (a missing file says so, as the OS does).
fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item of that kind in it".into(),
        e => e.to_string(),
    }
}

/// Skips certificate verification entirely (`insecure`).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
