//! HTTPS and `wss://` with rustls: a certificate chain and its private key, PEM files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file cannot be read, or holds nothing of the kind asked for.
    #[error("cannot read the {what} in {}", path.display())]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{} holds no certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// rustls refuses the pair (a key that does not match the certificate, say).
    #[error("the certificate and key cannot serve TLS")]
    Config(#[source] rustls::Error),
}

/// The server's TLS settings from a certificate chain (`cert`, PEM, leaf first) and its
/// private key (`key`, PEM: PKCS#8, PKCS#1 or SEC1). HTTP/1.1 only, as the server speaks.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let pem = |what| {
        move |source| TlsError::Pem {
            what,
            path: if what == "certificate" { cert } else { key }.to_path_buf(),
            source,
        }
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(pem("certificate"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem("certificate"))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem("private key"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsError::Config)?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
