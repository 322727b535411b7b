//! A gRPC client for provider binaries that does what Terraform does: the go-plugin handshake
//! with AutoMTLS (a self-signed ECDSA P-521 client certificate marked as a CA, exactly like
//! go-plugin's), then the tfplugin6 and go-plugin services over the real transport.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hyper_util::rt::TokioIo;
use p521::ecdsa::signature::Signer as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{DigitallySignedStruct, SignatureAlgorithm, SignatureScheme};
use tfipam::plugin::proto::plugin::grpc_controller_client::GrpcControllerClient;
use tfipam::plugin::proto::tfplugin6 as pb;
use tfipam::plugin::proto::tfplugin6::provider_client::ProviderClient;
use tfipam::plugin::{codec, Type, Value};
use tonic::transport::{Channel, Endpoint};

/// The test-only provider binary.
pub fn plugintest_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-plugintest"))
}

/// A client identity like go-plugin's: ECDSA P-521, self-signed, CA, for `localhost`.
pub struct ClientIdentity {
    pub certificate: CertificateDer<'static>,
    pub pem: String,
    key: p521::ecdsa::SigningKey,
}

/// DER: one element of `tag` around `contents`.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
    out
}

fn der_sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// A self-signed X.509 certificate for `localhost` with CA basic constraints, signed with
/// ECDSA P-521 + SHA-512: the shape of go-plugin's client certificate. (rcgen cannot make
/// P-521 certificates with the ring backend, so it is assembled here.)
fn p521_certificate(key: &p521::ecdsa::SigningKey) -> Vec<u8> {
    let ecdsa_with_sha512 =
        der_sequence(&[der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04])]);
    let name = der_sequence(&[der(
        0x31,
        &der_sequence(&[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, b"localhost")]),
    )]);
    let validity = der_sequence(&[der(0x17, b"240101000000Z"), der(0x18, b"20991231000000Z")]);
    let point = p521::ecdsa::VerifyingKey::from(key)
        .to_encoded_point(false)
        .as_bytes()
        .to_vec();
    let spki = der_sequence(&[
        der_sequence(&[
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            der(0x06, &[0x2b, 0x81, 0x04, 0x00, 0x23]),
        ]),
        der(0x03, &[&[0u8][..], &point].concat()),
    ]);
    let basic_constraints = der_sequence(&[
        der(0x06, &[0x55, 0x1d, 0x13]),
        der(0x01, &[0xff]),
        der(0x04, &der_sequence(&[der(0x01, &[0xff])])),
    ]);
    let subject_alt_name = der_sequence(&[
        der(0x06, &[0x55, 0x1d, 0x11]),
        der(0x04, &der_sequence(&[der(0x82, b"localhost")])),
    ]);
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).expect("randomness");
    serial[0] &= 0x7f;
    let tbs = der_sequence(&[
        der(0xa0, &der(0x02, &[2])),
        der(0x02, &serial),
        ecdsa_with_sha512.clone(),
        name.clone(),
        validity,
        name,
        spki,
        der(0xa3, &der_sequence(&[basic_constraints, subject_alt_name])),
    ]);
    let signature: p521::ecdsa::Signature = key.sign(&tbs);
    let signature = signature.to_der();
    der_sequence(&[
        tbs,
        ecdsa_with_sha512,
        der(0x03, &[&[0u8][..], signature.as_bytes()].concat()),
    ])
}

impl ClientIdentity {
    pub fn generate() -> ClientIdentity {
        let key = loop {
            let mut secret = [0u8; 66];
            getrandom::fill(&mut secret).expect("randomness");
            secret[0] &= 0x01; // a P-521 scalar has 521 bits
            if let Ok(key) = p521::ecdsa::SigningKey::from_slice(&secret) {
                break key;
            }
        };
        let certificate = p521_certificate(&key);
        let body = base64::engine::general_purpose::STANDARD.encode(&certificate);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        ClientIdentity {
            pem: format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            ),
            certificate: CertificateDer::from(certificate),
            key,
        }
    }
}

struct P521SigningKey(p521::ecdsa::SigningKey);

impl std::fmt::Debug for P521SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("P521SigningKey")
    }
}

impl SigningKey for P521SigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
            .then(|| Box::new(P521Signer(self.0.clone())) as Box<dyn Signer>)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

struct P521Signer(p521::ecdsa::SigningKey);

impl std::fmt::Debug for P521Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("P521Signer")
    }
}

impl Signer for P521Signer {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let signature: p521::ecdsa::Signature = self.0.sign(message);
        Ok(signature.to_der().as_bytes().to_vec())
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP521_SHA512
    }
}

/// Trusts exactly the certificate from the handshake line (like go-plugin's RootCAs).
#[derive(Debug)]
struct ExactServerCertificate {
    expected: CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ExactServerCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[derive(Debug)]
struct OneClientCertificate(Arc<CertifiedKey>);

impl rustls::client::ResolvesClientCert for OneClientCertificate {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// How to start the plugin.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Serve without TLS (no PLUGIN_CLIENT_CERT).
    pub plain: bool,
}

/// A running provider process and clients connected to it.
pub struct Plugin {
    pub child: Child,
    pub provider: ProviderClient<Channel>,
    pub controller: GrpcControllerClient<Channel>,
    /// `unix|/path` or `tcp|127.0.0.1:port` from the handshake line.
    pub network: String,
    pub address: String,
    pub server_certificate: Option<CertificateDer<'static>>,
    pub identity: Arc<ClientIdentity>,
    stderr: Arc<Mutex<String>>,
    stdout_rest: Arc<Mutex<String>>,
}

/// The parsed handshake line.
pub struct Handshake {
    pub network: String,
    pub address: String,
    pub certificate: Option<CertificateDer<'static>>,
}

pub fn parse_handshake(line: &str) -> Handshake {
    let parts: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(parts.len(), 6, "handshake line {line:?}");
    assert_eq!(parts[0], "1", "core protocol version");
    assert_eq!(parts[1], "6", "app protocol version");
    assert_eq!(parts[4], "grpc");
    let certificate = (!parts[5].is_empty()).then(|| {
        CertificateDer::from(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(parts[5])
                .expect("certificate is unpadded standard base64"),
        )
    });
    Handshake {
        network: parts[2].to_string(),
        address: parts[3].to_string(),
        certificate,
    }
}

/// Connects a channel to `network`/`address`, with mTLS when `server_certificate` is given.
pub async fn connect(
    network: &str,
    address: &str,
    server_certificate: Option<CertificateDer<'static>>,
    identity: &ClientIdentity,
) -> Result<Channel, tonic::transport::Error> {
    let tls = server_certificate.map(|expected| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(ExactServerCertificate {
            expected,
            algorithms: provider.signature_verification_algorithms,
        });
        let key = Arc::new(CertifiedKey::new(
            vec![identity.certificate.clone()],
            Arc::new(P521SigningKey(identity.key.clone())),
        ));
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(OneClientCertificate(key)));
        config.alpn_protocols = vec![b"h2".to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(config))
    });
    let network = network.to_string();
    let address = address.to_string();
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let (network, address, tls) = (network.clone(), address.clone(), tls.clone());
        async move {
            let stream: Box<dyn IoStream> = if network == "unix" {
                Box::new(tokio::net::UnixStream::connect(&address).await?)
            } else {
                let stream = tokio::net::TcpStream::connect(&address).await?;
                stream.set_nodelay(true)?;
                Box::new(stream)
            };
            let stream: Box<dyn IoStream> = match tls {
                Some(connector) => {
                    let name = ServerName::try_from("localhost").expect("server name");
                    Box::new(connector.connect(name, stream).await?)
                }
                None => stream,
            };
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    Endpoint::from_static("http://localhost")
        .connect_with_connector(connector)
        .await
}

pub trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> IoStream for T {}

impl Plugin {
    /// Starts `binary` as Terraform would and connects.
    pub async fn start(binary: &Path, launch: Launch) -> Plugin {
        let identity = Arc::new(ClientIdentity::generate());
        let mut command = Command::new(binary);
        command
            .env(
                "TF_PLUGIN_MAGIC_COOKIE",
                tfipam::plugin::serve::MAGIC_COOKIE_VALUE,
            )
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !launch.plain {
            command.env("PLUGIN_CLIENT_CERT", &identity.pem);
        } else {
            command.env_remove("PLUGIN_CLIENT_CERT");
        }
        for (key, value) in &launch.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("starting the provider");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut pipe = child.stderr.take().expect("stderr");
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    stderr
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let stdout_rest = Arc::new(Mutex::new(String::new()));
        let (first_line, handshake_line) = tokio::sync::oneshot::channel();
        {
            let stdout_rest = stdout_rest.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let _ = first_line.send(line);
                // Anything after the handshake on stdout is a bug: keep it for the tests.
                let mut rest = String::new();
                let _ = reader.read_to_string(&mut rest);
                stdout_rest.lock().unwrap().push_str(&rest);
            });
        }
        let line = tokio::time::timeout(Duration::from_secs(20), handshake_line)
            .await
            .expect("the provider printed its handshake in time")
            .expect("the provider printed a handshake line");
        let handshake = parse_handshake(&line);
        let channel = connect(
            &handshake.network,
            &handshake.address,
            handshake.certificate.clone(),
            &identity,
        )
        .await
        .expect("connecting to the provider");
        Plugin {
            child,
            provider: ProviderClient::new(channel.clone()).max_decoding_message_size(256 << 20),
            controller: GrpcControllerClient::new(channel),
            network: handshake.network,
            address: handshake.address,
            server_certificate: handshake.certificate,
            identity,
            stderr,
            stdout_rest,
        }
    }

    /// What the provider wrote to stdout after the handshake line (must stay empty).
    pub fn stdout_after_handshake(&self) -> String {
        self.stdout_rest.lock().unwrap().clone()
    }

    /// stderr once it contains `needle` (the reader thread may lag behind the RPC), or what
    /// there is after a few seconds.
    pub async fn wait_for_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.stderr();
            if text.contains(needle) || Instant::now() > deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// What the provider wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Calls GRPCController.Shutdown and waits for the process to exit; returns its status.
    pub async fn shutdown(mut self) -> std::process::ExitStatus {
        let _ = self
            .controller
            .shutdown(tfipam::plugin::proto::plugin::Empty {})
            .await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the provider") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "provider did not exit after Shutdown"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// msgpack DynamicValue of `value` at type `ty`.
pub fn dynamic(value: &Value, ty: &Type) -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: codec::to_msgpack(value, ty).expect("encodable test value"),
        json: Vec::new(),
    }
}

/// Decodes a msgpack DynamicValue.
pub fn value_of(dynamic: Option<&pb::DynamicValue>, ty: &Type) -> Value {
    match dynamic {
        Some(d) if !d.msgpack.is_empty() => codec::from_msgpack(&d.msgpack, ty).expect("decodable"),
        _ => Value::Null,
    }
}

/// Summaries and details of diagnostics, one per line, for assertions.
pub fn describe(diagnostics: &[pb::Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.summary, d.detail))
        .collect::<Vec<_>>()
        .join("\n")
}
