//! The connection string: `postgres://user[:password]@host[:port]/dbname?sslmode=…&schema=…`
//! (also `postgresql://`), the password from the URL or `PGPASSWORD`, TLS through rustls, and a
//! description of the database that never contains the password.

use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::ipam::{Error, Result};

/// The schema the backend's tables live in when the URL names none (`?schema=`).
pub const DEFAULT_SCHEMA: &str = "ipam";

/// Where the system's trusted certificate authorities are (Debian's `ca-certificates`), used by
/// `sslmode=verify-full` when the URL names no `sslrootcert`.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Whether a database location is a PostgreSQL connection string.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// How the connection is protected (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, without certificate checks.
    Prefer,
    /// TLS or no connection, without certificate checks.
    Require,
    /// TLS or no connection; the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

/// A parsed connection string.
#[derive(Clone)]
pub struct PostgresLocation {
    pub(super) config: Config,
    pub(super) tls: TlsMode,
    pub(super) root_cert: Option<String>,
    /// The schema holding the tables.
    pub schema: String,
}

impl std::fmt::Debug for PostgresLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidArgument {
        input: "database",
        message,
    }
}

/// `%xx` decoding of a URL query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl PostgresLocation {
    /// Parses a `postgres://` or `postgresql://` URL. Query parameters of our own: `schema`
    /// (default `ipam`), `sslmode` (`disable | prefer | require | verify-full`, default
    /// `prefer`), `sslrootcert` (a PEM file of trusted roots for `verify-full`); the others go
    /// to the driver (`connect_timeout`, `application_name`, …). Without a password in the URL,
    /// `PGPASSWORD` is used; without a user, `PGUSER`, else `USER`.
    pub fn parse(url: &str) -> Result<PostgresLocation> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut rest = Vec::new();
        let mut schema = DEFAULT_SCHEMA.to_string();
        let mut tls = TlsMode::Prefer;
        let mut root_cert = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key {
                "schema" => schema = value,
                "sslrootcert" => root_cert = Some(value),
                "sslmode" => {
                    tls = match value.as_str() {
                        "disable" => TlsMode::Disable,
                        "prefer" | "allow" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-full" | "verify-ca" => TlsMode::VerifyFull,
                        other => {
                            return Err(invalid(format!(
                                "unknown sslmode {other:?} in the connection string; use disable, prefer, require or verify-full"
                            )))
                        }
                    }
                }
                _ => rest.push(pair),
            }
        }
        if schema.is_empty() || schema.len() > 63 {
            return Err(invalid(format!(
                "schema name {schema:?} in the connection string must have 1 to 63 characters"
            )));
        }
        let driver_url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config = Config::from_str(&driver_url).map_err(|e| {
            invalid(format!(
                "the PostgreSQL connection string {} is not valid: {e}; expected postgres://user@host:5432/dbname?sslmode=require",
                redact(url)
            ))
        })?;
        if config.get_password().is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                config.password(password);
            }
        }
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "postgres".to_string());
            config.user(&user);
        }
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyFull => SslMode::Require,
        });
        config.application_name("terraform-provider-ipam");
        Ok(PostgresLocation {
            config,
            tls,
            root_cert,
            schema,
        })
    }

    /// `database "name" on host:port as user "u"`: what error messages name (never the
    /// password).
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = self
                    .config
                    .get_ports()
                    .get(i)
                    .or(self.config.get_ports().first())
                    .copied()
                    .unwrap_or(5432);
                match host {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(path) => format!("{}:{port}", path.display()),
                }
            })
            .collect();
        format!(
            "database \"{}\" on {} as user \"{}\"",
            self.config
                .get_dbname()
                .or(self.config.get_user())
                .unwrap_or_default(),
            hosts.join(","),
            self.config.get_user().unwrap_or_default()
        )
    }

    /// The TLS connector for this location's `sslmode`.
    pub(super) fn tls_connector(&self) -> Result<MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Storage {
                message: format!("cannot set up TLS: {e}"),
            })?;
        let config = if self.tls == TlsMode::VerifyFull {
            let file = self.root_cert.as_deref().unwrap_or(SYSTEM_ROOTS);
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    invalid(format!(
                        "cannot read the trusted certificates for sslmode=verify-full from {file}: {e}; name a PEM file with sslrootcert=/path/to/root.crt in the connection string"
                    ))
                })?;
            roots.add_parsable_certificates(certs);
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth()
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

impl PostgresLocation {
    /// What to change in the connection string when connecting failed because of TLS: the
    /// server's certificate is not signed by a trusted CA or does not name the host
    /// (`verify-full`), or the server accepts only encrypted connections (`disable`). `None`
    /// for other failures.
    pub(super) fn tls_advice(&self, error: &postgres::Error) -> Option<String> {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            _ => "the host".to_string(),
        };
        if let Some(problem) = certificate_problem(error) {
            let roots = self.root_cert.as_deref().unwrap_or(SYSTEM_ROOTS);
            return Some(match problem {
                rustls::CertificateError::UnknownIssuer
                | rustls::CertificateError::BadSignature => format!(
                    "the server's certificate is not signed by a certificate authority in {roots} (sslrootcert); set sslrootcert=/path/to/root.crt in the connection string to the CA that signed the server's certificate"
                ),
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => format!(
                    "the server's certificate does not name the host {host}; connect by a name the certificate holds (its subject alternative names), or have the server's certificate reissued to include {host}"
                ),
                rustls::CertificateError::Expired
                | rustls::CertificateError::ExpiredContext { .. }
                | rustls::CertificateError::NotValidYet
                | rustls::CertificateError::NotValidYetContext { .. } => {
                    "the server's certificate is not valid at this time (expired or not yet valid); renew it on the server, and check this machine's clock".to_string()
                }
                _ => format!(
                    "the server's certificate was refused by sslmode=verify-full; check it against the CA in {roots} (sslrootcert)"
                ),
            });
        }
        let refused_plain = error
            .as_db_error()
            .is_some_and(|db| db.message().contains("no encryption"));
        if self.tls == TlsMode::Disable && refused_plain {
            return Some(
                "the server accepts this user only over TLS; use sslmode=verify-full (with sslrootcert=/path/to/root.crt) or sslmode=require instead of sslmode=disable".to_string(),
            );
        }
        None
    }
}

/// The certificate problem behind a failed TLS handshake, found in the error's sources (the
/// TLS layer reports it as an I/O error wrapping rustls's error).
fn certificate_problem(error: &postgres::Error) -> Option<rustls::CertificateError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        let tls = current.downcast_ref::<rustls::Error>().or_else(|| {
            current
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(problem)) = tls {
            return Some(problem.clone());
        }
        source = current.source();
    }
    None
}

/// The URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// `sslmode=require` and `prefer` (libpq's meaning): the connection is encrypted, the
/// certificate is not checked (signatures on the handshake still are).
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_our_parameters_and_describe_without_the_password() {
        let location = PostgresLocation::parse(
            "postgresql://alice:s3cret@db.example:6543/team?sslmode=require&schema=net&connect_timeout=3",
        )
        .expect("parse");
        assert_eq!(location.schema, "net");
        assert_eq!(location.tls, TlsMode::Require);
        let described = location.describe();
        assert_eq!(
            described,
            "database \"team\" on db.example:6543 as user \"alice\""
        );
        assert!(!format!("{location:?}").contains("s3cret"));
        assert_eq!(
            redact("postgres://alice:s3cret@h/db?x=1"),
            "postgres://alice:***@h/db?x=1"
        );
        assert_eq!(redact("postgres://alice@h/db"), "postgres://alice@h/db");
    }

    #[test]
    fn bad_urls_are_refused_clearly_without_the_password() {
        let error = PostgresLocation::parse("postgres://a:pw@h/db?sslmode=maybe")
            .expect_err("bad sslmode")
            .to_string();
        assert!(error.contains("unknown sslmode \"maybe\""), "{error}");
        let error = PostgresLocation::parse("postgres://a:pw@h:notaport/db")
            .expect_err("bad port")
            .to_string();
        assert!(
            error.contains("not valid") && !error.contains("pw@"),
            "{error}"
        );
    }
}
