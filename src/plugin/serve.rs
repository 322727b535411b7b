//! The go-plugin handshake and the gRPC server process.
//!
//! Terraform starts the provider with `TF_PLUGIN_MAGIC_COOKIE`, `PLUGIN_PROTOCOL_VERSIONS` and
//! (AutoMTLS) `PLUGIN_CLIENT_CERT`; the provider listens, prints one handshake line
//! `1|6|unix|/path.sock|grpc|<base64 DER certificate>` on stdout and serves until Terraform calls
//! GRPCController.Shutdown (or kills it). Nothing else is ever written to stdout.

use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::logging;
use super::proto::google::protobuf::Empty as ProtobufEmpty;
use super::proto::plugin as go_plugin;
use super::proto::tfplugin6::provider_server::ProviderServer as ProviderService;
use super::provider::Provider;
use super::server::ProviderServer;
use super::tls;

/// The cookie go-plugin's client sets for Terraform providers.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Its value.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Set to `tcp` to listen on 127.0.0.1 (within `PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT`) instead of a
/// unix socket.
pub const TRANSPORT_ENV: &str = "TF_PLUGIN_TRANSPORT";

/// Serves `provider` as a Terraform plugin and returns the process exit code. `main` is just
/// `fn main() -> ExitCode { serve(MyProvider::new()) }`.
pub fn serve<P: Provider>(provider: P) -> ExitCode {
    serve_shared(Arc::new(provider))
}

/// [`serve`] for a provider already behind an `Arc`.
pub fn serve_shared(provider: Arc<dyn Provider>) -> ExitCode {
    // Recorded first thing: Terraform is our parent until it exits.
    let parent = std::os::unix::process::parent_id();
    let name = provider.type_name().to_string();
    if std::env::var(MAGIC_COOKIE_KEY).ok().as_deref() != Some(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "This is terraform-provider-{name}, a Terraform provider plugin: Terraform starts it, it is not run by hand.\n\
             To use it, install the binary where Terraform finds providers, for example a filesystem mirror\n\
             (<mirror>/registry.terraform.io/<namespace>/{name}/<version>/<os>_<arch>/terraform-provider-{name}_v<version>)\n\
             named in a provider_installation {{ filesystem_mirror {{ ... }} }} block of your CLI configuration,\n\
             or a dev_overrides entry pointing at the directory holding this binary; then run terraform init/plan/apply."
        );
        return ExitCode::from(1);
    }
    logging::init(&format!("provider.{name}"));
    logging::install_panic_hook();
    let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").unwrap_or_else(|_| "6".into());
    if !versions.split(',').any(|v| v.trim() == "6") {
        eprintln!(
            "terraform-provider-{name} speaks plugin protocol 6, but this Terraform offers only {versions:?}: use Terraform 1.0 or newer."
        );
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            logging::error(format!("cannot start the async runtime: {error}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(provider, parent)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            logging::error(&message);
            eprintln!("terraform-provider-{name}: {message}");
            ExitCode::from(1)
        }
    }
}

/// A connection of any transport (unix/TCP, with or without TLS), as tonic wants it.
pub struct PluginConnection(Pin<Box<dyn Io>>);

trait Io: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> Io for T {}

impl AsyncRead for PluginConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for PluginConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.0.as_mut().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for PluginConnection {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

enum Listener {
    Unix {
        listener: tokio::net::UnixListener,
        directory: PathBuf,
    },
    Tcp(tokio::net::TcpListener),
}

impl Listener {
    fn bind() -> Result<(Listener, String), String> {
        if std::env::var(TRANSPORT_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("tcp")) {
            let port_env = |name: &str, default: u16| -> Result<u16, String> {
                match std::env::var(name) {
                    Ok(text) => text
                        .trim()
                        .parse()
                        .map_err(|_| format!("{name}={text:?} is not a port number")),
                    Err(_) => Ok(default),
                }
            };
            let (min, max) = (
                port_env("PLUGIN_MIN_PORT", 10000)?,
                port_env("PLUGIN_MAX_PORT", 25000)?,
            );
            for port in min..=max {
                if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
                    let listener =
                        tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
                    return Ok((Listener::Tcp(listener), format!("tcp|127.0.0.1:{port}")));
                }
            }
            return Err(format!(
                "no free TCP port on 127.0.0.1 between {min} and {max}"
            ));
        }
        let base = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let directory = unique_directory(&base)?;
        let path = directory.join("plugin.sock");
        let listener = tokio::net::UnixListener::bind(&path)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        Ok((
            Listener::Unix {
                listener,
                directory,
            },
            format!("unix|{}", path.display()),
        ))
    }

    async fn accept(&self) -> std::io::Result<Pin<Box<dyn Io>>> {
        match self {
            Listener::Unix { listener, .. } => Ok(Box::pin(listener.accept().await?.0)),
            Listener::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                // Without this, small RPCs stall ~40 ms each (Nagle + delayed ACK).
                stream.set_nodelay(true)?;
                Ok(Box::pin(stream))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { directory, .. } = self {
            let _ = std::fs::remove_dir_all(directory);
        }
    }
}

/// A fresh private directory for the socket (0700, random name).
fn unique_directory(base: &std::path::Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    for _ in 0..16 {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| format!("no randomness: {e}"))?;
        let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let directory = base.join(format!("tfplugin-{name}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&directory) {
            Ok(()) => return Ok(directory),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", directory.display())),
        }
    }
    Err(format!(
        "cannot create a socket directory in {}",
        base.display()
    ))
}

async fn run(provider: Arc<dyn Provider>, parent: u32) -> Result<(), String> {
    let tls_config = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.trim().is_empty() => {
            let client = tls::parse_client_certificate(&pem)?;
            let identity = tls::generate_server_identity()?;
            Some((tls::server_config(&identity, client)?, identity.certificate))
        }
        _ => None,
    };
    let (listener, address) = Listener::bind()?;
    let certificate = tls_config
        .as_ref()
        .map(|(_, der)| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    let (shutdown_sender, shutdown) = watch::channel(false);

    // Accept connections (and run TLS handshakes off the accept loop) into a channel tonic reads.
    let (connections, incoming) = mpsc::channel::<std::io::Result<PluginConnection>>(16);
    let acceptor = tls_config.map(|(config, _)| tokio_rustls::TlsAcceptor::from(config));
    let mut accept_shutdown = shutdown.clone();
    let accept_loop = tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = accept_shutdown.wait_for(|stop| *stop) => break,
            };
            let stream = match stream {
                Ok(stream) => stream,
                Err(error) => {
                    logging::warn(format!("accepting a connection failed: {error}"));
                    continue;
                }
            };
            let connections = connections.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let connection = match acceptor {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => PluginConnection(Box::pin(tls)),
                        Err(error) => {
                            logging::warn(format!("TLS handshake with a client failed: {error}"));
                            return;
                        }
                    },
                    None => PluginConnection(stream),
                };
                let _ = connections.send(Ok(connection)).await;
            });
        }
        drop(listener);
    });

    // If Terraform dies without shutting us down (a crash, SIGKILL), we are re-parented: exit
    // rather than linger holding its pipes open.
    let orphan_shutdown = shutdown_sender.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent {
                logging::warn("Terraform exited without stopping the provider; shutting down");
                orphan_shutdown.send_replace(true);
                break;
            }
        }
    });

    // SIGTERM ends the server cleanly (socket removed). SIGINT is ignored, as go-plugin plugins
    // do: on Ctrl-C Terraform receives it too and stops us through StopProvider and Shutdown.
    let signal_shutdown = shutdown_sender.clone();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| format!("cannot watch SIGINT: {e}"))?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = terminate.recv() => {
                    logging::info("SIGTERM: shutting down");
                    signal_shutdown.send_replace(true);
                    break;
                }
                _ = interrupt.recv() => logging::debug("SIGINT ignored: Terraform stops the provider itself"),
            }
        }
    });

    let controller = Controller {
        shutdown: shutdown_sender.clone(),
    };
    let stdio = Stdio {
        shutdown: shutdown.clone(),
    };
    let broker = Broker {
        shutdown: shutdown.clone(),
    };
    let mut server_shutdown = shutdown.clone();
    let server = tonic::transport::Server::builder()
        .add_service(
            ProviderService::new(ProviderServer::new(provider))
                .max_decoding_message_size(256 << 20),
        )
        .add_service(go_plugin::grpc_controller_server::GrpcControllerServer::new(controller))
        .add_service(go_plugin::grpc_stdio_server::GrpcStdioServer::new(stdio))
        .add_service(go_plugin::grpc_broker_server::GrpcBrokerServer::new(broker))
        .serve_with_incoming_shutdown(ReceiverStream::new(incoming), async move {
            let _ = server_shutdown.wait_for(|stop| *stop).await;
        });

    let line = format!("1|6|{address}|grpc|{certificate}\n");
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(line.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot write the handshake: {e}"))?;
    }
    logging::debug(format!("plugin serving on {address}"));

    let mut after_shutdown = shutdown.clone();
    tokio::select! {
        result = server => result.map_err(|e| format!("gRPC server failed: {e}"))?,
        // Terraform may keep connections open after Shutdown; do not wait for them for long.
        _ = async {
            let _ = after_shutdown.wait_for(|stop| *stop).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        } => {}
    }
    let _ = shutdown_sender.send(true);
    let _ = accept_loop.await;
    logging::debug("plugin stopped");
    Ok(())
}

/// go-plugin's controller: Shutdown ends the process cleanly.
struct Controller {
    shutdown: watch::Sender<bool>,
}

#[tonic::async_trait]
impl go_plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(
        &self,
        _: Request<go_plugin::Empty>,
    ) -> Result<Response<go_plugin::Empty>, Status> {
        logging::debug("GRPCController.Shutdown");
        self.shutdown.send_replace(true);
        Ok(Response::new(go_plugin::Empty {}))
    }
}

/// A stream that stays open (sending nothing) until shutdown.
fn open_until_shutdown<T: Send + 'static>(
    shutdown: &watch::Receiver<bool>,
) -> ReceiverStream<Result<T, Status>> {
    let (sender, receiver) = mpsc::channel(1);
    let mut shutdown = shutdown.clone();
    tokio::spawn(async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
        drop(sender);
    });
    ReceiverStream::new(receiver)
}

/// go-plugin's stdio forwarding: we never write to stdout/stderr through it (logs go to stderr
/// directly), so the stream stays open and empty.
struct Stdio {
    shutdown: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl go_plugin::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = ReceiverStream<Result<go_plugin::StdioData, Status>>;

    async fn stream_stdio(
        &self,
        _: Request<ProtobufEmpty>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(open_until_shutdown(&self.shutdown)))
    }
}

/// go-plugin's broker: accepted, but this provider never brokers extra connections.
struct Broker {
    shutdown: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl go_plugin::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = ReceiverStream<Result<go_plugin::ConnInfo, Status>>;

    async fn start_stream(
        &self,
        _: Request<Streaming<go_plugin::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        Ok(Response::new(open_until_shutdown(&self.shutdown)))
    }
}
