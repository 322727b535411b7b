//! AutoMTLS as go-plugin does it: the plugin makes a self-signed server certificate and sends
//! it in the handshake line; Terraform sends its own self-signed client certificate in
//! `PLUGIN_CLIENT_CERT`, and only that exact certificate may connect.
//!
//! Two quirks of go-plugin's client certificate need care: it is marked as a CA (webpki's
//! verifier rejects CA certificates as client identities), and its key is ECDSA P-521, whose
//! signatures the ring crypto provider cannot check. The verifier below therefore compares the
//! certificate byte for byte and verifies P-521 signatures with RustCrypto's `p521`.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

/// The plugin's certificate (DER) and its key.
pub(crate) struct ServerIdentity {
    pub certificate: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

/// Makes a fresh self-signed certificate for `localhost` (the name go-plugin's client expects).
pub(crate) fn generate_server_identity() -> Result<ServerIdentity, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let key_pair = KeyPair::generate().map_err(|e| format!("generating the server key: {e}"))?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()])
        .map_err(|e| format!("certificate parameters: {e}"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "HashiCorp");
    // Like go-plugin's own certificates: the client puts this certificate in its root pool.
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| format!("signing the server certificate: {e}"))?;
    Ok(ServerIdentity {
        certificate: certificate.der().clone(),
        key: PrivatePkcs8KeyDer::from(key_pair.serialize_der()),
    })
}

/// Parses the PEM client certificate Terraform passes in `PLUGIN_CLIENT_CERT`.
pub(crate) fn parse_client_certificate(pem: &str) -> Result<CertificateDer<'static>, String> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("PLUGIN_CLIENT_CERT is not a PEM certificate: {e}"))
}

/// The TLS server configuration: our certificate, ALPN h2, and only `client` may connect.
pub(crate) fn server_config(
    identity: &ServerIdentity,
    client: CertificateDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(ExactClientCertificate::new(
        client,
        provider.signature_verification_algorithms,
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![identity.certificate.clone()],
            PrivateKeyDer::Pkcs8(identity.key.clone_key()),
        )
        .map_err(|e| format!("TLS server certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts exactly one client certificate.
struct ExactClientCertificate {
    expected: CertificateDer<'static>,
    p521_key: Option<p521::ecdsa::VerifyingKey>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ExactClientCertificate {
    fn new(
        expected: CertificateDer<'static>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> ExactClientCertificate {
        let p521_key = subject_public_key(&expected)
            .and_then(|point| p521::ecdsa::VerifyingKey::from_sec1_bytes(point).ok());
        ExactClientCertificate {
            expected,
            p521_key,
            algorithms,
        }
    }

    fn verify_p521(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        use p521::ecdsa::signature::Verifier;
        let key = match (&self.p521_key, cert.as_ref() == self.expected.as_ref()) {
            (Some(key), true) => key,
            _ => {
                return Err(Error::InvalidCertificate(
                    rustls::CertificateError::BadSignature,
                ))
            }
        };
        let signature = p521::ecdsa::Signature::from_der(dss.signature())
            .map_err(|_| Error::InvalidCertificate(rustls::CertificateError::BadSignature))?;
        key.verify(message, &signature)
            .map(|()| HandshakeSignatureValid::assertion())
            .map_err(|_| Error::InvalidCertificate(rustls::CertificateError::BadSignature))
    }
}

impl std::fmt::Debug for ExactClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactClientCertificate")
            .field("p521", &self.p521_key.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientCertVerifier for ExactClientCertificate {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        if dss.scheme == SignatureScheme::ECDSA_NISTP521_SHA512 {
            return self.verify_p521(message, cert, dss);
        }
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        if dss.scheme == SignatureScheme::ECDSA_NISTP521_SHA512 {
            return self.verify_p521(message, cert, dss);
        }
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes = self.algorithms.supported_schemes();
        if self.p521_key.is_some() {
            schemes.insert(0, SignatureScheme::ECDSA_NISTP521_SHA512);
        }
        schemes
    }
}

/// One DER element: (tag, contents, rest).
fn der_element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *bytes.first()?;
    let first = *bytes.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let count = first & 0x7f;
        if count == 0 || count > 4 {
            return None;
        }
        let len = bytes
            .get(2..2 + count)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, 2 + count)
    };
    let contents = bytes.get(header..header.checked_add(len)?)?;
    Some((tag, contents, &bytes[header + len..]))
}

/// The public key bits (SEC1 point for EC keys) of an X.509 certificate.
fn subject_public_key(certificate: &[u8]) -> Option<&[u8]> {
    let (_, certificate, _) = der_element(certificate)?;
    let (_, tbs, _) = der_element(certificate)?;
    let mut rest = tbs;
    // Skip the optional [0] version, then serial, signature algorithm, issuer, validity, subject.
    if rest.first() == Some(&0xa0) {
        rest = der_element(rest)?.2;
    }
    for _ in 0..5 {
        rest = der_element(rest)?.2;
    }
    let (_, spki, _) = der_element(rest)?;
    let (_, _algorithm, after_algorithm) = der_element(spki)?;
    let (tag, bits, _) = der_element(after_algorithm)?;
    // BIT STRING: first byte is the number of unused bits (0 for keys).
    (tag == 0x03 && bits.first() == Some(&0)).then(|| &bits[1..])
}
