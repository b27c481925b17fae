//! TLS for PostgreSQL connections, with libpq's `sslmode` meanings, so the URL that
//! works in `psql` works here.
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | – |
//! | `prefer` (the default) | if the server offers it | no |
//! | `require` | yes | no |
//! | `verify-ca` | yes | its chain, against the roots |
//! | `verify-full` | yes | its chain and its host name |
//!
//! The roots are `sslrootcert=FILE` (PEM) when the URL gives one, the system's
//! otherwise. tokio-postgres knows only the first three modes and no `sslrootcert`, so
//! [`TlsOptions::from_url`] takes those out of the URL first.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls::{Error as TlsError, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Nothing (libpq's `prefer` and `require`): encrypted, but a server in the middle
    /// is not detected.
    None,
    /// The chain up to a root, not the host name (`verify-ca`).
    Chain,
    /// The chain and the host name (`verify-full`).
    Full,
}

/// The TLS settings of a connection URL that tokio-postgres does not read itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    pub(crate) verification: Verification,
    /// `sslrootcert`: the roots to check the chain against, PEM.
    pub(crate) root_cert: Option<PathBuf>,
}

impl TlsOptions {
    /// Takes `sslmode=verify-ca|verify-full` (replaced by `require`, which makes
    /// tokio-postgres insist on TLS) and `sslrootcert` out of a `postgres://` URL, and
    /// returns the URL for tokio-postgres with the options. A key=value connection
    /// string is returned as it is, with no verification.
    pub(crate) fn from_url(url: &str) -> Result<(String, TlsOptions), String> {
        let mut options = TlsOptions {
            verification: Verification::None,
            root_cert: None,
        };
        let Ok(mut parsed) = url::Url::parse(url) else {
            return Ok((url.to_owned(), options));
        };
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Ok((url.to_owned(), options));
        }
        let mut kept = Vec::new();
        let mut changed = false;
        for (key, value) in parsed.query_pairs() {
            changed |= matches!(key.as_ref(), "sslrootcert")
                || (key == "sslmode" && value.starts_with("verify"));
            match (key.as_ref(), value.as_ref()) {
                ("sslmode", "verify-ca") => {
                    options.verification = Verification::Chain;
                    kept.push(("sslmode".to_owned(), "require".to_owned()));
                }
                ("sslmode", "verify-full") => {
                    options.verification = Verification::Full;
                    kept.push(("sslmode".to_owned(), "require".to_owned()));
                }
                ("sslmode", mode @ ("allow" | "verify_ca" | "verify_full")) => {
                    return Err(format!(
                        "sslmode={mode} is not supported: use disable, prefer, require, \
                         verify-ca or verify-full"
                    ));
                }
                ("sslrootcert", path) => options.root_cert = Some(PathBuf::from(path)),
                (key, value) => kept.push((key.to_owned(), value.to_owned())),
            }
        }
        if options.root_cert.is_some() && options.verification == Verification::None {
            return Err(
                "sslrootcert is given but sslmode does not check certificates: add \
                 sslmode=verify-full (or verify-ca)"
                    .to_owned(),
            );
        }
        if !changed {
            return Ok((url.to_owned(), options));
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
        Ok((parsed.to_string(), options))
    }

    /// The TLS connector these options describe.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let config = match self.verification {
            Verification::None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
                .with_no_client_auth(),
            Verification::Chain => {
                let inner =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(self.roots()?), provider)
                        .build()
                        .map_err(|e| format!("TLS roots: {e}"))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
                    .with_no_client_auth()
            }
            Verification::Full => builder
                .with_root_certificates(self.roots()?)
                .with_no_client_auth(),
        };
        Ok(MakeRustlsConnect::new(config))
    }

    /// `sslrootcert`'s certificates, or the system's roots.
    fn roots(&self) -> Result<RootCertStore, String> {
        let mut roots = RootCertStore::empty();
        let certificates: Vec<CertificateDer<'static>> = match &self.root_cert {
            Some(path) => CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?,
            None => rustls_native_certs::load_native_certs().certs,
        };
        let (added, _ignored) = roots.add_parsable_certificates(certificates);
        if added == 0 {
            return Err(match &self.root_cert {
                Some(path) => format!("sslrootcert {}: no certificate in it", path.display()),
                None => "no system root certificates found: give sslrootcert=FILE".to_owned(),
            });
        }
        Ok(roots)
    }
}

/// Accepts any certificate (libpq's `prefer` and `require`), still checking that the
/// server holds its key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks the chain but not the host name (`verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_become_require_with_their_roots() {
        let (url, options) = TlsOptions::from_url(
            "postgres://u@db.example:5432/w?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u@db.example:5432/w?sslmode=require&application_name=x"
        );
        assert_eq!(options.verification, Verification::Full);
        assert_eq!(options.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let (_, options) = TlsOptions::from_url("postgres://u@h/w?sslmode=verify-ca").unwrap();
        assert_eq!(options.verification, Verification::Chain);
    }

    #[test]
    fn other_urls_pass_unchanged() {
        for url in [
            "postgres://u@h/w",
            "postgres://u@h/w?sslmode=require",
            "host=h user=u sslmode=disable",
        ] {
            let (kept, options) = TlsOptions::from_url(url).unwrap();
            assert_eq!(kept, url);
            assert_eq!(options.verification, Verification::None);
        }
    }

    #[test]
    fn a_root_without_verification_or_an_unknown_mode_is_refused() {
        let error = TlsOptions::from_url("postgres://u@h/w?sslrootcert=/ca.pem").unwrap_err();
        assert!(error.contains("verify-full"), "{error}");
        let error = TlsOptions::from_url("postgres://u@h/w?sslmode=allow").unwrap_err();
        assert!(error.contains("sslmode=allow"), "{error}");
    }
}
